/*
 * Writes the documentation of the settings from the table in
 * config_keys.c: the example configuration file and the SETTINGS section
 * of maild.conf(5). Run by hand through doc/config_doc (`make
 * update-config-docs`) and by test_config, which fails when the committed
 * templates differ from what this writes. Runs in no daemon.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_doc.h"
#include "config_keys.h"
#include "xmalloc.h"

/* Columns of text in the example file, and a default too long to repeat. */
#define DOC_WIDTH	76
#define DOC_DEF_LONG	40

static const char *
group_of(const struct config_key *k, size_t *len_out)
{
	const char	*dot = strrchr(k->name, '.');

	*len_out = dot == NULL ? 0 : (size_t)(dot - k->name);
	return k->name;
}

static bool
in_group(const struct config_key *k, const struct config_group *g)
{
	size_t	len;

	group_of(k, &len);
	return len == strlen(g->name) && strncmp(k->name, g->name, len) == 0;
}

/* The default as the templates show it. */
static const char *
def_text(const struct config_key *k)
{
	return k->def_template != NULL ? k->def_template : k->def;
}

/* "number, 1 to 1024", "keyword: normalize or reject", "path". */
static char *
describe(const struct config_key *k)
{
	const struct config_enum	*e;
	char				 lo[32], hi[32], *s, *t;

	switch (k->type) {
	case CONFIG_INT:
		return xasprintf("number, %lld to %lld", k->min, k->max);
	case CONFIG_SIZE:
		return xasprintf("size, %s to %s",
		    config_fmt_size(k->min, lo, sizeof(lo)),
		    config_fmt_size(k->max, hi, sizeof(hi)));
	case CONFIG_DURATION:
		return xasprintf("duration, %s to %s",
		    config_fmt_duration(k->min, lo, sizeof(lo)),
		    config_fmt_duration(k->max, hi, sizeof(hi)));
	case CONFIG_ENUM:
		s = xstrdup("keyword:");
		for (e = k->enums; e->name != NULL; e++) {
			t = xasprintf("%s%s %s", s, e == k->enums ? "" :
			    e[1].name == NULL ? " or" : ",", e->name);
			free(s);
			s = t;
		}
		return s;
	default:
		return xstrdup(config_type_name(k));
	}
}

static void
tabs(FILE *fp, int n)
{
	while (n-- > 0)
		fputc('\t', fp);
}

/* Writes text as lines of "<tabs><lead>words", at most DOC_WIDTH wide. */
static void
wrap(FILE *fp, int ntabs, const char *lead, const char *text)
{
	const char	*p = text, *w;
	int		 col = 0, wlen, start = ntabs * 8 + (int)strlen(lead);

	while (*p != '\0') {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		for (w = p; *p != '\0' && *p != ' '; p++)
			;
		wlen = (int)(p - w);
		if (col > 0 && col + 1 + wlen > DOC_WIDTH) {
			fputc('\n', fp);
			col = 0;
		}
		if (col == 0) {
			tabs(fp, ntabs);
			fputs(lead, fp);
			col = start;
		} else {
			fputc(' ', fp);
			col++;
		}
		fprintf(fp, "%.*s", wlen, w);
		col += wlen;
	}
	if (col > 0)
		fputc('\n', fp);
}

static const char example_head[] =
"# maild.conf: the configuration of the maild mail system (maild(8),\n"
"# maild-smtpd(8), maild-pop3d(8)), in libconfig syntax. maild.conf(5) describes it in\n"
"# full; this file lists every setting with its type, range and default.\n"
"#\n"
"# A line \"#name = value;\" shows a setting at its default: remove the \"#\"\n"
"# and change the value to set it. The few settings that are not commented\n"
"# out are set to their defaults too, as the ones to look at first.\n"
"#\n"
"# \"maild -t\" checks this file and reports each problem with its line;\n"
"# \"maild -n\" prints the settings that differ from the defaults, and\n"
"# \"maild -n -a\" all of them. After a change, send the master SIGHUP (a\n"
"# file with problems is refused and the running settings are kept).\n"
"#\n"
"# Values: strings in \"double quotes\", numbers, true or false, lists in\n"
"# [ brackets ]. A group is written name: { ... }; around its settings.\n"
"# Sizes are bytes, or a string with a k, M or G suffix (\"10M\").\n"
"# Durations are seconds, or a string with an s, m, h or d suffix (\"5m\").\n"
"# Listen addresses are \"host:port\", \"[ipv6]:port\", \"*:port\" (every\n"
"# address) or a bare port. @include \"/absolute/path\" reads another file\n"
"# in its place.\n";

static void
example_key(FILE *fp, const struct config_key *k, int depth)
{
	const char	*def = def_text(k), *dot = strrchr(k->name, '.');
	char		*desc = describe(k), *head;

	if (def == NULL)
		head = xasprintf("%s: %s; default: %s.", k->name, desc,
		    k->def_doc);
	else if (strlen(def) > DOC_DEF_LONG)
		head = xasprintf("%s: %s; default: the value below.", k->name,
		    desc);
	else
		head = xasprintf("%s: %s; default %s.", k->name, desc, def);
	fputc('\n', fp);
	wrap(fp, depth, "# ", head);
	wrap(fp, depth, "#   ", k->help);
	tabs(fp, depth);
	fprintf(fp, "%s%s = %s;\n", (k->flags & CONFIG_K_EXAMPLE) ? "" : "#",
	    dot != NULL ? dot + 1 : k->name, def != NULL ? def : k->example);
	free(head);
	free(desc);
}

/* A "# ==== title ====" line at depth. */
static void
banner(FILE *fp, int depth, const char *title)
{
	int	n = DOC_WIDTH - depth * 8 - 2 - (int)strlen(title) - 6;

	fputc('\n', fp);
	tabs(fp, depth);
	fprintf(fp, "# ==== %s ", title);
	while (n-- > 0)
		fputc('=', fp);
	fputc('\n', fp);
}

/* Whether group g (length glen) is group cur or inside it. */
static bool
within(const char *g, size_t glen, const char *cur, size_t curlen)
{
	return curlen == 0 || (glen >= curlen && strncmp(g, cur, curlen) == 0 &&
	    (glen == curlen || g[curlen] == '.'));
}

void
config_doc_example(FILE *fp)
{
	const struct config_group	*g;
	const struct config_key		*k;
	char				 cur[128], *part;
	size_t				 curlen = 0, glen, end, from;
	int				 depth = 0;

	fputs(example_head, fp);
	banner(fp, 0, config_group_find("")->title);
	cur[0] = '\0';
	for (k = config_keys; k < config_keys + config_nkeys; k++) {
		group_of(k, &glen);
		while (!within(k->name, glen, cur, curlen)) {
			tabs(fp, --depth);
			fputs("};\n", fp);
			while (curlen > 0 && cur[--curlen] != '.')
				;
			cur[curlen] = '\0';
		}
		while (curlen < glen) {
			from = curlen == 0 ? 0 : curlen + 1;
			end = from;
			while (end < glen && k->name[end] != '.')
				end++;
			if (end >= sizeof(cur))
				end = sizeof(cur) - 1;
			memcpy(cur, k->name, end);
			cur[end] = '\0';
			curlen = end;
			g = config_group_find(cur);
			banner(fp, depth, g != NULL ? g->title : cur);
			part = xstrndup(k->name + from, end - from);
			tabs(fp, depth++);
			fprintf(fp, "%s: {\n", part);
			free(part);
		}
		example_key(fp, k, depth);
	}
	while (depth > 0) {
		tabs(fp, --depth);
		fputs("};\n", fp);
	}
}

/* --- the man page -------------------------------------------------------- */

/*
 * Text for a roff text line: backslashes doubled as \e, a leading '.'
 * or '\'' made harmless, and a new line after each sentence (mdoc's "new
 * sentence, new line" rule, which gets sentence spacing right).
 */
static void
man_text(FILE *fp, const char *s)
{
	bool	bol = true;

	for (; *s != '\0'; s++) {
		if (bol && (*s == '.' || *s == '\''))
			fputs("\\&", fp);
		bol = false;
		if (*s == '\\')
			fputs("\\e", fp);
		else if ((*s == '.' || *s == '?') && s[1] == ' ' &&
		    (s[2] >= 'A' && s[2] <= 'Z')) {
			fputc(*s, fp);
			fputc('\n', fp);
			s++;
			bol = true;
		} else
			fputc(*s, fp);
	}
	fputc('\n', fp);
}

/*
 * One quoted macro argument: double quotes as \(dq, backslashes as \e,
 * and a break point after each ':' so that long cipher lists can wrap.
 */
static void
man_arg(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			fputs("\\(dq", fp);
		else if (*s == '\\')
			fputs("\\e", fp);
		else if (*s == ':' && s[1] != '\0' && s[1] != ' ')
			fputs(":\\:", fp);
		else
			fputc(*s, fp);
	}
	fputc('"', fp);
}

static void
man_key(FILE *fp, const struct config_key *k)
{
	const char	*def = def_text(k);
	char		*desc = describe(k), *full;

	fputs(".It Ic ", fp);
	fputs(k->name, fp);
	fputs(" Pq ", fp);
	man_arg(fp, desc);
	fputc('\n', fp);
	man_text(fp, k->help);
	if (def == NULL) {
		full = xasprintf("Default: %s.", k->def_doc);
		man_text(fp, full);
		free(full);
		fputs("Example:\n.Ql ", fp);
		man_arg(fp, k->example);
		fputs(" .\n", fp);
	} else {
		fputs("Default:\n.Ql ", fp);
		man_arg(fp, def);
		fputs(" .\n", fp);
	}
	free(desc);
}

/* "smtp: { pool: { ... }; };" for "smtp.pool". Allocated. */
static char *
nested(const char *group)
{
	const char	*p = group, *dot;
	char		*open = xstrdup(""), *close = xstrdup(""), *t;

	for (;;) {
		dot = strchr(p, '.');
		t = xasprintf("%s%.*s: { ", open, dot != NULL ?
		    (int)(dot - p) : (int)strlen(p), p);
		free(open);
		open = t;
		t = xasprintf(" };%s", close);
		free(close);
		close = t;
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	t = xasprintf("%s...%s", open, close);
	free(open);
	free(close);
	return t;
}

void
config_doc_man(FILE *fp)
{
	const struct config_group	*g;
	const struct config_key		*k;
	char				*inside;
	size_t				 i;

	for (i = 0; i < config_ngroups; i++) {
		g = &config_groups[i];
		fprintf(fp, ".Ss %s\n", g->title);
		if (g->name[0] != '\0') {
			inside = nested(g->name);
			fputs("These settings are written inside\n.Ql ", fp);
			man_arg(fp, inside);
			fputs(" .\n", fp);
			free(inside);
		}
		fputs(".Bl -tag -width Ds\n", fp);
		for (k = config_keys; k < config_keys + config_nkeys; k++)
			if (in_group(k, g))
				man_key(fp, k);
		fputs(".El\n", fp);
	}
}

int
config_doc_man_splice(FILE *in, FILE *out)
{
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 n;
	int	 state = 0;	/* 0 before, 1 inside, 2 after the markers */

	while ((n = getline(&line, &cap, in)) != -1) {
		if (n > 0 && line[n - 1] == '\n')
			line[n - 1] = '\0';
		if (state == 0 && strcmp(line, CONFIG_DOC_MAN_BEGIN) == 0) {
			fprintf(out, "%s\n", line);
			config_doc_man(out);
			state = 1;
		} else if (state == 1 &&
		    strcmp(line, CONFIG_DOC_MAN_END) == 0) {
			fprintf(out, "%s\n", line);
			state = 2;
		} else if (state != 1)
			fprintf(out, "%s\n", line);
	}
	free(line);
	return state == 2 ? 0 : -1;
}
