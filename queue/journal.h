/*
 * The delivery journal: what makes group-committed local delivery
 * exactly-once. Before a batch of messages is appended to a maildrop,
 * a record of it (the maildrop's device and inode, and for each message
 * its queue id, recipient, offset and length) is appended here and
 * fdatasync'ed; only then is the maildrop written, and fsync'ed once for
 * the whole batch. The "delivered" marks in the queue files and their
 * removal are not synced one by one; instead the journal keeps every
 * record until a compaction has made them durable (fsync of the queue
 * directories), and recovery checks each recorded message whose queue
 * file still says pending against the bytes at its offset.
 *
 * One journal per queue, shared by every deliverer (the runner, maild
 * -q, inetd monitors) under an fcntl lock held for one batch.
 */
#ifndef MAILD_JOURNAL_H
#define MAILD_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bounds.h"

struct journal_msg {
	char		qid[QUEUE_ID_MAX + 1];
	uint32_t	rcpt;		/* recipient index in the queue file */
	off_t		off;		/* where its bytes start in the maildrop */
	off_t		len;
};

struct journal_batch {
	dev_t			 dev;
	ino_t			 ino;
	char			 user[USER_NAME_MAX + 1];
	struct journal_msg	*msgs;
	size_t			 n;
};

struct journal {
	int	fd;
	int	qdirfd;		/* queue_dir, for compaction */
	off_t	size;		/* bytes written so far */
};

/* Opens (creates) queue_dir/journal. Returns 0 or -1 (logged). */
int	journal_open(struct journal *, const char *queue_dir);
void	journal_close(struct journal *);

/* Takes the lock, waiting for another deliverer's batch. 0 or -1. */
int	journal_lock(struct journal *);
/*
 * Takes the lock, waiting at most timeout_ms for another deliverer's
 * batch. 0, or -1 with errno (EWOULDBLOCK: the time ran out).
 */
int	journal_lock_wait(struct journal *, int timeout_ms);
void	journal_unlock(struct journal *);

/* Appends the batch's record and fdatasyncs it. 0, or -1 (errno). */
int	journal_record(struct journal *, const struct journal_batch *);

/*
 * Reads every batch recorded since the last compaction and calls fn for
 * each (in order). Malformed records end the reading (logged). Returns
 * the number of batches, or -1 on a read error.
 */
int	journal_replay(struct journal *,
	    void (*fn)(void *arg, const struct journal_batch *), void *arg);

/*
 * Makes the queue's state durable (fsync of active/ and deferred/, which
 * holds the removals and the moves) and then empties the journal. Call
 * with the lock held, after the delivered marks of partly delivered
 * messages were fdatasync'ed. 0 or -1.
 */
int	journal_compact(struct journal *);

/* Whether the journal has grown past the size that asks for compaction. */
bool	journal_wants_compaction(const struct journal *);

#endif
