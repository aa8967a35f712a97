/*
 * TLS for SMTP, in the unprivileged worker: STARTTLS (RFC 3207) and
 * implicit TLS on the smtps port (RFC 8314). After STARTTLS all state
 * goes: the HELO name, any transaction, any authentication, and every
 * byte of client input read before the handshake (plaintext pipelined
 * behind STARTTLS is never executed inside TLS: the CVE-2011-0411
 * class). The session starts again from before EHLO.
 *
 * STARTTLS after a successful AUTH (possible only where plaintext AUTH
 * is allowed) is refused with 503 rather than honoured: honouring it
 * would mean forgetting the login here and in the monitor, which keeps
 * it for relaying and the queue file's "A" line, while the client
 * gains nothing it could not have had by starting TLS first.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "smtp.h"

bool
smtp_tls_offered(const struct smtp_session *s)
{
	return s->tls_ctx != NULL && !s->tls && !s->authed;
}

int
smtp_tls_handshake(struct smtp_session *s)
{
	char	err[256];
	size_t	dropped;

	if (io_tls_start(s->io, s->tls_ctx, &dropped, err, sizeof(err)) ==
	    -1) {
		log_info("TLS handshake failed: %s", err);
		return -1;
	}
	if (dropped > 0)
		log_warnx("discarded %zu bytes of plaintext sent before the "
		    "TLS handshake", dropped);
	s->tls = true;
	log_info("TLS %s cipher=%s bits=%d", io_tls_version(s->io),
	    io_tls_cipher(s->io), io_tls_bits(s->io));
	return 0;
}

int
smtp_starttls(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	if (cmd->argslen != 0)
		return smtp_reply(s, 501, "5.5.4", "STARTTLS takes no "
		    "arguments");
	if (s->tls)
		return smtp_reply(s, 503, "5.5.1", "TLS already active");
	if (s->authed)
		/* see the top of the file */
		return smtp_reply(s, 503, "5.5.1", "STARTTLS not allowed "
		    "after AUTH");
	if (s->tls_ctx == NULL)
		return smtp_reply(s, 454, "4.7.0", "TLS not available");
	smtp_reply(s, 220, "2.0.0", "Ready to start TLS");
	if (io_flush(s->io) == -1)
		return SMTP_CMD_CLOSE;
	if (smtp_tls_handshake(s) == -1)
		return SMTP_CMD_CLOSE;
	/* RFC 3207 4.2: forget everything learned before */
	smtp_txn_reset(s, s->txn != NULL);
	s->helo[0] = '\0';
	s->esmtp = false;
	s->ext = 0;
	smtp_enter_state(s, SMTP_GREETED);
	return SMTP_CMD_OK;
}
