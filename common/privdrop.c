/*
 * Dropping privileges, for the network-facing workers (after the monitor
 * forked them, as root) and for the inetd-mode protocol child. Order
 * matters: groups before the uid (afterwards we could no longer change
 * them), chroot while still root, and a final check that setuid(0) fails.
 */
#include "autoconf.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "privdrop.h"

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
