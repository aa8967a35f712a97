/*
 * UIDL computation for mbox messages (see uidl.h): SHA-256 through
 * OpenSSL's EVP interface, and a small open-addressing set that numbers
 * duplicate hashes. Called by the POP3 worker (unprivileged) from
 * mbox_scan() and mbox_index; no I/O, no privileges. RFC 1939 7 for what
 * a unique-id may contain.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "bounds.h"
#include "log.h"
#include "uidl.h"
#include "xmalloc.h"

struct uidl_hash {
	EVP_MD		*md;	/* fetched once: cheaper per message */
	EVP_MD_CTX	*ctx;
};

struct uidl_slot {
	uint64_t	key[2];	/* the 128 hashed bits */
	uint32_t	count;	/* 0 = empty slot */
};

struct uidl_set {
	struct uidl_slot	*v;
	size_t			 cap;	/* a power of two */
	int			 bits;	/* log2(cap) */
	size_t			 used;
};

static const char uidl_hexdigits[] = "0123456789abcdef";

static int	uidl_hexval(int);
static bool	uidl_parse(const char *, uint64_t[2]);
static void	uidl_set_grow(struct uidl_set *);
static struct uidl_slot *uidl_set_slot(struct uidl_set *, const uint64_t[2]);

struct uidl_hash *
uidl_hash_new(void)
{
	struct uidl_hash	*h = xcalloc(1, sizeof(*h));

	if ((h->md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
	    (h->ctx = EVP_MD_CTX_new()) == NULL)
		fatalx("OpenSSL: cannot set up SHA-256");
	return h;
}

void
uidl_hash_free(struct uidl_hash **hp)
{
	struct uidl_hash	*h = *hp;

	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	EVP_MD_free(h->md);
	free(h);
	*hp = NULL;
}

void
uidl_hash_begin(struct uidl_hash *h)
{
	if (EVP_DigestInit_ex2(h->ctx, h->md, NULL) != 1)
		fatalx("OpenSSL: SHA-256 init failed");
}

void
uidl_hash_update(struct uidl_hash *h, const void *p, size_t n)
{
	if (n > 0 && EVP_DigestUpdate(h->ctx, p, n) != 1)
		fatalx("OpenSSL: SHA-256 update failed");
}

void
uidl_hash_end(struct uidl_hash *h, char hex_out[UIDL_HEX_LEN + 1])
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	len = 0;
	int		i;

	if (EVP_DigestFinal_ex(h->ctx, md, &len) != 1 ||
	    len < UIDL_HEX_LEN / 2)
		fatalx("OpenSSL: SHA-256 final failed");
	for (i = 0; i < UIDL_HEX_LEN / 2; i++) {
		hex_out[2 * i] = uidl_hexdigits[md[i] >> 4];
		hex_out[2 * i + 1] = uidl_hexdigits[md[i] & 15];
	}
	hex_out[UIDL_HEX_LEN] = '\0';
}

static int
uidl_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool
uidl_parse(const char *hex, uint64_t key[2])
{
	int	i, v;

	key[0] = key[1] = 0;
	for (i = 0; i < UIDL_HEX_LEN; i++) {
		if ((v = uidl_hexval((unsigned char)hex[i])) == -1)
			return false;
		key[i / 16] = key[i / 16] << 4 | (uint64_t)v;
	}
	return true;
}

struct uidl_set *
uidl_set_new(size_t hint)
{
	struct uidl_set	*s = xcalloc(1, sizeof(*s));

	s->cap = 64;
	s->bits = 6;
	while (s->cap < hint * 2 && s->bits < 40) {
		s->cap *= 2;
		s->bits++;
	}
	s->v = xcalloc(s->cap, sizeof(*s->v));
	return s;
}

void
uidl_set_free(struct uidl_set **sp)
{
	struct uidl_set	*s = *sp;

	if (s == NULL)
		return;
	free(s->v);
	free(s);
	*sp = NULL;
}

static struct uidl_slot *
uidl_set_slot(struct uidl_set *s, const uint64_t key[2])
{
	size_t	i;

	/*
	 * SHA-256 output needs no mixing, but the set should not depend on
	 * that: Fibonacci hashing takes the top bits of a multiplication.
	 */
	i = (size_t)(((key[0] ^ key[1]) * 0x9e3779b97f4a7c15ULL) >>
	    (64 - s->bits));
	while (s->v[i].count != 0 &&
	    (s->v[i].key[0] != key[0] || s->v[i].key[1] != key[1]))
		i = (i + 1) & (s->cap - 1);
	return &s->v[i];
}

static void
uidl_set_grow(struct uidl_set *s)
{
	struct uidl_slot	*old = s->v, *slot;
	size_t			 oldcap = s->cap, i;

	s->cap *= 2;
	s->bits++;
	s->v = xcalloc(s->cap, sizeof(*s->v));
	for (i = 0; i < oldcap; i++) {
		if (old[i].count == 0)
			continue;
		slot = uidl_set_slot(s, old[i].key);
		*slot = old[i];
	}
	free(old);
}

uint32_t
uidl_set_add(struct uidl_set *s, const char *hex)
{
	struct uidl_slot	*slot;
	uint64_t		 key[2];
	uint32_t		 before;

	if (!uidl_parse(hex, key))
		panic("uidl_set_add: not a hash: %.32s", hex);
	if ((s->used + 1) * 2 > s->cap)
		uidl_set_grow(s);
	slot = uidl_set_slot(s, key);
	if (slot->count == 0) {
		slot->key[0] = key[0];
		slot->key[1] = key[1];
		s->used++;
	}
	before = slot->count;
	if (slot->count < UINT32_MAX)
		slot->count++;
	/* slot->count is 1 + the earlier ones; saturated, it stays put */
	return before < UINT32_MAX ? before : UINT32_MAX;
}

void
uidl_format(char out[MBOX_UIDL_SIZE], const char *hex, uint32_t dup)
{
	char	digits[10];
	int	n = 0;

	/* by hand: this runs once per message on every open */
	memcpy(out, hex, UIDL_HEX_LEN);
	out += UIDL_HEX_LEN;
	if (dup > 0) {
		*out++ = '-';
		for (; dup > 0; dup /= 10)
			digits[n++] = (char)('0' + dup % 10);
		while (n > 0)
			*out++ = digits[--n];
	}
	*out = '\0';
}

bool
uidl_is_valid(const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x21 ||
		    (unsigned char)s[i] > 0x7e || i >= POP3_UIDL_MAX)
			return false;
	return i > 0;
}

bool
uidl_is_ours(const char *s)
{
	size_t	i;

	for (i = 0; i < UIDL_HEX_LEN; i++)
		if (uidl_hexval((unsigned char)s[i]) == -1)
			return false;
	s += UIDL_HEX_LEN;
	if (*s == '\0')
		return true;
	if (*s++ != '-' || *s < '1' || *s > '9')
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] < '0' || s[i] > '9' || i >= 10)
			return false;
	return true;
}
