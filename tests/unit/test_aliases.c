/*
 * Unit tests for common/aliases.c: the file syntax (continuations,
 * comments, quoting, every target kind) with FILE:LINE errors, and
 * expansion: recursion, loops, depth and target limits, duplicates,
 * refused targets, :include: files.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aliases.h"
#include "bounds.h"
#include "unit.h"

#define ALL	(ALIAS_ALLOW_FILE | ALIAS_ALLOW_PROGRAM | ALIAS_ALLOW_INCLUDE)

static char	tmpdir[64];

static void
setup(void)
{
	strcpy(tmpdir, "/tmp/test_aliases.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
teardown(void)
{
	char	cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

/* Writes a file in tmpdir and returns its path (static buffer). */
static const char *
write_file(const char *name, const char *text)
{
	static char	path[256];
	FILE		*fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	ck_assert_int_eq(fclose(fp), 0);
	return path;
}

/* The targets an expansion reported, as "KIND:target|...". */
struct got {
	char	text[8192];
	int	calls;
	int	fail_at;	/* make the n-th call fail; 0 = never */
};

static int
collect(void *arg, enum alias_kind kind, const char *target,
    struct reason *r)
{
	static const char *const kinds[] = { "L", "R", "F", "P" };
	struct got		*g = arg;

	if (++g->calls == g->fail_at) {
		reason_set(r, "4.2.0", "callback says no");
		return -1;
	}
	strncat(g->text, kinds[kind], sizeof(g->text) - strlen(g->text) - 1);
	strncat(g->text, ":", sizeof(g->text) - strlen(g->text) - 1);
	strncat(g->text, target, sizeof(g->text) - strlen(g->text) - 1);
	strncat(g->text, "|", sizeof(g->text) - strlen(g->text) - 1);
	return 0;
}

static const char sample[] =
    "# /etc/aliases for the tests\n"
    "\n"
    "postmaster: root\n"
    "MAILER-DAEMON:postmaster\n"
    "root:  alice, \\bob,\n"
    "       ops@Example.ORG,\n"
    "\t# a comment inside an entry\n"
    "\n"
    "       carol\n"
    "  # indented comment\n"
    "self:   self, admin\n"
    "loopa:  loopb\n"
    "loopb:  loopa, dave\n"
    "dup:    x, y, x, dupb\n"
    "dupb:   y, z\n"
    "\"help desk\": erin\n"
    "quoted: \"|/usr/bin/ticket --queue a,b\", \"/var/log/mail log\"\n"
    "prog:   |/usr/bin/vacation alice\n"
    "file:   /var/mail/archive\n"
    "remote: \"a b\"@example.org, \"ab\"@Example.org, j\xc3\xb6@b\xc3\xbc.de\n"
    "crlf:   frank\r\n"
    "trail:  gina,   \n"
    "upper:  Henry\n";

struct expand_case {
	const char	*name;
	unsigned	 allow;
	int		 want_rc;
	const char	*want;		/* rc 1: targets; rc -1: status */
};

static const struct expand_case expand_cases[] = {
	{ "postmaster", 0, 1,
	    "L:alice|L:bob|R:ops@Example.ORG|L:carol|" },
	{ "POSTMASTER", 0, 1,
	    "L:alice|L:bob|R:ops@Example.ORG|L:carol|" },
	{ "mailer-daemon", 0, 1,
	    "L:alice|L:bob|R:ops@Example.ORG|L:carol|" },
	{ "root", 0, 1, "L:alice|L:bob|R:ops@Example.ORG|L:carol|" },
	{ "self", 0, 1, "L:self|L:admin|" },
	{ "loopa", 0, 1, "L:loopa|L:dave|" },
	{ "loopb", 0, 1, "L:loopb|L:dave|" },
	{ "dup", 0, 1, "L:x|L:y|L:z|" },
	{ "help desk", 0, 1, "L:erin|" },
	{ "HELP DESK", 0, 1, "L:erin|" },
	{ "quoted", ALL, 1,
	    "P:/usr/bin/ticket --queue a,b|F:/var/log/mail log|" },
	{ "quoted", ALIAS_ALLOW_FILE, -1, "5.3.5" },
	{ "quoted", ALIAS_ALLOW_PROGRAM, -1, "5.3.5" },
	{ "prog", ALIAS_ALLOW_PROGRAM, 1, "P:/usr/bin/vacation alice|" },
	{ "prog", 0, -1, "5.3.5" },
	{ "file", ALIAS_ALLOW_FILE, 1, "F:/var/mail/archive|" },
	{ "file", ALIAS_ALLOW_PROGRAM | ALIAS_ALLOW_INCLUDE, -1, "5.3.5" },
	{ "remote", 0, 1,
	    "R:\"a b\"@example.org|R:ab@Example.org|R:j\xc3\xb6@b\xc3\xbc.de|" },
	{ "crlf", 0, 1, "L:frank|" },
	{ "trail", 0, 1, "L:gina|" },
	{ "upper", 0, 1, "L:Henry|" },
	{ "alice", 0, 0, "" },
	{ "nobody", ALL, 0, "" },
	{ "", 0, 0, "" },
};

START_TEST(test_expand)
{
	const struct expand_case	*c = &expand_cases[_i];
	struct config_errors		 errs = { NULL, 0 };
	struct aliases			*al;
	struct got			 g;
	struct reason			 r = { "", "" };
	size_t				 i;
	int				 rc;

	al = aliases_parse(sample, strlen(sample), "aliases", &errs);
	ck_assert_ptr_nonnull(al);
	for (i = 0; i < errs.n; i++)
		ck_abort_msg("%s:%d: %s", errs.v[i].file, errs.v[i].line,
		    errs.v[i].reason);
	ck_assert_uint_eq(aliases_count(al), 16);
	memset(&g, 0, sizeof(g));
	rc = aliases_expand(al, c->name, c->allow, collect, &g, &r);
	ck_assert_msg(rc == c->want_rc, "%s: got %d (%s %s), want %d",
	    c->name, rc, r.status, r.text, c->want_rc);
	if (rc == -1) {
		ck_assert_msg(strcmp(r.status, c->want) == 0,
		    "%s: got %s, want %s", c->name, r.status, c->want);
		ck_assert_msg(g.calls == 0, "%s: callback called on failure",
		    c->name);
	} else
		ck_assert_msg(strcmp(g.text, c->want) == 0,
		    "%s: got %s, want %s", c->name, g.text, c->want);
	aliases_free(&al);
	ck_assert_ptr_null(al);
	aliases_free(&al);
}
END_TEST

struct error_case {
	const char	*name;
	const char	*text;
	int		 want_line;
	const char	*want_reason;	/* a substring */
	size_t		 want_count;	/* entries still loaded */
};

static const struct error_case error_cases[] = {
	{ "missing colon", "a: b\nc d\ne: f\n", 2, "missing ':'", 2 },
	{ "continuation first", "  x\na: b\n", 1, "continuation", 1 },
	{ "unterminated quote name", "\"a: b\n", 1, "quote", 0 },
	{ "unterminated quote target", "a: \"|x, y\nb: c\n", 1, "quote",
	    1 },
	{ "bad address", "a: b@\n", 1, "invalid address", 0 },
	{ "bad address domain", "a: b@-x.org\n", 1, "invalid address", 0 },
	{ "no targets", "a:\nb: c\n", 1, "no targets", 1 },
	{ "only commas", "a: , ,\n", 1, "no targets", 0 },
	{ "space in name", "a b: c\n", 1, "invalid alias name", 0 },
	{ "at in name", "a@b: c\n", 1, "invalid alias name", 0 },
	{ "long name", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    ": b\n", 1, "invalid alias name", 0 },
	{ "empty quoted name", "\"\": b\n", 1, "invalid alias name", 0 },
	{ "control in quoted name", "\"a\x01\": b\n", 1,
	    "invalid alias name", 0 },
	{ "relative include", "a: :include:lists/x\n", 1, "absolute", 0 },
	{ "empty program", "a: |\n", 1, "empty program", 0 },
	{ "bad local target", "a: b c\n", 1, "invalid target", 0 },
	{ "bad noexpand", "a: \\\n", 1, "invalid user name", 0 },
	{ "bad utf8", "a: b\xc3\n", 1, "invalid target", 0 },
	/* found by fuzz_aliases: a CR inside a quoted program */
	{ "control in program", "a: \"|x\ry\"\n", 1, "control character",
	    0 },
	{ "control in file", "a: /x\001y\n", 1, "control character", 0 },
	{ "duplicate", "a: b\nc: d\nA: e\n", 3, "duplicate alias a", 2 },
	{ "nul", "a: b\nc: d\0x\ne: f\n", 2, "NUL", 2 },
};

START_TEST(test_errors)
{
	const struct error_case	*c = &error_cases[_i];
	struct config_errors	 errs = { NULL, 0 };
	struct aliases		*al;
	size_t			 len = strlen(c->text);

	if (strcmp(c->name, "nul") == 0)
		len = 17;
	al = aliases_parse(c->text, len, "/etc/aliases", &errs);
	ck_assert_ptr_nonnull(al);
	ck_assert_msg(errs.n == 1, "%s: got %zu errors, want 1", c->name,
	    errs.n);
	ck_assert_str_eq(errs.v[0].file, "/etc/aliases");
	ck_assert_msg(errs.v[0].line == c->want_line &&
	    strstr(errs.v[0].reason, c->want_reason) != NULL,
	    "%s: got %d: %s, want %d: %s", c->name, errs.v[0].line,
	    errs.v[0].reason, c->want_line, c->want_reason);
	ck_assert_msg(aliases_count(al) == c->want_count,
	    "%s: got %zu entries, want %zu", c->name, aliases_count(al),
	    c->want_count);
	aliases_free(&al);
	config_errors_free(&errs);
}
END_TEST

START_TEST(test_duplicate_first_wins)
{
	static const char	text[] = "a: first\nb: x\na: second\n";
	struct config_errors	errs = { NULL, 0 };
	struct aliases		*al;
	struct got		g;
	struct reason		r;

	al = aliases_parse(text, strlen(text), "f", &errs);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_ptr_nonnull(strstr(errs.v[0].reason, "first at line 1"));
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(aliases_expand(al, "a", 0, collect, &g, &r), 1);
	ck_assert_str_eq(g.text, "L:first|");
	aliases_free(&al);
	config_errors_free(&errs);
}
END_TEST

START_TEST(test_entry_too_long)
{
	struct config_errors	 errs = { NULL, 0 };
	struct aliases		*al;
	char			*text;
	size_t			 o = 0, i;

	text = malloc(2 * ALIAS_LINE_MAX + 4096);
	ck_assert_ptr_nonnull(text);
	o += (size_t)sprintf(text, "big: u0");
	for (i = 1; o < 2 * ALIAS_LINE_MAX; i++)
		o += (size_t)sprintf(text + o, ",\n u%zu", i);
	o += (size_t)sprintf(text + o, "\nsmall: x\n");
	al = aliases_parse(text, o, "f", &errs);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_int_eq(errs.v[0].line, 1);
	ck_assert_ptr_nonnull(strstr(errs.v[0].reason, "too long"));
	ck_assert_uint_eq(aliases_count(al), 1);
	aliases_free(&al);
	config_errors_free(&errs);
	free(text);
}
END_TEST

/* A chain of n aliases: c1: c2, ..., cn: user. */
static struct aliases *
chain(int n)
{
	char			text[4096];
	size_t			o = 0;
	int			i;
	struct config_errors	errs = { NULL, 0 };
	struct aliases		*al;

	for (i = 1; i < n; i++)
		o += (size_t)sprintf(text + o, "c%d: c%d\n", i, i + 1);
	o += (size_t)sprintf(text + o, "c%d: user\n", n);
	al = aliases_parse(text, o, "f", &errs);
	ck_assert_uint_eq(errs.n, 0);
	return al;
}

START_TEST(test_depth)
{
	struct aliases	*al;
	struct got	 g;
	struct reason	 r;

	al = chain(ALIAS_DEPTH_MAX);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(aliases_expand(al, "c1", 0, collect, &g, &r), 1);
	ck_assert_str_eq(g.text, "L:user|");
	aliases_free(&al);

	al = chain(ALIAS_DEPTH_MAX + 1);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(aliases_expand(al, "c1", 0, collect, &g, &r), -1);
	ck_assert_str_eq(r.status, "5.4.6");
	ck_assert_int_eq(g.calls, 0);
	/* from further down the chain it is short enough */
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(aliases_expand(al, "c2", 0, collect, &g, &r), 1);
	aliases_free(&al);
}
END_TEST

START_TEST(test_targets_max)
{
	struct config_errors	 errs = { NULL, 0 };
	struct aliases		*al;
	struct got		 g;
	struct reason		 r;
	char			*text;
	size_t			 o;
	int			 i;

	text = malloc(64 * ALIAS_TARGETS_MAX);
	ck_assert_ptr_nonnull(text);
	/* list1: exactly the limit, in two halves through list2 */
	o = (size_t)sprintf(text, "list1: list2");
	for (i = 0; i < ALIAS_TARGETS_MAX / 2; i++)
		o += (size_t)sprintf(text + o, ", u%d", i);
	o += (size_t)sprintf(text + o, "\nlist2: u0");	/* a duplicate */
	for (i = ALIAS_TARGETS_MAX / 2; i < ALIAS_TARGETS_MAX; i++)
		o += (size_t)sprintf(text + o, ", u%d", i);
	o += (size_t)sprintf(text + o, "\nlist3: list1, one-more\n");
	al = aliases_parse(text, o, "f", &errs);
	ck_assert_uint_eq(errs.n, 0);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(aliases_expand(al, "list1", 0, collect, &g, &r), 1);
	ck_assert_int_eq(g.calls, ALIAS_TARGETS_MAX);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(aliases_expand(al, "list3", 0, collect, &g, &r), -1);
	ck_assert_str_eq(r.status, "5.5.3");
	ck_assert_int_eq(g.calls, 0);
	aliases_free(&al);
	free(text);
}
END_TEST

START_TEST(test_callback_failure)
{
	struct config_errors	 errs = { NULL, 0 };
	struct aliases		*al;
	struct got		 g;
	struct reason		 r;

	al = aliases_parse(sample, strlen(sample), "f", &errs);
	memset(&g, 0, sizeof(g));
	g.fail_at = 2;
	ck_assert_int_eq(aliases_expand(al, "root", 0, collect, &g, &r), -1);
	ck_assert_str_eq(r.status, "4.2.0");
	ck_assert_int_eq(g.calls, 2);
	aliases_free(&al);
}
END_TEST

START_TEST(test_include)
{
	struct config_errors	 errs = { NULL, 0 };
	struct aliases		*al;
	struct got		 g;
	struct reason		 r;
	char			 text[4096], staff[256], loop[256], bad[256];

	snprintf(staff, sizeof(staff), "%s",
	    write_file("staff", "# the staff list\n"
	    "alice, bob\n"
	    "\n"
	    "  carol@example.org\n"
	    "postmaster,\n"
	    "\"|/usr/bin/log staff\"\n"));
	snprintf(loop, sizeof(loop), "%s", write_file("loop", "x\n"));
	/* the loop file includes itself, and the staff list */
	snprintf(text, sizeof(text), "x\n:include:%s\n:include: %s\n", loop,
	    staff);
	write_file("loop", text);
	snprintf(bad, sizeof(bad), "%s", write_file("bad", "ok\nb@\n"));
	snprintf(text, sizeof(text),
	    "staff: :include:%s\n"
	    "postmaster: root\n"
	    "loop: :include:%s\n"
	    "bad: :include:%s\n"
	    "missing: :include:%s/nonexistent\n"
	    "dir: :include:%s\n"
	    "fifo: :include:%s/fifo\n"
	    "empty: :include:%s\n", staff, loop, bad, tmpdir, tmpdir, tmpdir,
	    write_file("empty", "# nobody\n"));
	snprintf(bad, sizeof(bad), "%s/fifo", tmpdir);
	ck_assert_int_eq(mkfifo(bad, 0600), 0);
	al = aliases_parse(text, strlen(text), "f", &errs);
	ck_assert_uint_eq(errs.n, 0);

	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(aliases_expand(al, "staff", ALL, collect, &g, &r),
	    1);
	ck_assert_str_eq(g.text, "L:alice|L:bob|R:carol@example.org|L:root|"
	    "P:/usr/bin/log staff|");
	/* programs in an include need their flag too */
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(aliases_expand(al, "staff", ALIAS_ALLOW_INCLUDE,
	    collect, &g, &r), -1);
	ck_assert_str_eq(r.status, "5.3.5");
	/* includes need their flag */
	ck_assert_int_eq(aliases_expand(al, "staff", ALIAS_ALLOW_PROGRAM,
	    collect, &g, &r), -1);
	ck_assert_str_eq(r.status, "5.3.5");
	ck_assert_ptr_nonnull(strstr(r.text, "include"));
	/* a file that includes itself is read once */
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(aliases_expand(al, "loop", ALL, collect, &g, &r), 1);
	ck_assert_str_eq(g.text, "L:x|L:alice|L:bob|R:carol@example.org|"
	    "L:root|P:/usr/bin/log staff|");
	/* trouble with an include is temporary */
	ck_assert_int_eq(aliases_expand(al, "bad", ALL, collect, &g, &r), -1);
	ck_assert_str_eq(r.status, "4.3.0");
	ck_assert_msg(strstr(r.text, ":2:") != NULL, "got %s", r.text);
	ck_assert_int_eq(aliases_expand(al, "missing", ALL, collect, &g, &r),
	    -1);
	ck_assert_str_eq(r.status, "4.3.0");
	ck_assert_int_eq(aliases_expand(al, "dir", ALL, collect, &g, &r), -1);
	ck_assert_str_eq(r.status, "4.3.0");
	/* a FIFO is refused, without waiting for a writer */
	ck_assert_int_eq(aliases_expand(al, "fifo", ALL, collect, &g, &r), -1);
	ck_assert_str_eq(r.status, "4.3.0");
	ck_assert_ptr_nonnull(strstr(r.text, "regular file"));
	/* an alias that ends up with nobody is an error */
	ck_assert_int_eq(aliases_expand(al, "empty", ALL, collect, &g, &r),
	    -1);
	ck_assert_str_eq(r.status, "5.3.5");
	aliases_free(&al);
}
END_TEST

START_TEST(test_load)
{
	struct config_errors	 errs = { NULL, 0 };
	struct aliases		*al;
	const char		*path;
	struct got		 g;
	struct reason		 r;
	char			 missing[128];

	path = write_file("aliases", "root: alice\nbad line\n");
	al = aliases_load(path, &errs);
	ck_assert_ptr_nonnull(al);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.v[0].file, path);
	ck_assert_int_eq(errs.v[0].line, 2);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(aliases_expand(al, "root", 0, collect, &g, &r), 1);
	ck_assert_str_eq(g.text, "L:alice|");
	aliases_free(&al);
	config_errors_free(&errs);

	snprintf(missing, sizeof(missing), "%s/none", tmpdir);
	ck_assert_ptr_null(aliases_load(missing, &errs));
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_int_eq(errs.v[0].line, 0);
	ck_assert_ptr_nonnull(strstr(errs.v[0].reason, "cannot open"));
	config_errors_free(&errs);

	ck_assert_ptr_null(aliases_load(tmpdir, &errs));
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_ptr_nonnull(strstr(errs.v[0].reason, "regular file"));
	config_errors_free(&errs);

	/* errs may be NULL */
	path = write_file("aliases2", "x\n");
	al = aliases_load(path, NULL);
	ck_assert_ptr_nonnull(al);
	ck_assert_uint_eq(aliases_count(al), 0);
	aliases_free(&al);
}
END_TEST

static Suite *
aliases_suite(void)
{
	Suite	*s = suite_create("aliases");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_expand, 0, nitems(expand_cases));
	tcase_add_loop_test(tc, test_errors, 0, nitems(error_cases));
	tcase_add_test(tc, test_duplicate_first_wins);
	tcase_add_test(tc, test_entry_too_long);
	tcase_add_test(tc, test_depth);
	tcase_add_test(tc, test_targets_max);
	tcase_add_test(tc, test_callback_failure);
	tcase_add_test(tc, test_include);
	tcase_add_test(tc, test_load);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(aliases_suite)
