/*
 * The SMTP commands that do not touch a transaction: NOOP, QUIT, VRFY,
 * EXPN, HELP, the obsolete ones (502) and unknown verbs (500). Runs in
 * the unprivileged worker.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "priv_client.h"
#include "smtp.h"

int
smtp_noop(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	return smtp_reply(s, 250, "2.0.0", "Ok");
}

int
smtp_quit(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	smtp_reply(s, 221, "2.0.0", "%s closing connection", s->cfg->hostname);
	return CMD_CLOSE;
}

/*
 * VRFY: off by default, so that strangers cannot harvest addresses; the
 * answer is then 252 (RFC 5321 3.5.3: "cannot VRFY user, but will accept
 * message and attempt delivery").
 */
int
smtp_vrfy(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct mailaddr	a;
	struct reason	r;
	char		arg[SMTP_PATH_MAX + 1], out[SMTP_PATH_MAX + 1];
	const char	*p = cmd->args;
	size_t		n = cmd->argslen;
	int		rc;

	if (!s->cfg->smtp.vrfy)
		return smtp_reply(s, 252, "2.5.2", "Cannot VRFY user, but will "
		    "accept message and attempt delivery");
	if (n == 0)
		return smtp_reply(s, 501, "5.5.4", "VRFY requires an address");
	/* "<user@domain>", "user@domain", or a bare local part */
	if (n >= 2 && p[0] == '<' && p[n - 1] == '>') {
		p++;
		n -= 2;
	}
	if (n > (size_t)(SMTP_PATH_MAX - SMTP_DOMAIN_MAX - 2))
		return smtp_reply(s, 501, "5.5.4", "address too long");
	if (memchr(p, '@', n) == NULL)
		snprintf(arg, sizeof(arg), "%.*s@%s", (int)n, p,
		    s->cfg->hostname);
	else
		snprintf(arg, sizeof(arg), "%.*s", (int)n, p);
	if (addr_parse_mailbox(arg, strlen(arg), ADDR_ALLOW_POSTMASTER |
	    ((s->ext & SMTP_EXT_SMTPUTF8) ? ADDR_UTF8 : 0), &a, &r) == -1)
		return smtp_reply(s, 501, r.status, "%s", r.text);
	if (addr_format(&a, arg, sizeof(arg)) == -1)
		return smtp_reply(s, 501, "5.1.3", "bad address");
	rc = priv_vrfy(arg, out, sizeof(out), &r);
	if (rc == -1) {
		smtp_reply(s, 421, "4.3.0", "%s", r.text);
		return CMD_CLOSE;
	}
	if (rc == 1)
		return smtp_reply(s, r.status[0] == '4' ? 450 : 550, r.status,
		    "%s", r.text);
	return smtp_reply(s, 250, "2.1.5", "<%s>", out);
}

/* EXPN would list a mailing list's members: never offered. */
int
smtp_expn(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	return smtp_reply(s, 502, "5.5.1", "EXPN not available");
}

int
smtp_help(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	smtp_reply_line(s, 214, false, "2.0.0 This is maild; commands:");
	smtp_reply_line(s, 214, false, "2.0.0   HELO EHLO MAIL RCPT DATA BDAT "
	    "RSET NOOP QUIT VRFY HELP");
	smtp_reply_line(s, 214, true, "2.0.0 End of HELP info");
	return CMD_OK;
}

int
smtp_not_implemented(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	return smtp_reply(s, 502, "5.5.1", "%s not implemented", cmd->verb);
}

int
smtp_unknown(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	log_info("unknown command %s", cmd->verb);
	return smtp_reply(s, 500, "5.5.1", "command not recognized");
}
