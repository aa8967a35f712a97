/*
 * The one place that changes user and group ids. Called in every process
 * that will read bytes from the network, before it does so.
 */
#ifndef MAILD_PRIVDROP_H
#define MAILD_PRIVDROP_H

#include <sys/types.h>

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

#endif
