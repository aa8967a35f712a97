/*
 * TLS server contexts (OpenSSL 3) built from the configuration. Made in
 * the master (root) before any worker exists, so the private key is read
 * while privileged and no worker ever opens the key file; workers
 * inherit the context across fork. A reload builds a new context for the
 * new workers; sessions in old workers keep theirs.
 */
#ifndef MAILD_TLS_H
#define MAILD_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "config.h"

/*
 * Builds the server context: certificate chain, key (checked against the
 * certificate), minimum protocol, cipher lists, no renegotiation, no
 * compression. Returns NULL when TLS is not configured (err is then ""),
 * or on error with a message naming the file in err.
 */
SSL_CTX	*tls_server_ctx_new(const struct config *cfg, char *err, size_t errsz);

/* Whether cfg configures TLS at all (a certificate is set). */
bool	 tls_configured(const struct config *cfg);

/* The oldest OpenSSL error as text (and clears the queue); never NULL. */
const char *tls_error_text(void);

#endif
