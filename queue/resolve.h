/*
 * Recipient resolution: from an address to the local users (or remote
 * addresses) that get the message. Runs on the privileged side (the
 * SMTP monitor at RCPT time, the queue runner for bounces), since it
 * reads the aliases and asks NSS.
 */
#ifndef MAILD_RESOLVE_H
#define MAILD_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"
#include "aliases.h"
#include "config.h"
#include "reason.h"

/*
 * One final target, with the recipient that brought it in: a single
 * record, so that what an envelope lists per target cannot get out of
 * step with the targets themselves.
 */
struct resolved {
	char	*user;		/* a local user, or QRCPT_REMOTE ("@") */
	char	*addr;		/* remote: the address to relay to; else "" */
	char	*rcpt;		/* the recipient resolved (addr_format) */
};

struct resolve_list {
	struct resolved	*v;
	size_t		 n;
};

/*
 * Resolves rcpt. A local domain (or <Postmaster> without one): the local
 * part, in lower case, through the aliases (al may be NULL), then NSS;
 * when neither knows it and it holds a recipient_delimiter, the part
 * before the delimiter the same way (user+detail reaches user). Alias
 * file and program targets, when the configuration allows them, become
 * targets whose user is "/path" or "|command" (delivered as alias_user);

 * postmaster with no alias and no such user goes to root. Another
 * domain is a remote recipient, allowed only when relay_ok (the client
 * authenticated). Appends the targets not already in out, each with
 * rcpt as its recipient; all of them or, on failure, none: an alias whose
 * third member is refused leaves out exactly as it was.
 * Returns 0, or -1 with *code_out (550, 554, 451, ...) and r.
 */
int	resolve_rcpt(const struct config *cfg, const struct aliases *al,
	    const struct mailaddr *rcpt, bool relay_ok,
	    struct resolve_list *out, int *code_out, struct reason *r);

/*
 * Whether an authenticated user may use sender as the envelope sender
 * under authenticated_sender = "own": the null sender, or an address in a
 * local domain whose local part is the user or resolves to the user.
 */
bool	resolve_sender_owned(const struct config *cfg,
	    const struct aliases *al, const struct mailaddr *sender,
	    const char *user);

/*
 * Where the configured recipient_delimiter cuts the local part name into
 * user and extension: the offset of the first delimiter character, or 0
 * when there is none (or no delimiter is configured, or name starts with
 * one).
 */
size_t	resolve_delimiter_at(const struct config *cfg, const char *name);

/* Frees every record and leaves l empty ({ NULL, 0 }). */
void	resolve_list_free(struct resolve_list *l);

#endif
