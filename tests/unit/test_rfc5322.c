/*
 * Unit tests for common/rfc5322.c: dates in several time zones, the
 * Received: and Return-Path: builders (exact text, folding, and what a
 * hostile HELO or reverse DNS name can and cannot do), folding on its
 * own, the incremental header parser and header lookup.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rfc5322.h"
#include "unit.h"

/* Wed, 25 Nov 2026 17:41:33 UTC */
#define T0	((time_t)1795628493)

static void
set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

struct date_case {
	const char	*tz;
	time_t		 t;
	const char	*want;
};

static const struct date_case date_cases[] = {
	{ "UTC0", T0, "Wed, 25 Nov 2026 17:41:33 +0000" },
	{ "<+0530>-5:30", T0, "Wed, 25 Nov 2026 23:11:33 +0530" },
	{ "<-0330>3:30", T0, "Wed, 25 Nov 2026 14:11:33 -0330" },
	{ "<+14>-14", T0, "Thu, 26 Nov 2026 07:41:33 +1400" },
	{ "<-12>12", T0, "Wed, 25 Nov 2026 05:41:33 -1200" },
	{ "UTC0", 1709165109, "Thu, 29 Feb 2024 00:05:09 +0000" },
	{ "UTC0", 0, "Thu, 1 Jan 1970 00:00:00 +0000" },
	/* DST: CET-1CEST,M3.5.0,M10.5.0/3 */
	{ "CET-1CEST,M3.5.0,M10.5.0/3", 1719792000,
	    "Mon, 1 Jul 2024 02:00:00 +0200" },
	{ "CET-1CEST,M3.5.0,M10.5.0/3", T0,
	    "Wed, 25 Nov 2026 18:41:33 +0100" },
};

START_TEST(test_date)
{
	const struct date_case	*c = &date_cases[_i];
	char			 buf[RFC5322_DATE_MAX];

	set_tz(c->tz);
	ck_assert_int_eq(rfc5322_date(c->t, buf, sizeof(buf)), 0);
	ck_assert_msg(strcmp(buf, c->want) == 0, "TZ=%s: got \"%s\", want "
	    "\"%s\"", c->tz, buf, c->want);
}
END_TEST

START_TEST(test_date_small_buffer)
{
	char	buf[31];

	set_tz("UTC0");
	/* 31 characters need 32 octets */
	ck_assert_int_eq(rfc5322_date(T0, buf, sizeof(buf)), -1);
	ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(test_with_protocol)
{
	ck_assert_str_eq(rfc5322_with_protocol(false, false, false, false),
	    "SMTP");
	ck_assert_str_eq(rfc5322_with_protocol(false, true, true, true),
	    "SMTP");
	ck_assert_str_eq(rfc5322_with_protocol(true, false, false, false),
	    "ESMTP");
	ck_assert_str_eq(rfc5322_with_protocol(true, true, false, false),
	    "ESMTPS");
	ck_assert_str_eq(rfc5322_with_protocol(true, false, true, false),
	    "ESMTPA");
	ck_assert_str_eq(rfc5322_with_protocol(true, true, true, false),
	    "ESMTPSA");
	ck_assert_str_eq(rfc5322_with_protocol(true, false, false, true),
	    "UTF8SMTP");
	ck_assert_str_eq(rfc5322_with_protocol(true, true, true, true),
	    "UTF8SMTPSA");
}
END_TEST

/*
 * Checks the structure of a built header: LF-terminated, continuation
 * lines start with TAB, no empty line, no line longer than 78 unless it
 * is one unbreakable word, and it parses as exactly one field.
 */
static void
check_header(const char *h, const char *name)
{
	struct rfc5322_parser	 p;
	struct rfc5322_event	 ev;
	const char		*line = h, *nl;
	size_t			 len;
	int			 n = 0;

	ck_assert_msg(h[0] != '\0' && h[strlen(h) - 1] == '\n',
	    "not LF-terminated: %s", h);
	rfc5322_parser_init(&p);
	for (; *line != '\0'; line = nl + 1, n++) {
		nl = strchr(line, '\n');
		len = (size_t)(nl - line);
		ck_assert_msg(len > 0, "empty line in %s", h);
		ck_assert_msg(memchr(line, '\r', len) == NULL, "CR in %s", h);
		if (n > 0)
			ck_assert_msg(line[0] == '\t', "line %d not folded "
			    "with a TAB: %.*s", n, (int)len, line);
		if (len > RFC5322_FOLD_AT)
			ck_assert_msg(memchr(line + 1, ' ', len - 1) == NULL,
			    "line %d of %zu octets could be folded: %.*s", n,
			    len, (int)len, line);
		rfc5322_parse_line(&p, line, len, &ev);
		ck_assert_int_eq(ev.type, n == 0 ? RFC5322_HEADER :
		    RFC5322_CONTINUATION);
		if (n == 0)
			ck_assert_msg(ev.namelen == strlen(name) &&
			    memcmp(ev.name, name, ev.namelen) == 0,
			    "got field %.*s", (int)ev.namelen, ev.name);
	}
}

START_TEST(test_received_exact)
{
	struct rfc5322_received	rv = {
		"client.example", "mail.client.example", "192.0.2.7",
		"mx.example.org", "ESMTPS",
		"version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384", "4Q1AB2CD3EF",
		"alice@example.org", T0
	};
	char			buf[RFC5322_TRACE_MAX];

	set_tz("UTC0");
	ck_assert_int_eq(rfc5322_received(&rv, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf,
	    "Received: from client.example (mail.client.example [192.0.2.7])\n"
	    "\tby mx.example.org (maild) with ESMTPS\n"
	    "\t(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384) id 4Q1AB2CD3EF\n"
	    "\tfor <alice@example.org>; Wed, 25 Nov 2026 17:41:33 +0000\n");
	check_header(buf, "Received");

	rv.tls = NULL;
	rv.rcpt = NULL;
	rv.rdns = NULL;
	rv.helo = NULL;
	rv.addr = "2001:db8::7";
	rv.with = "ESMTP";
	ck_assert_int_eq(rfc5322_received(&rv, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf,
	    "Received: from unknown (unknown [IPv6:2001:db8::7]) by mx.example.org"
	    " (maild)\n"
	    "\twith ESMTP id 4Q1AB2CD3EF; Wed, 25 Nov 2026 17:41:33 +0000\n");
	check_header(buf, "Received");
}
END_TEST

struct hostile_case {
	const char	*helo, *rdns, *rcpt, *tls;
};

static const struct hostile_case hostile_cases[] = {
	{ "evil)\r\nX-Injected: yes\r\n(", NULL, NULL, NULL },
	{ "a\nb", "c\rd", NULL, NULL },
	{ "(nested (comment))", "x;y", NULL, NULL },
	{ "back\\slash\"quote", "e\x80\xff", NULL, NULL },
	{ "ok", "ok", "a>\nX-Evil: 1\n<b@c", NULL },
	{ "ok", "ok", "\"a b\"@c", "v=1)\n(x" },
	{ "\t\v\f", "", "", "" },
};

START_TEST(test_received_hostile)
{
	const struct hostile_case	*c = &hostile_cases[_i];
	struct rfc5322_received		 rv = {
		c->helo, c->rdns, "192.0.2.1", "mx.example.org", "ESMTP",
		c->tls, "ID1", c->rcpt, T0
	};
	char				 buf[RFC5322_TRACE_MAX];
	const char			*p;
	int				 depth = 0;

	set_tz("UTC0");
	ck_assert_int_eq(rfc5322_received(&rv, buf, sizeof(buf)), 0);
	check_header(buf, "Received");
	/* parentheses stay balanced and never nest */
	for (p = buf; *p != '\0'; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')')
			depth--;
		ck_assert_msg(depth == 0 || depth == 1, "bad nesting: %s", buf);
		ck_assert_msg(*p == '\n' || *p == '\t' ||
		    ((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f),
		    "octet %#x in %s", (unsigned char)*p, buf);
	}
	ck_assert_int_eq(depth, 0);
	ck_assert_ptr_null(strstr(buf, "\nX-"));
	ck_assert_ptr_null(strstr(buf, "\\"));
	ck_assert_ptr_nonnull(strstr(buf, "; Wed, 25 Nov 2026"));
}
END_TEST

/* The longest fields still fold cleanly and fit the trace maximum. */
START_TEST(test_received_long)
{
	char			helo[300], rdns[300], rcpt[300], tls[300];
	struct rfc5322_received	rv = {
		helo, rdns, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
		helo, "UTF8SMTPSA", tls, "0123456789ABCDEFGHIJKLMN", rcpt, T0
	};
	char			buf[RFC5322_TRACE_MAX];
	size_t			i;

	memset(helo, 'h', 299);
	helo[299] = '\0';
	memset(rdns, 'r', 299);
	rdns[299] = '\0';
	memset(rcpt, 'a', 299);
	rcpt[299] = '\0';
	for (i = 0; i < 299; i++)
		tls[i] = i % 10 == 9 ? ' ' : 'x';
	tls[299] = '\0';
	set_tz("UTC0");
	ck_assert_int_eq(rfc5322_received(&rv, buf, sizeof(buf)), 0);
	check_header(buf, "Received");
	/* cut to 255 octets each */
	helo[256] = '\0';
	ck_assert_ptr_null(strstr(buf, helo));
	helo[255] = '\0';
	ck_assert_ptr_nonnull(strstr(buf, helo));
	/* too small a buffer fails cleanly */
	ck_assert_int_eq(rfc5322_received(&rv, buf, 200), -1);
	ck_assert_str_eq(buf, "");
}
END_TEST

/* Only the date is required; missing fields do not crash. */
START_TEST(test_received_nulls)
{
	struct rfc5322_received	rv;
	char			buf[RFC5322_TRACE_MAX];

	memset(&rv, 0, sizeof(rv));
	rv.date = T0;
	set_tz("UTC0");
	ck_assert_int_eq(rfc5322_received(&rv, buf, sizeof(buf)), 0);
	check_header(buf, "Received");
	ck_assert_ptr_nonnull(strstr(buf, "from unknown (unknown [])"));
	ck_assert_int_eq(rfc5322_return_path(NULL, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "Return-Path: <>\n");
}
END_TEST

START_TEST(test_return_path)
{
	char	buf[RFC5322_TRACE_MAX];

	ck_assert_int_eq(rfc5322_return_path("alice@example.org", buf,
	    sizeof(buf)), 0);
	ck_assert_str_eq(buf, "Return-Path: <alice@example.org>\n");
	ck_assert_int_eq(rfc5322_return_path("", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "Return-Path: <>\n");
	ck_assert_int_eq(rfc5322_return_path("a\nb\r\x80@c", buf, sizeof(buf)),
	    0);
	ck_assert_str_eq(buf, "Return-Path: <a?b??@c>\n");
	ck_assert_int_eq(rfc5322_return_path("alice@example.org", buf, 20),
	    -1);
	ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(test_fold)
{
	struct rfc5322_fold	f;
	char			buf[256], small[12];

	rfc5322_fold_init(&f, buf, sizeof(buf), "X-Test");
	rfc5322_fold_add(&f, "short");
	ck_assert_int_eq(rfc5322_fold_end(&f), 0);
	ck_assert_str_eq(buf, "X-Test: short\n");

	rfc5322_fold_init(&f, buf, sizeof(buf), "X-Test");
	rfc5322_fold_add(&f, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	rfc5322_fold_add(&f, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	rfc5322_fold_add(&f, "c d");
	ck_assert_int_eq(rfc5322_fold_end(&f), 0);
	ck_assert_str_eq(buf,
	    "X-Test: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
	    "\tbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb c d\n");

	/* a clause too long for one line breaks at its spaces */
	rfc5322_fold_init(&f, buf, sizeof(buf), "D");
	rfc5322_fold_add(&f, "smtp; 550 5.1.1 <someone@example.org>: Recipient "
	    "address rejected: User unknown in virtual mailbox table");
	ck_assert_int_eq(rfc5322_fold_end(&f), 0);
	ck_assert_str_eq(buf,
	    "D: smtp; 550 5.1.1 <someone@example.org>: Recipient address "
	    "rejected: User\n\tunknown in virtual mailbox table\n");
	check_header(buf, "D");

	/* overflow */
	rfc5322_fold_init(&f, small, sizeof(small), "X-Test");
	rfc5322_fold_add(&f, "abc");
	ck_assert_int_eq(rfc5322_fold_end(&f), -1);
	ck_assert_str_eq(small, "");
	rfc5322_fold_init(&f, small, sizeof(small), "X-Test");
	rfc5322_fold_add(&f, "ab");
	ck_assert_int_eq(rfc5322_fold_end(&f), 0);
	ck_assert_str_eq(small, "X-Test: ab\n");
}
END_TEST

struct parse_event {
	enum rfc5322_event_type	 type;
	const char		*name, *value;
};

struct parse_case {
	const char		*name;
	const char		*lines[8];
	struct parse_event	 want[8];
	bool			 want_malformed;
};

#define H(n, v)	{ RFC5322_HEADER, n, v }
#define C(v)	{ RFC5322_CONTINUATION, NULL, v }
#define E	{ RFC5322_END_OF_HEADERS, NULL, "" }
#define B(v)	{ RFC5322_BODY, NULL, v }

static const struct parse_case parse_cases[] = {
	{ "simple", { "From: a@b\n", "Subject:  hi \n", "\n", "body\n",
	    "X: not a header\n" },
	    { H("From", "a@b"), H("Subject", "hi "), E, B("body"),
	      B("X: not a header") }, false },
	{ "crlf and no lf", { "To: x\r\n", "\r\n", "b" },
	    { H("To", "x"), E, B("b") }, false },
	{ "folded", { "Subject: a\n", " b\n", "\tc\n", "\n" },
	    { H("Subject", "a"), C(" b"), C("\tc"), E }, false },
	{ "empty value", { "X-Empty:\n", "X-Sp: \n", "\n" },
	    { H("X-Empty", ""), H("X-Sp", ""), E }, false },
	{ "obsolete space before colon", { "Subject \t: x\n", "\n" },
	    { H("Subject", "x"), E }, false },
	{ "odd but valid names", { "!#$%&'*+-.^_`|~: v\n", "\n" },
	    { H("!#$%&'*+-.^_`|~", "v"), E }, false },
	{ "no colon", { "From: a\n", "garbage line\n", "Subject: x\n" },
	    { H("From", "a"), B("garbage line"), B("Subject: x") }, true },
	{ "empty name", { ": x\n" }, { B(": x") }, true },
	{ "space in name", { "Sub ject: x\n" }, { B("Sub ject: x") }, true },
	{ "control in name", { "Sub\x01ject: x\n" }, { B("Sub\x01ject: x") },
	    true },
	{ "eight bit in name", { "Sub\xc3\xa4: x\n" }, { B("Sub\xc3\xa4: x") },
	    true },
	{ "continuation first", { " x\n", "From: a\n" },
	    { B(" x"), B("From: a") }, true },
	{ "mbox From_ line", { "From alice Tue Nov 25 17:41:33 2026\n" },
	    { B("From alice Tue Nov 25 17:41:33 2026") }, true },
	{ "only the blank line", { "\n", "\n" }, { E, B("") }, false },
	{ "continuation after end", { "A: 1\n", "\n", " x\n" },
	    { H("A", "1"), E, B(" x") }, false },
};

START_TEST(test_parser)
{
	const struct parse_case	*c = &parse_cases[_i];
	struct rfc5322_parser	 p;
	struct rfc5322_event	 ev;
	int			 i;

	rfc5322_parser_init(&p);
	for (i = 0; c->lines[i] != NULL; i++) {
		rfc5322_parse_line(&p, c->lines[i], strlen(c->lines[i]), &ev);
		ck_assert_msg(ev.type == c->want[i].type,
		    "%s: line %d: got event %d, want %d", c->name, i, ev.type,
		    c->want[i].type);
		if (c->want[i].name != NULL)
			ck_assert_msg(ev.namelen == strlen(c->want[i].name) &&
			    memcmp(ev.name, c->want[i].name, ev.namelen) == 0,
			    "%s: line %d: got name \"%.*s\", want \"%s\"",
			    c->name, i, (int)ev.namelen, ev.name,
			    c->want[i].name);
		ck_assert_msg(ev.valuelen == strlen(c->want[i].value) &&
		    memcmp(ev.value, c->want[i].value, ev.valuelen) == 0,
		    "%s: line %d: got value \"%.*s\", want \"%s\"", c->name, i,
		    (int)ev.valuelen, ev.value, c->want[i].value);
	}
	ck_assert_int_eq(rfc5322_parser_malformed(&p), c->want_malformed);
}
END_TEST

static const char msg[] =
    "Received: from a\r\n"
    "\tby b; Wed, 25 Nov 2026 17:41:33 +0000\r\n"
    "Message-ID:\r\n"
    " <1234@example.org>\r\n"
    "subject: Hello\r\n"
    "  world  \r\n"
    "SUBJECT: second\r\n"
    "X-Tab:\tv\r\n"
    "\r\n"
    "Message-ID: <in-the-body@example.org>\r\n"
    "X-Body: yes\r\n";

START_TEST(test_header_get)
{
	char	buf[64], tiny[6];

	ck_assert_int_eq(rfc5322_header_get(msg, strlen(msg), "Message-ID",
	    buf, sizeof(buf)), 1);
	ck_assert_str_eq(buf, "<1234@example.org>");
	ck_assert_int_eq(rfc5322_header_get(msg, strlen(msg), "SUBJECT",
	    buf, sizeof(buf)), 1);
	ck_assert_str_eq(buf, "Hello  world");
	ck_assert_int_eq(rfc5322_header_get(msg, strlen(msg), "received",
	    buf, sizeof(buf)), 1);
	ck_assert_str_eq(buf, "from a\tby b; Wed, 25 Nov 2026 17:41:33 +0000");
	ck_assert_int_eq(rfc5322_header_get(msg, strlen(msg), "X-Tab",
	    buf, sizeof(buf)), 1);
	ck_assert_str_eq(buf, "v");
	ck_assert_int_eq(rfc5322_header_get(msg, strlen(msg), "X-Body",
	    buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(rfc5322_header_get(msg, strlen(msg), "Subj",
	    buf, sizeof(buf)), 0);
	ck_assert_int_eq(rfc5322_header_get(msg, strlen(msg), "subject",
	    tiny, sizeof(tiny)), 1);
	ck_assert_str_eq(tiny, "Hello");
	ck_assert_int_eq(rfc5322_header_get("", 0, "subject", buf,
	    sizeof(buf)), 0);
	ck_assert_int_eq(rfc5322_header_get("Subject: x", 10, "subject", buf,
	    sizeof(buf)), 1);
	ck_assert_str_eq(buf, "x");
}
END_TEST

static Suite *
rfc5322_suite(void)
{
	Suite	*s = suite_create("rfc5322");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, test_date, 0, nitems(date_cases));
	tcase_add_test(tc, test_date_small_buffer);
	tcase_add_test(tc, test_with_protocol);
	tcase_add_test(tc, test_received_exact);
	tcase_add_loop_test(tc, test_received_hostile, 0,
	    nitems(hostile_cases));
	tcase_add_test(tc, test_received_long);
	tcase_add_test(tc, test_received_nulls);
	tcase_add_test(tc, test_return_path);
	tcase_add_test(tc, test_fold);
	tcase_add_loop_test(tc, test_parser, 0, nitems(parse_cases));
	tcase_add_test(tc, test_header_get);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(rfc5322_suite)
