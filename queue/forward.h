/*
 * Local delivery beyond the maildrop, in the root deliverers (the queue
 * runner, maild -q, an inetd monitor), at delivery time: a user's
 * ~/.forward, and the program and file targets of aliases and of
 * .forward files. doc/HACKING.md ("Local delivery: .forward, programs,
 * files") says why .forward is read here and not at RCPT time.
 *
 * A queue file's recipient user field says what a local recipient is:
 *	alice		her ~/.forward if she has one, else her maildrop
 *	\alice		alice's maildrop, never her .forward
 *	|command	an alias program, run as alias_user
 *	/path		an alias file, written as alias_user
 *	~alice|command	a program from alice's .forward, run as alice
 *	~alice/path	a file from alice's .forward, written as alice
 * None of "\\|/~" can start a user name (maildrop_name_ok()), and only
 * resolve.c (aliases, at RCPT time) and this module (a .forward) write
 * such fields.
 */
#ifndef MAILD_FORWARD_H
#define MAILD_FORWARD_H

#include <stddef.h>

#include "aliases.h"
#include "config.h"
#include "deliver_local.h"

/*
 * Delivers, of the n items (pending local recipients), those that are
 * files; starts a program job for those that are programs (their result
 * is DELIVER_LOCKED until a later attempt finds the job's outcome, see
 * forward.c); and forwards those whose user has a usable
 * ~/.forward: its targets go into a new queue file (with Delivered-To:
 * added, and the same sender), the runner is told of it through
 * queue_dir/notify, and the recipient is marked delivered. A message
 * that already carries Delivered-To: for the recipient bounces (5.4.6,
 * mail forwarding loop). Each item handled gets its result (and its
 * queue file mark when delivered).
 * Reorders items: returns k, and items[0..k) are those left for
 * deliver_local_batch() (maildrop deliveries), the rest are done.
 */
size_t	forward_batch(const struct config *cfg, const struct aliases *al,
	    struct deliver_item *items, size_t n);

/*
 * Reads user's ~/.forward with the user's identity. Returns 1 with the
 * contents in *text_out (NUL-terminated, the caller frees it), 0 when
 * there is none or it is refused (group- or world-writable, not owned
 * by the user or root, not a regular file, larger than
 * FORWARD_SIZE_MAX: logged), -1 when it could not be read (r: 4.3.0).
 */
int	forward_read(const char *user, uid_t uid, gid_t gid,
	    const char *home, char **text_out, struct reason *r);

#endif
