/*
 * Unit tests for common/mbox_lock.c: the fcntl lock against another
 * process (busy at once, busy after a bounded wait, taken when freed
 * during the wait), and the dotlock: content and mode, busy, release,
 * stale by dead pid, stale by age, live pid, empty lock, symbolic link,
 * touch, not releasing another process's lock, never breaking a "lock"
 * that is a maildrop. (Which user names may name a maildrop:
 * test_maildrop.c.)
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
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "clock.h"
#include "mbox_lock.h"
#include "mbox_test.h"
#include "unit.h"

/*
 * A child that locks mt_dir/mbox, says so on a pipe, holds the lock for
 * hold_ms and exits (which drops it).
 */
static pid_t
locker(int hold_ms)
{
	int	p[2], fd;
	char	c;
	pid_t	pid;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		close(p[0]);
		fd = open(mt_path("mbox"), O_RDWR);
		if (fd == -1 || mbox_lock_fcntl(fd, 0) == -1)
			_exit(1);
		if (write(p[1], "L", 1) != 1)
			_exit(1);
		usleep((useconds_t)hold_ms * 1000);
		_exit(0);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}

static void
reap(pid_t pid)
{
	int	status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

START_TEST(test_fcntl_busy)
{
	long long	t0, dt;
	pid_t		pid;
	int		fd;

	fd = mt_file("mbox", "x", 1);
	pid = locker(600);
	ck_assert_int_eq(mbox_lock_fcntl(fd, 0), -1);
	ck_assert_int_eq(errno, EAGAIN);
	t0 = mono_ms();
	ck_assert_int_eq(mbox_lock_fcntl(fd, 150), -1);
	ck_assert_int_eq(errno, EAGAIN);
	dt = mono_ms() - t0;
	ck_assert_msg(dt >= 140 && dt < 500, "waited %lld ms, want ~150", dt);
	/* freed while we wait */
	ck_assert_int_eq(mbox_lock_fcntl(fd, 5000), 0);
	ck_assert_msg(mono_ms() - t0 < 3000, "lock not taken soon after");
	reap(pid);
	ck_assert_int_eq(mbox_unlock_fcntl(fd), 0);
	close(fd);
}
END_TEST

START_TEST(test_fcntl_lock_unlock)
{
	pid_t	pid;
	int	fd;

	fd = mt_file("mbox", "x", 1);
	ck_assert_int_eq(mbox_lock_fcntl(fd, 0), 0);
	ck_assert_int_eq(mbox_lock_fcntl(fd, 0), 0);	/* ours already */
	ck_assert_int_eq(mbox_unlock_fcntl(fd), 0);
	pid = locker(0);	/* succeeds only if we let go */
	reap(pid);
	ck_assert_int_eq(mbox_lock_fcntl(-1, 0), -1);
	ck_assert_int_eq(errno, EBADF);
	close(fd);
}
END_TEST

static char *
lock_content(void)
{
	static char	buf[64];
	ssize_t		n;
	int		fd = open(mt_path("mbox.lock"), O_RDONLY);

	if (fd == -1)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

static void
write_lock(const char *content, time_t age)
{
	struct timespec	ts[2];
	int		fd;

	fd = mt_file("mbox.lock", content, strlen(content));
	close(fd);
	if (age > 0) {
		ts[0].tv_sec = ts[1].tv_sec = time(NULL) - age;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		ck_assert_int_eq(utimensat(AT_FDCWD, mt_path("mbox.lock"), ts,
		    0), 0);
	}
}

START_TEST(test_dotlock_basic)
{
	struct reason	r;
	struct stat	st;
	char		want[32];
	long long	t0, dt;

	ck_assert_int_eq(mbox_dotlock_acquire(mt_path("mbox"), 0, &r), 0);
	snprintf(want, sizeof(want), "%ld\n", (long)getpid());
	ck_assert_str_eq(lock_content(), want);
	ck_assert_int_eq(stat(mt_path("mbox.lock"), &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	/* busy: our own live pid is in it */
	ck_assert_int_eq(mbox_dotlock_acquire(mt_path("mbox"), 0, &r), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_str_eq(r.status, "4.2.0");
	t0 = mono_ms();
	ck_assert_int_eq(mbox_dotlock_acquire(mt_path("mbox"), 150, &r), -1);
	dt = mono_ms() - t0;
	ck_assert_msg(dt >= 140 && dt < 500, "waited %lld ms, want ~150", dt);
	ck_assert_int_eq(mbox_dotlock_touch(mt_path("mbox")), 0);
	ck_assert_int_eq(mbox_dotlock_release(mt_path("mbox")), 0);
	ck_assert_ptr_null(lock_content());
	ck_assert_int_eq(mbox_dotlock_release(mt_path("mbox")), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

struct stale_case {
	const char	*name;
	const char	*content;	/* "DEAD" = a pid that just exited */
	time_t		 age;
	int		 want;		/* 0 taken, -1 busy */
};

static const struct stale_case stale_cases[] = {
	{ "dead pid", "DEAD", 0, 0 },
	{ "dead pid, padded", "DEAD", 0, 0 },
	{ "live pid, fresh", "1\n", 0, -1 },
	{ "live pid, old", "1\n", 2 * 600, 0 },
	{ "empty, fresh", "", 0, -1 },
	{ "empty, old", "", 2 * 600, 0 },
	{ "not a pid, fresh", "hello\n", 0, -1 },
	{ "not a pid, old", "hello\n", 2 * 600, 0 },
	/* user "mbox.lock"'s maildrop at user mbox's dotlock: never broken */
	{ "an mbox, old", "From a@b.example Thu Jan  1 00:00:00 1970\n\n",
	  2 * 600, -1 },
	{ "an empty message, old", "From a Thu Jan  1 00:00:00 1970\n",
	  2 * 600, -1 },
};

START_TEST(test_dotlock_stale)
{
	const struct stale_case	*c = &stale_cases[_i];
	struct reason		 r;
	char			 content[32], want[32];
	int			 rc;
	pid_t			 pid;

	snprintf(content, sizeof(content), "%s", c->content);
	if (strcmp(c->content, "DEAD") == 0) {
		pid = fork();
		ck_assert_int_ne(pid, -1);
		if (pid == 0)
			_exit(0);
		reap(pid);	/* now no process has that pid */
		snprintf(content, sizeof(content), _i == 0 ? "%ld\n" :
		    "%10ld\n", (long)pid);
	}
	write_lock(content, c->age);
	rc = mbox_dotlock_acquire(mt_path("mbox"), 0, &r);
	ck_assert_msg(rc == c->want, "%s: got %d, want %d", c->name, rc,
	    c->want);
	if (rc == 0) {
		snprintf(want, sizeof(want), "%ld\n", (long)getpid());
		ck_assert_str_eq(lock_content(), want);
	} else {
		ck_assert_int_eq(errno, EAGAIN);
		ck_assert_str_eq(lock_content(), content);
	}
}
END_TEST

/*
 * A "lock" bigger than any lock is a maildrop: busy at once, even with a
 * wait (no use waiting), and never removed however old.
 */
START_TEST(test_dotlock_big_file_is_never_stale)
{
	struct reason	r;
	struct stat	st;
	char		big[MBOX_DOTLOCK_SIZE_MAX + 2];
	long long	t0, dt;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_lock(big, 10 * 600);
	t0 = mono_ms();
	ck_assert_int_eq(mbox_dotlock_acquire(mt_path("mbox"), 2000, &r), -1);
	dt = mono_ms() - t0;
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_msg(dt < 1000, "waited %lld ms for an mbox", dt);
	ck_assert_int_eq(stat(mt_path("mbox.lock"), &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)sizeof(big) - 1);
}
END_TEST

START_TEST(test_dotlock_symlink)
{
	struct reason	r;
	char		target[512];

	close(mt_file("target", "1\n", 2));
	snprintf(target, sizeof(target), "%s", mt_path("target"));
	ck_assert_int_eq(symlink(target, mt_path("mbox.lock")), 0);
	ck_assert_int_eq(mbox_dotlock_acquire(mt_path("mbox"), 0, &r), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(access(target, F_OK), 0);
	ck_assert_int_eq(mbox_dotlock_release(mt_path("mbox")), -1);
}
END_TEST

/* Released by its holder during our wait: we get it. */
START_TEST(test_dotlock_wait)
{
	struct reason	r;
	pid_t		pid;
	int		p[2];
	char		c;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		if (mbox_dotlock_acquire(mt_path("mbox"), 0, &r) == -1)
			_exit(1);
		if (write(p[1], "L", 1) != 1)
			_exit(1);
		usleep(200 * 1000);
		_exit(mbox_dotlock_release(mt_path("mbox")) == 0 ? 0 : 2);
	}
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	ck_assert_int_eq(mbox_dotlock_acquire(mt_path("mbox"), 0, &r), -1);
	ck_assert_int_eq(mbox_dotlock_acquire(mt_path("mbox"), 5000, &r), 0);
	reap(pid);
	ck_assert_int_eq(mbox_dotlock_release(mt_path("mbox")), 0);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_dotlock_touch_and_foreign)
{
	struct reason	r;
	struct stat	st;

	ck_assert_int_eq(mbox_dotlock_acquire(mt_path("mbox"), 0, &r), 0);
	/* pretend it has been held for a while */
	write_lock(lock_content(), 500);
	ck_assert_int_eq(mbox_dotlock_touch(mt_path("mbox")), 0);
	ck_assert_int_eq(stat(mt_path("mbox.lock"), &st), 0);
	ck_assert_int_le(time(NULL) - st.st_mtime, 5);
	/* broken as stale and taken by another: not ours to remove */
	write_lock("1\n", 0);
	ck_assert_int_eq(mbox_dotlock_touch(mt_path("mbox")), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(mbox_dotlock_release(mt_path("mbox")), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_str_eq(lock_content(), "1\n");
}
END_TEST

START_TEST(test_dotlock_cannot_create)
{
	struct reason	r;

	ck_assert_int_eq(mbox_dotlock_acquire(mt_path("nodir/mbox"), 0, &r),
	    -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_str_eq(r.status, "4.2.0");
}
END_TEST

static Suite *
mbox_lock_suite(void)
{
	Suite	*s = suite_create("mbox_lock");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, mt_setup, mt_teardown);
	tcase_add_test(tc, test_fcntl_busy);
	tcase_add_test(tc, test_fcntl_lock_unlock);
	tcase_add_test(tc, test_dotlock_basic);
	tcase_add_loop_test(tc, test_dotlock_stale, 0, nitems(stale_cases));
	tcase_add_test(tc, test_dotlock_symlink);
	tcase_add_test(tc, test_dotlock_big_file_is_never_stale);
	tcase_add_test(tc, test_dotlock_wait);
	tcase_add_test(tc, test_dotlock_touch_and_foreign);
	tcase_add_test(tc, test_dotlock_cannot_create);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(mbox_lock_suite)
