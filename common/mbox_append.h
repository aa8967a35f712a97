/*
 * Appending one message to an mbox maildrop (local delivery), and
 * checking after a crash whether an append happened. Used by the queue
 * runner on a maildrop it opened with mbox_open() and locked with
 * mbox_lock (the caller holds the locks; this module takes none).
 *
 * What lands is, in mboxrd (RFC 4155):
 *
 *	[\n]			only if the file is not empty and does not
 *				end in LF (another program's torn write),
 *				so our From_ line starts a line
 *	From SENDER DATE\n	SENDER: the envelope sender with bytes
 *				0x00-0x20 and 0x7F made '_', bytes from
 *				0x80 up made '?', MAILER-DAEMON
 *				for the null sender; DATE: the arrival
 *				time in UTC, asctime() layout
 *				("Tue Nov 24 21:00:00 2026")
 *	PREFIX			as given, not quoted (Return-Path: ...)
 *	MESSAGE			each line matching ^>*From  gets one more
 *				'>'; a LF added if the last line has none
 *	\n			the separator
 *
 * Either all of it lands and is fsync'ed, or the file is cut back to its
 * old length.
 *
 * Crash recovery (doc/HACKING.md, the queue): before appending, the
 * runner records the maildrop's size, which is where mbox_append() will
 * start. After a crash, mbox_append_check() with that offset and the
 * same message tells whether the append completed, was torn, or never
 * happened. The bytes written depend only on the message description,
 * so the PREFIX must be built from the queue file alone (no delivery
 * time in it) for the check to recognise a complete copy.
 *
 * A delivery, in outline:
 *
 *	fd = mbox_open(path, uid, gid, MBOX_OPEN_CREATE, r);
 *	mbox_lock_fcntl(fd, 0)	busy: defer ("4.2.0 maildrop is locked")
 *	mbox_dotlock_acquire(path, 0, r)	when configured
 *	mbox_same_file(fd, path) != 1: the POP3 update replaced the file:
 *		unlock, close, start again
 *	fstat(fd): record "T" and st_size in the queue file, fsync it
 *	mbox_append(fd, &m, &res, r)	then record "D"
 *	unlock (dotlock release, close)
 */
#ifndef MAILD_MBOX_APPEND_H
#define MAILD_MBOX_APPEND_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "reason.h"

struct mbox_append_msg {
	/* Envelope sender without <>; "" for the null sender. */
	const char	*sender;
	/* Arrival time (queue "T" line): the From_ line's date, in UTC. */
	time_t		 arrival;
	/*
	 * Header lines the delivery adds, written as they are: each ends in
	 * LF, and none may start with "From " or ">". May be NULL with
	 * prefix_len 0.
	 */
	const char	*prefix;
	size_t		 prefix_len;
	/*
	 * The message: body_len bytes at body_off of body_fd (the queue
	 * file), LF line ends, as received. Read with pread(); the
	 * descriptor's offset is not used or moved.
	 */
	int		 body_fd;
	off_t		 body_off;
	off_t		 body_len;
};

struct mbox_append_result {
	off_t	offset;		/* the old size: where our bytes start */
	off_t	from_off;	/* our From_ line (after a repair LF) */
	off_t	length;		/* all bytes written, from offset */
};

/*
 * Appends m to the maildrop fd (opened read-write, locked by the
 * caller) at its current end, and fsyncs. Returns 0 with *res_out
 * filled (res_out may be NULL), or -1 with errno set, r filled and the
 * file cut back to its old size: 4.3.1 for ENOSPC (disk full), 4.2.2 for
 * EDQUOT and EFBIG (mailbox full), 4.3.0 when the message cannot be read
 * from body_fd, 4.2.0 for other maildrop errors; 5.1.7 (EINVAL) for a
 * sender longer than SMTP_PATH_MAX or a prefix not ending in LF. A
 * process with an RLIMIT_FSIZE must ignore SIGXFSZ to get EFBIG.
 *
 * Fault points (fault.h): mbox_append.before_write, .mid_write (the
 * From_ line and prefix are written, the message not yet),
 * .after_write (before fsync), .after_fsync.
 */
int	mbox_append(int fd, const struct mbox_append_msg *m,
	    struct mbox_append_result *res_out, struct reason *r);

/* mbox_append_flags() flags */
#define MBOX_APPEND_NOSYNC	0x01	/* the caller fsyncs (a batch) */

/*
 * mbox_append() with flags. With MBOX_APPEND_NOSYNC nothing is fsync'ed:
 * the caller appends several messages and fsyncs once (on an error the
 * failed message is still cut back and that cut fsync'ed).
 */
int	mbox_append_flags(int fd, const struct mbox_append_msg *m, int flags,
	    struct mbox_append_result *res_out, struct reason *r);

/*
 * The exact number of bytes mbox_append() writes for m, where repair
 * says whether it will start with the LF that ends a foreign last line
 * (mbox_append_repair_needed() tells, for a given end of file). Reads
 * the message; writes nothing. Returns 0, or -1 with r and errno.
 */
int	mbox_append_size(const struct mbox_append_msg *m, bool repair,
	    off_t *len_out, struct reason *r);
/* Whether an append at offset (the end of fd's file) starts with a LF. */
int	mbox_append_repair_needed(int fd, off_t offset, bool *repair_out);

/* mbox_append_check() results. */
#define MBOX_APPEND_ABSENT	0	/* nothing of this message at offset */
#define MBOX_APPEND_COMPLETE	1	/* all of it, byte for byte */
/*
 * The file ends inside a copy of it (every byte from offset to the end
 * of the file is ours): ftruncate(fd, offset) and append again.
 */
#define MBOX_APPEND_TORN	2
/*
 * A partial copy (at least the From_ line and prefix) is followed by
 * something else: another program appended after our torn write. Do
 * not truncate (that would lose its mail); append again, and leave the
 * damaged copy for the user to see.
 */
#define MBOX_APPEND_DAMAGED	3

/*
 * Compares the maildrop at offset (the size recorded before the append)
 * with the bytes mbox_append() writes for m there, and says which of
 * the results above applies. Only reads. Returns the result, or -1 with
 * errno and r set (I/O error on either file, bad message).
 */
int	mbox_append_check(int fd, off_t offset, const struct mbox_append_msg *m,
	    struct reason *r);

#endif
