/*
 * Unit tests for smtpd/smtp_parse.c: splitting command lines, MAIL and
 * RCPT arguments with every ESMTP parameter we know (good values, bad
 * values, duplicates, unknown and unadvertised ones, and the reply code
 * each failure gets), AUTH arguments and responses, xtext, BDAT.
 */
#include "autoconf.h"

#include <stdint.h>
#include <string.h>

#include "smtpd/smtp_parse.h"
#include "unit.h"

#define ALL	(SMTP_EXT_SIZE | SMTP_EXT_8BITMIME | SMTP_EXT_BINARYMIME | \
		 SMTP_EXT_SMTPUTF8 | SMTP_EXT_AUTH | SMTP_EXT_DSN)

struct cmd_case {
	const char	*line;
	size_t		 len;		/* 0: strlen */
	int		 want_code;	/* 0: success */
	const char	*want_verb, *want_args;
};

static const struct cmd_case cmd_cases[] = {
	{ "QUIT", 0, 0, "QUIT", "" },
	{ "quit", 0, 0, "QUIT", "" },
	{ "MaIl FROM:<a@b>", 0, 0, "MAIL", "FROM:<a@b>" },
	{ "HELO  mx.example  ", 0, 0, "HELO", "mx.example" },
	{ "NOOP\t", 0, 0, "NOOP", "" },
	{ "NOOP \t ", 0, 0, "NOOP", "" },
	{ "RCPT TO:<a@b> NOTIFY=NEVER\t ", 0, 0, "RCPT",
	    "TO:<a@b> NOTIFY=NEVER" },
	{ "VRFY a\tb", 0, 0, "VRFY", "a\tb" },
	{ "EHLO b\xc3\xbc", 0, 0, "EHLO", "b\xc3\xbc" },
	{ "ABCDEFGHIJKLMNOP", 0, 0, "ABCDEFGHIJKLMNOP", "" },
	{ "ABCDEFGHIJKLMNOPQ", 0, 500, NULL, NULL },
	{ "", 0, 500, NULL, NULL },
	{ "   ", 0, 500, NULL, NULL },
	{ " QUIT", 0, 500, NULL, NULL },
	{ "MAIL:", 0, 500, NULL, NULL },
	{ "HELO\tmx", 0, 500, NULL, NULL },
	{ "X-FOO", 0, 500, NULL, NULL },
	{ "8BITMIME", 0, 500, NULL, NULL },
	{ "QUIT\0x", 6, 500, NULL, NULL },
	{ "DATA\r", 0, 500, NULL, NULL },
	{ "MAIL FROM:<a\rb@c>", 0, 500, NULL, NULL },
	{ "NOOP \x7f", 0, 500, NULL, NULL },
	{ "NOOP \x1b[2J", 0, 500, NULL, NULL },
};

START_TEST(test_cmd)
{
	const struct cmd_case	*c = &cmd_cases[_i];
	struct smtp_cmd		 cmd;
	struct reason		 r = { "", "" };
	size_t			 len = c->len != 0 ? c->len : strlen(c->line);
	int			 code = 0, rc;

	rc = smtp_parse_cmd(c->line, len, &cmd, &code, &r);
	if (c->want_code != 0) {
		ck_assert_msg(rc == -1 && code == c->want_code,
		    "\"%s\": got %d/%d, want failure %d", c->line, rc, code,
		    c->want_code);
		ck_assert_msg(r.status[0] == '5', "\"%s\": got status %s",
		    c->line, r.status);
		return;
	}
	ck_assert_msg(rc == 0, "\"%s\": got failure %d %s", c->line, code,
	    r.text);
	ck_assert_str_eq(cmd.verb, c->want_verb);
	ck_assert_msg(cmd.argslen == strlen(c->want_args) &&
	    memcmp(cmd.args, c->want_args, cmd.argslen) == 0,
	    "\"%s\": got args \"%.*s\", want \"%s\"", c->line,
	    (int)cmd.argslen, cmd.args, c->want_args);
}
END_TEST

START_TEST(test_cmd_verb_too_long_is_unrecognized)
{
	struct smtp_cmd	cmd;
	struct reason	r;
	int		code;

	ck_assert_int_eq(smtp_parse_cmd("ABCDEFGHIJKLMNOPQ", 17, &cmd, &code,
	    &r), -1);
	ck_assert_int_eq(code, 500);
	ck_assert_str_eq(r.status, "5.5.1");
}
END_TEST

struct mail_case {
	const char	*args;
	unsigned	 flags;
	int		 want_code;	/* 0: success */
	const char	*want_status;	/* failure */
	const char	*want_from;	/* success: addr_format() */
	unsigned	 want_params;
	uint64_t	 want_size;
	enum smtp_body	 want_body;
	const char	*want_auth;	/* NULL: not checked */
	enum smtp_ret	 want_ret;
	const char	*want_envid;
};

#define BARE	SMTP_BARE_PATH

#define OK(args, flags, from, params)	\
	{ args, flags, 0, NULL, from, params, 0, 0, NULL, 0, "" }
#define BAD(args, flags, code, status)	\
	{ args, flags, code, status, NULL, 0, 0, 0, NULL, 0, NULL }

static const struct mail_case mail_cases[] = {
	OK("FROM:<a@b>", 0, "a@b", 0),
	OK("from:<a@b>", 0, "a@b", 0),
	OK("From: <a@b>", 0, "a@b", 0),		/* one space tolerated */
	OK("FROM:<>", 0, "", 0),
	OK("FROM:<@x,@y:a@b>", 0, "a@b", 0),
	OK("FROM:<\"a b\"@c>", 0, "\"a b\"@c", 0),
	BAD("FROM:  <a@b>", 0, 501, "5.1.7"),	/* but only one */
	BAD("FROM:a@b", 0, 501, "5.1.7"),
	BAD("FROM<a@b>", 0, 501, "5.5.2"),
	BAD("FROM <a@b>", 0, 501, "5.5.2"),
	BAD("TO:<a@b>", 0, 501, "5.5.2"),
	BAD("", 0, 501, "5.5.2"),
	BAD("FROM:", 0, 501, "5.1.7"),
	BAD("FROM:<a@b>SIZE=1", ALL, 501, "5.5.2"),
	BAD("FROM:<a@b> x", ALL, 555, "5.5.4"),
	BAD("FROM:<a b@c>", 0, 501, "5.1.7"),
	BAD("FROM:<Postmaster>", 0, 501, "5.1.7"),
	{ "FROM:<a@b> SIZE=1000", ALL, 0, NULL, "a@b", SMTP_PARAM_SIZE, 1000,
	    0, NULL, 0, "" },
	{ "FROM:<a@b> size=0", ALL, 0, NULL, "a@b", SMTP_PARAM_SIZE, 0, 0,
	    NULL, 0, "" },
	{ "FROM:<a@b> SIZE=18446744073709551615", ALL, 0, NULL, "a@b",
	    SMTP_PARAM_SIZE, UINT64_MAX, 0, NULL, 0, "" },
	{ "FROM:<a@b> SIZE=18446744073709551616", ALL, 0, NULL, "a@b",
	    SMTP_PARAM_SIZE, UINT64_MAX, 0, NULL, 0, "" },
	{ "FROM:<a@b> SIZE=99999999999999999999", ALL, 0, NULL, "a@b",
	    SMTP_PARAM_SIZE, UINT64_MAX, 0, NULL, 0, "" },
	{ "FROM:<a@b> SIZE=00000000000000000042", ALL, 0, NULL, "a@b",
	    SMTP_PARAM_SIZE, 42, 0, NULL, 0, "" },
	BAD("FROM:<a@b> SIZE=123456789012345678901", ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> SIZE=", ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> SIZE=1k", ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> SIZE=-1", ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> SIZE=+1", ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> SIZE", ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> SIZE==1", ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> SIZE=1 SIZE=2", ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> SIZE=1 size=1", ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> SIZE=1", ALL & ~SMTP_EXT_SIZE, 555, "5.5.4"),
	{ "FROM:<a@b>  SIZE=1   BODY=8BITMIME", ALL, 0, NULL, "a@b",
	    SMTP_PARAM_SIZE | SMTP_PARAM_BODY, 1, SMTP_BODY_8BITMIME, NULL, 0,
	    "" },
	{ "FROM:<a@b> BODY=7bit", ALL, 0, NULL, "a@b", SMTP_PARAM_BODY, 0,
	    SMTP_BODY_7BIT, NULL, 0, "" },
	{ "FROM:<a@b> BODY=BinaryMIME", ALL, 0, NULL, "a@b",
	    SMTP_PARAM_BODY, 0, SMTP_BODY_BINARYMIME, NULL, 0, "" },
	BAD("FROM:<a@b> BODY=BINARYMIME", SMTP_EXT_8BITMIME, 555, "5.5.4"),
	BAD("FROM:<a@b> BODY=8BITMIME", SMTP_EXT_BINARYMIME, 555, "5.5.4"),
	BAD("FROM:<a@b> BODY=7BIT", SMTP_EXT_SIZE, 555, "5.5.4"),
	BAD("FROM:<a@b> BODY=QUOTED-PRINTABLE", ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> BODY=", ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> BODY", ALL, 501, "5.5.4"),
	{ "FROM:<a@b> SMTPUTF8", ALL, 0, NULL, "a@b", SMTP_PARAM_SMTPUTF8, 0,
	    0, NULL, 0, "" },
	{ "FROM:<j\xc3\xb6@b> SMTPUTF8", ALL, 0, NULL, "j\xc3\xb6@b",
	    SMTP_PARAM_SMTPUTF8, 0, 0, NULL, 0, "" },
	{ "FROM:<a@b> smtputf8 BODY=8BITMIME", ALL, 0, NULL, "a@b",
	    SMTP_PARAM_SMTPUTF8 | SMTP_PARAM_BODY, 0, SMTP_BODY_8BITMIME,
	    NULL, 0, "" },
	BAD("FROM:<j\xc3\xb6@b>", ALL, 553, "5.6.7"),
	BAD("FROM:<j\xc3\xb6@b> SMTPUTF8", ALL & ~SMTP_EXT_SMTPUTF8, 553,
	    "5.6.7"),
	BAD("FROM:<a@b> SMTPUTF8", ALL & ~SMTP_EXT_SMTPUTF8, 555, "5.5.4"),
	BAD("FROM:<a@b> SMTPUTF8=YES", ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> SMTPUTF8 SMTPUTF8", ALL, 501, "5.5.4"),
	BAD("FROM:<j\xc3\xb6@b> SMTPUTF8 SIZE=x", ALL, 501, "5.5.4"),
	{ "FROM:<a@b> AUTH=<>", ALL, 0, NULL, "a@b", SMTP_PARAM_AUTH, 0, 0,
	    "", 0, "" },
	{ "FROM:<a@b> AUTH=alice@example.org", ALL, 0, NULL, "a@b",
	    SMTP_PARAM_AUTH, 0, 0, "alice@example.org", 0, "" },
	/* RFC 4954 5: "e=mc2@example.com" */
	{ "FROM:<a@b> AUTH=e+3Dmc2@example.com", ALL, 0, NULL, "a@b",
	    SMTP_PARAM_AUTH, 0, 0, "e=mc2@example.com", 0, "" },
	{ "FROM:<a@b> AUTH=+22a+20b+22@x", ALL, 0, NULL, "a@b",
	    SMTP_PARAM_AUTH, 0, 0, "\"a b\"@x", 0, "" },
	BAD("FROM:<a@b> AUTH=e+3dmc2@example.com", ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> AUTH=a+00@x", ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> AUTH=a+4@x", ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> AUTH=a+", ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> AUTH=alice", ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> AUTH=<alice@x>", ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> AUTH=<>", ALL & ~SMTP_EXT_AUTH, 555, "5.5.4"),
	{ "FROM:<a@b> RET=FULL ENVID=QQ314159", ALL, 0, NULL, "a@b",
	    SMTP_PARAM_RET | SMTP_PARAM_ENVID, 0, 0, NULL, SMTP_RET_FULL,
	    "QQ314159" },
	{ "FROM:<a@b> ret=hdrs", ALL, 0, NULL, "a@b", SMTP_PARAM_RET, 0, 0,
	    NULL, SMTP_RET_HDRS, "" },
	{ "FROM:<a@b> ENVID=a+2Bb+20c", ALL, 0, NULL, "a@b",
	    SMTP_PARAM_ENVID, 0, 0, NULL, 0, "a+b c" },
	{ "FROM:<a@b> ENVID="
	    "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789",
	    ALL, 0, NULL, "a@b", SMTP_PARAM_ENVID, 0, 0, NULL, 0,
	    "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789" },
	BAD("FROM:<a@b> ENVID="
	    "01234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890",
	    ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> ENVID=a+0Ab", ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> ENVID=a+C3+A4", ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> RET=ALL", ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> RET=FULL RET=HDRS", ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> RET=FULL", ALL & ~SMTP_EXT_DSN, 555, "5.5.4"),
	BAD("FROM:<a@b> ENVID=x", ALL & ~SMTP_EXT_DSN, 555, "5.5.4"),
	BAD("FROM:<a@b> NOTIFY=NEVER", ALL, 555, "5.5.4"),	/* RCPT's */
	BAD("FROM:<a@b> FOO=bar", ALL, 555, "5.5.4"),
	BAD("FROM:<a@b> X-FOO", ALL, 555, "5.5.4"),
	BAD("FROM:<a@b> -FOO=1", ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> FO_O=1", ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> =1", ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> F\xc3\xa4=1", ALL, 501, "5.5.4"),
	BAD("FROM:<a@b> SIZE=1\xc3\xa4", ALL, 501, "5.5.4"),
	/* bare paths (printers, scanners): one word, parsed as a mailbox */
	OK("FROM:a@b", BARE, "a@b", 0),
	OK("FROM: user@example.org", BARE, "user@example.org", 0),
	OK("FROM:<a@b>", BARE, "a@b", 0),
	OK("FROM:<>", BARE, "", 0),
	OK("FROM: a.b-c+d@[192.0.2.1]", BARE, "a.b-c+d@[192.0.2.1]", 0),
	{ "FROM:a@b SIZE=10", ALL | BARE, 0, NULL, "a@b", SMTP_PARAM_SIZE,
	    10, 0, NULL, 0, "" },
	BAD("FROM: user@example.org", 0, 501, "5.1.7"),	/* strict */
	BAD("FROM:a@b SIZE=10", ALL, 501, "5.1.7"),
	BAD("FROM:", BARE, 501, "5.1.7"),
	BAD("FROM: ", BARE, 501, "5.1.7"),
	BAD("FROM:  a@b", BARE, 501, "5.1.7"),	/* one space, as with <> */
	BAD("FROM:  <a@b>", BARE, 501, "5.1.7"),
	BAD("FROM:\"\"", BARE, 501, "5.1.7"),
	BAD("FROM:<a@b", BARE, 501, "5.1.7"),
	BAD("FROM:a@b>", BARE, 501, "5.1.7"),
	BAD("FROM:a@b<c@d>", BARE, 501, "5.1.7"),
	BAD("FROM:a<c@d>", BARE, 501, "5.1.7"),
	/* a quoted local part with a space is not one word: no second
	 * reading where the rest is a parameter or another address */
	BAD("FROM:\"a b\"@c", BARE, 501, "5.1.7"),
	BAD("FROM:\"a@b> SIZE=1 \"@c", ALL | BARE, 501, "5.1.7"),
	BAD("FROM:a@b\tSIZE=1", ALL | BARE, 501, "5.1.7"),
	BAD("FROM:a@b,c@d", BARE, 501, "5.1.7"),
	BAD("FROM:@x:a@b", BARE, 501, "5.1.7"),	/* no bare source route */
	BAD("FROM:a@b x", ALL | BARE, 555, "5.5.4"),
	BAD("FROM:a", BARE, 501, "5.1.7"),
	BAD("FROM:Postmaster", BARE, 501, "5.1.7"),
	BAD("FROM:j\xc3\xb6@b", ALL | BARE, 553, "5.6.7"),
	{ "FROM:j\xc3\xb6@b SMTPUTF8", ALL | BARE, 0, NULL, "j\xc3\xb6@b",
	    SMTP_PARAM_SMTPUTF8, 0, 0, NULL, 0, "" },
	BAD("FROM:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@b",
	    BARE, 501, "5.1.7"),			/* local part 65 */
};

START_TEST(test_mail)
{
	const struct mail_case	*c = &mail_cases[_i];
	struct smtp_mail_args	 m;
	struct reason		 r = { "", "" };
	char			 buf[ADDR_TEXT_SIZE];
	int			 code = 0, rc;

	rc = smtp_parse_mail(c->args, strlen(c->args), c->flags, &m, &code,
	    &r);
	if (c->want_code != 0) {
		ck_assert_msg(rc == -1, "\"%s\": got success, want %d",
		    c->args, c->want_code);
		ck_assert_msg(code == c->want_code &&
		    strcmp(r.status, c->want_status) == 0,
		    "\"%s\": got %d %s (%s), want %d %s", c->args, code,
		    r.status, r.text, c->want_code, c->want_status);
		ck_assert_msg(m.params == 0 && addr_is_null(&m.from),
		    "\"%s\": output not cleared", c->args);
		return;
	}
	ck_assert_msg(rc == 0, "\"%s\": got %d %s %s, want success", c->args,
	    code, r.status, r.text);
	ck_assert_int_eq(addr_format(&m.from, buf, sizeof(buf)), 0);
	ck_assert_msg(strcmp(buf, c->want_from) == 0,
	    "\"%s\": got from %s, want %s", c->args, buf, c->want_from);
	ck_assert_msg(m.params == c->want_params,
	    "\"%s\": got params %#x, want %#x", c->args, m.params,
	    c->want_params);
	ck_assert_msg(m.size == c->want_size, "\"%s\": got size %llu",
	    c->args, (unsigned long long)m.size);
	ck_assert_int_eq(m.body, c->want_body);
	ck_assert_int_eq(m.smtputf8, (c->want_params &
	    SMTP_PARAM_SMTPUTF8) != 0);
	if (c->want_auth != NULL) {
		ck_assert_int_eq(addr_format(&m.auth, buf, sizeof(buf)), 0);
		ck_assert_msg(strcmp(buf, c->want_auth) == 0,
		    "\"%s\": got auth %s, want %s", c->args, buf,
		    c->want_auth);
	}
	ck_assert_int_eq(m.ret, c->want_ret);
	ck_assert_str_eq(m.envid, c->want_envid);
}
END_TEST

struct rcpt_case {
	const char	*args;
	unsigned	 flags;
	int		 want_code;
	const char	*want_status;
	const char	*want_to;
	unsigned	 want_params, want_notify;
	const char	*want_type, *want_orcpt;
};

#define ROK(args, flags, to)	\
	{ args, flags, 0, NULL, to, 0, 0, "", "" }
#define RBAD(args, flags, code, status)	\
	{ args, flags, code, status, NULL, 0, 0, NULL, NULL }

static const struct rcpt_case rcpt_cases[] = {
	ROK("TO:<a@b>", 0, "a@b"),
	ROK("to: <a@b>", 0, "a@b"),
	ROK("TO:<Postmaster>", 0, "Postmaster"),
	ROK("TO:<postmaster@example.org>", 0, "postmaster@example.org"),
	ROK("TO:<@relay:a@b>", 0, "a@b"),
	RBAD("TO:<>", 0, 501, "5.1.3"),
	RBAD("TO:a@b", 0, 501, "5.1.3"),
	RBAD("TO:<a@b", 0, 501, "5.1.3"),
	RBAD("FROM:<a@b>", 0, 501, "5.5.2"),
	RBAD("TO <a@b>", 0, 501, "5.5.2"),
	ROK("TO:<j\xc3\xb6@b>", ALL | SMTP_TXN_UTF8, "j\xc3\xb6@b"),
	RBAD("TO:<j\xc3\xb6@b>", ALL, 553, "5.6.7"),
	RBAD("TO:<j\xc3\xb6@b>", SMTP_TXN_UTF8, 553, "5.6.7"),
	{ "TO:<a@b> NOTIFY=SUCCESS,FAILURE", ALL, 0, NULL, "a@b",
	    SMTP_PARAM_NOTIFY, SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE, "",
	    "" },
	{ "TO:<a@b> notify=delay", ALL, 0, NULL, "a@b", SMTP_PARAM_NOTIFY,
	    SMTP_NOTIFY_DELAY, "", "" },
	{ "TO:<a@b> NOTIFY=NEVER", ALL, 0, NULL, "a@b", SMTP_PARAM_NOTIFY,
	    SMTP_NOTIFY_NEVER, "", "" },
	RBAD("TO:<a@b> NOTIFY=NEVER,DELAY", ALL, 501, "5.5.4"),
	RBAD("TO:<a@b> NOTIFY=", ALL, 501, "5.5.4"),
	RBAD("TO:<a@b> NOTIFY=SUCCESS,", ALL, 501, "5.5.4"),
	RBAD("TO:<a@b> NOTIFY=,SUCCESS", ALL, 501, "5.5.4"),
	RBAD("TO:<a@b> NOTIFY=SUCCESS,,DELAY", ALL, 501, "5.5.4"),
	RBAD("TO:<a@b> NOTIFY=SUCCESS,success", ALL, 501, "5.5.4"),
	RBAD("TO:<a@b> NOTIFY=ALWAYS", ALL, 501, "5.5.4"),
	RBAD("TO:<a@b> NOTIFY=NEVER NOTIFY=NEVER", ALL, 501, "5.5.4"),
	RBAD("TO:<a@b> NOTIFY=NEVER", ALL & ~SMTP_EXT_DSN, 555, "5.5.4"),
	{ "TO:<a@b> ORCPT=rfc822;alice@example.org", ALL, 0, NULL, "a@b",
	    SMTP_PARAM_ORCPT, 0, "rfc822", "alice@example.org" },
	{ "TO:<a@b> ORCPT=RFC822;a+2Bb@x", ALL, 0, NULL, "a@b",
	    SMTP_PARAM_ORCPT, 0, "rfc822", "a+b@x" },
	{ "TO:<a@b> ORCPT=utf-8;j\\x{F6}@x NOTIFY=FAILURE", ALL, 0, NULL,
	    "a@b", SMTP_PARAM_ORCPT | SMTP_PARAM_NOTIFY, SMTP_NOTIFY_FAILURE,
	    "utf-8", "j\\x{F6}@x" },
	{ "TO:<j\xc3\xb6@b> ORCPT=utf-8;j\xc3\xb6@b", ALL | SMTP_TXN_UTF8, 0,
	    NULL, "j\xc3\xb6@b", SMTP_PARAM_ORCPT, 0, "utf-8",
	    "j\xc3\xb6@b" },
	RBAD("TO:<a@b> ORCPT=utf-8;j\xc3\xb6@b", ALL, 501, "5.5.4"),
	RBAD("TO:<a@b> ORCPT=rfc822", ALL, 501, "5.5.4"),
	RBAD("TO:<a@b> ORCPT=;a@b", ALL, 501, "5.5.4"),
	RBAD("TO:<a@b> ORCPT=rfc822;", ALL, 501, "5.5.4"),
	RBAD("TO:<a@b> ORCPT=rf(c;a@b", ALL, 501, "5.5.4"),
	RBAD("TO:<a@b> ORCPT=rfc822;a+0Db", ALL, 501, "5.5.4"),
	RBAD("TO:<a@b> ORCPT=rfc822;a+zz", ALL, 501, "5.5.4"),
	RBAD("TO:<a@b> ORCPT=abcdefghijklmnopqrstuvwxyzabcdefg;x", ALL, 501,
	    "5.5.4"),
	RBAD("TO:<a@b> SIZE=1", ALL, 555, "5.5.4"),
	RBAD("TO:<a@b> BODY=8BITMIME", ALL, 555, "5.5.4"),
	RBAD("TO:<a@b> FOO", ALL, 555, "5.5.4"),
	ROK("TO:a@b", BARE, "a@b"),
	ROK("TO: user@example.org", BARE, "user@example.org"),
	ROK("TO:Postmaster", BARE, "Postmaster"),
	ROK("to: postmaster@example.org", BARE, "postmaster@example.org"),
	{ "TO:a@b NOTIFY=NEVER", ALL | BARE, 0, NULL, "a@b",
	    SMTP_PARAM_NOTIFY, SMTP_NOTIFY_NEVER, "", "" },
	RBAD("TO: user@example.org", 0, 501, "5.1.3"),	/* strict */
	RBAD("TO:", BARE, 501, "5.1.3"),
	RBAD("TO:  a@b", BARE, 501, "5.1.3"),
	RBAD("TO:a@b>", BARE, 501, "5.1.3"),
	RBAD("TO:a@b,c@d", BARE, 501, "5.1.3"),
	RBAD("TO:@relay:a@b", BARE, 501, "5.1.3"),
	RBAD("TO:\"a b\"@c", BARE, 501, "5.1.3"),
	RBAD("TO:a@b\r\nDATA", BARE, 501, "5.1.3"),
	RBAD("TO:a@b FOO", ALL | BARE, 555, "5.5.4"),
	RBAD("TO:j\xc3\xb6@b", ALL | BARE, 553, "5.6.7"),
};

START_TEST(test_rcpt)
{
	const struct rcpt_case	*c = &rcpt_cases[_i];
	struct smtp_rcpt_args	 a;
	struct reason		 r = { "", "" };
	char			 buf[ADDR_TEXT_SIZE];
	int			 code = 0, rc;

	rc = smtp_parse_rcpt(c->args, strlen(c->args), c->flags, &a, &code,
	    &r);
	if (c->want_code != 0) {
		ck_assert_msg(rc == -1, "\"%s\": got success, want %d",
		    c->args, c->want_code);
		ck_assert_msg(code == c->want_code &&
		    strcmp(r.status, c->want_status) == 0,
		    "\"%s\": got %d %s (%s), want %d %s", c->args, code,
		    r.status, r.text, c->want_code, c->want_status);
		return;
	}
	ck_assert_msg(rc == 0, "\"%s\": got %d %s %s, want success", c->args,
	    code, r.status, r.text);
	ck_assert_int_eq(addr_format(&a.to, buf, sizeof(buf)), 0);
	ck_assert_msg(strcmp(buf, c->want_to) == 0, "\"%s\": got to %s",
	    c->args, buf);
	ck_assert_msg(a.params == c->want_params, "\"%s\": got params %#x",
	    c->args, a.params);
	ck_assert_msg(a.notify == c->want_notify, "\"%s\": got notify %#x",
	    c->args, a.notify);
	ck_assert_str_eq(a.orcpt_type, c->want_type);
	ck_assert_str_eq(a.orcpt, c->want_orcpt);
}
END_TEST

START_TEST(test_orcpt_length)
{
	char			line[700];
	struct smtp_rcpt_args	a;
	struct reason		r;
	int			code, n;

	/* "rfc822;" + 493 = 500 characters: the limit */
	n = sprintf(line, "TO:<a@b> ORCPT=rfc822;");
	memset(line + n, 'x', 493);
	line[n + 493] = '\0';
	ck_assert_int_eq(smtp_parse_rcpt(line, strlen(line), ALL, &a, &code,
	    &r), 0);
	ck_assert_uint_eq(strlen(a.orcpt), 493);
	strcat(line, "x");
	ck_assert_int_eq(smtp_parse_rcpt(line, strlen(line), ALL, &a, &code,
	    &r), -1);
	ck_assert_int_eq(code, 501);
}
END_TEST

struct auth_case {
	const char	*args;
	int		 want_code;
	const char	*want_mech;
	bool		 want_has_ir;
	const char	*want_ir;
};

static const struct auth_case auth_cases[] = {
	{ "PLAIN", 0, "PLAIN", false, "" },
	{ "plain AGFsaWNlAHNlY3JldA==", 0, "PLAIN", true,
	    "AGFsaWNlAHNlY3JldA==" },
	{ "PLAIN =", 0, "PLAIN", true, "" },
	{ "LOGIN dXNlcg==", 0, "LOGIN", true, "dXNlcg==" },
	{ "scram-sha-256", 0, "SCRAM-SHA-256", false, "" },
	{ "X_MECH_0123456789ABC", 0, "X_MECH_0123456789ABC", false, "" },
	{ "X_MECH_0123456789ABCD", 504, NULL, false, NULL },
	{ "", 501, NULL, false, NULL },
	{ "PL@IN", 504, NULL, false, NULL },
	{ "PLAIN AGFsa", 501, NULL, false, NULL },
	{ "PLAIN  AGFs", 501, NULL, false, NULL },
	{ "PLAIN a b", 501, NULL, false, NULL },
	{ "PLAIN ==", 501, NULL, false, NULL },
	{ "PLAIN = ", 501, NULL, false, NULL },
	{ "PLAIN AGFsaWNl\x80", 501, NULL, false, NULL },
};

START_TEST(test_auth)
{
	const struct auth_case	*c = &auth_cases[_i];
	struct smtp_auth_args	 a;
	struct reason		 r = { "", "" };
	int			 code = 0, rc;

	rc = smtp_parse_auth(c->args, strlen(c->args), &a, &code, &r);
	if (c->want_code != 0) {
		ck_assert_msg(rc == -1 && code == c->want_code,
		    "\"%s\": got %d/%d, want %d", c->args, rc, code,
		    c->want_code);
		ck_assert_msg(!a.has_ir && a.mech[0] == '\0',
		    "\"%s\": output not cleared", c->args);
		return;
	}
	ck_assert_msg(rc == 0, "\"%s\": got %d %s", c->args, code, r.text);
	ck_assert_str_eq(a.mech, c->want_mech);
	ck_assert_int_eq(a.has_ir, c->want_has_ir);
	ck_assert_msg(a.irlen == strlen(c->want_ir) &&
	    (a.irlen == 0 || memcmp(a.ir, c->want_ir, a.irlen) == 0),
	    "\"%s\": got ir \"%.*s\"", c->args, (int)a.irlen, a.ir);
}
END_TEST

START_TEST(test_auth_response)
{
	char		out[16];
	size_t		n = 99;
	struct reason	r;
	int		code = 0;

	ck_assert_int_eq(smtp_parse_auth_response("*", 1, out, sizeof(out),
	    &n, &code, &r), 1);
	ck_assert_int_eq(smtp_parse_auth_response("YWxpY2U=", 8, out,
	    sizeof(out), &n, &code, &r), 0);
	ck_assert_uint_eq(n, 5);
	ck_assert(memcmp(out, "alice", 5) == 0);
	ck_assert_int_eq(smtp_parse_auth_response("", 0, out, sizeof(out),
	    &n, &code, &r), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(smtp_parse_auth_response("abc", 3, out, sizeof(out),
	    &n, &code, &r), -1);
	ck_assert_int_eq(code, 501);
	ck_assert_int_eq(smtp_parse_auth_response("**", 2, out, sizeof(out),
	    &n, &code, &r), -1);
	/* 18 octets into 16 */
	ck_assert_int_eq(smtp_parse_auth_response("MDEyMzQ1Njc4OTAxMjM0NTY3",
	    24, out, sizeof(out), &n, &code, &r), -1);
	ck_assert_int_eq(code, 501);
}
END_TEST

struct bdat_case {
	const char	*args;
	int		 ok;
	uint64_t	 size;
	bool		 last;
};

static const struct bdat_case bdat_cases[] = {
	{ "0", 1, 0, false },
	{ "119 LAST", 1, 119, true },
	{ "5 last", 1, 5, true },
	{ "5   LaSt", 1, 5, true },
	{ "007", 1, 7, false },
	{ "18446744073709551615", 1, UINT64_MAX, false },
	{ "18446744073709551616", 0, 0, false },
	{ "99999999999999999999999", 0, 0, false },
	{ "", 0, 0, false },
	{ "LAST", 0, 0, false },
	{ "-1", 0, 0, false },
	{ "+1", 0, 0, false },
	{ "1 LASTX", 0, 0, false },
	{ "1 FIRST", 0, 0, false },
	{ "1LAST", 0, 0, false },
	{ "1\tLAST", 0, 0, false },
	{ "1 LAST 2", 0, 0, false },
};

START_TEST(test_bdat)
{
	const struct bdat_case	*c = &bdat_cases[_i];
	struct reason		 r = { "", "" };
	uint64_t		 size = 42;
	bool			 last = !c->last;
	int			 code = 0, rc;

	rc = smtp_parse_bdat(c->args, strlen(c->args), &size, &last, &code,
	    &r);
	if (!c->ok) {
		ck_assert_msg(rc == -1 && code == 501, "\"%s\": got %d/%d, "
		    "want failure 501", c->args, rc, code);
		ck_assert_str_eq(r.status, "5.5.4");
		return;
	}
	ck_assert_msg(rc == 0 && size == c->size && last == c->last,
	    "\"%s\": got %d size %llu last %d, want size %llu last %d",
	    c->args, rc, (unsigned long long)size, last,
	    (unsigned long long)c->size, c->last);
}
END_TEST

START_TEST(test_is_bdat)
{
	ck_assert(smtp_parse_is_bdat("BDAT", 4));
	ck_assert(smtp_parse_is_bdat("bdat 12 LAST", 12));
	ck_assert(smtp_parse_is_bdat("BdAt\t12", 7));
	ck_assert(smtp_parse_is_bdat("BDAT12", 6));
	ck_assert(smtp_parse_is_bdat("BDAT\0", 5));
	ck_assert(!smtp_parse_is_bdat("BDA", 3));
	ck_assert(!smtp_parse_is_bdat("BDATX 1", 7));
	ck_assert(!smtp_parse_is_bdat(" BDAT 1", 7));
	ck_assert(!smtp_parse_is_bdat("DATA", 4));
}
END_TEST

START_TEST(test_xtext)
{
	char	enc[64], dec[64];

	ck_assert_int_eq(smtp_xtext_encode("a+b=c d\001\xc3\xa9~!", 12, enc,
	    sizeof(enc)), 0);
	ck_assert_str_eq(enc, "a+2Bb+3Dc+20d+01+C3+A9~!");
	ck_assert_int_eq(smtp_xtext_decode(enc, strlen(enc), dec,
	    sizeof(dec)), 0);
	ck_assert_str_eq(dec, "a+b=c d\001\xc3\xa9~!");
	ck_assert_int_eq(smtp_xtext_decode("abc", 3, dec, 3), -1);
	ck_assert_int_eq(smtp_xtext_decode("abc", 3, dec, 4), 0);
	ck_assert_int_eq(smtp_xtext_encode("abc", 3, enc, 3), -1);
	ck_assert_int_eq(smtp_xtext_encode("+", 1, enc, 4), 0);
	ck_assert_int_eq(smtp_xtext_encode("+", 1, enc, 3), -1);
	ck_assert_int_eq(smtp_xtext_decode("a=b", 3, dec, sizeof(dec)), -1);
	ck_assert_int_eq(smtp_xtext_decode("a b", 3, dec, sizeof(dec)), -1);
	ck_assert_int_eq(smtp_xtext_decode("+2", 2, dec, sizeof(dec)), -1);
	ck_assert_int_eq(smtp_xtext_decode("+2b", 3, dec, sizeof(dec)), -1);
	ck_assert_int_eq(smtp_xtext_decode("+00", 3, dec, sizeof(dec)), -1);
	ck_assert_int_eq(smtp_xtext_decode("", 0, dec, sizeof(dec)), 0);
	ck_assert_str_eq(dec, "");
}
END_TEST

static Suite *
smtp_parse_suite(void)
{
	Suite	*s = suite_create("smtp_parse");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, test_cmd, 0, nitems(cmd_cases));
	tcase_add_test(tc, test_cmd_verb_too_long_is_unrecognized);
	tcase_add_loop_test(tc, test_mail, 0, nitems(mail_cases));
	tcase_add_loop_test(tc, test_rcpt, 0, nitems(rcpt_cases));
	tcase_add_test(tc, test_orcpt_length);
	tcase_add_loop_test(tc, test_auth, 0, nitems(auth_cases));
	tcase_add_test(tc, test_auth_response);
	tcase_add_test(tc, test_xtext);
	tcase_add_loop_test(tc, test_bdat, 0, nitems(bdat_cases));
	tcase_add_test(tc, test_is_bdat);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(smtp_parse_suite)
