/*
 * Message text helpers: RFC 5322 dates, the trace headers the smtpd
 * worker puts in front of every message it queues (RFC 5321 4.4), the
 * folding they need, and a small incremental header parser for the
 * queue (bounces quote the original's header) and anything that wants
 * one header's value. Pure string work, no I/O, no allocation.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rfc5322.h"

static const char *const days[] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char *const months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

int
rfc5322_date(time_t t, char *buf, size_t size)
{
	struct tm	tm;
	long		off;
	int		n;

	if (localtime_r(&t, &tm) == NULL || tm.tm_wday < 0 ||
	    tm.tm_wday > 6 || tm.tm_mon < 0 || tm.tm_mon > 11)
		goto bad;
	/* tm_gmtoff: seconds east of UTC, DST included (BSD, glibc) */
	off = tm.tm_gmtoff / 60;
	n = snprintf(buf, size, "%s, %d %s %04d %02d:%02d:%02d %c%02ld%02ld",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    off < 0 ? '-' : '+', (off < 0 ? -off : off) / 60,
	    (off < 0 ? -off : off) % 60);
	if (n < 0 || (size_t)n >= size)
		goto bad;
	return 0;
bad:
	if (size > 0)
		buf[0] = '\0';
	return -1;
}

const char *
rfc5322_with_protocol(bool esmtp, bool tls, bool auth, bool utf8)
{
	static const char *const names[2][2][2] = {
		/* [utf8][tls][auth] */
		{ { "ESMTP", "ESMTPA" }, { "ESMTPS", "ESMTPSA" } },
		{ { "UTF8SMTP", "UTF8SMTPA" }, { "UTF8SMTPS", "UTF8SMTPSA" } },
	};

	if (!esmtp)
		return "SMTP";
	return names[utf8][tls][auth];
}

void
rfc5322_fold_init(struct rfc5322_fold *f, char *buf, size_t size,
    const char *name)
{
	f->buf = buf;
	f->size = size;
	f->len = 0;
	f->col = 0;
	f->overflow = size == 0;
	if (size > 0)
		buf[0] = '\0';
	rfc5322_fold_add(f, name);
	if (!f->overflow && f->len + 1 < f->size) {
		f->buf[f->len++] = ':';
		f->buf[f->len] = '\0';
		f->col++;
	} else
		f->overflow = true;
}

static void
fold_put(struct rfc5322_fold *f, const char *s, size_t n)
{
	if (f->overflow || n >= f->size - f->len) {
		f->overflow = true;
		return;
	}
	memcpy(f->buf + f->len, s, n);
	f->len += n;
	f->buf[f->len] = '\0';
}

/*
 * One unbreakable word: after a space if it fits on the current line,
 * else on a new line. A line never holds only its indentation.
 */
static void
fold_word(struct rfc5322_fold *f, const char *w, size_t n)
{
	if (f->len == 0) {
		fold_put(f, w, n);	/* the field name */
		f->col = n;
	} else if (f->col + 1 + n <= RFC5322_FOLD_AT) {
		fold_put(f, " ", 1);
		fold_put(f, w, n);
		f->col += 1 + n;
	} else {
		fold_put(f, "\n\t", 2);
		fold_put(f, w, n);
		f->col = 1 + n;
	}
}

void
rfc5322_fold_add(struct rfc5322_fold *f, const char *clause)
{
	size_t		 n = strlen(clause), w;
	const char	*p = clause;

	/* whole, if it fits at least on a line of its own (after a TAB) */
	if (f->len == 0 || 1 + n <= RFC5322_FOLD_AT) {
		fold_word(f, clause, n);
		return;
	}
	while (*p != '\0') {
		for (w = 0; p[w] != '\0' && p[w] != ' '; w++)
			;
		if (w > 0)
			fold_word(f, p, w);
		p += w;
		while (*p == ' ')
			p++;
	}
}

int
rfc5322_fold_end(struct rfc5322_fold *f)
{
	fold_put(f, "\n", 1);
	if (f->overflow) {
		if (f->size > 0)
			f->buf[0] = '\0';
		return -1;
	}
	return 0;
}

/*
 * Copies src (NULL reads as "") into dst (dstsize octets), cut to 255
 * octets, with every octet that is not a letter, digit or one of extra
 * (printable ASCII) replaced by "?".
 */
static void
sanitize(char *dst, size_t dstsize, const char *src, const char *extra)
{
	size_t		i;
	unsigned char	ch;

	if (src == NULL)
		src = "";
	for (i = 0; src[i] != '\0' && i < HOST_NAME_MAX_LEN &&
	    i + 1 < dstsize; i++) {
		ch = (unsigned char)src[i];
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || (ch >= ' ' && ch < 0x7f &&
		    strchr(extra, ch) != NULL))
			dst[i] = (char)ch;
		else
			dst[i] = '?';
	}
	dst[i] = '\0';
}

/* Host names and addresses: never "(", ")", "\", ";", space, CTLs. */
#define HOST_EXTRA	".-_:[]"
/* A recipient address: also the specials a quoted local part has. */
#define RCPT_EXTRA	".-_:[]@!#$%&'*+/=?^`{|}~\""
/* TLS details: "version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384". */
#define TLS_EXTRA	" .-_:=/+,"

int
rfc5322_received(const struct rfc5322_received *rv, char *buf, size_t size)
{
	struct rfc5322_fold	f;
	char			helo[HOST_NAME_MAX_LEN + 1];
	char			rdns[HOST_NAME_MAX_LEN + 1];
	char			addr[HOST_NAME_MAX_LEN + 1];
	char			tmp[HOST_NAME_MAX_LEN + 1];
	char			clause[2 * HOST_NAME_MAX_LEN + 32];
	char			date[RFC5322_DATE_MAX];

	sanitize(helo, sizeof(helo), rv->helo != NULL && rv->helo[0] != '\0' ?
	    rv->helo : "unknown", HOST_EXTRA);
	sanitize(rdns, sizeof(rdns), rv->rdns != NULL && rv->rdns[0] != '\0' ?
	    rv->rdns : "unknown", HOST_EXTRA);
	sanitize(addr, sizeof(addr), rv->addr, HOST_EXTRA);
	if (rfc5322_date(rv->date, date, sizeof(date)) == -1)
		goto bad;

	rfc5322_fold_init(&f, buf, size, "Received");
	snprintf(clause, sizeof(clause), "from %s", helo);
	rfc5322_fold_add(&f, clause);
	/* TCP-info: the address as an address literal (RFC 5321 4.1.3) */
	snprintf(clause, sizeof(clause), "(%s [%s%s])", rdns,
	    strchr(addr, ':') != NULL ? "IPv6:" : "", addr);
	rfc5322_fold_add(&f, clause);
	sanitize(tmp, sizeof(tmp), rv->by, HOST_EXTRA);
	snprintf(clause, sizeof(clause), "by %s", tmp);
	rfc5322_fold_add(&f, clause);
	rfc5322_fold_add(&f, "(maild)");
	sanitize(tmp, sizeof(tmp), rv->with, HOST_EXTRA);
	snprintf(clause, sizeof(clause), "with %s", tmp);
	rfc5322_fold_add(&f, clause);
	if (rv->tls != NULL && rv->tls[0] != '\0') {
		/* its spaces stay: fold points inside the comment */
		sanitize(tmp, sizeof(tmp), rv->tls, TLS_EXTRA);
		snprintf(clause, sizeof(clause), "(%s)", tmp);
		rfc5322_fold_add(&f, clause);
	}
	sanitize(tmp, sizeof(tmp), rv->id, HOST_EXTRA);
	snprintf(clause, sizeof(clause), "id %s%s", tmp,
	    rv->rcpt != NULL ? "" : ";");
	rfc5322_fold_add(&f, clause);
	if (rv->rcpt != NULL) {
		sanitize(tmp, sizeof(tmp), rv->rcpt, RCPT_EXTRA);
		snprintf(clause, sizeof(clause), "for <%s>;", tmp);
		rfc5322_fold_add(&f, clause);
	}
	rfc5322_fold_add(&f, date);
	return rfc5322_fold_end(&f);
bad:
	if (size > 0)
		buf[0] = '\0';
	return -1;
}

int
rfc5322_return_path(const char *sender, char *buf, size_t size)
{
	char	tmp[ADDR_TEXT_MAX + 1];
	size_t	i;
	int	n;

	if (sender == NULL)
		sender = "";
	for (i = 0; sender[i] != '\0' && i + 1 < sizeof(tmp); i++)
		tmp[i] = (unsigned char)sender[i] < 0x20 ||
		    (unsigned char)sender[i] > 0x7e ? '?' : sender[i];
	tmp[i] = '\0';
	n = snprintf(buf, size, "Return-Path: <%s>\n", tmp);
	if (n < 0 || (size_t)n >= size) {
		if (size > 0)
			buf[0] = '\0';
		return -1;
	}
	return 0;
}

void
rfc5322_parser_init(struct rfc5322_parser *p)
{
	memset(p, 0, sizeof(*p));
}

void
rfc5322_parse_line(struct rfc5322_parser *p, const char *line, size_t len,
    struct rfc5322_event *ev)
{
	size_t	i, name;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	memset(ev, 0, sizeof(*ev));
	ev->value = line;
	ev->valuelen = len;
	if (p->in_body) {
		ev->type = RFC5322_BODY;
		return;
	}
	if (len == 0) {
		p->in_body = true;
		ev->type = RFC5322_END_OF_HEADERS;
		return;
	}
	if (line[0] == ' ' || line[0] == '\t') {
		if (p->in_field) {
			ev->type = RFC5322_CONTINUATION;
			return;
		}
		goto malformed;
	}
	/* field-name = 1*ftext, ftext = %d33-57 / %d59-126 */
	for (i = 0; i < len && (unsigned char)line[i] >= 33 &&
	    (unsigned char)line[i] <= 126 && line[i] != ':'; i++)
		;
	name = i;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;	/* obs-optional (RFC 5322 4.5.3) */
	if (name == 0 || i >= len || line[i] != ':')
		goto malformed;
	for (i++; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	p->in_field = true;
	ev->type = RFC5322_HEADER;
	ev->name = line;
	ev->namelen = name;
	ev->value = line + i;
	ev->valuelen = len - i;
	return;
malformed:
	p->in_body = true;
	p->malformed = true;
	ev->type = RFC5322_BODY;
}

bool
rfc5322_parser_malformed(const struct rfc5322_parser *p)
{
	return p->malformed;
}

static bool
name_eq(const char *a, size_t alen, const char *b)
{
	size_t	i;

	if (strlen(b) != alen)
		return false;
	for (i = 0; i < alen; i++) {
		unsigned char	x = (unsigned char)a[i];
		unsigned char	y = (unsigned char)b[i];

		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

int
rfc5322_header_get(const char *msg, size_t len, const char *name,
    char *buf, size_t size)
{
	struct rfc5322_parser	 p;
	struct rfc5322_event	 ev;
	const char		*line = msg, *nl;
	size_t			 llen, o = 0, n;
	bool			 found = false;

	if (size == 0)
		return 0;
	buf[0] = '\0';
	rfc5322_parser_init(&p);
	while (line < msg + len) {
		nl = memchr(line, '\n', (size_t)(msg + len - line));
		llen = nl != NULL ? (size_t)(nl - line) :
		    (size_t)(msg + len - line);
		rfc5322_parse_line(&p, line, llen, &ev);
		line += llen + (nl != NULL);
		if (!found) {
			if (ev.type == RFC5322_HEADER &&
			    name_eq(ev.name, ev.namelen, name))
				found = true;
			else if (ev.type == RFC5322_HEADER ||
			    ev.type == RFC5322_CONTINUATION)
				continue;
			else
				break;	/* end of the header section */
		} else if (ev.type != RFC5322_CONTINUATION)
			break;
		/* unfolding removes the line end only (RFC 5322 2.2.3) */
		n = ev.valuelen;
		if (n > size - 1 - o)
			n = size - 1 - o;
		memcpy(buf + o, ev.value, n);
		o += n;
	}
	if (!found)
		return 0;
	while (o > 0 && (buf[o - 1] == ' ' || buf[o - 1] == '\t'))
		o--;
	buf[o] = '\0';
	/* a value that was empty on its first line starts with the fold */
	for (n = 0; n < o && (buf[n] == ' ' || buf[n] == '\t'); n++)
		;
	memmove(buf, buf + n, o - n + 1);
	return 1;
}
