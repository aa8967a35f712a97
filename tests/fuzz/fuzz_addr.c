/*
 * libFuzzer target for common/addr.c. Input: one flags octet, then the
 * text. Checks that whatever parses as a path or mailbox formats back to
 * text that parses to the same address, that results stay within the
 * RFC 5321 limits, and that an accepted HELO argument is copied whole
 * and holds no space or control character.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(e)	do { if (!(e)) { fprintf(stderr, "%s:%d: %s\n", \
			    __FILE__, __LINE__, #e); abort(); } } while (0)

static void
same(const struct mailaddr *a, const struct mailaddr *b)
{
	CHECK(strcmp(a->local, b->local) == 0);
	CHECK(strcmp(a->domain, b->domain) == 0);
}

/* An accepted address: sane, and its text parses back to it. */
static void
roundtrip(const struct mailaddr *a, unsigned flags)
{
	struct mailaddr	b;
	struct reason	r;
	char		text[ADDR_TEXT_SIZE], path[ADDR_TEXT_SIZE + 2];
	size_t		used;

	CHECK(strlen(a->local) <= SMTP_LOCALPART_MAX);
	CHECK(strlen(a->domain) <= SMTP_DOMAIN_MAX);
	CHECK(!addr_has_utf8(a) || (flags & ADDR_UTF8));
	CHECK(addr_format(a, text, sizeof(text)) == 0);
	CHECK(strlen(text) <= ADDR_TEXT_MAX);
	snprintf(path, sizeof(path), "<%s>", text);
	CHECK(addr_parse_path(path, strlen(path), flags, &b, &used, &r) == 0);
	CHECK(used == strlen(path));
	same(a, &b);
	if (!addr_is_null(a)) {
		CHECK(addr_parse_mailbox(text, strlen(text), flags, &b,
		    &r) == 0);
		same(a, &b);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mailaddr	 a;
	struct reason	 r;
	const char	*s;
	char		 dom[SMTP_DOMAIN_MAX + 1];
	size_t		 len, used, i;
	unsigned	 flags;

	if (size < 1)
		return 0;
	flags = data[0] & (ADDR_ALLOW_NULL | ADDR_ALLOW_POSTMASTER |
	    ADDR_UTF8 | ADDR_SENDER);
	s = (const char *)data + 1;
	len = size - 1;

	if (addr_parse_path(s, len, flags, &a, &used, &r) == 0) {
		CHECK(used >= 2 && used <= len && used <= SMTP_PATH_MAX);
		CHECK(s[0] == '<' && s[used - 1] == '>');
		CHECK(!addr_is_null(&a) || (flags & ADDR_ALLOW_NULL));
		CHECK(a.domain[0] != '\0' || addr_is_null(&a) ||
		    ((flags & ADDR_ALLOW_POSTMASTER) &&
		    addr_is_postmaster(&a)));
		roundtrip(&a, flags);
	} else {
		CHECK(r.status[0] == '5' && r.text[0] != '\0');
		CHECK(addr_is_null(&a));
	}

	if (addr_parse_mailbox(s, len, flags, &a, &r) == 0) {
		CHECK(!addr_is_null(&a));
		roundtrip(&a, flags);
	}

	if (addr_parse_domain(s, len, flags, dom, sizeof(dom), &r) == 0) {
		CHECK(strlen(dom) == len && memcmp(dom, s, len) == 0);
		for (i = 0; i < len; i++)
			CHECK((unsigned char)dom[i] > ' ' && dom[i] != 0x7f);
	} else
		CHECK(dom[0] == '\0' && strcmp(r.status, "5.5.4") == 0);
	return 0;
}
