/*
 * The POP3 session in the unprivileged worker. For now it greets and
 * answers QUIT; the AUTHORIZATION/TRANSACTION/UPDATE states come with
 * the POP3 protocol work.
 */
#include "autoconf.h"

#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "io.h"
#include "bounds.h"
#include "log.h"
#include "pop3_session.h"
#include "priv_client.h"
#include "session_id.h"

static void
serve(const struct worker_env *env, struct io *io, int client_fd, int role,
    const struct sockaddr *peer)
{
	const struct config	*cfg = env->cfg;
	struct reason	r;
	struct io_line	line;
	char		sid[SESSION_ID_MAX + 1];
	int		n;

	session_id_new(sid);
	log_session(sid);
	log_peer(peer, listen_role_name(role));
	if (priv_session_begin(client_fd, sid, role, &r) != 0) {
		io_printf(io, "-ERR [SYS/TEMP] %s\r\n", r.text);
		io_flush(io);
		return;
	}
	io_set_timeouts(io, cfg->pop3.timeout * 1000, cfg->pop3.timeout * 1000);
	io_puts(io, "+OK maild POP3 server ready\r\n");
	while (io_flush(io) == 0) {
		n = io_getline(io, POP3_CMD_LINE_MAX, &line);
		if (n != IO_OK)
			break;
		if (strcasecmp(line.data, "QUIT") == 0) {
			io_puts(io, "+OK bye\r\n");
			io_flush(io);
			break;
		}
		io_puts(io, "-ERR command not implemented\r\n");
	}
	(void)priv_session_end(&r);
}

void
pop3_session_main(void *arg, struct session_start *s)
{
	const struct worker_env	*env = arg;
	struct io		*io = io_new(s->fd, s->fd);

	serve(env, io, s->fd, (int)s->listener->role,
	    (struct sockaddr *)&s->peer);
	io_free(&io);
}

void
pop3_session_inetd(const struct worker_env *env, int rfd, int wfd)
{
	struct io	*io = io_new(rfd, wfd);

	serve(env, io, rfd, ROLE_POP3, NULL);
	io_free(&io);
}
