/*
 * libFuzzer target for a whole SMTP session: the input is everything a
 * client sends, in one go. The real worker session (smtpd/, as inetd
 * runs it) reads it from a socket pair and asks a real monitor, in a
 * thread, for every privileged step; the monitor writes queue files in
 * a scratch mail system (scratch.h). Nothing is delivered.
 *
 * The first input octet picks the role (bit 0: submission, else smtp;
 * smtps needs TLS, which is not configured here), whether HELO is
 * required (bit 1) and whether VRFY and EXPN are on (bit 2); the rest is
 * the client's bytes. Recipients resolve through the scratch aliases
 * (SCRATCH_ALIASES: team@localhost fails part-way, and so on).
 *
 * Checks: no crash, leak or hang; every reply line is "NNN" then " " or
 * "-" then text, CRLF, with a code from 2xx to 5xx, a multi-line reply
 * keeps its code, and nothing follows a 221 or a 421; every queued
 * message reads back as a queue file, and nothing is left in incoming/;
 * no octet of a BDAT chunk runs as a command, whether the BDAT was
 * accepted or refused (max_replies() says how that is checked).
 */
#define _GNU_SOURCE
#include "autoconf.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "pool_worker.h"
#include "priv_client.h"
#include "scratch.h"
#include "smtpd/smtp_parse.h"
#include "smtpd/smtp_session.h"
#include "worker_env.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct scratch	sc;

struct client {
	int		 fd;
	const uint8_t	*data;
	size_t		 len;
	int		 code;		/* of an unfinished multi-line reply */
	size_t		 finals;	/* final replies but 3xx */
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
	if (l[3] == ' ' && l[0] != '3')
		c->finals++;
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

/*
 * An upper bound on the final replies (3xx aside) the session may give
 * to the client's bytes d[0..n): the greeting, one per command line on
 * the longest way through the input, and the 421 after too many
 * errors. The ways: after a command line comes the next line; after a
 * BDAT line (smtp_parse_is_bdat()) only the octet after its chunk, if
 * the size parses (the session closes otherwise); after DATA also the
 * line after the end of data (the first ".", CR LF after CR LF), for
 * when it was accepted; after AUTH also the line after one or two
 * responses. A session that runs the octets of a BDAT chunk as
 * commands answers more than that as soon as the chunk holds enough.
 */
static size_t
max_replies(const uint8_t *d, size_t n)
{
	const char	*t = (const char *)d;
	struct smtp_cmd	 cmd;
	struct reason	 r;
	size_t		*nl, *dataend, p, q, e, len, nxt, most = 0;
	size_t		 succ[3], ns, i;
	long		*best;
	uint64_t	 size;
	bool		 last;
	int		 code;

	nl = calloc(n + 1, sizeof(*nl));
	dataend = calloc(n + 1, sizeof(*dataend));
	best = calloc(n + 1, sizeof(*best));
	CHECK(nl != NULL && dataend != NULL && best != NULL);
	/* nl[p]: the LF at or after p (n: none) */
	nl[n] = n;
	for (p = n; p-- > 0; )
		nl[p] = d[p] == '\n' ? p : nl[p + 1];
	/* dataend[q], q at a line start: the first "." line from q on that
	 * follows a CRLF, or n */
	dataend[n] = n;
	for (q = n; q-- > 0; ) {
		if (q > 0 && d[q - 1] != '\n')
			continue;
		if (nl[q] == q + 2 && d[q] == '.' && d[q + 1] == '\r' &&
		    q >= 2 && d[q - 2] == '\r')
			dataend[q] = q;
		else
			dataend[q] = nl[q] < n ? dataend[nl[q] + 1] : n;
	}
	for (p = 0; p <= n; p++)
		best[p] = -1;
	best[0] = 0;
	for (p = 0; p < n; p++) {
		if (best[p] < 0)
			continue;
		e = nl[p];
		nxt = e < n ? e + 1 : n;
		len = e - p;
		if (e < n && len > 0 && d[e - 1] == '\r')
			len--;
		if ((size_t)best[p] + 1 > most)
			most = (size_t)best[p] + 1;
		ns = 0;
		if (smtp_parse_is_bdat(t + p, len)) {
			if (smtp_parse_cmd(t + p, len, &cmd, &code, &r) == 0 &&
			    smtp_parse_bdat(cmd.args, cmd.argslen, &size, &last,
			    &code, &r) == 0 && size <= n - nxt)
				succ[ns++] = nxt + (size_t)size;
		} else {
			succ[ns++] = nxt;
			if (nxt < n && smtp_parse_cmd(t + p, len, &cmd, &code,
			    &r) == 0) {
				if (strcmp(cmd.verb, "DATA") == 0) {
					q = nxt + 2 == nl[nxt] && d[nxt] == '.' &&
					    d[nxt + 1] == '\r' ? nxt : dataend[nxt];
					if (q < n)
						succ[ns++] = nl[q] + 1;
				} else if (strcmp(cmd.verb, "AUTH") == 0) {
					for (q = nxt; ns < 3 && nl[q] < n; ) {
						q = nl[q] + 1;
						succ[ns++] = q;
					}
				}
			}
		}
		for (i = 0; i < ns; i++)
			if (succ[i] <= n && best[succ[i]] < best[p] + 1)
				best[succ[i]] = best[p] + 1;
	}
	free(nl);
	free(dataend);
	free(best);
	return 1 + most + 1;
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
	sc.cfg->smtp.vrfy = sc.cfg->smtp.expn = (data[0] & 4) != 0;
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
	CHECK(c.finals <= max_replies(c.data, c.len));
	close(cs[0]);
	close(wfd);
	scratch_monitor_join(&mon);
	scratch_check_queue(&sc);
	return 0;
}
