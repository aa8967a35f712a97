/*
 * The monitor: the privileged (root) partner of one worker. It answers
 * the worker's requests (priv_proto.h) from a table that says, for each
 * request, in which state and for which protocol it is allowed and
 * whether a descriptor comes with it. Handlers live in priv_*.c, one
 * file per concern, named priv_answer_<request>.
 */
#ifndef MAILD_PRIV_H
#define MAILD_PRIV_H

#include <security/pam_appl.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "config.h"
#include "ipc.h"
#include "bounds.h"
#include "reason.h"

enum priv_proto {
	PRIV_PROTO_SMTP = 1,
	PRIV_PROTO_POP3 = 2,
};

enum priv_txn {
	TXN_NONE,	/* no MAIL yet */
	TXN_MAIL,	/* MAIL accepted */
	TXN_RCPT,	/* at least one RCPT accepted */
	TXN_DATA,	/* queue file open, receiving chunks */
};

/* The POP3 maildrop as the request table sees it (priv_maildrop.c). */
enum priv_md {
	MD_NONE,	/* no maildrop held */
	MD_OPEN,	/* open and locked */
	MD_TMP,		/* and an update file was made */
	MD_COMMITTED,	/* the update file replaced the maildrop */
};

struct aliases;
struct mailaddr;
struct listener;		/* pool_worker.h */
struct priv_txn_state;		/* priv_smtp.c */
struct priv_maildrop;		/* priv_maildrop.c */

/* A listening socket of the worker's pool, as its monitor knows it. */
struct priv_listener {
	struct sockaddr_storage	 addr;		/* its bound address */
	int			 role;		/* enum listen_role */
};

struct priv {
	const struct config	*cfg;
	const struct aliases	*aliases;	/* may be NULL */
	enum priv_proto		 proto;
	int			 sock;		/* to the worker */
	pid_t			 worker;
	int			 notify_fd;	/* to the queue runner, or -1 */
	bool			 inetd;

	/*
	 * Where sessions come from, so that SESSION_BEGIN believes the
	 * descriptor rather than the worker (priv_session.c). Standalone:
	 * the pool's listeners, and the role is the one of the listener
	 * the connection came to. inetd: fixed_role, and the connection
	 * inetd gave us (when have_client_id).
	 */
	struct priv_listener	*listeners;
	size_t			 nlisteners;
	int			 fixed_role;	/* 0: from the listeners */
	bool			 have_client_id;
	dev_t			 client_dev;
	ino_t			 client_ino;

	/* the current session */
	bool			 session;
	char			 sid[SESSION_ID_MAX + 1];
	int			 role;		/* enum listen_role */
	struct sockaddr_storage	 peer;
	bool			 have_peer;
	bool			 peer_counted;	/* in the client table */
	bool			 peer_local;	/* loopback */
	char			 client[CLIENT_ADDR_TEXT_MAX];	/* address as text */
	bool			 authed;
	char			 user[USER_NAME_MAX + 1];
	/* ROLE_LOCAL (priv_local.c): the uid the kernel named */
	uint32_t		 local_uid;
	bool			 local_trusted;	/* submit.trusted_users */
	char			 fullname[FULLNAME_MAX + 1];
	enum priv_txn		 txn;
	struct priv_txn_state	*smtp;
	struct priv_maildrop	*pop3;
	enum priv_md		 md;
	char			 apop_stamp[APOP_STAMP_MAX];	/* "": none */

	int			 refused;	/* malformed, this session */
	bool			 dropped;	/* priv_serve gave up on it */
	bool			 retire;	/* a login: serve no more sessions */
	char			**queued;	/* inetd: ids to deliver after */
	size_t			 nqueued;
	struct ipc_msg		*rep;
};

/* Handler results besides 0 (answered). */
#define PRIV_H_REFUSE	(-1)	/* malformed: answer PRIV_REFUSED */
#define PRIV_H_DROP	(-2)	/* not allowed: drop the worker */
#define PRIV_H_RETIRE	(-3)	/* answered; the worker's life is over */

/*
 * Serves the worker on p->sock until it closes the connection (or is
 * dropped: p->dropped), then ends any open session and returns. The
 * caller stops and reaps the worker (priv_run does both).
 */
void	priv_serve(struct priv *p);

/*
 * The monitor's life: priv_serve(), then closes p->sock and makes sure
 * the worker p->worker is gone. A dropped worker (broken or hostile) is
 * killed at once, one that hung up but lingers after a grace time; both
 * with SIGKILL. Reaps it and returns its wait status (-1 if waitpid
 * failed), having logged an abnormal end.
 */
int	priv_run(struct priv *p);

/*
 * Standalone: records the bound addresses and roles of the pool's
 * listening sockets (call before closing them). Returns 0, or -1 when
 * one cannot be read (logged; SESSION_BEGIN then refuses its clients).
 */
int	priv_set_listeners(struct priv *, const struct listener *, size_t n);
/*
 * inetd: every session has role, on the connection fd (the monitor's
 * own copy, before it lets go of it): SESSION_BEGIN accepts that one
 * only. Returns 0, or -1 when fd cannot be examined (logged).
 */
int	priv_set_inetd_client(struct priv *, int fd, int role);

/* Ends the session: releases the maildrop, aborts a transaction, uncounts. */
void	priv_session_reset(struct priv *p);

/* Reply helpers for handlers. */
int	priv_reply_ok(struct priv *p);
int	priv_reply_fail(struct priv *p, const struct reason *r);
/* Starts a PRIV_OK reply with fields to add; send with priv_reply_send. */
struct ipc_msg *priv_reply_begin(struct priv *p);
int	priv_reply_send(struct priv *p, int fd);

/* Tells the queue runner something ("Q id", "U user"); best effort. */
void	priv_notify(struct priv *p, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* Aborts an SMTP transaction in progress (priv_smtp.c). */
void	priv_txn_abort(struct priv *);
/*
 * Unlocks and closes the session's maildrop, if any, removes an update
 * file that was not committed, and tells the queue runner (priv_maildrop.c).
 */
void	priv_maildrop_release(struct priv *);
/* Keeps a held dotlock fresh; call at least once a minute while waiting. */
void	priv_maildrop_tick(struct priv *);

/*
 * The two ends of a login, for every method (priv_auth.c). priv_auth_ok
 * marks the session authenticated as user (the passwd database's
 * pw_name: one canonical name for the maildrop and for delivery), logs
 * it and answers OK with the name. priv_auth_fail logs the failure
 * (never the password), waits out auth_fail_delay plus the client's
 * penalty counted from start, and answers FAIL: 4.7.0 when temporary,
 * else 5.7.8.
 */
int	priv_auth_ok(struct priv *, const char *user, const char *mech);
/*
 * pam_start() for user with the configured service, and the items every
 * login method sets; NULL (why says what) when PAM itself failed.
 */
pam_handle_t *priv_pam_start(const struct priv *, const char *user,
	    const struct pam_conv *, char *why, size_t whysz);
int	priv_auth_fail(struct priv *, const struct timespec *start,
	    const char *user, const char *mech, const char *why,
	    bool temporary);

/* Handlers (priv_session.c, priv_auth.c, ...). */
/* priv_local.c: sessions on submit.socket (ROLE_LOCAL) */
/*
 * Whether fd is a connection accepted on the pool's local submission
 * socket: ROLE_LOCAL with p->local_uid set from SO_PEERCRED, or 0 with
 * why set.
 */
int	priv_local_fd(struct priv *, int fd, const char **why);
/*
 * Makes the session p->local_uid's user's, authenticated, with the full
 * name and whether they are trusted. -1 with r filled when the uid has
 * no user (5.7.1) or the lookup failed (4.3.0).
 */
int	priv_local_begin(struct priv *, struct reason *r);
/* The GECOS field's first member, printable only, cut to outsz - 1. */
void	priv_fullname(const char *gecos, char *out, size_t outsz);
/* Whether this local session's user may use sender (MAIL FROM). */
bool	priv_local_sender_ok(const struct priv *,
	    const struct mailaddr *sender);

int	priv_answer_ping(struct priv *, struct ipc_msg *);
int	priv_answer_session_begin(struct priv *, struct ipc_msg *);
int	priv_answer_session_end(struct priv *, struct ipc_msg *);
int	priv_answer_auth(struct priv *, struct ipc_msg *);
int	priv_answer_mail(struct priv *, struct ipc_msg *);
int	priv_answer_rcpt(struct priv *, struct ipc_msg *);
int	priv_answer_rset(struct priv *, struct ipc_msg *);
int	priv_answer_data_begin(struct priv *, struct ipc_msg *);
int	priv_answer_data_chunk(struct priv *, struct ipc_msg *);
int	priv_answer_data_end(struct priv *, struct ipc_msg *);
int	priv_answer_vrfy(struct priv *, struct ipc_msg *);
int	priv_answer_maildrop_open(struct priv *, struct ipc_msg *);
int	priv_answer_index_open(struct priv *, struct ipc_msg *);
int	priv_answer_maildrop_tmp(struct priv *, struct ipc_msg *);
int	priv_answer_maildrop_commit(struct priv *, struct ipc_msg *);
int	priv_answer_maildrop_release(struct priv *, struct ipc_msg *);
int	priv_answer_apop_challenge(struct priv *, struct ipc_msg *);
int	priv_answer_apop(struct priv *, struct ipc_msg *);

/* inetd mode: remembers a queued message to deliver after the session. */
void	priv_inetd_queued(struct priv *, const char *qid);

#endif
