/*
 * Unit tests for priv/client_table.c: the connection count and the
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

#include "priv/client_table.h"
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

static struct sockaddr *
v6(const char *a)
{
	static struct sockaddr_in6	sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, a, &sin6.sin6_addr), 1);
	return (struct sockaddr *)&sin6;
}

static void
fail_n(const char *a, int n)
{
	while (n-- > 0)
		client_table_auth_failed(v4(a));
}

#define SMTP	CLIENT_TABLE_SMTP
#define POP3	CLIENT_TABLE_POP3

START_TEST(test_standalone_counts_connections)
{
	client_table_init();
	ck_assert(client_table_connect(v4("192.0.2.1"), SMTP, 2));
	ck_assert(client_table_connect(v4("192.0.2.1"), SMTP, 2));
	ck_assert(!client_table_connect(v4("192.0.2.1"), SMTP, 2));
	/* another address has its own count */
	ck_assert(client_table_connect(v4("192.0.2.2"), SMTP, 2));
	client_table_disconnect(v4("192.0.2.1"), SMTP);
	ck_assert(client_table_connect(v4("192.0.2.1"), SMTP, 2));
	/* no limit */
	ck_assert(client_table_connect(v4("192.0.2.1"), SMTP, 0));
}
END_TEST

/* Each pool has its own count: POP3 sessions do not use up SMTP's. */
START_TEST(test_connections_counted_per_protocol)
{
	client_table_init();
	ck_assert(client_table_connect(v4("192.0.2.3"), POP3, 2));
	ck_assert(client_table_connect(v4("192.0.2.3"), POP3, 2));
	ck_assert(!client_table_connect(v4("192.0.2.3"), POP3, 2));
	ck_assert(client_table_connect(v4("192.0.2.3"), SMTP, 1));
	ck_assert(!client_table_connect(v4("192.0.2.3"), SMTP, 1));
	client_table_disconnect(v4("192.0.2.3"), SMTP);
	ck_assert(!client_table_connect(v4("192.0.2.3"), POP3, 2));
	client_table_disconnect(v4("192.0.2.3"), POP3);
	ck_assert(client_table_connect(v4("192.0.2.3"), POP3, 2));
}
END_TEST

START_TEST(test_penalty_grows)
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
}
END_TEST

/*
 * Two wrong guesses, then a login with a password the attacker knows
 * (their own account), over and over: the successes must not wipe the
 * failures, or the penalty never starts.
 */
START_TEST(test_success_does_not_forgive_failures)
{
	const char	*a = "198.51.100.9";
	int		 i, last = 0, p;

	client_table_init();
	for (i = 0; i < 6; i++) {
		fail_n(a, 2);
		client_table_auth_ok(v4(a));
		p = client_table_penalty(v4(a));
		ck_assert_int_ge(p, last);
		last = p;
	}
	/* 12 failures: the penalty is at its ceiling */
	ck_assert_int_eq(last, 30);
}
END_TEST

/*
 * An IPv6 client usually has a whole /64 (RFC 7421) and picks a fresh
 * address in it at will: count per /64. IPv4 (plain or v4-mapped) stays
 * per address.
 */
START_TEST(test_ipv6_counted_per_64)
{
	client_table_init();
	client_table_auth_failed(v6("2001:db8:1:2::1"));
	client_table_auth_failed(v6("2001:db8:1:2::2"));
	client_table_auth_failed(v6("2001:db8:1:2:ffff:ffff:ffff:ffff"));
	client_table_auth_failed(v6("2001:db8:1:2:1234::9"));
	/* four failures from one /64: the penalty has started */
	ck_assert_int_eq(client_table_penalty(v6("2001:db8:1:2::77")), 2);
	/* the next /64, and one differing in its first half, are apart */
	ck_assert_int_eq(client_table_penalty(v6("2001:db8:1:3::1")), 0);
	ck_assert_int_eq(client_table_penalty(v6("2001:db9:1:2::1")), 0);

	/* IPv4: per address, also when it comes v4-mapped */
	fail_n("192.0.2.10", 4);
	ck_assert_int_eq(client_table_penalty(v4("192.0.2.10")), 2);
	ck_assert_int_eq(client_table_penalty(v4("192.0.2.11")), 0);
	ck_assert_int_eq(client_table_penalty(v6("::ffff:192.0.2.10")), 2);
	ck_assert_int_eq(client_table_penalty(v6("::ffff:192.0.2.11")), 0);

	/* connections as well */
	ck_assert(client_table_connect(v6("2001:db8:7::1"), POP3, 2));
	ck_assert(client_table_connect(v6("2001:db8:7::2"), POP3, 2));
	ck_assert(!client_table_connect(v6("2001:db8:7::3"), POP3, 2));
	ck_assert(client_table_connect(v6("2001:db8:8::1"), POP3, 2));
	client_table_disconnect(v6("2001:db8:7::1"), POP3);
	ck_assert(client_table_connect(v6("2001:db8:7::3"), POP3, 2));
	ck_assert(client_table_connect(v4("192.0.2.20"), POP3, 1));
	ck_assert(client_table_connect(v4("192.0.2.21"), POP3, 1));
	ck_assert(!client_table_connect(v6("::ffff:192.0.2.21"), POP3, 1));
}
END_TEST

/*
 * A flood of fresh addresses, more than the table holds, then a new
 * attacker: the least recently seen entries make room, so the attacker
 * is still counted (a full table used to count nothing).
 */
START_TEST(test_full_table_evicts_the_oldest)
{
	struct sockaddr_in6	sin6;
	int			i;

	client_table_init();
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::", &sin6.sin6_addr),
	    1);
	for (i = 0; i < 3 * 4096; i++) {
		/* a fresh /64 each time */
		sin6.sin6_addr.s6_addr[4] = (unsigned char)(i >> 8);
		sin6.sin6_addr.s6_addr[5] = (unsigned char)i;
		client_table_auth_failed((struct sockaddr *)&sin6);
	}
	fail_n("203.0.113.77", 6);
	ck_assert_int_eq(client_table_penalty(v4("203.0.113.77")), 8);
	/* and its one more failure after another flood still counts */
	for (i = 0; i < 64; i++) {
		sin6.sin6_addr.s6_addr[6] = (unsigned char)(i + 1);
		client_table_auth_failed((struct sockaddr *)&sin6);
	}
	fail_n("203.0.113.77", 1);
	ck_assert_int_eq(client_table_penalty(v4("203.0.113.77")), 16);
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
	ck_assert(client_table_connect(v4("203.0.113.5"), SMTP, 1));
	ck_assert(client_table_connect(v4("203.0.113.5"), SMTP, 1));
	/* a login in another session does not forgive the failures */
	client_table_auth_ok(v4("203.0.113.5"));
	client_table_unmap();
	ck_assert_int_eq(client_table_open(dir), 0);
	ck_assert_int_eq(client_table_penalty(v4("203.0.113.5")), 2);
	/* IPv6 per /64 in the file as well */
	client_table_auth_failed(v6("2001:db8:5::1"));
	client_table_auth_failed(v6("2001:db8:5::2"));
	client_table_auth_failed(v6("2001:db8:5::3"));
	client_table_auth_failed(v6("2001:db8:5::4"));
	ck_assert_int_eq(client_table_penalty(v6("2001:db8:5::5")), 2);
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
	ck_assert(client_table_connect(v4("203.0.113.1"), POP3, 1));
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
	tcase_add_test(tc, test_connections_counted_per_protocol);
	tcase_add_test(tc, test_penalty_grows);
	tcase_add_test(tc, test_success_does_not_forgive_failures);
	tcase_add_test(tc, test_ipv6_counted_per_64);
	tcase_add_test(tc, test_full_table_evicts_the_oldest);
	tcase_add_test(tc, test_file_is_shared_across_processes);
	tcase_add_test(tc, test_file_not_whole_starts_afresh);
	tcase_add_test(tc, test_file_others_may_write_is_refused);
	tcase_add_test(tc, test_file_symlink_is_refused);
	tcase_add_test(tc, test_missing_dir_is_refused);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(client_table_suite)
