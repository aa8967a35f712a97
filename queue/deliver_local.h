/*
 * Local delivery of one recipient of a queued message into its mbox
 * maildrop. Runs in the queue runner (root).
 */
#ifndef MAILD_DELIVER_LOCAL_H
#define MAILD_DELIVER_LOCAL_H

#include <stddef.h>

#include "config.h"
#include "queue_file.h"
#include "reason.h"

enum deliver_result {
	DELIVER_OK,		/* appended and fsync'ed; marked delivered */
	DELIVER_DEFER,		/* temporary failure: r says why */
	DELIVER_LOCKED,		/* the maildrop is in use: retry soon */
	DELIVER_BOUNCE,		/* permanent failure: r says why */
};

/*
 * Delivers recipient i of the queue file qfd (opened read-write, env read
 * from it) and updates its status in the file. Never waits for a lock.
 */
enum deliver_result deliver_local(const struct config *cfg, int qfd,
	    struct queue_env *env, size_t i, struct reason *r);

#endif
