/*
 * The relay engine's inside, shared by relay_engine.c (next hop, MX
 * selection, the loop over addresses, the session cache) and
 * relay_smtp.c (one SMTP session). Not for the runner: it sees relay.h.
 */
#ifndef MAILD_RELAY_ENGINE_H
#define MAILD_RELAY_ENGINE_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "relay.h"
#include "relay_reply.h"
#include "relay_tls.h"

struct io;
struct relay_dns;

/* One address to try. */
struct relay_addr {
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			 host[RELAY_HOST_MAX + 1];	/* the MX name */
	unsigned		 pref;
	bool			 mx_secure;	/* MX and address DNSSEC-secure */
	char			 text[64];	/* "[192.0.2.1]:25" */
};

/* An open SMTP session, between transactions or cached. */
struct relay_session {
	struct io		*io;
	struct relay_addr	 addr;
	struct relay_ehlo	 ehlo;
	bool			 tls;
	char			 tls_info[64];
	int			 nmsgs;		/* transactions completed */
	long long		 idle_since;	/* ms, monotonic */
	/* what it was opened for, to match a later request */
	char			*key;
};

struct relay_engine {
	struct relay_dns	*dns;
	SSL_CTX			*ssl_ctx;
	char			*helo;		/* relay.helo_name or hostname */
	char			*hostname;
	int			 port;
	int			 address_pref;	/* RELAY_PREF_* */
	int			 address_limit;
	int			 session_limit;
	int			 connect_ms;
	int			 command_ms;
	int			 data_ms;
	int			 cache_ms;
	int			 reuse_limit;
	/* the self check: our addresses, and the ports we listen on */
	struct sockaddr_storage	*self;
	size_t			 nself;
	int			*ports;		/* 0: every port ("*") */
	size_t			 nports;
	struct relay_session	*cached;
};

/* relay_smtp_open() and relay_smtp_send() results. */
#define RELAY_SMTP_OK		0	/* ready / results final, session kept */
#define RELAY_SMTP_NEXT		1	/* nothing final: try the next address */
#define RELAY_SMTP_CLOSE	2	/* results final; session unusable */
#define RELAY_SMTP_FRESH	3	/* a reused session failed at once */

/* The DANE facts of one MX host (RFC 7672) for relay_smtp_open(). */
struct relay_dane {
	bool			 required;	/* secure TLSA: must match */
	struct relay_tlsa	 tlsa[RELAY_TLSA_MAX];
	size_t			 ntlsa;
};

/*
 * Connects to a, reads the greeting, says EHLO (HELO after a 5xx),
 * STARTTLS per req's level (and dane), EHLO again, AUTH if asked.
 * RELAY_SMTP_OK with *out the session; else RELAY_SMTP_NEXT with why
 * (ours or the server's reply), *greeted telling whether the server
 * answered at all (a "session" for relay.mx_session_limit), and
 * res->tls_failed set after a failed handshake at level "may".
 */
int	relay_smtp_open(struct relay_engine *, const struct relay_addr *a,
	    const struct relay_req *req, const struct relay_dane *dane,
	    struct relay_session **out, bool *greeted, struct relay_res *res,
	    struct reason *why, int *why_code);
/*
 * One transaction on s for req: MAIL, RCPT for every recipient, DATA,
 * the body, ".". On RELAY_SMTP_OK or RELAY_SMTP_CLOSE every result in
 * res is final; on RELAY_SMTP_NEXT or RELAY_SMTP_FRESH none is, and why
 * says what went wrong. reused: s has carried a transaction before.
 */
int	relay_smtp_send(struct relay_engine *, struct relay_session *s,
	    const struct relay_req *req, bool reused, struct relay_res *res,
	    struct reason *why, int *why_code);
/* Says QUIT (briefly waiting for the reply) and frees *sp. */
void	relay_smtp_close(struct relay_engine *, struct relay_session **sp,
	    bool quit);

#endif
