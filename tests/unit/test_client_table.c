/*
 * Unit tests for master/client_table.c: the connection count and the
 * growing login penalty of the standalone table, and the file the inetd
 * sessions share in state_dir (kept across processes, started afresh
 * when it is not ours or not whole, refused when others may write it or
 * it is a symlink).
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "master/client_table.h"
#include "unit.h"

#define DIR_TEMPLATE	"/tmp/maild-ct-XXXXXX"

static char	dir[sizeof(DIR_TEMPLATE)];
static char	path[sizeof(dir) + 16];

static void
setup(void)
{
	/* afresh each time: with CK_FORK=no (valgrind) one process runs all */
	memcpy(dir, DIR_TEMPLATE, sizeof(dir));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/clients", dir);
}

static void
teardown(void)
{
	client_table_unmap();
	(void)unlink(path);
	(void)rmdir(dir);
}

static struct sockaddr *
v4(const char *a)
{
	static struct sockaddr_in	sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, a, &sin.sin_addr), 1);
	return (struct sockaddr *)&sin;
}

static void
fail_n(const char *a, int n)
{
	while (n-- > 0)
		client_table_auth_failed(v4(a));
}

START_TEST(test_standalone_counts_connections)
{
	client_table_init();
	ck_assert(client_table_connect(v4("192.0.2.1"), 2));
	ck_assert(client_table_connect(v4("192.0.2.1"), 2));
	ck_assert(!client_table_connect(v4("192.0.2.1"), 2));
	/* another address has its own count */
	ck_assert(client_table_connect(v4("192.0.2.2"), 2));
	client_table_disconnect(v4("192.0.2.1"));
	ck_assert(client_table_connect(v4("192.0.2.1"), 2));
	/* no limit */
	ck_assert(client_table_connect(v4("192.0.2.1"), 0));
}
END_TEST

START_TEST(test_penalty_grows_and_clears)
{
	static const int	want[] = { 0, 0, 0, 1, 2, 4, 8, 16, 30, 30 };
	size_t			i;

	client_table_init();
	for (i = 0; i < nitems(want); i++) {
		ck_assert_int_eq(client_table_penalty(v4("198.51.100.7")),
		    want[i]);
		client_table_auth_failed(v4("198.51.100.7"));
	}
	ck_assert_int_eq(client_table_penalty(v4("198.51.100.8")), 0);
	client_table_auth_ok(v4("198.51.100.7"));
	ck_assert_int_eq(client_table_penalty(v4("198.51.100.7")), 0);
}
END_TEST

START_TEST(test_file_is_shared_across_processes)
{
	struct stat	st;
	pid_t		pid;
	int		status;

	/* another inetd session, in its own process, fails four times */
	if ((pid = fork()) == 0) {
		if (client_table_open(dir) != 0)
			_exit(1);
		fail_n("203.0.113.5", 4);
		client_table_unmap();
		_exit(0);
	}
	ck_assert_int_ne(pid, -1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);

	ck_assert_int_eq(client_table_open(dir), 0);
	ck_assert_int_eq(client_table_penalty(v4("203.0.113.5")), 2);
	/* the super-server limits connections under inetd: never refused */
	ck_assert(client_table_connect(v4("203.0.113.5"), 1));
	ck_assert(client_table_connect(v4("203.0.113.5"), 1));
	client_table_auth_ok(v4("203.0.113.5"));
	client_table_unmap();
	ck_assert_int_eq(client_table_open(dir), 0);
	ck_assert_int_eq(client_table_penalty(v4("203.0.113.5")), 0);
}
END_TEST

START_TEST(test_file_not_whole_starts_afresh)
{
	struct stat	st;
	off_t		size;
	int		fd;

	ck_assert_int_eq(client_table_open(dir), 0);
	fail_n("203.0.113.9", 6);
	ck_assert_int_eq(client_table_penalty(v4("203.0.113.9")), 8);
	client_table_unmap();
	ck_assert_int_eq(stat(path, &st), 0);
	size = st.st_size;

	/* cut short (a full disk, another version): a fresh table */
	ck_assert_int_ne(fd = open(path, O_WRONLY), -1);
	ck_assert_int_eq(ftruncate(fd, 100), 0);
	close(fd);
	ck_assert_int_eq(client_table_open(dir), 0);
	ck_assert_int_eq(client_table_penalty(v4("203.0.113.9")), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, size);
	fail_n("203.0.113.9", 4);
	client_table_unmap();

	/* the right size but a wrong header: fresh as well */
	ck_assert_int_ne(fd = open(path, O_WRONLY), -1);
	ck_assert_int_eq(pwrite(fd, "garbage!", 8, 0), 8);
	close(fd);
	ck_assert_int_eq(client_table_open(dir), 0);
	ck_assert_int_eq(client_table_penalty(v4("203.0.113.9")), 0);
}
END_TEST

START_TEST(test_file_others_may_write_is_refused)
{
	ck_assert_int_eq(client_table_open(dir), 0);
	client_table_unmap();
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(client_table_open(dir), -1);
	/* and then the calls do nothing */
	fail_n("203.0.113.1", 5);
	ck_assert_int_eq(client_table_penalty(v4("203.0.113.1")), 0);
}
END_TEST

START_TEST(test_file_symlink_is_refused)
{
	char	target[sizeof(dir) + 16];
	int	fd;

	snprintf(target, sizeof(target), "%s/target", dir);
	ck_assert_int_ne(fd = open(target, O_CREAT | O_WRONLY, 0600), -1);
	close(fd);
	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_int_eq(client_table_open(dir), -1);
	ck_assert_int_eq(access(target, F_OK), 0);
	ck_assert_int_eq(unlink(target), 0);
}
END_TEST

START_TEST(test_missing_dir_is_refused)
{
	ck_assert_int_eq(client_table_open("/nonexistent/maild-state"), -1);
	ck_assert(client_table_connect(v4("203.0.113.1"), 1));
	ck_assert_int_eq(client_table_penalty(v4("203.0.113.1")), 0);
}
END_TEST

static Suite *
client_table_suite(void)
{
	Suite	*s = suite_create("client_table");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_standalone_counts_connections);
	tcase_add_test(tc, test_penalty_grows_and_clears);
	tcase_add_test(tc, test_file_is_shared_across_processes);
	tcase_add_test(tc, test_file_not_whole_starts_afresh);
	tcase_add_test(tc, test_file_others_may_write_is_refused);
	tcase_add_test(tc, test_file_symlink_is_refused);
	tcase_add_test(tc, test_missing_dir_is_refused);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(client_table_suite)
