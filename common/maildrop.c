/*
 * A user's maildrop as the root processes reach it (see maildrop.h): the
 * queue runner and the inetd parent delivering, the SMTP monitor
 * resolving a recipient, the POP3 monitor opening the maildrop of the
 * user who logged in. Runs as root; the user name comes from NSS, PAM or
 * a queue file, and is checked here before it becomes part of a path.
 */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "maildrop.h"
#include "mbox_lock.h"
#include "mbox_open.h"

/* A maildrop replaced under our open may make us look again this often. */
#define OPEN_TRIES	3

bool
maildrop_name_ok(const char *name)
{
	size_t	i, len = strlen(name);

	if (len == 0 || len > USER_NAME_MAX || strchr(".-@", name[0]) != NULL)
		return false;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) &&
		    strchr("._-@", name[i]) == NULL)
			return false;
	/* SPOOL/x.lock is user x's dotlock (mbox_lock.c) */
	if (len >= 5 && strcmp(name + len - 5, ".lock") == 0)
		return false;
	return true;
}

int
maildrop_user(const struct config *cfg, const char *name,
    struct maildrop_user *out, struct reason *r)
{
	struct passwd	*pw;
	struct group	*gr;

	if (!maildrop_name_ok(name)) {
		reason_set(r, "5.1.1", "no such user");
		return 0;
	}
	errno = 0;
	if ((pw = getpwnam(name)) == NULL) {
		/* "not found" comes back as 0, ENOENT, ESRCH, EBADF or EPERM */
		if (errno != 0 && errno != ENOENT && errno != ESRCH &&
		    errno != EBADF && errno != EPERM) {
			reason_set(r, "4.3.0", "user database unavailable");
			return -1;
		}
		reason_set(r, "5.1.1", "no such user");
		return 0;
	}
	if (!maildrop_name_ok(pw->pw_name)) {
		reason_set(r, "5.1.1", "no such user");
		return 0;
	}
	snprintf(out->name, sizeof(out->name), "%s", pw->pw_name);
	out->uid = pw->pw_uid;
	out->gid = pw->pw_gid;
	out->mail_gid = pw->pw_gid;
	if (cfg->mail_group[0] != '\0' &&
	    (gr = getgrnam(cfg->mail_group)) != NULL)
		out->mail_gid = gr->gr_gid;
	return 1;
}

void
maildrop_close(struct maildrop *md)
{
	if (md->fd != -1) {
		(void)mbox_unlock_fcntl(md->fd);
		(void)close(md->fd);
		md->fd = -1;
	}
	/* last: a dotlock-only reader must not see the file mid-way */
	if (md->dotlocked && mbox_dotlock_release(md->path) == -1 &&
	    errno != ENOENT && errno != EPERM)
		log_warn("dotlock release for %s", md->path);
	md->dotlocked = false;
}

enum maildrop_result
maildrop_open(const struct config *cfg, const char *user, int flags,
    int wait_ms, struct maildrop *md, struct reason *r)
{
	int	tries, n;

	md->fd = -1;
	md->dotlocked = false;
	if ((n = maildrop_user(cfg, user, &md->user, r)) != 1)
		return n == 0 ? MAILDROP_NOUSER : MAILDROP_TEMPFAIL;
	if ((size_t)snprintf(md->path, sizeof(md->path), "%s/%s",
	    cfg->spool_dir, md->user.name) >= sizeof(md->path)) {
		reason_set(r, "5.3.5", "maildrop path too long");
		return MAILDROP_NOUSER;
	}
	for (tries = 0; tries < OPEN_TRIES; tries++) {
		md->fd = mbox_open(md->path, md->user.uid, md->user.mail_gid,
		    (flags & MAILDROP_CREATE) ? MBOX_OPEN_CREATE : 0, r);
		if (md->fd == -1)
			return MAILDROP_TEMPFAIL;	/* logged */
		if (cfg->dotlock) {
			if (mbox_dotlock_acquire(md->path, wait_ms, r) == -1) {
				n = errno;
				maildrop_close(md);
				if (n != EAGAIN)
					return MAILDROP_TEMPFAIL;
				reason_set(r, "4.2.0", "maildrop is in use");
				return MAILDROP_BUSY;
			}
			md->dotlocked = true;
		}
		if (mbox_lock_fcntl(md->fd, wait_ms) == -1) {
			n = errno;
			maildrop_close(md);
			if (n == EAGAIN) {
				reason_set(r, "4.2.0", "maildrop is in use");
				return MAILDROP_BUSY;
			}
			reason_set(r, "4.2.0", "cannot lock the maildrop: %s",
			    strerror(n));
			return MAILDROP_TEMPFAIL;
		}
		if ((n = mbox_same_file(md->fd, md->path)) == 1)
			return MAILDROP_OK;
		/* replaced while we waited (an update): the lock is useless */
		maildrop_close(md);
		if (n == -1) {
			reason_set(r, "4.2.0", "maildrop vanished");
			return MAILDROP_TEMPFAIL;
		}
	}
	reason_set(r, "4.2.0", "maildrop keeps changing");
	return MAILDROP_TEMPFAIL;
}
