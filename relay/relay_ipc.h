/*
 * The wire format between the queue runner (root) and its relay workers
 * (unprivileged, chrooted): one SOCK_SEQPACKET socketpair per worker,
 * with priv/ipc.c's typed messages. The runner sends RELAY_IPC_DELIVER
 * (a struct relay_req, the queue file riding along read-only with
 * SCM_RIGHTS); the worker answers with one RELAY_IPC_RESULT (a struct
 * relay_res). The runner believes a result only after
 * relay_result_check(); a worker that sends anything else is killed.
 */
#ifndef MAILD_RELAY_IPC_H
#define MAILD_RELAY_IPC_H

#include <stdbool.h>
#include <stddef.h>

#include "ipc.h"
#include "relay.h"

#define RELAY_IPC_DELIVER	1	/* runner -> worker, with the queue fd */
#define RELAY_IPC_RESULT	2	/* worker -> runner */

/*
 * Recipients in one request: each may take an address and an ORCPT
 * (SMTP_PATH_MAX + SMTP_ORCPT_MAX, plus length words), and the whole
 * request must fit one IPC message (IPC_MSG_MAX), with the password.
 */
#define RELAY_IPC_RCPTS_MAX	64

/* A decoded request: the strings of req point into this. */
struct relay_ipc_req {
	struct relay_req	 req;
	struct relay_rcpt_req	 rcpts[RELAY_IPC_RCPTS_MAX];
	char			 sender[SMTP_PATH_MAX + 1];
	char			 envid[SMTP_ENVID_MAX + 1];
	char			 nexthop[SMTP_DOMAIN_MAX + 16];
	char			 auth_user[USER_NAME_MAX + 1];
	char			 auth_pass[PASSWORD_MAX + 1];
	char			 addr[RELAY_IPC_RCPTS_MAX][SMTP_PATH_MAX + 1];
	char			 orcpt[RELAY_IPC_RCPTS_MAX][SMTP_ORCPT_MAX + 1];
};

/* Encodes req into m (type RELAY_IPC_DELIVER); m->bad if it does not fit. */
void	relay_ipc_put_req(struct ipc_msg *m, const struct relay_req *req);
/*
 * Decodes a RELAY_IPC_DELIVER into out; the queue file is m->fd (the
 * caller's to close). 0, or -1 for a malformed message.
 */
int	relay_ipc_get_req(struct ipc_msg *m, struct relay_ipc_req *out);
/* Wipes the password a decoded request holds. */
void	relay_ipc_req_clear(struct relay_ipc_req *);

/* Encodes res (type RELAY_IPC_RESULT). */
void	relay_ipc_put_res(struct ipc_msg *m, const struct relay_res *res);
/*
 * Decodes a RELAY_IPC_RESULT into res, whose rcpts has room for max
 * results. 0, or -1 for a malformed message (too many results included).
 * Nothing is believed yet: see relay_result_check().
 */
int	relay_ipc_get_res(struct ipc_msg *m, struct relay_res *res,
	    size_t max);

/*
 * Whether res is a believable answer to req, from a worker the runner
 * does not trust: one result per requested recipient, each index
 * exactly once; a known class; a code of 0 or 200-599 that agrees with
 * it (2xx for sent); an RFC 3463 status "d.ddd.ddd" whose class is
 * 2 (sent), 4 (deferred) or 5 (bounced); text, host names and the TLS
 * summary printable ASCII, NUL-terminated and bounded (RELAY_TEXT_MAX).
 * 0, or -1 with what was wrong in err.
 */
int	relay_result_check(const struct relay_req *req,
	    const struct relay_res *res, char *err, size_t errsz);

#endif
