/*
 * The relay worker's resolver: libunbound, set up before the worker
 * chroots (forwarders from relay.dns_servers or /etc/resolv.conf, the
 * DNSSEC trust anchor read into memory), asked inside the chroot with a
 * deadline on every question. Its caches are kept small: a relay worker
 * is one of many processes.
 */
#ifndef MAILD_RELAY_DNS_H
#define MAILD_RELAY_DNS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct ub_result;
struct relay_dns;

/* relay_dns_query() results. */
#define RELAY_DNS_DATA		1	/* records of that type */
#define RELAY_DNS_NODATA	0	/* the name exists, with none */
#define RELAY_DNS_NXDOMAIN	(-2)	/* no such name */
#define RELAY_DNS_TEMP		(-1)	/* SERVFAIL, REFUSED, timeout, bogus */

/*
 * Makes the resolver from cfg (relay.dns_servers, else /etc/resolv.conf;
 * the trust anchor when validate is set). Reads every file it needs now.
 * NULL with err on failure.
 */
struct relay_dns	*relay_dns_new(const struct config *cfg, bool validate,
			    char *err, size_t errsz);
void			 relay_dns_free(struct relay_dns **);

/*
 * Asks for name's records of type (1 A, 28 AAAA, 15 MX, 52 TLSA), waiting
 * at most timeout_ms. Returns one of RELAY_DNS_*; on DATA *out is the
 * answer (the caller frees it with ub_resolve_free), else NULL. *secure
 * says whether the answer (data or its absence) was DNSSEC-validated.
 * On TEMP, err says why ("SERVFAIL", "timed out", "bogus: ...").
 */
int	relay_dns_query(struct relay_dns *, const char *name, int type,
	    int timeout_ms, struct ub_result **out, bool *secure, char *err,
	    size_t errsz);

#endif
