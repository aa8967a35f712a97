/*
 * libFuzzer target for relay/relay_mx.c: DNS rdata (as libunbound hands
 * it back) to the MX list. Input: records, each a length octet then that
 * many bytes (the last one cut short if the input ends). Checks: every
 * kept host is a non-empty lower-case name of letters, digits, '-', '_'
 * and dots, at most RELAY_HOST_MAX long, no more than the room given;
 * sorting keeps every entry and orders preferences; the name decoder
 * never claims more bytes than it was given.
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/relay_mx.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(e)	do { if (!(e)) { fprintf(stderr, "%s:%d: %s\n", \
			    __FILE__, __LINE__, #e); abort(); } } while (0)

#define RECORDS_MAX	32

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct relay_mx	 mx[8];
	char			*rec[RECORDS_MAX + 1];
	int			 len[RECORDS_MAX + 1];
	char			 name[RELAY_HOST_MAX + 1];
	size_t			 n = 0, i, off = 0, nout, nbad, l, j;
	unsigned		 sum = 0, sum2 = 0;
	int			 used;

	while (off < size && n < RECORDS_MAX) {
		l = data[off++];
		if (l > size - off)
			l = size - off;
		rec[n] = malloc(l + 1);
		CHECK(rec[n] != NULL);
		memcpy(rec[n], data + off, l);
		len[n] = (int)l;
		n++;
		off += l;
	}
	rec[n] = NULL;
	(void)relay_mx_parse(rec, len, n, mx, NITEMS(mx), &nout, &nbad);
	CHECK(nout <= NITEMS(mx) && nout + nbad <= n);
	for (i = 0; i < nout; i++) {
		l = strlen(mx[i].host);
		CHECK(l > 0 && l <= RELAY_HOST_MAX);
		for (j = 0; j < l; j++)
			CHECK(islower((unsigned char)mx[i].host[j]) ||
			    isdigit((unsigned char)mx[i].host[j]) ||
			    strchr("-_.", mx[i].host[j]) != NULL);
		CHECK(mx[i].pref <= 0xffff);
		sum += mx[i].pref;
	}
	relay_mx_sort(mx, nout);
	for (i = 0; i < nout; i++) {
		sum2 += mx[i].pref;
		if (i > 0)
			CHECK(mx[i - 1].pref <= mx[i].pref);
	}
	CHECK(sum == sum2);
	for (i = 0; i < n; i++) {
		used = relay_dname_text((const unsigned char *)rec[i],
		    (size_t)len[i], name, sizeof(name));
		CHECK(used <= len[i]);
		if (used >= 0)
			CHECK(strlen(name) <= RELAY_HOST_MAX);
		free(rec[i]);
	}
	return 0;
}
