/*
 * TLS for POP3 in the unprivileged worker: STLS (RFC 2595 4) in the
 * AUTHORIZATION state, and implicit TLS on the pop3s port (RFC 8314),
 * where the handshake comes before the greeting. The server context was
 * built by the master (the key never reaches the worker's own reads).
 *
 * Injection defence: whatever the client pipelined after STLS was sent
 * in clear and is thrown away (io_tls_start() does it; we log how much),
 * and so is anything learnt before TLS (a USER name).
 */
#include "autoconf.h"

#include <string.h>

#include "io.h"
#include "io_tls.h"
#include "log.h"
#include "pop3.h"

static int	handshake(struct pop3_session *);

/* Runs the handshake; 0, or -1 (logged: the connection is unusable). */
static int
handshake(struct pop3_session *s)
{
	char	err[256];
	size_t	dropped = 0;

	if (io_tls_start(s->io, s->tls_ctx, &dropped, err, sizeof(err)) ==
	    -1) {
		log_info("TLS handshake failed client=%s: %s", s->client, err);
		return -1;
	}
	if (dropped > 0)
		log_warnx("discarded %zu bytes of plaintext pipelined after "
		    "STLS client=%s", dropped, s->client);
	s->tls = true;
	log_info("TLS established %s %s (%d bits)", io_tls_version(s->io),
	    io_tls_cipher(s->io), io_tls_bits(s->io));
	return 0;
}

int
pop3_tls_begin(struct pop3_session *s)
{
	if (s->tls_ctx == NULL) {
		log_warnx("pop3s connection, but TLS is not configured "
		    "(tls.certificate)");
		return -1;
	}
	return handshake(s);
}

int
pop3_stls(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	if (cmd->argc != 0)
		return pop3_err(s, "", "STLS takes no argument");
	if (io_tls_active(s->io))
		return pop3_err(s, "", "TLS is already active");
	if (s->tls_ctx == NULL)
		return pop3_err(s, "", "STLS is not available");
	io_puts(s->io, "+OK begin TLS negotiation\r\n");
	if (io_flush(s->io) == -1) {
		log_info("lost connection before TLS");
		return POP3_CMD_CLOSE;
	}
	if (handshake(s) == -1)
		return POP3_CMD_CLOSE;
	/* RFC 2595 4: forget what the client said in clear */
	explicit_bzero(s->user, sizeof(s->user));
	s->have_user = false;
	return POP3_CMD_REPLIED;
}
