/*
 * Unit tests for common/mbox_index.c and mbox_table_open(): the round
 * trip; the maildrop grown (only the tail scanned), truncated, touched,
 * replaced by another inode, edited in the middle at the same size (with
 * its mtime put back); every byte of the index flipped and every length
 * of it cut; records that pass the checksum but make no sense.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mbox_append.h"
#include "mbox_index.h"
#include "mbox_scan.h"
#include "mbox_test.h"
#include "unit.h"

#define S(s)	s, sizeof(s) - 1
#define MSG(n)	"From s" #n "@x Mon Jan  1 00:00:0" #n " 2024\n" \
		"Subject: " #n "\n\nbody " #n "\n\n"

static const char maildrop[] = MSG(0) MSG(1) MSG(2) MSG(1) MSG(4);

/* The on-disk layout, as far as these tests need to forge records. */
#define IDX_HEADER	144
#define IDX_CHECKSUM	80
#define IDX_RECORD	64

static void
same_table(const struct mbox_table *a, const struct mbox_table *b)
{
	size_t	i;

	ck_assert_uint_eq(a->n, b->n);
	ck_assert_int_eq(a->scanned, b->scanned);
	for (i = 0; i < a->n; i++) {
		ck_assert_msg(a->v[i].from_off == b->v[i].from_off &&
		    a->v[i].hdr_off == b->v[i].hdr_off &&
		    a->v[i].body_off == b->v[i].body_off &&
		    a->v[i].end == b->v[i].end &&
		    a->v[i].octets == b->v[i].octets &&
		    strcmp(a->v[i].uidl, b->v[i].uidl) == 0,
		    "message %zu differs", i);
	}
}

static void
scan(int fd, struct mbox_table *t)
{
	struct reason	r;

	mbox_table_init(t);
	ck_assert_int_eq(mbox_scan(fd, 0, t, &r), 0);
}

/* Scans fd and saves its index to a new file; returns the index fd. */
static int
make_index(int fd, struct mbox_table *t)
{
	int	idx = mt_file("index", "", 0);

	scan(fd, t);
	ck_assert_int_eq(mbox_index_save(idx, t, fd), 0);
	return idx;
}

static int
load(int idx, int fd, struct mbox_table *t)
{
	mbox_table_init(t);
	return mbox_index_load(idx, fd, t);
}

START_TEST(test_round_trip)
{
	static const char *const drops[] = {
		maildrop, "", "\n\n", MSG(1), MSG(1) "no newline",
	};
	struct mbox_table	t, got;
	int			fd, idx;

	fd = mt_file("mbox", drops[_i], strlen(drops[_i]));
	idx = make_index(fd, &t);
	ck_assert_int_eq(load(idx, fd, &got), MBOX_INDEX_CHECKED);
	same_table(&got, &t);
	ck_assert(got.dev == t.dev && got.ino == t.ino);
	/* saving again over a longer old index cuts it */
	ck_assert_int_eq(mbox_index_save(idx, &got, fd), 0);
	mbox_table_deinit(&got);
	ck_assert_int_eq(load(idx, fd, &got), MBOX_INDEX_CHECKED);
	same_table(&got, &t);
	mbox_table_deinit(&t);
	mbox_table_deinit(&got);
	close(idx);
	close(fd);
}
END_TEST

/* Grown by a delivery: the index covers the old part, the tail is new. */
START_TEST(test_grown)
{
	static const char	 body[] = "Subject: new\n\nnew\n";
	struct mbox_append_msg	 m;
	struct mbox_table	 t, got, full;
	struct reason		 r;
	int			 fd, idx, bfd;

	fd = mt_file("mbox", S(MSG(0) MSG(1) "no final newline"));
	idx = make_index(fd, &t);
	bfd = mt_memfd(S(body));
	memset(&m, 0, sizeof(m));
	m.sender = "n@x";
	m.body_fd = bfd;
	m.body_len = sizeof(body) - 1;
	ck_assert_int_eq(mbox_append(fd, &m, NULL, &r), 0);
	ck_assert_int_eq(mbox_append(fd, &m, NULL, &r), 0);

	ck_assert_int_eq(load(idx, fd, &got), MBOX_INDEX_GROWN);
	ck_assert_uint_eq(got.n, t.n);
	ck_assert_int_eq(got.scanned, t.scanned);
	ck_assert_int_eq(mbox_scan(fd, got.scanned, &got, &r), 0);
	scan(fd, &full);
	same_table(&got, &full);
	mbox_table_deinit(&got);

	/* mbox_table_open does the same and saves the new index */
	ck_assert_int_eq(mbox_table_open(fd, idx, &got, &r), 0);
	same_table(&got, &full);
	mbox_table_deinit(&got);
	ck_assert_int_eq(load(idx, fd, &got), MBOX_INDEX_CHECKED);
	same_table(&got, &full);
	mbox_table_deinit(&t);
	mbox_table_deinit(&got);
	mbox_table_deinit(&full);
	close(bfd);
	close(idx);
	close(fd);
}
END_TEST

/*
 * Grown, but the bytes before the old end changed too (a MUA rewrote the
 * last message in place, and the file is longer): stale.
 */
START_TEST(test_grown_but_changed)
{
	struct mbox_table	t, got;
	int			fd, idx;

	fd = mt_file("mbox", S(MSG(0) MSG(1)));
	idx = make_index(fd, &t);
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	mt_append_raw(fd, S(MSG(0) "From s1@x Mon Jan  1 00:00:01 2024\n"
	    "Status: RO\nSubject: 1\n\nbody 1\n\n"));
	ck_assert_int_eq(load(idx, fd, &got), MBOX_INDEX_STALE);
	ck_assert_uint_eq(got.n, 0);
	mbox_table_deinit(&t);
	close(idx);
	close(fd);
}
END_TEST

static void
set_mtime(int fd, const struct timespec *ts)
{
	struct timespec	times[2];

	times[0] = *ts;
	times[1] = *ts;
	ck_assert_int_eq(futimens(fd, times), 0);
}

START_TEST(test_stale)
{
	struct mbox_table	t, got;
	struct stat		st;
	struct timespec		later;
	char			path[512];
	int			fd, idx, fd2;

	fd = mt_file("mbox", S(maildrop));
	idx = make_index(fd, &t);
	ck_assert_int_eq(fstat(fd, &st), 0);

	/* truncated */
	ck_assert_int_eq(ftruncate(fd, t.v[4].from_off), 0);
	ck_assert_int_eq(load(idx, fd, &got), MBOX_INDEX_STALE);
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	mt_append_raw(fd, S(maildrop));
	set_mtime(fd, &st.st_mtim);
	ck_assert_int_eq(load(idx, fd, &got), MBOX_INDEX_CHECKED);
	mbox_table_deinit(&got);

	/* touched: the same size, another mtime */
	later = st.st_mtim;
	later.tv_sec += 10;
	set_mtime(fd, &later);
	ck_assert_int_eq(load(idx, fd, &got), MBOX_INDEX_STALE);
	set_mtime(fd, &st.st_mtim);

	/*
	 * Edited in the middle at the same size, mtime put back: message 2
	 * is one byte longer and message 3 one shorter, so message 3's
	 * From_ line moved.
	 */
	ck_assert_int_eq(pwrite(fd, "X", 1, t.v[3].from_off), 1);
	ck_assert_int_eq(pwrite(fd, "\nFrom", 5, t.v[3].from_off + 1), 5);
	ck_assert_int_eq(pwrite(fd, "\n", 1, t.v[3].from_off + 6), 1);
	set_mtime(fd, &st.st_mtim);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, t.scanned);
	ck_assert_int_eq(load(idx, fd, &got), MBOX_INDEX_STALE);

	/* replaced by another file with the same bytes (a rename) */
	fd2 = mt_file("mbox.new", S(maildrop));
	snprintf(path, sizeof(path), "%s", mt_path("mbox.new"));
	ck_assert_int_eq(rename(path, mt_path("mbox")), 0);
	ck_assert_int_eq(load(idx, fd2, &got), MBOX_INDEX_STALE);

	/* a table of another file is not saved as this one's index */
	ck_assert_int_eq(mbox_index_save(idx, &t, fd2), -1);
	ck_assert_int_eq(errno, EINVAL);
	mbox_table_deinit(&t);
	close(fd2);
	close(idx);
	close(fd);
}
END_TEST

/* Every byte of the index flipped, and every length of it: stale. */
START_TEST(test_corrupt_bytes)
{
	struct mbox_table	 t, got;
	char			*orig, *copy;
	size_t			 len, i;
	int			 fd, idx, rc;

	fd = mt_file("mbox", S(maildrop));
	idx = make_index(fd, &t);
	orig = mt_slurp(idx, &len);
	ck_assert_uint_eq(len, IDX_HEADER + t.n * IDX_RECORD);
	copy = malloc(len);
	for (i = 0; i < len; i++) {
		memcpy(copy, orig, len);
		copy[i] ^= 0x20;
		ck_assert_int_eq(pwrite(idx, copy, len, 0), (ssize_t)len);
		rc = load(idx, fd, &got);
		ck_assert_msg(rc == MBOX_INDEX_STALE,
		    "byte %zu flipped: got %d, want stale", i, rc);
		ck_assert_uint_eq(got.n, 0);
	}
	for (i = 0; i < len; i++) {
		ck_assert_int_eq(ftruncate(idx, (off_t)i), 0);
		ck_assert_int_eq(load(idx, fd, &got), MBOX_INDEX_STALE);
	}
	/* and a byte too many */
	ck_assert_int_eq(pwrite(idx, orig, len, 0), (ssize_t)len);
	ck_assert_int_eq(pwrite(idx, "x", 1, (off_t)len), 1);
	ck_assert_int_eq(load(idx, fd, &got), MBOX_INDEX_STALE);
	free(orig);
	free(copy);
	mbox_table_deinit(&t);
	close(idx);
	close(fd);
}
END_TEST

/* Recomputes the index checksum, as a forger (or a bug) would. */
static void
reseal(int idx)
{
	unsigned char	 md[MBOX_INDEX_SUM_LEN];
	char		*buf;
	size_t		 len;

	buf = mt_slurp(idx, &len);
	memset(buf + IDX_CHECKSUM, 0, MBOX_INDEX_SUM_LEN);
	mbox_index_checksum(buf, len, md);
	ck_assert_int_eq(pwrite(idx, md, MBOX_INDEX_SUM_LEN, IDX_CHECKSUM),
	    MBOX_INDEX_SUM_LEN);
	free(buf);
}

struct forge_case {
	const char	*name;
	int		 record;
	int		 field;		/* from hdr body end octets, 7: dup */
	int64_t		 delta;
};

static const struct forge_case forge_cases[] = {
	{ "from_off not at a From_ line", 2, 0, 1 },
	{ "from_off one message on", 2, 0, 55 },
	{ "hdr_off before from_off", 1, 1, -100 },
	{ "body_off after end", 1, 2, 1000 },
	{ "end past the file", 4, 3, 1000 },
	{ "a gap between messages", 1, 3, -3 },
	{ "octets impossible", 0, 4, 10000 },
	{ "dup number too high", 0, 7, 5 },
};

START_TEST(test_forged_records)
{
	const struct forge_case	*c = &forge_cases[_i];
	struct mbox_table	 t, got;
	uint64_t		 v;
	uint32_t		 dup;
	off_t			 at;
	int			 fd, idx;

	fd = mt_file("mbox", S(maildrop));
	idx = make_index(fd, &t);
	at = IDX_HEADER + c->record * IDX_RECORD;
	if (c->field == 7) {
		dup = (uint32_t)c->delta;
		ck_assert_int_eq(pwrite(idx, &dup, 4, at + 56), 4);
	} else {
		at += c->field * 8;
		ck_assert_int_eq(pread(idx, &v, 8, at), 8);
		v += (uint64_t)c->delta;
		ck_assert_int_eq(pwrite(idx, &v, 8, at), 8);
	}
	reseal(idx);
	ck_assert_msg(load(idx, fd, &got) == MBOX_INDEX_STALE,
	    "%s: not detected", c->name);
	/* and unforged it loads */
	close(idx);
	idx = make_index(fd, &got);
	mbox_table_deinit(&got);
	reseal(idx);
	ck_assert_int_eq(load(idx, fd, &got), MBOX_INDEX_CHECKED);
	mbox_table_deinit(&got);
	mbox_table_deinit(&t);
	close(idx);
	close(fd);
}
END_TEST

START_TEST(test_table_open)
{
	struct mbox_table	 t, full;
	struct reason		 r;
	char			*buf;
	size_t			 len;
	int			 fd, idx;

	fd = mt_file("mbox", S(maildrop));
	scan(fd, &full);
	/* no index at all */
	mbox_table_init(&t);
	ck_assert_int_eq(mbox_table_open(fd, -1, &t, &r), 0);
	same_table(&t, &full);
	mbox_table_deinit(&t);
	/* an empty index file: scanned, and the index written */
	idx = mt_file("index", "", 0);
	ck_assert_int_eq(mbox_table_open(fd, idx, &t, &r), 0);
	same_table(&t, &full);
	mbox_table_deinit(&t);
	buf = mt_slurp(idx, &len);
	ck_assert_uint_eq(len, IDX_HEADER + full.n * IDX_RECORD);
	free(buf);
	ck_assert_int_eq(load(idx, fd, &t), MBOX_INDEX_CHECKED);
	mbox_table_deinit(&t);
	/* garbage maildrop: the scan's reason comes back, t is empty */
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	mt_append_raw(fd, S("garbage\n" MSG(1)));
	ck_assert_int_eq(mbox_table_open(fd, idx, &t, &r), -1);
	ck_assert_str_eq(r.status, "5.2.0");
	ck_assert_uint_eq(t.n, 0);
	mbox_table_deinit(&full);
	close(idx);
	close(fd);
}
END_TEST

static void
ignore_sigbus(int sig)
{
	(void)sig;
}

/*
 * The From_ start check: through the mapping, with a file truncated
 * under the table (SIGBUS caught, the caller's handler put back), with
 * messages skipped, and without a mapping (pread).
 */
START_TEST(test_check_starts)
{
	struct mbox_table	 t;
	struct sigaction	 sa, now;
	char			 msg[8192];
	bool			 skip[8] = { false };
	int			 fd, wfd, i;

	memset(msg, 'x', sizeof(msg));
	memcpy(msg, "From a\n\n", 9);
	msg[sizeof(msg) - 2] = msg[sizeof(msg) - 1] = '\n';
	fd = mt_file("mbox", "", 0);
	for (i = 0; i < 8; i++)
		mt_append_raw(fd, msg, sizeof(msg));
	scan(fd, &t);
	ck_assert_uint_eq(t.n, 8);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = ignore_sigbus;
	ck_assert_int_eq(sigaction(SIGBUS, &sa, NULL), 0);
	ck_assert_int_eq(mbox_table_check_starts(fd, &t, NULL), 1);
	/* a start moved */
	ck_assert_int_eq(pwrite(fd, "f", 1, t.v[5].from_off), 1);
	ck_assert_int_eq(mbox_table_check_starts(fd, &t, NULL), 0);
	skip[5] = true;
	ck_assert_int_eq(mbox_table_check_starts(fd, &t, skip), 1);
	ck_assert_int_eq(pwrite(fd, "X", 1, t.v[3].from_off - 1), 1);
	ck_assert_int_eq(mbox_table_check_starts(fd, &t, skip), 0);
	ck_assert_int_eq(pwrite(fd, "\n", 1, t.v[3].from_off - 1), 1);
	/* the file ends pages before the table: the mapping faults */
	ck_assert_int_eq(ftruncate(fd, 5000), 0);
	ck_assert_int_eq(mbox_table_check_starts(fd, &t, skip), 0);
	ck_assert_int_eq(sigaction(SIGBUS, NULL, &now), 0);
	ck_assert_ptr_eq((void *)now.sa_handler, (void *)ignore_sigbus);
	/* no mapping on a write-only descriptor: pread, which fails too */
	wfd = open(mt_path("mbox"), O_WRONLY);
	ck_assert_int_eq(mbox_table_check_starts(wfd, &t, NULL), -1);
	close(wfd);
	mbox_table_deinit(&t);
	ck_assert_int_eq(mbox_table_check_starts(fd, &t, NULL), 1);
	close(fd);
}
END_TEST

/*
 * The proof by fstat (mbox_index.h). With a settled ctime (the margin
 * cut to nothing, and a pause after every snapshot longer than the
 * kernel's timestamp tick, so that a later change gets a later ctime) an
 * unchanged maildrop loads without a byte of it read; every change that
 * keeps its size and puts its mtime back still makes the load read (and
 * find it stale, or re-prove it and save the index again).
 */
#define TICK_US	30000	/* more than a jiffy at HZ=100 */

static int
load_unread(int idx, struct mbox_table *t)
{
	int	wfd, rc;

	/* write-only: any read of the maildrop fails (EBADF), so -1 */
	ck_assert_int_ne(wfd = open(mt_path("mbox"), O_WRONLY), -1);
	rc = load(idx, wfd, t);
	close(wfd);
	return rc;
}

START_TEST(test_proof_by_fstat)
{
	struct mbox_table	t, got, full;
	struct stat		st;
	struct reason		r;
	char			path[512];
	int			fd, idx, fd2;

	mbox_table_settle_ms = 0;
	fd = mt_file("mbox", S(maildrop));
	idx = make_index(fd, &t);
	ck_assert(t.settled);
	usleep(TICK_US);
	ck_assert_int_eq(load_unread(idx, &got), MBOX_INDEX_FRESH);
	same_table(&got, &t);
	mbox_table_deinit(&got);
	ck_assert_int_eq(load(idx, fd, &got), MBOX_INDEX_FRESH);
	mbox_table_deinit(&got);

	/* only the ctime moved (chmod): read, proven, saved again */
	ck_assert_int_eq(fchmod(fd, 0600), 0);
	ck_assert_int_eq(load_unread(idx, &got), -1);
	ck_assert_int_eq(load(idx, fd, &got), MBOX_INDEX_CHECKED);
	mbox_table_deinit(&got);
	ck_assert_int_eq(mbox_table_open(fd, idx, &got, &r), 0);
	same_table(&got, &t);
	mbox_table_deinit(&got);
	usleep(TICK_US);
	ck_assert_int_eq(load_unread(idx, &got), MBOX_INDEX_FRESH);
	mbox_table_deinit(&got);

	/*
	 * Rewritten in place by another MUA at the same size, mtime put
	 * back: message 3's From_ line moved. Only the ctime tells.
	 */
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(pwrite(fd, "X", 1, t.v[3].from_off), 1);
	ck_assert_int_eq(pwrite(fd, "\nFrom", 5, t.v[3].from_off + 1), 5);
	ck_assert_int_eq(pwrite(fd, "\n", 1, t.v[3].from_off + 6), 1);
	set_mtime(fd, &st.st_mtim);
	ck_assert_int_eq(load(idx, fd, &got), MBOX_INDEX_STALE);
	ck_assert_int_eq(mbox_table_open(fd, idx, &got, &r), 0);
	scan(fd, &full);
	same_table(&got, &full);
	ck_assert_str_ne(got.v[3].uidl, t.v[3].uidl);
	mbox_table_deinit(&got);
	mbox_table_deinit(&full);
	mbox_table_deinit(&t);

	/* put back as it was, bytes and mtime: still not the indexed file */
	close(idx);
	idx = make_index(fd, &t);
	usleep(TICK_US);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	mt_append_raw(fd, S(maildrop));
	set_mtime(fd, &st.st_mtim);
	ck_assert_int_eq(load_unread(idx, &got), -1);
	ck_assert_int_eq(load(idx, fd, &got), MBOX_INDEX_CHECKED);
	mbox_table_deinit(&got);

	/* appended to, or cut: never fresh */
	mbox_table_deinit(&t);
	close(idx);
	idx = make_index(fd, &t);
	usleep(TICK_US);
	mt_append_raw(fd, S(MSG(5)));
	ck_assert_int_eq(load(idx, fd, &got), MBOX_INDEX_GROWN);
	mbox_table_deinit(&got);
	ck_assert_int_eq(ftruncate(fd, t.v[4].from_off), 0);
	ck_assert_int_eq(load(idx, fd, &got), MBOX_INDEX_STALE);
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	mt_append_raw(fd, S(maildrop));
	mbox_table_deinit(&t);

	/* replaced by another inode with the same bytes and mtime */
	close(idx);
	idx = make_index(fd, &t);
	usleep(TICK_US);
	ck_assert_int_eq(fstat(fd, &st), 0);
	fd2 = mt_file("mbox.new", S(maildrop));
	set_mtime(fd2, &st.st_mtim);
	snprintf(path, sizeof(path), "%s", mt_path("mbox.new"));
	ck_assert_int_eq(rename(path, mt_path("mbox")), 0);
	ck_assert_int_eq(load_unread(idx, &got), MBOX_INDEX_STALE);
	ck_assert_int_eq(load(idx, fd2, &got), MBOX_INDEX_STALE);
	mbox_table_deinit(&t);
	close(fd2);
	close(idx);
	close(fd);
}
END_TEST

/*
 * A ctime that is not settled proves nothing: a change in the same
 * timestamp tick would leave it as it is.
 */
START_TEST(test_proof_needs_settled_ctime)
{
	struct mbox_table	t, got;
	struct reason		r;
	int			fd, idx;

	mbox_table_settle_ms = 86400000L;
	fd = mt_file("mbox", S(maildrop));
	idx = make_index(fd, &t);
	ck_assert(!t.settled);
	ck_assert_int_eq(load_unread(idx, &got), -1);
	ck_assert_int_eq(load(idx, fd, &got), MBOX_INDEX_CHECKED);
	ck_assert(!got.settled);
	mbox_table_deinit(&got);
	/* and is not saved again while it is not */
	ck_assert_int_eq(mbox_table_open(fd, idx, &got, &r), 0);
	mbox_table_deinit(&got);
	ck_assert_int_eq(load(idx, fd, &got), MBOX_INDEX_CHECKED);
	mbox_table_deinit(&got);
	/* settled by now: proven by reading, saved, then by fstat */
	mbox_table_settle_ms = 0;
	usleep(TICK_US);
	ck_assert_int_eq(mbox_table_open(fd, idx, &got, &r), 0);
	mbox_table_deinit(&got);
	ck_assert_int_eq(load_unread(idx, &got), MBOX_INDEX_FRESH);
	mbox_table_deinit(&got);
	mbox_table_deinit(&t);
	close(idx);
	close(fd);
}
END_TEST

static void
idx_setup(void)
{
	mt_setup();
	/* never settled unless a test says so: loads are read and checked */
	mbox_table_settle_ms = 86400000L;
}

static Suite *
mbox_index_suite(void)
{
	Suite	*s = suite_create("mbox_index");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, idx_setup, mt_teardown);
	tcase_add_loop_test(tc, test_round_trip, 0, 5);
	tcase_add_test(tc, test_grown);
	tcase_add_test(tc, test_grown_but_changed);
	tcase_add_test(tc, test_stale);
	tcase_add_test(tc, test_corrupt_bytes);
	tcase_add_loop_test(tc, test_forged_records, 0, nitems(forge_cases));
	tcase_add_test(tc, test_table_open);
	tcase_add_test(tc, test_check_starts);
	tcase_add_test(tc, test_proof_by_fstat);
	tcase_add_test(tc, test_proof_needs_settled_ctime);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(mbox_index_suite)
