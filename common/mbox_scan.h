/*
 * The mbox parser: finds the messages of a maildrop and fills the message
 * table (mbox_table.h, which also describes the format) with their
 * offsets, POP3 sizes and UIDLs. Used by the POP3 worker, unprivileged,
 * on the descriptor the monitor passed it.
 *
 * It reads the file once, in MBOX_SCAN_CHUNK pieces, never holding a
 * whole line or message, so a hostile maildrop (a 100 MB line, NUL
 * bytes, CR-only line ends, no final newline) costs time in proportion
 * to its size and a fixed amount of memory.
 */
#ifndef MAILD_MBOX_SCAN_H
#define MAILD_MBOX_SCAN_H

#include <sys/types.h>

#include "mbox_table.h"
#include "reason.h"

/*
 * Scans fd into t.
 *
 * start == 0: t is emptied and the whole file is scanned. Bytes before
 * the first From_ line are allowed only if they are all white space
 * (they are then ignored); anything else fails with EINVAL and "5.2.0
 * maildrop does not start with a From_ line", so that nothing is ever
 * hidden or lost by a later rewrite.
 *
 * start == t->scanned (> 0): continues a table (from the index, or an
 * earlier scan) with what was appended since. The last message is
 * scanned again, since appended bytes may change where it ends. Fails
 * with errno ESTALE when the file no longer fits the table (another
 * inode, shorter, no From_ line where the last message was): the caller
 * then scans again from 0.
 *
 * The scan stops at the size the file had when the scan began: what
 * another process appends meanwhile is left for the next scan (and a
 * rewrite keeps it: mbox_rewrite.h). A file that shrinks under the scan
 * fails with ESTALE. It also stops (logged) before message number
 * MBOX_SCAN_MESSAGES_MAX + 1: t->scanned is then that message's start,
 * and the rest is handled like mail appended after the scan.
 *
 * Returns 0, or -1 with errno set and r filled (4.2.0 for I/O errors and
 * ESTALE). After a failure t holds no useful messages: deinit it or
 * scan again from 0.
 */
int	mbox_scan(int fd, off_t start, struct mbox_table *t, struct reason *r);

#endif
