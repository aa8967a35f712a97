/*
 * The aliases file (/etc/aliases, as sendmail and Postfix read it):
 *
 *	# comment
 *	postmaster: root
 *	root:       alice, \bob, ops@example.org,
 *	            "|/usr/local/bin/ticket --queue ops",
 *	            /var/log/root.mail, :include:/etc/mail/staff
 *	"help desk": alice
 *
 * An entry is "name: target, target, ...". A line starting with a space
 * or tab continues the entry before it; blank lines and lines whose
 * first non-blank character is "#" are ignored anywhere. Names are
 * compared without regard to ASCII case. A name or a target may be
 * quoted ("..." with \" and \\ inside), which lets it hold spaces,
 * commas and colons. Targets:
 *	user		a local user, or another alias (expanded)
 *	\user		a local user, never expanded as an alias
 *	local@domain	an address (ALIAS_REMOTE; the caller decides
 *			whether the domain is one of ours)
 *	/path		append to a file (ALIAS_FILE)
 *	|command	pipe to a program (ALIAS_PROGRAM)
 *	:include:/path	the targets listed in that file, one or more a
 *			line, commas optional at line ends, "#" comments
 *
 * Loading reads the file; expanding reads :include: files. Nothing here
 * resolves users (the privileged side does that through NSS) or
 * delivers anything.
 */
#ifndef MAILD_ALIASES_H
#define MAILD_ALIASES_H

#include <stddef.h>

#include "config.h"
#include "reason.h"

struct aliases;

enum alias_kind {
	ALIAS_LOCAL,		/* a local user name, as written */
	ALIAS_REMOTE,		/* an address, "local@domain" (addr_format) */
	ALIAS_FILE,		/* an absolute path */
	ALIAS_PROGRAM,		/* a command line, without the "|" */
};

/* aliases_expand() allow flags. */
#define ALIAS_ALLOW_FILE	0x01
#define ALIAS_ALLOW_PROGRAM	0x02
#define ALIAS_ALLOW_INCLUDE	0x04

/*
 * Reads and parses the aliases file at path. Every problem found is
 * appended to errs as FILE:LINE: reason (free it with
 * config_errors_free()); the entries without problems are kept (the
 * first of two entries with the same name wins), so the caller decides
 * whether any error is fatal. Returns NULL only when the file cannot
 * be read (the error is in errs too, with line 0).
 */
struct aliases	*aliases_load(const char *path, struct config_errors *errs);

/* The same from text in memory; name is used in the error messages. */
struct aliases	*aliases_parse(const char *text, size_t len,
		    const char *name, struct config_errors *errs);

void		 aliases_free(struct aliases **);

/* The number of entries loaded. */
size_t		 aliases_count(const struct aliases *);

/*
 * Receives one final target of an expansion. Returns 0, or -1 with r
 * filled to stop the expansion (aliases_expand() then returns -1).
 */
typedef int aliases_cb(void *arg, enum alias_kind kind, const char *target,
    struct reason *r);

/*
 * Expands local (a local part, any case) through the aliases, all the
 * way down: aliases to aliases (at most ALIAS_DEPTH_MAX levels) and
 * :include: files. A name met again while it is being expanded (root:
 * root, admin; or a: b, b: a) is the local user of that name, as in
 * sendmail. Each final target is reported once (duplicates dropped),
 * at most ALIAS_TARGETS_MAX of them, and only when the whole expansion
 * succeeded: cb is not called at all on failure.
 * Returns 1 expanded (cb called per target), 0 local is not an alias,
 * or -1 with r:
 *	5.3.5 "alias target not allowed" (FILE, PROGRAM or :include:
 *	      without its ALIAS_ALLOW_* flag)
 *	5.4.6 expansion deeper than ALIAS_DEPTH_MAX
 *	5.5.3 more than ALIAS_TARGETS_MAX targets
 *	4.3.0 an :include: file cannot be read or has a bad line
 *	or what cb put there.
 */
int		 aliases_expand(const struct aliases *, const char *local,
		    unsigned allow, aliases_cb *cb, void *arg,
		    struct reason *r);

#endif
