/*
 * The milter client (MTA side) of the smtpd worker: one connection to
 * each configured filter for the SMTP session, the protocol stages, the
 * filters' verdicts and message edits (milter.c). Runs in the
 * unprivileged, chrooted worker; a unix: socket must therefore be
 * reachable inside the chroot. smtp_milter.c glues it to the session.
 */
#ifndef MAILD_MILTER_H
#define MAILD_MILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "config.h"
#include "reason.h"

/* Stage results. */
#define MILTER_CONTINUE	0
#define MILTER_REFUSE	1	/* reply with code and reason */
#define MILTER_DISCARD	2	/* accept and throw away */

struct milter_verdict {
	int		 code;		/* 4xx/5xx, 421 ends the session */
	struct reason	 r;
};

/* The macros the filters get ({name} or one letter, as sendmail). */
struct milter_macros {
	const char	*j;		/* our host name */
	const char	*daemon_name;
	const char	*client_addr, *client_port, *if_addr, *client_name;
	const char	*tls_version, *cipher;
	const char	*auth_type, *auth_authen;
	const char	*qid;		/* i */
	const char	*mail_addr, *rcpt_addr;
};

struct milter_session;

/*
 * Connects to every filter of list and negotiates. Never fails: a filter
 * that cannot be reached gets the default action at its first stage.
 */
struct milter_session *milter_session_new(const struct config *,
	    const struct strlist *list);
void	milter_session_free(struct milter_session **);

/* The stages; each returns MILTER_CONTINUE, _REFUSE (v filled) or
 * _DISCARD. family (connect) is '4', '6' or 'U'. */
int	milter_connect(struct milter_session *, const struct milter_macros *,
	    char family, uint16_t port, const char *addr,
	    struct milter_verdict *v);
int	milter_helo(struct milter_session *, const struct milter_macros *,
	    const char *helo, struct milter_verdict *v);
int	milter_mail(struct milter_session *, const struct milter_macros *,
	    const char *sender, struct milter_verdict *v);
int	milter_rcpt(struct milter_session *, const struct milter_macros *,
	    const char *rcpt, struct milter_verdict *v);
int	milter_data(struct milter_session *, const struct milter_macros *,
	    struct milter_verdict *v);

/* Message text (LF line ends) as the reader passes it; 0 or -1. */
int	milter_spool_write(void *ms, const char *buf, size_t len);

/* What the filters changed in the envelope and the message. */
struct milter_result {
	char		*new_sender;	/* NULL: unchanged */
	char		**add_rcpt;
	size_t		 nadd;
	char		**del_rcpt;
	size_t		 ndel;
	bool		 hold;		/* quarantine */
	char		*hold_reason;
};

/*
 * End of message: runs the message through every filter in turn (each
 * sees the message as the ones before it left it). Returns a stage
 * result; on MILTER_CONTINUE and _DISCARD res holds the envelope
 * changes and milter_message() the final message.
 */
int	milter_eom(struct milter_session *, const struct milter_macros *,
	    struct milter_result *res, struct milter_verdict *v);
/* The message after the filters: a borrowed pointer, valid until the
 * next transaction. Returns -1 when the message cannot be read. */
int	milter_message(struct milter_session *, const char **buf,
	    size_t *len);
void	milter_result_free(struct milter_result *);

/* RSET, or the end of a transaction: ABORT to the filters. */
void	milter_abort(struct milter_session *);
/* Whether any filter is still in the session. */
bool	milter_active(const struct milter_session *);

#endif
