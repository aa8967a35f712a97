/*
 * CAPA (RFC 2449 5): the capabilities of this session, in the state it
 * is in. What cannot be used now is not listed: STLS only before TLS and
 * when TLS is configured (RFC 2595 4), USER and SASL PLAIN only where a
 * password may be sent (pop3_login_allowed()), neither after login. Runs
 * in the unprivileged worker.
 */
#include "autoconf.h"

#include "io.h"
#include "io_tls.h"
#include "pop3.h"

int
pop3_capa(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	const struct config	*cfg = s->cfg;
	struct io		*io = s->io;

	if (cmd->argc != 0)
		return pop3_err(s, "", "CAPA takes no argument");
	io_puts(io, "+OK capability list follows\r\n");
	io_puts(io, "TOP\r\n");
	io_puts(io, "UIDL\r\n");
	io_puts(io, "RESP-CODES\r\n");
	io_puts(io, "AUTH-RESP-CODE\r\n");
	io_puts(io, "PIPELINING\r\n");
	if (cfg->pop3.login_delay > 0)
		io_printf(io, "LOGIN-DELAY %d\r\n", cfg->pop3.login_delay);
	if (cfg->pop3.expire[0] != '\0')
		io_printf(io, "EXPIRE %s\r\n", cfg->pop3.expire);
	if (s->state == POP3_AUTH) {
		if (pop3_login_allowed(s)) {
			io_puts(io, "USER\r\n");
			io_puts(io, "SASL PLAIN\r\n");
		}
		if (s->tls_ctx != NULL && !io_tls_active(io))
			io_puts(io, "STLS\r\n");
	}
	io_puts(io, "IMPLEMENTATION maild\r\n");
	io_puts(io, ".\r\n");
	return POP3_CMD_REPLIED;
}
