/*
 * The worker's stubs for privileged requests: each sends one request to
 * the monitor and waits for its reply. They run in the unprivileged
 * worker; the monitor's answers are in priv/priv_*.c under the same
 * names with "answer_" (priv_auth_user <-> priv_answer_auth).
 *
 * Every stub returns 0 on success, 1 when the monitor said no (reason
 * filled in), -1 when the monitor could not be reached (reason filled
 * with a temporary failure; the session should end).
 */
#ifndef MAILD_PRIV_CLIENT_H
#define MAILD_PRIV_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "reason.h"

/* The descriptor of this worker's monitor connection. */
void	priv_client_init(int fd);
int	priv_client_fd(void);
/*
 * Whether the monitor is gone: its socket gave EOF or an error. Every
 * request has failed since, and the worker must not serve another client.
 */
bool	priv_client_lost(void);

int	priv_ping(struct reason *);
int	priv_session_begin(int client_fd, const char *sid, int role,
	    struct reason *);
int	priv_session_end(struct reason *);

/*
 * Asks PAM whether user/password are good. On success the canonical user
 * name goes to user_out (size outsz). The password is wiped from the
 * request buffer before returning.
 */
int	priv_auth_user(const char *user, const char *password,
	    const char *mech, uint32_t flags, char *user_out, size_t outsz,
	    struct reason *);
/*
 * Whether a login (priv_auth_user or priv_apop_user) ever succeeded in
 * this process: such a worker retires after its session
 * (pool_worker.c), and its monitor insists (priv_session.c).
 */
bool	priv_client_has_logged_in(void);

/* The SMTP transaction (see priv_proto.h for the fields). */
int	priv_mail(const char *sender, const char *helo, uint32_t flags,
	    uint64_t size, const char *envid, char *qid_out, size_t qidsz,
	    struct reason *);
int	priv_rcpt(const char *addr, uint32_t notify, const char *orcpt,
	    struct reason *);
int	priv_rset(struct reason *);
int	priv_data_begin(const char *trace, size_t len, struct reason *);
/* Sends message bytes; no reply. Returns 0 or -1. */
int	priv_data_chunk(const void *buf, size_t len);
/* Ends the message (ok = 0 throws it away); the queue id on success. */
int	priv_data_end(uint64_t size, int ok, char *qid_out, size_t qidsz,
	    struct reason *);
/*
 * VRFY (expand = 0) or EXPN (expand = 1): 0 with what the address
 * reaches in out (one target a line), or 1 with the reason (2.5.2 or
 * 5.5.1: the administrator has not allowed it).
 */
int	priv_vrfy(const char *addr, int expand, char *out, size_t outsz,
	    struct reason *);

/*
 * The POP3 maildrop (priv_proto.h). Each descriptor that comes back in
 * *fd_out belongs to the caller. priv_maildrop_open(): the maildrop,
 * read-write, locked by the monitor until priv_release_maildrop() or
 * the end of the session. priv_index_open(): the index file.
 * priv_maildrop_tmp(): a new empty file beside the maildrop for the
 * update; priv_maildrop_commit() has the monitor rename it over the
 * maildrop. priv_release_maildrop() (PRIV_MAILDROP_RELEASE; not named
 * priv_maildrop_release, which is the monitor's side) unlocks, removes
 * an uncommitted update file and ends the login.
 */
int	priv_maildrop_open(int *fd_out, struct reason *);
int	priv_index_open(int *fd_out, struct reason *);
int	priv_maildrop_tmp(int *fd_out, struct reason *);
int	priv_maildrop_commit(struct reason *);
int	priv_release_maildrop(struct reason *);

/*
 * APOP (RFC 1939 7): the monitor makes the greeting's timestamp (so that
 * a worker cannot replay an old exchange) and checks the digest against
 * the secrets file. priv_apop_user() answers like priv_auth_user().
 */
int	priv_apop_challenge(char *stamp_out, size_t outsz, struct reason *);
int	priv_apop_user(const char *user, const char *digest, char *user_out,
	    size_t outsz, struct reason *);

/* The most message bytes one priv_data_chunk() may carry. */
#define PRIV_CHUNK_MAX	(IPC_MSG_MAX - 64)

#endif
