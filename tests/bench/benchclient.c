/*
 * benchclient: the load client of tests/bench/run (by hand, never part
 * of "make check"). Plain SMTP and POP3 on loopback, one command at a
 * time, no pipelining, big receive buffers: so that on a shared 2-core
 * machine the client costs less than the server it measures.
 *
 *	benchclient smtp HOST PORT RCPT SIZE COUNT CONC
 *		COUNT messages of SIZE bytes to RCPT, one per SMTP session
 *		(as Postfix's smtp-source -s CONC does), CONC sessions at once
 *	benchclient stat HOST PORT USER PASS
 *		login, STAT, QUIT
 *	benchclient retr HOST PORT USER PASS [TOPLINES]
 *		login, STAT, RETR 1..n (or TOP i TOPLINES), QUIT
 *	benchclient retrpipe HOST PORT USER PASS WINDOW
 *		the same RETRs pipelined (RFC 2449 PIPELINING): up to WINDOW
 *		of them sent ahead of their replies, topped up in batches
 *
 * Prints "name value unit" lines; errors to stderr and exit 1.
 */
#define _GNU_SOURCE
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE	(1 << 20)

struct conn {
	int			 fd;
	char			*buf;
	size_t			 off, len;
	unsigned long long	 bytes_in;
};

static void	die(const char *, ...) __attribute__((format(printf, 1, 2),
		    noreturn));
static double	now(void);
static double	cpu_s(void);
static long	num(const char *, long, long);
static void	conn_open(struct conn *, const char *, int);
static int	conn_fill(struct conn *);
static char	*conn_line(struct conn *);
static void	conn_write(struct conn *, const void *, size_t);
static void	conn_cmd(struct conn *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static char	*reply(struct conn *, const char *);
static size_t	multiline(struct conn *);
static void	pop3_login(struct conn *, const char *, int, const char *,
		    const char *);
static void	smtp_session(const char *, int, const char *, const char *,
		    size_t);
static char	*smtp_message(const char *, size_t, size_t *);
static void	retr_print(long, double, size_t, double);

static void
die(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fprintf(stderr, "benchclient: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static double
now(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		die("clock_gettime: %s", strerror(errno));
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
cpu_s(void)
{
	struct rusage	ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		die("getrusage: %s", strerror(errno));
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long
num(const char *s, long lo, long hi)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		die("bad number: %s", s);
	return v;
}

static void
conn_open(struct conn *c, const char *host, int port)
{
	struct sockaddr_in	sa;
	int			one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		die("bad host %s (an IPv4 literal)", host);
	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die("socket: %s", strerror(errno));
	if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one)) == -1)
		die("setsockopt: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		die("connect %s:%d: %s", host, port, strerror(errno));
	if (c->buf == NULL && (c->buf = malloc(BUF_SIZE)) == NULL)
		die("out of memory");
	c->off = c->len = 0;
}

/* Reads more into the buffer; 0 at EOF. */
static int
conn_fill(struct conn *c)
{
	ssize_t	n;

	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len == BUF_SIZE)
		die("line too long");
	do
		n = recv(c->fd, c->buf + c->len, BUF_SIZE - c->len, 0);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		die("recv: %s", strerror(errno));
	c->len += (size_t)n;
	c->bytes_in += (unsigned long long)n;
	return n > 0;
}

/* One line, NUL-terminated, without its line end. */
static char *
conn_line(struct conn *c)
{
	char	*p, *line;

	for (;;) {
		p = memchr(c->buf + c->off, '\n', c->len - c->off);
		if (p != NULL) {
			line = c->buf + c->off;
			c->off = (size_t)(p - c->buf) + 1;
			if (p > line && p[-1] == '\r')
				p--;
			*p = '\0';
			return line;
		}
		if (!conn_fill(c))
			die("connection closed by the server");
	}
}

static void
conn_write(struct conn *c, const void *p, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			die("send: %s", strerror(errno));
		}
		p = (const char *)p + n;
		len -= (size_t)n;
	}
}

static void
conn_cmd(struct conn *c, const char *fmt, ...)
{
	char	out[512];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(out, sizeof(out), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(out))
		die("command too long");
	conn_write(c, out, (size_t)n);
}

/* One reply line (the last of an SMTP multi-line reply) starting with want. */
static char *
reply(struct conn *c, const char *want)
{
	char	*l;

	do
		l = conn_line(c);
	while (strlen(l) > 3 && l[3] == '-');
	if (strncmp(l, want, strlen(want)) != 0)
		die("unexpected reply (want %s): %s", want, l);
	return l;
}

/*
 * Skips a multi-line POP3 body up to CRLF.CRLF without splitting it into
 * lines; returns its wire size.
 */
static size_t
multiline(struct conn *c)
{
	size_t	 total = 0, from;
	char	*p;

	/* the body starts at a line start: a lone "." ends it at once */
	for (;;) {
		if (c->len - c->off >= 3) {
			if (memcmp(c->buf + c->off, ".\r\n", 3) == 0) {
				c->off += 3;
				return 0;
			}
			break;
		}
		if (!conn_fill(c))
			die("connection closed inside a multi-line reply");
	}
	from = c->off;
	for (;;) {
		p = memmem(c->buf + from, c->len - from, "\r\n.\r\n", 5);
		if (p != NULL) {
			total += (size_t)(p - (c->buf + c->off)) + 2;
			c->off = (size_t)(p - c->buf) + 5;
			return total;
		}
		/* keep the last 4 bytes: the end may straddle two reads */
		if (c->len - c->off > 4) {
			total += c->len - c->off - 4;
			c->off = c->len - 4;
		}
		if (!conn_fill(c))
			die("connection closed inside a multi-line reply");
		from = c->off;
	}
}

static void
pop3_login(struct conn *c, const char *host, int port, const char *user,
    const char *pass)
{
	conn_open(c, host, port);
	reply(c, "+OK");
	conn_cmd(c, "USER %s\r\n", user);
	reply(c, "+OK");
	conn_cmd(c, "PASS %s\r\n", pass);
	reply(c, "+OK");
}

static void
smtp_session(const char *host, int port, const char *rcpt, const char *msg,
    size_t msglen)
{
	static struct conn	c;

	conn_open(&c, host, port);
	reply(&c, "220");
	conn_cmd(&c, "EHLO bench.example.test\r\n");
	reply(&c, "250");
	conn_cmd(&c, "MAIL FROM:<sender@example.test>\r\n");
	reply(&c, "250");
	conn_cmd(&c, "RCPT TO:<%s>\r\n", rcpt);
	reply(&c, "250");
	conn_cmd(&c, "DATA\r\n");
	reply(&c, "354");
	conn_write(&c, msg, msglen);
	reply(&c, "250");
	conn_cmd(&c, "QUIT\r\n");
	reply(&c, "221");
	close(c.fd);
}

/* A message of size bytes (CRLF lines of 78 bytes), then ".\r\n". */
static char *
smtp_message(const char *rcpt, size_t size, size_t *len_out)
{
	char	*m;
	size_t	 len;
	int	 n;

	if ((m = malloc(size + 1024)) == NULL)
		die("out of memory");
	n = snprintf(m, 1024, "From: <sender@example.test>\r\nTo: <%s>\r\n"
	    "Subject: bench\r\n\r\n", rcpt);
	if (n < 0 || n >= 1024)
		die("recipient too long");
	len = (size_t)n;
	while (len + 80 <= size) {
		memset(m + len, 'x', 78);
		len += 78;
		m[len++] = '\r';
		m[len++] = '\n';
	}
	memcpy(m + len, ".\r\n", 3);
	*len_out = len + 3;
	return m;
}

/* The figures of a retr or retrpipe run. */
static void
retr_print(long n, double secs, size_t body, double cpu)
{
	printf("pop3_retr_msgs %ld msgs\npop3_retr_s %.6f s\n"
	    "pop3_retr_wire_bytes %zu bytes\npop3_retr_MBps %.2f MB/s\n"
	    "pop3_retr_client_cpu_s %.3f s\n", n, secs, body,
	    (double)body / 1e6 / secs, cpu);
}

int
main(int argc, char **argv)
{
	static struct conn	 c;
	char			*r, *msg;
	double			 t0, t1, t2, cpu0;
	long			 n, i, count, conc, k, mine, toplines = -1;
	long long		 octets;
	size_t			 body = 0, msglen;
	pid_t			 pid;
	int			 port, status, failed = 0;

	if (argc < 2)
		die("usage: see the comment at the top of benchclient.c");
	if (strcmp(argv[1], "smtp") == 0 && argc == 8) {
		port = (int)num(argv[3], 1, 65535);
		count = num(argv[6], 1, 100000000);
		conc = num(argv[7], 1, 1000);
		msg = smtp_message(argv[4], (size_t)num(argv[5], 0, 1L << 30),
		    &msglen);
		t0 = now();
		for (k = 0; k < conc; k++) {
			mine = count / conc + (k < count % conc);
			if ((pid = fork()) == -1)
				die("fork: %s", strerror(errno));
			if (pid == 0) {
				for (i = 0; i < mine; i++)
					smtp_session(argv[2], port, argv[4],
					    msg, msglen);
				_exit(0);
			}
		}
		for (k = 0; k < conc; k++) {
			if (wait(&status) == -1)
				die("wait: %s", strerror(errno));
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				failed = 1;
		}
		t1 = now();
		if (failed)
			die("a client process failed");
		printf("smtp_sessions %ld msgs\nsmtp_client_s %.6f s\n", count,
		    t1 - t0);
		free(msg);
	} else if (strcmp(argv[1], "stat") == 0 && argc == 6) {
		port = (int)num(argv[3], 1, 65535);
		t0 = now();
		pop3_login(&c, argv[2], port, argv[4], argv[5]);
		t1 = now();
		conn_cmd(&c, "STAT\r\n");
		r = reply(&c, "+OK");
		t2 = now();
		if (sscanf(r, "+OK %ld %lld", &n, &octets) != 2)
			die("STAT reply: %s", r);
		conn_cmd(&c, "QUIT\r\n");
		reply(&c, "+OK");
		printf("pop3_login_s %.6f s\npop3_stat_s %.6f s\n"
		    "pop3_login_stat_s %.6f s\npop3_messages %ld msgs\n"
		    "pop3_octets %lld bytes\n", t1 - t0, t2 - t1, t2 - t0, n,
		    octets);
	} else if (strcmp(argv[1], "retrpipe") == 0 && argc == 7) {
		long	window = num(argv[6], 1, 100000), sent = 0;
		char	*cmds;
		size_t	 len;

		port = (int)num(argv[3], 1, 65535);
		pop3_login(&c, argv[2], port, argv[4], argv[5]);
		conn_cmd(&c, "STAT\r\n");
		r = reply(&c, "+OK");
		if (sscanf(r, "+OK %ld %lld", &n, &octets) != 2)
			die("STAT reply: %s", r);
		if ((cmds = malloc((size_t)window * 24)) == NULL)
			die("out of memory");
		cpu0 = cpu_s();
		t0 = now();
		for (i = 1; i <= n; i++) {
			/* top up once half the window has been answered */
			if (sent < n && sent - i + 1 <= window / 2) {
				for (len = 0; sent < n && sent - i + 1 < window;)
					len += (size_t)snprintf(cmds + len, 24,
					    "RETR %ld\r\n", ++sent);
				conn_write(&c, cmds, len);
			}
			reply(&c, "+OK");
			body += multiline(&c);
		}
		t1 = now();
		free(cmds);
		conn_cmd(&c, "QUIT\r\n");
		reply(&c, "+OK");
		retr_print(n, t1 - t0, body, cpu_s() - cpu0);
	} else if (strcmp(argv[1], "retr") == 0 && (argc == 6 || argc == 7)) {
		port = (int)num(argv[3], 1, 65535);
		if (argc == 7)
			toplines = num(argv[6], 0, 1000000000);
		pop3_login(&c, argv[2], port, argv[4], argv[5]);
		conn_cmd(&c, "STAT\r\n");
		r = reply(&c, "+OK");
		if (sscanf(r, "+OK %ld %lld", &n, &octets) != 2)
			die("STAT reply: %s", r);
		cpu0 = cpu_s();
		t0 = now();
		for (i = 1; i <= n; i++) {
			if (toplines >= 0)
				conn_cmd(&c, "TOP %ld %ld\r\n", i, toplines);
			else
				conn_cmd(&c, "RETR %ld\r\n", i);
			reply(&c, "+OK");
			body += multiline(&c);
		}
		t1 = now();
		conn_cmd(&c, "QUIT\r\n");
		reply(&c, "+OK");
		retr_print(n, t1 - t0, body, cpu_s() - cpu0);
	} else
		die("usage: see the comment at the top of benchclient.c");
	if (fflush(stdout) == EOF)
		die("stdout: %s", strerror(errno));
	return 0;
}
