/*
 * libFuzzer target for a whole POP3 session over a maildrop: the input
 * is the maildrop's bytes and everything a client sends after logging
 * in. The real worker session (pop3d/, as inetd runs it) talks to a real
 * monitor in a thread; the client logs in for real, with APOP against a
 * scratch secrets file as the user running the fuzzer, so the monitor
 * opens, locks, indexes and at QUIT rewrites the scratch maildrop
 * (scratch.h).
 *
 * Input: one flags octet (bit 0: pop3.index on), a 16-bit length and the
 * maildrop, then the client's bytes.
 *
 * Checks: no crash, leak or hang; in the reply stream every line that
 * starts with "." is "." alone or byte-stuffed; after the session no
 * update file or lock is left, and the maildrop is as it was or
 * shorter, never longer (nothing was added).
 */
#define _GNU_SOURCE
#include "autoconf.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "pool_worker.h"
#include "pop3d/pop3_session.h"
#include "priv_client.h"
#include "scratch.h"
#include "worker_env.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct scratch	sc;
static char		mbox[256];

struct client {
	int		 fd;
	const uint8_t	*data;
	size_t		 len;
	pthread_t	 rt;
	bool		 reader;
};

static void	*reader(void *);

/*
 * The client: reads the greeting, logs in with APOP, hands the rest of
 * the conversation to the reader thread and sends the fuzzed bytes.
 */
static void *
writer(void *arg)
{
	struct client	*c = arg;
	char		 line[512], buf[256], hex[33];
	const char	*lt, *gt;
	int		 n;

	if (scratch_getline(c->fd, line, sizeof(line)) &&
	    strncmp(line, "+OK", 3) == 0 && (lt = strchr(line, '<')) &&
	    (gt = strchr(lt, '>'))) {
		scratch_apop_digest(lt, (size_t)(gt - lt + 1), hex);
		n = snprintf(buf, sizeof(buf), "APOP %s %s\r\n", sc.user, hex);
		if (send(c->fd, buf, (size_t)n, MSG_NOSIGNAL) == n)
			(void)scratch_getline(c->fd, line, sizeof(line));
	}
	CHECK(pthread_create(&c->rt, NULL, reader, c) == 0);
	c->reader = true;
	scratch_send_all(c->fd, c->data, c->len);
	return NULL;
}

/*
 * Which replies are multi-line depends on the pipelined, fuzzed
 * commands, so the check covers what holds for every line: one that
 * starts with "." is "." alone or byte-stuffed (".."). Lines are what
 * CRLF ends: a bare CR that a maildrop holds goes out as it is, inside
 * its line (RFC 1939 knows no other line end), and its octet is counted
 * in LIST and STAT.
 */
static void
check_line(const char *l, size_t n, void *arg)
{
	(void)arg;
	if (n > 0 && l[0] == '.')
		CHECK(n == 1 || l[1] == '.');
}

static void *
reader(void *arg)
{
	struct client	*c = arg;

	(void)scratch_read_lines(c->fd, check_line, c);
	return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool		 ready;
	struct scratch_monitor	 mon;
	struct worker_env	 env;
	struct client		 c;
	struct stat		 st;
	char			 path[512];
	pthread_t		 wt;
	size_t			 mlen;
	int			 wfd, cs[2], fd;

	if (!ready) {
		scratch_init(&sc, "fuzz-pop3-session");
		scratch_apop(&sc);
		snprintf(mbox, sizeof(mbox), "%s/%s", sc.spool, sc.user);
		ready = true;
	}
	if (size < 3)
		return 0;
	sc.cfg->pop3.index = (data[0] & 1) != 0;
	mlen = (size_t)data[1] | (size_t)data[2] << 8;
	if (mlen > size - 3)
		mlen = size - 3;
	CHECK((fd = open(mbox, O_WRONLY | O_CREAT | O_TRUNC, 0600)) != -1);
	CHECK(write(fd, data + 3, mlen) == (ssize_t)mlen);
	close(fd);

	wfd = scratch_monitor_start(&mon, &sc, PRIV_PROTO_POP3);
	priv_client_init(wfd);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cs) == 0);
	memset(&c, 0, sizeof(c));
	c.fd = cs[0];
	c.data = data + 3 + mlen;
	c.len = size - 3 - mlen;
	CHECK(pthread_create(&wt, NULL, writer, &c) == 0);

	memset(&env, 0, sizeof(env));
	env.cfg = sc.cfg;
	env.inetd_role = ROLE_POP3;
	pop3_session_inetd(&env, cs[1], cs[1]);
	close(cs[1]);

	CHECK(pthread_join(wt, NULL) == 0);
	if (c.reader)
		CHECK(pthread_join(c.rt, NULL) == 0);
	close(cs[0]);
	close(wfd);
	scratch_monitor_join(&mon);

	/* nothing added, nothing left behind */
	CHECK(stat(mbox, &st) == 0);
	CHECK((size_t)st.st_size <= mlen);
	snprintf(path, sizeof(path), "%s/.%s.pop3-update", sc.spool, sc.user);
	CHECK(access(path, F_OK) == -1);
	snprintf(path, sizeof(path), "%s/%s.lock", sc.spool, sc.user);
	CHECK(access(path, F_OK) == -1);
	return 0;
}
