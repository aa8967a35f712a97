/*
 * MX rdata to the list of hosts to try: see relay_mx.h. RFC 1035 3.1
 * (names: labels of at most 63 octets, 255 in all), 3.3.9 (MX: a 16-bit
 * preference and a name), RFC 7505 (null MX), RFC 5321 5.1 (order:
 * lowest preference first, equal preferences in random order).
 */
#include "autoconf.h"

#include <sys/random.h>

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "relay_mx.h"

static uint32_t	random_u32(void);

int
relay_dname_text(const unsigned char *wire, size_t len, char *out,
    size_t outsz)
{
	size_t	i = 0, o = 0, l, j;
	unsigned char c;

	if (outsz == 0)
		return -1;
	for (;;) {
		if (i >= len)
			return -1;
		l = wire[i++];
		if (l == 0)
			break;
		if (l > 63 || i + l > len || i > 255)
			return -1;	/* a pointer (0xc0) is > 63 too */
		if (o > 0) {
			if (o + 1 >= outsz)
				return -1;
			out[o++] = '.';
		}
		for (j = 0; j < l; j++) {
			c = wire[i + j];
			/* letters, digits, '-', and '_' (SRV-like labels) */
			if (!isalnum(c) && c != '-' && c != '_')
				return -1;
			if (o + 1 >= outsz)
				return -1;
			out[o++] = (char)tolower(c);
		}
		i += l;
	}
	if (i > 255)
		return -1;
	out[o] = '\0';
	return (int)i;
}

int
relay_mx_parse(char *const *data, const int *len, size_t n,
    struct relay_mx *out, size_t max, size_t *nout, size_t *nbad)
{
	const unsigned char *d;
	size_t		 i, l;
	int		 used, null = 0;

	*nout = 0;
	*nbad = 0;
	for (i = 0; i < n; i++) {
		if (data[i] == NULL || len[i] < 3) {
			(*nbad)++;
			continue;
		}
		d = (const unsigned char *)data[i];
		l = (size_t)len[i];
		if (*nout >= max) {
			/* still look for a null MX among the rest */
			if (l == 3 && d[2] == 0)
				null = 1;
			continue;
		}
		used = relay_dname_text(d + 2, l - 2, out[*nout].host,
		    sizeof(out[*nout].host));
		if (used < 0 || (size_t)used != l - 2) {
			(*nbad)++;
			continue;
		}
		if (out[*nout].host[0] == '\0') {
			null = 1;
			continue;
		}
		out[*nout].pref = (unsigned)d[0] << 8 | d[1];
		(*nout)++;
	}
	return null;
}

/* Random bits for the shuffle; quality matters little, failure never. */
static uint32_t
random_u32(void)
{
	uint32_t	v;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
		v = (uint32_t)random();
	return v;
}

void
relay_mx_sort(struct relay_mx *mx, size_t n)
{
	struct relay_mx	 t;
	size_t		 i, j, run, k;

	/* insertion sort: stable, and n is at most RELAY_MX_MAX */
	for (i = 1; i < n; i++) {
		t = mx[i];
		for (j = i; j > 0 && mx[j - 1].pref > t.pref; j--)
			mx[j] = mx[j - 1];
		mx[j] = t;
	}
	/* Fisher-Yates within each run of equal preference */
	for (i = 0; i < n; i = run) {
		for (run = i + 1; run < n && mx[run].pref == mx[i].pref; run++)
			;
		for (k = run - 1; k > i; k--) {
			j = i + random_u32() % (k - i + 1);
			t = mx[k];
			mx[k] = mx[j];
			mx[j] = t;
		}
	}
}

bool
relay_host_eq(const char *a, const char *b)
{
	size_t	la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}
