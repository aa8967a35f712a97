/*
 * The relay worker's resolver over libunbound: see relay_dns.h.
 *
 * libunbound reads some files only when a context is "finalized" (on its
 * first question), which happens inside the chroot where they cannot be
 * opened. So everything is read before: forwarders are set from the
 * config or with ub_ctx_resolvconf(), which parses at once; the trust
 * anchor file is read here line by line into ub_ctx_add_ta(); and a
 * local zone is added, which finalizes the context there and then.
 *
 * Questions are asked asynchronously (a resolver thread, ub_ctx_async)
 * so that each has a deadline of our own: a silent server costs one
 * timeout, not libunbound's own retry schedule.
 */
#include "autoconf.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <unbound.h>

#include "bounds.h"
#include "clock.h"
#include "log.h"
#include "relay_dns.h"
#include "xmalloc.h"

/* A line of the trust anchor file: one DS or DNSKEY record. */
#define TA_LINE_MAX	4096
/* DNS rcodes (RFC 1035 4.1.1, RFC 6895). */
#define RCODE_NOERROR	0
#define RCODE_SERVFAIL	2
#define RCODE_NXDOMAIN	3
#define RCODE_REFUSED	5

struct relay_dns {
	struct ub_ctx	*ctx;
};

struct query {
	bool		 done;
	int		 err;
	struct ub_result *res;
};

static int	read_anchor(struct ub_ctx *, const char *, char *, size_t);
static void	query_done(void *, int, struct ub_result *);

/* Reads the trust anchor file into the context (it is not read lazily). */
static int
read_anchor(struct ub_ctx *ctx, const char *path, char *err, size_t errsz)
{
	FILE	*fp;
	char	 line[TA_LINE_MAX], *p;
	int	 r, n = 0;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '\0' || *p == ';' || *p == '#')
			continue;
		if ((r = ub_ctx_add_ta(ctx, p)) != 0) {
			snprintf(err, errsz, "%s: trust anchor \"%.60s\": %s",
			    path, p, ub_strerror(r));
			fclose(fp);
			return -1;
		}
		n++;
	}
	if (ferror(fp) || n == 0) {
		snprintf(err, errsz, "%s: %s", path, ferror(fp) ?
		    "read error" : "no trust anchor in it");
		fclose(fp);
		return -1;
	}
	fclose(fp);
	return 0;
}

struct relay_dns *
relay_dns_new(const struct config *cfg, bool validate, char *err,
    size_t errsz)
{
	struct relay_dns	*d;
	size_t			 i;
	int			 r;
	/* small caches: one worker relays one destination at a time */
	static const char *const opts[][2] = {
		{ "msg-cache-size:", "128k" },
		{ "rrset-cache-size:", "256k" },
		{ "key-cache-size:", "64k" },
		{ "neg-cache-size:", "32k" },
		{ "infra-cache-numhosts:", "100" },
		{ "msg-cache-slabs:", "1" },
		{ "rrset-cache-slabs:", "1" },
		{ "key-cache-slabs:", "1" },
		{ "infra-cache-slabs:", "1" },
		{ "outgoing-range:", "16" },
		{ "num-queries-per-thread:", "16" },
		{ "verbosity:", "0" },
		{ "use-syslog:", "no" },
	};

	d = xcalloc(1, sizeof(*d));
	if ((d->ctx = ub_ctx_create()) == NULL) {
		snprintf(err, errsz, "ub_ctx_create failed");
		goto fail;
	}
	for (i = 0; i < NITEMS(opts); i++)
		if ((r = ub_ctx_set_option(d->ctx, opts[i][0],
		    opts[i][1])) != 0) {
			snprintf(err, errsz, "resolver option %s %s: %s",
			    opts[i][0], opts[i][1], ub_strerror(r));
			goto fail;
		}
	if (cfg->relay.dns_servers.n > 0) {
		for (i = 0; i < cfg->relay.dns_servers.n; i++)
			if ((r = ub_ctx_set_fwd(d->ctx,
			    cfg->relay.dns_servers.v[i])) != 0) {
				snprintf(err, errsz, "relay.dns_servers "
				    "\"%s\": %s", cfg->relay.dns_servers.v[i],
				    ub_strerror(r));
				goto fail;
			}
	} else if ((r = ub_ctx_resolvconf(d->ctx, NULL)) != 0) {
		snprintf(err, errsz, "/etc/resolv.conf: %s", r == UB_READFILE ?
		    strerror(errno) : ub_strerror(r));
		goto fail;
	}
	if (validate && *cfg->relay.dnssec_trust_anchor != '\0' &&
	    read_anchor(d->ctx, cfg->relay.dnssec_trust_anchor, err,
	    errsz) == -1)
		goto fail;
	if ((r = ub_ctx_async(d->ctx, 1)) != 0) {
		snprintf(err, errsz, "resolver thread: %s", ub_strerror(r));
		goto fail;
	}
	/* finalizes the context now, before the chroot (see the top) */
	if ((r = ub_ctx_zone_add(d->ctx, "maild-relay.invalid.",
	    "static")) != 0) {
		snprintf(err, errsz, "resolver setup: %s", ub_strerror(r));
		goto fail;
	}
	return d;
fail:
	relay_dns_free(&d);
	return NULL;
}

void
relay_dns_free(struct relay_dns **dp)
{
	struct relay_dns	*d = *dp;

	if (d == NULL)
		return;
	if (d->ctx != NULL)
		ub_ctx_delete(d->ctx);
	free(d);
	*dp = NULL;
}

static void
query_done(void *arg, int err, struct ub_result *res)
{
	struct query	*q = arg;

	q->done = true;
	q->err = err;
	q->res = res;
}

int
relay_dns_query(struct relay_dns *d, const char *name, int type,
    int timeout_ms, struct ub_result **out, bool *secure, char *err,
    size_t errsz)
{
	struct query	 q = { false, 0, NULL };
	struct pollfd	 pfd;
	long long	 deadline = mono_ms() + timeout_ms, left;
	int		 id, r, rc;

	*out = NULL;
	*secure = false;
	if ((r = ub_resolve_async(d->ctx, name, type, 1, &q, query_done,
	    &id)) != 0) {
		snprintf(err, errsz, "%s", ub_strerror(r));
		return RELAY_DNS_TEMP;
	}
	while (!q.done) {
		if ((left = deadline - mono_ms()) <= 0) {
			(void)ub_cancel(d->ctx, id);
			snprintf(err, errsz, "timed out");
			return RELAY_DNS_TEMP;
		}
		pfd.fd = ub_fd(d->ctx);
		pfd.events = POLLIN;
		r = poll(&pfd, 1, (int)left);
		if (r == -1 && errno != EINTR) {
			(void)ub_cancel(d->ctx, id);
			snprintf(err, errsz, "poll: %s", strerror(errno));
			return RELAY_DNS_TEMP;
		}
		if (r > 0 && (r = ub_process(d->ctx)) != 0) {
			(void)ub_cancel(d->ctx, id);
			snprintf(err, errsz, "%s", ub_strerror(r));
			return RELAY_DNS_TEMP;
		}
	}
	if (q.err != 0 || q.res == NULL) {
		snprintf(err, errsz, "%s", ub_strerror(q.err));
		if (q.res != NULL)
			ub_resolve_free(q.res);
		return RELAY_DNS_TEMP;
	}
	if (q.res->bogus) {
		snprintf(err, errsz, "DNSSEC validation failed (bogus)%s%s",
		    q.res->why_bogus ? ": " : "",
		    q.res->why_bogus ? q.res->why_bogus : "");
		ub_resolve_free(q.res);
		return RELAY_DNS_TEMP;
	}
	*secure = q.res->secure != 0;
	switch (q.res->rcode) {
	case RCODE_NOERROR:
		if (q.res->havedata) {
			*out = q.res;
			return RELAY_DNS_DATA;
		}
		rc = RELAY_DNS_NODATA;
		break;
	case RCODE_NXDOMAIN:
		rc = RELAY_DNS_NXDOMAIN;
		break;
	case RCODE_SERVFAIL:
		snprintf(err, errsz, "SERVFAIL");
		rc = RELAY_DNS_TEMP;
		break;
	case RCODE_REFUSED:
		snprintf(err, errsz, "REFUSED");
		rc = RELAY_DNS_TEMP;
		break;
	default:
		snprintf(err, errsz, "rcode %d", q.res->rcode);
		rc = RELAY_DNS_TEMP;
		break;
	}
	ub_resolve_free(q.res);
	return rc;
}
