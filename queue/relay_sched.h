/*
 * The relay scheduler: the queue runner's (root) side of relay. It groups
 * a message's remote recipients by next hop (relay.smarthost, else a
 * relay.routes entry, else the domain), hands each group to an
 * unprivileged relay worker it forks on demand (relay/relay_worker.c),
 * and never waits for one: the runner polls the workers' sockets with
 * its other descriptors. Per destination it keeps a concurrency limit
 * with slow start and, after site-level failures, suspends it for a
 * back-off period (brief 5.3): mail for it is deferred without a
 * connection, then one probe goes out. The state of suspended
 * destinations is kept in state_dir/relay-destinations (advisory, safe
 * to delete) so that "maild -q" from cron does not hammer them.
 *
 * Results are checked (relay_result_check) before they are believed; a
 * sent recipient is marked delivered in the queue file at once (pwrite,
 * not synced: the runner syncs once per message and attempt; a crash
 * before that may send it again, never lose it).
 */
#ifndef MAILD_RELAY_SCHED_H
#define MAILD_RELAY_SCHED_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "config.h"
#include "queue_file.h"

/* The per-recipient outcome of this attempt (relay_msg.res). */
#define RELAY_RES_NONE		(-1)	/* not tried */

/* One message whose remote recipients are being relayed; the runner's. */
struct relay_msg {
	int			 fd;	/* the queue file, read-write, locked */
	struct queue_env	*env;
	/*
	 * Per recipient: RELAY_RES_NONE or an enum deliver_result
	 * (deliver_local.h) that this attempt gave it. The scheduler sets
	 * the remote ones, with env->rcpts[i].why, .diagnostic,
	 * .remote_mta and .last_attempt.
	 */
	int			*res;
	/*
	 * Per recipient: sent to a server without DSN although NOTIFY
	 * asked for SUCCESS, so owed a "relayed" notice (RFC 3461 5.2.2).
	 */
	bool			*relayed;
	time_t			 not_before;	/* a suspended destination */
	bool			 marked;	/* delivered marks not synced */
	size_t			 inflight;	/* requests out */
	void			*owner;		/* the runner's */
};

/* Called when the last request of m is back. */
typedef void relay_done_fn(void *arg, struct relay_msg *m);

struct relay_sched;

/*
 * A scheduler for cfg (the runner's, kept). done is called from
 * relay_sched_events() or relay_sched_drain(). Never NULL.
 */
struct relay_sched	*relay_sched_new(const struct config *cfg,
			    relay_done_fn *done, void *arg);
/* Stops every worker (EOF, then SIGKILL after a moment) and frees. */
void			 relay_sched_free(struct relay_sched **);

/*
 * Takes m's remote recipients (status X) for relaying. Recipients of a
 * suspended destination are deferred at once, without a connection.
 * Returns true when requests are out (m is then the scheduler's until
 * done is called), false when nothing is (m's results are final).
 */
bool	relay_sched_submit(struct relay_sched *, struct relay_msg *m);

/* Whether a message with this queue id is being relayed. */
bool	relay_sched_busy(const struct relay_sched *, const char *qid);
/* Whether nothing is queued or in flight. */
bool	relay_sched_idle(const struct relay_sched *);

/* The workers' sockets, for the runner's poll (at most max). */
size_t	relay_sched_pollfds(const struct relay_sched *, struct pollfd *pfd,
	    size_t max);
/* Milliseconds until relay_sched_events() wants to run again; -1: never. */
int	relay_sched_timeout(const struct relay_sched *);
/*
 * Reads the results that arrived (pfd: what relay_sched_pollfds filled
 * in, after poll), kills workers past their deadline or that sent
 * garbage, retires idle ones, and starts what is queued.
 */
void	relay_sched_events(struct relay_sched *, const struct pollfd *pfd,
	    size_t n);
/* Waits until everything queued is done ("maild -q", inetd). */
void	relay_sched_drain(struct relay_sched *);

/*
 * The next hop of an address's domain: relay.smarthost, else a
 * relay.routes entry ("domain=nexthop"), else the domain in lower case,
 * into out. 0, or -1 if it does not fit.
 */
int	relay_nexthop(const struct config *cfg, const char *addr, char *out,
	    size_t outsz);

#endif
