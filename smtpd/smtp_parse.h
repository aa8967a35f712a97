/*
 * SMTP command lines, parsed: the verb split off one line, and the
 * arguments of MAIL, RCPT and AUTH with their ESMTP parameters. No I/O
 * and no state: which verbs exist, which are allowed now and what the
 * session does with the result is the command table's business.
 *
 * Every parser returns 0, or -1 with the reply code in *code_out and
 * the enhanced status and text in r, ready to be sent as
 * "<code> <r.status> <r.text>":
 *	500 5.5.2  the line is not a command (control characters, no verb)
 *	501 5.5.2  the arguments do not follow the grammar
 *	501 5.1.7 / 5.1.3  a bad sender / recipient address
 *	553 5.6.7  a non-ASCII address without SMTPUTF8 (RFC 6531)
 *	501 5.5.4  an ESMTP parameter with a bad value, or given twice
 *	555 5.5.4  an unknown ESMTP parameter, or one of an extension the
 *		   caller did not advertise (RFC 5321 4.1.1.11, 4.3.2)
 *	504 5.5.4  (AUTH) a malformed mechanism name
 */
#ifndef MAILD_SMTP_PARSE_H
#define MAILD_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "bounds.h"
#include "reason.h"

struct smtp_cmd {
	char		 verb[SMTP_VERB_MAX + 1];	/* upper case */
	/* After the verb and its spaces; borrowed from the line, not
	 * NUL-terminated at argslen (trailing spaces are cut off). */
	const char	*args;
	size_t		 argslen;
};

/*
 * Splits a command line (without its CRLF): a verb of 1..SMTP_VERB_MAX
 * ASCII letters, any case, then the end of the line or spaces and the
 * arguments. Trailing spaces and tabs are dropped (sloppy clients send
 * them). A line with control characters other than HTAB (NUL, bare CR,
 * ...) or DEL is refused as a whole (500 5.5.2), and so is a verb with
 * other characters or a line starting with a space. A verb longer than
 * SMTP_VERB_MAX is refused with 500 5.5.1 (no such command).
 */
int	smtp_parse_cmd(const char *line, size_t len, struct smtp_cmd *out,
	    int *code_out, struct reason *r);

/*
 * Flags for the argument parsers: what the session advertised in its
 * EHLO reply. A parameter of an extension not advertised is refused
 * with 555 like an unknown one.
 */
#define SMTP_EXT_SIZE		0x0001	/* RFC 1870 */
#define SMTP_EXT_8BITMIME	0x0002	/* RFC 6152: BODY=7BIT/8BITMIME */
#define SMTP_EXT_BINARYMIME	0x0004	/* RFC 3030: BODY=BINARYMIME */
#define SMTP_EXT_SMTPUTF8	0x0008	/* RFC 6531 */
#define SMTP_EXT_AUTH		0x0010	/* RFC 4954: AUTH= */
#define SMTP_EXT_DSN		0x0020	/* RFC 3461: RET ENVID NOTIFY ORCPT */
/* For RCPT: the transaction's MAIL FROM carried SMTPUTF8. */
#define SMTP_TXN_UTF8		0x0100
/*
 * MAIL and RCPT: a path without angle brackets ("FROM:user@example.org")
 * is accepted as one word that parses as a mailbox (smtp.strict_rfc5321_
 * paths off, the default).
 */
#define SMTP_BARE_PATH		0x0200

/* Which parameters were given (smtp_mail_args/smtp_rcpt_args.params). */
#define SMTP_PARAM_SIZE		0x0001
#define SMTP_PARAM_BODY		0x0002
#define SMTP_PARAM_SMTPUTF8	0x0004
#define SMTP_PARAM_AUTH		0x0008
#define SMTP_PARAM_RET		0x0010
#define SMTP_PARAM_ENVID	0x0020
#define SMTP_PARAM_NOTIFY	0x0040
#define SMTP_PARAM_ORCPT	0x0080

enum smtp_body {
	SMTP_BODY_UNSPECIFIED,
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
	SMTP_BODY_BINARYMIME,
};

enum smtp_ret {
	SMTP_RET_UNSPECIFIED,
	SMTP_RET_FULL,
	SMTP_RET_HDRS,
};

/* NOTIFY= bits (RFC 3461 4.1); NEVER is never combined with the others. */
#define SMTP_NOTIFY_NEVER	0x01
#define SMTP_NOTIFY_SUCCESS	0x02
#define SMTP_NOTIFY_FAILURE	0x04
#define SMTP_NOTIFY_DELAY	0x08

struct smtp_mail_args {
	struct mailaddr	 from;		/* addr_is_null() for <> */
	unsigned	 params;	/* SMTP_PARAM_* given */
	/* SIZE= (RFC 1870); a value past UINT64_MAX saturates there. */
	uint64_t	 size;
	enum smtp_body	 body;
	bool		 smtputf8;
	/* AUTH= (RFC 4954 5), xtext decoded; null for AUTH=<>. */
	struct mailaddr	 auth;
	enum smtp_ret	 ret;
	char		 envid[SMTP_ENVID_MAX + 1];	/* xtext decoded */
};

struct smtp_rcpt_args {
	struct mailaddr	 to;		/* domain "" for <Postmaster> */
	unsigned	 params;
	unsigned	 notify;	/* SMTP_NOTIFY_*, 0 when not given */
	char		 orcpt_type[SMTP_ADDRTYPE_MAX + 1];	/* lower case */
	char		 orcpt[SMTP_ORCPT_MAX + 1];	/* xtext decoded */
};

/*
 * Parses MAIL arguments: "FROM:" (any case), the reverse-path, then
 * ESMTP parameters separated by spaces. One space between "FROM:" and
 * "<" is tolerated (a common client bug); so are several spaces between
 * parameters. The path must have angle brackets. flags: SMTP_EXT_*.
 * A non-ASCII path is accepted only with SMTPUTF8 among the parameters
 * (and SMTP_EXT_SMTPUTF8). Returns 0, or -1 with *code_out and r.
 */
int	smtp_parse_mail(const char *args, size_t len, unsigned flags,
	    struct smtp_mail_args *out, int *code_out, struct reason *r);

/*
 * Parses RCPT arguments: "TO:" (any case), the forward-path (or
 * <Postmaster>; never <>; bare with SMTP_BARE_PATH, as for MAIL), then
 * NOTIFY= and ORCPT= when SMTP_EXT_DSN is set. A non-ASCII path needs SMTP_TXN_UTF8. Same results as MAIL.
 */
int	smtp_parse_rcpt(const char *args, size_t len, unsigned flags,
	    struct smtp_rcpt_args *out, int *code_out, struct reason *r);

struct smtp_auth_args {
	char		 mech[SASL_MECH_MAX + 1];	/* upper case */
	bool		 has_ir;	/* an initial response was given */
	/* The initial response, still base64 (checked), borrowed from
	 * args; irlen is 0 for "=" (an empty response, RFC 4954 4). */
	const char	*ir;
	size_t		 irlen;
};

/*
 * Parses AUTH arguments: a SASL mechanism name (RFC 4422 3.1: 1 to 20
 * of A-Z 0-9 - _, any case here) and an optional initial response,
 * which must be "=" or strict base64 (base64.h). Whether the mechanism
 * is offered is the caller's question (504 5.5.4 if not). Returns 0, or
 * -1 with *code_out (501 syntax, 504 bad mechanism name) and r.
 */
int	smtp_parse_auth(const char *args, size_t len,
	    struct smtp_auth_args *out, int *code_out, struct reason *r);

/*
 * Decodes one client line of an AUTH exchange into out (outsize
 * octets, wipe after use): "*" cancels (RFC 4954 4: the session then
 * replies 501); anything else must be strict base64, "" included.
 * Returns 0 with *outlen_out set, 1 when cancelled, or -1 with
 * *code_out (501) and r.
 */
int	smtp_parse_auth_response(const char *line, size_t len, void *out,
	    size_t outsize, size_t *outlen_out, int *code_out,
	    struct reason *r);

/*
 * Whether a command line (without its CRLF) is a BDAT command, well
 * formed or not: "BDAT" in any case, then the end of the line or any
 * octet that cannot continue a verb. Such a line announces a chunk of
 * data; if its size cannot be read, the session cannot know where the
 * chunk ends and must close rather than read the chunk as commands.
 */
bool	smtp_parse_is_bdat(const char *line, size_t len);

/*
 * The arguments of BDAT (RFC 3030 2): "chunk-size [SP LAST]", the size
 * in decimal digits up to UINT64_MAX, LAST in any case. Returns 0 with
 * the values, or -1 with *code_out (501) and r.
 */
int	smtp_parse_bdat(const char *args, size_t len, uint64_t *size_out,
	    bool *last_out, int *code_out, struct reason *r);

/*
 * xtext (RFC 3461 4): "+" and two upper-case hex digits for an octet,
 * other octets 33..126 except "+" and "=" as themselves. Decode: NUL-
 * terminated into out; -1 if malformed, if it decodes to a NUL or if
 * out is too small. Encode: -1 if out is too small. Both return 0 else.
 */
int	smtp_xtext_decode(const char *s, size_t len, char *out, size_t outsize);
int	smtp_xtext_encode(const char *s, size_t len, char *out, size_t outsize);

#endif
