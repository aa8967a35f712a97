/*
 * Small descriptor helpers for the master and its children.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <syslog.h>
#include <unistd.h>
#include <linux/close_range.h>
#include <sys/syscall.h>

#include "fdutil.h"
#include "log.h"

static int
cmp_int(const void *a, const void *b)
{
	int	x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static void
close_span(unsigned lo, unsigned hi)
{
	unsigned fd;

	if (lo > hi)
		return;
	if (syscall(SYS_close_range, lo, hi, 0) == 0)
		return;
	/* old kernel: the bounded slow way */
	if (hi > 65535)
		hi = 65535;
	for (fd = lo; fd <= hi; fd++)
		(void)close((int)fd);
}

void
fd_keep_only(const int *keep, size_t n)
{
	int	 sorted[64];
	size_t	 i, m = 0;
	unsigned lo = 3;

	closelog();
	for (i = 0; i < n && m < 64; i++)
		if (keep[i] > 2)
			sorted[m++] = keep[i];
	qsort(sorted, m, sizeof(int), cmp_int);
	for (i = 0; i < m; i++) {
		if ((unsigned)sorted[i] > lo)
			close_span(lo, (unsigned)sorted[i] - 1);
		if ((unsigned)sorted[i] + 1 > lo)
			lo = (unsigned)sorted[i] + 1;
	}
	close_span(lo, ~0U);
}

ssize_t
fd_pread_full(int fd, void *buf, size_t len, off_t off)
{
	size_t	got = 0;
	ssize_t	n;

	while (got < len) {
		n = pread(fd, (char *)buf + got, len - got, off + (off_t)got);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int
fd_set_nonblock(int fd, int on)
{
	int	fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl);
}

void
fd_null_stdio(int keep_stderr)
{
	int	fd, i;

	if ((fd = open("/dev/null", O_RDWR)) == -1)
		return;
	for (i = 0; i <= 2; i++)
		if (i != 2 || !keep_stderr)
			(void)dup2(fd, i);
	if (fd > 2)
		close(fd);
}
