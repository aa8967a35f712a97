/*
 * libFuzzer target for a whole SMTP session: the input is everything a
 * client sends, in one go. The real worker session (smtpd/, as inetd
 * runs it) reads it from a socket pair and asks a real monitor, in a
 * thread, for every privileged step; the monitor writes queue files in
 * a scratch mail system (scratch.h). Nothing is delivered.
 *
 * The first input octet picks the role (bit 0: submission, else smtp;
 * smtps needs TLS, which is not configured here) and whether HELO is
 * required (bit 1); the rest is the client's bytes.
 *
 * Checks: no crash, leak or hang; every reply line is "NNN" then " " or
 * "-" then text, CRLF, with a code from 2xx to 5xx, a multi-line reply
 * keeps its code, and nothing follows a 221 or a 421; every queued
 * message reads back as a queue file, and nothing is left in incoming/.
 */
#define _GNU_SOURCE
#include "autoconf.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "pool_worker.h"
#include "priv_client.h"
#include "scratch.h"
#include "smtpd/smtp_session.h"
#include "worker_env.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct scratch	sc;

struct client {
	int		 fd;
	const uint8_t	*data;
	size_t		 len;
	int		 code;		/* of an unfinished multi-line reply */
	bool		 closed;	/* 221 or 421 was said */
};

static void *
writer(void *arg)
{
	struct client	*c = arg;

	scratch_send_all(c->fd, c->data, c->len);
	return NULL;
}

static void
check_line(const char *l, size_t n, void *arg)
{
	struct client	*c = arg;
	int		 code;

	CHECK(!c->closed);
	CHECK(n >= 4);
	CHECK(l[0] >= '2' && l[0] <= '5' && l[1] >= '0' && l[1] <= '9' &&
	    l[2] >= '0' && l[2] <= '9');
	CHECK(l[3] == ' ' || l[3] == '-');
	CHECK(memchr(l, '\r', n) == NULL && memchr(l, '\0', n) == NULL);
	code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
	if (c->code != 0)
		CHECK(code == c->code);
	c->code = l[3] == '-' ? code : 0;
	if (l[3] == ' ' && (code == 221 || code == 421))
		c->closed = true;
}

/* The client's ear: every reply, whole, until the end. */
static void *
reader(void *arg)
{
	struct client	*c = arg;

	CHECK(scratch_read_lines(c->fd, check_line, c) == 0);
	CHECK(c->code == 0);	/* no unfinished multi-line reply */
	return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool		 ready;
	struct scratch_monitor	 mon;
	struct worker_env	 env;
	struct client		 c;
	pthread_t		 wt, rt;
	int			 wfd, cs[2];

	if (!ready) {
		scratch_init(&sc, "fuzz-smtp-session");
		ready = true;
	}
	if (size < 1)
		return 0;
	sc.cfg->smtp.helo_required = (data[0] & 2) != 0;
	sc.role = (data[0] & 1) ? ROLE_SUBMISSION : ROLE_SMTP;
	wfd = scratch_monitor_start(&mon, &sc, PRIV_PROTO_SMTP);
	priv_client_init(wfd);

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cs) == 0);
	memset(&c, 0, sizeof(c));
	c.fd = cs[0];
	c.data = data + 1;
	c.len = size - 1;
	CHECK(pthread_create(&wt, NULL, writer, &c) == 0);
	CHECK(pthread_create(&rt, NULL, reader, &c) == 0);

	memset(&env, 0, sizeof(env));
	env.cfg = sc.cfg;
	env.inetd_role = sc.role;
	smtp_session_inetd(&env, cs[1], cs[1]);
	close(cs[1]);

	CHECK(pthread_join(wt, NULL) == 0);
	CHECK(pthread_join(rt, NULL) == 0);
	close(cs[0]);
	close(wfd);
	scratch_monitor_join(&mon);
	scratch_check_queue(&sc);
	return 0;
}
