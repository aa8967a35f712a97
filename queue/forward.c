/*
 * ~/.forward and the program and file targets (see forward.h), in the
 * root deliverers, called by the queue runner before it groups the
 * maildrop deliveries of a batch.
 *
 * A .forward is opened with the user's effective ids (privdrop_become):
 * what the user could not read, through any directory or link on the
 * way, maild does not read either. It is then refused (logged; the mail
 * goes to the maildrop) unless it is a regular file owned by the user or
 * root, writable by nobody else, and at most FORWARD_SIZE_MAX bytes.
 *
 * Forwarding re-injects, as Postfix's local(8) does: the targets are
 * resolved (addresses through resolve_rcpt, so aliases, users,
 * user+detail and remote domains work as for any recipient) and written
 * with the message, "Delivered-To: RECIPIENT" added at the top, into a
 * new queue file; the original recipient is then marked delivered. Each
 * target of the new file is delivered, retried and bounced on its own.
 * The new message keeps the original envelope sender, so failures go
 * back to whoever sent it.
 */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stddef.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addr.h"
#include "bounds.h"
#include "deliver_prog.h"
#include "fdutil.h"
#include "forward.h"
#include "log.h"
#include "maildrop.h"
#include "privdrop.h"
#include "queue_file.h"
#include "resolve.h"
#include "xmalloc.h"

/* How much of a message's header the loop check reads at most. */
#define HEADER_SCAN_MAX	(1024 * 1024)

enum fwd_kind {
	FWD_ADDR,		/* an address or a local name */
	FWD_SELF,		/* \user: a maildrop, no .forward */
	FWD_PROGRAM,		/* |command */
	FWD_FILE,		/* /path */
};

struct fwd_target {
	enum fwd_kind	 kind;
	char		*text;
};

/* --- reading ------------------------------------------------------------- */

int
forward_read(const char *user, uid_t uid, gid_t gid, const char *home,
    char **text_out, struct reason *r)
{
	struct privdrop_saved	ids;
	struct stat		st;
	char			path[PATH_MAX], *buf = NULL;
	ssize_t			n;
	int			fd, saved;

	*text_out = NULL;
	if (home == NULL || home[0] != '/' ||
	    snprintf(path, sizeof(path), "%s/.forward", home) >=
	    (int)sizeof(path))
		return 0;
	if (privdrop_become(uid, gid, &ids) == -1) {
		saved = errno;
		log_warn("cannot take the ids of %s to read .forward", user);
		reason_set(r, "4.3.0", "cannot read .forward: %s",
		    strerror(saved));
		return -1;
	}
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	saved = errno;
	privdrop_restore(&ids);
	if (fd == -1) {
		if (saved == ENOENT || saved == ENOTDIR)
			return 0;
		if (saved == EACCES || saved == ELOOP || saved == EPERM) {
			log_warnx("%s: cannot be read as %s (%s); ignored",
			    path, user, strerror(saved));
			return 0;
		}
		log_warnx("%s: %s", path, strerror(saved));
		reason_set(r, "4.3.0", "cannot read .forward: %s",
		    strerror(saved));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		saved = errno;
		close(fd);
		reason_set(r, "4.3.0", "cannot read .forward: %s",
		    strerror(saved));
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (st.st_uid != uid && st.st_uid != 0) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 ||
	    st.st_size > FORWARD_SIZE_MAX) {
		log_warnx("%s: refused (%s); delivering to the maildrop",
		    path, !S_ISREG(st.st_mode) ? "not a regular file" :
		    (st.st_uid != uid && st.st_uid != 0) ? "owned by another "
		    "user" : (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 ?
		    "group or world writable" : "too large");
		close(fd);
		return 0;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	n = fd_pread_full(fd, buf, (size_t)st.st_size, 0);
	saved = errno;
	close(fd);
	if (n == -1) {
		free(buf);
		reason_set(r, "4.3.0", "cannot read .forward: %s",
		    strerror(saved));
		return -1;
	}
	buf[n] = '\0';
	*text_out = buf;
	return 1;
}

/*
 * Splits a .forward into targets: separated by commas and line ends,
 * blank and "#" lines ignored, a target may be "quoted" (\" and \\
 * inside) to hold commas. Returns the number of targets in *out.
 */
static size_t
forward_parse(const char *user, const char *text, struct fwd_target **out)
{
	struct fwd_target	*v = NULL;
	const char		*p = text;
	char			*tok;
	size_t			 n = 0, k, cap = strlen(text) + 1;
	bool			 line_start = true;

	tok = xmalloc(cap);
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t')
			p++;
		if (line_start && *p == '#') {
			while (*p != '\0' && *p != '\n')
				p++;
			continue;
		}
		line_start = false;
		k = 0;
		if (*p == '"') {
			for (p++; *p != '\0' && *p != '"' && *p != '\n'; p++) {
				if (*p == '\\' && (p[1] == '"' ||
				    p[1] == '\\'))
					p++;
				tok[k++] = *p;
			}
			if (*p == '"')
				p++;
			while (*p != '\0' && *p != ',' && *p != '\n')
				p++;	/* anything after the quote */
		} else
			while (*p != '\0' && *p != ',' && *p != '\n')
				tok[k++] = *p++;
		while (k > 0 && (tok[k - 1] == ' ' || tok[k - 1] == '\t' ||
		    tok[k - 1] == '\r'))
			k--;
		tok[k] = '\0';
		if (*p == '\n')
			line_start = true;
		if (*p != '\0')
			p++;
		if (k == 0)
			continue;
		if (n == FORWARD_TARGETS_MAX) {
			log_warnx("%s's .forward: more than %d targets; the "
			    "rest is ignored", user, FORWARD_TARGETS_MAX);
			break;
		}
		v = xreallocarray(v, n + 1, sizeof(*v));
		if (tok[0] == '|') {
			v[n].kind = FWD_PROGRAM;
			v[n].text = xstrdup(tok + 1);
		} else if (tok[0] == '/') {
			v[n].kind = FWD_FILE;
			v[n].text = xstrdup(tok);
		} else if (tok[0] == '\\') {
			v[n].kind = FWD_SELF;
			v[n].text = xstrdup(tok + 1);
		} else {
			v[n].kind = FWD_ADDR;
			v[n].text = xstrdup(tok);
		}
		n++;
	}
	free(tok);
	*out = v;
	return n;
}

static void
targets_free(struct fwd_target *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(v[i].text);
	free(v);
}

/* --- the loop check ------------------------------------------------------ */

/* Whether the value of a Delivered-To: field names addr. */
static bool
value_is(const char *v, size_t n, const char *addr)
{
	size_t	len = strlen(addr);

	while (n > 0 && (*v == ' ' || *v == '\t' || *v == '<')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' ||
	    v[n - 1] == '>' || v[n - 1] == '\r'))
		n--;
	return n == len && strncasecmp(v, addr, len) == 0;
}

/*
 * Whether the message's header has "Delivered-To: addr" (any case): 1
 * yes, 0 no, -1 the queue file could not be read.
 */
static int
has_delivered_to(int fd, off_t off, off_t len, const char *addr)
{
	char	*buf, *p, *nl;
	size_t	 want;
	ssize_t	 n;
	int	 found = 0;

	want = len > HEADER_SCAN_MAX ? HEADER_SCAN_MAX : (size_t)len;
	buf = xmalloc(want + 1);
	if ((n = fd_pread_full(fd, buf, want, off)) == -1) {
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	for (p = buf; *p != '\0' && *p != '\n'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p);
		if ((size_t)(nl - p) > 13 &&
		    strncasecmp(p, "Delivered-To:", 13) == 0 &&
		    value_is(p + 13, (size_t)(nl - p) - 13, addr)) {
			found = 1;
			break;
		}
		if (*nl == '\0')
			break;
	}
	free(buf);
	return found;
}

/* --- targets into a new queue file --------------------------------------- */

static void
list_add(struct resolve_list *l, const char *user, const char *addr,
    const char *rcpt)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].user, user) == 0 &&
		    strcmp(l->v[i].addr, addr) == 0)
			return;
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n].user = xstrdup(user);
	l->v[l->n].addr = xstrdup(addr);
	l->v[l->n].rcpt = xstrdup(rcpt);
	l->n++;
}

/* The domain a bare name in user's .forward gets: the recipient's. */
static const char *
rcpt_domain(const struct config *cfg, const char *rcpt)
{
	const char	*at = strrchr(rcpt, '@');

	return at != NULL && at[1] != '\0' ? at + 1 : cfg->hostname;
}

/*
 * Resolves user's targets into l: 0, or -1 with r when one of them
 * failed temporarily (the whole forward is tried again later).
 * Permanent failures of single targets are logged and left out.
 */
static int
resolve_targets(const struct config *cfg, const struct aliases *al,
    const char *user, const char *rcpt, const struct fwd_target *t,
    size_t nt, struct resolve_list *l, struct reason *r)
{
	struct resolve_list	 got = { NULL, 0 };
	struct mailaddr		 a;
	struct reason		 tr;
	char			*text, *self;
	size_t			 i, k;
	int			 code;

	self = xasprintf("\\%s", user);
	for (i = 0; i < nt; i++) {
		switch (t[i].kind) {
		case FWD_PROGRAM:
			text = xasprintf("~%s|%s", user, t[i].text);
			list_add(l, text, "", rcpt);
			free(text);
			continue;
		case FWD_FILE:
			text = xasprintf("~%s%s", user, t[i].text);
			list_add(l, text, "", rcpt);
			free(text);
			continue;
		case FWD_SELF:
			if (!maildrop_name_ok(t[i].text)) {
				log_warnx("%s's .forward: \"\\%s\" is not a "
				    "user name; ignored", user, t[i].text);
				continue;
			}
			text = xasprintf("\\%s", t[i].text);
			list_add(l, text, "", rcpt);
			free(text);
			continue;
		case FWD_ADDR:
			break;
		}
		text = strchr(t[i].text, '@') != NULL ? xstrdup(t[i].text) :
		    xasprintf("%s@%s", t[i].text, rcpt_domain(cfg, rcpt));
		if (addr_parse_mailbox(text, strlen(text), ADDR_UTF8, &a,
		    &tr) == -1 || resolve_rcpt(cfg, al, &a, true, &got, &code,
		    &tr) == -1) {
			resolve_list_free(&got);
			if (tr.status[0] == '4') {
				*r = tr;
				free(text);
				free(self);
				return -1;
			}
			log_warnx("%s's .forward: <%s>: %s; ignored", user,
			    text, tr.text);
			free(text);
			continue;
		}
		free(text);
		for (k = 0; k < got.n; k++) {
			/* the user itself: the maildrop, not .forward again */
			if (strcmp(got.v[k].user, user) == 0)
				list_add(l, self, "", rcpt);
			else
				list_add(l, got.v[k].user, got.v[k].addr,
				    got.v[k].rcpt);
		}
		resolve_list_free(&got);
	}
	free(self);
	return 0;
}

static int
queue_sink_body(struct queue_writer *w, int fd, off_t off, off_t len)
{
	char	buf[65536];
	off_t	done = 0;
	ssize_t	n;
	size_t	want;

	while (done < len) {
		want = sizeof(buf);
		if ((off_t)want > len - done)
			want = (size_t)(len - done);
		if ((n = fd_pread_full(fd, buf, want, off + done)) <= 0)
			return -1;
		queue_writer_write(w, buf, (size_t)n);
		done += n;
	}
	return w->failed ? -1 : 0;
}

/* Tells a running queue runner about qid (queue_dir/notify). */
static void
notify_runner(const struct config *cfg, const char *qid)
{
	char	path[PATH_MAX], line[QUEUE_ID_MAX + 4];
	int	fd, n;

	snprintf(path, sizeof(path), "%s/" QUEUE_NOTIFY_FIFO, cfg->queue_dir);
	if ((fd = open(path, O_WRONLY | O_NONBLOCK | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return;		/* no runner: its scan will find it */
	n = snprintf(line, sizeof(line), "Q %s\n", qid);
	if (write(fd, line, (size_t)n) != n)
		log_warn("id=%s: telling the runner", qid);
	close(fd);
}

/*
 * Writes the forwarded copy: the targets in l, the message with
 * Delivered-To: rcpt on top. 0 with the new id, or -1 with r.
 */
static int
reinject(const struct config *cfg, struct deliver_item *it,
    struct resolve_list *l, char *new_id, struct reason *r)
{
	struct queue_env	*env = it->env, nenv;
	struct queue_rcpt	*orc = &env->rcpts[it->rcpt];
	struct queue_writer	 w;
	char			*dt;
	size_t			 i;
	int			 ret = -1;

	memset(&nenv, 0, sizeof(nenv));
	nenv.arrival = time(NULL);
	nenv.sender = env->sender;
	nenv.client = "localhost";
	nenv.helo = cfg->hostname;
	nenv.flags = env->flags;
	nenv.envid = env->envid;
	nenv.nrcpts = l->n;
	nenv.rcpts = xcalloc(l->n, sizeof(*nenv.rcpts));
	for (i = 0; i < l->n; i++) {
		bool remote = strcmp(l->v[i].user, QRCPT_REMOTE) == 0;

		nenv.rcpts[i].status = remote ? QRCPT_RELAY : QRCPT_PENDING;
		nenv.rcpts[i].user = l->v[i].user;
		nenv.rcpts[i].addr = remote ? l->v[i].addr : l->v[i].rcpt;
		nenv.rcpts[i].notify = orc->notify;
	}
	if (queue_writer_begin(&w, cfg->queue_dir, &nenv, 0, r) == -1)
		goto out;
	dt = xasprintf("Delivered-To: %s\n", orc->addr);
	queue_writer_write(&w, dt, strlen(dt));
	free(dt);
	if (queue_sink_body(&w, it->qfd, env->body_off, env->body_len) ==
	    -1) {
		queue_writer_abort(&w);
		reason_set(r, "4.3.0", "cannot copy the message");
		goto out;
	}
	if (queue_writer_commit(&w, r) == -1)
		goto out;
	snprintf(new_id, QUEUE_ID_MAX + 1, "%s", w.id);
	notify_runner(cfg, w.id);
	ret = 0;
out:
	free(nenv.rcpts);
	return ret;
}

/*
 * user's .forward for item it: 0 none (deliver to the maildrop), 1
 * handled (it->result set).
 */
static int
forward_user(const struct config *cfg, const struct aliases *al,
    struct deliver_item *it)
{
	struct queue_env	*env = it->env;
	struct queue_rcpt	*rc = &env->rcpts[it->rcpt];
	struct resolve_list	 l = { NULL, 0 };
	struct fwd_target	*t = NULL;
	struct passwd		*pw;
	char			*text = NULL, *self = NULL;
	char			 name[USER_NAME_MAX + 1];
	char			 nid[QUEUE_ID_MAX + 1];
	size_t			 nt = 0;
	int			 n, ret = 1;

	errno = 0;
	if ((pw = getpwnam(rc->user)) == NULL)
		return 0;	/* the maildrop delivery says what is wrong */
	snprintf(name, sizeof(name), "%s", pw->pw_name);
	n = forward_read(name, pw->pw_uid, pw->pw_gid, pw->pw_dir, &text,
	    &it->why);
	if (n == -1) {
		it->result = DELIVER_DEFER;
		return 1;
	}
	if (n == 0)
		return 0;
	nt = forward_parse(name, text, &t);
	free(text);
	if (nt == 0) {
		targets_free(t, nt);
		return 0;	/* an empty .forward forwards nothing */
	}
	switch (has_delivered_to(it->qfd, env->body_off, env->body_len,
	    rc->addr)) {
	case 1:
		reason_set(&it->why, "5.4.6", "mail forwarding loop for %s",
		    rc->addr);
		it->result = DELIVER_BOUNCE;
		goto out;
	case -1:
		reason_set(&it->why, "4.3.0", "cannot read the queued "
		    "message");
		it->result = DELIVER_DEFER;
		goto out;
	}
	if (resolve_targets(cfg, al, name, rc->addr, t, nt, &l,
	    &it->why) == -1) {
		it->result = DELIVER_DEFER;
		goto out;
	}
	self = xasprintf("\\%s", name);
	if (l.n == 0) {
		reason_set(&it->why, "5.1.1", ".forward has no usable "
		    "target");
		it->result = DELIVER_BOUNCE;
		goto out;
	}
	if (l.n == 1 && strcmp(l.v[0].user, self) == 0) {
		ret = 0;	/* only "\user": the maildrop, as usual */
		goto out;
	}
	if (reinject(cfg, it, &l, nid, &it->why) == -1) {
		log_warnx("id=%s: cannot queue the forwarded copy for %s: "
		    "%s", env->id, rc->addr, it->why.text);
		it->result = it->why.status[0] == '5' ? DELIVER_BOUNCE :
		    DELIVER_DEFER;
		goto out;
	}
	log_info("id=%s: forwarded to=<%s> user=%s by .forward as id=%s "
	    "(%zu target%s)", env->id, rc->addr, name, nid, l.n,
	    l.n == 1 ? "" : "s");
	reason_set(&it->why, "2.0.0", "forwarded");
	it->result = DELIVER_OK;
out:
	free(self);
	resolve_list_free(&l);
	targets_free(t, nt);
	return ret;
}

/* --- program jobs ------------------------------------------------------- */

/*
 * A program may run for command_time_limit (1000 s by default): the
 * runner must not wait for it, or one user's slow .forward program would
 * hold up everyone's mail. So a program delivery is a job: a detached
 * process (forked twice, so the runner has no child to reap and reaps no
 * one else's) that runs deliver_prog() and writes its outcome into
 * queue_dir/prog/QID.N (N: the recipient's index), a file it holds
 * flock'ed while it runs, then says "Q QID" on queue_dir/notify.
 * Meanwhile the recipient is "locked" (retried after queue.locked_retry,
 * or at once on the job's notice). The next attempt finds the file: held
 * means still running; a result is the delivery's result (the file is
 * removed); neither (the job died, or the host went down) starts the
 * program again.
 */
#define PROG_JOB_DIR	"prog"

static int
job_dir(const struct config *cfg)
{
	char	path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/" PROG_JOB_DIR,
	    cfg->queue_dir) >= (int)sizeof(path))
		return -1;
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		return -1;
	return open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* A finished job's outcome ("D|T|B STATUS TEXT\n") into it; false if none. */
static bool
job_result(int fd, struct deliver_item *it)
{
	char	buf[sizeof(it->why.text) + 32], *sp, *nl;
	ssize_t	n;

	if ((n = fd_pread_full(fd, buf, sizeof(buf) - 1, 0)) < 8)
		return false;
	buf[n] = '\0';
	if ((nl = strchr(buf, '\n')) == NULL || buf[1] != ' ' ||
	    (sp = strchr(buf + 2, ' ')) == NULL || sp > nl ||
	    sp - (buf + 2) >= (ptrdiff_t)sizeof(it->why.status))
		return false;
	*nl = *sp = '\0';
	switch (buf[0]) {
	case 'D':
		it->result = DELIVER_OK;
		break;
	case 'T':
		it->result = DELIVER_DEFER;
		break;
	case 'B':
		it->result = DELIVER_BOUNCE;
		break;
	default:
		return false;
	}
	reason_set(&it->why, buf + 2, "%s", sp + 1);
	return true;
}

/* The job itself (the grandchild): runs the program, records, tells. */
static void __attribute__((noreturn))
job_run(const struct config *cfg, int fd, const char *qid,
    const struct deliver_as *who, const char *command,
    const struct deliver_msg *m)
{
	struct reason		r;
	enum deliver_result	res;
	char			line[sizeof(r.text) + 32];
	int			keep[2], n;

	(void)signal(SIGTERM, SIG_DFL);
	(void)signal(SIGINT, SIG_DFL);
	/* a program that does not read its input is no reason to die */
	(void)signal(SIGPIPE, SIG_IGN);
	(void)setsid();
	keep[0] = fd;
	keep[1] = m->fd;
	fd_keep_only(keep, 2);
	log_setident("maild-prog");
	memset(&r, 0, sizeof(r));
	res = deliver_prog(cfg, who, command, m, &r);
	log_info("id=%s: command %s as %s for <%s>: %s %s", qid, command,
	    who->name, m->rcpt, r.status, r.text);
	n = snprintf(line, sizeof(line), "%c %s %s\n", res == DELIVER_OK ?
	    'D' : res == DELIVER_BOUNCE ? 'B' : 'T', r.status, r.text);
	if (n < 0 || (size_t)n >= sizeof(line) ||
	    pwrite(fd, line, (size_t)n, 0) != n)
		log_warn("id=%s: recording the command's outcome", qid);
	notify_runner(cfg, qid);
	_exit(0);
}

/* A program target: its job's result, or a job started (see above). */
static void
prog_job(const struct config *cfg, struct deliver_item *it,
    const struct deliver_as *who, const char *command,
    const struct deliver_msg *m)
{
	char	name[QUEUE_ID_MAX + 32];
	pid_t	pid, pid2;
	int	dfd, fd, st, saved;

	snprintf(name, sizeof(name), "%s.%zu", it->env->id, it->rcpt);
	if ((dfd = job_dir(cfg)) == -1) {
		saved = errno;
		log_warn("%s/" PROG_JOB_DIR, cfg->queue_dir);
		reason_set(&it->why, "4.3.0", "cannot start the program: %s",
		    strerror(saved));
		it->result = DELIVER_DEFER;
		return;
	}
	if ((fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) != -1) {
		if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
			reason_set(&it->why, "4.2.0", "command still running");
			it->result = DELIVER_LOCKED;
			goto out;
		}
		if (job_result(fd, it)) {
			if (unlinkat(dfd, name, 0) == -1)
				log_warn("unlink %s/%s", PROG_JOB_DIR, name);
			goto out;
		}
		log_warnx("id=%s: a command for <%s> ended without a result; "
		    "running it again", it->env->id, m->rcpt);
		(void)unlinkat(dfd, name, 0);
		close(fd);
	}
	fd = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1 || flock(fd, LOCK_EX | LOCK_NB) == -1) {
		saved = errno;
		log_warn("%s/%s/%s", cfg->queue_dir, PROG_JOB_DIR, name);
		reason_set(&it->why, "4.3.0", "cannot start the program: %s",
		    strerror(saved));
		it->result = DELIVER_DEFER;
		goto out;
	}
	if ((pid = fork()) == -1) {
		saved = errno;
		(void)unlinkat(dfd, name, 0);
		reason_set(&it->why, "4.3.0", "cannot start the program: %s",
		    strerror(saved));
		it->result = DELIVER_DEFER;
		goto out;
	}
	if (pid == 0) {
		if ((pid2 = fork()) != 0)
			_exit(pid2 == -1 ? 1 : 0);
		job_run(cfg, fd, it->env->id, who, command, m);
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR) {
			st = -1;
			break;
		}
	if (st != 0) {
		/* no job: the file is ours alone, and empty */
		(void)unlinkat(dfd, name, 0);
		reason_set(&it->why, "4.3.0", "cannot start the program");
		it->result = DELIVER_DEFER;
		goto out;
	}
	reason_set(&it->why, "4.2.0", "command started");
	it->result = DELIVER_LOCKED;
out:
	if (fd != -1)
		close(fd);
	close(dfd);
}

/* Fills who from the passwd entry of name; false when there is none. */
static bool
who_of(const char *name, struct deliver_as *who, char *nbuf, char *hbuf,
    char *sbuf)
{
	struct passwd	*pw;

	if ((pw = getpwnam(name)) == NULL)
		return false;
	snprintf(nbuf, USER_NAME_MAX + 1, "%s", pw->pw_name);
	snprintf(hbuf, PATH_MAX, "%s", pw->pw_dir ? pw->pw_dir : "/");
	snprintf(sbuf, PATH_MAX, "%s", pw->pw_shell ? pw->pw_shell : "");
	who->name = nbuf;
	who->uid = pw->pw_uid;
	who->gid = pw->pw_gid;
	who->home = hbuf;
	who->shell = sbuf;
	return true;
}

/*
 * The address extension of rcpt, into ext: what follows the delimiter
 * in its local part, unless the whole local part names a user.
 */
static void
extension_of(const struct config *cfg, const char *rcpt, char *ext,
    size_t size)
{
	char	local[SMTP_LOCALPART_MAX + 1];
	size_t	i, cut;

	ext[0] = '\0';
	for (i = 0; rcpt[i] != '\0' && rcpt[i] != '@' &&
	    i < sizeof(local) - 1; i++)
		local[i] = (char)tolower((unsigned char)rcpt[i]);
	local[i] = '\0';
	if ((cut = resolve_delimiter_at(cfg, local)) == 0 ||
	    getpwnam(local) != NULL)
		return;
	snprintf(ext, size, "%s", local + cut + 1);
}

/* A program or file target (user field starting "|", "/" or "~"). */
static void
deliver_target(const struct config *cfg, struct deliver_item *it)
{
	struct queue_env	*env = it->env;
	struct queue_rcpt	*rc = &env->rcpts[it->rcpt];
	struct deliver_as	 who;
	struct deliver_msg	 m;
	const char		*owner, *target;
	char			 nbuf[USER_NAME_MAX + 1], hbuf[PATH_MAX];
	char			 sbuf[PATH_MAX];
	char			 ext[SMTP_LOCALPART_MAX + 1];
	char			 oname[USER_NAME_MAX + 1];
	size_t			 k;
	bool			 program, from_forward = rc->user[0] == '~';

	if (from_forward) {
		k = strcspn(rc->user + 1, "|/");
		if (k == 0 || k > USER_NAME_MAX || rc->user[1 + k] == '\0') {
			reason_set(&it->why, "5.3.5", "bad forward target");
			it->result = DELIVER_BOUNCE;
			return;
		}
		memcpy(oname, rc->user + 1, k);
		oname[k] = '\0';
		owner = oname;
		target = rc->user + 1 + k;
	} else {
		owner = cfg->alias_user;
		target = rc->user;
	}
	program = target[0] == '|';
	if (!from_forward && !(program ? cfg->alias_program_targets :
	    cfg->alias_file_targets)) {
		/* queued before the admin turned them off */
		reason_set(&it->why, "5.3.5", "alias %s targets are not "
		    "allowed", program ? "program" : "file");
		it->result = DELIVER_BOUNCE;
		return;
	}
	errno = 0;
	if (!who_of(owner, &who, nbuf, hbuf, sbuf)) {
		if (errno != 0 && errno != ENOENT && errno != ESRCH) {
			reason_set(&it->why, "4.3.0", "user database "
			    "unavailable");
			it->result = DELIVER_DEFER;
		} else {
			reason_set(&it->why, "5.1.1", "no user %s to deliver "
			    "as", owner);
			it->result = DELIVER_BOUNCE;
		}
		return;
	}
	extension_of(cfg, rc->addr, ext, sizeof(ext));
	memset(&m, 0, sizeof(m));
	m.sender = env->sender;
	m.arrival = env->arrival;
	m.rcpt = rc->addr;
	m.extension = ext;
	/* a .forward copy has it already, from the forwarding */
	m.delivered_to = !from_forward;
	m.fd = it->qfd;
	m.off = env->body_off;
	m.len = env->body_len;
	if (program) {
		prog_job(cfg, it, &who, target + 1, &m);
		return;
	}
	it->result = deliver_file(cfg, &who, target, &m, &it->why);
	log_info("id=%s: file %s as %s for <%s>: %s %s", env->id, target,
	    who.name, rc->addr, it->why.status, it->why.text);
}

size_t
forward_batch(const struct config *cfg, const struct aliases *al,
    struct deliver_item *items, size_t n)
{
	struct deliver_item	tmp;
	size_t			i, k = 0;
	bool			done;

	for (i = 0; i < n; i++) {
		struct deliver_item *it = &items[i];
		const char *user = it->env->rcpts[it->rcpt].user;

		switch (user[0]) {
		case '|':
		case '/':
		case '~':
			deliver_target(cfg, it);
			done = true;
			break;
		case '\\':
			done = false;	/* the maildrop, as it says */
			break;
		default:
			done = forward_user(cfg, al, it) == 1;
			break;
		}
		if (done && it->result == DELIVER_OK &&
		    queue_rcpt_mark(it->qfd, it->env, it->rcpt, QRCPT_DONE, 0,
		    true) == -1)
			log_warn("id=%s: marking delivered", it->env->id);
		if (!done) {
			/* to the front: the maildrop deliveries */
			tmp = items[k];
			items[k] = *it;
			*it = tmp;
			k++;
		}
	}
	return k;
}
