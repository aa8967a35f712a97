/*
 * By-hand benchmark of the mbox modules (not run by "make check"):
 *
 *	make tests/bench/mbox_bench
 *	tests/bench/mbox_bench [DIR [COUNT [SIZE]]]
 *
 * Writes a maildrop of COUNT messages of SIZE bytes (default 100,000 x
 * 10 KiB, about 1 GB, laid out like shared/bench/mkmbox.py) in DIR
 * (default /tmp), and reports with the page cache warm: a full scan, the
 * first open (scan and index write), the second open (index
 * validation), reading every message as RETR does, a rewrite that
 * deletes the first message, and 2,000 appends of 4 KiB with fsync.
 * Removes its files at the end.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mbox_append.h"
#include "mbox_index.h"
#include "mbox_reader.h"
#include "mbox_rewrite.h"
#include "mbox_scan.h"

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "mbox_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

#define BENCH_FROM	"From sender@example.test Tue Nov 24 21:00:00 2026\n"

/* The maildrop mkmbox.py writes: headers, Lorem lines, a separator. */
static off_t
generate(int fd, long count, long size)
{
	static const char line[] = "Lorem ipsum dolor sit amet, consectetur "
	    "adipiscing elit, sed do eiusmod.\n";
	char	*buf, hdr[1024];
	size_t	 cap = 1 << 20, len = 0, llen = sizeof(line) - 1;
	long	 i, room;
	int	 h;
	off_t	 total = 0;

	buf = malloc(cap + 2 * (size_t)size + 2048);
	for (i = 1; i <= count; i++) {
		h = snprintf(hdr, sizeof(hdr),
		    BENCH_FROM "Return-Path: <sender@example.test>\n"
		    "Received: from bench.example.test by anchor.example.test; "
		    "Tue, 24 Nov 2026 21:00:00 +0000\n"
		    "From: Sender <sender@example.test>\n"
		    "To: big0@example.test\nSubject: bench message %ld\n"
		    "Date: Tue, 24 Nov 2026 21:00:00 +0000\n"
		    "Message-ID: <bench.%ld.%ld@example.test>\n\n", i, i,
		    count);
		memcpy(buf + len, hdr, (size_t)h);
		len += (size_t)h;
		/* SIZE counts the message without its From_ line */
		room = size - (h - (long)strlen(BENCH_FROM));
		for (; room >= (long)llen; room -= (long)llen) {
			memcpy(buf + len, line, llen);
			len += llen;
		}
		if (room > 1) {
			memset(buf + len, 'x', (size_t)room - 1);
			len += (size_t)room - 1;
			buf[len++] = '\n';
		} else if (room == 1)
			buf[len++] = '\n';
		buf[len++] = '\n';
		if (len >= cap || i == count) {
			if (write(fd, buf, len) != (ssize_t)len)
				die("write");
			total += (off_t)len;
			len = 0;
		}
	}
	free(buf);
	return total;
}

int
main(int argc, char **argv)
{
	const char		*dir = argc > 1 ? argv[1] : "/tmp";
	long			 count = argc > 2 ? atol(argv[2]) : 100000;
	long			 size = argc > 3 ? atol(argv[3]) : 10240;
	char			 path[1100], ipath[1200], npath[1200];
	char			 body[4096];
	struct mbox_table	 t, newt;
	struct mbox_append_msg	 m;
	struct mbox_reader	*rd;
	struct reason		 r;
	const char		*p;
	bool			*deleted;
	double			 t0, dt, mb;
	off_t			 total, bytes = 0;
	size_t			 i, n;
	int			 fd, idx, dst, bfd, k;

	log_init("mbox_bench", LOG_USER, true);
	snprintf(path, sizeof(path), "%.1024s/mbox_bench.%ld", dir,
	    (long)getpid());
	snprintf(ipath, sizeof(ipath), "%s.index", path);
	snprintf(npath, sizeof(npath), "%s.new", path);
	if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600)) == -1)
		die(path);
	total = generate(fd, count, size);
	mb = (double)total / 1e6;
	printf("maildrop: %ld messages, %lld bytes\n", count,
	    (long long)total);
	mbox_table_init(&t);

	/* warm: the generator's writes are in the page cache; once more */
	if (mbox_scan(fd, 0, &t, &r) == -1)
		die(r.text);
	for (k = 0; k < 3; k++) {
		t0 = now();
		if (mbox_scan(fd, 0, &t, &r) == -1)
			die(r.text);
		dt = now() - t0;
		printf("full scan:          %.3f s  %.0f MB/s  (%zu "
		    "messages)\n", dt, mb / dt, t.n);
	}
	mbox_table_deinit(&t);

	if ((idx = open(ipath, O_RDWR | O_CREAT | O_EXCL, 0600)) == -1)
		die(ipath);
	t0 = now();
	if (mbox_table_open(fd, idx, &t, &r) == -1)
		die(r.text);
	printf("first open:         %.3f s  (scan + index write)\n",
	    now() - t0);
	mbox_table_deinit(&t);
	for (k = 0; k < 3; k++) {
		t0 = now();
		if (mbox_table_open(fd, idx, &t, &r) == -1)
			die(r.text);
		dt = now() - t0;
		printf("second open:        %.3f s  (index validated, %zu "
		    "messages)\n", dt, t.n);
		if (k < 2)
			mbox_table_deinit(&t);
	}

	t0 = now();
	for (i = 0; i < t.n; i++) {
		rd = mbox_reader_new(fd, &t.v[i], MBOX_READER_ALL);
		while ((k = mbox_reader_read(rd, &p, &n)) == 1)
			bytes += (off_t)n;
		if (k == -1)
			die("reader");
		mbox_reader_free(&rd);
	}
	dt = now() - t0;
	printf("RETR all:           %.3f s  %.0f MB/s  (%lld bytes out)\n",
	    dt, (double)bytes / 1e6 / dt, (long long)bytes);

	deleted = calloc(t.n, sizeof(*deleted));
	deleted[0] = true;
	if ((dst = open(npath, O_RDWR | O_CREAT | O_EXCL, 0600)) == -1)
		die(npath);
	mbox_table_init(&newt);
	t0 = now();
	if (mbox_rewrite_copy(fd, &t, deleted, dst, &newt, &r) == -1)
		die(r.text);
	printf("rewrite (DELE 1):   %.3f s  (copy + fsync)\n", now() - t0);
	free(deleted);
	mbox_table_deinit(&newt);
	mbox_table_deinit(&t);
	close(dst);
	unlink(npath);
	close(idx);
	unlink(ipath);

	/* appends: a fresh maildrop, 2,000 messages of 4 KiB, fsync each */
	if (ftruncate(fd, 0) == -1)
		die("ftruncate");
	memset(body, 'a', sizeof(body));
	memcpy(body, "Subject: x\n\n", 12);
	for (i = 80; i < sizeof(body); i += 80)
		body[i] = '\n';
	body[sizeof(body) - 1] = '\n';
	if ((bfd = open(npath, O_RDWR | O_CREAT | O_EXCL, 0600)) == -1 ||
	    write(bfd, body, sizeof(body)) != (ssize_t)sizeof(body))
		die(npath);
	memset(&m, 0, sizeof(m));
	m.sender = "sender@example.test";
	m.arrival = time(NULL);
	m.prefix = "Return-Path: <sender@example.test>\n";
	m.prefix_len = strlen(m.prefix);
	m.body_fd = bfd;
	m.body_len = sizeof(body);
	t0 = now();
	for (k = 0; k < 2000; k++)
		if (mbox_append(fd, &m, NULL, &r) == -1)
			die(r.text);
	dt = now() - t0;
	printf("append 4 KiB+fsync: %.0f messages/s\n", 2000 / dt);
	close(bfd);
	unlink(npath);
	close(fd);
	unlink(path);
	return 0;
}
