/*
 * The queue runner (root). Messages arrive in active/ (the monitor told
 * us with "Q id", or a periodic scan finds them); each recipient is
 * delivered (deliver_local.c), bounced (a DSN to the sender, never for
 * a bounce), or left for later, and a message with work left moves to
 * deferred/ with its next attempt time as the file's mtime. A maildrop
 * that was busy is retried soon, and at once when the POP3 monitor that
 * held it says "U user". Each queue file is locked (fcntl) while it is
 * worked on, so "maild -q" or an inetd monitor can run beside the
 * runner without delivering anything twice.
 *
 * Log lines carry the queue id, so that grep ID shows a message's whole
 * story: "queued" (monitor), then "delivered", "deferred" or "bounced".
 */
#include "autoconf.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "bounce.h"
#include "deliver_local.h"
#include "fault.h"
#include "forward.h"
#include "journal.h"
#include "log.h"
#include "notice.h"
#include "pickup.h"
#include "queue_file.h"
#include "queue_run.h"
#include "relay_sched.h"
#include "resolve.h"
#include "xmalloc.h"

#define RESCAN_SEC	10	/* look for messages nobody told us about */
/*
 * An incoming/ file whose writer died (a monitor killed mid-DATA) is
 * removed once this old: the live writer holds a flock on it from a
 * moment after it is created, which is all the grace is for.
 */
#define INCOMING_GRACE	5
#define BATCH_FILES	64	/* queue files worked on together */
/*
 * The long-lived runner compacts the delivery journal once it has been
 * idle this long (or when the journal is large), not after every batch:
 * compacting costs three syncs (active/, deferred/, the journal), more
 * than the delivery it follows when mail arrives one message at a time.
 */
#define COMPACT_IDLE_MS	250
/*
 * Group commit across time: while mail streams in, the long-lived runner
 * starts a batch at most every BATCH_LINGER_MS (at once when BATCH_FILES
 * are waiting), so that messages arriving one by one share the journal's
 * and the maildrop's syncs instead of paying two each, competing with
 * the monitors' syncs for the disk.
 */
#define BATCH_LINGER_MS	20

struct deferred {
	char	 qid[QUEUE_ID_MAX + 1];
	time_t	 due;
	char	*waiting_user;	/* busy maildrop: retry when released */
};

struct todo {
	const char	*dir;		/* QUEUE_DIR_ACTIVE or _DEFERRED */
	char		 qid[QUEUE_ID_MAX + 1];
};

struct runner {
	const struct config	*cfg;
	const struct aliases	*al;
	int			 qfd;		/* queue_dir */
	struct journal		 j;
	struct deferred		*def;
	size_t			 ndef;
	struct todo		*todo;		/* to work on now */
	size_t			 ntodo;
	bool			 lazy_compact;	/* leave it to runner_idle */
	struct relay_sched	*rs;		/* remote recipients */
	struct queue_spares	 spares;	/* finished files kept in free/ */
};

/* One queue file being worked on. */
struct qitem {
	const char		*dir;
	char			 qid[QUEUE_ID_MAX + 1];
	int			 fd;
	bool			 open;
	bool			 expired;
	bool			 marked;	/* local delivered marks */
	bool			 looping;	/* over smtp.hop_limit */
	struct queue_env	 env;
	/* this attempt's outcome per recipient; remote ones in flight */
	struct relay_msg	 rm;
};

/* The notifications one queue file gave rise to this round. */
#define NEWMAIL_MAX	4	/* a bounce, a delay notice, success, relayed */
struct newmail {
	char	id[NEWMAIL_MAX][QUEUE_ID_MAX + 1];
	size_t	n;
};

static void
newmail_add(struct newmail *nm, const char *id)
{
	if (id[0] != '\0' && nm->n < NEWMAIL_MAX)
		snprintf(nm->id[nm->n++], sizeof(nm->id[0]), "%s", id);
}

static volatile sig_atomic_t	stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static double
delay_since(time_t arrival)
{
	struct timespec	now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (double)(now.tv_sec - arrival) + now.tv_nsec / 1e9;
}

static void
forget(struct runner *rn, const char *qid)
{
	size_t	i;

	for (i = 0; i < rn->ndef; i++)
		if (strcmp(rn->def[i].qid, qid) == 0) {
			free(rn->def[i].waiting_user);
			rn->def[i] = rn->def[--rn->ndef];
			return;
		}
}

static void
remember(struct runner *rn, const char *qid, time_t due, const char *user)
{
	struct deferred	*d;

	forget(rn, qid);
	rn->def = xreallocarray(rn->def, rn->ndef + 1, sizeof(*rn->def));
	d = &rn->def[rn->ndef++];
	snprintf(d->qid, sizeof(d->qid), "%s", qid);
	d->due = due;
	d->waiting_user = user ? xstrdup(user) : NULL;
}

/* A remembered message that is busy elsewhere: due again in a second. */
static void
postpone(struct runner *rn, const char *qid)
{
	size_t	i;

	for (i = 0; i < rn->ndef; i++)
		if (strcmp(rn->def[i].qid, qid) == 0) {
			rn->def[i].due = time(NULL) + 1;
			return;
		}
}

/* --- bounces -------------------------------------------------------------- */


/*
 * Bounces the recipients listed in idx (n of them): a DSN to the sender
 * for those whose NOTIFY wants one (none for the null sender: a double
 * bounce is dropped, and postmaster told if so configured), and marks
 * them bounced. New mail goes to nm. Returns 0, or -1 when the DSN
 * could not be queued (retry later).
 */
static int
bounce(struct runner *rn, int qfd, struct queue_env *env, const size_t *idx,
    size_t n, struct newmail *nm)
{
	const struct config	*cfg = rn->cfg;
	struct reason		 r;
	char			 qid[QUEUE_ID_MAX + 1];
	size_t			*tell, nt = 0, i;
	int			 rc;

	if (bounce_is_dsn_sender(env->sender)) {
		log_info("id=%s: not bouncing a bounce (null sender); "
		    "dropping %zu recipient(s)", env->id, n);
		/* never about postmaster's own notice: that would loop */
		if (cfg->queue.double_bounce_to_postmaster &&
		    !(env->flags & QUEUE_F_POSTMASTER)) {
			if (notice_send(cfg, rn->al, qfd, env, idx, n,
			    BOUNCE_FAILED, true, qid, &r) < 0)
				log_warnx("id=%s: cannot tell postmaster "
				    "about the double bounce: %s", env->id,
				    r.text);
			else
				newmail_add(nm, qid);
		}
		goto mark;
	}
	tell = xcalloc(n, sizeof(*tell));
	for (i = 0; i < n; i++) {
		if (notice_wanted(env->rcpts[idx[i]].notify, BOUNCE_FAILED))
			tell[nt++] = idx[i];
		else
			log_info("id=%s: no bounce for to=<%s>: NOTIFY says "
			    "not to", env->id, env->rcpts[idx[i]].addr);
	}
	rc = nt > 0 ? notice_send(cfg, rn->al, qfd, env, tell, nt,
	    BOUNCE_FAILED, false, qid, &r) : 0;
	free(tell);
	if (rc == -1) {
		log_warnx("id=%s: cannot queue the bounce: %s; will retry",
		    env->id, r.text);
		return -1;
	}
	if (rc == -2)
		log_warnx("id=%s: cannot return a bounce to <%s>: %s; "
		    "dropping it", env->id, env->sender, r.text);
	else if (nt > 0)
		newmail_add(nm, qid);
mark:
	for (i = 0; i < n; i++)
		if (queue_rcpt_mark(qfd, env, idx[i], QRCPT_BOUNCED, 0,
		    i + 1 == n) == -1)
			log_warn("id=%s: marking bounced", env->id);
	return 0;
}

/*
 * The delay notice (RFC 3464 "Action: delayed"): once, to the sender,
 * for the recipients still pending whose NOTIFY allows it, when the
 * message has waited queue.delay_warning; then W records it.
 */
static void
delay_notice(struct runner *rn, struct qitem *q, time_t now,
    struct newmail *nm)
{
	struct queue_env	*env = &q->env;
	struct reason		 r;
	char			 qid[QUEUE_ID_MAX + 1];
	size_t			*idx, n = 0, i;

	if (!notice_delay_due(rn->cfg, env, now))
		return;
	idx = xcalloc(env->nrcpts, sizeof(*idx));
	for (i = 0; i < env->nrcpts; i++) {
		char st = env->rcpts[i].status;

		if ((st == QRCPT_PENDING || st == QRCPT_TRYING ||
		    st == QRCPT_RELAY) &&
		    notice_wanted(env->rcpts[i].notify, BOUNCE_DELAYED))
			idx[n++] = i;
	}
	if (n > 0 && notice_send(rn->cfg, rn->al, q->fd, env, idx, n,
	    BOUNCE_DELAYED, false, qid, &r) == -1) {
		log_warnx("id=%s: cannot queue the delay notice: %s; will "
		    "retry", env->id, r.text);
		free(idx);
		return;
	}
	free(idx);
	if (n > 0)
		newmail_add(nm, qid);
	/* decided: sent, or nobody to tell (NOTIFY), or no way to tell them */
	if (queue_warned_mark(q->fd, env, now) == -1)
		log_warn("id=%s: recording the delay notice", env->id);
}

/* NOTIFY=SUCCESS (RFC 3461 4.1): a "delivered" report for those in idx. */
static void
success_notice(struct runner *rn, struct qitem *q, const size_t *idx,
    size_t n, enum bounce_kind kind, struct newmail *nm)
{
	struct reason	r;
	char		qid[QUEUE_ID_MAX + 1];

	if (n == 0 || bounce_is_dsn_sender(q->env.sender))
		return;
	if (notice_send(rn->cfg, rn->al, q->fd, &q->env, idx, n,
	    kind, false, qid, &r) < 0)
		log_warnx("id=%s: cannot queue the success notice: %s",
		    q->env.id, r.text);
	else
		newmail_add(nm, qid);
}

/* --- working on queue files ---------------------------------------------- */

static time_t
backoff(const struct config *cfg, unsigned attempts)
{
	long long	d = cfg->queue.retry_min;
	unsigned	i;

	for (i = 1; i < attempts && d < cfg->queue.retry_max; i++)
		d *= 2;
	if (d > cfg->queue.retry_max)
		d = cfg->queue.retry_max;
	/* +-20%, so that what failed together is not retried together */
	if (d >= 5)
		d = d - d / 5 + (long long)arc4random_uniform(
		    (uint32_t)(2 * (d / 5) + 1));
	return (time_t)d;
}

/* Puts dir/qid on the to-do list (once). */
static void
want(struct runner *rn, const char *dir, const char *qid)
{
	size_t	i;

	for (i = 0; i < rn->ntodo; i++)
		if (strcmp(rn->todo[i].qid, qid) == 0)
			return;
	rn->todo = xreallocarray(rn->todo, rn->ntodo + 1, sizeof(*rn->todo));
	rn->todo[rn->ntodo].dir = dir;
	snprintf(rn->todo[rn->ntodo].qid, sizeof(rn->todo[0].qid), "%s", qid);
	rn->ntodo++;
}

/*
 * A queued message over smtp.hop_limit (come in some way the DATA check
 * does not see, or before it lowered): the count includes the Received:
 * field we added, so one more is allowed than at DATA.
 */
static bool
too_many_hops(const struct config *cfg, struct qitem *q)
{
	long	n = notice_hops_file(q->fd, q->env.body_off, q->env.body_len);

	if (n > (long)cfg->smtp.hop_limit + 1) {
		log_warnx("id=%s: %ld Received: header fields, smtp.hop_limit "
		    "is %d: a mail loop", q->qid, n, cfg->smtp.hop_limit);
		return true;
	}
	return false;
}

/*
 * Opens, locks and reads dir/qid. Returns false (nothing to do: gone,
 * busy with another deliverer, or corrupt and moved aside).
 */
static bool
qitem_open(struct runner *rn, struct qitem *q)
{
	struct reason	r;
	struct stat	st1, st2;
	struct flock	fl;
	char		path[QUEUE_RELPATH_MAX], to[QUEUE_RELPATH_MAX];
	size_t		k;

	snprintf(path, sizeof(path), "%s/%s", q->dir, q->qid);
	q->fd = openat(rn->qfd, path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (q->fd == -1 && errno == ENOENT) {
		/* "maild queue requeue" moves deferred ones into active/ */
		q->dir = strcmp(q->dir, QUEUE_DIR_ACTIVE) == 0 ?
		    QUEUE_DIR_DEFERRED : QUEUE_DIR_ACTIVE;
		snprintf(path, sizeof(path), "%s/%s", q->dir, q->qid);
		q->fd = openat(rn->qfd, path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	}
	if (q->fd == -1) {
		/*
		 * Gone (delivered by "maild -q", deleted or held by an
		 * admin): forget its retry time, or it would be due again
		 * and again.
		 */
		if (errno == ENOENT)
			forget(rn, q->qid);
		return false;
	}
	/*
	 * An OFD lock, not a POSIX one: the runner keeps files open while
	 * their relays are in flight, and closing any other descriptor of
	 * the same file in this process would drop a POSIX lock. OFD and
	 * POSIX locks conflict, so older deliverers still keep out.
	 */
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(q->fd, F_OFD_SETLK, &fl) == -1) {
		/* another deliverer or an admin has it: look again soon */
		postpone(rn, q->qid);
		goto skip;
	}
	/* it may have been finished and removed, or moved, meanwhile */
	if (fstat(q->fd, &st1) == -1 || fstatat(rn->qfd, path, &st2,
	    AT_SYMLINK_NOFOLLOW) == -1 || st1.st_ino != st2.st_ino ||
	    st1.st_nlink == 0)
		goto skip;
	if (queue_env_read(q->fd, &q->env, &r) == -1) {
		log_warnx("id=%s: corrupt queue file (%s); moved to corrupt/",
		    q->qid, r.text);
		snprintf(to, sizeof(to), QUEUE_DIR_CORRUPT "/%s", q->qid);
		(void)renameat(rn->qfd, path, rn->qfd, to);
		goto skip;
	}
	q->expired = time(NULL) - q->env.arrival >
	    notice_lifetime(rn->cfg, &q->env);
	/* the last attempt's reasons, kept across restarts; advisory */
	if (queue_defer_load(rn->qfd, &q->env) == -1)
		log_warnx("id=%s: ignoring a damaged " QUEUE_DIR_DEFER "/ file",
		    q->qid);
	q->looping = too_many_hops(rn->cfg, q);
	q->rm.fd = q->fd;
	q->rm.env = &q->env;
	q->rm.res = xreallocarray(NULL, q->env.nrcpts ? q->env.nrcpts : 1,
	    sizeof(*q->rm.res));
	for (k = 0; k < q->env.nrcpts; k++)
		q->rm.res[k] = RELAY_RES_NONE;
	q->rm.relayed = xcalloc(q->env.nrcpts ? q->env.nrcpts : 1,
	    sizeof(*q->rm.relayed));
	q->rm.owner = q;
	q->open = true;
	return true;
skip:
	close(q->fd);
	q->fd = -1;
	return false;
}

static bool
rcpt_pending(char status)
{
	return status == QRCPT_PENDING || status == QRCPT_TRYING;
}

static int
item_by_user(const void *a, const void *b)
{
	const struct deliver_item *x = a, *y = b;

	return strcmp(x->env->rcpts[x->rcpt].user, y->env->rcpts[y->rcpt].user);
}

/*
 * Logs the outcome of q's recipients (this attempt's, in q->rm.res: the
 * local ones from the batch, the remote ones from the relay scheduler,
 * which logged those), bounces what failed for good, and removes the
 * file or schedules its next attempt.
 */
static void
qitem_finish(struct runner *rn, struct qitem *q, struct newmail *nm)
{
	const struct config	*cfg = rn->cfg;
	struct queue_env	*env = &q->env;
	struct timespec		 ts[2];
	char			 path[QUEUE_RELPATH_MAX], to[QUEUE_RELPATH_MAX];
	const char		*locked_user = NULL;
	size_t			*bounced, nb = 0, *done, nd = 0, *rel, nr = 0;
	size_t			 i;
	time_t			 now = time(NULL), due;
	bool			 pending = false, temp = false;
	bool			 marked = q->marked || q->rm.marked;

	nm->n = 0;
	bounced = xcalloc(env->nrcpts, sizeof(*bounced));
	done = xcalloc(env->nrcpts, sizeof(*done));
	rel = xcalloc(env->nrcpts, sizeof(*rel));
	for (i = 0; i < env->nrcpts; i++) {
		struct queue_rcpt	*rc = &env->rcpts[i];
		bool			 remote = rc->status == QRCPT_RELAY;
		enum deliver_result	 dr = DELIVER_DEFER;

		if (rc->status == QRCPT_DONE || rc->status == QRCPT_BOUNCED) {
			if (q->rm.res[i] == DELIVER_OK &&
			    strcmp(rc->user, QRCPT_REMOTE) != 0) {
				log_info("id=%s: delivered to=<%s> "
				    "user=%s delay=%.2fs", env->id,
				    rc->addr, rc->user,
				    delay_since(env->arrival));
				if (notice_wanted(rc->notify,
				    BOUNCE_DELIVERED))
					done[nd++] = i;
			}
			if (q->rm.relayed[i])
				rel[nr++] = i;
			continue;
		}
		if (q->looping) {
			reason_set(&rc->why, "5.4.6", "too many hops "
			    "(Received: header fields), mail loop?");
			bounced[nb++] = i;
			continue;
		}
		if (q->rm.res[i] != RELAY_RES_NONE)
			dr = (enum deliver_result)q->rm.res[i];
		else if (remote && rc->why.status[0] == '\0')
			/* a reason kept from an earlier attempt stands */
			reason_set(&rc->why, "4.3.0", "not tried: relay "
			    "unavailable");
		if (dr == DELIVER_BOUNCE) {
			bounced[nb++] = i;
			continue;
		}
		if (dr == DELIVER_LOCKED && locked_user == NULL)
			locked_user = rc->user;
		if (dr != DELIVER_LOCKED)
			temp = true;
		if (q->expired) {
			char why[256];

			snprintf(why, sizeof(why), "delivery time expired: "
			    "%.200s", rc->why.text);
			reason_set(&rc->why, "5.4.7", "%s", why);
			bounced[nb++] = i;
			continue;
		}
		pending = true;
		if (!remote || q->rm.res[i] == RELAY_RES_NONE)
			log_info("id=%s: deferred to=<%s> delay=%.2fs "
			    "reason=\"%s %s\"", env->id, rc->addr,
			    delay_since(env->arrival), rc->why.status,
			    rc->why.text);
	}
	for (i = 0; i < nb; i++) {
		/* the relay scheduler logged the remote's refusal */
		if (env->rcpts[bounced[i]].status == QRCPT_RELAY &&
		    q->rm.res[bounced[i]] == DELIVER_BOUNCE)
			continue;
		log_info("id=%s: bounced to=<%s> delay=%.2fs reason=\"%s %s\"",
		    env->id, env->rcpts[bounced[i]].addr,
		    delay_since(env->arrival), env->rcpts[bounced[i]].why.status,
		    env->rcpts[bounced[i]].why.text);
	}
	if (nb > 0 && bounce(rn, q->fd, env, bounced, nb, nm) == -1)
		pending = temp = true;
	free(bounced);
	success_notice(rn, q, done, nd, BOUNCE_DELIVERED, nm);
	success_notice(rn, q, rel, nr, BOUNCE_RELAYED, nm);
	free(done);
	free(rel);
	if (pending)
		delay_notice(rn, q, now, nm);

	snprintf(path, sizeof(path), "%s/%s", q->dir, q->qid);
	if (!pending && queue_env_done(env)) {
		if (queue_file_retire(rn->qfd, path, q->fd, q->qid,
		    &rn->spares) == -1)
			log_warn("id=%s: unlink", env->id);
		else {
			queue_defer_remove(rn->qfd, env->id);
			log_info("id=%s: removed", env->id);
		}
		forget(rn, q->qid);
		return;
	}
	/* the file stays: its delivered marks must outlive the journal */
	if (marked && fdatasync(q->fd) == -1)
		log_warn("id=%s: fdatasync", env->id);
	(void)queue_attempts_mark(q->fd, env, env->attempts + 1);
	/* what bounces, delay notices and maild -l say (advisory) */
	if (queue_defer_save(rn->qfd, env) == -1)
		log_warn("id=%s: saving the reasons in " QUEUE_DIR_DEFER "/",
		    env->id);
	due = now + ((locked_user && !temp) ? cfg->queue.locked_retry :
	    backoff(cfg, env->attempts));
	/* not before its destination's suspension ends */
	if (due < q->rm.not_before)
		due = q->rm.not_before;
	ts[0].tv_sec = now;
	ts[0].tv_nsec = 0;
	ts[1].tv_sec = due;
	ts[1].tv_nsec = 0;
	(void)futimens(q->fd, ts);
	if (strcmp(q->dir, QUEUE_DIR_ACTIVE) == 0) {
		snprintf(to, sizeof(to), QUEUE_DIR_DEFERRED "/%s", q->qid);
		if (renameat(rn->qfd, path, rn->qfd, to) == -1)
			log_warn("id=%s: move to deferred", env->id);
	}
	remember(rn, q->qid, due, locked_user && !temp ? locked_user : NULL);
}

static void
qitem_free(struct qitem *q)
{
	if (q->open) {
		queue_env_free(&q->env);
		close(q->fd);
	}
	free(q->rm.res);
	free(q->rm.relayed);
	free(q);
}

static bool
has_remote(const struct queue_env *env)
{
	size_t	i;

	for (i = 0; i < env->nrcpts; i++)
		if (env->rcpts[i].status == QRCPT_RELAY)
			return true;
	return false;
}

/* The relay scheduler is done with a message's remote recipients. */
static void
relay_done(void *arg, struct relay_msg *m)
{
	struct runner	*rn = arg;
	struct qitem	*q = m->owner;
	struct newmail	 nm;
	size_t		 k;

	qitem_finish(rn, q, &nm);
	/* a bounce or a notice is new mail: deliver it in the next round */
	for (k = 0; k < nm.n; k++)
		want(rn, QUEUE_DIR_ACTIVE, nm.id[k]);
	qitem_free(q);
}

/*
 * Works on up to BATCH_FILES queue files from the to-do list: their
 * local recipients are grouped by maildrop and each group delivered
 * with one lock and one fsync, under the journal lock; their remote
 * ones go to the relay scheduler, which keeps the file (open and
 * locked) until its workers are done, without making us wait.
 */
static void
work_batch(struct runner *rn)
{
	struct qitem		**q;
	struct deliver_item	*items = NULL;
	struct newmail		 nm;
	size_t			 n, i, k, nitems = 0, g, nmbox;
	char			**bounces = NULL;
	size_t			 nbounces = 0;

	n = rn->ntodo < BATCH_FILES ? rn->ntodo : BATCH_FILES;
	q = xcalloc(n, sizeof(*q));
	for (i = 0; i < n; i++) {
		q[i] = xcalloc(1, sizeof(**q));
		q[i]->dir = rn->todo[i].dir;
		memcpy(q[i]->qid, rn->todo[i].qid, sizeof(q[i]->qid));
		q[i]->fd = -1;
	}
	memmove(rn->todo, rn->todo + n, (rn->ntodo - n) * sizeof(*rn->todo));
	rn->ntodo -= n;

	if (journal_lock(&rn->j) == -1) {
		for (i = 0; i < n; i++)
			qitem_free(q[i]);
		free(q);
		return;
	}
	for (i = 0; i < n; i++) {
		/* its relays are still out: their end finishes it */
		if (relay_sched_busy(rn->rs, q[i]->qid)) {
			forget(rn, q[i]->qid);
			continue;
		}
		if (!qitem_open(rn, q[i]) || q[i]->looping)
			continue;
		for (k = 0; k < q[i]->env.nrcpts; k++) {
			struct queue_rcpt *rc = &q[i]->env.rcpts[k];

			if (!rcpt_pending(rc->status) ||
			    strcmp(rc->user, QRCPT_REMOTE) == 0)
				continue;
			items = xreallocarray(items, nitems + 1,
			    sizeof(*items));
			memset(&items[nitems], 0, sizeof(*items));
			items[nitems].qfd = q[i]->fd;
			items[nitems].env = &q[i]->env;
			items[nitems].rcpt = k;
			nitems++;
		}
	}
	/* .forward, programs and files first; the rest go to maildrops */
	nmbox = forward_batch(rn->cfg, rn->al, items, nitems);
	if (nmbox > 0)
		qsort(items, nmbox, sizeof(*items), item_by_user);
	for (i = 0; i < nmbox; i = g) {
		const char *user = items[i].env->rcpts[items[i].rcpt].user;

		for (g = i + 1; g < nmbox && strcmp(user,
		    items[g].env->rcpts[items[g].rcpt].user) == 0; g++)
			;
		deliver_local_batch(rn->cfg, &rn->j, user, items + i, g - i);
	}
	/* this round's local outcomes, into each file's own table */
	for (k = 0; k < nitems; k++) {
		struct qitem *o = NULL;

		for (i = 0; i < n && o == NULL; i++)
			if (q[i]->open && &q[i]->env == items[k].env)
				o = q[i];
		if (o == NULL)
			continue;
		o->rm.res[items[k].rcpt] = (int)items[k].result;
		o->env.rcpts[items[k].rcpt].why = items[k].why;
		o->env.rcpts[items[k].rcpt].last_attempt = time(NULL);
		if (items[k].result == DELIVER_OK)
			o->marked = true;
	}
	for (i = 0; i < n; i++) {
		if (!q[i]->open)
			continue;
		/*
		 * A mail loop is bounced, not relayed, and so is a message
		 * past its lifetime, with the last attempt's reason (the
		 * defer/ file): qitem_finish.
		 */
		if (has_remote(&q[i]->env) && !q[i]->looping &&
		    !q[i]->expired) {
			/*
			 * The journal may be compacted before the relays
			 * are back: the local marks must be durable first.
			 */
			if (q[i]->marked && fdatasync(q[i]->fd) == -1)
				log_warn("id=%s: fdatasync", q[i]->qid);
			if (relay_sched_submit(rn->rs, &q[i]->rm)) {
				forget(rn, q[i]->qid);
				q[i] = NULL;	/* relay_done() finishes it */
				continue;
			}
		}
		qitem_finish(rn, q[i], &nm);
		for (k = 0; k < nm.n; k++) {
			bounces = xreallocarray(bounces, nbounces + 1,
			    sizeof(*bounces));
			bounces[nbounces++] = xstrdup(nm.id[k]);
		}
	}
	for (i = 0; i < n; i++)
		if (q[i] != NULL)
			qitem_free(q[i]);
	/*
	 * Compact when large, or when there is nothing left to do (the
	 * long-lived runner does that once it has been idle a while).
	 */
	if ((rn->ntodo == 0 && nbounces == 0 && !rn->lazy_compact) ||
	    journal_wants_compaction(&rn->j))
		if (journal_compact(&rn->j) == -1)
			log_warn("compacting the delivery journal");
	journal_unlock(&rn->j);
	/* a bounce is new mail: deliver it in the next round */
	for (i = 0; i < nbounces; i++) {
		want(rn, QUEUE_DIR_ACTIVE, bounces[i]);
		free(bounces[i]);
	}
	free(bounces);
	free(items);
	free(q);
}

/*
 * The runner has had nothing to do for COMPACT_IDLE_MS: the deliveries
 * the journal still records are settled, so it may forget them.
 */
static void
runner_idle(struct runner *rn)
{
	if (rn->j.size == 0 || journal_lock(&rn->j) == -1)
		return;
	if (journal_compact(&rn->j) == -1)
		log_warn("compacting the delivery journal");
	journal_unlock(&rn->j);
}

static void
run_todo(struct runner *rn)
{
	while (rn->ntodo > 0 && !stop)
		work_batch(rn);
}

/* Calls fn for every queue id in dir; returns how many. */
static size_t
scan(struct runner *rn, const char *dir,
    void (*fn)(struct runner *, const char *, const char *, time_t))
{
	struct dirent	*e;
	struct stat	 st;
	DIR		*d;
	char		 path[320];
	char		**ids = NULL;
	time_t		*mt = NULL;
	size_t		 n = 0, i;
	int		 fd;

	if ((fd = openat(rn->qfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1 || (d = fdopendir(fd)) == NULL) {
		log_warn("open queue directory %s", dir);
		if (fd != -1)
			close(fd);
		return 0;
	}
	/* collect first: processing renames files out of this directory */
	while ((e = readdir(d)) != NULL) {
		if (!queue_id_valid(e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (fstatat(rn->qfd, path, &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		ids = xreallocarray(ids, n + 1, sizeof(*ids));
		mt = xreallocarray(mt, n + 1, sizeof(*mt));
		ids[n] = xstrdup(e->d_name);
		mt[n++] = st.st_mtime;
	}
	closedir(d);
	for (i = 0; i < n; i++) {
		fn(rn, dir, ids[i], mt[i]);
		free(ids[i]);
	}
	free(ids);
	free(mt);
	return n;
}

static void
scan_want(struct runner *rn, const char *dir, const char *qid, time_t mt)
{
	(void)mt;
	want(rn, strcmp(dir, QUEUE_DIR_ACTIVE) == 0 ? QUEUE_DIR_ACTIVE :
	    QUEUE_DIR_DEFERRED, qid);
}

/* "maild -q": a deferred message only once its time (the mtime) is due */
static void
scan_due(struct runner *rn, const char *dir, const char *qid, time_t mt)
{
	if (mt <= time(NULL))
		want(rn, dir, qid);
}

static void
scan_deferred(struct runner *rn, const char *dir, const char *qid, time_t mt)
{
	(void)dir;
	remember(rn, qid, mt, NULL);
}

static int
runner_init(struct runner *rn, const struct config *cfg,
    const struct aliases *al)
{
	memset(rn, 0, sizeof(*rn));
	rn->cfg = cfg;
	rn->al = al;
	rn->j.fd = rn->j.qdirfd = -1;
	rn->qfd = open(cfg->queue_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rn->qfd == -1) {
		log_warn("open queue %s", cfg->queue_dir);
		return -1;
	}
	if (journal_open(&rn->j, cfg->queue_dir) == -1) {
		close(rn->qfd);
		return -1;
	}
	/* a deliverer that died left its batch unresolved: settle it first */
	if (journal_lock(&rn->j) == -1) {
		journal_close(&rn->j);
		close(rn->qfd);
		return -1;
	}
	if (rn->j.size > 0)
		deliver_local_recover(cfg, &rn->j);
	journal_unlock(&rn->j);
	rn->rs = relay_sched_new(cfg, relay_done, rn);
	return 0;
}

static void
runner_free(struct runner *rn)
{
	/* relays still out: their files are retried by the next runner */
	relay_sched_free(&rn->rs);
	while (rn->ndef > 0)
		forget(rn, rn->def[0].qid);
	free(rn->def);
	free(rn->todo);
	journal_close(&rn->j);
	if (rn->qfd != -1)
		close(rn->qfd);
}

static void
on_notice(struct runner *rn, const char *buf, size_t n)
{
	char	arg[USER_NAME_MAX + 1];
	size_t	i;

	if (n < 3 || buf[1] != ' ' || n - 2 > USER_NAME_MAX)
		return;
	memcpy(arg, buf + 2, n - 2);
	arg[n - 2] = '\0';
	if (buf[0] == 'Q' && queue_id_valid(arg))
		want(rn, QUEUE_DIR_ACTIVE, arg);
	else if (buf[0] == 'U') {
		/* that maildrop was just released: try its mail now */
		for (i = 0; i < rn->ndef; i++)
			if (rn->def[i].waiting_user != NULL &&
			    strcmp(rn->def[i].waiting_user, arg) == 0)
				rn->def[i].due = 0;
	}
}

/*
 * Reads what the monitors wrote into the notification pipe and acts on
 * each complete line. Returns the number of lines, or -1 at EOF.
 */
static int
read_notices(struct runner *rn, int fd, char *buf, size_t bufsz,
    size_t *have)
{
	char	*p, *nl;
	ssize_t	 n;
	int	 lines = 0;

	for (;;) {
		n = read(fd, buf + *have, bufsz - *have);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0)
			return -1;
		if (n < 0)
			return lines;	/* EAGAIN: drained */
		*have += (size_t)n;
		p = buf;
		while ((nl = memchr(p, '\n', *have - (size_t)(p - buf))) !=
		    NULL) {
			on_notice(rn, p, (size_t)(nl - p));
			lines++;
			p = nl + 1;
		}
		*have -= (size_t)(p - buf);
		memmove(buf, p, *have);
		if (*have == bufsz)
			*have = 0;	/* a line this long is not ours */
	}
}

/*
 * Opens queue_dir/notify, where "maild queue ..." writes "Q id" for the
 * messages it moved into active/. Read-write, so that the FIFO never
 * reads as EOF when no admin has it open. -1 if it cannot be used (the
 * periodic scan still finds everything).
 */
static int
admin_fifo_open(struct runner *rn)
{
	struct stat	st;
	int		fd;

	fd = openat(rn->qfd, QUEUE_NOTIFY_FIFO, O_RDWR | O_NONBLOCK |
	    O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		log_warn("open %s/" QUEUE_NOTIFY_FIFO, rn->cfg->queue_dir);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISFIFO(st.st_mode) ||
	    (st.st_mode & 077) != 0) {
		log_warnx("%s/" QUEUE_NOTIFY_FIFO " is not a private FIFO; "
		    "ignoring it", rn->cfg->queue_dir);
		close(fd);
		return -1;
	}
	return fd;
}

void
queue_runner(const struct config *cfg, const struct aliases *al,
    int notify_fd, int life_fd)
{
	struct runner		 rn;
	struct pollfd		*pfd = NULL;
	struct sigaction	 sa;
	char			 buf[4096], abuf[4096];
	time_t			 now, next_scan, soonest, last_busy_scan = 0;
	struct timespec		 last_batch = { 0, 0 }, ts;
	long long		 linger = 0;
	size_t			 i, have = 0, ahave = 0, nrelay;
	int			 timeout, afd, nready, rt;
	bool			 busy = false;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGHUP, SIG_IGN);
	if (runner_init(&rn, cfg, al) == -1)
		return;
	rn.lazy_compact = true;
	(void)fcntl(notify_fd, F_SETFL, O_NONBLOCK);
	afd = admin_fifo_open(&rn);
	queue_clean_incoming(cfg, INCOMING_GRACE);
	queue_spares_trim(rn.qfd, &rn.spares, QUEUE_SPARES_MAX);
	scan(&rn, QUEUE_DIR_DEFERRED, scan_deferred);
	scan(&rn, QUEUE_DIR_ACTIVE, scan_want);
	/* what sendmail left while maild was down (pickup.c) */
	pickup_scan(cfg);
	next_scan = time(NULL) + RESCAN_SEC;

	while (!stop) {
		/* news first, so that one batch takes in everything waiting */
		if (read_notices(&rn, notify_fd, buf, sizeof(buf), &have) > 0)
			busy = true;
		if (afd != -1 && read_notices(&rn, afd, abuf, sizeof(abuf),
		    &ahave) > 0)
			busy = true;
		now = time(NULL);
		for (i = 0; i < rn.ndef; i++)
			if (rn.def[i].due <= now)
				want(&rn, QUEUE_DIR_DEFERRED, rn.def[i].qid);
		if (now >= next_scan) {
			scan(&rn, QUEUE_DIR_ACTIVE, scan_want);
			queue_clean_incoming(cfg, INCOMING_GRACE);
			queue_spares_trim(rn.qfd, &rn.spares,
			    QUEUE_SPARES_MAX);
			pickup_scan(cfg);
			next_scan = time(NULL) + RESCAN_SEC;
		}
		if (rn.ntodo > 0) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			linger = BATCH_LINGER_MS -
			    ((long long)(ts.tv_sec - last_batch.tv_sec) * 1000 +
			    (ts.tv_nsec - last_batch.tv_nsec) / 1000000);
			if (rn.ntodo >= BATCH_FILES || linger <= 0) {
				last_batch = ts;
				(void)fault_point("queue.batch");
				run_todo(&rn);
				continue;
			}
		} else
			linger = 0;
		soonest = next_scan;
		for (i = 0; i < rn.ndef; i++)
			if (rn.def[i].due < soonest)
				soonest = rn.def[i].due;
		now = time(NULL);
		timeout = soonest > now ? (int)(soonest - now) * 1000 : 0;
		if (busy && timeout > 1000)
			timeout = 1000;
		if (rn.j.size > 0 && timeout > COMPACT_IDLE_MS)
			timeout = COMPACT_IDLE_MS;
		if ((rt = relay_sched_timeout(rn.rs)) >= 0 && rt < timeout)
			timeout = rt;
		if (linger > 0)
			timeout = (int)linger;	/* then the batch waiting */
		pfd = xreallocarray(pfd, 3 + (size_t)cfg->relay.max_processes,
		    sizeof(*pfd));
		pfd[0].fd = notify_fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = life_fd;
		pfd[1].events = POLLIN;
		pfd[2].fd = afd;	/* -1: ignored by poll */
		pfd[2].events = POLLIN;
		/* the relay workers' results */
		nrelay = relay_sched_pollfds(rn.rs, pfd + 3,
		    (size_t)cfg->relay.max_processes);
		if ((nready = poll(pfd, 3 + nrelay, timeout)) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("poll");
			break;
		}
		if (nready == 0 && timeout >= COMPACT_IDLE_MS && rn.j.size > 0)
			runner_idle(&rn);
		relay_sched_events(rn.rs, pfd + 3, nrelay);
		if (pfd[1].revents != 0) {
			log_info("master went away; queue runner exiting");
			break;
		}
		if (linger == 0 && !(pfd[0].revents & (POLLIN | POLLHUP)) &&
		    !(pfd[2].revents & POLLIN) && busy &&
		    time(NULL) > last_busy_scan) {
			/*
			 * Gone idle after a burst: the pipe may have been
			 * full, so look for messages nobody told us about.
			 */
			busy = false;
			last_busy_scan = time(NULL);
			scan(&rn, QUEUE_DIR_ACTIVE, scan_want);
		}
	}
	if (afd != -1)
		close(afd);
	free(pfd);
	runner_free(&rn);
}

/* Runs the to-do list and waits for the relays it starts, and so on. */
static void
run_all(struct runner *rn)
{
	do {
		run_todo(rn);
		relay_sched_drain(rn->rs);
	} while (rn->ntodo > 0 && !stop);
}

int
queue_run_once(const struct config *cfg, const struct aliases *al,
    bool force)
{
	struct runner	rn;

	if (runner_init(&rn, cfg, al) == -1)
		return -1;
	scan(&rn, QUEUE_DIR_ACTIVE, scan_want);
	scan(&rn, QUEUE_DIR_DEFERRED, force ? scan_want : scan_due);
	run_all(&rn);
	runner_free(&rn);
	return 0;
}

void
queue_deliver_id(const struct config *cfg, const struct aliases *al,
    const char *qid)
{
	struct runner	rn;

	if (!queue_id_valid(qid) || runner_init(&rn, cfg, al) == -1)
		return;
	want(&rn, QUEUE_DIR_ACTIVE, qid);
	run_all(&rn);
	runner_free(&rn);
}

void
queue_clean_incoming(const struct config *cfg, int grace)
{
	struct dirent	*e;
	struct stat	 st;
	DIR		*d;
	char		 path[PATH_MAX];
	time_t		 now = time(NULL);
	int		 fd;

	snprintf(path, sizeof(path), "%s/" QUEUE_DIR_INCOMING,
	    cfg->queue_dir);
	if ((d = opendir(path)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (!queue_id_valid(e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/" QUEUE_DIR_INCOMING "/%s",
		    cfg->queue_dir, e->d_name);
		if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
		    O_CLOEXEC)) == -1)
			continue;
		/* a writer holds it (queue_writer_begin): still arriving */
		if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
		    now - st.st_mtime < grace ||
		    flock(fd, LOCK_EX | LOCK_NB) == -1) {
			close(fd);
			continue;
		}
		/* never acknowledged to a client: safe to drop */
		if (unlink(path) == 0)
			log_info("id=%s: removed unfinished incoming message",
			    e->d_name);
		close(fd);
	}
	closedir(d);
}

/* "3d04h", "2h05m", "7m", "12s": a duration for the listing. */
static void
fmt_age(long long sec, char *buf, size_t size)
{
	if (sec < 0)
		sec = 0;
	if (sec >= 86400)
		snprintf(buf, size, "%lldd%02lldh", sec / 86400,
		    sec % 86400 / 3600);
	else if (sec >= 3600)
		snprintf(buf, size, "%lldh%02lldm", sec / 3600,
		    sec % 3600 / 60);
	else if (sec >= 60)
		snprintf(buf, size, "%lldm", sec / 60);
	else
		snprintf(buf, size, "%llds", sec);
}

/* One message of the listing: fd is dir/id, open. 0, or -1 unreadable. */
static int
list_one(int qfd, int fd, const char *dir, FILE *fp)
{
	struct queue_env	 env;
	struct reason		 r;
	struct stat		 st;
	struct tm		 tm;
	char			 age[32], when[32], next[96];
	time_t			 now = time(NULL);
	size_t			 i;

	if (queue_env_read(fd, &env, &r) == -1)
		return -1;
	(void)queue_defer_load(qfd, &env);	/* advisory: may be absent */
	fmt_age((long long)(now - env.arrival), age, sizeof(age));
	fprintf(fp, "%-16s %-8s %10lld  %-8s <%s>\n", env.id, dir,
	    (long long)env.body_len, age, env.sender);
	/* the next attempt: a deferred file's mtime; active/ is now */
	if (strcmp(dir, QUEUE_DIR_HOLD) == 0)
		snprintf(next, sizeof(next), "none (on hold)");
	else if (strcmp(dir, QUEUE_DIR_DEFERRED) == 0 && fstat(fd, &st) == 0 &&
	    st.st_mtime > now) {
		localtime_r(&st.st_mtime, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		fmt_age((long long)(st.st_mtime - now), age, sizeof(age));
		snprintf(next, sizeof(next), "%s (in %s)", when, age);
	} else
		snprintf(next, sizeof(next), "now");
	for (i = 0; i < env.nrcpts; i++) {
		const struct queue_rcpt *rc = &env.rcpts[i];

		fprintf(fp, "%47s %c <%s>%s\n", "", rc->status, rc->addr,
		    rc->status == QRCPT_RELAY ? " (awaiting relay)" : "");
		if (rc->status == QRCPT_DONE || rc->status == QRCPT_BOUNCED)
			continue;
		if (rc->why.status[0] != '\0' || rc->why.text[0] != '\0')
			fprintf(fp, "%51s last: %s %s\n", "", rc->why.status,
			    rc->why.text);
		if (rc->diagnostic != NULL)
			fprintf(fp, "%51s said: %s%s%s\n", "", rc->diagnostic,
			    rc->remote_mta ? " by " : "",
			    rc->remote_mta ? rc->remote_mta : "");
		fprintf(fp, "%51s next attempt: %s\n", "", next);
	}
	queue_env_free(&env);
	return 0;
}

int
queue_list(const struct config *cfg, FILE *fp)
{
	static const char *dirs[] = { QUEUE_DIR_ACTIVE, QUEUE_DIR_DEFERRED,
	    QUEUE_DIR_HOLD };
	struct dirent	*e;
	char		 path[PATH_MAX];
	DIR		*d;
	size_t		 k;
	int		 fd, qfd, count = 0;

	if ((qfd = open(cfg->queue_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		log_warn("open queue %s", cfg->queue_dir);
		return -1;
	}
	fprintf(fp, "%-16s %-8s %10s  %-8s %s\n", "Queue ID", "State",
	    "Size", "Age", "Sender / recipients");
	for (k = 0; k < NITEMS(dirs); k++) {
		snprintf(path, sizeof(path), "%s/%s", cfg->queue_dir, dirs[k]);
		if ((d = opendir(path)) == NULL)
			continue;
		while ((e = readdir(d)) != NULL) {
			if (!queue_id_valid(e->d_name))
				continue;
			snprintf(path, sizeof(path), "%s/%s/%s",
			    cfg->queue_dir, dirs[k], e->d_name);
			if ((fd = open(path, O_RDONLY | O_NOFOLLOW |
			    O_CLOEXEC)) == -1)
				continue;
			if (list_one(qfd, fd, dirs[k], fp) == 0)
				count++;
			close(fd);
		}
		closedir(d);
	}
	close(qfd);
	fprintf(fp, "-- %d message%s\n", count, count == 1 ? "" : "s");
	return count;
}
