/*
 * Unit tests for common/log.c's log_value(): a value from a client is
 * written so that it cannot fake another key=value field.
 */
#include "autoconf.h"

#include <string.h>

#include "log.h"
#include "unit.h"

static const struct {
	const char	*in;
	const char	*want;
} cases[] = {
	{ "alice", "alice" },
	{ "alice@example.org", "alice@example.org" },
	{ "a.b-c_d+e", "a.b-c_d+e" },
	{ "", "\"\"" },
	{ "alice client=192.0.2.1", "\"alice client=192.0.2.1\"" },
	{ "a\"b", "\"a\\\"b\"" },
	{ "a\\b", "\"a\\\\b\"" },
	{ "x=y", "\"x=y\"" },
	{ "tab\there", "\"tab\there\"" },
};

START_TEST(test_value)
{
	char		buf[64];
	const char	*got = log_value(cases[_i].in, buf, sizeof(buf));

	ck_assert_msg(strcmp(got, cases[_i].want) == 0, "%s: got %s, want %s",
	    cases[_i].in, got, cases[_i].want);
}
END_TEST

START_TEST(test_value_truncated_stays_quoted)
{
	char	buf[8];

	ck_assert_str_eq(log_value("a b c d e f g", buf, sizeof(buf)),
	    "\"a b c\"");
	ck_assert_str_eq(log_value("\"\"\"\"", buf, sizeof(buf)),
	    "\"\\\"\\\"\"");
	ck_assert_str_eq(log_value("a b", buf, 2), "\"\"");
}
END_TEST

static Suite *
log_suite(void)
{
	Suite	*s = suite_create("log");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, test_value, 0, nitems(cases));
	tcase_add_test(tc, test_value_truncated_stays_quoted);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(log_suite)
