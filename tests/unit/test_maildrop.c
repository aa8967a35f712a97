/*
 * Unit tests for common/maildrop.c, the one rule for user names that may
 * name a maildrop and the one way root opens one: the names real user
 * databases give out (dots, dashes, upper case, alice@example.org, long
 * ones), the names that must never reach a path, the user look-up (found,
 * no such user), and opening: created with the user's ownership, busy
 * while another process holds the lock, refused for a name that is a
 * dotlock or a user who does not exist.
 */
#include "autoconf.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "maildrop.h"
#include "mbox_lock.h"
#include "unit.h"

static const struct {
	const char	*name;
	bool		 want;
} name_cases[] = {
	{ "alice", true },
	{ "a.b-c_d9", true },
	{ "Alice", true },
	{ "ALICE.SMITH", true },
	{ "alice@example.org", true },		/* SSSD, fully qualified */
	{ "first.last@ad.example.org", true },
	{ "x.locked", true },
	{ "lock", true },
	{ "x.lock", false },		/* user x's dotlock */
	{ ".lock", false },
	{ "a.b.lock", false },
	{ "a@b.lock", false },
	{ ".alice", false },		/* .USER.pop3-update and friends */
	{ ".", false },
	{ "..", false },
	{ "-rf", false },
	{ "@", false },			/* a queue file's remote mark */
	{ "@example.org", false },
	{ "a/b", false },
	{ "../etc/passwd", false },
	{ "a b", false },
	{ "a\nb", false },
	{ "a+b", false },
	{ "", false },
	{ "caf\xc3\xa9", false },
};

START_TEST(test_name)
{
	ck_assert_msg(maildrop_name_ok(name_cases[_i].name) ==
	    name_cases[_i].want, "\"%s\": got %d, want %d",
	    name_cases[_i].name, !name_cases[_i].want, name_cases[_i].want);
}
END_TEST

START_TEST(test_name_length)
{
	char	name[USER_NAME_MAX + 2];

	/* 32 and more: longer than utmp's names, as LDAP ones can be */
	memset(name, 'a', sizeof(name));
	name[33] = '\0';
	ck_assert(maildrop_name_ok(name));
	memset(name, 'a', sizeof(name) - 1);
	name[USER_NAME_MAX] = '\0';
	ck_assert(maildrop_name_ok(name));
	name[USER_NAME_MAX] = 'a';
	name[USER_NAME_MAX + 1] = '\0';
	ck_assert(!maildrop_name_ok(name));
}
END_TEST

static char		 tmpdir[64];
static struct config	*cfg;
static char		 me[USER_NAME_MAX + 1];

static void
setup(void)
{
	struct passwd	*pw;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/maildrop_test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	ck_assert_ptr_nonnull(cfg = config_defaults());
	free(cfg->spool_dir);
	cfg->spool_dir = strdup(tmpdir);
	free(cfg->mail_group);
	cfg->mail_group = strdup("");
	cfg->dotlock = true;
	ck_assert_ptr_nonnull(pw = getpwuid(getuid()));
	snprintf(me, sizeof(me), "%s", pw->pw_name);
}

static void
teardown(void)
{
	char	cmd[128];

	config_free(&cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_user_lookup)
{
	struct maildrop_user	u;
	struct reason		r;

	ck_assert_int_eq(maildrop_user(cfg, me, &u, &r), 1);
	ck_assert_str_eq(u.name, me);
	ck_assert_uint_eq(u.uid, getuid());
	ck_assert_uint_eq(u.mail_gid, u.gid);	/* no mail_group */
	ck_assert_int_eq(maildrop_user(cfg, "nosuchuser_zz", &u, &r), 0);
	ck_assert_str_eq(r.status, "5.1.1");
	ck_assert_int_eq(maildrop_user(cfg, "nosuchuser@example.org", &u, &r),
	    0);
	ck_assert_int_eq(maildrop_user(cfg, "../etc", &u, &r), 0);
	ck_assert_str_eq(r.status, "5.1.1");
}
END_TEST

START_TEST(test_open_creates_and_locks)
{
	struct maildrop		md;
	struct reason		r;
	struct stat		st;
	char			path[PATH_MAX];
	int			p[2], status;
	char			c;
	pid_t			pid;

	ck_assert_int_eq(maildrop_open(cfg, me, MAILDROP_CREATE, 0, &md, &r),
	    MAILDROP_OK);
	snprintf(path, sizeof(path), "%s/%s", tmpdir, me);
	ck_assert_str_eq(md.path, path);
	ck_assert_int_eq(fstat(md.fd, &st), 0);
	ck_assert_uint_eq(st.st_uid, getuid());
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert(md.dotlocked);

	/* another process finds it busy, the dotlock and the fcntl lock */
	ck_assert_int_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		struct maildrop	md2;
		enum maildrop_result res;

		res = maildrop_open(cfg, me, 0, 0, &md2, &r);
		c = res == MAILDROP_BUSY && md2.fd == -1 ? 'B' : 'x';
		_exit(write(p[1], &c, 1) == 1 ? 0 : 1);
	}
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(c, 'B');
	close(p[0]);
	close(p[1]);

	maildrop_close(&md);
	ck_assert_int_eq(md.fd, -1);
	ck_assert(!md.dotlocked);
	strcat(path, ".lock");
	ck_assert_int_eq(access(path, F_OK), -1);
	/* free again */
	ck_assert_int_eq(maildrop_open(cfg, me, 0, 0, &md, &r), MAILDROP_OK);
	maildrop_close(&md);
}
END_TEST

START_TEST(test_open_refuses)
{
	struct maildrop	md;
	struct reason	r;
	char		path[PATH_MAX], name[USER_NAME_MAX + 8];

	/* no such user: for good */
	ck_assert_int_eq(maildrop_open(cfg, "nosuchuser_zz", MAILDROP_CREATE,
	    0, &md, &r), MAILDROP_NOUSER);
	ck_assert_int_eq(md.fd, -1);
	/* user me's dotlock is never a maildrop, whoever asks */
	snprintf(name, sizeof(name), "%s.lock", me);
	ck_assert_int_eq(maildrop_open(cfg, name, MAILDROP_CREATE, 0, &md,
	    &r), MAILDROP_NOUSER);
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	ck_assert_int_eq(access(path, F_OK), -1);
	/* not created unless asked */
	ck_assert_int_eq(maildrop_open(cfg, me, 0, 0, &md, &r),
	    MAILDROP_TEMPFAIL);
	/* a symbolic link is never followed */
	snprintf(path, sizeof(path), "%s/%s", tmpdir, me);
	ck_assert_int_eq(symlink("/etc/passwd", path), 0);
	ck_assert_int_eq(maildrop_open(cfg, me, MAILDROP_CREATE, 0, &md, &r),
	    MAILDROP_TEMPFAIL);
	ck_assert_int_eq(md.fd, -1);
}
END_TEST

static Suite *
maildrop_suite(void)
{
	Suite	*s = suite_create("maildrop");
	TCase	*tc = tcase_create("names");
	TCase	*to = tcase_create("open");

	tcase_add_loop_test(tc, test_name, 0, nitems(name_cases));
	tcase_add_test(tc, test_name_length);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(to, setup, teardown);
	tcase_add_test(to, test_user_lookup);
	tcase_add_test(to, test_open_creates_and_locks);
	tcase_add_test(to, test_open_refuses);
	suite_add_tcase(s, to);
	return s;
}

UNIT_MAIN(maildrop_suite)
