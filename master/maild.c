/*
 * maild: the master process (root). Reads and checks the configuration,
 * binds the listeners, holds the pid file lock, and supervises the
 * children: per protocol a pool of monitor/worker pairs (master_pool.c,
 * master_spawn.c) and the queue runner. It never reads a byte from the
 * network. Signals: SIGHUP reloads (a broken config is logged with its
 * FILE:LINE and the running one stays), SIGTERM/SIGINT stop accepting,
 * let sessions finish for shutdown_grace seconds, then kill what is
 * left.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#ifdef HAVE_MALLOC_H
#include <malloc.h>
#endif
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "aliases.h"
#include "client_table.h"
#include "fdutil.h"
#include "log.h"
#include "master.h"
#include "privdrop.h"
#include "tls.h"
#include "queue/pickup.h"
#include "queue/queue_admin.h"
#include "queue/queue_file.h"
#include "queue/queue_run.h"
#include "xmalloc.h"

static int			sigpipe_w = -1;
static volatile sig_atomic_t	got_hup, got_term, got_chld;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: maild [-dfv] [-c file]     run the mail system\n"
	    "       maild -t [-c file]         check the configuration\n"
	    "       maild -q [-c file]         deliver the queued mail now\n"
	    "       maild -l [-c file]         list the queue\n"
	    "       maild [-c file] queue list|show|delete|hold|release|"
	    "requeue|summary ...\n"
	    "                                  administer the queue "
	    "(maild queue: more)\n"
	    "       maild -n [-a] [-c file]    print the settings that differ "
	    "from the defaults (-a: all)\n");
	exit(2);
}

static void
on_signal(int sig)
{
	int	saved = errno;
	char	c = (char)sig;

	switch (sig) {
	case SIGHUP:
		got_hup = 1;
		break;
	case SIGCHLD:
		got_chld = 1;
		break;
	default:
		got_term = 1;
		break;
	}
	/* a full pipe already holds a wake-up; losing this byte is fine */
	if (sigpipe_w != -1 && write(sigpipe_w, &c, 1) == -1)
		c = 0;
	errno = saved;
}

/*
 * The master holds a status pipe for every worker of both pools (up to
 * 2 x POOL_WORKERS_CEILING) and accepts to refuse when a pool is full:
 * a soft limit of 1024 descriptors is not enough. Up to the hard limit.
 */
static void
raise_nofile(void)
{
	struct rlimit	rl;

	rlim_t		want;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	want = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
	if (rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("raising the descriptor limit");
}

static void
signals_init(struct master *m)
{
	struct sigaction	sa;
	int			p[2];

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal("pipe");
	m->sigpipe_r = p[0];
	m->sigpipe_w = sigpipe_w = p[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Past a file size limit (RLIMIT_FSIZE), a write fails with EFBIG
	 * instead of killing the process: the queue writer answers 452
	 * 4.3.1 and delivery defers, as when the disk is full. Every child
	 * inherits this.
	 */
	signal(SIGXFSZ, SIG_IGN);
}

/* Loads path; on failure prints every problem to the log and returns NULL. */
static struct config *
load(const char *path, bool to_stderr)
{
	struct config_errors	 errs = { NULL, 0 };
	struct config		*cfg;
	size_t			 i;

	if ((cfg = config_load(path, &errs)) != NULL)
		return cfg;
	if (to_stderr)
		config_errors_print(stderr, &errs);
	else
		for (i = 0; i < errs.n; i++) {
			if (errs.v[i].line > 0)
				log_warnx("%s:%d: %s", errs.v[i].file,
				    errs.v[i].line, errs.v[i].reason);
			else
				log_warnx("%s: %s", errs.v[i].file,
				    errs.v[i].reason);
		}
	config_errors_free(&errs);
	return NULL;
}

/*
 * Takes the pid file lock (flock: it stays with the open file across the
 * daemon fork). Exits with a message if another master holds it.
 */
static int
pidfile_lock(const char *path)
{
	char	buf[32];
	ssize_t	n;
	int	fd;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd == -1)
		fatal("pid file %s", path);
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK)
			fatal("lock pid file %s", path);
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		fatalx("another maild is already running (pid %s, pid file "
		    "%s)", buf[0] ? buf : "unknown", path);
	}
	return fd;
}

static void
pidfile_write(int fd, pid_t pid)
{
	char	buf[32];
	int	n;

	n = snprintf(buf, sizeof(buf), "%ld\n", (long)pid);
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n)
		fatal("write pid file");
}

static void
daemonize(void)
{
	switch (fork()) {
	case -1:
		fatal("fork");
	case 0:
		break;
	default:
		_exit(0);
	}
	if (setsid() == -1)
		fatal("setsid");
	if (chdir("/") == -1)
		fatal("chdir /");
	fd_null_stdio(0);
}

/* SIGHUP: a new config, or keep the old one and say why. */
static void
reload(struct master *m)
{
	struct config		*cfg;
	struct listen_set	*ls;
	SSL_CTX			*tls;
	char			 err[512];
	uid_t			 uid;
	gid_t			 gid;
	int			 p;

	log_info("reloading %s", m->config_path);
	if ((cfg = load(m->config_path, false)) == NULL) {
		log_warnx("reload failed; still running the previous "
		    "configuration");
		return;
	}
	if (privdrop_lookup(cfg->user, cfg->group, &uid, &gid, err,
	    sizeof(err)) == -1) {
		log_warnx("%s: %s; still running the previous configuration",
		    cfg->path, err);
		config_free(&cfg);
		return;
	}
	tls = tls_server_ctx_new(cfg, err, sizeof(err));
	if (tls == NULL && err[0] != '\0') {
		log_warnx("%s: %s; still running the previous configuration",
		    cfg->path, err);
		config_free(&cfg);
		return;
	}
	ls = xcalloc(1, sizeof(*ls));
	if (listen_set_bind(cfg, m->listeners, ls, err, sizeof(err)) == -1) {
		log_warnx("%s; still running the previous configuration", err);
		free(ls);
		SSL_CTX_free(tls);
		config_free(&cfg);
		return;
	}
	listen_set_close(m->listeners);
	free(m->listeners);
	m->listeners = ls;
	config_free(&m->cfg);
	m->cfg = cfg;
	/* sessions in old workers keep the old context: they have a copy */
	SSL_CTX_free(m->env.tls_ctx);
	m->env.cfg = cfg;
	m->env.tls_ctx = tls;
	aliases_free(&m->aliases);
	(void)master_load_aliases(cfg, &m->aliases, NULL);
	m->uid = uid;
	m->gid = gid;
	m->generation++;
	log_setfacility(cfg->syslog_facility);
	for (p = 0; p < POOL_NPROTO; p++)
		pool_setup(m, &m->pools[p], (enum pool_proto)p);
	if (m->runner > 0)
		kill(m->runner, SIGTERM);	/* restarts with the new config */
	log_info("configuration reloaded (generation %u)", m->generation);
}

static void
reap(struct master *m)
{
	int	status, p;
	pid_t	pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == m->runner) {
			m->runner = 0;
			if (!m->stopping && (WIFSIGNALED(status) ||
			    WEXITSTATUS(status) != 0))
				log_warnx("queue runner %ld ended (status %d); "
				    "restarting", (long)pid, status);
			continue;
		}
		for (p = 0; p < POOL_NPROTO; p++)
			if (pool_reaped(&m->pools[p], pid, status))
				break;
	}
}

static size_t
alive(struct master *m)
{
	size_t	n = m->runner > 0 ? 1 : 0;
	int	p;

	for (p = 0; p < POOL_NPROTO; p++)
		n += pool_alive(&m->pools[p]);
	return n;
}

static void
shutdown_begin(struct master *m)
{
	int	p;

	m->stopping = true;
	clock_gettime(CLOCK_MONOTONIC, &m->stop_deadline);
	m->stop_deadline.tv_sec += m->cfg->shutdown_grace;
	log_info("stopping: waiting up to %d s for sessions to finish",
	    m->cfg->shutdown_grace);
	/* no more accepting here; workers stop accepting on SIGTERM */
	listen_set_close(m->listeners);
	for (p = 0; p < POOL_NPROTO; p++)
		pool_signal_all(&m->pools[p], SIGTERM);
	if (m->runner > 0)
		kill(m->runner, SIGTERM);
}

static bool
deadline_passed(const struct timespec *t)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec &&
	    now.tv_nsec >= t->tv_nsec);
}

static void __attribute__((noreturn))
run(struct master *m)
{
	struct pollfd	*pfd = NULL;
	struct slot	**who = NULL;
	struct pool	**whopool = NULL;
	const struct listener **whol = NULL;
	size_t		 n, nstatus, cap = 0, i;
	int		 p, timeout, t;
	bool		 killed = false;
	char		 drain[64];

	for (;;) {
		if (got_chld) {
			got_chld = 0;
			reap(m);
		}
		if (got_term && !m->stopping)
			shutdown_begin(m);
		if (got_hup) {
			got_hup = 0;
			if (!m->stopping)
				reload(m);
		}
		if (m->stopping) {
			if (alive(m) == 0) {
				log_info("stopped");
				exit(0);
			}
			if (!killed && deadline_passed(&m->stop_deadline)) {
				log_warnx("grace time over: killing %zu "
				    "remaining processes", alive(m));
				for (p = 0; p < POOL_NPROTO; p++)
					pool_signal_all(&m->pools[p], SIGKILL);
				if (m->runner > 0)
					kill(m->runner, SIGKILL);
				killed = true;
			}
		} else {
			for (p = 0; p < POOL_NPROTO; p++)
				pool_maintain(m, &m->pools[p]);
			if (m->runner == 0 && deadline_passed(&m->runner_next)) {
				m->runner = spawn_runner(m);
				clock_gettime(CLOCK_MONOTONIC, &m->runner_next);
				m->runner_next.tv_sec += 1;
			}
		}

		n = 1;
		for (p = 0; p < POOL_NPROTO; p++)
			n += m->pools[p].nslots + m->pools[p].nlisteners;
		if (n > cap) {
			cap = n;
			pfd = xreallocarray(pfd, cap, sizeof(*pfd));
			who = xreallocarray(who, cap, sizeof(*who));
			whopool = xreallocarray(whopool, cap,
			    sizeof(*whopool));
			whol = xreallocarray(whol, cap, sizeof(*whol));
		}
		pfd[0].fd = m->sigpipe_r;
		pfd[0].events = POLLIN;
		n = 1;
		for (p = 0; p < POOL_NPROTO; p++)
			for (i = 0; i < m->pools[p].nslots; i++) {
				struct slot *s = &m->pools[p].slots[i];

				if (s->state == SLOT_FREE || s->status_fd == -1)
					continue;
				pfd[n].fd = s->status_fd;
				pfd[n].events = POLLIN;
				who[n] = s;
				whopool[n] = &m->pools[p];
				n++;
			}
		/* a full pool's listeners: the master refuses what waits */
		nstatus = n;
		for (p = 0; p < POOL_NPROTO && !m->stopping; p++) {
			if (!pool_wants_listeners(&m->pools[p]))
				continue;
			for (i = 0; i < m->pools[p].nlisteners; i++) {
				pfd[n].fd = m->pools[p].listeners[i].fd;
				pfd[n].events = POLLIN;
				who[n] = NULL;
				whopool[n] = &m->pools[p];
				whol[n] = &m->pools[p].listeners[i];
				n++;
			}
		}
		timeout = 1000;
		for (p = 0; p < POOL_NPROTO; p++) {
			t = pool_next_timeout(&m->pools[p]);
			if (t >= 0 && t < timeout)
				timeout = t;
		}
		if (poll(pfd, n, timeout) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if (pfd[0].revents & POLLIN)
			while (read(m->sigpipe_r, drain, sizeof(drain)) > 0)
				;
		for (i = 1; i < nstatus; i++)
			if (pfd[i].revents != 0)
				pool_read_status(whopool[i], who[i]);
		/* after the statuses: a worker that came free takes it */
		for (i = nstatus; i < n; i++)
			if ((pfd[i].revents & POLLIN) && !m->stopping)
				pool_listener_ready(m, whopool[i], whol[i]);
	}
}

int
master_load_aliases(const struct config *cfg, struct aliases **out, FILE *fp)
{
	struct config_errors	errs = { NULL, 0 };
	size_t			i;

	*out = NULL;
	if (cfg->aliases[0] == '\0')
		return 0;
	if (access(cfg->aliases, F_OK) == -1 && errno == ENOENT &&
	    strcmp(cfg->aliases, "/etc/aliases") == 0)
		return 0;	/* the default, and this host has none */
	*out = aliases_load(cfg->aliases, &errs);
	for (i = 0; i < errs.n; i++) {
		if (fp != NULL)
			fprintf(fp, "%s:%d: %s\n", errs.v[i].file,
			    errs.v[i].line, errs.v[i].reason);
		else
			log_warnx("%s:%d: %s", errs.v[i].file, errs.v[i].line,
			    errs.v[i].reason);
	}
	i = errs.n;
	config_errors_free(&errs);
	if (*out == NULL)
		return -1;
	return i > 0 ? 1 : 0;
}

/* Runs the queue once or lists it, as root, and exits. */
static int
queue_command(struct master *m, bool run)
{
	char	err[512];

	if (!run)
		return queue_list(m->cfg, stdout) >= 0 ? 0 : 1;
	if (queue_dirs_init(m->cfg->queue_dir, err, sizeof(err)) == -1)
		fatalx("%s", err);
	(void)master_load_aliases(m->cfg, &m->aliases, NULL);
	/* -q -f: every message, due or not */
	return queue_run_once(m->cfg, m->aliases, m->foreground) == 0 ? 0 : 1;
}

int
main(int argc, char *argv[])
{
	struct master	 m;
	const char	*path = MAILD_CONF_PATH;
	bool		 test = false, print = false, all = false;
	bool		 qrun = false, qlist = false, qadmin = false;
	char		 err[512];
	int		 ch, lp[2], np[2], p;

	/*
	 * Every process here is long-lived and serves one session or message
	 * after another with the same buffers: 64 KiB ones in the workers
	 * and monitors, 1 MiB envelope buffers in the queue runner. glibc
	 * would give that memory back to the kernel after each one and fault
	 * it in again for the next (a brk or mmap/munmap pair, page faults
	 * and a TLB shootdown each time: a fifth of an SMTP worker's CPU and
	 * over a third of the runner's). Buffers under 4 MiB come from the
	 * heap, and up to 8 MiB of free heap is kept; larger ones (a POP3
	 * index of a huge maildrop) are still mapped and returned.
	 */
#if defined(HAVE_MALLOPT) && defined(M_TRIM_THRESHOLD)
	(void)mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
	(void)mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024);
#endif
	memset(&m, 0, sizeof(m));
	m.pidfile_fd = m.sigpipe_r = m.sigpipe_w = -1;
	/* "+": stop at "queue", whose own options follow it */
	while ((ch = getopt(argc, argv, "+ac:dfhlnqtvV")) != -1) {
		switch (ch) {
		case 'a':
			all = true;
			break;
		case 'c':
			path = optarg;
			break;
		case 'd':
		case 'v':
			log_setverbose(1);
			break;
		case 'f':
			m.foreground = true;
			break;
		case 'l':
			qlist = true;
			break;
		case 'n':
			print = true;
			break;
		case 'q':
			qrun = true;
			break;
		case 't':
			test = true;
			break;
		case 'V':
			puts(PACKAGE_STRING);
			return 0;
		default:
			usage();
		}
	}
	if (optind < argc && strcmp(argv[optind], "queue") == 0 && !test &&
	    !print && !qrun && !qlist)
		qadmin = true;
	else if (optind != argc || (all && !print))
		usage();

	if (qadmin && argc - optind < 2) {	/* "maild queue": its usage */
		log_init("maild", LOG_MAIL, true);
		return queue_admin_main(NULL, argc - optind, argv + optind);
	}
	/* before reading the config: say why rather than "permission denied" */
	if ((qrun || qlist || qadmin) &&
	    (p = queue_admin_need_root(qrun ? "run" : qlist ? "list" :
	    argv[optind + 1])) != 0)
		return p;
	log_init("maild", LOG_MAIL, m.foreground || test || print || qrun ||
	    qlist || qadmin);
	if ((m.cfg = load(path, true)) == NULL) {
		if (test)
			fprintf(stderr, "%s: configuration has errors\n", path);
		return 1;
	}
	if (test) {
		if (privdrop_lookup(m.cfg->user, m.cfg->group, &m.uid, &m.gid,
		    err, sizeof(err)) == -1) {
			fprintf(stderr, "%s: %s\n", path, err);
			return 1;
		}
		if (master_load_aliases(m.cfg, &m.aliases, stderr) != 0) {
			fprintf(stderr, "%s: configuration has errors\n", path);
			return 1;
		}
		/*
		 * There is no aliases database (newaliases has nothing to
		 * build): say how a change is seen.
		 */
		if (m.aliases != NULL)
			fprintf(stderr, "%s: aliases %s: %zu %s, read as text "
			    "at start and on SIGHUP (newaliases sends it; no "
			    "database to rebuild)\n", path, m.cfg->aliases,
			    aliases_count(m.aliases),
			    aliases_count(m.aliases) == 1 ? "entry" : "entries");
		if ((m.env.tls_ctx = tls_server_ctx_new(m.cfg, err,
		    sizeof(err))) == NULL && err[0] != '\0') {
			fprintf(stderr, "%s: %s\n%s: configuration has errors\n",
			    path, err, path);
			return 1;
		}
		fprintf(stderr, "%s: configuration OK\n", path);
		return 0;
	}
	if (print) {
		config_print(stdout, m.cfg, all);
		return 0;
	}
	if (qrun || qlist)
		return queue_command(&m, qrun);
	if (qadmin)
		return queue_admin_main(m.cfg, argc - optind, argv + optind);
	m.config_path = path;
	log_setfacility(m.cfg->syslog_facility);
	if (geteuid() != 0)
		fatalx("must be started as root (it binds ports and answers "
		    "for users; the workers drop to user %s)", m.cfg->user);
	if (privdrop_lookup(m.cfg->user, m.cfg->group, &m.uid, &m.gid, err,
	    sizeof(err)) == -1)
		fatalx("%s: %s", path, err);

	m.env.cfg = m.cfg;
	if ((m.env.tls_ctx = tls_server_ctx_new(m.cfg, err, sizeof(err))) ==
	    NULL && err[0] != '\0')
		fatalx("%s: %s", path, err);
	m.pidfile_fd = pidfile_lock(m.cfg->pid_file);
	if (queue_dirs_init(m.cfg->queue_dir, err, sizeof(err)) == -1 ||
	    pickup_dir_init(m.cfg->queue_dir, err, sizeof(err)) == -1)
		fatalx("%s", err);
	/* unfinished messages of a previous run go (not those that the
	 * monitors of a killed master are still receiving) */
	queue_clean_incoming(m.cfg, 0);
	(void)master_load_aliases(m.cfg, &m.aliases, NULL);
	m.listeners = xcalloc(1, sizeof(*m.listeners));
	if (listen_set_bind(m.cfg, NULL, m.listeners, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (!m.foreground)
		daemonize();
	m.pid = getpid();
	pidfile_write(m.pidfile_fd, m.pid);

	if (pipe2(lp, O_CLOEXEC) == -1)
		fatal("pipe");
	m.life_r = lp[0];
	m.life_w = lp[1];
	/*
	 * Monitors -> runner: a pipe of "Q id" / "U user" lines. Writes
	 * below PIPE_BUF are atomic; writers never block (a full pipe only
	 * delays the news: the runner also rescans when it goes idle).
	 */
	if (pipe2(np, O_CLOEXEC) == -1)
		fatal("pipe");
	if (fcntl(np[1], F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");
	m.notify_r = np[0];
	m.notify_w = np[1];
	client_table_init();
	pool_shared_init(&m);
	raise_nofile();
	signals_init(&m);
	for (p = 0; p < POOL_NPROTO; p++)
		pool_setup(&m, &m.pools[p], (enum pool_proto)p);
	log_info("%s starting (pid %ld, config %s)", PACKAGE_STRING,
	    (long)m.pid, path);
	for (size_t i = 0; i < m.listeners->n; i++)
		log_info("listening on %s (%s)", m.listeners->v[i].name,
		    listen_role_name(m.listeners->v[i].role));
	run(&m);
}
