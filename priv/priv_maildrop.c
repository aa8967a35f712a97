/*
 * The POP3 session's maildrop in the monitor (root): opening and locking
 * the authenticated user's maildrop and handing the descriptor to the
 * worker, the index file, and the privileged steps of the update at
 * QUIT (RFC 1939 6): a new file made beside the maildrop, and its rename
 * over the maildrop. The worker reads, copies and fsyncs; it never opens
 * a path and never needs the user's uid.
 *
 * The monitor holds the locks (the dotlock when configured, and the
 * fcntl lock) for the whole session, so it alone knows when they end: at
 * PRIV_MAILDROP_RELEASE, at the end of the session, or when the worker
 * dies (priv_session_reset). Then it tells the queue runner ("U user"),
 * which retries at once the deliveries the session made wait.
 *
 * The update file is SPOOL_DIR/.USER.pop3-update: one per user, since
 * only the lock holder makes one. A name that starts with a dot cannot
 * be another user's maildrop. One that is there when a session takes the
 * locks was left by a crash (before the rename) and is removed.
 *
 * Requests are allowed by the table in priv.c: all of them only for a
 * POP3 worker, inside a session, after a successful login; OPEN only
 * when no maildrop is held, INDEX_OPEN and TMP only while it is open and
 * not being updated, COMMIT only after TMP, RELEASE while one is held.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "log.h"
#include "maildrop.h"
#include "mbox_lock.h"
#include "mbox_open.h"
#include "priv.h"
#include "priv_proto.h"
#include "xmalloc.h"

/* Refresh the dotlock this often (mbox_lock.h asks for STALE / 2). */
#define DOTLOCK_TOUCH_SEC	(MBOX_DOTLOCK_STALE_SEC / 4)

struct priv_maildrop {
	struct maildrop	 drop;		/* SPOOL_DIR/USER, locked */
	char		 tmp_path[PATH_MAX];	/* .../.USER.pop3-update */
	time_t		 touched;	/* dotlock refreshed (monotonic) */
	time_t		 opened;
	bool		 index_given;
	int		 tmp_fd;	/* the update file, or -1 */
	dev_t		 tmp_dev;
	ino_t		 tmp_ino;
};

static time_t	md_now(void);
static int	md_state_dir(const struct config *, const char *,
		    struct reason *);
static int	md_login_delay(struct priv *, struct reason *);
static void	md_login_record(struct priv *);
static void	md_remove_tmp(struct priv_maildrop *);
static void	md_unlock(struct priv_maildrop *);
static int	md_sync_dir(const char *);

static time_t
md_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/*
 * Opens STATE_DIR/name, a directory only its owner may enter, making it
 * when missing. It must belong to state_dir's owner (root; the user who
 * runs the tests, whom uid_wrapper shows as root but who owns the files)
 * and be writable by no one else. Returns the descriptor, or -1 with r
 * filled (logged).
 */
static int
md_state_dir(const struct config *cfg, const char *name, struct reason *r)
{
	struct stat	st, top;
	int		dfd, fd;

	if ((dfd = open(cfg->state_dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || fstat(dfd, &top) == -1) {
		log_warn("state_dir %s", cfg->state_dir);
		if (dfd != -1)
			close(dfd);
		reason_set(r, "4.3.0", "cannot open state_dir");
		return -1;
	}
	if (mkdirat(dfd, name, 0700) == -1 && errno != EEXIST) {
		log_warn("mkdir %s/%s", cfg->state_dir, name);
		close(dfd);
		reason_set(r, "4.3.0", "cannot make %s directory", name);
		return -1;
	}
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	close(dfd);
	if (fd == -1) {
		log_warn("open %s/%s", cfg->state_dir, name);
		reason_set(r, "4.3.0", "cannot open %s directory", name);
		return -1;
	}
	/* what we keep there is private: refuse a directory others can use */
	if (fstat(fd, &st) == -1 || st.st_uid != top.st_uid ||
	    (st.st_mode & 077) != 0) {
		log_warnx("%s/%s: not a private directory of ours (owner %lu, "
		    "mode %o)", cfg->state_dir, name, (unsigned long)st.st_uid,
		    (unsigned)st.st_mode & 07777);
		close(fd);
		reason_set(r, "4.3.0", "%s directory is unsafe", name);
		return -1;
	}
	return fd;
}

/*
 * LOGIN-DELAY (RFC 2449 6.7): the time of a user's last login is the
 * modification time of STATE_DIR/login/USER. Returns 0 when the login
 * may go on, 1 (r filled) when it comes too soon. A state directory that
 * does not work is logged and does not stop the login.
 */
static int
md_login_delay(struct priv *p, struct reason *r)
{
	struct reason	dummy;
	struct stat	st;
	time_t		now = time(NULL), next;
	int		dfd;

	if (p->cfg->pop3.login_delay <= 0)
		return 0;
	if ((dfd = md_state_dir(p->cfg, "login", &dummy)) == -1)
		return 0;
	if (fstatat(dfd, p->user, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode)) {
		next = st.st_mtime + p->cfg->pop3.login_delay;
		if (now < next && now >= st.st_mtime) {
			close(dfd);
			reason_set(r, PRIV_ST_LOGIN_DELAY, "wait %lld seconds "
			    "between logins", (long long)(next - now));
			return 1;
		}
	}
	close(dfd);
	return 0;
}

static void
md_login_record(struct priv *p)
{
	struct reason	dummy;
	int		dfd, fd;

	if (p->cfg->pop3.login_delay <= 0)
		return;
	if ((dfd = md_state_dir(p->cfg, "login", &dummy)) == -1)
		return;
	fd = openat(dfd, p->user, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC | O_NOCTTY, 0600);
	if (fd == -1 || futimens(fd, NULL) == -1)
		log_warn("recording the login time of %s", p->user);
	if (fd != -1)
		close(fd);
	close(dfd);
}

/* Removes the update file if the path still names ours; closes it. */
static void
md_remove_tmp(struct priv_maildrop *md)
{
	struct stat	st;

	if (md->tmp_fd == -1)
		return;
	if (lstat(md->tmp_path, &st) == 0 && st.st_dev == md->tmp_dev &&
	    st.st_ino == md->tmp_ino && unlink(md->tmp_path) == -1)
		log_warn("unlink %s", md->tmp_path);
	/* closing drops our lock on it, if any: it is gone anyway */
	close(md->tmp_fd);
	md->tmp_fd = -1;
}

static void
md_unlock(struct priv_maildrop *md)
{
	if (md->tmp_fd != -1) {
		(void)mbox_unlock_fcntl(md->tmp_fd);
		close(md->tmp_fd);
		md->tmp_fd = -1;
	}
	maildrop_close(&md->drop);
}

/* fsyncs the directory of path, so that a rename in it is durable. */
static int
md_sync_dir(const char *path)
{
	char	dir[PATH_MAX], *slash;
	int	fd, rc, saved;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

int
priv_answer_maildrop_open(struct priv *p, struct ipc_msg *m)
{
	struct priv_maildrop	*md;
	struct reason		 r;
	struct stat		 st;

	if (ipc_get_end(m) == -1)
		return PRIV_H_REFUSE;
	md = xcalloc(1, sizeof(*md));
	md->drop.fd = md->tmp_fd = -1;
	if (md_login_delay(p, &r) != 0)
		goto fail;
	/* a missing maildrop is an empty one: make it */
	switch (maildrop_open(p->cfg, p->user, MAILDROP_CREATE,
	    POP3_LOCK_WAIT_MS, &md->drop, &r)) {
	case MAILDROP_OK:
		break;
	case MAILDROP_BUSY:
		reason_set(&r, PRIV_ST_IN_USE, "maildrop is locked by another "
		    "session");
		goto fail;
	case MAILDROP_NOUSER:
		/* PAM knew the name, NSS does not, or it names no maildrop */
		log_warnx("user name %s cannot name a maildrop: %s", p->user,
		    r.text);
		reason_set(&r, "5.2.0", "no maildrop for this user name");
		goto fail;
	default:
		goto fail;
	}
	if ((size_t)snprintf(md->tmp_path, sizeof(md->tmp_path),
	    "%s/.%s.pop3-update", p->cfg->spool_dir, md->drop.user.name) >=
	    sizeof(md->tmp_path)) {
		reason_set(&r, "5.2.0", "maildrop path too long");
		goto fail;
	}

	/* we hold the locks: an update file still there is a crash's */
	if (lstat(md->tmp_path, &st) == 0) {
		if (unlink(md->tmp_path) == -1)
			log_warn("unlink stale %s", md->tmp_path);
		else
			log_info("removed stale update file %s (%lld bytes)",
			    md->tmp_path, (long long)st.st_size);
	}
	if (fstat(md->drop.fd, &st) == -1)
		st.st_size = -1;
	md_login_record(p);
	md->opened = md->touched = md_now();
	p->pop3 = md;
	p->md = MD_OPEN;
	log_info("maildrop open user=%s size=%lld", p->user,
	    (long long)st.st_size);
	(void)priv_reply_begin(p);
	return priv_reply_send(p, md->drop.fd);

fail:
	md_unlock(md);
	free(md);
	log_info("maildrop refused user=%s: %s %s", p->user, r.status, r.text);
	/* the login is over: the worker is back in AUTHORIZATION */
	p->authed = false;
	p->user[0] = '\0';
	return priv_reply_fail(p, &r);
}

int
priv_answer_index_open(struct priv *p, struct ipc_msg *m)
{
	struct priv_maildrop	*md = p->pop3;
	struct reason		 r;
	struct stat		 st, dst;
	int			 dfd, fd, fl, rc;

	if (ipc_get_end(m) == -1)
		return PRIV_H_REFUSE;
	if (md->index_given)
		return PRIV_H_DROP;	/* once per session */
	md->index_given = true;
	if (!p->cfg->pop3.index) {
		reason_set(&r, "5.3.3", "no index configured");
		return priv_reply_fail(p, &r);
	}
	if ((dfd = md_state_dir(p->cfg, "index", &r)) == -1)
		return priv_reply_fail(p, &r);
	fd = openat(dfd, p->user, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC | O_NOCTTY, 0600);
	if (fstat(dfd, &dst) == -1)
		dst.st_uid = (uid_t)-1;
	close(dfd);
	if (fd == -1) {
		log_warn("index %s/index/%s", p->cfg->state_dir, p->user);
		reason_set(&r, "4.3.0", "cannot open the index");
		return priv_reply_fail(p, &r);
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_nlink != 1 || st.st_uid != dst.st_uid ||
	    (fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1) {
		log_warnx("index %s/index/%s: not a plain file of ours",
		    p->cfg->state_dir, p->user);
		close(fd);
		reason_set(&r, "4.3.0", "unsafe index file");
		return priv_reply_fail(p, &r);
	}
	(void)priv_reply_begin(p);
	rc = priv_reply_send(p, fd);
	close(fd);	/* the worker has its own now */
	return rc;
}

int
priv_answer_maildrop_tmp(struct priv *p, struct ipc_msg *m)
{
	struct priv_maildrop	*md = p->pop3;
	struct reason		 r;
	struct stat		 st, ost;
	int			 fd, saved;

	if (ipc_get_end(m) == -1)
		return PRIV_H_REFUSE;
	if (fstat(md->drop.fd, &ost) == -1) {
		log_warn("fstat %s", md->drop.path);
		reason_set(&r, "4.2.0", "cannot examine the maildrop");
		return priv_reply_fail(p, &r);
	}
	fd = open(md->tmp_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC | O_NOCTTY, 0600);
	if (fd == -1) {
		saved = errno;
		log_warn("create %s", md->tmp_path);
		reason_set(&r, saved == ENOSPC ? "4.3.1" : "4.2.0",
		    "cannot make the new maildrop: %s", strerror(saved));
		return priv_reply_fail(p, &r);
	}
	/*
	 * Owner, group and mode of the file it replaces (a 0660 user:mail
	 * maildrop stays one). The owner first: chown clears set-id bits,
	 * and the mode is set last from the old one's permission bits. Where
	 * we may not chown (tests without root) an owner and group that are
	 * already right will do.
	 */
	if ((fchown(fd, ost.st_uid, ost.st_gid) == -1 && (errno != EPERM ||
	    fstat(fd, &st) == -1 || st.st_uid != ost.st_uid ||
	    st.st_gid != ost.st_gid)) ||
	    fchmod(fd, ost.st_mode & 0777) == -1 || fstat(fd, &st) == -1) {
		saved = errno;
		log_warn("set up %s", md->tmp_path);
		(void)unlink(md->tmp_path);	/* ours: O_EXCL made it */
		close(fd);
		reason_set(&r, "4.2.0", "cannot set up the new maildrop: %s",
		    strerror(saved));
		return priv_reply_fail(p, &r);
	}
	md->tmp_fd = fd;
	md->tmp_dev = st.st_dev;
	md->tmp_ino = st.st_ino;
	p->md = MD_TMP;
	(void)priv_reply_begin(p);
	return priv_reply_send(p, fd);
}

int
priv_answer_maildrop_commit(struct priv *p, struct ipc_msg *m)
{
	struct priv_maildrop	*md = p->pop3;
	struct reason		 r;
	struct stat		 st;
	int			 same;

	if (ipc_get_end(m) == -1)
		return PRIV_H_REFUSE;
	/* it must still be the file we made, with nothing linked to it */
	if (lstat(md->tmp_path, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_dev != md->tmp_dev || st.st_ino != md->tmp_ino ||
	    st.st_nlink != 1) {
		log_warnx("update file %s is not the one we made",
		    md->tmp_path);
		reason_set(&r, "4.2.0", "the new maildrop was replaced");
		goto fail;
	}
	if ((same = mbox_same_file(md->drop.fd, md->drop.path)) != 1) {
		log_warnx("maildrop %s was replaced during the session",
		    md->drop.path);
		reason_set(&r, "4.2.0", "the maildrop was replaced");
		goto fail;
	}
	/*
	 * Our own fsync: the worker says it did one, but the rename must
	 * not make a maildrop durable before its content. Then the lock,
	 * so that the new maildrop is ours from the instant it has the name.
	 */
	if (fsync(md->tmp_fd) == -1) {
		log_warn("fsync %s", md->tmp_path);
		reason_set(&r, errno == ENOSPC ? "4.3.1" : "4.2.0",
		    "cannot write the new maildrop");
		goto fail;
	}
	if (mbox_lock_fcntl(md->tmp_fd, 0) == -1) {
		log_warn("lock %s", md->tmp_path);
		reason_set(&r, "4.2.0", "cannot lock the new maildrop");
		goto fail;
	}
	if (fault_point("priv_maildrop.before_rename") == -1 ||
	    rename(md->tmp_path, md->drop.path) == -1) {
		log_warn("rename %s to %s", md->tmp_path, md->drop.path);
		reason_set(&r, "4.2.0", "cannot replace the maildrop");
		goto fail;
	}
	p->md = MD_COMMITTED;
	/*
	 * The rename is done: whether the directory reaches the disk now or
	 * a crash makes it the old maildrop again, either one is whole.
	 */
	if (fault_point("priv_maildrop.after_rename") == -1 ||
	    md_sync_dir(md->drop.path) == -1)
		log_warn("fsync of the directory of %s", md->drop.path);
	log_info("maildrop updated user=%s", p->user);
	return priv_reply_ok(p);

fail:
	md_remove_tmp(md);
	p->md = MD_OPEN;
	return priv_reply_fail(p, &r);
}

int
priv_answer_maildrop_release(struct priv *p, struct ipc_msg *m)
{
	if (ipc_get_end(m) == -1)
		return PRIV_H_REFUSE;
	priv_maildrop_release(p);
	/* a new login starts from AUTH again */
	p->authed = false;
	p->user[0] = '\0';
	return priv_reply_ok(p);
}

void
priv_maildrop_release(struct priv *p)
{
	struct priv_maildrop	*md = p->pop3;

	if (md == NULL) {
		p->md = MD_NONE;
		return;
	}
	/* an update that did not get its rename is thrown away */
	if (p->md != MD_COMMITTED)
		md_remove_tmp(md);
	md_unlock(md);
	log_info("maildrop released user=%s held=%llds", p->user,
	    (long long)(md_now() - md->opened));
	/* deliveries that found it locked may go now */
	priv_notify(p, "U %s", p->user);
	free(md);
	p->pop3 = NULL;
	p->md = MD_NONE;
}

void
priv_maildrop_tick(struct priv *p)
{
	struct priv_maildrop	*md = p->pop3;
	time_t			 now = md_now();

	if (md == NULL || !md->drop.dotlocked || now - md->touched <
	    DOTLOCK_TOUCH_SEC)
		return;
	if (mbox_dotlock_touch(md->drop.path) == -1)
		log_warn("refreshing the dotlock of %s", md->drop.path);
	md->touched = now;
}
