/*
 * The requests a worker may send to its monitor, and the replies. Field
 * order for each request is documented here and must match the encoder
 * in priv_client.c and the decoder in priv/priv_*.c.
 */
#ifndef MAILD_PRIV_PROTO_H
#define MAILD_PRIV_PROTO_H

enum priv_type {
	/* requests, worker -> monitor */
	PRIV_PING = 1,		/* -> PRIV_OK */
	PRIV_SESSION_BEGIN,	/* fd: the client socket; str sid, u32 role
				   -> OK | FAIL (too many connections) */
	PRIV_SESSION_END,	/* -> OK */
	PRIV_AUTH,		/* str user, str password, str mechanism,
				   u32 flags -> OK (str canonical user) |
				   FAIL */
	PRIV_MAIL,		/* str sender, str helo, u32 flags, u64 size,
				   str envid (xtext, "" if none)
				   -> OK (str queue id) | FAIL */
	PRIV_RCPT,		/* str address, u32 notify (DSN_NOTIFY_*),
				   str orcpt ("type;xtext", "" if none)
				   -> OK | FAIL */
	PRIV_RSET,		/* -> OK */
	PRIV_DATA_BEGIN,	/* bytes trace headers -> OK | FAIL */
	PRIV_DATA_CHUNK,	/* bytes; no reply */
	PRIV_DATA_END,		/* u64 size, u32 ok -> OK (str queue id) |
				   FAIL */
	PRIV_VRFY,		/* str address, u32 expand -> OK (str:
				   targets, one a line) | FAIL */
	/*
	 * The POP3 maildrop, after AUTH (or APOP) succeeded, in this order:
	 * OPEN once; INDEX_OPEN at most once; for an update TMP, then COMMIT
	 * (or RELEASE to give up); RELEASE ends it (and the login: AUTH is
	 * allowed again). See priv/priv_maildrop.c.
	 */
	PRIV_MAILDROP_OPEN,	/* -> OK + fd (maildrop, locked) | FAIL */
	PRIV_INDEX_OPEN,	/* -> OK + fd (index file) | FAIL */
	PRIV_MAILDROP_TMP,	/* -> OK + fd (new empty file) | FAIL */
	PRIV_MAILDROP_COMMIT,	/* -> OK | FAIL: the new file replaces it */
	PRIV_MAILDROP_RELEASE,	/* -> OK: unlock, wake deliveries */
	PRIV_APOP_CHALLENGE,	/* -> OK (str timestamp "<...>") | FAIL;
				   once per session, before any login */
	PRIV_APOP,		/* str user, str digest (32 hex digits)
				   -> OK (str user) | FAIL, as PRIV_AUTH */
	PRIV_TYPE_MAX,

	/* replies, monitor -> worker */
	PRIV_OK = 100,		/* fields depend on the request */
	PRIV_FAIL,		/* str status ("5.7.8"), str text */
	PRIV_REFUSED,		/* the request was malformed or not allowed */
};

/* PRIV_MAIL flags */
#define PRIV_MAIL_UTF8		0x01	/* SMTPUTF8 transaction */
#define PRIV_MAIL_8BIT		0x02	/* BODY=8BITMIME */
#define PRIV_MAIL_RET_HDRS	0x04	/* RET=HDRS (RFC 3461 4.3) */
#define PRIV_MAIL_RET_FULL	0x08	/* RET=FULL */
#define PRIV_MAIL_FLAGS		0x0f	/* all of them */

/* PRIV_AUTH flags */
#define PRIV_AUTH_TLS		0x01	/* the session is under TLS */
#define PRIV_AUTH_LOCAL		0x02	/* the client is on loopback */

/*
 * PRIV_FAIL statuses of PRIV_MAILDROP_OPEN that the POP3 worker turns
 * into RFC 2449 / RFC 3206 response codes; any other 4.x.x is
 * [SYS/TEMP], any other 5.x.x [SYS/PERM].
 */
#define PRIV_ST_IN_USE		"4.2.1"	/* locked by another session */
#define PRIV_ST_LOGIN_DELAY	"4.7.1"	/* logged in too recently */

#endif
