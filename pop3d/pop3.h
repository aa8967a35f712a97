/*
 * The POP3 session as the command handlers see it (pop3d/ only). The
 * session is a state enum and a command table (pop3_session.c), the RFC
 * 1939 states are files: pop3_auth.c (AUTHORIZATION: USER, PASS, APOP,
 * AUTH), pop3_trans.c (TRANSACTION), pop3_update.c (QUIT and UPDATE);
 * pop3_capa.c and pop3_stls.c hold CAPA (RFC 2449) and STLS (RFC 2595),
 * pop3_maildrop.c the maildrop the worker was given. Everything here
 * runs in the unprivileged worker.
 */
#ifndef MAILD_POP3_H
#define MAILD_POP3_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include <openssl/ssl.h>

#include "bounds.h"
#include "config.h"
#include "io.h"
#include "mbox_table.h"
#include "pop3_parse.h"
#include "reason.h"

enum pop3_state {
	POP3_AUTH,	/* AUTHORIZATION: not logged in */
	POP3_TRANS,	/* TRANSACTION: the maildrop is ours */
	POP3_UPDATE,	/* UPDATE: QUIT was given, deletions are applied */
	POP3_NSTATES
};

#define POP3_IN(s)	(1u << (s))

/*
 * Handler results. For POP3_CMD_OK and POP3_CMD_ERR the dispatcher writes the
 * reply ("+OK text" / "-ERR text", the text set with pop3_ok() and
 * pop3_err()); an -ERR counts towards max_errors.
 */
#define POP3_CMD_OK		0
#define POP3_CMD_ERR		1
#define POP3_CMD_REPLIED	2	/* the handler wrote its own reply */
#define POP3_CMD_CLOSE	3	/* replied (or cannot); end the session */

/* How much of an over-long line we read through before giving up. */
#define POP3_SKIP_MAX	(1024 * 1024)

/* RFC 2449 8 and RFC 3206 response codes, with their brackets. */
#define RESP_IN_USE	"[IN-USE] "
#define RESP_LOGIN_DELAY "[LOGIN-DELAY] "
#define RESP_AUTH	"[AUTH] "
#define RESP_SYS_TEMP	"[SYS/TEMP] "
#define RESP_SYS_PERM	"[SYS/PERM] "

/* The maildrop of a logged-in session (pop3_maildrop.c). */
struct pop3_maildrop {
	int			 fd;		/* locked by the monitor */
	int			 idx_fd;	/* the index, or -1 */
	struct mbox_table	 t;		/* message n is t.v[n - 1] */
	bool			*deleted;	/* t.n flags */
	size_t			 ndeleted;
	off_t			 deleted_octets;
	off_t			 total_octets;	/* of all t.n messages */
};

struct pop3_session {
	const struct config	*cfg;
	SSL_CTX			*tls_ctx;	/* NULL: no TLS configured */
	struct io		*io;
	int			 role;		/* enum listen_role */
	enum pop3_state		 state;
	char			 client[CLIENT_ADDR_TEXT_MAX];	/* address as text */
	bool			 local;		/* on loopback, or inetd pipe */
	bool			 tls;
	char			 user[USER_NAME_MAX + 1];	/* from USER */
	bool			 have_user;
	char			 login[USER_NAME_MAX + 1];	/* logged in */
	const char		*method;	/* "USER", "PLAIN", "APOP" */
	char			 apop_stamp[APOP_STAMP_MAX];	/* "" off */
	int			 errors;
	char			 text[POP3_REPLY_MAX];	/* for POP3_CMD_OK/ERR */
	struct pop3_maildrop	*md;		/* in TRANSACTION */
	/* for the session's last log line */
	struct timespec		 start;
	unsigned		 nretr;
	unsigned long long	 retr_octets;
	unsigned		 ndeleted;	/* really removed at UPDATE */
	unsigned long long	 deleted_octets;
};

struct pop3_cmd_def {
	const char	*verb;
	unsigned	 states;	/* POP3_IN() mask where it is allowed */
	unsigned	 flags;
	int		(*handler)(struct pop3_session *,
			    const struct pop3_cmd *);
};

/* pop3_cmd_def.flags */
#define POP3_CMD_SECRET	0x01	/* never log the arguments */

/* pop3_session.c */
/* Sets the text of a "+OK" reply; returns POP3_CMD_OK. */
int	pop3_ok(struct pop3_session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * Sets the text of an "-ERR" reply, code one of the RESP_* (or "");
 * returns POP3_CMD_ERR.
 */
int	pop3_err(struct pop3_session *, const char *code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	pop3_enter_state(struct pop3_session *, enum pop3_state);
/* Whether USER/PASS and AUTH PLAIN may be used on this connection now. */
bool	pop3_login_allowed(const struct pop3_session *);
/* The response code for a refusal the monitor gave (priv_proto.h). */
const char *pop3_resp_code(const struct reason *);

/* pop3_capa.c */
int	pop3_capa(struct pop3_session *, const struct pop3_cmd *);

/* pop3_stls.c */
int	pop3_stls(struct pop3_session *, const struct pop3_cmd *);
/* Implicit TLS (pop3s): the handshake before the greeting. 0 or -1. */
int	pop3_tls_begin(struct pop3_session *);

/* pop3_auth.c */
int	pop3_user(struct pop3_session *, const struct pop3_cmd *);
int	pop3_pass(struct pop3_session *, const struct pop3_cmd *);
int	pop3_apop(struct pop3_session *, const struct pop3_cmd *);
int	pop3_auth(struct pop3_session *, const struct pop3_cmd *);

/* pop3_maildrop.c */
/*
 * Takes the logged-in user's maildrop from the monitor, reads its
 * message table (index or scan) and enters TRANSACTION. Returns POP3_CMD_OK
 * with the "+OK" text set, or POP3_CMD_ERR (the login is then over).
 */
int	pop3_maildrop_open(struct pop3_session *);
/* Gives the maildrop back to the monitor (unlocks it). */
void	pop3_maildrop_close(struct pop3_session *);

/* pop3_trans.c */
int	pop3_stat(struct pop3_session *, const struct pop3_cmd *);
int	pop3_list(struct pop3_session *, const struct pop3_cmd *);
int	pop3_retr(struct pop3_session *, const struct pop3_cmd *);
int	pop3_top(struct pop3_session *, const struct pop3_cmd *);
int	pop3_dele(struct pop3_session *, const struct pop3_cmd *);
int	pop3_noop(struct pop3_session *, const struct pop3_cmd *);
int	pop3_rset(struct pop3_session *, const struct pop3_cmd *);
int	pop3_uidl(struct pop3_session *, const struct pop3_cmd *);

/* pop3_update.c */
int	pop3_quit(struct pop3_session *, const struct pop3_cmd *);

#endif
