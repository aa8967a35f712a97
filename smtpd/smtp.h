/*
 * The SMTP session as the command handlers see it (smtpd/ only). The
 * session is a state enum and a command table (smtp_session.c); the
 * transaction (MAIL, RCPT, the message) is its own struct, so RSET is one
 * free. Everything here runs in the unprivileged worker.
 */
#ifndef MAILD_SMTP_H
#define MAILD_SMTP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr.h"
#include "bounds.h"
#include "config.h"
#include "io.h"
#include "io_tls.h"
#include "smtp_data.h"
#include "smtp_hdr.h"
#include "smtp_parse.h"

enum smtp_state {
	SMTP_GREETED,	/* connected, no HELO/EHLO yet */
	SMTP_READY,	/* HELO/EHLO done, no transaction */
	SMTP_MAIL,	/* MAIL accepted */
	SMTP_RCPT,	/* at least one RCPT accepted */
	SMTP_NSTATES
};

#define SMTP_IN(s)	(1u << (s))
#define SMTP_ANY_STATE	(SMTP_IN(SMTP_GREETED) | SMTP_IN(SMTP_READY) | \
			 SMTP_IN(SMTP_MAIL) | \
			 SMTP_IN(SMTP_RCPT))

/* Handler results. */
#define SMTP_CMD_OK		0	/* replied; go on */
#define SMTP_CMD_CLOSE	1	/* replied; end the session */

struct smtp_txn {
	struct smtp_mail_args	 mail;
	char			 sender[ADDR_TEXT_SIZE];
	char			 qid[QUEUE_ID_MAX + 1];
	size_t			 nrcpts;
	char			 first_rcpt[ADDR_TEXT_SIZE];
	/* BDAT (RFC 3030): a message in chunks */
	bool			 bdat;
	bool			 bdat_failed;	/* the message was refused */
	int			 fail_code;	/* ... with this reply */
	struct reason		 fail_reason;
	struct smtp_data	 reader;
	struct smtp_hdr		 hdr;		/* completes submitted mail */
	uint64_t		 sent;		/* octets for the monitor */
	char			*chunk;		/* data for the monitor */
	size_t			 chunklen;
	bool			 ipc_failed;
	bool			 milter;	/* through filters (smtp_milter.c) */
};

struct smtp_session {
	const struct config	*cfg;
	SSL_CTX			*tls_ctx;	/* NULL: no TLS configured */
	struct io		*io;
	int			 role;		/* enum listen_role */
	enum smtp_state		 state;
	bool			 esmtp;		/* EHLO, not HELO */
	char			 helo[SMTP_DOMAIN_MAX + 1];
	char			 client[CLIENT_ADDR_TEXT_MAX];	/* address as text */
	bool			 tls;
	bool			 authed;
	char			 user[USER_NAME_MAX + 1];
	long			 local_uid;	/* ROLE_LOCAL: the sender's */
	unsigned		 ext;		/* SMTP_EXT_* advertised */
	int			 errors;
	struct smtp_txn		*txn;
	struct smtp_milter	*milter;	/* NULL: no filters */
	char			 auth_mech[SASL_MECH_MAX + 1];
	/* for the session's last log line */
	unsigned		 nmsgs, nrcpts_total;
};

/*
 * A row of the command table (smtp_session.c). The verb comes first
 * (cmd_lookup()). Out of state the command gets 503 with a text that says
 * why: "send HELO or EHLO first" before HELO/EHLO, else the row's text
 * for outside or inside a transaction, else "bad sequence of commands".
 */
struct smtp_cmd_def {
	const char	*verb;
	unsigned	 states;	/* SMTP_IN() mask where it is allowed */
	unsigned	 flags;
	int		(*handler)(struct smtp_session *, const struct smtp_cmd *);
	const char	*why_no_txn;	/* refused in SMTP_READY */
	const char	*why_in_txn;	/* refused in SMTP_MAIL or SMTP_RCPT */
};

/* smtp_cmd_def.flags */
#define SMTP_CMD_SECRET	0x01	/* never log the arguments */
#define SMTP_CMD_CHUNK	0x02	/* data follows (BDAT): read even if refused */

/* smtp_session.c */
/*
 * Sends "code status text". A 4xx/5xx reply counts as an error; past
 * max_errors the session ends (the caller sees SMTP_CMD_CLOSE).
 */
int	smtp_reply(struct smtp_session *, int code, const char *status,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* One line of a multi-line reply ("250-..."); last = true ends it. */
void	smtp_reply_line(struct smtp_session *, int code, bool last,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void	smtp_enter_state(struct smtp_session *, enum smtp_state);
/* Drops the transaction (in the monitor too when tell_monitor). */
void	smtp_txn_reset(struct smtp_session *, bool tell_monitor);

/* smtp_ehlo.c */
int	smtp_helo(struct smtp_session *, const struct smtp_cmd *);
int	smtp_ehlo(struct smtp_session *, const struct smtp_cmd *);

/* smtp_txn.c */
int	smtp_mail(struct smtp_session *, const struct smtp_cmd *);
int	smtp_rcpt(struct smtp_session *, const struct smtp_cmd *);
int	smtp_data(struct smtp_session *, const struct smtp_cmd *);
int	smtp_bdat(struct smtp_session *, const struct smtp_cmd *);
/*
 * Refuses a BDAT command with "code status text", after reading its
 * chunk and throwing it away (RFC 3030 2: the octets after BDAT are
 * data whatever the reply, never commands). A size that does not parse
 * is answered 501 and ends the session (SMTP_CMD_CLOSE), as does a chunk
 * that does not arrive.
 */
int	smtp_bdat_refuse(struct smtp_session *, const struct smtp_cmd *,
	    int code, const char *status, const char *text);
int	smtp_rset(struct smtp_session *, const struct smtp_cmd *);

/* smtp_tls.c */
bool	smtp_tls_offered(const struct smtp_session *);
/* The handshake (STARTTLS or implicit TLS); -1 ends the session. */
int	smtp_tls_handshake(struct smtp_session *);
int	smtp_starttls(struct smtp_session *, const struct smtp_cmd *);

/* smtp_auth.c */
bool	smtp_auth_offered(const struct smtp_session *);
int	smtp_auth(struct smtp_session *, const struct smtp_cmd *);

/* smtp_cmds.c */
int	smtp_noop(struct smtp_session *, const struct smtp_cmd *);
int	smtp_quit(struct smtp_session *, const struct smtp_cmd *);
int	smtp_vrfy(struct smtp_session *, const struct smtp_cmd *);
int	smtp_expn(struct smtp_session *, const struct smtp_cmd *);
int	smtp_help(struct smtp_session *, const struct smtp_cmd *);
int	smtp_not_implemented(struct smtp_session *, const struct smtp_cmd *);
int	smtp_unknown(struct smtp_session *, const struct smtp_cmd *);

#endif
