/*
 * The monitor's request loop (root). One monitor serves one worker over
 * a SOCK_SEQPACKET socket. Every request is checked against the table
 * below before its handler runs: the protocol must match, the session
 * state must allow it, and a descriptor must come with it exactly when
 * the table says so. A malformed request is answered PRIV_REFUSED and
 * logged (too many in one session and the worker is dropped); a request
 * the state does not allow means the worker is broken or hostile, so it
 * is dropped at once. A dropped worker is killed: it holds the pool's
 * listening sockets, and must not go on taking clients it cannot serve.
 */
#include "autoconf.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "log.h"
#include "priv.h"
#include "priv_proto.h"
#include "xmalloc.h"

#define PRIV_REFUSED_MAX	10	/* per session */

/*
 * How long a worker that hung up may take to exit. It closes its end
 * only by exiting, so the wait is short unless something is wrong.
 */
#define PRIV_LINGER_MS		3000

/* need bits */
#define N_SMTP		0x0001	/* SMTP workers may ask */
#define N_POP3		0x0002	/* POP3 workers may ask */
#define N_ANY		(N_SMTP | N_POP3)
#define N_NOSESSION	0x0004	/* only between sessions */
#define N_SESSION	0x0008	/* only inside a session */
#define N_AUTHED	0x0010	/* only after a successful AUTH */
#define N_UNAUTHED	0x0020	/* only before AUTH */
#define N_TXN_NONE	0x0040	/* no SMTP transaction open */
#define N_TXN_OPEN	0x0080	/* after MAIL, before DATA */
#define N_TXN_RCPT	0x0400	/* a recipient was accepted */
#define N_TXN_DATA	0x0800	/* the message is being received */
#define N_FD		0x0100	/* a descriptor comes with it */
#define N_NOREPLY	0x0200	/* no reply is sent */
#define N_MD_NONE	0x1000	/* no maildrop held */
#define N_MD_OPEN	0x2000	/* maildrop held, no update file */
#define N_MD_TMP	0x4000	/* an update file made, not committed */
#define N_MD_HELD	0x8000	/* a maildrop held, in any state */
#define N_APOP_NONE	0x10000	/* no APOP timestamp issued yet */
#define N_APOP_ISSUED	0x20000	/* an APOP timestamp was issued */

/* How often a monitor holding a maildrop wakes to refresh its dotlock. */
#define PRIV_TICK_MS	60000

struct priv_req {
	enum priv_type	 type;
	const char	*name;
	unsigned	 need;
	int		(*handler)(struct priv *, struct ipc_msg *);
};

static const struct priv_req priv_reqs[] = {
	{ PRIV_PING, "PING", N_ANY, priv_answer_ping },
	{ PRIV_SESSION_BEGIN, "SESSION_BEGIN", N_ANY | N_NOSESSION | N_FD,
	    priv_answer_session_begin },
	{ PRIV_SESSION_END, "SESSION_END", N_ANY | N_SESSION,
	    priv_answer_session_end },
	{ PRIV_AUTH, "AUTH", N_ANY | N_SESSION | N_UNAUTHED,
	    priv_answer_auth },
	{ PRIV_MAIL, "MAIL", N_SMTP | N_SESSION | N_TXN_NONE,
	    priv_answer_mail },
	{ PRIV_RCPT, "RCPT", N_SMTP | N_SESSION | N_TXN_OPEN,
	    priv_answer_rcpt },
	{ PRIV_RSET, "RSET", N_SMTP | N_SESSION, priv_answer_rset },
	{ PRIV_DATA_BEGIN, "DATA_BEGIN", N_SMTP | N_SESSION | N_TXN_RCPT,
	    priv_answer_data_begin },
	{ PRIV_DATA_CHUNK, "DATA_CHUNK", N_SMTP | N_SESSION | N_TXN_DATA |
	    N_NOREPLY, priv_answer_data_chunk },
	{ PRIV_DATA_END, "DATA_END", N_SMTP | N_SESSION | N_TXN_DATA,
	    priv_answer_data_end },
	{ PRIV_VRFY, "VRFY", N_SMTP | N_SESSION, priv_answer_vrfy },
	{ PRIV_APOP_CHALLENGE, "APOP_CHALLENGE", N_POP3 | N_SESSION |
	    N_UNAUTHED | N_APOP_NONE, priv_answer_apop_challenge },
	{ PRIV_APOP, "APOP", N_POP3 | N_SESSION | N_UNAUTHED | N_APOP_ISSUED,
	    priv_answer_apop },
	{ PRIV_MAILDROP_OPEN, "MAILDROP_OPEN", N_POP3 | N_SESSION | N_AUTHED |
	    N_MD_NONE, priv_answer_maildrop_open },
	{ PRIV_INDEX_OPEN, "INDEX_OPEN", N_POP3 | N_SESSION | N_AUTHED |
	    N_MD_OPEN, priv_answer_index_open },
	{ PRIV_MAILDROP_TMP, "MAILDROP_TMP", N_POP3 | N_SESSION | N_AUTHED |
	    N_MD_OPEN, priv_answer_maildrop_tmp },
	{ PRIV_MAILDROP_COMMIT, "MAILDROP_COMMIT", N_POP3 | N_SESSION |
	    N_AUTHED | N_MD_TMP, priv_answer_maildrop_commit },
	{ PRIV_MAILDROP_RELEASE, "MAILDROP_RELEASE", N_POP3 | N_SESSION |
	    N_AUTHED | N_MD_HELD, priv_answer_maildrop_release },
};

static volatile sig_atomic_t	got_term;

static void
on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

/* Whether sock has something to read within ms (false on EINTR too). */
static bool
readable(int sock, int ms)
{
	struct pollfd	pfd;

	pfd.fd = sock;
	pfd.events = POLLIN;
	return poll(&pfd, 1, ms) > 0;
}

static const struct priv_req *
lookup(uint32_t type)
{
	size_t	i;

	for (i = 0; i < sizeof(priv_reqs) / sizeof(priv_reqs[0]); i++)
		if (priv_reqs[i].type == type)
			return &priv_reqs[i];
	return NULL;
}

/* Whether the state allows the request; says why not in *why. */
static bool
allowed(struct priv *p, const struct priv_req *rq, const char **why)
{
	unsigned proto = p->proto == PRIV_PROTO_SMTP ? N_SMTP : N_POP3;

	if (!(rq->need & proto))
		*why = "not for this protocol";
	else if ((rq->need & N_NOSESSION) && p->session)
		*why = "a session is already open";
	else if ((rq->need & N_SESSION) && !p->session)
		*why = "no session";
	else if ((rq->need & N_AUTHED) && !p->authed)
		*why = "not authenticated";
	else if ((rq->need & N_UNAUTHED) && p->authed)
		*why = "already authenticated";
	else if ((rq->need & N_TXN_NONE) && p->txn != TXN_NONE)
		*why = "a transaction is open";
	else if ((rq->need & N_TXN_OPEN) && p->txn != TXN_MAIL &&
	    p->txn != TXN_RCPT)
		*why = "no MAIL";
	else if ((rq->need & N_TXN_RCPT) && p->txn != TXN_RCPT)
		*why = "no accepted recipient";
	else if ((rq->need & N_TXN_DATA) && p->txn != TXN_DATA)
		*why = "not receiving a message";
	else if ((rq->need & N_MD_NONE) && p->md != MD_NONE)
		*why = "a maildrop is already held";
	else if ((rq->need & N_MD_OPEN) && p->md != MD_OPEN)
		*why = p->md == MD_NONE ? "no maildrop held" :
		    "the maildrop is being updated";
	else if ((rq->need & N_MD_TMP) && p->md != MD_TMP)
		*why = "no update file";
	else if ((rq->need & N_MD_HELD) && p->md == MD_NONE)
		*why = "no maildrop held";
	else if ((rq->need & N_APOP_NONE) && p->apop_stamp[0] != '\0')
		*why = "an APOP timestamp was already issued";
	else if ((rq->need & N_APOP_ISSUED) && p->apop_stamp[0] == '\0')
		*why = "no APOP timestamp issued";
	else
		return true;
	return false;
}

static void
refuse(struct priv *p, const char *what)
{
	struct ipc_msg	*m = p->rep;

	p->refused++;
	log_warnx("refused request from worker %ld: %s", (long)p->worker,
	    what);
	ipc_msg_init(m, PRIV_REFUSED);
	if (ipc_send(p->sock, m, -1) == -1)
		log_warn("reply to worker");
}

void
priv_serve(struct priv *p)
{
	struct ipc_msg		*m;
	const struct priv_req	*rq;
	struct sigaction	 sa;
	const char		*why;
	int			 n, h;
	bool			 forwarded = false;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: a blocked recvmsg returns EINTR and we forward */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	m = xmalloc(sizeof(*m));
	p->rep = xmalloc(sizeof(*p->rep));
	for (;;) {
		if (got_term && !forwarded && p->worker > 0) {
			/* the worker finishes its session, then exits */
			kill(p->worker, SIGTERM);
			forwarded = true;
		}
		/* a held dotlock must not turn stale while we wait */
		if (p->md != MD_NONE) {
			priv_maildrop_tick(p);
			if (!readable(p->sock, PRIV_TICK_MS))
				continue;
		}
		n = ipc_recv(p->sock, m, true);
		if (n == 0)
			break;
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EMSGSIZE || errno == EBADMSG) {
				refuse(p, errno == EMSGSIZE ?
				    "message too long" : "malformed message");
				goto check;
			}
			log_warn("receive from worker");
			break;
		}
		if ((rq = lookup(m->type)) == NULL) {
			if (m->fd != -1)
				close(m->fd);
			refuse(p, "unknown request type");
			goto check;
		}
		if ((m->fd != -1) != ((rq->need & N_FD) != 0)) {
			if (m->fd != -1) {
				close(m->fd);
				m->fd = -1;
				refuse(p, "unexpected descriptor");
			} else
				refuse(p, "descriptor missing");
			goto check;
		}
		if (!allowed(p, rq, &why)) {
			if (m->fd != -1)
				close(m->fd);
			log_warnx("worker %ld asked %s: %s; dropping it",
			    (long)p->worker, rq->name, why);
			p->dropped = true;
			break;
		}
		/* for the tests: a worker found hostile at this request */
		if (fault_point("priv.request") == -1) {
			if (m->fd != -1)
				close(m->fd);
			log_warnx("fault point priv.request: dropping worker "
			    "%ld", (long)p->worker);
			p->dropped = true;
			break;
		}
		h = rq->handler(p, m);
		if (m->fd != -1) {
			close(m->fd);	/* handlers take what they keep */
			m->fd = -1;
		}
		if (h == PRIV_H_DROP) {
			log_warnx("dropping worker %ld after %s",
			    (long)p->worker, rq->name);
			p->dropped = true;
			break;
		}
		if (h == PRIV_H_RETIRE) {
			log_debug("worker %ld retires after a login",
			    (long)p->worker);
			break;
		}
		if (h == PRIV_H_REFUSE) {
			if (rq->need & N_NOREPLY) {
				p->refused++;
				log_warnx("malformed %s from worker %ld",
				    rq->name, (long)p->worker);
			} else {
				char what[64];

				snprintf(what, sizeof(what), "malformed %s",
				    rq->name);
				refuse(p, what);
			}
		}
check:
		if (p->refused > PRIV_REFUSED_MAX) {
			log_warnx("too many malformed requests from worker "
			    "%ld; dropping it", (long)p->worker);
			p->dropped = true;
			break;
		}
	}
	priv_session_reset(p);
	free(m);
	xfree(&p->rep);
}

/* waitpid() for pid, without blocking; 1 reaped, 0 not yet, -1 error. */
static int
reap(pid_t pid, int *status)
{
	pid_t	r;

	while ((r = waitpid(pid, status, WNOHANG)) == -1 && errno == EINTR)
		;
	if (r == -1)
		return -1;
	return r == pid;
}

int
priv_run(struct priv *p)
{
	struct timespec	tick = { 0, 2 * 1000000 };
	int		status = 0, n = 0, waited;

	priv_serve(p);
	/* a worker waiting for a reply sees EOF */
	close(p->sock);
	p->sock = -1;
	if (p->worker <= 0)
		return -1;
	if (!p->dropped) {
		/* it hung up: normally because it is exiting */
		for (waited = 0; waited < PRIV_LINGER_MS &&
		    (n = reap(p->worker, &status)) == 0; waited += 2)
			(void)nanosleep(&tick, NULL);
		if (n == 0) {
			log_warnx("worker %ld hung up but did not exit; "
			    "killing it", (long)p->worker);
			p->dropped = true;
		}
	}
	if (p->dropped && n == 0 && kill(p->worker, SIGKILL) == -1 &&
	    errno != ESRCH)
		log_warn("kill worker %ld", (long)p->worker);
	if (n == 0) {
		pid_t	r;

		while ((r = waitpid(p->worker, &status, 0)) == -1 &&
		    errno == EINTR)
			;
		n = r == p->worker ? 1 : -1;
	}
	if (n == -1) {
		log_warn("waitpid worker %ld", (long)p->worker);
		return -1;
	}
	if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM &&
	    !(p->dropped && WTERMSIG(status) == SIGKILL))
		log_warnx("worker %ld killed by signal %d", (long)p->worker,
		    WTERMSIG(status));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		log_warnx("worker %ld exited with status %d", (long)p->worker,
		    WEXITSTATUS(status));
	return status;
}

int
priv_reply_ok(struct priv *p)
{
	ipc_msg_init(p->rep, PRIV_OK);
	return priv_reply_send(p, -1);
}

int
priv_reply_fail(struct priv *p, const struct reason *r)
{
	ipc_msg_init(p->rep, PRIV_FAIL);
	ipc_put_str(p->rep, r->status);
	ipc_put_str(p->rep, r->text);
	return priv_reply_send(p, -1);
}

struct ipc_msg *
priv_reply_begin(struct priv *p)
{
	ipc_msg_init(p->rep, PRIV_OK);
	return p->rep;
}

int
priv_reply_send(struct priv *p, int fd)
{
	if (ipc_send(p->sock, p->rep, fd) == -1) {
		log_warn("reply to worker");
		return 0;	/* the next receive sees the broken socket */
	}
	return 0;
}

void
priv_notify(struct priv *p, const char *fmt, ...)
{
	char	buf[256];
	va_list	ap;
	int	n;

	if (p->notify_fd == -1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n <= 0 || (size_t)n >= sizeof(buf) - 1)
		return;
	buf[n++] = '\n';
	/* one atomic line; if the runner is far behind, its rescan finds it */
	if (write(p->notify_fd, buf, (size_t)n) != n)
		log_debug("runner notification not sent: %s", strerror(errno));
}
