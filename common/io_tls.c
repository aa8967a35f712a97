/*
 * The OpenSSL transport for common/io.c, in the unprivileged workers.
 * The descriptors are non-blocking: SSL_read/SSL_write report WANT_READ
 * or WANT_WRITE and io.c waits with its own deadlines. The handshake
 * here waits the same way, bounded by the io's read timeout, so a
 * client that stalls (or sends garbage) costs one timeout at most.
 */
#include "autoconf.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "clock.h"
#include "io_tls.h"
#include "tls.h"
#include "xmalloc.h"

struct io_tls {
	SSL	*ssl;
};

static ssize_t
tls_result(SSL *ssl, int n)
{
	switch (SSL_get_error(ssl, n)) {
	case SSL_ERROR_WANT_READ:
		return IO_T_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return IO_T_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return IO_T_EOF;
	case SSL_ERROR_SYSCALL:
		if (errno == 0 || ERR_peek_error() == 0) {
			/* the peer closed without close_notify */
			ERR_clear_error();
			return IO_T_EOF;
		}
		ERR_clear_error();
		return IO_T_ERR;
	default:
		ERR_clear_error();
		errno = EPROTO;
		return IO_T_ERR;
	}
}

static ssize_t
tls_read(void *ctx, int fd, void *buf, size_t len)
{
	struct io_tls	*t = ctx;
	int		 n;

	(void)fd;
	if (len > 0x7fffffff)
		len = 0x7fffffff;
	errno = 0;
	if ((n = SSL_read(t->ssl, buf, (int)len)) > 0)
		return n;
	return tls_result(t->ssl, n);
}

static ssize_t
tls_write(void *ctx, int fd, const void *buf, size_t len)
{
	struct io_tls	*t = ctx;
	int		 n;

	(void)fd;
	if (len > 0x7fffffff)
		len = 0x7fffffff;
	errno = 0;
	if ((n = SSL_write(t->ssl, buf, (int)len)) > 0)
		return n;
	return tls_result(t->ssl, n);
}

static size_t
tls_pending(void *ctx)
{
	struct io_tls	*t = ctx;

	return (size_t)SSL_pending(t->ssl);
}

static void
tls_shutdown(void *ctx, int fd)
{
	struct io_tls	*t = ctx;

	(void)fd;
	/* one try at close_notify; we do not wait for the peer's */
	(void)SSL_shutdown(t->ssl);
	ERR_clear_error();
}

static void
tls_free(void *ctx)
{
	struct io_tls	*t = ctx;

	SSL_free(t->ssl);
	free(t);
}

static const struct io_transport tls_transport = {
	"tls", tls_read, tls_write, tls_pending, tls_shutdown, tls_free
};

/*
 * Runs step (SSL_accept or SSL_connect) on t->ssl until the handshake is
 * done, within the io's read timeout. Returns 0, or -1 with err.
 */
static int
tls_handshake(struct io *io, struct io_tls *t, int (*step)(SSL *), char *err,
    size_t errsz)
{
	long long	 start, deadline;
	int		 n, e, ms = io_read_timeout(io);

	start = mono_ms();
	deadline = ms > 0 ? start + ms : 0;
	for (;;) {
		errno = 0;
		if ((n = step(t->ssl)) == 1)
			return 0;
		e = SSL_get_error(t->ssl, n);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
				snprintf(err, errsz, "%s", errno ?
				    strerror(errno) : "connection closed during "
				    "the handshake");
			else
				snprintf(err, errsz, "%s", tls_error_text());
			return -1;
		}
		/* the whole handshake in one read timeout (less under stress) */
		n = io_wait(io, e == SSL_ERROR_WANT_READ ? io_fd(io) :
		    io_wfd(io), e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
		    start, deadline);
		if (n == 0) {
			snprintf(err, errsz, "timeout during the handshake");
			return -1;
		}
		if (n == -1) {
			snprintf(err, errsz, "poll: %s", strerror(errno));
			return -1;
		}
	}
}

int
io_tls_start(struct io *io, SSL_CTX *ctx, size_t *discarded_out, char *err,
    size_t errsz)
{
	struct io_tls	*t;
	size_t		 dropped;

	dropped = io_discard_input(io);
	if (discarded_out != NULL)
		*discarded_out = dropped;
	ERR_clear_error();
	t = xcalloc(1, sizeof(*t));
	if ((t->ssl = SSL_new(ctx)) == NULL ||
	    !SSL_set_rfd(t->ssl, io_fd(io)) || !SSL_set_wfd(t->ssl, io_wfd(io))) {
		snprintf(err, errsz, "%s", tls_error_text());
		goto fail;
	}
	if (tls_handshake(io, t, SSL_accept, err, errsz) == -1)
		goto fail;
	io_set_transport(io, &tls_transport, t);
	return 0;
fail:
	ERR_clear_error();
	if (t->ssl != NULL)
		SSL_free(t->ssl);
	free(t);
	return -1;
}

int
io_tls_connect(struct io *io, SSL *ssl, size_t *discarded_out, char *err,
    size_t errsz)
{
	struct io_tls	*t;
	size_t		 dropped;

	dropped = io_discard_input(io);
	if (discarded_out != NULL)
		*discarded_out = dropped;
	t = xcalloc(1, sizeof(*t));
	t->ssl = ssl;
	if (!SSL_set_rfd(t->ssl, io_fd(io)) || !SSL_set_wfd(t->ssl,
	    io_wfd(io))) {
		snprintf(err, errsz, "%s", tls_error_text());
		goto fail;
	}
	if (tls_handshake(io, t, SSL_connect, err, errsz) == -1)
		goto fail;
	io_set_transport(io, &tls_transport, t);
	return 0;
fail:
	ERR_clear_error();
	SSL_free(t->ssl);
	free(t);
	return -1;
}

SSL *
io_tls_ssl(struct io *io)
{
	struct io_tls	*t = io_transport_ctx(io, &tls_transport);

	return t ? t->ssl : NULL;
}

bool
io_tls_active(struct io *io)
{
	return io_transport_ctx(io, &tls_transport) != NULL;
}

const char *
io_tls_version(struct io *io)
{
	struct io_tls	*t = io_transport_ctx(io, &tls_transport);

	return t ? SSL_get_version(t->ssl) : "";
}

const char *
io_tls_cipher(struct io *io)
{
	struct io_tls	*t = io_transport_ctx(io, &tls_transport);

	return t ? SSL_get_cipher_name(t->ssl) : "";
}

int
io_tls_bits(struct io *io)
{
	struct io_tls	*t = io_transport_ctx(io, &tls_transport);

	return t ? SSL_get_cipher_bits(t->ssl, NULL) : 0;
}
