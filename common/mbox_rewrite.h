/*
 * The POP3 update (RFC 1939 6, QUIT in the TRANSACTION state): removing
 * the deleted messages from an mbox maildrop so that a crash at any
 * instant leaves either the old or the new maildrop, and mail appended
 * since the scan is never lost. The worker does the reading and writing;
 * what needs privileges (making the new file beside the maildrop,
 * renaming it over the maildrop) is the monitor's, in between:
 *
 *	switch (mbox_rewrite_plan(t, deleted, size_now, &off)) {
 *	case MBOX_REWRITE_NOTHING:
 *		break;
 *	case MBOX_REWRITE_TRUNCATE:	only a suffix was deleted
 *		mbox_rewrite_truncate(fd, off, size_now, r);
 *		break;
 *	case MBOX_REWRITE_COPY:
 *		dst = a new empty file beside the maildrop (monitor: O_EXCL,
 *		    0600, the user's), or give up;
 *		if (mbox_rewrite_copy(fd, t, deleted, dst, &newt, r) == 0)
 *			the monitor renames it over the maildrop and fsyncs
 *			the directory; newt is the new maildrop's table
 *			(for the index);
 *		else
 *			the monitor removes it: the maildrop is unchanged;
 *	}
 *
 * All of it with the maildrop locked (fcntl, and the dotlock when
 * configured). A program that appends without taking either lock can
 * still lose a message that lands between the copy and the rename.
 */
#ifndef MAILD_MBOX_REWRITE_H
#define MAILD_MBOX_REWRITE_H

#include <sys/types.h>

#include <stdbool.h>

#include "mbox_table.h"
#include "reason.h"

enum mbox_rewrite_action {
	MBOX_REWRITE_NOTHING,	/* no message deleted */
	MBOX_REWRITE_TRUNCATE,	/* cut the file at *trunc_off_out */
	MBOX_REWRITE_COPY,	/* copy the kept messages to a new file */
};

/*
 * Decides how to remove the messages i with deleted[i] (t->n entries)
 * from the maildrop, whose size is size_now (fstat, now, with the lock
 * held). Truncating is chosen only when the deleted messages are the
 * last ones and nothing was appended since the scan (size_now ==
 * t->scanned); *trunc_off_out is then the first deleted message's start.
 */
enum mbox_rewrite_action mbox_rewrite_plan(const struct mbox_table *t,
	    const bool *deleted, off_t size_now, off_t *trunc_off_out);

/*
 * Cuts the maildrop fd to off and fsyncs it, after checking that its
 * size is still size_now (else ESTALE: nothing done). Returns 0, or -1
 * with errno and r set. Fault point: mbox_rewrite.before_truncate.
 */
int	mbox_rewrite_truncate(int fd, off_t off, off_t size_now,
	    struct reason *r);

/*
 * Writes the new maildrop into dst_fd (empty, read-write): every kept
 * message of t, each with its From_ line and separator, in order, then
 * everything src_fd holds after t->scanned (mail appended since the
 * scan, by us or another MDA). Uses copy_file_range() where the kernel
 * can, read/write where it cannot. fsyncs dst_fd. src_fd is only read.
 *
 * If new_out is not NULL it receives the new file's table (t's kept
 * messages moved to their new offsets, UIDL duplicate numbers counted
 * again; the copied tail is left for mbox_scan() to continue with), to
 * be saved as the new index after the rename. It must be empty (init);
 * on failure it stays empty.
 *
 * Returns 0, or -1 with errno and r set (ENOSPC 4.3.1, EDQUOT/EFBIG
 * 4.2.2, ESTALE 4.2.0 when src no longer fits t, others 4.2.0): the
 * caller throws dst away and the maildrop is as it was. Fault points:
 * mbox_rewrite.mid_copy (after the first run of kept messages),
 * mbox_rewrite.after_copy (before the fsync).
 */
int	mbox_rewrite_copy(int src_fd, const struct mbox_table *t,
	    const bool *deleted, int dst_fd, struct mbox_table *new_out,
	    struct reason *r);

#endif
