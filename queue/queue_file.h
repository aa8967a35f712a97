/*
 * Queue files: one file per message holding its envelope and the message
 * (doc/HACKING.md, "The queue"). Written by the monitor while a client
 * sends DATA (root), read and updated by the queue runner (root).
 *
 * The envelope is text, one "KEY value" per line, ending with an empty
 * line; the message follows with LF line ends. Recipient lines have a
 * fixed layout so that their status byte and maildrop offset can be
 * rewritten in place with one pwrite():
 *
 *	R s 00000000000000000000 user original-recipient [n=SFD] [o=ORCPT]
 *	  ^ status (QRCPT_*)
 *	    ^ 20-digit offset: the maildrop size before a delivery attempt
 *
 * Version 2 (written now; V 1 files are still read) adds the W line
 * (delay notice time, 15 digits, rewritten in place), F (BODY, SMTPUTF8,
 * RET), E (ENVID) and the NOTIFY/ORCPT tail of R lines; doc/HACKING.md,
 * "The queue", has the whole format.
 */
#ifndef MAILD_QUEUE_FILE_H
#define MAILD_QUEUE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "bounds.h"
#include "reason.h"

/* Recipient status bytes. */
#define QRCPT_PENDING	'-'	/* not yet tried */
#define QRCPT_TRYING	'T'	/* an append may have started at the offset */
#define QRCPT_DONE	'D'	/* delivered */
#define QRCPT_BOUNCED	'B'	/* failed for good; a DSN was queued */
#define QRCPT_RELAY	'X'	/* remote: waits for the relay */

/* The user field of a remote recipient. */
#define QRCPT_REMOTE	"@"

/*
 * A queue id: QUEUE_ID_TIME_LEN base32 characters of arrival time (so
 * that ids sort by age), then random ones; QUEUE_ID_LEN in all, which
 * fits QUEUE_ID_MAX (bounds.h).
 */
#define QUEUE_ID_LEN		16
#define QUEUE_ID_TIME_LEN	12
_Static_assert(QUEUE_ID_LEN <= QUEUE_ID_MAX, "queue id longer than its bound");

/* A queue file's name relative to queue_dir ("deferred/" and an id), with room. */
#define QUEUE_RELPATH_MAX	64

#define QUEUE_DIR_INCOMING	"incoming"
#define QUEUE_DIR_ACTIVE	"active"
#define QUEUE_DIR_DEFERRED	"deferred"
#define QUEUE_DIR_HOLD		"hold"		/* put aside by an admin */
#define QUEUE_DIR_CORRUPT	"corrupt"	/* unreadable envelopes */
#define QUEUE_DIR_DEFER		"defer"		/* last reasons (queue_defer_save) */
#define QUEUE_DIR_FREE		"free"		/* spare files (queue_file_retire) */
/*
 * A FIFO in queue_dir: the queue runner reads it like the monitors'
 * pipe ("Q id" lines), so that "maild queue ..." can tell a running
 * runner about a message it moved into active/.
 */
#define QUEUE_NOTIFY_FIFO	"notify"

/*
 * struct queue_env.flags beyond RELAY_F_* (relay/relay.h): a notice to
 * postmaster about a double bounce, which is never reported again if it
 * fails too (F line word "postmaster-notice").
 */
#define QUEUE_F_POSTMASTER	0x100

/* Bounds of the V 2 fields (decoded) and of the defer/ texts. */
#define QUEUE_ENVID_MAX		SMTP_ENVID_MAX	/* RFC 3461 4.4: 100 */
#define QUEUE_ORCPT_MAX		(3 * SMTP_ORCPT_MAX)	/* xtext of 500 */
#define QUEUE_DIAG_MAX		1024

struct queue_rcpt {
	char	 status;
	off_t	 mbox_off;
	char	*user;		/* local user, or QRCPT_REMOTE */
	char	*addr;		/* the recipient as the client gave it */
	off_t	 line_off;	/* where its R line starts in the file */
	/* the runner's scratch: why the last attempt failed */
	struct reason why;
	/*
	 * DSN (RFC 3461), kept in the queue file (V 2): NOTIFY bits
	 * (DSN_NOTIFY_* in relay/relay.h, 0 = not given) and ORCPT as
	 * received ("rfc822;bob@example.org" xtext), or NULL.
	 */
	unsigned notify;
	char	*orcpt;
	/*
	 * The last attempt's outcome beyond why, for bounces, delay notices
	 * and "maild -l"; kept in queue_dir/defer/ID (queue_defer_save()),
	 * not in the queue file. NULL when unknown.
	 */
	char	*diagnostic;	/* "smtp; 550 5.1.1 no such user" */
	char	*remote_mta;	/* "mx.example.org" */
	time_t	 last_attempt;	/* 0: never tried */
};

struct queue_env {
	char			 id[QUEUE_ID_MAX + 1];
	time_t			 arrival;
	char			*sender;	/* "" for the null sender */
	char			*auth_user;	/* NULL: not authenticated */
	char			*client;	/* address as text */
	char			*helo;
	unsigned		 attempts;
	off_t			 attempts_off;	/* of the N line's digits */
	struct queue_rcpt	*rcpts;
	size_t			 nrcpts;
	off_t			 body_off;	/* first byte of the message */
	off_t			 body_len;
	/* V 2 (DSN and relay): RELAY_F_* bits (relay/relay.h) */
	unsigned		 flags;
	char			*envid;		/* ENVID xtext, or NULL */
	time_t			 warned;	/* delay notice sent at (0: not yet) */
	off_t			 warned_off;	/* of the W line's digits */
};

/*
 * Makes queue_dir and its state directories (0700) and the notify FIFO
 * (0600) if needed. 0, or -1 with err.
 */
int	queue_dirs_init(const char *queue_dir, char *err, size_t errsz);

/* A new queue id: time-ordered, unique on this host, safe as a file name. */
void	queue_id_new(char *id_out);
/* Whether s looks like a queue id (for names read from directories). */
bool	queue_id_valid(const char *s);

/*
 * Spare queue files. Creating a file for every message and unlinking it
 * after delivery costs an inode allocation, block allocation at the
 * fsync and block freeing (a discard, on file systems mounted with it)
 * every time; so a finished message's file is kept in free/ (at most
 * QUEUE_SPARES_MAX of them, none over QUEUE_SPARE_SIZE_MAX bytes) and
 * the next message is written over it. The writer takes a spare with a
 * flock held from before it leaves free/, so no cleaner removes it on
 * the way; anything in free/ but a plain one-link 0600 file of the queue
 * directory's owner is removed.
 */
#define QUEUE_SPARES_MAX	64
#define QUEUE_SPARE_SIZE_MAX	(1024 * 1024)

struct queue_spares {
	size_t		n;		/* in free/, as far as we know */
	long long	counted_ms;	/* when n was last counted (mono_ms) */
};

/*
 * Removes a finished queue file (path, relative to the queue directory
 * qdirfd; fd open on it) or, when sp is not NULL and there is room, makes
 * it a spare in free/. Like unlinkat: 0, or -1 with errno.
 */
int	queue_file_retire(int qdirfd, const char *path, int fd, const char *id,
	    struct queue_spares *sp);
/* Removes spares beyond QUEUE_SPARES_MAX (all with max 0); counts them. */
void	queue_spares_trim(int qdirfd, struct queue_spares *sp, size_t max);

/* --- writing: the monitor, while the client sends the message ---------- */

struct queue_writer {
	int	 fd;
	int	 dirfd;		/* queue_dir */
	int	 activefd;	/* queue_dir/active, synced by the commit */
	char	 id[QUEUE_ID_MAX + 1];
	off_t	 written;	/* message bytes so far */
	off_t	 limit;		/* refuse more than this (0: no limit) */
	bool	 overflow;
	bool	 failed;	/* a write failed: the commit will too */
	bool	 hold;		/* commit into hold/, not active/ */
	int	 saved_errno;
	off_t	 spare_size;	/* a reused file's old size (0: nothing to cut) */
};

/*
 * Creates incoming/ID and writes env's envelope (its rcpts, sender, ...;
 * attempts and offsets are filled in here, and the id too unless env->id
 * already holds a valid one). Returns 0, or -1 with r.
 */
int	queue_writer_begin(struct queue_writer *w, const char *queue_dir,
	    struct queue_env *env, off_t limit, struct reason *r);
/*
 * Appends message bytes. Errors are remembered (and reported by the
 * commit) so that the caller can keep consuming the client's data.
 */
void	queue_writer_write(struct queue_writer *w, const void *buf, size_t n);
/*
 * Makes the message durable and visible to the runner: fsync the file,
 * rename it into active/, fsync the directory. Only after this returns
 * 0 may the client be told 250. Returns -1 with r (the file is removed).
 */
int	queue_writer_commit(struct queue_writer *w, struct reason *r);
/* Throws the message away (the client gave up, or the commit failed). */
void	queue_writer_abort(struct queue_writer *w);

/* --- reading and updating: the runner ------------------------------------ */

/*
 * Reads and strictly checks the envelope of the queue file fd. Returns
 * 0, or -1 with r (a corrupt file: the runner moves it aside).
 */
int	queue_env_read(int fd, struct queue_env *env, struct reason *r);
void	queue_env_free(struct queue_env *env);

/*
 * Rewrites recipient i's status byte and offset in place (one pwrite;
 * with sync, fdatasync after it). Returns 0 or -1 (errno).
 */
int	queue_rcpt_mark(int fd, struct queue_env *env, size_t i, char status,
	    off_t mbox_off, bool sync);
/* Rewrites the attempt counter in place. */
int	queue_attempts_mark(int fd, struct queue_env *env, unsigned attempts);
/*
 * Rewrites the W line (delay notice sent at when) in place. -1 with
 * EOPNOTSUPP for a V 1 file, which has no W line.
 */
int	queue_warned_mark(int fd, struct queue_env *env, time_t when);
/*
 * NOTIFY bits (DSN_NOTIFY_*) as the queue file's letters: N (never), or
 * S, F, D in that order. Returns their number (0: not given), -1 if
 * outsz < QUEUE_NOTIFY_SIZE.
 */
#define QUEUE_NOTIFY_SIZE	5	/* "SFD" and a NUL, with room */
int	queue_notify_letters(unsigned notify, char *out, size_t outsz);

/*
 * queue_dir/defer/ID: the last attempt's reason per recipient (status,
 * text, diagnostic, remote MTA, time), so that an expiry bounce, a delay
 * notice and "maild -l" can say what happened even after a restart.
 * Advisory: written with a temporary file and rename, not fsync'ed;
 * removed with the queue file. 0, or -1 (errno).
 */
int	queue_defer_save(int qdirfd, const struct queue_env *env);
/* Fills env's recipients' why/diagnostic/remote_mta from it; a missing
 * file is not an error. 0, or -1. */
int	queue_defer_load(int qdirfd, struct queue_env *env);
void	queue_defer_remove(int qdirfd, const char *id);

/* Whether every recipient is final (delivered, bounced). */
bool	queue_env_done(const struct queue_env *env);

#endif
