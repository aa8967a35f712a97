/*
 * MX records from DNS wire data to the list the relay tries (RFC 5321
 * 5.1, RFC 7505), without the resolver: pure functions on the rdata
 * libunbound hands back, so that tests/fuzz/fuzz_dns_answer.c can drive
 * them with hostile bytes. In the relay worker (unprivileged, chrooted).
 */
#ifndef MAILD_RELAY_MX_H
#define MAILD_RELAY_MX_H

#include <stdbool.h>
#include <stddef.h>

#include "relay.h"

struct relay_mx {
	char		host[RELAY_HOST_MAX + 1];	/* lower case, no final dot */
	unsigned	pref;
};

/*
 * Writes the uncompressed wire-format domain name at wire (len bytes)
 * as text (lower case, no final dot; "" for the root) into out. Returns
 * the bytes the name took, or -1 if it is malformed, runs past len,
 * holds a compression pointer or a byte that no host name has, or does
 * not fit in outsz.
 */
int	relay_dname_text(const unsigned char *wire, size_t len, char *out,
	    size_t outsz);
/*
 * Reads n MX rdata records (data[i], len[i] bytes each) into out (room
 * for max). A malformed record is skipped and counted in *nbad. Returns
 * 1 if any record is a null MX (target "."; RFC 7505: then the whole set
 * is null), else 0; *nout is the number of records kept.
 */
int	relay_mx_parse(char *const *data, const int *len, size_t n,
	    struct relay_mx *out, size_t max, size_t *nout, size_t *nbad);
/* Sorts by preference and shuffles each run of equal ones (RFC 5321 5.1). */
void	relay_mx_sort(struct relay_mx *mx, size_t n);
/* Whether a and b name the same host (any case, a final dot ignored). */
bool	relay_host_eq(const char *a, const char *b);

#endif
