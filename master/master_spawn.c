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
#include <sys/mman.h>
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
#include "queue/queue_run.h"
#include "pop3d/pop3_session.h"
#include "smtpd/smtp_session.h"

static void
close_unless_kept(int fd, const int *keep, size_t nkeep)
{
	size_t	i;

	if (fd < 0)
		return;
	for (i = 0; i < nkeep; i++)
		if (keep[i] == fd)
			return;
	close(fd);
}

/*
 * The master's handlers do not belong in a child. hold_term: SIGTERM and
 * SIGINT stay blocked (pending) until the child's own loop installs its
 * handler and unblocks them (priv_serve, pool_worker_run): a monitor the
 * master retires a moment after its worker reported IDLE must not die of
 * the default action, taking with it a worker that may just have
 * accepted a client. The worker inherits the blocked mask across fork.
 */
static void
reset_signals(bool hold_term)
{
	struct sigaction	sa;
	sigset_t		mask;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	if (hold_term) {
		sigaddset(&mask, SIGTERM);
		sigaddset(&mask, SIGINT);
	}
	sigprocmask(SIG_SETMASK, &mask, NULL);
}

/*
 * In a freshly forked root child: closes the master's own descriptors
 * (pid file, signal pipe, other slots' status pipes, listeners) except
 * those in keep. Not a blanket sweep: this process goes on using NSS
 * and PAM, whose modules may hold descriptors of their own.
 */
static void
close_master_fds(struct master *m, const int *keep, size_t nkeep)
{
	const int	fds[] = { m->pidfile_fd, m->sigpipe_r, m->sigpipe_w,
			    m->life_w, m->notify_r, m->notify_w };
	size_t		i, j, p;

	for (i = 0; i < NITEMS(fds); i++)
		close_unless_kept(fds[i], keep, nkeep);
	for (i = 0; i < m->listeners->n; i++)
		close_unless_kept(m->listeners->v[i].fd, keep, nkeep);
	for (p = 0; p < POOL_NPROTO; p++)
		for (j = 0; j < m->pools[p].nslots; j++)
			close_unless_kept(m->pools[p].slots[j].status_fd, keep,
			    nkeep);
}

static void __attribute__((noreturn))
worker_main(struct master *m, struct pool *pl, int sock, int status_w)
{
	struct pool_worker	w;

	/* its IPC socket, status pipe and life pipe, and the listeners */
	int	keep[3 + POOL_LISTENERS_MAX];
	size_t	n = 0, i;

	/* the worker needs neither NSS nor PAM: keep only what it uses */
	keep[n++] = sock;
	keep[n++] = status_w;
	keep[n++] = m->life_r;
	for (i = 0; i < pl->nlisteners && n < NITEMS(keep); i++)
		keep[n++] = pl->listeners[i].fd;
	fd_keep_only(keep, n);
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
	/*
	 * The master's page: read-only here. A worker taken over could
	 * mprotect it writable again and switch stress mode for its pool;
	 * that changes timeouts, nothing a client could not do by keeping
	 * every worker busy.
	 */
	if (mprotect(m->shared, sizeof(*m->shared), PROT_READ) == -1)
		fatal("mprotect shared page");
	if (fault_point("worker.start") == -1)
		fatal("fault point worker.start");
	priv_client_init(sock);

	memset(&w, 0, sizeof(w));
	w.listeners = pl->listeners;
	w.nlisteners = pl->nlisteners;
	w.status_fd = status_w;
	w.life_fd = m->life_r;
	w.max_sessions = pl->cfg.max_sessions_per_worker;
	w.retire_after_login = pl->cfg.retire_after_login;
	w.stress = &m->shared->stress[pl->proto];
	w.arg = &m->env;
	w.session = pl->proto == POOL_SMTP ? smtp_session_main :
	    pop3_session_main;
	pool_worker_run(&w);
}

static void __attribute__((noreturn))
monitor_main(struct master *m, struct pool *pl, int status_w)
{
	struct priv	p;
	char		ident[32];
	int		sv[2];
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
	/*
	 * For the tests: a monitor slow to reach its loop, as on a busy
	 * host, while its worker already reports IDLE and may be retired.
	 */
	if (fault_point("monitor.slow_start") == -1) {
		struct timespec	slow = { 0, 300 * 1000000 };

		(void)nanosleep(&slow, NULL);
	}

	memset(&p, 0, sizeof(p));
	p.cfg = m->cfg;
	p.proto = pl->proto == POOL_SMTP ? PRIV_PROTO_SMTP : PRIV_PROTO_POP3;
	p.sock = sv[0];
	p.worker = pid;
	p.notify_fd = m->notify_w;
	p.aliases = m->aliases;
	/* what SESSION_BEGIN checks a client's connection against */
	(void)priv_set_listeners(&p, pl->listeners, pl->nlisteners);
	for (i = 0; i < pl->nlisteners; i++)
		close(pl->listeners[i].fd);
	/* serves, then kills the worker if it was dropped, and reaps it */
	(void)priv_run(&p);
	_exit(0);
}

pid_t
spawn_monitor(struct master *m, struct pool *pl, int status_r, int status_w)
{
	/* status pipe, life pipe, notify pipe, and the pool's listeners */
	int	keep[3 + POOL_LISTENERS_MAX];
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
	reset_signals(true);
	keep[n++] = status_w;
	keep[n++] = m->life_r;
	if (m->notify_w != -1)
		keep[n++] = m->notify_w;
	for (i = 0; i < pl->nlisteners && n < NITEMS(keep); i++)
		keep[n++] = pl->listeners[i].fd;
	close_master_fds(m, keep, n);
	close(status_r);	/* the master's end of our own status pipe */
	(void)setpgid(0, 0);
	/* the master died: finish the session, then stop */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) == -1)
		fatal("prctl pdeathsig");
	if (getppid() != m->pid)
		_exit(0);
	monitor_main(m, pl, status_w);
}

pid_t
spawn_runner(struct master *m)
{
	int	keep[2];	/* the notify and life pipes */
	pid_t	pid;

	switch (pid = fork()) {
	case -1:
		log_warn("fork queue runner");
		return 0;
	case 0:
		break;
	default:
		return pid;
	}
	reset_signals(false);
	keep[0] = m->notify_r;
	keep[1] = m->life_r;
	close_master_fds(m, keep, NITEMS(keep));
	log_setident("maild-queue");
	prctl(PR_SET_NAME, "maild-queue", 0, 0, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) == -1)
		fatal("prctl pdeathsig");
	if (getppid() != m->pid)
		_exit(0);
	queue_runner(m->cfg, m->aliases, m->notify_r, m->life_r);
	_exit(0);
}
