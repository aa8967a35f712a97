/*
 * HELO and EHLO (RFC 5321 4.1.1.1) and the ESMTP extensions we offer,
 * in the unprivileged worker. Either command (again) resets any
 * transaction in progress.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "pool_worker.h"
#include "smtp.h"

/*
 * Checks the argument and resets the session to READY. Returns true, or
 * false after replying with the error (*result: SMTP_CMD_OK or SMTP_CMD_CLOSE).
 */
static bool
greet(struct smtp_session *s, const struct smtp_cmd *cmd, bool esmtp,
    int *result)
{
	struct reason	r;
	char		helo[SMTP_DOMAIN_MAX + 1];

	if (cmd->argslen == 0) {
		*result = smtp_reply(s, 501, "5.5.4", "%s requires a domain "
		    "name", esmtp ? "EHLO" : "HELO");
		return false;
	}
	if (addr_parse_domain(cmd->args, cmd->argslen,
	    s->cfg->smtp.smtputf8 ? ADDR_UTF8 : 0, helo, sizeof(helo),
	    &r) == -1) {
		*result = smtp_reply(s, 501, r.status, "%s", r.text);
		return false;
	}
	smtp_txn_reset(s, s->txn != NULL);
	snprintf(s->helo, sizeof(s->helo), "%s", helo);
	s->esmtp = esmtp;
	smtp_enter_state(s, SMTP_READY);
	return true;
}

int
smtp_helo(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	int	result;

	if (!greet(s, cmd, false, &result))
		return result;
	s->ext = 0;
	return smtp_reply(s, 250, NULL, "%s", s->cfg->hostname);
}

int
smtp_ehlo(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	const struct config	*cfg = s->cfg;
	int			 result;

	if (!greet(s, cmd, true, &result))
		return result;
	s->ext = SMTP_EXT_SIZE | SMTP_EXT_8BITMIME;
	smtp_reply_line(s, 250, false, "%s Hello %s [%s]", cfg->hostname,
	    s->helo, s->client[0] ? s->client : "local");
	smtp_reply_line(s, 250, false, "PIPELINING");
	if (cfg->smtp.message_size_limit > 0)
		smtp_reply_line(s, 250, false, "SIZE %lld",
		    cfg->smtp.message_size_limit);
	else
		smtp_reply_line(s, 250, false, "SIZE");
	smtp_reply_line(s, 250, false, "8BITMIME");
	smtp_reply_line(s, 250, false, "ENHANCEDSTATUSCODES");
	/* RFC 3461: NOTIFY, ORCPT, RET, ENVID go into the queue file */
	s->ext |= SMTP_EXT_DSN;
	smtp_reply_line(s, 250, false, "DSN");
	if (cfg->smtp.smtputf8) {
		s->ext |= SMTP_EXT_SMTPUTF8;
		smtp_reply_line(s, 250, false, "SMTPUTF8");
	}
	if (cfg->smtp.chunking)
		smtp_reply_line(s, 250, false, "CHUNKING");
	if (smtp_tls_offered(s) && s->role != ROLE_SMTPS)
		smtp_reply_line(s, 250, false, "STARTTLS");
	if (smtp_auth_offered(s)) {
		s->ext |= SMTP_EXT_AUTH;
		smtp_reply_line(s, 250, false, "AUTH PLAIN LOGIN");
	}
	smtp_reply_line(s, 250, true, "HELP");
	return SMTP_CMD_OK;
}
