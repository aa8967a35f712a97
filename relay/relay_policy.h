/*
 * Per-destination TLS policy (relay.tls.policy): which STARTTLS level a
 * delivery request gets. The queue runner (root, queue/relay_sched.c)
 * asks it for every request it builds; the relay engine asks whether any
 * destination wants DANE, to turn on DNSSEC validation in its resolver.
 * Pure look-ups in the loaded configuration: no I/O, no allocation.
 *
 * An entry is "key=level", level none|may|encrypt|verify|dane. A key is
 * a domain ("example.org": that name only), a parent domain with a
 * leading dot (".example.org": every name below it, not example.org
 * itself), or a next hop as relay.routes and relay.smarthost write it
 * ("[smtp.isp.example]:587"). Names compare without regard to case; the
 * first entry for a key wins. This follows Postfix's smtp_tls_policy_maps.
 */
#ifndef MAILD_RELAY_POLICY_H
#define MAILD_RELAY_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "relay.h"

/*
 * The level of the entry for name: the name itself, then (for a domain)
 * ".parent" for each parent domain, nearest first. 1 found (*level set),
 * 0 no entry.
 */
int		relay_policy_find(const struct config *cfg, const char *name,
		    enum relay_tls *level);

/*
 * The level for one request: the entry of the next hop; else those of
 * the recipients' domains (the strictest of them when they differ, in
 * the order none < may < encrypt < dane < verify); else
 * relay.tls.security_level.
 */
enum relay_tls	relay_policy_tls(const struct config *cfg, const char *nexthop,
		    const struct relay_rcpt_req *rcpts, size_t nrcpts);

/* Whether relay.tls.security_level or any policy entry is level. */
bool		relay_policy_uses(const struct config *cfg,
		    enum relay_tls level);

/*
 * Copies a relay_res.tls_info ("TLSv1.3 TLS_AES_256_GCM_SHA384 verified")
 * into out as one log token ("TLSv1.3/TLS_AES_256_GCM_SHA384/verified"),
 * "none" when empty; truncated to outsz.
 */
void		relay_policy_tls_token(const char *info, char *out,
		    size_t outsz);

#endif
