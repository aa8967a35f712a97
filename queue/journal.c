/*
 * The delivery journal (see journal.h), in the root deliverers. Text
 * records, one batch each:
 *
 *	B <dev> <ino> <count> <user>
 *	M <queue id> <rcpt> <offset> <length>		(count of them)
 *
 * written with one write() and fdatasync'ed before the maildrop is
 * touched. A torn last batch (a crash while it was being written) is
 * simply incomplete: nothing of it reached the maildrop yet.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "journal.h"
#include "log.h"
#include "queue_file.h"
#include "xmalloc.h"

#define JOURNAL_COMPACT_AT	(256 * 1024)
#define JOURNAL_READ_MAX	(64 * 1024 * 1024)

int
journal_open(struct journal *j, const char *queue_dir)
{
	struct stat	st;

	j->fd = j->qdirfd = -1;
	if ((j->qdirfd = open(queue_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		log_warn("open queue %s", queue_dir);
		return -1;
	}
	if ((j->fd = openat(j->qdirfd, "journal", O_RDWR | O_CREAT |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1) {
		log_warn("open %s/journal", queue_dir);
		journal_close(j);
		return -1;
	}
	j->size = fstat(j->fd, &st) == 0 ? st.st_size : 0;
	return 0;
}

void
journal_close(struct journal *j)
{
	if (j->fd != -1)
		close(j->fd);
	if (j->qdirfd != -1)
		close(j->qdirfd);
	j->fd = j->qdirfd = -1;
}

int
journal_lock(struct journal *j)
{
	struct flock	fl;
	struct stat	st;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	while (fcntl(j->fd, F_SETLKW, &fl) == -1) {
		if (errno != EINTR) {
			log_warn("lock the delivery journal");
			return -1;
		}
	}
	/* another deliverer may have written or compacted meanwhile */
	j->size = fstat(j->fd, &st) == 0 ? st.st_size : 0;
	return 0;
}

int
journal_lock_wait(struct journal *j, int timeout_ms)
{
	struct flock	fl;
	struct stat	st;
	struct timespec	pause = { 0, 50 * 1000 * 1000 };
	int		waited = 0;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	while (fcntl(j->fd, F_SETLK, &fl) == -1) {
		if (errno != EACCES && errno != EAGAIN && errno != EINTR)
			return -1;
		if (waited >= timeout_ms) {
			errno = EWOULDBLOCK;
			return -1;
		}
		(void)nanosleep(&pause, NULL);
		waited += 50;
	}
	j->size = fstat(j->fd, &st) == 0 ? st.st_size : 0;
	return 0;
}

void
journal_unlock(struct journal *j)
{
	struct flock	fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_UNLCK;
	fl.l_whence = SEEK_SET;
	(void)fcntl(j->fd, F_SETLK, &fl);
}

int
journal_record(struct journal *j, const struct journal_batch *b)
{
	char	*buf;
	size_t	 cap, len = 0, i;
	ssize_t	 n;

	cap = 128 + USER_NAME_MAX + b->n * (QUEUE_ID_MAX + 64);
	buf = xmalloc(cap);
	len += (size_t)snprintf(buf + len, cap - len, "B %ju %ju %zu %s\n",
	    (uintmax_t)b->dev, (uintmax_t)b->ino, b->n, b->user);
	for (i = 0; i < b->n; i++)
		len += (size_t)snprintf(buf + len, cap - len,
		    "M %s %u %lld %lld\n", b->msgs[i].qid, b->msgs[i].rcpt,
		    (long long)b->msgs[i].off, (long long)b->msgs[i].len);
	n = pwrite(j->fd, buf, len, j->size);
	free(buf);
	if (n != (ssize_t)len) {
		if (n >= 0)
			errno = ENOSPC;
		return -1;
	}
	if (fdatasync(j->fd) == -1)
		return -1;
	j->size += (off_t)len;
	return 0;
}

static bool
parse_b(const char *l, struct journal_batch *b, size_t *count)
{
	uintmax_t	dev, ino;
	size_t		n;
	int		pos = 0;

	if (sscanf(l, "B %ju %ju %zu %n", &dev, &ino, &n, &pos) != 3 ||
	    pos == 0 || strlen(l + pos) > USER_NAME_MAX || l[pos] == '\0' ||
	    n == 0 || n > 100000)
		return false;
	b->dev = (dev_t)dev;
	b->ino = (ino_t)ino;
	snprintf(b->user, sizeof(b->user), "%s", l + pos);
	*count = n;
	return true;
}

static bool
parse_m(const char *l, struct journal_msg *m)
{
	char		qid[32];
	unsigned	rcpt;
	long long	off, len;

	if (sscanf(l, "M %31s %u %lld %lld", qid, &rcpt, &off, &len) != 4 ||
	    !queue_id_valid(qid) || off < 0 || len <= 0)
		return false;
	memcpy(m->qid, qid, QUEUE_ID_MAX + 1);	/* valid: 16 characters */
	m->rcpt = rcpt;
	m->off = (off_t)off;
	m->len = (off_t)len;
	return true;
}

int
journal_replay(struct journal *j,
    void (*fn)(void *, const struct journal_batch *), void *arg)
{
	struct journal_batch	 b;
	struct stat		 st;
	char			*buf, *p, *nl;
	size_t			 want = 0, len;
	ssize_t			 n;
	int			 batches = 0;

	if (fstat(j->fd, &st) == -1)
		return -1;
	if (st.st_size == 0)
		return 0;
	if (st.st_size > JOURNAL_READ_MAX) {
		log_warnx("delivery journal too large (%lld bytes); ignored",
		    (long long)st.st_size);
		return 0;
	}
	len = (size_t)st.st_size;
	buf = xmalloc(len + 1);
	if ((n = pread(j->fd, buf, len, 0)) != (ssize_t)len) {
		free(buf);
		return -1;
	}
	buf[len] = '\0';
	memset(&b, 0, sizeof(b));
	for (p = buf; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		*nl = '\0';
		if (want == 0) {
			if (!parse_b(p, &b, &want))
				break;
			b.msgs = xcalloc(want, sizeof(*b.msgs));
			b.n = 0;
			continue;
		}
		if (!parse_m(p, &b.msgs[b.n]))
			break;
		if (++b.n == want) {
			fn(arg, &b);
			batches++;
			xfree(&b.msgs);
			want = 0;
		}
	}
	if (want != 0 || *p != '\0')
		log_info("delivery journal ends in an unfinished record "
		    "(a crash while it was written): nothing of it was "
		    "delivered");
	free(b.msgs);
	free(buf);
	return batches;
}

int
journal_compact(struct journal *j)
{
	const char	*dirs[] = { QUEUE_DIR_ACTIVE, QUEUE_DIR_DEFERRED };
	size_t		 i;
	int		 fd;

	if (j->size == 0)
		return 0;
	if (fault_point("journal.compact") == -1)
		return -1;
	for (i = 0; i < 2; i++) {
		if ((fd = openat(j->qdirfd, dirs[i], O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC)) == -1)
			return -1;
		if (fsync(fd) == -1) {
			close(fd);
			return -1;
		}
		close(fd);
	}
	if (ftruncate(j->fd, 0) == -1 || fdatasync(j->fd) == -1)
		return -1;
	j->size = 0;
	return 0;
}

bool
journal_wants_compaction(const struct journal *j)
{
	return j->size >= JOURNAL_COMPACT_AT;
}
