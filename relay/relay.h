/*
 * The relay engine: what one relay worker does for one delivery request.
 * A relay worker is an unprivileged, chrooted process forked by the queue
 * runner (queue/relay_*.c). The runner hands it a request (the queue file
 * open read-only, the sender, the next hop, a group of recipients for one
 * destination); the engine looks up the next hop in DNS, talks SMTP to it
 * (STARTTLS per policy) and fills in one result per recipient. The runner
 * checks every result before it believes it (relay_result_check()).
 *
 * This header is the contract between the engine (relay/, the worker's
 * side) and the scheduler (queue/, the root side).
 */
#ifndef MAILD_RELAY_H
#define MAILD_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "bounds.h"
#include "reason.h"

/* TLS policy for one destination (relay.tls.security_level). */
enum relay_tls {
	RELAY_TLS_NONE,		/* never STARTTLS */
	RELAY_TLS_MAY,		/* STARTTLS when offered; unverified */
	RELAY_TLS_ENCRYPT,	/* STARTTLS required; unverified */
	RELAY_TLS_VERIFY,	/* required; certificate verified for the MX name */
	RELAY_TLS_DANE		/* RFC 7672: TLSA when DNSSEC-secure, else may */
};

/* Message flags (struct relay_req.flags). */
#define RELAY_F_8BIT	0x01	/* BODY=8BITMIME */
#define RELAY_F_UTF8	0x02	/* SMTPUTF8 */
#define RELAY_F_RET_HDRS 0x04	/* RET=HDRS */
#define RELAY_F_RET_FULL 0x08	/* RET=FULL */

/* DSN NOTIFY bits (struct relay_rcpt_req.notify, struct queue_rcpt.notify). */
#define DSN_NOTIFY_NEVER	0x01
#define DSN_NOTIFY_SUCCESS	0x02
#define DSN_NOTIFY_FAILURE	0x04
#define DSN_NOTIFY_DELAY	0x08

/* Bounds of what crosses from a worker to the runner. */
#define RELAY_TEXT_MAX		512	/* a remote reply, as logged and bounced */
#define RELAY_HOST_MAX		255	/* an MX host name */
#define RELAY_RCPTS_MAX		1000	/* recipients in one request */

struct relay_rcpt_req {
	unsigned	 idx;		/* the recipient's index in the queue file */
	const char	*addr;		/* "local@domain" */
	unsigned	 notify;	/* DSN_NOTIFY_*; 0 = not given */
	const char	*orcpt;		/* "rfc822;addr" xtext as received, or NULL */
};

struct relay_req {
	char		 qid[QUEUE_ID_MAX + 1];
	int		 fd;		/* the queue file, read-only */
	off_t		 body_off;	/* the message: LF line ends, not stuffed */
	off_t		 body_len;
	const char	*sender;	/* "" for the null sender */
	const char	*envid;		/* ENVID xtext, or NULL */
	unsigned	 flags;		/* RELAY_F_* */
	/*
	 * The next hop: "domain" (MX lookup), or "[host]" / "[host]:port" (no
	 * MX lookup: the host's A/AAAA, or an address literal). A smarthost
	 * "host" without brackets gets an MX lookup too.
	 */
	const char	*nexthop;
	unsigned	 port;		/* 0: relay.port, for hops without :port */
	enum relay_tls	 tls;
	bool		 no_starttls;	/* the runner's retry after a failed handshake */
	const char	*auth_user;	/* smarthost AUTH over TLS, or NULL */
	const char	*auth_pass;
	const struct relay_rcpt_req *rcpts;
	size_t		 nrcpts;	/* 1..RELAY_RCPTS_MAX */
};

enum relay_class {
	RELAY_SENT,		/* the remote took it (2xx after the final dot) */
	RELAY_DEFER,		/* try again later (4xx, network, DNS temporary) */
	RELAY_BOUNCE		/* permanent (5xx, NXDOMAIN, null MX, ...) */
};

/*
 * When the remote server answered (code != 0), why.status is its enhanced
 * status code (or X.0.0 from the reply's class when it gave none) and
 * why.text its reply text without code and status, lines joined by
 * spaces: Diagnostic-Code is "smtp; <code> <status> <text>". When the
 * engine decided (code 0: DNS, connection, TLS, SIZE, 8BITMIME, SMTPUTF8),
 * why.text is a sentence of ours that names the host.
 */
struct relay_rcpt_res {
	unsigned	 idx;		/* as in the request */
	enum relay_class cls;
	int		 code;		/* the remote's reply code, 0 if none */
	struct reason	 why;		/* enhanced status and text (ours or theirs) */
};

struct relay_res {
	struct relay_rcpt_res *rcpts;	/* nrcpts of them, in the request's order */
	size_t		 nrcpts;
	/*
	 * A site-level failure: no address of the next hop got as far as a
	 * MAIL command (connect, greeting, EHLO, TLS). The runner counts these
	 * to suspend a destination; message-level failures never do.
	 */
	bool		 site_fail;
	/* A STARTTLS handshake failed with policy "may": the runner may retry
	 * the same next hop with no_starttls after retry_min. */
	bool		 tls_failed;
	/* The host that answered last (for Remote-MTA and the log), "" if none. */
	char		 mx_host[RELAY_HOST_MAX + 1];
	char		 mx_addr[64];	/* "[192.0.2.1]:25" */
	char		 tls_info[64];	/* "TLSv1.3 TLS_AES_256_GCM_SHA384 verified", or "none" */
	/*
	 * The server that took the message offered DSN, so NOTIFY, ORCPT,
	 * RET and ENVID went on with it; when false, a sent recipient with
	 * NOTIFY=SUCCESS is owed a "relayed" DSN (RFC 3461 5.2.2).
	 */
	bool		 remote_dsn;
};

/* Everything a worker sets up before it chroots (CA file, resolver). */
struct relay_engine;
struct config;

/*
 * relay_engine_new sets SIGPIPE to be ignored in the worker (a server
 * that closes while we write is an error return, not a signal). The
 * engine uses a libunbound resolver thread; it opens no file once made,
 * so chroot and privdrop may follow.
 *
 * Makes the engine for one relay worker from cfg's relay.* settings: the
 * libunbound context (relay.dns_servers or /etc/resolv.conf, trust anchor),
 * the client SSL_CTX (relay.tls.ca_file loaded now), our host names and
 * addresses for the self check. Called after fork, before privdrop and
 * chroot. NULL with err on failure.
 */
struct relay_engine	*relay_engine_new(const struct config *cfg, char *err,
			    size_t errsz);
void			 relay_engine_free(struct relay_engine *);

/*
 * Delivers req: DNS, SMTP, TLS. Fills res (res->rcpts has room for
 * req->nrcpts results; every one is filled in). Keeps a finished session
 * open for relay.connection_cache_time so that the next request to the same
 * address reuses it. Never returns before every recipient has a result.
 */
void	relay_deliver(struct relay_engine *, const struct relay_req *req,
	    struct relay_res *res);
/* Closes a cached session that has been idle too long (QUIT). */
void	relay_engine_idle(struct relay_engine *);

#endif
