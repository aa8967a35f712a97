/*
 * The SMTP commands that do not touch a transaction: NOOP, QUIT, VRFY,
 * EXPN, HELP, the obsolete ones (502) and unknown verbs (500). Runs in
 * the unprivileged worker.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "ipc.h"
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
	return SMTP_CMD_CLOSE;
}

/*
 * Parses the argument of VRFY/EXPN: "<user@domain>", "user@domain" or a
 * bare local part (taken to be in the first of local_domains). Returns 0 with the address in
 * canonical text, or -1 after replying (*result).
 */
static int
lookup_arg(struct smtp_session *s, const struct smtp_cmd *cmd, char *arg,
    size_t argsz, int *result)
{
	struct mailaddr	a;
	struct reason	r;
	const char	*p = cmd->args;
	size_t		n = cmd->argslen;
	int		len;

	if (n == 0) {
		*result = smtp_reply(s, 501, "5.5.4", "%s requires an address",
		    cmd->verb);
		return -1;
	}
	if (n >= 2 && p[0] == '<' && p[n - 1] == '>') {
		p++;
		n -= 2;
	}
	/* the address as the monitor will see it: at most a path's length */
	if (n > ADDR_TEXT_MAX) {
		*result = smtp_reply(s, 501, "5.5.4", "address too long");
		return -1;
	}
	if (memchr(p, '@', n) == NULL)
		/* a bare local part: one of ours, in our first local domain */
		len = snprintf(arg, argsz, "%.*s@%s", (int)n, p,
		    s->cfg->local_domains.n > 0 ? s->cfg->local_domains.v[0] :
		    s->cfg->hostname);
	else
		len = snprintf(arg, argsz, "%.*s", (int)n, p);
	if (len < 0 || (size_t)len >= argsz || (size_t)len > ADDR_TEXT_MAX) {
		*result = smtp_reply(s, 501, "5.5.4", "address too long");
		return -1;
	}
	if (addr_parse_mailbox(arg, strlen(arg), ADDR_ALLOW_POSTMASTER |
	    ((s->ext & SMTP_EXT_SMTPUTF8) ? ADDR_UTF8 : 0), &a, &r) == -1) {
		*result = smtp_reply(s, 501, r.status, "%s", r.text);
		return -1;
	}
	if (addr_format(&a, arg, argsz) == -1) {
		*result = smtp_reply(s, 501, "5.1.3", "bad address");
		return -1;
	}
	return 0;
}

/*
 * VRFY and EXPN: both off by default, so that strangers cannot harvest
 * addresses. VRFY then answers 252 (RFC 5321 3.5.3: "cannot VRFY user,
 * but will accept message and attempt delivery"), EXPN 502.
 */
static int
lookup(struct smtp_session *s, const struct smtp_cmd *cmd, bool expand)
{
	struct reason	 r;
	char		 arg[SMTP_PATH_MAX + 1], out[IPC_STR_MAX + 1];
	char		*line, *save = NULL, *next;
	int		 rc, result;

	if (!expand && !s->cfg->smtp.vrfy)
		return smtp_reply(s, 252, "2.5.2", "Cannot VRFY user, but will "
		    "accept message and attempt delivery");
	if (expand && !s->cfg->smtp.expn)
		return smtp_reply(s, 502, "5.5.1", "EXPN not available");
	if (lookup_arg(s, cmd, arg, sizeof(arg), &result) == -1)
		return result;
	rc = priv_vrfy(arg, expand, out, sizeof(out), &r);
	if (rc == -1) {
		smtp_reply(s, 421, "4.3.0", "%s", r.text);
		return SMTP_CMD_CLOSE;
	}
	if (rc == 1)
		return smtp_reply(s, r.status[0] == '4' ? 450 : 550, r.status,
		    "%s", r.text);
	if (out[0] == '\0')
		return smtp_reply(s, 250, "2.1.5", "<%s>", arg);
	/* one line per target: "250-2.1.5 <target>" ... "250 2.1.5 <last>" */
	for (line = strtok_r(out, "\n", &save); line != NULL; line = next) {
		next = strtok_r(NULL, "\n", &save);
		smtp_reply_line(s, 250, next == NULL, "2.1.5 <%s>", line);
	}
	return SMTP_CMD_OK;
}

int
smtp_vrfy(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	return lookup(s, cmd, false);
}

int
smtp_expn(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	return lookup(s, cmd, true);
}

int
smtp_help(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	smtp_reply_line(s, 214, false, "2.0.0 This is maild; commands:");
	smtp_reply_line(s, 214, false, "2.0.0   HELO EHLO STARTTLS AUTH MAIL "
	    "RCPT DATA BDAT RSET NOOP QUIT VRFY EXPN HELP");
	smtp_reply_line(s, 214, true, "2.0.0 End of HELP info");
	return SMTP_CMD_OK;
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
