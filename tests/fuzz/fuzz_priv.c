/*
 * libFuzzer target for the privilege boundary: the monitor (priv/priv*.c)
 * reading requests from a worker that an attacker controls. A real
 * priv_serve() runs in a thread on one end of a SOCK_SEQPACKET pair and
 * answers with its real handlers, in a scratch mail system (scratch.h);
 * this side plays the worker.
 *
 * Input: one flags octet, then records of [op octet][u16 length][bytes]:
 *	op & 1 == 0	the bytes are a whole datagram, header and all;
 *	op & 1 == 1	the first byte (mod 24) is the type and the rest the
 *			payload: the harness writes a correct header.
 *	op & 2		no descriptor with a SESSION_BEGIN (one is attached
 *			otherwise, of the kind op >> 2 & 3 says: a socket
 *			pair's end, a TCP connection accepted on the pool's
 *			listener, a regular file, an unconnected TCP socket).
 * Flags: bit 0 POP3 (else SMTP); bit 1 (POP3) first log in as the user
 * running the fuzzer, for real, through APOP against a scratch secrets
 * file, so that the maildrop requests are reachable; bit 2 VRFY and EXPN
 * enabled; bit 3 a standalone monitor, which knows the pool's listener
 * (else one as under inetd, which takes any descriptor). RCPT, VRFY and
 * EXPN resolve through the scratch aliases (SCRATCH_ALIASES: partly
 * failing, nested, remote, looping).
 * PRIV_AUTH requests are skipped: PAM would make each run take seconds.
 *
 * Checks: no crash, leak or hang (libFuzzer and ASan); every reply is a
 * well-formed PRIV_OK, PRIV_FAIL (with an RFC 3463 status) or
 * PRIV_REFUSED; a descriptor never goes to an SMTP worker, nor with
 * anything but a PRIV_OK to a POP3 one, nor during the login; and after
 * the session nothing is left but whole queue files in active/ (no
 * incoming/ file, no update file, no lock).
 */
#define _GNU_SOURCE
#include "autoconf.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "ipc.h"
#include "pool_worker.h"
#include "priv_proto.h"
#include "scratch.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct scratch	 sc;
/* the pools' listening sockets on 127.0.0.1: SMTP's, POP3's */
static struct listener	 lst[2];
static char		 plain_file[128];	/* a regular file */

static void
listeners_init(void)
{
	struct sockaddr_in	sin;
	size_t			i;
	int			fd;

	snprintf(plain_file, sizeof(plain_file), "%s/plain", sc.top);
	CHECK((fd = open(plain_file, O_WRONLY | O_CREAT, 0600)) != -1);
	close(fd);

	for (i = 0; i < 2; i++) {
		CHECK((lst[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC,
		    0)) != -1);
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		CHECK(bind(lst[i].fd, (struct sockaddr *)&sin,
		    sizeof(sin)) == 0);
		CHECK(listen(lst[i].fd, 16) == 0);
		snprintf(lst[i].name, sizeof(lst[i].name), "fuzz%zu", i);
	}
	lst[0].role = ROLE_SMTP;
	lst[1].role = ROLE_POP3;
}

/*
 * A descriptor for a SESSION_BEGIN (see the op bits above); *other is
 * a second one to close with it, or -1.
 */
static int
session_fd(unsigned kind, bool pop3, int *other)
{
	static const struct linger abort_close = { 1, 0 };
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);
	int			pair[2], fd, l = lst[pop3 ? 1 : 0].fd;

	*other = -1;
	switch (kind & 3) {
	case 0:
		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
		*other = pair[1];
		return pair[0];
	case 1:
		CHECK(getsockname(l, (struct sockaddr *)&ss, &len) == 0);
		CHECK((*other = socket(AF_INET, SOCK_STREAM, 0)) != -1);
		CHECK(connect(*other, (struct sockaddr *)&ss, len) == 0);
		CHECK((fd = accept(l, NULL, NULL)) != -1);
		/*
		 * The last close, ours or the monitor's, resets it: no
		 * TIME_WAIT, which would use up the ports in a long run.
		 */
		CHECK(setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_close,
		    sizeof(abort_close)) == 0);
		return fd;
	case 2:
		CHECK((fd = open(plain_file, O_RDONLY)) != -1);
		return fd;
	default:
		CHECK((fd = socket(AF_INET, SOCK_STREAM, 0)) != -1);
		return fd;
	}
}

/* "c.sss.ddd" as RFC 3463 has it: class 2, 4 or 5, 1-3 digits each. */
static bool
status_ok(const char *s)
{
	size_t	n;
	int	part;

	if (*s != '2' && *s != '4' && *s != '5')
		return false;
	s++;
	for (part = 0; part < 2; part++) {
		if (*s++ != '.')
			return false;
		for (n = 0; *s >= '0' && *s <= '9'; s++)
			n++;
		if (n < 1 || n > 3)
			return false;
	}
	return *s == '\0';
}

/*
 * A reply as the worker would read it; -1 at EOF. fd_ok: a descriptor
 * may come with it (only the POP3 maildrop requests hand one over).
 */
static int
reply(int sock, struct ipc_msg *m, bool fd_ok)
{
	int	n;

	if ((n = ipc_recv(sock, m, true)) != 1)
		return -1;
	CHECK(m->type == PRIV_OK || m->type == PRIV_FAIL ||
	    m->type == PRIV_REFUSED);
	if (m->fd != -1) {
		CHECK(fd_ok && m->type == PRIV_OK);
		close(m->fd);
		m->fd = -1;
	}
	if (m->type == PRIV_FAIL) {
		char	st[16], text[512];

		CHECK(ipc_get_str(m, st, sizeof(st), sizeof(st) - 1) == 0);
		CHECK(ipc_get_str(m, text, sizeof(text), sizeof(text) - 1) ==
		    0);
		/* an enhanced status code; 2.5.2 is VRFY's "cannot verify" */
		CHECK(status_ok(st));
	}
	return 0;
}

struct drain {
	int	sock;
	bool	pop3;		/* SMTP has no request that returns an fd */
};

static void *
drain(void *arg)
{
	const struct drain	*d = arg;
	struct ipc_msg		*m = malloc(sizeof(*m));

	CHECK(m != NULL);
	while (reply(d->sock, m, d->pop3) == 0)
		;
	free(m);
	return NULL;
}

/* Sends m, with a descriptor of kind (0-3) or none (-1). */
static int
send_fd(int sock, struct ipc_msg *m, int kind, bool pop3)
{
	int	fd = -1, other = -1, rc;

	if (kind != -1)
		fd = session_fd((unsigned)kind, pop3, &other);
	rc = ipc_send(sock, m, fd);
	if (fd != -1)
		close(fd);
	if (other != -1)
		close(other);
	return rc;
}

/* The real APOP login: challenge, digest, check. False if it failed. */
static bool
login(int sock, struct ipc_msg *m)
{
	char	stamp[APOP_STAMP_MAX + 1], hex[33];

	ipc_msg_init(m, PRIV_SESSION_BEGIN);
	ipc_put_str(m, "FUZZSID");
	ipc_put_u32(m, ROLE_POP3);
	if (send_fd(sock, m, 1, true) == -1 || reply(sock, m, false) == -1 ||
	    m->type != PRIV_OK)
		return false;
	ipc_msg_init(m, PRIV_APOP_CHALLENGE);
	if (ipc_send(sock, m, -1) == -1 || reply(sock, m, false) == -1 ||
	    m->type != PRIV_OK ||
	    ipc_get_str(m, stamp, sizeof(stamp), sizeof(stamp) - 1) == -1)
		return false;
	scratch_apop_digest(stamp, strlen(stamp), hex);
	ipc_msg_init(m, PRIV_APOP);
	ipc_put_str(m, sc.user);
	ipc_put_str(m, hex);
	return ipc_send(sock, m, -1) == 0 && reply(sock, m, false) == 0 &&
	    m->type == PRIV_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ipc_msg	 m;
	static bool		 ready;
	struct scratch_monitor	 mon;
	struct drain		 d;
	pthread_t		 dt;
	char			 path[512];
	uint32_t		 hdr[2];
	size_t			 pos = 1, len;
	int			 wfd;
	uint8_t			 op;

	if (!ready) {
		scratch_init(&sc, "fuzz-priv");
		scratch_apop(&sc);
		listeners_init();
		ready = true;
	}
	if (size < 1)
		return 0;
	d.pop3 = (data[0] & 1) != 0;
	sc.cfg->smtp.vrfy = sc.cfg->smtp.expn = (data[0] & 4) != 0;
	sc.listeners = (data[0] & 8) ? &lst[d.pop3 ? 1 : 0] : NULL;
	sc.nlisteners = (data[0] & 8) ? 1 : 0;
	wfd = d.sock = scratch_monitor_start(&mon, &sc,
	    d.pop3 ? PRIV_PROTO_POP3 : PRIV_PROTO_SMTP);

	if ((data[0] & 3) == 3)
		(void)login(wfd, &m);
	CHECK(pthread_create(&dt, NULL, drain, &d) == 0);

	while (pos + 3 <= size) {
		op = data[pos];
		len = (size_t)data[pos + 1] | (size_t)data[pos + 2] << 8;
		pos += 3;
		if (len > size - pos)
			len = size - pos;
		if (op & 1) {
			if (len == 0 || len - 1 > IPC_MSG_MAX - IPC_HDR_LEN)
				goto next;
			ipc_msg_init(&m, data[pos] % 24);
			memcpy(m.buf + IPC_HDR_LEN, data + pos + 1, len - 1);
			m.len = len - 1;
		} else {
			/* the raw datagram goes out through a bare header */
			if (len < IPC_HDR_LEN || len > IPC_MSG_MAX)
				goto next;
			memcpy(hdr, data + pos, sizeof(hdr));
			ipc_msg_init(&m, hdr[0]);
			memcpy(m.buf + IPC_HDR_LEN, data + pos + IPC_HDR_LEN,
			    len - IPC_HDR_LEN);
			m.len = len - IPC_HDR_LEN;
			/* ipc_send writes the true length: lie as the input does */
			if (hdr[1] != m.len) {
				if (send(wfd, data + pos, len, MSG_NOSIGNAL) ==
				    -1)
					break;
				goto next;
			}
		}
		if (m.type == PRIV_AUTH)
			goto next;
		if (send_fd(wfd, &m, m.type == PRIV_SESSION_BEGIN &&
		    !(op & 2) ? (op >> 2) & 3 : -1, d.pop3) == -1)
			break;		/* dropped */
next:
		pos += len;
	}
	shutdown(wfd, SHUT_WR);
	scratch_monitor_join(&mon);
	CHECK(pthread_join(dt, NULL) == 0);
	close(wfd);

	/* after the session: only acknowledged queue files, whole */
	scratch_check_queue(&sc);
	snprintf(path, sizeof(path), "%s/.%s.pop3-update", sc.spool,
	    sc.user);
	CHECK(access(path, F_OK) == -1);
	snprintf(path, sizeof(path), "%s/%s.lock", sc.spool, sc.user);
	CHECK(access(path, F_OK) == -1);
	(void)scratch_sweep(sc.spool, false);
	return 0;
}
