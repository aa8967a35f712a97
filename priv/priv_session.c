/*
 * Session bookkeeping in the monitor (root): the start of a client
 * session, its end, and the per-address connection limit. The worker
 * passes the client's descriptor with SESSION_BEGIN, and the monitor
 * learns from the kernel, not from the worker, what the session is: the
 * client's address (getpeername) and the role, from the listener the
 * connection came to (getsockname, matched against the pool's listening
 * addresses). Anything but a TCP connection accepted on one of them is
 * refused. In inetd mode the monitor knows the role, and the descriptor
 * must be the connection inetd gave it (a socket or a pipe).
 */
#include "autoconf.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client_table.h"
#include "log.h"
#include "pool_worker.h"
#include "priv.h"
#include "priv_proto.h"
#include "sockaddr.h"
#include "xmalloc.h"

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
priv_set_listeners(struct priv *p, const struct listener *ls, size_t n)
{
	socklen_t	len;
	size_t		i;
	int		rc = 0;

	free(p->listeners);
	p->listeners = n == 0 ? NULL : xcalloc(n, sizeof(*p->listeners));
	p->nlisteners = 0;
	for (i = 0; i < n; i++) {
		len = sizeof(p->listeners[0].addr);
		if (getsockname(ls[i].fd, (struct sockaddr *)
		    &p->listeners[p->nlisteners].addr, &len) == -1) {
			log_warn("listener %s", ls[i].name);
			rc = -1;
			continue;
		}
		p->listeners[p->nlisteners++].role = (int)ls[i].role;
	}
	return rc;
}

int
priv_set_inetd_client(struct priv *p, int fd, int role)
{
	struct stat	st;

	p->fixed_role = role;
	if (fstat(fd, &st) == -1) {
		log_warn("fstat client connection");
		p->have_client_id = false;
		return -1;
	}
	p->client_dev = st.st_dev;
	p->client_ino = st.st_ino;
	p->have_client_id = true;
	return 0;
}

/* A session id as session_id_new() makes them: no byte to escape in a log. */
static bool
sid_ok(const char *sid)
{
	const char	*c;

	if (*sid == '\0')
		return false;
	for (c = sid; *c != '\0'; c++)
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		    (*c >= '0' && *c <= '9')))
			return false;
	return true;
}

/*
 * An IPv4 address seen through an IPv6 socket (::ffff:a.b.c.d) as the
 * IPv4 address it is, so that both sides compare alike.
 */
static void
unmap(struct sockaddr_storage *ss)
{
	struct sockaddr_in6	s6;
	struct sockaddr_in	s4;

	if (ss->ss_family != AF_INET6)
		return;
	memcpy(&s6, ss, sizeof(s6));
	if (!IN6_IS_ADDR_V4MAPPED(&s6.sin6_addr))
		return;
	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	s4.sin_port = s6.sin6_port;
	memcpy(&s4.sin_addr, &s6.sin6_addr.s6_addr[12], 4);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &s4, sizeof(s4));
}

/*
 * Whether local (a connection's own address) is on listening address l:
 * 2 the same address and port, 1 l is the wildcard address on that
 * port, 0 neither.
 */
static int
on_listener(const struct sockaddr_storage *local,
    const struct sockaddr_storage *listening)
{
	struct sockaddr_storage	l = *listening;

	unmap(&l);
	if (l.ss_family != local->ss_family)
		return 0;
	if (l.ss_family == AF_INET) {
		struct sockaddr_in	a, b;

		memcpy(&a, local, sizeof(a));
		memcpy(&b, &l, sizeof(b));
		if (a.sin_port != b.sin_port)
			return 0;
		if (a.sin_addr.s_addr == b.sin_addr.s_addr)
			return 2;
		return b.sin_addr.s_addr == htonl(INADDR_ANY);
	}
	if (l.ss_family == AF_INET6) {
		struct sockaddr_in6	a, b;

		memcpy(&a, local, sizeof(a));
		memcpy(&b, &l, sizeof(b));
		if (a.sin6_port != b.sin6_port)
			return 0;
		if (IN6_ARE_ADDR_EQUAL(&a.sin6_addr, &b.sin6_addr))
			return 2;
		return IN6_IS_ADDR_UNSPECIFIED(&b.sin6_addr);
	}
	return 0;
}

/*
 * Examines the descriptor of a SESSION_BEGIN: fills p->peer and
 * p->have_peer and returns the session's role, or 0 with why set when
 * the descriptor is not a client connection of ours.
 */
static int
session_fd(struct priv *p, int fd, const char **why)
{
	struct sockaddr_storage	local;
	struct stat		st;
	socklen_t		len;
	size_t			i;
	int			type, role = 0, best = 0, m;

	memset(&p->peer, 0, sizeof(p->peer));
	p->have_peer = false;
	if (fstat(fd, &st) == -1) {
		*why = "cannot fstat the descriptor";
		return 0;
	}
	len = sizeof(type);
	if (S_ISSOCK(st.st_mode) && getsockopt(fd, SOL_SOCKET, SO_TYPE,
	    &type, &len) == 0 && type == SOCK_STREAM) {
		len = sizeof(p->peer);
		p->have_peer = getpeername(fd, (struct sockaddr *)&p->peer,
		    &len) == 0 && (p->peer.ss_family == AF_INET ||
		    p->peer.ss_family == AF_INET6);
	}
	if (p->fixed_role != 0) {
		/* inetd: a socket or a pipe, but the one we were given */
		if (p->have_client_id && (st.st_dev != p->client_dev ||
		    st.st_ino != p->client_ino)) {
			*why = "not the connection inetd gave us";
			return 0;
		}
		return p->fixed_role;
	}
	if (!S_ISSOCK(st.st_mode)) {
		*why = "not a socket";
		return 0;
	}
	if (!p->have_peer)
		return priv_local_fd(p, fd, why);
	len = sizeof(local);
	if (getsockname(fd, (struct sockaddr *)&local, &len) == -1) {
		*why = "no local address";
		return 0;
	}
	unmap(&local);
	for (i = 0; i < p->nlisteners; i++) {
		m = on_listener(&local, &p->listeners[i].addr);
		if (m > best) {
			best = m;
			role = p->listeners[i].role;
		}
	}
	if (role == 0)
		*why = "not accepted on a listener of this pool";
	return role;
}

int
priv_answer_session_begin(struct priv *p, struct ipc_msg *m)
{
	struct reason	 r;
	char		 sid[SESSION_ID_MAX + 1];
	const char	*why = NULL;
	uint32_t	 role;
	int		 real, max;

	if (ipc_get_str(m, sid, sizeof(sid), SESSION_ID_MAX) == -1 ||
	    ipc_get_u32(m, &role) == -1 || ipc_get_end(m) == -1)
		return PRIV_H_REFUSE;
	/* it goes first on every log line of ours: nothing to forge there */
	if (!sid_ok(sid)) {
		log_warnx("session id with bytes not in a session id");
		return PRIV_H_REFUSE;
	}
	if ((real = session_fd(p, m->fd, &why)) == 0) {
		log_warnx("SESSION_BEGIN %s: %s", sid, why);
		return PRIV_H_REFUSE;
	}
	if (role != (uint32_t)real) {
		log_warnx("SESSION_BEGIN %s: the worker says %s, the "
		    "connection is %s", sid, role >= ROLE_SMTP &&
		    role <= ROLE_LOCAL ? listen_role_name((enum listen_role)
		    role) : "?", listen_role_name((enum listen_role)real));
		return PRIV_H_REFUSE;
	}
	if ((p->proto == PRIV_PROTO_SMTP) != listen_role_is_smtp(real))
		return PRIV_H_REFUSE;

	if (p->have_peer)
		sockaddr_ntop((struct sockaddr *)&p->peer, p->client,
		    sizeof(p->client));
	else
		strcpy(p->client, "local");	/* inetd on a pipe, submit */
	p->peer_local = !p->have_peer ||
	    sockaddr_is_loopback((struct sockaddr *)&p->peer);
	memcpy(p->sid, sid, sizeof(p->sid));
	p->role = real;
	p->session = true;
	p->authed = false;
	p->user[0] = '\0';
	p->txn = TXN_NONE;
	/* refusals count per session: an old session's do not add up */
	p->refused = 0;
	p->local_trusted = false;
	p->fullname[0] = '\0';
	log_session(p->sid);
	if (real == ROLE_LOCAL) {
		struct ipc_msg	*rep;

		/* no per-address limit: the socket's users are the host's */
		if (priv_local_begin(p, &r) == -1) {
			priv_session_reset(p);
			return priv_reply_fail(p, &r);
		}
		rep = priv_reply_begin(p);
		ipc_put_str(rep, p->user);
		ipc_put_str(rep, p->fullname);
		ipc_put_u32(rep, p->local_uid);
		return priv_reply_send(p, -1);
	}

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
	p->local_trusted = false;
	p->fullname[0] = '\0';
	p->txn = TXN_NONE;
	p->apop_stamp[0] = '\0';
	p->sid[0] = '\0';
	log_session(NULL);
}
