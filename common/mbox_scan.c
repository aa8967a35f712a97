/*
 * The mbox scanner: one pass over a maildrop that finds the messages and
 * computes, per message, the offsets, the POP3 size and the UIDL. Runs
 * in the POP3 worker (unprivileged, chrooted) on the maildrop descriptor
 * the monitor passed. RFC 4155 (mboxrd) and RFC 1939 (sizes, UIDL).
 *
 * The file is read in MBOX_SCAN_CHUNK pieces with pread(); lines are
 * found with memchr(), and only a line's first bytes are looked at, so
 * the cost per byte is what memchr() costs. A small state machine keeps
 * the place across pieces: at the start of a line (which may need up to
 * five bytes to classify: those few are carried to the next piece),
 * inside a run of leading '>' (which may be as long as the file), or in
 * the rest of a line (which may be too). Memory does not grow with line
 * or message length.
 *
 * Header bytes are hashed for the UIDL as they pass. The empty line that
 * ends a header section is hashed only once we know it is not the
 * separator before the next message (the UIDL hashes up to body_off).
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "fdutil.h"
#include "log.h"
#include "mbox_scan.h"
#include "uidl.h"
#include "xmalloc.h"

/* Bytes needed to classify a line start: "From ". */
#define SCAN_LOOKAHEAD	MBOX_FROM_LEN

enum scan_state {
	SCAN_BOL,	/* at the start of a line */
	SCAN_GT,	/* in the '>' run that starts a line */
	SCAN_LINE,	/* in the rest of a line */
};

enum scan_part {
	PART_FROM,	/* the From_ line */
	PART_HDR,	/* the header section */
	PART_BODY,
};

struct scan {
	struct mbox_table	*t;
	struct uidl_hash	*hash;
	struct uidl_set		*dups;
	enum scan_state		 st;
	bool			 leading;	/* before the first From_ */
	bool			 in_msg;	/* cur is a message */
	off_t			 full_at;	/* table full: stopped here */
	enum scan_part		 part;
	struct mbox_msg		 cur;
	off_t			 hash_pos;	/* hashed up to here */
	bool			 pending_blank;	/* ending "\n" not hashed */
	off_t			 blank_off;	/* last line "\n" here; -1 */
	unsigned char		 prev;		/* last byte consumed */
};

static void	scan_feed(struct scan *, const char *, off_t, off_t);
static void	scan_close(struct scan *, off_t, const char *, off_t);
static void	scan_begin(struct scan *, off_t, const char *, off_t);
static ssize_t	scan_chunk(struct scan *, const char *, off_t, size_t, bool);
static int	scan_restart_ok(int, off_t);

/* Hashes [hash_pos, upto) if we are in a From_ line or header section. */
static void
scan_feed(struct scan *s, const char *buf, off_t base, off_t upto)
{
	if (!s->in_msg || s->part == PART_BODY || upto <= s->hash_pos)
		return;
	uidl_hash_update(s->hash, buf + (s->hash_pos - base),
	    (size_t)(upto - s->hash_pos));
	s->hash_pos = upto;
}

/*
 * Ends the current message at at (a From_ line, or the end of the scan).
 * buf holds the file from base, at least up to at.
 */
static void
scan_close(struct scan *s, off_t at, const char *buf, off_t base)
{
	struct mbox_msg	*m = &s->cur;
	char		 hex[UIDL_HEX_LEN + 1];
	off_t		 end = at;

	/* The separator: an empty line right before the next From_ or EOF. */
	if (s->blank_off != -1 && s->blank_off + 1 == at) {
		end = s->blank_off;
		m->octets -= 2;		/* it was counted as "\r\n" */
	}
	if (s->part == PART_FROM)
		m->hdr_off = at;	/* a From_ line without LF at EOF */
	if (s->part != PART_BODY) {
		scan_feed(s, buf, base, end);
		m->body_off = end;
	} else if (m->body_off > end)
		m->body_off = end;	/* its empty line was the separator */
	/* A last line without LF at EOF: the reader adds one. */
	if (end > m->hdr_off && end == at && s->prev != '\n')
		m->octets += s->prev == '\r' ? 1 : 2;
	m->end = end;
	/* A pending header-ending "\n" was the separator: never hashed. */
	s->pending_blank = false;
	uidl_hash_end(s->hash, hex);
	uidl_format(m->uidl, hex, uidl_set_add(s->dups, hex));
	*mbox_table_add(s->t) = *m;
	s->in_msg = false;
}

static void
scan_begin(struct scan *s, off_t at, const char *buf, off_t base)
{
	if (s->in_msg)
		scan_close(s, at, buf, base);
	memset(&s->cur, 0, sizeof(s->cur));
	s->cur.from_off = at;
	s->part = PART_FROM;
	s->in_msg = true;
	s->leading = false;
	s->hash_pos = at;
	s->pending_blank = false;
	s->blank_off = -1;
	uidl_hash_begin(s->hash);
}

static bool
scan_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Scans buf, which holds len bytes of the file from offset base; eof says
 * these are the last bytes to scan. Returns how many bytes were consumed
 * (fewer than len only when a line start needs more bytes to classify:
 * the rest, under SCAN_LOOKAHEAD bytes, is passed again with the next
 * piece), or -1 when the file does not start with a From_ line.
 */
static ssize_t
scan_chunk(struct scan *s, const char *buf, off_t base, size_t len, bool eof)
{
	const char	*p = buf, *end = buf + len, *nl, *q;
	off_t		 lo;
	size_t		 avail;
	int		 cr;

	while (p < end) {
		switch (s->st) {
		case SCAN_BOL:
			avail = (size_t)(end - p);
			if (avail < SCAN_LOOKAHEAD && !eof)
				goto out;
			lo = base + (p - buf);
			if (avail >= SCAN_LOOKAHEAD &&
			    mbox_is_from(p, MBOX_FROM_LEN)) {
				if (s->in_msg && s->t->n + 1 >=
				    MBOX_SCAN_MESSAGES_MAX) {
					scan_close(s, lo, buf, base);
					s->full_at = lo;
					goto out;
				}
				scan_begin(s, lo, buf, base);
				s->st = SCAN_LINE;
				break;
			}
			s->st = SCAN_LINE;
			if (s->leading)
				break;
			if (s->pending_blank) {
				/* not the separator after all */
				uidl_hash_update(s->hash, "\n", 1);
				s->pending_blank = false;
			}
			s->blank_off = -1;
			if (*p == '>')
				s->st = SCAN_GT;
			else if (*p == '\n') {
				s->blank_off = lo;
				if (s->part == PART_HDR) {
					scan_feed(s, buf, base, lo);
					s->pending_blank = true;
					s->part = PART_BODY;
					s->cur.body_off = lo + 1;
				}
			} else if (*p == '\r' && avail >= 2 && p[1] == '\n' &&
			    s->part == PART_HDR) {
				scan_feed(s, buf, base, lo + 2);
				s->part = PART_BODY;
				s->cur.body_off = lo + 2;
			}
			break;

		case SCAN_GT:
			for (q = p; q < end && *q == '>'; q++)
				;
			s->cur.octets += q - p;
			if (q > p)
				s->prev = '>';
			p = q;
			if (p == end)
				break;		/* the run goes on, or EOF */
			avail = (size_t)(end - p);
			if (avail < SCAN_LOOKAHEAD && !eof)
				goto out;
			/* mboxrd: the reader removes one '>' here */
			if (avail >= SCAN_LOOKAHEAD &&
			    mbox_is_from(p, MBOX_FROM_LEN))
				s->cur.octets--;
			s->st = SCAN_LINE;
			break;

		case SCAN_LINE:
			if (s->leading) {
				nl = memchr(p, '\n', (size_t)(end - p));
				q = nl != NULL ? nl + 1 : end;
				for (; p < q; p++)
					if (!scan_is_space((unsigned char)*p))
						return -1;
				if (nl != NULL)
					s->st = SCAN_BOL;
				break;
			}
			if (s->part == PART_FROM) {
				nl = memchr(p, '\n', (size_t)(end - p));
				if (nl == NULL) {
					p = end;
					break;
				}
				p = nl + 1;
				s->cur.hdr_off = base + (p - buf);
				s->part = PART_HDR;
				s->prev = '\n';
				s->st = SCAN_BOL;
				break;
			}
			/*
			 * Message content. The hot loop: whole lines, only
			 * falling back to SCAN_BOL for a line that may be
			 * special (From_, quoted, empty) or in the header.
			 */
			for (;;) {
				nl = memchr(p, '\n', (size_t)(end - p));
				if (nl == NULL) {
					s->cur.octets += end - p;
					s->prev = (unsigned char)end[-1];
					p = end;
					break;
				}
				cr = nl > p ? nl[-1] == '\r' : s->prev == '\r';
				/* the line, its LF, a CR before it if none */
				s->cur.octets += (nl - p) + 2 - cr;
				p = nl + 1;
				s->prev = '\n';
				if (end - p < SCAN_LOOKAHEAD ||
				    s->part != PART_BODY || s->pending_blank ||
				    *p == 'F' || *p == '>' || *p == '\n') {
					s->st = SCAN_BOL;
					break;
				}
				s->blank_off = -1;
			}
			break;
		}
	}
out:
	return p - buf;
}

/* Whether a From_ line starts at off (at the file start or after LF). */
static int
scan_restart_ok(int fd, off_t off)
{
	char	b[1 + MBOX_FROM_LEN];
	ssize_t	n;

	if (off == 0) {
		n = fd_pread_full(fd, b, MBOX_FROM_LEN, 0);
		return n == -1 ? -1 : mbox_is_from(b, (size_t)n);
	}
	/* a From_ line right after a LF */
	n = fd_pread_full(fd, b, sizeof(b), off - 1);
	return n == -1 ? -1 :
	    n > 0 && b[0] == '\n' && mbox_is_from(b + 1, (size_t)n - 1);
}

int
mbox_scan(int fd, off_t start, struct mbox_table *t, struct reason *r)
{
	struct scan	 s;
	struct stat	 st;
	char		*buf = NULL;
	off_t		 off, base = 0, size;
	size_t		 carry = 0, want, i;
	ssize_t		 n, used;
	bool		 eof, settled;
	int		 ok, saved;

	memset(&s, 0, sizeof(s));
	s.t = t;
	s.blank_off = -1;
	s.full_at = -1;
	s.prev = '\n';
	s.st = SCAN_BOL;
	if (mbox_table_fstat(fd, &st, &settled) == -1) {
		saved = errno;
		log_warn("mbox_scan: fstat");
		goto fail_io;
	}
	size = st.st_size;
	if (start == 0) {
		mbox_table_deinit(t);
		off = 0;
	} else {
		if (start != t->scanned || st.st_dev != t->dev ||
		    st.st_ino != t->ino || size < t->scanned) {
			saved = ESTALE;
			goto fail_stale;
		}
		/* Scan the last message again: appends may have changed it. */
		off = t->n > 0 ? t->v[t->n - 1].from_off : 0;
		if (t->n > 0) {
			if ((ok = scan_restart_ok(fd, off)) == -1) {
				saved = errno;
				log_warn("mbox_scan: pread");
				goto fail_io;
			}
			if (!ok) {
				saved = ESTALE;
				goto fail_stale;
			}
			t->n--;
		}
	}
	s.leading = off == 0;
	mbox_table_set_stat(t, &st, settled);
	t->scanned = 0;

	s.hash = uidl_hash_new();
	s.dups = uidl_set_new(t->n + 1024);
	for (i = 0; i < t->n; i++)
		(void)uidl_set_add(s.dups, t->v[i].uidl); /* count, no use */
	buf = xmalloc(MBOX_SCAN_CHUNK + SCAN_LOOKAHEAD);

	for (eof = off >= size; !eof; ) {
		want = size - off > MBOX_SCAN_CHUNK ? MBOX_SCAN_CHUNK :
		    (size_t)(size - off);
		if ((n = fd_pread_full(fd, buf + carry, want, off)) == -1) {
			saved = errno;
			log_warn("mbox_scan: pread");
			goto fail_io;
		}
		if ((size_t)n < want) {
			saved = ESTALE;		/* shrank under us */
			goto fail_stale;
		}
		base = off - (off_t)carry;
		off += n;
		eof = off >= size;
		used = scan_chunk(&s, buf, base, carry + (size_t)n, eof);
		if (used == -1) {
			reason_set(r, "5.2.0",
			    "maildrop does not start with a From_ line");
			log_warnx("mbox_scan: maildrop does not start with a "
			    "From_ line");
			saved = EINVAL;
			goto fail;
		}
		scan_feed(&s, buf, base, base + used);
		if (s.full_at != -1) {
			log_warnx("mbox_scan: more than %d messages: the rest "
			    "is left for later sessions", MBOX_SCAN_MESSAGES_MAX);
			size = s.full_at;
			break;
		}
		carry = carry + (size_t)n - (size_t)used;
		memmove(buf, buf + used, carry);
	}
	if (s.in_msg)
		scan_close(&s, size, buf, base);
	t->scanned = size;
	free(buf);
	uidl_hash_free(&s.hash);
	uidl_set_free(&s.dups);
	return 0;

fail_stale:
	reason_set(r, "4.2.0", "maildrop changed during the scan");
	goto fail;
fail_io:
	reason_set(r, "4.2.0", "cannot read maildrop: %s", strerror(saved));
fail:
	free(buf);
	uidl_hash_free(&s.hash);
	uidl_set_free(&s.dups);
	t->n = 0;
	t->scanned = 0;
	errno = saved;
	return -1;
}
