/*
 * The relay worker's loop (see relay_worker.h). Runs as root only until
 * relay_engine_new() has read what the chroot hides (CA file, resolver
 * configuration), then as the maild user in the chroot. It trusts the
 * runner: a request that does not decode ends the worker, and the runner
 * counts that as a dead worker.
 */
#include "autoconf.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "fdutil.h"
#include "log.h"
#include "privdrop.h"
#include "xmalloc.h"
#include "relay/relay.h"
#include "relay/relay_ipc.h"
#include "relay/relay_worker.h"

/* How often an idle worker lets the engine close a cached session. */
#define RELAY_WORKER_TICK_MS	1000

void
relay_worker_main(const struct config *cfg, int sock, uid_t uid, gid_t gid)
{
	struct relay_engine	*eng;
	struct relay_ipc_req	*rq;
	struct relay_rcpt_res	*rr;
	struct relay_res	 res;
	struct ipc_msg		*m;
	struct pollfd		 pfd;
	char			 err[256];
	int			 n;

	fd_keep_only(&sock, 1);
	log_setident("maild-relay");
	prctl(PR_SET_NAME, "maild-relay", 0, 0, 0);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	/* the runner died: nobody is left to read our results */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
		fatal("prctl pdeathsig");
	/* local time and syslog must work inside the chroot */
	tzset();
	if ((eng = relay_engine_new(cfg, err, sizeof(err))) == NULL)
		fatalx("relay engine: %s", err);
	privdrop(uid, gid, cfg->chroot);

	m = xmalloc(sizeof(*m));
	rq = xmalloc(sizeof(*rq));
	rr = xcalloc(RELAY_IPC_RCPTS_MAX, sizeof(*rr));
	for (;;) {
		pfd.fd = sock;
		pfd.events = POLLIN;
		if ((n = poll(&pfd, 1, RELAY_WORKER_TICK_MS)) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if (n == 0) {
			relay_engine_idle(eng);
			continue;
		}
		if ((n = ipc_recv(sock, m, true)) == 0)
			break;		/* the runner let us go */
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fatal("relay request");
		}
		if (m->fd == -1 || relay_ipc_get_req(m, rq) == -1)
			fatalx("malformed relay request");
		memset(&res, 0, sizeof(res));
		memset(rr, 0, RELAY_IPC_RCPTS_MAX * sizeof(*rr));
		res.rcpts = rr;
		res.nrcpts = rq->req.nrcpts;
		relay_deliver(eng, &rq->req, &res);
		relay_ipc_req_clear(rq);
		close(m->fd);
		relay_ipc_put_res(m, &res);
		if (ipc_send(sock, m, -1) == -1)
			fatal("sending a relay result");
	}
	relay_engine_free(eng);
	free(rr);
	free(rq);
	free(m);
	_exit(0);
}
