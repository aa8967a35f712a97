/*
 * The index: a cache of a maildrop's message table (mbox_table.h) in a
 * file of its own (state_dir/index/USER), so that a POP3 login on a big
 * maildrop does not scan it again. Used by the POP3 worker with two
 * descriptors it was given: the maildrop and the index file.
 *
 * The index is never the truth. It records the maildrop's device, inode,
 * size and modification time and a SHA-256 over itself; on load every
 * record is checked for sense (offsets inside the file and in order)
 * and the maildrop is checked to have a From_ line at every recorded
 * message start. Anything that does not fit makes it stale, and the
 * caller scans. The format is native-endian and private to one host.
 */
#ifndef MAILD_MBOX_INDEX_H
#define MAILD_MBOX_INDEX_H

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
 * Loads the index from idx_fd into t (which must be empty) and checks it
 * against mbox_fd. Returns MBOX_INDEX_FRESH or MBOX_INDEX_GROWN with t
 * filled, MBOX_INDEX_STALE with t empty (no index, a corrupt or foreign
 * one, another inode, a shorter or changed maildrop), or -1 with errno
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

#endif
