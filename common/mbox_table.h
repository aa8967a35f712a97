/*
 * The message table of an mbox maildrop: where each message is, its POP3
 * size and its UIDL. Built by mbox_scan() (mbox_scan.h), cached by
 * mbox_index (mbox_index.h), used by the POP3 worker for STAT, LIST,
 * UIDL, RETR, TOP (mbox_reader.h) and the update (mbox_rewrite.h).
 *
 * The format (mboxrd, RFC 4155) as maild reads it:
 *
 *	From sender Tue Nov 24 21:00:00 2026\n		<- from_off
 *	Return-Path: <sender>\n				<- hdr_off
 *	Subject: hello\n
 *	\n
 *	>From the body, quoted\n			<- body_off
 *	\n						<- end
 *	From next ...
 *
 * A message starts at "From " at the start of the file or right after a
 * LF; nothing else is a separator. The empty line right before the next
 * From_ line, or that ends the file, separates and is not part of the
 * message (as Python's mailbox.mbox reads it). Lines end in LF; a CR
 * before the LF is part of the line's content (a stored CRLF), and a CR
 * elsewhere is just a byte (CR-only files are one long line). A From_
 * line that another MDA did not quote inside a body ("mboxo" writers)
 * does start a new message: the format has no way to tell, and every
 * mbox reader splits there too.
 */
#ifndef MAILD_MBOX_TABLE_H
#define MAILD_MBOX_TABLE_H

#include <sys/stat.h>
#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <string.h>

#include "bounds.h"
#include "reason.h"

/* The separator that starts every message, at the start of a line. */
#define MBOX_FROM	"From "
#define MBOX_FROM_LEN	5	/* an int, to compare with pointer differences */
_Static_assert(sizeof(MBOX_FROM) - 1 == MBOX_FROM_LEN, "MBOX_FROM_LEN");

/* Whether the n bytes at p begin with MBOX_FROM. */
static inline bool
mbox_is_from(const char *p, size_t n)
{
	return n >= MBOX_FROM_LEN && memcmp(p, MBOX_FROM, MBOX_FROM_LEN) == 0;
}

struct mbox_msg {
	off_t	from_off;	/* the "From " of the From_ line */
	off_t	hdr_off;	/* after the From_ line's LF */
	/*
	 * After the empty line ("\n" or "\r\n") that ends the header
	 * section; end when there is none (or it is the separator).
	 */
	off_t	body_off;
	off_t	end;		/* end of the content, separator excluded */
	/*
	 * The message's size as POP3 sends it (RFC 1939 LIST): every line
	 * ended by CRLF (a stored CRLF counts 2, a last line without LF
	 * gets one), one '>' removed from each ">>*From " line; before
	 * dot-stuffing. Exactly what mbox_reader produces.
	 */
	off_t	octets;
	char	uidl[MBOX_UIDL_SIZE];	/* uidl.h */
};

struct mbox_table {
	struct mbox_msg	*v;
	size_t		 n;
	size_t		 cap;
	/*
	 * v describes the bytes [0, scanned). Mail appended later (by us
	 * or another MDA) starts at scanned; mbox_scan() can continue there.
	 */
	off_t		 scanned;
	/* The maildrop as the last scan saw it when it started (fstat). */
	dev_t		 dev;
	ino_t		 ino;
	struct timespec	 mtime;
	/*
	 * From the same fstat, for the index's proof that the maildrop is
	 * unchanged (mbox_index.h): its size and inode change time, and
	 * whether that change lay at least MBOX_TABLE_SETTLE_MS in the past
	 * when the fstat was made (settled): only then does every later
	 * change of the file, which sets the ctime to the time of the
	 * change, give it a ctime that differs from this one.
	 */
	off_t		 size;
	struct timespec	 ctime;
	bool		 settled;
};

/*
 * How old a ctime must be to be settled: more than the kernel's
 * timestamp tick (a jiffy) and the file system's timestamp granularity
 * (one second on some) together.
 */
#define MBOX_TABLE_SETTLE_MS	2000
/* MBOX_TABLE_SETTLE_MS, but tests may shorten it. */
extern long	mbox_table_settle_ms;

/*
 * fstat(fd) for mbox_table_set_stat(), with whether the file's ctime is
 * settled (see struct mbox_table): the clock is read before the fstat.
 * Returns 0, or -1 with errno set.
 */
int		 mbox_table_fstat(int fd, struct stat *st_out,
		    bool *settled_out);
/* Records st (from mbox_table_fstat) as the file t describes. */
void		 mbox_table_set_stat(struct mbox_table *t,
		    const struct stat *st, bool settled);

/* An empty table. */
void		 mbox_table_init(struct mbox_table *);
/* Frees the messages; t is empty again (as after init). */
void		 mbox_table_deinit(struct mbox_table *);
/* A new zeroed entry at the end (for the scanner and the index). */
struct mbox_msg	*mbox_table_add(struct mbox_table *);
/*
 * Where the bytes that belong to message i stop: the next message's
 * From_ line, or scanned for the last one. [from_off, that) is what a
 * rewrite copies: the message with its separator.
 */
off_t		 mbox_table_span_end(const struct mbox_table *, size_t i);

/*
 * Whether every message i of t (but those with skip[i]; skip may be
 * NULL) still starts with "From " at the start of fd's file or after a
 * LF, where t says. Returns 1 yes, 0 no (also when the file is shorter),
 * -1 on a read error (errno). For 100,000 messages it maps the file
 * rather than making 100,000 system calls; while it reads the mapping it
 * catches SIGBUS (a file truncated under it), restoring the previous
 * handler after: so it must not run in a multi-threaded process.
 */
int		 mbox_table_check_starts(int fd, const struct mbox_table *t,
		    const bool *skip);

/*
 * Loads the table from the index idx_fd (-1: no index) if it is still
 * valid for mbox_fd, scans what the index does not cover (all of the
 * maildrop, or only mail appended since), and rewrites the index when it
 * changed (a failure to write it is logged, not returned: it is a cache).
 * t must be empty (init). Returns 0, or -1 with r filled (the scan
 * failed: mbox_scan()); t is then empty.
 */
int		 mbox_table_open(int mbox_fd, int idx_fd, struct mbox_table *t,
		    struct reason *r);

#endif
