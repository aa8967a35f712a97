/*
 * The reference mbox model (mbox_ref.h). Deliberately simple and
 * independent of common/mbox_*.c: it shares no code with them.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "mbox_ref.h"

static bool
is_from(const char *buf, size_t len, size_t off)
{
	return len - off >= 5 && memcmp(buf + off, "From ", 5) == 0;
}

/* The end of the line starting at off: after its LF, or len. */
static size_t
line_end(const char *buf, size_t len, size_t off)
{
	while (off < len && buf[off] != '\n')
		off++;
	return off < len ? off + 1 : len;
}

static void
ref_hash(const char *p, size_t n, char out[33])
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen;
	int		i;

	if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1)
		abort();
	for (i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

void
mbox_ref_parse(const char *buf, size_t len, struct mbox_ref *out)
{
	size_t	*starts = NULL, nstarts = 0, off, le, i, span, e, l;
	size_t	 c;

	memset(out, 0, sizeof(*out));
	/* message starts: "From " at a line start */
	for (off = 0; off < len; off = line_end(buf, len, off)) {
		if (is_from(buf, len, off)) {
			starts = realloc(starts, (nstarts + 1) *
			    sizeof(*starts));
			starts[nstarts++] = off;
		} else if (nstarts == 0) {
			for (le = line_end(buf, len, off), c = off; c < le; c++)
				if (strchr(" \t\r\n", buf[c]) == NULL ||
				    buf[c] == '\0') {
					out->garbage = true;
					free(starts);
					return;
				}
		}
	}
	out->v = calloc(nstarts + 1, sizeof(*out->v));
	out->n = nstarts;
	for (i = 0; i < nstarts; i++) {
		struct mbox_ref_msg *m = &out->v[i];

		m->from_off = starts[i];
		span = i + 1 < nstarts ? starts[i + 1] : len;
		m->hdr_off = line_end(buf, span, starts[i]);
		e = span;
		if (span >= 1 && span - 1 >= m->hdr_off &&
		    buf[span - 1] == '\n' && buf[span - 2] == '\n')
			e = span - 1;
		m->end = e;
		m->body_off = e;
		for (off = m->hdr_off; off < e; off = le) {
			le = line_end(buf, e, off);
			l = le - off;
			if ((l == 1 && buf[off] == '\n') || (l == 2 &&
			    buf[off] == '\r' && buf[off + 1] == '\n')) {
				m->body_off = le;
				break;
			}
		}
		m->octets = 0;
		free(mbox_ref_output(buf, m, -1, &m->octets));
		ref_hash(buf + m->from_off, m->body_off - m->from_off, m->hash);
	}
	free(starts);
}

void
mbox_ref_free(struct mbox_ref *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}

char *
mbox_ref_output(const char *buf, const struct mbox_ref_msg *m, long top,
    size_t *len_out)
{
	size_t	 cap = 2 * (m->end - m->hdr_off) + 3, n = 0;
	size_t	 off, le, cl, q;
	char	*o = malloc(cap);
	long	 body_lines = 0;

	for (off = m->hdr_off; off < m->end; off = le) {
		if (top >= 0 && off >= m->body_off && body_lines++ >= top)
			break;
		le = line_end(buf, m->end, off);
		cl = le - off;
		if (buf[le - 1] == '\n')
			cl--;			/* content without the LF */
		/* ">>*From " loses one '>' */
		for (q = off; q < off + cl && buf[q] == '>'; q++)
			;
		if (q > off && off + cl - q >= 5 &&
		    memcmp(buf + q, "From ", 5) == 0) {
			memcpy(o + n, buf + off + 1, cl - 1);
			n += cl - 1;
		} else {
			memcpy(o + n, buf + off, cl);
			n += cl;
		}
		if (cl == 0 || buf[off + cl - 1] != '\r')
			o[n++] = '\r';
		o[n++] = '\n';
	}
	*len_out = n;
	return o;
}
