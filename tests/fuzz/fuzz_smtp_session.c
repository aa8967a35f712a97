/*
 * libFuzzer target for a whole SMTP session: the input is everything a
 * client sends, in one go. The real worker session (smtpd/, as inetd
 * runs it) reads it from a socket pair and asks a real monitor, in a
 * thread, for every privileged step; the monitor writes queue files in
 * a scratch mail system (scratch.h). Nothing is delivered.
 *
 * The first input octet picks the role (smtp, submission; smtps needs
 * TLS, which is not configured here) and whether HELO is required;
 * the rest is the client's bytes.
 *
 * Checks: no crash, leak or hang; every reply line is "NNN" then " " or
 * "-" then text, CRLF, with a code from 2xx to 5xx, a multi-line reply
 * keeps its code, and nothing follows a 221 or a 421; every queued
 * message reads back as a queue file, and nothing is left in incoming/.
 */
#define _GNU_SOURCE
#include "autoconf.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "master/priv.h"
#include "pool_worker.h"
#include "priv_client.h"
#include "scratch.h"
#include "smtpd/smtp_session.h"
#include "worker_env.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct scratch	sc;

/* inetd mode is not used here (p.inetd is false): never called */
void
priv_inetd_queued(struct priv *p, const char *qid)
{
	(void)p;
	(void)qid;
	abort();
}

struct feed {
	int		 fd;
	const uint8_t	*data;
	size_t		 len;
};

/* The client: sends everything, then half-closes. */
static void *
writer(void *arg)
{
	struct feed	*f = arg;
	size_t		 off = 0;
	ssize_t		 n;

	while (off < f->len) {
		n = send(f->fd, f->data + off, f->len - off, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			break;		/* the server closed: fine */
		off += (size_t)n;
	}
	shutdown(f->fd, SHUT_WR);
	return NULL;
}

/* Checks one reply line (without CRLF); *code carries a multi-line reply. */
static void
check_line(const char *l, size_t n, int *code, bool *closed)
{
	int	c;

	CHECK(!*closed);
	CHECK(n >= 4);
	CHECK(l[0] >= '2' && l[0] <= '5' && l[1] >= '0' && l[1] <= '9' &&
	    l[2] >= '0' && l[2] <= '9');
	CHECK(l[3] == ' ' || l[3] == '-');
	CHECK(memchr(l, '\r', n) == NULL && memchr(l, '\0', n) == NULL);
	c = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
	if (*code != 0)
		CHECK(c == *code);
	*code = l[3] == '-' ? c : 0;
	if (l[3] == ' ' && (c == 221 || c == 421))
		*closed = true;
}

/* The client's ear: reads and checks every reply until the end. */
static void *
reader(void *arg)
{
	static char	 buf[1 << 16];
	int		 fd = *(int *)arg, code = 0;
	size_t		 have = 0, i, start;
	ssize_t		 n;
	bool		 closed = false;

	for (;;) {
		n = recv(fd, buf + have, sizeof(buf) - have, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		start = 0;
		for (i = 0; i + 1 < have; i++) {
			if (buf[i] != '\r' || buf[i + 1] != '\n')
				continue;
			check_line(buf + start, i - start, &code, &closed);
			start = i + 2;
			i++;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
		CHECK(have < sizeof(buf) - 1);	/* a reply line is short */
	}
	CHECK(have == 0);	/* no half line at the end */
	CHECK(code == 0);	/* no unfinished multi-line reply */
	return NULL;
}

static void *
monitor(void *arg)
{
	struct priv	*p = arg;

	priv_serve(p);
	close(p->sock);
	return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool		 ready;
	struct worker_env	 env;
	struct priv		 p;
	struct feed		 f;
	pthread_t		 mt, wt, rt;
	int			 sv[2], cs[2];

	if (!ready) {
		scratch_init(&sc, "fuzz-smtp-session");
		signal(SIGPIPE, SIG_IGN);
		ready = true;
	}
	if (size < 1)
		return 0;
	sc.cfg->smtp.helo_required = (data[0] & 2) != 0;

	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	memset(&p, 0, sizeof(p));
	p.cfg = sc.cfg;
	p.proto = PRIV_PROTO_SMTP;
	p.sock = sv[1];
	p.notify_fd = -1;
	CHECK(pthread_create(&mt, NULL, monitor, &p) == 0);
	priv_client_init(sv[0]);

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cs) == 0);
	f.fd = cs[0];
	f.data = data + 1;
	f.len = size - 1;
	CHECK(pthread_create(&wt, NULL, writer, &f) == 0);
	CHECK(pthread_create(&rt, NULL, reader, &cs[0]) == 0);

	memset(&env, 0, sizeof(env));
	env.cfg = sc.cfg;
	env.inetd_role = (data[0] & 1) ? ROLE_SUBMISSION : ROLE_SMTP;
	smtp_session_inetd(&env, cs[1], cs[1]);
	close(cs[1]);

	CHECK(pthread_join(wt, NULL) == 0);
	CHECK(pthread_join(rt, NULL) == 0);
	close(cs[0]);
	close(sv[0]);
	CHECK(pthread_join(mt, NULL) == 0);
	(void)scratch_check_queue(&sc);
	return 0;
}
