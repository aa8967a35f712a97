/*
 * Safe opening of an mbox maildrop. Called by the privileged side (the
 * POP3 monitor, the queue runner's local delivery), as root, on a path in
 * a directory that users can write to. The classic attacks are a symbolic
 * or hard link planted where the maildrop will be (so that root appends
 * to /etc/passwd), a FIFO or device (so that root hangs or talks to
 * hardware), and swapping the file between the checks and the open. The
 * defence follows the usual pattern: lstat() the path, refuse what is not
 * a plain file of the user's, open with O_NOFOLLOW|O_NONBLOCK, fstat() the
 * descriptor, and require that both name the same inode.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mbox_open.h"

/* How often a vanishing or appearing file may make us look again. */
#define MBOX_OPEN_TRIES	3

static bool	mbox_open_check(const char *, const struct stat *, uid_t,
		    struct reason *);
static int	mbox_open_create(const char *, uid_t, gid_t, struct reason *);
static int	mbox_open_finish(int, const char *, const struct stat *,
		    uid_t, struct reason *);

/*
 * Whether st (from lstat or fstat) describes an acceptable maildrop.
 * Refusals are logged, and errno says which.
 */
static bool
mbox_open_check(const char *path, const struct stat *st, uid_t uid,
    struct reason *r)
{
	if (S_ISLNK(st->st_mode)) {
		log_warnx("maildrop refused path=%s: symbolic link", path);
		reason_set(r, "5.2.0", "maildrop is a symbolic link");
		errno = ELOOP;
		return false;
	}
	if (!S_ISREG(st->st_mode)) {
		log_warnx("maildrop refused path=%s: not a regular file "
		    "(mode %o)", path, (unsigned)st->st_mode);
		reason_set(r, "5.2.0", "maildrop is not a regular file");
		errno = EINVAL;
		return false;
	}
	if (st->st_nlink != 1) {
		log_warnx("maildrop refused path=%s: %lu links", path,
		    (unsigned long)st->st_nlink);
		reason_set(r, st->st_nlink == 0 ? "4.2.0" : "5.2.0",
		    "maildrop has %lu links", (unsigned long)st->st_nlink);
		errno = EMLINK;
		return false;
	}
	if (st->st_uid != uid) {
		log_warnx("maildrop refused path=%s: owner uid %lu, want %lu",
		    path, (unsigned long)st->st_uid, (unsigned long)uid);
		reason_set(r, "5.2.0", "maildrop has the wrong owner");
		errno = EPERM;
		return false;
	}
	return true;
}

/*
 * Checks the opened descriptor against what lstat saw, and makes it
 * blocking. Returns fd, or -1 (fd closed).
 */
static int
mbox_open_finish(int fd, const char *path, const struct stat *lst,
    uid_t uid, struct reason *r)
{
	struct stat	st;
	int		fl, saved;

	if (fstat(fd, &st) == -1) {
		saved = errno;
		log_warn("maildrop fstat path=%s", path);
		reason_set(r, "4.2.0", "cannot examine maildrop");
		goto fail;
	}
	if (!mbox_open_check(path, &st, uid, r)) {
		saved = errno;
		goto fail;
	}
	if (st.st_dev != lst->st_dev || st.st_ino != lst->st_ino) {
		log_warnx("maildrop refused path=%s: replaced while opening",
		    path);
		reason_set(r, "4.2.0", "maildrop changed while opening");
		saved = EAGAIN;
		goto fail;
	}
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1) {
		saved = errno;
		log_warn("maildrop fcntl path=%s", path);
		reason_set(r, "4.2.0", "cannot set up maildrop");
		goto fail;
	}
	return fd;

fail:
	close(fd);
	errno = saved;
	return -1;
}

/*
 * Creates a missing maildrop. Returns the descriptor, -2 when the file
 * appeared meanwhile (look again), or -1 with r filled.
 */
static int
mbox_open_create(const char *path, uid_t uid, gid_t gid, struct reason *r)
{
	struct stat	st, lst;
	int		fd, saved;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC | O_NOCTTY, 0600);
	if (fd == -1) {
		if (errno == EEXIST)
			return -2;
		saved = errno;
		log_warn("maildrop create path=%s", path);
		reason_set(r, "4.2.0", "cannot create maildrop: %s",
		    strerror(saved));
		errno = saved;
		return -1;
	}
	/* The umask may have taken bits away; the mode is ours to choose. */
	if (fchmod(fd, 0600) == -1)
		goto fail_created;
	if (fchown(fd, uid, gid) == -1) {
		/*
		 * Unprivileged (tests, uid_wrapper): accept the refusal when
		 * the file already has the owner and group we want.
		 */
		saved = errno;
		if (saved != EPERM || fstat(fd, &st) == -1 ||
		    st.st_uid != uid || st.st_gid != gid) {
			errno = saved;
			goto fail_created;
		}
	}
	if (lstat(path, &lst) == -1)
		goto fail_created;
	if ((fd = mbox_open_finish(fd, path, &lst, uid, r)) == -1)
		return -1;
	log_info("maildrop created path=%s uid=%lu gid=%lu", path,
	    (unsigned long)uid, (unsigned long)gid);
	return fd;

fail_created:
	saved = errno;
	log_warn("maildrop create path=%s uid=%lu gid=%lu", path,
	    (unsigned long)uid, (unsigned long)gid);
	reason_set(r, "4.2.0", "cannot set up new maildrop: %s",
	    strerror(saved));
	/* Remove what we made, but only if the path still names it. */
	if (mbox_same_file(fd, path) == 1 && unlink(path) == -1)
		log_warn("unlink path=%s", path);
	close(fd);
	errno = saved;
	return -1;
}

int
mbox_open(const char *path, uid_t uid, gid_t gid, int flags,
    struct reason *r)
{
	struct stat	lst;
	int		fd, tries, saved;

	for (tries = 0; tries < MBOX_OPEN_TRIES; tries++) {
		if (lstat(path, &lst) == -1) {
			saved = errno;
			if (saved != ENOENT) {
				log_warn("maildrop lstat path=%s", path);
				reason_set(r, "4.2.0",
				    "cannot examine maildrop: %s",
				    strerror(saved));
				errno = saved;
				return -1;
			}
			if (!(flags & MBOX_OPEN_CREATE)) {
				reason_set(r, "4.2.0",
				    "maildrop does not exist");
				errno = ENOENT;
				return -1;
			}
			if ((fd = mbox_open_create(path, uid, gid, r)) == -2)
				continue;
			return fd;
		}
		/* Refuse links, FIFOs and devices before opening them. */
		if (!mbox_open_check(path, &lst, uid, r))
			return -1;
		fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
		    O_NOCTTY);
		if (fd == -1) {
			saved = errno;
			if (saved == ENOENT)
				continue;	/* removed meanwhile */
			if (saved == ELOOP) {
				/* replaced by a link after lstat */
				log_warnx("maildrop refused path=%s: "
				    "symbolic link", path);
				reason_set(r, "5.2.0",
				    "maildrop is a symbolic link");
			} else {
				log_warn("maildrop open path=%s", path);
				reason_set(r, "4.2.0",
				    "cannot open maildrop: %s",
				    strerror(saved));
			}
			errno = saved;
			return -1;
		}
		return mbox_open_finish(fd, path, &lst, uid, r);
	}
	log_warnx("maildrop refused path=%s: keeps appearing and vanishing",
	    path);
	reason_set(r, "4.2.0", "maildrop changed while opening");
	errno = EAGAIN;
	return -1;
}

int
mbox_same_file(int fd, const char *path)
{
	struct stat	st, lst;

	if (fstat(fd, &st) == -1)
		return -1;
	if (lstat(path, &lst) == -1)
		return errno == ENOENT ? 0 : -1;
	return st.st_nlink > 0 && st.st_dev == lst.st_dev &&
	    st.st_ino == lst.st_ino;
}
