/*
 * A case-insensitive user database for the black-box tests, loaded by
 * nss_wrapper (NSS_WRAPPER_MODULE_SO_PATH, prefix "casefold") behind its
 * files backend: getpwnam("Alice") finds passwd's "alice" entry and
 * answers with pw_name "alice", as LDAP or winbind often do. Reads the
 * file named by NSS_WRAPPER_PASSWD. The test builds it with the C compiler
 * (CC, else cc) into its sandbox; see test_pop3.py.
 */
#include <errno.h>
#include <nss.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum nss_status
_nss_casefold_getpwnam_r(const char *name, struct passwd *pw, char *buf,
    size_t buflen, int *errnop)
{
	const char	*path = getenv("NSS_WRAPPER_PASSWD");
	struct passwd	*e;
	FILE		*f;
	size_t		 need;
	char		*p;

	if (path == NULL || (f = fopen(path, "re")) == NULL)
		return NSS_STATUS_UNAVAIL;
	while ((e = fgetpwent(f)) != NULL) {
		if (strcasecmp(e->pw_name, name) != 0)
			continue;
		need = strlen(e->pw_name) + strlen(e->pw_passwd) +
		    strlen(e->pw_gecos) + strlen(e->pw_dir) +
		    strlen(e->pw_shell) + 5;
		if (need > buflen) {
			fclose(f);
			*errnop = ERANGE;
			return NSS_STATUS_TRYAGAIN;
		}
		p = buf;
		*pw = *e;
#define PUT(field) do { pw->field = p; p = stpcpy(p, e->field) + 1; } while (0)
		PUT(pw_name);
		PUT(pw_passwd);
		PUT(pw_gecos);
		PUT(pw_dir);
		PUT(pw_shell);
#undef PUT
		fclose(f);
		return NSS_STATUS_SUCCESS;
	}
	fclose(f);
	return NSS_STATUS_NOTFOUND;
}
