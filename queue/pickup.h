/*
 * The pickup of queue_dir/maildrop (sendmail's drop directory for when
 * maild is not running), in the queue runner (root). See pickup.c.
 */
#ifndef MAILD_PICKUP_H
#define MAILD_PICKUP_H

#include <stddef.h>

#include "config.h"

/* The drop directory inside queue_dir. */
#define PICKUP_DIR	"maildrop"

/*
 * Makes queue_dir/maildrop (mode 1733) and lets every user through
 * queue_dir (0711; its other directories stay 0700). Run by the master
 * as root at start. Returns 0, or -1 with err filled.
 */
int	pickup_dir_init(const char *queue_dir, char *err, size_t errsz);

/*
 * Submits what waits in the drop directory, each file through the
 * local submission socket as the user who owns it (a child process with
 * that user's ids parses it), at most PICKUP_BATCH files a call. A file
 * maild took is removed; one it refused or that is not a maildrop file
 * is moved to queue_dir/corrupt; one that cannot be submitted now (maild
 * not listening yet) stays for the next call.
 */
void	pickup_scan(const struct config *cfg);

#endif
