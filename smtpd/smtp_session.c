/*
 * The SMTP session in the unprivileged worker (RFC 5321): greeting,
 * the command loop, the command table and the state machine. A command
 * is read, split (smtp_parse.c), looked up in the table, checked
 * against the state (503 when out of order) and handed to its handler.
 * A BDAT command is followed by its chunk whatever the reply: a refused
 * one's chunk is read and thrown away, and one whose size cannot be
 * read ends the session, so that no chunk octet is taken for a command.
 * Replies are flushed only when no more client input is buffered
 * (RFC 2920 PIPELINING: a whole batch in one packet gets its replies in
 * one packet too). Too many errors end the session with 421, as does
 * the command timeout.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cmd_loop.h"
#include "io.h"
#include "log.h"
#include "priv_client.h"
#include "smtp.h"
#include "smtp_milter.h"
#include "smtp_session.h"
#include "xmalloc.h"

CMD_ROW_CHECK(struct smtp_cmd_def);

#define NEED_RCPT	"need RCPT before DATA"
#define NEED_MAIL_RCPT	"need MAIL and RCPT before DATA"

static const struct smtp_cmd_def smtp_cmds[] = {
	/* verb, allowed in, flags, handler, why refused: no txn / in a txn */
	{ "HELO", SMTP_ANY_STATE, 0, smtp_helo, NULL, NULL },
	{ "EHLO", SMTP_ANY_STATE, 0, smtp_ehlo, NULL, NULL },
	{ "MAIL", SMTP_IN(SMTP_READY), 0, smtp_mail,
	    NULL, "nested MAIL command" },
	{ "RCPT", SMTP_IN(SMTP_MAIL) | SMTP_IN(SMTP_RCPT), 0, smtp_rcpt,
	    "need MAIL before RCPT", NULL },
	{ "DATA", SMTP_IN(SMTP_RCPT), 0, smtp_data,
	    NEED_MAIL_RCPT, NEED_RCPT },
	{ "BDAT", SMTP_IN(SMTP_RCPT), SMTP_CMD_CHUNK, smtp_bdat,
	    NEED_MAIL_RCPT, NEED_RCPT },
	{ "STARTTLS", SMTP_IN(SMTP_GREETED) | SMTP_IN(SMTP_READY), 0,
	    smtp_starttls, NULL, NULL },
	{ "AUTH", SMTP_IN(SMTP_READY), SMTP_CMD_SECRET, smtp_auth,
	    NULL, NULL },
	{ "RSET", SMTP_ANY_STATE, 0, smtp_rset, NULL, NULL },
	{ "NOOP", SMTP_ANY_STATE, 0, smtp_noop, NULL, NULL },
	{ "QUIT", SMTP_ANY_STATE, 0, smtp_quit, NULL, NULL },
	{ "VRFY", SMTP_ANY_STATE, 0, smtp_vrfy, NULL, NULL },
	{ "EXPN", SMTP_ANY_STATE, 0, smtp_expn, NULL, NULL },
	{ "HELP", SMTP_ANY_STATE, 0, smtp_help, NULL, NULL },
	{ "TURN", SMTP_ANY_STATE, 0, smtp_not_implemented, NULL, NULL },
	{ "SOML", SMTP_ANY_STATE, 0, smtp_not_implemented, NULL, NULL },
	{ "SAML", SMTP_ANY_STATE, 0, smtp_not_implemented, NULL, NULL },
	{ "SEND", SMTP_ANY_STATE, 0, smtp_not_implemented, NULL, NULL },
	{ NULL, SMTP_ANY_STATE, 0, smtp_unknown, NULL, NULL },
};

static const char *state_names[SMTP_NSTATES] = {
	"greeted", "ready", "mail", "rcpt"
};

static int
vreply(struct smtp_session *s, int code, const char *status, bool last,
    const char *fmt, va_list ap)
{
	char	text[512];

	vsnprintf(text, sizeof(text), fmt, ap);
	if (status != NULL && *status != '\0')
		io_printf(s->io, "%d%c%s %s\r\n", code, last ? ' ' : '-',
		    status, text);
	else
		io_printf(s->io, "%d%c%s\r\n", code, last ? ' ' : '-', text);
	if (code >= 400 && last) {
		log_debug("reply %d %s %s", code, status ? status : "", text);
		if (++s->errors > (pool_worker_stressed() ?
		    s->cfg->smtp.pool.stress_max_errors :
		    s->cfg->smtp.max_errors)) {
			log_info("too many errors (%d); closing", s->errors);
			io_printf(s->io, "421 4.7.0 %s too many errors, "
			    "closing connection\r\n", s->cfg->hostname);
			return SMTP_CMD_CLOSE;
		}
	}
	return SMTP_CMD_OK;
}

int
smtp_reply(struct smtp_session *s, int code, const char *status,
    const char *fmt, ...)
{
	va_list	ap;
	int	r;

	va_start(ap, fmt);
	r = vreply(s, code, status, true, fmt, ap);
	va_end(ap);
	return r;
}

void
smtp_reply_line(struct smtp_session *s, int code, bool last, const char *fmt,
    ...)
{
	va_list	ap;

	va_start(ap, fmt);
	(void)vreply(s, code, NULL, last, fmt, ap);
	va_end(ap);
}

void
smtp_enter_state(struct smtp_session *s, enum smtp_state st)
{
	if (s->state != st)
		log_debug("state %s -> %s", state_names[s->state],
		    state_names[st]);
	s->state = st;
}

void
smtp_txn_reset(struct smtp_session *s, bool tell_monitor)
{
	struct reason	r;

	smtp_milter_reset(s);
	if (s->txn != NULL) {
		free(s->txn->chunk);
		smtp_hdr_free(&s->txn->hdr);
		xfree(&s->txn);
		if (tell_monitor)
			(void)priv_rset(&r);
	}
	if (s->state == SMTP_MAIL || s->state == SMTP_RCPT)
		smtp_enter_state(s, SMTP_READY);
}

/* 503 for a command out of state, with the table's reason. */
static int
refuse(struct smtp_session *s, const struct smtp_cmd_def *def,
    const struct smtp_cmd *cmd)
{
	const char	*why;

	if (s->state == SMTP_GREETED)
		why = "send HELO or EHLO first";
	else
		why = s->state == SMTP_READY ? def->why_no_txn :
		    def->why_in_txn;
	if (why == NULL)
		why = "bad sequence of commands";
	/* a refused chunk is still data, never commands (RFC 3030 2) */
	if (def->flags & SMTP_CMD_CHUNK)
		return smtp_bdat_refuse(s, cmd, 503, "5.5.1", why);
	return smtp_reply(s, 503, "5.5.1", "%s", why);
}

static void
serve(const struct worker_env *env, struct io *io, int client_fd, int role,
    const struct sockaddr *peer)
{
	const struct config		*cfg = env->cfg;
	struct smtp_session		 s;
	const struct smtp_cmd_def	*def;
	struct smtp_cmd			 cmd;
	struct io_line			 line;
	struct reason			 r;
	enum cmd_read			 rd;
	int				 code;

	memset(&s, 0, sizeof(s));
	s.cfg = cfg;
	s.tls_ctx = env->tls_ctx;
	s.io = io;
	s.role = role;
	if (worker_session_begin(client_fd, role, peer, &r) != 0) {
		io_printf(io, "421 %s %s %s\r\n", r.status, cfg->hostname,
		    r.text);
		io_flush(io);
		return;
	}
	if (peer != NULL)
		sockaddr_ntop(peer, s.client, sizeof(s.client));
	s.local_uid = -1;
	if (role == ROLE_LOCAL) {
		const char	*user, *fullname;

		/* the monitor asked the kernel who this is (priv_local.c) */
		priv_client_identity(&user, &fullname, &s.local_uid);
		s.authed = true;
		snprintf(s.user, sizeof(s.user), "%s", user);
		snprintf(s.client, sizeof(s.client), "local");
	}
	io_set_timeouts(io, cfg->smtp.timeout_command * 1000,
	    cfg->smtp.timeout_command * 1000);
	/* a full pool: shorter waits (pool_worker.h) */
	io_set_stress(io, pool_worker_stressed,
	    cfg->smtp.pool.stress_timeout * 1000);
	if (role == ROLE_SMTPS) {
		/* RFC 8314: TLS from the first byte */
		if (s.tls_ctx == NULL) {
			log_warnx("smtps connection but TLS is not configured");
			goto end;
		}
		if (smtp_tls_handshake(&s) == -1)
			goto end;
	}
	s.state = SMTP_GREETED;
	if (!cfg->smtp.helo_required) {
		snprintf(s.helo, sizeof(s.helo), "unknown");
		s.state = SMTP_READY;
	}
	smtp_milter_begin(&s);
	io_printf(io, "220 %s %s\r\n", cfg->hostname, cfg->smtp.banner);

	for (;;) {
		rd = cmd_read(io, SMTP_CMD_LINE_ACCEPT, &line);
		if (rd == CMD_READ_TIMEOUT) {
			log_info("timeout waiting for a command");
			io_printf(io, "421 4.4.2 %s timeout, closing "
			    "connection\r\n", cfg->hostname);
			break;
		}
		if (rd != CMD_READ_LINE && rd != CMD_READ_TOO_LONG)
			break;		/* EOF or lost: logged */
		if (rd == CMD_READ_TOO_LONG) {
			if (smtp_parse_is_bdat(line.data, line.len)) {
				/* its chunk follows, of a size we cannot know */
				smtp_reply(&s, 500, "5.5.2", "line too long");
				break;
			}
			if (cmd_skip(io, SMTP_SKIP_MAX) == -1 ||
			    smtp_reply(&s, 500, "5.5.2", "line too long") ==
			    SMTP_CMD_CLOSE)
				break;
			continue;
		}
		if (smtp_parse_cmd(line.data, line.len, &cmd, &code, &r) ==
		    -1) {
			if (smtp_reply(&s, code, r.status, "%s", r.text) ==
			    SMTP_CMD_CLOSE || smtp_parse_is_bdat(line.data,
			    line.len))
				break;	/* a chunk of unknown size follows */
			continue;
		}
		def = cmd_lookup(smtp_cmds, sizeof(smtp_cmds[0]), cmd.verb);
		cmd_log(&line, cmd.verb, (def->flags & SMTP_CMD_SECRET) != 0);
		if (!(def->states & SMTP_IN(s.state))) {
			if (refuse(&s, def, &cmd) == SMTP_CMD_CLOSE)
				break;
			continue;
		}
		if (def->handler(&s, &cmd) == SMTP_CMD_CLOSE)
			break;
	}
	(void)io_flush(io);
end:
	smtp_txn_reset(&s, false);
	smtp_milter_end(&s);
	log_info("disconnect client=%s helo=%s tls=%s user=%s messages=%u "
	    "recipients=%u errors=%d in=%llu out=%llu",
	    s.client[0] ? s.client : "local", s.helo[0] ? s.helo : "-",
	    s.tls ? "yes" : "no", s.authed ? s.user : "-", s.nmsgs,
	    s.nrcpts_total, s.errors, io_bytes_in(io), io_bytes_out(io));
	(void)priv_session_end(&r);
}

void
smtp_session_main(void *arg, struct session_start *st)
{
	const struct worker_env	*env = arg;
	struct io		*io = io_new(st->fd, st->fd);

	/* a UNIX socket's peer has no address: "local" (submit.socket) */
	serve(env, io, st->fd, (int)st->listener->role,
	    st->peer.ss_family == AF_UNIX ? NULL :
	    (struct sockaddr *)&st->peer);
	io_free(&io);
}

void
smtp_session_inetd(const struct worker_env *env, int rfd, int wfd)
{
	struct sockaddr_storage	 ss;
	struct io		*io = io_new(rfd, wfd);

	serve(env, io, rfd, env->inetd_role, worker_inetd_peer(rfd, &ss));
	io_free(&io);
}
