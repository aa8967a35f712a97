/*
 * Unit tests for smtpd/milter_proto.c (the milter reply parser and
 * packet builder) and common/milter_addr.c (filter addresses): every
 * reply a filter may send, and the malformed and hostile ones that must
 * break the filter instead of reaching the message.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <string.h>

#include "bounds.h"
#include "milter_addr.h"
#include "smtpd/milter_proto.h"
#include "unit.h"

struct reply_case {
	const char	*name;
	char		 cmd;
	const char	*data;
	size_t		 len;
	int		 want;		/* 0 or -1 */
	const char	*want_why;	/* when -1: a substring */
	const char	*want_name;
	const char	*want_value;
	int		 want_code;
	const char	*want_status;
	const char	*want_text;
};

#define S(s)	s, sizeof(s) - 1

static const struct reply_case reply_cases[] = {
	{ "accept", 'a', S(""), 0, NULL, NULL, NULL, 0, NULL, NULL },
	{ "continue with junk", 'c', S("xyz"), 0, NULL, NULL, NULL, 0, NULL,
	    NULL },
	{ "unknown", 'Z', S("junk"), -1, "unknown reply", NULL, NULL, 0, NULL,
	    NULL },
	{ "addheader", 'h', S("X-Spam\0yes\0"), 0, NULL, "X-Spam", "yes", 0,
	    NULL, NULL },
	{ "addheader folded CRLF", 'h', S("X-A\0one\r\n\ttwo\0"), 0, NULL,
	    "X-A", "one\r\n\ttwo", 0, NULL, NULL },
	{ "addheader folded LF", 'h', S("X-A\0one\n two\0"), 0, NULL, "X-A",
	    "one\n two", 0, NULL, NULL },
	{ "addheader no value NUL", 'h', S("X-A\0abc"), -1, "malformed",
	    NULL, NULL, 0, NULL, NULL },
	{ "addheader no NUL at all", 'h', S("X-A"), -1, "malformed", NULL,
	    NULL, 0, NULL, NULL },
	{ "name with space", 'h', S("Bad Name\0x\0"), -1, "header name",
	    NULL, NULL, 0, NULL, NULL },
	{ "name with colon", 'h', S("X:Y\0x\0"), -1, "header name", NULL,
	    NULL, 0, NULL, NULL },
	{ "name with CRLF", 'h', S("X-A\r\nX-B\0x\0"), -1, "header name",
	    NULL, NULL, 0, NULL, NULL },
	{ "name empty", 'h', S("\0x\0"), -1, "header name", NULL, NULL, 0,
	    NULL, NULL },
	{ "name 8-bit", 'h', S("X-\xc3\xa9\0x\0"), -1, "header name", NULL,
	    NULL, 0, NULL, NULL },
	{ "value bare LF", 'h', S("X-A\0a\nBcc: x\0"), -1, "header value",
	    NULL, NULL, 0, NULL, NULL },
	{ "value bare CR", 'h', S("X-A\0a\rb\0"), -1, "header value", NULL,
	    NULL, 0, NULL, NULL },
	{ "value ends in CRLF", 'h', S("X-A\0a\r\n\0"), -1, "header value",
	    NULL, NULL, 0, NULL, NULL },
	{ "value CRLF CRLF", 'h', S("X-A\0a\r\n\r\nbody\0"), -1,
	    "header value", NULL, NULL, 0, NULL, NULL },
	{ "insheader", 'i', S("\0\0\0\0X-First\0top\0"), 0, NULL, "X-First",
	    "top", 0, NULL, NULL },
	{ "insheader short index", 'i', S("\0\0"), -1, "malformed", NULL,
	    NULL, 0, NULL, NULL },
	{ "chgheader delete", 'm', S("\0\0\0\1Subject\0\0"), 0, NULL,
	    "Subject", "", 0, NULL, NULL },
	{ "replycode", 'y', S("550 5.7.1 spam detected\0"), 0, NULL, NULL,
	    NULL, 550, "5.7.1", "spam detected" },
	{ "replycode no status", 'y', S("451 try later\0"), 0, NULL, NULL,
	    NULL, 451, "", "try later" },
	{ "replycode code only", 'y', S("554\0"), 0, NULL, NULL, NULL, 554,
	    "", "" },
	{ "replycode 2xx", 'y', S("250 2.0.0 ok\0"), -1, "reply code", NULL,
	    NULL, 0, NULL, NULL },
	{ "replycode class mismatch", 'y', S("550 4.7.1 x\0"), -1,
	    "reply code", NULL, NULL, 0, NULL, NULL },
	{ "replycode 6xx", 'y', S("650 x\0"), -1, "reply code", NULL, NULL,
	    0, NULL, NULL },
	{ "replycode short", 'y', S("55\0"), -1, "reply code", NULL, NULL, 0,
	    NULL, NULL },
	{ "replycode no space", 'y', S("550x\0"), -1, "reply code", NULL,
	    NULL, 0, NULL, NULL },
	{ "replycode CRLF in text", 'y', S("550 5.7.1 a\r\n250 ok\0"), -1,
	    "reply code", NULL, NULL, 0, NULL, NULL },
	{ "replycode no NUL", 'y', S("550 5.7.1 x"), -1, "reply code", NULL,
	    NULL, 0, NULL, NULL },
	{ "chgfrom", 'e', S("<new@example.org>\0SIZE=1\0"), 0, NULL,
	    "<new@example.org>", "SIZE=1", 0, NULL, NULL },
	{ "chgfrom no args", 'e', S("<new@example.org>\0"), 0, NULL,
	    "<new@example.org>", NULL, 0, NULL, NULL },
	{ "addrcpt", '+', S("<b@example.test>\0"), 0, NULL,
	    "<b@example.test>", NULL, 0, NULL, NULL },
	{ "addrcpt CRLF", '+', S("<b@x>\r\nRCPT TO:<c@x>\0"), -1, "address",
	    NULL, NULL, 0, NULL, NULL },
	{ "delrcpt", '-', S("<a@example.test>\0"), 0, NULL,
	    "<a@example.test>", NULL, 0, NULL, NULL },
	{ "quarantine", 'q', S("virus\0"), 0, NULL, "virus", NULL, 0, NULL,
	    NULL },
	{ "quarantine CRLF", 'q', S("a\r\n b\0"), -1, "malformed", NULL, NULL,
	    0, NULL, NULL },
};

START_TEST(test_reply)
{
	const struct reply_case	*c = &reply_cases[_i];
	struct milter_reply	 r;
	const char		*why = NULL;
	int			 got;

	got = milter_parse_reply(c->cmd, c->data, c->len, &r, &why);
	ck_assert_msg(got == c->want, "%s: got %d (%s), want %d", c->name, got,
	    why ? why : "-", c->want);
	if (got == -1) {
		ck_assert_msg(strstr(why, c->want_why) != NULL,
		    "%s: why \"%s\", want \"%s\"", c->name, why, c->want_why);
		return;
	}
	if (c->want_name != NULL)
		ck_assert_str_eq(r.name, c->want_name);
	if (c->want_value != NULL)
		ck_assert_str_eq(r.value, c->want_value);
	else if (c->cmd == 'e' || c->cmd == '+')
		ck_assert_ptr_null(r.value);
	if (c->want_code != 0) {
		ck_assert_int_eq(r.code, c->want_code);
		ck_assert_str_eq(r.status, c->want_status);
		ck_assert_str_eq(r.text, c->want_text);
	}
}
END_TEST

START_TEST(test_header_too_long)
{
	size_t			 n = MILTER_HDRVALUE_MAX + 10;
	char			*buf = malloc(n + 8);
	struct milter_reply	 r;
	const char		*why;

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, "X-A\0", 4);
	memset(buf + 4, 'a', n);
	buf[4 + n] = '\0';
	ck_assert_int_eq(milter_parse_reply('h', buf, n + 5, &r, &why), -1);
	memset(buf, 'N', MILTER_HDRNAME_MAX + 1);
	memcpy(buf + MILTER_HDRNAME_MAX + 1, "\0v\0", 3);
	ck_assert_int_eq(milter_parse_reply('h', buf, MILTER_HDRNAME_MAX + 4,
	    &r, &why), -1);
	free(buf);
}
END_TEST

struct optneg_case {
	const char	*name;
	const char	*data;
	size_t		 len;
	int		 want;
};

static const struct optneg_case optneg_cases[] = {
	{ "v6 all", S("\0\0\0\6\0\0\1\xff\0\x1f\xff\xff"), 0 },
	{ "v2 none", S("\0\0\0\2\0\0\0\0\0\0\0\0"), 0 },
	{ "v7", S("\0\0\0\7\0\0\0\0\0\0\0\0"), -1 },
	{ "v1", S("\0\0\0\1\0\0\0\0\0\0\0\0"), -1 },
	{ "short", S("\0\0\0\6\0\0"), -1 },
	{ "actions not offered", S("\0\0\0\6\0\0\2\0\0\0\0\0"), -1 },
	{ "protocol not offered", S("\0\0\0\6\0\0\0\0\x40\0\0\0"), -1 },
	{ "size flag is fine", S("\0\0\0\6\0\0\0\0\x10\0\0\0"), 0 },
	{ "macro list", S("\0\0\0\6\0\0\0\0\0\0\0\0\0\0\0\2{auth_authen}\0"),
	    0 },
	{ "macro list no NUL", S("\0\0\0\6\0\0\0\0\0\0\0\0\0\0\0\2abc"), -1 },
	{ "macro list bad stage", S("\0\0\0\6\0\0\0\0\0\0\0\0\0\0\0\x09i\0"),
	    -1 },
	{ "macro list truncated", S("\0\0\0\6\0\0\0\0\0\0\0\0\0\0"), -1 },
};

START_TEST(test_optneg)
{
	const struct optneg_case	*c = &optneg_cases[_i];
	struct milter_neg		 n;
	const char			*why = "";

	ck_assert_msg(milter_parse_optneg(c->data, c->len, MILTER_A_ALL,
	    MILTER_P_OFFER, &n, &why) == c->want, "%s: want %d (%s)", c->name,
	    c->want, why);
}
END_TEST

START_TEST(test_pkt)
{
	struct milter_pkt	p;

	memset(&p, 0, sizeof(p));
	milter_pkt_begin(&p, 'L');
	milter_pkt_str(&p, "Subject");
	milter_pkt_str(&p, "hi");
	milter_pkt_u16(&p, 0x1234);
	milter_pkt_u32(&p, 6);
	ck_assert_int_eq(milter_pkt_end(&p), 0);
	ck_assert_uint_eq(p.len, 4 + 1 + 8 + 3 + 2 + 4);
	ck_assert_int_eq(memcmp(p.buf,
	    "\0\0\0\x12LSubject\0hi\0\x12\x34\0\0\0\6", p.len), 0);
	/* past the bound: refused, never sent cut */
	milter_pkt_begin(&p, 'B');
	while (!p.overflow)
		milter_pkt_bytes(&p, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 32);
	ck_assert_int_eq(milter_pkt_end(&p), -1);
	milter_pkt_begin(&p, 'Q');
	ck_assert_int_eq(milter_pkt_end(&p), 0);
	ck_assert_uint_eq(p.len, 5);
	milter_pkt_free(&p);
}
END_TEST

struct addr_case {
	const char	*in;
	int		 want;
	int		 family;
	int		 port;
	const char	*host;	/* numeric, or the unix path */
};

static const struct addr_case addr_cases[] = {
	{ "inet:127.0.0.1:8891", 0, AF_INET, 8891, "127.0.0.1" },
	{ "inet:8891@127.0.0.1", 0, AF_INET, 8891, "127.0.0.1" },
	{ "inet:[::1]:8891", 0, AF_INET6, 8891, "::1" },
	{ "inet6:8891@::1", 0, AF_INET6, 8891, "::1" },
	{ "inet6:[::1]:11332", 0, AF_INET6, 11332, "::1" },
	{ "unix:/run/opendkim/opendkim.sock", 0, AF_UNIX, 0,
	    "/run/opendkim/opendkim.sock" },
	{ "local:/var/run/m.sock", 0, AF_UNIX, 0, "/var/run/m.sock" },
	{ "inet:localhost:8891", -1, 0, 0, NULL },
	{ "inet:127.0.0.1", -1, 0, 0, NULL },
	{ "inet:127.0.0.1:0", -1, 0, 0, NULL },
	{ "inet:127.0.0.1:65536", -1, 0, 0, NULL },
	{ "inet:127.0.0.1:8891x", -1, 0, 0, NULL },
	{ "tcp:127.0.0.1:1", -1, 0, 0, NULL },
	{ "unix:relative.sock", -1, 0, 0, NULL },
	{ "", -1, 0, 0, NULL },
};

START_TEST(test_addr)
{
	const struct addr_case	*c = &addr_cases[_i];
	struct sockaddr_storage	 ss;
	socklen_t		 sl;
	const char		*why = "";
	char			 host[64];
	int			 got;

	got = milter_addr_parse(c->in, &ss, &sl, &why);
	ck_assert_msg(got == c->want, "\"%s\": got %d (%s), want %d", c->in,
	    got, why, c->want);
	if (got == -1)
		return;
	ck_assert_int_eq(ss.ss_family, c->family);
	if (c->family == AF_UNIX) {
		ck_assert_str_eq(((struct sockaddr_un *)&ss)->sun_path,
		    c->host);
		return;
	}
	if (c->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		ck_assert_int_eq(ntohs(sin->sin_port), c->port);
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		ck_assert_int_eq(ntohs(sin6->sin6_port), c->port);
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
	}
	ck_assert_str_eq(host, c->host);
}
END_TEST

static Suite *
milter_proto_suite(void)
{
	Suite	*s = suite_create("milter_proto");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, test_reply, 0, nitems(reply_cases));
	tcase_add_test(tc, test_header_too_long);
	tcase_add_loop_test(tc, test_optneg, 0, nitems(optneg_cases));
	tcase_add_test(tc, test_pkt);
	tcase_add_loop_test(tc, test_addr, 0, nitems(addr_cases));
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(milter_proto_suite)
