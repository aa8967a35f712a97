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

#include "io.h"
#include "log.h"
#include "priv_client.h"
#include "smtp.h"
#include "smtp_session.h"
#include "xmalloc.h"

static const struct smtp_cmd_def smtp_cmds[] = {
	/* verb		allowed in			flags	handler */
	{ "HELO",	ANY_STATE,			0,	smtp_helo },
	{ "EHLO",	ANY_STATE,			0,	smtp_ehlo },
	{ "MAIL",	IN(SMTP_READY),			0,	smtp_mail },
	{ "RCPT",	IN(SMTP_MAIL) | IN(SMTP_RCPT),	0,	smtp_rcpt },
	{ "DATA",	IN(SMTP_RCPT),			0,	smtp_data },
	{ "BDAT",	IN(SMTP_RCPT),			0,	smtp_bdat },
	{ "STARTTLS",	IN(SMTP_GREETED) | IN(SMTP_READY), 0,	smtp_starttls },
	{ "AUTH",	IN(SMTP_READY),			CMD_SECRET, smtp_auth },
	{ "RSET",	ANY_STATE,			0,	smtp_rset },
	{ "NOOP",	ANY_STATE,			0,	smtp_noop },
	{ "QUIT",	ANY_STATE,			0,	smtp_quit },
	{ "VRFY",	ANY_STATE,			0,	smtp_vrfy },
	{ "EXPN",	ANY_STATE,			0,	smtp_expn },
	{ "HELP",	ANY_STATE,			0,	smtp_help },
	{ "TURN",	ANY_STATE,			0,	smtp_not_implemented },
	{ "SOML",	ANY_STATE,			0,	smtp_not_implemented },
	{ "SAML",	ANY_STATE,			0,	smtp_not_implemented },
	{ "SEND",	ANY_STATE,			0,	smtp_not_implemented },
	{ NULL,		ANY_STATE,			0,	smtp_unknown },
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
		if (++s->errors > s->cfg->smtp.max_errors) {
			log_info("too many errors (%d); closing", s->errors);
			io_printf(s->io, "421 4.7.0 %s too many errors, "
			    "closing connection\r\n", s->cfg->hostname);
			return CMD_CLOSE;
		}
	}
	return CMD_OK;
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

	if (s->txn != NULL) {
		free(s->txn->chunk);
		xfree(&s->txn);
		if (tell_monitor)
			(void)priv_rset(&r);
	}
	if (s->state == SMTP_MAIL || s->state == SMTP_RCPT)
		smtp_enter_state(s, SMTP_READY);
}

static const struct smtp_cmd_def *
lookup(const char *verb)
{
	const struct smtp_cmd_def	*c;

	for (c = smtp_cmds; c->verb != NULL; c++)
		if (strcmp(c->verb, verb) == 0)
			return c;
	return c;	/* the sentinel: unknown command */
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
	int				 n, code;

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
	io_set_timeouts(io, cfg->smtp.timeout_command * 1000,
	    cfg->smtp.timeout_command * 1000);
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
	io_printf(io, "220 %s %s\r\n", cfg->hostname, cfg->smtp.banner);

	for (;;) {
		/* RFC 2920: answer a pipelined batch in one go */
		if (io_pending(io) == 0 && io_flush(io) == -1) {
			log_info("lost connection: %s", strerror(errno));
			break;
		}
		n = io_getline(io, SMTP_CMD_LINE_ACCEPT, &line);
		if (n == IO_TIMEOUT) {
			log_info("timeout waiting for a command");
			io_printf(io, "421 4.4.2 %s timeout, closing "
			    "connection\r\n", cfg->hostname);
			break;
		}
		if (n == IO_EOF) {
			log_info("client closed the connection without QUIT");
			break;
		}
		if (n != IO_OK) {
			log_info("lost connection: %s", strerror(errno));
			break;
		}
		if (line.flags & IO_LINE_PARTIAL) {
			if (smtp_parse_is_bdat(line.data, line.len)) {
				/* its chunk follows, of a size we cannot know */
				smtp_reply(&s, 500, "5.5.2", "line too long");
				break;
			}
			if (io_skip_line(s.io, SMTP_SKIP_MAX) != IO_OK)
				break;
			if (smtp_reply(&s, 500, "5.5.2", "line too long") ==
			    CMD_CLOSE)
				break;
			continue;
		}
		if (smtp_parse_cmd(line.data, line.len, &cmd, &code, &r) ==
		    -1) {
			if (smtp_reply(&s, code, r.status, "%s", r.text) ==
			    CMD_CLOSE || smtp_parse_is_bdat(line.data, line.len))
				break;	/* a chunk of unknown size follows */
			continue;
		}
		def = lookup(cmd.verb);
		if (def->verb != NULL && (def->flags & CMD_SECRET))
			log_debug("command %s ...", cmd.verb);
		else
			log_debug("command %.*s", (int)line.len, line.data);
		if (!(def->states & IN(s.state))) {
			const char *why = s.state == SMTP_GREETED ?
			    "send HELO or EHLO first" :
			    "bad sequence of commands";

			if (strcmp(cmd.verb, "MAIL") == 0 && s.txn != NULL)
				why = "nested MAIL command";
			else if (strcmp(cmd.verb, "DATA") == 0 ||
			    strcmp(cmd.verb, "BDAT") == 0)
				why = s.state == SMTP_MAIL ?
				    "need RCPT before DATA" :
				    "need MAIL and RCPT before DATA";
			else if (strcmp(cmd.verb, "RCPT") == 0 &&
			    s.state == SMTP_READY)
				why = "need MAIL before RCPT";
			if (strcmp(cmd.verb, "BDAT") == 0) {
				/* the chunk is data, refused or not */
				if (smtp_bdat_refuse(&s, &cmd, 503, "5.5.1",
				    why) == CMD_CLOSE)
					break;
			} else if (smtp_reply(&s, 503, "5.5.1", "%s", why) ==
			    CMD_CLOSE)
				break;
			continue;
		}
		if (def->handler(&s, &cmd) == CMD_CLOSE)
			break;
	}
	(void)io_flush(io);
end:
	smtp_txn_reset(&s, false);
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

	serve(env, io, st->fd, (int)st->listener->role,
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
