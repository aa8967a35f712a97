/*
 * Unit tests for the pure parts of queue/queue_admin.c: which messages
 * a selection (-s, -r, -d, -a) takes, the age columns of the summary,
 * and the summary's counting and order.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue_admin.h"
#include "unit.h"

static struct queue_rcpt rcpts[] = {
	{ .status = QRCPT_PENDING, .user = "alice", .addr = "alice@example.test" },
	{ .status = QRCPT_DONE, .user = "bob", .addr = "bob@Example.TEST" },
	{ .status = QRCPT_RELAY, .user = "@", .addr = "x@far.example" },
	{ .status = QRCPT_BOUNCED, .user = "@", .addr = "y@gone.example" },
};

static struct queue_env
env_with(const char *sender)
{
	struct queue_env e;

	memset(&e, 0, sizeof(e));
	e.sender = (char *)sender;
	e.rcpts = rcpts;
	e.nrcpts = nitems(rcpts);
	e.arrival = 1000000;
	return e;
}

static const struct {
	const char	*name;
	const char	*env_sender;
	struct queue_admin_filter f;
	bool		 want;
} match_cases[] = {
	{ "empty filter matches nothing", "s@a.example", { 0 }, false },
	{ "all", "s@a.example", { .all = true }, true },
	{ "sender exact", "s@a.example", { .sender = "s@a.example" }, true },
	{ "sender case", "S@A.Example", { .sender = "s@a.example" }, true },
	{ "sender brackets", "s@a.example", { .sender = "<s@a.example>" }, true },
	{ "sender other", "s@a.example", { .sender = "t@a.example" }, false },
	{ "sender prefix is not a match", "s@a.example.org",
	    { .sender = "s@a.example" }, false },
	{ "null sender as <>", "", { .sender = "<>" }, true },
	{ "null sender as empty", "", { .sender = "" }, true },
	{ "<> is not a real sender", "s@a.example", { .sender = "<>" }, false },
	{ "rcpt pending", "s@a.example", { .rcpt = "alice@example.test" }, true },
	{ "rcpt relay counts", "s@a.example", { .rcpt = "X@far.example" },
	    true },
	{ "rcpt already delivered", "s@a.example",
	    { .rcpt = "bob@example.test" }, false },
	{ "rcpt bounced", "s@a.example", { .rcpt = "y@gone.example" }, false },
	{ "domain", "s@a.example", { .domain = "far.example" }, true },
	{ "domain with @ and case", "s@a.example", { .domain = "@EXAMPLE.test" },
	    true },
	{ "domain only of done rcpts", "s@a.example",
	    { .domain = "gone.example" }, false },
	{ "domain suffix is not a match", "s@a.example",
	    { .domain = "example" }, false },
	{ "sender and domain", "s@a.example",
	    { .sender = "s@a.example", .domain = "far.example" }, true },
	{ "sender and wrong domain", "s@a.example",
	    { .sender = "s@a.example", .domain = "b.example" }, false },
};

START_TEST(test_match)
{
	struct queue_env e = env_with(match_cases[_i].env_sender);
	bool got = queue_admin_match(&match_cases[_i].f, &e);

	ck_assert_msg(got == match_cases[_i].want, "%s: got %d, want %d",
	    match_cases[_i].name, got, match_cases[_i].want);
}
END_TEST

static const struct {
	time_t	age;
	int	want;
} bucket_cases[] = {
	{ 0, 0 }, { 299, 0 }, { 300, 1 }, { 599, 1 }, { 600, 2 },
	{ 1199, 2 }, { 1200, 3 }, { 2400, 4 }, { 4800, 5 }, { 9600, 6 },
	{ 19200, 7 }, { 38400, 8 }, { 76799, 8 }, { 76800, 9 },
	{ 10 * 86400, 9 },
};

START_TEST(test_bucket)
{
	int got = queue_admin_age_bucket(bucket_cases[_i].age);

	ck_assert_msg(got == bucket_cases[_i].want, "age %lld: got %d, want %d",
	    (long long)bucket_cases[_i].age, got, bucket_cases[_i].want);
}
END_TEST

START_TEST(test_shape)
{
	struct queue_shape	s;
	struct queue_env	e = env_with("s@a.example");
	char			buf[4096];
	FILE			*fp;

	memset(&s, 0, sizeof(s));
	/* pending: alice@example.test, x@far.example; twice, one old */
	queue_shape_add(&s, &e, e.arrival + 10);
	queue_shape_add(&s, &e, e.arrival + 3000);
	e.rcpts = rcpts + 2;	/* only far.example pending */
	e.nrcpts = 2;
	queue_shape_add(&s, &e, e.arrival);
	ck_assert_uint_eq(s.sum.total, 5);
	ck_assert_uint_eq(s.sum.n[0], 3);
	ck_assert_uint_eq(s.sum.n[4], 2);
	fp = fmemopen(buf, sizeof(buf), "w");
	ck_assert_ptr_nonnull(fp);
	queue_shape_print(&s, fp, 1);
	fclose(fp);
	/* most first; the top-1 cut says what it left out */
	ck_assert_ptr_nonnull(strstr(buf, "far.example      3     2"));
	ck_assert_ptr_null(strstr(buf, "example.test  "));
	ck_assert_ptr_nonnull(strstr(buf, "(1 more domains)"));
	queue_shape_free(&s);
	ck_assert_uint_eq(s.nrows, 0);

	s.by_sender = true;
	e = env_with("");
	queue_shape_add(&s, &e, e.arrival);
	e = env_with("Someone@A.Example");
	queue_shape_add(&s, &e, e.arrival);
	ck_assert_uint_eq(s.nrows, 2);
	ck_assert_str_eq(s.rows[0].domain, "<>");
	ck_assert_str_eq(s.rows[1].domain, "a.example");
	queue_shape_free(&s);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("queue_admin");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, test_match, 0, nitems(match_cases));
	tcase_add_loop_test(tc, test_bucket, 0, nitems(bucket_cases));
	tcase_add_test(tc, test_shape);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(suite)
