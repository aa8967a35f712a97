/*
 * The message table (mbox_table.h): growing it, and opening it for a
 * POP3 session from the index or a scan. Runs in the POP3 worker,
 * unprivileged, on descriptors the monitor passed.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mbox_index.h"
#include "mbox_scan.h"
#include "mbox_table.h"
#include "xmalloc.h"

void
mbox_table_init(struct mbox_table *t)
{
	memset(t, 0, sizeof(*t));
}

void
mbox_table_deinit(struct mbox_table *t)
{
	free(t->v);
	mbox_table_init(t);
}

struct mbox_msg *
mbox_table_add(struct mbox_table *t)
{
	struct mbox_msg	*m;

	if (t->n == t->cap) {
		t->cap = t->cap == 0 ? 64 : t->cap * 2;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	m = &t->v[t->n++];
	memset(m, 0, sizeof(*m));
	return m;
}

off_t
mbox_table_span_end(const struct mbox_table *t, size_t i)
{
	return i + 1 < t->n ? t->v[i + 1].from_off : t->scanned;
}

int
mbox_table_open(int mbox_fd, int idx_fd, struct mbox_table *t,
    struct reason *r)
{
	int	rc = MBOX_INDEX_STALE;

	if (idx_fd != -1)
		rc = mbox_index_load(idx_fd, mbox_fd, t);
	if (rc == MBOX_INDEX_FRESH)
		return 0;
	if (rc == MBOX_INDEX_GROWN) {
		if (mbox_scan(mbox_fd, t->scanned, t, r) == 0)
			goto save;
		if (errno != ESTALE)
			goto fail;
		log_info("maildrop changed since the index: scanning again");
	}
	/* -1 (cannot read the maildrop): the scan reports it */
	if (mbox_scan(mbox_fd, 0, t, r) == -1)
		goto fail;
save:
	if (idx_fd != -1 && mbox_index_save(idx_fd, t, mbox_fd) == -1)
		log_warn("maildrop index not saved");
	return 0;

fail:
	mbox_table_deinit(t);
	return -1;
}
