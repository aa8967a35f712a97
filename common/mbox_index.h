/*
 * The index: a cache of a maildrop's message table (mbox_table.h) in a
 * file of its own (state_dir/index/USER), so that a POP3 login on a big
 * maildrop does not scan it again. Used by the POP3 worker with two
 * descriptors it was given: the maildrop and the index file.
 *
 * The index is never the truth. It records the maildrop's device, inode,
 * size, modification and inode change times (with nanoseconds) as the
 * scan that made the table saw them, and a checksum over itself (against
 * torn writes and disk errors: the file is out of users' reach); on load
 * every record is checked for sense (offsets inside the file and in
 * order), and the maildrop must be the one indexed:
 *
 *   - Proven by fstat alone when all five are as recorded and the
 *     recorded ctime was settled (mbox_table.h: far enough in the past
 *     that any later change would have set another one). The owner can
 *     set the mtime (utimensat) but not the ctime, and no write, chmod,
 *     truncate, rename or utimensat leaves the ctime alone; a replaced
 *     file is another inode, or the same inode number reused with a new
 *     ctime. Nothing of the maildrop is read.
 *   - Otherwise (the ctime moved but the size and mtime did not, or it
 *     was not settled) the maildrop is checked to have a From_ line at
 *     every recorded message start (100,000 pages touched for 100,000
 *     messages), and the index is written again once that proof holds,
 *     so the next load is proven by fstat.
 *   - A maildrop that grew is checked the same way, and its tail
 *     scanned; a shorter one, another inode or another mtime at the same
 *     size is scanned again.
 *
 * Anything that does not fit makes it stale, and the caller scans. The
 * format is native-endian and private to one host.
 */
#ifndef MAILD_MBOX_INDEX_H
#define MAILD_MBOX_INDEX_H

#include <stddef.h>

#include "mbox_table.h"

/* mbox_index_load() results. */
#define MBOX_INDEX_STALE	0	/* unusable: scan from 0 */
#define MBOX_INDEX_FRESH	1	/* the maildrop is as indexed */
/*
 * The maildrop only grew since: t describes [0, t->scanned); continue
 * with mbox_scan(mbox_fd, t->scanned, t, r).
 */
#define MBOX_INDEX_GROWN	2
/*
 * As FRESH, but proven by reading the message starts, not by fstat:
 * write the index again (when t->settled) so the next load can be.
 */
#define MBOX_INDEX_CHECKED	3

/*
 * Loads the index from idx_fd into t (which must be empty) and checks it
 * against mbox_fd. Returns MBOX_INDEX_FRESH, MBOX_INDEX_CHECKED or
 * MBOX_INDEX_GROWN with t filled, MBOX_INDEX_STALE with t empty (no
 * index, a corrupt or foreign one, another inode, a shorter or changed
 * maildrop), or -1 with errno
 * set when the maildrop cannot be read (t empty).
 */
int	mbox_index_load(int idx_fd, int mbox_fd, struct mbox_table *t);

/*
 * Writes t as the index of mbox_fd into idx_fd (from offset 0; the file
 * is cut to the index's length). t must come from a scan of mbox_fd
 * (same inode, else EINVAL). No fsync: a torn index fails its checksum
 * and is rebuilt. Returns 0, or -1 with errno set.
 */
int	mbox_index_save(int idx_fd, const struct mbox_table *t, int mbox_fd);

/*
 * The checksum's size, and the checksum itself over len bytes (a
 * multiple of 8: a whole index, its checksum field zeroed), for tests
 * that forge an index.
 */
#define MBOX_INDEX_SUM_LEN	32
void	mbox_index_checksum(const void *buf, size_t len,
	    unsigned char out[MBOX_INDEX_SUM_LEN]);

#endif
