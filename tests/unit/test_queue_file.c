/*
 * Unit tests for queue/queue_file.c: envelope round trip (with hostile
 * field contents), in-place status updates, commit and abort, and the
 * strict reader refusing damaged envelopes.
 */
#include "autoconf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/queue_file.h"
#include "unit.h"

static char	qdir[64];

static void
setup(void)
{
	char	err[256];

	/* mkdtemp fills the template in: a fresh one for every test */
	snprintf(qdir, sizeof(qdir), "/tmp/queue_test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(qdir));
	ck_assert_int_eq(queue_dirs_init(qdir, err, sizeof(err)), 0);
}

static void
teardown(void)
{
	char	cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", qdir);
	ck_assert_int_eq(system(cmd), 0);
}

static int
count(const char *sub)
{
	char		 path[512];
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	snprintf(path, sizeof(path), "%s/%s", qdir, sub);
	ck_assert_ptr_nonnull(d = opendir(path));
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int
open_active(const char *id)
{
	char	path[512];

	snprintf(path, sizeof(path), "%s/active/%s", qdir, id);
	return open(path, O_RDWR);
}

static struct queue_rcpt rcpts[] = {
	{ QRCPT_PENDING, 0, "alice", "alice@example.test", 0, { "", "" } },
	{ QRCPT_PENDING, 0, "bob", "\"b o\\\"b\"@example.test", 0, { "", "" } },
	{ QRCPT_RELAY, 0, QRCPT_REMOTE, "x%y@remote.test", 0, { "", "" } },
};

static void
write_one(const char *sender, const char *body, char *id_out)
{
	struct queue_writer	w;
	struct queue_env	env;
	struct reason		r;

	memset(&env, 0, sizeof(env));
	env.arrival = 1764092493;
	env.sender = (char *)sender;
	env.auth_user = "alice";
	env.client = "192.0.2.1";
	env.helo = "evil\nR - 000 root root@x";
	env.rcpts = rcpts;
	env.nrcpts = nitems(rcpts);
	ck_assert_int_eq(queue_writer_begin(&w, qdir, &env, 0, &r), 0);
	queue_writer_write(&w, body, strlen(body));
	ck_assert_int_eq(queue_writer_commit(&w, &r), 0);
	ck_assert(queue_id_valid(w.id));
	strcpy(id_out, w.id);
}

START_TEST(test_roundtrip)
{
	struct queue_env	env;
	struct reason		r;
	char			id[32], body[64];
	int			fd;

	write_one("s p%ce@example.test", "Subject: x\n\nhello\n", id);
	ck_assert_int_eq(count("active"), 1);
	ck_assert_int_eq(count("incoming"), 0);
	ck_assert_int_ne(fd = open_active(id), -1);
	ck_assert_int_eq(queue_env_read(fd, &env, &r), 0);
	ck_assert_str_eq(env.id, id);
	ck_assert_int_eq(env.arrival, 1764092493);
	ck_assert_str_eq(env.sender, "s p%ce@example.test");
	ck_assert_str_eq(env.auth_user, "alice");
	ck_assert_str_eq(env.client, "192.0.2.1");
	ck_assert_str_eq(env.helo, "evil\nR - 000 root root@x");
	ck_assert_uint_eq(env.nrcpts, 3);
	ck_assert_str_eq(env.rcpts[1].addr, "\"b o\\\"b\"@example.test");
	ck_assert_str_eq(env.rcpts[2].user, QRCPT_REMOTE);
	ck_assert_int_eq(env.rcpts[2].status, QRCPT_RELAY);
	ck_assert_int_eq(env.body_len, 18);
	ck_assert_int_eq(pread(fd, body, 18, env.body_off), 18);
	ck_assert(memcmp(body, "Subject: x\n\nhello\n", 18) == 0);
	ck_assert(!queue_env_done(&env));

	/* status updates in place survive a re-read */
	ck_assert_int_eq(queue_rcpt_mark(fd, &env, 0, QRCPT_TRYING, 123456,
	    true), 0);
	ck_assert_int_eq(queue_rcpt_mark(fd, &env, 1, QRCPT_BOUNCED, 0,
	    false), 0);
	ck_assert_int_eq(queue_attempts_mark(fd, &env, 7), 0);
	queue_env_free(&env);
	ck_assert_int_eq(queue_env_read(fd, &env, &r), 0);
	ck_assert_int_eq(env.rcpts[0].status, QRCPT_TRYING);
	ck_assert_int_eq(env.rcpts[0].mbox_off, 123456);
	ck_assert_int_eq(env.rcpts[1].status, QRCPT_BOUNCED);
	ck_assert_uint_eq(env.attempts, 7);
	ck_assert_int_eq(env.body_len, 18);
	ck_assert_int_eq(queue_rcpt_mark(fd, &env, 0, QRCPT_DONE, 123456,
	    false), 0);
	ck_assert_int_eq(queue_rcpt_mark(fd, &env, 2, QRCPT_DONE, 0,
	    false), 0);
	ck_assert(queue_env_done(&env));
	queue_env_free(&env);
	close(fd);
}
END_TEST

START_TEST(test_null_sender_and_empty_body)
{
	struct queue_env	env;
	struct reason		r;
	char			id[32];
	int			fd;

	write_one("", "", id);
	ck_assert_int_ne(fd = open_active(id), -1);
	ck_assert_int_eq(queue_env_read(fd, &env, &r), 0);
	ck_assert_str_eq(env.sender, "");
	ck_assert_int_eq(env.body_len, 0);
	queue_env_free(&env);
	close(fd);
}
END_TEST

START_TEST(test_abort_and_limit)
{
	struct queue_writer	w;
	struct queue_env	env;
	struct reason		r;

	memset(&env, 0, sizeof(env));
	env.sender = "a@b";
	env.client = "::1";
	env.helo = "h";
	env.rcpts = rcpts;
	env.nrcpts = 1;
	ck_assert_int_eq(queue_writer_begin(&w, qdir, &env, 0, &r), 0);
	ck_assert_int_eq(count("incoming"), 1);
	queue_writer_abort(&w);
	ck_assert_int_eq(count("incoming"), 0);

	ck_assert_int_eq(queue_writer_begin(&w, qdir, &env, 10, &r), 0);
	queue_writer_write(&w, "0123456789", 10);
	queue_writer_write(&w, "x", 1);
	ck_assert_int_eq(queue_writer_commit(&w, &r), -1);
	ck_assert_str_eq(r.status, "5.3.4");
	ck_assert_int_eq(count("incoming"), 0);
	ck_assert_int_eq(count("active"), 0);
}
END_TEST

static const struct {
	const char	*name;
	const char	*text;
} bad_envs[] = {
	{ "empty", "" },
	{ "no end", "V 1\nI 0123456789ABCDEF\n" },
	{ "no version", "I 0123456789ABCDEF\nT 1\nN 0000000000\nS a\n"
	    "C x y\nR - 00000000000000000000 alice a@b\n\n" },
	{ "bad id", "V 1\nI 0123\nT 1\nN 0000000000\nS a\nC x y\n"
	    "R - 00000000000000000000 alice a@b\n\n" },
	{ "no rcpt", "V 1\nI 0123456789ABCDEF\nT 1\nN 0000000000\nS a\n"
	    "C x y\n\n" },
	{ "bad status", "V 1\nI 0123456789ABCDEF\nT 1\nN 0000000000\nS a\n"
	    "C x y\nR Q 00000000000000000000 alice a@b\n\n" },
	{ "short offset", "V 1\nI 0123456789ABCDEF\nT 1\nN 0000000000\nS a\n"
	    "C x y\nR - 000 alice a@b\n\n" },
	{ "bad escape", "V 1\nI 0123456789ABCDEF\nT 1\nN 0000000000\nS a%2\n"
	    "C x y\nR - 00000000000000000000 alice a@b\n\n" },
	{ "nul escape", "V 1\nI 0123456789ABCDEF\nT 1\nN 0000000000\nS a%00\n"
	    "C x y\nR - 00000000000000000000 alice a@b\n\n" },
	{ "duplicate sender", "V 1\nI 0123456789ABCDEF\nT 1\nN 0000000000\n"
	    "S a\nS b\nC x y\nR - 00000000000000000000 alice a@b\n\n" },
	{ "unknown key", "V 1\nI 0123456789ABCDEF\nT 1\nN 0000000000\nS a\n"
	    "C x y\nZ z\nR - 00000000000000000000 alice a@b\n\n" },
};

START_TEST(test_reader_refuses_damage)
{
	struct queue_env	env;
	struct reason		r;
	char			path[512];
	int			fd;

	snprintf(path, sizeof(path), "%s/bad", qdir);
	ck_assert_int_ne(fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600),
	    -1);
	ck_assert_int_eq(write(fd, bad_envs[_i].text,
	    strlen(bad_envs[_i].text)), (ssize_t)strlen(bad_envs[_i].text));
	ck_assert_msg(queue_env_read(fd, &env, &r) == -1,
	    "%s: accepted", bad_envs[_i].name);
	close(fd);
}
END_TEST

START_TEST(test_ids_unique_and_ordered)
{
	char	prev[32] = "", id[32];
	int	i;

	for (i = 0; i < 1000; i++) {
		queue_id_new(id);
		ck_assert(queue_id_valid(id));
		ck_assert_msg(strcmp(id, prev) != 0, "duplicate id %s", id);
		/* the time part (12 characters) never goes backwards */
		ck_assert(strncmp(id, prev, 12) >= 0);
		strcpy(prev, id);
	}
	ck_assert(!queue_id_valid("../etc/passwd"));
	ck_assert(!queue_id_valid("0123456789abcdef"));
}
END_TEST

static Suite *
queue_suite(void)
{
	Suite	*s = suite_create("queue_file");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_null_sender_and_empty_body);
	tcase_add_test(tc, test_abort_and_limit);
	tcase_add_loop_test(tc, test_reader_refuses_damage, 0,
	    nitems(bad_envs));
	tcase_add_test(tc, test_ids_unique_and_ordered);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(queue_suite)
