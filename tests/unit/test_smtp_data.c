/*
 * Unit tests for smtpd/smtp_data.c. The DATA cases send raw bytes
 * through a socketpair into io_getline(), as the session will (also one
 * byte per write), feed the lines to the reader until it reports the
 * end, and then read on to see what the session would take as the next
 * commands: so each case checks the stored message, the verdict and
 * exactly where the data ended. Every "SMTP smuggling" end-of-data
 * variant is here, under both bare-newline policies. BDAT cases feed
 * chunks split at every possible point.
 */
#include "autoconf.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io.h"
#include "bounds.h"
#include "smtpd/smtp_data.h"
#include "unit.h"

#define N	BARE_NEWLINE_NORMALIZE
#define R	BARE_NEWLINE_REJECT

/* A growing buffer for the sink. */
struct out {
	char	*buf;
	size_t	 len;
	int	 fail_after;	/* calls before the sink fails; 0 = never */
	int	 calls;
};

static int
sink(void *arg, const char *buf, size_t len)
{
	struct out	*o = arg;

	if (o->fail_after != 0 && ++o->calls > o->fail_after)
		return -1;
	o->buf = realloc(o->buf, o->len + len + 1);
	ck_assert_ptr_nonnull(o->buf);
	memcpy(o->buf + o->len, buf, len);
	o->len += len;
	o->buf[o->len] = '\0';
	return 0;
}

struct data_case {
	const char	*name;
	const char	*in;
	size_t		 inlen;		/* 0: strlen */
	enum bare_newline_policy policy;
	size_t		 max_line;	/* 0: default */
	uint64_t	 max_size;
	int		 want_code;	/* 0: accepted; -1: no end seen */
	const char	*want_status;
	const char	*want_out;	/* accepted: the stored message */
	const char	*want_rest;	/* the lines after the end, "|"-ended */
};

/*
 * The smuggling variants: "a" S "MAIL FROM:<e@x>" CRLF "." CRLF "QUIT".
 * A server that took S for the end of data would run the MAIL as a
 * command. Here it must stay in the message, in every variant.
 */
#define SMUGGLE(S)	"a" S "MAIL FROM:<e@x>\r\n.\r\nQUIT\r\n"
#define SMUGGLED	"a\n.\nMAIL FROM:<e@x>\n"
/* inputs with NUL octets, for sizeof */
#define NUL_SMUGGLE	"a\r\n.\0\r\nMAIL FROM:<e@x>\r\n.\r\nQUIT\r\n"
#define NUL_BODY	"a\0b\r\n.\r\nQUIT\r\n"

static const struct data_case data_cases[] = {
	{ "plain", "Subject: x\r\n\r\nhello\r\n.\r\nQUIT\r\n", 0, N, 0, 0,
	    0, NULL, "Subject: x\n\nhello\n", "QUIT|" },
	{ "empty message", ".\r\nQUIT\r\n", 0, N, 0, 0, 0, NULL, "",
	    "QUIT|" },
	{ "empty lines", "\r\n\r\n.\r\n", 0, N, 0, 0, 0, NULL, "\n\n", "" },
	{ "pipelined after end", "a\r\n.\r\nMAIL FROM:<b@c>\r\nRCPT TO:<d@e>"
	    "\r\n", 0, N, 0, 0, 0, NULL, "a\n", "MAIL FROM:<b@c>|RCPT TO:<d@e>|" },
	{ "dot stuffing", "..a\r\n.b\r\n..\r\n...\r\n. \r\n .\r\n.\r\n", 0,
	    N, 0, 0, 0, NULL, ".a\nb\n.\n..\n \n .\n", "" },
	{ "dot line after empty line", "a\r\n\r\n.\r\nQUIT\r\n", 0, N, 0, 0,
	    0, NULL, "a\n\n", "QUIT|" },
	{ "no end: eof", "a\r\nb\r\n", 0, N, 0, 0, -1, "4.3.0", NULL, NULL },
	{ "no end: dot at eof", "a\r\n.", 0, N, 0, 0, -1, "4.3.0", NULL,
	    NULL },
	{ "no end: dot lf at eof", "a\r\n.\n", 0, N, 0, 0, -1, "4.3.0", NULL,
	    NULL },
	{ "first line dot lf", ".\n\r\n.\r\nQUIT\r\n", 0, N, 0, 0, 0, NULL,
	    ".\n\n", "QUIT|" },
	{ "no end: first line dot lf", ".\n.\r\nQUIT\r\n", 0, N, 0, 0, -1,
	    "4.3.0", NULL, NULL },

	/* smuggling, normalizing: the MAIL stays in the body */
	{ "smuggle lf.lf N", SMUGGLE("\n.\n"), 0, N, 0, 0, 0, NULL,
	    SMUGGLED, "QUIT|" },
	{ "smuggle lf.crlf N", SMUGGLE("\n.\r\n"), 0, N, 0, 0, 0, NULL,
	    SMUGGLED, "QUIT|" },
	{ "smuggle crlf.lf N", SMUGGLE("\r\n.\n"), 0, N, 0, 0, 0, NULL,
	    SMUGGLED, "QUIT|" },
	{ "smuggle cr.cr N", SMUGGLE("\r.\r"), 0, N, 0, 0, 0, NULL,
	    SMUGGLED, "QUIT|" },
	{ "smuggle crlf.cr N", SMUGGLE("\r\n.\r"), 0, N, 0, 0, 0, NULL,
	    SMUGGLED, "QUIT|" },
	{ "smuggle cr.crlf N", SMUGGLE("\r.\r\n"), 0, N, 0, 0, 0, NULL,
	    SMUGGLED, "QUIT|" },
	{ "smuggle cr.lf N", SMUGGLE("\r.\n"), 0, N, 0, 0, 0, NULL,
	    SMUGGLED, "QUIT|" },
	{ "smuggle lf.cr N", SMUGGLE("\n.\r"), 0, N, 0, 0, 0, NULL,
	    SMUGGLED, "QUIT|" },
	{ "smuggle crlf.crcrlf N", "a\r\n.\r\r\nMAIL FROM:<e@x>\r\n.\r\n"
	    "QUIT\r\n", 0, N, 0, 0, 0, NULL, "a\n.\n\nMAIL FROM:<e@x>\n",
	    "QUIT|" },
	{ "smuggle crlf.nul N", NUL_SMUGGLE, sizeof(NUL_SMUGGLE) - 1, N, 0, 0,
	    554, "5.6.0", NULL, "QUIT|" },
	{ "smuggle crlf.space N", "a\r\n. \r\nMAIL FROM:<e@x>\r\n.\r\n"
	    "QUIT\r\n", 0, N, 0, 0, 0, NULL, "a\n \nMAIL FROM:<e@x>\n",
	    "QUIT|" },
	{ "smuggle lf lf.lf lf N", "a\n\n.\n\nMAIL FROM:<e@x>\r\n.\r\n"
	    "QUIT\r\n", 0, N, 0, 0, 0, NULL, "a\n\n.\n\nMAIL FROM:<e@x>\n",
	    "QUIT|" },

	/* smuggling, rejecting: refused, and still ends at the real end */
	{ "smuggle lf.lf R", SMUGGLE("\n.\n"), 0, R, 0, 0, 554, "5.6.0",
	    NULL, "QUIT|" },
	{ "smuggle lf.crlf R", SMUGGLE("\n.\r\n"), 0, R, 0, 0, 554, "5.6.0",
	    NULL, "QUIT|" },
	{ "smuggle crlf.lf R", SMUGGLE("\r\n.\n"), 0, R, 0, 0, 554, "5.6.0",
	    NULL, "QUIT|" },
	{ "smuggle cr.cr R", SMUGGLE("\r.\r"), 0, R, 0, 0, 554, "5.6.0",
	    NULL, "QUIT|" },
	{ "smuggle crlf.cr R", SMUGGLE("\r\n.\r"), 0, R, 0, 0, 554, "5.6.0",
	    NULL, "QUIT|" },
	{ "smuggle cr.crlf R", SMUGGLE("\r.\r\n"), 0, R, 0, 0, 554, "5.6.0",
	    NULL, "QUIT|" },
	{ "smuggle cr.lf R", SMUGGLE("\r.\n"), 0, R, 0, 0, 554, "5.6.0",
	    NULL, "QUIT|" },
	{ "smuggle lf.cr R", SMUGGLE("\n.\r"), 0, R, 0, 0, 554, "5.6.0",
	    NULL, "QUIT|" },

	/* bare newlines without any dot */
	{ "bare lf N", "a\nb\r\n.\r\n", 0, N, 0, 0, 0, NULL, "a\nb\n", "" },
	{ "bare cr N", "a\rb\r\n.\r\n", 0, N, 0, 0, 0, NULL, "a\nb\n", "" },
	{ "bare cr before crlf N", "a\r\r\n.\r\n", 0, N, 0, 0, 0, NULL,
	    "a\n\n", "" },
	{ "bare lf R", "a\nb\r\n.\r\n", 0, R, 0, 0, 554, "5.6.0", NULL, "" },
	{ "bare cr R", "a\rb\r\n.\r\n", 0, R, 0, 0, 554, "5.6.0", NULL, "" },
	{ "crlf only R", "a\r\nb\r\n.\r\n", 0, R, 0, 0, 0, NULL, "a\nb\n",
	    "" },
	{ "dot after bare lf unstuffed N", "a\n..b\r\n.\r\n", 0, N, 0, 0, 0,
	    NULL, "a\n.b\n", "" },
	{ "dot after bare cr unstuffed N", "a\r..b\r\n.\r\n", 0, N, 0, 0, 0,
	    NULL, "a\n.b\n", "" },

	/* NUL */
	{ "nul", NUL_BODY, sizeof(NUL_BODY) - 1, N, 0, 0, 554, "5.6.0", NULL,
	    "QUIT|" },

	/* long lines: 10 octets with CRLF, so 8 of content */
	{ "line at limit", "12345678\r\n.\r\n", 0, N, 10, 0, 0, NULL,
	    "12345678\n", "" },
	{ "line over limit", "123456789\r\n.\r\nQUIT\r\n", 0, N, 10, 0, 554,
	    "5.6.0", NULL, "QUIT|" },
	{ "bare lf line at limit", "12345678\n.\r\n.\r\n", 0, N, 10, 0, 0,
	    NULL, "12345678\n.\n", "" },
	/* RFC 5321 4.5.3.1.6: the transparency dot does not count */
	{ "stuffed line at limit", "..2345678\r\n.2345678\r\n.\r\n", 0, N,
	    10, 0, 0, NULL, ".2345678\n2345678\n", "" },
	{ "stuffed line over limit", "..23456789\r\n.\r\n", 0, N, 10, 0,
	    554, "5.6.0", NULL, "" },
	{ "only the first dot is free", "...2345678\r\n.\r\n", 0, N, 10, 0,
	    554, "5.6.0", NULL, "" },
	{ "long line then dot piece", "12345678.\r\n.\r\nQUIT\r\n", 0, N,
	    10, 0, 554, "5.6.0", NULL, "QUIT|" },
	/* the "." after a long line's first piece is not an end */
	{ "long line dot piece not end", "12345678.\r\nQUIT\r\n.\r\n", 0, N,
	    10, 0, 554, "5.6.0", NULL, "" },
	{ "very long line", "1234567890123456789012345678901234567890\r\n"
	    ".\r\nQUIT\r\n", 0, N, 10, 0, 554, "5.6.0", NULL, "QUIT|" },

	/*
	 * Found by fuzz_smtp_data: with 1 octet a piece, ".\r" comes as
	 * "." then "\r": a lone dot, kept, not a stuffed one.
	 */
	{ "dot piece then bare cr", "\r\n.\r\r\n.\r\n", 0, N, 3, 0, 0, NULL,
	    "\n.\n\n", "" },
	{ "dot piece then text", "a\r\n.x\r\n..\r\n.\r\n", 0, N, 3, 0, 0,
	    NULL, "a\nx\n.\n", "" },

	/* size: octets stored, LF line ends */
	{ "size at limit", "12345\r\n123\r\n.\r\n", 0, N, 0, 10, 0, NULL,
	    "12345\n123\n", "" },
	{ "size over limit", "12345\r\n1234\r\n.\r\nQUIT\r\n", 0, N, 0, 10,
	    552, "5.3.4", NULL, "QUIT|" },
	{ "size counts unstuffed", "..345\r\n..34\r\n.\r\n", 0, N, 0, 10, 0,
	    NULL, ".345\n.34\n", "" },
	{ "size before long line", "123456\r\n1234567890123\r\n.\r\n", 0, N,
	    10, 5, 552, "5.3.4", NULL, "" },
};

/* Writes len bytes to fd, one byte a write when trickle, then closes. */
static pid_t
feeder(int fd, const char *in, size_t len, bool trickle)
{
	pid_t	pid = fork();
	size_t	off = 0;
	ssize_t	w;

	ck_assert_int_ne(pid, -1);
	if (pid != 0)
		return pid;
	while (off < len) {
		w = write(fd, in + off, trickle ? 1 : len - off);
		if (w <= 0)
			_exit(1);
		off += (size_t)w;
	}
	close(fd);
	_exit(0);
}

static void
run_data_case(const struct data_case *c, bool trickle)
{
	struct smtp_data_opts	 opts = { c->policy, c->max_line, c->max_size };
	struct smtp_data	 d;
	struct out		 o = { NULL, 0, 0, 0 };
	struct io		*io;
	struct io_line		 line;
	struct reason		 r = { "", "" };
	char			 rest[512] = "";
	size_t			 len = c->inlen != 0 ? c->inlen : strlen(c->in);
	int			 sv[2], status, code = 0, rc, ended = 0;
	pid_t			 pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = feeder(sv[1], c->in, len, trickle);
	close(sv[1]);
	io = io_new(sv[0], sv[0]);
	io_set_timeouts(io, 5000, 5000);
	smtp_data_init(&d, &opts, sink, &o);
	while (io_getline(io, smtp_data_getline_max(&d), &line) == IO_OK) {
		if (smtp_data_feed(&d, &line) == SMTP_DATA_END) {
			ended = 1;
			break;
		}
	}
	/* what the session would read next, as commands */
	while (ended && io_getline(io, 512, &line) == IO_OK) {
		strncat(rest, line.data, sizeof(rest) - strlen(rest) - 2);
		strcat(rest, "|");
	}
	rc = smtp_data_result(&d, &code, &r);
	if (c->want_code == -1) {
		ck_assert_msg(!ended, "%s: got an end, want none", c->name);
		ck_assert_msg(rc == -1 && code == 451 &&
		    strcmp(r.status, c->want_status) == 0,
		    "%s: got %d %s before the end", c->name, code, r.status);
		goto done;
	}
	ck_assert_msg(ended, "%s: got no end of data", c->name);
	ck_assert_msg(strcmp(rest, c->want_rest) == 0,
	    "%s: got next commands \"%s\", want \"%s\"", c->name, rest,
	    c->want_rest);
	if (c->want_code == 0) {
		ck_assert_msg(rc == 0, "%s: got refused %d %s %s, want "
		    "accepted", c->name, code, r.status, r.text);
		ck_assert_msg(o.len == strlen(c->want_out) &&
		    memcmp(o.buf != NULL ? o.buf : "", c->want_out, o.len) == 0,
		    "%s: got message \"%s\", want \"%s\"", c->name,
		    o.buf != NULL ? o.buf : "", c->want_out);
		ck_assert_uint_eq(smtp_data_size(&d), o.len);
	} else {
		ck_assert_msg(rc == -1 && code == c->want_code &&
		    strcmp(r.status, c->want_status) == 0,
		    "%s: got %d %d %s (%s), want %d %s", c->name, rc, code,
		    r.status, r.text, c->want_code, c->want_status);
		if (c->max_size != 0)
			ck_assert_uint_le(o.len, c->max_size);
	}
done:
	io_free(&io);
	free(o.buf);
	waitpid(pid, &status, 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

START_TEST(test_data)
{
	run_data_case(&data_cases[_i], false);
}
END_TEST

START_TEST(test_data_trickle)
{
	run_data_case(&data_cases[_i], true);
}
END_TEST

/* Lines fed directly, flags as io_getline() would set them. */
START_TEST(test_data_flags)
{
	struct smtp_data	d;
	struct out		o = { NULL, 0, 0, 0 };
	struct io_line		l;
	int			code;
	char			dot[] = ".", dotx[] = ".x", x[] = "x";

	smtp_data_init(&d, NULL, sink, &o);
	/* "." as a PARTIAL piece, then "." ending that line: ".." is "." */
	l.data = dot;
	l.len = 1;
	l.flags = IO_LINE_PARTIAL;
	ck_assert_int_eq(smtp_data_feed(&d, &l), SMTP_DATA_MORE);
	l.flags = IO_LINE_CRLF;
	ck_assert_int_eq(smtp_data_feed(&d, &l), SMTP_DATA_MORE);
	/* "." then ".x" in pieces: "..x" is ".x", only one dot goes */
	l.flags = IO_LINE_PARTIAL;
	ck_assert_int_eq(smtp_data_feed(&d, &l), SMTP_DATA_MORE);
	l.data = dotx;
	l.len = 2;
	l.flags = IO_LINE_CRLF;
	ck_assert_int_eq(smtp_data_feed(&d, &l), SMTP_DATA_MORE);
	/* a "." line with the BARECR flag is not an end either */
	l.data = dot;
	l.len = 1;
	l.flags = IO_LINE_CRLF | IO_LINE_BARECR;
	ck_assert_int_eq(smtp_data_feed(&d, &l), SMTP_DATA_MORE);
	l.data = x;
	l.flags = IO_LINE_CRLF;
	ck_assert_int_eq(smtp_data_feed(&d, &l), SMTP_DATA_MORE);
	l.data = dot;
	ck_assert_int_eq(smtp_data_feed(&d, &l), SMTP_DATA_END);
	/* feeding after the end changes nothing */
	ck_assert_int_eq(smtp_data_feed(&d, &l), SMTP_DATA_END);
	ck_assert_int_eq(smtp_data_result(&d, &code, NULL), 0);
	ck_assert_str_eq(o.buf, ".\n.x\n.\nx\n");
	free(o.buf);
}
END_TEST

START_TEST(test_data_sink_error)
{
	struct smtp_data	d;
	struct out		o = { NULL, 0, 2, 0 };
	struct io_line		l;
	struct reason		r;
	int			code;
	char			a[] = "a", dot[] = ".";

	smtp_data_init(&d, NULL, sink, &o);
	l.data = a;
	l.len = 1;
	l.flags = IO_LINE_CRLF;
	ck_assert_int_eq(smtp_data_feed(&d, &l), SMTP_DATA_MORE);
	ck_assert_int_eq(smtp_data_feed(&d, &l), SMTP_DATA_MORE);
	ck_assert_int_eq(smtp_data_feed(&d, &l), SMTP_DATA_MORE);
	l.data = dot;
	ck_assert_int_eq(smtp_data_feed(&d, &l), SMTP_DATA_END);
	ck_assert_int_eq(smtp_data_result(&d, &code, &r), -1);
	ck_assert_int_eq(code, 451);
	ck_assert_str_eq(r.status, "4.3.0");
	ck_assert_int_eq(o.calls, 3);	/* no call after the failure */
	free(o.buf);
}
END_TEST

START_TEST(test_data_line_max_clamped)
{
	struct smtp_data	d;
	struct smtp_data_opts	opts = { N, 0, 0 };

	smtp_data_init(&d, &opts, sink, NULL);
	ck_assert_uint_eq(smtp_data_getline_max(&d), SMTP_TEXT_LINE_MAX - 2);
	opts.max_line_length = 1;
	smtp_data_init(&d, &opts, sink, NULL);
	ck_assert_uint_eq(smtp_data_getline_max(&d), 1);
	opts.max_line_length = SMTP_TEXT_LINE_DEFAULT;
	smtp_data_init(&d, &opts, sink, NULL);
	ck_assert_uint_eq(smtp_data_getline_max(&d),
	    SMTP_TEXT_LINE_DEFAULT - 2);
	opts.max_line_length = (size_t)SMTP_TEXT_LINE_CEILING + 1;
	smtp_data_init(&d, &opts, sink, NULL);
	ck_assert_uint_eq(smtp_data_getline_max(&d),
	    SMTP_TEXT_LINE_CEILING - 2);
}
END_TEST

/* The default limit: 998 octets of content pass, 999 do not. */
START_TEST(test_data_default_line_limit)
{
	static char		in[1100], want[1100];
	struct data_case	c;

	memset(&c, 0, sizeof(c));
	c.policy = N;
	c.in = in;
	c.want_rest = "";
	memset(in, 'x', 998);
	strcpy(in + 998, "\r\n.\r\n");
	memset(want, 'x', 998);
	strcpy(want + 998, "\n");
	c.name = "998";
	c.want_out = want;
	run_data_case(&c, false);

	/* 999 with the transparency dot: still fine */
	in[0] = '.';
	memset(in + 1, 'x', 998);
	strcpy(in + 999, "\r\n.\r\n");
	c.name = "998 and a dot";
	run_data_case(&c, false);

	memset(in, 'x', 999);
	strcpy(in + 999, "\r\n.\r\n");
	c.name = "999";
	c.want_code = 554;
	c.want_status = "5.6.0";
	run_data_case(&c, false);
}
END_TEST

/* The first reason to refuse is the one reported. */
START_TEST(test_data_first_reason_wins)
{
	static const char	in[] = "1234567890123\r\na\nb\0\r\n.\r\n";
	struct smtp_data_opts	opts = { R, 10, 100 };
	struct smtp_data	d;
	struct out		o = { NULL, 0, 0, 0 };
	struct reason		r;
	size_t			i;
	int			code;

	smtp_data_init(&d, &opts, sink, &o);
	for (i = 0; i < sizeof(in) - 1; i++)
		smtp_bdat_feed(&d, in + i, 1);
	smtp_bdat_last(&d);
	ck_assert_int_eq(smtp_data_result(&d, &code, &r), -1);
	ck_assert_int_eq(code, 554);
	ck_assert_msg(strstr(r.text, "too long") != NULL, "got %s", r.text);
	free(o.buf);
}
END_TEST

struct bdat_case {
	const char	*name;
	const char	*in;
	size_t		 inlen;
	enum bare_newline_policy policy;
	size_t		 max_line;
	uint64_t	 max_size;
	int		 want_code;
	const char	*want_status;
	const char	*want_out;
};

static const struct bdat_case bdat_cases[] = {
	{ "crlf", "a\r\nb\r\n", 0, N, 0, 0, 0, NULL, "a\nb\n" },
	{ "no final newline", "a\r\nb", 0, N, 0, 0, 0, NULL, "a\nb\n" },
	{ "empty", "", 0, N, 0, 0, 0, NULL, "" },
	{ "no unstuffing", ".\r\n..x\r\n", 0, N, 0, 0, 0, NULL, ".\n..x\n" },
	{ "bare cr at end N", "a\r", 0, N, 0, 0, 0, NULL, "a\n" },
	{ "bare cr at end R", "a\r", 0, R, 0, 0, 554, "5.6.0", NULL },
	{ "bare cr N", "a\rb\r\n", 0, N, 0, 0, 0, NULL, "a\nb\n" },
	{ "bare cr R", "a\rb\r\n", 0, R, 0, 0, 554, "5.6.0", NULL },
	{ "bare lf N", "a\nb\r\n", 0, N, 0, 0, 0, NULL, "a\nb\n" },
	{ "bare lf R", "a\nb\r\n", 0, R, 0, 0, 554, "5.6.0", NULL },
	{ "cr cr lf N", "a\r\r\nb", 0, N, 0, 0, 0, NULL, "a\n\nb\n" },
	{ "cr cr lf R", "a\r\r\nb", 0, R, 0, 0, 554, "5.6.0", NULL },
	{ "smuggling is text", "a\r\n.\r\nMAIL FROM:<e@x>\r\n", 0, R, 0, 0,
	    0, NULL, "a\n.\nMAIL FROM:<e@x>\n" },
	{ "nul", "a\0b\r\n", 5, N, 0, 0, 554, "5.6.0", NULL },
	{ "line at limit", "12345678\r\n", 0, N, 10, 0, 0, NULL,
	    "12345678\n" },
	{ "line over limit", "123456789\r\n", 0, N, 10, 0, 554, "5.6.0",
	    NULL },
	{ "last line over limit", "1\r\n123456789", 0, N, 10, 0, 554,
	    "5.6.0", NULL },
	{ "bare cr does not reset the line", "1234\r56789\r\n", 0, N, 10, 0,
	    554, "5.6.0", NULL },
	{ "size at limit", "12345\r\n123\r\n", 0, N, 0, 10, 0, NULL,
	    "12345\n123\n" },
	{ "size over limit", "12345\r\n1234\r\n", 0, N, 0, 10, 552, "5.3.4",
	    NULL },
	{ "size counts the added newline", "12345\r\n1234", 0, N, 0, 10, 552,
	    "5.3.4", NULL },
};

static void
bdat_check(const struct bdat_case *c, const size_t *cuts, size_t ncuts,
    const char *how)
{
	struct smtp_data_opts	 opts = { c->policy, c->max_line, c->max_size };
	struct smtp_data	 d;
	struct out		 o = { NULL, 0, 0, 0 };
	struct reason		 r = { "", "" };
	size_t			 len = c->inlen != 0 ? c->inlen : strlen(c->in);
	size_t			 i, from = 0;
	int			 code = 0, rc;

	smtp_data_init(&d, &opts, sink, &o);
	for (i = 0; i <= ncuts; i++) {
		size_t	to = i < ncuts ? cuts[i] : len;

		ck_assert_int_eq(smtp_bdat_feed(&d, c->in + from, to - from),
		    0);
		from = to;
	}
	ck_assert_int_eq(smtp_data_result(&d, &code, &r), -1);	/* not yet */
	ck_assert_int_eq(code, 451);
	smtp_bdat_last(&d);
	rc = smtp_data_result(&d, &code, &r);
	if (c->want_code == 0) {
		ck_assert_msg(rc == 0, "%s (%s): got %d %s", c->name, how, code,
		    r.text);
		ck_assert_msg(o.len == strlen(c->want_out) &&
		    memcmp(o.buf != NULL ? o.buf : "", c->want_out, o.len) == 0,
		    "%s (%s): got \"%s\", want \"%s\"", c->name, how,
		    o.buf != NULL ? o.buf : "", c->want_out);
	} else
		ck_assert_msg(rc == -1 && code == c->want_code &&
		    strcmp(r.status, c->want_status) == 0,
		    "%s (%s): got %d %s, want %d %s", c->name, how, code,
		    r.status, c->want_code, c->want_status);
	free(o.buf);
}

/* One chunk, two chunks cut at every point, and one byte a chunk. */
START_TEST(test_bdat)
{
	const struct bdat_case	*c = &bdat_cases[_i];
	size_t			 len = c->inlen != 0 ? c->inlen : strlen(c->in);
	size_t			 cuts[64], i;
	char			 how[32];

	bdat_check(c, NULL, 0, "one chunk");
	for (i = 0; i <= len; i++) {
		snprintf(how, sizeof(how), "cut at %zu", i);
		cuts[0] = i;
		bdat_check(c, cuts, 1, how);
	}
	ck_assert_uint_lt(len, nitems(cuts));
	for (i = 0; i < len; i++)
		cuts[i] = i + 1;
	bdat_check(c, cuts, len, "byte by byte");
}
END_TEST

/* io_read_exact()'s callback for BDAT: how the session feeds a chunk. */
static int
bdat_fn(void *arg, const char *buf, size_t len)
{
	return smtp_bdat_feed(arg, buf, len);
}

/* Two BDAT chunks read with io_read_exact(), the CRLF split between. */
START_TEST(test_bdat_over_io)
{
	static const char	in[] = "BDAT 7\r\nline 1\rBDAT 7 LAST\r\n"
	    "\nline 2QUIT\r\n";
	struct smtp_data	d;
	struct out		o = { NULL, 0, 0, 0 };
	struct io		*io;
	struct io_line		line;
	int			sv[2], status, code;
	pid_t			pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = feeder(sv[1], in, sizeof(in) - 1, true);
	close(sv[1]);
	io = io_new(sv[0], sv[0]);
	io_set_timeouts(io, 5000, 5000);
	smtp_data_init(&d, NULL, sink, &o);
	ck_assert_int_eq(io_getline(io, 512, &line), IO_OK);
	ck_assert_str_eq(line.data, "BDAT 7");
	ck_assert_int_eq(io_read_exact(io, 7, bdat_fn, &d), IO_OK);
	ck_assert_int_eq(io_getline(io, 512, &line), IO_OK);
	ck_assert_str_eq(line.data, "BDAT 7 LAST");
	ck_assert_int_eq(io_read_exact(io, 7, bdat_fn, &d), IO_OK);
	smtp_bdat_last(&d);
	ck_assert_int_eq(smtp_data_result(&d, &code, NULL), 0);
	ck_assert_str_eq(o.buf, "line 1\nline 2\n");
	ck_assert_int_eq(io_getline(io, 512, &line), IO_OK);
	ck_assert_str_eq(line.data, "QUIT");
	io_free(&io);
	free(o.buf);
	waitpid(pid, &status, 0);
}
END_TEST

static Suite *
smtp_data_suite(void)
{
	Suite	*s = suite_create("smtp_data");
	TCase	*tc = tcase_create("core");

	signal(SIGPIPE, SIG_IGN);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_data, 0, nitems(data_cases));
	tcase_add_loop_test(tc, test_data_trickle, 0, nitems(data_cases));
	tcase_add_test(tc, test_data_flags);
	tcase_add_test(tc, test_data_sink_error);
	tcase_add_test(tc, test_data_line_max_clamped);
	tcase_add_test(tc, test_data_default_line_limit);
	tcase_add_test(tc, test_data_first_reason_wins);
	tcase_add_loop_test(tc, test_bdat, 0, nitems(bdat_cases));
	tcase_add_test(tc, test_bdat_over_io);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(smtp_data_suite)
