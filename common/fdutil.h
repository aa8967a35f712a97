/*
 * Descriptor hygiene after fork: a child keeps only what its role needs.
 */
#ifndef MAILD_FDUTIL_H
#define MAILD_FDUTIL_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Closes every descriptor except 0, 1, 2 and the n in keep (syslog's
 * socket too: call log_setident() afterwards to reopen it).
 */
void	fd_keep_only(const int *keep, size_t n);
/*
 * Reads up to len bytes at off, retrying short reads and EINTR: the
 * result is short only at the end of the file. Returns the byte count,
 * or -1 with errno.
 */
ssize_t	fd_pread_full(int fd, void *buf, size_t len, off_t off);

/* Sets or clears O_NONBLOCK; returns 0 or -1. */
int	fd_set_nonblock(int fd, int on);
/* Opens /dev/null on 0, 1 and 2 (for daemons and inetd children). */
void	fd_null_stdio(int keep_stderr);

#endif
