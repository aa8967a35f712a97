/*
 * Opening a user's mbox maildrop safely. Used by the privileged side (the
 * monitor for POP3, the queue runner for delivery), which runs as root
 * in a directory such as /var/mail where users may create files: so the
 * path is not trusted. The descriptor this returns is known to be a
 * regular file with one link, owned by the user, and named by the path
 * at the moment it was opened.
 */
#ifndef MAILD_MBOX_OPEN_H
#define MAILD_MBOX_OPEN_H

#include <sys/types.h>

#include "reason.h"

/* mbox_open() flags. */
#define MBOX_OPEN_CREATE	0x01	/* create a missing maildrop */

/*
 * Opens path read-write (not O_APPEND: the appender seeks itself) with
 * O_NOFOLLOW, O_CLOEXEC and, while opening, O_NONBLOCK (so a FIFO or a
 * device cannot hang us; cleared again before returning). Refuses a
 * symbolic link, anything but a regular file, a file with more than one
 * link, a file not owned by uid, and a path that does not name the inode
 * that was opened (replaced while we looked): each logged with
 * log_warnx. With MBOX_OPEN_CREATE a missing maildrop is created
 * O_EXCL, mode 0600, owned by uid:gid (an EPERM from fchown is accepted
 * when the file already has that owner and group, as for an unprivileged
 * test run).
 *
 * Returns the descriptor (the caller owns it), or -1 with errno set and r
 * filled: 5.2.0 for a maildrop that is unsafe and will stay so until an
 * administrator looks (symlink, links, owner, type), 4.2.0 for what may
 * pass (I/O errors, races, a missing maildrop without MBOX_OPEN_CREATE:
 * errno ENOENT, so a POP3 caller can treat it as an empty maildrop).
 */
int	mbox_open(const char *path, uid_t uid, gid_t gid, int flags,
	    struct reason *r);

/*
 * Whether path still names the inode fd is open on: 1 yes, 0 no (the
 * path was removed, or another file was renamed over it, as the POP3
 * update does), -1 on an error other than ENOENT (errno set). Call it
 * after taking a lock: a lock on a replaced file protects nothing.
 */
int	mbox_same_file(int fd, const char *path);

#endif
