/*
 * A relay worker: the unprivileged, chrooted process the queue runner
 * forks (queue/relay_sched.c) to deliver to other mail servers. It makes
 * its engine (relay_engine_new: resolver, client TLS context) while
 * still root, drops to the maild user and chroots, then serves one
 * request at a time on its socket until the runner hangs up.
 */
#ifndef MAILD_RELAY_WORKER_H
#define MAILD_RELAY_WORKER_H

#include <sys/types.h>

#include "config.h"

/*
 * The worker's life, in the child the runner forked: sock is its end of
 * the socketpair (every other descriptor is closed here). Never returns.
 */
void	relay_worker_main(const struct config *cfg, int sock, uid_t uid,
	    gid_t gid) __attribute__((noreturn));

#endif
