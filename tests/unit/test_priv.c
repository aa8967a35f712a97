/*
 * Unit tests for the privsep layer: common/ipc.c encoding and decoding,
 * and master/priv.c's refusal of malformed requests. A real monitor loop
 * (priv_serve) runs in a forked process on a SOCK_SEQPACKET pair; the
 * test plays a broken or hostile worker.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "ipc.h"
#include "log.h"
#include "master/priv.h"
#include "pool_worker.h"
#include "priv_proto.h"
#include "unit.h"

static struct ipc_msg	msg, rep;

START_TEST(test_ipc_roundtrip)
{
	int		 sv[2];
	uint32_t	 u32;
	uint64_t	 u64;
	char		 s[16];
	const void	*p;
	size_t		 n;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	ipc_msg_init(&msg, 42);
	ipc_put_u32(&msg, 7);
	ipc_put_u64(&msg, 1ULL << 40);
	ipc_put_str(&msg, "alice");
	ipc_put_bytes(&msg, "a\0b", 3);
	ck_assert_int_eq(ipc_send(sv[0], &msg, -1), 0);
	ck_assert_int_eq(ipc_recv(sv[1], &rep, false), 1);
	ck_assert_uint_eq(rep.type, 42);
	ck_assert_int_eq(ipc_get_u32(&rep, &u32), 0);
	ck_assert_uint_eq(u32, 7);
	ck_assert_int_eq(ipc_get_u64(&rep, &u64), 0);
	ck_assert(u64 == 1ULL << 40);
	ck_assert_int_eq(ipc_get_str(&rep, s, sizeof(s), 15), 0);
	ck_assert_str_eq(s, "alice");
	ck_assert_int_eq(ipc_get_bytes(&rep, &p, &n, 10), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(ipc_get_end(&rep), 0);
	/* reading past the end fails and poisons the message */
	ck_assert_int_eq(ipc_get_u32(&rep, &u32), -1);
	ck_assert_int_eq(ipc_get_end(&rep), -1);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_ipc_string_limits)
{
	int	sv[2];
	char	s[8];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	/* a string with a NUL cannot be put ... */
	ipc_msg_init(&msg, 1);
	ipc_put_strn(&msg, "a\0b", 3);
	ck_assert(msg.bad);
	ck_assert_int_eq(ipc_send(sv[0], &msg, -1), -1);
	/* ... nor read back when sent as bytes; too long is refused too */
	ipc_msg_init(&msg, 1);
	ipc_put_bytes(&msg, "a\0b", 3);
	ipc_put_str(&msg, "0123456789");
	ck_assert_int_eq(ipc_send(sv[0], &msg, -1), 0);
	ck_assert_int_eq(ipc_recv(sv[1], &rep, false), 1);
	ck_assert_int_eq(ipc_get_str(&rep, s, sizeof(s), 7), -1);
	ipc_msg_init(&msg, 1);
	ipc_put_str(&msg, "0123456789");
	ck_assert_int_eq(ipc_send(sv[0], &msg, -1), 0);
	ck_assert_int_eq(ipc_recv(sv[1], &rep, false), 1);
	ck_assert_int_eq(ipc_get_str(&rep, s, sizeof(s), 7), -1);
	/* a put that overflows the message marks it bad */
	ipc_msg_init(&msg, 1);
	{
		static char big[IPC_MSG_MAX];

		memset(big, 'x', sizeof(big));
		ipc_put_bytes(&msg, big, sizeof(big));
	}
	ck_assert(msg.bad);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_ipc_unexpected_fd_closed)
{
	int	sv[2], pp[2];
	char	c;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	ck_assert_int_eq(pipe(pp), 0);
	ipc_msg_init(&msg, 1);
	ck_assert_int_eq(ipc_send(sv[0], &msg, pp[1]), 0);
	close(pp[1]);
	errno = 0;
	ck_assert_int_eq(ipc_recv(sv[1], &rep, false), -1);
	ck_assert_int_eq(errno, EBADMSG);
	/* the receiver closed the only other copy of the write end */
	ck_assert_int_eq(read(pp[0], &c, 1), 0);
	close(pp[0]);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* --- the monitor --------------------------------------------------------- */

static int	wsock;		/* our end: we play the worker */
static pid_t	monitor;

static void
start_monitor(enum priv_proto proto)
{
	int	sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	monitor = fork();
	ck_assert_int_ne(monitor, -1);
	if (monitor == 0) {
		struct priv p;

		close(sv[0]);
		log_init("test-priv", 0, false);
		memset(&p, 0, sizeof(p));
		p.cfg = config_defaults();
		p.proto = proto;
		p.sock = sv[1];
		p.worker = getppid();
		p.notify_fd = -1;
		priv_serve(&p);
		_exit(0);
	}
	close(sv[1]);
	wsock = sv[0];
}

/* Sends m (with fd) and returns the reply type, or 0 at EOF. */
static uint32_t
ask(struct ipc_msg *m, int fd)
{
	ck_assert_int_eq(ipc_send(wsock, m, fd), 0);
	if (ipc_recv(wsock, &rep, true) != 1)
		return 0;
	return rep.type;
}

static void
ping_ok(void)
{
	ipc_msg_init(&msg, PRIV_PING);
	ck_assert_uint_eq(ask(&msg, -1), PRIV_OK);
}

static void
stop_monitor(bool want_eof)
{
	int	status;

	if (want_eof)
		ck_assert_int_eq(ipc_recv(wsock, &rep, true), 0);
	close(wsock);
	ck_assert_int_eq(waitpid(monitor, &status, 0), monitor);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void
send_raw(const void *buf, size_t len)
{
	ck_assert_int_eq(send(wsock, buf, len, 0), (ssize_t)len);
}

START_TEST(test_monitor_refuses_malformed_and_keeps_serving)
{
	static char	big[IPC_MSG_MAX + 100];
	uint32_t	hdr[2];
	int		sv[2], pp[2];
	char		c;

	start_monitor(PRIV_PROTO_SMTP);
	ping_ok();

	/* short: less than a header */
	send_raw("ab", 2);
	ck_assert_int_eq(ipc_recv(wsock, &rep, true), 1);
	ck_assert_uint_eq(rep.type, PRIV_REFUSED);
	ping_ok();

	/* oversized: longer than any message may be */
	memset(big, 0, sizeof(big));
	send_raw(big, sizeof(big));
	ck_assert_int_eq(ipc_recv(wsock, &rep, true), 1);
	ck_assert_uint_eq(rep.type, PRIV_REFUSED);
	ping_ok();

	/* a header whose length does not match the payload */
	hdr[0] = PRIV_PING;
	hdr[1] = 100;
	send_raw(hdr, sizeof(hdr));
	ck_assert_int_eq(ipc_recv(wsock, &rep, true), 1);
	ck_assert_uint_eq(rep.type, PRIV_REFUSED);
	ping_ok();

	/* wrong type */
	ipc_msg_init(&msg, 999);
	ck_assert_uint_eq(ask(&msg, -1), PRIV_REFUSED);
	ipc_msg_init(&msg, PRIV_OK);	/* a reply type as a request */
	ck_assert_uint_eq(ask(&msg, -1), PRIV_REFUSED);
	ping_ok();

	/* unexpected descriptor: refused and not kept */
	ck_assert_int_eq(pipe(pp), 0);
	ipc_msg_init(&msg, PRIV_PING);
	ck_assert_uint_eq(ask(&msg, pp[1]), PRIV_REFUSED);
	close(pp[1]);
	ck_assert_int_eq(read(pp[0], &c, 1), 0);
	close(pp[0]);
	ping_ok();

	/* missing descriptor */
	ipc_msg_init(&msg, PRIV_SESSION_BEGIN);
	ipc_put_str(&msg, "SID");
	ipc_put_u32(&msg, ROLE_SMTP);
	ck_assert_uint_eq(ask(&msg, -1), PRIV_REFUSED);
	ping_ok();

	/* bad fields: truncated, trailing bytes, role of another protocol */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ipc_msg_init(&msg, PRIV_SESSION_BEGIN);
	ipc_put_str(&msg, "SID");
	ck_assert_uint_eq(ask(&msg, sv[0]), PRIV_REFUSED);
	ipc_msg_init(&msg, PRIV_PING);
	ipc_put_u32(&msg, 1);
	ck_assert_uint_eq(ask(&msg, -1), PRIV_REFUSED);
	ipc_msg_init(&msg, PRIV_SESSION_BEGIN);
	ipc_put_str(&msg, "SID");
	ipc_put_u32(&msg, ROLE_POP3);
	ck_assert_uint_eq(ask(&msg, sv[0]), PRIV_REFUSED);
	ping_ok();

	/* and a well-formed session still works */
	ipc_msg_init(&msg, PRIV_SESSION_BEGIN);
	ipc_put_str(&msg, "SID");
	ipc_put_u32(&msg, ROLE_SMTP);
	ck_assert_uint_eq(ask(&msg, sv[0]), PRIV_OK);
	ipc_msg_init(&msg, PRIV_SESSION_END);
	ck_assert_uint_eq(ask(&msg, -1), PRIV_OK);
	close(sv[0]);
	close(sv[1]);
	stop_monitor(false);
}
END_TEST

START_TEST(test_monitor_drops_after_too_many_malformed)
{
	int	i;

	start_monitor(PRIV_PROTO_SMTP);
	for (i = 0; i <= 10; i++) {
		ipc_msg_init(&msg, 999);
		ck_assert_uint_eq(ask(&msg, -1), PRIV_REFUSED);
	}
	stop_monitor(true);
}
END_TEST

START_TEST(test_monitor_drops_request_out_of_state)
{
	/* SESSION_END without a session: a broken or hostile worker */
	start_monitor(PRIV_PROTO_SMTP);
	ipc_msg_init(&msg, PRIV_SESSION_END);
	ck_assert_uint_eq(ask(&msg, -1), 0);
	stop_monitor(false);
}
END_TEST

START_TEST(test_monitor_drops_auth_without_session)
{
	start_monitor(PRIV_PROTO_POP3);
	ipc_msg_init(&msg, PRIV_AUTH);
	ipc_put_str(&msg, "root");
	ipc_put_str(&msg, "x");
	ipc_put_str(&msg, "PLAIN");
	ipc_put_u32(&msg, 0);
	ck_assert_uint_eq(ask(&msg, -1), 0);
	stop_monitor(false);
}
END_TEST

static Suite *
priv_suite(void)
{
	Suite	*s = suite_create("priv");
	TCase	*tc = tcase_create("ipc");

	signal(SIGPIPE, SIG_IGN);
	tcase_add_test(tc, test_ipc_roundtrip);
	tcase_add_test(tc, test_ipc_string_limits);
	tcase_add_test(tc, test_ipc_unexpected_fd_closed);
	suite_add_tcase(s, tc);
	tc = tcase_create("monitor");
	tcase_add_test(tc, test_monitor_refuses_malformed_and_keeps_serving);
	tcase_add_test(tc, test_monitor_drops_after_too_many_malformed);
	tcase_add_test(tc, test_monitor_drops_request_out_of_state);
	tcase_add_test(tc, test_monitor_drops_auth_without_session);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(priv_suite)
