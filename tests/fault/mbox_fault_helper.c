/*
 * A helper for the mbox fault tests: runs one write-path operation in a
 * fresh process, so that MAILD_FAULT (read once per process by fault.c)
 * applies to it, and reports the outcome on stdout as
 * "ok" or "fail ERRNO STATUS". The unit tests run it with the fault
 * they want and then check the files it left.
 *
 *	mbox_fault_helper append MBOX BODYFILE SENDER ARRIVAL PREFIX
 *	mbox_fault_helper copy SRC DST I,J,...	(deleted message numbers)
 *	mbox_fault_helper truncate MBOX OFFSET
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "mbox_append.h"
#include "mbox_rewrite.h"
#include "mbox_scan.h"

static int
report(int rc, const struct reason *r)
{
	if (rc == 0)
		printf("ok\n");
	else
		printf("fail %d %s\n", errno, r->status);
	fflush(stdout);
	return rc == 0 ? 0 : 1;
}

static int
do_append(char **argv)
{
	struct mbox_append_msg	m;
	struct reason		r;
	struct stat		st;
	int			fd, bfd;

	if ((fd = open(argv[0], O_RDWR)) == -1 ||
	    (bfd = open(argv[1], O_RDONLY)) == -1 || fstat(bfd, &st) == -1)
		return 2;
	memset(&m, 0, sizeof(m));
	m.sender = argv[2];
	m.arrival = (time_t)strtoll(argv[3], NULL, 10);
	m.prefix = argv[4];
	m.prefix_len = strlen(argv[4]);
	m.body_fd = bfd;
	m.body_len = st.st_size;
	return report(mbox_append(fd, &m, NULL, &r), &r);
}

static int
do_copy(char **argv)
{
	struct mbox_table	 t;
	struct reason		 r;
	bool			*deleted;
	char			*p, *ep;
	unsigned long		 i;
	int			 src, dst, rc;

	if ((src = open(argv[0], O_RDONLY)) == -1 ||
	    (dst = open(argv[1], O_RDWR | O_CREAT | O_EXCL, 0600)) == -1)
		return 2;
	mbox_table_init(&t);
	if (mbox_scan(src, 0, &t, &r) == -1)
		return 2;
	deleted = calloc(t.n + 1, sizeof(*deleted));
	for (p = argv[2]; *p != '\0'; p = *ep == ',' ? ep + 1 : ep) {
		i = strtoul(p, &ep, 10);
		if (ep == p || i >= t.n)
			return 2;
		deleted[i] = true;
	}
	rc = mbox_rewrite_copy(src, &t, deleted, dst, NULL, &r);
	free(deleted);
	mbox_table_deinit(&t);
	return report(rc, &r);
}

static int
do_truncate(char **argv)
{
	struct reason	r;
	struct stat	st;
	int		fd;

	if ((fd = open(argv[0], O_RDWR)) == -1 || fstat(fd, &st) == -1)
		return 2;
	return report(mbox_rewrite_truncate(fd, (off_t)strtoll(argv[1], NULL,
	    10), st.st_size, &r), &r);
}

int
main(int argc, char **argv)
{
	log_init("mbox_fault_helper", LOG_USER, false);
	if (argc == 7 && strcmp(argv[1], "append") == 0)
		return do_append(argv + 2);
	if (argc == 5 && strcmp(argv[1], "copy") == 0)
		return do_copy(argv + 2);
	if (argc == 4 && strcmp(argv[1], "truncate") == 0)
		return do_truncate(argv + 2);
	fprintf(stderr, "usage: mbox_fault_helper append|copy|truncate ...\n");
	return 2;
}
