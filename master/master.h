/*
 * The master's view of its children: per protocol a pool of slots, each
 * slot a monitor (root) with its worker (unprivileged) under it; and the
 * queue runner. Only the master process uses these structures.
 */
#ifndef MAILD_MASTER_H
#define MAILD_MASTER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "config.h"
#include "pool_worker.h"
#include "worker_env.h"

struct listen_set;

enum pool_proto {
	POOL_SMTP,
	POOL_POP3,
	POOL_NPROTO
};

enum slot_state {
	SLOT_FREE = 0,
	SLOT_STARTING,		/* forked, not READY yet */
	SLOT_IDLE,
	SLOT_BUSY,
	SLOT_EXITING,		/* retiring or told to stop */
	SLOT_DEAD,		/* the worker vanished; its monitor not reaped */
};

struct slot {
	enum slot_state	 state;
	pid_t		 monitor;	/* our child; the worker is its child */
	pid_t		 worker;	/* as reported; for logs only */
	int		 status_fd;	/* read end of the status pipe */
	unsigned	 generation;	/* config generation it runs */
	struct timespec	 started;
	bool		 ready;		/* reached READY at least once */
	bool		 told;		/* SIGTERM already sent */
	bool		 leaving;	/* said EXITING: about to free the slot */
	unsigned	 sessions;
	char		 statbuf[sizeof(struct pool_status)];
	size_t		 statlen;
};

/*
 * One page the master writes and every worker maps read-only: what a
 * worker must know at once without asking (pool_worker.h).
 */
struct pool_shared {
	volatile uint32_t	 stress[POOL_NPROTO];	/* 1: under stress */
};

struct pool {
	enum pool_proto		 proto;
	const char		*name;		/* "smtpd", "pop3d" */
	struct config_pool	 cfg;
	struct listener		*listeners;	/* borrowed from the master */
	size_t			 nlisteners;
	struct slot		*slots;
	size_t			 nslots;	/* allocated */
	unsigned		 fail_streak;	/* workers dying at start */
	struct timespec		 next_spawn;	/* back-off */
	/*
	 * Stress: every worker busy and clients waiting. It begins when a
	 * client has waited REFUSE_GRACE_MS for a worker of a full pool
	 * and ends STRESS_HOLD_MS after the pool was last full; meanwhile
	 * the master refuses the connections no worker can take.
	 */
	bool			 full;		/* as of the last look */
	bool			 stress;
	struct timespec		 stress_began, last_full;
	unsigned long		 refused;	/* in this stress period */
	struct timespec		 refuse_pause;	/* after EMFILE: until then */
	/*
	 * A client waiting while the pool is full gets REFUSE_GRACE_MS for
	 * a worker to come free (one finishing its session, a successor
	 * starting) before the master refuses; while the pool stays full
	 * after that, the master refuses at once.
	 */
	bool			 waiting;	/* grace running until refuse_at */
	struct timespec		 refuse_at;
	bool			 refusing;
	/*
	 * A fork or pipe failed (out of processes or descriptors): no new
	 * worker until spawn_retry, and meanwhile, with no idle worker, the
	 * pool counts as full, so a waiting client is refused (421, -ERR)
	 * rather than left in silence.
	 */
	bool			 spawn_failing;
	struct timespec		 spawn_retry;
	/*
	 * More than max_spare idle workers since surplus_since (the last
	 * look that saw no surplus cleared it): a surplus that lasts is
	 * retired a part at a time (pool_maintain).
	 */
	bool			 surplus;
	struct timespec		 surplus_since;
};

struct aliases;

struct master {
	struct config		*cfg;
	struct worker_env	 env;		/* what workers get: cfg, TLS */
	struct aliases		*aliases;	/* NULL: none configured */
	const char		*config_path;
	unsigned		 generation;
	struct listen_set	*listeners;
	struct pool		 pools[POOL_NPROTO];
	struct pool_shared	*shared;	/* MAP_SHARED, see above */
	uid_t			 uid;		/* the workers' ids */
	gid_t			 gid;
	int			 life_r, life_w;	/* EOF on life_r: we died */
	int			 notify_r, notify_w;	/* monitors -> runner */
	pid_t			 runner;
	unsigned		 runner_fails;
	struct timespec		 runner_next;
	bool			 stopping;
	struct timespec		 stop_deadline;
	bool			 foreground;
	pid_t			 pid;
	int			 pidfile_fd;
	int			 sigpipe_r, sigpipe_w;
};

/* master_pool.c: the master's half of the pools */
void	pool_setup(struct master *, struct pool *, enum pool_proto);
/* Spawns and retires workers to keep the spare count. */
void	pool_maintain(struct master *, struct pool *);
/* A status pipe is readable. */
void	pool_read_status(struct pool *, struct slot *);
/* Reaped child; returns true if it was one of this pool's monitors. */
bool	pool_reaped(struct pool *, pid_t, int status);
/* Sends sig to every monitor (SIGTERM: finish sessions; SIGKILL: now). */
void	pool_signal_all(struct pool *, int sig);
/* Monitors still alive. */
size_t	pool_alive(const struct pool *);
/* Milliseconds until the pool wants attention again (-1: none). */
int	pool_next_timeout(const struct pool *);
/* Maps m->shared before any child is forked; fatal when it cannot. */
void	pool_shared_init(struct master *);
/*
 * Whether the pool is full now: no idle or starting worker and no room
 * for another. The master then polls its listeners and refuses.
 */
bool	pool_is_full(const struct pool *);
/*
 * A full pool's listener l is readable: the master refuses what waits
 * there, at once if it already is refusing, else after a grace (above).
 * Each connection is accepted, gets a fixed "busy, try again later"
 * (421 4.7.0, -ERR [SYS/TEMP]; nothing on an implicit-TLS port) and is
 * closed, never read from.
 */
void	pool_listener_ready(struct master *, struct pool *,
	    const struct listener *l);
/* Whether the master should poll the pool's listeners now. */
bool	pool_wants_listeners(const struct pool *);

/* master_spawn.c: code that runs in the forked children */
/*
 * Forks a monitor (root) for pool pl; the monitor forks the worker.
 * status_w is the write end of the slot's status pipe. Returns the
 * monitor's pid, or -1. status_r is the master's end, closed in the child.
 */
pid_t	spawn_monitor(struct master *, struct pool *, int status_r,
	    int status_w);
/* Forks the queue runner. Returns its pid, or -1. */
pid_t	spawn_runner(struct master *);

/*
 * Loads cfg's aliases file (NULL when none is set or the default one is
 * missing); problems are logged, or printed to fp when it is not NULL.
 * Returns -1 when the file is set and could not be read.
 */
int	master_load_aliases(const struct config *cfg, struct aliases **out,
	    FILE *fp);

/* master_listen.c */
struct listen_set {
	struct listener	*v;
	size_t		 n;
};

/*
 * Binds every listen address of cfg (smtp, submission, smtps, pop3,
 * pop3s). A socket whose role and address already exist in old (may be
 * NULL) is shared (dup) rather than bound again, so a reload keeps its
 * ports. Returns 0, or -1 with a message in err naming the config line
 * (out is then empty and old untouched).
 */
int	listen_set_bind(const struct config *cfg, struct listen_set *old,
	    struct listen_set *out, char *err, size_t errsz);
/* Closes every socket of set and frees it. */
void	listen_set_close(struct listen_set *set);

#endif
