/*
 * The queue runner: delivers what the monitors queued, retries what had
 * to wait, bounces what cannot be delivered. Runs as root: in the
 * standalone master's runner process, for "maild -q", and in an inetd
 * monitor after its session.
 */
#ifndef MAILD_QUEUE_RUN_H
#define MAILD_QUEUE_RUN_H

#include <stdio.h>

#include "aliases.h"
#include "config.h"

/*
 * The runner process's main loop (standalone maild). notify_fd receives
 * "Q id" (new message) and "U user" (a maildrop was released) datagrams
 * from the monitors; EOF or POLLHUP on life_fd means the master died.
 * Returns on SIGTERM or when the master is gone.
 */
void	queue_runner(const struct config *cfg, const struct aliases *al,
	    int notify_fd, int life_fd);

/*
 * Tries the queued messages once (maild -q): new ones and deferred ones
 * whose next attempt is due, or with force (maild -q -f) every one.
 * 0 or -1.
 */
int	queue_run_once(const struct config *cfg, const struct aliases *al,
	    bool force);

/* Tries one message now, if it is still in active/ (inetd mode). */
void	queue_deliver_id(const struct config *cfg, const struct aliases *al,
	    const char *qid);

/*
 * Removes the incoming/ files (never acknowledged) that no writer holds
 * any more (its monitor died mid-DATA) and that are at least grace
 * seconds old; a file being received is left alone.
 */
void	queue_clean_incoming(const struct config *cfg, int grace);

/* Prints the queue (maild -l), like mailq. Returns the message count. */
int	queue_list(const struct config *cfg, FILE *fp);

#endif
