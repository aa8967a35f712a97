/*
 * Message text helpers (RFC 5322): the date-time format, trace headers
 * (Received:, Return-Path:) built and folded for the queue, and an
 * incremental header parser. No I/O. Everything written here uses LF
 * line ends, as the queue stores messages.
 */
#ifndef MAILD_RFC5322_H
#define MAILD_RFC5322_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "bounds.h"

/*
 * Writes t as an RFC 5322 3.3 date-time in the local time zone with a
 * numeric offset: "Tue, 25 Nov 2026 17:41:33 +0000". English names
 * whatever the locale. Returns 0, or -1 if buf (RFC5322_DATE_MAX is
 * enough) is too small or the time cannot be converted.
 */
int	rfc5322_date(time_t t, char *buf, size_t size);

/*
 * The "with" protocol name of a Received: header (RFC 3848, RFC 6531
 * 3.7.3): SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA, UTF8SMTP, UTF8SMTPS,
 * UTF8SMTPA, UTF8SMTPSA. tls/auth/utf8 only count with esmtp (EHLO).
 */
const char *rfc5322_with_protocol(bool esmtp, bool tls, bool auth,
	    bool utf8);

/* Any string may be NULL: HELO and RDNS then read "unknown", the rest "". */
struct rfc5322_received {
	const char	*helo;	/* the client's HELO/EHLO argument; NULL */
	const char	*rdns;	/* its checked reverse DNS name; NULL */
	const char	*addr;	/* its IP address as text: "192.0.2.1" */
	const char	*by;	/* our host name */
	const char	*with;	/* rfc5322_with_protocol() */
	const char	*tls;	/* "version=TLSv1.3 cipher=..."; NULL */
	const char	*id;	/* queue id */
	const char	*rcpt;	/* "for <rcpt>" with one recipient; NULL */
	time_t		 date;
};

/*
 * Builds the Received: header (RFC 5321 4.4), LF-terminated, into buf
 * (RFC5322_TRACE_MAX is enough):
 *	Received: from HELO (RDNS [ADDR])
 *		by BY (maild) with PROTO (TLS) id ID
 *		for <RCPT>; DATE
 * folded at spaces so that lines stay within 78 characters wherever a
 * space allows. The client controls HELO (and, through its DNS, RDNS):
 * every field is cut to 255 octets and anything but letters, digits
 * and ".-_:[]" (in RCPT also the address characters, in TLS "=/+,")
 * becomes "?", so no field can end the header, open or close a comment
 * or add a line. A missing HELO or RDNS reads "unknown"; an IPv6 ADDR
 * gets its "IPv6:" tag. Returns 0, or -1 if buf is too small.
 */
int	rfc5322_received(const struct rfc5322_received *, char *buf,
	    size_t size);

/*
 * Builds "Return-Path: <SENDER>\n" (RFC 5321 4.4; "<>" for the null
 * sender, "" or NULL; control characters and non-ASCII become "?").
 * Returns 0, or -1 if buf is too small.
 */
int	rfc5322_return_path(const char *sender, char *buf, size_t size);

/*
 * Header folding for the headers we build: name, then clauses added
 * one by one. A clause goes on the current line if it fits in 78
 * characters, else on a new line (LF TAB); a clause too long even for
 * a line of its own is broken at its spaces. A word longer than a line
 * is left whole (RFC 5322 2.1.1 allows up to 998).
 */
struct rfc5322_fold {
	char	*buf;
	size_t	 size;
	size_t	 len;		/* octets in buf, without the NUL */
	size_t	 col;		/* characters on the current line */
	bool	 overflow;
};

/* Starts "name:" in buf (size octets). */
void	rfc5322_fold_init(struct rfc5322_fold *, char *buf, size_t size,
	    const char *name);
/* Adds one clause (no leading or trailing spaces, no control chars). */
void	rfc5322_fold_add(struct rfc5322_fold *, const char *clause);
/* Ends the header with LF. Returns 0, or -1 (buf "") if it overflowed. */
int	rfc5322_fold_end(struct rfc5322_fold *);

/* Incremental header parser: one event per line pushed. */
enum rfc5322_event_type {
	RFC5322_HEADER,		/* a field starts: name and value */
	RFC5322_CONTINUATION,	/* a folded line of the current field */
	RFC5322_END_OF_HEADERS,	/* the empty line ending the header */
	RFC5322_BODY,		/* a line of the body */
};

struct rfc5322_event {
	enum rfc5322_event_type	 type;
	/* HEADER: the field name (without any obsolete WSP before ":"). */
	const char		*name;
	size_t			 namelen;
	/*
	 * HEADER: the value after ":" and its leading WSP. CONTINUATION and
	 * BODY: the whole line. END_OF_HEADERS: empty. Borrowed from the
	 * line pushed.
	 */
	const char		*value;
	size_t			 valuelen;
};

struct rfc5322_parser {
	bool	in_body;
	bool	in_field;	/* a field started; continuations allowed */
	bool	malformed;	/* the header section did not end properly */
};

void	rfc5322_parser_init(struct rfc5322_parser *);

/*
 * Pushes one line (len octets, with or without its LF or CRLF, which
 * are ignored) and fills *ev. Field names are 1*ftext (printable ASCII
 * but ":"), with obsolete WSP before the colon accepted (RFC 5322
 * 4.5). In the header section, a line that is neither a field nor a
 * continuation of one ends the header section without the empty line:
 * it comes back as the first BODY line and rfc5322_parser_malformed()
 * says so. Never fails.
 */
void	rfc5322_parse_line(struct rfc5322_parser *, const char *line,
	    size_t len, struct rfc5322_event *ev);

/* Whether the header section ended without its empty line. */
bool	rfc5322_parser_malformed(const struct rfc5322_parser *);

/*
 * Finds the first field called name (any case) in the message text
 * msg (len octets, LF or CRLF line ends) and copies its unfolded value
 * (line ends removed, RFC 5322 2.2.3; leading and trailing WSP cut)
 * into buf, cut to size - 1 octets. Only the header section is looked
 * at. Returns 1 found, 0 not found (buf "").
 */
int	rfc5322_header_get(const char *msg, size_t len, const char *name,
	    char *buf, size_t size);

#endif
