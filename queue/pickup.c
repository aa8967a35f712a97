/*
 * The pickup of queue_dir/maildrop, in the queue runner (root). The
 * sendmail command leaves mail there when maild is not running
 * (sendmail/sm_maildrop.c says the format). Root only looks at each
 * file from outside: a regular file with one link, complete (the
 * owner's execute bit), of a bounded size. The owner the kernel set is
 * who sent it: a child process drops to that user's ids (root's files
 * go as the unprivileged `user`, a trusted user), keeps no descriptor
 * but the file's, parses it strictly and submits it through
 * submit.socket like the sendmail command would, so the monitor names
 * the sender from SO_PEERCRED and the smtpd worker reads the message.
 * No root process parses a byte of it.
 */
#include "autoconf.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "fault.h"
#include "fdutil.h"
#include "log.h"
#include "pickup.h"
#include "privdrop.h"
#include "queue_file.h"
#include "sendmail/sendmail.h"
#include "xmalloc.h"

/* Files submitted per call: the runner has its own work too. */
#define PICKUP_BATCH		100
/* How long one file's child may take (connect, SMTP, the queue's fsync). */
#define PICKUP_TIMEOUT_SEC	120
/* An incomplete file this old was abandoned by a sendmail that died. */
#define PICKUP_ABANDONED_SEC	(24 * 60 * 60)
/* The envelope of a maildrop file on top of the message size limit. */
#define PICKUP_ENVELOPE_MAX	(1024 * 1024)
/* With no message size limit, still a bound on what a child reads. */
#define PICKUP_SIZE_CEILING	(1024LL * 1024 * 1024)

/* sendmail/'s messages, from the pickup child: into the log. */
void
sm_warn(const char *fmt, ...)
{
	char	buf[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_warnx("pickup: %s", buf);
}

int
pickup_dir_init(const char *queue_dir, char *err, size_t errsz)
{
	char		path[PATH_MAX];
	struct stat	st;

	if (snprintf(path, sizeof(path), "%s/" PICKUP_DIR, queue_dir) >=
	    (int)sizeof(path)) {
		snprintf(err, errsz, "%s: path too long", queue_dir);
		return -1;
	}
	if (mkdir(path, 01733) == -1 && errno != EEXIST) {
		snprintf(err, errsz, "mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	if (lstat(path, &st) == -1 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errsz, "%s: not a directory", path);
		return -1;
	}
	/* mkdir's mode went through the umask; and an old one is fixed */
	if ((st.st_mode & 07777) != 01733 && chmod(path, 01733) == -1) {
		snprintf(err, errsz, "chmod %s: %s", path, strerror(errno));
		return -1;
	}
	/* users must get through queue_dir, not list or read it */
	if (stat(queue_dir, &st) == -1) {
		snprintf(err, errsz, "%s: %s", queue_dir, strerror(errno));
		return -1;
	}
	if ((st.st_mode & 0777) != 0711 && chmod(queue_dir, 0711) == -1) {
		snprintf(err, errsz, "chmod %s: %s", queue_dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* The child: becomes the owner, parses, submits. Never returns. */
static void
submit_as_owner(const struct config *cfg, int fd, const struct stat *st)
{
	struct sm_settings	 sset;
	struct sm_submit	 sub;
	struct sm_message	 msg;
	struct passwd		*pw;
	char			 err[256], *buf;
	uid_t			 uid;
	gid_t			 gid;
	bool			 queued;
	int			 keep[4] = { 0, 1, 2, fd }, rc;

	alarm(PICKUP_TIMEOUT_SEC);
	fd_keep_only(keep, 4);
	log_setident("maild-pickup");
	if (st->st_uid == 0) {
		/* root's mail goes as the unprivileged user, who is trusted */
		if (privdrop_lookup(cfg->user, cfg->group, &uid, &gid, err,
		    sizeof(err)) == -1) {
			log_warnx("pickup: %s", err);
			_exit(EX_TEMPFAIL);
		}
	} else {
		errno = 0;
		if ((pw = getpwuid(st->st_uid)) == NULL) {
			log_warnx("pickup: uid %lu has no user name",
			    (unsigned long)st->st_uid);
			_exit(errno != 0 ? EX_TEMPFAIL : EX_NOUSER);
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	privdrop(uid, gid, "");
	/* from here on the file's owner may signal this process */
	(void)fault_point("pickup.child");
	errno = 0;
	if ((pw = getpwuid(uid)) == NULL)
		_exit(errno != 0 ? EX_TEMPFAIL : EX_NOUSER);
	memset(&sub, 0, sizeof(sub));
	memset(&msg, 0, sizeof(msg));
	snprintf(sub.user, sizeof(sub.user), "%s", pw->pw_name);
	if (st->st_uid == 0)
		snprintf(sub.user, sizeof(sub.user), "root");
	sub.sender_domain = cfg->hostname;
	buf = xmalloc((size_t)st->st_size + 1);
	if (fd_pread_full(fd, buf, (size_t)st->st_size, 0) !=
	    (ssize_t)st->st_size)
		_exit(EX_TEMPFAIL);
	if (sm_maildrop_parse(buf, (size_t)st->st_size, &sub, &msg) == -1) {
		log_warnx("pickup: not a maildrop file");
		_exit(EX_DATAERR);
	}
	/* root's own address is root's, not the unprivileged user's */
	if (st->st_uid == 0 && sub.sender == NULL) {
		static char	sender[USER_NAME_MAX + SMTP_DOMAIN_MAX + 2];

		snprintf(sender, sizeof(sender), "root@%s", cfg->hostname);
		sub.sender = sender;
	}
	memset(&sset, 0, sizeof(sset));
	snprintf(sset.socket, sizeof(sset.socket), "%s", cfg->submit.socket);
	snprintf(sset.hostname, sizeof(sset.hostname), "%s", cfg->hostname);
	rc = sm_submit(&sset, &sub, &msg, &queued);
	if (queued)
		_exit(0);
	if (rc == SM_UNREACHABLE || rc == EX_TEMPFAIL)
		_exit(EX_TEMPFAIL);
	_exit(EX_DATAERR);
}

/* Whether name in dir is still the file we opened. */
static bool
same_file(int dfd, const char *name, const struct stat *st)
{
	struct stat	now;

	return fstatat(dfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
	    now.st_dev == st->st_dev && now.st_ino == st->st_ino;
}

/* Out of the way, for the admin to look at: queue_dir/corrupt. */
static void
move_aside(const struct config *cfg, int dfd, const char *name,
    const char *why)
{
	char	to[PATH_MAX];

	snprintf(to, sizeof(to), "%s/%s/maildrop-%s", cfg->queue_dir,
	    QUEUE_DIR_CORRUPT, name);
	if (renameat(dfd, name, AT_FDCWD, to) == -1) {
		log_warn("pickup: %s: %s; rename to %s", name, why, to);
		(void)unlinkat(dfd, name, 0);
		return;
	}
	log_warnx("pickup: %s: %s; moved to %s", name, why, to);
}

/*
 * Waits for the child that submits a file as its owner. The owner may
 * signal that child, so the runner never waits on it without a bound: a
 * child that stops (SIGSTOP, SIGTSTP: its alarm cannot fire then) or
 * outlives its own alarm is killed (root may kill it, stopped or not)
 * and the file left for a later scan. 0 with *status, or -1.
 */
static int
wait_child(pid_t pid, int *status, const char *name)
{
	long long	deadline = mono_ms() + (PICKUP_TIMEOUT_SEC + 5) * 1000LL;
	struct timespec	tick = { 0, 20 * 1000 * 1000 };
	pid_t		w;

	for (;;) {
		w = waitpid(pid, status, WNOHANG | WUNTRACED);
		if (w == pid && !WIFSTOPPED(*status))
			return 0;
		if (w == -1 && errno != EINTR) {
			log_warn("pickup: waitpid");
			return -1;
		}
		if (w == pid || mono_ms() >= deadline) {
			log_warnx("pickup: %s: its submission %s; stopped, the "
			    "file waits for a later scan", name, w == pid ?
			    "was stopped by a signal" : "took too long");
			(void)kill(pid, SIGKILL);
			while (waitpid(pid, status, 0) == -1 && errno == EINTR)
				;
			return -1;
		}
		(void)nanosleep(&tick, NULL);
	}
}

/* One file: 1 done (or put aside), 0 left for later. */
static int
pickup_one(const struct config *cfg, int dfd, const char *name)
{
	struct stat	st;
	long long	max;
	pid_t		pid;
	int		fd, status, rc = 0;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) == -1) {
		/* a symlink, or gone: nothing of ours */
		if (fd == -1 && errno == ELOOP) {
			log_warnx("pickup: %s: a symbolic link; removed", name);
			(void)unlinkat(dfd, name, 0);
		}
		if (fd != -1)
			close(fd);
		return 0;
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		/* a link to someone else's file is never moved, only dropped */
		log_warnx("pickup: %s: not a regular file with one link; "
		    "removed", name);
		if (same_file(dfd, name, &st))
			(void)unlinkat(dfd, name, 0);
		close(fd);
		return 1;
	}
	if (!(st.st_mode & S_IXUSR)) {
		/* still being written, or abandoned */
		if (st.st_mtime + PICKUP_ABANDONED_SEC < time(NULL) &&
		    same_file(dfd, name, &st))
			move_aside(cfg, dfd, name, "never completed");
		close(fd);
		return 0;
	}
	max = cfg->smtp.message_size_limit > 0 ?
	    cfg->smtp.message_size_limit : PICKUP_SIZE_CEILING;
	if (st.st_size > max + PICKUP_ENVELOPE_MAX) {
		if (same_file(dfd, name, &st))
			move_aside(cfg, dfd, name, "too big");
		close(fd);
		return 1;
	}
	if ((pid = fork()) == -1) {
		log_warn("pickup: fork");
		close(fd);
		return 0;
	}
	if (pid == 0)
		submit_as_owner(cfg, fd, &st);
	close(fd);
	if (wait_child(pid, &status, name) == -1)
		return 0;
	if (!same_file(dfd, name, &st)) {
		log_warnx("pickup: %s changed while it was submitted", name);
		return 1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		log_info("pickup: %s from uid %lu submitted", name,
		    (unsigned long)st.st_uid);
		if (unlinkat(dfd, name, 0) == -1)
			log_warn("pickup: unlink %s", name);
		rc = 1;
	} else if (WIFEXITED(status) && (WEXITSTATUS(status) == EX_DATAERR ||
	    WEXITSTATUS(status) == EX_NOUSER)) {
		move_aside(cfg, dfd, name, WEXITSTATUS(status) == EX_NOUSER ?
		    "its owner has no user name" : "refused or malformed");
		rc = 1;
	} else
		log_info("pickup: %s from uid %lu: not now (status %d)", name,
		    (unsigned long)st.st_uid, WIFEXITED(status) ?
		    WEXITSTATUS(status) : -WTERMSIG(status));
	return rc;
}

void
pickup_scan(const struct config *cfg)
{
	char		 path[PATH_MAX];
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if (*cfg->submit.socket == '\0')
		return;		/* nothing to submit through */
	snprintf(path, sizeof(path), "%s/" PICKUP_DIR, cfg->queue_dir);
	if ((d = opendir(path)) == NULL) {
		if (errno != ENOENT)
			log_warn("pickup: %s", path);
		return;
	}
	while (n < PICKUP_BATCH && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		n += pickup_one(cfg, dirfd(d), de->d_name);
	}
	closedir(d);
}
