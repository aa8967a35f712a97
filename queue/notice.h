/*
 * What the queue tells a sender besides delivering (RFC 3461-3464): the
 * bounce, the delay notice, the success report; which of them NOTIFY
 * allows; the lifetime of a message; the Received: count that stops
 * mail loops. The runner (queue_run.c) calls these from qitem_finish;
 * the monitor counts Received: fields while a message streams in.
 */
#ifndef MAILD_NOTICE_H
#define MAILD_NOTICE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "aliases.h"
#include "config.h"
#include "queue/bounce.h"
#include "queue/queue_file.h"

/*
 * Counts the Received: header fields at the start of a message given in
 * pieces (LF line ends), up to the empty line that ends the header
 * section. No buffering: a few bytes of state.
 */
struct notice_hops {
	unsigned	received;	/* fields seen so far */
	unsigned	matched;	/* of "received:", at a line's start */
	bool		skipping;	/* the rest of a line that is not one */
	bool		done;		/* past the header section */
};

void	notice_hops_init(struct notice_hops *);
void	notice_hops_feed(struct notice_hops *, const char *buf, size_t len);
/*
 * Counts a queued message's Received: fields (len bytes at off of fd).
 * Returns the count, or -1 if it cannot be read.
 */
long	notice_hops_file(int fd, off_t off, off_t len);

/*
 * Whether a recipient's NOTIFY (DSN_NOTIFY_* bits, 0 when not given)
 * asks for a notice of kind: without NOTIFY, failures and delays are
 * reported, success is not (RFC 3461 4.1); NEVER asks for none.
 */
bool	notice_wanted(unsigned notify, enum bounce_kind kind);

/* How long env may stay queued: bounce_lifetime for the null sender. */
int	notice_lifetime(const struct config *cfg, const struct queue_env *env);

/*
 * Whether env is due a delay notice at now: delay_warning on and passed,
 * none sent yet (W), a sender to tell, a V 2 file to record it in.
 */
bool	notice_delay_due(const struct config *cfg, const struct queue_env *env,
	    time_t now);

/*
 * Queues a notification of kind about env's recipients idx[0..n-1] to
 * env's sender (or, with to_postmaster, to postmaster: a double bounce).
 * Their reasons, diagnostics, remote MTAs and ORCPTs go into the report;
 * RET=HDRS (and every kind but a bounce) returns only the header
 * section. The new message's id goes to new_qid ("" if none). Returns
 * 0; -1 when it could not be queued (a temporary failure: try again);
 * -2 when the address cannot take mail (r says why in both).
 */
int	notice_send(const struct config *cfg, const struct aliases *al,
	    int qfd, const struct queue_env *env, const size_t *idx, size_t n,
	    enum bounce_kind kind, bool to_postmaster, char *new_qid,
	    struct reason *r);

#endif
