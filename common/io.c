/*
 * Line-buffered I/O with deadlines, used by the SMTP and POP3 workers
 * (unprivileged) on their client connection. The descriptors are
 * non-blocking; every wait is a poll() bounded by the io's deadline, so a
 * silent or trickling client costs at most one timeout per line.
 *
 * The transport below the buffers is plain read/write here; io_tls.c
 * supplies an OpenSSL one. Switching transports throws away buffered
 * input (see io_set_transport) -- the STARTTLS/STLS injection defence.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "bounds.h"
#include "xmalloc.h"

#define IO_WBUF_SIZE	65536
/* With a stress hook, how often a long wait looks at it again. */
#define IO_STRESS_LOOK_MS	500

struct io {
	int				 rfd, wfd;
	const struct io_transport	*t;
	void				*tctx;
	int				 read_ms, write_ms;
	bool				(*is_stress)(void);
	int				 stress_ms;

	char				*rbuf;	/* IO_BUF_SIZE + 1 */
	size_t				 rpos, rlen, rscan;
	bool				 reof;
	char				*lbuf;	/* for partial lines */

	char				*wbuf;
	size_t				 wlen;

	unsigned long long		 bytes_in, bytes_out;
};

static ssize_t	plain_read(void *, int, void *, size_t);
static ssize_t	plain_write(void *, int, const void *, size_t);
static size_t	plain_pending(void *);

static const struct io_transport plain_transport = {
	"plain", plain_read, plain_write, plain_pending, NULL, NULL
};

static ssize_t
plain_read(void *ctx, int fd, void *buf, size_t len)
{
	ssize_t	n;

	(void)ctx;
	for (;;) {
		n = read(fd, buf, len);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return IO_T_WANT_READ;
		return IO_T_ERR;
	}
}

static ssize_t
plain_write(void *ctx, int fd, const void *buf, size_t len)
{
	ssize_t	n;

	(void)ctx;
	for (;;) {
		n = write(fd, buf, len);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return IO_T_WANT_WRITE;
		return IO_T_ERR;
	}
}

static size_t
plain_pending(void *ctx)
{
	(void)ctx;
	return 0;
}

static void
set_nonblock(int fd)
{
	int	fl;

	if ((fl = fcntl(fd, F_GETFL)) != -1 && !(fl & O_NONBLOCK))
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

struct io *
io_new(int rfd, int wfd)
{
	struct io	*io;

	io = xcalloc(1, sizeof(*io));
	io->rfd = rfd;
	io->wfd = wfd;
	io->t = &plain_transport;
	io->read_ms = io->write_ms = 300 * 1000;
	io->rbuf = xmalloc(IO_BUF_SIZE + 1);
	io->wbuf = xmalloc(IO_WBUF_SIZE);
	set_nonblock(rfd);
	if (wfd != rfd)
		set_nonblock(wfd);
	return io;
}

void
io_free(struct io **iop)
{
	struct io	*io = *iop;

	if (io == NULL)
		return;
	if (io->t->shutdown != NULL)
		io->t->shutdown(io->tctx, io->wfd);
	if (io->t->free != NULL)
		io->t->free(io->tctx);
	if (io->rfd != -1)
		close(io->rfd);
	if (io->wfd != -1 && io->wfd != io->rfd)
		close(io->wfd);
	free(io->rbuf);
	free(io->lbuf);
	free(io->wbuf);
	free(io);
	*iop = NULL;
}

void
io_set_timeouts(struct io *io, int read_ms, int write_ms)
{
	io->read_ms = read_ms;
	io->write_ms = write_ms;
}

void
io_set_read_timeout(struct io *io, int read_ms)
{
	io->read_ms = read_ms;
}

void
io_set_stress(struct io *io, bool (*is_stress)(void), int ms)
{
	io->is_stress = is_stress;
	io->stress_ms = ms;
}

int
io_read_timeout(struct io *io)
{
	return io->read_ms;
}

/*
 * Waits for fd to become ready for events, until deadline (ms on the
 * monotonic clock; 0 = none), or under stress until start + stress_ms
 * if that is sooner: a wait that began long before stress did ends as
 * soon as the hook says so. Returns 1 ready, 0 timeout, -1 error.
 */
int
io_wait(struct io *io, int fd, short events, long long start,
    long long deadline)
{
	struct pollfd	pfd;
	long long	left, d, sd;
	int		n;

	for (;;) {
		d = deadline;
		if (io->is_stress != NULL && io->is_stress()) {
			sd = start + io->stress_ms;
			if (d <= 0 || sd < d)
				d = sd;
		}
		left = -1;
		if (d > 0) {
			left = d - mono_ms();
			if (left <= 0)
				return 0;
		}
		if (io->is_stress != NULL && (left < 0 ||
		    left > IO_STRESS_LOOK_MS))
			left = IO_STRESS_LOOK_MS;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, left > 0x7fffffff ? 0x7fffffff : (int)left);
		if (n > 0)
			return 1;	/* POLLHUP/POLLERR: the read says more */
		if (n == 0)
			continue;	/* the deadline, or a look at the hook */
		if (errno != EINTR)
			return -1;
	}
}

/*
 * Reads more input into rbuf. Returns 1 when bytes arrived, IO_EOF,
 * IO_TIMEOUT or IO_ERR.
 */
static int
io_fill(struct io *io, long long start, long long deadline)
{
	ssize_t	n;
	int	w;

	if (io->rpos > 0) {
		memmove(io->rbuf, io->rbuf + io->rpos, io->rlen - io->rpos);
		io->rlen -= io->rpos;
		io->rscan -= io->rpos;
		io->rpos = 0;
	}
	if (io->rlen >= IO_BUF_SIZE)
		return IO_ERR;	/* callers never let this happen */
	for (;;) {
		n = io->t->read(io->tctx, io->rfd, io->rbuf + io->rlen,
		    IO_BUF_SIZE - io->rlen);
		if (n > 0) {
			io->rlen += (size_t)n;
			io->bytes_in += (unsigned long long)n;
			return 1;
		}
		if (n == IO_T_EOF) {
			io->reof = true;
			return IO_EOF;
		}
		if (n == IO_T_WANT_READ)
			w = io_wait(io, io->rfd, POLLIN, start, deadline);
		else if (n == IO_T_WANT_WRITE)
			w = io_wait(io, io->wfd, POLLOUT, start, deadline);
		else
			return IO_ERR;
		if (w == 0) {
			errno = ETIMEDOUT;
			return IO_TIMEOUT;
		}
		if (w < 0)
			return IO_ERR;
	}
}

static long long
read_deadline(struct io *io, long long start)
{
	return io->read_ms > 0 ? start + io->read_ms : 0;
}

int
io_getline(struct io *io, size_t max, struct io_line *out)
{
	long long	 t0 = mono_ms(), deadline = read_deadline(io, t0);
	char		*nl, *start;
	size_t		 avail, clen;
	int		 r;

	if (max > IO_BUF_SIZE - 2)
		max = IO_BUF_SIZE - 2;
	for (;;) {
		start = io->rbuf + io->rpos;
		avail = io->rlen - io->rpos;
		if (io->rscan < io->rpos)
			io->rscan = io->rpos;
		nl = memchr(io->rbuf + io->rscan, '\n', io->rlen - io->rscan);
		if (nl != NULL) {
			clen = (size_t)(nl - start);
			out->flags = IO_LINE_LF;
			if (clen > 0 && nl[-1] == '\r') {
				clen--;
				out->flags = IO_LINE_CRLF;
			}
			if (clen > max)
				goto partial;
			start[clen] = '\0';
			io->rpos += (size_t)(nl - start) + 1;
			io->rscan = io->rpos;
			goto done;
		}
		io->rscan = io->rlen;
		/* max content bytes plus a CR that may start the terminator */
		if (avail >= max + 2)
			goto partial;
		if (io->reof) {
			if (avail == 0)
				return IO_EOF;
			out->flags = IO_LINE_EOF;
			clen = avail;
			if (clen > max)
				goto partial;
			start[clen] = '\0';	/* rbuf has one spare byte */
			io->rpos = io->rscan = io->rlen;
			goto done;
		}
		r = io_fill(io, t0, deadline);
		if (r == IO_EOF)
			continue;	/* deliver what is buffered first */
		if (r != 1)
			return r;
	}

partial:
	/* The byte after the piece is still unread input: copy the piece. */
	if (io->lbuf == NULL)
		io->lbuf = xmalloc(IO_BUF_SIZE + 1);
	memcpy(io->lbuf, start, max);
	io->lbuf[max] = '\0';
	io->rpos += max;
	io->rscan = io->rpos;
	out->data = io->lbuf;
	out->len = max;
	out->flags = IO_LINE_PARTIAL;
	if (memchr(out->data, '\r', out->len) != NULL)
		out->flags |= IO_LINE_BARECR;
	return IO_OK;

done:
	out->data = start;
	out->len = clen;
	if (memchr(start, '\r', clen) != NULL)
		out->flags |= IO_LINE_BARECR;
	return IO_OK;
}

int
io_skip_line(struct io *io, size_t limit)
{
	struct io_line	line;
	size_t		total = 0;
	int		n;

	do {
		if ((n = io_getline(io, IO_BUF_SIZE, &line)) != IO_OK)
			return n;
		total += line.len;
	} while ((line.flags & IO_LINE_PARTIAL) && total < limit);
	if (line.flags & IO_LINE_PARTIAL) {
		errno = EMSGSIZE;
		return IO_ERR;
	}
	return IO_OK;
}

int
io_read_exact(struct io *io, size_t len,
    int (*fn)(void *, const char *, size_t), void *arg)
{
	long long	t0 = mono_ms(), deadline = read_deadline(io, t0);
	size_t		n;
	int		r;

	while (len > 0) {
		if (io->rpos == io->rlen) {
			if (io->reof)
				return IO_EOF;
			r = io_fill(io, t0, deadline);
			if (r == IO_EOF)
				return IO_EOF;
			if (r != 1)
				return r;
			continue;
		}
		n = io->rlen - io->rpos;
		if (n > len)
			n = len;
		if ((r = fn(arg, io->rbuf + io->rpos, n)) != 0)
			return r;
		io->rpos += n;
		len -= n;
	}
	io->rscan = io->rpos;
	return IO_OK;
}

size_t
io_pending(struct io *io)
{
	return (io->rlen - io->rpos) + io->t->pending(io->tctx);
}

size_t
io_discard_input(struct io *io)
{
	size_t	n = io->rlen - io->rpos;

	io->rpos = io->rlen = io->rscan = 0;
	return n;
}

/*
 * Writes buf[0, len) through the transport, waiting for the socket as
 * long as the write timeout allows. Returns 0, or -1 with errno set and
 * *done_out the bytes that went out.
 */
static int
io_send(struct io *io, const char *buf, size_t len, size_t *done_out)
{
	long long	t0, deadline;
	size_t		off = 0;
	ssize_t		n;
	int		w;

	t0 = mono_ms();
	deadline = io->write_ms > 0 ? t0 + io->write_ms : 0;
	while (off < len) {
		n = io->t->write(io->tctx, io->wfd, buf + off, len - off);
		if (n > 0) {
			off += (size_t)n;
			io->bytes_out += (unsigned long long)n;
			continue;
		}
		if (n == IO_T_WANT_WRITE)
			w = io_wait(io, io->wfd, POLLOUT, t0, deadline);
		else if (n == IO_T_WANT_READ)
			w = io_wait(io, io->rfd, POLLIN, t0, deadline);
		else {
			if (n == 0)
				errno = EPIPE;
			w = -1;
		}
		if (w <= 0) {
			if (w == 0)
				errno = ETIMEDOUT;
			*done_out = off;
			return -1;
		}
	}
	*done_out = off;
	return 0;
}

int
io_flush(struct io *io)
{
	size_t	done;

	if (io->wlen == 0)
		return 0;
	if (io_send(io, io->wbuf, io->wlen, &done) == -1) {
		/* keep what was not sent; the session is over anyway */
		memmove(io->wbuf, io->wbuf + done, io->wlen - done);
		io->wlen -= done;
		return -1;
	}
	io->wlen = 0;
	return 0;
}

int
io_write(struct io *io, const void *buf, size_t len)
{
	const char	*p = buf;
	size_t		 n;

	/*
	 * A piece at least as big as the buffer (a RETR of a big message)
	 * goes out from where it is, after what is buffered: one copy less,
	 * and one write for all of it.
	 */
	if (len >= IO_WBUF_SIZE) {
		if (io_flush(io) == -1)
			return -1;
		return io_send(io, p, len, &n);
	}
	while (len > 0) {
		if (io->wlen == IO_WBUF_SIZE && io_flush(io) == -1)
			return -1;
		n = IO_WBUF_SIZE - io->wlen;
		if (n > len)
			n = len;
		memcpy(io->wbuf + io->wlen, p, n);
		io->wlen += n;
		p += n;
		len -= n;
	}
	return 0;
}

int
io_puts(struct io *io, const char *s)
{
	return io_write(io, s, strlen(s));
}

int
io_printf(struct io *io, const char *fmt, ...)
{
	char	 buf[1024], *big = NULL;
	va_list	 ap;
	int	 n, r;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(buf))
		return io_write(io, buf, (size_t)n);
	va_start(ap, fmt);
	n = vasprintf(&big, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	r = io_write(io, big, (size_t)n);
	free(big);
	return r;
}

size_t
io_outpending(struct io *io)
{
	return io->wlen;
}

int
io_fd(struct io *io)
{
	return io->rfd;
}

int
io_wfd(struct io *io)
{
	return io->wfd;
}

unsigned long long
io_bytes_in(struct io *io)
{
	return io->bytes_in;
}

unsigned long long
io_bytes_out(struct io *io)
{
	return io->bytes_out;
}

void
io_set_transport(struct io *io, const struct io_transport *t, void *ctx)
{
	if (io->t->free != NULL)
		io->t->free(io->tctx);
	io->t = t;
	io->tctx = ctx;
	io_discard_input(io);
	io->reof = false;
}

void *
io_transport_ctx(struct io *io, const struct io_transport *t)
{
	return io->t == t ? io->tctx : NULL;
}
