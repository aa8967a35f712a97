/*
 * The POP3 session in the unprivileged worker (RFC 1939): greeting, the
 * command loop, the command table and the state machine. A line is
 * read, split (pop3_parse.c), looked up in the table and checked
 * against the state (-ERR when out of place); the handler's result
 * becomes the "+OK"/"-ERR" reply. Replies are flushed only when no more
 * client input is buffered (RFC 2449 6.6 PIPELINING: a batch sent in
 * one packet is answered in one). Too many errors end the session, as
 * does the autologout timer (pop3.timeout, RFC 1939 3: at least ten
 * minutes); neither enters UPDATE, so nothing is deleted.
 *
 * On a pop3s listener (and pop3d -i -s) TLS comes first (RFC 8314), then
 * the greeting. When APOP is configured the greeting carries the RFC
 * 1939 7 timestamp, which the monitor makes.
 */
#include "autoconf.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "cmd_loop.h"
#include "io.h"
#include "log.h"
#include "pop3.h"
#include "pop3_session.h"
#include "priv_client.h"
#include "priv_proto.h"
#include "session_id.h"

/*
 * With the fault point pop3.short_timeout armed (tests only; compiled
 * out with --disable-fault-injection), the autologout timer is this many
 * milliseconds instead of pop3.timeout, which cannot be set below ten
 * minutes.
 */
#define POP3_TEST_TIMEOUT_MS	2000

static int	pop3_unknown(struct pop3_session *, const struct pop3_cmd *);
static bool	reply(struct pop3_session *, int);
static void	log_end(struct pop3_session *);
static void	serve(const struct worker_env *, struct io *, int, int,
		    const struct sockaddr *);

CMD_ROW_CHECK(struct pop3_cmd_def);

#define AUTH_TRANS	(POP3_IN(POP3_AUTH) | POP3_IN(POP3_TRANS))

static const struct pop3_cmd_def pop3_cmds[] = {
	/* verb		allowed in		flags		handler */
	{ "CAPA",	AUTH_TRANS,		0,		pop3_capa },
	{ "USER",	POP3_IN(POP3_AUTH),		0,		pop3_user },
	{ "PASS",	POP3_IN(POP3_AUTH),		POP3_CMD_SECRET,	pop3_pass },
	{ "APOP",	POP3_IN(POP3_AUTH),		POP3_CMD_SECRET,	pop3_apop },
	{ "AUTH",	POP3_IN(POP3_AUTH),		POP3_CMD_SECRET,	pop3_auth },
	{ "STLS",	POP3_IN(POP3_AUTH),		0,		pop3_stls },
	{ "STAT",	POP3_IN(POP3_TRANS),		0,		pop3_stat },
	{ "LIST",	POP3_IN(POP3_TRANS),		0,		pop3_list },
	{ "RETR",	POP3_IN(POP3_TRANS),		0,		pop3_retr },
	{ "TOP",	POP3_IN(POP3_TRANS),		0,		pop3_top },
	{ "DELE",	POP3_IN(POP3_TRANS),		0,		pop3_dele },
	{ "NOOP",	POP3_IN(POP3_TRANS),		0,		pop3_noop },
	{ "RSET",	POP3_IN(POP3_TRANS),		0,		pop3_rset },
	{ "UIDL",	POP3_IN(POP3_TRANS),		0,		pop3_uidl },
	{ "QUIT",	AUTH_TRANS,		0,		pop3_quit },
	{ NULL,		~0u,			0,		pop3_unknown },
};

static const char *state_names[POP3_NSTATES] = {
	"authorization", "transaction", "update"
};

int
pop3_ok(struct pop3_session *s, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(s->text, sizeof(s->text), fmt, ap);
	va_end(ap);
	return POP3_CMD_OK;
}

int
pop3_err(struct pop3_session *s, const char *code, const char *fmt, ...)
{
	va_list	ap;
	size_t	n;

	n = (size_t)snprintf(s->text, sizeof(s->text), "%s", code);
	if (n >= sizeof(s->text))
		n = sizeof(s->text) - 1;
	va_start(ap, fmt);
	vsnprintf(s->text + n, sizeof(s->text) - n, fmt, ap);
	va_end(ap);
	return POP3_CMD_ERR;
}

void
pop3_enter_state(struct pop3_session *s, enum pop3_state st)
{
	if (s->state != st)
		log_debug("state %s -> %s", state_names[s->state],
		    state_names[st]);
	s->state = st;
}

bool
pop3_login_allowed(const struct pop3_session *s)
{
	/*
	 * RFC 2595 2.1: no password in clear over the network. Loopback
	 * does not cross one, so local tools work without TLS.
	 */
	return s->tls || s->local || s->cfg->pop3.allow_plaintext_login;
}

const char *
pop3_resp_code(const struct reason *r)
{
	if (strcmp(r->status, PRIV_ST_IN_USE) == 0)
		return RESP_IN_USE;
	if (strcmp(r->status, PRIV_ST_LOGIN_DELAY) == 0)
		return RESP_LOGIN_DELAY;
	return reason_is_temporary(r) ? RESP_SYS_TEMP : RESP_SYS_PERM;
}

static int
pop3_unknown(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	log_info("unknown command %s", cmd->verb);
	return pop3_err(s, "", "unknown command");
}

/* Writes the reply for a handler's result; false: end the session. */
static bool
reply(struct pop3_session *s, int result)
{
	switch (result) {
	case POP3_CMD_OK:
		if (s->text[0] != '\0')
			io_printf(s->io, "+OK %s\r\n", s->text);
		else
			io_puts(s->io, "+OK\r\n");
		return true;
	case POP3_CMD_ERR:
		log_debug("reply -ERR %s", s->text);
		io_printf(s->io, "-ERR %s\r\n", s->text);
		if (++s->errors > (pool_worker_stressed() ?
		    s->cfg->pop3.pool.stress_max_errors :
		    s->cfg->pop3.max_errors)) {
			log_info("too many errors (%d); closing", s->errors);
			io_puts(s->io, "-ERR too many errors, closing the "
			    "connection\r\n");
			return false;
		}
		return true;
	case POP3_CMD_REPLIED:
		return true;
	default:
		return false;
	}
}

/* "client=..." and the counts for the session's last log line. */
static void
log_end(struct pop3_session *s)
{
	struct timespec	now;
	double		secs;

	clock_gettime(CLOCK_MONOTONIC, &now);
	secs = (double)(now.tv_sec - s->start.tv_sec) +
	    (double)(now.tv_nsec - s->start.tv_nsec) / 1e9;
	log_info("disconnect client=%s user=%s method=%s state=%s "
	    "retrieved=%u/%llu deleted=%u/%llu errors=%d time=%.3fs "
	    "in=%llu out=%llu", s->client, s->login[0] ? s->login : "-",
	    s->method ? s->method : "-", state_names[s->state], s->nretr,
	    s->retr_octets, s->ndeleted, s->deleted_octets, s->errors, secs,
	    io_bytes_in(s->io), io_bytes_out(s->io));
}

static void
serve(const struct worker_env *env, struct io *io, int client_fd, int role,
    const struct sockaddr *peer)
{
	const struct config		*cfg = env->cfg;
	struct pop3_session		 s;
	const struct pop3_cmd_def	*def;
	struct pop3_cmd			 cmd;
	struct io_line			 line;
	struct reason			 r;
	enum cmd_read			 rd;
	int				 ms;

	memset(&s, 0, sizeof(s));
	clock_gettime(CLOCK_MONOTONIC, &s.start);
	s.cfg = cfg;
	s.tls_ctx = env->tls_ctx;
	s.io = io;
	s.role = role;
	s.state = POP3_AUTH;
	if (peer != NULL)
		sockaddr_ntop(peer, s.client, sizeof(s.client));
	else
		snprintf(s.client, sizeof(s.client), "local");
	s.local = peer == NULL || sockaddr_is_loopback(peer);
	/* tests: the TLS-or-loopback rule seen from a remote client */
	if (fault_point("pop3.not_loopback") == -1)
		s.local = false;
	ms = cfg->pop3.timeout * 1000;
	if (fault_point("pop3.short_timeout") == -1)
		ms = POP3_TEST_TIMEOUT_MS;
	io_set_timeouts(io, ms, ms);
	io_set_stress(io, pool_worker_stressed,
	    cfg->pop3.pool.stress_timeout * 1000);
	if (worker_session_begin(client_fd, role, peer, &r) != 0) {
		if (role != ROLE_POP3S) {
			io_printf(io, "-ERR [SYS/TEMP] %s\r\n", r.text);
			(void)io_flush(io);
		}
		return;
	}
	if (role == ROLE_POP3S && pop3_tls_begin(&s) == -1)
		goto done;
	if (cfg->pop3.apop_secrets[0] != '\0' &&
	    priv_apop_challenge(s.apop_stamp, sizeof(s.apop_stamp), &r) != 0) {
		log_warnx("no APOP timestamp: %s", r.text);
		s.apop_stamp[0] = '\0';
	}
	io_printf(io, "+OK maild POP3 server ready%s%s\r\n",
	    s.apop_stamp[0] ? " " : "", s.apop_stamp);

	for (;;) {
		rd = cmd_read(io, POP3_AUTH_LINE_MAX, &line);
		if (rd == CMD_READ_TIMEOUT) {
			log_info("autologout: no command for %d s", ms / 1000);
			io_puts(io, "-ERR autologout timer expired, closing "
			    "the connection\r\n");
			break;
		}
		if (rd != CMD_READ_LINE && rd != CMD_READ_TOO_LONG)
			break;		/* EOF or lost: logged */
		s.text[0] = '\0';
		if (rd == CMD_READ_TOO_LONG) {
			if (cmd_skip(io, POP3_SKIP_MAX) == -1 ||
			    !reply(&s, pop3_err(&s, "", "line too long")))
				break;
			continue;
		}
		if (pop3_parse_cmd(line.data, line.len, &cmd, &r) == -1) {
			if (!reply(&s, pop3_err(&s, "", "%s", r.text)))
				break;
			continue;
		}
		def = cmd_lookup(pop3_cmds, sizeof(pop3_cmds[0]), cmd.verb);
		cmd_log(&line, cmd.verb, (def->flags & POP3_CMD_SECRET) != 0);
		if (!(def->states & POP3_IN(s.state))) {
			if (!reply(&s, pop3_err(&s, "", "%s not allowed %s",
			    cmd.verb, s.state == POP3_AUTH ? "before login" :
			    "after login")))
				break;
			continue;
		}
		if (!reply(&s, def->handler(&s, &cmd)))
			break;
	}
	(void)io_flush(io);
done:
	/* no QUIT: RFC 1939 6, nothing is deleted */
	if (s.md != NULL)
		pop3_maildrop_close(&s);
	log_end(&s);
	(void)priv_session_end(&r);
}

void
pop3_session_main(void *arg, struct session_start *st)
{
	const struct worker_env	*env = arg;
	struct io		*io = io_new(st->fd, st->fd);

	serve(env, io, st->fd, (int)st->listener->role,
	    (struct sockaddr *)&st->peer);
	io_free(&io);
#ifdef __GLIBC__
	/*
	 * A big maildrop's table and the readers' buffers are freed by now;
	 * hand the pages back so that an idle worker costs little.
	 */
	(void)malloc_trim(0);
#endif
}

void
pop3_session_inetd(const struct worker_env *env, int rfd, int wfd)
{
	struct sockaddr_storage	 ss;
	struct io		*io = io_new(rfd, wfd);

	serve(env, io, rfd, env->inetd_role, worker_inetd_peer(rfd, &ss));
	io_free(&io);
}
