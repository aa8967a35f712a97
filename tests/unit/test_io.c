/*
 * Unit tests for common/io.c: line framing (CRLF, bare LF, bare CR, EOF
 * without terminator, over-long lines in pieces), input fed one byte at a
 * time, deadlines, discarding input, buffered output.
 */
#include "autoconf.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "unit.h"

struct io_case {
	const char	*name;
	const char	*input;
	size_t		 max;
	/* expected lines, then IO_EOF */
	struct {
		const char	*data;
		unsigned	 flags;
	} want[6];
};

static const struct io_case cases[] = {
	{ "crlf", "HELO a\r\nQUIT\r\n", 512,
	    { { "HELO a", IO_LINE_CRLF }, { "QUIT", IO_LINE_CRLF } } },
	{ "bare lf", "a\nb\r\n", 512,
	    { { "a", IO_LINE_LF }, { "b", IO_LINE_CRLF } } },
	{ "bare cr inside", "a\rb\r\n", 512,
	    { { "a\rb", IO_LINE_CRLF | IO_LINE_BARECR } } },
	{ "cr before crlf", "a\r\r\n", 512,
	    { { "a\r", IO_LINE_CRLF | IO_LINE_BARECR } } },
	{ "empty lines", "\r\n\n", 512,
	    { { "", IO_LINE_CRLF }, { "", IO_LINE_LF } } },
	{ "eof without terminator", "abc", 512,
	    { { "abc", IO_LINE_EOF } } },
	{ "long line in pieces", "abcdefghij\r\n", 4,
	    { { "abcd", IO_LINE_PARTIAL }, { "efgh", IO_LINE_PARTIAL },
	      { "ij", IO_LINE_CRLF } } },
	{ "exactly max", "abcd\r\nx\r\n", 4,
	    { { "abcd", IO_LINE_CRLF }, { "x", IO_LINE_CRLF } } },
	{ "max then lf", "abcd\nx\n", 4,
	    { { "abcd", IO_LINE_LF }, { "x", IO_LINE_LF } } },
	{ "nul byte", "a\0b\r\n", 512,
	    { { "a\0b", IO_LINE_CRLF } } },
};

static size_t
input_len(const struct io_case *c)
{
	/* the "nul byte" case has an embedded NUL */
	if (strcmp(c->name, "nul byte") == 0)
		return 5;
	return strlen(c->input);
}

static size_t
want_len(const struct io_case *c, int i)
{
	if (strcmp(c->name, "nul byte") == 0)
		return 3;
	return strlen(c->want[i].data);
}

/* Writes input to fd, one byte per write when trickle is set, and closes. */
static pid_t
feeder(int fd, const char *input, size_t len, bool trickle)
{
	pid_t	pid = fork();
	size_t	off = 0;

	ck_assert_int_ne(pid, -1);
	if (pid != 0)
		return pid;
	while (off < len) {
		size_t n = trickle ? 1 : len - off;
		ssize_t w = write(fd, input + off, n);

		if (w <= 0)
			_exit(1);
		off += (size_t)w;
		if (trickle)
			usleep(200);
	}
	close(fd);
	_exit(0);
}

static void
run_case(const struct io_case *c, bool trickle)
{
	struct io	*io;
	struct io_line	 line;
	int		 sv[2], i, status;
	pid_t		 pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = feeder(sv[1], c->input, input_len(c), trickle);
	close(sv[1]);
	io = io_new(sv[0], sv[0]);
	io_set_timeouts(io, 5000, 5000);
	for (i = 0; c->want[i].data != NULL; i++) {
		ck_assert_msg(io_getline(io, c->max, &line) == IO_OK,
		    "%s: line %d missing", c->name, i);
		ck_assert_msg(line.len == want_len(c, i) &&
		    memcmp(line.data, c->want[i].data, line.len) == 0,
		    "%s: line %d: got \"%.*s\", want \"%s\"", c->name, i,
		    (int)line.len, line.data, c->want[i].data);
		ck_assert_msg(line.flags == c->want[i].flags,
		    "%s: line %d: got flags %#x, want %#x", c->name, i,
		    line.flags, c->want[i].flags);
	}
	ck_assert_int_eq(io_getline(io, c->max, &line), IO_EOF);
	io_free(&io);
	ck_assert_ptr_null(io);
	waitpid(pid, &status, 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

START_TEST(test_framing)
{
	run_case(&cases[_i], false);
}
END_TEST

START_TEST(test_framing_trickle)
{
	run_case(&cases[_i], true);
}
END_TEST

START_TEST(test_timeout)
{
	struct io	*io;
	struct io_line	 line;
	int		 sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	io = io_new(sv[0], sv[0]);
	io_set_timeouts(io, 100, 100);
	/* half a line, then silence: the deadline covers the whole line */
	ck_assert_int_eq(write(sv[1], "HEL", 3), 3);
	ck_assert_int_eq(io_getline(io, 512, &line), IO_TIMEOUT);
	close(sv[1]);
	io_free(&io);
}
END_TEST

static struct timespec	stress_from;

/* The stress hook of test_stress: on from stress_from. */
static bool
stress_after(void)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > stress_from.tv_sec ||
	    (now.tv_sec == stress_from.tv_sec &&
	    now.tv_nsec >= stress_from.tv_nsec);
}

static long
ms_since(const struct timespec *t0)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - t0->tv_sec) * 1000 +
	    (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * Under stress a wait ends stress_ms after it began, whatever the read
 * timeout; one that began before stress did ends once the hook says so.
 */
START_TEST(test_stress)
{
	struct io	*io;
	struct io_line	 line;
	struct timespec	 t0;
	int		 sv[2];
	long		 ms;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	io = io_new(sv[0], sv[0]);
	io_set_timeouts(io, 60000, 60000);
	/* stress from 1.2 s on, 300 ms for a wait: the line waited longer */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	stress_from = t0;
	stress_from.tv_sec += 1;
	stress_from.tv_nsec += 200000000;
	if (stress_from.tv_nsec >= 1000000000) {
		stress_from.tv_sec++;
		stress_from.tv_nsec -= 1000000000;
	}
	io_set_stress(io, stress_after, 300);
	ck_assert_int_eq(write(sv[1], "HEL", 3), 3);
	ck_assert_int_eq(io_getline(io, 512, &line), IO_TIMEOUT);
	ms = ms_since(&t0);
	ck_assert_msg(ms >= 1100 && ms < 5000, "got %ld ms, want about 1200",
	    ms);
	/* under stress from the start: 300 ms */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(io_getline(io, 512, &line), IO_TIMEOUT);
	ms = ms_since(&t0);
	ck_assert_msg(ms >= 250 && ms < 3000, "got %ld ms, want about 300", ms);
	/* a line that comes in time is read */
	ck_assert_int_eq(write(sv[1], "LO\r\n", 4), 4);
	ck_assert_int_eq(io_getline(io, 512, &line), IO_OK);
	ck_assert_str_eq(line.data, "HELLO");
	close(sv[1]);
	io_free(&io);
}
END_TEST

START_TEST(test_discard_input)
{
	struct io	*io;
	struct io_line	 line;
	int		 sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	io = io_new(sv[0], sv[0]);
	io_set_timeouts(io, 1000, 1000);
	ck_assert_int_eq(write(sv[1], "STARTTLS\r\nMAIL FROM:<x>\r\n", 25), 25);
	ck_assert_int_eq(io_getline(io, 512, &line), IO_OK);
	ck_assert_str_eq(line.data, "STARTTLS");
	ck_assert_uint_eq(io_pending(io), 15);
	ck_assert_uint_eq(io_discard_input(io), 15);
	ck_assert_uint_eq(io_pending(io), 0);
	close(sv[1]);
	ck_assert_int_eq(io_getline(io, 512, &line), IO_EOF);
	io_free(&io);
}
END_TEST

START_TEST(test_write_flush)
{
	struct io	*io;
	char		 big[200000], got[200010];
	int		 sv[2], i;
	ssize_t		 n;
	size_t		 total = 0;
	pid_t		 pid;

	for (i = 0; i < (int)sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		io = io_new(sv[1], sv[1]);
		if (io_printf(io, "%d ", 250) == -1 ||
		    io_write(io, big, sizeof(big)) == -1 ||
		    io_flush(io) == -1)
			_exit(1);
		io_free(&io);
		_exit(0);
	}
	close(sv[1]);
	while ((n = read(sv[0], got + total, sizeof(got) - total)) > 0)
		total += (size_t)n;
	ck_assert_uint_eq(total, sizeof(big) + 4);
	ck_assert(memcmp(got, "250 ", 4) == 0);
	ck_assert(memcmp(got + 4, big, sizeof(big)) == 0);
	close(sv[0]);
}
END_TEST

static int
sink(void *arg, const char *buf, size_t n)
{
	size_t	*total = arg;

	(void)buf;
	*total += n;
	return 0;
}

START_TEST(test_read_exact)
{
	struct io	*io;
	struct io_line	 line;
	size_t		 total = 0;
	int		 sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	io = io_new(sv[0], sv[0]);
	ck_assert_int_eq(write(sv[1], "BDAT 5\r\nhelloQUIT\r\n", 19), 19);
	ck_assert_int_eq(io_getline(io, 512, &line), IO_OK);
	ck_assert_int_eq(io_read_exact(io, 5, sink, &total), IO_OK);
	ck_assert_uint_eq(total, 5);
	ck_assert_int_eq(io_getline(io, 512, &line), IO_OK);
	ck_assert_str_eq(line.data, "QUIT");
	close(sv[1]);
	ck_assert_int_eq(io_read_exact(io, 1, sink, &total), IO_EOF);
	io_free(&io);
}
END_TEST

START_TEST(test_skip_line)
{
	struct io	*io;
	struct io_line	 line;
	char		 big[3000];
	int		 sv[2];

	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	io = io_new(sv[0], sv[0]);
	io_set_timeouts(io, 1000, 1000);
	ck_assert_int_eq(write(sv[1], big, sizeof(big)), (ssize_t)sizeof(big));
	ck_assert_int_eq(write(sv[1], "\r\nNOOP\r\n", 8), 8);
	/* a piece of the long line, then the rest thrown away */
	ck_assert_int_eq(io_getline(io, 512, &line), IO_OK);
	ck_assert(line.flags & IO_LINE_PARTIAL);
	ck_assert_int_eq(io_skip_line(io, 10000), IO_OK);
	ck_assert_int_eq(io_getline(io, 512, &line), IO_OK);
	ck_assert_str_eq(line.data, "NOOP");
	/* a line that goes on past the limit is an error (the pieces it
	 * throws away are a buffer each: send more than one) */
	for (int i = 0; i < 30; i++)
		ck_assert_int_eq(write(sv[1], big, sizeof(big)),
		    (ssize_t)sizeof(big));
	ck_assert_int_eq(io_getline(io, 512, &line), IO_OK);
	errno = 0;
	ck_assert_int_eq(io_skip_line(io, 1000), IO_ERR);
	ck_assert_int_eq(errno, EMSGSIZE);
	close(sv[1]);
	io_free(&io);
}
END_TEST

static Suite *
io_suite(void)
{
	Suite	*s = suite_create("io");
	TCase	*tc = tcase_create("core");

	signal(SIGPIPE, SIG_IGN);
	tcase_add_loop_test(tc, test_framing, 0, nitems(cases));
	tcase_add_loop_test(tc, test_framing_trickle, 0, nitems(cases));
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_stress);
	tcase_add_test(tc, test_discard_input);
	tcase_add_test(tc, test_write_flush);
	tcase_add_test(tc, test_read_exact);
	tcase_add_test(tc, test_skip_line);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(io_suite)
