/*
 * The POP3 update (mbox_rewrite.h): choosing between truncating and
 * copying, and doing either. Runs in the POP3 worker (unprivileged) on
 * the maildrop descriptor and, for a copy, a new file its monitor made
 * beside the maildrop; the monitor does the rename. RFC 1939 6 (UPDATE).
 *
 * The kept messages are copied as runs: consecutive kept messages are
 * contiguous in the old file, so a maildrop where one message of ten
 * thousand was deleted costs two copy_file_range() calls, done inside
 * the kernel (and on file systems with reflinks, without copying data).
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "bounds.h"
#include "log.h"
#include "mbox_rewrite.h"
#include "uidl.h"
#include "xmalloc.h"

/* Rounds of copying what a lockless MDA keeps appending, at most. */
#define REWRITE_TAIL_ROUNDS	8

struct copier {
	int	 src;
	int	 dst;
	off_t	 dst_off;	/* bytes written to dst */
	bool	 kernel;	/* copy_file_range() still worth trying */
	char	*buf;		/* for read/write */
};

static int	rewrite_copy_range(struct copier *, off_t, off_t);
static void	rewrite_reason(struct reason *, int);

enum mbox_rewrite_action
mbox_rewrite_plan(const struct mbox_table *t, const bool *deleted,
    off_t size_now, off_t *trunc_off_out)
{
	size_t	i, first = 0;
	bool	any = false, suffix = true;

	for (i = 0; i < t->n; i++) {
		if (deleted[i]) {
			if (!any)
				first = i;
			any = true;
		} else if (any)
			suffix = false;
	}
	if (!any)
		return MBOX_REWRITE_NOTHING;
	if (suffix && size_now == t->scanned) {
		*trunc_off_out = t->v[first].from_off;
		return MBOX_REWRITE_TRUNCATE;
	}
	return MBOX_REWRITE_COPY;
}

static void
rewrite_reason(struct reason *r, int err)
{
	if (err == ENOSPC)
		reason_set(r, "4.3.1", "mail system full");
	else if (err == EDQUOT || err == EFBIG)
		reason_set(r, "4.2.2", "mailbox full");
	else if (err == ESTALE)
		reason_set(r, "4.2.0", "maildrop changed during the session");
	else
		reason_set(r, "4.2.0", "cannot update maildrop: %s",
		    strerror(err));
}

int
mbox_rewrite_truncate(int fd, off_t off, off_t size_now, struct reason *r)
{
	struct stat	st;
	int		saved;

	if (fstat(fd, &st) == -1)
		goto fail;
	if (st.st_size != size_now || off < 0 || off > size_now) {
		errno = ESTALE;
		goto fail;
	}
	if (fault_point("mbox_rewrite.before_truncate") == -1 ||
	    ftruncate(fd, off) == -1 || fsync(fd) == -1)
		goto fail;
	return 0;

fail:
	saved = errno;
	log_warn("maildrop update: truncate to %lld", (long long)off);
	rewrite_reason(r, saved);
	errno = saved;
	return -1;
}

/* Copies [off, off + len) of src to the end of what dst has so far. */
static int
rewrite_copy_range(struct copier *c, off_t off, off_t len)
{
	ssize_t	n, w;
	size_t	want, done;

	while (len > 0) {
#ifdef HAVE_COPY_FILE_RANGE
		if (c->kernel) {
			off_t	in = off, out = c->dst_off;

			want = len > (off_t)1 << 30 ? (size_t)1 << 30 :
			    (size_t)len;
			n = copy_file_range(c->src, &in, c->dst, &out, want, 0);
			if (n > 0) {
				off += n;
				len -= n;
				c->dst_off += n;
				continue;
			}
			if (n == 0) {
				errno = ESTALE;	/* src is shorter now */
				return -1;
			}
			if (errno == EINTR)
				continue;
			/* not across these file systems, or not here at all */
			if (errno != EXDEV && errno != EINVAL &&
			    errno != ENOSYS && errno != EOPNOTSUPP &&
			    errno != EBADF)
				return -1;
			c->kernel = false;
		}
#endif
		if (c->buf == NULL)
			c->buf = xmalloc(MBOX_COPY_CHUNK);
		want = len > MBOX_COPY_CHUNK ? MBOX_COPY_CHUNK : (size_t)len;
		n = pread(c->src, c->buf, want, off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ESTALE;
			return -1;
		}
		for (done = 0; done < (size_t)n; done += (size_t)w) {
			w = pwrite(c->dst, c->buf + done, (size_t)n - done,
			    c->dst_off + (off_t)done);
			if (w == -1) {
				if (errno == EINTR) {
					w = 0;
					continue;
				}
				return -1;
			}
		}
		off += n;
		len -= n;
		c->dst_off += n;
	}
	return 0;
}

int
mbox_rewrite_copy(int src_fd, const struct mbox_table *t, const bool *deleted,
    int dst_fd, struct mbox_table *new_out, struct reason *r)
{
	struct copier	 c;
	struct stat	 st, dst_st;
	struct mbox_msg	*m;
	struct uidl_set	*dups = NULL;
	off_t		*newpos = NULL, tail, size, new_scanned;
	size_t		 i, j;
	bool		 hit_mid = false;
	char		 b[2];
	ssize_t		 n;
	int		 ok, rounds, saved;

	memset(&c, 0, sizeof(c));
	c.src = src_fd;
	c.dst = dst_fd;
	c.kernel = true;
	if (fstat(src_fd, &st) == -1 || fstat(dst_fd, &dst_st) == -1)
		goto fail;
	if (st.st_dev != t->dev || st.st_ino != t->ino ||
	    st.st_size < t->scanned) {
		errno = ESTALE;
		goto fail;
	}
	if (dst_st.st_size != 0 ||
	    (dst_st.st_dev == st.st_dev && dst_st.st_ino == st.st_ino)) {
		errno = EINVAL;
		goto fail;
	}
	/* a last guard against copying a maildrop that changed under t */
	if ((ok = mbox_table_check_starts(src_fd, t, deleted)) != 1) {
		if (ok == 0)
			errno = ESTALE;
		goto fail;
	}
	size = st.st_size;

	/* Runs of kept messages: [v[i].from_off, span_end(j - 1)). */
	newpos = xreallocarray(NULL, t->n > 0 ? t->n : 1, sizeof(*newpos));
	for (i = 0; i < t->n; i = j) {
		if (deleted[i]) {
			j = i + 1;
			continue;
		}
		for (j = i; j < t->n && !deleted[j]; j++)
			newpos[j] = c.dst_off + (t->v[j].from_off -
			    t->v[i].from_off);
		if (rewrite_copy_range(&c, t->v[i].from_off,
		    mbox_table_span_end(t, j - 1) - t->v[i].from_off) == -1)
			goto fail;
		if (!hit_mid) {
			hit_mid = true;
			if (fault_point("mbox_rewrite.mid_copy") == -1)
				goto fail;
		}
	}

	/*
	 * What came after the scan. mbox_append() puts a LF before its
	 * From_ line when the file did not end in one; if the message it
	 * completed is gone, so must that LF be.
	 */
	tail = t->scanned;
	if (size > tail && t->n > 0 && deleted[t->n - 1] && tail > 0) {
		if ((n = pread(src_fd, b, 2, tail - 1)) != 2) {
			if (n != -1)
				errno = ESTALE;
			goto fail;
		}
		if (b[0] != '\n' && b[1] == '\n')
			tail++;
	}
	new_scanned = c.dst_off;
	for (rounds = 0; size > tail; rounds++) {
		if (rewrite_copy_range(&c, tail, size - tail) == -1)
			goto fail;
		tail = size;
		if (fstat(src_fd, &st) == -1)
			goto fail;
		/* a lockless writer: take what it added, but not for ever */
		if (st.st_size > size && rounds < REWRITE_TAIL_ROUNDS)
			size = st.st_size;
	}
	if (!hit_mid && fault_point("mbox_rewrite.mid_copy") == -1)
		goto fail;
	if (fault_point("mbox_rewrite.after_copy") == -1 ||
	    fsync(dst_fd) == -1 || fstat(dst_fd, &dst_st) == -1)
		goto fail;

	if (new_out != NULL) {
		mbox_table_deinit(new_out);
		dups = uidl_set_new(t->n);
		for (i = 0; i < t->n; i++) {
			if (deleted[i])
				continue;
			m = mbox_table_add(new_out);
			*m = t->v[i];
			m->from_off = newpos[i];
			m->hdr_off = newpos[i] + (t->v[i].hdr_off -
			    t->v[i].from_off);
			m->body_off = newpos[i] + (t->v[i].body_off -
			    t->v[i].from_off);
			m->end = newpos[i] + (t->v[i].end - t->v[i].from_off);
			/* duplicate numbers count only what is left */
			uidl_format(m->uidl, t->v[i].uidl,
			    uidl_set_add(dups, t->v[i].uidl));
		}
		uidl_set_free(&dups);
		new_out->scanned = new_scanned;
		/* not settled: the rename still to come sets the ctime */
		mbox_table_set_stat(new_out, &dst_st, false);
	}
	free(newpos);
	free(c.buf);
	return 0;

fail:
	saved = errno;
	log_warn("maildrop update: copy");
	rewrite_reason(r, saved);
	free(newpos);
	free(c.buf);
	errno = saved;
	return -1;
}
