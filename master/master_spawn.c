/*
 * What a pool slot's child processes do between fork and their main
 * loops. The master forks the monitor, which keeps root, closes what it
 * must not hold, makes its own process group (so the master can kill a
 * monitor and its worker together) and forks the worker. The worker
 * unmaps the root-only shared table, drops privileges (and chroots),
 * and only then looks at the listening sockets.
 */
#include "autoconf.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client_table.h"
#include "fault.h"
#include "fdutil.h"
#include "log.h"
#include "master.h"
#include "pool_worker.h"
#include "priv.h"
#include "priv_client.h"
#include "privdrop.h"
#include "pop3d/pop3_session.h"
#include "smtpd/smtp_session.h"

static void
reset_signals(void)
{
	struct sigaction	sa;
	sigset_t		none;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static void __attribute__((noreturn))
worker_main(struct master *m, struct pool *pl, int sock, int status_w)
{
	struct pool_worker	w;

	log_setident(pl->name);
	client_table_unmap();
	/* local time and syslog must work inside the chroot */
	tzset();
	privdrop(m->uid, m->gid, m->cfg->chroot);
	/* if our monitor dies, we cannot serve: go with it */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
		fatal("prctl pdeathsig");
	if (getppid() == 1)
		_exit(0);
	prctl(PR_SET_NAME, pl->name, 0, 0, 0);
	if (fault_point("worker.start") == -1)
		fatal("fault point worker.start");
	priv_client_init(sock);

	memset(&w, 0, sizeof(w));
	w.listeners = pl->listeners;
	w.nlisteners = pl->nlisteners;
	w.status_fd = status_w;
	w.life_fd = m->life_r;
	w.max_sessions = pl->cfg.max_sessions_per_worker;
	w.arg = m->cfg;
	w.session = pl->proto == POOL_SMTP ? smtp_session_main :
	    pop3_session_main;
	pool_worker_run(&w);
}

static void __attribute__((noreturn))
monitor_main(struct master *m, struct pool *pl, int status_w)
{
	struct priv	p;
	char		ident[32];
	int		sv[2], status;
	pid_t		pid;
	size_t		i;

	snprintf(ident, sizeof(ident), "%s-priv", pl->name);
	log_setident(ident);
	prctl(PR_SET_NAME, ident, 0, 0, 0);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		fatal("socketpair");
	switch (pid = fork()) {
	case -1:
		fatal("fork worker");
	case 0:
		close(sv[0]);
		if (m->notify_w != -1)
			close(m->notify_w);
		worker_main(m, pl, sv[1], status_w);
	}
	close(sv[1]);
	close(status_w);
	for (i = 0; i < pl->nlisteners; i++)
		close(pl->listeners[i].fd);

	memset(&p, 0, sizeof(p));
	p.cfg = m->cfg;
	p.proto = pl->proto == POOL_SMTP ? PRIV_PROTO_SMTP : PRIV_PROTO_POP3;
	p.sock = sv[0];
	p.worker = pid;
	p.notify_fd = m->notify_w;
	priv_serve(&p);

	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM)
		log_warnx("worker %ld killed by signal %d", (long)pid,
		    WTERMSIG(status));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		log_warnx("worker %ld exited with status %d", (long)pid,
		    WEXITSTATUS(status));
	_exit(0);
}

pid_t
spawn_monitor(struct master *m, struct pool *pl, int status_w)
{
	int	keep[LISTEN_MAX * 5 + 4];
	size_t	n = 0, i;
	pid_t	pid;

	switch (pid = fork()) {
	case -1:
		log_warn("%s: fork", pl->name);
		return -1;
	case 0:
		break;
	default:
		return pid;
	}
	/* the monitor */
	reset_signals();
	keep[n++] = status_w;
	keep[n++] = m->life_r;
	if (m->notify_w != -1)
		keep[n++] = m->notify_w;
	for (i = 0; i < pl->nlisteners && n < sizeof(keep) / sizeof(keep[0]);
	    i++)
		keep[n++] = pl->listeners[i].fd;
	fd_keep_only(keep, n);
	(void)setpgid(0, 0);
	/* the master died: finish the session, then stop */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) == -1)
		fatal("prctl pdeathsig");
	if (getppid() != m->pid)
		_exit(0);
	monitor_main(m, pl, status_w);
}
