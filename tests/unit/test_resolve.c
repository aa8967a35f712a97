/*
 * Unit tests for queue/resolve.c: recipients through the aliases and
 * NSS to final targets, each recorded with the recipient it came from,
 * and above all that a recipient that fails (an alias member that is no
 * user, a loop, a relay refused) leaves the list exactly as it was, even
 * when the alias had reported good targets before the bad one.
 *
 * Users come from the system's NSS: the test takes the first three
 * accounts whose names resolve.c accepts (root, daemon, bin on Debian).
 */
#include "autoconf.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "aliases.h"
#include "config.h"
#include "queue/queue_file.h"
#include "queue/resolve.h"
#include "unit.h"

static struct config	*cfg;
static struct aliases	*al;
static char		 u[3][64];	/* three distinct local users */
static char		 text[4096];	/* the aliases file */

static bool
plain_name(const char *s)
{
	if (*s == '\0' || strlen(s) >= sizeof(u[0]))
		return false;
	for (; *s != '\0'; s++)
		if ((*s < 'a' || *s > 'z') && (*s < '0' || *s > '9') &&
		    *s != '_')
			return false;
	return true;
}

static void
setup(void)
{
	struct config_errors	 errs = { NULL, 0 };
	struct passwd		*pw;
	size_t			 i;
	int			 n = 0;

	setpwent();
	while (n < 3 && (pw = getpwent()) != NULL) {
		if (!plain_name(pw->pw_name) ||
		    (n > 0 && strcmp(u[n - 1], pw->pw_name) == 0) ||
		    (n > 1 && strcmp(u[0], pw->pw_name) == 0))
			continue;
		snprintf(u[n++], sizeof(u[0]), "%s", pw->pw_name);
	}
	endpwent();
	ck_assert_msg(n == 3, "need three users in the passwd database");

	cfg = config_defaults();
	for (i = 0; i < cfg->local_domains.n; i++)
		free(cfg->local_domains.v[i]);
	free(cfg->local_domains.v);
	cfg->local_domains.v = calloc(1, sizeof(char *));
	ck_assert_ptr_nonnull(cfg->local_domains.v);
	cfg->local_domains.v[0] = strdup("example.test");
	ck_assert_ptr_nonnull(cfg->local_domains.v[0]);
	cfg->local_domains.n = 1;

	snprintf(text, sizeof(text),
	    /* the bad member last, first, in the middle */
	    "team:    %s, nosuchuser_zz\n"
	    "first:   nosuchuser_zz, %s\n"
	    "middle:  %s, far@elsewhere.example, nosuchuser_zz, %s\n"
	    /* nested: the inner alias fails after the outer took one */
	    "outer:   %s, inner\n"
	    "inner:   %s, nosuchuser_zz\n"
	    /* through a local address: a loop that ends at the depth limit */
	    "loopa:   %s, loopb@example.test\n"
	    "loopb:   %s, loopa@example.test\n"
	    "good:    %s, %s, far@elsewhere.example\n"
	    "goodtoo: %s, inner2\n"
	    "inner2:  %s\n",
	    u[1], u[1], u[1], u[2], u[1], u[2], u[1], u[2], u[1], u[2],
	    u[2], u[0]);
	/* program and file targets; a name holding the delimiter */
	snprintf(text + strlen(text), sizeof(text) - strlen(text),
	    "prog:    \"|/usr/bin/ticket --q ops\", /var/log/archive\n"
	    "%s+x:    %s\n", u[0], u[2]);
	al = aliases_parse(text, strlen(text), "aliases", &errs);
	ck_assert_ptr_nonnull(al);
	ck_assert_uint_eq(errs.n, 0);
	config_errors_free(&errs);
}

static void
teardown(void)
{
	aliases_free(&al);
	config_free(&cfg);
}

/* resolve_rcpt() of text ("local@domain"), the address parsed here. */
static int
resolve(const char *rcpt, bool relay_ok, struct resolve_list *l,
    int *code, struct reason *r)
{
	struct mailaddr	a;

	ck_assert_int_eq(addr_parse_mailbox(rcpt, strlen(rcpt),
	    ADDR_ALLOW_POSTMASTER, &a, r), 0);
	memset(r, 0, sizeof(*r));
	*code = 0;
	return resolve_rcpt(cfg, al, &a, relay_ok, l, code, r);
}

/* The list as "user addr rcpt|...", to compare whole. */
static const char *
show(const struct resolve_list *l)
{
	static char	buf[2048];
	size_t		i;

	buf[0] = '\0';
	for (i = 0; i < l->n; i++) {
		ck_assert_ptr_nonnull(l->v[i].user);
		ck_assert_ptr_nonnull(l->v[i].addr);
		ck_assert_ptr_nonnull(l->v[i].rcpt);
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
		    "%s %s %s|", l->v[i].user, l->v[i].addr, l->v[i].rcpt);
	}
	return buf;
}

/* One good recipient first, so that "unchanged" is not just "empty". */
static void
start(struct resolve_list *l, char *want, size_t wantsz)
{
	struct reason	r;
	char		rcpt[128];
	int		code;

	snprintf(rcpt, sizeof(rcpt), "%s@example.test", u[0]);
	ck_assert_int_eq(resolve(rcpt, false, l, &code, &r), 0);
	snprintf(want, wantsz, "%s  %s|", u[0], rcpt);
	ck_assert_str_eq(show(l), want);
}

struct fail_case {
	const char	*rcpt;
	bool		 relay_ok;
	int		 code;
	const char	*status;
};

static const struct fail_case fail_cases[] = {
	{ "team@example.test", false, 550, "5.1.1" },
	{ "first@example.test", false, 550, "5.1.1" },
	{ "middle@example.test", false, 550, "5.1.1" },
	{ "outer@example.test", false, 550, "5.1.1" },
	{ "loopa@example.test", false, 550, "5.4.6" },
	{ "nosuchuser_zz@example.test", false, 550, "5.1.1" },
	{ "someone@elsewhere.example", false, 554, "5.7.1" },
};

START_TEST(test_failed_rcpt_leaves_list_unchanged)
{
	const struct fail_case	*c = &fail_cases[_i];
	struct resolve_list	 l = { NULL, 0 }, empty = { NULL, 0 };
	struct reason		 r;
	char			 want[256], rcpt[128];
	int			 code;

	start(&l, want, sizeof(want));
	ck_assert_int_eq(resolve(c->rcpt, c->relay_ok, &l, &code, &r), -1);
	ck_assert_int_eq(code, c->code);
	ck_assert_str_eq(r.status, c->status);
	/* nothing of the alias's good members stays behind */
	ck_assert_str_eq(show(&l), want);
	ck_assert_uint_eq(l.n, 1);

	/* and the next recipient lands right after the first one */
	snprintf(rcpt, sizeof(rcpt), "%s@example.test", u[2]);
	ck_assert_int_eq(resolve(rcpt, false, &l, &code, &r), 0);
	snprintf(want + strlen(want), sizeof(want) - strlen(want),
	    "%s  %s|", u[2], rcpt);
	ck_assert_str_eq(show(&l), want);
	resolve_list_free(&l);
	ck_assert_ptr_null(l.v);
	ck_assert_uint_eq(l.n, 0);

	/* an empty list stays empty, with nothing allocated */
	ck_assert_int_eq(resolve(c->rcpt, c->relay_ok, &empty, &code, &r),
	    -1);
	ck_assert_ptr_null(empty.v);
	ck_assert_uint_eq(empty.n, 0);
}
END_TEST

START_TEST(test_targets_carry_their_recipient)
{
	struct resolve_list	l = { NULL, 0 };
	struct reason		r;
	char			want[512];
	int			code;

	ck_assert_int_eq(resolve("Good@example.test", true, &l, &code, &r),
	    0);
	ck_assert_int_eq(resolve("goodtoo@example.test", true, &l, &code,
	    &r), 0);
	ck_assert_int_eq(resolve("x@Elsewhere.example", true, &l, &code, &r),
	    0);
	/*
	 * u[1] came with Good@ first and keeps it; goodtoo adds only u[0]
	 * (through a nested alias); remote targets name themselves.
	 */
	snprintf(want, sizeof(want),
	    "%s  Good@example.test|%s  Good@example.test|"
	    "%s far@elsewhere.example Good@example.test|"
	    "%s  goodtoo@example.test|"
	    "%s x@Elsewhere.example x@Elsewhere.example|",
	    u[1], u[2], QRCPT_REMOTE, u[0], QRCPT_REMOTE);
	ck_assert_str_eq(show(&l), want);
	/* a recipient whose targets are all listed already adds nothing */
	ck_assert_int_eq(resolve("inner2@example.test", true, &l, &code, &r),
	    0);
	ck_assert_str_eq(show(&l), want);
	resolve_list_free(&l);
}
END_TEST

START_TEST(test_program_and_file_targets_only_when_allowed)
{
	struct resolve_list	l = { NULL, 0 };
	struct reason		r;
	int			code;

	ck_assert_int_eq(resolve("prog@example.test", false, &l, &code, &r),
	    -1);
	ck_assert_int_eq(code, 550);
	ck_assert_str_eq(r.status, "5.3.5");
	ck_assert_uint_eq(l.n, 0);
	cfg->alias_program_targets = true;
	ck_assert_int_eq(resolve("prog@example.test", false, &l, &code, &r),
	    -1);
	/* the file is still refused */
	ck_assert_str_eq(r.status, "5.3.5");
	cfg->alias_file_targets = true;
	ck_assert_int_eq(resolve("prog@example.test", false, &l, &code, &r),
	    0);
	ck_assert_str_eq(show(&l), "|/usr/bin/ticket --q ops  "
	    "prog@example.test|/var/log/archive  prog@example.test|");
	resolve_list_free(&l);
}
END_TEST

START_TEST(test_delimiter_whole_local_part_first)
{
	struct resolve_list	l = { NULL, 0 };
	struct reason		r;
	char			rcpt[128], want[512];
	int			code;

	/* u0+x is an alias (to u2): it wins over u0 */
	snprintf(rcpt, sizeof(rcpt), "%s+x@example.test", u[0]);
	ck_assert_int_eq(resolve(rcpt, false, &l, &code, &r), 0);
	snprintf(want, sizeof(want), "%s  %s|", u[2], rcpt);
	ck_assert_str_eq(show(&l), want);
	resolve_list_free(&l);
	/* u1+anything is u1; an alias+detail is the alias */
	snprintf(rcpt, sizeof(rcpt), "%s+lists@example.test", u[1]);
	ck_assert_int_eq(resolve(rcpt, false, &l, &code, &r), 0);
	snprintf(want, sizeof(want), "%s  %s|", u[1], rcpt);
	ck_assert_str_eq(show(&l), want);
	ck_assert_int_eq(resolve("inner2+a+b@example.test", false, &l, &code,
	    &r), 0);
	snprintf(want + strlen(want), sizeof(want) - strlen(want),
	    "%s  inner2+a+b@example.test|", u[0]);
	ck_assert_str_eq(show(&l), want);
	resolve_list_free(&l);
	/* no delimiter: user+detail is no one */
	free(cfg->recipient_delimiter);
	cfg->recipient_delimiter = strdup("");
	ck_assert_ptr_nonnull(cfg->recipient_delimiter);
	snprintf(rcpt, sizeof(rcpt), "%s+lists@example.test", u[1]);
	ck_assert_int_eq(resolve(rcpt, false, &l, &code, &r), -1);
	ck_assert_str_eq(r.status, "5.1.1");
}
END_TEST

static Suite *
resolve_suite(void)
{
	Suite	*s = suite_create("resolve");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_failed_rcpt_leaves_list_unchanged, 0,
	    (int)nitems(fail_cases));
	tcase_add_test(tc, test_targets_carry_their_recipient);
	tcase_add_test(tc, test_program_and_file_targets_only_when_allowed);
	tcase_add_test(tc, test_delimiter_whole_local_part_first);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(resolve_suite)
