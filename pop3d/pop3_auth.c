/*
 * The AUTHORIZATION state (RFC 1939 4, 7) in the unprivileged worker:
 * USER and PASS, APOP, and AUTH PLAIN (RFC 5034, RFC 4616). The worker
 * checks the syntax and the transport; the monitor checks the secret
 * (PAM, or the APOP secrets file) and answers after the same fixed delay
 * whether the user is unknown or the password wrong, so both get the
 * same "-ERR [AUTH]" here (RFC 3206). A password is sent only over TLS
 * or on loopback, unless pop3.allow_plaintext_login says otherwise (RFC
 * 2595 2.1); APOP sends none and is always allowed.
 *
 * After a good login the maildrop is taken (pop3_maildrop.c); if that
 * fails ([IN-USE], [LOGIN-DELAY], [SYS/...]) the session stays in
 * AUTHORIZATION, as RFC 1939 4 asks.
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "io.h"
#include "log.h"
#include "pop3.h"
#include "priv_client.h"
#include "priv_proto.h"

/* An MD5 digest in hex (RFC 1939 7). */
#define APOP_DIGEST_LEN	32

static void	wipe(const char *, size_t);
static int	refuse_plaintext(struct pop3_session *);
static int	login_result(struct pop3_session *, int, const struct reason *,
		    const char *, const char *);
static int	login(struct pop3_session *, const char *, char *, size_t,
		    const char *);
static int	sasl_response(struct pop3_session *, char *, size_t, size_t *);

/* Wipes a secret the client sent, where it still lies in the read buffer. */
static void
wipe(const char *p, size_t len)
{
	explicit_bzero((char *)(uintptr_t)p, len);
}

static int
refuse_plaintext(struct pop3_session *s)
{
	log_info("plaintext login refused client=%s: no TLS", s->client);
	return pop3_err(s, RESP_AUTH, "plaintext login is not allowed "
	    "without TLS%s", s->tls_ctx != NULL ? "; use STLS" : "");
}

/*
 * Turns the monitor's answer to a login into the reply: on success takes
 * the maildrop. rc as priv_auth_user() returns it.
 */
static int
login_result(struct pop3_session *s, int rc, const struct reason *r,
    const char *canon, const char *mech)
{
	if (rc == -1) {
		io_printf(s->io, "-ERR [SYS/TEMP] %s\r\n", r->text);
		return POP3_CMD_CLOSE;
	}
	if (rc == 1) {
		if (reason_is_temporary(r))
			return pop3_err(s, RESP_SYS_TEMP, "temporary "
			    "authentication failure, try again later");
		return pop3_err(s, RESP_AUTH, "authentication failed");
	}
	snprintf(s->login, sizeof(s->login), "%s", canon);
	s->method = mech;
	return pop3_maildrop_open(s);
}

/* Asks the monitor; wipes pass. */
static int
login(struct pop3_session *s, const char *user, char *pass, size_t passsz,
    const char *mech)
{
	struct reason	r;
	char		canon[USER_NAME_MAX + 1];
	uint32_t	flags = 0;
	int		rc;

	if (s->tls)
		flags |= PRIV_AUTH_TLS;
	if (s->local)
		flags |= PRIV_AUTH_LOCAL;
	rc = priv_auth_user(user, pass, mech, flags, canon, sizeof(canon), &r);
	explicit_bzero(pass, passsz);
	return login_result(s, rc, &r, canon, mech);
}

int
pop3_user(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	s->have_user = false;
	if (!pop3_login_allowed(s))
		return refuse_plaintext(s);
	if (cmd->argc != 1 || !pop3_user_name_ok(cmd->argv[0].p,
	    cmd->argv[0].len))
		return pop3_err(s, "", "usage: USER name");
	memcpy(s->user, cmd->argv[0].p, cmd->argv[0].len);
	s->user[cmd->argv[0].len] = '\0';
	s->have_user = true;
	/* the same answer for every name: nothing is told before PASS */
	return pop3_ok(s, "send PASS");
}

int
pop3_pass(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	char	pass[PASSWORD_MAX + 1];
	char	user[USER_NAME_MAX + 1];
	size_t	len = cmd->argslen;

	if (!s->have_user) {
		wipe(cmd->args, cmd->argslen);
		return pop3_err(s, "", "send USER first");
	}
	s->have_user = false;
	memcpy(user, s->user, sizeof(user));
	explicit_bzero(s->user, sizeof(s->user));
	if (!pop3_login_allowed(s)) {
		wipe(cmd->args, cmd->argslen);
		return refuse_plaintext(s);
	}
	/* RFC 1939 7: the whole rest of the line, spaces and all */
	if (len == 0 || len > PASSWORD_MAX) {
		wipe(cmd->args, cmd->argslen);
		log_info("failed login user=%s client=%s method=USER "
		    "reason=\"%s password\"", user, s->client,
		    len == 0 ? "empty" : "over-long");
		return pop3_err(s, RESP_AUTH, "authentication failed");
	}
	memcpy(pass, cmd->args, len);
	pass[len] = '\0';
	wipe(cmd->args, cmd->argslen);
	return login(s, user, pass, sizeof(pass), "USER");
}

int
pop3_apop(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	struct reason	r;
	char		user[USER_NAME_MAX + 1], digest[APOP_DIGEST_LEN + 1];
	char		canon[USER_NAME_MAX + 1];
	size_t		i;
	int		rc;

	s->have_user = false;
	if (s->apop_stamp[0] == '\0')
		return pop3_err(s, "", "APOP is not available");
	if (cmd->argc != 2 || !pop3_user_name_ok(cmd->argv[0].p,
	    cmd->argv[0].len) || cmd->argv[1].len != APOP_DIGEST_LEN)
		return pop3_err(s, "", "usage: APOP name digest");
	for (i = 0; i < APOP_DIGEST_LEN; i++) {
		if (!isxdigit((unsigned char)cmd->argv[1].p[i]))
			return pop3_err(s, "", "usage: APOP name digest");
		digest[i] = (char)tolower((unsigned char)cmd->argv[1].p[i]);
	}
	digest[APOP_DIGEST_LEN] = '\0';
	memcpy(user, cmd->argv[0].p, cmd->argv[0].len);
	user[cmd->argv[0].len] = '\0';
	rc = priv_apop_user(user, digest, canon, sizeof(canon), &r);
	return login_result(s, rc, &r, canon, "APOP");
}

/* Reads the client's SASL response line after "+ "; CMD_* or -1 if got. */
static int
sasl_response(struct pop3_session *s, char *buf, size_t bufsz,
    size_t *len_out)
{
	struct io_line	line;
	size_t		total = 0;
	int		n;
	bool		toolong = false;

	io_puts(s->io, "+ \r\n");
	if (io_flush(s->io) == -1)
		return POP3_CMD_CLOSE;
	for (;;) {
		n = io_getline(s->io, POP3_AUTH_LINE_MAX, &line);
		if (n != IO_OK) {
			log_info("connection lost during AUTH");
			return POP3_CMD_CLOSE;
		}
		if (!(line.flags & IO_LINE_PARTIAL))
			break;
		wipe(line.data, line.len);
		toolong = true;
		/* a line without end: not a SASL client */
		if ((total += line.len) > POP3_SKIP_MAX) {
			log_info("endless SASL response; closing");
			return POP3_CMD_CLOSE;
		}
	}
	if (toolong || line.len >= bufsz) {
		wipe(line.data, line.len);
		return pop3_err(s, "", "SASL response too long");
	}
	memcpy(buf, line.data, line.len);
	buf[line.len] = '\0';
	*len_out = line.len;
	wipe(line.data, line.len);
	return -1;
}

int
pop3_auth(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	char		 resp[POP3_AUTH_LINE_MAX + 1];
	char		 user[USER_NAME_MAX + 1], pass[PASSWORD_MAX + 1];
	struct reason	 r;
	const char	*b64;
	size_t		 len = 0;
	int		 rc;

	s->have_user = false;
	if (cmd->argc == 0) {
		/* the RFC 1734 listing some clients still probe with */
		io_puts(s->io, "+OK SASL mechanisms follow\r\n");
		if (pop3_login_allowed(s))
			io_puts(s->io, "PLAIN\r\n");
		io_puts(s->io, ".\r\n");
		return POP3_CMD_REPLIED;
	}
	if (cmd->argv[0].len != 5 || strncasecmp(cmd->argv[0].p, "PLAIN",
	    5) != 0) {
		wipe(cmd->args, cmd->argslen);
		return pop3_err(s, "", "unsupported authentication mechanism");
	}
	if (!pop3_login_allowed(s)) {
		wipe(cmd->args, cmd->argslen);
		return refuse_plaintext(s);
	}
	if (cmd->argc > 2) {
		wipe(cmd->args, cmd->argslen);
		return pop3_err(s, "", "usage: AUTH PLAIN [initial-response]");
	}
	if (cmd->argc == 2) {
		b64 = cmd->argv[1].p;
		len = cmd->argv[1].len;
	} else {
		if ((rc = sasl_response(s, resp, sizeof(resp), &len)) != -1)
			return rc;
		b64 = resp;
	}
	/* RFC 5034 4: "*" cancels */
	if (len == 1 && b64[0] == '*') {
		wipe(b64, len);
		return pop3_err(s, "", "authentication cancelled");
	}
	rc = pop3_parse_sasl_plain(b64, len, user, sizeof(user), pass,
	    sizeof(pass), &r);
	wipe(b64, len);
	if (rc == -1) {
		log_info("failed login client=%s method=PLAIN reason=\"%s\"",
		    s->client, r.text);
		return pop3_err(s, strcmp(r.status, "5.7.8") == 0 ? RESP_AUTH :
		    "", "%s", r.text);
	}
	return login(s, user, pass, sizeof(pass), "PLAIN");
}
