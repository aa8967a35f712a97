/*
 * The DATA and BDAT message reader of the smtpd worker (unprivileged).
 * The session feeds it what the client sends after DATA (one line at a
 * time, framed by io_getline()) or in BDAT chunks (raw octets); it
 * passes the message with LF line ends to a sink, which writes the
 * queue file. RFC 5321 4.1.4 and 4.5.2 (end of data, transparency),
 * 4.5.3.1.6 (line length); RFC 3030 (BDAT). The policies are in
 * smtp_data.h; the one that matters most is that only CRLF "." CRLF
 * ends DATA, so that no bare-newline trick can make us see the end of a
 * message, and the commands after it, where the client's next hop will
 * not (the 2023 "SMTP smuggling" attacks).
 */
#include "autoconf.h"

#include <string.h>

#include "bounds.h"
#include "smtp_data.h"

static void	refuse(struct smtp_data *, int, const char *, const char *);
static void	emit(struct smtp_data *, const char *, size_t);

void
smtp_data_init(struct smtp_data *d, const struct smtp_data_opts *opts,
    smtp_data_sink_fn *sink, void *sink_arg)
{
	memset(d, 0, sizeof(*d));
	if (opts != NULL)
		d->opts = *opts;
	else
		d->opts.bare_newlines = BARE_NEWLINE_NORMALIZE;
	if (d->opts.max_line_length == 0)
		d->opts.max_line_length = SMTP_TEXT_LINE_MAX;
	if (d->opts.max_line_length < 3)
		d->opts.max_line_length = 3;
	if (d->opts.max_line_length > SMTP_TEXT_LINE_CEILING)
		d->opts.max_line_length = SMTP_TEXT_LINE_CEILING;
	d->sink = sink;
	d->sink_arg = sink_arg;
	/* the DATA command's own CRLF precedes the first line */
	d->prev_crlf = true;
	d->bol = true;
}

size_t
smtp_data_getline_max(const struct smtp_data *d)
{
	return d->opts.max_line_length - 2;
}

/* Records the first reason to refuse the message; later ones are lost. */
static void
refuse(struct smtp_data *d, int code, const char *status, const char *text)
{
	if (d->code != 0)
		return;
	d->code = code;
	reason_set(&d->reason, status, "%s", text);
}

/* Hands n octets of message text to the sink, within the size limit. */
static void
emit(struct smtp_data *d, const char *buf, size_t n)
{
	if (d->code != 0 || n == 0)
		return;
	if (d->opts.max_size != 0 && n > d->opts.max_size - d->size) {
		d->code = 552;
		reason_set(&d->reason, "5.3.4",
		    "message exceeds the size limit of %llu octets",
		    (unsigned long long)d->opts.max_size);
		return;
	}
	d->size += n;
	if (d->sink(d->sink_arg, buf, n) != 0)
		refuse(d, 451, "4.3.0", "local error storing the message");
}

/* Counts n more octets of the current line against the line limit. */
static void
count_line(struct smtp_data *d, size_t n)
{
	size_t	max = d->opts.max_line_length - 2;

	if (n > max || d->linelen > max - n) {
		d->linelen = max + 1;	/* saturate */
		refuse(d, 554, "5.6.0", "message has a line too long");
	} else
		d->linelen += n;
}

int
smtp_data_feed(struct smtp_data *d, const struct io_line *line)
{
	const char	*p = line->data, *cr;
	size_t		 n = line->len, seg;
	unsigned	 fl = line->flags;
	bool		 ends = (fl & (IO_LINE_CRLF | IO_LINE_LF)) != 0;

	if (d->ended)
		return SMTP_DATA_END;
	/* RFC 5321 4.1.1.4: CRLF "." CRLF, and nothing else */
	if (!d->midline && d->prev_crlf && fl == IO_LINE_CRLF && n == 1 &&
	    p[0] == '.') {
		d->ended = true;
		return SMTP_DATA_END;
	}
	/* RFC 5321 4.5.3.1.6: the dot added for transparency is not counted */
	count_line(d, !d->midline && n > 0 && p[0] == '.' ? n - 1 : n);
	if (n > 0 && memchr(p, '\0', n) != NULL)
		refuse(d, 554, "5.6.0", "message contains NUL octets");
	if (d->opts.bare_newlines == BARE_NEWLINE_REJECT) {
		if (fl & IO_LINE_LF)
			refuse(d, 554, "5.6.0",
			    "message contains a bare LF (not CRLF)");
		if (fl & IO_LINE_BARECR)
			refuse(d, 554, "5.6.0",
			    "message contains a bare CR (not CRLF)");
	}
	/*
	 * Normalizing: a bare CR is a line end too. Each line (between
	 * line ends) loses a leading stuffed dot, except a lone "." that
	 * is not a proper end: that one stays in the body as ".".
	 */
	if (d->dot_pending && (n > 0 || ends)) {
		/* the last piece ended in a line's first "."; was it alone? */
		d->dot_pending = false;
		if (n == 0 || p[0] == '\r')
			emit(d, ".", 1);
	}
	while (d->code == 0 && n > 0) {
		cr = memchr(p, '\r', n);
		seg = cr != NULL ? (size_t)(cr - p) : n;
		if (d->bol && seg == 1 && p[0] == '.' && cr == NULL && !ends) {
			/* "." at a piece's end: the next piece decides */
			d->dot_pending = true;
			d->bol = false;
			break;
		}
		if (d->bol && seg > 1 && p[0] == '.') {
			p++;
			n--;
			seg--;
			d->bol = false;	/* the line's first octet is used */
		}
		emit(d, p, seg);
		if (seg > 0)
			d->bol = false;
		if (cr == NULL)
			break;
		emit(d, "\n", 1);
		d->bol = true;
		p += seg + 1;
		n -= seg + 1;
	}
	if (ends) {
		emit(d, "\n", 1);
		d->bol = true;
	}
	d->prev_crlf = (fl & IO_LINE_CRLF) != 0;
	d->midline = (fl & IO_LINE_PARTIAL) != 0;
	if (!d->midline)
		d->linelen = 0;
	return SMTP_DATA_MORE;
}

/* BDAT: a line end (CRLF, or a normalized bare CR or LF). */
static void
bdat_eol(struct smtp_data *d, bool reset)
{
	emit(d, "\n", 1);
	d->bol = true;
	if (reset)
		d->linelen = 0;
}

/* BDAT: a CR that turned out not to start a CRLF. */
static void
bdat_bare_cr(struct smtp_data *d)
{
	/* counted in the line like in DATA, where it is part of the line */
	count_line(d, 1);
	if (d->opts.bare_newlines == BARE_NEWLINE_REJECT)
		refuse(d, 554, "5.6.0",
		    "message contains a bare CR (not CRLF)");
	bdat_eol(d, false);
}

int
smtp_bdat_feed(struct smtp_data *d, const char *buf, size_t len)
{
	size_t	i = 0, run;

	if (d->ended)
		return 0;
	while (i < len) {
		if (d->cr_pending) {
			d->cr_pending = false;
			if (buf[i] == '\n') {
				bdat_eol(d, true);
				i++;
				continue;
			}
			bdat_bare_cr(d);
		}
		for (run = i; run < len && buf[run] != '\r' &&
		    buf[run] != '\n' && buf[run] != '\0'; run++)
			;
		if (run > i) {
			count_line(d, run - i);
			emit(d, buf + i, run - i);
			d->bol = false;
			i = run;
			continue;
		}
		switch (buf[i++]) {
		case '\r':
			d->cr_pending = true;	/* maybe across chunks */
			break;
		case '\n':
			if (d->opts.bare_newlines == BARE_NEWLINE_REJECT)
				refuse(d, 554, "5.6.0",
				    "message contains a bare LF (not CRLF)");
			bdat_eol(d, true);
			break;
		default:
			count_line(d, 1);
			refuse(d, 554, "5.6.0", "message contains NUL octets");
			break;
		}
	}
	return 0;
}

void
smtp_bdat_last(struct smtp_data *d)
{
	if (d->ended)
		return;
	if (d->cr_pending) {
		d->cr_pending = false;
		bdat_bare_cr(d);
	}
	if (!d->bol)
		bdat_eol(d, true);
	d->ended = true;
}

int
smtp_data_result(const struct smtp_data *d, int *code_out, struct reason *r)
{
	if (!d->ended) {
		*code_out = 451;
		reason_set(r, "4.3.0", "message incomplete");
		return -1;
	}
	if (d->code == 0)
		return 0;
	*code_out = d->code;
	if (r != NULL)
		*r = d->reason;
	return -1;
}

uint64_t
smtp_data_size(const struct smtp_data *d)
{
	return d->size;
}
