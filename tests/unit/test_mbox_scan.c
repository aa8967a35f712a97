/*
 * Unit tests for common/mbox_scan.c and common/mbox_reader.c: a corpus of
 * odd maildrops (empty, no final newline, stored CRLF, CR-only, NUL
 * bytes, unquoted From_ lines, garbage first, ...) with the offsets,
 * bodies and RETR output each must give; agreement with Python's
 * mailbox module and with the reference model on that corpus and on
 * random files that put every construct across the scanner's buffer
 * boundary; TOP; long lines in bounded memory; a file that grows or
 * shrinks under the scan.
 */
#include "autoconf.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "mbox_reader.h"
#include "mbox_ref.h"
#include "mbox_rewrite.h"
#include "mbox_scan.h"
#include "mbox_test.h"
#include "uidl.h"
#include "unit.h"

#define F1	"From a@b Thu Jan  1 00:00:00 1970\n"
/* A string literal and its length, NULs included. */
#define S(s)	s, sizeof(s) - 1

struct want_msg {
	const char	*hdr;	/* bytes hdr_off..body_off */
	size_t		 hdrlen;
	const char	*body;	/* bytes body_off..end */
	size_t		 bodylen;
	const char	*retr;	/* what the reader gives */
	size_t		 retrlen;
};

struct scan_case {
	const char	*name;
	const char	*input;
	size_t		 len;
	int		 nmsg;		/* -1: the scan fails with EINVAL */
	struct want_msg	 want[3];
};

#define M(h, b, r)	{ S(h), S(b), S(r) }

static const struct scan_case cases[] = {
	{ "empty", S(""), 0, { { 0 } } },
	{ "blank lines only", S("\n\n  \n"), 0, { { 0 } } },
	{ "one message", S(F1 "S: x\n\nbody\n\n"), 1,
	    { M("S: x\n\n", "body\n", "S: x\r\n\r\nbody\r\n") } },
	{ "two with separator", S(F1 "S: 1\n\nb1\n\n" F1 "S: 2\n\nb2\n\n"), 2,
	    { M("S: 1\n\n", "b1\n", "S: 1\r\n\r\nb1\r\n"),
	      M("S: 2\n\n", "b2\n", "S: 2\r\n\r\nb2\r\n") } },
	{ "no final newline", S(F1 "S: x\n\nbody"), 1,
	    { M("S: x\n\n", "body", "S: x\r\n\r\nbody\r\n") } },
	{ "no separator line", S(F1 "S: 1\nb1\n" F1 "S: 2\n"), 2,
	    { M("S: 1\nb1\n", "", "S: 1\r\nb1\r\n"),
	      M("S: 2\n", "", "S: 2\r\n") } },
	{ "stored crlf", S(F1 "S: x\r\n\r\nbody\r\n\r\n"), 1,
	    { M("S: x\r\n\r\n", "body\r\n\r\n",
		"S: x\r\n\r\nbody\r\n\r\n") } },
	{ "cr-only line ends", S("From a\rS: x\r\rbody\r"), 1,
	    { M("", "", "") } },
	{ "bare cr inside lines", S(F1 "S: a\rb\n\nx\ry\n"), 1,
	    { M("S: a\rb\n\n", "x\ry\n", "S: a\rb\r\n\r\nx\ry\r\n") } },
	{ "nul bytes", S(F1 "S: \0x\n\nb\0dy\n"), 1,
	    { M("S: \0x\n\n", "b\0dy\n", "S: \0x\r\n\r\nb\0dy\r\n") } },
	{ "mboxrd quoting undone", S(F1 "S: q\n\n>From x\n>>From y\n"
	    ">Fromage\n>From\n"), 1,
	    { M("S: q\n\n", ">From x\n>>From y\n>Fromage\n>From\n",
		"S: q\r\n\r\nFrom x\r\n>From y\r\n>Fromage\r\n>From\r\n") } },
	{ "garbage before the first From_", S("junk\n" F1 "\nx\n"), -1,
	    { { 0 } } },
	{ "quoted line before the first From_", S(">From x\n" F1), -1,
	    { { 0 } } },
	{ "unquoted From_ in a body splits (mboxo)",
	    S(F1 "S: o\n\nhello\nFrom me to you\nbye\n"), 2,
	    { M("S: o\n\n", "hello\n", "S: o\r\n\r\nhello\r\n"),
	      M("bye\n", "", "bye\r\n") } },
	{ "empty header section", S(F1 "\nbody\n"), 1,
	    { M("\n", "body\n", "\r\nbody\r\n") } },
	{ "From_ line without LF at EOF", S("From a"), 1,
	    { M("", "", "") } },
	{ "From_ line only", S("From a\n"), 1, { M("", "", "") } },
	{ "header only, then separator", S(F1 "S: x\n\n" F1 "S: y\n"), 2,
	    { M("S: x\n", "", "S: x\r\n"), M("S: y\n", "", "S: y\r\n") } },
	{ "two empty lines at the end", S(F1 "S: x\n\n\n" F1), 2,
	    { M("S: x\n\n", "", "S: x\r\n\r\n"), M("", "", "") } },
	{ "quoted From_ at EOF without LF", S(F1 "\n>From x"), 1,
	    { M("\n", ">From x", "\r\nFrom x\r\n") } },
	{ "CR at EOF", S(F1 "\nabc\r"), 1,
	    { M("\n", "abc\r", "\r\nabc\r\n") } },
	{ "white space before the first From_", S("\n \n" F1 "\nb\n"), 1,
	    { M("\n", "b\n", "\r\nb\r\n") } },
	{ "From inside a line", S(F1 "\nxFrom y\nFromage\n"), 1,
	    { M("\n", "xFrom y\nFromage\n", "\r\nxFrom y\r\nFromage\r\n") } },
	{ "runs of >", S(F1 "\n>\n>>\n>>>From \n"), 1,
	    { M("\n", ">\n>>\n>>>From \n", "\r\n>\r\n>>\r\n>>From \r\n") } },
	{ "a CRLF line is no separator", S(F1 "S: x\n\nb\n\r\n" F1), 2,
	    { M("S: x\n\n", "b\n\r\n", "S: x\r\n\r\nb\r\n\r\n"),
	      M("", "", "") } },
	{ "only the last empty line separates", S(F1 "\nb\n\n\n" F1), 2,
	    { M("\n", "b\n\n", "\r\nb\r\n\r\n"), M("", "", "") } },
	{ "CRLF ends the header section", S(F1 "S: x\r\n\r\nb\n"), 1,
	    { M("S: x\r\n\r\n", "b\n", "S: x\r\n\r\nb\r\n") } },
};

/* Compares t (scanned from buf) with the reference model, fully. */
static void
check_against_ref(const char *name, int fd, const char *buf, size_t len,
    const struct mbox_table *t)
{
	struct mbox_ref	 ref;
	char		*got, *want;
	size_t		 i, gotlen, wantlen;

	mbox_ref_parse(buf, len, &ref);
	ck_assert_msg(!ref.garbage, "%s: reference says garbage", name);
	ck_assert_msg(t->n == ref.n, "%s: got %zu messages, want %zu", name,
	    t->n, ref.n);
	ck_assert_msg(t->scanned == (off_t)len, "%s: got scanned %lld, "
	    "want %zu", name, (long long)t->scanned, len);
	for (i = 0; i < t->n; i++) {
		const struct mbox_msg		*m = &t->v[i];
		const struct mbox_ref_msg	*r = &ref.v[i];

		ck_assert_msg(m->from_off == (off_t)r->from_off &&
		    m->hdr_off == (off_t)r->hdr_off &&
		    m->body_off == (off_t)r->body_off &&
		    m->end == (off_t)r->end,
		    "%s: message %zu: got %lld/%lld/%lld/%lld, want "
		    "%zu/%zu/%zu/%zu", name, i, (long long)m->from_off,
		    (long long)m->hdr_off, (long long)m->body_off,
		    (long long)m->end, r->from_off, r->hdr_off, r->body_off,
		    r->end);
		ck_assert_msg(m->octets == (off_t)r->octets,
		    "%s: message %zu: got octets %lld, want %zu", name, i,
		    (long long)m->octets, r->octets);
		ck_assert_msg(strncmp(m->uidl, r->hash, UIDL_HEX_LEN) == 0,
		    "%s: message %zu: got uidl %s, want %s...", name, i,
		    m->uidl, r->hash);
		ck_assert_msg(uidl_is_valid(m->uidl) && uidl_is_ours(m->uidl),
		    "%s: bad uidl %s", name, m->uidl);
		if (fd == -1)
			continue;
		got = mt_read_msg(fd, m, MBOX_READER_ALL, &gotlen);
		want = mbox_ref_output(buf, r, -1, &wantlen);
		ck_assert_msg(gotlen == wantlen &&
		    memcmp(got, want, gotlen) == 0,
		    "%s: message %zu: reader gave %zu bytes, want %zu", name,
		    i, gotlen, wantlen);
		ck_assert_msg((off_t)gotlen == m->octets,
		    "%s: message %zu: got %zu bytes, octets say %lld", name, i,
		    gotlen, (long long)m->octets);
		free(got);
		free(want);
	}
	mbox_ref_free(&ref);
}

START_TEST(test_corpus)
{
	const struct scan_case	*c = &cases[_i];
	struct mbox_table	 t;
	struct reason		 r;
	char			*got;
	size_t			 gotlen;
	int			 fd, i, rc;

	fd = mt_memfd(c->input, c->len);
	mbox_table_init(&t);
	rc = mbox_scan(fd, 0, &t, &r);
	if (c->nmsg == -1) {
		ck_assert_msg(rc == -1 && errno == EINVAL,
		    "%s: got %d, want -1 EINVAL", c->name, rc);
		ck_assert_str_eq(r.status, "5.2.0");
		ck_assert_msg(strstr(r.text, "From_") != NULL, "got %s",
		    r.text);
		goto out;
	}
	ck_assert_msg(rc == 0, "%s: scan failed: %s", c->name, r.text);
	ck_assert_msg(t.n == (size_t)c->nmsg, "%s: got %zu messages, want %d",
	    c->name, t.n, c->nmsg);
	for (i = 0; i < c->nmsg; i++) {
		const struct mbox_msg	*m = &t.v[i];
		const struct want_msg	*w = &c->want[i];

		ck_assert_msg(memcmp(c->input + m->from_off, "From ", 5) == 0,
		    "%s: message %d does not start with From_", c->name, i);
		ck_assert_msg((size_t)(m->body_off - m->hdr_off) == w->hdrlen &&
		    memcmp(c->input + m->hdr_off, w->hdr, w->hdrlen) == 0,
		    "%s: message %d: got header \"%.*s\", want \"%s\"",
		    c->name, i, (int)(m->body_off - m->hdr_off),
		    c->input + m->hdr_off, w->hdr);
		ck_assert_msg((size_t)(m->end - m->body_off) == w->bodylen &&
		    memcmp(c->input + m->body_off, w->body, w->bodylen) == 0,
		    "%s: message %d: got body \"%.*s\", want \"%s\"",
		    c->name, i, (int)(m->end - m->body_off),
		    c->input + m->body_off, w->body);
		got = mt_read_msg(fd, m, MBOX_READER_ALL, &gotlen);
		ck_assert_msg(gotlen == w->retrlen &&
		    memcmp(got, w->retr, gotlen) == 0,
		    "%s: message %d: got RETR \"%s\" (%zu), want \"%s\"",
		    c->name, i, got, gotlen, w->retr);
		ck_assert_msg(m->octets == (off_t)gotlen,
		    "%s: message %d: got octets %lld, want %zu", c->name, i,
		    (long long)m->octets, gotlen);
		free(got);
	}
	check_against_ref(c->name, fd, c->input, c->len, &t);
out:
	mbox_table_deinit(&t);
	close(fd);
}
END_TEST

/* Python's mailbox.mbox must split the corpus the same way. */
START_TEST(test_corpus_python)
{
	const struct scan_case	*c = &cases[_i];
	struct mbox_table	 t;
	struct reason		 r;
	char			*out, *line, *save = NULL, hex[3];
	long long		 start, stop;
	size_t			 i = 0, k;
	int			 fd, n;

	if (c->nmsg == -1)
		return;		/* Python skips garbage; we refuse it */
	fd = mt_file("mbox", c->input, c->len);
	mbox_table_init(&t);
	ck_assert_int_eq(mbox_scan(fd, 0, &t, &r), 0);
	if ((out = mt_python_mbox(mt_path("mbox"))) == NULL) {
		mbox_table_deinit(&t);
		close(fd);
		return;		/* no python3 */
	}
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save), i++) {
		ck_assert_msg(i < t.n, "%s: python has more messages", c->name);
		ck_assert_int_eq(sscanf(line, "%lld %lld %n", &start, &stop,
		    &n), 2);
		ck_assert_msg(start == t.v[i].from_off && stop == t.v[i].end,
		    "%s: message %zu: python %lld..%lld, we %lld..%lld",
		    c->name, i, start, stop, (long long)t.v[i].from_off,
		    (long long)t.v[i].end);
		if (strcmp(line + n, "-") == 0)
			ck_assert_int_eq(t.v[i].end, t.v[i].hdr_off);
		for (k = 0; line[n + 2 * k] != '\0' &&
		    strcmp(line + n, "-") != 0; k++) {
			snprintf(hex, sizeof(hex), "%02x",
			    (unsigned char)c->input[t.v[i].hdr_off + k]);
			ck_assert_msg(memcmp(line + n + 2 * k, hex, 2) == 0,
			    "%s: message %zu differs at byte %zu", c->name, i,
			    k);
		}
	}
	ck_assert_msg(i == t.n, "%s: python got %zu messages, we %zu",
	    c->name, i, t.n);
	free(out);
	mbox_table_deinit(&t);
	close(fd);
}
END_TEST

/* A deterministic generator for the random files. */
static uint64_t	rng_state;

static uint32_t
rng(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(rng_state >> 33);
}

struct buf {
	char	*p;
	size_t	 len, cap;
};

static void
buf_add(struct buf *b, const char *p, size_t n)
{
	while (b->len + n + 1 > b->cap)
		b->p = realloc(b->p, b->cap = b->cap ? b->cap * 2 : 4096);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static const char *const tokens[] = {
	"From x@y Mon Jan  1 00:00:00 2024\n", "\n", "\r\n", "\r", ">",
	">From q\n", ">>From q\n", "From", " ", "Subject: s\n", "text\n",
	"From \n", "F", "\0", "x", ">>>", "\n\n", "From z",
};

/* Random tokens, the first a From_ line. */
static void
gen_random(struct buf *b, size_t ntok)
{
	size_t	i, k;

	buf_add(b, tokens[0], strlen(tokens[0]));
	for (i = 0; i < ntok; i++) {
		k = rng() % nitems(tokens);
		buf_add(b, tokens[k], strcmp(tokens[k], "\0") == 0 ? 1 :
		    strlen(tokens[k]));
	}
}

/* Small random files, compared with the reference model. */
START_TEST(test_random_small)
{
	struct mbox_table	t;
	struct reason		r;
	struct buf		b = { 0 };
	int			i, fd;

	rng_state = 1;
	mbox_table_init(&t);
	for (i = 0; i < 3000; i++) {
		b.len = 0;
		gen_random(&b, rng() % 40);
		fd = mt_memfd(b.p, b.len);
		ck_assert_int_eq(mbox_scan(fd, 0, &t, &r), 0);
		check_against_ref("random small", fd, b.p, b.len, &t);
		close(fd);
	}
	mbox_table_deinit(&t);
	free(b.p);
}
END_TEST

/*
 * Files whose random part straddles the scanner's and the reader's
 * buffer boundaries at every small shift.
 */
START_TEST(test_random_boundaries)
{
	static const size_t	bounds[] = { MBOX_SCAN_CHUNK, MBOX_READ_CHUNK };
	struct mbox_table	t;
	struct reason		r;
	struct buf		b = { 0 };
	size_t			shift, pad;
	int			round, fd;

	rng_state = 42 + _i;
	mbox_table_init(&t);
	for (round = 0; round < 6; round++) {
		for (shift = 0; shift < 12; shift++) {
			b.len = 0;
			buf_add(&b, S(F1 "\n"));
			/* (with the tiny buffers of a fuzz build: no pad) */
			pad = bounds[_i] + shift < b.len + 8 ? 0 :
			    bounds[_i] + shift - 8 - b.len;
			/* a filler body of plain lines */
			while (pad > 0) {
				size_t n = pad > 61 ? 61 : pad;

				buf_add(&b, "......................."
				    "......................................."
				    "..", n - 1);
				buf_add(&b, "\n", 1);
				pad -= n;
			}
			gen_random(&b, 30);
			fd = mt_memfd(b.p, b.len);
			ck_assert_int_eq(mbox_scan(fd, 0, &t, &r), 0);
			check_against_ref("boundary", fd, b.p, b.len, &t);
			close(fd);
		}
	}
	mbox_table_deinit(&t);
	free(b.p);
}
END_TEST

/* A run of '>' longer than any buffer, then "From ". */
START_TEST(test_long_gt_run)
{
	struct mbox_table	 t;
	struct reason		 r;
	struct buf		 b = { 0 };
	char			*gt;
	size_t			 n = 3 * MBOX_SCAN_CHUNK + 7;
	int			 fd;

	gt = malloc(n);
	memset(gt, '>', n);
	buf_add(&b, S(F1 "\n"));
	buf_add(&b, gt, n);
	buf_add(&b, S("From x\n"));
	buf_add(&b, gt, n);
	buf_add(&b, S("Frox\n\n" F1 "\n"));
	buf_add(&b, gt, n);
	fd = mt_memfd(b.p, b.len);
	mbox_table_init(&t);
	ck_assert_int_eq(mbox_scan(fd, 0, &t, &r), 0);
	ck_assert_uint_eq(t.n, 2);
	check_against_ref("long > run", fd, b.p, b.len, &t);
	mbox_table_deinit(&t);
	close(fd);
	free(gt);
	free(b.p);
}
END_TEST

struct top_case {
	long		 k;
	const char	*want;
};

START_TEST(test_top)
{
	static const char input[] = F1 "S: x\nT: y\n\nl1\nl2\nl3";
	static const struct top_case tops[] = {
		{ 0, "S: x\r\nT: y\r\n\r\n" },
		{ 1, "S: x\r\nT: y\r\n\r\nl1\r\n" },
		{ 2, "S: x\r\nT: y\r\n\r\nl1\r\nl2\r\n" },
		{ 3, "S: x\r\nT: y\r\n\r\nl1\r\nl2\r\nl3\r\n" },
		{ 100, "S: x\r\nT: y\r\n\r\nl1\r\nl2\r\nl3\r\n" },
	};
	struct mbox_table	 t;
	struct mbox_ref		 ref;
	struct reason		 r;
	char			*got, *want;
	size_t			 i, len, wlen;
	int			 fd;

	fd = mt_memfd(input, sizeof(input) - 1);
	mbox_table_init(&t);
	ck_assert_int_eq(mbox_scan(fd, 0, &t, &r), 0);
	ck_assert_uint_eq(t.n, 1);
	mbox_ref_parse(input, sizeof(input) - 1, &ref);
	for (i = 0; i < nitems(tops); i++) {
		got = mt_read_msg(fd, &t.v[0], tops[i].k, &len);
		ck_assert_msg(len == strlen(tops[i].want) &&
		    memcmp(got, tops[i].want, len) == 0,
		    "TOP %ld: got \"%s\", want \"%s\"", tops[i].k, got,
		    tops[i].want);
		want = mbox_ref_output(input, &ref.v[0], tops[i].k, &wlen);
		ck_assert(wlen == len && memcmp(want, got, len) == 0);
		free(got);
		free(want);
	}
	mbox_ref_free(&ref);
	mbox_table_deinit(&t);
	close(fd);
}
END_TEST

/* TOP on the corpus and random files agrees with the reference. */
START_TEST(test_top_random)
{
	struct mbox_table	 t;
	struct mbox_ref		 ref;
	struct reason		 r;
	struct buf		 b = { 0 };
	char			*got, *want;
	size_t			 i, len, wlen;
	long			 k;
	int			 round, fd;

	rng_state = 7;
	mbox_table_init(&t);
	for (round = 0; round < 500; round++) {
		b.len = 0;
		gen_random(&b, rng() % 60);
		fd = mt_memfd(b.p, b.len);
		ck_assert_int_eq(mbox_scan(fd, 0, &t, &r), 0);
		mbox_ref_parse(b.p, b.len, &ref);
		for (i = 0; i < t.n; i++)
			for (k = 0; k < 5; k++) {
				got = mt_read_msg(fd, &t.v[i], k, &len);
				want = mbox_ref_output(b.p, &ref.v[i], k,
				    &wlen);
				ck_assert_msg(wlen == len &&
				    memcmp(want, got, len) == 0,
				    "round %d msg %zu TOP %ld: got %zu bytes, "
				    "want %zu", round, i, k, len, wlen);
				free(got);
				free(want);
			}
		mbox_ref_free(&ref);
		close(fd);
	}
	mbox_table_deinit(&t);
	free(b.p);
}
END_TEST

static long
maxrss_kb(void)
{
	struct rusage	ru;

	ck_assert_int_eq(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

/*
 * An 8 MB line (and a 3 MB header line) scanned and read with memory
 * that does not grow with it. Runs in a child so that the peak is its own.
 */
START_TEST(test_long_line_bounded_memory)
{
	static char	 chunk[65536];
	struct mbox_table t;
	struct reason	 r;
	struct mbox_reader *rd;
	const char	*p;
	size_t		 n, total = 0, i;
	long		 before, after;
	int		 fd, status;
	pid_t		 pid;

	memset(chunk, 'x', sizeof(chunk));
	fd = mt_file("mbox", S(F1 "S: "));
	for (i = 0; i < 3 * 16; i++)
		mt_append_raw(fd, chunk, sizeof(chunk));
	mt_append_raw(fd, S("\n\n"));
	for (i = 0; i < 8 * 16; i++)
		mt_append_raw(fd, chunk, sizeof(chunk));
	mt_append_raw(fd, S("\n\n" F1 "\nshort\n"));

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		before = maxrss_kb();
		mbox_table_init(&t);
		if (mbox_scan(fd, 0, &t, &r) != 0 || t.n != 2)
			_exit(2);
		rd = mbox_reader_new(fd, &t.v[0], MBOX_READER_ALL);
		while (mbox_reader_read(rd, &p, &n) == 1)
			total += n;
		mbox_reader_free(&rd);
		if ((off_t)total != t.v[0].octets)
			_exit(3);
		after = maxrss_kb();
#ifdef __SANITIZE_ADDRESS__
		/* shadow memory and the quarantine make RSS meaningless */
		after = before;
#endif
		/* the scanner's and reader's buffers, not the line */
		_exit(after - before < 4096 ? 0 : 4);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "child: got status %d, want exit 0 (4: memory grew)", status);
	close(fd);
}
END_TEST

/* Continuing a table after appends gives what a full scan gives. */
START_TEST(test_tail_scan)
{
	static const char *const parts[] = {
		F1 "\nbody\n\n",		/* ends with the separator */
		F1 "\nno newline",		/* our append repairs it */
		"\n" F1 "S: x\n",		/* header only, no blank */
		F1 "\n>From q\n\n",
		"From a",			/* a torn From_ line */
		"@b x\n\nrest\n",		/* ... completed */
	};
	struct mbox_table	 t, full;
	struct reason		 r;
	struct buf		 b = { 0 };
	size_t			 i, k;
	int			 fd, fd2;

	fd = mt_memfd("", 0);
	mbox_table_init(&t);
	mbox_table_init(&full);
	ck_assert_int_eq(mbox_scan(fd, 0, &t, &r), 0);
	for (i = 0; i < nitems(parts); i++) {
		mt_append_raw(fd, parts[i], strlen(parts[i]));
		buf_add(&b, parts[i], strlen(parts[i]));
		ck_assert_msg(mbox_scan(fd, t.scanned, &t, &r) == 0,
		    "part %zu: %s", i, r.text);
		fd2 = mt_memfd(b.p, b.len);
		ck_assert_int_eq(mbox_scan(fd2, 0, &full, &r), 0);
		ck_assert_uint_eq(t.n, full.n);
		ck_assert_int_eq(t.scanned, full.scanned);
		for (k = 0; k < t.n; k++)
			ck_assert_msg(t.v[k].from_off == full.v[k].from_off &&
			    t.v[k].hdr_off == full.v[k].hdr_off &&
			    t.v[k].body_off == full.v[k].body_off &&
			    t.v[k].end == full.v[k].end &&
			    t.v[k].octets == full.v[k].octets &&
			    strcmp(t.v[k].uidl, full.v[k].uidl) == 0,
			    "part %zu message %zu differs", i, k);
		close(fd2);
	}
	/* a shorter file no longer fits */
	ck_assert_int_eq(ftruncate(fd, t.scanned - 1), 0);
	ck_assert_int_eq(mbox_scan(fd, t.scanned, &t, &r), -1);
	ck_assert_int_eq(errno, ESTALE);
	/* another file neither */
	ck_assert_int_eq(mbox_scan(fd, 0, &t, &r), 0);
	fd2 = mt_memfd(b.p, b.len);
	mt_append_raw(fd2, "\n", 1);
	ck_assert_int_eq(mbox_scan(fd2, t.scanned, &t, &r), -1);
	ck_assert_int_eq(errno, ESTALE);
	/* a start that is not where the table ends */
	ck_assert_int_eq(mbox_scan(fd, 3, &t, &r), -1);
	ck_assert_int_eq(errno, ESTALE);
	close(fd2);
	mbox_table_deinit(&t);
	mbox_table_deinit(&full);
	close(fd);
	free(b.p);
}
END_TEST

/*
 * A file that grows while it is scanned: the scan stops at the size it
 * saw at the start. One that shrinks: ESTALE, or done before it did.
 */
START_TEST(test_changes_during_scan)
{
	static char	 msg[10240];
	struct mbox_table t;
	struct reason	 r;
	struct stat	 st;
	size_t		 i, len;
	int		 fd, round, status, rc;
	pid_t		 pid;

	len = (size_t)snprintf(msg, sizeof(msg), F1 "\n");
	memset(msg + len, 'a', sizeof(msg) - len - 2);
	memcpy(msg + sizeof(msg) - 2, "\n\n", 2);
	fd = mt_file("mbox", "", 0);
	for (i = 0; i < 4000; i++)
		mt_append_raw(fd, msg, sizeof(msg));
	mbox_table_init(&t);
	for (round = 0; round < 4; round++) {
		ck_assert_int_eq(fstat(fd, &st), 0);
		pid = fork();
		ck_assert_int_ne(pid, -1);
		if (pid == 0) {
			int wfd = open(mt_path("mbox"), O_RDWR);

			usleep(1000 * round);
			if (round % 2 == 0) {
				for (i = 0; i < 200; i++)
					if (pwrite(wfd, msg, sizeof(msg),
					    st.st_size + (off_t)(i *
					    sizeof(msg))) == -1)
						_exit(1);
			} else if (ftruncate(wfd, st.st_size / 3) == -1)
				_exit(1);
			_exit(0);
		}
		rc = mbox_scan(fd, 0, &t, &r);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		if (round % 2 == 0) {
			ck_assert_int_eq(rc, 0);
			ck_assert_int_ge(t.scanned, st.st_size);
			ck_assert_uint_eq(t.scanned % sizeof(msg), 0);
			ck_assert_uint_eq(t.n, t.scanned / sizeof(msg));
		} else {
			ck_assert(rc == 0 || (rc == -1 && errno == ESTALE));
			if (rc == -1)
				ck_assert_uint_eq(t.n, 0);
			/* put it back for the next round */
			ck_assert_int_eq(ftruncate(fd, 0), 0);
			for (i = 0; i < 4000; i++)
				mt_append_raw(fd, msg, sizeof(msg));
		}
	}
	mbox_table_deinit(&t);
	close(fd);
}
END_TEST

/*
 * More messages than a table holds: the scan lists the first ones and
 * leaves the rest as if it had arrived later; a rewrite keeps it.
 */
START_TEST(test_message_cap)
{
	struct mbox_table	 t, newt;
	struct reason		 r;
	char			*buf, *copy;
	bool			*deleted;
	size_t			 i, len, n = MBOX_SCAN_MESSAGES_MAX + 3, clen;
	int			 fd, dst;

	/* "From N\n" messages, each distinct */
	buf = malloc(n * 16);
	for (i = 0, len = 0; i < n; i++)
		len += (size_t)sprintf(buf + len, "From %zu\n", i);
	fd = mt_memfd(buf, len);
	mbox_table_init(&t);
	ck_assert_int_eq(mbox_scan(fd, 0, &t, &r), 0);
	ck_assert_uint_eq(t.n, MBOX_SCAN_MESSAGES_MAX);
	ck_assert_int_eq(memcmp(buf + t.scanned, "From ", 5), 0);
	ck_assert_int_eq(t.v[t.n - 1].end, t.scanned);
	/* continuing stays put */
	ck_assert_int_eq(mbox_scan(fd, t.scanned, &t, &r), 0);
	ck_assert_uint_eq(t.n, MBOX_SCAN_MESSAGES_MAX);
	/* deleting the first keeps all the others, listed or not */
	deleted = calloc(t.n, sizeof(*deleted));
	deleted[0] = true;
	dst = mt_memfd("", 0);
	mbox_table_init(&newt);
	ck_assert_int_eq(mbox_rewrite_copy(fd, &t, deleted, dst, &newt, &r),
	    0);
	copy = mt_slurp(dst, &clen);
	ck_assert_uint_eq(clen, len - strlen("From 0\n"));
	ck_assert_int_eq(memcmp(copy, buf + strlen("From 0\n"), clen), 0);
	free(copy);
	free(deleted);
	free(buf);
	mbox_table_deinit(&t);
	mbox_table_deinit(&newt);
	close(dst);
	close(fd);
}
END_TEST

static Suite *
mbox_scan_suite(void)
{
	Suite	*s = suite_create("mbox_scan");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, mt_setup, mt_teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_corpus, 0, nitems(cases));
	tcase_add_loop_test(tc, test_corpus_python, 0, nitems(cases));
	tcase_add_test(tc, test_random_small);
	tcase_add_loop_test(tc, test_random_boundaries, 0, 2);
	tcase_add_test(tc, test_long_gt_run);
	tcase_add_test(tc, test_top);
	tcase_add_test(tc, test_top_random);
	tcase_add_test(tc, test_long_line_bounded_memory);
	tcase_add_test(tc, test_tail_scan);
	tcase_add_test(tc, test_changes_during_scan);
	tcase_add_test(tc, test_message_cap);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(mbox_scan_suite)
