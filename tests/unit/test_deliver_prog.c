/*
 * Unit tests for queue/deliver_prog.c: nothing runs or is written as
 * root; a program's exit status, signal or time limit gives the result
 * Postfix's local(8) would (table-driven); its output ends the reason.
 * The table runs programs as "nobody", which needs root: as an ordinary
 * user only the refusals are checked.
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
#include "queue/deliver_prog.h"
#include "unit.h"

static const char	msgtext[] = "Subject: hi\n\nbody\n";

/* The message in an unlinked temporary file. */
static int
msg_fd(void)
{
	char	path[] = "/tmp/test_deliver_prog.XXXXXX";
	int	fd;

	ck_assert_int_ne(fd = mkstemp(path), -1);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(write(fd, msgtext, sizeof(msgtext) - 1),
	    (ssize_t)sizeof(msgtext) - 1);
	return fd;
}

static void
msg_init(struct deliver_msg *m, int fd)
{
	memset(m, 0, sizeof(*m));
	m->sender = "s@example.org";
	m->arrival = 0;
	m->rcpt = "alice+x@example.test";
	m->extension = "x";
	m->delivered_to = true;
	m->fd = fd;
	m->off = 0;
	m->len = (off_t)sizeof(msgtext) - 1;
}

START_TEST(test_root_is_refused)
{
	struct config		*cfg = config_defaults();
	struct deliver_as	 root = { "root", 0, 0, "/", "/bin/sh" };
	struct deliver_msg	 m;
	struct reason		 r;
	struct stat		 st;
	char			 dir[] = "/tmp/test_deliver_prog.XXXXXX";
	char			 path[64];
	int			 fd = msg_fd();

	msg_init(&m, fd);
	ck_assert_int_eq(deliver_prog(cfg, &root, "touch /tmp/never", &m, &r),
	    DELIVER_BOUNCE);
	ck_assert_str_eq(r.status, "5.7.1");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	ck_assert_int_eq(deliver_file(cfg, &root, path, &m, &r),
	    DELIVER_BOUNCE);
	ck_assert_str_eq(r.status, "5.7.1");
	ck_assert_int_eq(stat(path, &st), -1);
	ck_assert_int_eq(rmdir(dir), 0);
	close(fd);
	config_free(&cfg);
}
END_TEST

struct exit_case {
	const char		*command;
	enum deliver_result	 result;
	const char		*status;
	const char		*text;		/* in the reason */
};

static const struct exit_case exit_cases[] = {
	{ "cat >/dev/null", DELIVER_OK, "2.0.0", "delivered" },
	{ "echo nope; exit 1", DELIVER_BOUNCE, "5.3.0",
	    "exited with status 1 (unknown mail system error): nope" },
	{ "exit 67", DELIVER_BOUNCE, "5.1.1", "user unknown" },
	{ "echo later >&2; exit 75", DELIVER_DEFER, "4.3.0",
	    "(temporary failure): later" },
	{ "exit 71", DELIVER_DEFER, "4.3.0", "system resource problem" },
	{ "kill -9 $$", DELIVER_BOUNCE, "5.3.0", "died with signal 9" },
	{ "sleep 5", DELIVER_DEFER, "4.3.0", "time limit exceeded" },
	/* the environment, exactly as documented */
	{ "test \"$USER:$LOGNAME:$SENDER:$RECIPIENT:$EXTENSION:$LOCAL:"
	    "$DOMAIN\" "
	    "= nobody:nobody:s@example.org:alice+x@example.test:x:alice+x:"
	    "example.test", DELIVER_OK, "2.0.0", "delivered" },
	/* stdin: From_ line, Return-Path, Delivered-To, the message */
	{ "head -1 | grep -q '^From s@example.org ' && exit 0; exit 1",
	    DELIVER_OK, "2.0.0", "delivered" },
	{ "sed -n 2,4p | tr '\\n' '|' | grep -qx "
	    "'Return-Path: <s@example.org>|Delivered-To: alice+x@example.test|"
	    "Subject: hi|'", DELIVER_OK, "2.0.0", "delivered" },
};

START_TEST(test_exit_status_mapping)
{
	const struct exit_case	*c = &exit_cases[_i];
	struct config		*cfg;
	struct deliver_as	 who;
	struct deliver_msg	 m;
	struct passwd		*pw;
	struct reason		 r;
	int			 fd;

	if (geteuid() != 0 || (pw = getpwnam("nobody")) == NULL ||
	    pw->pw_uid == 0)
		return;		/* needs root, and a nobody */
	cfg = config_defaults();
	cfg->command_time_limit = 1;
	who.name = "nobody";
	who.uid = pw->pw_uid;
	who.gid = pw->pw_gid;
	who.home = "/";
	who.shell = "/bin/sh";
	fd = msg_fd();
	msg_init(&m, fd);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(deliver_prog(cfg, &who, c->command, &m, &r),
	    c->result);
	ck_assert_str_eq(r.status, c->status);
	ck_assert_msg(strstr(r.text, c->text) != NULL, "%s: got \"%s\", want "
	    "\"%s\" in it", c->command, r.text, c->text);
	close(fd);
	config_free(&cfg);
}
END_TEST

static Suite *
deliver_prog_suite(void)
{
	Suite	*s = suite_create("deliver_prog");
	TCase	*tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_root_is_refused);
	tcase_add_loop_test(tc, test_exit_status_mapping, 0,
	    (int)nitems(exit_cases));
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(deliver_prog_suite)
