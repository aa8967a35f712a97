/*
 * inetd mode (smtpd -i, pop3d -i): inetd gives us the client connection
 * on descriptors 0, 1 and 2. We log to syslog only (stderr is the
 * client), load the configuration, and fork: the child becomes the
 * unprivileged worker serving the session on 0/1, the parent stays root
 * as its monitor, answering with the same handlers the standalone
 * monitors use. The monitor lets go of the connection at once, so the
 * client sees the end of the session when the worker ends it.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "client_table.h"
#include "fdutil.h"
#include "log.h"
#include "priv_inetd.h"
#include "pool_worker.h"
#include "priv.h"
#include "priv_client.h"
#include "privdrop.h"
#include "tls.h"
#include "queue/queue_run.h"
#include "xmalloc.h"
#include "aliases.h"

static void
tell_client(enum priv_proto proto, const char *text)
{
	char	buf[256];
	int	n;

	if (proto == PRIV_PROTO_SMTP)
		n = snprintf(buf, sizeof(buf), "421 4.3.0 %s\r\n", text);
	else
		n = snprintf(buf, sizeof(buf), "-ERR [SYS/TEMP] %s\r\n", text);
	if (write(1, buf, (size_t)n) == -1)
		log_warn("write to client");
}

int
inetd_main(enum priv_proto proto, int role, const char *ident,
    const char *config_path,
    int verbose, void (*session)(const struct worker_env *, int, int))
{
	struct config_errors	 errs = { NULL, 0 };
	struct config		*cfg;
	struct priv		 p;
	struct worker_env	 env;
	struct aliases		*al = NULL;
	char			 err[512];
	uid_t			 uid;
	gid_t			 gid;
	size_t			 i;
	int			 sv[2], nullfd;
	pid_t			 pid;

	/* stderr is the client connection: never write there */
	if ((nullfd = open("/dev/null", O_RDWR)) == -1 || dup2(nullfd, 2) == -1)
		return 1;
	if (nullfd > 2)
		close(nullfd);
	log_init(ident, LOG_MAIL, false);
	log_setverbose(verbose);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);	/* EFBIG, not death: see maild.c */

	if ((cfg = config_load(config_path, &errs)) == NULL) {
		for (i = 0; i < errs.n; i++)
			log_warnx("%s:%d: %s", errs.v[i].file, errs.v[i].line,
			    errs.v[i].reason);
		config_errors_free(&errs);
		tell_client(proto, "configuration error, try again later");
		return 1;
	}
	log_setfacility(cfg->syslog_facility);
	if (cfg->aliases[0] != '\0' && access(cfg->aliases, F_OK) == 0) {
		al = aliases_load(cfg->aliases, &errs);
		for (i = 0; i < errs.n; i++)
			log_warnx("%s:%d: %s", errs.v[i].file, errs.v[i].line,
			    errs.v[i].reason);
		config_errors_free(&errs);
	}
	if (privdrop_lookup(cfg->user, cfg->group, &uid, &gid, err,
	    sizeof(err)) == -1) {
		log_warnx("%s: %s", config_path, err);
		tell_client(proto, "configuration error, try again later");
		return 1;
	}
	/* the key is read now, as root; the worker only inherits the context */
	env.cfg = cfg;
	env.inetd_role = role;
	env.tls_ctx = tls_server_ctx_new(cfg, err, sizeof(err));
	if (env.tls_ctx == NULL && err[0] != '\0') {
		log_warnx("%s: %s", config_path, err);
		tell_client(proto, "configuration error, try again later");
		return 1;
	}
	/* failed logins counted across the sessions inetd starts */
	(void)client_table_open(cfg->state_dir);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("socketpair");
		tell_client(proto, "internal error, try again later");
		return 1;
	}
	switch (pid = fork()) {
	case -1:
		log_warn("fork");
		tell_client(proto, "internal error, try again later");
		return 1;
	case 0:
		close(sv[0]);
		client_table_unmap();
		socket_nodelay(0);
		tzset();
		privdrop(uid, gid, cfg->chroot);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
			fatal("prctl pdeathsig");
		priv_client_init(sv[1]);
		session(&env, 0, 1);
		_exit(0);
	}
	close(sv[1]);
	memset(&p, 0, sizeof(p));
	/* the worker's SESSION_BEGIN must bring this connection */
	(void)priv_set_inetd_client(&p, 0, role);
	/* let go of the client connection: only the worker holds it */
	fd_null_stdio(0);

	p.cfg = cfg;
	p.proto = proto;
	p.sock = sv[0];
	p.worker = pid;
	p.notify_fd = -1;
	p.inetd = true;
	p.aliases = al;
	/* serves, then kills the worker if it was dropped, and reaps it */
	(void)priv_run(&p);
	/* deliver what the session queued; what cannot wait for maild -q */
	for (i = 0; i < p.nqueued; i++) {
		queue_deliver_id(cfg, al, p.queued[i]);
		free(p.queued[i]);
	}
	free(p.queued);
	client_table_unmap();
	aliases_free(&al);
	config_free(&cfg);
	return 0;
}

void
priv_inetd_queued(struct priv *p, const char *qid)
{
	if (p->nqueued >= 1000)
		return;		/* the rest waits for maild -q */
	p->queued = xreallocarray(p->queued, p->nqueued + 1,
	    sizeof(*p->queued));
	p->queued[p->nqueued++] = xstrdup(qid);
}
