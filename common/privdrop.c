/*
 * Dropping privileges, for the network-facing workers (after the monitor
 * forked them, as root) and for the inetd-mode protocol child. Order
 * matters: groups before the uid (afterwards we could no longer change
 * them), chroot while still root, and a final check that setuid(0) fails.
 * And the root deliverers' temporary switch to a recipient's identity
 * while they write that recipient's maildrop (privdrop_become).
 */
#include "autoconf.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "privdrop.h"
#include "xmalloc.h"

int
privdrop_lookup(const char *user, const char *group, uid_t *uid_out,
    gid_t *gid_out, char *err, size_t errsz)
{
	struct passwd	*pw;
	struct group	*gr;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errsz, "user \"%s\" does not exist", user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errsz, "user \"%s\" is root; workers must run "
		    "as an unprivileged user", user);
		return -1;
	}
	*uid_out = pw->pw_uid;
	*gid_out = pw->pw_gid;
	if (group != NULL && *group != '\0') {
		if ((gr = getgrnam(group)) == NULL) {
			snprintf(err, errsz, "group \"%s\" does not exist",
			    group);
			return -1;
		}
		*gid_out = gr->gr_gid;
	}
	if (*gid_out == 0) {
		snprintf(err, errsz, "group of \"%s\" is root's group", user);
		return -1;
	}
	return 0;
}

void
privdrop(uid_t uid, gid_t gid, const char *chroot_dir)
{
	struct rlimit	rl = { 0, 0 };

	if (uid == 0 || gid == 0)
		fatalx("privdrop: refusing to run as uid %u gid %u",
		    (unsigned)uid, (unsigned)gid);
	if (setgroups(1, &gid) == -1)
		fatal("setgroups");
	if (chroot_dir != NULL && *chroot_dir != '\0') {
		if (chroot(chroot_dir) == -1)
			fatal("chroot %s", chroot_dir);
		if (chdir("/") == -1)
			fatal("chdir / in chroot");
	}
	if (setresgid(gid, gid, gid) == -1)
		fatal("setresgid %u", (unsigned)gid);
	if (setresuid(uid, uid, uid) == -1)
		fatal("setresuid %u", (unsigned)uid);
	if (setuid(0) != -1 || seteuid(0) != -1)
		fatalx("privdrop: root could be regained");
	if (getuid() != uid || geteuid() != uid || getgid() != gid ||
	    getegid() != gid)
		fatalx("privdrop: ids did not change");
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		fatal("setrlimit core");
	/* no core dumps, no ptrace by the same uid, no setuid execs */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("prctl dumpable");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("prctl no_new_privs");
}

/*
 * The deliverers' temporary switch (see privdrop.h). seteuid, not
 * setfsuid: moving only the file-system uid keeps root's effective
 * capabilities, and CAP_SYS_RESOURCE alone lets a write past a disk
 * quota and into the root reserve. An effective uid that is not 0 clears
 * the effective set, and the saved uid (still 0) lets it come back.
 */
int
privdrop_become(uid_t uid, gid_t gid, struct privdrop_saved *saved_out)
{
	int	n, saved;

	memset(saved_out, 0, sizeof(*saved_out));
	/* nothing to drop (root's own mailbox), or nothing to drop from */
	if (uid == 0 || geteuid() != 0)
		return 0;
	if ((n = getgroups(0, NULL)) == -1)
		return -1;
	saved_out->groups = xcalloc((size_t)n + 1, sizeof(gid_t));
	if ((n = getgroups(n, saved_out->groups)) == -1) {
		saved = errno;
		free(saved_out->groups);
		saved_out->groups = NULL;
		errno = saved;
		return -1;
	}
	saved_out->ngroups = n;
	saved_out->egid = getegid();
	saved_out->dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	saved_out->active = true;
	/* groups and gid first: once the uid is not 0 they cannot change */
	if (setgroups(1, &gid) == -1 || setegid(gid) == -1 ||
	    seteuid(uid) == -1) {
		saved = errno;
		privdrop_restore(saved_out);
		errno = saved;
		return -1;
	}
	if (geteuid() != uid || getegid() != gid) {
		privdrop_restore(saved_out);
		errno = EPERM;
		return -1;
	}
	return 0;
}

void
privdrop_restore(struct privdrop_saved *saved)
{
	if (!saved->active)
		return;
	/* a root deliverer that cannot be root again must not go on */
	if (seteuid(0) == -1 || geteuid() != 0)
		fatal("privdrop_restore: seteuid 0");
	if (setegid(saved->egid) == -1)
		fatal("privdrop_restore: setegid %u", (unsigned)saved->egid);
	if (setgroups((size_t)saved->ngroups, saved->groups) == -1)
		fatal("privdrop_restore: setgroups");
	/* changing the euid made the process undumpable: as it was */
	if (saved->dumpable > 0 &&
	    prctl(PR_SET_DUMPABLE, saved->dumpable, 0, 0, 0) == -1)
		log_warn("privdrop_restore: prctl dumpable");
	free(saved->groups);
	saved->groups = NULL;
	saved->active = false;
}
