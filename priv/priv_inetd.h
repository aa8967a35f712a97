/*
 * inetd mode: one session on stdin/stdout with the same privilege split
 * as the standalone pools.
 */
#ifndef MAILD_PRIV_INETD_H
#define MAILD_PRIV_INETD_H

#include "config.h"
#include "priv.h"
#include "worker_env.h"

/*
 * Forks: the child drops privileges and runs session(env, 0, 1); the
 * parent is its monitor. Returns the exit status for main().
 */
int	inetd_main(enum priv_proto proto, int role, const char *ident,
	    const char *config_path, int verbose,
	    void (*session)(const struct worker_env *, int, int));

#endif
