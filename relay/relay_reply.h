/*
 * The SMTP client's reply parser (RFC 5321 4.2, 4.2.1): gathers the
 * lines of one reply, single- or multi-line, and checks them; then
 * reads an EHLO reply's keywords (RFC 1869, 1870, 2920, 3207, 3461,
 * 4954, 6152, 6531, 2034). Pure functions on bytes, in the relay
 * worker (unprivileged, chrooted); tests/fuzz/fuzz_smtp_reply.c drives
 * them with hostile input. Nothing a server sends can make them read or
 * write out of bounds: a malformed reply is an error with a reason.
 */
#ifndef MAILD_RELAY_REPLY_H
#define MAILD_RELAY_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "bounds.h"

struct relay_reply {
	int	 code;			/* 0 until the first line */
	int	 nlines;
	bool	 done;			/* the last line has been fed */
	bool	 truncated;		/* text was cut at RELAY_REPLY_TEXT_MAX */
	char	 status[8];		/* "5.1.1" if the first line had one */
	/* The text after "NNN " / "NNN-" of each line, joined by '\n'. */
	char	 text[RELAY_REPLY_TEXT_MAX];
	size_t	 textlen;
	char	 err[128];		/* why the reply is malformed */
};

/* struct relay_ehlo.flags: the extensions we use. */
#define RELAY_EXT_PIPELINING	0x0001
#define RELAY_EXT_SIZE		0x0002
#define RELAY_EXT_8BITMIME	0x0004
#define RELAY_EXT_SMTPUTF8	0x0008
#define RELAY_EXT_ENHANCED	0x0010	/* ENHANCEDSTATUSCODES */
#define RELAY_EXT_DSN		0x0020
#define RELAY_EXT_STARTTLS	0x0040
#define RELAY_EXT_AUTH_PLAIN	0x0080
#define RELAY_EXT_AUTH_LOGIN	0x0100

struct relay_ehlo {
	unsigned		flags;
	unsigned long long	size;	/* SIZE's limit; 0: none given */
};

/* Starts a new reply in r. */
void	relay_reply_init(struct relay_reply *r);
/*
 * Feeds one line of a reply, without its line end, len bytes (it may
 * hold a NUL: that is an error), crlf telling whether it ended in CR LF
 * (a bare LF is an error). Returns 1 when that was the reply's last
 * line, 0 when more lines follow, -1 when the reply is malformed (r->err
 * says why; the session cannot go on).
 */
int	relay_reply_feed(struct relay_reply *r, const char *line, size_t len,
	    bool crlf);
/*
 * The first line's text, without the enhanced status code, in buf
 * (cut to bufsz, never empty of a NUL); what a bounce quotes.
 */
const char *relay_reply_line(const struct relay_reply *r, char *buf,
	    size_t bufsz);
/* Reads the keywords of a complete 250 reply to EHLO into e. */
void	relay_reply_ehlo(const struct relay_reply *r, struct relay_ehlo *e);

#endif
