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
#include "relay/relay.h"
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
	{ QRCPT_PENDING, 0, "alice", "alice@example.test", 0, { "", "" },
	    0, NULL, NULL, NULL, 0 },
	{ QRCPT_PENDING, 0, "bob", "\"b o\\\"b\"@example.test", 0, { "", "" },
	    0, NULL, NULL, NULL, 0 },
	{ QRCPT_RELAY, 0, QRCPT_REMOTE, "x%y@remote.test", 0, { "", "" },
	    0, NULL, NULL, NULL, 0 },
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
	{ "version 3", "V 3\nI 0123456789ABCDEF\nT 1\nN 0000000000\nS a\n"
	    "C x y\nR - 00000000000000000000 alice a@b\n\n" },
	{ "version not first", "I 0123456789ABCDEF\nV 2\nT 1\nN 0000000000\n"
	    "W 000000000000000\nS a\nC x y\n"
	    "R - 00000000000000000000 alice a@b\n\n" },
	{ "W in V1", "V 1\nI 0123456789ABCDEF\nT 1\nN 0000000000\n"
	    "W 000000000000000\nS a\nC x y\n"
	    "R - 00000000000000000000 alice a@b\n\n" },
	{ "tail in V1", "V 1\nI 0123456789ABCDEF\nT 1\nN 0000000000\nS a\n"
	    "C x y\nR - 00000000000000000000 alice a@b n=F\n\n" },
	{ "V2 without W", "V 2\nI 0123456789ABCDEF\nT 1\nN 0000000000\nS a\n"
	    "C x y\nR - 00000000000000000000 alice a@b\n\n" },
	{ "V2 short W", "V 2\nI 0123456789ABCDEF\nT 1\nN 0000000000\n"
	    "W 0\nS a\nC x y\nR - 00000000000000000000 alice a@b\n\n" },
	{ "V2 unknown flag", "V 2\nI 0123456789ABCDEF\nT 1\nN 0000000000\n"
	    "W 000000000000000\nS a\nC x y\nF body=binarymime\n"
	    "R - 00000000000000000000 alice a@b\n\n" },
	{ "V2 two RETs", "V 2\nI 0123456789ABCDEF\nT 1\nN 0000000000\n"
	    "W 000000000000000\nS a\nC x y\nF ret=hdrs ret=full\n"
	    "R - 00000000000000000000 alice a@b\n\n" },
	{ "V2 flag twice", "V 2\nI 0123456789ABCDEF\nT 1\nN 0000000000\n"
	    "W 000000000000000\nS a\nC x y\nF utf8 utf8\n"
	    "R - 00000000000000000000 alice a@b\n\n" },
	{ "V2 NEVER with others", "V 2\nI 0123456789ABCDEF\nT 1\n"
	    "N 0000000000\nW 000000000000000\nS a\nC x y\n"
	    "R - 00000000000000000000 alice a@b n=NF\n\n" },
	{ "V2 empty notify", "V 2\nI 0123456789ABCDEF\nT 1\n"
	    "N 0000000000\nW 000000000000000\nS a\nC x y\n"
	    "R - 00000000000000000000 alice a@b n=\n\n" },
	{ "V2 bad notify", "V 2\nI 0123456789ABCDEF\nT 1\n"
	    "N 0000000000\nW 000000000000000\nS a\nC x y\n"
	    "R - 00000000000000000000 alice a@b n=X\n\n" },
	{ "V2 two orcpts", "V 2\nI 0123456789ABCDEF\nT 1\n"
	    "N 0000000000\nW 000000000000000\nS a\nC x y\n"
	    "R - 00000000000000000000 alice a@b o=rfc822;a o=rfc822;b\n\n" },
	{ "V2 trailing space", "V 2\nI 0123456789ABCDEF\nT 1\n"
	    "N 0000000000\nW 000000000000000\nS a\nC x y\n"
	    "R - 00000000000000000000 alice a@b \n\n" },
	{ "V2 two ENVIDs", "V 2\nI 0123456789ABCDEF\nT 1\nN 0000000000\n"
	    "W 000000000000000\nS a\nC x y\nE a\nE b\n"
	    "R - 00000000000000000000 alice a@b\n\n" },
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

/* What the V 1 writer wrote: still read (and delivered, test_delivery.py). */
START_TEST(test_v1_read)
{
	static const char v1[] = "V 1\nI 0123456789ABCDEF\nT 1764100000\n"
	    "N 0000000002\nS a@b\nC 192.0.2.1 h\n"
	    "R - 00000000000000000000 alice alice@example.test\n\nbody\n";
	struct queue_env	env;
	struct reason		r;
	char			path[512];
	int			fd;

	snprintf(path, sizeof(path), "%s/v1", qdir);
	ck_assert_int_ne(fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600),
	    -1);
	ck_assert_int_eq(write(fd, v1, strlen(v1)), (ssize_t)strlen(v1));
	ck_assert_int_eq(queue_env_read(fd, &env, &r), 0);
	ck_assert_uint_eq(env.attempts, 2);
	ck_assert_uint_eq(env.flags, 0);
	ck_assert_ptr_null(env.envid);
	ck_assert_uint_eq(env.rcpts[0].notify, 0);
	ck_assert_int_eq(env.warned_off, 0);
	/* no W line to rewrite */
	ck_assert_int_eq(queue_warned_mark(fd, &env, 5), -1);
	ck_assert_int_eq(queue_rcpt_mark(fd, &env, 0, QRCPT_DONE, 7, false), 0);
	queue_env_free(&env);
	ck_assert_int_eq(queue_env_read(fd, &env, &r), 0);
	ck_assert_int_eq(env.rcpts[0].status, QRCPT_DONE);
	ck_assert_int_eq(env.body_len, 5);
	queue_env_free(&env);
	close(fd);
}
END_TEST

static struct queue_rcpt rcpts2[] = {
	{ QRCPT_PENDING, 0, "alice", "alice@example.test", 0, { "", "" },
	    DSN_NOTIFY_SUCCESS | DSN_NOTIFY_DELAY,
	    "rfc822;alice+x@example.test",
	    NULL, NULL, 0 },
	{ QRCPT_RELAY, 0, QRCPT_REMOTE, "bob@remote.test", 0, { "", "" },
	    DSN_NOTIFY_NEVER, NULL, NULL, NULL, 0 },
	{ QRCPT_PENDING, 0, "carol", "carol@example.test", 0, { "", "" },
	    0, "utf-8;c a%r\nol", NULL, NULL, 0 },
};

static void
write_v2(char *id_out)
{
	struct queue_writer	w;
	struct queue_env	env;
	struct reason		r;

	memset(&env, 0, sizeof(env));
	env.arrival = 1764092493;
	env.sender = "s@example.test";
	env.client = "192.0.2.1";
	env.helo = "h";
	env.flags = RELAY_F_8BIT | RELAY_F_UTF8 | RELAY_F_RET_HDRS |
	    QUEUE_F_POSTMASTER;
	env.envid = "QQ 314\n159";
	env.rcpts = rcpts2;
	env.nrcpts = nitems(rcpts2);
	ck_assert_int_eq(queue_writer_begin(&w, qdir, &env, 0, &r), 0);
	queue_writer_write(&w, "x\n", 2);
	ck_assert_int_eq(queue_writer_commit(&w, &r), 0);
	strcpy(id_out, w.id);
}

START_TEST(test_v2_roundtrip)
{
	struct queue_env	env;
	struct reason		r;
	char			id[32], line[8];
	int			fd;

	write_v2(id);
	ck_assert_int_ne(fd = open_active(id), -1);
	ck_assert_int_eq(pread(fd, line, 4, 0), 4);
	ck_assert(memcmp(line, "V 2\n", 4) == 0);
	ck_assert_int_eq(queue_env_read(fd, &env, &r), 0);
	ck_assert_uint_eq(env.flags, RELAY_F_8BIT | RELAY_F_UTF8 |
	    RELAY_F_RET_HDRS | QUEUE_F_POSTMASTER);
	ck_assert_str_eq(env.envid, "QQ 314\n159");
	ck_assert_int_eq(env.warned, 0);
	ck_assert_uint_eq(env.nrcpts, 3);
	ck_assert_uint_eq(env.rcpts[0].notify, DSN_NOTIFY_SUCCESS |
	    DSN_NOTIFY_DELAY);
	ck_assert_str_eq(env.rcpts[0].orcpt, "rfc822;alice+x@example.test");
	ck_assert_uint_eq(env.rcpts[1].notify, DSN_NOTIFY_NEVER);
	ck_assert_ptr_null(env.rcpts[1].orcpt);
	ck_assert_str_eq(env.rcpts[1].addr, "bob@remote.test");
	ck_assert_uint_eq(env.rcpts[2].notify, 0);
	ck_assert_str_eq(env.rcpts[2].orcpt, "utf-8;c a%r\nol");
	ck_assert_int_eq(env.body_len, 2);

	/* in-place updates leave the rest alone */
	ck_assert_int_eq(queue_warned_mark(fd, &env, 1764100000), 0);
	ck_assert_int_eq(queue_attempts_mark(fd, &env, 3), 0);
	ck_assert_int_eq(queue_rcpt_mark(fd, &env, 2, QRCPT_DONE, 99, false),
	    0);
	queue_env_free(&env);
	ck_assert_int_eq(queue_env_read(fd, &env, &r), 0);
	ck_assert_int_eq(env.warned, 1764100000);
	ck_assert_uint_eq(env.attempts, 3);
	ck_assert_int_eq(env.rcpts[2].status, QRCPT_DONE);
	ck_assert_int_eq(env.rcpts[2].mbox_off, 99);
	ck_assert_str_eq(env.rcpts[2].orcpt, "utf-8;c a%r\nol");
	ck_assert_str_eq(env.envid, "QQ 314\n159");
	ck_assert_int_eq(env.body_len, 2);
	queue_env_free(&env);
	close(fd);
}
END_TEST

static int
qdirfd(void)
{
	int	fd;

	ck_assert_int_ne(fd = open(qdir, O_RDONLY | O_DIRECTORY), -1);
	return fd;
}

START_TEST(test_defer_roundtrip)
{
	struct queue_env	env;
	struct reason		r;
	char			id[32];
	int			fd, dfd = qdirfd();

	write_v2(id);
	ck_assert_int_ne(fd = open_active(id), -1);
	ck_assert_int_eq(queue_env_read(fd, &env, &r), 0);
	/* nothing to say yet: no file, and loading none is fine */
	ck_assert_int_eq(queue_defer_save(dfd, &env), 0);
	ck_assert_int_eq(count("defer"), 0);
	ck_assert_int_eq(queue_defer_load(dfd, &env), 0);
	reason_set(&env.rcpts[1].why, "4.4.1", "connect to mx: refused\n%%x");
	env.rcpts[1].diagnostic = strdup("smtp; 451 4.7.1 greylisted");
	env.rcpts[1].remote_mta = strdup("mx.remote.test");
	env.rcpts[1].last_attempt = 1764100001;
	reason_set(&env.rcpts[2].why, "4.2.2", "mailbox full");
	ck_assert_int_eq(queue_defer_save(dfd, &env), 0);
	ck_assert_int_eq(count("defer"), 1);
	queue_env_free(&env);

	ck_assert_int_eq(queue_env_read(fd, &env, &r), 0);
	ck_assert_int_eq(queue_defer_load(dfd, &env), 0);
	ck_assert_str_eq(env.rcpts[0].why.status, "");
	ck_assert_ptr_null(env.rcpts[0].diagnostic);
	ck_assert_str_eq(env.rcpts[1].why.status, "4.4.1");
	/* control bytes do not survive into a DSN or a log line */
	ck_assert_str_eq(env.rcpts[1].why.text, "connect to mx: refused?%x");
	ck_assert_str_eq(env.rcpts[1].diagnostic, "smtp; 451 4.7.1 greylisted");
	ck_assert_str_eq(env.rcpts[1].remote_mta, "mx.remote.test");
	ck_assert_int_eq(env.rcpts[1].last_attempt, 1764100001);
	ck_assert_str_eq(env.rcpts[2].why.text, "mailbox full");
	ck_assert_ptr_null(env.rcpts[2].remote_mta);
	queue_defer_remove(dfd, env.id);
	ck_assert_int_eq(count("defer"), 0);
	queue_env_free(&env);
	close(fd);
	close(dfd);
}
END_TEST

static const char *bad_defer[] = {
	"",
	"garbage\n",
	"D 1 0123456789ABCDEF\nr 0 1 4.4.1 a b c",		/* no LF */
	"D 1 0123456789ABCDEF\nr 7 1 4.4.1 a b c\n",	/* no recipient 7 */
	"D 1 0123456789ABCDEF\nr 0 1 9.4.1 a b c\n",
	"D 1 0123456789ABCDEF\nr 0 1 4.4.1 a%0A b c\n",
	"D 1 0123456789ABCDEF\nr 0 1 4.4.1 a b\n",
	"D 1 0123456789ABCDEF\nr 0 1 4.4.1 a b c d\n",
	"D 1 0123456789ABCDEF\nr -1 1 4.4.1 a b c\n",
	"D 1 0123456789ABCDEF\nr 0 1 4.4.1 a  c\n",
	"D 1 0123456789ABCDEF\nr 0 1 4.4.1 a b c\n\xff\x01\n",
	"D 1 FFFFFFFFFFFFFFFF\nr 0 1 4.4.1 a b c\n",	/* another id */
	"D 1 0123456789ABCDEF\nr 0 1 4.4.1 a b c\nr 0 1 4.4.1 a b c\n"
	    "r 0 1 4.4.1 a b c\nr 0 1 4.4.1 a b c\n",	/* more than rcpts */
};

/* Hostile bytes in defer/ID: ignored as a whole, never a crash. */
START_TEST(test_defer_garbage)
{
	static const char v1[] = "V 1\nI 0123456789ABCDEF\nT 1764100000\n"
	    "N 0000000002\nS a@b\nC 192.0.2.1 h\n"
	    "R - 00000000000000000000 alice alice@example.test\n"
	    "R - 00000000000000000000 bob bob@example.test\n\nbody\n";
	struct queue_env	env;
	struct reason		r;
	char			path[512];
	int			fd, dfd = qdirfd();
	size_t			len = strlen(bad_defer[_i]);

	snprintf(path, sizeof(path), "%s/v1", qdir);
	ck_assert_int_ne(fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600),
	    -1);
	ck_assert_int_eq(write(fd, v1, strlen(v1)), (ssize_t)strlen(v1));
	ck_assert_int_eq(queue_env_read(fd, &env, &r), 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/defer/0123456789ABCDEF", qdir);
	ck_assert_int_ne(fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600),
	    -1);
	ck_assert_int_eq(write(fd, bad_defer[_i], len), (ssize_t)len);
	close(fd);
	ck_assert_int_eq(queue_defer_load(dfd, &env), -1);
	ck_assert_str_eq(env.rcpts[0].why.status, "");
	ck_assert_str_eq(env.rcpts[0].why.text, "");
	ck_assert_ptr_null(env.rcpts[0].diagnostic);
	queue_env_free(&env);
	close(dfd);
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
	tcase_add_test(tc, test_v1_read);
	tcase_add_test(tc, test_v2_roundtrip);
	tcase_add_test(tc, test_defer_roundtrip);
	tcase_add_loop_test(tc, test_defer_garbage, 0, nitems(bad_defer));
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(queue_suite)
