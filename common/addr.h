/*
 * RFC 5321 addresses: the <path> of MAIL FROM and RCPT TO, a bare
 * mailbox (AUTH=, aliases, the config), and the HELO/EHLO argument.
 * Parsing and quoting only: no I/O, no lookups, no allocation.
 *
 * A parsed address keeps its local part in canonical form: the content
 * of a quoted string with its quoting removed (<"a b"@x> and <a\ b@x>
 * are not the same thing, but <"ab"@x> and <ab@x> are the same mailbox
 * and both come out as local "ab"). addr_format() adds the quotes back
 * where the result would not otherwise be a Dot-string. The domain is
 * kept as sent (case included); an address literal keeps its brackets.
 */
#ifndef MAILD_ADDR_H
#define MAILD_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "bounds.h"
#include "reason.h"

struct mailaddr {
	/* Canonical (unquoted) local part; "" for the null path. */
	char	local[SMTP_LOCALPART_MAX + 1];
	/* Domain or "[literal]"; "" for the null path and for <Postmaster>. */
	char	domain[SMTP_DOMAIN_MAX + 1];
};

/* addr_parse_* flags. */
#define ADDR_ALLOW_NULL		0x01	/* "<>" is accepted (reverse-path) */
#define ADDR_ALLOW_POSTMASTER	0x02	/* "<Postmaster>" without a domain */
#define ADDR_UTF8		0x04	/* RFC 6531: UTF-8 allowed */
#define ADDR_SENDER		0x08	/* errors say 5.1.7, not 5.1.3 */

/* Enough for addr_format() of any address parse_path accepts, with NUL. */
#define ADDR_TEXT_SIZE		(ADDR_TEXT_MAX + 1)

/*
 * Parses an RFC 5321 4.1.2 Path at the start of s (len bytes; s need not
 * be NUL-terminated): "<" [A-d-l ":"] Mailbox ">". A source route
 * (<@a,@b:user@d>) is checked and thrown away. Stores the address in
 * *out and the number of bytes up to and including ">" in *consumed_out
 * (may be NULL); what follows is the caller's. Returns 0, or -1 with r
 * saying why: 5.1.7 (ADDR_SENDER) or 5.1.3 for syntax and length errors
 * (local part 64, domain 255, path 256 octets), 5.6.7 when the address
 * has non-ASCII octets and ADDR_UTF8 is not set (RFC 6531: the reply
 * is then 553, "non-ASCII addresses not permitted").
 */
int	addr_parse_path(const char *s, size_t len, unsigned flags,
	    struct mailaddr *out, size_t *consumed_out, struct reason *r);

/*
 * Parses a whole Mailbox without angle brackets ("user@example.org",
 * "\"a b\"@[192.0.2.1]"; "Postmaster" alone with ADDR_ALLOW_POSTMASTER).
 * All len bytes must belong to it. Same results as addr_parse_path.
 */
int	addr_parse_mailbox(const char *s, size_t len, unsigned flags,
	    struct mailaddr *out, struct reason *r);

/*
 * Checks a HELO/EHLO argument (all len bytes) and copies it to out
 * (outsize >= SMTP_DOMAIN_MAX + 1), unchanged. Accepted, on purpose
 * more than RFC 5321 4.1.1.1 allows because real clients send it:
 *   - names of letters, digits, "-" and "_" in dot-separated labels of
 *     at most 63 octets, one trailing dot allowed, and a label may
 *     start or end with "-" ("EHLO DESKTOP-1_A", "EHLO mx.example.");
 *     so a bare IPv4 address ("EHLO 192.0.2.1") is accepted as a name;
 *   - address literals ("[192.0.2.1]", "[IPv6:2001:db8::1]"), checked
 *     strictly, and a bare IPv6 address ("EHLO 2001:db8::1");
 *   - with ADDR_UTF8, UTF-8 letters in labels.
 * Never accepted: an empty argument, spaces, control characters, empty
 * labels, more than 255 octets. Returns 0, or -1 with r (5.5.4; the
 * reply is 501).
 */
int	addr_parse_domain(const char *s, size_t len, unsigned flags,
	    char *out, size_t outsize, struct reason *r);

/*
 * Writes the address as text into buf: "local@domain", the local part
 * quoted (with \" and \\ escaped) when it is not a Dot-string,
 * "Postmaster" for a domainless <Postmaster>, "" for the null path.
 * Returns 0, or -1 if buf is too small (buf then holds "").
 * ADDR_TEXT_SIZE is always enough for a parsed address.
 */
int	addr_format(const struct mailaddr *, char *buf, size_t size);

/* Whether a is the null reverse-path <>. */
bool	addr_is_null(const struct mailaddr *a);
/*
 * Whether the local part is "postmaster" in any case (RFC 5321 4.5.1).
 * Says nothing about the domain: the caller checks it is one of ours.
 */
bool	addr_is_postmaster(const struct mailaddr *a);
/* Whether the address has any octet outside US-ASCII (needs SMTPUTF8). */
bool	addr_has_utf8(const struct mailaddr *a);

/* Compares two domains ignoring ASCII case (never locale-dependent). */
int	addr_domain_cmp(const char *a, const char *b);
/* Lower-cases the ASCII letters of a domain in place. */
void	addr_lower_domain(char *domain);

/*
 * Length of the well-formed UTF-8 sequence (2 to 4 octets; no overlong
 * forms, surrogates or code points past U+10FFFF) starting at s, which
 * has n octets; 0 if there is none. For an ASCII octet returns 0 too.
 */
size_t	addr_utf8_seqlen(const char *s, size_t n);

#endif
