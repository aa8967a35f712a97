/*
 * libFuzzer target for smtpd/smtp_data.c. Input: four octets of options
 * (policy, line limit, size limit, how the transport splits its reads),
 * then the raw bytes a client sends after DATA. They go through the
 * real io_getline() framing (over an in-memory transport) into the
 * DATA reader, and raw into the BDAT reader. Checks:
 *   - DATA ends exactly at the first CRLF "." CRLF (or a leading
 *     "." CRLF), and nowhere if there is none;
 *   - never more output than input (DATA);
 *   - an accepted message has no line over the limit, no NUL, no CR,
 *     and under REJECT no bare CR or LF was in the input;
 *   - an accepted message equals what a simple reference
 *     implementation of the rules makes of the input.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "smtpd/smtp_data.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(e)	do { if (!(e)) { fprintf(stderr, "%s:%d: %s\n", \
			    __FILE__, __LINE__, #e); abort(); } } while (0)

/* The client's bytes, handed out in reads of varying size. */
struct mem {
	const char	*p;
	size_t		 len, off;
	unsigned	 seed;
};

static ssize_t
mem_read(void *ctx, int fd, void *buf, size_t len)
{
	struct mem	*m = ctx;
	size_t		 n = m->len - m->off;

	(void)fd;
	if (n == 0)
		return IO_T_EOF;
	if (m->seed != 0) {
		/* 1..seed octets a read, cycling */
		size_t	k = 1 + (m->off * 7 + 3) % m->seed;

		if (n > k)
			n = k;
	}
	if (n > len)
		n = len;
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

static ssize_t
mem_write(void *ctx, int fd, const void *buf, size_t len)
{
	(void)ctx;
	(void)fd;
	(void)buf;
	return (ssize_t)len;
}

static size_t
mem_pending(void *ctx)
{
	(void)ctx;
	return 0;
}

static const struct io_transport mem_transport = {
	"mem", mem_read, mem_write, mem_pending, NULL, NULL
};

struct out {
	char	*p;
	size_t	 len, cap;
};

static int
sink(void *arg, const char *buf, size_t len)
{
	struct out	*o = arg;

	if (len == 0)
		return 0;
	if (o->len + len > o->cap) {
		o->cap = (o->len + len) * 2 + 64;
		o->p = realloc(o->p, o->cap);
		if (o->p == NULL)
			abort();
	}
	memcpy(o->p + o->len, buf, len);
	o->len += len;
	return 0;
}

/* Where CRLF "." CRLF first ends in s, or 0 if it does not. */
static size_t
expected_end(const char *s, size_t len)
{
	size_t	i;

	if (len >= 3 && memcmp(s, ".\r\n", 3) == 0)
		return 3;
	for (i = 0; i + 5 <= len; i++)
		if (memcmp(s + i, "\r\n.\r\n", 5) == 0)
			return i + 5;
	return 0;
}

/* No line longer than max, no NUL, no CR, ends in LF (or is empty). */
static void
check_text(const struct out *o, size_t max)
{
	size_t	i, col = 0;

	CHECK(o->len == 0 || o->p[o->len - 1] == '\n');
	for (i = 0; i < o->len; i++) {
		CHECK(o->p[i] != '\0' && o->p[i] != '\r');
		if (o->p[i] == '\n')
			col = 0;
		else
			CHECK(++col <= max);
	}
}

/* Whether every CR in s is followed by LF and every LF preceded by CR. */
static bool
only_crlf(const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		if (s[i] == '\r' && (i + 1 == len || s[i + 1] != '\n'))
			return false;
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			return false;
	}
	return true;
}

/*
 * The NORMALIZE rules applied to s (the data before the final "."
 * line): lines end at CRLF, LF or CR; a line of more than a "." loses
 * its leading dot (dot) and each line gets a LF.
 */
static void
reference(const char *s, size_t len, bool dot, bool final_lf, struct out *o)
{
	size_t	i = 0, start, end;

	while (i < len) {
		start = i;
		while (i < len && s[i] != '\r' && s[i] != '\n')
			i++;
		end = i;
		if (i < len && s[i] == '\r' && i + 1 < len && s[i + 1] == '\n')
			i += 2;
		else if (i < len)
			i++;
		if (dot && end - start > 1 && s[start] == '.')
			start++;
		sink(o, s + start, end - start);
		if (end < len || final_lf)
			sink(o, "\n", 1);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_data_opts	 opts;
	struct smtp_data	 d;
	struct mem		 m;
	struct io		*io;
	struct io_line		 line;
	struct reason		 r;
	struct out		 o = { NULL, 0, 0 }, ref = { NULL, 0, 0 };
	const char		*in;
	size_t			 len, consumed = 0, end = 0, want, i, k;
	int			 code, ok;

	if (size < 4)
		return 0;
	memset(&opts, 0, sizeof(opts));
	opts.bare_newlines = (data[0] & 1) ? BARE_NEWLINE_REJECT :
	    BARE_NEWLINE_NORMALIZE;
	opts.max_line_length = data[1] == 0 ? 0 : 3 + data[1] % 64;
	opts.max_size = data[2] == 0 ? 0 : (uint64_t)data[2] * 8;
	in = (const char *)data + 4;
	len = size - 4;

	/* DATA, framed by io_getline() */
	m.p = in;
	m.len = len;
	m.off = 0;
	m.seed = data[3] % 17;
	io = io_new(-1, -1);
	io_set_transport(io, &mem_transport, &m);
	smtp_data_init(&d, &opts, sink, &o);
	while (io_getline(io, smtp_data_getline_max(&d), &line) == IO_OK) {
		consumed += line.len;
		if (line.flags & IO_LINE_CRLF)
			consumed += 2;
		else if (line.flags & IO_LINE_LF)
			consumed += 1;
		if (smtp_data_feed(&d, &line) == SMTP_DATA_END) {
			end = consumed;
			CHECK(smtp_data_feed(&d, &line) == SMTP_DATA_END);
			break;
		}
	}
	io_free(&io);
	want = expected_end(in, len);
	CHECK(end == want);
	CHECK(o.len <= consumed);
	CHECK(smtp_data_size(&d) == o.len);
	ok = smtp_data_result(&d, &code, &r) == 0;
	if (end == 0)
		CHECK(!ok && code == 451);
	else if (!ok)
		CHECK(code == 552 || code == 554);
	if (ok) {
		check_text(&o, smtp_data_getline_max(&d));
		if (opts.max_size != 0)
			CHECK(o.len <= opts.max_size);
		if (opts.bare_newlines == BARE_NEWLINE_REJECT)
			CHECK(only_crlf(in, end));
		reference(in, end - 3, true, true, &ref);
		CHECK(ref.len == o.len &&
		    (o.len == 0 || memcmp(ref.p, o.p, o.len) == 0));
	}

	/* BDAT: the same bytes, in chunks */
	o.len = ref.len = 0;
	smtp_data_init(&d, &opts, sink, &o);
	for (i = 0; i < len; i += k) {
		k = 1 + (i * 13 + data[3]) % 97;
		if (k > len - i)
			k = len - i;
		CHECK(smtp_bdat_feed(&d, in + i, k) == 0);
	}
	CHECK(smtp_data_result(&d, &code, &r) == -1 && code == 451);
	smtp_bdat_last(&d);
	ok = smtp_data_result(&d, &code, &r) == 0;
	CHECK(o.len <= len + 1);
	if (ok) {
		check_text(&o, smtp_data_getline_max(&d));
		if (opts.bare_newlines == BARE_NEWLINE_REJECT)
			CHECK(only_crlf(in, len));
		reference(in, len, false, true, &ref);
		CHECK(ref.len == o.len &&
		    (o.len == 0 || memcmp(ref.p, o.p, o.len) == 0));
	} else
		CHECK(code == 552 || code == 554);
	free(o.p);
	free(ref.p);
	return 0;
}
