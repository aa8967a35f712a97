/*
 * A scratch mail system for the fuzz targets that run the real monitor:
 * spool, queue and state directories under one temporary directory (in
 * /dev/shm when there is one, so that fsync costs nothing), removed when
 * the fuzzer exits, a configuration that points there, an aliases file
 * (SCRATCH_ALIASES), a real monitor in a thread, and the client's side
 * of a session: APOP, sending, reading lines. (priv_inetd_queued, which
 * inetd mode would call, is here too and aborts: these monitors are not
 * in inetd mode.)
 */
#ifndef MAILD_FUZZ_SCRATCH_H
#define MAILD_FUZZ_SCRATCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "priv/priv.h"

/*
 * The aliases every scratch monitor resolves with (local domains:
 * localhost and the host name); USER is the user running the fuzzer.
 * One of each way an expansion can go: team fails after a good member,
 * outer fails in a nested alias, nested and fwd succeed (fwd with a
 * remote target), loopa/loopb loop through local addresses to the depth
 * limit, la/lb loop by name, self names itself, incl asks for an
 * :include: that the monitor does not allow.
 */
#define SCRATCH_ALIASES \
	"team:   USER, nosuchuser_zz\n" \
	"outer:  root, team\n" \
	"nested: inner, root\n" \
	"inner:  USER, fwd\n" \
	"fwd:    USER, someone@elsewhere.example\n" \
	"loopa:  USER, loopb@localhost\n" \
	"loopb:  root, loopa@localhost\n" \
	"la:     lb\n" \
	"lb:     la\n" \
	"self:   self, root\n" \
	"incl:   root, :include:/nonexistent\n"

#define CHECK(e)	do { if (!(e)) { fprintf(stderr, "%s:%d: %s\n", \
			    __FILE__, __LINE__, #e); abort(); } } while (0)

struct scratch {
	char		 top[64];
	char		 spool[128];
	char		 state[128];
	char		 queue[128];
	char		 user[64];	/* with scratch_apop(): APOP's user */
	struct config	*cfg;
	struct aliases	*aliases;	/* SCRATCH_ALIASES, for every monitor */
	/*
	 * Where the monitors' sessions come from. With listeners, as in a
	 * standalone pool: SESSION_BEGIN wants a TCP connection accepted on
	 * one. Without, as under inetd: any descriptor, in role (0: the
	 * protocol's plain one).
	 */
	const struct listener	*listeners;
	size_t			 nlisteners;
	int			 role;
};

/* A real monitor, priv_serve(), in a thread (see scratch.role). */
struct scratch_monitor {
	struct priv	p;
	pthread_t	t;
};

#define SCRATCH_SECRET	"fuzz-apop-secret"

/*
 * Makes the directories, the aliases file and the configuration (log to
 * stderr when the environment has FUZZ_LOG; FUZZ_LOG=2 adds debug
 * lines). Aborts on failure.
 */
void	scratch_init(struct scratch *, const char *name);
/* Removes the files in dir (not below); with report, names each one. */
int	scratch_sweep(const char *dir, bool report);
/*
 * After a session: nothing may be left in queue/incoming, and every file
 * in queue/active must read as a queue file; then empties both.
 */
void	scratch_check_queue(const struct scratch *);

/*
 * Makes APOP work for the user running the fuzzer (s->user), with the
 * secret SCRATCH_SECRET, through a secrets file in the scratch tree.
 */
void	scratch_apop(struct scratch *);
/* APOP's digest, 32 hex digits, of stamp (len bytes) and the secret. */
void	scratch_apop_digest(const char *stamp, size_t len, char hex[33]);

/*
 * Starts a monitor for proto; returns the worker's end of its socket
 * pair. The monitor ends when that end is closed or shut down for
 * writing; then scratch_monitor_join().
 */
int	scratch_monitor_start(struct scratch_monitor *,
	    const struct scratch *, enum priv_proto);
void	scratch_monitor_join(struct scratch_monitor *);

/* Sends all of data (quietly less if the peer closed), then half-closes. */
void	scratch_send_all(int fd, const void *data, size_t len);
/* Reads one CRLF line a byte at a time (NUL for the CR); false at EOF. */
bool	scratch_getline(int fd, char *buf, size_t n);
/*
 * Reads fd to its end, calling line() for each CRLF-ended line (given
 * without the CRLF). A line over 128 kB is dropped. Returns the bytes
 * left at the end without a CRLF.
 */
size_t	scratch_read_lines(int fd, void (*line)(const char *, size_t, void *),
	    void *arg);

#endif
