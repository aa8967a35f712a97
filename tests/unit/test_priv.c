/*
 * Unit tests for the privsep layer: priv/ipc.c encoding and decoding,
 * and priv/priv.c's refusal of malformed requests. A real monitor loop
 * (priv_serve) runs in a forked process on a SOCK_SEQPACKET pair; the
 * test plays a broken or hostile worker.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "ipc.h"
#include "log.h"
#include "priv/priv.h"
#include "pool_worker.h"
#include "priv_client.h"
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

/*
 * The pool's listening sockets as the monitor is told of them: on
 * 127.0.0.1, a free port each; the first is plain SMTP (POP3), the
 * second submission (POP3S).
 */
static struct listener	lst[2];

static void
make_listeners(enum priv_proto proto)
{
	struct sockaddr_in	sin;
	size_t			i;

	for (i = 0; i < nitems(lst); i++) {
		lst[i].fd = socket(AF_INET, SOCK_STREAM, 0);
		ck_assert_int_ne(lst[i].fd, -1);
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ck_assert_int_eq(bind(lst[i].fd, (struct sockaddr *)&sin,
		    sizeof(sin)), 0);
		ck_assert_int_eq(listen(lst[i].fd, 8), 0);
		snprintf(lst[i].name, sizeof(lst[i].name), "test%zu", i);
	}
	lst[0].role = proto == PRIV_PROTO_SMTP ? ROLE_SMTP : ROLE_POP3;
	lst[1].role = proto == PRIV_PROTO_SMTP ? ROLE_SUBMISSION : ROLE_POP3S;
}

/* A socket connected to the address of fd (a listener); -1 on failure. */
static int
connect_to(int fd)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);
	int			c;

	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	c = socket(ss.ss_family, SOCK_STREAM, 0);
	ck_assert_int_ne(c, -1);
	ck_assert_int_eq(connect(c, (struct sockaddr *)&ss, len), 0);
	return c;
}

/*
 * A client connection to listener i as a worker has it: the accepted
 * end; the client's end goes to *client (close both).
 */
static int
client_conn(size_t i, int *client)
{
	int	fd;

	*client = connect_to(lst[i].fd);
	fd = accept(lst[i].fd, NULL, NULL);
	ck_assert_int_ne(fd, -1);
	return fd;
}

/* A monitor's struct priv for proto on sock, as in a standalone pool. */
static void
init_priv(struct priv *p, enum priv_proto proto, int sock)
{
	log_init("test-priv", 0, false);
	memset(p, 0, sizeof(*p));
	p->cfg = config_defaults();
	p->proto = proto;
	p->sock = sock;
	p->worker = getppid();
	p->notify_fd = -1;
	ck_assert_int_eq(priv_set_listeners(p, lst, nitems(lst)), 0);
}

static void
start_monitor(enum priv_proto proto)
{
	int	sv[2];

	make_listeners(proto);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	monitor = fork();
	ck_assert_int_ne(monitor, -1);
	if (monitor == 0) {
		struct priv p;

		close(sv[0]);
		init_priv(&p, proto, sv[1]);
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
	sv[0] = client_conn(0, &sv[1]);
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

/* SESSION_BEGIN with fd for role and sid; the reply type. */
static uint32_t
begin(int fd, const char *sid, int role)
{
	ipc_msg_init(&msg, PRIV_SESSION_BEGIN);
	ipc_put_str(&msg, sid);
	ipc_put_u32(&msg, (uint32_t)role);
	return ask(&msg, fd);
}

static void
end_session(void)
{
	ipc_msg_init(&msg, PRIV_SESSION_END);
	ck_assert_uint_eq(ask(&msg, -1), PRIV_OK);
}

/* n requests the monitor refuses (malformed, unknown type). */
static void
refused(int n)
{
	while (n-- > 0) {
		ipc_msg_init(&msg, 999);
		ck_assert_uint_eq(ask(&msg, -1), PRIV_REFUSED);
	}
}

START_TEST(test_refusals_count_per_session)
{
	int	i, fd, cl;

	/* 18 refusals in all, never more than 6 in one session */
	start_monitor(PRIV_PROTO_SMTP);
	for (i = 0; i < 3; i++) {
		fd = client_conn(0, &cl);
		ck_assert_uint_eq(begin(fd, "SID", ROLE_SMTP), PRIV_OK);
		refused(6);
		end_session();
		close(fd);
		close(cl);
	}
	ping_ok();
	stop_monitor(false);
}
END_TEST

/*
 * A monitor in a process of its own with a real child for its worker
 * (the child only waits: the test plays its part on the socket), run
 * as the master runs it: priv_run() stops and reaps the worker. The
 * monitor's exit status tells how the worker ended: 9 killed with
 * SIGKILL, 0 exited 0, 1 anything else. The worker exits by itself
 * when *release (a pipe's write end) is closed, or after 10 s.
 */
static void
start_monitor_with_worker(int *release)
{
	int	sv[2], pp[2];

	make_listeners(PRIV_PROTO_SMTP);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	ck_assert_int_eq(pipe(pp), 0);
	monitor = fork();
	ck_assert_int_ne(monitor, -1);
	if (monitor == 0) {
		struct priv	p;
		pid_t		w;
		int		st;
		char		c;

		close(sv[0]);
		close(pp[1]);
		if ((w = fork()) == -1)
			_exit(2);
		if (w == 0) {
			close(sv[1]);
			alarm(10);
			_exit(read(pp[0], &c, 1) == 0 ? 0 : 1);
		}
		close(pp[0]);
		init_priv(&p, PRIV_PROTO_SMTP, sv[1]);
		p.worker = w;
		st = priv_run(&p);
		if (st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
			_exit(9);
		_exit(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ?
		    0 : 1);
	}
	close(sv[1]);
	close(pp[0]);
	wsock = sv[0];
	*release = pp[1];
}

/* The monitor's exit status (see above) */
static int
monitor_status(void)
{
	int	status;

	ck_assert_int_eq(waitpid(monitor, &status, 0), monitor);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

START_TEST(test_dropped_worker_is_killed)
{
	int	fd, cl, release;

	/* eleven refusals in one session: dropped, and stopped for good */
	start_monitor_with_worker(&release);
	fd = client_conn(0, &cl);
	ck_assert_uint_eq(begin(fd, "SID", ROLE_SMTP), PRIV_OK);
	refused(11);
	ck_assert_int_eq(ipc_recv(wsock, &rep, true), 0);
	ck_assert_int_eq(monitor_status(), 9);
	close(release);
	close(wsock);
	close(fd);
	close(cl);
}
END_TEST

START_TEST(test_out_of_state_worker_is_killed)
{
	int	release;

	start_monitor_with_worker(&release);
	ipc_msg_init(&msg, PRIV_SESSION_END);
	ck_assert_uint_eq(ask(&msg, -1), 0);
	ck_assert_int_eq(monitor_status(), 9);
	close(release);
	close(wsock);
}
END_TEST

START_TEST(test_worker_that_exits_is_reaped)
{
	int	release;

	start_monitor_with_worker(&release);
	ping_ok();
	close(release);
	close(wsock);
	ck_assert_int_eq(monitor_status(), 0);
}
END_TEST

START_TEST(test_worker_that_hangs_up_but_lingers_is_killed)
{
	struct timespec	t0, t1;
	int		release;

	start_monitor_with_worker(&release);
	ping_ok();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	close(wsock);		/* the worker lives on */
	ck_assert_int_eq(monitor_status(), 9);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 8);
	close(release);
}
END_TEST

START_TEST(test_session_id_is_checked)
{
	static const char *const bad[] = {
		"A\r\nsid=FORGED", "A B", "", "A\x1b[2J", "A=B",
	};
	size_t	i;
	int	fd, cl;

	start_monitor(PRIV_PROTO_SMTP);
	fd = client_conn(0, &cl);
	for (i = 0; i < nitems(bad); i++)
		ck_assert_msg(begin(fd, bad[i], ROLE_SMTP) == PRIV_REFUSED,
		    "session id %zu accepted", i);
	ck_assert_uint_eq(begin(fd, "ABCDEFGHJK23", ROLE_SMTP), PRIV_OK);
	end_session();
	close(fd);
	close(cl);
	stop_monitor(false);
}
END_TEST

START_TEST(test_session_fd_must_be_a_connection_of_ours)
{
	struct sockaddr_in	sin;
	char			path[] = "/tmp/test_priv.file.XXXXXX";
	int			fd, cl, sv[2], other, ofd;

	start_monitor(PRIV_PROTO_SMTP);
	/* a regular file */
	ck_assert_int_ne(fd = mkstemp(path), -1);
	unlink(path);
	ck_assert_uint_eq(begin(fd, "SID", ROLE_SMTP), PRIV_REFUSED);
	close(fd);
	/* a pipe */
	ck_assert_int_eq(pipe(sv), 0);
	ck_assert_uint_eq(begin(sv[0], "SID", ROLE_SMTP), PRIV_REFUSED);
	close(sv[0]);
	close(sv[1]);
	/* a socket pair: no peer address */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_uint_eq(begin(sv[0], "SID", ROLE_SMTP), PRIV_REFUSED);
	close(sv[0]);
	close(sv[1]);
	/* a TCP socket, not connected */
	ck_assert_int_ne(fd = socket(AF_INET, SOCK_STREAM, 0), -1);
	ck_assert_uint_eq(begin(fd, "SID", ROLE_SMTP), PRIV_REFUSED);
	close(fd);
	/* a connected UDP socket */
	ck_assert_int_ne(fd = socket(AF_INET, SOCK_DGRAM, 0), -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(9);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_uint_eq(begin(fd, "SID", ROLE_SMTP), PRIV_REFUSED);
	close(fd);
	/* the client's end of a connection: not on our listener's port */
	fd = client_conn(0, &cl);
	ck_assert_uint_eq(begin(cl, "SID", ROLE_SMTP), PRIV_REFUSED);
	/* a connection accepted on a socket that is not the pool's */
	ck_assert_int_ne(other = socket(AF_INET, SOCK_STREAM, 0), -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(other, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(other, 1), 0);
	sv[0] = connect_to(other);
	ck_assert_int_ne(ofd = accept(other, NULL, NULL), -1);
	ck_assert_uint_eq(begin(ofd, "SID", ROLE_SMTP), PRIV_REFUSED);
	close(ofd);
	close(sv[0]);
	close(other);
	/* the role is the listener's: the worker may not claim another */
	ck_assert_uint_eq(begin(fd, "SID", ROLE_SUBMISSION), PRIV_REFUSED);
	ck_assert_uint_eq(begin(fd, "SID", ROLE_SMTP), PRIV_OK);
	end_session();
	close(fd);
	close(cl);
	fd = client_conn(1, &cl);
	ck_assert_uint_eq(begin(fd, "SID", ROLE_SMTP), PRIV_REFUSED);
	ck_assert_uint_eq(begin(fd, "SID", ROLE_SUBMISSION), PRIV_OK);
	end_session();
	close(fd);
	close(cl);
	ping_ok();
	stop_monitor(false);
}
END_TEST

/*
 * inetd: the monitor knows the role, and the connection inetd gave it,
 * which may be a pipe or a socket; nothing else is taken.
 */
START_TEST(test_inetd_session_fd_is_the_one_from_inetd)
{
	int	sv[2], pp[2], other[2], cl;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	ck_assert_int_eq(pipe(pp), 0);
	make_listeners(PRIV_PROTO_SMTP);
	monitor = fork();
	ck_assert_int_ne(monitor, -1);
	if (monitor == 0) {
		struct priv p;

		close(sv[0]);
		log_init("test-priv", 0, false);
		memset(&p, 0, sizeof(p));
		p.cfg = config_defaults();
		p.proto = PRIV_PROTO_SMTP;
		p.sock = sv[1];
		p.worker = getppid();
		p.notify_fd = -1;
		if (priv_set_inetd_client(&p, pp[0], ROLE_SUBMISSION) == -1)
			_exit(1);
		priv_serve(&p);
		_exit(0);
	}
	close(sv[1]);
	wsock = sv[0];
	/* another descriptor, even a real client connection of a listener */
	ck_assert_int_eq(pipe(other), 0);
	ck_assert_uint_eq(begin(other[0], "SID", ROLE_SUBMISSION),
	    PRIV_REFUSED);
	close(other[0]);
	close(other[1]);
	sv[1] = client_conn(1, &cl);
	ck_assert_uint_eq(begin(sv[1], "SID", ROLE_SUBMISSION), PRIV_REFUSED);
	close(sv[1]);
	close(cl);
	/* the pipe from inetd, in the role the monitor was given */
	ck_assert_uint_eq(begin(pp[0], "SID", ROLE_SMTP), PRIV_REFUSED);
	ck_assert_uint_eq(begin(pp[0], "SID", ROLE_SUBMISSION), PRIV_OK);
	end_session();
	close(pp[0]);
	close(pp[1]);
	stop_monitor(false);
}
END_TEST

/* --- the worker's side: without a monitor, stop -------------------------- */

static int	mon_end;	/* the test plays the monitor on this */

/* A session that needs the monitor once, and tells the client how it went. */
static void
ping_session(void *arg, struct session_start *st)
{
	struct reason	r;
	const char	*say;

	(void)arg;
	say = priv_ping(&r) == 0 ? "OK\n" : "421\n";
	if (write(st->fd, say, strlen(say)) != (ssize_t)strlen(say))
		_exit(3);
	close(st->fd);
}

/*
 * A pool worker on listener 0 in a child; the status pipe's read end.
 * With no_fds, the child has used up its descriptors (RLIMIT_NOFILE) before
 * it starts, so that accept() fails with EMFILE.
 */
static pid_t
start_worker_fds(int *status_r, bool no_fds)
{
	struct pool_worker	w;
	int			sv[2], st[2], life[2];
	pid_t			pid;

	make_listeners(PRIV_PROTO_SMTP);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	ck_assert_int_eq(pipe(st), 0);
	ck_assert_int_eq(pipe(life), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		close(sv[0]);
		close(st[0]);
		close(life[1]);
		log_init("test-worker", 0, false);
		alarm(10);
		priv_client_init(sv[1]);
		memset(&w, 0, sizeof(w));
		w.listeners = lst;
		w.nlisteners = 1;
		w.status_fd = st[1];
		w.life_fd = life[0];
		w.max_sessions = 100;
		w.session = ping_session;
		if (no_fds) {
			struct rlimit	rl = { 32, 32 };

			if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
				_exit(4);
			while (dup(0) != -1)
				;
		}
		pool_worker_run(&w);
	}
	close(sv[1]);
	close(st[1]);
	close(life[0]);
	/* life[1] stays open: the master is alive */
	mon_end = sv[0];
	*status_r = st[0];
	return pid;
}

static pid_t
start_worker(int *status_r)
{
	return start_worker_fds(status_r, false);
}

/* The CPU time pid has used, in clock ticks (utime + stime). */
static long
cpu_ticks(pid_t pid)
{
	char		path[64], buf[1024], *p;
	unsigned long	ut = 0, st = 0;
	FILE		*f;
	int		i;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	/* after "(comm)": field 3 on; utime and stime are fields 14 and 15 */
	ck_assert_ptr_nonnull(p = strrchr(buf, ')'));
	for (i = 3; i < 14 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(sscanf(p, " %lu %lu", &ut, &st), 2);
	return (long)(ut + st);
}

/* Whether pid exits within ms; its status in *status. */
static bool
exits_within(pid_t pid, int ms, int *status)
{
	struct timespec	tick = { 0, 10 * 1000000 };
	int		waited;

	for (waited = 0; waited < ms; waited += 10) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return true;
		nanosleep(&tick, NULL);
	}
	return false;
}

static void
wait_status(int fd, uint32_t type)
{
	struct pool_status	st;

	do
		ck_assert_int_eq(read(fd, &st, sizeof(st)), sizeof(st));
	while (st.type != type);
}

START_TEST(test_worker_out_of_descriptors_does_not_spin)
{
	struct timespec	sec = { 1, 0 };
	long		before, used;
	int		st, cl, status;
	pid_t		w;

	/* accept() fails with EMFILE while the client waits in the queue */
	w = start_worker_fds(&st, true);
	wait_status(st, POOL_ST_IDLE);
	cl = connect_to(lst[0].fd);
	before = cpu_ticks(w);
	nanosleep(&sec, NULL);
	used = cpu_ticks(w) - before;
	/* a worker that polls again at once burns the second */
	ck_assert_msg(used < sysconf(_SC_CLK_TCK) / 4,
	    "worker used %ld ticks in a second waiting for a descriptor", used);
	kill(w, SIGKILL);
	ck_assert_int_eq(waitpid(w, &status, 0), w);
	close(cl);
	close(mon_end);
	close(st);
}
END_TEST

START_TEST(test_idle_worker_exits_when_its_monitor_goes)
{
	int	status, st;
	pid_t	w;

	w = start_worker(&st);
	wait_status(st, POOL_ST_IDLE);
	close(mon_end);
	ck_assert_msg(exits_within(w, 2000, &status),
	    "worker still running without its monitor");
	ck_assert(WIFEXITED(status));
	close(st);
}
END_TEST

START_TEST(test_worker_exits_after_the_session_that_lost_its_monitor)
{
	char	buf[8];
	int	status, st, cl, c2;
	ssize_t	n;
	pid_t	w;

	w = start_worker(&st);
	wait_status(st, POOL_ST_IDLE);
	cl = connect_to(lst[0].fd);
	/* the session's request arrives; the monitor goes without a word */
	ck_assert_int_eq(ipc_recv(mon_end, &rep, true), 1);
	ck_assert_uint_eq(rep.type, PRIV_PING);
	close(mon_end);
	n = read(cl, buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_str_eq(buf, "421\n");
	/* and no other client is taken: the worker is gone */
	c2 = connect_to(lst[0].fd);
	ck_assert_msg(exits_within(w, 2000, &status),
	    "worker still running without its monitor");
	ck_assert(WIFEXITED(status));
	close(c2);
	close(cl);
	close(st);
}
END_TEST

/* --- the POP3 maildrop requests ------------------------------------------ */

static char	spool[64], state[64];

/*
 * A POP3 monitor already inside a session, logged in as the user running
 * the test (no PAM here: the state is set as a successful AUTH leaves
 * it), with a spool and a state directory of its own. apop: offer APOP.
 */
static void
start_pop3_monitor(bool authed, bool apop)
{
	struct passwd	*pw;
	int		 sv[2];

	snprintf(spool, sizeof(spool), "/tmp/test_priv.spool.XXXXXX");
	snprintf(state, sizeof(state), "/tmp/test_priv.state.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(spool));
	ck_assert_ptr_nonnull(mkdtemp(state));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	monitor = fork();
	ck_assert_int_ne(monitor, -1);
	if (monitor == 0) {
		struct config	*cfg = config_defaults();
		struct priv	 p;

		close(sv[0]);
		log_init("test-priv", 0, false);
		free(cfg->spool_dir);
		cfg->spool_dir = strdup(spool);
		free(cfg->state_dir);
		cfg->state_dir = strdup(state);
		free(cfg->mail_group);
		cfg->mail_group = strdup("");	/* the user's own group */
		cfg->auth_fail_delay = 0;
		if (apop) {
			free(cfg->pop3.apop_secrets);
			cfg->pop3.apop_secrets = strdup("/nonexistent");
		}
		memset(&p, 0, sizeof(p));
		p.cfg = cfg;
		p.proto = PRIV_PROTO_POP3;
		p.sock = sv[1];
		p.worker = getppid();
		p.notify_fd = -1;
		p.session = true;
		p.role = ROLE_POP3;
		snprintf(p.sid, sizeof(p.sid), "TESTSID");
		strcpy(p.client, "local");
		p.peer_local = true;
		if (authed) {
			pw = getpwuid(getuid());
			ck_assert_ptr_nonnull(pw);
			p.authed = true;
			snprintf(p.user, sizeof(p.user), "%s", pw->pw_name);
		}
		priv_serve(&p);
		_exit(0);
	}
	close(sv[1]);
	wsock = sv[0];
}

static void
cleanup_dirs(void)
{
	char	cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", spool, state);
	ck_assert_int_eq(system(cmd), 0);
}

/* Asks for a request without fields; the reply type (0: dropped). */
static uint32_t
ask_type(uint32_t type)
{
	ipc_msg_init(&msg, type);
	return ask(&msg, -1);
}

/* The descriptor a PRIV_OK reply carried (the caller closes it). */
static int
reply_fd(void)
{
	int	fd = rep.fd;

	ck_assert_int_ne(fd, -1);
	rep.fd = -1;
	return fd;
}

static const uint32_t maildrop_reqs[] = {
	PRIV_MAILDROP_OPEN, PRIV_INDEX_OPEN, PRIV_MAILDROP_TMP,
	PRIV_MAILDROP_COMMIT, PRIV_MAILDROP_RELEASE,
};

START_TEST(test_monitor_drops_password_sent_in_clear)
{
	int	sv[2];

	/* SMTP, allow_plaintext_auth off: AUTH without the TLS flag */
	start_monitor(PRIV_PROTO_SMTP);
	sv[0] = client_conn(0, &sv[1]);
	ipc_msg_init(&msg, PRIV_SESSION_BEGIN);
	ipc_put_str(&msg, "SID");
	ipc_put_u32(&msg, ROLE_SMTP);
	ck_assert_uint_eq(ask(&msg, sv[0]), PRIV_OK);
	ipc_msg_init(&msg, PRIV_AUTH);
	ipc_put_str(&msg, "alice");
	ipc_put_str(&msg, "secret");
	ipc_put_str(&msg, "PLAIN");
	ipc_put_u32(&msg, 0);
	ck_assert_uint_eq(ask(&msg, -1), 0);	/* dropped, no PAM call */
	close(sv[0]);
	close(sv[1]);
	stop_monitor(false);
}
END_TEST

START_TEST(test_maildrop_requests_need_a_login)
{
	/* each alone: a refusal drops the worker */
	start_pop3_monitor(false, false);
	ck_assert_uint_eq(ask_type(maildrop_reqs[_i]), 0);
	stop_monitor(false);
	cleanup_dirs();
}
END_TEST

START_TEST(test_maildrop_requests_not_for_smtp)
{
	int	sv[2];

	start_monitor(PRIV_PROTO_SMTP);
	sv[0] = client_conn(0, &sv[1]);
	ipc_msg_init(&msg, PRIV_SESSION_BEGIN);
	ipc_put_str(&msg, "SID");
	ipc_put_u32(&msg, ROLE_SMTP);
	ck_assert_uint_eq(ask(&msg, sv[0]), PRIV_OK);
	ck_assert_uint_eq(ask_type(maildrop_reqs[_i]), 0);
	close(sv[0]);
	close(sv[1]);
	stop_monitor(false);
}
END_TEST

START_TEST(test_maildrop_request_with_fd_is_refused)
{
	int	pp[2];

	start_pop3_monitor(true, false);
	ck_assert_int_eq(pipe(pp), 0);
	ipc_msg_init(&msg, PRIV_MAILDROP_OPEN);
	ck_assert_uint_eq(ask(&msg, pp[0]), PRIV_REFUSED);
	/* fields where none belong: refused, the monitor goes on */
	ipc_msg_init(&msg, PRIV_MAILDROP_OPEN);
	ipc_put_str(&msg, "root");
	ck_assert_uint_eq(ask(&msg, -1), PRIV_REFUSED);
	ping_ok();
	close(pp[0]);
	close(pp[1]);
	stop_monitor(false);
	cleanup_dirs();
}
END_TEST

/* Out of order after a good open: each ends the worker. */
START_TEST(test_maildrop_order_is_enforced)
{
	static const uint32_t	bad[][2] = {
		{ PRIV_MAILDROP_COMMIT, 0 },		/* no TMP */
		{ PRIV_MAILDROP_OPEN, 0 },		/* twice */
		{ PRIV_INDEX_OPEN, PRIV_INDEX_OPEN },	/* index twice */
		{ PRIV_MAILDROP_TMP, PRIV_MAILDROP_TMP },	/* TMP twice */
		{ PRIV_MAILDROP_TMP, PRIV_INDEX_OPEN },	/* index mid-update */
		{ PRIV_MAILDROP_RELEASE, PRIV_MAILDROP_TMP },	/* released */
	};
	const uint32_t	*b = bad[_i];
	int		 fd;

	start_pop3_monitor(true, false);
	ck_assert_uint_eq(ask_type(PRIV_MAILDROP_OPEN), PRIV_OK);
	close(reply_fd());
	if (b[1] != 0) {
		ck_assert_uint_eq(ask_type(b[0]), PRIV_OK);
		if (b[0] != PRIV_MAILDROP_RELEASE) {
			fd = reply_fd();
			close(fd);
		}
		ck_assert_uint_eq(ask_type(b[1]), 0);
	} else
		ck_assert_uint_eq(ask_type(b[0]), 0);
	stop_monitor(false);
	cleanup_dirs();
}
END_TEST

START_TEST(test_maildrop_update_in_order)
{
	struct passwd	*pw = getpwuid(getuid());
	struct stat	 st, st2;
	char		 path[128], tmp[160];
	int		 fd, tfd, ifd;

	start_pop3_monitor(true, false);
	snprintf(path, sizeof(path), "%s/%s", spool, pw->pw_name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.pop3-update", spool, pw->pw_name);
	/* a stale update file is removed at the open */
	ck_assert_int_ne(fd = open(tmp, O_WRONLY | O_CREAT, 0600), -1);
	close(fd);
	ck_assert_uint_eq(ask_type(PRIV_MAILDROP_OPEN), PRIV_OK);
	fd = reply_fd();
	ck_assert_int_eq(access(tmp, F_OK), -1);
	ck_assert_int_eq(write(fd, "From a\n\nold\n", 12), 12);
	ck_assert_uint_eq(ask_type(PRIV_INDEX_OPEN), PRIV_OK);
	ifd = reply_fd();
	ck_assert_int_eq(fstat(ifd, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_uint_eq(ask_type(PRIV_MAILDROP_TMP), PRIV_OK);
	tfd = reply_fd();
	ck_assert_int_eq(fstat(tfd, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_uint_eq(st.st_uid, getuid());
	ck_assert_int_eq(write(tfd, "From b\n\nnew\n", 12), 12);
	ck_assert_uint_eq(ask_type(PRIV_MAILDROP_COMMIT), PRIV_OK);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	/* the new file has the name, and the locks go at the release */
	ck_assert_int_eq(fstat(tfd, &st), 0);
	ck_assert_int_eq(stat(path, &st2), 0);
	ck_assert(st.st_ino == st2.st_ino && st.st_dev == st2.st_dev);
	ck_assert_uint_eq(ask_type(PRIV_MAILDROP_RELEASE), PRIV_OK);
	/* released: the login is over, the maildrop requests are not allowed */
	ck_assert_uint_eq(ask_type(PRIV_MAILDROP_OPEN), 0);
	stop_monitor(false);
	close(fd);
	close(tfd);
	close(ifd);
	cleanup_dirs();
}
END_TEST

START_TEST(test_maildrop_update_abandoned_is_removed)
{
	struct passwd	*pw = getpwuid(getuid());
	char		 tmp[160];
	int		 fd;

	start_pop3_monitor(true, false);
	snprintf(tmp, sizeof(tmp), "%s/.%s.pop3-update", spool, pw->pw_name);
	ck_assert_uint_eq(ask_type(PRIV_MAILDROP_OPEN), PRIV_OK);
	close(reply_fd());
	ck_assert_uint_eq(ask_type(PRIV_MAILDROP_TMP), PRIV_OK);
	fd = reply_fd();
	ck_assert_int_eq(access(tmp, F_OK), 0);
	/* the worker dies: the monitor throws the update away */
	close(wsock);
	ck_assert_int_eq(waitpid(monitor, NULL, 0), monitor);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	close(fd);
	cleanup_dirs();
}
END_TEST

START_TEST(test_apop_challenge_once_and_first)
{
	char	stamp[APOP_STAMP_MAX];

	/* APOP before a timestamp was issued: dropped */
	start_pop3_monitor(false, true);
	ipc_msg_init(&msg, PRIV_APOP);
	ipc_put_str(&msg, "alice");
	ipc_put_str(&msg, "0123456789abcdef0123456789abcdef");
	ck_assert_uint_eq(ask(&msg, -1), 0);
	stop_monitor(false);
	cleanup_dirs();

	/* one timestamp per session */
	start_pop3_monitor(false, true);
	ck_assert_uint_eq(ask_type(PRIV_APOP_CHALLENGE), PRIV_OK);
	ck_assert_int_eq(ipc_get_str(&rep, stamp, sizeof(stamp),
	    sizeof(stamp) - 1), 0);
	ck_assert(stamp[0] == '<' && strstr(stamp, ".TESTSID@") != NULL);
	/* no secrets file: a refusal, not a crash */
	ipc_msg_init(&msg, PRIV_APOP);
	ipc_put_str(&msg, "alice");
	ipc_put_str(&msg, "0123456789abcdef0123456789abcdef");
	ck_assert_uint_eq(ask(&msg, -1), PRIV_FAIL);
	ck_assert_uint_eq(ask_type(PRIV_APOP_CHALLENGE), 0);
	stop_monitor(false);
	cleanup_dirs();
}
END_TEST

START_TEST(test_apop_not_configured)
{
	start_pop3_monitor(false, false);
	ck_assert_uint_eq(ask_type(PRIV_APOP_CHALLENGE), PRIV_FAIL);
	ping_ok();
	stop_monitor(false);
	cleanup_dirs();
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
	tcase_add_test(tc, test_monitor_drops_password_sent_in_clear);
	tcase_add_test(tc, test_refusals_count_per_session);
	tcase_add_test(tc, test_session_id_is_checked);
	tcase_add_test(tc, test_session_fd_must_be_a_connection_of_ours);
	tcase_add_test(tc, test_inetd_session_fd_is_the_one_from_inetd);
	suite_add_tcase(s, tc);
	tc = tcase_create("worker_lifecycle");
	tcase_set_timeout(tc, 15);
	tcase_add_test(tc, test_dropped_worker_is_killed);
	tcase_add_test(tc, test_out_of_state_worker_is_killed);
	tcase_add_test(tc, test_worker_that_exits_is_reaped);
	tcase_add_test(tc, test_worker_that_hangs_up_but_lingers_is_killed);
	tcase_add_test(tc, test_idle_worker_exits_when_its_monitor_goes);
	tcase_add_test(tc, test_worker_out_of_descriptors_does_not_spin);
	tcase_add_test(tc,
	    test_worker_exits_after_the_session_that_lost_its_monitor);
	suite_add_tcase(s, tc);
	tc = tcase_create("maildrop");
	tcase_add_loop_test(tc, test_maildrop_requests_need_a_login, 0,
	    nitems(maildrop_reqs));
	tcase_add_loop_test(tc, test_maildrop_requests_not_for_smtp, 0,
	    nitems(maildrop_reqs));
	tcase_add_test(tc, test_maildrop_request_with_fd_is_refused);
	tcase_add_loop_test(tc, test_maildrop_order_is_enforced, 0, 6);
	tcase_add_test(tc, test_maildrop_update_in_order);
	tcase_add_test(tc, test_maildrop_update_abandoned_is_removed);
	tcase_add_test(tc, test_apop_challenge_once_and_first);
	tcase_add_test(tc, test_apop_not_configured);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(priv_suite)
