/*
 * The SMTP client's TLS: see relay_tls.h. RFC 3207 (STARTTLS), RFC 7672
 * 3.1 (DANE-EE: no name or expiry checks; DANE-TA: name checks against
 * the TLSA base domain; PKIX-TA/PKIX-EE unusable for SMTP), RFC 6125
 * (names) through OpenSSL's X509_VERIFY_PARAM host check.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "relay_tls.h"
#include "tls.h"

/* RFC 7672 3.1: the TLSA usages SMTP may use. */
#define TLSA_DANE_TA	2
#define TLSA_DANE_EE	3

SSL_CTX *
relay_tls_ctx_new(const struct config *cfg, char *err, size_t errsz)
{
	SSL_CTX	*ctx;
	int	 minv;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		snprintf(err, errsz, "SSL_CTX_new: %s", tls_error_text());
		return NULL;
	}
	minv = strcmp(cfg->relay.tls_min_protocol, "TLSv1.3") == 0 ?
	    TLS1_3_VERSION : TLS1_2_VERSION;
	if (!SSL_CTX_set_min_proto_version(ctx, minv)) {
		snprintf(err, errsz, "relay.tls.min_protocol: %s",
		    tls_error_text());
		goto fail;
	}
	if (!SSL_CTX_set_cipher_list(ctx, cfg->relay.tls_ciphers)) {
		snprintf(err, errsz, "relay.tls.ciphers \"%s\": %s",
		    cfg->relay.tls_ciphers, tls_error_text());
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION);
	/* no session cache: one worker, few servers, no tickets kept */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (*cfg->relay.tls_ca_file != '\0' &&
	    !SSL_CTX_load_verify_locations(ctx, cfg->relay.tls_ca_file,
	    NULL)) {
		/* only "verify" needs it: say so, and let that level fail */
		log_warnx("relay.tls.ca_file %s: %s", cfg->relay.tls_ca_file,
		    tls_error_text());
	}
	if (SSL_CTX_dane_enable(ctx) <= 0) {
		snprintf(err, errsz, "SSL_CTX_dane_enable: %s",
		    tls_error_text());
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* Whether host is an address literal (no SNI for those, RFC 6066 3). */
static bool
is_literal(const char *host)
{
	unsigned char	buf[16];

	return inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1;
}

SSL *
relay_tls_ssl_new(SSL_CTX *ctx, const char *host, enum relay_tls level,
    const struct relay_tlsa *tlsa, size_t ntlsa, bool *authenticate,
    char *err, size_t errsz)
{
	SSL	*ssl;
	size_t	 i;
	int	 usable = 0, r;

	*authenticate = false;
	ERR_clear_error();
	if ((ssl = SSL_new(ctx)) == NULL) {
		snprintf(err, errsz, "SSL_new: %s", tls_error_text());
		return NULL;
	}
	if (!is_literal(host) && !SSL_set_tlsext_host_name(ssl, host)) {
		snprintf(err, errsz, "SNI %s: %s", host, tls_error_text());
		goto fail;
	}
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	if (level == RELAY_TLS_VERIFY) {
		if (!SSL_set1_host(ssl, host)) {
			snprintf(err, errsz, "verify %s: %s", host,
			    tls_error_text());
			goto fail;
		}
		SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
		*authenticate = true;
	} else if (level == RELAY_TLS_DANE && ntlsa > 0) {
		if (SSL_dane_enable(ssl, host) <= 0) {
			snprintf(err, errsz, "SSL_dane_enable: %s",
			    tls_error_text());
			goto fail;
		}
		/* RFC 7672 3.1.1: DANE-EE ignores the names */
		(void)SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
		for (i = 0; i < ntlsa; i++) {
			if (tlsa[i].usage != TLSA_DANE_TA &&
			    tlsa[i].usage != TLSA_DANE_EE)
				continue;
			r = SSL_dane_tlsa_add(ssl, tlsa[i].usage,
			    tlsa[i].selector, tlsa[i].mtype, tlsa[i].data,
			    tlsa[i].len);
			if (r > 0)
				usable++;
			else
				ERR_clear_error();	/* unusable: skipped */
		}
		/* RFC 7672 2.2: no usable record: encrypt, unauthenticated */
		if (usable > 0) {
			SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
			*authenticate = true;
		}
	}
	return ssl;
fail:
	SSL_free(ssl);
	return NULL;
}

bool
relay_tls_verified(SSL *ssl)
{
	return SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER &&
	    SSL_get_verify_result(ssl) == X509_V_OK &&
	    SSL_get0_peer_certificate(ssl) != NULL;
}

void
relay_tls_info(SSL *ssl, char *buf, size_t bufsz)
{
	const char	*how = "unverified";

	if (relay_tls_verified(ssl))
		how = SSL_get0_dane_authority(ssl, NULL, NULL) >= 0 ?
		    "dane" : "verified";
	snprintf(buf, bufsz, "%s %s %s", SSL_get_version(ssl),
	    SSL_get_cipher_name(ssl), how);
}

void
relay_tlsa_clear(struct relay_tlsa *tlsa, size_t *n)
{
	size_t	i;

	for (i = 0; i < *n; i++) {
		free(tlsa[i].data);
		tlsa[i].data = NULL;
	}
	*n = 0;
}
