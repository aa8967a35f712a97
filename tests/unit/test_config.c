/*
 * Unit tests for common/config.c and config_keys.c: the settings table,
 * the defaults, the example config, every broken config in
 * tests/unit/configs/ (each names its expected FILE:LINE and reason on
 * its first lines), errors from @included files, listen address forms,
 * sizes and durations, typo suggestions, printing and reading back, and
 * that the documentation templates are current with the table.
 *
 * Configs that would otherwise depend on this machine set hostname, user,
 * group, mail_group and chroot to values that work everywhere (root).
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/config_doc.h"
#include "common/config_keys.h"
#include "unit.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR	"."
#endif
#ifndef TOP_BUILDDIR
#define TOP_BUILDDIR	"."
#endif

/* Keeps the checks that look at this machine quiet; see the top. */
#define QUIET	"hostname = \"mx.example.test\"; user = \"root\"; " \
		"group = \"root\"; mail_group = \"root\"; chroot = \"\";\n"

/* --- helpers ------------------------------------------------------------ */

static char	tmpdir[256];

static void
tmp_setup(void)
{
	const char	*base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/test_config.XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
tmp_teardown(void)
{
	DIR		*d;
	struct dirent	*e;
	char		 path[512];

	if ((d = opendir(tmpdir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(tmpdir);
}

/* Writes text to tmpdir/name and returns the path (static buffer per slot). */
static const char *
write_file(const char *name, const char *text)
{
	static char	 paths[4][512];
	static int	 slot;
	char		*path = paths[slot++ % 4];
	FILE		*fp;

	snprintf(path, 512, "%s/%s", tmpdir, name);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	ck_assert_int_eq(fputs(text, fp) >= 0, 1);
	ck_assert_int_eq(fclose(fp), 0);
	return path;
}

static char *
read_whole(const char *path)
{
	FILE	*fp = fopen(path, "r");
	char	*buf;
	long	 n;

	ck_assert_msg(fp != NULL, "cannot open %s: %s", path, strerror(errno));
	ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	buf = calloc(1, (size_t)n + 1);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	return buf;
}

/* Everything config_errors_print writes, as one string. */
static char *
errors_text(const struct config_errors *errs)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*fp = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(fp);
	config_errors_print(fp, errs);
	fclose(fp);
	return buf;
}

/* Loads text (plus QUIET when quiet) and expects exactly one error. */
static void
expect_one_error(const char *name, const char *text, bool quiet, int line,
    const char *reason)
{
	struct config_errors	 errs = { NULL, 0 };
	struct config		*cfg;
	char			*all, *printed;
	const char		*path;

	if (asprintf(&all, "%s%s", text, quiet ? QUIET : "") == -1)
		ck_abort();
	path = write_file("case.conf", all);
	cfg = config_load(path, &errs);
	printed = errors_text(&errs);
	ck_assert_msg(cfg == NULL, "%s: loaded, want an error", name);
	ck_assert_msg(errs.n == 1, "%s: got %zu errors, want 1:\n%s", name,
	    errs.n, printed);
	ck_assert_msg(strcmp(errs.v[0].file, path) == 0 &&
	    errs.v[0].line == line && strstr(errs.v[0].reason, reason) != NULL,
	    "%s: got \"%s\", want line %d and \"%s\"", name, printed, line,
	    reason);
	free(printed);
	free(all);
	config_errors_free(&errs);
}

/* Loads text (plus QUIET) and expects no error; returns the config. */
static struct config *
expect_load_q(const char *name, const char *text, bool quiet)
{
	struct config_errors	 errs = { NULL, 0 };
	struct config		*cfg;
	char			*all, *printed;

	if (asprintf(&all, "%s%s", text, quiet ? QUIET : "") == -1)
		ck_abort();
	cfg = config_load(write_file("case.conf", all), &errs);
	printed = errors_text(&errs);
	ck_assert_msg(cfg != NULL && errs.n == 0, "%s: errors:\n%s", name,
	    printed);
	free(printed);
	free(all);
	return cfg;
}

static struct config *
expect_load(const char *name, const char *text)
{
	return expect_load_q(name, text, true);
}

/*
 * Replaces the line of text that starts with prefix (after a newline)
 * by repl. Returns a new string.
 */
static char *
replace_line(char *text, const char *prefix, const char *repl)
{
	char	*p, *want, *end, *out;

	if (asprintf(&want, "\n%s", prefix) == -1)
		ck_abort();
	p = strstr(text, want);
	ck_assert_msg(p != NULL, "no line \"%s\"", prefix);
	free(want);
	end = strchr(p + 1, '\n');
	if (asprintf(&out, "%.*s\n%s%s", (int)(p - text), text, repl,
	    end != NULL ? end : "") == -1)
		ck_abort();
	free(text);
	return out;
}

/* --- the table ---------------------------------------------------------- */

START_TEST(test_table_rows)
{
	const struct config_key	*k, *o;
	struct config		*cfg = config_defaults();
	char			*text, group[128];
	const char		*dot;

	for (k = config_keys; k < config_keys + config_nkeys; k++) {
		ck_assert_msg(k->help != NULL && *k->help != '\0' &&
		    k->help[strlen(k->help) - 1] == '.',
		    "%s: help must be one sentence ending in '.'", k->name);
		ck_assert_msg((k->def != NULL) != (k->compute != NULL),
		    "%s: needs exactly one of def and compute", k->name);
		ck_assert_msg(k->compute == NULL || (k->def_doc != NULL &&
		    k->example != NULL), "%s: computed default needs def_doc "
		    "and example", k->name);
		ck_assert_msg(k->type != CONFIG_ENUM || k->enums != NULL,
		    "%s: enum without names", k->name);
		ck_assert_msg(k->min <= k->max, "%s: min > max", k->name);
		/* the group is documented, so the docs include the key */
		dot = strrchr(k->name, '.');
		snprintf(group, sizeof(group), "%.*s", dot == NULL ? 0 :
		    (int)(dot - k->name), k->name);
		ck_assert_msg(config_group_find(group) != NULL,
		    "%s: group \"%s\" missing from config_groups", k->name,
		    group);
		for (o = config_keys; o < k; o++) {
			ck_assert_msg(strcmp(o->name, k->name) != 0,
			    "%s twice", k->name);
			ck_assert_msg(o->offset != k->offset,
			    "%s and %s share a field", o->name, k->name);
		}
		/* defaults are written the way config_print writes them */
		if (k->def != NULL) {
			text = config_key_format(k, cfg);
			ck_assert_msg(strcmp(text, k->def) == 0,
			    "%s: default \"%s\" prints as \"%s\"", k->name,
			    k->def, text);
			free(text);
		}
	}
	config_free(&cfg);
	ck_assert_ptr_null(cfg);
	config_free(&cfg);	/* NULL is fine */
	config_free(NULL);
}
END_TEST

/*
 * Every field of struct config has a row: 19 at the top (not counting
 * path) and 3 more for local delivery (alias_user, command_time_limit,
 * recipient_delimiter), 20 + 7 in smtp, 10 + 7 in pop3 (the pools' rows
 * are the +), 5 in tls, 5 in queue, 16 + 9 in relay (the engine's, the
 * runner's); + 4 for DSN and loops (smtp.hop_limit, queue.delay_warning,
 * bounce_lifetime, double_bounce_to_postmaster); + 6 for the smtp
 * milters; 2 in submit; + 1 for relay.tls.policy. A new field
 * without a row, or a row without a field, changes one side of this.
 */
START_TEST(test_table_covers_struct)
{
	ck_assert_uint_eq(config_nkeys, 19 + 3 + 20 + 7 + 10 + 7 + 5 + 5 +
	    16 + 9 + 4 + 6 + 2 + 1);
}
END_TEST

/* --- defaults ----------------------------------------------------------- */

static const struct {
	const char	*name;
	const char	*want;
} defaults[] = {
	{ "user",			"\"" MAILD_USER "\"" },
	{ "group",			"\"" MAILD_GROUP "\"" },
	{ "chroot",			"\"" MAILD_STATE_DIR "/empty\"" },
	{ "spool_dir",			"\"" MAILD_SPOOL_DIR "\"" },
	{ "queue_dir",			"\"" MAILD_QUEUE_DIR "\"" },
	{ "state_dir",			"\"" MAILD_STATE_DIR "\"" },
	{ "pid_file",			"\"" MAILD_RUN_DIR "/maild.pid\"" },
	{ "syslog_facility",		"\"mail\"" },
	{ "mail_group",			"\"mail\"" },
	{ "dotlock",			"true" },
	{ "pam_service",		"\"maild\"" },
	{ "auth_fail_delay",		"\"2s\"" },
	{ "shutdown_grace",		"\"30s\"" },
	{ "smtp.listen",		"[ \"*:25\" ]" },
	{ "smtp.submission_listen",	"[ ]" },
	{ "smtp.smtps_listen",		"[ ]" },
	{ "smtp.banner",		"\"ESMTP maild\"" },
	{ "smtp.message_size_limit",	"\"10M\"" },
	{ "smtp.max_recipients",	"100" },
	{ "smtp.max_errors",		"10" },
	{ "smtp.max_connections_per_ip", "32" },
	{ "smtp.max_line_length",	"1048576" },
	{ "smtp.strict_rfc5321_paths",	"false" },
	{ "smtp.bare_newlines",		"\"normalize\"" },
	{ "smtp.vrfy",			"false" },
	{ "smtp.expn",			"false" },
	{ "smtp.helo_required",		"true" },
	{ "smtp.smtputf8",		"true" },
	{ "smtp.chunking",		"true" },
	{ "smtp.allow_plaintext_auth",	"false" },
	{ "smtp.authenticated_sender",	"\"own\"" },
	{ "smtp.timeout_command",	"\"5m\"" },
	{ "smtp.timeout_data",		"\"3m\"" },
	{ "smtp.milters",		"[ ]" },
	{ "smtp.submission_milters",	"[ ]" },
	{ "smtp.milter_default_action",	"\"tempfail\"" },
	{ "smtp.milter_timeout",	"\"30s\"" },
	{ "smtp.milter_connect_timeout", "\"10s\"" },
	{ "smtp.milter_macro_daemon_name", "\"maild\"" },
	{ "smtp.pool.min_spare",	"2" },
	{ "smtp.pool.max_spare",	"8" },
	{ "smtp.pool.max_workers",	"256" },
	{ "smtp.pool.max_sessions_per_worker", "100" },
	{ "smtp.pool.stress_timeout",	"\"10s\"" },
	{ "smtp.pool.stress_max_errors",	"1" },
	{ "pop3.listen",		"[ \"*:110\" ]" },
	{ "pop3.pop3s_listen",		"[ ]" },
	{ "pop3.timeout",		"\"10m\"" },
	{ "pop3.max_errors",		"10" },
	{ "pop3.max_connections_per_ip", "32" },
	{ "pop3.apop_secrets",		"\"\"" },
	{ "pop3.login_delay",		"\"0s\"" },
	{ "pop3.expire",		"\"\"" },
	{ "pop3.allow_plaintext_login",	"false" },
	{ "pop3.index",			"true" },
	{ "pop3.pool.min_spare",	"2" },
	{ "pop3.pool.max_spare",	"8" },
	{ "pop3.pool.max_workers",	"256" },
	{ "pop3.pool.max_sessions_per_worker", "100" },
	{ "pop3.pool.stress_timeout",	"\"10s\"" },
	{ "pop3.pool.stress_max_errors",	"1" },
	{ "tls.certificate",		"\"\"" },
	{ "tls.key",			"\"\"" },
	{ "tls.min_protocol",		"\"TLSv1.2\"" },
	{ "queue.retry_min",		"\"5m\"" },
	{ "queue.retry_max",		"\"1h\"" },
	{ "queue.max_lifetime",		"\"5d\"" },
	{ "queue.locked_retry",		"\"1s\"" },
	{ "queue.min_free",		"\"100M\"" },
};

START_TEST(test_default_value)
{
	const struct config_key	*k = config_key_find(defaults[_i].name);
	struct config		*cfg = config_defaults();
	char			*got;

	ck_assert_msg(k != NULL, "no key %s", defaults[_i].name);
	got = config_key_format(k, cfg);
	ck_assert_msg(strcmp(got, defaults[_i].want) == 0,
	    "%s: got %s, want %s", k->name, got, defaults[_i].want);
	free(got);
	config_free(&cfg);
}
END_TEST

START_TEST(test_default_struct)
{
	struct config	*cfg = config_defaults();

	/* the typed view agrees with the text */
	ck_assert_int_eq(cfg->smtp.message_size_limit, 10 * 1024 * 1024);
	ck_assert_int_eq(cfg->smtp.timeout_command, 300);
	ck_assert_int_eq(cfg->pop3.timeout, 600);
	ck_assert_int_eq(cfg->queue.max_lifetime, 5 * 86400);
	ck_assert_int_eq(cfg->smtp.bare_newlines, BARE_NEWLINE_NORMALIZE);
	ck_assert_int_eq(cfg->smtp.authenticated_sender, AUTH_SENDER_OWN);
	ck_assert_int_eq(cfg->smtp.listen.n, 1);
	ck_assert_ptr_null(cfg->smtp.listen.v[0].host);
	ck_assert_int_eq(cfg->smtp.listen.v[0].port, 25);
	ck_assert_int_eq(cfg->pop3.listen.v[0].port, 110);
	ck_assert_int_eq(cfg->smtp.submission_listen.n, 0);
	ck_assert_str_eq(cfg->tls.min_protocol, "TLSv1.2");
	ck_assert_ptr_null(cfg->path);
	/* hostname: this machine's; local_domains: localhost and it */
	ck_assert(cfg->hostname != NULL && *cfg->hostname != '\0');
	ck_assert_str_eq(cfg->local_domains.v[0], "localhost");
	if (strcmp(cfg->hostname, "localhost") != 0) {
		ck_assert_uint_eq(cfg->local_domains.n, 2);
		ck_assert_str_eq(cfg->local_domains.v[1], cfg->hostname);
	}
	ck_assert(config_is_local_domain(cfg, "LocalHost"));
	config_free(&cfg);
}
END_TEST

/* An empty file is a complete configuration. */
START_TEST(test_empty_file)
{
	struct config	*cfg = expect_load("empty", "");
	struct config	*def = config_defaults();

	ck_assert_str_eq(cfg->hostname, "mx.example.test");
	ck_assert_uint_eq(cfg->local_domains.n, 2);
	ck_assert_str_eq(cfg->local_domains.v[1], "mx.example.test");
	ck_assert_int_eq(cfg->smtp.pool.max_workers,
	    def->smtp.pool.max_workers);
	ck_assert_ptr_nonnull(strstr(cfg->path, "/case.conf"));
	config_free(&cfg);
	config_free(&def);
}
END_TEST

/* --- the example config and the docs ------------------------------------ */

/*
 * The example as built (etc/maild.conf) loads. The defaults it leaves
 * alone that depend on the machine (the user, the groups, the chroot,
 * the host name) need not suit a build machine: those problems, and only
 * those, are allowed; then the file is loaded again with just those lines
 * set to values that suit any machine, and must load cleanly.
 */
static const char *const machine_keys[] = {
	"hostname", "user", "group", "mail_group", "chroot",
};

START_TEST(test_example_loads)
{
	struct config_errors	 errs = { NULL, 0 };
	struct config		*cfg;
	const char		*path = TOP_BUILDDIR "/etc/maild.conf";
	char			*text, *printed, prefix[64];
	size_t			 i, j, n;
	bool			 ok;

	cfg = config_load(path, &errs);
	printed = errors_text(&errs);
	for (i = 0; i < errs.n; i++) {
		ok = false;
		for (j = 0; j < nitems(machine_keys); j++) {
			n = strlen(machine_keys[j]);
			ok |= strncmp(errs.v[i].reason, machine_keys[j], n) ==
			    0 && errs.v[i].reason[n] == ':';
		}
		ck_assert_msg(ok && errs.v[i].line == 0,
		    "the example config has problems:\n%s", printed);
	}
	free(printed);
	config_errors_free(&errs);
	config_free(&cfg);

	text = read_whole(path);
	for (j = 0; j < nitems(machine_keys); j++) {
		snprintf(prefix, sizeof(prefix), "#%s = ", machine_keys[j]);
		text = replace_line(text, prefix, j == 0 ?
		    "hostname = \"mx.example.test\";" : j == 4 ?
		    "chroot = \"\";" : j == 1 ? "user = \"root\";" :
		    j == 2 ? "group = \"root\";" : "mail_group = \"root\";");
	}
	cfg = config_load(write_file("example.conf", text), &errs);
	printed = errors_text(&errs);
	ck_assert_msg(cfg != NULL && errs.n == 0,
	    "the example config has problems:\n%s", printed);
	ck_assert_int_eq(cfg->smtp.listen.v[0].port, 25);
	free(printed);
	config_free(&cfg);
	free(text);
}
END_TEST

/* The templates in the source tree are what the table gives now. */
START_TEST(test_docs_current)
{
	char	*want, *got = NULL;
	size_t	 len = 0;
	FILE	*fp, *in;

	want = read_whole(TOP_SRCDIR "/etc/maild.conf.in");
	ck_assert_ptr_nonnull(fp = open_memstream(&got, &len));
	config_doc_example(fp);
	fclose(fp);
	ck_assert_msg(strcmp(got, want) == 0, "etc/maild.conf.in is out of "
	    "date: run make update-config-docs");
	free(want);
	free(got);

	want = read_whole(TOP_SRCDIR "/doc/maild.conf.5.in");
	ck_assert_ptr_nonnull(in = fopen(TOP_SRCDIR "/doc/maild.conf.5.in",
	    "r"));
	ck_assert_ptr_nonnull(fp = open_memstream(&got, &len));
	ck_assert_int_eq(config_doc_man_splice(in, fp), 0);
	fclose(fp);
	fclose(in);
	ck_assert_msg(strcmp(got, want) == 0, "doc/maild.conf.5.in is out of "
	    "date: run make update-config-docs");
	free(want);
	free(got);
}
END_TEST

/* Each setting is documented in both, with its default, by full name. */
START_TEST(test_docs_mention_every_key)
{
	const struct config_key	*k;
	char			*conf, *man, *want;

	conf = read_whole(TOP_BUILDDIR "/etc/maild.conf");
	man = read_whole(TOP_BUILDDIR "/doc/maild.conf.5");
	for (k = config_keys; k < config_keys + config_nkeys; k++) {
		if (asprintf(&want, "# %s: ", k->name) == -1)
			ck_abort();
		ck_assert_msg(strstr(conf, want) != NULL,
		    "etc/maild.conf does not describe %s", k->name);
		free(want);
		if (asprintf(&want, "\n.It Ic %s Pq ", k->name) == -1)
			ck_abort();
		ck_assert_msg(strstr(man, want) != NULL,
		    "doc/maild.conf.5 does not describe %s", k->name);
		free(want);
	}
	ck_assert_ptr_null(strstr(conf, "@MAILD_"));
	ck_assert_ptr_null(strstr(man, "@MAILD_"));
	free(conf);
	free(man);
}
END_TEST

/* --- broken configs in tests/unit/configs/ ------------------------------- */

static char	**bad_files;
static int	  nbad_files;

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

static void
find_bad_files(void)
{
	DIR		*d = opendir(TOP_SRCDIR "/tests/unit/configs");
	struct dirent	*e;
	size_t		 n;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		n = strlen(e->d_name);
		if (strncmp(e->d_name, "bad-", 4) != 0 || n < 6 ||
		    strcmp(e->d_name + n - 5, ".conf") != 0)
			continue;
		bad_files = realloc(bad_files, (size_t)(nbad_files + 1) *
		    sizeof(*bad_files));
		if (bad_files == NULL ||
		    asprintf(&bad_files[nbad_files++], "%s/tests/unit/configs/%s",
		    TOP_SRCDIR, e->d_name) == -1)
			abort();
	}
	closedir(d);
	qsort(bad_files, (size_t)nbad_files, sizeof(*bad_files), cmp_names);
}

START_TEST(test_bad_file_count)
{
	ck_assert_int_ge(nbad_files, 15);
}
END_TEST

/*
 * The file's leading "# expect: LINE: reason" lines list every error it
 * must give, in order: the same number of errors, each in this file, at
 * that line, with that text in its reason; config_errors_print writes
 * them as "FILE:LINE: reason".
 */
START_TEST(test_bad_file)
{
	struct config_errors	 errs = { NULL, 0 };
	struct config		*cfg;
	const char		*path = bad_files[_i];
	char			*text, *line, *printed, *want, *colon;
	int			 n = 0, wantline;

	text = read_whole(path);
	cfg = config_load(path, &errs);
	printed = errors_text(&errs);
	ck_assert_msg(cfg == NULL, "%s: loaded, want errors", path);
	for (line = strtok(text, "\n"); line != NULL &&
	    strncmp(line, "# expect: ", 10) == 0; line = strtok(NULL, "\n")) {
		wantline = (int)strtol(line + 10, &colon, 10);
		ck_assert_msg(colon[0] == ':' && colon[1] == ' ',
		    "%s: malformed expect line", path);
		ck_assert_msg((size_t)n < errs.n, "%s: got %zu errors, want "
		    "more:\n%s", path, errs.n, printed);
		ck_assert_msg(strcmp(errs.v[n].file, path) == 0 &&
		    errs.v[n].line == wantline &&
		    strstr(errs.v[n].reason, colon + 2) != NULL,
		    "%s: error %d: got\n%s:%d: %s\nwant line %d and \"%s\"",
		    path, n + 1, errs.v[n].file, errs.v[n].line,
		    errs.v[n].reason, wantline, colon + 2);
		if (asprintf(&want, "%s:%d: %s\n", path, wantline,
		    errs.v[n].reason) == -1)
			ck_abort();
		ck_assert_msg(strstr(printed, want) != NULL, "%s: printed "
		    "as:\n%s", path, printed);
		free(want);
		n++;
	}
	ck_assert_msg(n > 0, "%s: no \"# expect: \" line", path);
	ck_assert_msg(errs.n == (size_t)n, "%s: got %zu errors, want %d:\n%s",
	    path, errs.n, n, printed);
	free(printed);
	free(text);
	config_errors_free(&errs);
}
END_TEST

/* --- more broken configs, inline ----------------------------------------- */

struct broken {
	const char	*name;
	const char	*text;
	int		 line;
	const char	*reason;
};

/* These set what QUIET sets themselves, so they are loaded without it. */
#define HOST	"hostname = \"mx.example.test\";\n"
static const struct broken broken_own[] = {
	{ "chroot is a file", HOST "\n" "chroot = \"/etc/passwd\";\n"
	    "user = \"root\"; group = \"root\"; mail_group = \"root\";\n", 3,
	    "chroot: \"/etc/passwd\" is not a directory" },
	{ "empty user", "user = \"\";\ngroup = \"root\"; mail_group = \"root\";"
	    " chroot = \"\";\n" HOST, 1, "user: must not be empty" },
	{ "missing group", "user = \"root\"; mail_group = \"root\"; chroot = "
	    "\"\";\ngroup = \"no-such-maild-group\";\n" HOST, 2,
	    "there is no group \"no-such-maild-group\"" },
	{ "bad hostname", "user = \"root\"; group = \"root\"; chroot = \"\";"
	    " mail_group = \"root\";\nhostname = \"-mx.example.org\";\n", 2,
	    "is not a valid host name: it has a label that starts with '-'" },
	{ "missing mail group", "user = \"root\"; group = \"root\"; chroot = "
	    "\"\";\n" HOST "mail_group = \"no-such-maild-group\";\n", 3,
	    "mail_group: there is no group \"no-such-maild-group\"" },
};

static const struct broken broken[] = {
	{ "no top-level leaf", "max_workers = 5;\n", 1,
	    "unknown setting \"max_workers\" (did you mean "
	    "\"smtp.pool.max_workers\" or \"pop3.pool.max_workers\"?)" },
	{ "misspelt group", "smpt: {\n listen = [ \"*:25\" ];\n};\n", 1,
	    "unknown group \"smpt\" (did you mean \"smtp\"?)" },
	{ "transposed letters", "hsotname = \"a.example\";\n", 1,
	    "did you mean \"hostname\"?" },
	{ "nothing close", "\n\nfrobnicate = true;\n", 3,
	    "unknown setting \"frobnicate\"" },
	{ "bool for string", "smtp: { banner = true; };\n", 1,
	    "smtp.banner: expected a string, got true or false" },
	{ "string for bool", "smtp: {\n vrfy = \"yes\";\n};\n", 2,
	    "smtp.vrfy: expected true or false, got a string" },
	{ "quoted bool", "smtp: { chunking = \"False\"; };\n", 1,
	    "smtp.chunking: expected true or false, got a string (write it "
	    "without quotes)" },
	{ "quoted number", "pop3: { max_errors = \"3\"; };\n", 1,
	    "pop3.max_errors: expected a number, got a string (write the "
	    "number without quotes)" },
	{ "list for number", "smtp: {\n max_errors = [ 1 ];\n};\n", 2,
	    "smtp.max_errors: expected a number, got a list" },
	{ "group for list", "local_domains: { a = 1; };\n", 1,
	    "local_domains: expected a list of strings" },
	{ "string for list", "local_domains = \"example.org\";\n", 1,
	    "local_domains: expected a list of strings" },
	{ "number in string list", "local_domains = ( \"a.example\",\n"
	    "  \"b.example\", 5 );\n", 2, "element 3: expected a string" },
	{ "bad domain", "local_domains = [ \"exa mple.org\" ];\n", 1,
	    "\"exa mple.org\" is not a valid domain" },
	{ "domain twice", "local_domains = [ \"A.example\", \"a.example\" ];\n",
	    1, "\"a.example\" is listed twice" },
	{ "negative number", "pop3: { max_errors = -1; };\n", 1,
	    "-1 is out of range: must be between 1 and 1000" },
	{ "hex too large", "smtp: {\n max_errors = 0x100000001;\n};\n", 2,
	    "0x100000001 is too large" },
	{ "too few recipients", "smtp: { max_recipients = 50; };\n", 1,
	    "must be between 100 and 100000" },
	{ "line length ceiling",
	    "smtp: { max_line_length = 67108865; };\n", 1,
	    "must be between 1000 and 67108864" },
	{ "size too large", "smtp: { message_size_limit = \"5G\"; };\n", 1,
	    "5G is out of range: must be between 1k and 4G" },
	{ "size overflow", "smtp: { message_size_limit = "
	    "\"99999999999999999999k\"; };\n", 1, "is too large" },
	{ "size with space", "smtp: { message_size_limit = \"10 M\"; };\n",
	    1, "\"10 M\" is not a size" },
	{ "empty size", "smtp: { message_size_limit = \"\"; };\n", 1,
	    "\"\" is not a size" },
	{ "duration unit case", "queue: { retry_min = \"5M\"; };\n", 1,
	    "\"5M\" is not a duration" },
	{ "zero duration", "smtp: { timeout_data = 0; };\n", 1,
	    "0s is out of range: must be between 1s and 1h" },
	{ "two units", "queue: { retry_min = \"1h30m\"; };\n", 1,
	    "is not a duration" },
	{ "enum number", "syslog_facility = 3;\n", 1,
	    "syslog_facility: expected a string, got a number" },
	{ "bad facility", "syslog_facility = \"local8\";\n", 1,
	    "must be one of: mail, daemon, user, local0, local1" },
	{ "bad tls version", "tls: { min_protocol = \"TLSv1.1\"; };\n", 1,
	    "must be one of: TLSv1.2, TLSv1.3" },
	{ "key without certificate", "tls: {\n key = \"/etc/passwd\";\n};\n",
	    2, "tls.key: set without tls.certificate" },
	{ "unreadable certificate", "tls: {\n certificate = \"/\";\n"
	    " key = \"/etc/passwd\";\n};\n", 2,
	    "tls.certificate: \"/\" is a directory" },
	{ "bad cipher list", "tls: { ciphers = \"HIGH;!aNULL\"; };\n", 1,
	    "is not an OpenSSL cipher list" },
	{ "missing apop file", "pop3: { apop_secrets = \"/nonexistent/x\"; };\n",
	    1, "pop3.apop_secrets: file \"/nonexistent/x\" does not exist" },
	{ "pam path", "pam_service = \"../etc/passwd\";\n", 1,
	    "must be a plain name, not a path" },
	{ "banner newline", "smtp: { banner = \"a\\nb\"; };\n", 1,
	    "may contain only printable ASCII" },
	{ "expire", "pop3: { expire = \"30 days\"; };\n", 1,
	    "is not \"NEVER\" or a number of days" },
	{ "max_spare over max_workers",
	    "smtp: { pool: {\n max_spare = 100;\n max_workers = 10; }; };\n", 2,
	    "smtp.pool.max_spare: 100 must not be more than "
	    "smtp.pool.max_workers (10)" },
	{ "only max_spare set", "pop3: { pool: { max_spare = 1; }; };\n", 1,
	    "pop3.pool.max_spare: 1 must not be less than pop3.pool.min_spare "
	    "(2, the default)" },
	{ "lifetime below retry_max",
	    "queue: { retry_max = \"2d\";\n max_lifetime = \"1d\"; };\n", 1,
	    "queue.retry_max: 2d must not be more than queue.max_lifetime (1d)" },
	{ "lifetime below default retry_max",
	    "queue: {\n max_lifetime = \"30m\"; };\n", 2,
	    "queue.max_lifetime: 30m is out of range: must be between 1h and "
	    "30d" },
	{ "reserve larger than the queue's file system",
	    "queue_dir = \"/proc\";\nqueue: {\n min_free = \"1M\"; };\n", 3,
	    "queue.min_free: 1M is not less than the size of queue_dir's "
	    "file system (0): no mail would be accepted" },
	{ "duplicate in one list",
	    "smtp: { listen = [ \"127.0.0.1:25\",\n \"127.0.0.1:25\" ]; };\n",
	    2, "\"127.0.0.1:25\" is already used by smtp.listen at" },
	{ "same v6 written twice", "smtp: { listen = [ \"[::1]:25\",\n"
	    " \"[0:0::1]:25\" ]; };\n", 2, "\"[0:0::1]:25\" is already used "
	    "by smtp.listen at " },
	{ "clash with a default",
	    "smtp: { submission_listen = [ \"110\" ]; };\n", 1,
	    "smtp.submission_listen: \"*:110\" is also used by pop3.listen "
	    "(its default)" },
	{ "too many listeners", "smtp: { listen = [ \"1\", \"2\", \"3\", \"4\", "
	    "\"5\", \"6\", \"7\", \"8\", \"9\", \"10\", \"11\", \"12\", \"13\", "
	    "\"14\", \"15\", \"16\", \"17\" ]; };\n", 1,
	    "has 17 addresses; at most 16 are allowed" },
	{ "number in listen list", "pop3: { listen = [ 110 ]; };\n", 1,
	    "element 1: expected a string such as \"*:25\", got a number" },
	{ "duplicate setting", "dotlock = true;\ndotlock = false;\n", 2,
	    "syntax error: duplicate setting name" },
	{ "unclosed group", "smtp: {\n  vrfy = true;\n", 4, "syntax error" },
	{ "mixed array", "local_domains = [ \"a\", 1 ];\n", 1,
	    "syntax error: mismatched element type in array" },
	{ "relative include", "@include \"other.conf\"\n", 1,
	    "@include \"other.conf\": cannot read it" },
};

START_TEST(test_broken)
{
	expect_one_error(broken[_i].name, broken[_i].text, true,
	    broken[_i].line, broken[_i].reason);
}
END_TEST

START_TEST(test_broken_own)
{
	expect_one_error(broken_own[_i].name, broken_own[_i].text, false,
	    broken_own[_i].line, broken_own[_i].reason);
}
END_TEST

/* --- listen addresses ---------------------------------------------------- */

static const struct {
	const char	*text;
	const char	*host;	/* NULL: "*"; "!": an error */
	int		 port;	/* or the reason for an error */
	const char	*reason;
} listens[] = {
	{ "25",			NULL,		25, NULL },
	{ "*:2525",		NULL,		2525, NULL },
	{ "127.0.0.1:25",	"127.0.0.1",	25, NULL },
	{ "[::1]:587",		"::1",		587, NULL },
	{ "[2001:db8::1]:25",	"2001:db8::1",	25, NULL },
	{ "localhost:110",	"localhost",	110, NULL },
	{ "65535",		NULL,		65535, NULL },
	{ "0",			"!", 0, "the port must be between 1 and 65535" },
	{ "*:0",		"!", 0, "the port must be between 1 and 65535" },
	{ "1.2.3.4:99999999",	"!", 0, "the port must be between 1 and 65535" },
	{ "*",			"!", 0, "the port is missing" },
	{ "1.2.3.4:",		"!", 0, "the port is missing after ':'" },
	{ "1.2.3.4:smtp",	"!", 0, "\"smtp\" is not a port number" },
	{ ":25",		"!", 0, "the host is missing before ':'" },
	{ "1.2.3:25",		"!", 0, "\"1.2.3\" is not a valid IPv4" },
	{ "::1",		"!", 0, "an IPv6 address must be in brackets" },
	{ "[::1]",		"!", 0, "the port is missing" },
	{ "[::1]25",		"!", 0, "expected ':' and a port after ']'" },
	{ "[1.2.3.4]:25",	"!", 0, "\"1.2.3.4\" is not a valid IPv6" },
	{ "[fe80::1%lo]:25",	"!", 0, "is not a valid IPv6" },
	{ "mail_host:25",	"!", 0, "\"mail_host\" is not a valid host" },
	{ "",			"!", 0, "the port is missing" },
};

START_TEST(test_listen_form)
{
	struct config	*cfg;
	char		*text;

	if (asprintf(&text, "pop3: { listen = [ ]; };\n"
	    "smtp: { listen = [ \"%s\" ]; };\n", listens[_i].text) == -1)
		ck_abort();
	if (listens[_i].host != NULL && strcmp(listens[_i].host, "!") == 0) {
		expect_one_error(listens[_i].text, text, true, 2,
		    listens[_i].reason);
	} else {
		cfg = expect_load(listens[_i].text, text);
		ck_assert_uint_eq(cfg->smtp.listen.n, 1);
		if (listens[_i].host == NULL)
			ck_assert_ptr_null(cfg->smtp.listen.v[0].host);
		else
			ck_assert_str_eq(cfg->smtp.listen.v[0].host,
			    listens[_i].host);
		ck_assert_int_eq(cfg->smtp.listen.v[0].port, listens[_i].port);
		ck_assert_int_eq(cfg->smtp.listen.v[0].line, 2);
		ck_assert_str_eq(cfg->smtp.listen.v[0].file, cfg->path);
		config_free(&cfg);
	}
	free(text);
}
END_TEST

START_TEST(test_listen_fmt)
{
	struct listen_addr	a = { NULL, 25, 0, NULL };
	char			buf[64];

	ck_assert_str_eq(config_listen_addr_fmt(&a, buf, sizeof(buf)), "*:25");
	a.host = (char *)"192.0.2.1";
	ck_assert_str_eq(config_listen_addr_fmt(&a, buf, sizeof(buf)),
	    "192.0.2.1:25");
	a.host = (char *)"2001:db8::1";
	ck_assert_str_eq(config_listen_addr_fmt(&a, buf, sizeof(buf)),
	    "[2001:db8::1]:25");
}
END_TEST

/* --- sizes and durations ------------------------------------------------- */

static const struct {
	const char	*setting;	/* "group.key = value" as in the file */
	long long	 want;
} numbers[] = {
	{ "smtp: { message_size_limit = 1048576; };",		1048576 },
	{ "smtp: { message_size_limit = \"64k\"; };",		65536 },
	{ "smtp: { message_size_limit = \"64K\"; };",		65536 },
	{ "smtp: { message_size_limit = \"25M\"; };",		25 << 20 },
	{ "smtp: { message_size_limit = \"1g\"; };",		1 << 30 },
	{ "smtp: { message_size_limit = \"4G\"; };",		4LL << 30 },
	{ "smtp: { message_size_limit = \"2000\"; };",		2000 },
	{ "smtp: { message_size_limit = 4294967296L; };",	4LL << 30 },
	{ "queue: { retry_min = 90; };",			90 },
	{ "queue: { retry_min = \"90s\"; };",			90 },
	{ "queue: { retry_min = \"2m\"; };",			120 },
	{ "queue: { retry_min = \"1h\"; };",			3600 },
	{ "queue: { retry_min = \"1d\"; retry_max = \"2d\"; };",	86400 },
	{ "queue: { retry_min = \"45\"; };",			45 },
};

START_TEST(test_number)
{
	struct config	*cfg = expect_load(numbers[_i].setting,
	    numbers[_i].setting);
	long long	 got = strstr(numbers[_i].setting, "size") != NULL ?
	    cfg->smtp.message_size_limit : cfg->queue.retry_min;

	ck_assert_msg(got == numbers[_i].want, "%s: got %lld, want %lld",
	    numbers[_i].setting, got, numbers[_i].want);
	config_free(&cfg);
}
END_TEST

/* --- many errors, @include, odd files ------------------------------------ */

START_TEST(test_errors_collected_and_sorted)
{
	struct config_errors	 errs = { NULL, 0 };
	const char		*path;
	char			*printed, *want;

	/* the pool problem is found after the others, but printed in place */
	path = write_file("many.conf",
	    "smtp: {\n"
	    "  pool: { min_spare = 9; max_spare = 3; };\n"
	    "  vrfy = 1;\n"
	    "  nosuch = 2;\n"
	    "};\n"
	    "user = \"no-such-maild-user\";\n"
	    "group = \"root\"; mail_group = \"root\"; chroot = \"\";\n"
	    "hostname = \"mx.example.test\";\n");
	ck_assert_ptr_null(config_load(path, &errs));
	printed = errors_text(&errs);
	if (asprintf(&want,
	    "%s:2: smtp.pool.min_spare: 9 must not be more than "
	    "smtp.pool.max_spare (3)\n"
	    "%s:3: smtp.vrfy: expected true or false, got a number\n"
	    "%s:4: unknown setting \"smtp.nosuch\"\n"
	    "%s:6: user: there is no user \"no-such-maild-user\"\n",
	    path, path, path, path) == -1)
		ck_abort();
	ck_assert_msg(strcmp(printed, want) == 0, "got\n%s\nwant\n%s", printed,
	    want);
	free(want);
	free(printed);
	config_errors_free(&errs);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_ptr_null(errs.v);
}
END_TEST

/* A value with control characters is quoted in one line, escaped. */
START_TEST(test_error_escapes_control_characters)
{
	struct config_errors	 errs = { NULL, 0 };
	const char		*path;
	char			*printed, *want;

	/* libconfig strings may span lines; the error must not */
	path = write_file("ctl.conf",
	    "user = \"no\nsuch\tuser\x1d\";\n"
	    "group = \"root\"; mail_group = \"root\"; chroot = \"\";\n"
	    "hostname = \"mx.example.test\";\n");
	ck_assert_ptr_null(config_load(path, &errs));
	printed = errors_text(&errs);
	if (asprintf(&want, "%s:1: user: there is no user "
	    "\"no\\nsuch\\tuser\\x1d\"\n", path) == -1)
		ck_abort();
	ck_assert_msg(strcmp(printed, want) == 0, "got\n%s\nwant\n%s", printed,
	    want);
	free(want);
	free(printed);
	config_errors_free(&errs);
}
END_TEST

/* A default that does not fit this system has no line: "FILE: reason". */
START_TEST(test_error_without_line)
{
	struct config_errors	 errs = { NULL, 0 };
	const char		*path;
	char			*printed, *want;

	path = write_file("noline.conf", "group = \"root\"; mail_group = "
	    "\"root\";\nhostname = \"mx.example.test\";\n"
	    "chroot = \"/nonexistent/maild-empty\";\n");
	/* the default user may exist (a real install): then only chroot */
	ck_assert_ptr_null(config_load(path, &errs));
	printed = errors_text(&errs);
	if (getpwnam(MAILD_USER) == NULL) {
		ck_assert_uint_eq(errs.n, 2);
		ck_assert_int_eq(errs.v[1].line, 0);
		if (asprintf(&want, "%s: user: there is no user \"%s\" (the "
		    "default)\n", path, MAILD_USER) == -1)
			ck_abort();
		ck_assert_msg(strstr(printed, want) != NULL, "got\n%s", printed);
		free(want);
	}
	ck_assert_int_eq(errs.v[0].line, 3);
	free(printed);
	config_errors_free(&errs);
}
END_TEST

START_TEST(test_include_semantic_error)
{
	struct config_errors	 errs = { NULL, 0 };
	struct config		*cfg;
	const char		*inc, *path;
	char			*text;

	inc = write_file("inc.conf", "vrfy = true;\nbanner = 5;\n");
	if (asprintf(&text, "smtp: {\n  @include \"%s\"\n  expn = true;\n};\n"
	    QUIET, inc) == -1)
		ck_abort();
	path = write_file("main.conf", text);
	cfg = config_load(path, &errs);
	ck_assert_ptr_null(cfg);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.v[0].file, inc);
	ck_assert_int_eq(errs.v[0].line, 2);
	ck_assert_str_eq(errs.v[0].reason,
	    "smtp.banner: expected a string, got a number");
	config_errors_free(&errs);

	/* fixed, the included settings land in the group around them */
	write_file("inc.conf", "vrfy = true;\nbanner = \"hi\";\n");
	cfg = config_load(path, &errs);
	ck_assert_ptr_nonnull(cfg);
	ck_assert(cfg->smtp.vrfy && cfg->smtp.expn);
	ck_assert_str_eq(cfg->smtp.banner, "hi");
	config_free(&cfg);
	free(text);
}
END_TEST

START_TEST(test_include_syntax_error)
{
	struct config_errors	 errs = { NULL, 0 };
	const char		*inc, *path;
	char			*text;

	inc = write_file("inc.conf", "dotlock = true;\n\nvrfy = = 1;\n");
	if (asprintf(&text, QUIET "@include \"%s\"\n", inc) == -1)
		ck_abort();
	path = write_file("main.conf", text);
	ck_assert_ptr_null(config_load(path, &errs));
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.v[0].file, inc);
	ck_assert_int_eq(errs.v[0].line, 3);
	ck_assert_str_eq(errs.v[0].reason, "syntax error");
	config_errors_free(&errs);
	free(text);
}
END_TEST

START_TEST(test_include_missing)
{
	struct config_errors	 errs = { NULL, 0 };
	const char		*path;
	char			*text;

	if (asprintf(&text, QUIET "\n@include \"%s/nonexistent.conf\"\n",
	    tmpdir) == -1)
		ck_abort();
	path = write_file("main.conf", text);
	ck_assert_ptr_null(config_load(path, &errs));
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.v[0].file, path);
	ck_assert_int_eq(errs.v[0].line, 3);
	ck_assert_ptr_nonnull(strstr(errs.v[0].reason,
	    "nonexistent.conf\": cannot read it: No such file or directory"));
	config_errors_free(&errs);
	free(text);
}
END_TEST

/* A relative @include that happens to resolve is still refused. */
START_TEST(test_include_relative)
{
	struct config_errors	 errs = { NULL, 0 };
	const char		*path;
	char			 cwd[512];

	write_file("inc.conf", "dotlock = false;\n");
	path = write_file("main.conf", QUIET "@include \"inc.conf\"\n");
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(tmpdir), 0);
	ck_assert_ptr_null(config_load(path, &errs));
	ck_assert_int_eq(chdir(cwd), 0);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_int_eq(errs.v[0].line, 2);
	ck_assert_ptr_nonnull(strstr(errs.v[0].reason,
	    "the path must be absolute"));
	config_errors_free(&errs);
}
END_TEST

START_TEST(test_missing_file)
{
	struct config_errors	 errs = { NULL, 0 };
	char			*printed;

	ck_assert_ptr_null(config_load("/nonexistent/maild.conf", &errs));
	printed = errors_text(&errs);
	ck_assert_str_eq(printed, "/nonexistent/maild.conf: cannot read the "
	    "file: No such file or directory\n");
	free(printed);
	ck_assert_ptr_null(config_load(tmpdir, &errs));
	ck_assert_uint_eq(errs.n, 2);	/* appended */
	ck_assert_str_eq(errs.v[1].reason, "is a directory, not a file");
	config_errors_free(&errs);
	/* a caller that needs no reasons passes NULL */
	ck_assert_ptr_null(config_load("/nonexistent/maild.conf", NULL));
	ck_assert_ptr_null(config_load(write_file("bad.conf", "x = 1;\n"),
	    NULL));
}
END_TEST

/* The aliases default may be missing; a set one may not (a bad file). */
START_TEST(test_aliases_default_may_be_missing)
{
	struct config	*cfg = expect_load("aliases", "");

	ck_assert_str_eq(cfg->aliases, access("/etc/aliases", F_OK) == 0 ?
	    "/etc/aliases" : "");
	config_free(&cfg);
	cfg = expect_load("no aliases", "aliases = \"\";\n");
	ck_assert_str_eq(cfg->aliases, "");
	config_free(&cfg);
}
END_TEST

/* --- printing and reading back ------------------------------------------- */

static const char round_trip_conf[] =
    "user = \"root\"; group = \"root\"; mail_group = \"root\";\n"
    "chroot = \"\";\n"
    "hostname = \"MX.Example.ORG\";\n"
    "local_domains = [ \"Example.org\", \"example.net\" ];\n"
    "dotlock = false;\n"
    "syslog_facility = \"LOCAL3\";\n"
    "auth_fail_delay = 0;\n"
    "pam_service = \"maild-test\";\n"
    "smtp: {\n"
    "  listen = [ \"127.0.0.1:2525\", \"[::1]:2525\", \"localhost:2526\" ];\n"
    "  submission_listen = [ \"2587\" ];\n"
    "  banner = \"ESMTP \\\"quoted\\\" \\\\ back\";\n"
    "  message_size_limit = 1000000;\n"
    "  bare_newlines = \"reject\";\n"
    "  authenticated_sender = \"any\";\n"
    "  timeout_command = 90;\n"
    "  pool: { min_spare = 0; max_spare = 1; max_workers = 1; };\n"
    "};\n"
    "pop3: {\n"
    "  listen = [ ];\n"
    "  timeout = \"2h\";\n"
    "  expire = \"30 USER\";\n"
    "  pool: { max_sessions_per_worker = 1; };\n"
    "};\n"
    "tls: { min_protocol = \"tlsv1.3\"; ciphersuites = \"TLS_AES_256_GCM_SHA384\"; };\n"
    "queue: { max_lifetime = \"36h\"; };\n";

static char *
print_to_string(const struct config *cfg, bool all)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*fp = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(fp);
	config_print(fp, cfg, all);
	fclose(fp);
	return buf;
}

START_TEST(test_round_trip)
{
	struct config	*a, *b;
	char		*diff_a, *diff_b, *all_a, *all_b;

	a = expect_load_q("round trip", round_trip_conf, false);
	ck_assert_str_eq(a->hostname, "mx.example.org");
	ck_assert_str_eq(a->local_domains.v[0], "example.org");
	ck_assert_str_eq(a->tls.min_protocol, "TLSv1.3");
	ck_assert_int_eq(a->syslog_facility, 19 << 3);	/* LOG_LOCAL3 */
	ck_assert_str_eq(a->smtp.banner, "ESMTP \"quoted\" \\ back");

	diff_a = print_to_string(a, false);
	all_a = print_to_string(a, true);
	/* only what differs */
	ck_assert_ptr_nonnull(strstr(diff_a, "dotlock = false;"));
	ck_assert_ptr_null(strstr(diff_a, "vrfy"));
	ck_assert_ptr_null(strstr(diff_a, "max_recipients"));
	ck_assert_ptr_nonnull(strstr(all_a, "max_recipients = 100;"));
	ck_assert_ptr_nonnull(strstr(diff_a, "\tpool: {\n\t\tmin_spare = 0;"));

	/* what was printed loads back to the same settings */
	b = config_load(write_file("printed.conf", diff_a),
	    &(struct config_errors){ NULL, 0 });
	ck_assert_msg(b != NULL, "printed config does not load:\n%s", diff_a);
	diff_b = print_to_string(b, false);
	all_b = print_to_string(b, true);
	ck_assert_str_eq(diff_b, diff_a);
	ck_assert_str_eq(all_b, all_a);
	config_free(&b);
	free(diff_b);
	free(all_b);

	b = config_load(write_file("printed-all.conf", all_a),
	    &(struct config_errors){ NULL, 0 });
	ck_assert_msg(b != NULL, "printed config does not load:\n%s", all_a);
	all_b = print_to_string(b, true);
	ck_assert_str_eq(all_b, all_a);
	config_free(&b);
	free(all_b);

	free(diff_a);
	free(all_a);
	config_free(&a);
}
END_TEST

/* Defaults print as nothing; a default config prints all of them. */
START_TEST(test_print_defaults)
{
	struct config	*cfg = config_defaults();
	char		*s = print_to_string(cfg, false);

	ck_assert_str_eq(s, "");
	free(s);
	s = print_to_string(cfg, true);
	ck_assert_ptr_nonnull(strstr(s, "smtp: {\n\tlisten = [ \"*:25\" ];\n"));
	ck_assert_ptr_nonnull(strstr(s, "\tpool: {\n\t\tmin_spare = 2;\n"));
	ck_assert_ptr_nonnull(strstr(s, "queue: {\n\tretry_min = \"5m\";\n"));
	free(s);
	config_free(&cfg);
}
END_TEST

/* Computed defaults follow the file: local_domains from hostname. */
START_TEST(test_print_computed_default)
{
	struct config	*cfg = expect_load("computed", "");
	char		*s = print_to_string(cfg, false);

	/* QUIET sets hostname; local_domains follows it and is not printed */
	ck_assert_ptr_nonnull(strstr(s, "hostname = \"mx.example.test\";"));
	ck_assert_ptr_null(strstr(s, "local_domains"));
	free(s);
	config_free(&cfg);
}
END_TEST

/*
 * The per-address connection limits default to an eighth of their pool,
 * so that two addresses (or a handful) cannot take every worker; a value
 * in the file is kept, 0 included.
 */
START_TEST(test_per_ip_default_is_a_share_of_the_pool)
{
	struct config	*cfg = config_defaults();
	char		*s;

	ck_assert_int_eq(cfg->smtp.max_connections_per_ip, 32);
	ck_assert_int_eq(cfg->pop3.max_connections_per_ip, 32);
	ck_assert_int_lt(2 * cfg->smtp.max_connections_per_ip,
	    cfg->smtp.pool.max_workers);
	ck_assert_int_lt(2 * cfg->pop3.max_connections_per_ip,
	    cfg->pop3.pool.max_workers);
	config_free(&cfg);

	cfg = expect_load("per ip", "smtp: { pool: { max_workers = 40; }; };\n"
	    "pop3: { pool: { min_spare = 1; max_spare = 2; "
	    "max_workers = 3; }; };\n");
	ck_assert_int_eq(cfg->smtp.max_connections_per_ip, 5);
	ck_assert_int_eq(cfg->pop3.max_connections_per_ip, 1);
	/* it follows max_workers, so it is not printed */
	s = print_to_string(cfg, false);
	ck_assert_ptr_null(strstr(s, "max_connections_per_ip"));
	free(s);
	config_free(&cfg);

	cfg = expect_load("per ip set", "smtp: { max_connections_per_ip = 0;"
	    " };\npop3: { max_connections_per_ip = 30; };\n");
	ck_assert_int_eq(cfg->smtp.max_connections_per_ip, 0);
	ck_assert_int_eq(cfg->pop3.max_connections_per_ip, 30);
	config_free(&cfg);
}
END_TEST

START_TEST(test_local_domain)
{
	struct config	*cfg = expect_load("local", "local_domains = "
	    "[ \"Example.ORG\", \"localhost\" ];\n");

	ck_assert(config_is_local_domain(cfg, "example.org"));
	ck_assert(config_is_local_domain(cfg, "EXAMPLE.org"));
	ck_assert(config_is_local_domain(cfg, "example.org."));
	ck_assert(config_is_local_domain(cfg, "LOCALHOST"));
	ck_assert(!config_is_local_domain(cfg, "mx.example.test"));
	ck_assert(!config_is_local_domain(cfg, "example.or"));
	ck_assert(!config_is_local_domain(cfg, "sub.example.org"));
	ck_assert(!config_is_local_domain(cfg, ""));
	ck_assert(!config_is_local_domain(cfg, "."));
	config_free(&cfg);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc;

	find_bad_files();

	tc = tcase_create("table");
	tcase_add_test(tc, test_table_rows);
	tcase_add_test(tc, test_table_covers_struct);
	tcase_add_loop_test(tc, test_default_value, 0, nitems(defaults));
	tcase_add_test(tc, test_default_struct);
	suite_add_tcase(s, tc);

	tc = tcase_create("docs");
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, test_example_loads);
	tcase_add_test(tc, test_docs_current);
	tcase_add_test(tc, test_docs_mention_every_key);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, test_bad_file_count);
	tcase_add_loop_test(tc, test_bad_file, 0, nbad_files);
	tcase_add_loop_test(tc, test_broken, 0, nitems(broken));
	tcase_add_loop_test(tc, test_broken_own, 0, nitems(broken_own));
	tcase_add_test(tc, test_errors_collected_and_sorted);
	tcase_add_test(tc, test_error_without_line);
	tcase_add_test(tc, test_error_escapes_control_characters);
	tcase_add_test(tc, test_include_semantic_error);
	tcase_add_test(tc, test_include_syntax_error);
	tcase_add_test(tc, test_include_missing);
	tcase_add_test(tc, test_include_relative);
	tcase_add_test(tc, test_missing_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, test_empty_file);
	tcase_add_loop_test(tc, test_listen_form, 0, nitems(listens));
	tcase_add_test(tc, test_listen_fmt);
	tcase_add_loop_test(tc, test_number, 0, nitems(numbers));
	tcase_add_test(tc, test_aliases_default_may_be_missing);
	tcase_add_test(tc, test_local_domain);
	suite_add_tcase(s, tc);

	tc = tcase_create("print");
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_print_defaults);
	tcase_add_test(tc, test_print_computed_default);
	tcase_add_test(tc, test_per_ip_default_is_a_share_of_the_pool);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(config_suite)
