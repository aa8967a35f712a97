/*
 * The SMTP transaction in the monitor (root): MAIL, RCPT (recipient
 * lookup through NSS and aliases), and the queue file the message is
 * written into. For now only the abort hook exists.
 */
#include "autoconf.h"

#include "priv.h"

void
priv_txn_abort(struct priv *p)
{
	p->txn = TXN_NONE;
}
