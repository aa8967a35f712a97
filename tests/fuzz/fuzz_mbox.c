/*
 * libFuzzer target for the mbox modules. Built and run by
 * tests/fuzz/run.sh (clang -fsanitize=fuzzer,address,undefined, and tiny
 * buffer sizes so that short inputs cross every buffer boundary); never
 * part of "make check".
 *
 * An input whose first byte is even (every mbox: 'F', '\n', ' ') is a
 * maildrop. It goes into a memfd and is scanned; the table must equal
 * the reference model's (tests/unit/mbox_ref.c), offsets must be in
 * order and inside the file, every message read back must be exactly
 * its octets long and equal to the model's output (also TOP), UIDLs must
 * be well-formed and numbered right, the index must round-trip, a scan
 * continued after a cut must equal the full scan, and a rewrite must
 * keep exactly the kept messages.
 *
 * An input whose first byte is odd is a message body: appended to a
 * small maildrop, it must scan and read back as itself, and the crash
 * check must recognise it whole and torn.
 */
#include "autoconf.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mbox_append.h"
#include "mbox_index.h"
#include "mbox_reader.h"
#include "mbox_ref.h"
#include "mbox_rewrite.h"
#include "mbox_scan.h"
#include "uidl.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Messages read back per input, at most: keeps each run short. */
#define FUZZ_READ_MAX	64

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
		    __LINE__, #cond);					\
		abort();						\
	}								\
} while (0)

static int
memfd_with(const void *data, size_t len)
{
	int	fd = memfd_create("fuzz", MFD_CLOEXEC);

	CHECK(fd != -1);
	CHECK(len == 0 || pwrite(fd, data, len, 0) == (ssize_t)len);
	return fd;
}

static char *
read_msg(int fd, const struct mbox_msg *m, long top, size_t *len_out)
{
	struct mbox_reader	*rd = mbox_reader_new(fd, m, top);
	const char		*p;
	size_t			 n, len = 0, cap = 256;
	char			*buf = malloc(cap);
	int			 rc;

	while ((rc = mbox_reader_read(rd, &p, &n)) == 1) {
		CHECK(n > 0);
		while (len + n > cap)
			buf = realloc(buf, cap *= 2);
		memcpy(buf + len, p, n);
		len += n;
	}
	CHECK(rc == 0);
	CHECK(mbox_reader_read(rd, &p, &n) == 0);
	mbox_reader_free(&rd);
	*len_out = len;
	return buf;
}

static void
same_tables(const struct mbox_table *a, const struct mbox_table *b)
{
	size_t	i;

	CHECK(a->n == b->n);
	CHECK(a->scanned == b->scanned);
	for (i = 0; i < a->n; i++) {
		CHECK(a->v[i].from_off == b->v[i].from_off);
		CHECK(a->v[i].hdr_off == b->v[i].hdr_off);
		CHECK(a->v[i].body_off == b->v[i].body_off);
		CHECK(a->v[i].end == b->v[i].end);
		CHECK(a->v[i].octets == b->v[i].octets);
		CHECK(strcmp(a->v[i].uidl, b->v[i].uidl) == 0);
	}
}

/*
 * Where a scan of the model's file stops: at the end, or before the
 * message after the first MBOX_SCAN_MESSAGES_MAX (the fuzz build makes
 * that a small number).
 */
static off_t
ref_scanned(const struct mbox_ref *ref, size_t size)
{
	if (ref->n > MBOX_SCAN_MESSAGES_MAX)
		return (off_t)ref->v[MBOX_SCAN_MESSAGES_MAX].from_off;
	return (off_t)size;
}

/* The table's own invariants, and agreement with the model. */
static void
check_table(const struct mbox_table *t, const struct mbox_ref *ref,
    size_t size)
{
	struct uidl_set	*dups = uidl_set_new(t->n);
	char		 want[MBOX_UIDL_SIZE];
	size_t		 i;

	CHECK(t->n == (ref->n > MBOX_SCAN_MESSAGES_MAX ?
	    MBOX_SCAN_MESSAGES_MAX : ref->n));
	CHECK(t->scanned == ref_scanned(ref, size));
	for (i = 0; i < t->n; i++) {
		const struct mbox_msg		*m = &t->v[i];
		const struct mbox_ref_msg	*r = &ref->v[i];

		CHECK(i == 0 || m->from_off >= t->v[i - 1].end);
		CHECK(m->from_off + 5 <= m->hdr_off);
		CHECK(m->hdr_off <= m->body_off);
		CHECK(m->body_off <= m->end);
		CHECK(m->end <= mbox_table_span_end(t, i));
		CHECK(mbox_table_span_end(t, i) - m->end <= 1);
		CHECK(m->end <= t->scanned);
		CHECK(m->from_off == (off_t)r->from_off);
		CHECK(m->hdr_off == (off_t)r->hdr_off);
		CHECK(m->body_off == (off_t)r->body_off);
		CHECK(m->end == (off_t)r->end);
		CHECK(m->octets == (off_t)r->octets);
		CHECK(uidl_is_valid(m->uidl) && uidl_is_ours(m->uidl));
		CHECK(strncmp(m->uidl, r->hash, UIDL_HEX_LEN) == 0);
		uidl_format(want, r->hash, uidl_set_add(dups, r->hash));
		CHECK(strcmp(m->uidl, want) == 0);
	}
	uidl_set_free(&dups);
}

static void
check_reader(int fd, const char *data, const struct mbox_table *t,
    const struct mbox_ref *ref, long top)
{
	char	*got, *want;
	size_t	 i, glen, wlen;

	for (i = 0; i < t->n && i < FUZZ_READ_MAX; i++) {
		got = read_msg(fd, &t->v[i], -1, &glen);
		CHECK((off_t)glen == t->v[i].octets);
		want = mbox_ref_output(data, &ref->v[i], -1, &wlen);
		CHECK(glen == wlen && memcmp(got, want, glen) == 0);
		free(got);
		free(want);
		got = read_msg(fd, &t->v[i], top, &glen);
		want = mbox_ref_output(data, &ref->v[i], top, &wlen);
		CHECK(glen == wlen && memcmp(got, want, glen) == 0);
		free(got);
		free(want);
	}
}

/* A table that stopped at the message limit loads as grown. */
static void
check_index(int fd, const struct mbox_table *t, size_t size)
{
	struct mbox_table	got;
	struct reason		r;
	int			idx = memfd_with("", 0);

	CHECK(mbox_index_save(idx, t, fd) == 0);
	mbox_table_init(&got);
	if (t->scanned < (off_t)size) {
		CHECK(mbox_index_load(idx, fd, &got) == MBOX_INDEX_GROWN);
		CHECK(mbox_scan(fd, got.scanned, &got, &r) == 0);
	} else {
		/* not yet proven by fstat: the ctime is seconds old at most */
		CHECK(mbox_index_load(idx, fd, &got) == MBOX_INDEX_CHECKED);
	}
	same_tables(&got, t);
	mbox_table_deinit(&got);
	close(idx);
}

/*
 * The first cut bytes, scanned and indexed; then the rest appended: the
 * index says grown, and continuing gives the full table.
 */
static void
check_continue(const char *data, size_t size, size_t cut,
    const struct mbox_table *full)
{
	struct mbox_table	t;
	struct reason		r;
	off_t			pscanned;
	int			fd, idx, rc;

	fd = memfd_with(data, cut);
	mbox_table_init(&t);
	if (mbox_scan(fd, 0, &t, &r) == -1) {
		/* only a prefix that is not a maildrop yet ("Fro") */
		CHECK(errno == EINVAL);
		goto out;
	}
	idx = memfd_with("", 0);
	CHECK(mbox_index_save(idx, &t, fd) == 0);
	pscanned = t.scanned;
	mbox_table_deinit(&t);
	CHECK(pwrite(fd, data + cut, size - cut, (off_t)cut) ==
	    (ssize_t)(size - cut));
	rc = mbox_index_load(idx, fd, &t);
	CHECK(rc == (pscanned < (off_t)size ? MBOX_INDEX_GROWN :
	    MBOX_INDEX_CHECKED));
	if (rc == MBOX_INDEX_GROWN)
		CHECK(mbox_scan(fd, t.scanned, &t, &r) == 0);
	same_tables(&t, full);
	close(idx);
out:
	mbox_table_deinit(&t);
	close(fd);
}

/* Deletes the messages whose bit is set in mask, both ways. */
static void
check_rewrite(int fd, const char *data, const struct mbox_table *t,
    const struct mbox_ref *ref, uint64_t mask)
{
	struct mbox_table	 newt, scanned;
	struct reason		 r;
	bool			*deleted;
	char			*got, *want;
	size_t			 i, k, glen, wlen;
	off_t			 off;
	int			 dst;

	if (t->n == 0 || t->n > FUZZ_READ_MAX)
		return;
	deleted = calloc(t->n, sizeof(*deleted));
	for (i = 0; i < t->n; i++)
		deleted[i] = (mask >> (i % 64)) & 1;
	dst = memfd_with("", 0);
	mbox_table_init(&newt);
	CHECK(mbox_rewrite_copy(fd, t, deleted, dst, &newt, &r) == 0);
	mbox_table_init(&scanned);
	CHECK(mbox_scan(dst, 0, &scanned, &r) == 0);
	/* what lay past t->scanned comes after the kept ones */
	CHECK(mbox_scan(dst, newt.scanned, &newt, &r) == 0);
	same_tables(&newt, &scanned);
	for (i = 0, k = 0; i < t->n; i++) {
		if (deleted[i])
			continue;
		CHECK(k < scanned.n);
		got = read_msg(dst, &scanned.v[k], -1, &glen);
		want = mbox_ref_output(data, &ref->v[i], -1, &wlen);
		CHECK(glen == wlen && memcmp(got, want, glen) == 0);
		CHECK(strncmp(scanned.v[k].uidl, t->v[i].uidl,
		    UIDL_HEX_LEN) == 0);
		free(got);
		free(want);
		k++;
	}
	CHECK(k == scanned.n || t->scanned < lseek(fd, 0, SEEK_END));
	/* the plan gets the file's real size: past a capped table too */
	if (mbox_rewrite_plan(t, deleted, lseek(fd, 0, SEEK_END), &off) ==
	    MBOX_REWRITE_TRUNCATE) {
		/* the truncated file is the copy's prefix: the same bytes */
		CHECK(off <= t->scanned);
		CHECK(t->scanned == lseek(fd, 0, SEEK_END));
		CHECK((off_t)lseek(dst, 0, SEEK_END) <= off);
	}
	mbox_table_deinit(&newt);
	mbox_table_deinit(&scanned);
	free(deleted);
	close(dst);
}

static void
fuzz_maildrop(const char *data, size_t size)
{
	struct mbox_table	t;
	struct mbox_ref		ref;
	struct reason		r;
	uint64_t		mask = 0;
	size_t			i;
	int			fd, rc;

	for (i = 0; i < 8 && i < size; i++)
		mask = mask << 8 | (unsigned char)data[size - 1 - i];
	fd = memfd_with(data, size);
	mbox_table_init(&t);
	rc = mbox_scan(fd, 0, &t, &r);
	mbox_ref_parse(data, size, &ref);
	if (ref.garbage) {
		CHECK(rc == -1 && errno == EINVAL && t.n == 0);
		goto out;
	}
	CHECK(rc == 0);
	check_table(&t, &ref, size);
	check_reader(fd, data, &t, &ref, (long)(mask % 5));
	check_index(fd, &t, size);
	check_continue(data, size, size == 0 ? 0 : (size_t)(mask % size) + 1,
	    &t);
	check_rewrite(fd, data, &t, &ref, mask);
out:
	mbox_ref_free(&ref);
	mbox_table_deinit(&t);
	close(fd);
}

static void
fuzz_append(const char *body, size_t len, bool foreign_tail)
{
	static const char	 old_eol[] =
	    "From x Mon Jan  1 00:00:00 2024\n\nold\n\n";
	static const char	 old_noeol[] =
	    "From x Mon Jan  1 00:00:00 2024\n\nold";
	struct mbox_append_msg	 m;
	struct mbox_append_result res;
	struct mbox_table	 t;
	struct reason		 r;
	char			*got, *want;
	size_t			 glen, wlen = 0, i;
	int			 fd, bfd;

	if (foreign_tail)
		fd = memfd_with(old_noeol, sizeof(old_noeol) - 1);
	else
		fd = memfd_with(old_eol, sizeof(old_eol) - 1);
	bfd = memfd_with(body, len);
	memset(&m, 0, sizeof(m));
	m.sender = "fuzz@example";
	m.arrival = 1700000000;
	m.prefix = "Return-Path: <fuzz@example>\n";
	m.prefix_len = strlen(m.prefix);
	m.body_fd = bfd;
	m.body_len = (off_t)len;
	CHECK(mbox_append(fd, &m, &res, &r) == 0);
	CHECK(mbox_append_check(fd, res.offset, &m, &r) ==
	    MBOX_APPEND_COMPLETE);

	mbox_table_init(&t);
	CHECK(mbox_scan(fd, 0, &t, &r) == 0);
	/* the body never splits: every From_ line in it got quoted */
	CHECK(t.n == 2 || MBOX_SCAN_MESSAGES_MAX < 2);
	CHECK(t.v[1].from_off == res.from_off);
	got = read_msg(fd, &t.v[1], -1, &glen);
	want = malloc(2 * (m.prefix_len + len) + 2);
	for (i = 0; i < m.prefix_len + len; i++) {
		char c = i < m.prefix_len ? m.prefix[i] :
		    body[i - m.prefix_len];
		char p = i == 0 ? '\n' : i - 1 < m.prefix_len ?
		    m.prefix[i - 1] : body[i - 1 - m.prefix_len];

		if (c == '\n' && p != '\r')
			want[wlen++] = '\r';
		want[wlen++] = c;
	}
	if (want[wlen - 1] != '\n') {
		if (want[wlen - 1] != '\r')
			want[wlen++] = '\r';
		want[wlen++] = '\n';
	}
	CHECK(glen == wlen && memcmp(got, want, glen) == 0);
	CHECK(t.v[1].octets == (off_t)wlen);
	free(got);
	free(want);

	/*
	 * Torn: cuts inside our bytes are recognised as such. Longest
	 * first: a cut loses what is after it.
	 */
	for (i = (size_t)res.length - 1; i > 0;
	    i = i > 1 + i / 4 ? i - 1 - i / 4 : 0) {
		CHECK(ftruncate(fd, res.offset + (off_t)i) == 0);
		CHECK(mbox_append_check(fd, res.offset, &m, &r) ==
		    MBOX_APPEND_TORN);
	}
	mbox_table_deinit(&t);
	close(bfd);
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* never settled: every index load is checked by reading */
	mbox_table_settle_ms = 86400000L;
	if (size > 0 && (data[0] & 1))
		fuzz_append((const char *)data + 1, size - 1,
		    (data[0] & 2) != 0);
	else
		fuzz_maildrop((const char *)data, size);
	return 0;
}
