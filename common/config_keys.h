/*
 * The table of every setting (config_keys.c) and what the loader
 * (config.c) and the documentation generator (config_doc.c) need to read
 * it. Nothing outside the config module should include this: the rest of
 * maild reads struct config.
 */
#ifndef MAILD_CONFIG_KEYS_H
#define MAILD_CONFIG_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include <libconfig.h>

#include "config.h"

enum config_type {
	CONFIG_STRING,		/* char * */
	CONFIG_PATH,		/* char *, absolute */
	CONFIG_BOOL,		/* bool */
	CONFIG_INT,		/* int */
	CONFIG_SIZE,		/* long long bytes; 123, "64k", "10M", "1G" */
	CONFIG_DURATION,	/* int seconds; 30, "30s", "5m", "1h", "5d" */
	CONFIG_ENUM,		/* int, or char * with CONFIG_K_ENUM_STR */
	CONFIG_STRLIST,		/* struct strlist */
	CONFIG_LISTEN,		/* struct listen_list */
};

/* One name of an enum setting and the value stored for it. */
struct config_enum {
	const char	*name;
	int		 value;
};

/* Row flags. */
#define CONFIG_K_EMPTY_OK	0x01	/* "" is allowed (means "none") */
#define CONFIG_K_ENUM_STR	0x02	/* enum stored as its name (char *) */
#define CONFIG_K_EXAMPLE	0x04	/* active in the example config */
#define CONFIG_K_LOWER		0x08	/* strings are stored in lower case */
#define CONFIG_K_TLS		0x10	/* implicit TLS: needs a certificate */

/* The loader's state, for validators to report through. */
struct config_check;
struct config_key;

/*
 * A validator runs after every setting has been read and checked on its
 * own, so it may look at other fields (cross-field checks live here).
 * It runs only when its own key was read without error; it reports
 * problems with config_check_error() and returns nothing.
 */
typedef void	 config_validate_fn(struct config_check *,
		    const struct config_key *, struct config *);
/*
 * Computes a default that is not a constant (the host name) into dst,
 * possibly from the other settings of ctx (local_domains from hostname).
 */
typedef void	 config_compute_fn(struct config *dst,
		    const struct config *ctx);

struct config_key {
	const char		*name;	/* dotted, as in the file */
	enum config_type	 type;
	/*
	 * The default in config-file syntax ("\"maild\"", "10M", "[ ]"),
	 * or NULL when compute supplies it; then def_doc says in words
	 * what it is and example is a value to show in the example config.
	 */
	const char		*def;
	long long		 min, max;	/* int, size, duration */
	const struct config_enum *enums;	/* NULL-terminated */
	config_validate_fn	*validate;
	size_t			 offset;	/* into struct config */
	unsigned		 flags;		/* CONFIG_K_* */
	const char		*help;		/* one line, a sentence */
	config_compute_fn	*compute;
	const char		*def_doc;
	const char		*example;
	/*
	 * For a default that configure chooses (paths, the user): the same
	 * text with @MAILD_...@ in place of the value, as the templates
	 * etc/maild.conf.in and doc/maild.conf.5.in show it; the build
	 * puts the real value back.
	 */
	const char		*def_template;
};

/* A group of settings ("smtp.pool") and its title for the docs. */
struct config_group {
	const char	*name;		/* "" for the top level */
	const char	*title;
};

extern const struct config_key		 config_keys[];
extern const size_t			 config_nkeys;
extern const struct config_group	 config_groups[];
extern const size_t			 config_ngroups;

/* The row named name, or NULL. */
const struct config_key	*config_key_find(const char *name);
/* The row named like k but with its last part replaced by leaf, or NULL. */
const struct config_key	*config_key_sibling(const struct config_key *k,
			    const char *leaf);
/* The group named name ("smtp.pool"), or NULL. */
const struct config_group *config_group_find(const char *name);
/* Where in cfg the value of k lives. */
void			*config_key_ptr(const struct config_key *k,
			    const struct config *cfg);
/*
 * Whether s is a syntactically valid host or domain name (RFC 1035 2.3.1,
 * RFC 1123 2.1); if not, *why_out says why, in words that follow "it".
 */
bool			 config_is_domain_name(const char *s,
			    const char **why_out);
/* A word for k's type, for messages and the docs: "number", "size". */
const char		*config_type_name(const struct config_key *k);

/*
 * Formats the value of k in cfg in config-file syntax into a new string
 * (the caller frees it): "\"maild\"", "10M", "5m", "[ \"*:25\" ]".
 */
char			*config_key_format(const struct config_key *k,
			    const struct config *cfg);
/* Formats a duration ("5m") or size ("10M") into buf. */
const char		*config_fmt_duration(long long secs, char *buf,
			    size_t bufsz);
const char		*config_fmt_size(long long bytes, char *buf,
			    size_t bufsz);

/*
 * For validators. config_check_error reports a problem with k at the
 * place it was set (FILE:LINE), or at the file alone when k has its
 * default; the reason is prefixed with k's name, and k no longer counts
 * as ok.
 */
void	 config_check_error(struct config_check *, const struct config_key *,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* As config_check_error, at the given place (an element of a list). */
void	 config_check_error_at(struct config_check *, const char *file,
	    int line, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
/* Whether k was set in the file (rather than left at its default). */
bool	 config_check_is_set(const struct config_check *,
	    const struct config_key *);
/*
 * Whether k was read without error and no problem has been reported
 * about it since (its value can be trusted).
 */
bool	 config_check_is_ok(const struct config_check *,
	    const struct config_key *);

/*
 * Between config.c (the loader) and config_value.c (one value by type).
 * config_value_read reads setting s as the value of k into cfg; on a
 * problem it reports it and leaves the field as it was, and returns
 * false. config_value_free frees k's value in cfg and zeroes it.
 */
bool		 config_value_read(struct config_check *,
		    const struct config_key *k, config_setting_t *s,
		    struct config *cfg);
void		 config_value_free(const struct config_key *k,
		    struct config *cfg);
/* What a setting is, in words: "a string", "a list", "a group". */
const char	*config_setting_kind(const config_setting_t *);
/* What k wants, in the same words: "a number", "true or false". */
const char	*config_key_wants(const struct config_key *k);
/* Reports a problem with k at setting s (or an element of it). */
void		 config_check_bad(struct config_check *,
		    const struct config_key *k, const config_setting_t *s,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The file s was read from. */
const char	*config_check_setting_file(const struct config_check *,
		    const config_setting_t *s);
/*
 * Line n (from 1) of a file that was read, without its newline, in a
 * buffer that lives until the next call; NULL if there is no such line.
 */
const char	*config_check_source_line(struct config_check *,
		    const char *file, int n);
/* Whether the built-in defaults are being read (nothing is resolved). */
bool		 config_check_is_defaults(const struct config_check *);

#endif
