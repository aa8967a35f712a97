/*
 * A user's mbox maildrop, SPOOL_DIR/USER, as the root processes reach it
 * (maildrop.c): which user names may name a maildrop, who the user is,
 * and opening, checking and locking the file. One rule for local delivery
 * (queue/deliver_local.c), recipient lookup (queue/resolve.c) and the
 * POP3 monitor (priv/priv_maildrop.c), so that a user who can log in
 * can be delivered to, and the other way round.
 */
#ifndef MAILD_MAILDROP_H
#define MAILD_MAILDROP_H

#include <sys/types.h>

#include <limits.h>
#include <stdbool.h>

#include "bounds.h"
#include "config.h"
#include "reason.h"

/* Who owns a maildrop, as the passwd and group databases say. */
struct maildrop_user {
	char	name[USER_NAME_MAX + 1];	/* the database's spelling */
	uid_t	uid;
	gid_t	gid;		/* the user's own group */
	gid_t	mail_gid;	/* the group of a new maildrop (mail_group) */
};

/* An open, locked maildrop. */
struct maildrop {
	char			path[PATH_MAX];
	int			fd;		/* -1: not open */
	bool			dotlocked;
	struct maildrop_user	user;
};

enum maildrop_result {
	MAILDROP_OK,		/* open and locked */
	MAILDROP_BUSY,		/* another process holds a lock (4.2.0) */
	MAILDROP_TEMPFAIL,	/* try again later; r says why */
	MAILDROP_NOUSER,	/* no such user, for good (5.1.1) */
};

/* maildrop_open() flags */
#define MAILDROP_CREATE	0x01	/* a missing maildrop is made, empty */

/*
 * Whether a user name may name a maildrop: 1 to USER_NAME_MAX letters,
 * digits and "._-@" (the names NSS, LDAP and SSSD give out, such as
 * alice@example.org), not starting with ".", "-" or "@" (the spool's
 * own files start with a dot; "@" alone is a queue file's mark of a
 * remote recipient), not ending in ".lock" (SPOOL/x.lock is user x's
 * dotlock).
 */
bool	maildrop_name_ok(const char *name);

/*
 * Looks a user up: 1 with *out filled (the database's own spelling of
 * the name, which is what every maildrop path uses), 0 when there is no
 * such user or the name cannot name a maildrop (r: 5.1.1), -1 when the
 * database could not answer (r: 4.3.0).
 */
int	maildrop_user(const struct config *cfg, const char *name,
	    struct maildrop_user *out, struct reason *r);

/*
 * Opens and locks user's maildrop: the file is checked (mbox_open: a
 * regular file with one link, owned by the user, no symlink), the
 * dotlock is taken when configured, then the fcntl lock, each waiting at
 * most wait_ms; a maildrop replaced meanwhile (a POP3 update) is opened
 * again. Returns MAILDROP_OK with md open, or another result with r and
 * md closed. The user name is looked up first (maildrop_user()).
 */
enum maildrop_result maildrop_open(const struct config *cfg,
	    const char *user, int flags, int wait_ms, struct maildrop *md,
	    struct reason *r);

/* Unlocks and closes md (no-op when it is not open). */
void	maildrop_close(struct maildrop *md);

#endif
