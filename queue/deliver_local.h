/*
 * Local delivery of queued messages into one user's mbox maildrop, a
 * batch at a time. Runs in the root deliverers (the queue runner, maild
 * -q, an inetd monitor after its session).
 */
#ifndef MAILD_DELIVER_LOCAL_H
#define MAILD_DELIVER_LOCAL_H

#include <stddef.h>

#include "config.h"
#include "journal.h"
#include "queue_file.h"
#include "reason.h"

enum deliver_result {
	DELIVER_OK,		/* appended and fsync'ed; marked delivered */
	DELIVER_DEFER,		/* temporary failure: why says it */
	DELIVER_LOCKED,		/* the maildrop is in use: retry soon */
	DELIVER_BOUNCE,		/* permanent failure: why says it */
};

/* One recipient of one queue file. */
struct deliver_item {
	int			 qfd;	/* the queue file, read-write, locked */
	struct queue_env	*env;
	size_t			 rcpt;	/* index in env->rcpts */
	enum deliver_result	 result;
	struct reason		 why;
};

/*
 * Delivers the n items, all for the local user, under one maildrop lock
 * and with one fsync: the batch is recorded in the journal (which the
 * caller has locked) before the maildrop is touched. Never waits for a
 * busy maildrop. Sets every item's result; delivered ones are marked in
 * their queue files (not synced: the journal covers them until it is
 * compacted).
 */
void	deliver_local_batch(const struct config *cfg, struct journal *j,
	    const char *user, struct deliver_item *items, size_t n);

/*
 * After a crash: checks every message the journal recorded whose queue
 * file still says pending. A complete copy at its offset is marked
 * delivered (and synced), a torn one at the end of the maildrop is cut
 * off. Then compacts the journal. Call with the journal locked, before
 * any delivery.
 */
void	deliver_local_recover(const struct config *cfg, struct journal *j);

#endif
