/*
 * The POP3 session, worker side (unprivileged). Entry points for a pool
 * worker (one accepted connection) and for inetd mode (stdin/stdout).
 */
#ifndef MAILD_POP3_SESSION_H
#define MAILD_POP3_SESSION_H

#include "config.h"
#include "pool_worker.h"
#include "worker_env.h"

/* Pool worker: serves the connection in s; arg is a struct worker_env. */
void	pop3_session_main(void *arg, struct session_start *s);
/*
 * inetd: serves the connection on rfd/wfd (0 and 1), as env->inetd_role
 * says (ROLE_POP3S, pop3d -i -s: TLS first).
 */
void	pop3_session_inetd(const struct worker_env *env, int rfd, int wfd);

#endif
