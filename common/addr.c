/*
 * RFC 5321 address grammar: Path and Mailbox (4.1.2), address literals
 * (4.1.3), the HELO/EHLO argument, and quoting on output. The smtpd
 * worker (unprivileged) calls it for every MAIL, RCPT and EHLO; the
 * privileged side and the queue call it for aliases, the config and
 * bounces. No I/O, no allocation: every result fits a fixed buffer
 * sized from bounds.h. RFC 6531 adds UTF-8 to local parts and domains
 * when the caller says the transaction is SMTPUTF8.
 */
#include "autoconf.h"

#include <string.h>

#include "addr.h"

/* One parse in progress over s[0..len). */
struct cur {
	const char	*s;
	size_t		 len;
	size_t		 pos;
	unsigned	 flags;
	struct reason	*r;
};

static int	 fail(struct cur *, const char *);
static int	 fail_utf8(struct cur *);
static bool	 is_atext(unsigned char);
static size_t	 utf8_at(struct cur *);
static int	 parse_local(struct cur *, struct mailaddr *, bool *);
static int	 parse_literal(struct cur *, char *, size_t);
static int	 parse_domain(struct cur *, char *, size_t);
static int	 parse_mailbox(struct cur *, struct mailaddr *);
static bool	 ipv4_valid(const char *, size_t);
static bool	 ipv6_valid(const char *, size_t);
static bool	 is_dot_string(const char *);

/* A syntax error: 5.1.7 for a sender, 5.1.3 for anything else. */
static int
fail(struct cur *c, const char *why)
{
	if (c->flags & ADDR_SENDER)
		reason_set(c->r, "5.1.7", "bad sender address syntax: %s",
		    why);
	else
		reason_set(c->r, "5.1.3", "bad address syntax: %s", why);
	return -1;
}

/* RFC 6531: without SMTPUTF8 the reply is 553 5.6.7. */
static int
fail_utf8(struct cur *c)
{
	reason_set(c->r, "5.6.7",
	    "non-ASCII address needs SMTPUTF8");
	return -1;
}

/* RFC 5321 4.1.2 atext (from RFC 5322 3.2.3), ASCII part. */
static bool
is_atext(unsigned char ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9'))
		return true;
	return ch != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL;
}

static bool
is_alnum(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9');
}

static bool
is_hex(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
	    (ch >= 'A' && ch <= 'F');
}

size_t
addr_utf8_seqlen(const char *str, size_t n)
{
	const unsigned char	*s = (const unsigned char *)str;
	unsigned char		 lo = 0x80, hi = 0xbf;
	size_t			 need, i;

	if (n == 0 || s[0] < 0xc2 || s[0] > 0xf4)
		return 0;	/* ASCII, continuation, overlong, > U+10FFFF */
	if (s[0] < 0xe0)
		need = 2;
	else if (s[0] < 0xf0) {
		need = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;	/* UTF-16 surrogates */
	} else {
		need = 4;
		if (s[0] == 0xf0)
			lo = 0x90;	/* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;	/* past U+10FFFF */
	}
	if (n < need || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < need; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return need;
}

/*
 * The UTF-8 character at the cursor (which is on a non-ASCII octet):
 * its length, or 0 after setting the reason. C1 controls (U+0080 to
 * U+009F) are refused too: well-formed, but never part of a name.
 */
static size_t
utf8_at(struct cur *c)
{
	const unsigned char	*p = (const unsigned char *)c->s + c->pos;
	size_t			 n;

	if (!(c->flags & ADDR_UTF8)) {
		fail_utf8(c);
		return 0;
	}
	n = addr_utf8_seqlen(c->s + c->pos, c->len - c->pos);
	if (n == 0 || (p[0] == 0xc2 && p[1] < 0xa0)) {
		fail(c, "malformed UTF-8");
		return 0;
	}
	return n;
}

/*
 * Local-part = Dot-string / Quoted-string. Stores the canonical form
 * and whether it was quoted. The 64-octet limit (RFC 5321 4.5.3.1.1)
 * counts the octets as sent, quotes included; the canonical form is
 * never longer, so checking the one keeps the other in its buffer.
 */
static int
parse_local(struct cur *c, struct mailaddr *out, bool *quoted_out)
{
	size_t		start = c->pos, o = 0, n, skip;
	unsigned char	ch;
	bool		quoted, dot = true;	/* an atom must start here */

	quoted = c->pos < c->len && c->s[c->pos] == '"';
	*quoted_out = quoted;
	if (quoted)
		c->pos++;
	for (;;) {
		if (c->pos >= c->len) {
			if (quoted)
				return fail(c, "unterminated quoted string");
			break;
		}
		ch = (unsigned char)c->s[c->pos];
		skip = 0;	/* the backslash of a quoted pair */
		n = 1;
		if (ch >= 0x80) {
			if ((n = utf8_at(c)) == 0)
				return -1;
			dot = false;
		} else if (quoted) {
			if (ch == '"') {
				c->pos++;
				break;
			}
			if (ch == '\\') {
				/* quoted-pairSMTP = %d92 %d32-126 */
				if (c->pos + 1 >= c->len ||
				    (unsigned char)c->s[c->pos + 1] < 32 ||
				    (unsigned char)c->s[c->pos + 1] > 126)
					return fail(c, "bad quoted pair");
				skip = 1;
			} else if (ch < 32 || ch > 126)
				return fail(c, "control character in address");
		} else if (ch == '.') {
			/* Dot-string = Atom *("." Atom) */
			if (dot)
				return fail(c, "misplaced dot in local part");
			dot = true;
		} else if (is_atext(ch))
			dot = false;
		else
			break;
		if (c->pos + skip + n - start > SMTP_LOCALPART_MAX)
			return fail(c, "local part longer than 64 octets");
		memcpy(out->local + o, c->s + c->pos + skip, n);
		o += n;
		c->pos += skip + n;
	}
	if (!quoted && dot)
		return fail(c, o == 0 ? "empty local part" :
		    "misplaced dot in local part");
	if (c->pos - start > SMTP_LOCALPART_MAX)
		return fail(c, "local part longer than 64 octets");
	out->local[o] = '\0';
	return 0;
}

/* IPv4-address-literal = Snum 3("." Snum), Snum 0..255 in 1-3 digits. */
static bool
ipv4_valid(const char *s, size_t n)
{
	size_t	i = 0;
	int	part, digits, v;

	for (part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= n || s[i] != '.')
				return false;
			i++;
		}
		for (v = 0, digits = 0; i < n && s[i] >= '0' && s[i] <= '9';
		    i++, digits++) {
			if (digits == 3)
				return false;
			v = v * 10 + (s[i] - '0');
		}
		if (digits == 0 || v > 255)
			return false;
	}
	return i == n;
}

/*
 * IPv6-addr (RFC 5321 4.1.3): eight groups of 1-4 hex digits, the last
 * two of which may be an IPv4 address; "::" once, standing for at least
 * two zero groups, so at most six groups may be written beside it.
 */
static bool
ipv6_valid(const char *s, size_t n)
{
	size_t	i = 0, j, k;
	int	groups = 0;
	bool	dcolon = false, v4;

	if (n >= 2 && s[0] == ':' && s[1] == ':') {
		dcolon = true;
		i = 2;
	} else if (n == 0 || s[0] == ':')
		return false;
	while (i < n) {
		for (j = i, v4 = false; j < n && s[j] != ':'; j++)
			if (s[j] == '.')
				v4 = true;
		if (v4) {
			/* the IPv4 part ends the address */
			if (j != n || !ipv4_valid(s + i, j - i))
				return false;
			groups += 2;
			break;
		}
		if (j == i || j - i > 4)
			return false;
		for (k = i; k < j; k++)
			if (!is_hex((unsigned char)s[k]))
				return false;
		groups++;
		if (j == n)
			break;
		if (j + 1 < n && s[j + 1] == ':') {
			if (dcolon)
				return false;
			dcolon = true;
			i = j + 2;
		} else {
			i = j + 1;
			if (i == n)
				return false;	/* trailing single colon */
		}
		if (groups > 8)
			return false;
	}
	return dcolon ? groups <= 6 : groups == 8;
}

/*
 * address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
 * General-address-literal ) "]". Copies it, brackets and all, to out.
 * No General-address-literal tag is registered, so those are refused.
 */
static int
parse_literal(struct cur *c, char *out, size_t outsize)
{
	size_t		 start = c->pos, end;
	const char	*in;
	size_t		 inlen;

	for (end = start + 1; end < c->len && c->s[end] != ']'; end++) {
		unsigned char	ch = (unsigned char)c->s[end];

		/* dcontent = %d33-90 / %d94-126 */
		if (ch < 33 || ch > 126 || ch == '[' || ch == '\\')
			return fail(c, "invalid character in address literal");
	}
	if (end >= c->len)
		return fail(c, "unterminated address literal");
	in = c->s + start + 1;
	inlen = end - start - 1;
	if (inlen >= 5 && (in[0] == 'I' || in[0] == 'i') &&
	    (in[1] == 'P' || in[1] == 'p') && (in[2] == 'v' || in[2] == 'V') &&
	    in[3] == '6' && in[4] == ':') {
		if (!ipv6_valid(in + 5, inlen - 5))
			return fail(c, "invalid IPv6 address literal");
	} else if (!ipv4_valid(in, inlen)) {
		if (memchr(in, ':', inlen) != NULL)
			return fail(c, "unsupported address literal");
		return fail(c, "invalid IPv4 address literal");
	}
	if (end + 1 - start >= outsize)
		return fail(c, "address literal too long");
	memcpy(out, c->s + start, end + 1 - start);
	out[end + 1 - start] = '\0';
	c->pos = end + 1;
	return 0;
}

/*
 * Domain = sub-domain *("." sub-domain), sub-domain = Let-dig [Ldh-str]
 * (a label starts and ends with a letter or digit, "-" inside), or an
 * address literal. With ADDR_UTF8 a UTF-8 character counts as a letter
 * (RFC 6531 3.3: U-labels). Labels 63, the whole 255 octets.
 */
static int
parse_domain(struct cur *c, char *out, size_t outsize)
{
	size_t		start = c->pos, label, n;
	unsigned char	ch, last;

	if (c->pos < c->len && c->s[c->pos] == '[')
		return parse_literal(c, out, outsize);
	for (;;) {
		label = c->pos;
		last = 0;
		while (c->pos < c->len) {
			ch = (unsigned char)c->s[c->pos];
			if (is_alnum(ch))
				n = 1;
			else if (ch == '-') {
				if (c->pos == label)
					return fail(c,
					    "domain label starts with '-'");
				n = 1;
			} else if (ch >= 0x80) {
				if ((n = utf8_at(c)) == 0)
					return -1;
			} else
				break;
			last = ch;
			c->pos += n;
			if (c->pos - label > DNS_LABEL_MAX)
				return fail(c,
				    "domain label longer than 63 octets");
			if (c->pos - start > SMTP_DOMAIN_MAX)
				return fail(c,
				    "domain longer than 255 octets");
		}
		if (c->pos == label)
			return fail(c, c->pos == start ? "missing domain" :
			    "empty domain label");
		if (last == '-')
			return fail(c, "domain label ends with '-'");
		if (c->pos < c->len && c->s[c->pos] == '.') {
			c->pos++;
			continue;
		}
		break;
	}
	if (c->pos - start >= outsize)
		return fail(c, "domain longer than 255 octets");
	memcpy(out, c->s + start, c->pos - start);
	out[c->pos - start] = '\0';
	return 0;
}

/* Mailbox = Local-part "@" ( Domain / address-literal ), or Postmaster. */
static int
parse_mailbox(struct cur *c, struct mailaddr *out)
{
	bool	quoted;

	if (parse_local(c, out, &quoted) == -1)
		return -1;
	if (c->pos >= c->len || c->s[c->pos] != '@') {
		/* RFC 5321 4.1.1.3: "<Postmaster>" with no domain */
		if ((c->flags & ADDR_ALLOW_POSTMASTER) && !quoted &&
		    addr_is_postmaster(out)) {
			out->domain[0] = '\0';
			return 0;
		}
		if (c->pos < c->len && c->s[c->pos] != '>')
			return fail(c, "invalid character in local part");
		return fail(c, "missing @domain");
	}
	c->pos++;
	return parse_domain(c, out->domain, sizeof(out->domain));
}

int
addr_parse_path(const char *s, size_t len, unsigned flags,
    struct mailaddr *out, size_t *consumed_out, struct reason *r)
{
	struct cur	c = { s, len, 0, flags, r };
	char		skip[SMTP_DOMAIN_MAX + 1];

	memset(out, 0, sizeof(*out));
	if (len == 0 || s[0] != '<')
		return fail(&c, "address must be enclosed in <>");
	c.pos = 1;
	if (len > 1 && s[1] == '>') {
		if (!(flags & ADDR_ALLOW_NULL))
			return fail(&c, "null address not allowed here");
		if (consumed_out != NULL)
			*consumed_out = 2;
		return 0;
	}
	if (len > 1 && s[1] == '@') {
		/* A-d-l = At-domain *( "," At-domain ) ":"; ignored (C.1) */
		for (;;) {
			if (c.pos >= len || s[c.pos] != '@')
				return fail(&c, "bad source route");
			c.pos++;
			if (c.pos < len && s[c.pos] == '[')
				return fail(&c, "bad source route");
			if (parse_domain(&c, skip, sizeof(skip)) == -1)
				return -1;
			if (c.pos < len && s[c.pos] == ',') {
				c.pos++;
				continue;
			}
			if (c.pos < len && s[c.pos] == ':') {
				c.pos++;
				break;
			}
			return fail(&c, "bad source route");
		}
	}
	if (parse_mailbox(&c, out) == -1)
		goto bad;
	if (c.pos >= len || s[c.pos] != '>') {
		fail(&c, c.pos >= len ? "missing '>'" :
		    "invalid character in address");
		goto bad;
	}
	c.pos++;
	if (c.pos > SMTP_PATH_MAX) {
		fail(&c, "path longer than 256 octets");
		goto bad;
	}
	if (consumed_out != NULL)
		*consumed_out = c.pos;
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return -1;
}

int
addr_parse_mailbox(const char *s, size_t len, unsigned flags,
    struct mailaddr *out, struct reason *r)
{
	struct cur	c = { s, len, 0, flags, r };

	memset(out, 0, sizeof(*out));
	if (parse_mailbox(&c, out) == -1)
		goto bad;
	if (c.pos != len) {
		fail(&c, "invalid character in address");
		goto bad;
	}
	if (len > ADDR_TEXT_MAX) {
		fail(&c, "address longer than 254 octets");
		goto bad;
	}
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return -1;
}

int
addr_parse_domain(const char *s, size_t len, unsigned flags, char *out,
    size_t outsize, struct reason *r)
{
	struct cur	c = { s, len, 0, flags, NULL };
	size_t		i, label = 0, n;
	unsigned char	ch;

	if (outsize > 0)
		out[0] = '\0';
	if (len == 0) {
		reason_set(r, "5.5.4", "host name missing");
		return -1;
	}
	if (len > SMTP_DOMAIN_MAX || len >= outsize) {
		reason_set(r, "5.5.4", "host name longer than 255 octets");
		return -1;
	}
	if (s[0] == '[') {
		if (parse_literal(&c, out, outsize) == -1 || c.pos != len)
			goto bad;
		return 0;
	}
	if (memchr(s, ':', len) != NULL) {
		/* a bare IPv6 address, as some clients send */
		if (!ipv6_valid(s, len))
			goto bad;
		goto ok;
	}
	for (i = 0; i < len; i += n) {
		ch = (unsigned char)s[i];
		n = 1;
		if (ch == '.') {
			if (label == 0)
				goto bad;	/* empty label */
			label = 0;
			continue;
		}
		if (ch >= 0x80) {
			c.pos = i;
			c.flags = flags;
			if (!(flags & ADDR_UTF8) || (n = utf8_at(&c)) == 0)
				goto bad;
		} else if (!is_alnum(ch) && ch != '-' && ch != '_')
			goto bad;
		if ((label += n) > DNS_LABEL_MAX)
			goto bad;
	}
ok:
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
bad:
	if (outsize > 0)
		out[0] = '\0';
	reason_set(r, "5.5.4", "invalid host name");
	return -1;
}

/*
 * Whether s can be written as a Dot-string (RFC 5321 4.1.2) without
 * quotes. Non-ASCII octets are UTF-8 that the parser already checked.
 */
static bool
is_dot_string(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	bool			 dot = true;	/* no dot first */

	if (*p == '\0')
		return false;
	for (; *p != '\0'; p++) {
		if (*p == '.') {
			if (dot)
				return false;
			dot = true;
		} else if (is_atext(*p) || *p >= 0x80)
			dot = false;
		else
			return false;
	}
	return !dot;
}

int
addr_format(const struct mailaddr *a, char *buf, size_t size)
{
	size_t		 o = 0;
	const char	*p;
	bool		 quote;

#define PUT(ch) do {				\
	if (o + 1 >= size)			\
		goto toosmall;			\
	buf[o++] = (ch);			\
} while (0)

	if (size == 0)
		return -1;
	if (addr_is_null(a)) {
		buf[0] = '\0';
		return 0;
	}
	quote = !is_dot_string(a->local);
	if (quote)
		PUT('"');
	for (p = a->local; *p != '\0'; p++) {
		if (quote && (*p == '"' || *p == '\\'))
			PUT('\\');
		PUT(*p);
	}
	if (quote)
		PUT('"');
	if (a->domain[0] != '\0') {
		PUT('@');
		for (p = a->domain; *p != '\0'; p++)
			PUT(*p);
	}
	buf[o] = '\0';
	return 0;
toosmall:
	buf[0] = '\0';
	return -1;
#undef PUT
}

bool
addr_is_null(const struct mailaddr *a)
{
	return a->local[0] == '\0' && a->domain[0] == '\0';
}

bool
addr_is_postmaster(const struct mailaddr *a)
{
	return addr_domain_cmp(a->local, "postmaster") == 0;
}

bool
addr_has_utf8(const struct mailaddr *a)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)a->local; *p != '\0'; p++)
		if (*p >= 0x80)
			return true;
	for (p = (const unsigned char *)a->domain; *p != '\0'; p++)
		if (*p >= 0x80)
			return true;
	return false;
}

static unsigned char
ascii_lower(unsigned char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch - 'A' + 'a') : ch;
}

/* Not strcasecmp(): that follows the locale; this is ASCII only. */
int
addr_domain_cmp(const char *a, const char *b)
{
	const unsigned char	*p = (const unsigned char *)a;
	const unsigned char	*q = (const unsigned char *)b;

	while (*p != '\0' && ascii_lower(*p) == ascii_lower(*q)) {
		p++;
		q++;
	}
	return (int)ascii_lower(*p) - (int)ascii_lower(*q);
}

void
addr_lower_domain(char *domain)
{
	unsigned char	*p;

	for (p = (unsigned char *)domain; *p != '\0'; p++)
		*p = ascii_lower(*p);
}
