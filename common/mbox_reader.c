/*
 * The message reader for RETR and TOP (see mbox_reader.h). Runs in the
 * POP3 worker, unprivileged. Reads MBOX_READ_CHUNK bytes per pread()
 * (less for a smaller message) and turns them into one output piece,
 * line ends made CRLF and, for POP3, dot-stuffed: whole lines are found
 * with memchr() and copied with memcpy(), so the cost is two passes over
 * the bytes; nothing depends on line length.
 *
 * Undoing mboxrd quoting needs to know whether a line's run of '>' is
 * followed by "From ". The run may be longer than a buffer, so the first
 * '>' of every run is held back and given out at the end of the run
 * unless "From " follows: taking any one '>' out of a run of them is the
 * same as taking the first. Only the five bytes after the run ever wait
 * for the next read.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "mbox_reader.h"
#include "xmalloc.h"

/* Bytes that may wait for the next read: "From " after a '>' run. */
#define READER_LOOKAHEAD	MBOX_FROM_LEN

enum reader_state {
	RD_BOL,		/* at the start of a line */
	RD_GT,		/* in a line's leading '>' run; one '>' held */
	RD_LINE,	/* in the rest of a line */
};

struct mbox_reader {
	int			 fd;
	struct mbox_msg		 m;
	long			 top;	/* body lines still to give, or -1 */
	off_t			 pos;	/* next byte to read */
	size_t			 chunk;	/* bytes per read */
	bool			 stuff;	/* dot-stuffing */
	size_t			 stuffed;	/* '.' added */
	bool			 in_body;
	bool			 done;	/* nothing more to process */
	bool			 finished;	/* and the ending given out */
	enum reader_state	 st;
	unsigned char		 prev;	/* last byte given out */
	char			*in;
	size_t			 carry;	/* unprocessed bytes at in[0] */
	char			*out;
};

static size_t	reader_process(struct mbox_reader *, const char *, size_t,
		    off_t, bool, char *, size_t *);
static void	reader_finish(struct mbox_reader *, char *, size_t *);

struct mbox_reader *
mbox_reader_new(int fd, const struct mbox_msg *m, long top_lines)
{
	struct mbox_reader	*rd = xcalloc(1, sizeof(*rd));

	rd->fd = fd;
	rd->m = *m;
	rd->top = top_lines < 0 ? -1 : top_lines;
	rd->pos = m->hdr_off;
	rd->st = RD_BOL;
	rd->prev = '\n';
	/* no bigger than the message: most are a few kB */
	rd->chunk = MBOX_READ_CHUNK;
	if (m->end - m->hdr_off < MBOX_READ_CHUNK)
		rd->chunk = m->end > m->hdr_off ?
		    (size_t)(m->end - m->hdr_off) : 1;
	rd->in = xmalloc(rd->chunk + READER_LOOKAHEAD);
	/*
	 * Each byte gives at most two ("\n" -> "\r\n", or a '.' stuffed
	 * before a '.'), plus a last CRLF.
	 */
	rd->out = xmalloc(2 * (rd->chunk + READER_LOOKAHEAD) + 2);
	return rd;
}

void
mbox_reader_free(struct mbox_reader **rdp)
{
	struct mbox_reader	*rd = *rdp;

	if (rd == NULL)
		return;
	free(rd->in);
	free(rd->out);
	free(rd);
	*rdp = NULL;
}

void
mbox_reader_dotstuff(struct mbox_reader *rd)
{
	rd->stuff = true;
}

size_t
mbox_reader_stuffed(const struct mbox_reader *rd)
{
	return rd->stuffed;
}

/*
 * Turns buf (len bytes of the file from offset base; eof: nothing of the
 * message follows) into output at out + *olen. Returns the bytes
 * consumed: all of them, except up to READER_LOOKAHEAD - 1 after a '>'
 * run when more may follow.
 */
static size_t
reader_process(struct mbox_reader *rd, const char *buf, size_t len,
    off_t base, bool eof, char *out, size_t *olen)
{
	const char	*p = buf, *end = buf + len, *nl, *q;
	char		*o = out + *olen;
	size_t		 n, avail;

	while (p < end && !rd->done) {
		switch (rd->st) {
		case RD_BOL:
			if (!rd->in_body &&
			    base + (p - buf) >= rd->m.body_off) {
				rd->in_body = true;
				if (rd->top == 0) {
					rd->done = true;
					break;
				}
			}
			if (*p == '>') {
				p++;		/* held */
				rd->st = RD_GT;
				break;
			}
			if (*p == '.' && rd->stuff) {
				*o++ = '.';	/* RFC 1939 3 */
				rd->stuffed++;
			}
			rd->st = RD_LINE;
			break;

		case RD_GT:
			for (q = p; q < end && *q == '>'; q++)
				;
			n = (size_t)(q - p);
			memcpy(o, p, n);
			o += n;
			p = q;
			if (n > 0)
				rd->prev = '>';
			if (p == end)
				break;
			avail = (size_t)(end - p);
			if (avail < READER_LOOKAHEAD && !eof)
				goto out;
			if (avail < READER_LOOKAHEAD ||
			    !mbox_is_from(p, MBOX_FROM_LEN)) {
				*o++ = '>';	/* not quoting: give it back */
				rd->prev = '>';
			}
			rd->st = RD_LINE;
			break;

		case RD_LINE:
			nl = memchr(p, '\n', (size_t)(end - p));
			if (nl == NULL) {
				n = (size_t)(end - p);
				memcpy(o, p, n);
				o += n;
				rd->prev = (unsigned char)end[-1];
				p = end;
				break;
			}
			n = (size_t)(nl - p);
			memcpy(o, p, n);
			o += n;
			if (n > 0)
				rd->prev = (unsigned char)nl[-1];
			if (rd->prev != '\r')
				*o++ = '\r';
			*o++ = '\n';
			rd->prev = '\n';
			p = nl + 1;
			rd->st = RD_BOL;
			if (rd->in_body && rd->top > 0 && --rd->top == 0)
				rd->done = true;
			break;
		}
	}
out:
	*olen = (size_t)(o - out);
	return (size_t)(p - buf);
}

/* The end of the message: a held '>', and a line end if one is missing. */
static void
reader_finish(struct mbox_reader *rd, char *out, size_t *olen)
{
	if (rd->st == RD_GT) {
		out[(*olen)++] = '>';
		rd->prev = '>';
	}
	if (rd->prev != '\n') {
		if (rd->prev != '\r')
			out[(*olen)++] = '\r';
		out[(*olen)++] = '\n';
		rd->prev = '\n';
	}
	rd->finished = true;
}

int
mbox_reader_read(struct mbox_reader *rd, const char **data_out,
    size_t *len_out)
{
	size_t	want, used, olen = 0;
	ssize_t	n;
	off_t	base;
	bool	eof;

	while (olen == 0) {
		if (rd->finished)
			return 0;
		n = 0;
		if (!rd->done && rd->pos < rd->m.end) {
			want = rd->m.end - rd->pos > (off_t)rd->chunk ?
			    rd->chunk : (size_t)(rd->m.end - rd->pos);
			do
				n = pread(rd->fd, rd->in + rd->carry, want,
				    rd->pos);
			while (n == -1 && errno == EINTR);
			if (n == -1)
				return -1;
			if (n == 0) {
				errno = ESTALE;	/* shorter than the table */
				return -1;
			}
		}
		base = rd->pos - (off_t)rd->carry;
		rd->pos += n;
		eof = rd->pos >= rd->m.end;
		used = reader_process(rd, rd->in, rd->carry + (size_t)n, base,
		    eof, rd->out, &olen);
		rd->carry = rd->carry + (size_t)n - used;
		memmove(rd->in, rd->in + used, rd->carry);
		if (rd->done || (eof && rd->carry == 0))
			reader_finish(rd, rd->out, &olen);
	}
	*data_out = rd->out;
	*len_out = olen;
	return 1;
}
