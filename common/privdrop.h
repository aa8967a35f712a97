/*
 * The one place that changes user and group ids. privdrop() is called in
 * every process that will read bytes from the network, before it does
 * so; privdrop_become()/privdrop_restore() by the root deliverers around
 * the writes to one user's maildrop.
 */
#ifndef MAILD_PRIVDROP_H
#define MAILD_PRIVDROP_H

#include <sys/types.h>

#include <stdbool.h>

/*
 * Looks up user (and group, or the user's primary group when group is
 * NULL or empty). Returns 0, or -1 with a message in err (size errsz)
 * when either does not exist or the user is root.
 */
int	privdrop_lookup(const char *user, const char *group, uid_t *uid_out,
	    gid_t *gid_out, char *err, size_t errsz);

/*
 * Becomes uid/gid for good: no supplementary groups, chroot to dir when
 * dir is non-empty, setresgid, setresuid, no core dumps, no new
 * privileges; then checks that root cannot be regained. Any failure is
 * fatal: a worker that could not drop privileges must not serve.
 */
void	privdrop(uid_t uid, gid_t gid, const char *chroot_dir);

/* What privdrop_become() changed, for privdrop_restore(). */
struct privdrop_saved {
	bool	 active;	/* ids were changed */
	gid_t	*groups;	/* the supplementary groups before */
	int	 ngroups;
	gid_t	 egid;
	int	 dumpable;	/* PR_GET_DUMPABLE before */
};

/*
 * Takes uid as effective uid, gid as effective gid and only group, for a
 * while: the kernel then holds what the process writes to the disk
 * quotas and keeps it out of the file system's root reserve, which
 * root's capabilities would pass (the effective capabilities are gone
 * until privdrop_restore). Descriptors already open stay usable;
 * nothing should be opened by path meanwhile. Does nothing (and
 * succeeds) when uid is 0 or the process is not root. Returns 0, or -1
 * with errno and the ids unchanged.
 */
int	privdrop_become(uid_t uid, gid_t gid, struct privdrop_saved *saved_out);
/*
 * Undoes privdrop_become() (a no-op when it changed nothing). Failing to
 * become root again is fatal: the deliverer cannot go on.
 */
void	privdrop_restore(struct privdrop_saved *saved);

#endif
