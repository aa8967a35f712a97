/*
 * Unit tests for the exactly-once core of local delivery: the journal
 * (queue/journal.c: record, replay, a torn or damaged tail, compaction)
 * and crash recovery (deliver_local_recover in queue/deliver_local.c).
 *
 * Recovery cases are a table: a real batch is delivered with
 * deliver_local_batch() (journal record, append, fsync, mark), then the
 * crash is staged -- the queue file's mark set back to pending and the
 * maildrop cut, extended or replaced -- and recovery must take the one
 * right action: mark a complete copy delivered, cut a torn tail off,
 * leave a torn copy that other mail follows (and deliver again), or
 * touch nothing. The maildrop belongs to the user running the test, so
 * it runs as root and as an ordinary user alike.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "queue/deliver_local.h"
#include "queue/journal.h"
#include "queue/queue_file.h"
#include "unit.h"

static char		 tmpdir[64];
static char		 qdir[128];
static char		 spool[128];
static char		 user[USER_NAME_MAX + 1];
static struct config	*cfg;

static void
setup(void)
{
	struct passwd	*pw;
	char		 err[256];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/journal_test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(qdir, sizeof(qdir), "%s/queue", tmpdir);
	snprintf(spool, sizeof(spool), "%s/mail", tmpdir);
	ck_assert_int_eq(mkdir(qdir, 0700), 0);
	ck_assert_int_eq(mkdir(spool, 0700), 0);
	ck_assert_int_eq(queue_dirs_init(qdir, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(pw = getpwuid(getuid()));
	snprintf(user, sizeof(user), "%s", pw->pw_name);
	ck_assert_ptr_nonnull(cfg = config_defaults());
	free(cfg->spool_dir);
	cfg->spool_dir = strdup(spool);
	free(cfg->queue_dir);
	cfg->queue_dir = strdup(qdir);
	free(cfg->mail_group);
	cfg->mail_group = strdup("");	/* the user's own group */
	cfg->dotlock = false;
}

static void
teardown(void)
{
	char	cmd[256];

	config_free(&cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* --- the journal ---------------------------------------------------------- */

struct seen {
	int			n;
	struct journal_batch	b[4];
	struct journal_msg	m[4][3];
};

static void
collect(void *arg, const struct journal_batch *b)
{
	struct seen	*s = arg;

	if (s->n >= (int)nitems(s->b))
		return;
	s->b[s->n] = *b;
	ck_assert_uint_le(b->n, 3);
	memcpy(s->m[s->n], b->msgs, b->n * sizeof(*b->msgs));
	s->b[s->n].msgs = s->m[s->n];
	s->n++;
}

static void
make_batch(struct journal_batch *b, struct journal_msg *m, size_t n,
    const char *who, off_t base)
{
	size_t	i;

	memset(b, 0, sizeof(*b));
	b->dev = 8;
	b->ino = 1234 + (ino_t)base;
	snprintf(b->user, sizeof(b->user), "%s", who);
	for (i = 0; i < n; i++) {
		memset(&m[i], 0, sizeof(m[i]));
		queue_id_new(m[i].qid);
		m[i].rcpt = (uint32_t)i;
		m[i].off = base + (off_t)i * 100;
		m[i].len = 100;
	}
	b->msgs = m;
	b->n = n;
}

START_TEST(test_journal_roundtrip_and_compaction)
{
	struct journal		j;
	struct journal_batch	b1, b2;
	struct journal_msg	m1[2], m2[3];
	struct seen		s;

	ck_assert_int_eq(journal_open(&j, qdir), 0);
	ck_assert_int_eq(journal_lock(&j), 0);
	make_batch(&b1, m1, 2, "alice", 0);
	make_batch(&b2, m2, 3, "bob", 5000);
	ck_assert_int_eq(journal_record(&j, &b1), 0);
	ck_assert_int_eq(journal_record(&j, &b2), 0);

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(journal_replay(&j, collect, &s), 2);
	ck_assert_int_eq(s.n, 2);
	ck_assert_str_eq(s.b[0].user, "alice");
	ck_assert_str_eq(s.b[1].user, "bob");
	ck_assert_uint_eq(s.b[1].n, 3);
	ck_assert(s.b[1].ino == b2.ino && s.b[1].dev == b2.dev);
	ck_assert_str_eq(s.m[1][2].qid, m2[2].qid);
	ck_assert_int_eq(s.m[1][2].off, 5200);
	ck_assert_int_eq(s.m[1][2].len, 100);
	ck_assert_uint_eq(s.m[1][2].rcpt, 2);

	/* compaction forgets them all */
	ck_assert_int_eq(journal_compact(&j), 0);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(journal_replay(&j, collect, &s), 0);
	ck_assert_int_eq(s.n, 0);
	journal_unlock(&j);
	journal_close(&j);
}
END_TEST

/*
 * A crash while a record was being written leaves part of it, or the
 * disk hands back garbage after the last good record: the good records
 * are still replayed, the rest is ignored.
 */
static const struct {
	const char	*head;	/* then a fresh queue id, when tail is set */
	const char	*tail;
} torn_tails[] = {
	{ "B", NULL },		/* a record cut after its first byte */
	{ "B 8 1235 2 bob\nM ", " 0 0 100\n" },	/* one of two messages */
	{ "B 8 1235 2 bob\nM ", " 0 0 1" },	/* cut inside a line */
	{ "", NULL },		/* a tail of zeroes (an extent, no data) */
	{ "garbage that is not a record\n", NULL },
};

START_TEST(test_journal_torn_tail)
{
	struct journal		j;
	struct journal_batch	b1;
	struct journal_msg	m1[2];
	struct seen		s;
	char			tail[256], qid[QUEUE_ID_MAX + 1];
	size_t			len;

	queue_id_new(qid);
	snprintf(tail, sizeof(tail), "%s%s%s", torn_tails[_i].head,
	    torn_tails[_i].tail != NULL ? qid : "",
	    torn_tails[_i].tail != NULL ? torn_tails[_i].tail : "");
	if ((len = strlen(tail)) == 0) {
		memset(tail, 0, 8);
		len = 8;
	}
	ck_assert_int_eq(journal_open(&j, qdir), 0);
	ck_assert_int_eq(journal_lock(&j), 0);
	make_batch(&b1, m1, 2, "alice", 0);
	ck_assert_int_eq(journal_record(&j, &b1), 0);
	ck_assert_int_eq(pwrite(j.fd, tail, len, j.size), (ssize_t)len);
	j.size += (off_t)len;

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(journal_replay(&j, collect, &s), 1);
	ck_assert_int_eq(s.n, 1);
	ck_assert_str_eq(s.b[0].user, "alice");
	ck_assert_str_eq(s.m[0][1].qid, m1[1].qid);
	journal_unlock(&j);
	journal_close(&j);
}
END_TEST

/* --- recovery --------------------------------------------------------------- */

/* How the crash is staged after a real delivery of two messages. */
enum crash {
	CRASH_AFTER_FSYNC,	/* both copies whole, marks lost */
	CRASH_TORN_SECOND,	/* the second copy cut in the middle */
	CRASH_BEFORE_SECOND,	/* the second copy never started */
	CRASH_TORN_THEN_OTHER,	/* torn second copy, then someone's mail */
	CRASH_MAILDROP_REPLACED,/* a POP3 update replaced the file since */
	CRASH_QUEUE_FILE_GONE,	/* the first message was finished */
};

static const struct {
	const char	*name;
	enum crash	 crash;
	char		 want1, want2;	/* queue file marks afterwards */
	int		 want_size;	/* -1 whole, 1 one copy, 2 unchanged */
} recover_cases[] = {
	{ "complete copies are marked delivered", CRASH_AFTER_FSYNC,
	    QRCPT_DONE, QRCPT_DONE, -1 },
	{ "a torn tail is cut off", CRASH_TORN_SECOND,
	    QRCPT_DONE, QRCPT_PENDING, 1 },
	{ "a copy never started stays pending", CRASH_BEFORE_SECOND,
	    QRCPT_DONE, QRCPT_PENDING, 1 },
	{ "a torn copy followed by other mail is left, delivered again",
	    CRASH_TORN_THEN_OTHER, QRCPT_DONE, QRCPT_PENDING, 2 },
	{ "a replaced maildrop is not touched", CRASH_MAILDROP_REPLACED,
	    QRCPT_PENDING, QRCPT_PENDING, 2 },
	{ "a finished queue file is skipped", CRASH_QUEUE_FILE_GONE,
	    0, QRCPT_DONE, -1 },
};

static const char	other_mail[] =
    "From someone@example.test Thu Jan  1 00:00:00 1970\n"
    "Subject: written by another MDA\n\nhello\n\n";

static void
queue_one(const char *body, char *id_out)
{
	struct queue_writer	w;
	struct queue_env	env;
	struct queue_rcpt	rc;
	struct reason		r;

	memset(&rc, 0, sizeof(rc));
	rc.status = QRCPT_PENDING;
	rc.user = user;
	rc.addr = user;
	memset(&env, 0, sizeof(env));
	env.arrival = 1764092493;
	env.sender = "sender@example.test";
	env.client = "192.0.2.1";
	env.helo = "client.example.test";
	env.rcpts = &rc;
	env.nrcpts = 1;
	ck_assert_int_eq(queue_writer_begin(&w, qdir, &env, 0, &r), 0);
	queue_writer_write(&w, body, strlen(body));
	ck_assert_int_eq(queue_writer_commit(&w, &r), 0);
	strcpy(id_out, w.id);
}

static int
open_queued(const char *id)
{
	char	path[256];

	snprintf(path, sizeof(path), "%s/active/%s", qdir, id);
	return open(path, O_RDWR);
}

/* The status byte of a queue file's only recipient; 0 if it is gone. */
static char
mark_of(const char *id)
{
	struct queue_env	env;
	struct reason		r;
	char			c;
	int			fd;

	if ((fd = open_queued(id)) == -1)
		return 0;
	ck_assert_int_eq(queue_env_read(fd, &env, &r), 0);
	c = env.rcpts[0].status;
	queue_env_free(&env);
	close(fd);
	return c;
}

static void
set_pending(const char *id)
{
	struct queue_env	env;
	struct reason		r;
	int			fd;

	ck_assert_int_ne(fd = open_queued(id), -1);
	ck_assert_int_eq(queue_env_read(fd, &env, &r), 0);
	ck_assert_int_eq(queue_rcpt_mark(fd, &env, 0, QRCPT_PENDING, 0,
	    true), 0);
	queue_env_free(&env);
	close(fd);
}

static off_t
file_size(const char *path)
{
	struct stat	st;

	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_size;
}

START_TEST(test_recover)
{
	struct journal		 j;
	struct deliver_item	 items[2];
	struct queue_env	 env[2];
	struct reason		 r;
	char			 id[2][QUEUE_ID_MAX + 1], path[512];
	char			 moved[2200];
	off_t			 one, whole, before;
	size_t			 i;
	int			 fd;
	enum crash		 crash = recover_cases[_i].crash;

	queue_one("Subject: one\n\nthe first message\n", id[0]);
	queue_one("Subject: two\n\nthe second message, a little longer\n"
	    "From here on it is quoted\n", id[1]);
	snprintf(path, sizeof(path), "%s/%s", spool, user);

	/* a real delivery of both, in one batch */
	ck_assert_int_eq(journal_open(&j, qdir), 0);
	ck_assert_int_eq(journal_lock(&j), 0);
	memset(items, 0, sizeof(items));
	for (i = 0; i < 2; i++) {
		ck_assert_int_ne(items[i].qfd = open_queued(id[i]), -1);
		ck_assert_int_eq(queue_env_read(items[i].qfd, &env[i], &r), 0);
		items[i].env = &env[i];
		items[i].rcpt = 0;
	}
	deliver_local_batch(cfg, &j, user, items, 2);
	for (i = 0; i < 2; i++) {
		ck_assert_msg(items[i].result == DELIVER_OK, "delivery %zu: "
		    "%s %s", i, items[i].why.status, items[i].why.text);
		queue_env_free(&env[i]);
		close(items[i].qfd);
	}
	ck_assert_int_eq(mark_of(id[0]), QRCPT_DONE);
	whole = file_size(path);

	/* where the second copy starts: after the first one */
	{
		char	*buf = malloc((size_t)whole + 1);
		char	*p;
		FILE	*f = fopen(path, "r");

		ck_assert_ptr_nonnull(buf);
		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(fread(buf, 1, (size_t)whole, f),
		    (size_t)whole);
		fclose(f);
		buf[whole] = '\0';
		ck_assert_ptr_nonnull(p = strstr(buf + 1, "\nFrom "));
		one = p + 1 - buf;
		free(buf);
	}

	/* the crash: the marks were never made durable */
	set_pending(id[0]);
	set_pending(id[1]);
	before = whole;
	switch (crash) {
	case CRASH_AFTER_FSYNC:
		break;
	case CRASH_TORN_SECOND:
		ck_assert_int_eq(truncate(path, one + (whole - one) / 2), 0);
		before = one + (whole - one) / 2;
		break;
	case CRASH_BEFORE_SECOND:
		ck_assert_int_eq(truncate(path, one), 0);
		before = one;
		break;
	case CRASH_TORN_THEN_OTHER:
		ck_assert_int_eq(truncate(path, one + 10), 0);
		ck_assert_int_ne(fd = open(path, O_WRONLY | O_APPEND), -1);
		ck_assert_int_eq(write(fd, other_mail, strlen(other_mail)),
		    (ssize_t)strlen(other_mail));
		close(fd);
		before = one + 10 + (off_t)strlen(other_mail);
		break;
	case CRASH_MAILDROP_REPLACED:
		/* a new inode with the same bytes, as the POP3 update makes */
		snprintf(moved, sizeof(moved), "cp -p %s %s.new && mv %s.new %s",
		    path, path, path, path);
		ck_assert_int_eq(system(moved), 0);
		break;
	case CRASH_QUEUE_FILE_GONE:
		snprintf(moved, sizeof(moved), "%s/active/%s", qdir, id[0]);
		ck_assert_int_eq(unlink(moved), 0);
		break;
	}

	deliver_local_recover(cfg, &j);

	if (crash == CRASH_QUEUE_FILE_GONE) {
		/* the second was marked pending above; it is complete */
		ck_assert_int_eq(mark_of(id[1]), recover_cases[_i].want2);
	} else {
		ck_assert_int_eq(mark_of(id[0]), recover_cases[_i].want1);
		ck_assert_int_eq(mark_of(id[1]), recover_cases[_i].want2);
	}
	switch (recover_cases[_i].want_size) {
	case -1:
		ck_assert_int_eq(file_size(path), whole);
		break;
	case 1:
		ck_assert_int_eq(file_size(path), one);
		break;
	default:
		ck_assert_int_eq(file_size(path), before);
		break;
	}
	/* recovery compacted the journal: a second run has nothing to do */
	{
		struct seen s;

		memset(&s, 0, sizeof(s));
		ck_assert_int_eq(journal_replay(&j, collect, &s), 0);
	}
	journal_unlock(&j);
	journal_close(&j);
}
END_TEST

static Suite *
journal_suite(void)
{
	Suite	*s = suite_create("journal");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_journal_roundtrip_and_compaction);
	tcase_add_loop_test(tc, test_journal_torn_tail, 0, nitems(torn_tails));
	tcase_add_loop_test(tc, test_recover, 0, nitems(recover_cases));
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(journal_suite)
