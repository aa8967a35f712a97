/*
 * The maildrop index (mbox_index.h): a header and one fixed-size record
 * per message, with a SHA-256 over both. Read and written by the POP3
 * worker, unprivileged, on descriptors from its monitor. A cache only:
 * it is checked against the maildrop at every load and rebuilt when it
 * does not fit, and since the index file lives outside the user's reach
 * the checks aim at accidents (a crash mid-write, a maildrop edited by a
 * MUA, a restore from backup), not at a forger.
 *
 * The expensive check is that each recorded message start still holds
 * "From " after a LF (mbox_table_check_starts(): through a mapping, as
 * 100,000 small pread()s would cost more than everything else here).
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "bounds.h"
#include "fdutil.h"
#include "log.h"
#include "mbox_index.h"
#include "uidl.h"
#include "xmalloc.h"

#define IDX_MAGIC	"MAILDIDX"
#define IDX_VERSION	1
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
	unsigned char	checksum[32];	/* SHA-256, this field zeroed */
};

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

_Static_assert(sizeof(struct idx_header) == 112, "index header layout");
_Static_assert(sizeof(struct idx_record) == 64, "index record layout");

static int	idx_pwrite(int, const void *, size_t, off_t);
static bool	idx_record_ok(const struct idx_record *, size_t, off_t, off_t);
static void	idx_to_record(const struct mbox_msg *, struct idx_record *);
static bool	idx_from_record(const struct idx_record *, struct mbox_msg *);

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
	unsigned char		 want[32], got[EVP_MAX_MD_SIZE];
	unsigned char		 tail[IDX_TAIL];
	unsigned int		 gotlen = 0;
	EVP_MD_CTX		*ctx = NULL;
	off_t			 prev_end = 0, scanned;
	size_t			 i, k, batch;
	ssize_t			 n;
	int			 rc = MBOX_INDEX_STALE, ok;

	mbox_table_deinit(t);
	if (fstat(idx_fd, &ist) == -1 || fstat(mbox_fd, &mst) == -1)
		return -1;
	if (fd_pread_full(idx_fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h.magic, IDX_MAGIC, sizeof(h.magic)) != 0 ||
	    h.version != IDX_VERSION || h.endian != IDX_ENDIAN ||
	    h.record_size != sizeof(struct idx_record) ||
	    h.tail_len > IDX_TAIL || h.scanned > (uint64_t)INT64_MAX ||
	    h.tail_len > h.scanned)
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
		rc = MBOX_INDEX_FRESH;
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
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex2(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, &h, sizeof(h)) != 1)
		fatalx("OpenSSL: SHA-256 failed");

	recs = xreallocarray(NULL, IDX_BATCH, sizeof(*recs));
	t->v = xreallocarray(NULL, h.count > 0 ? h.count : 1, sizeof(*t->v));
	t->cap = h.count > 0 ? h.count : 1;
	for (i = 0; i < h.count; i += batch) {
		batch = h.count - i < IDX_BATCH ? h.count - i : IDX_BATCH;
		n = fd_pread_full(idx_fd, recs, batch * sizeof(*recs),
		    (off_t)(sizeof(h) + i * sizeof(*recs)));
		if (n != (ssize_t)(batch * sizeof(*recs)))
			goto stale;
		if (EVP_DigestUpdate(ctx, recs, (size_t)n) != 1)
			fatalx("OpenSSL: SHA-256 failed");
		for (k = 0; k < batch; k++) {
			if (!idx_record_ok(&recs[k], i + k, prev_end,
			    scanned) ||
			    !idx_from_record(&recs[k], &t->v[i + k]))
				goto stale;
			prev_end = (off_t)recs[k].end;
		}
	}
	t->n = h.count;
	if (EVP_DigestFinal_ex(ctx, got, &gotlen) != 1 || gotlen != 32)
		fatalx("OpenSSL: SHA-256 failed");
	if (memcmp(got, want, sizeof(want)) != 0)
		goto stale;
	/* the last one's content ends at the old end or one byte before */
	if (t->n > 0 && t->v[t->n - 1].end + 1 < scanned)
		goto stale;
	t->scanned = scanned;
	t->dev = mst.st_dev;
	t->ino = mst.st_ino;
	t->mtime.tv_sec = (time_t)h.mtime_sec;
	t->mtime.tv_nsec = (long)h.mtime_nsec;
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
	EVP_MD_CTX_free(ctx);
	return rc;
}

int
mbox_index_save(int idx_fd, const struct mbox_table *t, int mbox_fd)
{
	struct idx_header	 h;
	struct idx_record	*recs;
	struct stat		 mst;
	unsigned char		 sum[EVP_MAX_MD_SIZE];
	unsigned int		 sumlen = 0;
	EVP_MD_CTX		*ctx;
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
	h.count = t->n;
	h.tail_len = t->scanned < IDX_TAIL ? (uint32_t)t->scanned : IDX_TAIL;
	n = fd_pread_full(mbox_fd, h.tail, h.tail_len, t->scanned - h.tail_len);
	if (n == -1)
		return -1;
	if ((size_t)n != h.tail_len) {
		errno = ESTALE;
		return -1;
	}

	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex2(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, &h, sizeof(h)) != 1)
		fatalx("OpenSSL: SHA-256 failed");
	recs = xreallocarray(NULL, IDX_BATCH, sizeof(*recs));
	for (i = 0; i < t->n; i += batch) {
		batch = t->n - i < IDX_BATCH ? t->n - i : IDX_BATCH;
		for (k = 0; k < batch; k++)
			idx_to_record(&t->v[i + k], &recs[k]);
		if (EVP_DigestUpdate(ctx, recs, batch * sizeof(*recs)) != 1)
			fatalx("OpenSSL: SHA-256 failed");
		if (idx_pwrite(idx_fd, recs, batch * sizeof(*recs),
		    (off_t)(sizeof(h) + i * sizeof(*recs))) == -1)
			goto fail;
	}
	if (EVP_DigestFinal_ex(ctx, sum, &sumlen) != 1 || sumlen != 32)
		fatalx("OpenSSL: SHA-256 failed");
	memcpy(h.checksum, sum, sizeof(h.checksum));
	/* the header last: until then a crash leaves a bad checksum */
	if (idx_pwrite(idx_fd, &h, sizeof(h), 0) == -1 ||
	    ftruncate(idx_fd, (off_t)(sizeof(h) + t->n * sizeof(*recs))) == -1)
		goto fail;
	free(recs);
	EVP_MD_CTX_free(ctx);
	return 0;

fail:
	saved = errno;
	free(recs);
	EVP_MD_CTX_free(ctx);
	errno = saved;
	return -1;
}
