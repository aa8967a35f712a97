/*
 * Handing a message to maild over the local submission socket, as an
 * SMTP client (RFC 5321), and -bs. The caller's identity is what the
 * kernel tells maild about this socket (SO_PEERCRED), never anything
 * said here; maild refuses another sender than the caller's own unless
 * the caller is trusted (submit.trusted_users), and then the mail goes
 * out from the caller's own address, with a warning.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "sendmail.h"

/* How long maild may take to answer one command (the queue's fsync). */
#define SM_REPLY_TIMEOUT_MS	(10 * 60 * 1000)

struct conn {
	int	fd;
	char	buf[4096];
	size_t	len;
	bool	verbose;
};

static int
conn_open(const struct sm_settings *st, struct conn *c)
{
	struct sockaddr_un	sun;

	memset(c, 0, sizeof(*c));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(st->socket) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		sm_warn("submit.socket %s: path too long", st->socket);
		return -1;
	}
	memcpy(sun.sun_path, st->socket, strlen(st->socket));
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		sm_warn("socket: %s", strerror(errno));
		return -1;
	}
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (c->verbose)
			sm_warn("cannot reach maild at %s: %s", st->socket,
			    strerror(errno));
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

int
sm_write_all(int fd, const char *p, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Reads one reply (all its lines); returns its code, or -1 when the
 * connection failed. The last line's text goes into text.
 */
static int
reply(struct conn *c, char *text, size_t textsz)
{
	struct pollfd	 pfd;
	char		*nl;
	size_t		 n, linelen;
	ssize_t		 r;
	int		 code;

	for (;;) {
		while ((nl = memchr(c->buf, '\n', c->len)) != NULL) {
			linelen = (size_t)(nl - c->buf);
			*nl = '\0';
			n = strlen(c->buf);
			if (n > 0 && c->buf[n - 1] == '\r')
				c->buf[--n] = '\0';
			if (c->verbose)
				fprintf(stderr, "<<< %s\n", c->buf);
			if (n < 3 || c->buf[0] < '2' || c->buf[0] > '5') {
				sm_warn("garbled reply from maild");
				return -1;
			}
			code = atoi(c->buf);
			/* a longer reply text is cut: it is only shown */
			memcpy(text, c->buf, n < textsz - 1 ? n : textsz - 1);
			text[n < textsz - 1 ? n : textsz - 1] = '\0';
			memmove(c->buf, nl + 1, c->len - linelen - 1);
			c->len -= linelen + 1;
			if (n == 3 || text[3] == ' ')
				return code;
		}
		if (c->len == sizeof(c->buf)) {
			sm_warn("reply line too long from maild");
			return -1;
		}
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, SM_REPLY_TIMEOUT_MS) == 0) {
			sm_warn("maild did not answer");
			return -1;
		}
		r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			sm_warn("maild closed the connection");
			return -1;
		}
		c->len += (size_t)r;
	}
}

static int
command(struct conn *c, char *text, size_t textsz, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
command(struct conn *c, char *text, size_t textsz, const char *fmt, ...)
{
	char	line[ADDR_TEXT_MAX + 64];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		return -1;
	if (c->verbose)
		fprintf(stderr, ">>> %s\n", line);
	memcpy(line + n, "\r\n", 2);
	if (sm_write_all(c->fd, line, (size_t)n + 2) == -1) {
		sm_warn("writing to maild: %s", strerror(errno));
		return -1;
	}
	return reply(c, text, textsz);
}

/* The message, CRLF and dot-stuffed (RFC 5321 4.5.2), then ".". */
static int
send_data(struct conn *c, const struct sm_message *m)
{
	char		*out, *o;
	const char	*p = m->text, *end = m->text + m->len, *nl;
	size_t		 n;
	int		 rc = 0;

	/* in pieces: a line is at most doubled by "." and CR */
	if ((out = malloc(65536 + 8)) == NULL)
		return -1;
	o = out;
	while (p < end && rc == 0) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (*p == '.')
			*o++ = '.';
		while (n > 0 && rc == 0) {
			size_t k = n < 65536 - (size_t)(o - out) ?
			    n : 65536 - (size_t)(o - out);

			memcpy(o, p, k);
			o += k;
			p += k;
			n -= k;
			if ((size_t)(o - out) >= 65536) {
				rc = sm_write_all(c->fd, out,
				    (size_t)(o - out));
				o = out;
			}
		}
		*o++ = '\r';
		*o++ = '\n';
		p = nl != NULL ? nl + 1 : end;
		if ((size_t)(o - out) >= 32768) {
			rc = sm_write_all(c->fd, out, (size_t)(o - out));
			o = out;
		}
	}
	memcpy(o, ".\r\n", 3);
	o += 3;
	if (rc == 0)
		rc = sm_write_all(c->fd, out, (size_t)(o - out));
	free(out);
	if (rc == -1)
		sm_warn("writing to maild: %s", strerror(errno));
	return rc;
}

/*
 * The domain of the caller's own address: the host name maild greets
 * with (its hostname setting, which it checks MAIL FROM against), or
 * ours when the greeting has none.
 */
static void
greeting_domain(const char *greeting, const char *fallback, char *out,
    size_t outsz)
{
	const char	*p = greeting + 4, *c;
	size_t		 n = strcspn(p, " ");

	for (c = p; c < p + n; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || *c == '.' || *c == '-'))
			break;
	if (strlen(greeting) < 5 || n == 0 || c != p + n || n >= outsz ||
	    n > SMTP_DOMAIN_MAX) {
		snprintf(out, outsz, "%s", fallback);
		return;
	}
	memcpy(out, p, n);
	out[n] = '\0';
}

/* The exit status for a refusal. */
static int
status_for(int code)
{
	return code >= 500 ? EX_UNAVAILABLE : EX_TEMPFAIL;
}

int
sm_submit(const struct sm_settings *st, const struct sm_submit *s,
    const struct sm_message *m, bool *queued)
{
	struct conn	c;
	char		text[1024], domain[SMTP_DOMAIN_MAX + 1];
	size_t		i, ok = 0;
	int		code, rc = EX_TEMPFAIL, unknown = 0, perm = 0;

	if (queued != NULL)
		*queued = false;
	if (st->socket[0] == '\0' || conn_open(st, &c) == -1)
		return SM_UNREACHABLE;
	c.verbose = s->verbose;
	if ((code = reply(&c, text, sizeof(text))) != 220) {
		/*
		 * 421 4.x.x: maild is stopping, or every worker is busy; the
		 * maildrop directory takes the mail, as when it is not running.
		 */
		if (code == -1 || (code == 421 && strncmp(text, "421 5.", 6) !=
		    0)) {
			if (s->verbose)
				sm_warn("maild is busy: %s", code == -1 ?
				    "no greeting" : text);
			close(c.fd);
			return SM_UNREACHABLE;
		}
		goto refused;
	}
	greeting_domain(text, s->sender_domain, domain, sizeof(domain));
	if ((code = command(&c, text, sizeof(text), "EHLO localhost")) != 250)
		goto refused;
	if (s->sender != NULL) {
		code = command(&c, text, sizeof(text), "MAIL FROM:<%s>",
		    s->sender);
		if (code == 553 || code == 550) {
			/* not trusted: the mail goes out as ours */
			sm_warn("-f %s ignored: %s", s->sender, text + 4);
		} else if (code != 250)
			goto refused;
	}
	if (s->sender == NULL || code != 250) {
		code = command(&c, text, sizeof(text), "MAIL FROM:<%s@%s>",
		    s->user, domain);
		if (code != 250)
			goto refused;
	}
	for (i = 0; i < s->nrcpts; i++) {
		/* a bare user name ("root", as cron gives it) is local */
		if (strchr(s->rcpts[i], '@') == NULL)
			code = command(&c, text, sizeof(text),
			    "RCPT TO:<%s@%s>", s->rcpts[i], domain);
		else
			code = command(&c, text, sizeof(text), "RCPT TO:<%s>",
			    s->rcpts[i]);
		if (code == 250 || code == 251) {
			ok++;
			continue;
		}
		if (code == -1)
			goto refused;
		sm_warn("%s: %s", s->rcpts[i], text + 4);
		if (code >= 500) {
			perm++;
			if (strstr(text, "5.1.1") != NULL)
				unknown++;
		}
	}
	if (ok == 0) {
		rc = unknown > 0 ? EX_NOUSER : perm > 0 ? EX_UNAVAILABLE :
		    EX_TEMPFAIL;
		goto out;
	}
	if ((code = command(&c, text, sizeof(text), "DATA")) != 354)
		goto refused;
	if (send_data(&c, m) == -1) {
		rc = EX_IOERR;
		goto out;
	}
	if ((code = reply(&c, text, sizeof(text))) != 250)
		goto refused;
	if (queued != NULL)
		*queued = true;
	if (s->verbose)
		fprintf(stderr, "%s\n", text + 4);
	/* queued: a refused recipient still says so in the exit status */
	rc = unknown > 0 ? EX_NOUSER : perm > 0 ? EX_UNAVAILABLE : EX_OK;
	(void)command(&c, text, sizeof(text), "QUIT");
	goto out;
refused:
	if (code == -1)
		rc = EX_TEMPFAIL;
	else {
		sm_warn("maild refused the mail: %s", text);
		rc = code == 552 ? EX_DATAERR : status_for(code);
	}
out:
	close(c.fd);
	return rc;
}

int
sm_relay_smtp(const struct sm_settings *st)
{
	struct conn	c;
	struct pollfd	pfd[2];
	char		buf[8192];
	ssize_t		n;
	bool		in_open = true;

	if (conn_open(st, &c) == -1) {
		sm_warn("cannot reach maild at %s: %s (is maild running?)",
		    st->socket, strerror(errno));
		printf("421 4.3.0 maild is not running\r\n");
		return EX_TEMPFAIL;
	}
	for (;;) {
		pfd[0].fd = in_open ? STDIN_FILENO : -1;
		pfd[0].events = POLLIN;
		pfd[1].fd = c.fd;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(c.fd, buf, sizeof(buf));
			if (n <= 0)
				break;
			if (sm_write_all(STDOUT_FILENO, buf, (size_t)n) == -1)
				break;
		}
		if (in_open && (pfd[0].revents & (POLLIN | POLLHUP |
		    POLLERR))) {
			n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n <= 0) {
				/* the client is gone: let maild see it */
				(void)shutdown(c.fd, SHUT_WR);
				in_open = false;
			} else if (sm_write_all(c.fd, buf, (size_t)n) == -1)
				break;
		}
	}
	close(c.fd);
	return EX_OK;
}
