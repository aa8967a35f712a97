/*
 * Queue administration (maild(8), "maild queue ..."), in the maild
 * command an administrator runs: root, in the foreground, beside a
 * running maild or without one.
 *
 * Safety beside the runner: every deliverer (the runner, maild -q, an
 * inetd monitor) works on queue files only while it holds the delivery
 * journal's lock, and locks each file (fcntl) for the whole batch. A
 * command that changes the queue takes the journal lock first, waiting
 * at most -w seconds for the batch in progress (then it refuses with
 * exit status 75 and changes nothing), settles what a crashed deliverer
 * left in the journal exactly as a starting runner would, and then
 * locks each file it touches. So a message is never removed or moved
 * while it is being delivered, and one held or deleted after a crash
 * leaves no torn copy in a maildrop. Files move with rename(2) between
 * active/, deferred/ and hold/ (which no deliverer reads); the
 * directories are fsync'ed before the command ends. Messages put into
 * active/ are announced to a running runner through the queue_dir/notify
 * FIFO ("Q id", like the monitors' pipe); without it, the runner's scan
 * of active/ finds them within ten seconds.
 *
 * Every change is logged (syslog and stderr) with the queue id and the
 * user who made it.
 */
#include "autoconf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deliver_local.h"
#include "journal.h"
#include "log.h"
#include "queue_admin.h"
#include "queue_file.h"
#include "queue_run.h"
#include "relay/relay.h"
#include "xmalloc.h"

#define WAIT_DEFAULT_SEC	10	/* for a delivery batch to end */
#define WAIT_MAX_SEC		3600
#define SHOW_HEADER_MAX		(256 * 1024)	/* bytes of header shown */
/* A header line as shown; a longer one is shown in pieces of this. */
#define SHOW_LINE_MAX	65536
#define SUMMARY_TOP		20

enum qop { QOP_DELETE, QOP_HOLD, QOP_RELEASE, QOP_REQUEUE };

static const char *const qop_name[] = { "deleted", "held", "released",
    "requeued" };

struct qadmin {
	const struct config	*cfg;
	int			 qfd;
	struct journal		 j;
	char			 who[USER_NAME_MAX + 64];
	int			 wait_ms;
	unsigned		 dirty;		/* dirs to fsync (bits) */
	char			**moved;	/* ids put into active/ */
	size_t			 nmoved;
};

static const char *const dir_name[] = { QUEUE_DIR_ACTIVE, QUEUE_DIR_DEFERRED,
    QUEUE_DIR_HOLD, QUEUE_DIR_CORRUPT };
enum { D_ACTIVE, D_DEFERRED, D_HOLD, D_CORRUPT, D_N };

static void
queue_usage(void)
{
	fprintf(stderr,
	    "usage: maild [-c file] queue list\n"
	    "       maild [-c file] queue show ID\n"
	    "       maild [-c file] queue delete [-w sec] "
	    "ID... | -a | [-s sender] [-r rcpt] [-d domain]\n"
	    "       maild [-c file] queue hold [-w sec] "
	    "ID... | -a | [-s sender] [-r rcpt] [-d domain]\n"
	    "       maild [-c file] queue release [-w sec] "
	    "ID... | -a | [-s sender] [-r rcpt] [-d domain]\n"
	    "       maild [-c file] queue requeue [-w sec] "
	    "ID... | -a | [-s sender] [-r rcpt] [-d domain]\n"
	    "       maild [-c file] queue summary [-s] [-n top]\n");
}

int
queue_admin_need_root(const char *what)
{
	struct passwd	*pw;

	if (geteuid() == 0)
		return 0;
	pw = getpwuid(getuid());
	fprintf(stderr, "maild: %s: permission denied: the queue belongs to "
	    "root, and only root may %s it (you are %s, uid %ld)\n", what,
	    strcmp(what, "list") == 0 || strcmp(what, "show") == 0 ||
	    strcmp(what, "summary") == 0 ? "read" : "change",
	    pw != NULL ? pw->pw_name : "unknown", (long)getuid());
	return QADMIN_EXIT_NOPERM;
}

/* --- matching (pure) ----------------------------------------------------- */

static bool
sender_is(const char *want, const char *sender)
{
	if (strcmp(want, "<>") == 0 || want[0] == '\0')
		return sender[0] == '\0';
	if (want[0] == '<') {
		size_t n = strlen(want);

		return n >= 2 && want[n - 1] == '>' && strlen(sender) ==
		    n - 2 && strncasecmp(want + 1, sender, n - 2) == 0;
	}
	return strcasecmp(want, sender) == 0;
}

static const char *
domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? at + 1 : "";
}

static bool
rcpt_open(const struct queue_rcpt *rc)
{
	return rc->status != QRCPT_DONE && rc->status != QRCPT_BOUNCED;
}

bool
queue_admin_match(const struct queue_admin_filter *f,
    const struct queue_env *env)
{
	size_t	i;
	bool	hit;

	if (f->all)
		return true;
	if (f->sender == NULL && f->rcpt == NULL && f->domain == NULL)
		return false;
	if (f->sender != NULL && !sender_is(f->sender, env->sender))
		return false;
	if (f->rcpt != NULL) {
		for (hit = false, i = 0; i < env->nrcpts && !hit; i++)
			hit = rcpt_open(&env->rcpts[i]) &&
			    sender_is(f->rcpt, env->rcpts[i].addr) &&
			    f->rcpt[0] != '\0';
		if (!hit)
			return false;
	}
	if (f->domain != NULL) {
		const char *d = f->domain[0] == '@' ? f->domain + 1 :
		    f->domain;

		for (hit = false, i = 0; i < env->nrcpts && !hit; i++)
			hit = rcpt_open(&env->rcpts[i]) && strcasecmp(d,
			    domain_of(env->rcpts[i].addr)) == 0;
		if (!hit)
			return false;
	}
	return true;
}

/* --- the summary (pure) -------------------------------------------------- */

int
queue_admin_age_bucket(time_t age)
{
	time_t	limit = 5 * 60;
	int	b;

	for (b = 0; b < QADMIN_AGE_BUCKETS - 1; b++, limit *= 2)
		if (age < limit)
			return b;
	return QADMIN_AGE_BUCKETS - 1;
}

static void
shape_count(struct queue_shape *s, const char *domain, int bucket)
{
	struct queue_shape_row	*r = NULL;
	size_t			 i;

	for (i = 0; i < s->nrows; i++)
		if (strcasecmp(s->rows[i].domain, domain) == 0) {
			r = &s->rows[i];
			break;
		}
	if (r == NULL) {
		s->rows = xreallocarray(s->rows, s->nrows + 1,
		    sizeof(*s->rows));
		r = &s->rows[s->nrows++];
		memset(r, 0, sizeof(*r));
		r->domain = xstrdup(domain);
		for (i = 0; r->domain[i] != '\0'; i++)
			if (r->domain[i] >= 'A' && r->domain[i] <= 'Z')
				r->domain[i] = (char)(r->domain[i] - 'A' + 'a');
	}
	r->total++;
	r->n[bucket]++;
	s->sum.total++;
	s->sum.n[bucket]++;
}

void
queue_shape_add(struct queue_shape *s, const struct queue_env *env,
    time_t now)
{
	int	b = queue_admin_age_bucket(now > env->arrival ?
		    now - env->arrival : 0);
	size_t	i;

	if (s->by_sender) {
		shape_count(s, env->sender[0] == '\0' ? "<>" :
		    domain_of(env->sender), b);
		return;
	}
	for (i = 0; i < env->nrcpts; i++)
		if (rcpt_open(&env->rcpts[i]))
			shape_count(s, domain_of(env->rcpts[i].addr), b);
}

static int
row_cmp(const void *a, const void *b)
{
	const struct queue_shape_row *x = a, *y = b;

	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	return strcmp(x->domain, y->domain);
}

static void
shape_row_print(FILE *fp, const char *name, const struct queue_shape_row *r)
{
	char	safe[SMTP_DOMAIN_MAX * 4 + 8];
	int	b;

	log_sanitize(safe, sizeof(safe), name, strlen(name));
	fprintf(fp, "%32s %6lu", safe, r->total);
	for (b = 0; b < QADMIN_AGE_BUCKETS; b++)
		fprintf(fp, " %5lu", r->n[b]);
	fputc('\n', fp);
}

void
queue_shape_print(struct queue_shape *s, FILE *fp, size_t top)
{
	static const char *const head[QADMIN_AGE_BUCKETS] = { "5", "10",
	    "20", "40", "80", "160", "320", "640", "1280", "1280+" };
	size_t	i;
	int	b;

	qsort(s->rows, s->nrows, sizeof(*s->rows), row_cmp);
	fprintf(fp, "%32s %6s", s->by_sender ? "sender domain" :
	    "recipient domain", "T");
	for (b = 0; b < QADMIN_AGE_BUCKETS; b++)
		fprintf(fp, " %5s", head[b]);
	fputc('\n', fp);
	shape_row_print(fp, "TOTAL", &s->sum);
	for (i = 0; i < s->nrows && (top == 0 || i < top); i++)
		shape_row_print(fp, s->rows[i].domain, &s->rows[i]);
	if (i < s->nrows)
		fprintf(fp, "%32s (%zu more domains)\n", "...", s->nrows - i);
}

void
queue_shape_free(struct queue_shape *s)
{
	size_t	i;

	for (i = 0; i < s->nrows; i++)
		free(s->rows[i].domain);
	free(s->rows);
	s->rows = NULL;
	s->nrows = 0;
	memset(&s->sum, 0, sizeof(s->sum));
}

/* --- reading the queue --------------------------------------------------- */

/* The queue ids in queue_dir/dir (sorted: by arrival). NULL-terminated. */
static char **
list_ids(int qfd, const char *dir)
{
	struct dirent	*e;
	DIR		*d;
	char		**ids = NULL;
	size_t		 n = 0;
	int		 fd;

	if ((fd = openat(qfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (d = fdopendir(fd)) == NULL) {
		log_warn("open queue directory %s", dir);
		if (fd != -1)
			close(fd);
		ids = xcalloc(1, sizeof(*ids));
		return ids;
	}
	while ((e = readdir(d)) != NULL) {
		if (!queue_id_valid(e->d_name))
			continue;
		ids = xreallocarray(ids, n + 2, sizeof(*ids));
		ids[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (ids == NULL)
		ids = xcalloc(1, sizeof(*ids));
	ids[n] = NULL;
	return ids;
}

static int
id_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
ids_free(char ***ids)
{
	size_t	i;

	if (*ids == NULL)
		return;
	for (i = 0; (*ids)[i] != NULL; i++)
		free((*ids)[i]);
	free(*ids);
	*ids = NULL;
}

/* Reads dir/id's envelope. 1 read, 0 gone, -1 unreadable (r says why). */
static int
read_env(int qfd, const char *dir, const char *id, struct queue_env *env,
    struct reason *r)
{
	char	path[QUEUE_RELPATH_MAX];
	int	fd, rc;

	snprintf(path, sizeof(path), "%s/%s", dir, id);
	if ((fd = openat(qfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) ==
	    -1) {
		if (errno == ENOENT)
			return 0;
		reason_set(r, "4.3.0", "%s", strerror(errno));
		return -1;
	}
	rc = queue_env_read(fd, env, r) == 0 ? 1 : -1;
	close(fd);
	return rc;
}

/* Which directory holds id (D_*), or -1. */
static int
find_id(int qfd, const char *id)
{
	char		path[QUEUE_RELPATH_MAX];
	struct stat	st;
	int		d;

	for (d = 0; d < D_N; d++) {
		snprintf(path, sizeof(path), "%s/%s", dir_name[d], id);
		if (fstatat(qfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			return d;
	}
	return -1;
}

/* --- changing the queue -------------------------------------------------- */

static void
who_init(struct qadmin *a)
{
	struct passwd	*pw = getpwuid(getuid());
	const char	*login = getlogin();
	const char	*sudo = getenv("SUDO_USER");

	snprintf(a->who, sizeof(a->who), "%s", pw != NULL ? pw->pw_name :
	    "uid");
	if (pw == NULL)
		snprintf(a->who, sizeof(a->who), "uid%ld", (long)getuid());
	/* who typed it, when root's shell came from su or sudo */
	if (sudo != NULL && sudo[0] != '\0')
		login = sudo;
	if (login != NULL && login[0] != '\0' && (pw == NULL ||
	    strcmp(login, pw->pw_name) != 0)) {
		size_t n = strlen(a->who);

		snprintf(a->who + n, sizeof(a->who) - n, "(login=%.64s)",
		    login);
	}
}

/*
 * Opens the queue and takes the journal lock (waiting at most
 * a->wait_ms), then settles an interrupted delivery. 0, -1 (logged) or
 * QADMIN_EXIT_BUSY.
 */
static int
qadmin_begin(struct qadmin *a)
{
	a->j.fd = a->j.qdirfd = -1;
	if ((a->qfd = open(a->cfg->queue_dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		log_warn("open queue %s", a->cfg->queue_dir);
		return -1;
	}
	if (journal_open(&a->j, a->cfg->queue_dir) == -1)
		return -1;
	if (journal_lock_wait(&a->j, a->wait_ms) == -1) {
		if (errno != EWOULDBLOCK) {
			log_warn("lock the delivery journal");
			return -1;
		}
		fprintf(stderr, "maild: queue busy: a delivery has held the "
		    "queue for %d s; nothing was changed (try again, or "
		    "wait longer with -w)\n", a->wait_ms / 1000);
		return QADMIN_EXIT_BUSY;
	}
	/* a deliverer that died left its batch unresolved: settle it */
	if (a->j.size > 0)
		deliver_local_recover(a->cfg, &a->j);
	return 0;
}

static void
qadmin_end(struct qadmin *a)
{
	char	line[QUEUE_ID_MAX + 4];
	size_t	i;
	int	d, dfd, nfd = -1;

	for (d = 0; d < D_N; d++) {
		if (!(a->dirty & (1u << d)))
			continue;
		dfd = openat(a->qfd, dir_name[d], O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC);
		if (dfd == -1 || fsync(dfd) == -1)
			log_warn("fsync queue directory %s", dir_name[d]);
		if (dfd != -1)
			close(dfd);
	}
	if (a->j.fd != -1)
		journal_unlock(&a->j);
	journal_close(&a->j);
	/* no reader (ENXIO): no runner now; it scans active/ at start */
	if (a->nmoved > 0 && a->qfd != -1)
		nfd = openat(a->qfd, QUEUE_NOTIFY_FIFO, O_WRONLY | O_NONBLOCK |
		    O_NOFOLLOW | O_CLOEXEC);
	for (i = 0; i < a->nmoved; i++) {
		int n = snprintf(line, sizeof(line), "Q %s\n", a->moved[i]);

		/* a full FIFO only delays it until the runner's next scan */
		if (nfd != -1 && write(nfd, line, (size_t)n) != n)
			break;
	}
	if (nfd != -1)
		close(nfd);
	for (i = 0; i < a->nmoved; i++)
		free(a->moved[i]);
	free(a->moved);
	a->moved = NULL;
	a->nmoved = 0;
	if (a->qfd != -1)
		close(a->qfd);
	a->qfd = -1;
}

/*
 * Applies op to queue_dir/dir_name[d]/id, under the file's lock. Returns
 * 1 done, 0 gone meanwhile, -1 failed (logged).
 */
static int
act_one(struct qadmin *a, enum qop op, int d, const char *id)
{
	struct queue_env	 env;
	struct reason		 r;
	struct flock		 fl;
	struct stat		 st1, st2;
	struct timespec		 ts[2];
	char			 path[QUEUE_RELPATH_MAX], to[QUEUE_RELPATH_MAX];
	char			 from[SMTP_PATH_MAX * 4 + 8];
	int			 fd, to_d = -1, ret = -1;
	bool			 have_env = false;

	snprintf(path, sizeof(path), "%s/%s", dir_name[d], id);
	if ((fd = openat(a->qfd, path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) ==
	    -1) {
		if (errno == ENOENT)
			return 0;
		log_warn("id=%s: open %s", id, path);
		return -1;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	/*
	 * A lock here is another "maild queue" command, or the runner with
	 * a relay of this message in flight (it holds the file outside the
	 * journal lock meanwhile). Refuse it. OFD locks, as the runner's.
	 */
	if (fcntl(fd, F_OFD_SETLK, &fl) == -1) {
		log_warnx("id=%s: locked by another process; left alone", id);
		goto out;
	}
	if (fstat(fd, &st1) == -1 || fstatat(a->qfd, path, &st2,
	    AT_SYMLINK_NOFOLLOW) == -1 || st1.st_ino != st2.st_ino ||
	    st1.st_nlink == 0) {
		ret = 0;
		goto out;
	}
	if (d != D_CORRUPT && queue_env_read(fd, &env, &r) == 0)
		have_env = true;
	switch (op) {
	case QOP_DELETE:
		if (unlinkat(a->qfd, path, 0) == -1) {
			log_warn("id=%s: unlink %s", id, path);
			goto out;
		}
		queue_defer_remove(a->qfd, id);
		break;
	case QOP_HOLD:
		to_d = D_HOLD;
		break;
	case QOP_RELEASE:
	case QOP_REQUEUE:
		to_d = D_ACTIVE;
		break;
	}
	if (to_d != -1 && to_d != d) {
		/* due now: the runner and maild -q take it at once */
		ts[0].tv_sec = ts[1].tv_sec = time(NULL);
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		if (to_d == D_ACTIVE && futimens(fd, ts) == -1)
			log_warn("id=%s: set the retry time", id);
		snprintf(to, sizeof(to), "%s/%s", dir_name[to_d], id);
		if (renameat(a->qfd, path, a->qfd, to) == -1) {
			log_warn("id=%s: move %s to %s", id, path, to);
			goto out;
		}
		a->dirty |= 1u << to_d;
		if (to_d == D_ACTIVE) {
			a->moved = xreallocarray(a->moved, a->nmoved + 1,
			    sizeof(*a->moved));
			a->moved[a->nmoved++] = xstrdup(id);
		}
	}
	a->dirty |= 1u << d;
	if (have_env)
		log_sanitize(from, sizeof(from), env.sender,
		    strlen(env.sender));
	log_info("id=%s: %s by=%s from=<%s> nrcpt=%zu queue=%s%s%s", id,
	    qop_name[op], a->who, have_env ? from : "?",
	    have_env ? env.nrcpts : 0, dir_name[d], to_d != -1 ? " to=" : "",
	    to_d != -1 ? dir_name[to_d] : "");
	ret = 1;
out:
	if (have_env)
		queue_env_free(&env);
	close(fd);	/* and the lock with it */
	return ret;
}

/* The directories each operation takes messages from. */
static unsigned
op_dirs(enum qop op, bool by_id)
{
	switch (op) {
	case QOP_DELETE:
		return (1u << D_ACTIVE) | (1u << D_DEFERRED) | (1u << D_HOLD) |
		    (by_id ? 1u << D_CORRUPT : 0);
	case QOP_HOLD:
		return (1u << D_ACTIVE) | (1u << D_DEFERRED);
	case QOP_RELEASE:
		return 1u << D_HOLD;
	case QOP_REQUEUE:
		return 1u << D_DEFERRED;
	}
	return 0;
}

static int
parse_wait(const char *s, int *ms_out)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 ||
	    v > WAIT_MAX_SEC) {
		fprintf(stderr, "maild: -w %s: want seconds, 0 to %d\n", s,
		    WAIT_MAX_SEC);
		return -1;
	}
	*ms_out = (int)v * 1000;
	return 0;
}

static int
cmd_change(const struct config *cfg, enum qop op, int argc, char *argv[])
{
	struct queue_admin_filter	 f;
	struct qadmin			 a;
	struct queue_env		 env;
	struct reason			 r;
	char				**ids;
	unsigned			 dirs;
	unsigned long			 done = 0, failed = 0, missing = 0;
	int				 ch, d, rc, i;
	size_t				 k;

	memset(&f, 0, sizeof(f));
	memset(&a, 0, sizeof(a));
	a.cfg = cfg;
	a.qfd = -1;
	a.wait_ms = WAIT_DEFAULT_SEC * 1000;
	optind = 1;
	while ((ch = getopt(argc, argv, "ad:r:s:w:")) != -1) {
		switch (ch) {
		case 'a':
			f.all = true;
			break;
		case 'd':
			f.domain = optarg;
			break;
		case 'r':
			f.rcpt = optarg;
			break;
		case 's':
			f.sender = optarg;
			break;
		case 'w':
			if (parse_wait(optarg, &a.wait_ms) == -1)
				return QADMIN_EXIT_USAGE;
			break;
		default:
			queue_usage();
			return QADMIN_EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	/* ids, or a selection, not both, and never an empty selection */
	if ((argc > 0) == (f.all || f.sender || f.rcpt || f.domain) ||
	    (f.all && (f.sender || f.rcpt || f.domain))) {
		queue_usage();
		return QADMIN_EXIT_USAGE;
	}
	for (i = 0; i < argc; i++)
		if (!queue_id_valid(argv[i])) {
			fprintf(stderr, "maild: %s: not a queue id\n", argv[i]);
			return QADMIN_EXIT_USAGE;
		}
	who_init(&a);
	if ((rc = qadmin_begin(&a)) != 0) {
		qadmin_end(&a);
		return rc == QADMIN_EXIT_BUSY ? rc : QADMIN_EXIT_ERROR;
	}
	dirs = op_dirs(op, argc > 0);
	for (i = 0; i < argc; i++) {
		d = find_id(a.qfd, argv[i]);
		if (d == -1 || !(dirs & (1u << d))) {
			fprintf(stderr, "maild: %s: %s\n", argv[i], d == -1 ?
			    "no such message in the queue" : op == QOP_RELEASE ?
			    "not on hold" : op == QOP_REQUEUE ? (d == D_HOLD ?
			    "on hold (use release)" : "not deferred") :
			    "not in a queue this command takes from");
			missing++;
			continue;
		}
		rc = act_one(&a, (enum qop)op, d, argv[i]);
		if (rc == 1)
			done++;
		else if (rc == 0)
			missing++;
		else
			failed++;
	}
	for (d = 0; argc == 0 && d < D_N; d++) {
		if (!(dirs & (1u << d)))
			continue;
		ids = list_ids(a.qfd, dir_name[d]);
		for (k = 0; ids[k] != NULL; k++)
			;
		qsort(ids, k, sizeof(*ids), id_cmp);
		for (k = 0; ids[k] != NULL; k++) {
			rc = read_env(a.qfd, dir_name[d], ids[k], &env, &r);
			if (rc <= 0)
				continue;
			if (queue_admin_match(&f, &env)) {
				rc = act_one(&a, op, d, ids[k]);
				if (rc == 1)
					done++;
				else if (rc == -1)
					failed++;
			}
			queue_env_free(&env);
		}
		ids_free(&ids);
	}
	qadmin_end(&a);
	printf("%s %lu message%s\n", qop_name[op], done, done == 1 ? "" : "s");
	if (failed > 0 || missing > 0)
		return QADMIN_EXIT_ERROR;
	return QADMIN_EXIT_OK;
}

/* --- looking ------------------------------------------------------------- */

static int
cmd_show(const struct config *cfg, int argc, char *argv[])
{
	struct queue_env	 env;
	struct reason		 r;
	struct tm		 tm;
	char			 path[QUEUE_RELPATH_MAX], when[64];
	char			 raw[SHOW_LINE_MAX], nl[QUEUE_NOTIFY_SIZE];
	char			 safe[SHOW_LINE_MAX * 4 + 8];
	FILE			*fp;
	size_t			 i, shown = 0;
	int			 qfd, fd, d;

	if (argc != 2 || !queue_id_valid(argv[1])) {
		queue_usage();
		return QADMIN_EXIT_USAGE;
	}
	if ((qfd = open(cfg->queue_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		log_warn("open queue %s", cfg->queue_dir);
		return QADMIN_EXIT_ERROR;
	}
	if ((d = find_id(qfd, argv[1])) == -1) {
		fprintf(stderr, "maild: %s: no such message in the queue\n",
		    argv[1]);
		close(qfd);
		return QADMIN_EXIT_ERROR;
	}
	snprintf(path, sizeof(path), "%s/%s", dir_name[d], argv[1]);
	fd = openat(qfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		fprintf(stderr, "maild: %s: %s\n", argv[1], strerror(errno));
		close(qfd);
		return QADMIN_EXIT_ERROR;
	}
	if (queue_env_read(fd, &env, &r) == -1) {
		fprintf(stderr, "maild: %s: unreadable envelope (%s), in %s/\n",
		    argv[1], r.text, dir_name[d]);
		close(fd);
		close(qfd);
		return QADMIN_EXIT_ERROR;
	}
	/* the last attempt's reasons: advisory, may be absent */
	(void)queue_defer_load(qfd, &env);
	close(qfd);
	localtime_r(&env.arrival, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm);
	/* every field may come from a client: shown escaped */
#define SAFE(s)	log_sanitize(safe, sizeof(safe), (s), strlen(s))
	printf("Queue ID:  %s\n", env.id);
	printf("Queue:     %s\n", dir_name[d]);
	printf("Arrival:   %s\n", when);
	printf("Attempts:  %u\n", env.attempts);
	printf("Size:      %lld\n", (long long)env.body_len);
	printf("Sender:    <%s>\n", SAFE(env.sender));
	if (env.auth_user != NULL)
		printf("Auth user: %s\n", SAFE(env.auth_user));
	printf("Client:    %s", SAFE(env.client));
	printf(" (HELO %s)\n", SAFE(env.helo));
	if (env.flags != 0 || env.envid != NULL) {
		printf("DSN:      %s%s%s%s", (env.flags & RELAY_F_8BIT) ?
		    " BODY=8BITMIME" : "", (env.flags & RELAY_F_UTF8) ?
		    " SMTPUTF8" : "", (env.flags & RELAY_F_RET_HDRS) ?
		    " RET=HDRS" : "", (env.flags & RELAY_F_RET_FULL) ?
		    " RET=FULL" : "");
		printf("%s%s\n", env.envid ? " ENVID=" : "",
		    env.envid ? SAFE(env.envid) : "");
	}
	if (env.warned > 0) {
		localtime_r(&env.warned, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm);
		printf("Warned:    %s (delay notice)\n", when);
	}
	for (i = 0; i < env.nrcpts; i++) {
		const struct queue_rcpt *rc = &env.rcpts[i];
		const char *st = rc->status == QRCPT_DONE ? "delivered" :
		    rc->status == QRCPT_BOUNCED ? "bounced" :
		    rc->status == QRCPT_RELAY ? "awaiting relay" : "pending";

		printf("Recipient: <%s> %s", SAFE(rc->addr), st);
		printf("%s%s", strcmp(rc->user, QRCPT_REMOTE) == 0 ? "" :
		    " user=", strcmp(rc->user, QRCPT_REMOTE) == 0 ? "" :
		    SAFE(rc->user));
		if (queue_notify_letters(rc->notify, nl, sizeof(nl)) > 0)
			printf(" notify=%s", nl);
		if (rc->orcpt != NULL)
			printf(" orcpt=%s", SAFE(rc->orcpt));
		printf("\n");
		if (rc->why.status[0] != '\0' && rc->status != QRCPT_DONE)
			printf("           last: %s %s\n", rc->why.status,
			    SAFE(rc->why.text));
	}
	printf("\n");
	if (lseek(fd, env.body_off, SEEK_SET) == -1 ||
	    (fp = fdopen(fd, "r")) == NULL) {
		fprintf(stderr, "maild: %s: %s\n", argv[1], strerror(errno));
		queue_env_free(&env);
		close(fd);
		return QADMIN_EXIT_ERROR;
	}
	/* the header section: up to the first empty line */
	while (shown < SHOW_HEADER_MAX && fgets(raw, sizeof(raw), fp) !=
	    NULL) {
		size_t n = strcspn(raw, "\n");

		if (n == 0)
			break;
		shown += n + 1;
		log_sanitize(safe, sizeof(safe), raw, n);
		printf("%s\n", safe);
	}
#undef SAFE
	fclose(fp);
	queue_env_free(&env);
	return QADMIN_EXIT_OK;
}

static int
cmd_summary(const struct config *cfg, int argc, char *argv[])
{
	static const int	 sum_dirs[] = { D_ACTIVE, D_DEFERRED, D_HOLD };
	struct queue_shape	 s;
	struct queue_env	 env;
	struct reason		 r;
	char			**ids, *end;
	size_t			 k, top = SUMMARY_TOP;
	time_t			 now = time(NULL);
	long			 v;
	int			 ch, qfd;

	memset(&s, 0, sizeof(s));
	optind = 1;
	while ((ch = getopt(argc, argv, "n:s")) != -1) {
		switch (ch) {
		case 'n':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    v < 0) {
				queue_usage();
				return QADMIN_EXIT_USAGE;
			}
			top = (size_t)v;
			break;
		case 's':
			s.by_sender = true;
			break;
		default:
			queue_usage();
			return QADMIN_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		queue_usage();
		return QADMIN_EXIT_USAGE;
	}
	if ((qfd = open(cfg->queue_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		log_warn("open queue %s", cfg->queue_dir);
		return QADMIN_EXIT_ERROR;
	}
	for (k = 0; k < NITEMS(sum_dirs); k++) {
		size_t i;

		ids = list_ids(qfd, dir_name[sum_dirs[k]]);
		for (i = 0; ids[i] != NULL; i++)
			if (read_env(qfd, dir_name[sum_dirs[k]], ids[i], &env,
			    &r) == 1) {
				queue_shape_add(&s, &env, now);
				queue_env_free(&env);
			}
		ids_free(&ids);
	}
	close(qfd);
	printf("messages in active/, deferred/ and hold/, by age in "
	    "minutes%s\n", s.by_sender ? "" :
	    " (one count per pending recipient)");
	queue_shape_print(&s, stdout, top);
	queue_shape_free(&s);
	return QADMIN_EXIT_OK;
}

int
queue_admin_main(const struct config *cfg, int argc, char *argv[])
{
	static const struct {
		const char	*name;
		int		 op;	/* enum qop, or -1 */
	} cmds[] = {
		{ "delete", QOP_DELETE }, { "hold", QOP_HOLD },
		{ "release", QOP_RELEASE }, { "requeue", QOP_REQUEUE },
		{ "list", -1 }, { "show", -1 }, { "summary", -1 },
	};
	char	err[512];
	size_t	i;
	int	rc;

	if (argc < 2) {
		queue_usage();
		return QADMIN_EXIT_USAGE;
	}
	for (i = 0; i < NITEMS(cmds); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			break;
	if (i == NITEMS(cmds)) {
		fprintf(stderr, "maild: queue %s: unknown command\n", argv[1]);
		queue_usage();
		return QADMIN_EXIT_USAGE;
	}
	if ((rc = queue_admin_need_root(argv[1])) != 0)
		return rc;
	if (cmds[i].op >= 0 && queue_dirs_init(cfg->queue_dir, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "maild: %s\n", err);
		return QADMIN_EXIT_ERROR;
	}
	if (cmds[i].op >= 0)
		return cmd_change(cfg, (enum qop)cmds[i].op, argc - 1,
		    argv + 1);
	if (strcmp(argv[1], "list") == 0) {
		if (argc != 2) {
			queue_usage();
			return QADMIN_EXIT_USAGE;
		}
		return queue_list(cfg, stdout) >= 0 ? QADMIN_EXIT_OK :
		    QADMIN_EXIT_ERROR;
	}
	if (strcmp(argv[1], "show") == 0)
		return cmd_show(cfg, argc - 1, argv + 1);
	return cmd_summary(cfg, argc - 1, argv + 1);
}
