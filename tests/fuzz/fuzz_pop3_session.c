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

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "config.h"
#include "master/priv.h"
#include "pool_worker.h"
#include "pop3d/pop3_session.h"
#include "priv_client.h"
#include "scratch.h"
#include "worker_env.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define SECRET	"fuzz-apop-secret"

static struct scratch	sc;
static char		user[64], mbox[256];

/* inetd mode is not used here (p.inetd is false): never called */
void
priv_inetd_queued(struct priv *p, const char *qid)
{
	(void)p;
	(void)qid;
	abort();
}

static void
init(void)
{
	struct passwd	*pw;
	char		 secrets[192];
	FILE		*f;

	scratch_init(&sc, "fuzz-pop3-session");
	CHECK((pw = getpwuid(getuid())) != NULL);
	snprintf(user, sizeof(user), "%s", pw->pw_name);
	snprintf(mbox, sizeof(mbox), "%s/%s", sc.spool, user);
	snprintf(secrets, sizeof(secrets), "%s/apop", sc.top);
	CHECK((f = fopen(secrets, "w")) != NULL);
	fprintf(f, "%s:%s\n", user, SECRET);
	CHECK(fclose(f) == 0);
	CHECK(chmod(secrets, 0600) == 0);
	free(sc.cfg->pop3.apop_secrets);
	CHECK((sc.cfg->pop3.apop_secrets = strdup(secrets)) != NULL);
	signal(SIGPIPE, SIG_IGN);
}

struct client {
	int		 fd;
	const uint8_t	*data;
	size_t		 len;
	pthread_t	 rt;
	bool		 reader;
};

static void	*reader(void *);

/* Reads one line (CRLF) byte by byte into buf; false at EOF. */
static bool
getline_crlf(int fd, char *buf, size_t n)
{
	size_t	i = 0;
	char	c;

	while (i + 1 < n) {
		if (recv(fd, &c, 1, 0) != 1)
			return false;
		buf[i++] = c;
		if (i >= 2 && buf[i - 2] == '\r' && buf[i - 1] == '\n') {
			buf[i - 2] = '\0';
			return true;
		}
	}
	return false;
}

/*
 * The client: reads the greeting, logs in with APOP, hands the rest of
 * the conversation to the reader thread and sends the fuzzed bytes.
 */
static void *
writer(void *arg)
{
	struct client	*c = arg;
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen, i;
	char		 line[512], buf[1024], hex[2 * EVP_MAX_MD_SIZE + 1];
	const char	*lt, *gt;
	size_t		 off = 0;
	ssize_t		 n;

	if (getline_crlf(c->fd, line, sizeof(line)) &&
	    strncmp(line, "+OK", 3) == 0 && (lt = strchr(line, '<')) &&
	    (gt = strchr(lt, '>'))) {
		snprintf(buf, sizeof(buf), "%.*s%s", (int)(gt - lt + 1), lt,
		    SECRET);
		CHECK(EVP_Digest(buf, strlen(buf), md, &mdlen, EVP_md5(),
		    NULL));
		for (i = 0; i < mdlen; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		n = snprintf(buf, sizeof(buf), "APOP %s %s\r\n", user, hex);
		if (send(c->fd, buf, (size_t)n, MSG_NOSIGNAL) == n)
			(void)getline_crlf(c->fd, line, sizeof(line));
	}
	CHECK(pthread_create(&c->rt, NULL, reader, c) == 0);
	c->reader = true;
	while (off < c->len) {
		n = send(c->fd, c->data + off, c->len - off, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			break;		/* the server closed: fine */
		off += (size_t)n;
	}
	shutdown(c->fd, SHUT_WR);
	return NULL;
}

/*
 * Checks the reply stream. Which replies are multi-line depends on the
 * pipelined, fuzzed commands, so the check covers what holds for every
 * line: one that starts with "." is "." alone or byte-stuffed ("..").
 * Lines are what CRLF ends: a bare CR that a maildrop holds
 * goes out as it is, inside its line (RFC 1939 knows no other line end),
 * and its octet is counted in LIST and STAT.
 */
static void *
reader(void *arg)
{
	static char	 buf[1 << 17];
	struct client	*c = arg;
	size_t		 have = 0, i, start, len;
	ssize_t		 n;
	const char	*l;

	for (;;) {
		n = recv(c->fd, buf + have, sizeof(buf) - have, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		start = 0;
		for (i = 0; i + 1 < have; i++) {
			if (buf[i] != '\r' || buf[i + 1] != '\n')
				continue;
			l = buf + start;
			len = i - start;
			if (len > 0 && l[0] == '.')
				CHECK(len == 1 || l[1] == '.');
			start = i + 2;
			i++;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
		/* a 100 MB line would be cut by the server: keep reading */
		if (have >= sizeof(buf) - 1)
			have = 0;
	}
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
	struct client		 c;
	struct priv		 p;
	struct stat		 st;
	char			 path[512];
	pthread_t		 mt, wt;
	size_t			 mlen;
	int			 sv[2], cs[2], fd;

	if (!ready) {
		init();
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

	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	memset(&p, 0, sizeof(p));
	p.cfg = sc.cfg;
	p.proto = PRIV_PROTO_POP3;
	p.sock = sv[1];
	p.notify_fd = -1;
	CHECK(pthread_create(&mt, NULL, monitor, &p) == 0);
	priv_client_init(sv[0]);

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
	close(sv[0]);
	CHECK(pthread_join(mt, NULL) == 0);

	/* nothing added, nothing left behind */
	CHECK(stat(mbox, &st) == 0);
	CHECK((size_t)st.st_size <= mlen);
	snprintf(path, sizeof(path), "%s/.%s.pop3-update", sc.spool, user);
	CHECK(access(path, F_OK) == -1);
	snprintf(path, sizeof(path), "%s/%s.lock", sc.spool, user);
	CHECK(access(path, F_OK) == -1);
	return 0;
}
