/*
 * Unit tests for relay/relay_policy.c: relay.tls.policy look-ups (exact
 * name, leading-dot parents nearest first, next hops as written, case),
 * the level of a request (next hop first, then the strictest recipient
 * domain, else relay.tls.security_level), relay_policy_uses() and the
 * log token of tls_info.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "relay/relay_policy.h"
#include "unit.h"

static char	p_exact[] = "example.org = encrypt";
static char	p_parent[] = ".example.org=verify";
static char	p_deeper[] = ".mx.example.org=none";
static char	p_hop[] = "[smtp.isp.example]:587=verify";
static char	p_dane[] = "Secure.Example=DANE";
static char	p_first[] = "twice.example=may";
static char	p_second[] = "twice.example=encrypt";
static char	p_garbled[] = "garbled.example";
static char	*policy[] = { p_exact, p_parent, p_deeper, p_hop, p_dane,
		    p_first, p_second, p_garbled };

static struct config *
cfg_with_policy(void)
{
	struct config	*cfg;

	cfg = config_defaults();
	ck_assert_ptr_nonnull(cfg);
	cfg->relay.tls_security_level = RELAY_TLS_MAY;
	cfg->relay.tls_policy.v = policy;
	cfg->relay.tls_policy.n = nitems(policy);
	return cfg;
}

static void
cfg_done(struct config **cfg)
{
	/* the list is ours (static), not the config's */
	(*cfg)->relay.tls_policy.v = NULL;
	(*cfg)->relay.tls_policy.n = 0;
	config_free(cfg);
}

static const struct {
	const char	*name;
	int		 found;
	enum relay_tls	 level;
} finds[] = {
	{ "example.org", 1, RELAY_TLS_ENCRYPT },	/* exact */
	{ "EXAMPLE.ORG", 1, RELAY_TLS_ENCRYPT },
	{ "a.example.org", 1, RELAY_TLS_VERIFY },	/* parent */
	{ "a.b.example.org", 1, RELAY_TLS_VERIFY },	/* grandparent */
	{ "mx.example.org", 1, RELAY_TLS_VERIFY },	/* below .example */
	{ "a.mx.example.org", 1, RELAY_TLS_NONE },	/* the nearest parent */
	{ "[smtp.isp.example]:587", 1, RELAY_TLS_VERIFY },
	{ "[smtp.isp.example]", 0, RELAY_TLS_NONE },	/* as written */
	{ "smtp.isp.example", 0, RELAY_TLS_NONE },
	{ "secure.example", 1, RELAY_TLS_DANE },
	{ "twice.example", 1, RELAY_TLS_MAY },		/* the first */
	{ "garbled.example", 0, RELAY_TLS_NONE },	/* skipped */
	{ "example.net", 0, RELAY_TLS_NONE },
	{ "org", 0, RELAY_TLS_NONE },
	{ "notexample.org", 0, RELAY_TLS_NONE },	/* not a parent */
	{ "", 0, RELAY_TLS_NONE },
};

START_TEST(test_find)
{
	struct config	*cfg = cfg_with_policy();
	enum relay_tls	 lv = (enum relay_tls)-1;

	ck_assert_msg(relay_policy_find(cfg, finds[_i].name, &lv) ==
	    finds[_i].found, "%s", finds[_i].name);
	if (finds[_i].found)
		ck_assert_msg(lv == finds[_i].level, "%s: %d", finds[_i].name,
		    (int)lv);
	cfg_done(&cfg);
}
END_TEST

START_TEST(test_request_level)
{
	struct config		*cfg = cfg_with_policy();
	struct relay_rcpt_req	 r[3];

	memset(r, 0, sizeof(r));
	r[0].addr = "a@example.net";
	r[1].addr = "b@example.org";
	r[2].addr = "c@x.example.org";
	/* no entry anywhere: the global level */
	ck_assert_int_eq(relay_policy_tls(cfg, "example.net", r, 1),
	    RELAY_TLS_MAY);
	cfg->relay.tls_security_level = RELAY_TLS_NONE;
	ck_assert_int_eq(relay_policy_tls(cfg, "example.net", r, 1),
	    RELAY_TLS_NONE);
	/* the domain as next hop (MX delivery) */
	ck_assert_int_eq(relay_policy_tls(cfg, "example.org", r + 1, 1),
	    RELAY_TLS_ENCRYPT);
	/* a route's next hop without an entry: the recipients' domains */
	ck_assert_int_eq(relay_policy_tls(cfg, "[10.0.0.1]:25", r, 2),
	    RELAY_TLS_ENCRYPT);
	/* ... the strictest of them */
	ck_assert_int_eq(relay_policy_tls(cfg, "[10.0.0.1]:25", r, 3),
	    RELAY_TLS_VERIFY);
	/* the next hop's own entry wins over the domains' */
	ck_assert_int_eq(relay_policy_tls(cfg, "[smtp.isp.example]:587", r,
	    1), RELAY_TLS_VERIFY);
	cfg_done(&cfg);
}
END_TEST

START_TEST(test_empty_policy_is_the_global_level)
{
	struct config		*cfg = config_defaults();
	struct relay_rcpt_req	 r;

	ck_assert_ptr_nonnull(cfg);
	memset(&r, 0, sizeof(r));
	r.addr = "a@example.org";
	cfg->relay.tls_security_level = RELAY_TLS_ENCRYPT;
	ck_assert_int_eq(relay_policy_tls(cfg, "example.org", &r, 1),
	    RELAY_TLS_ENCRYPT);
	ck_assert(relay_policy_uses(cfg, RELAY_TLS_ENCRYPT));
	ck_assert(!relay_policy_uses(cfg, RELAY_TLS_DANE));
	config_free(&cfg);
}
END_TEST

START_TEST(test_uses)
{
	struct config	*cfg = cfg_with_policy();

	ck_assert(relay_policy_uses(cfg, RELAY_TLS_DANE));
	ck_assert(relay_policy_uses(cfg, RELAY_TLS_MAY));	/* global */
	cfg->relay.tls_policy.n = 3;
	ck_assert(!relay_policy_uses(cfg, RELAY_TLS_DANE));
	cfg_done(&cfg);
}
END_TEST

START_TEST(test_tls_token)
{
	char	buf[64], small[8];

	relay_policy_tls_token("TLSv1.3 TLS_AES_256_GCM_SHA384 verified", buf,
	    sizeof(buf));
	ck_assert_str_eq(buf, "TLSv1.3/TLS_AES_256_GCM_SHA384/verified");
	relay_policy_tls_token("", buf, sizeof(buf));
	ck_assert_str_eq(buf, "none");
	relay_policy_tls_token(NULL, buf, sizeof(buf));
	ck_assert_str_eq(buf, "none");
	relay_policy_tls_token("TLSv1.2 X Y", small, sizeof(small));
	ck_assert_str_eq(small, "TLSv1.2");
}
END_TEST

static Suite *
relay_policy_suite(void)
{
	Suite	*s = suite_create("relay_policy");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, test_find, 0, nitems(finds));
	tcase_add_test(tc, test_request_level);
	tcase_add_test(tc, test_empty_policy_is_the_global_level);
	tcase_add_test(tc, test_uses);
	tcase_add_test(tc, test_tls_token);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(relay_policy_suite)
