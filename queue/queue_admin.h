/*
 * Queue administration: "maild queue list|show|delete|hold|release|
 * requeue|summary" (maild(8)). Runs as root in the maild command that an
 * administrator started, beside a running maild or without one. What
 * changes the queue takes the delivery journal's lock (so no batch is
 * being delivered), then each queue file's fcntl lock, and moves files
 * with rename(2); the runner is told through queue_dir/notify.
 */
#ifndef MAILD_QUEUE_ADMIN_H
#define MAILD_QUEUE_ADMIN_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "config.h"
#include "queue_file.h"

/* Exit statuses of the queue commands (sysexits.h values). */
#define QADMIN_EXIT_OK		0
#define QADMIN_EXIT_ERROR	1	/* no such message, I/O error */
#define QADMIN_EXIT_USAGE	2
#define QADMIN_EXIT_BUSY	75	/* EX_TEMPFAIL: a delivery held it */
#define QADMIN_EXIT_NOPERM	77	/* EX_NOPERM: not root */

/*
 * Which messages a command acts on. NULL fields are not tested; the
 * ones given must all match. Addresses and domains compare without
 * regard to case; "" or "<>" as sender is the null sender. rcpt and
 * domain look at recipients not yet delivered or bounced.
 */
struct queue_admin_filter {
	const char	*sender;
	const char	*rcpt;
	const char	*domain;
	bool		 all;
};

/* Whether env matches f (a filter with nothing set matches nothing). */
bool	queue_admin_match(const struct queue_admin_filter *f,
	    const struct queue_env *env);

/*
 * The age columns of "maild queue summary", like Postfix's qshape:
 * minutes 0-5, 5-10, 10-20, ... 640-1280, 1280+.
 */
#define QADMIN_AGE_BUCKETS	10
/* The column of a message that arrived age seconds ago (0..9). */
int	queue_admin_age_bucket(time_t age);

/* A summary being built: counts by domain and age. */
struct queue_shape_row {
	char		*domain;
	unsigned long	 total;
	unsigned long	 n[QADMIN_AGE_BUCKETS];
};

struct queue_shape {
	bool			 by_sender;	/* by the sender's domain */
	struct queue_shape_row	*rows;
	size_t			 nrows;
	struct queue_shape_row	 sum;
};

/*
 * Counts env in s: once for each pending recipient under its domain
 * (by_sender: once, under the sender's domain; "<>" for the null
 * sender). now is the time ages are measured at.
 */
void	queue_shape_add(struct queue_shape *s, const struct queue_env *env,
	    time_t now);
/* Sorts the rows, most messages first, and prints at most top (0: all). */
void	queue_shape_print(struct queue_shape *s, FILE *fp, size_t top);
void	queue_shape_free(struct queue_shape *s);

/*
 * Runs "maild queue ARGS" (argv[0] is "queue"). Checks that it runs as
 * root first. Returns the exit status (QADMIN_EXIT_*).
 */
int	queue_admin_main(const struct config *cfg, int argc, char *argv[]);

/*
 * The refusal for a user who is not root: prints why to stderr and
 * returns QADMIN_EXIT_NOPERM; 0 (nothing printed) for root. what names
 * the command for the message.
 */
int	queue_admin_need_root(const char *what);

#endif
