/*
 * The OpenSSL transport under common/io.c. The protocol code calls
 * io_tls_start() for STARTTLS/STLS (or at once for implicit TLS) and
 * afterwards may only ask whether TLS is on and what was negotiated.
 */
#ifndef MAILD_IO_TLS_H
#define MAILD_IO_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "io.h"

/*
 * Performs the server handshake on io's connection within the io's read
 * deadline, then puts TLS under the io. Client input buffered before
 * the handshake is thrown away first (plaintext pipelined after
 * STARTTLS must never be read as if it came through TLS); the number
 * of bytes dropped goes to *discarded_out (may be NULL). Returns 0, or
 * -1 with OpenSSL's reason (or "timeout") in err.
 */
int		 io_tls_start(struct io *io, SSL_CTX *ctx, size_t *discarded_out,
		    char *err, size_t errsz);
/*
 * The client side (the relay's STARTTLS): performs the handshake of ssl,
 * which the caller made from its client context and set up (SNI, the
 * name to verify, DANE), within the io's read deadline, then puts TLS
 * under the io. ssl belongs to the io from the call on (freed on
 * failure too). Input buffered before is thrown away and counted in
 * *discarded_out (may be NULL). Returns 0, or -1 with the reason in err.
 */
int		 io_tls_connect(struct io *io, SSL *ssl, size_t *discarded_out,
		    char *err, size_t errsz);
/* The connection's SSL while TLS is on (for its verification result). */
SSL		*io_tls_ssl(struct io *io);
bool		 io_tls_active(struct io *io);
/* "TLSv1.3", "TLS_AES_256_GCM_SHA384", bits: valid while TLS is on. */
const char	*io_tls_version(struct io *io);
const char	*io_tls_cipher(struct io *io);
int		 io_tls_bits(struct io *io);

#endif
