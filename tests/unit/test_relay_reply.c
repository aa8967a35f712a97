/*
 * Unit tests for relay/relay_reply.c and relay/relay_mx.c: SMTP replies
 * as the relay reads them (RFC 5321 4.2, RFC 3463 status codes), EHLO
 * keywords, and MX rdata to the MX list (RFC 1035 3.3.9, RFC 7505),
 * sorted by preference with equal ones shuffled (RFC 5321 5.1).
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "relay/relay_mx.h"
#include "relay/relay_reply.h"
#include "unit.h"

/* A reply as lines separated by '|'; crlf for every line. */
struct reply_case {
	const char	*lines;
	bool		 crlf;
	int		 rc;		/* of the last line fed */
	int		 code;
	const char	*status;
	const char	*line;		/* relay_reply_line(), or the error */
};

static const struct reply_case replies[] = {
	{ "250 ok", true, 1, 250, "", "ok" },
	{ "354", true, 1, 354, "", "" },
	{ "550 5.1.1 no such user", true, 1, 550, "5.1.1", "no such user" },
	{ "550-5.1.1 first|550 5.1.1 second", true, 1, 550, "5.1.1", "first" },
	{ "451 4.7.1", true, 1, 451, "4.7.1", "" },
	/* a status of another class is text, not a status */
	{ "550 4.1.1 odd", true, 1, 550, "", "4.1.1 odd" },
	/* a status that does not fit struct reason counts as none */
	{ "421 4.233.421 x", true, 1, 421, "", "4.233.421 x" },
	{ "250-a", true, 0, 250, "", "a" },
	{ "250-a|251 b", true, -1, 0, NULL, "the reply code changed" },
	{ "250 ok", false, -1, 0, NULL, "bare LF" },
	{ "HTTP/1.0 400", true, -1, 0, NULL, "not an SMTP reply line" },
	{ "25", true, -1, 0, NULL, "not an SMTP reply line" },
	{ "250x", true, -1, 0, NULL, "not an SMTP reply line" },
	{ "199 no", true, -1, 0, NULL, "not an SMTP reply line" },
	{ "260 no", true, -1, 0, NULL, "not an SMTP reply line" },
	{ "250 a\tb", true, 1, 250, "", "a\tb" },
	{ "250 a\x01" "b", true, -1, 0, NULL, "control character" },
};

START_TEST(test_reply)
{
	const struct reply_case	*c = &replies[_i];
	struct relay_reply	 r;
	char			 buf[512], line[64];
	const char		*p = c->lines, *bar;
	size_t			 n;
	int			 rc = 0;

	relay_reply_init(&r);
	while (*p != '\0') {
		bar = strchr(p, '|');
		n = bar != NULL ? (size_t)(bar - p) : strlen(p);
		rc = relay_reply_feed(&r, p, n, c->crlf);
		if (rc != 0)
			break;
		p = bar != NULL ? bar + 1 : p + n;
	}
	ck_assert_msg(rc == c->rc, "%s: got %d, want %d (%s)", c->lines, rc,
	    c->rc, r.err);
	if (rc == -1) {
		ck_assert_msg(strstr(r.err, c->line) != NULL, "%s: got \"%s\"",
		    c->lines, r.err);
		return;
	}
	ck_assert_int_eq(r.code, c->code);
	ck_assert_str_eq(r.status, c->status);
	relay_reply_line(&r, buf, sizeof(buf));
	ck_assert_str_eq(buf, c->line);
	/* cut to the buffer, always terminated */
	relay_reply_line(&r, line, 3);
	ck_assert_uint_le(strlen(line), 2);
}
END_TEST

START_TEST(test_reply_line_bound)
{
	struct relay_reply	r;
	char			line[RELAY_REPLY_LINE_MAX + 8];
	int			i;

	memset(line, 'x', sizeof(line));
	memcpy(line, "250-", 4);
	relay_reply_init(&r);
	ck_assert_int_eq(relay_reply_feed(&r, line, RELAY_REPLY_LINE_MAX + 1,
	    true), -1);
	/* RELAY_REPLY_LINES_MAX lines, then an error; text stays bounded */
	relay_reply_init(&r);
	for (i = 0; i < RELAY_REPLY_LINES_MAX; i++)
		ck_assert_int_eq(relay_reply_feed(&r, line, 1000, true), 0);
	ck_assert_int_eq(relay_reply_feed(&r, line, 1000, true), -1);
	ck_assert(strstr(r.err, "more than") != NULL);
	ck_assert_int_eq(r.nlines, RELAY_REPLY_LINES_MAX);
	ck_assert(r.truncated);
	ck_assert_uint_lt(r.textlen, sizeof(r.text));
	ck_assert_uint_eq(strlen(r.text), r.textlen);
}
END_TEST

START_TEST(test_ehlo)
{
	static const char *const lines[] = {
		"250-mx.example greets you",
		"250-pipelining",
		"250-SIZE 35882577",
		"250-8BITMIME",
		"250-SMTPUTF8",
		"250-ENHANCEDSTATUSCODES",
		"250-DSN",
		"250-STARTTLS",
		"250-AUTH GSSAPI LOGIN",
		"250 X-SIZE 5",
	};
	struct relay_reply	r;
	struct relay_ehlo	e;
	size_t			i;

	relay_reply_init(&r);
	for (i = 0; i < nitems(lines); i++)
		ck_assert_int_eq(relay_reply_feed(&r, lines[i],
		    strlen(lines[i]), true), i + 1 == nitems(lines));
	relay_reply_ehlo(&r, &e);
	ck_assert_uint_eq(e.flags, RELAY_EXT_PIPELINING | RELAY_EXT_SIZE |
	    RELAY_EXT_8BITMIME | RELAY_EXT_SMTPUTF8 | RELAY_EXT_ENHANCED |
	    RELAY_EXT_DSN | RELAY_EXT_STARTTLS | RELAY_EXT_AUTH_LOGIN);
	ck_assert_uint_eq(e.size, 35882577);
	/* the greeting line is not a keyword; SIZE without a number: none */
	relay_reply_init(&r);
	ck_assert_int_eq(relay_reply_feed(&r, "250-STARTTLS", 12, true), 0);
	ck_assert_int_eq(relay_reply_feed(&r, "250 SIZE", 8, true), 1);
	relay_reply_ehlo(&r, &e);
	ck_assert_uint_eq(e.flags, RELAY_EXT_SIZE);
	ck_assert_uint_eq(e.size, 0);
}
END_TEST

START_TEST(test_mx_parse)
{
	static char	r1[] = "\0\x14\3mx2\7Example\3com";	/* 20 */
	static char	r2[] = "\0\x0a\3mx1\7example\3com";	/* 10 */
	static char	r3[] = "\0\x0a\3bad\xc0\x0c";		/* pointer */
	static char	r4[] = "\0\x1e\4a_b-\3com";		/* 30 */
	char		*data[] = { r1, r2, r3, r4 };
	int		 len[] = { sizeof(r1), sizeof(r2), 7, sizeof(r4) };
	struct relay_mx	 mx[4];
	size_t		 n, bad;

	ck_assert_int_eq(relay_mx_parse(data, len, 4, mx, nitems(mx), &n,
	    &bad), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(bad, 1);
	ck_assert_str_eq(mx[0].host, "mx2.example.com");
	ck_assert_uint_eq(mx[0].pref, 20);
	relay_mx_sort(mx, n);
	ck_assert_str_eq(mx[0].host, "mx1.example.com");
	ck_assert_str_eq(mx[1].host, "mx2.example.com");
	ck_assert_str_eq(mx[2].host, "a_b-.com");
	/* room for one: the null MX further on is still seen */
	{
		static char	nul[] = "\0\0";
		char		*d2[] = { r2, nul };
		int		 l2[] = { sizeof(r2), 3 };

		ck_assert_int_eq(relay_mx_parse(d2, l2, 2, mx, 1, &n, &bad), 1);
		ck_assert_uint_eq(n, 1);
	}
}
END_TEST

START_TEST(test_mx_shuffle)
{
	struct relay_mx	mx[3];
	int		seen[3] = { 0, 0, 0 }, i, k;

	for (k = 0; k < 200; k++) {
		for (i = 0; i < 3; i++) {
			snprintf(mx[i].host, sizeof(mx[i].host), "h%d", i);
			mx[i].pref = i == 2 ? 5 : 10;
		}
		relay_mx_sort(mx, 3);
		ck_assert_str_eq(mx[0].host, "h2");	/* lowest first */
		seen[mx[1].host[1] - '0']++;
	}
	/* both orders of the equal pair: 2^-199 to fail by chance */
	ck_assert_int_gt(seen[0], 0);
	ck_assert_int_gt(seen[1], 0);
}
END_TEST

START_TEST(test_host_eq)
{
	ck_assert(relay_host_eq("MX.Example.", "mx.example"));
	ck_assert(!relay_host_eq("mx.example", "mx.example.org"));
}
END_TEST

static Suite *
relay_reply_suite(void)
{
	Suite	*s = suite_create("relay_reply");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, test_reply, 0, nitems(replies));
	tcase_add_test(tc, test_reply_line_bound);
	tcase_add_test(tc, test_ehlo);
	tcase_add_test(tc, test_mx_parse);
	tcase_add_test(tc, test_mx_shuffle);
	tcase_add_test(tc, test_host_eq);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(relay_reply_suite)
