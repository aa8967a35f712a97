/*
 * The milter wire format (Sendmail's libmilter protocol, version 6, as
 * Postfix's milter8.c speaks it), for the MTA side in the smtpd worker
 * (unprivileged, chrooted). A packet is a 32-bit big-endian length
 * (command octet plus data), the command, the data; strings end in NUL.
 * This file builds packets and parses the filter's replies; it does no
 * I/O, so the parser is fuzzed alone (tests/fuzz/fuzz_milter_reply.c).
 * Everything a filter sends is checked here before milter.c acts on it.
 */
#include "autoconf.h"

#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "milter_proto.h"
#include "xmalloc.h"

static void
reserve(struct milter_pkt *p, size_t n)
{
	size_t	cap;

	if (p->overflow || n > MILTER_PKT_MAX - p->len) {
		p->overflow = true;
		return;
	}
	if (p->len + n <= p->cap)
		return;
	cap = p->cap ? p->cap : 256;
	while (cap < p->len + n)
		cap *= 2;
	p->buf = xreallocarray(p->buf, cap, 1);
	p->cap = cap;
}

void
milter_pkt_begin(struct milter_pkt *p, char cmd)
{
	p->len = 0;
	p->overflow = false;
	reserve(p, 5);
	memset(p->buf, 0, 4);
	p->buf[4] = cmd;
	p->len = 5;
}

void
milter_pkt_bytes(struct milter_pkt *p, const void *b, size_t n)
{
	reserve(p, n);
	if (p->overflow || n == 0)
		return;
	memcpy(p->buf + p->len, b, n);
	p->len += n;
}

void
milter_pkt_str(struct milter_pkt *p, const char *s)
{
	milter_pkt_bytes(p, s, strlen(s) + 1);
}

void
milter_pkt_u16(struct milter_pkt *p, uint16_t v)
{
	uint16_t	n = htons(v);

	milter_pkt_bytes(p, &n, sizeof(n));
}

void
milter_pkt_u32(struct milter_pkt *p, uint32_t v)
{
	uint32_t	n = htonl(v);

	milter_pkt_bytes(p, &n, sizeof(n));
}

int
milter_pkt_end(struct milter_pkt *p)
{
	uint32_t	n;

	if (p->overflow)
		return -1;
	n = htonl((uint32_t)(p->len - 4));
	memcpy(p->buf, &n, sizeof(n));
	return 0;
}

void
milter_pkt_free(struct milter_pkt *p)
{
	free(p->buf);
	p->buf = NULL;
	p->len = p->cap = 0;
}

static uint32_t
get_u32(const char *d)
{
	uint32_t	n;

	memcpy(&n, d, sizeof(n));
	return ntohl(n);
}

int
milter_parse_optneg(const char *data, size_t len, uint32_t offer_act,
    uint32_t offer_proto, struct milter_neg *out, const char **why)
{
	const char	*p, *nul;
	size_t		 left;
	uint32_t	 stage;

	if (len < 12) {
		*why = "short negotiation reply";
		return -1;
	}
	out->version = get_u32(data);
	out->actions = get_u32(data + 4);
	out->protocol = get_u32(data + 8);
	if (out->version < 2 || out->version > MILTER_VERSION) {
		*why = "unsupported protocol version";
		return -1;
	}
	/* the filter may only take what we offered */
	if ((out->actions & ~offer_act) != 0) {
		*why = "filter wants actions we did not offer";
		return -1;
	}
	/* size flags (MDS_256K, MDS_1M) are fine: our chunks are smaller */
	if ((out->protocol & ~(offer_proto | 0x30000000u)) != 0) {
		*why = "filter wants protocol steps we did not offer";
		return -1;
	}
	/* macro lists: u32 stage, a NUL-terminated list of names */
	p = data + 12;
	left = len - 12;
	while (left > 0) {
		if (left < 5) {
			*why = "truncated macro list";
			return -1;
		}
		stage = get_u32(p);
		p += 4;
		left -= 4;
		if (stage >= MILTER_M_NSTAGES ||
		    (nul = memchr(p, '\0', left)) == NULL) {
			*why = "bad macro list";
			return -1;
		}
		left -= (size_t)(nul - p) + 1;
		p = nul + 1;
	}
	return 0;
}

bool
milter_header_name_ok(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || len > MILTER_HDRNAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		/* RFC 5322 2.2: printable US-ASCII except ":" */
		if (c < 33 || c > 126 || c == ':')
			return false;
	}
	return true;
}

/*
 * A header value may hold a line end only as folding: CRLF or LF, then
 * SP or HT (RFC 5322 2.2.3); nothing else, and no NUL (the string ends
 * there). Bare CR, a line end at the end or before a non-blank would
 * let a filter inject a header or end the header section.
 */
static bool
value_ok(const char *v, size_t len)
{
	size_t	i;

	if (len > MILTER_HDRVALUE_MAX)
		return false;
	for (i = 0; i < len; i++) {
		if (v[i] == '\r') {
			if (i + 1 >= len || v[i + 1] != '\n')
				return false;
			continue;
		}
		if (v[i] == '\n' && (i + 1 >= len ||
		    (v[i + 1] != ' ' && v[i + 1] != '\t')))
			return false;
	}
	return true;
}

/*
 * Takes one NUL-terminated string from *p (left octets). Returns it, or
 * NULL when there is no NUL.
 */
static const char *
take_str(const char **p, size_t *left)
{
	const char	*s = *p, *nul;

	if (*left == 0 || (nul = memchr(s, '\0', *left)) == NULL)
		return NULL;
	*left -= (size_t)(nul - s) + 1;
	*p = nul + 1;
	return s;
}

/* "421", "4xx" or "5xx", " ", optional "x.y.z ", text; no controls. */
static int
parse_replycode(const char *s, struct milter_reply *out)
{
	size_t	i, n;

	if (strlen(s) < 3 || s[0] < '4' || s[0] > '5' || s[1] < '0' ||
	    s[1] > '9' || s[2] < '0' || s[2] > '9' ||
	    (s[3] != ' ' && s[3] != '\0'))
		return -1;
	out->code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	s += s[3] == ' ' ? 4 : 3;
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 32 || s[i] == 127)
			return -1;
	if (i > 400)
		return -1;	/* fits one reply line */
	out->status[0] = '\0';
	/* RFC 3463: class.subject.detail, class matching the code */
	n = strspn(s, "0123456789.");
	if (n >= 5 && n < sizeof(out->status) && (s[n] == ' ' ||
	    s[n] == '\0')) {
		unsigned a, b, c;
		char tail;

		memcpy(out->status, s, n);
		out->status[n] = '\0';
		/* one class digit: "05.7.1" is not class 5 */
		if (out->status[1] != '.' ||
		    sscanf(out->status, "%u.%u.%u%c", &a, &b, &c, &tail) != 3 ||
		    (int)a != out->code / 100 || b > 999 || c > 999)
			return -1;
		s += n;
		while (*s == ' ')
			s++;
	}
	out->text = s;
	return 0;
}

int
milter_parse_reply(char cmd, const char *data, size_t len,
    struct milter_reply *out, const char **why)
{
	const char	*p = data;
	size_t		 left = len;

	memset(out, 0, sizeof(*out));
	out->cmd = cmd;
	*why = "malformed reply";
	switch (cmd) {
	case MILTER_R_ACCEPT:
	case MILTER_R_CONTINUE:
	case MILTER_R_DISCARD:
	case MILTER_R_REJECT:
	case MILTER_R_TEMPFAIL:
	case MILTER_R_PROGRESS:
	case MILTER_R_SKIP:
	case MILTER_R_CONN_FAIL:
	case MILTER_R_SHUTDOWN:
		return 0;	/* trailing data ignored, as libmilter does */
	case MILTER_R_REPLYCODE:
		if ((out->text = take_str(&p, &left)) == NULL ||
		    parse_replycode(out->text, out) == -1) {
			*why = "bad reply code";
			return -1;
		}
		return 0;
	case MILTER_R_REPLBODY:
		out->data = data;
		out->datalen = len;
		return 0;
	case MILTER_R_QUARANTINE:
		if ((out->name = take_str(&p, &left)) == NULL ||
		    !value_ok(out->name, strlen(out->name)) ||
		    strpbrk(out->name, "\r\n") != NULL)
			return -1;
		return 0;
	case MILTER_R_INSHEADER:
	case MILTER_R_CHGHEADER:
		if (left < 4)
			return -1;
		out->index = get_u32(p);
		p += 4;
		left -= 4;
		/* FALLTHROUGH */
	case MILTER_R_ADDHEADER:
		if ((out->name = take_str(&p, &left)) == NULL ||
		    (out->value = take_str(&p, &left)) == NULL)
			return -1;
		if (!milter_header_name_ok(out->name, strlen(out->name))) {
			*why = "invalid header name";
			return -1;
		}
		if (!value_ok(out->value, strlen(out->value))) {
			*why = "invalid header value (CR, LF or too long)";
			return -1;
		}
		return 0;
	case MILTER_R_CHGFROM:
	case MILTER_R_ADDRCPT_PAR:
		if ((out->name = take_str(&p, &left)) == NULL)
			return -1;
		if (left > 0 && (out->value = take_str(&p, &left)) == NULL)
			return -1;
		goto addr;
	case MILTER_R_ADDRCPT:
	case MILTER_R_DELRCPT:
		if ((out->name = take_str(&p, &left)) == NULL)
			return -1;
	addr:
		if (strlen(out->name) > SMTP_PATH_MAX ||
		    strpbrk(out->name, "\r\n") != NULL ||
		    (out->value != NULL && (strlen(out->value) > IPC_STR_MAX ||
		    strpbrk(out->value, "\r\n") != NULL))) {
			*why = "bad address in reply";
			return -1;
		}
		return 0;
	default:
		*why = "unknown reply";
		return -1;
	}
}
