/*
 * TLS server contexts (see tls.h). Runs in the master and in the inetd
 * parent, as root, before privileges are dropped.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log.h"
#include "tls.h"

bool
tls_configured(const struct config *cfg)
{
	return cfg->tls.certificate != NULL && cfg->tls.certificate[0] != '\0';
}

const char *
tls_error_text(void)
{
	static char	buf[256];
	unsigned long	e = ERR_get_error();

	if (e == 0)
		return "unknown error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

static int
protocol_version(const char *name)
{
	if (strcmp(name, "TLSv1.3") == 0)
		return TLS1_3_VERSION;
	return TLS1_2_VERSION;
}

SSL_CTX *
tls_server_ctx_new(const struct config *cfg, char *err, size_t errsz)
{
	SSL_CTX	*ctx;

	err[0] = '\0';
	if (!tls_configured(cfg))
		return NULL;
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		snprintf(err, errsz, "TLS: %s", tls_error_text());
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (!SSL_CTX_set_min_proto_version(ctx,
	    protocol_version(cfg->tls.min_protocol))) {
		snprintf(err, errsz, "tls.min_protocol %s: %s",
		    cfg->tls.min_protocol, tls_error_text());
		goto fail;
	}
	if (cfg->tls.ciphers[0] != '\0' &&
	    !SSL_CTX_set_cipher_list(ctx, cfg->tls.ciphers)) {
		snprintf(err, errsz, "tls.ciphers \"%s\": no usable cipher "
		    "(%s)", cfg->tls.ciphers, tls_error_text());
		goto fail;
	}
	if (cfg->tls.ciphersuites[0] != '\0' &&
	    !SSL_CTX_set_ciphersuites(ctx, cfg->tls.ciphersuites)) {
		snprintf(err, errsz, "tls.ciphersuites \"%s\": no usable "
		    "cipher suite (%s)", cfg->tls.ciphersuites,
		    tls_error_text());
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls.certificate) !=
	    1) {
		snprintf(err, errsz, "tls.certificate %s: cannot load the "
		    "certificate chain (%s)", cfg->tls.certificate,
		    tls_error_text());
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls.key, SSL_FILETYPE_PEM) !=
	    1) {
		/* OpenSSL checks the key against the certificate as it loads */
		if (ERR_GET_REASON(ERR_peek_error()) ==
		    X509_R_KEY_VALUES_MISMATCH) {
			ERR_clear_error();
			snprintf(err, errsz, "tls.key %s does not match "
			    "tls.certificate %s", cfg->tls.key,
			    cfg->tls.certificate);
		} else
			snprintf(err, errsz, "tls.key %s: cannot load the "
			    "private key (%s)", cfg->tls.key, tls_error_text());
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errsz, "tls.key %s does not match tls.certificate "
		    "%s", cfg->tls.key, cfg->tls.certificate);
		ERR_clear_error();
		goto fail;
	}
	/* one context serves every worker: stateless session tickets only */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}
