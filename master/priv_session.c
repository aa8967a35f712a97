/*
 * Session bookkeeping in the monitor (root): the start of a client
 * session (the worker passes the accepted socket so that we read the
 * client address from the kernel rather than believe the worker), its
 * end, and the per-address connection limit.
 */
#include "autoconf.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client_table.h"
#include "log.h"
#include "pool_worker.h"
#include "priv.h"
#include "priv_proto.h"
#include "sockaddr.h"

static enum client_table_proto
ct_proto(const struct priv *p)
{
	return p->proto == PRIV_PROTO_SMTP ? CLIENT_TABLE_SMTP :
	    CLIENT_TABLE_POP3;
}

int
priv_answer_ping(struct priv *p, struct ipc_msg *m)
{
	if (ipc_get_end(m) == -1)
		return PRIV_H_REFUSE;
	return priv_reply_ok(p);
}

int
priv_answer_session_begin(struct priv *p, struct ipc_msg *m)
{
	struct reason	r;
	socklen_t	len = sizeof(p->peer);
	uint32_t	role;
	int		max;

	if (ipc_get_str(m, p->sid, sizeof(p->sid), SESSION_ID_MAX) == -1 ||
	    ipc_get_u32(m, &role) == -1 || ipc_get_end(m) == -1)
		return PRIV_H_REFUSE;
	if (role < ROLE_SMTP || role > ROLE_POP3S ||
	    (p->proto == PRIV_PROTO_SMTP) != (role <= ROLE_SMTPS))
		return PRIV_H_REFUSE;

	memset(&p->peer, 0, sizeof(p->peer));
	p->have_peer = getpeername(m->fd, (struct sockaddr *)&p->peer,
	    &len) == 0 && (p->peer.ss_family == AF_INET ||
	    p->peer.ss_family == AF_INET6);
	if (p->have_peer)
		sockaddr_ntop((struct sockaddr *)&p->peer, p->client,
		    sizeof(p->client));
	else
		strcpy(p->client, "local");	/* inetd on a pipe, tests */
	p->peer_local = !p->have_peer ||
	    sockaddr_is_loopback((struct sockaddr *)&p->peer);
	p->role = (int)role;
	p->session = true;
	p->authed = false;
	p->user[0] = '\0';
	p->txn = TXN_NONE;
	log_session(p->sid);

	max = p->proto == PRIV_PROTO_SMTP ?
	    p->cfg->smtp.max_connections_per_ip :
	    p->cfg->pop3.max_connections_per_ip;
	/* loopback is the host's own, unless the admin says otherwise */
	if (p->have_peer && (!p->peer_local || p->cfg->limit_loopback)) {
		if (!client_table_connect((struct sockaddr *)&p->peer,
		    ct_proto(p), max)) {
			log_info("too many connections from %s (max %d)",
			    p->client, max);
			/* no session: the worker goes straight back to accept */
			priv_session_reset(p);
			reason_set(&r, "4.7.0", "too many connections from "
			    "your address, try again later");
			return priv_reply_fail(p, &r);
		}
		p->peer_counted = true;
	}
	return priv_reply_ok(p);
}

int
priv_answer_session_end(struct priv *p, struct ipc_msg *m)
{
	int	rc;

	if (ipc_get_end(m) == -1)
		return PRIV_H_REFUSE;
	priv_session_reset(p);
	if ((rc = priv_reply_ok(p)) != 0 || !p->retire)
		return rc;
	/*
	 * A user logged in: the worker has seen a password and held a
	 * maildrop, and retires now (pool_worker.c). Whether it does or not,
	 * we serve it no further session.
	 */
	return PRIV_H_RETIRE;
}

void
priv_session_reset(struct priv *p)
{
	if (p->txn != TXN_NONE || p->smtp != NULL)
		priv_txn_abort(p);
	if (p->pop3 != NULL)
		priv_maildrop_release(p);
	if (p->peer_counted)
		client_table_disconnect((struct sockaddr *)&p->peer,
		    ct_proto(p));
	p->peer_counted = false;
	p->session = false;
	p->authed = false;
	p->user[0] = '\0';
	p->txn = TXN_NONE;
	p->apop_stamp[0] = '\0';
	p->sid[0] = '\0';
	log_session(NULL);
}
