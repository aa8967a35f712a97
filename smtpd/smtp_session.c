/*
 * The SMTP session in the unprivileged worker. For now it greets, and
 * answers QUIT; the command table and transaction come with the SMTP
 * protocol work.
 */
#include "autoconf.h"

#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "io.h"
#include "bounds.h"
#include "log.h"
#include "priv_client.h"
#include "session_id.h"
#include "smtp_session.h"

static void
serve(const struct config *cfg, struct io *io, int client_fd, int role,
    const struct sockaddr *peer)
{
	struct reason	r;
	struct io_line	line;
	char		sid[SESSION_ID_MAX + 1];
	int		n;

	session_id_new(sid);
	log_session(sid);
	log_peer(peer, listen_role_name(role));
	if (priv_session_begin(client_fd, sid, role, &r) != 0) {
		io_printf(io, "421 %s %s\r\n", r.status, r.text);
		io_flush(io);
		return;
	}
	io_set_timeouts(io, cfg->smtp.timeout_command * 1000,
	    cfg->smtp.timeout_command * 1000);
	io_printf(io, "220 %s %s\r\n", cfg->hostname, cfg->smtp.banner);
	while (io_flush(io) == 0) {
		n = io_getline(io, SMTP_CMD_LINE_ACCEPT, &line);
		if (n == IO_TIMEOUT) {
			io_printf(io, "421 4.4.2 %s timeout\r\n", cfg->hostname);
			io_flush(io);
			break;
		}
		if (n != IO_OK)
			break;
		if (strcasecmp(line.data, "QUIT") == 0) {
			io_printf(io, "221 2.0.0 %s closing connection\r\n",
			    cfg->hostname);
			io_flush(io);
			break;
		}
		io_puts(io, "502 5.5.1 command not implemented\r\n");
	}
	(void)priv_session_end(&r);
}

void
smtp_session_main(void *arg, struct session_start *s)
{
	const struct config	*cfg = arg;
	struct io		*io = io_new(s->fd, s->fd);

	serve(cfg, io, s->fd, (int)s->listener->role,
	    (struct sockaddr *)&s->peer);
	io_free(&io);
}

void
smtp_session_inetd(const struct config *cfg, int rfd, int wfd)
{
	struct io	*io = io_new(rfd, wfd);

	serve(cfg, io, rfd, ROLE_SMTP, NULL);
	io_free(&io);
}
