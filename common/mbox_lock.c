/*
 * Maildrop locks. The fcntl() lock is the real one: the POP3 monitor
 * holds it for a whole session and the delivery holds it for one append.
 * The dotlock (MAILDROP.lock, made by link(2) from a file that already
 * holds our pid, so never seen empty) is for MUAs and MDAs
 * that only know that convention; it is taken in addition, when the
 * configuration asks for it. Both run in the privileged processes.
 *
 * A dotlock left by a crashed program must not block a maildrop for ever:
 * one whose pid is dead, or that is older than MBOX_DOTLOCK_STALE_SEC, is
 * removed. Two processes may judge the same lock stale at once; before
 * removing we check that the path still names the file we judged, which
 * leaves only a tiny window (there is no atomic "remove if unchanged").
 * The fcntl() lock, taken as well, is what really excludes maild's own
 * processes from each other.
 *
 * USER.lock is also a name another user's maildrop could have: user
 * "x.lock" owns SPOOL/x.lock, which is user x's dotlock. Such a name never
 * names a maildrop (maildrop_name_ok() in maildrop.c, for delivery and POP3),
 * and a "lock" that is an mbox (it starts with a From_ line, or is bigger
 * than any lock) is never broken as stale: it is left alone and the
 * maildrop stays busy, for an administrator to look at.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "log.h"
#include "mbox_lock.h"
#include "xmalloc.h"

static long long	mbox_lock_now_ms(void);
static void		mbox_lock_sleep_ms(long long);
static char		*mbox_dotlock_path(const char *);
static int		mbox_dotlock_read_pid(const char *, struct stat *,
			    long *, bool *);
static int		mbox_dotlock_break_stale(const char *);

static long long
mbox_lock_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
mbox_lock_sleep_ms(long long ms)
{
	struct timespec	ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	/* An interrupted sleep is just a shorter wait: the caller loops. */
	(void)nanosleep(&ts, NULL);
}

int
mbox_lock_fcntl(int fd, int timeout_ms)
{
	struct flock	fl;
	long long	deadline = 0, left, pause = 1;

	if (timeout_ms > 0)
		deadline = mbox_lock_now_ms() + timeout_ms;
	for (;;) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		fl.l_start = 0;
		fl.l_len = 0;		/* to the end, however far it grows */
		if (fcntl(fd, F_SETLK, &fl) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		/* POSIX allows either for a conflicting lock. */
		if (errno != EAGAIN && errno != EACCES)
			return -1;
		if (deadline == 0 ||
		    (left = deadline - mbox_lock_now_ms()) <= 0) {
			errno = EAGAIN;
			return -1;
		}
		mbox_lock_sleep_ms(pause < left ? pause : left);
		if ((pause *= 2) > MBOX_LOCK_POLL_MS)
			pause = MBOX_LOCK_POLL_MS;
	}
}

int
mbox_unlock_fcntl(int fd)
{
	struct flock	fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_UNLCK;
	fl.l_whence = SEEK_SET;
	return fcntl(fd, F_SETLK, &fl);
}

/*
 * The lock's name: the maildrop's with ".lock". An allocation, not a
 * PATH_MAX buffer: the path's length is the file system's to refuse.
 */
static char *
mbox_dotlock_path(const char *mbox_path)
{
	return xasprintf("%s.lock", mbox_path);
}

/*
 * Reads the pid from a lock file and its status. *pid_out is 0 when the
 * content is not a pid (empty: its creator has not written it yet; or
 * another program's format). *mbox_out says whether the file is no lock
 * but an mbox: it starts with "From " (RFC 4155), or it is bigger than
 * MBOX_DOTLOCK_SIZE_MAX. Returns 0, or -1 (errno; ENOENT: gone).
 * Accepts "1234", "1234\n" and the padded "      1234\n".
 */
static int
mbox_dotlock_read_pid(const char *lockpath, struct stat *st, long *pid_out,
    bool *mbox_out)
{
	char		 buf[32], *p, *ep;
	ssize_t		 n;
	long		 pid;
	int		 fd, saved;

	*pid_out = 0;
	fd = open(lockpath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
	    O_NOCTTY);
	if (fd == -1)
		return -1;
	if (fstat(fd, st) == -1)
		goto fail;
	if (!S_ISREG(st->st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		goto fail;
	close(fd);
	buf[n] = '\0';
	*mbox_out = st->st_size > MBOX_DOTLOCK_SIZE_MAX ||
	    strncmp(buf, "From ", 5) == 0;
	for (p = buf; *p == ' '; p++)
		;
	errno = 0;
	pid = strtol(p, &ep, 10);
	if (errno == 0 && ep != p && pid > 0 && (pid_t)pid == pid &&
	    (*ep == '\0' || (*ep == '\n' && ep[1] == '\0')))
		*pid_out = pid;
	return 0;

fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/*
 * Removes the lock if it is stale. Returns 1 when removed (or already
 * gone: try again at once), 0 when it is live, 2 when it is an mbox (no
 * use waiting), -1 on error (errno).
 */
static int
mbox_dotlock_break_stale(const char *lockpath)
{
	struct stat	st, again;
	long		pid;
	long long	age;
	bool		dead, mbox;

	if (mbox_dotlock_read_pid(lockpath, &st, &pid, &mbox) == -1)
		return errno == ENOENT ? 1 : -1;
	if (mbox) {
		log_warnx("dotlock path=%s is a maildrop, not a lock: never "
		    "removed; the maildrop it locks stays busy", lockpath);
		return 2;
	}
	dead = pid > 0 && kill((pid_t)pid, 0) == -1 && errno == ESRCH;
	age = (long long)time(NULL) - (long long)st.st_mtime;
	if (!dead && age <= MBOX_DOTLOCK_STALE_SEC)
		return 0;
	if (lstat(lockpath, &again) == -1)
		return errno == ENOENT ? 1 : -1;
	if (again.st_dev != st.st_dev || again.st_ino != st.st_ino ||
	    again.st_mtim.tv_sec != st.st_mtim.tv_sec ||
	    again.st_mtim.tv_nsec != st.st_mtim.tv_nsec)
		return 1;	/* broken and taken meanwhile: look again */
	if (unlink(lockpath) == -1)
		return errno == ENOENT ? 1 : -1;
	if (dead)
		log_info("dotlock removed path=%s: stale, pid %ld is dead",
		    lockpath, pid);
	else
		log_info("dotlock removed path=%s: stale, %lld s old (pid %ld)",
		    lockpath, age, pid);
	return 1;
}

/*
 * The file a dotlock is made from: ".USER.lock.PID" beside the maildrop
 * (a leading dot: never a maildrop name), holding our pid. Linked to
 * USER.lock, it makes a lock that is whole from its first instant: one
 * created empty and then written would, if its creator were killed in
 * between, hold no pid and block the maildrop until it turns stale.
 */
static char *
mbox_dotlock_tmp_path(const char *mbox_path)
{
	const char	*slash = strrchr(mbox_path, '/');
	int		 dirlen = slash != NULL ? (int)(slash - mbox_path + 1) : 0;

	return xasprintf("%.*s.%s.lock.%ld", dirlen, mbox_path,
	    mbox_path + dirlen, (long)getpid());
}

int
mbox_dotlock_acquire(const char *mbox_path, int timeout_ms, struct reason *r)
{
	char		*lockpath, *tmppath, pidbuf[32];
	long long	 deadline = 0, left, pause = 1;
	int		 fd, n, saved, br;

	lockpath = mbox_dotlock_path(mbox_path);
	tmppath = mbox_dotlock_tmp_path(mbox_path);
	if (timeout_ms > 0)
		deadline = mbox_lock_now_ms() + timeout_ms;
	/* O_TRUNC, not O_EXCL: one left by a killed process of our pid */
	fd = open(tmppath, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC | O_NOCTTY, 0600);
	if (fd == -1) {
		saved = errno;
		log_warn("dotlock create path=%s", tmppath);
		reason_set(r, "4.2.0", "cannot create dotlock: %s",
		    strerror(saved));
		goto fail_nofile;
	}
	n = snprintf(pidbuf, sizeof(pidbuf), "%ld\n", (long)getpid());
	if (write(fd, pidbuf, (size_t)n) != n || close(fd) == -1) {
		saved = errno == 0 ? EIO : errno;
		log_warn("dotlock write path=%s", tmppath);
		if (fd != -1)
			(void)close(fd);
		reason_set(r, "4.2.0", "cannot write dotlock");
		goto fail;
	}
	for (;;) {
		if (link(tmppath, lockpath) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EEXIST) {
			saved = errno;
			log_warn("dotlock create path=%s", lockpath);
			reason_set(r, "4.2.0", "cannot create dotlock: %s",
			    strerror(saved));
			goto fail;
		}
		if ((br = mbox_dotlock_break_stale(lockpath)) == 1)
			continue;
		if (br == -1 && errno != EINVAL && errno != ELOOP) {
			saved = errno;
			log_warn("dotlock examine path=%s", lockpath);
			reason_set(r, "4.2.0", "cannot examine dotlock: %s",
			    strerror(saved));
			goto fail;
		}
		/* live, or not a plain file, or an mbox (never removed): busy */
		if (br == 2 || deadline == 0 ||
		    (left = deadline - mbox_lock_now_ms()) <= 0) {
			reason_set(r, "4.2.0", "maildrop is locked");
			saved = EAGAIN;
			goto fail;
		}
		mbox_lock_sleep_ms(pause < left ? pause : left);
		if ((pause *= 2) > MBOX_LOCK_POLL_MS)
			pause = MBOX_LOCK_POLL_MS;
	}
	(void)unlink(tmppath);	/* the lock is the other name now */
	free(tmppath);
	free(lockpath);
	return 0;

fail:
	(void)unlink(tmppath);
fail_nofile:
	free(tmppath);
	free(lockpath);
	errno = saved;
	return -1;
}

int
mbox_dotlock_touch(const char *mbox_path)
{
	char		*lockpath = mbox_dotlock_path(mbox_path);
	struct stat	 st;
	long		 pid;
	int		 rc = -1, saved;
	bool		 mbox;

	if (mbox_dotlock_read_pid(lockpath, &st, &pid, &mbox) == -1)
		goto out;
	if (pid != (long)getpid()) {
		errno = EPERM;
		goto out;
	}
	rc = utimensat(AT_FDCWD, lockpath, NULL, AT_SYMLINK_NOFOLLOW);
out:
	saved = errno;
	free(lockpath);
	errno = saved;
	return rc;
}

int
mbox_dotlock_release(const char *mbox_path)
{
	char		*lockpath = mbox_dotlock_path(mbox_path);
	struct stat	 st;
	long		 pid;
	int		 rc = -1, saved;
	bool		 mbox;

	if (mbox_dotlock_read_pid(lockpath, &st, &pid, &mbox) == -1) {
		if (errno == ENOENT)
			log_warnx("dotlock path=%s vanished while held",
			    lockpath);
		goto out;
	}
	if (pid != (long)getpid()) {
		log_warnx("dotlock path=%s taken over by pid %ld while held",
		    lockpath, pid);
		errno = EPERM;
		goto out;
	}
	rc = unlink(lockpath);
out:
	saved = errno;
	free(lockpath);
	errno = saved;
	return rc;
}
