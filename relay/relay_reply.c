/*
 * The SMTP client's reply parser: see relay_reply.h. RFC 5321 4.2: a
 * reply is one or more lines "NNN-text" ending with "NNN text" (or a
 * bare "NNN"), all with the same code; 4.2.1: the first digit is 2 to 5,
 * the second 0 to 5. RFC 3463: an enhanced status code "c.s.d" opens
 * the text when the server speaks ENHANCEDSTATUSCODES (RFC 2034); we
 * take it when its class matches the reply's.
 *
 * Everything here is bounded: at most RELAY_REPLY_LINES_MAX lines, of
 * at most RELAY_REPLY_LINE_MAX bytes each (the caller reads them with
 * that limit), and the text we keep is cut at RELAY_REPLY_TEXT_MAX.
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "reason.h"
#include "relay_reply.h"

static size_t	enhanced_len(const char *s, size_t len, char cls);
static void	text_append(struct relay_reply *, const char *, size_t);

void
relay_reply_init(struct relay_reply *r)
{
	memset(r, 0, sizeof(*r));
}

/*
 * The length of an RFC 3463 status code "c.sss.ddd" at s followed by a
 * space or the end, whose class is cls; 0 if there is none.
 */
static size_t
enhanced_len(const char *s, size_t len, char cls)
{
	size_t	i = 0, n;
	int	part;

	if (len < 5 || s[0] != cls || s[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (n = 0; i < len && n < 3 && isdigit((unsigned char)s[i]);
		    n++)
			i++;
		if (n == 0)
			return 0;
		if (part == 0) {
			if (i >= len || s[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < len && s[i] != ' ')
		return 0;
	/* it must fit struct reason's status: "5.123.12" and longer do not
	 * (no such code is registered); they count as no code */
	if (i >= sizeof(((struct reason *)0)->status))
		return 0;
	return i;
}

static void
text_append(struct relay_reply *r, const char *s, size_t n)
{
	size_t	room;

	if (r->textlen > 0) {
		if (r->textlen + 1 >= sizeof(r->text)) {
			r->truncated = true;
			return;
		}
		r->text[r->textlen++] = '\n';
	}
	room = sizeof(r->text) - 1 - r->textlen;
	if (n > room) {
		n = room;
		r->truncated = true;
	}
	memcpy(r->text + r->textlen, s, n);
	r->textlen += n;
	r->text[r->textlen] = '\0';
}

int
relay_reply_feed(struct relay_reply *r, const char *line, size_t len,
    bool crlf)
{
	const char	*text;
	size_t		 i, tlen, elen;
	int		 code;
	bool		 last;

	if (r->done) {
		snprintf(r->err, sizeof(r->err), "a line after the reply's end");
		return -1;
	}
	if (!crlf) {
		snprintf(r->err, sizeof(r->err), "a reply line ended by a bare "
		    "LF or not at all");
		return -1;
	}
	if (len > RELAY_REPLY_LINE_MAX) {
		snprintf(r->err, sizeof(r->err), "a reply line longer than %d "
		    "bytes", RELAY_REPLY_LINE_MAX);
		return -1;
	}
	if (memchr(line, '\0', len) != NULL) {
		snprintf(r->err, sizeof(r->err), "a NUL in a reply line");
		return -1;
	}
	for (i = 0; i < len; i++) {
		/* RFC 5321 4.2: printable US-ASCII, SP and HT; take 8-bit
		 * text (some servers send it) but no other controls */
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t') {
			snprintf(r->err, sizeof(r->err), "a control character "
			    "(0x%02x) in a reply line", (unsigned char)line[i]);
			return -1;
		}
	}
	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' ||
	    line[1] > '5' || !isdigit((unsigned char)line[2]) ||
	    (len > 3 && line[3] != ' ' && line[3] != '-')) {
		/* line need not be NUL-terminated: print len bytes at most */
		snprintf(r->err, sizeof(r->err), "not an SMTP reply line: "
		    "\"%.*s\"", len < 40 ? (int)len : 40, line);
		return -1;
	}
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->code != 0 && code != r->code) {
		snprintf(r->err, sizeof(r->err), "the reply code changed from "
		    "%d to %d in a multi-line reply", r->code, code);
		return -1;
	}
	if (r->nlines >= RELAY_REPLY_LINES_MAX) {
		snprintf(r->err, sizeof(r->err), "a reply of more than %d lines",
		    RELAY_REPLY_LINES_MAX);
		return -1;
	}
	r->nlines++;
	r->code = code;
	last = len == 3 || line[3] == ' ';
	text = len > 4 ? line + 4 : "";
	tlen = len > 4 ? len - 4 : 0;
	if (r->nlines == 1 &&
	    (elen = enhanced_len(text, tlen, line[0])) > 0) {
		memcpy(r->status, text, elen);
		r->status[elen] = '\0';
	}
	text_append(r, text, tlen);
	if (last)
		r->done = true;
	return last ? 1 : 0;
}

const char *
relay_reply_line(const struct relay_reply *r, char *buf, size_t bufsz)
{
	const char	*s = r->text, *nl;
	size_t		 n;

	if (bufsz == 0)
		return buf;
	if (r->status[0] != '\0') {
		s += strlen(r->status);
		while (*s == ' ')
			s++;
	}
	nl = strchr(s, '\n');
	n = nl != NULL ? (size_t)(nl - s) : strlen(s);
	if (n >= bufsz)
		n = bufsz - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
}

/* Whether the word at s (n bytes) is kw, in any case. */
static bool
word_is(const char *s, size_t n, const char *kw)
{
	return strlen(kw) == n && strncasecmp(s, kw, n) == 0;
}

void
relay_reply_ehlo(const struct relay_reply *r, struct relay_ehlo *e)
{
	const char	*line = r->text, *end, *w, *p;
	size_t		 wl;
	char		*num_end;
	unsigned long long v;
	bool		 first = true;

	memset(e, 0, sizeof(*e));
	while (*line != '\0') {
		end = strchr(line, '\n');
		if (end == NULL)
			end = line + strlen(line);
		/* the first line is the server's name and greeting */
		if (first) {
			first = false;
			goto next;
		}
		for (p = line; p < end && *p != ' '; p++)
			;
		w = line;
		wl = (size_t)(p - line);
		if (word_is(w, wl, "PIPELINING"))
			e->flags |= RELAY_EXT_PIPELINING;
		else if (word_is(w, wl, "8BITMIME"))
			e->flags |= RELAY_EXT_8BITMIME;
		else if (word_is(w, wl, "SMTPUTF8"))
			e->flags |= RELAY_EXT_SMTPUTF8;
		else if (word_is(w, wl, "ENHANCEDSTATUSCODES"))
			e->flags |= RELAY_EXT_ENHANCED;
		else if (word_is(w, wl, "DSN"))
			e->flags |= RELAY_EXT_DSN;
		else if (word_is(w, wl, "STARTTLS"))
			e->flags |= RELAY_EXT_STARTTLS;
		else if (word_is(w, wl, "SIZE")) {
			e->flags |= RELAY_EXT_SIZE;
			e->size = 0;
			if (p < end && isdigit((unsigned char)p[1])) {
				/* text is NUL-terminated: strtoull stops in it */
				v = strtoull(p + 1, &num_end, 10);
				if (num_end <= end)
					e->size = v;
			}
		} else if (word_is(w, wl, "AUTH")) {
			while (p < end) {
				while (p < end && *p == ' ')
					p++;
				for (w = p; p < end && *p != ' '; p++)
					;
				wl = (size_t)(p - w);
				if (word_is(w, wl, "PLAIN"))
					e->flags |= RELAY_EXT_AUTH_PLAIN;
				else if (word_is(w, wl, "LOGIN"))
					e->flags |= RELAY_EXT_AUTH_LOGIN;
			}
		}
next:
		line = *end == '\n' ? end + 1 : end;
	}
}
