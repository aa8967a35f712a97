/*
 * Unit tests for common/addr.c: the RFC 5321 Path and Mailbox grammar
 * (dot-strings, quoted strings, source routes, address literals, length
 * limits, UTF-8 with and without SMTPUTF8), the HELO argument, quoting
 * on output and the small helpers.
 */
#include "autoconf.h"

#include <string.h>

#include "addr.h"
#include "unit.h"

#define D63	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define L64	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

struct path_case {
	const char	*name;
	const char	*in;
	size_t		 len;		/* 0: strlen(in) */
	unsigned	 flags;
	const char	*want_local;	/* NULL: must fail */
	const char	*want_domain;
	size_t		 want_used;	/* 0: the whole input */
	const char	*want_status;	/* on failure */
};

static const struct path_case path_cases[] = {
	{ "plain", "<user@example.org>", 0, 0, "user", "example.org", 0,
	    NULL },
	{ "case kept", "<User@Example.ORG>", 0, 0, "User", "Example.ORG", 0,
	    NULL },
	{ "null allowed", "<>", 0, ADDR_ALLOW_NULL, "", "", 0, NULL },
	{ "null refused", "<>", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "null refused sender", "<>", 0, ADDR_SENDER, NULL, NULL, 0,
	    "5.1.7" },
	{ "postmaster", "<Postmaster>", 0, ADDR_ALLOW_POSTMASTER,
	    "Postmaster", "", 0, NULL },
	{ "postmaster any case", "<pOSTMASTER>", 0, ADDR_ALLOW_POSTMASTER,
	    "pOSTMASTER", "", 0, NULL },
	{ "postmaster not allowed", "<Postmaster>", 0, 0, NULL, NULL, 0,
	    "5.1.3" },
	{ "quoted postmaster", "<\"Postmaster\">", 0, ADDR_ALLOW_POSTMASTER,
	    NULL, NULL, 0, "5.1.3" },
	{ "other user without domain", "<root>", 0, ADDR_ALLOW_POSTMASTER,
	    NULL, NULL, 0, "5.1.3" },
	{ "source route", "<@a.example,@b.example:user@d.example>", 0, 0,
	    "user", "d.example", 0, NULL },
	{ "source route one", "<@a.example:user@d.example>", 0, 0, "user",
	    "d.example", 0, NULL },
	{ "source route empty", "<@:u@x>", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "source route no at", "<@a,b:u@x>", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "source route no colon", "<@a u@x>", 0, 0, NULL, NULL, 0,
	    "5.1.3" },
	{ "source route literal", "<@[192.0.2.1]:u@x>", 0, 0, NULL, NULL, 0,
	    "5.1.3" },
	{ "dot string", "<first.last@x.example>", 0, 0, "first.last",
	    "x.example", 0, NULL },
	{ "atext specials", "<!#$%&'*+-/=?^_`{|}~@x>", 0, 0,
	    "!#$%&'*+-/=?^_`{|}~", "x", 0, NULL },
	{ "single label domain", "<u@localhost>", 0, 0, "u", "localhost", 0,
	    NULL },
	{ "digits domain", "<u@123.example>", 0, 0, "u", "123.example", 0,
	    NULL },
	{ "quoted space", "<\"john doe\"@x>", 0, 0, "john doe", "x", 0,
	    NULL },
	{ "quoted escapes", "<\"a\\\"b\\\\c\"@x>", 0, 0, "a\"b\\c", "x", 0,
	    NULL },
	{ "quoted needless pair", "<\"a\\b\"@x>", 0, 0, "ab", "x", 0, NULL },
	{ "quoted plain", "<\"ab\"@x>", 0, 0, "ab", "x", 0, NULL },
	{ "quoted empty", "<\"\"@x>", 0, 0, "", "x", 0, NULL },
	{ "quoted dots", "<\"a..b.\"@x>", 0, 0, "a..b.", "x", 0, NULL },
	{ "quoted specials", "<\"a@b,c:d<e>\"@x>", 0, 0, "a@b,c:d<e>", "x",
	    0, NULL },
	{ "quoted unterminated", "<\"abc@x>", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "quoted control", "<\"a\tb\"@x>", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "quoted pair control", "<\"a\\\tb\"@x>", 0, 0, NULL, NULL, 0,
	    "5.1.3" },
	{ "trailing params", "<a@b> SIZE=10", 0, 0, "a", "b", 5, NULL },
	{ "trailing bracket", "<a@b>>", 0, 0, "a", "b", 5, NULL },
	{ "ipv4 literal", "<u@[192.0.2.1]>", 0, 0, "u", "[192.0.2.1]", 0,
	    NULL },
	{ "ipv4 literal zeros", "<u@[0.0.0.0]>", 0, 0, "u", "[0.0.0.0]", 0,
	    NULL },
	{ "ipv4 literal 255", "<u@[255.255.255.255]>", 0, 0, "u",
	    "[255.255.255.255]", 0, NULL },
	{ "ipv4 literal 256", "<u@[256.1.1.1]>", 0, 0, NULL, NULL, 0,
	    "5.1.3" },
	{ "ipv4 literal short", "<u@[1.2.3]>", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "ipv4 literal long", "<u@[1.2.3.4.5]>", 0, 0, NULL, NULL, 0,
	    "5.1.3" },
	{ "ipv4 literal 4 digits", "<u@[0001.2.3.4]>", 0, 0, NULL, NULL, 0,
	    "5.1.3" },
	{ "ipv4 literal empty part", "<u@[1..3.4]>", 0, 0, NULL, NULL, 0,
	    "5.1.3" },
	{ "literal unterminated", "<u@[1.2.3.4>", 0, 0, NULL, NULL, 0,
	    "5.1.3" },
	{ "literal empty", "<u@[]>", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "ipv6 comp", "<u@[IPv6:2001:db8::1]>", 0, 0, "u",
	    "[IPv6:2001:db8::1]", 0, NULL },
	{ "ipv6 tag case", "<u@[ipv6:2001:DB8::1]>", 0, 0, "u",
	    "[ipv6:2001:DB8::1]", 0, NULL },
	{ "ipv6 full", "<u@[IPv6:1:2:3:4:5:6:7:8]>", 0, 0, "u",
	    "[IPv6:1:2:3:4:5:6:7:8]", 0, NULL },
	{ "ipv6 loopback", "<u@[IPv6:::1]>", 0, 0, "u", "[IPv6:::1]", 0,
	    NULL },
	{ "ipv6 any", "<u@[IPv6:::]>", 0, 0, "u", "[IPv6:::]", 0, NULL },
	{ "ipv6 v4 comp", "<u@[IPv6:::ffff:192.0.2.1]>", 0, 0, "u",
	    "[IPv6:::ffff:192.0.2.1]", 0, NULL },
	{ "ipv6 v4 full", "<u@[IPv6:1:2:3:4:5:6:192.0.2.1]>", 0, 0, "u",
	    "[IPv6:1:2:3:4:5:6:192.0.2.1]", 0, NULL },
	{ "ipv6 seven groups", "<u@[IPv6:1:2:3:4:5:6:7]>", 0, 0, NULL, NULL,
	    0, "5.1.3" },
	{ "ipv6 nine groups", "<u@[IPv6:1:2:3:4:5:6:7:8:9]>", 0, 0, NULL,
	    NULL, 0, "5.1.3" },
	{ "ipv6 two dcolons", "<u@[IPv6:1::2::3]>", 0, 0, NULL, NULL, 0,
	    "5.1.3" },
	{ "ipv6 five digits", "<u@[IPv6:12345::]>", 0, 0, NULL, NULL, 0,
	    "5.1.3" },
	{ "ipv6 dcolon for one group", "<u@[IPv6:1:2:3:4:5:6:7::]>", 0, 0,
	    NULL, NULL, 0, "5.1.3" },
	{ "ipv6 dcolon for one group first", "<u@[IPv6:::2:3:4:5:6:7:8]>", 0,
	    0, NULL, NULL, 0, "5.1.3" },
	{ "ipv6 v4 too many", "<u@[IPv6:1:2:3:4:5:6:7:1.2.3.4]>", 0, 0, NULL,
	    NULL, 0, "5.1.3" },
	{ "ipv6 v4 comp too many", "<u@[IPv6:1:2:3:4:5::1.2.3.4]>", 0, 0,
	    NULL, NULL, 0, "5.1.3" },
	{ "ipv6 v4 not last", "<u@[IPv6:1.2.3.4::1]>", 0, 0, NULL, NULL, 0,
	    "5.1.3" },
	{ "ipv6 single colon start", "<u@[IPv6::1]>", 0, 0, NULL, NULL, 0,
	    "5.1.3" },
	{ "ipv6 trailing colon", "<u@[IPv6:1:2:3:4:5:6:7:8:]>", 0, 0, NULL,
	    NULL, 0, "5.1.3" },
	{ "ipv6 zone", "<u@[IPv6:fe80::1%eth0]>", 0, 0, NULL, NULL, 0,
	    "5.1.3" },
	{ "ipv6 not hex", "<u@[IPv6:g::1]>", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "ipv6 empty", "<u@[IPv6:]>", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "general literal", "<u@[x-tag:foo]>", 0, 0, NULL, NULL, 0,
	    "5.1.3" },
	{ "bare ipv6 literal", "<u@[2001:db8::1]>", 0, 0, NULL, NULL, 0,
	    "5.1.3" },
	{ "no brackets", "user@example.org", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "no brackets sender", "user@example.org", 0, ADDR_SENDER, NULL,
	    NULL, 0, "5.1.7" },
	{ "empty input", "", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "open only", "<", 0, ADDR_ALLOW_NULL, NULL, NULL, 0, "5.1.3" },
	{ "no domain", "<user>", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "empty domain", "<user@>", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "empty local", "<@x>", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "missing close", "<user@x", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "label leading hyphen", "<u@-x.org>", 0, 0, NULL, NULL, 0,
	    "5.1.3" },
	{ "label trailing hyphen", "<u@x-.org>", 0, 0, NULL, NULL, 0,
	    "5.1.3" },
	{ "label inner hyphen", "<u@x--y.org>", 0, 0, "u", "x--y.org", 0,
	    NULL },
	{ "empty label", "<u@x..org>", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "trailing dot", "<u@x.org.>", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "leading dot domain", "<u@.x.org>", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "underscore domain", "<u@x_y.org>", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "leading dot local", "<.u@x>", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "trailing dot local", "<u.@x>", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "double dot local", "<u..v@x>", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "space in local", "<u v@x>", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "space before close", "<u@x >", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "space after open", "< u@x>", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "comma in local", "<a,b@x>", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "two ats", "<a@b@c>", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "control char", "<u\001@x>", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "nul in local", "<u\0v@x>", 7, 0, NULL, NULL, 0, "5.1.3" },
	{ "nul in domain", "<u@x\0y>", 7, 0, NULL, NULL, 0, "5.1.3" },
	{ "local 64", "<" L64 "@x>", 0, 0, L64, "x", 0, NULL },
	{ "local 65", "<" L64 "b@x>", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "quoted local 64", "<\"" "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	    "\"@x>", 0, 0,
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
	    "x", 0, NULL },
	{ "quoted local 65", "<\"" L64 "\"@x>", 0, 0, NULL, NULL, 0,
	    "5.1.3" },
	{ "label 63", "<u@" D63 ".org>", 0, 0, "u", D63 ".org", 0, NULL },
	{ "label 64", "<u@" D63 "a.org>", 0, 0, NULL, NULL, 0, "5.1.3" },
	{ "utf8 without flag", "<j\xc3\xb6ran@x>", 0, 0, NULL, NULL, 0,
	    "5.6.7" },
	{ "utf8 domain without flag", "<j@\xc3\xa4x.org>", 0, 0, NULL, NULL,
	    0, "5.6.7" },
	{ "utf8 quoted without flag", "<\"j\xc3\xb6\"@x>", 0, 0, NULL, NULL,
	    0, "5.6.7" },
	{ "utf8", "<j\xc3\xb6ran@\xc3\xa4x.org>", 0, ADDR_UTF8,
	    "j\xc3\xb6ran", "\xc3\xa4x.org", 0, NULL },
	{ "utf8 4 octets", "<\xf0\x9f\x93\xa7@x>", 0, ADDR_UTF8,
	    "\xf0\x9f\x93\xa7", "x", 0, NULL },
	{ "utf8 quoted", "<\"j \xc3\xb6\"@x>", 0, ADDR_UTF8, "j \xc3\xb6",
	    "x", 0, NULL },
	{ "utf8 truncated", "<j\xc3@x>", 0, ADDR_UTF8, NULL, NULL, 0,
	    "5.1.3" },
	{ "utf8 overlong", "<\xc0\xafx@x>", 0, ADDR_UTF8, NULL, NULL, 0,
	    "5.1.3" },
	{ "utf8 overlong 3", "<\xe0\x80\xafx@x>", 0, ADDR_UTF8, NULL, NULL, 0,
	    "5.1.3" },
	{ "utf8 surrogate", "<\xed\xa0\x80@x>", 0, ADDR_UTF8, NULL, NULL, 0,
	    "5.1.3" },
	{ "utf8 past max", "<\xf4\x90\x80\x80@x>", 0, ADDR_UTF8, NULL, NULL,
	    0, "5.1.3" },
	{ "utf8 lone continuation", "<\x80@x>", 0, ADDR_UTF8, NULL, NULL, 0,
	    "5.1.3" },
	{ "utf8 c1 control", "<a\xc2\x85@x>", 0, ADDR_UTF8, NULL, NULL, 0,
	    "5.1.3" },
	{ "utf8 nbsp ok", "<a\xc2\xa0@x>", 0, ADDR_UTF8, "a\xc2\xa0", "x", 0,
	    NULL },
	{ "utf8 sender status", "<j\xc3\xb6@x>", 0, ADDR_SENDER, NULL, NULL,
	    0, "5.6.7" },
};

START_TEST(test_parse_path)
{
	const struct path_case	*c = &path_cases[_i];
	struct mailaddr		 a;
	struct reason		 r = { "", "" };
	size_t			 used = 0, len;
	int			 rc;

	len = c->len != 0 ? c->len : strlen(c->in);
	rc = addr_parse_path(c->in, len, c->flags, &a, &used, &r);
	if (c->want_local == NULL) {
		ck_assert_msg(rc == -1, "%s: got success (%s@%s), want failure",
		    c->name, a.local, a.domain);
		ck_assert_msg(strcmp(r.status, c->want_status) == 0,
		    "%s: got status %s (%s), want %s", c->name, r.status,
		    r.text, c->want_status);
		ck_assert_msg(r.text[0] != '\0', "%s: no reason text", c->name);
		ck_assert_msg(a.local[0] == '\0' && a.domain[0] == '\0',
		    "%s: output not cleared", c->name);
		return;
	}
	ck_assert_msg(rc == 0, "%s: got failure %s %s, want success",
	    c->name, r.status, r.text);
	ck_assert_msg(strcmp(a.local, c->want_local) == 0,
	    "%s: got local \"%s\", want \"%s\"", c->name, a.local,
	    c->want_local);
	ck_assert_msg(strcmp(a.domain, c->want_domain) == 0,
	    "%s: got domain \"%s\", want \"%s\"", c->name, a.domain,
	    c->want_domain);
	ck_assert_msg(used == (c->want_used != 0 ? c->want_used : len),
	    "%s: got consumed %zu, want %zu", c->name, used,
	    c->want_used != 0 ? c->want_used : len);
}
END_TEST

/* Every accepted path formats to text that parses back to the same. */
START_TEST(test_format_roundtrip)
{
	const struct path_case	*c = &path_cases[_i];
	struct mailaddr		 a, b;
	char			 text[ADDR_TEXT_SIZE], path[ADDR_TEXT_SIZE + 2];
	size_t			 len;

	if (c->want_local == NULL)
		return;
	len = c->len != 0 ? c->len : strlen(c->in);
	ck_assert_int_eq(addr_parse_path(c->in, len, c->flags, &a, NULL,
	    NULL), 0);
	ck_assert_int_eq(addr_format(&a, text, sizeof(text)), 0);
	snprintf(path, sizeof(path), "<%s>", text);
	ck_assert_msg(addr_parse_path(path, strlen(path), c->flags, &b, NULL,
	    NULL) == 0, "%s: formatted %s does not parse", c->name, path);
	ck_assert_msg(strcmp(a.local, b.local) == 0 &&
	    strcmp(a.domain, b.domain) == 0, "%s: got %s@%s, want %s@%s",
	    c->name, b.local, b.domain, a.local, a.domain);
}
END_TEST

/* Writes a domain of n octets (labels of 63, n % 64 != 0) at p. */
static size_t
fill_domain(char *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		p[i] = (i % 64 == 63) ? '.' : 'a';
	p[n] = '\0';
	return n;
}

START_TEST(test_path_lengths)
{
	char		buf[600];
	struct mailaddr	a;
	struct reason	r;
	size_t		used, o;

	/* 1 + 3 + 1 + 250 + 1: exactly SMTP_PATH_MAX */
	o = (size_t)sprintf(buf, "<abc@");
	o += fill_domain(buf + o, 250);
	strcpy(buf + o, ">");
	ck_assert_uint_eq(strlen(buf), SMTP_PATH_MAX);
	ck_assert_int_eq(addr_parse_path(buf, strlen(buf), 0, &a, &used, &r),
	    0);
	ck_assert_uint_eq(used, SMTP_PATH_MAX);
	ck_assert_uint_eq(strlen(a.domain), 250);
	/* and as a bare mailbox: 254 octets */
	ck_assert_int_eq(addr_parse_mailbox(buf + 1, strlen(buf) - 2, 0, &a,
	    &r), 0);

	o = (size_t)sprintf(buf, "<abcd@");
	o += fill_domain(buf + o, 250);
	strcpy(buf + o, ">");
	ck_assert_int_eq(addr_parse_path(buf, strlen(buf), 0, &a, &used, &r),
	    -1);
	ck_assert_str_eq(r.status, "5.1.3");
	ck_assert_msg(strstr(r.text, "path longer") != NULL, "got %s", r.text);
	ck_assert_int_eq(addr_parse_mailbox(buf + 1, strlen(buf) - 2, 0, &a,
	    &r), -1);

	/* the domain limit comes first when the domain is too long */
	o = (size_t)sprintf(buf, "<a@");
	o += fill_domain(buf + o, 300);
	strcpy(buf + o, ">");
	ck_assert_int_eq(addr_parse_path(buf, strlen(buf), 0, &a, &used, &r),
	    -1);
	ck_assert_msg(strstr(r.text, "domain longer") != NULL, "got %s",
	    r.text);

	/* a source route counts in the path */
	o = (size_t)sprintf(buf, "<@");
	o += fill_domain(buf + o, 200);
	strcpy(buf + o, ":u@x>");
	ck_assert_int_eq(addr_parse_path(buf, strlen(buf), 0, &a, &used, &r),
	    0);
	ck_assert_str_eq(a.local, "u");
	ck_assert_str_eq(a.domain, "x");
	o = (size_t)sprintf(buf, "<@");
	o += fill_domain(buf + o, 250);
	strcpy(buf + o, ":u@x>");
	ck_assert_int_eq(addr_parse_path(buf, strlen(buf), 0, &a, &used, &r),
	    -1);
	ck_assert_msg(strstr(r.text, "path longer") != NULL, "got %s", r.text);
}
END_TEST

struct format_case {
	const char	*local, *domain, *want;
};

static const struct format_case format_cases[] = {
	{ "user", "example.org", "user@example.org" },
	{ "", "", "" },
	{ "Postmaster", "", "Postmaster" },
	{ "first.last", "x", "first.last@x" },
	{ "john doe", "x", "\"john doe\"@x" },
	{ "a\"b\\c", "x", "\"a\\\"b\\\\c\"@x" },
	{ ".a", "x", "\".a\"@x" },
	{ "a.", "x", "\"a.\"@x" },
	{ "a..b", "x", "\"a..b\"@x" },
	{ "", "x", "\"\"@x" },
	{ "a@b", "x", "\"a@b\"@x" },
	{ "j\xc3\xb6ran", "x", "j\xc3\xb6ran@x" },
	{ "u", "[IPv6:::1]", "u@[IPv6:::1]" },
};

START_TEST(test_format)
{
	const struct format_case	*c = &format_cases[_i];
	struct mailaddr			 a;
	char				 buf[ADDR_TEXT_SIZE];

	memset(&a, 0, sizeof(a));
	snprintf(a.local, sizeof(a.local), "%s", c->local);
	snprintf(a.domain, sizeof(a.domain), "%s", c->domain);
	ck_assert_int_eq(addr_format(&a, buf, sizeof(buf)), 0);
	ck_assert_msg(strcmp(buf, c->want) == 0, "got %s, want %s", buf,
	    c->want);
}
END_TEST

START_TEST(test_format_small_buffer)
{
	struct mailaddr	a;
	char		buf[8];

	memset(&a, 0, sizeof(a));
	strcpy(a.local, "user");
	strcpy(a.domain, "example.org");
	ck_assert_int_eq(addr_format(&a, buf, sizeof(buf)), -1);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(addr_format(&a, buf, 0), -1);
	strcpy(a.domain, "x.y");
	ck_assert_int_eq(addr_format(&a, buf, sizeof(buf)), -1);	/* 9 */
	strcpy(a.domain, "x.");
	ck_assert_int_eq(addr_format(&a, buf, sizeof(buf)), 0);		/* 7 */
	ck_assert_str_eq(buf, "user@x.");
}
END_TEST

struct mailbox_case {
	const char	*in;
	unsigned	 flags;
	int		 want_rc;
	const char	*want_local, *want_domain;
};

static const struct mailbox_case mailbox_cases[] = {
	{ "user@example.org", 0, 0, "user", "example.org" },
	{ "\"a b\"@[192.0.2.1]", 0, 0, "a b", "[192.0.2.1]" },
	{ "Postmaster", ADDR_ALLOW_POSTMASTER, 0, "Postmaster", "" },
	{ "Postmaster", 0, -1, "", "" },
	{ "<user@example.org>", 0, -1, "", "" },
	{ "user@example.org ", 0, -1, "", "" },
	{ "user@example.org>", 0, -1, "", "" },
	{ "user", 0, -1, "", "" },
	{ "", 0, -1, "", "" },
	{ "j\xc3\xb6@x", ADDR_UTF8, 0, "j\xc3\xb6", "x" },
	{ "j\xc3\xb6@x", 0, -1, "", "" },
};

START_TEST(test_parse_mailbox)
{
	const struct mailbox_case	*c = &mailbox_cases[_i];
	struct mailaddr			 a;
	struct reason			 r;
	int				 rc;

	rc = addr_parse_mailbox(c->in, strlen(c->in), c->flags, &a, &r);
	ck_assert_msg(rc == c->want_rc, "%s: got %d, want %d", c->in, rc,
	    c->want_rc);
	ck_assert_msg(strcmp(a.local, c->want_local) == 0 &&
	    strcmp(a.domain, c->want_domain) == 0, "%s: got %s@%s, want %s@%s",
	    c->in, a.local, a.domain, c->want_local, c->want_domain);
}
END_TEST

struct helo_case {
	const char	*in;
	size_t		 len;
	unsigned	 flags;
	bool		 ok;
};

static const struct helo_case helo_cases[] = {
	{ "mx.example.org", 0, 0, true },
	{ "MX.Example.ORG", 0, 0, true },
	{ "localhost", 0, 0, true },
	{ "DESKTOP-1_A", 0, 0, true },		/* Windows clients */
	{ "mail_server.example.org", 0, 0, true },
	{ "-odd-.example", 0, 0, true },
	{ "mx.example.org.", 0, 0, true },	/* trailing dot */
	{ "192.0.2.1", 0, 0, true },		/* bare IPv4 */
	{ "[192.0.2.1]", 0, 0, true },
	{ "[IPv6:2001:db8::1]", 0, 0, true },
	{ "2001:db8::1", 0, 0, true },		/* bare IPv6 */
	{ "::1", 0, 0, true },
	{ "b\xc3\xbc" "cher.example", 0, ADDR_UTF8, true },
	{ "b\xc3\xbc" "cher.example", 0, 0, false },
	{ "b\xc3.example", 0, ADDR_UTF8, false },
	{ "", 0, 0, false },
	{ ".", 0, 0, false },
	{ ".example.org", 0, 0, false },
	{ "a..b", 0, 0, false },
	{ "mx.example.org..", 0, 0, false },
	{ "mx example", 0, 0, false },
	{ "mx\texample", 0, 0, false },
	{ "mx\r\nQUIT", 0, 0, false },
	{ "mx\0x", 4, 0, false },
	{ "mx(comment)", 0, 0, false },
	{ "mx;x", 0, 0, false },
	{ "user@mx", 0, 0, false },
	{ "[192.0.2.256]", 0, 0, false },
	{ "[192.0.2.1", 0, 0, false },
	{ "[192.0.2.1]x", 0, 0, false },
	{ "[IPv6:1:2]", 0, 0, false },
	{ "2001:db8::1::2", 0, 0, false },
	{ "1:2", 0, 0, false },
	{ D63 "a.example", 0, 0, false },
	{ D63 ".example", 0, 0, true },
	{ D63 "." D63 "." D63 "." D63, 0, 0, true },	/* 255 */
	{ D63 "." D63 "." D63 "." D63 "a", 0, 0, false },
};

START_TEST(test_parse_domain)
{
	const struct helo_case	*c = &helo_cases[_i];
	char			 out[SMTP_DOMAIN_MAX + 1];
	struct reason		 r = { "", "" };
	size_t			 len = c->len != 0 ? c->len : strlen(c->in);
	int			 rc;

	rc = addr_parse_domain(c->in, len, c->flags, out, sizeof(out), &r);
	if (c->ok) {
		ck_assert_msg(rc == 0, "%s: got failure %s, want success",
		    c->in, r.text);
		ck_assert_msg(strlen(out) == len && memcmp(out, c->in, len) == 0,
		    "%s: got copy %s", c->in, out);
	} else {
		ck_assert_msg(rc == -1, "%s: got success, want failure", c->in);
		ck_assert_str_eq(r.status, "5.5.4");
		ck_assert_str_eq(out, "");
	}
}
END_TEST

START_TEST(test_parse_domain_small_buffer)
{
	char	out[4];

	ck_assert_int_eq(addr_parse_domain("abcd", 4, 0, out, sizeof(out),
	    NULL), -1);
	ck_assert_int_eq(addr_parse_domain("abc", 3, 0, out, sizeof(out),
	    NULL), 0);
	ck_assert_str_eq(out, "abc");
}
END_TEST

START_TEST(test_helpers)
{
	struct mailaddr	a;
	char		d[] = "MX.Example.ORG";

	ck_assert_int_eq(addr_domain_cmp("Example.ORG", "example.org"), 0);
	ck_assert_int_lt(addr_domain_cmp("a.org", "B.org"), 0);
	ck_assert_int_gt(addr_domain_cmp("example.org", "example"), 0);
	ck_assert_int_ne(addr_domain_cmp("\xc3\x84", "\xc3\xa4"), 0);
	addr_lower_domain(d);
	ck_assert_str_eq(d, "mx.example.org");

	memset(&a, 0, sizeof(a));
	ck_assert(addr_is_null(&a));
	ck_assert(!addr_has_utf8(&a));
	strcpy(a.local, "PostMaster");
	ck_assert(addr_is_postmaster(&a));
	ck_assert(!addr_is_null(&a));
	strcpy(a.domain, "example.org");
	ck_assert(addr_is_postmaster(&a));
	strcpy(a.local, "postmasters");
	ck_assert(!addr_is_postmaster(&a));
	strcpy(a.domain, "\xc3\xa4.org");
	ck_assert(addr_has_utf8(&a));
}
END_TEST

struct utf8_case {
	const char	*in;
	size_t		 want;
};

static const struct utf8_case utf8_cases[] = {
	{ "a", 0 }, { "\xc2\x80", 2 }, { "\xc1\xbf", 0 }, { "\xdf\xbf", 2 },
	{ "\xe0\xa0\x80", 3 }, { "\xe0\x9f\xbf", 0 }, { "\xed\x9f\xbf", 3 },
	{ "\xed\xa0\x80", 0 }, { "\xef\xbf\xbf", 3 }, { "\xf0\x90\x80\x80", 4 },
	{ "\xf0\x8f\xbf\xbf", 0 }, { "\xf4\x8f\xbf\xbf", 4 },
	{ "\xf4\x90\x80\x80", 0 }, { "\xf5\x80\x80\x80", 0 }, { "\x80", 0 },
	{ "\xc3", 0 }, { "\xe2\x82", 0 }, { "\xc3\x28", 0 },
};

START_TEST(test_utf8_seqlen)
{
	const struct utf8_case	*c = &utf8_cases[_i];
	size_t			 n;

	n = addr_utf8_seqlen(c->in, strlen(c->in));
	ck_assert_msg(n == c->want, "case %d: got %zu, want %zu", _i, n,
	    c->want);
}
END_TEST

static Suite *
addr_suite(void)
{
	Suite	*s = suite_create("addr");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, test_parse_path, 0, nitems(path_cases));
	tcase_add_loop_test(tc, test_format_roundtrip, 0, nitems(path_cases));
	tcase_add_test(tc, test_path_lengths);
	tcase_add_loop_test(tc, test_format, 0, nitems(format_cases));
	tcase_add_test(tc, test_format_small_buffer);
	tcase_add_loop_test(tc, test_parse_mailbox, 0, nitems(mailbox_cases));
	tcase_add_loop_test(tc, test_parse_domain, 0, nitems(helo_cases));
	tcase_add_test(tc, test_parse_domain_small_buffer);
	tcase_add_test(tc, test_helpers);
	tcase_add_loop_test(tc, test_utf8_seqlen, 0, nitems(utf8_cases));
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(addr_suite)
