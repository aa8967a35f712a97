/*
 * What a protocol worker gets from whoever started it (the master's pool
 * or inetd mode): the configuration, and the TLS server context built
 * while still privileged (NULL when TLS is not configured).
 */
#ifndef MAILD_WORKER_ENV_H
#define MAILD_WORKER_ENV_H

#include <openssl/ssl.h>

#include "config.h"

struct worker_env {
	const struct config	*cfg;
	SSL_CTX			*tls_ctx;
	/* inetd mode: what the connection is for (enum listen_role) */
	int			 inetd_role;
};

#endif
