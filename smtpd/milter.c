/*
 * The milter client of the smtpd worker (unprivileged, chrooted): the
 * MTA side of Sendmail's milter protocol, version 6, as Postfix speaks
 * it (the wire format is milter_proto.c). One connection to each filter
 * of the list for the whole SMTP session; the stages connect, HELO,
 * MAIL, RCPT, DATA, then at the end of the message the headers, end of
 * headers, body chunks and end of message, each filter in turn on the
 * message the filters before it left; ABORT on RSET, QUIT at the end.
 *
 * A filter that cannot be reached, that is slower than milter_timeout,
 * or that says anything we cannot parse or did not allow is dropped for
 * the session, logged, and milter_default_action applies (tempfail,
 * accept: go on without it, or reject). Edits are checked here before
 * they touch the message (milter_proto.c checks names and values); the
 * monitor checks the envelope changes again like any RCPT or MAIL.
 *
 * The message is kept in a memfd (only when filters are configured), so
 * that the filters can see it whole and their edits can be applied
 * before the monitor writes the queue file.
 */
#include "autoconf.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "milter.h"
#include "milter_addr.h"
#include "milter_proto.h"
#include "xmalloc.h"

/* Everything we can do for a filter (macro lists are taken and
 * ignored: every filter gets the same macros). */
#define OFFER_ACTIONS	MILTER_A_ALL

struct milter_conn {
	char			 addr[MILTER_ADDR_MAX + 1];
	int			 fd;
	struct milter_neg	 neg;
	bool			 dead;		/* given up for the session */
	bool			 done;		/* accepted this message */
	bool			 conn_done;	/* accepted the session */
};

struct hdr {
	char	*raw;		/* "Name:value\n" with folding, owned */
	size_t	 len;
	size_t	 namelen;
};

struct milter_session {
	const struct config	*cfg;
	struct milter_conn	 m[MILTER_MAX];
	size_t			 n;
	int			 timeout_ms;
	struct milter_pkt	 pkt;
	struct milter_pkt	 macros;	/* sent with the next command */
	/* the message: a memfd, and its map at the end */
	int			 spool;
	uint64_t		 spool_size;
	bool			 spool_failed;
	char			*map;
	size_t			 maplen;
	/* a dead filter's verdict for the rest of the session */
	bool			 broken;
};

static int	 fail(struct milter_session *, struct milter_conn *,
		    const char *, struct milter_verdict *);
static int	 default_verdict(struct milter_session *,
		    struct milter_verdict *);

static const char *
action_name(const struct config *cfg)
{
	switch (cfg->smtp.milter_default_action) {
	case MILTER_ACTION_ACCEPT:
		return "accept";
	case MILTER_ACTION_REJECT:
		return "reject";
	default:
		return "tempfail";
	}
}

/* --- addresses and connections ------------------------------------------ */

/* Waits for events on fd until deadline; 0, or -1 (timeout, error). */
static int
wait_fd(int fd, short events, long long deadline)
{
	struct pollfd	pfd;
	long long	left;
	int		n;

	for (;;) {
		left = deadline - mono_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n > 0)
			return 0;
	}
}

static int
send_all(struct milter_session *ms, struct milter_conn *c, const char *buf,
    size_t len)
{
	long long	deadline = mono_ms() + ms->timeout_ms;
	ssize_t		k;

	while (len > 0) {
		k = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (k == -1 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(c->fd, POLLOUT, deadline) == -1)
				return -1;
			continue;
		}
		if (k <= 0)
			return -1;
		buf += k;
		len -= (size_t)k;
	}
	return 0;
}

static int
recv_all(struct milter_conn *c, char *buf, size_t len, long long deadline)
{
	ssize_t	k;

	while (len > 0) {
		k = recv(c->fd, buf, len, 0);
		if (k == -1 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(c->fd, POLLIN, deadline) == -1)
				return -1;
			continue;
		}
		if (k == 0)
			errno = ECONNRESET;
		if (k <= 0)
			return -1;
		buf += k;
		len -= (size_t)k;
	}
	return 0;
}

/*
 * Reads one packet into *data (owned by the caller). Returns 0, or -1
 * with why.
 */
static int
read_pkt(struct milter_session *ms, struct milter_conn *c, char *cmd,
    char **data, size_t *len, const char **why)
{
	char		hdr[5];
	uint32_t	n;
	long long	deadline = mono_ms() + ms->timeout_ms;

	*data = NULL;
	if (recv_all(c, hdr, sizeof(hdr), deadline) == -1) {
		*why = errno == ETIMEDOUT ? "timed out" : "connection lost";
		return -1;
	}
	memcpy(&n, hdr, sizeof(n));
	n = ntohl(n);
	if (n == 0 || n > MILTER_PKT_MAX) {
		*why = "packet length out of bounds";
		return -1;
	}
	*cmd = hdr[4];
	*len = n - 1;
	*data = xmalloc(*len + 1);
	if (recv_all(c, *data, *len, deadline) == -1) {
		xfree(data);
		*why = errno == ETIMEDOUT ? "timed out" : "connection lost";
		return -1;
	}
	(*data)[*len] = '\0';
	return 0;
}

/* Sends the packet built in ms->pkt, after the stage's macros if any. */
static int
send_pkt(struct milter_session *ms, struct milter_conn *c)
{
	int	rc = 0;

	if (milter_pkt_end(&ms->pkt) == -1)
		return -1;
	if (ms->macros.len > 0) {
		/* one write for both: the filter answers only the command */
		milter_pkt_bytes(&ms->macros, ms->pkt.buf, ms->pkt.len);
		if (ms->macros.overflow)
			rc = -1;
		else
			rc = send_all(ms, c, ms->macros.buf, ms->macros.len);
		ms->macros.len = 0;
		return rc;
	}
	return send_all(ms, c, ms->pkt.buf, ms->pkt.len);
}

static void
conn_close(struct milter_session *ms, struct milter_conn *c, bool quit)
{
	if (c->fd == -1)
		return;
	if (quit) {
		milter_pkt_begin(&ms->pkt, MILTER_C_QUIT);
		(void)send_pkt(ms, c);
	}
	close(c->fd);
	c->fd = -1;
}

/* Connects and negotiates; -1 with why. */
static int
conn_open(struct milter_session *ms, struct milter_conn *c, const char **why)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl;
	long long		 deadline;
	char			 cmd, *data = NULL;
	size_t			 len;
	int			 err, one = 1;
	socklen_t		 errlen = sizeof(err);

	if (milter_addr_parse(c->addr, &ss, &sl, why) == -1)
		return -1;
	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		*why = "socket failed";
		return -1;
	}
	deadline = mono_ms() + ms->cfg->smtp.milter_connect_timeout * 1000LL;
	if (connect(c->fd, (struct sockaddr *)&ss, sl) == -1) {
		if (errno != EINPROGRESS) {
			*why = "cannot connect";
			goto fail;
		}
		if (wait_fd(c->fd, POLLOUT, deadline) == -1) {
			*why = "connect timed out";
			goto fail;
		}
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &errlen) ==
		    -1 || err != 0) {
			*why = "cannot connect";
			goto fail;
		}
	}
	/*
	 * Macros go out just before their command, with no reply between:
	 * without NODELAY, Nagle holds the command back until the filter's
	 * delayed ACK (40 ms a stage on Linux).
	 */
	if (ss.ss_family != AF_UNIX && setsockopt(c->fd, IPPROTO_TCP,
	    TCP_NODELAY, &one, sizeof(one)) == -1)
		log_warn("milter %s: TCP_NODELAY", c->addr);
	milter_pkt_begin(&ms->pkt, MILTER_C_OPTNEG);
	milter_pkt_u32(&ms->pkt, MILTER_VERSION);
	milter_pkt_u32(&ms->pkt, OFFER_ACTIONS);
	milter_pkt_u32(&ms->pkt, MILTER_P_OFFER);
	if (send_pkt(ms, c) == -1) {
		*why = "cannot send";
		goto fail;
	}
	if (read_pkt(ms, c, &cmd, &data, &len, why) == -1)
		goto fail;
	if (cmd != MILTER_R_OPTNEG) {
		*why = "no negotiation reply";
		goto fail;
	}
	if (milter_parse_optneg(data, len, OFFER_ACTIONS, MILTER_P_OFFER,
	    &c->neg, why) == -1)
		goto fail;
	free(data);
	log_debug("milter %s: version %u actions 0x%x protocol 0x%x",
	    c->addr, c->neg.version, c->neg.actions, c->neg.protocol);
	return 0;
fail:
	free(data);
	conn_close(ms, c, false);
	return -1;
}

struct milter_session *
milter_session_new(const struct config *cfg, const struct strlist *list)
{
	struct milter_session	*ms;
	const char		*why;
	size_t			 i;

	ms = xcalloc(1, sizeof(*ms));
	ms->cfg = cfg;
	ms->spool = -1;
	ms->timeout_ms = cfg->smtp.milter_timeout * 1000;
	for (i = 0; i < list->n && ms->n < MILTER_MAX; i++) {
		struct milter_conn *c = &ms->m[ms->n++];

		snprintf(c->addr, sizeof(c->addr), "%s", list->v[i]);
		c->fd = -1;
		if (conn_open(ms, c, &why) == -1) {
			c->dead = true;
			ms->broken = true;
			log_warnx("milter %s: %s; default action %s", c->addr,
			    why, action_name(cfg));
		}
	}
	return ms;
}

static void
spool_drop(struct milter_session *ms)
{
	if (ms->map != NULL)
		(void)munmap(ms->map, ms->maplen);
	ms->map = NULL;
	ms->maplen = 0;
	if (ms->spool != -1)
		close(ms->spool);
	ms->spool = -1;
	ms->spool_size = 0;
	ms->spool_failed = false;
}

void
milter_session_free(struct milter_session **msp)
{
	struct milter_session	*ms = *msp;
	size_t			 i;

	if (ms == NULL)
		return;
	for (i = 0; i < ms->n; i++)
		conn_close(ms, &ms->m[i], true);
	spool_drop(ms);
	milter_pkt_free(&ms->pkt);
	milter_pkt_free(&ms->macros);
	free(ms);
	*msp = NULL;
}

bool
milter_active(const struct milter_session *ms)
{
	return ms != NULL && ms->n > 0;
}

/* --- verdicts ------------------------------------------------------------ */

static int
default_verdict(struct milter_session *ms, struct milter_verdict *v)
{
	switch (ms->cfg->smtp.milter_default_action) {
	case MILTER_ACTION_ACCEPT:
		return MILTER_CONTINUE;
	case MILTER_ACTION_REJECT:
		v->code = 550;
		reason_set(&v->r, "5.7.1", "message content rejected");
		return MILTER_REFUSE;
	default:
		v->code = 451;
		reason_set(&v->r, "4.7.1", "service temporarily unavailable, "
		    "try again later");
		return MILTER_REFUSE;
	}
}

/* A filter broke: log, drop it, and the default action. */
static int
fail(struct milter_session *ms, struct milter_conn *c, const char *why,
    struct milter_verdict *v)
{
	log_warnx("milter %s: %s; default action %s", c->addr, why,
	    action_name(ms->cfg));
	conn_close(ms, c, false);
	c->dead = true;
	ms->broken = true;
	return default_verdict(ms, v);
}

/*
 * Turns a final reply into a stage result. at_rcpt: a reject refuses
 * only this recipient. Returns -1 for a reply that is no verdict.
 */
static int
verdict(struct milter_conn *c, const struct milter_reply *rp, bool session,
    struct milter_verdict *v)
{
	switch (rp->cmd) {
	case MILTER_R_CONTINUE:
		return MILTER_CONTINUE;
	case MILTER_R_ACCEPT:
		if (session)
			c->conn_done = true;
		c->done = true;
		return MILTER_CONTINUE;
	case MILTER_R_REJECT:
		v->code = 550;
		reason_set(&v->r, "5.7.1", "command rejected");
		return MILTER_REFUSE;
	case MILTER_R_TEMPFAIL:
		v->code = 451;
		reason_set(&v->r, "4.7.1", "service temporarily unavailable");
		return MILTER_REFUSE;
	case MILTER_R_SHUTDOWN:
	case MILTER_R_CONN_FAIL:
		v->code = 421;
		reason_set(&v->r, "4.7.0", "service not available, closing "
		    "connection");
		return MILTER_REFUSE;
	case MILTER_R_DISCARD:
		return MILTER_DISCARD;
	case MILTER_R_REPLYCODE:
		v->code = rp->code;
		reason_set(&v->r, rp->status[0] ? rp->status :
		    (rp->code >= 500 ? "5.7.1" : "4.7.1"), "%s",
		    rp->text[0] ? rp->text : "command rejected");
		return MILTER_REFUSE;
	}
	return -1;
}

/* Builds the macros of one stage (command cmd), for send_pkt(). */
static int
send_macros(struct milter_session *ms, char cmd,
    const struct milter_macros *mm)
{
	const char	*names[16], *vals[16];
	size_t		 n = 0, i;

#define ADD(nm, v) do { if ((v) != NULL && (v)[0] != '\0') { \
	names[n] = (nm); vals[n++] = (v); } } while (0)
	switch (cmd) {
	case MILTER_C_CONNECT:
		ADD("j", mm->j);
		ADD("{daemon_name}", mm->daemon_name);
		ADD("{client_addr}", mm->client_addr);
		ADD("{client_port}", mm->client_port);
		ADD("{client_name}", mm->client_name);
		ADD("{if_addr}", mm->if_addr);
		ADD("v", "maild");
		ADD("_", mm->client_name);
		break;
	case MILTER_C_HELO:
		ADD("{tls_version}", mm->tls_version);
		ADD("{cipher}", mm->cipher);
		break;
	case MILTER_C_MAIL:
		ADD("i", mm->qid);
		ADD("{auth_type}", mm->auth_type);
		ADD("{auth_authen}", mm->auth_authen);
		ADD("{mail_addr}", mm->mail_addr);
		ADD("{tls_version}", mm->tls_version);
		ADD("{cipher}", mm->cipher);
		break;
	case MILTER_C_RCPT:
		ADD("{rcpt_addr}", mm->rcpt_addr);
		break;
	case MILTER_C_DATA:
	case MILTER_C_BODYEOB:
		ADD("i", mm->qid);
		break;
	}
#undef ADD
	ms->macros.len = 0;
	if (n == 0)
		return 0;
	milter_pkt_begin(&ms->macros, MILTER_C_MACRO);
	milter_pkt_bytes(&ms->macros, &cmd, 1);
	for (i = 0; i < n; i++) {
		milter_pkt_str(&ms->macros, names[i]);
		milter_pkt_str(&ms->macros, vals[i]);
	}
	/* sent in front of the command by send_pkt() */
	if (milter_pkt_end(&ms->macros) == -1) {
		ms->macros.len = 0;
		return -1;
	}
	return 0;
}

/*
 * Reads replies until one is not PROGRESS. Returns 0 with rp (pointing
 * into *data, which the caller frees), or -1 with why.
 */
static int
read_reply(struct milter_session *ms, struct milter_conn *c,
    struct milter_reply *rp, char **data, const char **why)
{
	char	cmd;
	size_t	len;

	for (;;) {
		if (read_pkt(ms, c, &cmd, data, &len, why) == -1)
			return -1;
		if (milter_parse_reply(cmd, *data, len, rp, why) == -1) {
			xfree(data);
			return -1;
		}
		if (rp->cmd != MILTER_R_PROGRESS)
			return 0;
		xfree(data);	/* the filter is alive: wait again */
	}
}

/* For the log. */
static const char *
stage_name(char cmd)
{
	switch (cmd) {
	case MILTER_C_CONNECT:
		return "connect";
	case MILTER_C_HELO:
		return "HELO";
	case MILTER_C_MAIL:
		return "MAIL";
	case MILTER_C_RCPT:
		return "RCPT";
	case MILTER_C_DATA:
		return "DATA";
	default:
		return "end of message";
	}
}

/*
 * One stage for every filter: the macros, the packet built by fill(),
 * a reply unless the filter said it wants none. no: the "do not send"
 * protocol bit; nr: the "no reply" bit.
 */
static int
stage(struct milter_session *ms, const struct milter_macros *mm, char cmd,
    uint32_t no, uint32_t nr, void (*fill)(struct milter_pkt *, const void *),
    const void *arg, struct milter_verdict *v)
{
	struct milter_reply	 rp;
	char			*data;
	const char		*why;
	size_t			 i;
	int			 res;
	bool			 session = cmd == MILTER_C_CONNECT ||
				    cmd == MILTER_C_HELO;

	for (i = 0; i < ms->n; i++) {
		struct milter_conn *c = &ms->m[i];

		if (c->dead) {
			if (cmd == MILTER_C_MAIL &&
			    default_verdict(ms, v) != MILTER_CONTINUE)
				return MILTER_REFUSE;
			continue;
		}
		if (c->done || c->conn_done || (c->neg.protocol & no))
			continue;
		milter_pkt_begin(&ms->pkt, cmd);
		if (fill != NULL)
			fill(&ms->pkt, arg);
		if (send_macros(ms, cmd, mm) == -1 || send_pkt(ms, c) == -1) {
			if ((res = fail(ms, c, "cannot send", v)) !=
			    MILTER_CONTINUE)
				return res;
			continue;
		}
		if (c->neg.protocol & nr)
			continue;
		if (read_reply(ms, c, &rp, &data, &why) == -1) {
			if ((res = fail(ms, c, why, v)) != MILTER_CONTINUE)
				return res;
			continue;
		}
		res = verdict(c, &rp, session, v);
		free(data);
		if (res == -1) {
			if ((res = fail(ms, c, "unexpected reply", v)) !=
			    MILTER_CONTINUE)
				return res;
			continue;
		}
		if (rp.cmd == MILTER_R_REJECT && cmd == MILTER_C_RCPT)
			reason_set(&v->r, "5.7.1", "recipient rejected");
		if (res != MILTER_CONTINUE) {
			if (res == MILTER_DISCARD)
				log_info("milter %s: discard at %s", c->addr,
				    stage_name(cmd));
			else
				log_info("milter %s: refused at %s: %d %s %s",
				    c->addr, stage_name(cmd), v->code,
				    v->r.status, v->r.text);
			return res;
		}
	}
	return MILTER_CONTINUE;
}

struct connect_arg {
	char		 family;
	uint16_t	 port;
	const char	*addr, *name;
};

static void
fill_connect(struct milter_pkt *p, const void *arg)
{
	const struct connect_arg	*a = arg;

	milter_pkt_str(p, a->name);
	milter_pkt_bytes(p, &a->family, 1);
	if (a->family != 'U') {
		milter_pkt_u16(p, a->port);
		milter_pkt_str(p, a->addr);
	}
}

static void
fill_str(struct milter_pkt *p, const void *arg)
{
	milter_pkt_str(p, arg);
}

static void
fill_path(struct milter_pkt *p, const void *arg)
{
	char	buf[SMTP_PATH_MAX + 3];

	snprintf(buf, sizeof(buf), "<%s>", (const char *)arg);
	milter_pkt_str(p, buf);
}

int
milter_connect(struct milter_session *ms, const struct milter_macros *mm,
    char family, uint16_t port, const char *addr, struct milter_verdict *v)
{
	struct connect_arg	a = { family, port, addr, mm->client_name };

	return stage(ms, mm, MILTER_C_CONNECT, MILTER_P_NOCONNECT,
	    MILTER_P_NR_CONN, fill_connect, &a, v);
}

int
milter_helo(struct milter_session *ms, const struct milter_macros *mm,
    const char *helo, struct milter_verdict *v)
{
	return stage(ms, mm, MILTER_C_HELO, MILTER_P_NOHELO, MILTER_P_NR_HELO,
	    fill_str, helo, v);
}

int
milter_mail(struct milter_session *ms, const struct milter_macros *mm,
    const char *sender, struct milter_verdict *v)
{
	size_t	i;

	for (i = 0; i < ms->n; i++)
		ms->m[i].done = false;
	return stage(ms, mm, MILTER_C_MAIL, MILTER_P_NOMAIL, MILTER_P_NR_MAIL,
	    fill_path, sender, v);
}

int
milter_rcpt(struct milter_session *ms, const struct milter_macros *mm,
    const char *rcpt, struct milter_verdict *v)
{
	return stage(ms, mm, MILTER_C_RCPT, MILTER_P_NORCPT, MILTER_P_NR_RCPT,
	    fill_path, rcpt, v);
}

int
milter_data(struct milter_session *ms, const struct milter_macros *mm,
    struct milter_verdict *v)
{
	int	res;

	res = stage(ms, mm, MILTER_C_DATA, MILTER_P_NODATA, MILTER_P_NR_DATA,
	    NULL, NULL, v);
	if (res != MILTER_REFUSE) {
		spool_drop(ms);
		ms->spool = memfd_create("maild-milter", MFD_CLOEXEC);
		if (ms->spool == -1) {
			log_warn("memfd_create");
			v->code = 451;
			reason_set(&v->r, "4.3.0", "local error, try again "
			    "later");
			return MILTER_REFUSE;
		}
	}
	return res;
}

void
milter_abort(struct milter_session *ms)
{
	size_t	i;

	if (ms == NULL)
		return;
	for (i = 0; i < ms->n; i++) {
		struct milter_conn *c = &ms->m[i];

		c->done = false;
		if (c->dead || c->conn_done)
			continue;
		milter_pkt_begin(&ms->pkt, MILTER_C_ABORT);
		if (send_pkt(ms, c) == -1) {
			log_warnx("milter %s: cannot send abort", c->addr);
			conn_close(ms, c, false);
			c->dead = true;
			ms->broken = true;
		}
	}
	spool_drop(ms);
}

/* --- the message ---------------------------------------------------------- */

static int
fd_write(int fd, const char *buf, size_t len)
{
	ssize_t	k;

	while (len > 0) {
		k = write(fd, buf, len);
		if (k == -1 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		buf += k;
		len -= (size_t)k;
	}
	return 0;
}

int
milter_spool_write(void *arg, const char *buf, size_t len)
{
	struct milter_session	*ms = arg;

	if (ms->spool == -1 || ms->spool_failed)
		return -1;
	if (fd_write(ms->spool, buf, len) == -1) {
		log_warn("milter spool");
		ms->spool_failed = true;
		return -1;
	}
	ms->spool_size += len;
	return 0;
}

static int
spool_map(struct milter_session *ms)
{
	if (ms->map != NULL || ms->spool_size == 0)
		return 0;
	if (ms->spool_size > SIZE_MAX)
		return -1;
	ms->map = mmap(NULL, (size_t)ms->spool_size, PROT_READ, MAP_PRIVATE,
	    ms->spool, 0);
	if (ms->map == MAP_FAILED) {
		ms->map = NULL;
		log_warn("mmap milter spool");
		return -1;
	}
	ms->maplen = (size_t)ms->spool_size;
	return 0;
}

int
milter_message(struct milter_session *ms, const char **buf, size_t *len)
{
	if (ms->spool_failed || spool_map(ms) == -1)
		return -1;
	*buf = ms->map != NULL ? ms->map : "";
	*len = ms->maplen;
	return 0;
}

/* The message split into headers and body (LF line ends). */
struct msg {
	struct hdr	*h;
	size_t		 nh, caph;
	const char	*body;
	size_t		 bodylen;
	bool		 sep;		/* an empty line before the body */
	/* a replaced body (LF line ends), owned */
	char		*newbody;
	size_t		 newlen, newcap;
	bool		 replaced, cr_pending;
	/* edits seen from the current filter */
	size_t		 nedits;
};

static void
msg_add_hdr(struct msg *m, size_t at, const char *raw, size_t len,
    size_t namelen)
{
	if (m->nh == m->caph) {
		m->caph = m->caph ? m->caph * 2 : 32;
		m->h = xreallocarray(m->h, m->caph, sizeof(*m->h));
	}
	memmove(m->h + at + 1, m->h + at, (m->nh - at) * sizeof(*m->h));
	m->h[at].raw = xstrndup(raw, len);
	m->h[at].len = len;
	m->h[at].namelen = namelen;
	m->nh++;
}

static void
msg_free(struct msg *m)
{
	size_t	i;

	for (i = 0; i < m->nh; i++)
		free(m->h[i].raw);
	free(m->h);
	free(m->newbody);
	memset(m, 0, sizeof(*m));
}

/* Splits buf (LF line ends, as the DATA reader stores it). */
static void
msg_parse(struct msg *m, const char *buf, size_t len)
{
	const char	*p = buf, *end = buf + len, *eol, *colon, *start;
	size_t		 namelen;

	memset(m, 0, sizeof(*m));
	while (p < end) {
		if (*p == '\n') {
			m->sep = true;
			p++;
			break;
		}
		eol = memchr(p, '\n', (size_t)(end - p));
		colon = memchr(p, ':', eol != NULL ? (size_t)(eol - p) :
		    (size_t)(end - p));
		if (eol == NULL || colon == NULL || colon == p ||
		    *p == ' ' || *p == '\t')
			break;	/* not a header: the body starts here */
		namelen = (size_t)(colon - p);
		while (namelen > 0 && (p[namelen - 1] == ' ' ||
		    p[namelen - 1] == '\t'))
			namelen--;
		start = p;
		p = eol + 1;
		while (p < end && (*p == ' ' || *p == '\t') &&
		    (eol = memchr(p, '\n', (size_t)(end - p))) != NULL)
			p = eol + 1;
		msg_add_hdr(m, m->nh, start, (size_t)(p - start), namelen);
	}
	m->body = p;
	m->bodylen = (size_t)(end - p);
}

/* "Name" + ":" + value as a filter gave it; folding becomes LF. */
static char *
hdr_build(const char *name, const char *value, bool leadspc, size_t *lenp)
{
	size_t	 nl = strlen(name), vl = strlen(value), i, o = 0;
	char	*raw = xmalloc(nl + vl + 4);

	memcpy(raw, name, nl);
	o = nl;
	raw[o++] = ':';
	if (!leadspc && value[0] != ' ' && value[0] != '\t')
		raw[o++] = ' ';
	for (i = 0; i < vl; i++)
		if (value[i] != '\r')	/* only in CRLF folding (checked) */
			raw[o++] = value[i];
	raw[o++] = '\n';
	raw[o] = '\0';
	*lenp = o;
	return raw;
}

static bool
hdr_is(const struct hdr *h, const char *name)
{
	return h->namelen == strlen(name) &&
	    strncasecmp(h->raw, name, h->namelen) == 0;
}

static int
body_append(struct msg *m, const char *d, size_t n, uint64_t max)
{
	size_t	i;

	if (max > 0 && (n > max || m->newlen > max - n))
		return -1;
	if (m->newcap - m->newlen < n + 2) {
		m->newcap = (m->newlen + n + 2) * 2;
		m->newbody = xreallocarray(m->newbody, m->newcap, 1);
	}
	for (i = 0; i < n; i++) {
		if (d[i] == '\0')
			return -1;
		if (m->cr_pending) {
			m->cr_pending = false;
			if (d[i] != '\n')
				return -1;	/* bare CR */
		}
		if (d[i] == '\r') {
			m->cr_pending = true;
			continue;
		}
		m->newbody[m->newlen++] = d[i];
	}
	return 0;
}

/* One modification from the EOM replies; -1 when it is not allowed. */
static int
apply_edit(struct milter_session *ms, struct milter_conn *c, struct msg *m,
    const struct milter_reply *rp, struct milter_result *res,
    const char **why)
{
	uint32_t	a = c->neg.actions;
	bool		lead = (c->neg.protocol & MILTER_P_HDR_LEADSPC) != 0;
	size_t		i, n, len, at;
	char		*raw;

	*why = "action not negotiated";
	if (++m->nedits > MILTER_EDITS_MAX) {
		*why = "too many edits";
		return -1;
	}
	switch (rp->cmd) {
	case MILTER_R_ADDHEADER:
		if (!(a & MILTER_A_ADDHDRS))
			return -1;
		raw = hdr_build(rp->name, rp->value, lead, &len);
		msg_add_hdr(m, m->nh, raw, len, strlen(rp->name));
		free(raw);
		return 0;
	case MILTER_R_INSHEADER:
		if (!(a & MILTER_A_ADDHDRS))
			return -1;
		at = rp->index > m->nh ? m->nh : rp->index;
		raw = hdr_build(rp->name, rp->value, lead, &len);
		msg_add_hdr(m, at, raw, len, strlen(rp->name));
		free(raw);
		return 0;
	case MILTER_R_CHGHEADER:
		if (!(a & MILTER_A_CHGHDRS))
			return -1;
		/* the index-th header of that name, from 1 */
		for (i = 0, n = 0; i < m->nh; i++)
			if (hdr_is(&m->h[i], rp->name) &&
			    ++n == (rp->index ? rp->index : 1))
				break;
		if (i == m->nh) {
			if (rp->value[0] == '\0')
				return 0;
			raw = hdr_build(rp->name, rp->value, lead, &len);
			msg_add_hdr(m, m->nh, raw, len, strlen(rp->name));
			free(raw);
			return 0;
		}
		free(m->h[i].raw);
		if (rp->value[0] == '\0') {
			memmove(m->h + i, m->h + i + 1, (m->nh - i - 1) *
			    sizeof(*m->h));
			m->nh--;
			return 0;
		}
		m->h[i].raw = hdr_build(rp->name, rp->value, lead,
		    &m->h[i].len);
		m->h[i].namelen = strlen(rp->name);
		return 0;
	case MILTER_R_REPLBODY:
		if (!(a & MILTER_A_CHGBODY))
			return -1;
		if (!m->replaced) {
			m->replaced = true;
			m->newlen = 0;
			m->cr_pending = false;
		}
		if (body_append(m, rp->data, rp->datalen,
		    (uint64_t)ms->cfg->smtp.message_size_limit) == -1) {
			*why = "replaced body with NUL, bare CR, or too big";
			return -1;
		}
		return 0;
	case MILTER_R_CHGFROM:
		if (!(a & MILTER_A_CHGFROM))
			return -1;
		free(res->new_sender);
		res->new_sender = xstrdup(rp->name);
		return 0;
	case MILTER_R_ADDRCPT:
	case MILTER_R_ADDRCPT_PAR:
		if (!(a & (rp->cmd == MILTER_R_ADDRCPT ? MILTER_A_ADDRCPT :
		    MILTER_A_ADDRCPT_PAR)) || res->nadd >= QUEUE_RCPTS_MAX)
			return -1;
		res->add_rcpt = xreallocarray(res->add_rcpt, res->nadd + 1,
		    sizeof(char *));
		res->add_rcpt[res->nadd++] = xstrdup(rp->name);
		return 0;
	case MILTER_R_DELRCPT:
		if (!(a & MILTER_A_DELRCPT) || res->ndel >= QUEUE_RCPTS_MAX)
			return -1;
		res->del_rcpt = xreallocarray(res->del_rcpt, res->ndel + 1,
		    sizeof(char *));
		res->del_rcpt[res->ndel++] = xstrdup(rp->name);
		return 0;
	case MILTER_R_QUARANTINE:
		if (!(a & MILTER_A_QUARANTINE))
			return -1;
		res->hold = true;
		free(res->hold_reason);
		res->hold_reason = xstrdup(rp->name);
		return 0;
	}
	*why = "unexpected reply";
	return -1;
}

/* Writes the edited message into a new spool, which replaces the old. */
static int
msg_write(struct milter_session *ms, struct msg *m)
{
	int	fd;
	size_t	i;

	if ((fd = memfd_create("maild-milter", MFD_CLOEXEC)) == -1) {
		log_warn("memfd_create");
		return -1;
	}
	if (m->replaced) {
		if (m->cr_pending)
			goto fail;	/* a bare CR at the end */
		if (m->newlen > 0 && m->newbody[m->newlen - 1] != '\n')
			m->newbody[m->newlen++] = '\n';	/* whole lines */
	}
	for (i = 0; i < m->nh; i++)
		if (fd_write(fd, m->h[i].raw, m->h[i].len) == -1)
			goto fail;
	if ((m->sep || (m->replaced ? m->newlen : m->bodylen) > 0) &&
	    fd_write(fd, "\n", 1) == -1)
		goto fail;
	if (m->replaced ? fd_write(fd, m->newbody, m->newlen) :
	    fd_write(fd, m->body, m->bodylen))
		goto fail;
	spool_drop(ms);
	ms->spool = fd;
	ms->spool_size = (uint64_t)lseek(fd, 0, SEEK_END);
	return 0;
fail:
	log_warn("milter spool");
	close(fd);
	return -1;
}

/* Sends the body as CRLF lines in chunks. */
static int
send_body(struct milter_session *ms, struct milter_conn *c, const char *b,
    size_t len, bool *skipped, struct milter_verdict *v, int *res)
{
	char			 chunk[MILTER_CHUNK_MAX];
	size_t			 n = 0, i;
	struct milter_reply	 rp;
	char			*data;
	const char		*why;

	*res = MILTER_CONTINUE;
	for (i = 0; i <= len; i++) {
		if (i == len || n + 2 > sizeof(chunk)) {
			if (n == 0)
				break;
			milter_pkt_begin(&ms->pkt, MILTER_C_BODY);
			milter_pkt_bytes(&ms->pkt, chunk, n);
			if (send_pkt(ms, c) == -1) {
				*res = fail(ms, c, "cannot send", v);
				return -1;
			}
			n = 0;
			if (!(c->neg.protocol & MILTER_P_NR_BODY)) {
				if (read_reply(ms, c, &rp, &data, &why) ==
				    -1) {
					*res = fail(ms, c, why, v);
					return -1;
				}
				free(data);
				if (rp.cmd == MILTER_R_SKIP) {
					*skipped = true;
					return 0;
				}
				if ((*res = verdict(c, &rp, false, v)) == -1) {
					*res = fail(ms, c, "unexpected reply",
					    v);
					return -1;
				}
				if (*res != MILTER_CONTINUE || c->done)
					return -1;
			}
			if (i == len)
				break;
		}
		if (b[i] == '\n')
			chunk[n++] = '\r';
		chunk[n++] = b[i];
	}
	return 0;
}

/* Headers, EOH, body, EOM and the edits, for one filter. */
static int
eom_one(struct milter_session *ms, struct milter_conn *c,
    const struct milter_macros *mm, struct milter_result *res,
    struct milter_verdict *v)
{
	struct msg		 m;
	struct milter_reply	 rp;
	const char		*buf, *why, *val;
	char			*data, name[MILTER_HDRNAME_MAX + 1];
	size_t			 len, i, vl;
	bool			 skipped = false, lead;
	int			 r = MILTER_CONTINUE;

	if (milter_message(ms, &buf, &len) == -1) {
		v->code = 451;
		reason_set(&v->r, "4.3.0", "local error, try again later");
		return MILTER_REFUSE;
	}
	msg_parse(&m, buf, len);
	lead = (c->neg.protocol & MILTER_P_HDR_LEADSPC) != 0;
	for (i = 0; i < m.nh && !(c->neg.protocol & MILTER_P_NOHDRS); i++) {
		if (m.h[i].namelen > MILTER_HDRNAME_MAX)
			continue;	/* nothing a filter could name */
		memcpy(name, m.h[i].raw, m.h[i].namelen);
		name[m.h[i].namelen] = '\0';
		val = (const char *)memchr(m.h[i].raw, ':', m.h[i].len) + 1;
		vl = m.h[i].len - (size_t)(val - m.h[i].raw) - 1;
		while (!lead && vl > 0 && (*val == ' ' || *val == '\t')) {
			val++;
			vl--;
		}
		milter_pkt_begin(&ms->pkt, MILTER_C_HEADER);
		milter_pkt_str(&ms->pkt, name);
		milter_pkt_bytes(&ms->pkt, val, vl);
		milter_pkt_bytes(&ms->pkt, "", 1);
		if (send_pkt(ms, c) == -1) {
			r = fail(ms, c, ms->pkt.overflow ? "a header is too "
			    "long to send" : "cannot send", v);
			goto out;
		}
		if (c->neg.protocol & MILTER_P_NR_HDR)
			continue;
		if (read_reply(ms, c, &rp, &data, &why) == -1) {
			r = fail(ms, c, why, v);
			goto out;
		}
		if (rp.cmd == MILTER_R_SKIP)
			r = MILTER_CONTINUE;
		else
			r = verdict(c, &rp, false, v);
		free(data);
		if (r == -1) {
			r = fail(ms, c, "unexpected reply", v);
			goto out;
		}
		if (r != MILTER_CONTINUE || c->done)
			goto out;
	}
	if (!(c->neg.protocol & MILTER_P_NOEOH)) {
		milter_pkt_begin(&ms->pkt, MILTER_C_EOH);
		if (send_pkt(ms, c) == -1) {
			r = fail(ms, c, "cannot send", v);
			goto out;
		}
		if (!(c->neg.protocol & MILTER_P_NR_EOH)) {
			if (read_reply(ms, c, &rp, &data, &why) == -1) {
				r = fail(ms, c, why, v);
				goto out;
			}
			r = verdict(c, &rp, false, v);
			free(data);
			if (r == -1) {
				r = fail(ms, c, "unexpected reply", v);
				goto out;
			}
			if (r != MILTER_CONTINUE || c->done)
				goto out;
		}
	}
	if (!(c->neg.protocol & MILTER_P_NOBODY) &&
	    send_body(ms, c, m.body, m.bodylen, &skipped, v, &r) == -1)
		goto out;
	if (send_macros(ms, MILTER_C_BODYEOB, mm) == -1) {
		r = fail(ms, c, "cannot send", v);
		goto out;
	}
	milter_pkt_begin(&ms->pkt, MILTER_C_BODYEOB);
	if (send_pkt(ms, c) == -1) {
		r = fail(ms, c, "cannot send", v);
		goto out;
	}
	/* edits, then the verdict */
	for (;;) {
		if (read_reply(ms, c, &rp, &data, &why) == -1) {
			r = fail(ms, c, why, v);
			goto out;
		}
		if ((r = verdict(c, &rp, false, v)) != -1) {
			free(data);
			break;
		}
		if (apply_edit(ms, c, &m, &rp, res, &why) == -1) {
			free(data);
			r = fail(ms, c, why, v);
			goto out;
		}
		free(data);
	}
	if (r != MILTER_REFUSE && (m.nedits > 0 || m.replaced) &&
	    msg_write(ms, &m) == -1) {
		v->code = 451;
		reason_set(&v->r, "4.3.0", "local error, try again later");
		r = MILTER_REFUSE;
	}
out:
	msg_free(&m);
	return r;
}

/* Moves one filter's envelope changes into the message's. */
static void
merge_result(struct milter_result *res, struct milter_result *one)
{
	size_t	i;

	if (one->new_sender != NULL) {
		free(res->new_sender);
		res->new_sender = one->new_sender;
	}
	if (one->hold) {
		res->hold = true;
		free(res->hold_reason);
		res->hold_reason = one->hold_reason;
	} else
		free(one->hold_reason);
	for (i = 0; i < one->nadd && res->nadd < QUEUE_RCPTS_MAX; i++) {
		res->add_rcpt = xreallocarray(res->add_rcpt, res->nadd + 1,
		    sizeof(char *));
		res->add_rcpt[res->nadd++] = one->add_rcpt[i];
		one->add_rcpt[i] = NULL;
	}
	for (i = 0; i < one->ndel && res->ndel < QUEUE_RCPTS_MAX; i++) {
		res->del_rcpt = xreallocarray(res->del_rcpt, res->ndel + 1,
		    sizeof(char *));
		res->del_rcpt[res->ndel++] = one->del_rcpt[i];
		one->del_rcpt[i] = NULL;
	}
	one->new_sender = one->hold_reason = NULL;
	milter_result_free(one);
}

int
milter_eom(struct milter_session *ms, const struct milter_macros *mm,
    struct milter_result *res, struct milter_verdict *v)
{
	struct milter_result	one;
	size_t			i;
	int			r, discard = 0;

	memset(res, 0, sizeof(*res));
	if (ms->spool_failed) {
		v->code = 451;
		reason_set(&v->r, "4.3.0", "local error, try again later");
		return MILTER_REFUSE;
	}
	for (i = 0; i < ms->n; i++) {
		struct milter_conn *c = &ms->m[i];

		if (c->dead) {
			if (default_verdict(ms, v) != MILTER_CONTINUE)
				return MILTER_REFUSE;
			continue;
		}
		if (c->done || c->conn_done)
			continue;
		memset(&one, 0, sizeof(one));
		r = eom_one(ms, c, mm, &one, v);
		if (c->dead) {
			/* nothing a broken filter asked for is done */
			milter_result_free(&one);
		} else
			merge_result(res, &one);
		if (r == MILTER_DISCARD) {
			discard = 1;
			log_info("milter %s: discard at %s", c->addr,
			    stage_name(MILTER_C_BODYEOB));
			break;
		}
		if (r == MILTER_REFUSE) {
			log_info("milter %s: refused at %s: %d %s %s",
			    c->addr, stage_name(MILTER_C_BODYEOB), v->code,
			    v->r.status, v->r.text);
			return r;
		}
	}
	for (i = 0; i < ms->n; i++)
		ms->m[i].done = false;
	return discard ? MILTER_DISCARD : MILTER_CONTINUE;
}

void
milter_result_free(struct milter_result *res)
{
	size_t	i;

	free(res->new_sender);
	for (i = 0; i < res->nadd; i++)
		free(res->add_rcpt[i]);
	free(res->add_rcpt);
	for (i = 0; i < res->ndel; i++)
		free(res->del_rcpt[i]);
	free(res->del_rcpt);
	free(res->hold_reason);
	memset(res, 0, sizeof(*res));
}
