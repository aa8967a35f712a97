/*
 * The maildrop index (mbox_index.h): a header and one fixed-size record
 * per message, with a checksum over both. Read and written by the POP3
 * worker, unprivileged, on descriptors from its monitor. A cache only:
 * it is checked against the maildrop at every load and rebuilt when it
 * does not fit, and since the index file lives outside the user's reach
 * the checks aim at accidents (a crash mid-write, a maildrop edited by a
 * MUA, a restore from backup), not at a forger.
 *
 * The expensive check is that each recorded message start still holds
 * "From " after a LF (mbox_table_check_starts(): through a mapping, as
 * 100,000 small pread()s would cost more than everything else here). It
 * is made only when fstat cannot prove the maildrop unchanged (see
 * mbox_index.h): after a change, or while the recorded ctime is not
 * settled.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "fdutil.h"
#include "log.h"
#include "mbox_index.h"
#include "uidl.h"
#include "xmalloc.h"

#define IDX_MAGIC	"MAILDIDX"
#define IDX_VERSION	2	/* 2: size, ctime, flags */
#define IDX_ENDIAN	0x01020304u	/* reads otherwise on another host */
#define IDX_TAIL	8	/* maildrop bytes before "scanned" kept */
#define IDX_BATCH	4096	/* records per read or write */

struct idx_header {
	char		magic[8];
	uint32_t	version;
	uint32_t	endian;
	uint32_t	record_size;
	uint32_t	tail_len;
	uint64_t	dev;
	uint64_t	ino;
	uint64_t	scanned;
	int64_t		mtime_sec;
	int64_t		mtime_nsec;
	uint64_t	count;
	unsigned char	tail[IDX_TAIL];
	unsigned char	checksum[MBOX_INDEX_SUM_LEN];	/* field zeroed */
	/* the maildrop's fstat with mtime above (mbox_table.h) */
	uint64_t	size;
	int64_t		ctime_sec;
	int64_t		ctime_nsec;
	uint32_t	flags;		/* IDX_SETTLED */
	uint32_t	reserved;	/* 0 */
};

/* idx_header.flags */
#define IDX_SETTLED	0x1u	/* the ctime was settled: fstat proves */

struct idx_record {
	uint64_t	from_off;
	uint64_t	hdr_off;
	uint64_t	body_off;
	uint64_t	end;
	uint64_t	octets;
	unsigned char	hash[UIDL_HEX_LEN / 2];
	uint32_t	dup;
	uint32_t	reserved;
};

_Static_assert(sizeof(struct idx_header) == 144, "index header layout");
_Static_assert(sizeof(struct idx_record) == 64, "index record layout");
_Static_assert(sizeof(struct idx_header) % 8 == 0 &&
    sizeof(struct idx_record) % 8 == 0, "the checksum takes 8-byte words");

/*
 * The checksum: four lanes of 64-bit words, each word xored in and
 * multiplied by an odd constant (a bijection, so that any change to one
 * word, or a torn write, changes the result), mixed at the end. Not
 * cryptographic: the index file is out of the users' reach, and this is
 * about 20 times cheaper than SHA-256 over 6.4 MB of records.
 */
struct idx_sum {
	uint64_t	lane[4];
	uint64_t	words;
};

#define SUM_MUL		0x9e3779b97f4a7c15ull	/* odd: invertible */
#define SUM_MIX		0xff51afd7ed558ccdull

static void	idx_sum_init(struct idx_sum *);
static void	idx_sum_update(struct idx_sum *, const void *, size_t);
static void	idx_sum_final(struct idx_sum *, unsigned char *);

static int	idx_pwrite(int, const void *, size_t, off_t);
static bool	idx_record_ok(const struct idx_record *, size_t, off_t, off_t);
static void	idx_to_record(const struct mbox_msg *, struct idx_record *);
static bool	idx_from_record(const struct idx_record *, struct mbox_msg *);

static void
idx_sum_init(struct idx_sum *c)
{
	c->lane[0] = 0x6d61696c64696478ull;	/* "maildidx" */
	c->lane[1] = c->lane[0] ^ 1;
	c->lane[2] = c->lane[0] ^ 2;
	c->lane[3] = c->lane[0] ^ 3;
	c->words = 0;
}

/* len is a multiple of 8 (static assertions above). */
static void
idx_sum_update(struct idx_sum *c, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	uint64_t		 w;
	size_t			 i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		c->lane[c->words & 3] = (c->lane[c->words & 3] ^ w) * SUM_MUL;
		c->words++;
	}
}

static void
idx_sum_final(struct idx_sum *c, unsigned char *out)
{
	uint64_t	v;
	int		i;

	for (i = 0; i < 4; i++) {
		v = c->lane[i] ^ c->words ^ c->lane[(i + 1) & 3];
		v ^= v >> 33;
		v *= SUM_MIX;
		v ^= v >> 29;
		memcpy(out + 8 * i, &v, 8);
	}
}

void
mbox_index_checksum(const void *buf, size_t len,
    unsigned char out[MBOX_INDEX_SUM_LEN])
{
	struct idx_sum	c;

	idx_sum_init(&c);
	idx_sum_update(&c, buf, len);
	idx_sum_final(&c, out);
}

static int
idx_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	size_t	done = 0;
	ssize_t	n;

	while (done < len) {
		n = pwrite(fd, (const char *)buf + done, len - done,
		    off + (off_t)done);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

static const char idx_hex[] = "0123456789abcdef";

static void
idx_to_record(const struct mbox_msg *m, struct idx_record *rec)
{
	const char	*u = m->uidl;
	unsigned long	 dup = 0;
	int		 i, hi, lo;

	memset(rec, 0, sizeof(*rec));
	rec->from_off = (uint64_t)m->from_off;
	rec->hdr_off = (uint64_t)m->hdr_off;
	rec->body_off = (uint64_t)m->body_off;
	rec->end = (uint64_t)m->end;
	rec->octets = (uint64_t)m->octets;
	for (i = 0; i < UIDL_HEX_LEN / 2; i++) {
		hi = (int)(strchr(idx_hex, u[2 * i]) - idx_hex);
		lo = (int)(strchr(idx_hex, u[2 * i + 1]) - idx_hex);
		rec->hash[i] = (unsigned char)(hi << 4 | lo);
	}
	if (u[UIDL_HEX_LEN] == '-')
		dup = strtoul(u + UIDL_HEX_LEN + 1, NULL, 10);
	rec->dup = (uint32_t)dup;
}

static bool
idx_from_record(const struct idx_record *rec, struct mbox_msg *m)
{
	char	hex[UIDL_HEX_LEN + 1];
	int	i;

	m->from_off = (off_t)rec->from_off;
	m->hdr_off = (off_t)rec->hdr_off;
	m->body_off = (off_t)rec->body_off;
	m->end = (off_t)rec->end;
	m->octets = (off_t)rec->octets;
	for (i = 0; i < UIDL_HEX_LEN / 2; i++) {
		hex[2 * i] = idx_hex[rec->hash[i] >> 4];
		hex[2 * i + 1] = idx_hex[rec->hash[i] & 15];
	}
	hex[UIDL_HEX_LEN] = '\0';
	uidl_format(m->uidl, hex, rec->dup);
	return true;
}

/*
 * Whether record i makes sense after a message whose span ended at
 * prev_end: messages tile the file, so each starts where the previous
 * one's content ended or one byte (the separator) later; inside a
 * message the offsets are in order; the size is at most what the content
 * could give (two bytes per byte, and a line end).
 */
static bool
idx_record_ok(const struct idx_record *rec, size_t i, off_t prev_end,
    off_t scanned)
{
	if (i > 0 && rec->from_off != (uint64_t)prev_end &&
	    rec->from_off != (uint64_t)prev_end + 1)
		return false;
	if (rec->from_off + MBOX_FROM_LEN > rec->hdr_off ||
	    rec->hdr_off > rec->body_off || rec->body_off > rec->end ||
	    rec->end > (uint64_t)scanned || rec->reserved != 0 || rec->dup > i)
		return false;
	return rec->octets <= 2 * (rec->end - rec->hdr_off) + 2;
}

int
mbox_index_load(int idx_fd, int mbox_fd, struct mbox_table *t)
{
	struct idx_header	 h;
	struct idx_record	*recs = NULL;
	struct stat		 ist, mst;
	unsigned char		 want[MBOX_INDEX_SUM_LEN];
	unsigned char		 got[MBOX_INDEX_SUM_LEN];
	unsigned char		 tail[IDX_TAIL];
	struct idx_sum		 sum;
	off_t			 prev_end = 0, scanned;
	size_t			 i, k, batch;
	ssize_t			 n;
	bool			 settled, proven = false;
	int			 rc = MBOX_INDEX_STALE, ok;

	mbox_table_deinit(t);
	if (fstat(idx_fd, &ist) == -1 ||
	    mbox_table_fstat(mbox_fd, &mst, &settled) == -1)
		return -1;
	if (fd_pread_full(idx_fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h.magic, IDX_MAGIC, sizeof(h.magic)) != 0 ||
	    h.version != IDX_VERSION || h.endian != IDX_ENDIAN ||
	    h.record_size != sizeof(struct idx_record) ||
	    h.tail_len > IDX_TAIL || h.scanned > (uint64_t)INT64_MAX ||
	    h.tail_len > h.scanned || (h.flags & ~IDX_SETTLED) != 0 ||
	    h.reserved != 0)
		return MBOX_INDEX_STALE;
	scanned = (off_t)h.scanned;
	/* every message takes at least "From " */
	if (h.count > h.scanned / 5 ||
	    h.count > (uint64_t)ist.st_size / sizeof(*recs) ||
	    (uint64_t)ist.st_size != sizeof(h) + h.count * sizeof(*recs))
		return MBOX_INDEX_STALE;
	if (h.dev != (uint64_t)mst.st_dev || h.ino != (uint64_t)mst.st_ino)
		return MBOX_INDEX_STALE;
	if (mst.st_size == scanned) {
		if (h.mtime_sec != (int64_t)mst.st_mtim.tv_sec ||
		    h.mtime_nsec != (int64_t)mst.st_mtim.tv_nsec)
			return MBOX_INDEX_STALE;
		/* what no user can forge: see mbox_index.h */
		proven = (h.flags & IDX_SETTLED) &&
		    h.size == (uint64_t)mst.st_size &&
		    h.ctime_sec == (int64_t)mst.st_ctim.tv_sec &&
		    h.ctime_nsec == (int64_t)mst.st_ctim.tv_nsec;
		rc = proven ? MBOX_INDEX_FRESH : MBOX_INDEX_CHECKED;
	} else if (mst.st_size > scanned) {
		/* grown: the bytes before the old end must be unchanged */
		n = fd_pread_full(mbox_fd, tail, h.tail_len,
		    scanned - (off_t)h.tail_len);
		if (n == -1)
			return -1;
		if ((size_t)n != h.tail_len ||
		    memcmp(tail, h.tail, h.tail_len) != 0)
			return MBOX_INDEX_STALE;
		rc = MBOX_INDEX_GROWN;
	} else
		return MBOX_INDEX_STALE;

	memcpy(want, h.checksum, sizeof(want));
	memset(h.checksum, 0, sizeof(h.checksum));
	idx_sum_init(&sum);
	idx_sum_update(&sum, &h, sizeof(h));

	recs = xreallocarray(NULL, IDX_BATCH, sizeof(*recs));
	t->v = xreallocarray(NULL, h.count > 0 ? h.count : 1, sizeof(*t->v));
	t->cap = h.count > 0 ? h.count : 1;
	for (i = 0; i < h.count; i += batch) {
		batch = h.count - i < IDX_BATCH ? h.count - i : IDX_BATCH;
		n = fd_pread_full(idx_fd, recs, batch * sizeof(*recs),
		    (off_t)(sizeof(h) + i * sizeof(*recs)));
		if (n != (ssize_t)(batch * sizeof(*recs)))
			goto stale;
		idx_sum_update(&sum, recs, (size_t)n);
		for (k = 0; k < batch; k++) {
			if (!idx_record_ok(&recs[k], i + k, prev_end,
			    scanned) ||
			    !idx_from_record(&recs[k], &t->v[i + k]))
				goto stale;
			prev_end = (off_t)recs[k].end;
		}
	}
	t->n = h.count;
	idx_sum_final(&sum, got);
	if (memcmp(got, want, sizeof(want)) != 0)
		goto stale;
	/* the last one's content ends at the old end or one byte before */
	if (t->n > 0 && t->v[t->n - 1].end + 1 < scanned)
		goto stale;
	t->scanned = scanned;
	/*
	 * The table describes the maildrop as it is now (FRESH, CHECKED:
	 * the fstat above was made before any check), or its first part
	 * (GROWN: the scan of the rest records the fstat it makes).
	 */
	mbox_table_set_stat(t, &mst, settled);
	if (proven)
		goto out_ok;
	if ((ok = mbox_table_check_starts(mbox_fd, t, NULL)) != 1) {
		if (ok == -1) {
			rc = -1;
			goto out;
		}
		goto stale;
	}
	goto out_ok;

stale:
	rc = MBOX_INDEX_STALE;
out:
	mbox_table_deinit(t);
out_ok:
	free(recs);
	return rc;
}

int
mbox_index_save(int idx_fd, const struct mbox_table *t, int mbox_fd)
{
	struct idx_header	 h;
	struct idx_record	*recs;
	struct stat		 mst;
	struct idx_sum		 sum;
	size_t			 i, k, batch;
	ssize_t			 n;
	int			 saved;

	if (fstat(mbox_fd, &mst) == -1)
		return -1;
	if (mst.st_dev != t->dev || mst.st_ino != t->ino ||
	    mst.st_size < t->scanned) {
		errno = EINVAL;
		return -1;
	}
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, IDX_MAGIC, sizeof(h.magic));
	h.version = IDX_VERSION;
	h.endian = IDX_ENDIAN;
	h.record_size = sizeof(struct idx_record);
	h.dev = (uint64_t)t->dev;
	h.ino = (uint64_t)t->ino;
	h.scanned = (uint64_t)t->scanned;
	h.mtime_sec = (int64_t)t->mtime.tv_sec;
	h.mtime_nsec = (int64_t)t->mtime.tv_nsec;
	h.size = (uint64_t)t->size;
	h.ctime_sec = (int64_t)t->ctime.tv_sec;
	h.ctime_nsec = (int64_t)t->ctime.tv_nsec;
	h.flags = t->settled ? IDX_SETTLED : 0;
	h.count = t->n;
	h.tail_len = t->scanned < IDX_TAIL ? (uint32_t)t->scanned : IDX_TAIL;
	n = fd_pread_full(mbox_fd, h.tail, h.tail_len, t->scanned - h.tail_len);
	if (n == -1)
		return -1;
	if ((size_t)n != h.tail_len) {
		errno = ESTALE;
		return -1;
	}

	idx_sum_init(&sum);
	idx_sum_update(&sum, &h, sizeof(h));
	recs = xreallocarray(NULL, IDX_BATCH, sizeof(*recs));
	for (i = 0; i < t->n; i += batch) {
		batch = t->n - i < IDX_BATCH ? t->n - i : IDX_BATCH;
		for (k = 0; k < batch; k++)
			idx_to_record(&t->v[i + k], &recs[k]);
		idx_sum_update(&sum, recs, batch * sizeof(*recs));
		if (idx_pwrite(idx_fd, recs, batch * sizeof(*recs),
		    (off_t)(sizeof(h) + i * sizeof(*recs))) == -1)
			goto fail;
	}
	idx_sum_final(&sum, h.checksum);
	/* the header last: until then a crash leaves a bad checksum */
	if (idx_pwrite(idx_fd, &h, sizeof(h), 0) == -1 ||
	    ftruncate(idx_fd, (off_t)(sizeof(h) + t->n * sizeof(*recs))) == -1)
		goto fail;
	free(recs);
	return 0;

fail:
	saved = errno;
	free(recs);
	errno = saved;
	return -1;
}
