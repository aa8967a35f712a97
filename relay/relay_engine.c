/*
 * The relay engine: what one relay worker does for one delivery request
 * (relay.h is the contract with the runner). relay_engine_new() runs in
 * the fresh worker before it drops privileges and chroots, and reads
 * everything the engine will need (resolver set-up, CA file, our own
 * addresses); relay_deliver() runs unprivileged in the chroot and opens
 * nothing by path.
 *
 * The next hop (RFC 5321 5.1, RFC 7505): "domain" gets an MX lookup;
 * NXDOMAIN is permanent, SERVFAIL/REFUSED/timeouts/bogus answers are
 * always temporary, no MX at an existing name means the implicit MX
 * (the domain itself), and a null MX bounces with 5.1.10. MX hosts are
 * tried lowest preference first, equal ones shuffled; if we are one of
 * them (our host name, or an address of ours on a port we listen on),
 * only the more preferred ones are tried, and none left means "mail
 * loops back to myself" (5.4.6) when we were the best MX. "[host]" and
 * "[host]:port" skip MX: the host's addresses, or an address literal.
 *
 * Each MX host's IPv6 and IPv4 addresses alternate (relay.address_
 * preference), at most relay.mx_address_limit addresses and
 * relay.mx_session_limit sessions per request. A finished session is
 * kept for relay.connection_cache_time for the next request to the same
 * next hop; a cached session that fails on its first command is
 * replaced by a fresh one without counting as a failure.
 */
#include "autoconf.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <unbound.h>

#include "clock.h"
#include "config.h"
#include "log.h"
#include "relay_dns.h"
#include "relay_engine.h"
#include "relay_mx.h"
#include "relay_policy.h"
#include "xmalloc.h"

/* DNS types (RFC 1035, 3596, 6698). */
#define T_A	1
#define T_MX	15
#define T_AAAA	28
#define T_TLSA	52

/* What resolving a next hop came to. */
struct hop {
	struct relay_addr	 addrs[RELAY_ADDRS_MAX];
	size_t			 n;
	bool			 soft;		/* a temporary failure was seen */
	struct reason		 why;		/* when n == 0 */
};

static void	self_add(struct relay_engine *, const struct sockaddr *);
static bool	is_self(const struct relay_engine *, const struct relay_addr *,
		    unsigned);
static int	host_addrs(struct relay_engine *, const struct relay_req *,
		    const char *, unsigned, unsigned, bool, struct hop *);
static void	resolve_hop(struct relay_engine *, const struct relay_req *,
		    unsigned, struct hop *);
static int	lookup_tlsa(struct relay_engine *, const struct relay_req *,
		    const struct relay_addr *, unsigned, struct relay_dane *,
		    struct reason *);
static void	res_fill(struct relay_res *, const struct relay_session *,
		    const struct relay_addr *);

static void
self_add(struct relay_engine *e, const struct sockaddr *sa)
{
	size_t	len = sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6);

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return;
	e->self = xreallocarray(e->self, e->nself + 1, sizeof(*e->self));
	memset(&e->self[e->nself], 0, sizeof(e->self[0]));
	memcpy(&e->self[e->nself], sa, len);
	e->nself++;
}

static void
listen_self(struct relay_engine *e, const struct listen_list *l)
{
	struct sockaddr_in	sin;
	struct sockaddr_in6	sin6;
	size_t			i;

	for (i = 0; i < l->n; i++) {
		e->ports = xreallocarray(e->ports, e->nports + 1,
		    sizeof(*e->ports));
		e->ports[e->nports++] = l->v[i].port;
		if (l->v[i].host == NULL)
			continue;	/* "*": the interfaces, added already */
		memset(&sin, 0, sizeof(sin));
		memset(&sin6, 0, sizeof(sin6));
		if (inet_pton(AF_INET, l->v[i].host, &sin.sin_addr) == 1) {
			sin.sin_family = AF_INET;
			self_add(e, (struct sockaddr *)&sin);
		} else if (inet_pton(AF_INET6, l->v[i].host,
		    &sin6.sin6_addr) == 1) {
			sin6.sin6_family = AF_INET6;
			self_add(e, (struct sockaddr *)&sin6);
		}
	}
}

struct relay_engine *
relay_engine_new(const struct config *cfg, char *err, size_t errsz)
{
	struct relay_engine	*e;
	struct ifaddrs		*ifa, *i;

	/* a server that closes while we write: an error, not a signal */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		snprintf(err, errsz, "signal: %s", strerror(errno));
		return NULL;
	}
	e = xcalloc(1, sizeof(*e));
	e->hostname = xstrdup(cfg->hostname);
	e->helo = xstrdup(*cfg->relay.helo_name != '\0' ?
	    cfg->relay.helo_name : cfg->hostname);
	e->port = cfg->relay.port;
	e->address_pref = cfg->relay.address_preference;
	e->address_limit = cfg->relay.mx_address_limit;
	e->session_limit = cfg->relay.mx_session_limit;
	e->connect_ms = cfg->relay.connect_timeout * 1000;
	e->command_ms = cfg->relay.command_timeout * 1000;
	e->data_ms = cfg->relay.data_timeout * 1000;
	e->cache_ms = cfg->relay.connection_cache_time * 1000;
	e->reuse_limit = cfg->relay.connection_reuse_limit;
	if ((e->dns = relay_dns_new(cfg, relay_policy_uses(cfg, RELAY_TLS_DANE),
	    err, errsz)) == NULL)
		goto fail;
	if ((e->ssl_ctx = relay_tls_ctx_new(cfg, err, errsz)) == NULL)
		goto fail;
	if (getifaddrs(&ifa) == -1) {
		snprintf(err, errsz, "getifaddrs: %s", strerror(errno));
		goto fail;
	}
	for (i = ifa; i != NULL; i = i->ifa_next)
		if (i->ifa_addr != NULL)
			self_add(e, i->ifa_addr);
	freeifaddrs(ifa);
	listen_self(e, &cfg->smtp.listen);
	listen_self(e, &cfg->smtp.submission_listen);
	listen_self(e, &cfg->smtp.smtps_listen);
	/* under inetd nothing is configured: the SMTP port still is ours */
	e->ports = xreallocarray(e->ports, e->nports + 1, sizeof(*e->ports));
	e->ports[e->nports++] = 25;
	return e;
fail:
	relay_engine_free(e);
	return NULL;
}

void
relay_engine_free(struct relay_engine *e)
{
	if (e == NULL)
		return;
	relay_smtp_close(e, &e->cached, true);
	relay_dns_free(&e->dns);
	SSL_CTX_free(e->ssl_ctx);
	free(e->helo);
	free(e->hostname);
	free(e->self);
	free(e->ports);
	free(e);
}

void
relay_engine_idle(struct relay_engine *e)
{
	if (e->cached != NULL &&
	    mono_ms() - e->cached->idle_since >= e->cache_ms)
		relay_smtp_close(e, &e->cached, true);
}

/* Whether a is one of our addresses on a port we listen on. */
static bool
is_self(const struct relay_engine *e, const struct relay_addr *a,
    unsigned port)
{
	const struct sockaddr_in	*x4, *y4;
	const struct sockaddr_in6	*x6, *y6;
	size_t				 i;
	bool				 ours = false;

	for (i = 0; i < e->nports && !ours; i++)
		ours = e->ports[i] == (int)port;
	if (!ours)
		return false;
	for (i = 0; i < e->nself; i++) {
		if (e->self[i].ss_family != a->ss.ss_family)
			continue;
		if (a->ss.ss_family == AF_INET) {
			x4 = (const struct sockaddr_in *)&a->ss;
			y4 = (const struct sockaddr_in *)&e->self[i];
			if (x4->sin_addr.s_addr == y4->sin_addr.s_addr)
				return true;
		} else {
			x6 = (const struct sockaddr_in6 *)&a->ss;
			y6 = (const struct sockaddr_in6 *)&e->self[i];
			if (memcmp(&x6->sin6_addr, &y6->sin6_addr, 16) == 0)
				return true;
		}
	}
	return false;
}

/* Fills a's socket address and text from family/bytes and port. */
static void
addr_set(struct relay_addr *a, int family, const void *bytes,
    unsigned port)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&a->ss;
	char			 buf[INET6_ADDRSTRLEN];

	memset(&a->ss, 0, sizeof(a->ss));
	if (family == AF_INET) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		memcpy(&s4->sin_addr, bytes, 4);
		a->sslen = sizeof(*s4);
	} else {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		memcpy(&s6->sin6_addr, bytes, 16);
		a->sslen = sizeof(*s6);
	}
	if (inet_ntop(family, bytes, buf, sizeof(buf)) == NULL)
		snprintf(buf, sizeof(buf), "?");
	snprintf(a->text, sizeof(a->text), "[%s]:%u", buf, port);
}

/*
 * Appends host's addresses (AAAA and A) to h, ordered per
 * relay.address_preference. Returns 1 if it has any, 0 if it has none
 * (the name or its addresses do not exist), -1 on a temporary failure.
 */
static int
host_addrs(struct relay_engine *e, const struct relay_req *req,
    const char *host, unsigned pref, unsigned port, bool mx_secure,
    struct hop *h)
{
	struct ub_result	*r[2] = { NULL, NULL };
	static const int	 types[2] = { T_AAAA, T_A };
	char			 err[200];
	bool			 secure[2] = { false, false };
	size_t			 k[2] = { 0, 0 }, cnt[2] = { 0, 0 }, first;
	int			 rc[2], t, ret;

	for (t = 0; t < 2; t++) {
		rc[t] = relay_dns_query(e->dns, host, types[t], e->connect_ms,
		    &r[t], &secure[t], err, sizeof(err));
		if (rc[t] == RELAY_DNS_TEMP) {
			log_info("id=%s: DNS lookup of %s %s: %s", req->qid,
			    host, t == 0 ? "AAAA" : "A", err);
			reason_set(&h->why, "4.4.3", "DNS lookup of %s (%s) "
			    "failed: %s", host, t == 0 ? "AAAA" : "A", err);
			h->soft = true;
		}
		if (r[t] != NULL)
			while (r[t]->data[cnt[t]] != NULL)
				cnt[t]++;
	}
	/* the order: v6 first for "any" and "ipv6", v4 first for "ipv4" */
	first = e->address_pref == RELAY_PREF_IPV4 ? 1 : 0;
	while (h->n < RELAY_ADDRS_MAX && (k[0] < cnt[0] || k[1] < cnt[1])) {
		for (t = 0; t < 2 && h->n < RELAY_ADDRS_MAX; t++) {
			size_t	f = (first + (size_t)t) % 2;
			int	len;

			if (k[f] >= cnt[f])
				continue;
			len = r[f]->len[k[f]];
			if ((f == 0 && len == 16) || (f == 1 && len == 4)) {
				struct relay_addr *a = &h->addrs[h->n++];

				addr_set(a, f == 0 ? AF_INET6 : AF_INET,
				    r[f]->data[k[f]], port);
				snprintf(a->host, sizeof(a->host), "%s", host);
				a->pref = pref;
				a->mx_secure = mx_secure && secure[f];
			}
			k[f]++;
			/* "any" alternates; a preference drains one first */
			if (e->address_pref != RELAY_PREF_ANY && k[f] < cnt[f])
				t--;
		}
	}
	ret = cnt[0] + cnt[1] > 0 ? 1 : rc[0] == RELAY_DNS_TEMP ||
	    rc[1] == RELAY_DNS_TEMP ? -1 : 0;
	if (r[0] != NULL)
		ub_resolve_free(r[0]);
	if (r[1] != NULL)
		ub_resolve_free(r[1]);
	return ret;
}

/* Parses "[host]" or "[host]:port"; 0, or -1 if malformed. */
static int
parse_bracket(const char *hop, char *host, size_t hostsz, unsigned *port)
{
	const char	*end = strchr(hop, ']');
	char		*pe;
	size_t		 n;
	long		 p;

	if (end == NULL)
		return -1;
	hop++;
	if (strncasecmp(hop, "IPv6:", 5) == 0)
		hop += 5;
	n = (size_t)(end - hop);
	if (n == 0 || n >= hostsz)
		return -1;
	memcpy(host, hop, n);
	host[n] = '\0';
	if (end[1] == '\0')
		return 0;
	if (end[1] != ':')
		return -1;
	errno = 0;
	p = strtol(end + 2, &pe, 10);
	if (errno != 0 || pe == end + 2 || *pe != '\0' || p < 1 || p > 65535)
		return -1;
	*port = (unsigned)p;
	return 0;
}

/* The addresses to try for req's next hop, in order, or why there are none. */
static void
resolve_hop(struct relay_engine *e, const struct relay_req *req,
    unsigned port, struct hop *h)
{
	struct relay_mx		 mx[RELAY_MX_MAX];
	struct ub_result	*r = NULL;
	char			 host[RELAY_HOST_MAX + 1], err[200];
	unsigned char		 bytes[16];
	size_t			 nmx = 0, nbad, i, j;
	unsigned		 self_pref = ~0u, best;
	bool			 secure = false;
	int			 rc;

	h->n = 0;
	h->soft = false;
	if (req->nexthop[0] == '[') {
		if (parse_bracket(req->nexthop, host, sizeof(host), &port) ==
		    -1) {
			reason_set(&h->why, "5.3.5", "malformed next hop \"%s\"",
			    req->nexthop);
			return;
		}
		if (inet_pton(AF_INET, host, bytes) == 1 ||
		    inet_pton(AF_INET6, host, bytes) == 1) {
			addr_set(&h->addrs[0], strchr(host, ':') != NULL ?
			    AF_INET6 : AF_INET, bytes, port);
			snprintf(h->addrs[0].host, sizeof(h->addrs[0].host),
			    "%s", host);
			h->n = 1;
		} else if ((rc = host_addrs(e, req, host, 0, port, false,
		    h)) == 0) {
			reason_set(&h->why, "5.4.4", "host %s not found (no "
			    "address)", host);
			return;
		} else if (rc == -1)
			return;		/* why is set */
		goto self;
	}
	rc = relay_dns_query(e->dns, req->nexthop, T_MX, e->connect_ms, &r,
	    &secure, err, sizeof(err));
	switch (rc) {
	case RELAY_DNS_TEMP:
		log_info("id=%s: DNS lookup of %s MX: %s", req->qid,
		    req->nexthop, err);
		reason_set(&h->why, "4.4.3", "DNS lookup of %s (MX) failed: %s",
		    req->nexthop, err);
		h->soft = true;
		return;
	case RELAY_DNS_NXDOMAIN:
		log_info("id=%s: DNS lookup of %s MX: no such domain", req->qid,
		    req->nexthop);
		reason_set(&h->why, "5.1.2", "domain %s not found",
		    req->nexthop);
		return;
	case RELAY_DNS_NODATA:
		/* RFC 5321 5.1: the implicit MX, preference 0 */
		snprintf(mx[0].host, sizeof(mx[0].host), "%s", req->nexthop);
		mx[0].pref = 0;
		nmx = 1;
		break;
	default:
		for (i = 0; r->data[i] != NULL; i++)
			;
		rc = relay_mx_parse(r->data, r->len, i, mx, NITEMS(mx), &nmx,
		    &nbad);
		if (nbad > 0)
			log_info("id=%s: %zu malformed MX records of %s "
			    "ignored", req->qid, nbad, req->nexthop);
		ub_resolve_free(r);
		r = NULL;
		if (rc == 1) {
			log_info("id=%s: %s has a null MX", req->qid,
			    req->nexthop);
			reason_set(&h->why, "5.1.10", "domain %s does not "
			    "accept mail (null MX)", req->nexthop);
			return;
		}
		if (nmx == 0) {
			reason_set(&h->why, "4.4.3", "DNS lookup of %s (MX): "
			    "malformed answer", req->nexthop);
			h->soft = true;
			return;
		}
		relay_mx_sort(mx, nmx);
		break;
	}
	/* our own name among the MX hosts: only those before it */
	for (i = 0; i < nmx; i++)
		if (relay_host_eq(mx[i].host, e->hostname) ||
		    relay_host_eq(mx[i].host, e->helo)) {
			self_pref = mx[i].pref;
			break;
		}
	best = mx[0].pref;
	for (i = 0; i < nmx && mx[i].pref < self_pref; i++) {
		/* enough addresses, and the equal-preference group is done */
		if ((int)h->n >= e->address_limit && h->n > 0 &&
		    mx[i].pref > h->addrs[h->n - 1].pref)
			break;
		j = h->n;
		rc = host_addrs(e, req, mx[i].host, mx[i].pref, port, secure,
		    h);
		if (rc == 0)
			log_info("id=%s: MX host %s of %s has no address",
			    req->qid, mx[i].host, req->nexthop);
		for (; j < h->n; j++)
			if (is_self(e, &h->addrs[j], port) &&
			    h->addrs[j].pref < self_pref)
				self_pref = h->addrs[j].pref;
	}
	/* drop every address at or after our own preference */
	for (i = j = 0; i < h->n; i++)
		if (h->addrs[i].pref < self_pref)
			h->addrs[j++] = h->addrs[i];
	h->n = j;
	if (h->n == 0) {
		if (self_pref != ~0u && self_pref <= best) {
			log_warnx("id=%s: mail for %s loops back to myself",
			    req->qid, req->nexthop);
			reason_set(&h->why, "5.4.6", "mail for %s loops back to "
			    "myself", req->nexthop);
			h->soft = false;
		} else if (self_pref != ~0u) {
			reason_set(&h->why, "4.4.4", "no MX host of %s more "
			    "preferred than this one is reachable",
			    req->nexthop);
			h->soft = true;
		} else if (!h->soft) {
			reason_set(&h->why, "5.4.4", "no MX host of %s has an "
			    "address", req->nexthop);
		}
		return;
	}
	if ((int)h->n > e->address_limit)
		h->n = (size_t)e->address_limit;
	return;
self:
	for (i = 0; i < h->n; i++)
		if (is_self(e, &h->addrs[i], port)) {
			log_warnx("id=%s: mail for %s loops back to myself",
			    req->qid, req->nexthop);
			reason_set(&h->why, "5.4.6", "mail for %s loops back to "
			    "myself", req->nexthop);
			h->n = 0;
			return;
		}
	if ((int)h->n > e->address_limit)
		h->n = (size_t)e->address_limit;
}

/*
 * RFC 7672 2.2: the TLSA records of a's host when its MX and address
 * answers were secure. Returns 0 (dane filled: required or not), or -1
 * with why when the lookup failed (that host must not be used).
 */
static int
lookup_tlsa(struct relay_engine *e, const struct relay_req *req,
    const struct relay_addr *a, unsigned port, struct relay_dane *dane,
    struct reason *why)
{
	struct ub_result	*r = NULL;
	char			 name[RELAY_HOST_MAX + 32], err[200];
	bool			 secure;
	size_t			 i;
	int			 rc;

	relay_tlsa_clear(dane->tlsa, &dane->ntlsa);
	dane->required = false;
	if (!a->mx_secure)
		return 0;
	snprintf(name, sizeof(name), "_%u._tcp.%s", port, a->host);
	rc = relay_dns_query(e->dns, name, T_TLSA, e->connect_ms, &r, &secure,
	    err, sizeof(err));
	if (rc == RELAY_DNS_TEMP) {
		log_info("id=%s: DNS lookup of %s TLSA: %s", req->qid, name,
		    err);
		reason_set(why, "4.7.5", "TLSA lookup of %s failed: %s", name,
		    err);
		return -1;
	}
	if (rc != RELAY_DNS_DATA)
		return 0;
	if (!secure) {
		ub_resolve_free(r);
		return 0;
	}
	for (i = 0; r->data[i] != NULL && dane->ntlsa < RELAY_TLSA_MAX; i++) {
		const unsigned char *d = (const unsigned char *)r->data[i];
		struct relay_tlsa *t = &dane->tlsa[dane->ntlsa];

		if (r->len[i] < 4)
			continue;
		t->usage = d[0];
		t->selector = d[1];
		t->mtype = d[2];
		t->len = (size_t)r->len[i] - 3;
		t->data = xmalloc(t->len);
		memcpy(t->data, d + 3, t->len);
		dane->ntlsa++;
	}
	ub_resolve_free(r);
	/* RFC 7672 2.2: secure TLSA records, even unusable: TLS is a must */
	dane->required = dane->ntlsa > 0;
	return 0;
}

static void
res_fill(struct relay_res *res, const struct relay_session *s,
    const struct relay_addr *a)
{
	snprintf(res->mx_host, sizeof(res->mx_host), "%s", a->host);
	snprintf(res->mx_addr, sizeof(res->mx_addr), "%s", a->text);
	snprintf(res->tls_info, sizeof(res->tls_info), "%s",
	    s != NULL ? s->tls_info : "none");
	res->remote_dsn = s != NULL && (s->ehlo.flags & RELAY_EXT_DSN) != 0;
}

/* The results before anything is known. */
static void
res_reset(const struct relay_req *req, struct relay_res *res)
{
	size_t	i;

	for (i = 0; i < req->nrcpts; i++) {
		res->rcpts[i].idx = req->rcpts[i].idx;
		res->rcpts[i].cls = RELAY_DEFER;
		res->rcpts[i].code = 0;
		reason_set(&res->rcpts[i].why, "4.4.0", "not tried");
	}
}

static void
res_all(const struct relay_req *req, struct relay_res *res,
    const struct reason *why, int code)
{
	size_t	i;

	for (i = 0; i < req->nrcpts; i++) {
		res->rcpts[i].cls = reason_is_temporary(why) ? RELAY_DEFER :
		    RELAY_BOUNCE;
		res->rcpts[i].code = code;
		res->rcpts[i].why = *why;
	}
}

/* Keeps s for the next request, or closes it. */
static void
keep(struct relay_engine *e, struct relay_session *s, const char *key)
{
	if (e->cache_ms <= 0 || s->nmsgs >= e->reuse_limit) {
		relay_smtp_close(e, &s, true);
		return;
	}
	free(s->key);
	s->key = xstrdup(key);
	s->idle_since = mono_ms();
	e->cached = s;
}

void
relay_deliver(struct relay_engine *e, const struct relay_req *req,
    struct relay_res *res)
{
	struct hop		*h;
	struct relay_session	*s;
	struct relay_dane	 dane;
	struct reason		 why;
	char			*key;
	unsigned		 port = req->port != 0 ? req->port :
	    (unsigned)e->port;
	size_t			 i;
	int			 rc, code = 0, sessions = 0;
	bool			 greeted, reached_mail = false;

	res->nrcpts = req->nrcpts;
	res->site_fail = false;
	res->tls_failed = false;
	res->remote_dsn = false;
	res->mx_host[0] = '\0';
	res->mx_addr[0] = '\0';
	snprintf(res->tls_info, sizeof(res->tls_info), "none");
	res_reset(req, res);
	if (req->nexthop == NULL || *req->nexthop == '\0' ||
	    req->nrcpts == 0 || req->nrcpts > RELAY_RCPTS_MAX ||
	    req->sender == NULL) {
		reason_set(&why, "4.3.5", "malformed relay request");
		res_all(req, res, &why, 0);
		return;
	}
	key = xasprintf("%s|%u|%d|%d|%s", req->nexthop, port, (int)req->tls,
	    (int)req->no_starttls, req->auth_user ? req->auth_user : "");
	/* a cached session for the same hop and policy */
	if (e->cached != NULL) {
		s = e->cached;
		e->cached = NULL;
		if (strcmp(s->key, key) != 0 ||
		    mono_ms() - s->idle_since >= e->cache_ms) {
			relay_smtp_close(e, &s, true);
		} else {
			log_debug("id=%s: reusing the session with %s %s",
			    req->qid, s->addr.host, s->addr.text);
			rc = relay_smtp_send(e, s, req, true, res, &why, &code);
			if (rc == RELAY_SMTP_OK || rc == RELAY_SMTP_CLOSE) {
				res_fill(res, s, &s->addr);
				if (rc == RELAY_SMTP_OK)
					keep(e, s, key);
				else
					relay_smtp_close(e, &s, false);
				free(key);
				return;
			}
			/* it went stale: a fresh connection, no failure */
			relay_smtp_close(e, &s, false);
			res_reset(req, res);
		}
	}
	h = xcalloc(1, sizeof(*h));
	memset(&dane, 0, sizeof(dane));
	resolve_hop(e, req, port, h);
	if (h->n == 0) {
		res_all(req, res, &h->why, 0);
		/* a resolver failure is the destination's, not the message's */
		res->site_fail = h->soft;
		goto out;
	}
	reason_set(&why, "4.4.1", "no address tried");
	for (i = 0; i < h->n; i++) {
		res_fill(res, NULL, &h->addrs[i]);
		res_reset(req, res);
		if (req->tls == RELAY_TLS_DANE &&
		    lookup_tlsa(e, req, &h->addrs[i], port, &dane, &why) == -1) {
			code = 0;
			continue;	/* RFC 7672 2.1.1: never downgrade */
		}
		rc = relay_smtp_open(e, &h->addrs[i], req, &dane, &s, &greeted,
		    res, &why, &code);
		if (rc != RELAY_SMTP_OK) {
			if (greeted && ++sessions >= e->session_limit)
				break;
			continue;
		}
		reached_mail = true;
		res_fill(res, s, &s->addr);
		rc = relay_smtp_send(e, s, req, false, res, &why, &code);
		if (rc == RELAY_SMTP_OK) {
			keep(e, s, key);
			goto out;
		}
		relay_smtp_close(e, &s, false);
		if (rc == RELAY_SMTP_CLOSE)
			goto out;
		if (++sessions >= e->session_limit)
			break;
	}
	/* every address failed: the last reason for everyone */
	res_reset(req, res);
	res_all(req, res, &why, code);
	res->site_fail = !reached_mail;
out:
	relay_tlsa_clear(dane.tlsa, &dane.ntlsa);
	free(h);
	free(key);
}
