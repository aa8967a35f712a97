/*
 * Local delivery: one queued message into one user's mbox maildrop. Runs
 * in the queue runner (root), never in a network-facing process. The
 * maildrop is opened safely (mbox_open: no symlinks, hard links or
 * foreign owners), locked (dotlock when configured, then fcntl) without
 * waiting: a busy maildrop -- a POP3 session is open -- defers the
 * delivery instead. After the locks, the path is checked to still name
 * the file we hold, since a POP3 update may have replaced it.
 *
 * Exactly once: before appending, the recipient's queue line records
 * "trying at offset N" (the maildrop's size) and is fsync'ed; after the
 * append it says "delivered". A later attempt that finds "trying" asks
 * mbox_append_check what is at N: a whole copy (done), a torn one (cut
 * it off, deliver again), or nothing.
 */
#include "autoconf.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deliver_local.h"
#include "log.h"
#include "mbox_append.h"
#include "mbox_lock.h"
#include "mbox_open.h"
#include "rfc5322.h"

/* Reopens after the maildrop was replaced under us, at most this often. */
#define REOPEN_TRIES	3

static gid_t
mail_gid(const struct config *cfg, const struct passwd *pw)
{
	struct group	*gr;

	if (cfg->mail_group[0] != '\0' && (gr = getgrnam(cfg->mail_group)))
		return gr->gr_gid;
	return pw->pw_gid;
}

enum deliver_result
deliver_local(const struct config *cfg, int qfd, struct queue_env *env,
    size_t i, struct reason *r)
{
	struct queue_rcpt	*rc = &env->rcpts[i];
	struct mbox_append_msg	 msg;
	struct passwd		*pw;
	struct stat		 st;
	char			 path[4096], prefix[SMTP_PATH_MAX * 4 + 64];
	uid_t			 uid;
	gid_t			 gid;
	int			 fd = -1, tries, n;
	bool			 dotlocked = false;
	enum deliver_result	 res = DELIVER_DEFER;

	errno = 0;
	if ((pw = getpwnam(rc->user)) == NULL) {
		if (errno != 0 && errno != ENOENT && errno != ESRCH) {
			reason_set(r, "4.3.0", "user database unavailable");
			return DELIVER_DEFER;
		}
		reason_set(r, "5.1.1", "no such user: %s", rc->user);
		return DELIVER_BOUNCE;
	}
	uid = pw->pw_uid;
	gid = mail_gid(cfg, pw);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", cfg->spool_dir,
	    rc->user) >= sizeof(path)) {
		reason_set(r, "5.3.5", "maildrop path too long");
		return DELIVER_BOUNCE;
	}
	if (rfc5322_return_path(env->sender, prefix, sizeof(prefix)) == -1) {
		reason_set(r, "5.1.7", "sender too long");
		return DELIVER_BOUNCE;
	}
	memset(&msg, 0, sizeof(msg));
	msg.sender = env->sender;
	msg.arrival = env->arrival;
	msg.prefix = prefix;
	msg.prefix_len = strlen(prefix);
	msg.body_fd = qfd;
	msg.body_off = env->body_off;
	msg.body_len = env->body_len;

	for (tries = 0; tries < REOPEN_TRIES; tries++) {
		if ((fd = mbox_open(path, uid, gid, MBOX_OPEN_CREATE, r)) ==
		    -1)
			return DELIVER_DEFER;	/* logged; an admin looks */
		if (cfg->dotlock) {
			if (mbox_dotlock_acquire(path, 0, r) == -1) {
				res = errno == EAGAIN ? DELIVER_LOCKED :
				    DELIVER_DEFER;
				goto out;
			}
			dotlocked = true;
		}
		if (mbox_lock_fcntl(fd, 0) == -1) {
			if (errno == EAGAIN) {
				reason_set(r, "4.2.0", "maildrop is in use");
				res = DELIVER_LOCKED;
			} else
				reason_set(r, "4.2.0", "cannot lock the "
				    "maildrop: %s", strerror(errno));
			goto out;
		}
		if ((n = mbox_same_file(fd, path)) == 1)
			break;
		/* replaced while we waited: the lock protects nothing */
		(void)mbox_unlock_fcntl(fd);
		if (dotlocked)
			(void)mbox_dotlock_release(path);
		dotlocked = false;
		close(fd);
		fd = -1;
		if (n == -1) {
			reason_set(r, "4.2.0", "maildrop vanished");
			return DELIVER_DEFER;
		}
	}
	if (fd == -1) {
		reason_set(r, "4.2.0", "maildrop keeps changing");
		return DELIVER_DEFER;
	}

	if (rc->status == QRCPT_TRYING) {
		/* an attempt was interrupted: what did it leave? */
		switch (mbox_append_check(fd, rc->mbox_off, &msg, r)) {
		case MBOX_APPEND_COMPLETE:
			log_info("id=%s to=<%s>: found delivered by an "
			    "interrupted attempt", env->id, rc->addr);
			(void)queue_rcpt_mark(qfd, env, i, QRCPT_DONE,
			    rc->mbox_off, false);
			res = DELIVER_OK;
			goto out;
		case MBOX_APPEND_TORN:
			log_info("id=%s to=<%s>: removing a torn copy at "
			    "offset %lld", env->id, rc->addr,
			    (long long)rc->mbox_off);
			if (ftruncate(fd, rc->mbox_off) == -1 ||
			    fsync(fd) == -1) {
				reason_set(r, "4.2.0", "cannot repair the "
				    "maildrop: %s", strerror(errno));
				goto out;
			}
			break;
		case MBOX_APPEND_DAMAGED:
			log_warnx("id=%s to=<%s>: a torn copy at offset %lld "
			    "is followed by other mail; delivering again",
			    env->id, rc->addr, (long long)rc->mbox_off);
			break;
		case MBOX_APPEND_ABSENT:
			break;
		default:
			goto out;
		}
	}
	if (fstat(fd, &st) == -1) {
		reason_set(r, "4.2.0", "fstat: %s", strerror(errno));
		goto out;
	}
	if (queue_rcpt_mark(qfd, env, i, QRCPT_TRYING, st.st_size, true) ==
	    -1) {
		reason_set(r, "4.3.0", "cannot update the queue file: %s",
		    strerror(errno));
		goto out;
	}
	if (mbox_append(fd, &msg, NULL, r) == -1) {
		/* cut back to the old size: nothing landed */
		(void)queue_rcpt_mark(qfd, env, i, QRCPT_PENDING, 0, false);
		goto out;
	}
	if (queue_rcpt_mark(qfd, env, i, QRCPT_DONE, st.st_size, false) == -1)
		log_warn("id=%s: marking delivered (recovery will)", env->id);
	res = DELIVER_OK;
out:
	if (fd != -1) {
		(void)mbox_unlock_fcntl(fd);
		close(fd);
	}
	if (dotlocked)
		(void)mbox_dotlock_release(path);
	return res;
}
