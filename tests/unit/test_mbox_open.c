/*
 * Unit tests for common/mbox_open.c: what is refused (symbolic link,
 * dangling link with create, hard link, FIFO without blocking,
 * directory, device, wrong owner), creating a missing maildrop (mode,
 * owner, umask, a failed fchown removes it), the descriptor's flags, and
 * mbox_same_file() after a rename or unlink.
 */
#include "autoconf.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mbox_open.h"
#include "mbox_test.h"
#include "unit.h"

struct refuse_case {
	const char	*name;
	void		(*make)(void);	/* makes mt_dir/mbox */
	int		 flags;
	int		 want_errno;
	const char	*want_status;
};

static void
make_symlink(void)
{
	char	real[512];

	close(mt_file("real", "x", 1));
	snprintf(real, sizeof(real), "%s", mt_path("real"));
	ck_assert_int_eq(symlink(real, mt_path("mbox")), 0);
}

static void
make_dangling(void)
{
	ck_assert_int_eq(symlink("nowhere", mt_path("mbox")), 0);
}

static void
make_hardlink(void)
{
	char	real[512];

	close(mt_file("real", "x", 1));
	snprintf(real, sizeof(real), "%s", mt_path("real"));
	ck_assert_int_eq(link(real, mt_path("mbox")), 0);
}

static void
make_fifo(void)
{
	ck_assert_int_eq(mkfifo(mt_path("mbox"), 0600), 0);
}

static void
make_dir(void)
{
	ck_assert_int_eq(mkdir(mt_path("mbox"), 0700), 0);
}

static const struct refuse_case refuse_cases[] = {
	{ "symbolic link", make_symlink, 0, ELOOP, "5.2.0" },
	{ "symbolic link, create", make_symlink, MBOX_OPEN_CREATE, ELOOP,
	    "5.2.0" },
	{ "dangling link, create", make_dangling, MBOX_OPEN_CREATE, ELOOP,
	    "5.2.0" },
	{ "hard link", make_hardlink, 0, EMLINK, "5.2.0" },
	{ "fifo", make_fifo, 0, EINVAL, "5.2.0" },
	{ "directory", make_dir, MBOX_OPEN_CREATE, EINVAL, "5.2.0" },
};

START_TEST(test_refused)
{
	const struct refuse_case	*c = &refuse_cases[_i];
	struct reason			 r;
	int				 fd;

	c->make();
	alarm(5);	/* a FIFO must not block us */
	fd = mbox_open(mt_path("mbox"), getuid(), getgid(), c->flags, &r);
	alarm(0);
	ck_assert_msg(fd == -1, "%s: got fd %d, want -1", c->name, fd);
	ck_assert_msg(errno == c->want_errno, "%s: got errno %d, want %d",
	    c->name, errno, c->want_errno);
	ck_assert_msg(strcmp(r.status, c->want_status) == 0,
	    "%s: got status %s, want %s", c->name, r.status, c->want_status);
	/* the link's target was neither created nor touched */
	ck_assert_int_eq(access(mt_path("nowhere"), F_OK), -1);
}
END_TEST

START_TEST(test_device_refused)
{
	struct reason	r;

	ck_assert_int_eq(mbox_open("/dev/null", 0, 0, 0, &r), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_str_eq(r.status, "5.2.0");
}
END_TEST

START_TEST(test_wrong_owner)
{
	struct reason	r;

	close(mt_file("mbox", "x", 1));
	ck_assert_int_eq(mbox_open(mt_path("mbox"), getuid() + 1, getgid(), 0,
	    &r), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_str_eq(r.status, "5.2.0");
}
END_TEST

START_TEST(test_missing)
{
	struct reason	r;

	ck_assert_int_eq(mbox_open(mt_path("mbox"), getuid(), getgid(), 0,
	    &r), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_str_eq(r.status, "4.2.0");
	ck_assert_int_eq(access(mt_path("mbox"), F_OK), -1);
}
END_TEST

static void
check_fd_flags(int fd)
{
	int	fl = fcntl(fd, F_GETFL);

	ck_assert_int_ne(fl, -1);
	ck_assert_msg((fl & O_ACCMODE) == O_RDWR, "got %#x, want O_RDWR", fl);
	ck_assert_msg(!(fl & O_NONBLOCK), "O_NONBLOCK still set");
	ck_assert_msg(!(fl & O_APPEND), "O_APPEND set");
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

START_TEST(test_existing)
{
	struct reason	r;
	int		fd;

	close(mt_file("mbox", "From x\n", 7));
	fd = mbox_open(mt_path("mbox"), getuid(), getgid(), MBOX_OPEN_CREATE,
	    &r);
	ck_assert_msg(fd >= 0, "got -1: %s", r.text);
	check_fd_flags(fd);
	ck_assert_int_eq(lseek(fd, 0, SEEK_END), 7);	/* not truncated */
	close(fd);
}
END_TEST

/* Creating, under a umask that would take the owner's write bit. */
START_TEST(test_create)
{
	struct reason	r;
	struct stat	st;
	int		fd;

	umask(0277);
	fd = mbox_open(mt_path("mbox"), getuid(), getgid(), MBOX_OPEN_CREATE,
	    &r);
	ck_assert_msg(fd >= 0, "got -1: %s", r.text);
	check_fd_flags(fd);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_msg((st.st_mode & 07777) == 0600, "got mode %o, want 600",
	    (unsigned)(st.st_mode & 07777));
	ck_assert_int_eq(st.st_uid, getuid());
	ck_assert_int_eq(st.st_gid, getgid());
	ck_assert_int_eq(st.st_size, 0);
	close(fd);
}
END_TEST

/* As root: the new maildrop belongs to the user. */
START_TEST(test_create_for_user)
{
	struct reason	r;
	struct stat	st;
	int		fd;

	if (geteuid() != 0)
		return;		/* only root can give files away */
	fd = mbox_open(mt_path("mbox"), 65534, 65534, MBOX_OPEN_CREATE, &r);
	ck_assert_msg(fd >= 0, "got -1: %s", r.text);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_uid, 65534);
	ck_assert_int_eq(st.st_gid, 65534);
	close(fd);
}
END_TEST

/*
 * When the new file cannot be given to the user, it is removed. As root
 * the test drops to nobody first, so that fchown to root fails.
 */
START_TEST(test_create_chown_fails)
{
	struct reason	r;
	int		status, fd;
	pid_t		pid;
	uid_t		want;

	ck_assert_int_eq(chmod(mt_dir, 0777), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		if (geteuid() == 0 && (setgid(65534) == -1 ||
		    setuid(65534) == -1))
			_exit(2);
		want = getuid() + 1;
		fd = mbox_open(mt_path("mbox"), want, getgid(),
		    MBOX_OPEN_CREATE, &r);
		if (fd != -1 || errno != EPERM || strcmp(r.status, "4.2.0"))
			_exit(3);
		_exit(access(mt_path("mbox"), F_OK) == -1 ? 0 : 4);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "child: got status %#x, want exit 0", status);
}
END_TEST

START_TEST(test_same_file)
{
	struct reason	r;
	char		other[512];
	int		fd;

	close(mt_file("mbox", "", 0));
	close(mt_file("new", "", 0));
	fd = mbox_open(mt_path("mbox"), getuid(), getgid(), 0, &r);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(mbox_same_file(fd, mt_path("mbox")), 1);
	/* the POP3 update renames a new file over the maildrop */
	snprintf(other, sizeof(other), "%s", mt_path("new"));
	ck_assert_int_eq(rename(other, mt_path("mbox")), 0);
	ck_assert_int_eq(mbox_same_file(fd, mt_path("mbox")), 0);
	ck_assert_int_eq(unlink(mt_path("mbox")), 0);
	ck_assert_int_eq(mbox_same_file(fd, mt_path("mbox")), 0);
	ck_assert_int_eq(mbox_same_file(-1, mt_path("mbox")), -1);
	close(fd);
}
END_TEST

static Suite *
mbox_open_suite(void)
{
	Suite	*s = suite_create("mbox_open");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, mt_setup, mt_teardown);
	tcase_add_loop_test(tc, test_refused, 0, nitems(refuse_cases));
	tcase_add_test(tc, test_device_refused);
	tcase_add_test(tc, test_wrong_owner);
	tcase_add_test(tc, test_missing);
	tcase_add_test(tc, test_existing);
	tcase_add_test(tc, test_create);
	tcase_add_test(tc, test_create_for_user);
	tcase_add_test(tc, test_create_chown_fails);
	tcase_add_test(tc, test_same_file);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(mbox_open_suite)
