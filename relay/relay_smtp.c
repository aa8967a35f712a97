/*
 * One SMTP client session of the relay engine, in the relay worker
 * (unprivileged, chrooted; it opens no file by path): connect, greeting,
 * EHLO, STARTTLS (RFC 3207), AUTH (RFC 4954), and transactions (RFC
 * 5321 3.3) with PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC
 * 6152), SMTPUTF8 (RFC 6531) and DSN (RFC 3461) parameters.
 *
 * Timeouts (RFC 5321 4.5.3.2) bound whole replies, not single reads: a
 * server that drips one byte at a time still runs out of time when the
 * reply's deadline passes.
 *
 * A message with 8-bit data (BODY=8BITMIME) for a server that does not
 * offer 8BITMIME is returned to its sender with 5.6.3; we do not convert
 * it to 7 bit (RFC 6152 3 allows either; the conversion needs a MIME
 * parser and rewrites signed content, and such servers are rare today).
 * An SMTPUTF8 message for a server without SMTPUTF8 is returned with
 * 5.6.7 (RFC 6531 3.2), never downgraded.
 */
#include "autoconf.h"

#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base64.h"
#include "clock.h"
#include "io.h"
#include "io_tls.h"
#include "log.h"
#include "relay_engine.h"
#include "sockaddr.h"
#include "xmalloc.h"

/* How long QUIT's reply is waited for: politeness, not correctness. */
#define QUIT_WAIT_MS	2000

static int	read_reply(struct relay_session *, int, struct relay_reply *,
		    char *, size_t);
static void	reply_reason(const struct relay_reply *, struct reason *,
		    int *);
static int	say(struct relay_session *, const char *, int,
		    struct relay_reply *, char *, size_t);
static int	ehlo(struct relay_engine *, struct relay_session *,
		    const struct relay_req *, struct reason *, int *);
static int	starttls(struct relay_engine *, struct relay_session *,
		    const struct relay_req *, const struct relay_dane *,
		    struct relay_res *, struct reason *, int *);
static int	auth(struct relay_engine *, struct relay_session *,
		    const struct relay_req *, struct reason *, int *);
static int	send_body(struct relay_session *, const struct relay_req *,
		    char *, size_t);
static void	set_all(const struct relay_req *, struct relay_res *,
		    enum relay_class, int, const struct reason *);
static int	cmd_add(char *, size_t, size_t *, const char *, ...)
		    __attribute__((format(printf, 4, 5)));

/*
 * Reads one whole reply within timeout_ms. Returns 0, or -1 with err
 * (lost connection, timeout, malformed reply: the session is over).
 */
static int
read_reply(struct relay_session *s, int timeout_ms, struct relay_reply *r,
    char *err, size_t errsz)
{
	struct io_line	 line;
	long long	 deadline = mono_ms() + timeout_ms, left;
	int		 rc;

	relay_reply_init(r);
	for (;;) {
		if ((left = deadline - mono_ms()) <= 0) {
			snprintf(err, errsz, "timed out after %d s",
			    timeout_ms / 1000);
			return -1;
		}
		io_set_read_timeout(s->io, (int)left);
		rc = io_getline(s->io, RELAY_REPLY_LINE_MAX, &line);
		if (rc == IO_TIMEOUT) {
			snprintf(err, errsz, "timed out after %d s",
			    timeout_ms / 1000);
			return -1;
		}
		if (rc == IO_EOF || (rc == IO_OK &&
		    (line.flags & IO_LINE_EOF))) {
			snprintf(err, errsz, "lost connection");
			return -1;
		}
		if (rc != IO_OK) {
			snprintf(err, errsz, "lost connection: %s",
			    strerror(errno));
			return -1;
		}
		if (line.flags & IO_LINE_PARTIAL) {
			snprintf(err, errsz, "malformed reply: a line longer "
			    "than %d bytes", RELAY_REPLY_LINE_MAX);
			return -1;
		}
		rc = relay_reply_feed(r, line.data, line.len,
		    (line.flags & IO_LINE_CRLF) != 0);
		if (rc == 1)
			return 0;
		if (rc == -1) {
			snprintf(err, errsz, "malformed reply: %s", r->err);
			return -1;
		}
	}
}

/*
 * The reason a reply gives: its enhanced status code (or X.0.0 from the
 * reply's class, RFC 3463 3.1) and its text, lines joined by spaces.
 */
static void
reply_reason(const struct relay_reply *r, struct reason *why, int *code)
{
	char		 status[8], text[sizeof(why->text)];
	const char	*p = r->text;
	size_t		 i;

	if (r->status[0] != '\0') {
		snprintf(status, sizeof(status), "%s", r->status);
		p += strlen(r->status);
		while (*p == ' ')
			p++;
	} else
		snprintf(status, sizeof(status), "%c.0.0",
		    r->code >= 500 ? '5' : r->code >= 400 ? '4' : '2');
	for (i = 0; i + 1 < sizeof(text) && p[i] != '\0'; i++)
		text[i] = p[i];
	text[i] = '\0';
	for (i = 0; text[i] != '\0'; i++)
		if (text[i] == '\n')
			text[i] = ' ';
	reason_set(why, status, "%s", text);
	if (code != NULL)
		*code = r->code;
}

/*
 * Sends cmd (without CRLF) and reads its reply within timeout_ms.
 * Returns 0, or -1 with err.
 */
static int
say(struct relay_session *s, const char *cmd, int timeout_ms,
    struct relay_reply *r, char *err, size_t errsz)
{
	io_set_timeouts(s->io, timeout_ms, timeout_ms);
	if (io_printf(s->io, "%s\r\n", cmd) == -1 || io_flush(s->io) == -1) {
		snprintf(err, errsz, "lost connection: %s", strerror(errno));
		return -1;
	}
	return read_reply(s, timeout_ms, r, err, errsz);
}

/* EHLO, or HELO after a 5xx to EHLO (RFC 5321 3.2). */
static int
ehlo(struct relay_engine *e, struct relay_session *s,
    const struct relay_req *req, struct reason *why, int *code)
{
	struct relay_reply	r;
	char			cmd[SMTP_CMD_LINE_MAX], err[160];

	snprintf(cmd, sizeof(cmd), "EHLO %s", e->helo);
	if (say(s, cmd, e->command_ms, &r, err, sizeof(err)) == -1) {
		log_info("id=%s: %s %s: EHLO: %s", req->qid, s->addr.host,
		    s->addr.text, err);
		reason_set(why, "4.4.2", "%s %s: %s after EHLO", s->addr.host,
		    s->addr.text, err);
		return -1;
	}
	if (r.code >= 500 && r.code != 421) {
		snprintf(cmd, sizeof(cmd), "HELO %s", e->helo);
		if (say(s, cmd, e->command_ms, &r, err, sizeof(err)) == -1) {
			log_info("id=%s: %s %s: HELO: %s", req->qid,
			    s->addr.host, s->addr.text, err);
			reason_set(why, "4.4.2", "%s %s: %s after HELO",
			    s->addr.host, s->addr.text, err);
			return -1;
		}
		if (r.code / 100 != 2)
			goto refused;
		memset(&s->ehlo, 0, sizeof(s->ehlo));
		return 0;
	}
	if (r.code / 100 != 2)
		goto refused;
	relay_reply_ehlo(&r, &s->ehlo);
	return 0;
refused:
	reply_reason(&r, why, code);
	log_info("id=%s: %s %s refused our greeting: %d %s", req->qid,
	    s->addr.host, s->addr.text, r.code, why->text);
	return -1;
}

/*
 * STARTTLS per the request's level. Returns 0 (TLS on, or plaintext
 * allowed) or -1 with why (the address is unusable).
 */
static int
starttls(struct relay_engine *e, struct relay_session *s,
    const struct relay_req *req, const struct relay_dane *dane,
    struct relay_res *res, struct reason *why, int *code)
{
	struct relay_reply	 r;
	enum relay_tls		 level = req->tls;
	SSL			*ssl;
	char			 err[256];
	bool			 must, authenticate;

	if (level == RELAY_TLS_DANE && (dane == NULL || !dane->required))
		level = RELAY_TLS_MAY;	/* RFC 7672 2.2: insecure: opportunistic */
	if (level == RELAY_TLS_NONE ||
	    (level == RELAY_TLS_MAY && req->no_starttls))
		return 0;
	must = level != RELAY_TLS_MAY;
	if (!(s->ehlo.flags & RELAY_EXT_STARTTLS)) {
		if (!must)
			return 0;
		log_info("id=%s: %s %s: TLS is required, but was not offered",
		    req->qid, s->addr.host, s->addr.text);
		reason_set(why, "4.7.4", "TLS is required, but was not offered "
		    "by host %s %s", s->addr.host, s->addr.text);
		return -1;
	}
	if (say(s, "STARTTLS", e->command_ms, &r, err, sizeof(err)) == -1) {
		log_info("id=%s: %s %s: STARTTLS: %s", req->qid, s->addr.host,
		    s->addr.text, err);
		reason_set(why, "4.4.2", "%s %s: %s after STARTTLS",
		    s->addr.host, s->addr.text, err);
		return -1;
	}
	if (r.code != 220) {
		if (!must && r.code != 421)
			return 0;	/* go on in plaintext */
		reply_reason(&r, why, code);
		log_info("id=%s: %s %s refused STARTTLS: %d %s", req->qid,
		    s->addr.host, s->addr.text, r.code, why->text);
		return -1;
	}
	/*
	 * Bytes after the 220 came before the handshake, in plaintext, and
	 * would be read as if they came through TLS: an injection
	 * (CVE-2011-0411's twin on the client side). Drop the server.
	 */
	if (io_pending(s->io) > 0) {
		log_warnx("id=%s: %s %s sent %zu bytes after its 220 to "
		    "STARTTLS: possible injection, dropped", req->qid,
		    s->addr.host, s->addr.text, io_pending(s->io));
		reason_set(why, "4.7.0", "host %s %s sent data after its reply "
		    "to STARTTLS (a response injection?)", s->addr.host,
		    s->addr.text);
		return -1;
	}
	ssl = relay_tls_ssl_new(e->ssl_ctx, s->addr.host, level,
	    dane != NULL ? dane->tlsa : NULL, dane != NULL ? dane->ntlsa : 0,
	    &authenticate, err, sizeof(err));
	if (ssl == NULL) {
		reason_set(why, "4.7.5", "TLS setup for %s: %s", s->addr.host,
		    err);
		return -1;
	}
	io_set_timeouts(s->io, e->command_ms, e->command_ms);
	if (io_tls_connect(s->io, ssl, NULL, err, sizeof(err)) == -1) {
		log_info("id=%s: %s %s: TLS handshake failed: %s", req->qid,
		    s->addr.host, s->addr.text, err);
		if (!must)
			res->tls_failed = true;
		reason_set(why, "4.7.5", "TLS handshake with %s %s failed: %s",
		    s->addr.host, s->addr.text, err);
		return -1;
	}
	ssl = io_tls_ssl(s->io);
	if (authenticate && !relay_tls_verified(ssl)) {
		/* SSL_VERIFY_PEER fails the handshake; this is belt and braces */
		reason_set(why, "4.7.5", "the certificate of %s %s could not "
		    "be verified", s->addr.host, s->addr.text);
		return -1;
	}
	s->tls = true;
	relay_tls_info(ssl, s->tls_info, sizeof(s->tls_info));
	log_info("id=%s: %s %s: TLS on: %s", req->qid, s->addr.host,
	    s->addr.text, s->tls_info);
	/* RFC 3207 4.2: forget what was learnt before; ask again */
	memset(&s->ehlo, 0, sizeof(s->ehlo));
	return ehlo(e, s, req, why, code);
}

/* AUTH PLAIN or LOGIN (RFC 4954, 4616), only under TLS. */
static int
auth(struct relay_engine *e, struct relay_session *s,
    const struct relay_req *req, struct reason *why, int *code)
{
	struct relay_reply	 r;
	char			 raw[SMTP_AUTH_LINE_MAX], cmd[SMTP_AUTH_LINE_MAX];
	char			 b64[SMTP_AUTH_LINE_MAX], err[160];
	size_t			 ul, pl;
	int			 rc = -1;

	if (!s->tls) {
		log_info("id=%s: %s %s: not sending credentials without TLS",
		    req->qid, s->addr.host, s->addr.text);
		reason_set(why, "4.7.0", "refusing to send credentials to %s "
		    "%s without TLS", s->addr.host, s->addr.text);
		return -1;
	}
	ul = strlen(req->auth_user);
	pl = req->auth_pass != NULL ? strlen(req->auth_pass) : 0;
	if (ul + pl + 2 > BASE64_DECODED_MAX(sizeof(b64) - 16)) {
		reason_set(why, "4.7.0", "the AUTH user name or password is "
		    "too long");
		return -1;
	}
	if (s->ehlo.flags & RELAY_EXT_AUTH_PLAIN) {
		raw[0] = '\0';
		memcpy(raw + 1, req->auth_user, ul);
		raw[1 + ul] = '\0';
		if (pl > 0)
			memcpy(raw + 2 + ul, req->auth_pass, pl);
		if (base64_encode(raw, ul + pl + 2, b64, sizeof(b64)) == -1 ||
		    snprintf(cmd, sizeof(cmd), "AUTH PLAIN %s", b64) >=
		    (int)sizeof(cmd))
			goto toolong;
		if (say(s, cmd, e->command_ms, &r, err, sizeof(err)) == -1)
			goto lost;
	} else if (s->ehlo.flags & RELAY_EXT_AUTH_LOGIN) {
		if (say(s, "AUTH LOGIN", e->command_ms, &r, err,
		    sizeof(err)) == -1)
			goto lost;
		if (r.code != 334)
			goto refused;
		if (base64_encode(req->auth_user, ul, b64, sizeof(b64)) == -1)
			goto toolong;
		if (say(s, b64, e->command_ms, &r, err, sizeof(err)) == -1)
			goto lost;
		if (r.code != 334)
			goto refused;
		if (base64_encode(pl > 0 ? req->auth_pass : "", pl, b64,
		    sizeof(b64)) == -1)
			goto toolong;
		if (say(s, b64, e->command_ms, &r, err, sizeof(err)) == -1)
			goto lost;
	} else {
		reason_set(why, "4.7.0", "host %s %s offers no AUTH PLAIN or "
		    "LOGIN", s->addr.host, s->addr.text);
		goto out;
	}
	if (r.code == 235) {
		rc = 0;
		goto out;
	}
refused:
	reply_reason(&r, why, code);
	/* a 5xx to AUTH is about this hop's setup: retry, do not bounce */
	why->status[0] = '4';
	log_info("id=%s: %s %s: authentication as %s failed: %d %s",
	    req->qid, s->addr.host, s->addr.text, req->auth_user, r.code,
	    why->text);
	goto out;
lost:
	reason_set(why, "4.4.2", "%s %s: %s after AUTH", s->addr.host,
	    s->addr.text, err);
	goto out;
toolong:
	reason_set(why, "4.7.0", "the AUTH credentials are too long");
out:
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(cmd, sizeof(cmd));
	explicit_bzero(b64, sizeof(b64));
	return rc;
}

int
relay_smtp_open(struct relay_engine *e, const struct relay_addr *a,
    const struct relay_req *req, const struct relay_dane *dane,
    struct relay_session **out, bool *greeted, struct relay_res *res,
    struct reason *why, int *why_code)
{
	struct relay_session	*s = NULL;
	struct relay_reply	 r;
	struct pollfd		 pfd;
	socklen_t		 sl;
	char			 err[160];
	int			 fd, soerr, n;

	*out = NULL;
	*greeted = false;
	*why_code = 0;
	if ((fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, sizeof(err), "socket: %s", strerror(errno));
		goto connfail;
	}
	if (connect(fd, (const struct sockaddr *)&a->ss, a->sslen) == -1) {
		if (errno != EINPROGRESS) {
			snprintf(err, sizeof(err), "%s", strerror(errno));
			goto connfail;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		do
			n = poll(&pfd, 1, e->connect_ms);
		while (n == -1 && errno == EINTR);
		if (n == 0) {
			snprintf(err, sizeof(err), "Connection timed out");
			goto connfail;
		}
		sl = sizeof(soerr);
		if (n == -1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
		    &sl) == -1) {
			snprintf(err, sizeof(err), "%s", strerror(errno));
			goto connfail;
		}
		if (soerr != 0) {
			snprintf(err, sizeof(err), "%s", strerror(soerr));
			goto connfail;
		}
	}
	socket_nodelay(fd);
	s = xcalloc(1, sizeof(*s));
	s->addr = *a;
	s->io = io_new(fd, fd);
	fd = -1;
	snprintf(s->tls_info, sizeof(s->tls_info), "none");
	if (read_reply(s, e->command_ms, &r, err, sizeof(err)) == -1) {
		log_info("id=%s: %s %s: greeting: %s", req->qid, a->host,
		    a->text, err);
		reason_set(why, "4.4.2", "%s %s: %s while receiving the "
		    "greeting", a->host, a->text, err);
		*greeted = true;
		goto fail;
	}
	*greeted = true;
	if (r.code / 100 != 2) {
		reply_reason(&r, why, why_code);
		log_info("id=%s: %s %s greeted us with %d %s", req->qid,
		    a->host, a->text, r.code, why->text);
		goto fail;
	}
	if (ehlo(e, s, req, why, why_code) == -1)
		goto fail;
	if (starttls(e, s, req, dane, res, why, why_code) == -1)
		goto fail;
	if (req->auth_user != NULL &&
	    auth(e, s, req, why, why_code) == -1)
		goto fail;
	*out = s;
	return RELAY_SMTP_OK;
connfail:
	log_info("id=%s: connect to %s %s: %s", req->qid, a->host, a->text,
	    err);
	reason_set(why, "4.4.1", "connect to %s %s: %s", a->host, a->text,
	    err);
	if (fd != -1)
		close(fd);
	return RELAY_SMTP_NEXT;
fail:
	relay_smtp_close(e, &s, false);
	return RELAY_SMTP_NEXT;
}

/* Every recipient of req gets the same result. */
static void
set_all(const struct relay_req *req, struct relay_res *res,
    enum relay_class cls, int code, const struct reason *why)
{
	size_t	i;

	for (i = 0; i < req->nrcpts; i++) {
		res->rcpts[i].cls = cls;
		res->rcpts[i].code = code;
		res->rcpts[i].why = *why;
	}
}

static enum relay_class
class_of(int code)
{
	return code >= 500 ? RELAY_BOUNCE : code >= 200 && code < 300 ?
	    RELAY_SENT : RELAY_DEFER;
}

/*
 * Appends to the command in buf (*len bytes so far), leaving room for
 * CR LF. Returns 0, or -1 (buf unchanged past *len) if it does not fit.
 */
static int
cmd_add(char *buf, size_t bufsz, size_t *len, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (*len + 3 > bufsz)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, bufsz - 2 - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= bufsz - 2 - *len) {
		buf[*len] = '\0';
		return -1;
	}
	*len += (size_t)n;
	return 0;
}

/* The NOTIFY= value for bits (RFC 3461 4.1). */
static const char *
notify_text(unsigned bits, char *buf, size_t bufsz)
{
	if (bits & DSN_NOTIFY_NEVER)
		return "NEVER";
	snprintf(buf, bufsz, "%s%s%s%s%s",
	    bits & DSN_NOTIFY_SUCCESS ? "SUCCESS" : "",
	    bits & DSN_NOTIFY_SUCCESS && bits & (DSN_NOTIFY_FAILURE |
	    DSN_NOTIFY_DELAY) ? "," : "",
	    bits & DSN_NOTIFY_FAILURE ? "FAILURE" : "",
	    bits & DSN_NOTIFY_FAILURE && bits & DSN_NOTIFY_DELAY ? "," : "",
	    bits & DSN_NOTIFY_DELAY ? "DELAY" : "");
	return buf;
}

/*
 * The body: LF line ends become CR LF, a line's leading "." is doubled
 * (RFC 5321 4.5.2), then the final ".". Read from the queue file with
 * pread in RELAY_BODY_BLOCK pieces; each block's sending is bounded by
 * the io's write timeout.
 */
static int
send_body(struct relay_session *s, const struct relay_req *req, char *err,
    size_t errsz)
{
	char		*buf;
	off_t		 off = req->body_off, end = req->body_off + req->body_len;
	ssize_t		 n, i, start;
	bool		 bol = true;
	int		 rc = -1;

	buf = xmalloc(RELAY_BODY_BLOCK);
	while (off < end) {
		n = pread(req->fd, buf, end - off < RELAY_BODY_BLOCK ?
		    (size_t)(end - off) : RELAY_BODY_BLOCK, off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errsz, "reading the queue file: %s",
			    n == 0 ? "unexpected end" : strerror(errno));
			goto out;
		}
		for (start = 0, i = 0; i < n; i++) {
			if (bol && buf[i] == '.') {
				if (io_write(s->io, buf + start,
				    (size_t)(i - start)) == -1 ||
				    io_write(s->io, ".", 1) == -1)
					goto lost;
				start = i;
			}
			if (buf[i] == '\n') {
				if (io_write(s->io, buf + start,
				    (size_t)(i - start)) == -1 ||
				    io_write(s->io, "\r\n", 2) == -1)
					goto lost;
				start = i + 1;
				bol = true;
			} else
				bol = false;
		}
		if (io_write(s->io, buf + start, (size_t)(n - start)) == -1)
			goto lost;
		off += n;
	}
	/* a body without a final line end still ends its last line */
	if (!bol && io_write(s->io, "\r\n", 2) == -1)
		goto lost;
	if (io_write(s->io, ".\r\n", 3) == -1 || io_flush(s->io) == -1)
		goto lost;
	rc = 0;
	goto out;
lost:
	snprintf(err, errsz, "lost connection while sending the message: %s",
	    strerror(errno));
out:
	free(buf);
	return rc;
}

int
relay_smtp_send(struct relay_engine *e, struct relay_session *s,
    const struct relay_req *req, bool reused, struct relay_res *res,
    struct reason *why, int *why_code)
{
	struct relay_reply	 r;
	struct reason		 rw;
	char			 cmd[SMTP_CMD_LINE_ACCEPT], nb[32], err[200];
	size_t			 ncmds = req->nrcpts + 2, sent = 0, got = 0, i;
	size_t			 accepted = 0;
	bool			 pipe = (s->ehlo.flags & RELAY_EXT_PIPELINING) != 0;
	bool			 dsn = (s->ehlo.flags & RELAY_EXT_DSN) != 0;
	bool			 mail_ok = false, stop = false, ok;
	int			 data_code = 0, rcode = 0;
	size_t			 len;

	*why_code = 0;
	/* what this server cannot take is known before any command */
	if ((s->ehlo.flags & RELAY_EXT_SIZE) && s->ehlo.size > 0 &&
	    (unsigned long long)req->body_len > s->ehlo.size) {
		reason_set(&rw, "5.3.4", "message size %lld exceeds the limit "
		    "of %llu of host %s %s", (long long)req->body_len,
		    s->ehlo.size, s->addr.host, s->addr.text);
		set_all(req, res, RELAY_BOUNCE, 0, &rw);
		return RELAY_SMTP_OK;
	}
	if ((req->flags & RELAY_F_UTF8) &&
	    !(s->ehlo.flags & RELAY_EXT_SMTPUTF8)) {
		reason_set(&rw, "5.6.7", "SMTPUTF8 is required, but was not "
		    "offered by host %s %s", s->addr.host, s->addr.text);
		set_all(req, res, RELAY_BOUNCE, 0, &rw);
		return RELAY_SMTP_OK;
	}
	if ((req->flags & RELAY_F_8BIT) &&
	    !(s->ehlo.flags & RELAY_EXT_8BITMIME)) {
		reason_set(&rw, "5.6.3", "the message has 8-bit content and "
		    "host %s %s does not accept it (no 8BITMIME); it was not "
		    "converted", s->addr.host, s->addr.text);
		set_all(req, res, RELAY_BOUNCE, 0, &rw);
		return RELAY_SMTP_OK;
	}
	io_set_timeouts(s->io, e->command_ms, e->command_ms);
	while (got < ncmds) {
		while (!stop && sent < ncmds && (pipe || sent == got)) {
			len = 0;
			if (sent == 0) {
				ok = cmd_add(cmd, sizeof(cmd), &len,
				    "MAIL FROM:<%s>", req->sender) == 0;
				if (ok && (s->ehlo.flags & RELAY_EXT_SIZE))
					ok = cmd_add(cmd, sizeof(cmd), &len,
					    " SIZE=%lld",
					    (long long)req->body_len) == 0;
				if (ok && (req->flags & RELAY_F_8BIT))
					ok = cmd_add(cmd, sizeof(cmd), &len,
					    " BODY=8BITMIME") == 0;
				if (ok && (req->flags & RELAY_F_UTF8))
					ok = cmd_add(cmd, sizeof(cmd), &len,
					    " SMTPUTF8") == 0;
				if (ok && dsn && (req->flags &
				    (RELAY_F_RET_FULL | RELAY_F_RET_HDRS)))
					ok = cmd_add(cmd, sizeof(cmd), &len,
					    " RET=%s", req->flags &
					    RELAY_F_RET_FULL ? "FULL" :
					    "HDRS") == 0;
				if (ok && dsn && req->envid != NULL)
					ok = cmd_add(cmd, sizeof(cmd), &len,
					    " ENVID=%s", req->envid) == 0;
			} else if (sent <= req->nrcpts) {
				i = sent - 1;
				ok = cmd_add(cmd, sizeof(cmd), &len,
				    "RCPT TO:<%s>", req->rcpts[i].addr) == 0;
				if (ok && dsn && req->rcpts[i].notify != 0)
					ok = cmd_add(cmd, sizeof(cmd), &len,
					    " NOTIFY=%s",
					    notify_text(req->rcpts[i].notify,
					    nb, sizeof(nb))) == 0;
				if (ok && dsn && req->rcpts[i].orcpt != NULL)
					ok = cmd_add(cmd, sizeof(cmd), &len,
					    " ORCPT=%s", req->rcpts[i].orcpt) == 0;
			} else {
				/* no DATA when nothing was accepted (no
				 * pipelining: we know already) */
				if (!pipe && accepted == 0) {
					stop = true;
					break;
				}
				ok = cmd_add(cmd, sizeof(cmd), &len,
				    "DATA") == 0;
			}
			if (!ok) {
				reason_set(&rw, "5.5.2", "a command for %s "
				    "would be longer than %zu bytes",
				    s->addr.host, sizeof(cmd) - 3);
				set_all(req, res, RELAY_BOUNCE, 0, &rw);
				/* what was sent cannot be taken back */
				return sent == 0 ? RELAY_SMTP_OK :
				    RELAY_SMTP_CLOSE;
			}
			if (io_printf(s->io, "%s\r\n", cmd) == -1)
				goto lost;
			sent++;
		}
		if (got >= sent)
			break;		/* stopped: nothing more to read */
		if (io_flush(s->io) == -1)
			goto lost;
		if (read_reply(s, e->command_ms, &r, err, sizeof(err)) == -1)
			goto lost_err;
		if (r.code == 421) {
			reply_reason(&r, why, why_code);
			log_info("id=%s: %s %s: %d %s", req->qid,
			    s->addr.host, s->addr.text, r.code, why->text);
			return reused && got == 0 ? RELAY_SMTP_FRESH :
			    RELAY_SMTP_NEXT;
		}
		if (got == 0) {
			mail_ok = r.code / 100 == 2;
			if (!mail_ok) {
				reply_reason(&r, &rw, &rcode);
				set_all(req, res, class_of(r.code), rcode,
				    &rw);
				if (!pipe)
					stop = true;
			}
		} else if (got <= req->nrcpts) {
			i = got - 1;
			if (mail_ok) {
				reply_reason(&r, &res->rcpts[i].why,
				    &res->rcpts[i].code);
				if (r.code / 100 == 2) {
					accepted++;
					/* final only after the dot */
					res->rcpts[i].cls = RELAY_DEFER;
					res->rcpts[i].code = -r.code;
				} else
					res->rcpts[i].cls = class_of(r.code);
			}
		} else
			data_code = r.code;
		got++;
		if (stop)
			break;
	}
	if (!mail_ok || accepted == 0) {
		if (data_code == 354) {
			/* RFC 2920 3.1: end the data it asked for, empty */
			if (io_puts(s->io, ".\r\n") == -1 ||
			    io_flush(s->io) == -1 ||
			    read_reply(s, e->data_ms, &r, err,
			    sizeof(err)) == -1)
				return RELAY_SMTP_CLOSE;
		}
		return RELAY_SMTP_OK;
	}
	if (data_code != 354) {
		reply_reason(&r, &rw, &rcode);
		for (i = 0; i < req->nrcpts; i++)
			if (res->rcpts[i].code < 0) {
				res->rcpts[i].cls = r.code / 100 == 2 ?
				    RELAY_DEFER : class_of(r.code);
				res->rcpts[i].code = rcode;
				res->rcpts[i].why = rw;
			}
		return RELAY_SMTP_OK;
	}
	io_set_timeouts(s->io, e->command_ms, e->command_ms);
	if (send_body(s, req, err, sizeof(err)) == -1) {
		if (strncmp(err, "reading", 7) == 0) {
			/* our side: no use trying elsewhere */
			log_warnx("id=%s: %s", req->qid, err);
			reason_set(&rw, "4.3.0", "%s", err);
			set_all(req, res, RELAY_DEFER, 0, &rw);
			return RELAY_SMTP_CLOSE;
		}
		goto lost_err;
	}
	if (read_reply(s, e->data_ms, &r, err, sizeof(err)) == -1) {
		/* RFC 5321 4.1.1.4, 6.1: it may have been delivered */
		log_info("id=%s: %s %s: %s after end of data", req->qid,
		    s->addr.host, s->addr.text, err);
		reason_set(&rw, "4.4.2", "%s %s: %s after end of data; the "
		    "message may be sent more than once", s->addr.host,
		    s->addr.text, err);
		for (i = 0; i < req->nrcpts; i++)
			if (res->rcpts[i].code < 0) {
				res->rcpts[i].cls = RELAY_DEFER;
				res->rcpts[i].code = 0;
				res->rcpts[i].why = rw;
			}
		return RELAY_SMTP_CLOSE;
	}
	reply_reason(&r, &rw, &rcode);
	for (i = 0; i < req->nrcpts; i++)
		if (res->rcpts[i].code < 0) {
			res->rcpts[i].cls = class_of(r.code);
			res->rcpts[i].code = rcode;
			res->rcpts[i].why = rw;
		}
	s->nmsgs++;
	return r.code == 421 ? RELAY_SMTP_CLOSE : RELAY_SMTP_OK;
lost:
	snprintf(err, sizeof(err), "lost connection: %s", strerror(errno));
lost_err:
	log_info("id=%s: %s %s: %s", req->qid, s->addr.host, s->addr.text,
	    err);
	reason_set(why, "4.4.2", "%s %s: %s", s->addr.host, s->addr.text,
	    err);
	return reused && got == 0 ? RELAY_SMTP_FRESH : RELAY_SMTP_NEXT;
}

void
relay_smtp_close(struct relay_engine *e, struct relay_session **sp,
    bool quit)
{
	struct relay_session	*s = *sp;
	struct relay_reply	 r;
	char			 err[64];

	(void)e;
	if (s == NULL)
		return;
	if (quit && s->io != NULL)
		(void)say(s, "QUIT", QUIT_WAIT_MS, &r, err, sizeof(err));
	io_free(&s->io);
	free(s->key);
	free(s);
	*sp = NULL;
}
