/*
 * The SMTP client's TLS (RFC 3207 STARTTLS, RFC 7672 DANE): the client
 * context, made before the relay worker chroots (the CA file is read
 * then), and the per-connection setup for a security level: SNI, the
 * name the certificate must carry, the TLSA records DANE matches.
 */
#ifndef MAILD_RELAY_TLS_H
#define MAILD_RELAY_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "config.h"
#include "relay.h"

/* One TLSA record (RFC 6698 2.1). */
struct relay_tlsa {
	uint8_t		 usage, selector, mtype;
	unsigned char	*data;		/* owned by the list */
	size_t		 len;
};

/*
 * The client context: relay.tls.min_protocol, relay.tls.ciphers,
 * relay.tls.ca_file, DANE enabled. NULL with err on failure.
 */
SSL_CTX	*relay_tls_ctx_new(const struct config *cfg, char *err, size_t errsz);
/*
 * An SSL for one connection to host at level: SNI host (not for an
 * address literal); with VERIFY, the certificate must be valid for host;
 * with DANE and ntlsa > 0, it must match a usable record of tlsa (DANE-TA
 * or DANE-EE; none usable: encrypted, unauthenticated). *authenticate
 * says whether the handshake will insist on an authenticated peer.
 * NULL with err.
 */
SSL	*relay_tls_ssl_new(SSL_CTX *ctx, const char *host, enum relay_tls level,
	    const struct relay_tlsa *tlsa, size_t ntlsa, bool *authenticate,
	    char *err, size_t errsz);
/* Whether the peer was authenticated (certificate chain or DANE). */
bool	 relay_tls_verified(SSL *ssl);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384 verified" (or "unverified") in buf. */
void	 relay_tls_info(SSL *ssl, char *buf, size_t bufsz);
/* Frees the records' data and zeroes *n. */
void	 relay_tlsa_clear(struct relay_tlsa *tlsa, size_t *n);

#endif
