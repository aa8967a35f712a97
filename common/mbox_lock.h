/*
 * Maildrop locking: an fcntl() write lock on the whole file, and the
 * optional dotlock (MAILDROP.lock) for mail programs that only know that
 * one. Waits are bounded: delivery never queues up behind a POP3 session
 * (it defers), and POP3 answers "-ERR [IN-USE]" after a short wait.
 *
 * fcntl() locks belong to the process and are dropped when the process
 * closes ANY descriptor of the file, not only the locked one: the process
 * that holds a maildrop lock (the monitor) must not open and close the
 * maildrop again behind it. They are not inherited by fork().
 */
#ifndef MAILD_MBOX_LOCK_H
#define MAILD_MBOX_LOCK_H

#include <stdbool.h>

#include "reason.h"

/*
 * Takes a write lock on all of fd's file (F_SETLK). timeout_ms <= 0 tries
 * once; otherwise retries with short sleeps until the deadline. Returns
 * 0, or -1 with errno EAGAIN when another process holds a lock, or
 * another errno on error (EBADF, ENOLCK, ...).
 */
int	mbox_lock_fcntl(int fd, int timeout_ms);
/* Drops the lock. Returns 0, or -1 with errno set. */
int	mbox_unlock_fcntl(int fd);

/*
 * Creates mbox_path + ".lock" (0600, our pid and a newline in it),
 * atomically with its content: the pid is written to ".USER.lock.PID"
 * beside it, which is then linked to the lock's name (link(2) fails if
 * the name exists, as O_EXCL would) and removed. A lock that is stale, because its pid is dead
 * or it is older than MBOX_DOTLOCK_STALE_SEC (bounds.h), is removed
 * (logged) and taken; a file there that is an mbox (starts with "From ",
 * or is bigger than MBOX_DOTLOCK_SIZE_MAX) is never removed: busy. A busy lock is retried until timeout_ms (<= 0: one
 * try). Returns 0, or -1 with r filled: errno EAGAIN and 4.2.0 when still
 * busy, another errno and 4.2.0 when it cannot be made (permissions,
 * name too long, ...).
 */
int	mbox_dotlock_acquire(const char *mbox_path, int timeout_ms,
	    struct reason *r);
/*
 * Refreshes the lock's time so that it does not turn stale while held:
 * call it at least every MBOX_DOTLOCK_STALE_SEC / 2 while holding it (the
 * POP3 session holds it for its whole life). Returns 0 or -1 (errno).
 */
int	mbox_dotlock_touch(const char *mbox_path);
/*
 * Removes the dotlock if it is ours (holds our pid). Returns 0; -1 with
 * errno ENOENT when it is gone, EPERM when another process has it now
 * (ours was broken as stale: logged), or another errno on error.
 */
int	mbox_dotlock_release(const char *mbox_path);

#endif
