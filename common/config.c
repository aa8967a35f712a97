/*
 * Reading, checking and printing maild.conf; the only code in maild that
 * calls libconfig. The master calls config_load() as root at start and on
 * SIGHUP (a config with problems is refused and the old one kept), `maild
 * -t` calls it to report problems, and the inetd entry points call it
 * once. Workers get the struct from their parent and never read the file.
 *
 * Loading goes: every default from the table in config_keys.c (parsed
 * from its text, so the defaults and the file take one path); libconfig
 * reads the file and its @includes; every setting found is checked
 * against its row (known name, type, range, syntax) and stored; computed
 * defaults fill what the file did not set; then each row's validator runs,
 * for checks that look at other settings or at the system. Problems are
 * collected, not stopped at, each with the file and line it comes from.
 * Reading and writing one value by its type is in config_value.c.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libconfig.h>

#include "config.h"
#include "config_keys.h"
#include "log.h"
#include "xmalloc.h"

/* What the loader knows about one row while reading a file. */
struct key_state {
	const char	*file;	/* borrowed from libconfig, or NULL */
	int		 line;	/* 0: the default */
	bool		 set;	/* set in the file */
	bool		 ok;	/* read without error */
};

/* The text of a file that was read, to quote lines from. */
struct src_file {
	char	*name;
	char	*text;		/* NULL if it cannot be read again */
};

struct config_check {
	struct config_errors	*errs;
	const char		*path;		/* the main file */
	struct key_state	*ks;		/* one per row */
	bool			 defaults;	/* reading built-in defaults */
	struct src_file		*files;
	size_t			 nfiles;
};

/*
 * The largest int. (<limits.h> would be common/limits.h here: -I common
 * comes before the system directories.)
 */
#define INT_BIG		((int)(~0u >> 1))

/* The built-in defaults are read as if from this "file". */
#define DEFAULTS_NAME	"(built-in defaults)"

static void	 add_error(struct config_check *, const char *, int,
		    const char *, ...) __attribute__((format(printf, 4, 5)));
static void	 add_verror(struct config_check *, const char *, int,
		    const char *, va_list)
		    __attribute__((format(printf, 4, 0)));
static void	 set_static_defaults(struct config *);
static void	 walk_group(struct config_check *, config_setting_t *,
		    const char *, struct config *);
static void	 check_includes(struct config_check *, config_t *);
static void	 report_parse_error(struct config_check *, config_t *);
static void	 sort_errors(struct config_errors *, size_t, const char *);

/* --- errors ------------------------------------------------------------- */

/*
 * s with its control characters written out ("\n", "\x1d"): an error
 * quotes values from the file, and one error must stay one line, in
 * maild -t's output as in the log. Takes s; returns an allocation.
 */
static char *
printable(char *s)
{
	const unsigned char	*p;
	char			*out, *o;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			break;
	if (*p == '\0')
		return s;
	out = o = xreallocarray(NULL, strlen(s) + 1, 4);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '\n')
			o += sprintf(o, "\\n");
		else if (*p == '\t')
			o += sprintf(o, "\\t");
		else if (*p < 0x20 || *p == 0x7f)
			o += sprintf(o, "\\x%02x", *p);
		else
			*o++ = (char)*p;
	}
	*o = '\0';
	free(s);
	return out;
}

static void
add_verror(struct config_check *chk, const char *file, int line,
    const char *fmt, va_list ap)
{
	struct config_errors	*errs = chk->errs;
	struct config_error	*e;
	char			*reason;

	if (vasprintf(&reason, fmt, ap) == -1)
		fatal("vasprintf");
	if (chk->defaults)
		panic("config: built-in default: %s", reason);
	errs->v = xreallocarray(errs->v, errs->n + 1, sizeof(*errs->v));
	e = &errs->v[errs->n++];
	e->file = printable(xstrdup(file != NULL ? file : chk->path));
	e->line = line;
	e->reason = printable(reason);
}

static void
add_error(struct config_check *chk, const char *file, int line,
    const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	add_verror(chk, file, line, fmt, ap);
	va_end(ap);
}

void
config_check_error(struct config_check *chk, const struct config_key *k,
    const char *fmt, ...)
{
	struct key_state	*ks = &chk->ks[k - config_keys];
	char			*msg;
	va_list			 ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("vasprintf");
	va_end(ap);
	add_error(chk, ks->file, ks->line, "%s: %s", k->name, msg);
	free(msg);
	ks->ok = false;		/* later validators should not trust it */
}

void
config_check_error_at(struct config_check *chk, const char *file, int line,
    const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	add_verror(chk, file, line, fmt, ap);
	va_end(ap);
}

bool
config_check_is_set(const struct config_check *chk, const struct config_key *k)
{
	return chk->ks[k - config_keys].set;
}

bool
config_check_is_ok(const struct config_check *chk, const struct config_key *k)
{
	return chk->ks[k - config_keys].ok;
}

bool
config_check_is_defaults(const struct config_check *chk)
{
	return chk->defaults;
}

const char *
config_check_setting_file(const struct config_check *chk,
    const config_setting_t *s)
{
	const char	*f = config_setting_source_file(s);

	return f != NULL ? f : chk->path;
}

void
config_check_bad(struct config_check *chk, const struct config_key *k,
    const config_setting_t *s, const char *fmt, ...)
{
	char	*msg;
	va_list	 ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("vasprintf");
	va_end(ap);
	add_error(chk, config_check_setting_file(chk, s),
	    config_setting_source_line(s), "%s: %s", k->name, msg);
	free(msg);
}

void
config_errors_free(struct config_errors *errs)
{
	size_t	i;

	if (errs == NULL)
		return;
	for (i = 0; i < errs->n; i++) {
		free(errs->v[i].file);
		free(errs->v[i].reason);
	}
	free(errs->v);
	errs->v = NULL;
	errs->n = 0;
}

void
config_errors_print(FILE *fp, const struct config_errors *errs)
{
	size_t	i;

	for (i = 0; i < errs->n; i++) {
		if (errs->v[i].line > 0)
			fprintf(fp, "%s:%d: %s\n", errs->v[i].file,
			    errs->v[i].line, errs->v[i].reason);
		else
			fprintf(fp, "%s: %s\n", errs->v[i].file,
			    errs->v[i].reason);
	}
}

/*
 * Puts the errors from index start on in the order an administrator reads
 * them: the main file first, then the others in the order they first
 * appear; within a file by line, with the problems that have no line
 * (defaults that do not fit this system) last. Stable.
 */
static int
file_rank(const struct config_errors *errs, size_t start, const char *path,
    const char *file)
{
	size_t	i;

	if (strcmp(file, path) == 0)
		return 0;
	for (i = start; i < errs->n; i++)
		if (strcmp(errs->v[i].file, file) == 0)
			return 1 + (int)(i - start);
	return INT_BIG;
}

static bool
error_before(const struct config_errors *errs, size_t start, const char *path,
    const struct config_error *a, const struct config_error *b)
{
	int	ra = file_rank(errs, start, path, a->file);
	int	rb = file_rank(errs, start, path, b->file);
	int	la = a->line > 0 ? a->line : INT_BIG;
	int	lb = b->line > 0 ? b->line : INT_BIG;

	return ra != rb ? ra < rb : la < lb;
}

static void
sort_errors(struct config_errors *errs, size_t start, const char *path)
{
	struct config_error	 e;
	struct config_errors	 orig;
	size_t			 i, j;

	/* rank against the original order, so copy it first */
	orig.n = errs->n;
	orig.v = xreallocarray(NULL, errs->n, sizeof(*orig.v));
	memcpy(orig.v, errs->v, errs->n * sizeof(*orig.v));
	for (i = start + 1; i < errs->n; i++) {
		e = errs->v[i];
		for (j = i; j > start &&
		    error_before(&orig, start, path, &e, &errs->v[j - 1]); j--)
			errs->v[j] = errs->v[j - 1];
		errs->v[j] = e;
	}
	free(orig.v);
}

/* --- unknown names and suggestions -------------------------------------- */

/* Edit distance with adjacent transpositions, capped (names are short). */
static int
distance(const char *a, const char *b)
{
	enum { N = 64 };
	int	d[N + 1][N + 1], i, j, la = (int)strlen(a), lb = (int)strlen(b);
	int	cost, v;

	if (la > N || lb > N)
		return N;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++)
		for (j = 1; j <= lb; j++) {
			cost = a[i - 1] == b[j - 1] ? 0 : 1;
			v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

/* How many edits still count as a typo of a name this long. */
static int
typo_limit(const char *s)
{
	size_t	n = strlen(s);

	return n <= 3 ? 1 : n <= 8 ? 2 : 3;
}

static const char *
leaf_of(const char *name)
{
	const char	*dot = strrchr(name, '.');

	return dot != NULL ? dot + 1 : name;
}

/*
 * " (did you mean "x"?)" for an unknown name: the closest known name if
 * it is within typo distance, else the settings elsewhere whose last part
 * is (nearly) the same ("max_workers" at the top level). "" if none.
 */
static char *
suggest(const char *full, bool is_group)
{
	const char	*best = NULL, *cand[3];
	size_t		 i, nc = 0;
	int		 d, bestd = INT_BIG, lim;

	for (i = 0; i < config_nkeys; i++)
		if ((d = distance(full, config_keys[i].name)) < bestd) {
			bestd = d;
			best = config_keys[i].name;
		}
	for (i = 0; i < config_ngroups; i++)
		if (config_groups[i].name[0] != '\0' &&
		    ((d = distance(full, config_groups[i].name)) < bestd ||
		    (d == bestd && is_group))) {
			bestd = d;
			best = config_groups[i].name;
		}
	if (best != NULL && bestd <= typo_limit(full))
		return xasprintf(" (did you mean \"%s\"?)", best);
	if (is_group)
		return xstrdup("");
	lim = typo_limit(leaf_of(full)) - 1;
	for (i = 0; i < config_nkeys && nc < 3; i++)
		if (distance(leaf_of(full), leaf_of(config_keys[i].name)) <=
		    lim)
			cand[nc++] = config_keys[i].name;
	switch (nc) {
	case 0:
		return xstrdup("");
	case 1:
		return xasprintf(" (did you mean \"%s\"?)", cand[0]);
	case 2:
		return xasprintf(" (did you mean \"%s\" or \"%s\"?)", cand[0],
		    cand[1]);
	default:
		return xasprintf(" (did you mean \"%s\", \"%s\" or \"%s\"?)",
		    cand[0], cand[1], cand[2]);
	}
}

static void
unknown(struct config_check *chk, const config_setting_t *s, const char *full)
{
	bool	 is_group = config_setting_type(s) == CONFIG_TYPE_GROUP;
	char	*hint = suggest(full, is_group);

	add_error(chk, config_check_setting_file(chk, s),
	    config_setting_source_line(s), "unknown %s \"%s\"%s",
	    is_group ? "group" : "setting", full, hint);
	free(hint);
}

/* Reads every setting in group g, whose dotted name is prefix. */
static void
walk_group(struct config_check *chk, config_setting_t *g, const char *prefix,
    struct config *cfg)
{
	const struct config_key	*k;
	struct key_state	*ks;
	config_setting_t	*s;
	const char		*file;
	char			*full;
	int			 i, line, n = config_setting_length(g);

	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(g, (unsigned)i);
		full = *prefix == '\0' ? xstrdup(config_setting_name(s)) :
		    xasprintf("%s.%s", prefix, config_setting_name(s));
		file = config_check_setting_file(chk, s);
		line = config_setting_source_line(s);
		if ((k = config_key_find(full)) != NULL) {
			ks = &chk->ks[k - config_keys];
			ks->set = true;
			ks->file = file;
			ks->line = line;
			if (config_setting_type(s) == CONFIG_TYPE_GROUP) {
				config_check_bad(chk, k, s, "expected %s, got "
				    "a group", config_key_wants(k));
				ks->ok = false;
			} else
				ks->ok = config_value_read(chk, k, s, cfg);
		} else if (config_group_find(full) != NULL) {
			if (config_setting_type(s) == CONFIG_TYPE_GROUP)
				walk_group(chk, s, full, cfg);
			else
				add_error(chk, file, line, "%s is a group of "
				    "settings, not %s: write %s: { ... };",
				    full, config_setting_kind(s),
				    config_setting_name(s));
		} else
			unknown(chk, s, full);
		free(full);
	}
}

/* --- source text and @include ------------------------------------------- */

static struct src_file *
source_file(struct config_check *chk, const char *name)
{
	struct src_file	*f;
	FILE		*fp;
	size_t		 len = 0, n, i;
	char		 buf[8192];

	/* by index: chk->files is NULL at first, and NULL + 0 is undefined */
	for (i = 0; i < chk->nfiles; i++)
		if (strcmp(chk->files[i].name, name) == 0)
			return &chk->files[i];
	chk->files = xreallocarray(chk->files, chk->nfiles + 1,
	    sizeof(*chk->files));
	f = &chk->files[chk->nfiles++];
	f->name = xstrdup(name);
	f->text = NULL;
	if ((fp = fopen(name, "r")) == NULL)
		return f;
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0) {
		f->text = xreallocarray(f->text, len + n + 1, 1);
		memcpy(f->text + len, buf, n);
		len += n;
	}
	if (f->text == NULL)
		f->text = xstrdup("");
	else
		f->text[len] = '\0';
	fclose(fp);
	return f;
}

/*
 * Line n (from 1) of file, up to but not including its newline, in a
 * buffer that lives until the next call; NULL if there is no such line.
 */
const char *
config_check_source_line(struct config_check *chk, const char *file, int n)
{
	static char	 line[1024];
	struct src_file	*f = source_file(chk, file);
	const char	*p = f->text, *nl;
	size_t		 len;

	if (p == NULL || n < 1)
		return NULL;
	for (; n > 1; n--)
		if ((p = strchr(p, '\n')) == NULL)
			return NULL;
		else
			p++;
	nl = strchr(p, '\n');
	len = nl != NULL ? (size_t)(nl - p) : strlen(p);
	if (len >= sizeof(line))
		len = sizeof(line) - 1;
	memcpy(line, p, len);
	line[len] = '\0';
	return line;
}

/* The path of an @include directive on line, allocated; NULL if none. */
static char *
include_path(const char *line)
{
	const char	*p = line, *end;

	while (*p == ' ' || *p == '\t')
		p++;
	if (strncmp(p, "@include", 8) != 0)
		return NULL;
	p += 8;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '"' || (end = strchr(p + 1, '"')) == NULL)
		return NULL;
	return xstrndup(p + 1, (size_t)(end - p - 1));
}

/*
 * libconfig 1.5 reads a relative @include path from the current
 * directory, so the same file would work for `maild -t` in /etc/maild
 * and fail for the daemon started from /. Refuse relative paths in every
 * file that was read.
 */
static void
check_includes(struct config_check *chk, config_t *lc)
{
	const char	*line;
	char		*inc;
	unsigned	 f;
	int		 n;

	for (f = 0; f <= lc->num_filenames; f++) {
		const char *name = f == 0 ? chk->path : lc->filenames[f - 1];

		if (f > 0 && strcmp(name, chk->path) == 0)
			continue;
		for (n = 1; (line = config_check_source_line(chk, name,
		    n)) != NULL; n++) {
			if ((inc = include_path(line)) == NULL)
				continue;
			if (inc[0] != '/')
				add_error(chk, name, n, "@include \"%s\": the "
				    "path must be absolute (a relative one "
				    "would depend on the directory maild is "
				    "started in)", inc);
			free(inc);
		}
	}
}

static void
report_parse_error(struct config_check *chk, config_t *lc)
{
	const char	*file = config_error_file(lc), *text, *line;
	int		 n = config_error_line(lc);
	char		*inc;
	FILE		*fp;

	if (file == NULL)
		file = chk->path;
	text = config_error_text(lc) != NULL ? config_error_text(lc) : "?";
	if (strcmp(text, "cannot open include file") == 0 &&
	    (line = config_check_source_line(chk, file, n)) != NULL &&
	    (inc = include_path(line)) != NULL) {
		if ((fp = fopen(inc, "r")) != NULL) {
			fclose(fp);
			errno = 0;
		}
		add_error(chk, file, n, "@include \"%s\": cannot read it%s%s%s",
		    inc, errno != 0 ? ": " : "", errno != 0 ?
		    strerror(errno) : "", inc[0] != '/' ? " (a relative path "
		    "is read from the current directory; use an absolute "
		    "one)" : "");
		free(inc);
	} else if (strcmp(text, "syntax error") == 0)
		add_error(chk, file, n, "syntax error");
	else
		add_error(chk, file, n, "syntax error: %s", text);
}

/* --- defaults ----------------------------------------------------------- */

/* Every default that is a constant, read from its text in the table. */
static void
set_static_defaults(struct config *cfg)
{
	struct key_state	 ks[1] = { { NULL, 0, false, false } };
	struct config_check	 chk;
	const struct config_key	*k;
	config_setting_t	*s;
	config_t		 lc;
	char			*text;

	memset(&chk, 0, sizeof(chk));
	chk.defaults = true;
	chk.path = DEFAULTS_NAME;
	chk.ks = ks;
	for (k = config_keys; k < config_keys + config_nkeys; k++) {
		if (k->def == NULL)
			continue;
		config_init(&lc);
		text = xasprintf("v = %s;", k->def);
		if (config_read_string(&lc, text) != CONFIG_TRUE ||
		    (s = config_lookup(&lc, "v")) == NULL)
			panic("config: default of %s does not parse: %s",
			    k->name, text);
		if (!config_value_read(&chk, k, s, cfg))
			panic("config: default of %s is not valid", k->name);
		free(text);
		config_destroy(&lc);
	}
}

/* The computed defaults of every row not set in the file (ks may be NULL). */
static void
set_computed_defaults(struct config *dst, const struct config *ctx,
    const struct key_state *ks)
{
	const struct config_key	*k;

	for (k = config_keys; k < config_keys + config_nkeys; k++)
		if (k->compute != NULL &&
		    (ks == NULL || !ks[k - config_keys].set))
			k->compute(dst, ctx);
}

struct config *
config_defaults(void)
{
	struct config	*cfg = xcalloc(1, sizeof(*cfg));

	set_static_defaults(cfg);
	set_computed_defaults(cfg, cfg, NULL);
	return cfg;
}

/* --- load, free, print -------------------------------------------------- */

struct config *
config_load(const char *path, struct config_errors *errs)
{
	struct config_errors	 local = { NULL, 0 };
	struct config_check	 chk;
	struct config		*cfg;
	const struct config_key	*k;
	struct stat		 st;
	config_t		 lc;
	size_t			 start, i;
	FILE			*fp;

	memset(&chk, 0, sizeof(chk));
	if (errs == NULL)	/* the caller only wants to know whether */
		errs = &local;
	start = errs->n;
	chk.errs = errs;
	chk.path = path;
	if ((fp = fopen(path, "r")) == NULL) {
		add_error(&chk, path, 0, "cannot read the file: %s",
		    strerror(errno));
		config_errors_free(&local);
		return NULL;
	}
	if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(fp);
		add_error(&chk, path, 0, "is a directory, not a file");
		config_errors_free(&local);
		return NULL;
	}
	fclose(fp);

	cfg = xcalloc(1, sizeof(*cfg));
	set_static_defaults(cfg);
	chk.ks = xcalloc(config_nkeys, sizeof(*chk.ks));
	for (i = 0; i < config_nkeys; i++)
		chk.ks[i].ok = true;

	config_init(&lc);
	if (config_read_file(&lc, path) != CONFIG_TRUE) {
		report_parse_error(&chk, &lc);
	} else {
		check_includes(&chk, &lc);
		walk_group(&chk, config_root_setting(&lc), "", cfg);
		set_computed_defaults(cfg, cfg, chk.ks);
		for (k = config_keys; k < config_keys + config_nkeys; k++)
			if (k->validate != NULL && chk.ks[k - config_keys].ok)
				k->validate(&chk, k, cfg);
	}
	if (errs->n > start)
		sort_errors(errs, start, path);

	config_destroy(&lc);
	for (i = 0; i < chk.nfiles; i++) {
		free(chk.files[i].name);
		free(chk.files[i].text);
	}
	free(chk.files);
	free(chk.ks);
	if (errs->n > start) {
		config_free(&cfg);
		config_errors_free(&local);
		return NULL;
	}
	cfg->path = xstrdup(path);
	return cfg;
}


void
config_free(struct config **cfgp)
{
	const struct config_key	*k;
	struct config		*cfg;

	if (cfgp == NULL || (cfg = *cfgp) == NULL)
		return;
	for (k = config_keys; k < config_keys + config_nkeys; k++)
		config_value_free(k, cfg);
	free(cfg->path);
	free(cfg);
	*cfgp = NULL;
}

/* Whether the group named g is group or inside it ("" holds everything). */
static bool
group_within(const char *g, size_t glen, const char *group, size_t len)
{
	return len == 0 || (glen >= len && strncmp(g, group, len) == 0 &&
	    (glen == len || g[len] == '.'));
}

static void
indent(FILE *fp, int depth)
{
	while (depth-- > 0)
		fputc('\t', fp);
}

void
config_print(FILE *fp, const struct config *cfg, bool all)
{
	const struct config_key	*k;
	struct config		*ref;
	const char		*g, *dot;
	char			 cur[128], *val, *def;
	size_t			 curlen = 0, glen, from, end;
	int			 depth = 0;

	/* the defaults, computed ones from cfg's own settings */
	ref = xcalloc(1, sizeof(*ref));
	set_static_defaults(ref);
	set_computed_defaults(ref, cfg, NULL);
	cur[0] = '\0';
	for (k = config_keys; k < config_keys + config_nkeys; k++) {
		val = config_key_format(k, cfg);
		def = config_key_format(k, ref);
		if (!all && strcmp(val, def) == 0) {
			free(val);
			free(def);
			continue;
		}
		g = k->name;
		dot = strrchr(g, '.');
		glen = dot == NULL ? 0 : (size_t)(dot - g);
		/* leave the groups k is not in */
		while (!group_within(g, glen, cur, curlen)) {
			indent(fp, --depth);
			fputs("};\n", fp);
			while (curlen > 0 && cur[--curlen] != '.')
				;
			cur[curlen] = '\0';
		}
		/* enter k's groups, one level at a time */
		while (curlen < glen) {
			from = curlen == 0 ? 0 : curlen + 1;
			for (end = from; end < glen && g[end] != '.'; end++)
				;
			indent(fp, depth++);
			fprintf(fp, "%.*s: {\n", (int)(end - from), g + from);
			if (end >= sizeof(cur))
				panic("config: group name too long: %s", g);
			memcpy(cur, g, end);
			cur[end] = '\0';
			curlen = end;
		}
		indent(fp, depth);
		fprintf(fp, "%s = %s;\n", leaf_of(k->name), val);
		free(val);
		free(def);
	}
	while (depth > 0) {
		indent(fp, --depth);
		fputs("};\n", fp);
	}
	config_free(&ref);
}

bool
config_is_local_domain(const struct config *cfg, const char *domain)
{
	size_t	i, n = strlen(domain);

	/* "example.org." is the same domain as "example.org" */
	if (n > 1 && domain[n - 1] == '.')
		n--;
	for (i = 0; i < cfg->local_domains.n; i++)
		if (strlen(cfg->local_domains.v[i]) == n &&
		    strncasecmp(cfg->local_domains.v[i], domain, n) == 0)
			return true;
	return false;
}
