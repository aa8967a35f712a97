/*
 * Queue files (see queue_file.h). The writer runs in the SMTP monitor
 * (root) while a client sends a message; the reader and the in-place
 * updates run in the queue runner (root). Fields that come from a client
 * (addresses, HELO) are %XX-encoded in the envelope so that no byte of
 * theirs can add a line or a field.
 *
 * Durability: the message is acknowledged only after the file has been
 * fsync'ed, renamed from incoming/ into active/, and the directory
 * fsync'ed. A crash before that leaves a file in incoming/, removed at
 * the next start; after it, the message is the runner's.
 */
#include "autoconf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "fault.h"
#include "log.h"
#include "queue_file.h"
#include "relay/relay.h"
#include "xmalloc.h"

#define ENV_MAX		(1024 * 1024)	/* an envelope is never larger */
#define OFF_DIGITS	20
#define ATT_DIGITS	10
#define WARN_DIGITS	15	/* the W line: a time, like T at most */
#define WARN_MAX	999999999999999LL

static const char b32[] = "0123456789ABCDEFGHJKLMNPQRSTVWXY";

int
queue_dirs_init(const char *queue_dir, char *err, size_t errsz)
{
	const char	*sub[] = { "", QUEUE_DIR_INCOMING, QUEUE_DIR_ACTIVE,
			    QUEUE_DIR_DEFERRED, QUEUE_DIR_HOLD,
			    QUEUE_DIR_CORRUPT, QUEUE_DIR_DEFER, QUEUE_DIR_FREE };
	char		 path[PATH_MAX];
	struct stat	 st;
	size_t		 i;

	for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", queue_dir, sub[i]);
		if (mkdir(path, 0700) == -1 && errno != EEXIST) {
			snprintf(err, errsz, "mkdir %s: %s", path,
			    strerror(errno));
			return -1;
		}
	}
	snprintf(path, sizeof(path), "%s/" QUEUE_NOTIFY_FIFO, queue_dir);
	if (mkfifo(path, 0600) == -1 && errno != EEXIST) {
		snprintf(err, errsz, "mkfifo %s: %s", path, strerror(errno));
		return -1;
	}
	if (lstat(path, &st) == -1 || !S_ISFIFO(st.st_mode)) {
		snprintf(err, errsz, "%s: not a FIFO", path);
		return -1;
	}
	return 0;
}

void
queue_id_new(char *id)
{
	struct timespec	ts;
	unsigned char	rnd[4];
	uint64_t	t;
	int		i;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, (int)getpid(), sizeof(rnd));
	/* 40 bits of seconds, 20 of microseconds, 20 random: 16 characters */
	t = ((uint64_t)ts.tv_sec << 20) | (uint64_t)(ts.tv_nsec / 1000);
	for (i = QUEUE_ID_TIME_LEN - 1; i >= 0; i--, t >>= 5)
		id[i] = b32[t & 31];
	for (i = 0; i < QUEUE_ID_LEN - QUEUE_ID_TIME_LEN; i++)
		id[QUEUE_ID_TIME_LEN + i] = b32[rnd[i] & 31];
	id[QUEUE_ID_LEN] = '\0';
}

bool
queue_id_valid(const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++)
		if (strchr(b32, s[i]) == NULL || i >= QUEUE_ID_LEN)
			return false;
	return i == QUEUE_ID_LEN;
}

/* --- field encoding -------------------------------------------------- */

static bool
needs_escape(unsigned char c)
{
	return c <= 0x20 || c == 0x7f || c == '%';
}

/* Appends s, %XX-encoded, to the buffer b (size cap, length *len). */
static void
put_field(char *b, size_t cap, size_t *len, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	if (*s == '\0' && *len + 1 < cap) {
		b[(*len)++] = '%';	/* "%" alone is the empty field */
		return;
	}
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (*len + 4 >= cap) {
			*len = cap;	/* overflow: detected by the caller */
			return;
		}
		if (needs_escape(c)) {
			b[(*len)++] = '%';
			b[(*len)++] = hex[c >> 4];
			b[(*len)++] = hex[c & 15];
		} else
			b[(*len)++] = (char)c;
	}
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes one field of n bytes into a new string; NULL if malformed. */
static char *
get_field(const char *s, size_t n)
{
	char	*out, *o;
	size_t	 i;
	int	 hi, lo;

	if (n == 1 && s[0] == '%')
		return xstrdup("");
	if (n == 0)
		return NULL;
	o = out = xmalloc(n + 1);
	for (i = 0; i < n; i++) {
		if (s[i] != '%') {
			if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
				goto bad;
			*o++ = s[i];
			continue;
		}
		if (i + 2 >= n)
			goto bad;
		hi = hexval(s[i + 1]);
		lo = hexval(s[i + 2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			goto bad;
		*o++ = (char)(hi << 4 | lo);
		i += 2;
	}
	*o = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

/* --- writing --------------------------------------------------------- */

/*
 * The refusal for a queue file that could not be written: a full file
 * system (or the monitor's file size limit) is "452 4.3.1 insufficient
 * system storage" (RFC 3463, RFC 5321 4.2.5), anything else 451 4.3.0.
 * Both are temporary: the client keeps the message and tries again.
 */
static void
write_failed(struct reason *r, int err)
{
	if (err == ENOSPC || err == EDQUOT || err == EFBIG)
		reason_set(r, "4.3.1", "insufficient system storage, try "
		    "again later");
	else
		reason_set(r, "4.3.0", "cannot write the queue file, try "
		    "again later");
}

/* --- spare files ---------------------------------------------------------- */

/* How often a runner that thinks free/ is full may count it again. */
#define SPARES_RECOUNT_MS	100

/*
 * A spare we may write over: a plain file of the queue's owner (root, or
 * the test harness's user), one link, mode 0600, not too big.
 */
static bool
spare_ok(const struct stat *st, uid_t owner)
{
	return S_ISREG(st->st_mode) && st->st_nlink == 1 &&
	    st->st_uid == owner && (st->st_mode & 07777) == 0600 &&
	    st->st_size <= QUEUE_SPARE_SIZE_MAX;
}

/* The owner of the queue directory qdirfd; -1 if it cannot be told. */
static uid_t
queue_owner(int qdirfd)
{
	struct stat	st;

	return fstat(qdirfd, &st) == 0 ? st.st_uid : (uid_t)-1;
}

/* free/ of the queue directory qdirfd, to read; NULL if it cannot be. */
static DIR *
free_dir(int qdirfd)
{
	DIR	*d;
	int	 fd;

	if ((fd = openat(qdirfd, QUEUE_DIR_FREE, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return NULL;
	if ((d = fdopendir(fd)) == NULL)
		close(fd);
	return d;
}

/*
 * Moves a spare from free/ to path (incoming/ID) and opens it: w->fd,
 * flocked. 0, or -1 when there is none (the caller creates a file).
 */
static int
take_spare(struct queue_writer *w, const char *path)
{
#ifdef HAVE_RENAMEAT2
	char		 from[sizeof(QUEUE_DIR_FREE) + NAME_MAX + 2];
	struct dirent	*e;
	struct stat	 st;
	DIR		*d;
	uid_t		 owner;
	int		 fd, tries = 0;

	if ((d = free_dir(w->dirfd)) == NULL)
		return -1;
	owner = queue_owner(w->dirfd);
	while (tries < 4 && (e = readdir(d)) != NULL) {
		if (!queue_id_valid(e->d_name))
			continue;
		tries++;
		snprintf(from, sizeof(from), QUEUE_DIR_FREE "/%s", e->d_name);
		if ((fd = openat(w->dirfd, from, O_WRONLY | O_NOFOLLOW |
		    O_NONBLOCK | O_CLOEXEC)) == -1) {
			/* a symbolic link or worse: not ours to follow */
			if (errno != ENOENT)
				(void)unlinkat(w->dirfd, from, 0);
			continue;
		}
		/* another writer took it first */
		if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
			close(fd);
			continue;
		}
		if (fstat(fd, &st) == -1 || !spare_ok(&st, owner)) {
			(void)unlinkat(w->dirfd, from, 0);
			close(fd);
			continue;
		}
		if (renameat2(w->dirfd, from, w->dirfd, path,
		    RENAME_NOREPLACE) == -1) {
			close(fd);
			continue;
		}
		closedir(d);
		w->fd = fd;
		/* the old bytes past the new message are cut at the commit */
		w->spare_size = st.st_size;
		return 0;
	}
	closedir(d);
#else
	(void)w;
	(void)path;
#endif
	return -1;
}

/*
 * The spares in free/ now; unlinks those beyond max and whatever is not
 * a spare (spare_ok).
 */
static size_t
count_spares(int qdirfd, size_t max)
{
	char		 path[sizeof(QUEUE_DIR_FREE) + NAME_MAX + 2];
	struct dirent	*e;
	struct stat	 st;
	DIR		*d;
	size_t		 n = 0;
	uid_t		 owner = queue_owner(qdirfd);

	if ((d = free_dir(qdirfd)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' && (e->d_name[1] == '\0' ||
		    (e->d_name[1] == '.' && e->d_name[2] == '\0')))
			continue;
		snprintf(path, sizeof(path), QUEUE_DIR_FREE "/%s", e->d_name);
		if (n < max && queue_id_valid(e->d_name) &&
		    fstatat(qdirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    spare_ok(&st, owner)) {
			n++;
			continue;
		}
		(void)unlinkat(qdirfd, path, 0);
	}
	closedir(d);
	return n;
}

void
queue_spares_trim(int qdirfd, struct queue_spares *sp, size_t max)
{
	sp->n = count_spares(qdirfd, max);
	sp->counted_ms = mono_ms();
}

int
queue_file_retire(int qdirfd, const char *path, int fd, const char *id,
    struct queue_spares *sp)
{
#ifdef HAVE_RENAMEAT2
	char		to[QUEUE_RELPATH_MAX];
	struct stat	st;
	long long	now;

	if (sp == NULL || !queue_id_valid(id) || fstat(fd, &st) == -1 ||
	    !spare_ok(&st, queue_owner(qdirfd)))
		return unlinkat(qdirfd, path, 0);
	if (sp->n >= QUEUE_SPARES_MAX) {
		/* writers took some since we counted, most likely */
		now = mono_ms();
		if (now - sp->counted_ms < SPARES_RECOUNT_MS)
			return unlinkat(qdirfd, path, 0);
		queue_spares_trim(qdirfd, sp, QUEUE_SPARES_MAX);
		if (sp->n >= QUEUE_SPARES_MAX)
			return unlinkat(qdirfd, path, 0);
	}
	snprintf(to, sizeof(to), QUEUE_DIR_FREE "/%s", id);
	if (renameat2(qdirfd, path, qdirfd, to, RENAME_NOREPLACE) == 0) {
		sp->n++;
		return 0;
	}
#else
	(void)fd;
	(void)id;
	(void)sp;
#endif
	return unlinkat(qdirfd, path, 0);
}

int
queue_writer_begin(struct queue_writer *w, const char *queue_dir,
    struct queue_env *env, off_t limit, struct reason *r)
{
	char	*buf, path[QUEUE_RELPATH_MAX];
	size_t	 cap = ENV_MAX, len = 0, i;
	ssize_t	 k;
	int	 n, err;

	memset(w, 0, sizeof(*w));
	w->fd = w->dirfd = w->activefd = -1;
	w->limit = limit;
	/* the id may have been chosen earlier (the SMTP MAIL command) */
	if (queue_id_valid(env->id))
		memcpy(w->id, env->id, sizeof(w->id));
	else {
		queue_id_new(w->id);
		memcpy(env->id, w->id, sizeof(env->id));
	}
	buf = xmalloc(cap);
	n = snprintf(buf, cap, "V 2\nI %s\nT %lld\nN %0*u\nW %0*lld\nS ",
	    w->id, (long long)env->arrival, ATT_DIGITS, 0u, WARN_DIGITS,
	    (long long)(env->warned >= 0 && env->warned <= WARN_MAX ?
	    env->warned : 0));
	/* before "\nW " + digits + "\nS " */
	env->attempts_off = n - 3 - WARN_DIGITS - 3 - ATT_DIGITS;
	env->warned_off = n - 3 - WARN_DIGITS;
	env->attempts = 0;
	len = (size_t)n;
	put_field(buf, cap, &len, env->sender);
	if (env->auth_user != NULL && len + 4 < cap) {
		memcpy(buf + len, "\nA ", 3);
		len += 3;
		put_field(buf, cap, &len, env->auth_user);
	}
	if (len + 4 < cap) {
		memcpy(buf + len, "\nC ", 3);
		len += 3;
	}
	put_field(buf, cap, &len, env->client ? env->client : "");
	if (len + 2 < cap)
		buf[len++] = ' ';
	put_field(buf, cap, &len, env->helo ? env->helo : "");
	if ((env->flags & (RELAY_F_8BIT | RELAY_F_UTF8 | RELAY_F_RET_HDRS |
	    RELAY_F_RET_FULL | QUEUE_F_POSTMASTER)) != 0 && len + 96 < cap)
		len += (size_t)snprintf(buf + len, cap - len, "\nF%s%s%s%s",
		    (env->flags & RELAY_F_8BIT) ? " body=8bitmime" : "",
		    (env->flags & RELAY_F_UTF8) ? " utf8" : "",
		    (env->flags & RELAY_F_RET_HDRS) ? " ret=hdrs" :
		    (env->flags & RELAY_F_RET_FULL) ? " ret=full" : "",
		    (env->flags & QUEUE_F_POSTMASTER) ?
		    " postmaster-notice" : "");
	if (env->envid != NULL && len + 4 < cap) {
		memcpy(buf + len, "\nE ", 3);
		len += 3;
		put_field(buf, cap, &len, env->envid);
	}
	for (i = 0; i < env->nrcpts && len < cap; i++) {
		struct queue_rcpt *rc = &env->rcpts[i];
		char		   nb[QUEUE_NOTIFY_SIZE];

		if (len + 64 >= cap) {
			len = cap;
			break;
		}
		len += (size_t)snprintf(buf + len, cap - len, "\nR %c ",
		    rc->status);
		rc->line_off = (off_t)len - 4;	/* the 'R' */
		len += (size_t)snprintf(buf + len, cap - len, "%0*lld ",
		    OFF_DIGITS, (long long)rc->mbox_off);
		put_field(buf, cap, &len, rc->user);
		if (len + 2 < cap)
			buf[len++] = ' ';
		put_field(buf, cap, &len, rc->addr);
		if (queue_notify_letters(rc->notify, nb, sizeof(nb)) > 0 &&
		    len + 16 < cap)
			len += (size_t)snprintf(buf + len, cap - len, " n=%s",
			    nb);
		if (rc->orcpt != NULL && len + 4 < cap) {
			memcpy(buf + len, " o=", 3);
			len += 3;
			put_field(buf, cap, &len, rc->orcpt);
		}
	}
	if (len + 3 >= cap) {
		free(buf);
		reason_set(r, "4.3.0", "envelope too large");
		return -1;
	}
	buf[len++] = '\n';
	buf[len++] = '\n';
	env->body_off = (off_t)len;

	if ((w->dirfd = open(queue_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		log_warn("open queue %s", queue_dir);
		goto fail;
	}
	/*
	 * Every descriptor the commit needs is taken now: out of them
	 * (EMFILE), the client hears so at DATA, before sending the message.
	 */
	if ((w->activefd = openat(w->dirfd, QUEUE_DIR_ACTIVE, O_RDONLY |
	    O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_warn("open queue %s/" QUEUE_DIR_ACTIVE, queue_dir);
		goto fail;
	}
	snprintf(path, sizeof(path), QUEUE_DIR_INCOMING "/%s", w->id);
	if (take_spare(w, path) == -1) {
		w->fd = openat(w->dirfd, path, O_WRONLY | O_CREAT | O_EXCL |
		    O_CLOEXEC | O_NOFOLLOW, 0600);
		if (w->fd == -1) {
			log_warn("create queue file %s/%s", queue_dir, path);
			goto fail;
		}
		/* held until the commit or abort: the cleaner leaves it */
		if (flock(w->fd, LOCK_EX | LOCK_NB) == -1) {
			log_warn("lock queue file %s", w->id);
			goto fail;
		}
	}
	if ((k = write(w->fd, buf, len)) != (ssize_t)len) {
		if (k >= 0)
			errno = ENOSPC;	/* a short write: the disk is full */
		log_warn("write queue file %s", w->id);
		goto fail;
	}
	free(buf);
	return 0;
fail:
	err = errno;
	free(buf);
	queue_writer_abort(w);
	write_failed(r, err);
	return -1;
}

void
queue_writer_write(struct queue_writer *w, const void *buf, size_t n)
{
	const char	*p = buf;
	ssize_t		 k;

	if (w->failed || w->overflow)
		return;
	if (w->limit > 0 && w->written + (off_t)n > w->limit) {
		w->overflow = true;
		return;
	}
	w->written += (off_t)n;
	if (fault_point("queue.write") == -1) {
		w->failed = true;
		w->saved_errno = errno;
		return;
	}
	while (n > 0) {
		k = write(w->fd, p, n);
		if (k == -1 && errno == EINTR)
			continue;
		if (k <= 0) {
			w->failed = true;
			w->saved_errno = k == 0 ? ENOSPC : errno;
			return;
		}
		p += k;
		n -= (size_t)k;
	}
}

int
queue_writer_commit(struct queue_writer *w, struct reason *r)
{
	char	from[QUEUE_RELPATH_MAX], to[QUEUE_RELPATH_MAX];
	int	err;

	if (w->overflow) {
		reason_set(r, "5.3.4", "message too big");
		goto fail;
	}
	if (w->failed) {
		err = w->saved_errno;
		errno = err;
		log_warn("write queue file %s", w->id);
		goto tempfail;
	}
	if (w->spare_size > 0) {
		/* a spare: what is left of its old contents goes */
		off_t end = lseek(w->fd, 0, SEEK_CUR);

		if (end == -1 || (end < w->spare_size &&
		    ftruncate(w->fd, end) == -1)) {
			err = errno;
			log_warn("truncate queue file %s", w->id);
			goto tempfail;
		}
	}
	if (fault_point("queue.before_fsync") == -1 || fsync(w->fd) == -1) {
		err = errno;
		log_warn("fsync queue file %s", w->id);
		goto tempfail;
	}
	if (fault_point("queue.before_rename") == -1) {
		err = errno;
		goto tempfail;
	}
	snprintf(from, sizeof(from), QUEUE_DIR_INCOMING "/%s", w->id);
	snprintf(to, sizeof(to), "%s/%s", w->hold ? QUEUE_DIR_HOLD :
	    QUEUE_DIR_ACTIVE, w->id);
	if (w->hold) {
		/* the directory to sync is hold/ */
		int hfd = openat(w->dirfd, QUEUE_DIR_HOLD, O_RDONLY |
		    O_DIRECTORY | O_CLOEXEC);

		if (hfd == -1) {
			err = errno;
			log_warn("open %s", QUEUE_DIR_HOLD);
			goto tempfail;
		}
		close(w->activefd);
		w->activefd = hfd;
	}
	if (renameat(w->dirfd, from, w->dirfd, to) == -1) {
		err = errno;
		log_warn("rename queue file %s", w->id);
		goto tempfail;
	}
	/*
	 * The rename is the commit; make it durable before saying 250. If
	 * the directory cannot be synced, take the file back (a runner
	 * that already took it delivers it; the client, told 4xx, may
	 * send it again: at least once, never lost).
	 */
	if (fault_point("queue.dir_fsync") == -1 || fsync(w->activefd) == -1) {
		err = errno;
		log_warn("fsync queue directory for %s", w->id);
		if (renameat(w->dirfd, to, w->dirfd, from) == -1)
			log_warn("take back queue file %s", w->id);
		goto tempfail;
	}
	if (fault_point("queue.after_commit") == -1)
		log_warnx("fault after commit of %s", w->id);
	close(w->fd);
	close(w->dirfd);
	close(w->activefd);
	w->fd = w->dirfd = w->activefd = -1;
	return 0;
tempfail:
	write_failed(r, err);
fail:
	queue_writer_abort(w);
	return -1;
}

void
queue_writer_abort(struct queue_writer *w)
{
	char	path[QUEUE_RELPATH_MAX];

	if (w->fd != -1) {
		close(w->fd);
		w->fd = -1;
	}
	if (w->activefd != -1) {
		close(w->activefd);
		w->activefd = -1;
	}
	if (w->dirfd != -1) {
		snprintf(path, sizeof(path), QUEUE_DIR_INCOMING "/%s", w->id);
		(void)unlinkat(w->dirfd, path, 0);
		close(w->dirfd);
		w->dirfd = -1;
	}
}

/* --- reading ----------------------------------------------------------- */

void
queue_env_free(struct queue_env *env)
{
	size_t	i;

	free(env->sender);
	free(env->auth_user);
	free(env->client);
	free(env->helo);
	free(env->envid);
	for (i = 0; i < env->nrcpts; i++) {
		free(env->rcpts[i].user);
		free(env->rcpts[i].addr);
		free(env->rcpts[i].orcpt);
		free(env->rcpts[i].diagnostic);
		free(env->rcpts[i].remote_mta);
	}
	free(env->rcpts);
	memset(env, 0, sizeof(*env));
}

static bool
all_digits(const char *s, size_t n)
{
	size_t	i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static long long
digits_value(const char *s, size_t n)
{
	long long	v = 0;
	size_t		i;

	for (i = 0; i < n && v < (LLONG_MAX - 9) / 10; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* Parses one envelope line (without LF) at file offset off. */
/* The envelope lines that must appear exactly once. */
enum env_seen {
	SEEN_V = 1 << 0,
	SEEN_I = 1 << 1,
	SEEN_T = 1 << 2,
	SEEN_N = 1 << 3,
	SEEN_ALL = SEEN_V | SEEN_I | SEEN_T | SEEN_N,
	/* V 2 only: W must appear, F and E at most once */
	SEEN_V2 = 1 << 4,
	SEEN_W = 1 << 5,
	SEEN_F = 1 << 6,
	SEEN_E = 1 << 7
};

/* Digits of an arrival time we accept: far beyond any real clock. */
#define TIME_DIGITS_MAX	15

static bool
rcpt_status_valid(char c)
{
	switch (c) {
	case QRCPT_PENDING:
	case QRCPT_TRYING:
	case QRCPT_DONE:
	case QRCPT_BOUNCED:
	case QRCPT_RELAY:
		return true;
	default:
		return false;
	}
}

int
queue_notify_letters(unsigned notify, char *out, size_t outsz)
{
	size_t	n = 0;

	if (outsz < QUEUE_NOTIFY_SIZE)
		return -1;
	if (notify & DSN_NOTIFY_NEVER)
		out[n++] = 'N';
	else {
		if (notify & DSN_NOTIFY_SUCCESS)
			out[n++] = 'S';
		if (notify & DSN_NOTIFY_FAILURE)
			out[n++] = 'F';
		if (notify & DSN_NOTIFY_DELAY)
			out[n++] = 'D';
	}
	out[n] = '\0';
	return (int)n;
}

/* "body=8bitmime utf8 ret=hdrs": each known word once, RET once. */
static int
parse_flags(struct queue_env *env, const char *l, size_t n)
{
	static const struct {
		const char	*word;
		unsigned	 bit;
	} words[] = {
		{ "body=8bitmime", RELAY_F_8BIT },
		{ "utf8", RELAY_F_UTF8 },
		{ "ret=hdrs", RELAY_F_RET_HDRS },
		{ "ret=full", RELAY_F_RET_FULL },
		{ "postmaster-notice", QUEUE_F_POSTMASTER },
	};
	const char	*end = l + n, *sp;
	size_t		 i, k;

	while (l < end) {
		sp = memchr(l, ' ', (size_t)(end - l));
		k = sp ? (size_t)(sp - l) : (size_t)(end - l);
		for (i = 0; i < NITEMS(words); i++)
			if (strlen(words[i].word) == k &&
			    memcmp(words[i].word, l, k) == 0)
				break;
		if (i == NITEMS(words) || (env->flags & words[i].bit))
			return -1;
		env->flags |= words[i].bit;
		l += k;
		if (l < end && ++l == end)
			return -1;	/* a trailing space */
	}
	if ((env->flags & RELAY_F_RET_HDRS) && (env->flags & RELAY_F_RET_FULL))
		return -1;
	return env->flags != 0 ? 0 : -1;
}

/* " n=SFD o=rfc822;..." after a V 2 recipient's address (t at the space). */
static int
parse_rcpt_tail(struct queue_rcpt *rc, const char *t, size_t n)
{
	const char	*end = t + n, *sp;
	size_t		 k, i;

	while (t < end) {
		if (*t != ' ' || end - t < 4 || t[2] != '=')
			return -1;
		t++;
		sp = memchr(t, ' ', (size_t)(end - t));
		k = sp ? (size_t)(sp - t) : (size_t)(end - t);
		if (t[0] == 'n' && rc->notify == 0) {
			for (i = 2; i < k; i++) {
				unsigned bit;

				switch (t[i]) {
				case 'N': bit = DSN_NOTIFY_NEVER; break;
				case 'S': bit = DSN_NOTIFY_SUCCESS; break;
				case 'F': bit = DSN_NOTIFY_FAILURE; break;
				case 'D': bit = DSN_NOTIFY_DELAY; break;
				default: return -1;
				}
				if (rc->notify & bit)
					return -1;
				rc->notify |= bit;
			}
			/* NEVER stands alone (RFC 3461 4.1) */
			if ((rc->notify & DSN_NOTIFY_NEVER) &&
			    rc->notify != DSN_NOTIFY_NEVER)
				return -1;
		} else if (t[0] == 'o' && rc->orcpt == NULL) {
			rc->orcpt = get_field(t + 2, k - 2);
			if (rc->orcpt == NULL || *rc->orcpt == '\0' ||
			    strlen(rc->orcpt) > QUEUE_ORCPT_MAX)
				return -1;
		} else
			return -1;
		t += k;
	}
	return 0;
}

static int
env_line(struct queue_env *env, const char *l, size_t n, off_t off,
    unsigned *seen)
{
	const char	*sp;
	size_t		 k;

	if (n < 3 || l[1] != ' ')
		return -1;
	/* the version comes first: it says which lines may follow */
	if ((l[0] == 'V') != (*seen == 0))
		return -1;
	l += 2;
	n -= 2;
	switch (l[-2]) {
	case 'V':
		if (n != 1 || (l[0] != '1' && l[0] != '2'))
			return -1;
		*seen |= SEEN_V | (l[0] == '2' ? SEEN_V2 : 0);
		return 0;
	case 'W':
		if (!(*seen & SEEN_V2) || (*seen & SEEN_W) ||
		    n != WARN_DIGITS || !all_digits(l, n))
			return -1;
		env->warned = (time_t)digits_value(l, n);
		env->warned_off = off + 2;
		*seen |= SEEN_W;
		return 0;
	case 'F':
		if (!(*seen & SEEN_V2) || (*seen & SEEN_F))
			return -1;
		*seen |= SEEN_F;
		return parse_flags(env, l, n);
	case 'E':
		if (!(*seen & SEEN_V2) || (*seen & SEEN_E))
			return -1;
		*seen |= SEEN_E;
		env->envid = get_field(l, n);
		return env->envid != NULL && strlen(env->envid) <=
		    QUEUE_ENVID_MAX ? 0 : -1;
	case 'I':
		if (n != QUEUE_ID_LEN || (*seen & SEEN_I))
			return -1;
		memcpy(env->id, l, QUEUE_ID_LEN);
		env->id[QUEUE_ID_LEN] = '\0';
		*seen |= SEEN_I;
		return queue_id_valid(env->id) ? 0 : -1;
	case 'T':
		if (!all_digits(l, n) || n > TIME_DIGITS_MAX || (*seen & SEEN_T))
			return -1;
		env->arrival = (time_t)digits_value(l, n);
		*seen |= SEEN_T;
		return 0;
	case 'N':
		if (n != ATT_DIGITS || !all_digits(l, n) || (*seen & SEEN_N))
			return -1;
		env->attempts = (unsigned)digits_value(l, n);
		env->attempts_off = off + 2;
		*seen |= SEEN_N;
		return 0;
	case 'S':
		if (env->sender != NULL)
			return -1;
		env->sender = get_field(l, n);
		return env->sender ? 0 : -1;
	case 'A':
		if (env->auth_user != NULL)
			return -1;
		env->auth_user = get_field(l, n);
		return env->auth_user ? 0 : -1;
	case 'C':
		if (env->client != NULL || (sp = memchr(l, ' ', n)) == NULL)
			return -1;
		k = (size_t)(sp - l);
		env->client = get_field(l, k);
		env->helo = get_field(sp + 1, n - k - 1);
		return env->client && env->helo ? 0 : -1;
	case 'R': {
		struct queue_rcpt *rc;
		const char	 *f;

		/* "s " + 20 digits + " " + user + " " + addr */
		if (n < 2 + OFF_DIGITS + 4 || l[1] != ' ' ||
		    l[2 + OFF_DIGITS] != ' ' || !all_digits(l + 2, OFF_DIGITS))
			return -1;
		if (!rcpt_status_valid(l[0]))
			return -1;
		if (env->nrcpts >= QUEUE_RCPTS_MAX)
			return -1;
		env->rcpts = xreallocarray(env->rcpts, env->nrcpts + 1,
		    sizeof(*env->rcpts));
		rc = &env->rcpts[env->nrcpts++];
		memset(rc, 0, sizeof(*rc));
		rc->status = l[0];
		rc->mbox_off = (off_t)digits_value(l + 2, OFF_DIGITS);
		rc->line_off = off;
		f = l + 3 + OFF_DIGITS;
		k = n - (3 + OFF_DIGITS);
		if ((sp = memchr(f, ' ', k)) == NULL)
			return -1;
		rc->user = get_field(f, (size_t)(sp - f));
		k -= (size_t)(sp - f) + 1;
		f = sp + 1;
		if ((sp = memchr(f, ' ', k)) == NULL) {
			rc->addr = get_field(f, k);
			return rc->user && rc->addr ? 0 : -1;
		}
		/* V 2: " n=letters" and " o=orcpt" may follow the address */
		rc->addr = get_field(f, (size_t)(sp - f));
		if (rc->user == NULL || rc->addr == NULL ||
		    !(*seen & SEEN_V2))
			return -1;
		return parse_rcpt_tail(rc, sp, k - (size_t)(sp - f));
	}
	default:
		return -1;
	}
}

int
queue_env_read(int fd, struct queue_env *env, struct reason *r)
{
	struct stat	 st;
	char		*buf, *p, *end, *nl;
	size_t		 cap = 65536, len = 0;
	ssize_t		 n;
	unsigned	 seen = 0;

	memset(env, 0, sizeof(*env));
	buf = xmalloc(cap + 1);
	/* read until the empty line that ends the envelope */
	for (;;) {
		n = pread(fd, buf + len, cap - len, (off_t)len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			reason_set(r, "4.3.0", "read: %s", strerror(errno));
			goto fail;
		}
		len += (size_t)n;
		buf[len] = '\0';
		if (memmem(buf, len, "\n\n", 2) != NULL)
			break;
		if (n == 0 || cap >= ENV_MAX) {
			reason_set(r, "4.3.0", "envelope without an end");
			goto fail;
		}
		if (len == cap) {
			cap *= 2;
			buf = xreallocarray(buf, cap + 1, 1);
		}
	}
	p = buf;
	end = (char *)memmem(buf, len, "\n\n", 2) + 1;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (env_line(env, p, (size_t)(nl - p), (off_t)(p - buf),
		    &seen) == -1) {
			reason_set(r, "4.3.0", "malformed envelope line %.20s",
			    p);
			goto fail;
		}
		p = nl + 1;
	}
	if ((seen & SEEN_ALL) != SEEN_ALL || ((seen & SEEN_V2) &&
	    !(seen & SEEN_W)) || env->sender == NULL || env->client == NULL ||
	    env->nrcpts == 0) {
		reason_set(r, "4.3.0", "envelope lacks a required line");
		goto fail;
	}
	env->body_off = (off_t)(end - buf) + 1;
	if (fstat(fd, &st) == -1 || st.st_size < env->body_off) {
		reason_set(r, "4.3.0", "queue file shorter than its envelope");
		goto fail;
	}
	env->body_len = st.st_size - env->body_off;
	free(buf);
	return 0;
fail:
	free(buf);
	queue_env_free(env);
	return -1;
}

int
queue_rcpt_mark(int fd, struct queue_env *env, size_t i, char status,
    off_t mbox_off, bool sync)
{
	struct queue_rcpt	*rc = &env->rcpts[i];
	char			 b[2 + 1 + OFF_DIGITS + 1];
	int			 n;

	/* "R s 000...0": status at +2, offset at +4 */
	n = snprintf(b, sizeof(b), "%c %0*lld", status, OFF_DIGITS,
	    (long long)mbox_off);
	if (pwrite(fd, b, (size_t)n, rc->line_off + 2) != n)
		return -1;
	if (sync && fdatasync(fd) == -1)
		return -1;
	rc->status = status;
	rc->mbox_off = mbox_off;
	return 0;
}

int
queue_attempts_mark(int fd, struct queue_env *env, unsigned attempts)
{
	char	b[ATT_DIGITS + 1];

	if (attempts > 999999999)
		attempts = 999999999;
	snprintf(b, sizeof(b), "%0*u", ATT_DIGITS, attempts);
	if (pwrite(fd, b, ATT_DIGITS, env->attempts_off) != ATT_DIGITS)
		return -1;
	env->attempts = attempts;
	return 0;
}

bool
queue_env_done(const struct queue_env *env)
{
	size_t	i;

	for (i = 0; i < env->nrcpts; i++)
		if (env->rcpts[i].status != QRCPT_DONE &&
		    env->rcpts[i].status != QRCPT_BOUNCED)
			return false;
	return true;
}

int
queue_warned_mark(int fd, struct queue_env *env, time_t when)
{
	char	b[24];

	if (env->warned_off <= 0) {
		errno = EOPNOTSUPP;	/* a V 1 file has no W line */
		return -1;
	}
	if (when < 0 || when > WARN_MAX)
		when = 0;
	snprintf(b, sizeof(b), "%0*lld", WARN_DIGITS, (long long)when);
	if (pwrite(fd, b, WARN_DIGITS, env->warned_off) != WARN_DIGITS)
		return -1;
	env->warned = when;
	return 0;
}

/* --- the defer side file ------------------------------------------------- */

/*
 * queue_dir/defer/ID, one line per recipient with something to say:
 *
 *	D 1 ID
 *	r IDX TIME STATUS TEXT DIAGNOSTIC REMOTE-MTA
 *
 * IDX is the recipient's index in the queue file, TIME the last attempt
 * (seconds), STATUS an RFC 3463 code or "%" and the three texts fields
 * encoded like the envelope's ("%" when empty).
 */
#define DEFER_FILE_MAX	(4 * 1024 * 1024)

static bool
defer_status_valid(const char *s)
{
	size_t	i, digits = 0, dots = 0;

	if (s[0] != '2' && s[0] != '4' && s[0] != '5')
		return false;
	for (i = 1; s[i] != '\0'; i++) {
		if (s[i] == '.') {
			if (digits == 0 && i > 1)
				return false;
			dots++;
			digits = 0;
		} else if (s[i] >= '0' && s[i] <= '9' && ++digits <= 3)
			continue;
		else
			return false;
	}
	return dots == 2 && digits > 0 &&
	    i < sizeof(((struct reason *)0)->status);
}

/* Whether a decoded text is fit for a log line or a DSN. */
static bool
defer_text_valid(const char *s, size_t max)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || i >= max)
			return false;
	return true;
}

/* Appends " " and s (at most max bytes, control bytes made '?'). */
static void
defer_put_text(char *buf, size_t cap, size_t *len, const char *s, size_t max)
{
	char	*t;
	size_t	 i;

	t = xstrdup(s);
	for (i = 0; t[i] != '\0'; i++)
		if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
			t[i] = '?';
	if (i > max)
		t[max] = '\0';
	buf[(*len)++] = ' ';
	put_field(buf, cap, len, t);
	free(t);
}

int
queue_defer_save(int qdirfd, const struct queue_env *env)
{
	char	 tmp[QUEUE_RELPATH_MAX], path[QUEUE_RELPATH_MAX], *buf;
	size_t	 cap = 1024, len, i, need;
	ssize_t	 k;
	bool	 any = false;
	int	 fd, err;

	if (!queue_id_valid(env->id)) {
		errno = EINVAL;
		return -1;
	}
	buf = xmalloc(cap);
	len = (size_t)snprintf(buf, cap, "D 1 %s\n", env->id);
	for (i = 0; i < env->nrcpts; i++) {
		const struct queue_rcpt *rc = &env->rcpts[i];
		const char	*diag = rc->diagnostic ? rc->diagnostic : "";
		const char	*mta = rc->remote_mta ? rc->remote_mta : "";

		if (rc->why.status[0] == '\0' && rc->why.text[0] == '\0' &&
		    *diag == '\0' && *mta == '\0' && rc->last_attempt == 0)
			continue;
		/* every byte may take 3, plus the numbers and separators */
		need = 3 * (strlen(rc->why.text) + strlen(diag) +
		    strlen(mta) + sizeof(rc->why.status)) + 96;
		if (len + need > DEFER_FILE_MAX)
			break;
		if (len + need > cap) {
			while (len + need > cap)
				cap *= 2;
			buf = xreallocarray(buf, cap, 1);
		}
		len += (size_t)snprintf(buf + len, cap - len, "r %zu %lld ", i,
		    (long long)(rc->last_attempt > 0 ? rc->last_attempt : 0));
		put_field(buf, cap, &len, defer_status_valid(rc->why.status) ?
		    rc->why.status : "");
		defer_put_text(buf, cap, &len, rc->why.text,
		    sizeof(rc->why.text) - 1);
		defer_put_text(buf, cap, &len, diag, QUEUE_DIAG_MAX);
		defer_put_text(buf, cap, &len, mta, QUEUE_DIAG_MAX);
		buf[len++] = '\n';
		any = true;
	}
	snprintf(path, sizeof(path), QUEUE_DIR_DEFER "/%s", env->id);
	if (!any) {
		free(buf);
		if (unlinkat(qdirfd, path, 0) == -1 && errno != ENOENT)
			return -1;
		return 0;
	}
	/* a name no scanner takes for a queue id */
	snprintf(tmp, sizeof(tmp), QUEUE_DIR_DEFER "/%s.tmp", env->id);
	fd = openat(qdirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1) {
		err = errno;
		free(buf);
		errno = err;
		return -1;
	}
	k = write(fd, buf, len);
	err = errno;
	free(buf);
	if (k != (ssize_t)len) {
		close(fd);
		(void)unlinkat(qdirfd, tmp, 0);
		errno = k >= 0 ? ENOSPC : err;
		return -1;
	}
	if (close(fd) == -1 || renameat(qdirfd, tmp, qdirfd, path) == -1) {
		err = errno;
		(void)unlinkat(qdirfd, tmp, 0);
		errno = err;
		return -1;
	}
	return 0;
}

struct defer_line {
	size_t	 idx;
	time_t	 when;
	char	*status, *text, *diag, *mta;
};

static void
defer_line_free(struct defer_line *d)
{
	free(d->status);
	free(d->text);
	free(d->diag);
	free(d->mta);
	memset(d, 0, sizeof(*d));
}

/* One "r ..." line (without its LF) into d; -1 if malformed. */
static int
defer_line_parse(const char *l, size_t n, size_t nrcpts, struct defer_line *d)
{
	const char	*f[6], *end = l + n, *sp;
	size_t		 fl[6], i;

	memset(d, 0, sizeof(*d));
	if (n < 2 || l[0] != 'r' || l[1] != ' ')
		return -1;
	l += 2;
	for (i = 0; i < 6; i++) {
		sp = memchr(l, ' ', (size_t)(end - l));
		if ((sp == NULL) != (i == 5))
			return -1;
		f[i] = l;
		fl[i] = sp ? (size_t)(sp - l) : (size_t)(end - l);
		if (fl[i] == 0)
			return -1;
		l += fl[i] + 1;
	}
	if (!all_digits(f[0], fl[0]) || fl[0] > 9 || !all_digits(f[1], fl[1]) ||
	    fl[1] > TIME_DIGITS_MAX)
		return -1;
	d->idx = (size_t)digits_value(f[0], fl[0]);
	d->when = (time_t)digits_value(f[1], fl[1]);
	if (d->idx >= nrcpts)
		return -1;
	d->status = get_field(f[2], fl[2]);
	d->text = get_field(f[3], fl[3]);
	d->diag = get_field(f[4], fl[4]);
	d->mta = get_field(f[5], fl[5]);
	if (d->status == NULL || d->text == NULL || d->diag == NULL ||
	    d->mta == NULL ||
	    (d->status[0] != '\0' && !defer_status_valid(d->status)) ||
	    !defer_text_valid(d->text, sizeof(((struct reason *)0)->text)) ||
	    !defer_text_valid(d->diag, QUEUE_DIAG_MAX) ||
	    !defer_text_valid(d->mta, QUEUE_DIAG_MAX)) {
		defer_line_free(d);
		return -1;
	}
	return 0;
}

int
queue_defer_load(int qdirfd, struct queue_env *env)
{
	struct defer_line	*dl = NULL;
	struct stat		 st;
	char			 path[QUEUE_RELPATH_MAX], *buf = NULL;
	char			 head[sizeof("D 1 \n") + QUEUE_ID_MAX];
	char			*p, *end, *nl;
	size_t			 ndl = 0, i, len = 0;
	ssize_t			 k;
	int			 fd, ret = -1;

	if (!queue_id_valid(env->id))
		return -1;
	snprintf(path, sizeof(path), QUEUE_DIR_DEFER "/%s", env->id);
	fd = openat(qdirfd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > DEFER_FILE_MAX)
		goto out;
	buf = xmalloc((size_t)st.st_size + 1);
	while (len < (size_t)st.st_size) {
		k = read(fd, buf + len, (size_t)st.st_size - len);
		if (k == -1 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	if (len == 0 || buf[len - 1] != '\n')
		goto out;
	buf[len] = '\0';
	end = buf + len;
	snprintf(head, sizeof(head), "D 1 %s\n", env->id);
	if (len < strlen(head) || memcmp(buf, head, strlen(head)) != 0)
		goto out;
	for (p = buf + strlen(head); p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (ndl >= env->nrcpts)
			goto out;	/* one line per recipient at most */
		dl = xreallocarray(dl, ndl + 1, sizeof(*dl));
		if (defer_line_parse(p, (size_t)(nl - p), env->nrcpts,
		    &dl[ndl]) == -1)
			goto out;
		ndl++;
	}
	/* all good: apply */
	for (i = 0; i < ndl; i++) {
		struct queue_rcpt *rc = &env->rcpts[dl[i].idx];

		snprintf(rc->why.status, sizeof(rc->why.status), "%s",
		    dl[i].status);
		snprintf(rc->why.text, sizeof(rc->why.text), "%s",
		    dl[i].text);
		free(rc->diagnostic);
		free(rc->remote_mta);
		rc->diagnostic = dl[i].diag[0] ? dl[i].diag : NULL;
		rc->remote_mta = dl[i].mta[0] ? dl[i].mta : NULL;
		if (rc->diagnostic == NULL)
			free(dl[i].diag);
		if (rc->remote_mta == NULL)
			free(dl[i].mta);
		dl[i].diag = dl[i].mta = NULL;
		rc->last_attempt = dl[i].when;
	}
	ret = 0;
out:
	for (i = 0; i < ndl; i++)
		defer_line_free(&dl[i]);
	free(dl);
	free(buf);
	close(fd);
	return ret;
}

void
queue_defer_remove(int qdirfd, const char *id)
{
	char	path[QUEUE_RELPATH_MAX];

	if (!queue_id_valid(id))
		return;
	snprintf(path, sizeof(path), QUEUE_DIR_DEFER "/%s", id);
	(void)unlinkat(qdirfd, path, 0);
}
