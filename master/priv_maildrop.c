/*
 * The POP3 session's maildrop in the monitor (root): opening and locking
 * the authenticated user's maildrop and handing the descriptor to the
 * worker, and the atomic replacement at the end of the session. For now
 * only the release hook exists.
 */
#include "autoconf.h"

#include "priv.h"

void
priv_maildrop_release(struct priv *p)
{
	p->pop3 = NULL;
}
