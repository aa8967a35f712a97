/*
 * Per-destination TLS policy (see relay_policy.h). Linked into the queue
 * runner (root) and the relay workers; reads only the configuration,
 * which common/config_keys.c has validated (v_relay_tls_policy), so an
 * entry that does not parse here is skipped, not trusted.
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "relay_policy.h"

static const struct {
	const char	*name;
	enum relay_tls	 level;
	int		 rank;		/* strictness, Postfix's order */
} levels[] = {
	{ "none", RELAY_TLS_NONE, 0 },
	{ "may", RELAY_TLS_MAY, 1 },
	{ "encrypt", RELAY_TLS_ENCRYPT, 2 },
	{ "dane", RELAY_TLS_DANE, 3 },
	{ "verify", RELAY_TLS_VERIFY, 4 },
};

#define NLEVELS	(sizeof(levels) / sizeof(levels[0]))

static int
rank_of(enum relay_tls level)
{
	size_t	i;

	for (i = 0; i < NLEVELS; i++)
		if (levels[i].level == level)
			return levels[i].rank;
	return 0;
}

/*
 * Splits "key = level" into the key (*key, *keylen, blanks trimmed) and
 * the level. 0, or -1 when the entry is not of that form.
 */
static int
entry_parse(const char *e, const char **key, size_t *keylen,
    enum relay_tls *level)
{
	const char	*eq, *v;
	size_t		 n, vl, i;

	if ((eq = strchr(e, '=')) == NULL)
		return -1;
	n = (size_t)(eq - e);
	while (n > 0 && isspace((unsigned char)e[n - 1]))
		n--;
	for (v = eq + 1; isspace((unsigned char)*v); v++)
		;
	vl = strlen(v);
	while (vl > 0 && isspace((unsigned char)v[vl - 1]))
		vl--;
	if (n == 0 || vl == 0)
		return -1;
	for (i = 0; i < NLEVELS; i++)
		if (strlen(levels[i].name) == vl &&
		    strncasecmp(levels[i].name, v, vl) == 0) {
			*key = e;
			*keylen = n;
			*level = levels[i].level;
			return 0;
		}
	return -1;
}

/* The first entry whose key is exactly name (n bytes). 1 or 0. */
static int
find_exact(const struct config *cfg, const char *name, size_t n,
    enum relay_tls *level)
{
	const char	*key;
	size_t		 i, kl;
	enum relay_tls	 lv;

	for (i = 0; i < cfg->relay.tls_policy.n; i++) {
		if (entry_parse(cfg->relay.tls_policy.v[i], &key, &kl,
		    &lv) == -1)
			continue;
		if (kl == n && strncasecmp(key, name, n) == 0) {
			*level = lv;
			return 1;
		}
	}
	return 0;
}

int
relay_policy_find(const struct config *cfg, const char *name,
    enum relay_tls *level)
{
	const char	*p;
	size_t		 n = strlen(name);

	if (n == 0)
		return 0;
	if (find_exact(cfg, name, n, level))
		return 1;
	if (name[0] == '[')		/* a next hop: only as written */
		return 0;
	/* each parent, nearest first: ".b.example", then ".example" */
	for (p = strchr(name + 1, '.'); p != NULL; p = strchr(p + 1, '.'))
		if (p[1] != '\0' && find_exact(cfg, p, strlen(p), level))
			return 1;
	return 0;
}

enum relay_tls
relay_policy_tls(const struct config *cfg, const char *nexthop,
    const struct relay_rcpt_req *rcpts, size_t nrcpts)
{
	enum relay_tls	 lv, best = RELAY_TLS_NONE;
	const char	*at;
	bool		 found = false;
	size_t		 i;

	if (cfg->relay.tls_policy.n == 0)
		return (enum relay_tls)cfg->relay.tls_security_level;
	if (nexthop != NULL && relay_policy_find(cfg, nexthop, &lv) == 1)
		return lv;
	for (i = 0; i < nrcpts; i++) {
		if (rcpts[i].addr == NULL ||
		    (at = strrchr(rcpts[i].addr, '@')) == NULL)
			continue;
		if (relay_policy_find(cfg, at + 1, &lv) != 1)
			continue;
		if (!found || rank_of(lv) > rank_of(best))
			best = lv;
		found = true;
	}
	return found ? best : (enum relay_tls)cfg->relay.tls_security_level;
}

bool
relay_policy_uses(const struct config *cfg, enum relay_tls level)
{
	const char	*key;
	size_t		 i, kl;
	enum relay_tls	 lv;

	if ((enum relay_tls)cfg->relay.tls_security_level == level)
		return true;
	for (i = 0; i < cfg->relay.tls_policy.n; i++)
		if (entry_parse(cfg->relay.tls_policy.v[i], &key, &kl,
		    &lv) == 0 && lv == level)
			return true;
	return false;
}

void
relay_policy_tls_token(const char *info, char *out, size_t outsz)
{
	size_t	i;

	if (outsz == 0)
		return;
	if (info == NULL || info[0] == '\0')
		info = "none";
	for (i = 0; i + 1 < outsz && info[i] != '\0'; i++)
		out[i] = info[i] == ' ' ? '/' : info[i];
	out[i] = '\0';
}
