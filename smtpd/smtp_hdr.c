/*
 * The header completion of submitted mail (smtp_hdr.h), in the
 * unprivileged worker. Lines of the header section are held back until
 * they are whole, so that their field names can be seen (rfc5322.c's
 * parser decides what a field is); the body passes through untouched.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "rfc5322.h"
#include "smtp_hdr.h"
#include "xmalloc.h"

#define SEEN_DATE	0x01
#define SEEN_MSGID	0x02
#define SEEN_FROM	0x04

/* A header line held back: longer ones are passed on as they are. */
#define HDR_LINE_MAX	SMTP_TEXT_LINE_CEILING
#define HDR_LINE_START	1024
/* The three headers we may add, each well under a line. */
#define HDR_ADD_MAX	(3 * 1024)

/* Appends fmt to the add buffer; what does not fit is left out whole. */
static void
add(struct smtp_hdr *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
add(struct smtp_hdr *h, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(h->add + h->addlen, HDR_ADD_MAX - h->addlen, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < HDR_ADD_MAX - h->addlen)
		h->addlen += (size_t)n;
	else
		h->add[h->addlen] = '\0';
}

/*
 * The display name of From: as RFC 5322 3.4 allows it: a quoted-string
 * of printable ASCII, or an RFC 2047 encoded-word when it has other
 * octets (a UTF-8 GECOS field).
 */
static void
display_name(const char *name, char *out, size_t outsz)
{
	const char	*c;
	size_t		 n = 0;
	bool		 ascii = true;

	for (c = name; *c != '\0'; c++)
		if ((unsigned char)*c >= 0x80)
			ascii = false;
	if (!ascii) {
		char	b64[4 * FULLNAME_MAX];

		if (base64_encode(name, strlen(name), b64, sizeof(b64)) == -1)
			out[0] = '\0';
		else
			snprintf(out, outsz, "=?UTF-8?B?%s?=", b64);
		return;
	}
	if (outsz < 3) {
		out[0] = '\0';
		return;
	}
	out[n++] = '"';
	for (c = name; *c != '\0' && n + 3 < outsz; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			continue;
		if (*c == '"' || *c == '\\')
			out[n++] = '\\';
		out[n++] = *c;
	}
	out[n++] = '"';
	out[n] = '\0';
}

void
smtp_hdr_init(struct smtp_hdr *h, bool active, const struct smtp_hdr_id *id,
    smtp_data_sink_fn *sink, void *arg)
{
	memset(h, 0, sizeof(*h));
	h->sink = sink;
	h->sink_arg = arg;
	h->active = active && id != NULL;
	h->in_header = h->active;
	if (!h->active)
		return;
	h->id = *id;
	h->add = xmalloc(HDR_ADD_MAX);
	h->add[0] = '\0';
}

/* Builds the headers still missing, once the header section is known. */
static void
build(struct smtp_hdr *h)
{
	const struct smtp_hdr_id	*id = &h->id;
	char	date[RFC5322_DATE_MAX], name[4 * FULLNAME_MAX + 16];

	h->addlen = 0;
	if (!(h->seen & SEEN_DATE) && rfc5322_date(id->now, date,
	    sizeof(date)) == 0)
		add(h, "Date: %s\n", date);
	if (!(h->seen & SEEN_MSGID))
		add(h, "Message-ID: <%lld.%s@%s>\n", (long long)id->now,
		    id->qid, id->hostname);
	if (!(h->seen & SEEN_FROM)) {
		if (id->fullname != NULL && id->fullname[0] != '\0') {
			display_name(id->fullname, name, sizeof(name));
			add(h, "From: %s <%s@%s>\n", name, id->user,
			    id->hostname);
		} else
			add(h, "From: %s@%s\n", id->user, id->hostname);
	}
}

static int
pass(struct smtp_hdr *h, const char *buf, size_t len)
{
	if (len == 0)
		return 0;
	return h->sink(h->sink_arg, buf, len);
}

/* The header section is over: what is missing goes out now. */
static int
end_header(struct smtp_hdr *h, bool blank)
{
	h->in_header = false;
	build(h);
	if (pass(h, h->add, h->addlen) == -1)
		return -1;
	return blank ? pass(h, "\n", 1) : 0;
}

/* One whole line of the header section (with its LF). */
static int
header_line(struct smtp_hdr *h, const char *line, size_t len)
{
	struct rfc5322_parser	p;
	struct rfc5322_event	ev;

	/* each line alone: a continuation is also not a new field */
	if (line[0] == ' ' || line[0] == '\t')
		return pass(h, line, len);
	rfc5322_parser_init(&p);
	rfc5322_parse_line(&p, line, len, &ev);
	switch (ev.type) {
	case RFC5322_HEADER:
		if (ev.namelen == 4 && strncasecmp(ev.name, "Date", 4) == 0)
			h->seen |= SEEN_DATE;
		else if (ev.namelen == 10 &&
		    strncasecmp(ev.name, "Message-ID", 10) == 0)
			h->seen |= SEEN_MSGID;
		else if (ev.namelen == 4 &&
		    strncasecmp(ev.name, "From", 4) == 0)
			h->seen |= SEEN_FROM;
		return pass(h, line, len);
	case RFC5322_END_OF_HEADERS:
		if (end_header(h, false) == -1)
			return -1;
		return pass(h, line, len);
	default:
		/* a body line without the empty line before it */
		if (end_header(h, true) == -1)
			return -1;
		return pass(h, line, len);
	}
}

int
smtp_hdr_write(void *arg, const char *buf, size_t len)
{
	struct smtp_hdr	*h = arg;
	const char	*lf;
	size_t		 n;

	while (len > 0 && h->in_header) {
		lf = memchr(buf, '\n', len);
		n = lf != NULL ? (size_t)(lf - buf) + 1 : len;
		if (h->len + n > HDR_LINE_MAX) {
			/* no header line is this long: take it as body */
			if (end_header(h, true) == -1 || (h->len > 0 &&
			    pass(h, h->line, h->len) == -1))
				return -1;
			h->len = 0;
			break;
		}
		if (h->len + n > h->cap) {
			/* grows with the longest line, not 64 MiB up front */
			size_t cap = h->cap > 0 ? h->cap : HDR_LINE_START;

			while (cap < h->len + n)
				cap = cap > HDR_LINE_MAX / 2 ? HDR_LINE_MAX :
				    cap * 2;
			h->line = xreallocarray(h->line, cap, 1);
			h->cap = cap;
		}
		memcpy(h->line + h->len, buf, n);
		h->len += n;
		buf += n;
		len -= n;
		if (lf == NULL)
			break;
		n = h->len;
		h->len = 0;
		if (header_line(h, h->line, n) == -1)
			return -1;
	}
	return pass(h, buf, len);
}

int
smtp_hdr_finish(struct smtp_hdr *h)
{
	size_t	n = h->len;

	if (!h->in_header)
		return 0;
	h->len = 0;
	/* a last line without LF cannot happen (the reader ends lines) */
	if (n > 0 && pass(h, h->line, n) == -1)
		return -1;
	return end_header(h, false);
}

void
smtp_hdr_free(struct smtp_hdr *h)
{
	free(h->line);
	h->line = NULL;
	h->cap = 0;
	free(h->add);
	h->add = NULL;
	h->active = h->in_header = false;
}
