/*
 * The aliases file: loading (master and privileged side, as root, at
 * start-up and on SIGHUP) and expansion (the privileged side, for each
 * RCPT to a local domain and for local delivery). The syntax is the one
 * sendmail and Postfix read (see aliases.h). Expansion follows aliases
 * to aliases and :include: files down to final targets; the caller
 * resolves user names through NSS and decides what a domain is.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "aliases.h"
#include "bounds.h"
#include "xmalloc.h"

/* What a target is, as written. */
enum target_kind {
	T_LOCAL,	/* user or alias */
	T_NOEXPAND,	/* \user */
	T_REMOTE,
	T_FILE,
	T_PROGRAM,
	T_INCLUDE,
};

struct target {
	enum target_kind	 kind;
	char			*value;	/* without "\", "|", ":include:" */
};

struct targets {
	struct target	*v;
	size_t		 n;
};

struct alias {
	char		*name;		/* lower case */
	struct targets	 t;
	int		 line;
};

struct aliases {
	struct alias	*v;		/* sorted by name */
	size_t		 n;
};

/* One expansion in progress. */
struct expander {
	const struct aliases	*al;
	unsigned		 allow;
	unsigned char		*active;	/* per entry: being expanded */
	unsigned char		*done;		/* per entry: expanded */
	char			**incl;		/* include files read */
	size_t			 nincl;
	struct {
		enum alias_kind	 kind;
		char		*s;
	}			*out;
	size_t			 nout;
	struct reason		*r;
};

static void	 errs_add(struct config_errors *, const char *, int,
		    const char *, ...) __attribute__((format(printf, 4, 5)));
static int	 read_file(const char *, char **, size_t *, char *, size_t);
static int	 parse_targets(const char *, size_t, struct targets *, char *,
		    size_t);
static void	 targets_free(struct targets *);
static int	 expand_targets(struct expander *, const struct targets *,
		    int);

static void
errs_add(struct config_errors *errs, const char *file, int line,
    const char *fmt, ...)
{
	char	buf[512];
	va_list	ap;

	if (errs == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	errs->v = xreallocarray(errs->v, errs->n + 1, sizeof(*errs->v));
	errs->v[errs->n].file = xstrdup(file);
	errs->v[errs->n].line = line;
	errs->v[errs->n].reason = xstrdup(buf);
	errs->n++;
}

static unsigned char
ascii_lower(unsigned char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch - 'A' + 'a') : ch;
}

static bool
is_space(char ch)
{
	return ch == ' ' || ch == '\t';
}

/*
 * Reads a whole regular file of at most ALIAS_FILE_MAX octets into a
 * NUL-terminated buffer the caller frees. Returns 0, or -1 with why.
 */
static int
read_file(const char *path, char **buf_out, size_t *len_out, char *why,
    size_t whysize)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	/* O_NONBLOCK: opening a FIFO must not hang the privileged side */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		snprintf(why, whysize, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(why, whysize, "fstat: %s", strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > ALIAS_FILE_MAX) {
		snprintf(why, whysize, "%s", !S_ISREG(st.st_mode) ?
		    "not a regular file" : "file too large");
		goto fail;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(why, whysize, "read: %s", strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;	/* shrank meanwhile: take what is there */
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	*buf_out = buf;
	*len_out = len;
	return 0;
fail:
	free(buf);
	close(fd);
	return -1;
}

/*
 * Copies the quoted string at s (s[0] == '"') into out (at least len
 * octets) without its quotes and escapes. Returns the octets consumed,
 * or 0 if it does not end within len.
 */
static size_t
unquote(const char *s, size_t len, char *out)
{
	size_t	i, o = 0;

	for (i = 1; i < len; i++) {
		if (s[i] == '"') {
			out[o] = '\0';
			return i + 1;
		}
		if (s[i] == '\\' && i + 1 < len)
			i++;
		out[o++] = s[i];
	}
	return 0;
}

/*
 * A user or alias name: no spaces, control characters or the specials
 * that separate or quote things in this file; UTF-8 must be valid. A
 * quoted alias name may have those specials and spaces.
 */
static bool
name_ok(const char *s, size_t maxlen, bool quoted)
{
	size_t		i, n, len = strlen(s);
	unsigned char	ch;

	if (len == 0 || len > maxlen)
		return false;
	for (i = 0; i < len; i += n) {
		ch = (unsigned char)s[i];
		n = 1;
		if (ch >= 0x80) {
			if ((n = addr_utf8_seqlen(s + i, len - i)) == 0)
				return false;
		} else if (ch < ' ' || ch == 0x7f || (!quoted && (ch == ' ' ||
		    strchr(",:\"\\@<>()[];", ch) != NULL)))
			return false;
	}
	return true;
}

/* Classifies and checks one target (len > 0, spaces trimmed). */
static int
parse_target(const char *s, size_t len, struct target *t, char *why,
    size_t whysize)
{
	struct mailaddr	 a;
	char		*buf = xmalloc(len + 1), fmt[ADDR_TEXT_SIZE];
	const char	*v = buf;
	size_t		 q;
	int		 rv = -1;

	if (s[0] == '"' && unquote(s, len, buf) == len)
		;	/* wholly quoted: "|cmd arg", "/path with space" */
	else {
		memcpy(buf, s, len);
		buf[len] = '\0';
	}
	/* no target may carry a line end or other control character */
	for (q = 0; buf[q] != '\0'; q++)
		if (((unsigned char)buf[q] < ' ' && buf[q] != '\t') ||
		    buf[q] == 0x7f) {
			snprintf(why, whysize, "control character in target");
			goto out;
		}
	if (v[0] == '|') {
		t->kind = T_PROGRAM;
		for (v++; is_space(*v); v++)
			;
		if (*v == '\0') {
			snprintf(why, whysize, "empty program target");
			goto out;
		}
	} else if (v[0] == '/')
		t->kind = T_FILE;
	else if (strncasecmp(v, ":include:", 9) == 0) {
		t->kind = T_INCLUDE;
		for (v += 9; is_space(*v); v++)
			;
		if (*v != '/') {
			snprintf(why, whysize,
			    ":include: needs an absolute path");
			goto out;
		}
	} else if (v[0] == '\\') {
		t->kind = T_NOEXPAND;
		if (!name_ok(++v, USER_NAME_MAX, false)) {
			snprintf(why, whysize, "invalid user name");
			goto out;
		}
	} else if (strchr(v, '@') != NULL) {
		t->kind = T_REMOTE;
		if (addr_parse_mailbox(v, strlen(v), ADDR_UTF8, &a,
		    NULL) == -1 || addr_format(&a, fmt, sizeof(fmt)) == -1) {
			snprintf(why, whysize, "invalid address");
			goto out;
		}
		v = fmt;
	} else {
		t->kind = T_LOCAL;
		if (!name_ok(v, USER_NAME_MAX, false)) {
			snprintf(why, whysize, "invalid target");
			goto out;
		}
	}
	t->value = xstrdup(v);
	rv = 0;
out:
	free(buf);
	return rv;
}

/*
 * Parses "target, target, ..." into ts (appending). Commas inside
 * quotes do not separate; empty items are skipped. Returns 0, or -1
 * with why.
 */
static int
parse_targets(const char *s, size_t len, struct targets *ts, char *why,
    size_t whysize)
{
	size_t		i = 0, start, end;
	bool		inq;
	struct target	t;

	while (i < len) {
		for (inq = false, start = i; i < len &&
		    (inq || s[i] != ','); i++) {
			if (s[i] == '"')
				inq = !inq;
			else if (inq && s[i] == '\\' && i + 1 < len)
				i++;
		}
		if (inq) {
			snprintf(why, whysize, "unterminated quote");
			return -1;
		}
		end = i++;	/* skip the comma */
		while (start < end && is_space(s[start]))
			start++;
		while (end > start && is_space(s[end - 1]))
			end--;
		if (start == end)
			continue;
		if (parse_target(s + start, end - start, &t, why,
		    whysize) == -1)
			return -1;
		ts->v = xreallocarray(ts->v, ts->n + 1, sizeof(*ts->v));
		ts->v[ts->n++] = t;
	}
	return 0;
}

static void
targets_free(struct targets *ts)
{
	size_t	i;

	for (i = 0; i < ts->n; i++)
		free(ts->v[i].value);
	free(ts->v);
	ts->v = NULL;
	ts->n = 0;
}

/* One logical line: "name: targets". */
static void
parse_entry(struct aliases *al, const char *s, size_t len, const char *file,
    int line, struct config_errors *errs)
{
	char		*name = xmalloc(len + 1), why[128];
	struct targets	 ts = { NULL, 0 };
	size_t		 p, i;

	if (s[0] == '"') {
		if ((p = unquote(s, len, name)) == 0) {
			errs_add(errs, file, line, "unterminated quote");
			goto out;
		}
		while (p < len && is_space(s[p]))
			p++;
	} else {
		for (p = 0; p < len && s[p] != ':'; p++)
			;
		for (i = p; i > 0 && is_space(s[i - 1]); i--)
			;
		memcpy(name, s, i);
		name[i] = '\0';
	}
	if (p >= len || s[p] != ':') {
		errs_add(errs, file, line, "missing ':' after the alias name");
		goto out;
	}
	/* a name longer than a local part could never match */
	if (!name_ok(name, SMTP_LOCALPART_MAX, s[0] == '"')) {
		errs_add(errs, file, line, "invalid alias name");
		goto out;
	}
	if (parse_targets(s + p + 1, len - p - 1, &ts, why,
	    sizeof(why)) == -1) {
		errs_add(errs, file, line, "%s", why);
		targets_free(&ts);
		goto out;
	}
	if (ts.n == 0) {
		errs_add(errs, file, line, "alias has no targets");
		goto out;
	}
	for (i = 0; name[i] != '\0'; i++)
		name[i] = (char)ascii_lower((unsigned char)name[i]);
	al->v = xreallocarray(al->v, al->n + 1, sizeof(*al->v));
	al->v[al->n].name = xstrdup(name);
	al->v[al->n].t = ts;
	al->v[al->n].line = line;
	al->n++;
out:
	free(name);
}

static int
alias_cmp(const void *a, const void *b)
{
	const struct alias	*x = a, *y = b;
	int			 c = strcmp(x->name, y->name);

	/* equal names: the earlier line sorts first and wins */
	return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

struct aliases *
aliases_parse(const char *text, size_t len, const char *file,
    struct config_errors *errs)
{
	struct aliases	*al = xcalloc(1, sizeof(*al));
	char		*lbuf = xmalloc(ALIAS_LINE_MAX + 1);
	const char	*p = text, *end = text + len, *nl;
	size_t		 llen = 0, ll, i, o;
	int		 lineno = 0, start = 0;
	bool		 toolong = false;

	for (; p < end; p = nl != NULL ? nl + 1 : end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		ll = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		lineno++;
		while (ll > 0 && (p[ll - 1] == '\r' || is_space(p[ll - 1])))
			ll--;
		if (memchr(p, '\0', ll) != NULL) {
			errs_add(errs, file, lineno, "NUL character");
			continue;
		}
		for (i = 0; i < ll && is_space(p[i]); i++)
			;
		if (i == ll || p[i] == '#')
			continue;	/* blank or comment */
		if (i == 0) {
			if (start != 0 && !toolong)
				parse_entry(al, lbuf, llen, file, start, errs);
			else if (start != 0)
				errs_add(errs, file, start, "entry too long");
			start = lineno;
			llen = 0;
			toolong = false;
		} else if (start == 0) {
			errs_add(errs, file, lineno,
			    "continuation line without an entry");
			continue;
		}
		o = ll - i;
		if (llen + 1 + o > ALIAS_LINE_MAX) {
			toolong = true;
			continue;
		}
		if (llen > 0)
			lbuf[llen++] = ' ';
		memcpy(lbuf + llen, p + i, o);
		llen += o;
	}
	if (start != 0 && !toolong)
		parse_entry(al, lbuf, llen, file, start, errs);
	else if (start != 0)
		errs_add(errs, file, start, "entry too long");
	free(lbuf);

	if (al->n > 1)
		qsort(al->v, al->n, sizeof(*al->v), alias_cmp);
	for (i = 1, o = 1; i < al->n; i++) {
		if (strcmp(al->v[i].name, al->v[o - 1].name) == 0) {
			errs_add(errs, file, al->v[i].line,
			    "duplicate alias %s (first at line %d)",
			    al->v[i].name, al->v[o - 1].line);
			free(al->v[i].name);
			targets_free(&al->v[i].t);
			continue;
		}
		al->v[o++] = al->v[i];
	}
	if (al->n > 0)
		al->n = o;
	return al;
}

struct aliases *
aliases_load(const char *path, struct config_errors *errs)
{
	struct aliases	*al;
	char		*buf, why[256];
	size_t		 len;

	if (read_file(path, &buf, &len, why, sizeof(why)) == -1) {
		errs_add(errs, path, 0, "%s", why);
		return NULL;
	}
	al = aliases_parse(buf, len, path, errs);
	free(buf);
	return al;
}

void
aliases_free(struct aliases **alp)
{
	struct aliases	*al = *alp;
	size_t		 i;

	if (al == NULL)
		return;
	for (i = 0; i < al->n; i++) {
		free(al->v[i].name);
		targets_free(&al->v[i].t);
	}
	free(al->v);
	free(al);
	*alp = NULL;
}

size_t
aliases_count(const struct aliases *al)
{
	return al->n;
}

/* The index of the alias called name (lower case), or -1. */
static ssize_t
lookup(const struct aliases *al, const char *name)
{
	size_t	lo = 0, hi = al->n, mid;
	int	c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(name, al->v[mid].name);
		if (c == 0)
			return (ssize_t)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* Adds a final target unless it is already there. */
static int
add_final(struct expander *x, enum alias_kind kind, const char *s)
{
	size_t	i;

	for (i = 0; i < x->nout; i++)
		if (x->out[i].kind == kind && strcmp(x->out[i].s, s) == 0)
			return 0;
	if (x->nout >= ALIAS_TARGETS_MAX) {
		reason_set(x->r, "5.5.3", "alias expands to more than %d "
		    "targets", ALIAS_TARGETS_MAX);
		return -1;
	}
	x->out = xreallocarray(x->out, x->nout + 1, sizeof(*x->out));
	x->out[x->nout].kind = kind;
	x->out[x->nout].s = xstrdup(s);
	x->nout++;
	return 0;
}

static int
not_allowed(struct expander *x, const char *what)
{
	reason_set(x->r, "5.3.5", "alias target not allowed: %s", what);
	return -1;
}

/* The targets of an :include: file, as a list one level down. */
static int
expand_include(struct expander *x, const char *path, int depth)
{
	struct targets	 ts = { NULL, 0 };
	char		*buf, why[128];
	const char	*p, *nl, *eol, *end;
	size_t		 len, i;
	int		 lineno = 0, rv;

	for (i = 0; i < x->nincl; i++)
		if (strcmp(x->incl[i], path) == 0)
			return 0;	/* read already, or being read */
	x->incl = xreallocarray(x->incl, x->nincl + 1, sizeof(*x->incl));
	x->incl[x->nincl++] = xstrdup(path);
	if (read_file(path, &buf, &len, why, sizeof(why)) == -1) {
		reason_set(x->r, "4.3.0", "alias include %s: %s", path, why);
		return -1;
	}
	end = buf + len;
	for (p = buf; p < end; p = nl != NULL ? nl + 1 : end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		eol = nl != NULL ? nl : end;
		lineno++;
		while (p < eol && is_space(*p))
			p++;
		if (p == eol || *p == '#')
			continue;
		if (memchr(p, '\0', (size_t)(eol - p)) != NULL ||
		    (size_t)(eol - p) > ALIAS_LINE_MAX) {
			snprintf(why, sizeof(why), "bad line");
			goto bad;
		}
		if (parse_targets(p, (size_t)(eol - p), &ts, why,
		    sizeof(why)) == -1)
			goto bad;
	}
	free(buf);
	rv = expand_targets(x, &ts, depth);
	targets_free(&ts);
	return rv;
bad:
	reason_set(x->r, "4.3.0", "alias include %s:%d: %s", path, lineno,
	    why);
	free(buf);
	targets_free(&ts);
	return -1;
}

/* Expands entry idx, whose targets are at depth. */
static int
expand_alias(struct expander *x, size_t idx, int depth)
{
	int	rv;

	if (depth > ALIAS_DEPTH_MAX) {
		reason_set(x->r, "5.4.6", "alias expansion deeper than %d",
		    ALIAS_DEPTH_MAX);
		return -1;
	}
	x->active[idx] = 1;
	rv = expand_targets(x, &x->al->v[idx].t, depth);
	x->active[idx] = 0;
	x->done[idx] = 1;
	return rv;
}

static int
expand_targets(struct expander *x, const struct targets *ts, int depth)
{
	const struct target	*t;
	char			 lname[USER_NAME_MAX + 1];
	size_t			 i, k;
	ssize_t			 idx;

	if (depth > ALIAS_DEPTH_MAX) {
		reason_set(x->r, "5.4.6", "alias expansion deeper than %d",
		    ALIAS_DEPTH_MAX);
		return -1;
	}
	for (i = 0; i < ts->n; i++) {
		t = &ts->v[i];
		switch (t->kind) {
		case T_LOCAL:
			for (k = 0; t->value[k] != '\0' && k < USER_NAME_MAX;
			    k++)
				lname[k] = (char)ascii_lower(
				    (unsigned char)t->value[k]);
			lname[k] = '\0';
			idx = lookup(x->al, lname);
			if (idx == -1 || x->active[idx]) {
				/* a user; or a loop: the user of that name */
				if (add_final(x, ALIAS_LOCAL, t->value) == -1)
					return -1;
			} else if (!x->done[idx] &&
			    expand_alias(x, (size_t)idx, depth + 1) == -1)
				return -1;
			break;
		case T_NOEXPAND:
			if (add_final(x, ALIAS_LOCAL, t->value) == -1)
				return -1;
			break;
		case T_REMOTE:
			if (add_final(x, ALIAS_REMOTE, t->value) == -1)
				return -1;
			break;
		case T_FILE:
			if (!(x->allow & ALIAS_ALLOW_FILE))
				return not_allowed(x, "file");
			if (add_final(x, ALIAS_FILE, t->value) == -1)
				return -1;
			break;
		case T_PROGRAM:
			if (!(x->allow & ALIAS_ALLOW_PROGRAM))
				return not_allowed(x, "program");
			if (add_final(x, ALIAS_PROGRAM, t->value) == -1)
				return -1;
			break;
		case T_INCLUDE:
			if (!(x->allow & ALIAS_ALLOW_INCLUDE))
				return not_allowed(x, ":include:");
			if (expand_include(x, t->value, depth + 1) == -1)
				return -1;
			break;
		}
	}
	return 0;
}

int
aliases_expand(const struct aliases *al, const char *local, unsigned allow,
    aliases_cb *cb, void *arg, struct reason *r)
{
	struct expander	 x;
	char		 lname[SMTP_LOCALPART_MAX + 1];
	size_t		 i;
	ssize_t		 idx;
	int		 rv = 1;

	for (i = 0; local[i] != '\0'; i++) {
		if (i == SMTP_LOCALPART_MAX)
			return 0;	/* no alias name is that long */
		lname[i] = (char)ascii_lower((unsigned char)local[i]);
	}
	lname[i] = '\0';
	if ((idx = lookup(al, lname)) == -1)
		return 0;
	memset(&x, 0, sizeof(x));
	x.al = al;
	x.allow = allow;
	x.r = r;
	x.active = xcalloc(al->n, 1);
	x.done = xcalloc(al->n, 1);
	if (expand_alias(&x, (size_t)idx, 1) == -1)
		rv = -1;
	else if (x.nout == 0) {
		reason_set(r, "5.3.5", "alias expands to no recipients");
		rv = -1;
	}
	for (i = 0; i < x.nout; i++) {
		if (rv == 1 && cb(arg, x.out[i].kind, x.out[i].s, r) == -1)
			rv = -1;
		free(x.out[i].s);
	}
	for (i = 0; i < x.nincl; i++)
		free(x.incl[i]);
	free(x.incl);
	free(x.out);
	free(x.active);
	free(x.done);
	return rv;
}
