/*
 * Local delivery into an mbox maildrop: one message appended with mboxrd
 * quoting, fsync'ed, and cut back to the old length on any failure; and
 * the crash-recovery check that compares the maildrop with what an
 * append would have written. Called by the root deliverers (queue
 * runner, maild -q, an inetd monitor) with the maildrop locked: appends
 * run with the recipient's effective ids (privdrop_become in
 * deliver_local.c), so the kernel applies quotas and the root reserve
 * and EDQUOT/ENOSPC come back here; the check runs as root. RFC 4155 for
 * the format; HACKING.md "The queue" for the recovery protocol.
 *
 * Both use one generator that produces the appended bytes into a large
 * buffer and hands each full buffer to a sink: the appender's sink
 * pwrite()s it, the checker's compares it with the file. So the checker
 * recognises exactly what the appender writes, quoting included.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "bounds.h"
#include "fdutil.h"
#include "log.h"
#include "mbox_append.h"
#include "mbox_table.h"
#include "xmalloc.h"

/* Bytes that decide whether a line is a From_ line. */
#define APPEND_LOOKAHEAD	MBOX_FROM_LEN
/* "From " SENDER " " "Www Mmm dd hh:mm:ss yyyy" "\n" and a NUL */
#define APPEND_FROM_LINE_MAX	(SMTP_PATH_MAX + 64)

struct gen;

/* Takes g->buf[0..g->len); returns 0 to go on, 1 to stop, -1 on error. */
typedef int	(*gen_sink)(struct gen *);

struct gen {
	char		*buf;
	size_t		 len;
	size_t		 cap;
	gen_sink	 sink;
	int		 fd;		/* the maildrop */
	off_t		 off;		/* where buf[0] belongs in it */
	bool		 read_error;	/* the failure was reading the body */
	unsigned char	 last;		/* last byte of prefix + message */
	/* checking */
	char		*cmp;
	off_t		 matched;	/* bytes equal to the file so far */
	bool		 eof;		/* the file ended */
};

static int	append_from_line(char *, size_t,
		    const struct mbox_append_msg *);
static bool	append_prefix_ok(const struct mbox_append_msg *);
static int	gen_put(struct gen *, const char *, size_t);
static int	gen_flush(struct gen *);
static int	gen_body(struct gen *, const struct mbox_append_msg *);
static int	sink_write(struct gen *);
static int	sink_count(struct gen *);
static int	sink_compare(struct gen *);
static void	append_reason(struct reason *, int, bool);
static int	gen_run(struct gen *, const struct mbox_append_msg *,
		    const char *, size_t, bool, bool, off_t *);
static int	append_prepare(const struct mbox_append_msg *, char *, size_t,
		    struct reason *);
static int	append_needs_repair(int, off_t, bool *);

static const char *const append_days[] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char *const append_months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/* Formats the From_ line. Returns its length, or -1 (EINVAL). */
static int
append_from_line(char *buf, size_t sz, const struct mbox_append_msg *m)
{
	char		 sender[SMTP_PATH_MAX + 1];
	const char	*s = m->sender != NULL ? m->sender : "";
	struct tm	 tm;
	size_t		 i, n = strlen(s);
	int		 len;

	if (n > SMTP_PATH_MAX || gmtime_r(&m->arrival, &tm) == NULL ||
	    tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 ||
	    tm.tm_mon > 11) {
		errno = EINVAL;
		return -1;
	}
	if (n == 0)
		s = "MAILER-DAEMON", n = strlen(s);
	/*
	 * One word: a space or control character would end the field. And
	 * ASCII only, like Return-Path: mbox readers (Python's mailbox, for
	 * one) decode the From_ line as ASCII and fail on an SMTPUTF8 sender.
	 */
	for (i = 0; i < n; i++)
		sender[i] = (unsigned char)s[i] <= 0x20 ||
		    (unsigned char)s[i] == 0x7f ? '_' :
		    (unsigned char)s[i] >= 0x80 ? '?' : s[i];
	sender[n] = '\0';
	len = snprintf(buf, sz, "From %s %s %s %2d %02d:%02d:%02d %d\n",
	    sender, append_days[tm.tm_wday], append_months[tm.tm_mon],
	    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900);
	if (len < 0 || (size_t)len >= sz) {
		errno = EINVAL;
		return -1;
	}
	return len;
}

/* The prefix must be whole lines, none of which could be read as From_. */
static bool
append_prefix_ok(const struct mbox_append_msg *m)
{
	const char	*p = m->prefix, *end, *nl;

	if (m->prefix_len == 0)
		return true;
	if (p == NULL || p[m->prefix_len - 1] != '\n')
		return false;
	for (end = p + m->prefix_len; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (*p == '>' || mbox_is_from(p, (size_t)(nl - p)))
			return false;
	}
	return true;
}

static int
gen_flush(struct gen *g)
{
	int	rc;

	if (g->len == 0)
		return 0;
	rc = g->sink(g);
	g->off += (off_t)g->len;
	g->len = 0;
	return rc;
}

static int
gen_put(struct gen *g, const char *p, size_t n)
{
	size_t	k;
	int	rc;

	while (n > 0) {
		if (g->len == g->cap && (rc = gen_flush(g)) != 0)
			return rc;
		k = g->cap - g->len < n ? g->cap - g->len : n;
		memcpy(g->buf + g->len, p, k);
		g->len += k;
		p += k;
		n -= k;
	}
	return 0;
}

/*
 * Generates the message with mboxrd quoting. A line's '>' run may be
 * longer than the buffer; the extra '>' goes right before "From ", which
 * is the same as at the start of the run. Returns 0, 1 (the sink said
 * stop) or -1.
 */
static int
gen_body(struct gen *g, const struct mbox_append_msg *m)
{
	char		*in, *p, *end, *q, *nl;
	size_t		 cap, carry = 0, want;
	off_t		 left = m->body_len, pos = m->body_off;
	ssize_t		 n;
	bool		 bol = true, eof;
	int		 rc = 0;

	if (left <= 0)
		return 0;
	cap = left < MBOX_APPEND_BUF ? (size_t)left : MBOX_APPEND_BUF;
	in = xmalloc(cap + APPEND_LOOKAHEAD);
	while (left > 0 || carry > 0) {
		want = left < (off_t)cap ? (size_t)left : cap;
		n = fd_pread_full(m->body_fd, in + carry, want, pos);
		if (n == -1 || (size_t)n < want) {
			if (n != -1)
				errno = EIO;	/* the queue file is short */
			g->read_error = true;
			rc = -1;
			break;
		}
		left -= n;
		pos += n;
		eof = left == 0;
		p = in;
		end = in + carry + (size_t)n;
		while (p < end) {
			if (bol) {
				for (q = p; q < end && *q == '>'; q++)
					;
				if ((rc = gen_put(g, p, (size_t)(q - p))) != 0)
					goto out;
				p = q;
				if (p == end)
					break;	/* the run may go on */
				if (end - p < APPEND_LOOKAHEAD && !eof)
					break;	/* decide with more bytes */
				if (end - p >= APPEND_LOOKAHEAD &&
				    mbox_is_from(p, MBOX_FROM_LEN) &&
				    (rc = gen_put(g, ">", 1)) != 0)
					goto out;
				bol = false;
			}
			if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
				nl = end - 1;
			else
				bol = true;
			if ((rc = gen_put(g, p, (size_t)(nl + 1 - p))) != 0)
				goto out;
			p = nl + 1;
		}
		g->last = (unsigned char)end[-1];
		carry = (size_t)(end - p);
		memmove(in, p, carry);
	}
out:
	free(in);
	return rc;
}

static int
sink_write(struct gen *g)
{
	size_t	done = 0;
	ssize_t	n;

	while (done < g->len) {
		n = pwrite(g->fd, g->buf + done, g->len - done,
		    g->off + (off_t)done);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

/* Writes nothing: only g->off moves on (see gen_flush), to measure. */
static int
sink_count(struct gen *g)
{
	(void)g;
	return 0;
}

static int
sink_compare(struct gen *g)
{
	ssize_t	n;
	size_t	i;

	if ((n = fd_pread_full(g->fd, g->cmp, g->len, g->off)) == -1)
		return -1;
	for (i = 0; i < (size_t)n && g->cmp[i] == g->buf[i]; i++)
		;
	g->matched += (off_t)i;
	if (i < (size_t)n)
		return 1;		/* differs */
	if ((size_t)n < g->len) {
		g->eof = true;		/* the file ends inside */
		return 1;
	}
	return 0;
}

static void
append_reason(struct reason *r, int err, bool reading)
{
	if (reading)
		reason_set(r, "4.3.0", "cannot read the queued message: %s",
		    strerror(err));
	else if (err == ENOSPC)
		reason_set(r, "4.3.1", "mail system full");
	else if (err == EDQUOT || err == EFBIG)
		reason_set(r, "4.2.2", "mailbox full");
	else
		reason_set(r, "4.2.0", "cannot write maildrop: %s",
		    strerror(err));
}

/*
 * Runs the generator for m (whose From_ line is line) at g->off into g.
 * Returns 0, 1 (the sink stopped it) or -1. *ident_out: the bytes up to
 * the end of the prefix, which identify the message.
 */
static int
gen_run(struct gen *g, const struct mbox_append_msg *m, const char *line,
    size_t linelen, bool repair, bool pause_mid, off_t *ident_out)
{
	int	rc;

	*ident_out = (off_t)repair + (off_t)linelen + (off_t)m->prefix_len;
	if ((repair && (rc = gen_put(g, "\n", 1)) != 0) ||
	    (rc = gen_put(g, line, linelen)) != 0 ||
	    (rc = gen_put(g, m->prefix, m->prefix_len)) != 0)
		return rc;
	if (m->prefix_len > 0)
		g->last = (unsigned char)m->prefix[m->prefix_len - 1];
	if (pause_mid) {
		/* the From_ line is on disk, the message not yet */
		if ((rc = gen_flush(g)) != 0)
			return rc;
		if (fault_point("mbox_append.mid_write") == -1)
			return -1;
	}
	if ((rc = gen_body(g, m)) != 0)
		return rc;
	if ((m->prefix_len > 0 || m->body_len > 0) && g->last != '\n' &&
	    (rc = gen_put(g, "\n", 1)) != 0)
		return rc;
	if ((rc = gen_put(g, "\n", 1)) != 0)
		return rc;
	return gen_flush(g);
}

/*
 * Checks the description; formats the From_ line into line. Returns its
 * length, or -1 with errno EINVAL and r filled.
 */
static int
append_prepare(const struct mbox_append_msg *m, char *line, size_t sz,
    struct reason *r)
{
	int	len;

	if (!append_prefix_ok(m) || m->body_len < 0 || m->body_off < 0) {
		reason_set(r, "5.1.7", "bad message description");
		errno = EINVAL;
		return -1;
	}
	if ((len = append_from_line(line, sz, m)) == -1) {
		reason_set(r, "5.1.7", "envelope sender unusable in a From_ "
		    "line");
		errno = EINVAL;
		return -1;
	}
	return len;
}

/* Whether the file needs a LF before our From_ line at offset. */
static int
append_needs_repair(int fd, off_t offset, bool *repair_out)
{
	char	c;
	ssize_t	n;

	*repair_out = false;
	if (offset == 0)
		return 0;
	if ((n = fd_pread_full(fd, &c, 1, offset - 1)) == -1)
		return -1;
	*repair_out = n == 1 && c != '\n';
	return 0;
}

int
mbox_append_flags(int fd, const struct mbox_append_msg *m, int flags,
    struct mbox_append_result *res_out, struct reason *r)
{
	char		line[APPEND_FROM_LINE_MAX];
	struct gen	g;
	struct stat	st;
	off_t		start, ident;
	bool		repair;
	int		len, saved;

	if ((len = append_prepare(m, line, sizeof(line), r)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 ||
	    append_needs_repair(fd, st.st_size, &repair) == -1) {
		saved = errno;
		log_warn("mbox_append: examining the maildrop");
		append_reason(r, saved, false);
		errno = saved;
		return -1;
	}
	start = st.st_size;

	memset(&g, 0, sizeof(g));
	g.cap = MBOX_APPEND_BUF;
	g.buf = xmalloc(g.cap);
	g.sink = sink_write;
	g.fd = fd;
	g.off = start;
	g.last = '\n';
	if (fault_point("mbox_append.before_write") == -1 ||
	    gen_run(&g, m, line, (size_t)len, repair, true, &ident) != 0 ||
	    fault_point("mbox_append.after_write") == -1 ||
	    (!(flags & MBOX_APPEND_NOSYNC) && fsync(fd) == -1) ||
	    fault_point("mbox_append.after_fsync") == -1)
		goto fail;
	free(g.buf);
	if (res_out != NULL) {
		res_out->offset = start;
		res_out->from_off = start + repair;
		res_out->length = g.off - start;
	}
	return 0;

fail:
	saved = errno;
	free(g.buf);
	append_reason(r, saved, g.read_error);
	log_warnx("mbox_append: %s; cutting the maildrop back to %lld bytes",
	    strerror(saved), (long long)start);
	if (ftruncate(fd, start) == -1 || fsync(fd) == -1) {
		log_warn("mbox_append: cannot cut the maildrop back to %lld "
		    "bytes", (long long)start);
		reason_set(r, "4.2.0", "maildrop damaged: cannot undo a "
		    "failed delivery");
	}
	errno = saved;
	return -1;
}

int
mbox_append(int fd, const struct mbox_append_msg *m,
    struct mbox_append_result *res_out, struct reason *r)
{
	return mbox_append_flags(fd, m, 0, res_out, r);
}

int
mbox_append_size(const struct mbox_append_msg *m, bool repair,
    off_t *len_out, struct reason *r)
{
	char		line[APPEND_FROM_LINE_MAX];
	struct gen	g;
	off_t		ident;
	int		len, rc, saved;

	if ((len = append_prepare(m, line, sizeof(line), r)) == -1)
		return -1;
	memset(&g, 0, sizeof(g));
	g.cap = MBOX_APPEND_BUF;
	g.buf = xmalloc(g.cap);
	g.sink = sink_count;
	g.fd = -1;
	g.last = '\n';
	rc = gen_run(&g, m, line, (size_t)len, repair, false, &ident);
	saved = errno;
	free(g.buf);
	if (rc != 0) {
		append_reason(r, saved, g.read_error);
		errno = saved;
		return -1;
	}
	*len_out = g.off;
	return 0;
}

int
mbox_append_repair_needed(int fd, off_t offset, bool *repair_out)
{
	return append_needs_repair(fd, offset, repair_out);
}

int
mbox_append_check(int fd, off_t offset, const struct mbox_append_msg *m,
    struct reason *r)
{
	char		line[APPEND_FROM_LINE_MAX];
	struct gen	g;
	struct stat	st;
	off_t		ident;
	bool		repair;
	int		len, rc, saved;

	if ((len = append_prepare(m, line, sizeof(line), r)) == -1)
		return -1;
	if (offset < 0) {
		reason_set(r, "5.1.7", "bad offset");
		errno = EINVAL;
		return -1;
	}
	if (fstat(fd, &st) == -1 ||
	    append_needs_repair(fd, offset, &repair) == -1) {
		saved = errno;
		append_reason(r, saved, false);
		errno = saved;
		return -1;
	}
	if (offset >= st.st_size)
		return MBOX_APPEND_ABSENT;

	memset(&g, 0, sizeof(g));
	g.cap = MBOX_APPEND_BUF;
	g.buf = xmalloc(g.cap);
	g.cmp = xmalloc(g.cap);
	g.sink = sink_compare;
	g.fd = fd;
	g.off = offset;
	g.last = '\n';
	rc = gen_run(&g, m, line, (size_t)len, repair, false, &ident);
	saved = errno;
	free(g.buf);
	free(g.cmp);
	if (rc == -1) {
		append_reason(r, saved, g.read_error);
		errno = saved;
		return -1;
	}
	if (rc == 0)
		return MBOX_APPEND_COMPLETE;
	if (g.eof)
		return MBOX_APPEND_TORN;
	return g.matched >= ident ? MBOX_APPEND_DAMAGED : MBOX_APPEND_ABSENT;
}
