/*
 * The value of one setting: reading it from libconfig into its field of
 * struct config, by the type its row in config_keys.c gives (string,
 * path, boolean, number, size, duration, keyword, list, listen
 * addresses), and writing it back in config-file syntax. Called by
 * config.c for the file and for the built-in defaults; problems go back
 * through config_check_bad() with the setting's file and line.
 */
#include "autoconf.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libconfig.h>

#include "config.h"
#include "config_keys.h"
#include "bounds.h"
#include "xmalloc.h"

static bool	 all_digits(const char *);
static void	 wrong_type(struct config_check *, const struct config_key *,
		    const config_setting_t *);

/* --- formatting --------------------------------------------------------- */

const char *
config_fmt_duration(long long secs, char *buf, size_t bufsz)
{
	static const struct { long long n; char c; } units[] = {
		{ 86400, 'd' }, { 3600, 'h' }, { 60, 'm' },
	};
	size_t	i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (secs != 0 && secs % units[i].n == 0) {
			snprintf(buf, bufsz, "%lld%c", secs / units[i].n,
			    units[i].c);
			return buf;
		}
	snprintf(buf, bufsz, "%llds", secs);
	return buf;
}

const char *
config_fmt_size(long long bytes, char *buf, size_t bufsz)
{
	static const struct { long long n; char c; } units[] = {
		{ 1LL << 30, 'G' }, { 1LL << 20, 'M' }, { 1LL << 10, 'k' },
	};
	size_t	i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (bytes != 0 && bytes % units[i].n == 0) {
			snprintf(buf, bufsz, "%lld%c", bytes / units[i].n,
			    units[i].c);
			return buf;
		}
	snprintf(buf, bufsz, "%lld", bytes);
	return buf;
}

/* Appends s to *out as a libconfig string literal. */
static void
append_quoted(char **out, size_t *len, const char *s)
{
	size_t	need = 3 + 4 * strlen(s), n = *len;
	char	*p;

	*out = xreallocarray(*out, n + need, 1);
	p = *out + n;
	*p++ = '"';
	for (; *s != '\0'; s++) {
		unsigned char	c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = (char)c;
		} else if (c == '\n') {
			*p++ = '\\';
			*p++ = 'n';
		} else if (c == '\t') {
			*p++ = '\\';
			*p++ = 't';
		} else if (c < 0x20 || c == 0x7f) {
			p += sprintf(p, "\\x%02x", c);
		} else
			*p++ = (char)c;
	}
	*p++ = '"';
	*p = '\0';
	*len = (size_t)(p - *out);
}

static void
append_raw(char **out, size_t *len, const char *s)
{
	size_t	n = strlen(s);

	*out = xreallocarray(*out, *len + n + 1, 1);
	memcpy(*out + *len, s, n + 1);
	*len += n;
}

const char *
config_listen_addr_fmt(const struct listen_addr *a, char *buf, size_t bufsz)
{
	if (a->host == NULL)
		snprintf(buf, bufsz, "*:%d", a->port);
	else if (strchr(a->host, ':') != NULL)
		snprintf(buf, bufsz, "[%s]:%d", a->host, a->port);
	else
		snprintf(buf, bufsz, "%s:%d", a->host, a->port);
	return buf;
}

static const char *
enum_name(const struct config_key *k, int value)
{
	const struct config_enum	*e;

	for (e = k->enums; e->name != NULL; e++)
		if (e->value == value)
			return e->name;
	return "?";
}

char *
config_key_format(const struct config_key *k, const struct config *cfg)
{
	const void			*p = config_key_ptr(k, cfg);
	const struct strlist		*sl;
	const struct listen_list	*ll;
	char				*out = NULL;
	char				 buf[HOST_NAME_MAX_LEN + 16];
	size_t				 len = 0, i;

	switch (k->type) {
	case CONFIG_STRING:
	case CONFIG_PATH:
		append_quoted(&out, &len, *(char * const *)p != NULL ?
		    *(char * const *)p : "");
		break;
	case CONFIG_BOOL:
		append_raw(&out, &len, *(const bool *)p ? "true" : "false");
		break;
	case CONFIG_INT:
		snprintf(buf, sizeof(buf), "%d", *(const int *)p);
		append_raw(&out, &len, buf);
		break;
	case CONFIG_SIZE:
		config_fmt_size(*(const long long *)p, buf, sizeof(buf));
		if (isdigit((unsigned char)buf[strlen(buf) - 1]))
			append_raw(&out, &len, buf);
		else
			append_quoted(&out, &len, buf);
		break;
	case CONFIG_DURATION:
		append_quoted(&out, &len,
		    config_fmt_duration(*(const int *)p, buf, sizeof(buf)));
		break;
	case CONFIG_ENUM:
		if (k->flags & CONFIG_K_ENUM_STR)
			append_quoted(&out, &len, *(char * const *)p != NULL ?
			    *(char * const *)p : "");
		else
			append_quoted(&out, &len,
			    enum_name(k, *(const int *)p));
		break;
	case CONFIG_STRLIST:
		sl = p;
		append_raw(&out, &len, "[ ");
		for (i = 0; i < sl->n; i++) {
			append_quoted(&out, &len, sl->v[i]);
			append_raw(&out, &len, i + 1 < sl->n ? ", " : " ");
		}
		append_raw(&out, &len, "]");
		break;
	case CONFIG_LISTEN:
		ll = p;
		append_raw(&out, &len, "[ ");
		for (i = 0; i < ll->n; i++) {
			append_quoted(&out, &len, config_listen_addr_fmt(
			    &ll->v[i], buf, sizeof(buf)));
			append_raw(&out, &len, i + 1 < ll->n ? ", " : " ");
		}
		append_raw(&out, &len, "]");
		break;
	}
	return out;
}

/* --- reading one setting ------------------------------------------------ */

/* What a setting is, in words, for "expected ..., got ..." messages. */
const char *
config_setting_kind(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP:		return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:		return "a number";
	case CONFIG_TYPE_FLOAT:		return "a number with a fraction";
	case CONFIG_TYPE_STRING:	return "a string";
	case CONFIG_TYPE_BOOL:		return "true or false";
	case CONFIG_TYPE_ARRAY:
	case CONFIG_TYPE_LIST:		return "a list";
	}
	return "something else";
}

/* What a row wants, in the same words. */
const char *
config_key_wants(const struct config_key *k)
{
	switch (k->type) {
	case CONFIG_STRING:
	case CONFIG_PATH:
	case CONFIG_ENUM:	return "a string";
	case CONFIG_BOOL:	return "true or false";
	case CONFIG_INT:	return "a number";
	case CONFIG_SIZE:	return "a size (a number of bytes, or a "
				    "string such as \"10M\")";
	case CONFIG_DURATION:	return "a duration (a number of seconds, or "
				    "a string such as \"5m\")";
	case CONFIG_STRLIST:	return "a list of strings, such as "
				    "[ \"a\", \"b\" ]";
	case CONFIG_LISTEN:	return "a list of addresses, such as "
				    "[ \"*:25\" ]";
	}
	return "?";
}

/* "k: expected a number, got a string" */
static void
wrong_type(struct config_check *chk, const struct config_key *k,
    const config_setting_t *s)
{
	config_check_bad(chk, k, s, "expected %s, got %s", config_key_wants(k),
	    config_setting_kind(s));
}

/*
 * libconfig 1.5 reads an integer without an L suffix into an int and
 * silently wraps one that does not fit (5000000000 becomes 705032704).
 * So look at the number as written on the setting's line and refuse it
 * when it is not the value libconfig kept. Returns false after reporting.
 */
static bool
check_int_text(struct config_check *chk, const struct config_key *k,
    const config_setting_t *s)
{
	const char	*line, *p, *name = config_setting_name(s), *q;
	size_t		 nlen;
	long long	 v;
	char		*end;

	if (config_check_is_defaults(chk) || name == NULL ||
	    config_setting_type(s) != CONFIG_TYPE_INT ||
	    (line = config_check_source_line(chk,
	    config_check_setting_file(chk, s),
	    config_setting_source_line(s))) == NULL)
		return true;
	nlen = strlen(name);
	for (p = line; (p = strstr(p, name)) != NULL; p += nlen) {
		if (p > line && (isalnum((unsigned char)p[-1]) ||
		    p[-1] == '_' || p[-1] == '-' || p[-1] == '*'))
			continue;
		q = p + nlen;
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q != '=' && *q != ':')
			continue;
		q++;
		while (*q == ' ' || *q == '\t')
			q++;
		errno = 0;
		if (q[0] == '0' && (q[1] == 'x' || q[1] == 'X'))
			v = strtoll(q + 2, &end, 16);
		else if (*q == '-' || *q == '+' || isdigit((unsigned char)*q))
			v = strtoll(q, &end, 10);
		else
			return true;
		if (errno == ERANGE || v != config_setting_get_int64(s)) {
			config_check_bad(chk, k, s, "%.*s is too large",
			    (int)(end - q), q);
			return false;
		}
		return true;
	}
	return true;
}

static bool
read_int(struct config_check *chk, const struct config_key *k,
    const config_setting_t *s, long long *out)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		if (!check_int_text(chk, k, s))
			return false;
		*out = config_setting_get_int64(s);
		return true;
	case CONFIG_TYPE_FLOAT:
		config_check_bad(chk, k, s, "expected a whole number, got %g",
		    config_setting_get_float(s));
		return false;
	case CONFIG_TYPE_STRING:
		config_check_bad(chk, k, s, "expected %s, got a string%s",
		    config_key_wants(k),
		    all_digits(config_setting_get_string(s)) ?
		    " (write the number without quotes)" : "");
		return false;
	default:
		wrong_type(chk, k, s);
		return false;
	}
}

/*
 * "10M", "64k", "1G", "300", "5m", "2h", "5d", "30s": digits and at most
 * one unit letter from units (matched without regard to case for sizes).
 * Returns 1 with *out set, 0 when the value is too large, -1 when s is
 * malformed.
 */
static int
parse_scaled(const char *s, const char *units, const long long *mult,
    bool fold, long long *out)
{
	const unsigned long long	 top = ~0ULL >> 1;	/* LLONG_MAX */
	unsigned long long		 v = 0;
	const char			*p = s, *u;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > top / 10)
			return 0;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (*p != '\0') {
		for (u = units; *u != '\0'; u++)
			if (*p == *u || (fold &&
			    tolower((unsigned char)*p) == tolower(*u)))
				break;
		if (*u == '\0' || p[1] != '\0')
			return -1;
		if (v > top / (unsigned long long)mult[u - units])
			return 0;
		v *= (unsigned long long)mult[u - units];
	}
	if (v > top)
		return 0;
	*out = (long long)v;
	return 1;
}

static void
range_error(struct config_check *chk, const struct config_key *k,
    const config_setting_t *s, long long v)
{
	char	bv[32], bmin[32], bmax[32];

	if (k->type == CONFIG_SIZE) {
		config_fmt_size(v, bv, sizeof(bv));
		config_fmt_size(k->min, bmin, sizeof(bmin));
		config_fmt_size(k->max, bmax, sizeof(bmax));
	} else if (k->type == CONFIG_DURATION) {
		config_fmt_duration(v, bv, sizeof(bv));
		config_fmt_duration(k->min, bmin, sizeof(bmin));
		config_fmt_duration(k->max, bmax, sizeof(bmax));
	} else {
		snprintf(bv, sizeof(bv), "%lld", v);
		snprintf(bmin, sizeof(bmin), "%lld", k->min);
		snprintf(bmax, sizeof(bmax), "%lld", k->max);
	}
	config_check_bad(chk, k, s, "%s is out of range: must be between %s "
	    "and %s", bv, bmin, bmax);
}

static bool
read_number(struct config_check *chk, const struct config_key *k,
    const config_setting_t *s, long long *out)
{
	static const long long	 size_mult[] = {
		1LL << 10, 1LL << 20, 1LL << 30
	};
	static const long long	 dur_mult[] = { 1, 60, 3600, 86400 };
	const char		*str;
	long long		 v;
	int			 r;

	if (k->type != CONFIG_INT &&
	    config_setting_type(s) == CONFIG_TYPE_STRING) {
		str = config_setting_get_string(s);
		r = k->type == CONFIG_SIZE ?
		    parse_scaled(str, "kmg", size_mult, true, &v) :
		    parse_scaled(str, "smhd", dur_mult, false, &v);
		if (r == 0) {
			config_check_bad(chk, k, s, "\"%s\" is too large", str);
			return false;
		}
		if (r == -1 && k->type == CONFIG_SIZE) {
			config_check_bad(chk, k, s, "\"%s\" is not a size: "
			    "write a number of bytes with an optional k, M or "
			    "G suffix, such as \"10M\"", str);
			return false;
		}
		if (r == -1) {
			config_check_bad(chk, k, s, "\"%s\" is not a "
			    "duration: write a number with an optional s, m, h "
			    "or d suffix, such as \"5m\"", str);
			return false;
		}
	} else if (!read_int(chk, k, s, &v))
		return false;
	if (v < k->min || v > k->max) {
		range_error(chk, k, s, v);
		return false;
	}
	*out = v;
	return true;
}

static char *
lowered(const char *s, bool lower)
{
	char	*d = xstrdup(s), *p;

	if (lower)
		for (p = d; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
	return d;
}

static bool
read_string(struct config_check *chk, const struct config_key *k,
    const config_setting_t *s, char **out)
{
	const char	*v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		wrong_type(chk, k, s);
		return false;
	}
	v = config_setting_get_string(s);
	if (*v == '\0' && !(k->flags & CONFIG_K_EMPTY_OK)) {
		config_check_bad(chk, k, s, "must not be empty");
		return false;
	}
	if (k->type == CONFIG_PATH && *v != '\0' && *v != '/') {
		config_check_bad(chk, k, s, "\"%s\" is not an absolute path "
		    "(one that starts with /)", v);
		return false;
	}
	*out = lowered(v, k->flags & CONFIG_K_LOWER);
	return true;
}

static bool
read_enum(struct config_check *chk, const struct config_key *k,
    const config_setting_t *s, void *p)
{
	const struct config_enum	*e;
	const char			*v;
	char				*names = NULL;
	size_t				 len = 0;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		wrong_type(chk, k, s);
		return false;
	}
	v = config_setting_get_string(s);
	for (e = k->enums; e->name != NULL; e++)
		if (strcasecmp(v, e->name) == 0)
			break;
	if (e->name == NULL) {
		for (e = k->enums; e->name != NULL; e++) {
			append_raw(&names, &len, e->name);
			if (e[1].name != NULL)
				append_raw(&names, &len, ", ");
		}
		config_check_bad(chk, k, s, "\"%s\" is not allowed: must be "
		    "one of: %s", v, names);
		free(names);
		return false;
	}
	if (k->flags & CONFIG_K_ENUM_STR) {
		xfree(p);
		*(char **)p = xstrdup(e->name);
	} else
		*(int *)p = e->value;
	return true;
}

static bool
is_aggregate_list(const config_setting_t *s)
{
	return config_setting_type(s) == CONFIG_TYPE_ARRAY ||
	    config_setting_type(s) == CONFIG_TYPE_LIST;
}

static void
strlist_clear(struct strlist *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static bool
read_strlist(struct config_check *chk, const struct config_key *k,
    const config_setting_t *s, struct strlist *out)
{
	struct strlist		 l = { NULL, 0 };
	const config_setting_t	*e;
	int			 i, n;
	bool			 ok = true;

	if (!is_aggregate_list(s)) {
		wrong_type(chk, k, s);
		return false;
	}
	n = config_setting_length(s);
	l.v = xcalloc((size_t)n + 1, sizeof(*l.v));
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			config_check_bad(chk, k, e, "element %d: expected a "
			    "string, got %s", i + 1, config_setting_kind(e));
			ok = false;
			continue;
		}
		l.v[l.n++] = lowered(config_setting_get_string(e),
		    k->flags & CONFIG_K_LOWER);
	}
	if (!ok) {
		strlist_clear(&l);
		return false;
	}
	strlist_clear(out);
	*out = l;
	return true;
}

/* Whether s is digits only (at least one). */
static bool
all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static bool
parse_port(const char *s, int *port_out, char **why_out)
{
	long	v;

	if (!all_digits(s) || strlen(s) > 6) {
		if (*s == '\0')
			*why_out = xstrdup("the port is missing after ':'");
		else if (all_digits(s))
			*why_out = xstrdup("the port must be between 1 and "
			    "65535");
		else
			*why_out = xasprintf("\"%s\" is not a port number", s);
		return false;
	}
	v = strtol(s, NULL, 10);
	if (v < 1 || v > 65535) {
		*why_out = xstrdup("the port must be between 1 and 65535");
		return false;
	}
	*port_out = (int)v;
	return true;
}

/*
 * One listen entry: "port", "*:port", "host:port" or "[v6]:port". The
 * host is an IPv4 literal, a bracketed IPv6 literal, or a name that must
 * resolve (through /etc/hosts or DNS). On success fills *a (host
 * allocated, or NULL for "*"); on failure *why_out says why (allocated).
 */
static bool
parse_listen(const char *s, struct listen_addr *a, bool resolve,
    char **why_out)
{
	struct addrinfo	 hints, *res;
	unsigned char	 bin[16];
	const char	*colon, *why;
	char		*host = NULL;
	int		 gai;

	memset(a, 0, sizeof(*a));
	if (all_digits(s) || (s[0] == '*' && s[1] == '\0'))
		return s[0] == '*' ? (*why_out = xstrdup("the port is "
		    "missing: write \"*:PORT\""), false) :
		    parse_port(s, &a->port, why_out);
	if (s[0] == '[') {
		if ((colon = strchr(s, ']')) == NULL) {
			*why_out = xstrdup("the ']' after the IPv6 address is "
			    "missing");
			return false;
		}
		host = xstrndup(s + 1, (size_t)(colon - s - 1));
		if (inet_pton(AF_INET6, host, bin) != 1) {
			*why_out = xasprintf("\"%s\" is not a valid IPv6 "
			    "address", host);
			free(host);
			return false;
		}
		if (colon[1] != ':') {
			*why_out = xstrdup(colon[1] == '\0' ? "the port is "
			    "missing: write \"[ADDRESS]:PORT\"" : "expected "
			    "':' and a port after ']'");
			free(host);
			return false;
		}
		if (!parse_port(colon + 2, &a->port, why_out)) {
			free(host);
			return false;
		}
		a->host = host;
		return true;
	}
	if ((colon = strrchr(s, ':')) == NULL) {
		*why_out = xstrdup("the port is missing: write HOST:PORT, "
		    "[IPV6]:PORT, *:PORT or a port number");
		return false;
	}
	if (strchr(s, ':') != colon) {
		*why_out = xstrdup("an IPv6 address must be in brackets, as "
		    "in \"[::1]:25\"");
		return false;
	}
	if (colon == s) {
		*why_out = xstrdup("the host is missing before ':' (write "
		    "\"*:PORT\" for every address)");
		return false;
	}
	if (!parse_port(colon + 1, &a->port, why_out))
		return false;
	host = xstrndup(s, (size_t)(colon - s));
	if (strcmp(host, "*") == 0) {
		free(host);
		return true;
	}
	if (strspn(host, "0123456789.") == strlen(host)) {
		if (inet_pton(AF_INET, host, bin) != 1) {
			*why_out = xasprintf("\"%s\" is not a valid IPv4 "
			    "address", host);
			free(host);
			return false;
		}
	} else if (!config_is_domain_name(host, &why)) {
		*why_out = xasprintf("\"%s\" is not a valid host name: it %s",
		    host, why);
		free(host);
		return false;
	} else if (resolve) {
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE;
		if ((gai = getaddrinfo(host, NULL, &hints, &res)) != 0) {
			*why_out = xasprintf("cannot resolve \"%s\": %s", host,
			    gai_strerror(gai));
			free(host);
			return false;
		}
		freeaddrinfo(res);
	}
	a->host = host;
	return true;
}

static void
listen_clear(struct listen_list *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].host);
		free(l->v[i].file);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static bool
read_listen(struct config_check *chk, const struct config_key *k,
    const config_setting_t *s, struct listen_list *out)
{
	struct listen_list	 l = { NULL, 0 };
	const config_setting_t	*e;
	const char		*str;
	char			*why;
	int			 i, n;
	bool			 ok = true;

	if (!is_aggregate_list(s)) {
		wrong_type(chk, k, s);
		return false;
	}
	n = config_setting_length(s);
	if (n > LISTEN_MAX) {
		config_check_bad(chk, k, s, "has %d addresses; at most %d are "
		    "allowed", n, LISTEN_MAX);
		return false;
	}
	l.v = xcalloc((size_t)n + 1, sizeof(*l.v));
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			config_check_bad(chk, k, e, "element %d: expected a "
			    "string such as \"*:25\", got %s", i + 1,
			    config_setting_kind(e));
			ok = false;
			continue;
		}
		str = config_setting_get_string(e);
		if (!parse_listen(str, &l.v[l.n],
		    !config_check_is_defaults(chk), &why)) {
			config_check_bad(chk, k, e, "\"%s\": %s", str, why);
			free(why);
			ok = false;
			continue;
		}
		if (!config_check_is_defaults(chk)) {
			l.v[l.n].line = config_setting_source_line(e);
			l.v[l.n].file = xstrdup(config_check_setting_file(chk,
			    e));
		}
		l.n++;
	}
	if (!ok) {
		listen_clear(&l);
		return false;
	}
	listen_clear(out);
	*out = l;
	return true;
}

/*
 * Reads setting s as the value of row k into cfg. On a problem, reports it
 * and leaves the field as it was. Returns whether the value was taken.
 */
bool
config_value_read(struct config_check *chk, const struct config_key *k,
    config_setting_t *s, struct config *cfg)
{
	void		*p = config_key_ptr(k, cfg);
	long long	 v;
	char		*str;

	switch (k->type) {
	case CONFIG_STRING:
	case CONFIG_PATH:
		if (!read_string(chk, k, s, &str))
			return false;
		free(*(char **)p);
		*(char **)p = str;
		return true;
	case CONFIG_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
			str = config_setting_type(s) == CONFIG_TYPE_STRING ?
			    (char *)config_setting_get_string(s) : NULL;
			config_check_bad(chk, k, s, "expected true or false, "
			    "got %s%s", config_setting_kind(s), str != NULL &&
			    (strcasecmp(str, "true") == 0 ||
			    strcasecmp(str, "false") == 0) ?
			    " (write it without quotes)" : "");
			return false;
		}
		*(bool *)p = config_setting_get_bool(s) != 0;
		return true;
	case CONFIG_INT:
	case CONFIG_DURATION:
		if (!read_number(chk, k, s, &v))
			return false;
		*(int *)p = (int)v;
		return true;
	case CONFIG_SIZE:
		if (!read_number(chk, k, s, &v))
			return false;
		*(long long *)p = v;
		return true;
	case CONFIG_ENUM:
		return read_enum(chk, k, s, p);
	case CONFIG_STRLIST:
		return read_strlist(chk, k, s, p);
	case CONFIG_LISTEN:
		return read_listen(chk, k, s, p);
	}
	return false;
}


void
config_value_free(const struct config_key *k, struct config *cfg)
{
	void	*p = config_key_ptr(k, cfg);

	switch (k->type) {
	case CONFIG_STRING:
	case CONFIG_PATH:
		xfree(p);
		break;
	case CONFIG_ENUM:
		if (k->flags & CONFIG_K_ENUM_STR)
			xfree(p);
		break;
	case CONFIG_STRLIST:
		strlist_clear(p);
		break;
	case CONFIG_LISTEN:
		listen_clear(p);
		break;
	default:
		break;
	}
}
