/*
 * The message table (mbox_table.h): growing it, and opening it for a
 * POP3 session from the index or a scan. Runs in the POP3 worker,
 * unprivileged, on descriptors the monitor passed.
 */
#include "autoconf.h"

#include <sys/mman.h>

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mbox_index.h"
#include "mbox_scan.h"
#include "mbox_table.h"
#include "xmalloc.h"

static sigjmp_buf		table_sigbus_jmp;
static volatile sig_atomic_t	table_sigbus_armed;

static int	table_check_pread(int, const struct mbox_table *,
		    const bool *);
static void	table_sigbus(int);

long	mbox_table_settle_ms = MBOX_TABLE_SETTLE_MS;

int
mbox_table_fstat(int fd, struct stat *st, bool *settled_out)
{
	struct timespec	now;
	long long	age_ms;

	if (clock_gettime(CLOCK_REALTIME, &now) == -1 || fstat(fd, st) == -1)
		return -1;
	age_ms = ((long long)now.tv_sec - (long long)st->st_ctim.tv_sec) *
	    1000 + (now.tv_nsec - st->st_ctim.tv_nsec) / 1000000;
	*settled_out = age_ms >= mbox_table_settle_ms;
	return 0;
}

void
mbox_table_set_stat(struct mbox_table *t, const struct stat *st,
    bool settled)
{
	t->dev = st->st_dev;
	t->ino = st->st_ino;
	t->mtime = st->st_mtim;
	t->size = st->st_size;
	t->ctime = st->st_ctim;
	t->settled = settled;
}

void
mbox_table_init(struct mbox_table *t)
{
	memset(t, 0, sizeof(*t));
}

void
mbox_table_deinit(struct mbox_table *t)
{
	free(t->v);
	mbox_table_init(t);
}

struct mbox_msg *
mbox_table_add(struct mbox_table *t)
{
	struct mbox_msg	*m;

	if (t->n == t->cap) {
		t->cap = t->cap == 0 ? 64 : t->cap * 2;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	m = &t->v[t->n++];
	memset(m, 0, sizeof(*m));
	return m;
}

off_t
mbox_table_span_end(const struct mbox_table *t, size_t i)
{
	return i + 1 < t->n ? t->v[i + 1].from_off : t->scanned;
}

/* The check one pread() per message: when the file cannot be mapped. */
static int
table_check_pread(int fd, const struct mbox_table *t, const bool *skip)
{
	char	b[1 + MBOX_FROM_LEN];
	size_t	i;
	ssize_t	n;
	off_t	off;

	for (i = 0; i < t->n; i++) {
		if (skip != NULL && skip[i])
			continue;
		off = t->v[i].from_off;
		b[0] = '\n';	/* the start of the file counts as after a LF */
		do
			n = off == 0 ? pread(fd, b + 1, MBOX_FROM_LEN, 0) :
			    pread(fd, b, 1 + MBOX_FROM_LEN, off - 1);
		while (n == -1 && errno == EINTR);
		if (n == -1)
			return -1;
		if (n != (ssize_t)(off == 0 ? MBOX_FROM_LEN : 1 + MBOX_FROM_LEN)
		    || b[0] != '\n' || !mbox_is_from(b + 1, MBOX_FROM_LEN))
			return 0;
	}
	return 1;
}

static void
table_sigbus(int sig)
{
	if (table_sigbus_armed)
		siglongjmp(table_sigbus_jmp, 1);
	/* not ours: die of it as if we had not been here */
	signal(sig, SIG_DFL);
	raise(sig);
}

int
mbox_table_check_starts(int fd, const struct mbox_table *t, const bool *skip)
{
	struct sigaction	 sa, old;
	const char		*map;
	volatile int		 ok = 1;
	size_t			 i, len;
	off_t			 off;

	if (t->n == 0)
		return 1;
	/* every start is below the last one */
	len = (size_t)t->v[t->n - 1].from_off + MBOX_FROM_LEN;
	map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return table_check_pread(fd, t, skip);

	/*
	 * Reading a page past the end of the file raises SIGBUS: a file
	 * shorter than the table (truncated, maybe while we read) fails the
	 * check instead of killing the process.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = table_sigbus;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &old) == -1) {
		munmap((void *)map, len);
		return table_check_pread(fd, t, skip);
	}
	if (sigsetjmp(table_sigbus_jmp, 1) == 0) {
		table_sigbus_armed = 1;
		for (i = 0; i < t->n; i++) {
			if (skip != NULL && skip[i])
				continue;
			off = t->v[i].from_off;
			if ((off > 0 && map[off - 1] != '\n') ||
			    !mbox_is_from(map + off, MBOX_FROM_LEN)) {
				ok = 0;
				break;
			}
		}
	} else
		ok = 0;
	table_sigbus_armed = 0;
	(void)sigaction(SIGBUS, &old, NULL);	/* it was set a moment ago */
	munmap((void *)map, len);
	return ok;
}

int
mbox_table_open(int mbox_fd, int idx_fd, struct mbox_table *t,
    struct reason *r)
{
	int	rc = MBOX_INDEX_STALE;

	if (idx_fd != -1)
		rc = mbox_index_load(idx_fd, mbox_fd, t);
	if (rc == MBOX_INDEX_FRESH)
		return 0;
	if (rc == MBOX_INDEX_CHECKED) {
		/* so that the next load is proven by fstat */
		if (t->settled && mbox_index_save(idx_fd, t, mbox_fd) == -1)
			log_warn("maildrop index not saved");
		return 0;
	}
	if (rc == MBOX_INDEX_GROWN) {
		if (mbox_scan(mbox_fd, t->scanned, t, r) == 0)
			goto save;
		if (errno != ESTALE)
			goto fail;
		log_info("maildrop changed since the index: scanning again");
	}
	/* -1 (cannot read the maildrop): the scan reports it */
	if (mbox_scan(mbox_fd, 0, t, r) == -1)
		goto fail;
save:
	if (idx_fd != -1 && mbox_index_save(idx_fd, t, mbox_fd) == -1)
		log_warn("maildrop index not saved");
	return 0;

fail:
	mbox_table_deinit(t);
	return -1;
}
