/*
 * The worker's half of the pre-fork pool: wait for a connection on any
 * of the pool's listening sockets, tell the master BUSY/IDLE on the
 * status pipe, run one session, and retire after max_sessions, or after
 * a session that logged a user in (retire_after_login). The
 * master's half is master/master_pool.c.
 */
#ifndef MAILD_POOL_WORKER_H
#define MAILD_POOL_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "bounds.h"
#include "reason.h"
#include "sockaddr.h"

/* What a listening socket is for; decides the session's rules. */
enum listen_role {
	ROLE_SMTP = 1,		/* port 25: MX, STARTTLS offered */
	ROLE_SUBMISSION,	/* port 587: STARTTLS + AUTH required */
	ROLE_SMTPS,		/* port 465: implicit TLS, AUTH required */
	ROLE_POP3,		/* port 110: STLS offered */
	ROLE_POP3S,		/* port 995: implicit TLS */
	ROLE_LOCAL,		/* submit.socket: the sendmail command, SMTP
				   from a local user the kernel names */
};
/* The number of roles, and so the most listeners one pool can have. */
#define ROLE_COUNT		6
#define POOL_LISTENERS_MAX	(LISTEN_MAX * ROLE_COUNT)

const char	*listen_role_name(enum listen_role);
/* Whether a role is served by the SMTP pool (ROLE_LOCAL is SMTP too). */
bool		 listen_role_is_smtp(int role);

struct listener {
	int			 fd;
	enum listen_role	 role;
	char			 name[112];	/* "127.0.0.1:25", or the
						   path of a UNIX socket */
};

/* Status pipe messages, worker -> master; fixed size, atomic writes. */
enum pool_status_type {
	POOL_ST_READY = 1,	/* started, privileges dropped */
	POOL_ST_IDLE,
	POOL_ST_BUSY,
	POOL_ST_EXITING,	/* retiring; the master may spawn a successor */
};

struct pool_status {
	uint32_t	type;
	int32_t		pid;
	uint32_t	sessions;	/* served so far */
};

struct session_start {
	int				 fd;
	struct sockaddr_storage		 peer;
	socklen_t			 peerlen;
	const struct listener		*listener;
};

struct pool_worker {
	struct listener	*listeners;
	size_t		 nlisteners;
	int		 status_fd;	/* write end, to the master */
	int		 life_fd;	/* read end; EOF = the master died */
	int		 max_sessions;
	bool		 retire_after_login;	/* see priv_client.h */
	/* The master's stress flag for this pool (read-only); may be NULL. */
	const volatile uint32_t *stress;
	/* Runs one session; owns and closes s->fd. */
	void		(*session)(void *arg, struct session_start *s);
	void		*arg;
};

/*
 * Serves sessions until told to stop (SIGTERM, which lets a running
 * session finish), the session limit is reached, a session logged a user
 * in (with retire_after_login), or the master dies. Does not return:
 * exits 0.
 */
void	pool_worker_run(struct pool_worker *)
	    __attribute__((noreturn));

/* Whether SIGTERM asked this worker to finish (for long sessions). */
bool	pool_worker_stopping(void);

/*
 * Whether the worker's pool is under stress now (every worker busy):
 * sessions then wait at most the pool's stress_timeout for a client and
 * tolerate stress_max_errors failed commands. Always false in inetd
 * mode. Cheap: a read of the master's shared page.
 */
bool	pool_worker_stressed(void);

/*
 * Starts a client session, for either protocol: a new session id on every
 * log line from now on, "connect from ADDR:PORT (role)" (peer may be NULL:
 * not an IP connection), and SESSION_BEGIN to the monitor with the
 * client's socket. Returns priv_session_begin()'s result (0, or 1/-1
 * with r: the session must not go on).
 */
int	worker_session_begin(int client_fd, int role,
	    const struct sockaddr *peer, struct reason *r);

/*
 * The client's address for inetd mode: fills ss and returns it, or NULL
 * when fd is not an IP connection (a pipe or socketpair).
 */
const struct sockaddr *worker_inetd_peer(int fd, struct sockaddr_storage *ss);

#endif
