/*
 * Unit tests for pop3d/pop3_parse.c: splitting command lines (keywords,
 * arguments, control characters, line lengths), message numbers, and the
 * SASL PLAIN response of AUTH.
 */
#include "autoconf.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "pop3d/pop3_parse.h"
#include "unit.h"

struct cmd_case {
	const char	*line;
	size_t		 len;		/* 0: strlen */
	int		 want_rc;
	const char	*want_verb;
	const char	*want_args;	/* the raw argument text */
	size_t		 want_argc;
	const char	*want_argv[POP3_ARGS_MAX];
};

static const struct cmd_case cmd_cases[] = {
	{ "QUIT", 0, 0, "QUIT", "", 0, { NULL } },
	{ "quit", 0, 0, "QUIT", "", 0, { NULL } },
	{ "Retr 1", 0, 0, "RETR", "1", 1, { "1" } },
	{ "TOP 1 10", 0, 0, "TOP", "1 10", 2, { "1", "10" } },
	{ "TOP  1   10 ", 0, 0, "TOP", " 1   10 ", 2, { "1", "10" } },
	{ "LIST ", 0, 0, "LIST", "", 0, { NULL } },
	{ "PASS  two  spaces ", 0, 0, "PASS", " two  spaces ", 2,
	    { "two", "spaces" } },
	{ "PASS a\tb", 0, 0, "PASS", "a\tb", 1, { "a\tb" } },
	{ "X a b c d", 0, 0, "X", "a b c d", 4, { "a", "b", "c" } },
	{ "ABCDEFGHIJKLMNOP", 0, 0, "ABCDEFGHIJKLMNOP", "", 0, { NULL } },
	{ "USER b\xc3\xbc", 0, 0, "USER", "b\xc3\xbc", 1, { "b\xc3\xbc" } },
	{ "ABCDEFGHIJKLMNOPQ", 0, -1, NULL, NULL, 0, { NULL } },
	{ "", 0, -1, NULL, NULL, 0, { NULL } },
	{ " QUIT", 0, -1, NULL, NULL, 0, { NULL } },
	{ "ST4T", 0, -1, NULL, NULL, 0, { NULL } },
	{ "QUIT\0x", 6, -1, NULL, NULL, 0, { NULL } },
	{ "STAT\r", 0, -1, NULL, NULL, 0, { NULL } },
	{ "USER a\rb", 0, -1, NULL, NULL, 0, { NULL } },
	{ "NOOP \x7f", 0, -1, NULL, NULL, 0, { NULL } },
	{ "NOOP \x1b[2J", 0, -1, NULL, NULL, 0, { NULL } },
	{ "\tSTAT", 0, -1, NULL, NULL, 0, { NULL } },
	{ "STAT\t", 0, -1, NULL, NULL, 0, { NULL } },
};

START_TEST(test_cmd)
{
	const struct cmd_case	*c = &cmd_cases[_i];
	struct pop3_cmd		 cmd;
	struct reason		 r = { "", "" };
	size_t			 len = c->len != 0 ? c->len : strlen(c->line);
	size_t			 i;
	int			 rc;

	rc = pop3_parse_cmd(c->line, len, &cmd, &r);
	ck_assert_msg(rc == c->want_rc, "%s: got %d (%s), want %d", c->line,
	    rc, r.text, c->want_rc);
	if (rc != 0) {
		ck_assert_msg(r.text[0] != '\0', "%s: no reason", c->line);
		return;
	}
	ck_assert_str_eq(cmd.verb, c->want_verb);
	ck_assert_uint_eq(cmd.argslen, strlen(c->want_args));
	ck_assert(memcmp(cmd.args, c->want_args, cmd.argslen) == 0);
	ck_assert_uint_eq(cmd.argc, c->want_argc);
	for (i = 0; i < cmd.argc && i < POP3_ARGS_MAX; i++) {
		ck_assert_uint_eq(cmd.argv[i].len, strlen(c->want_argv[i]));
		ck_assert(memcmp(cmd.argv[i].p, c->want_argv[i],
		    cmd.argv[i].len) == 0);
		/* nothing points outside the line */
		ck_assert(cmd.argv[i].p >= c->line &&
		    cmd.argv[i].p + cmd.argv[i].len <= c->line + len);
	}
}
END_TEST

START_TEST(test_cmd_line_lengths)
{
	static char	line[POP3_AUTH_LINE_MAX + 2];
	struct pop3_cmd	cmd;
	struct reason	r;

	/* ordinary commands: POP3_CMD_LINE_MAX */
	memset(line, 'x', sizeof(line));
	memcpy(line, "USER ", 5);
	ck_assert_int_eq(pop3_parse_cmd(line, POP3_CMD_LINE_MAX, &cmd, &r), 0);
	ck_assert_int_eq(pop3_parse_cmd(line, POP3_CMD_LINE_MAX + 1, &cmd,
	    &r), -1);
	ck_assert_str_eq(r.text, "command line too long");
	/* AUTH may be longer (RFC 5034 4) */
	memcpy(line, "AUTH ", 5);
	ck_assert_int_eq(pop3_parse_cmd(line, POP3_AUTH_LINE_MAX, &cmd, &r),
	    0);
	ck_assert_int_eq(pop3_parse_cmd(line, POP3_AUTH_LINE_MAX + 1, &cmd,
	    &r), -1);
}
END_TEST

struct num_case {
	const char		*s;
	unsigned long long	 max;
	int			 want_rc;
	unsigned long long	 want;
};

static const struct num_case num_cases[] = {
	{ "1", 10, 0, 1 },
	{ "0", 10, 0, 0 },
	{ "10", 10, 0, 10 },
	{ "11", 10, -1, 0 },
	{ "007", 10, 0, 7 },
	{ "18446744073709551615", ULLONG_MAX, 0, ULLONG_MAX },
	{ "18446744073709551616", ULLONG_MAX, -1, 0 },
	{ "99999999999999999999", ULLONG_MAX, -1, 0 },
	{ "000000000000000000001", ULLONG_MAX, -1, 0 },	/* 21 digits */
	{ "9223372036854775807", LONG_MAX, 0, LONG_MAX },
	{ "9223372036854775808", LONG_MAX, -1, 0 },
	{ "5", 4, -1, 0 },
	{ "5", 0, -1, 0 },
	{ "", 10, -1, 0 },
	{ "-1", 10, -1, 0 },
	{ "+1", 10, -1, 0 },
	{ "1x", 10, -1, 0 },
	{ " 1", 10, -1, 0 },
	{ "0x1", 10, -1, 0 },
};

START_TEST(test_number)
{
	const struct num_case	*c = &num_cases[_i];
	unsigned long long	 n = 12345;
	int			 rc;

	rc = pop3_parse_number(c->s, strlen(c->s), c->max, &n);
	ck_assert_msg(rc == c->want_rc, "%s: got %d, want %d", c->s, rc,
	    c->want_rc);
	if (rc == 0)
		ck_assert_msg(n == c->want, "%s: got %llu, want %llu", c->s,
		    n, c->want);
}
END_TEST

struct plain_case {
	const char	*raw;		/* decoded form; base64'd by the test */
	size_t		 rawlen;
	const char	*b64;		/* or this, as sent */
	int		 want_rc;
	const char	*want_user, *want_pass, *want_status;
};

static const struct plain_case plain_cases[] = {
	{ "\0alice\0pw", 9, NULL, 0, "alice", "pw", NULL },
	{ "alice\0alice\0pw", 14, NULL, 0, "alice", "pw", NULL },
	{ "\0alice\0p w\tx", 12, NULL, 0, "alice", "p w\tx", NULL },
	{ "bob\0alice\0pw", 12, NULL, -1, NULL, NULL, "5.7.8" },
	{ "\0\0pw", 4, NULL, -1, NULL, NULL, "5.7.8" },
	{ "\0alice\0", 7, NULL, -1, NULL, NULL, "5.7.8" },
	{ "\0alice", 6, NULL, -1, NULL, NULL, "5.5.2" },
	{ "alice", 5, NULL, -1, NULL, NULL, "5.5.2" },
	{ "\0alice\0pw\0x", 11, NULL, -1, NULL, NULL, "5.5.2" },
	{ "\0al ice\0pw", 10, NULL, -1, NULL, NULL, "5.7.8" },
	{ "\0al\nice\0pw", 10, NULL, -1, NULL, NULL, "5.7.8" },
	{ NULL, 0, "=", -1, NULL, NULL, "5.7.8" },
	{ NULL, 0, "", -1, NULL, NULL, "5.5.2" },
	{ NULL, 0, "AGFsaWNlAHB3", 0, "alice", "pw", NULL },
	{ NULL, 0, "AGFsaWNlAHB3=", -1, NULL, NULL, "5.5.2" },
	{ NULL, 0, "AGFsaWNlAHB", -1, NULL, NULL, "5.5.2" },
	{ NULL, 0, "AGFsaW Nl", -1, NULL, NULL, "5.5.2" },
	{ NULL, 0, "!!!!", -1, NULL, NULL, "5.5.2" },
};

START_TEST(test_sasl_plain)
{
	const struct plain_case	*c = &plain_cases[_i];
	char			 b64[256], user[USER_NAME_MAX + 1];
	char			 pass[PASSWORD_MAX + 1];
	struct reason		 r = { "", "" };
	int			 rc;

	if (c->raw != NULL)
		ck_assert_int_eq(base64_encode(c->raw, c->rawlen, b64,
		    sizeof(b64)), 0);
	else
		snprintf(b64, sizeof(b64), "%s", c->b64);
	rc = pop3_parse_sasl_plain(b64, strlen(b64), user, sizeof(user), pass,
	    sizeof(pass), &r);
	ck_assert_msg(rc == c->want_rc, "case %d: got %d (%s), want %d", _i,
	    rc, r.text, c->want_rc);
	if (rc == 0) {
		ck_assert_str_eq(user, c->want_user);
		ck_assert_str_eq(pass, c->want_pass);
	} else {
		ck_assert_str_eq(r.status, c->want_status);
		ck_assert_str_eq(pass, "");	/* wiped */
	}
}
END_TEST

START_TEST(test_sasl_plain_too_long)
{
	static char	raw[PASSWORD_MAX + 100], b64[4 * sizeof(raw)];
	char		user[USER_NAME_MAX + 1], pass[PASSWORD_MAX + 1];
	struct reason	r;

	/* a password one longer than we keep */
	memset(raw, 'p', sizeof(raw));
	memcpy(raw, "\0alice\0", 7);
	ck_assert_int_eq(base64_encode(raw, 7 + PASSWORD_MAX + 1, b64,
	    sizeof(b64)), 0);
	ck_assert_int_eq(pop3_parse_sasl_plain(b64, strlen(b64), user,
	    sizeof(user), pass, sizeof(pass), &r), -1);
	ck_assert_int_eq(base64_encode(raw, 7 + PASSWORD_MAX, b64,
	    sizeof(b64)), 0);
	ck_assert_int_eq(pop3_parse_sasl_plain(b64, strlen(b64), user,
	    sizeof(user), pass, sizeof(pass), &r), 0);
	ck_assert_uint_eq(strlen(pass), PASSWORD_MAX);
}
END_TEST

START_TEST(test_user_name_ok)
{
	char	long_name[USER_NAME_MAX + 2];

	ck_assert(pop3_user_name_ok("alice", 5));
	ck_assert(pop3_user_name_ok("a.b-c_d@example", 15));
	ck_assert(!pop3_user_name_ok("", 0));
	ck_assert(!pop3_user_name_ok("a b", 3));
	ck_assert(!pop3_user_name_ok("a\tb", 3));
	ck_assert(!pop3_user_name_ok("a\x7f", 2));
	memset(long_name, 'u', sizeof(long_name));
	ck_assert(pop3_user_name_ok(long_name, USER_NAME_MAX));
	ck_assert(!pop3_user_name_ok(long_name, USER_NAME_MAX + 1));
}
END_TEST

static Suite *
pop3_parse_suite(void)
{
	Suite	*s = suite_create("pop3_parse");
	TCase	*tc = tcase_create("parse");

	tcase_add_loop_test(tc, test_cmd, 0, nitems(cmd_cases));
	tcase_add_test(tc, test_cmd_line_lengths);
	tcase_add_loop_test(tc, test_number, 0, nitems(num_cases));
	tcase_add_loop_test(tc, test_sasl_plain, 0, nitems(plain_cases));
	tcase_add_test(tc, test_sasl_plain_too_long);
	tcase_add_test(tc, test_user_name_ok);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(pop3_parse_suite)
