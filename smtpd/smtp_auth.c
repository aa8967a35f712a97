/*
 * SMTP AUTH (RFC 4954) with the PLAIN (RFC 4616) and LOGIN mechanisms,
 * in the unprivileged worker. The worker only decodes: the password goes
 * to the monitor, which asks PAM and answers after a fixed delay when it
 * fails. AUTH is offered and accepted only under TLS unless the
 * administrator set smtp.allow_plaintext_auth. Passwords are wiped as
 * soon as the monitor has them. Credentials past the monitor's bounds,
 * and user names that a log line could not carry as one word, are
 * refused here without asking the monitor.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "log.h"
#include "priv_client.h"
#include "priv_proto.h"
#include "smtp.h"

/* The base64 of "Username:" and "Password:" (RFC 4954 leaves it open). */
#define LOGIN_USER_PROMPT	"VXNlcm5hbWU6"
#define LOGIN_PASS_PROMPT	"UGFzc3dvcmQ6"

bool
smtp_auth_offered(const struct smtp_session *s)
{
	return !s->authed && (s->tls || s->cfg->smtp.allow_plaintext_auth);
}

/*
 * Sends a 334 challenge and reads the client's answer, decoded into out.
 * Returns 0, 1 when the client cancelled ("*"), or -1 after replying
 * (*result set).
 */
static int
challenge(struct smtp_session *s, const char *prompt, char *out,
    size_t outsz, size_t *outlen, int *result)
{
	struct io_line	line;
	struct reason	r;
	int		n, code;

	smtp_reply(s, 334, NULL, "%s", prompt);
	if (io_flush(s->io) == -1) {
		*result = SMTP_CMD_CLOSE;
		return -1;
	}
	n = io_getline(s->io, SMTP_AUTH_LINE_MAX, &line);
	if (n != IO_OK) {
		*result = SMTP_CMD_CLOSE;
		return -1;
	}
	if (line.flags & IO_LINE_PARTIAL) {
		explicit_bzero(line.data, line.len);
		/* the rest of the line is no command either */
		if (io_skip_line(s->io, SMTP_SKIP_MAX) != IO_OK) {
			*result = SMTP_CMD_CLOSE;
			return -1;
		}
		*result = smtp_reply(s, 500, "5.5.6", "authentication line "
		    "too long");
		return -1;
	}
	n = smtp_parse_auth_response(line.data, line.len, out, outsz - 1,
	    outlen, &code, &r);
	explicit_bzero(line.data, line.len);
	if (n == 1) {
		*result = smtp_reply(s, 501, "5.0.0", "authentication "
		    "cancelled");
		return 1;
	}
	if (n == -1) {
		*result = smtp_reply(s, code, r.status, "%s", r.text);
		return -1;
	}
	out[*outlen] = '\0';
	return 0;
}

/*
 * A user name the monitor can take and a log line can carry: at most
 * USER_NAME_MAX octets, none of them a space, a control character or
 * DEL (the failed-login line says "user=NAME client=ADDR", and fail2ban
 * reads the client from it: a space in NAME could forge it).
 */
static bool
user_name_ok(const char *u, size_t len)
{
	size_t	i;

	if (len > USER_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] == 0x7f)
			return false;
	return true;
}

/*
 * Checks the credentials against the monitor's bounds (bounds.h) before
 * they go there: a request past them is refused by the monitor as a
 * broken worker's. Returns 0, or -1 after replying (*result).
 */
static int
check_credentials(struct smtp_session *s, const char *mech, const char *u,
    const char *pw, int *result)
{
	if (!user_name_ok(u, strlen(u))) {
		log_info("AUTH %s refused: user name too long or with a space "
		    "or control character", mech);
		*result = smtp_reply(s, 501, "5.5.2", "malformed user name");
		return -1;
	}
	if (strlen(pw) > PASSWORD_MAX) {
		/* it cannot be anyone's password */
		log_info("AUTH %s refused: password longer than %d octets",
		    mech, PASSWORD_MAX);
		*result = smtp_reply(s, 535, "5.7.8", "authentication "
		    "credentials invalid");
		return -1;
	}
	return 0;
}

/* Splits PLAIN's "authzid NUL authcid NUL passwd". */
static bool
plain_split(char *buf, size_t len, const char **user, const char **pass)
{
	char	*a, *b;

	if ((a = memchr(buf, '\0', len)) == NULL)
		return false;
	if ((b = memchr(a + 1, '\0', len - (size_t)(a + 1 - buf))) == NULL)
		return false;
	if (memchr(b + 1, '\0', len - (size_t)(b + 1 - buf)) != NULL)
		return false;
	/* we act for nobody else: an authzid must name the same user */
	if (buf[0] != '\0' && strcmp(buf, a + 1) != 0)
		return false;
	*user = a + 1;
	*pass = b + 1;
	return true;
}

int
smtp_auth(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct smtp_auth_args	 a;
	struct reason		 r;
	char			 buf[SMTP_AUTH_LINE_MAX];
	char			 user[USER_NAME_MAX + 1], canon[USER_NAME_MAX + 1];
	const char		*u = NULL, *pw = NULL;
	size_t			 len = 0;
	uint32_t		 flags = 0;
	int			 code, result = SMTP_CMD_OK, n;

	if (s->authed)
		return smtp_reply(s, 503, "5.5.1", "already authenticated");
	if (s->txn != NULL)
		return smtp_reply(s, 503, "5.5.1", "AUTH not allowed during a "
		    "mail transaction");
	if (!s->esmtp)
		return smtp_reply(s, 503, "5.5.1", "send EHLO first");
	if (!smtp_auth_offered(s))
		return smtp_reply(s, 538, "5.7.11", "encryption required for "
		    "requested authentication mechanism");
	if (smtp_parse_auth(cmd->args, cmd->argslen, &a, &code, &r) == -1)
		return smtp_reply(s, code, r.status, "%s", r.text);

	if (strcmp(a.mech, "PLAIN") == 0) {
		if (a.has_ir) {
			if (base64_decode(a.ir, a.irlen, buf, sizeof(buf) - 1,
			    &len) == -1)
				return smtp_reply(s, 501, "5.5.2", "invalid "
				    "base64");
			buf[len] = '\0';	/* the password ends the buffer */
		} else if ((n = challenge(s, "", buf, sizeof(buf), &len,
		    &result)) != 0)
			goto out;
		if (!plain_split(buf, len, &u, &pw)) {
			result = smtp_reply(s, 501, "5.5.2", "malformed PLAIN "
			    "response");
			goto out;
		}
	} else if (strcmp(a.mech, "LOGIN") == 0) {
		size_t ulen;

		if (a.has_ir) {
			if (base64_decode(a.ir, a.irlen, user, sizeof(user) - 1,
			    &ulen) == -1)
				return smtp_reply(s, 501, "5.5.2", "invalid "
				    "base64");
			user[ulen] = '\0';
		} else if ((n = challenge(s, LOGIN_USER_PROMPT, user,
		    sizeof(user), &ulen, &result)) != 0)
			goto out;
		if (memchr(user, '\0', ulen) != NULL ||
		    !user_name_ok(user, ulen)) {
			/* refused before the password is asked for */
			result = smtp_reply(s, 501, "5.5.2", "malformed user "
			    "name");
			goto out;
		}
		if ((n = challenge(s, LOGIN_PASS_PROMPT, buf, sizeof(buf),
		    &len, &result)) != 0)
			goto out;
		u = user;
		pw = buf;
	} else
		return smtp_reply(s, 504, "5.5.4", "unrecognized "
		    "authentication type");

	if (check_credentials(s, a.mech, u, pw, &result) == -1)
		goto out;
	if (s->tls)
		flags |= PRIV_AUTH_TLS;
	n = priv_auth_user(u, pw, a.mech, flags, canon, sizeof(canon), &r);
	if (n == -1) {
		smtp_reply(s, 421, "4.3.0", "%s %s", s->cfg->hostname, r.text);
		result = SMTP_CMD_CLOSE;
	} else if (n == 1) {
		if (r.status[0] == '4')
			result = smtp_reply(s, 454, "4.7.0", "temporary "
			    "authentication failure");
		else
			result = smtp_reply(s, 535, "5.7.8", "authentication "
			    "credentials invalid");
	} else {
		s->authed = true;
		snprintf(s->auth_mech, sizeof(s->auth_mech), "%s", a.mech);
		snprintf(s->user, sizeof(s->user), "%s", canon);
		result = smtp_reply(s, 235, "2.7.0", "authentication "
		    "successful");
	}
out:
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(user, sizeof(user));
	return result;
}
