/*
 * A scratch mail system for the fuzz targets that run the real monitor:
 * spool, queue and state directories under one temporary directory (in
 * /dev/shm when there is one, so that fsync costs nothing), removed when
 * the fuzzer exits, and a configuration that points there.
 */
#ifndef MAILD_FUZZ_SCRATCH_H
#define MAILD_FUZZ_SCRATCH_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(e)	do { if (!(e)) { fprintf(stderr, "%s:%d: %s\n", \
			    __FILE__, __LINE__, #e); abort(); } } while (0)

struct scratch {
	char		 top[64];
	char		 spool[128];
	char		 state[128];
	char		 queue[128];
	struct config	*cfg;
};

/*
 * Makes the directories and the configuration (log to stderr when the
 * environment has FUZZ_LOG; FUZZ_LOG=2 adds debug lines). Aborts on
 * failure.
 */
void	scratch_init(struct scratch *, const char *name);
/* Removes the files in dir (not below); with report, names each one. */
int	scratch_sweep(const char *dir, bool report);
/*
 * After a session: nothing may be left in queue/incoming, and every file
 * in queue/active must read as a queue file; then empties both.
 * Returns the number of queued messages.
 */
int	scratch_check_queue(const struct scratch *);

#endif
