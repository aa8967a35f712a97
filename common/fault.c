/*
 * Test fault points (see fault.h). The specification is read from the
 * environment once per process; a hit counter per named point is kept so
 * that "the third append" can be killed.
 */
#include "autoconf.h"

#ifdef MAILD_FAULT_INJECTION

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "log.h"

#define FAULT_MAX	8

struct fault {
	char	name[64];
	char	action[16];
	long	nth;
	long	hits;
};

static struct fault	faults[FAULT_MAX];
static int		nfaults = -1;

static void
fault_parse(void)
{
	const char	*env = getenv("MAILD_FAULT");
	char		 buf[1024], *spec, *save = NULL, *a, *n;

	nfaults = 0;
	if (env == NULL || strlen(env) >= sizeof(buf))
		return;
	strcpy(buf, env);
	for (spec = strtok_r(buf, ",", &save); spec != NULL && nfaults <
	    FAULT_MAX; spec = strtok_r(NULL, ",", &save)) {
		struct fault *f = &faults[nfaults];

		if ((a = strchr(spec, ':')) == NULL)
			continue;
		*a++ = '\0';
		f->nth = 1;
		if ((n = strchr(a, ':')) != NULL) {
			*n++ = '\0';
			f->nth = strtol(n, NULL, 10);
		}
		if (strlen(spec) >= sizeof(f->name) ||
		    strlen(a) >= sizeof(f->action))
			continue;
		strcpy(f->name, spec);
		strcpy(f->action, a);
		nfaults++;
	}
}

/*
 * With MAILD_FAULT_ONCE=path, a fault fires only in the first process
 * that reaches it: that one creates the file, later ones find it. A
 * restarted process then runs on, as after a real crash.
 */
static bool
fault_stamp(void)
{
	const char	*path = getenv("MAILD_FAULT_ONCE");
	int		 fd;

	if (path == NULL)
		return true;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1)
		return false;
	close(fd);
	return true;
}

int
fault_point(const char *name)
{
	int	i;

	if (nfaults == -1)
		fault_parse();
	for (i = 0; i < nfaults; i++) {
		struct fault *f = &faults[i];

		if (strcmp(f->name, name) != 0 ||
		    (++f->hits != f->nth && f->nth != 0))
			continue;
		if (!fault_stamp())
			continue;
		log_info("fault point %s: %s", name, f->action);
		if (strcmp(f->action, "kill") == 0) {
			kill(getpid(), SIGKILL);
			_exit(99);
		}
		if (strcmp(f->action, "exit") == 0)
			_exit(3);
		if (strcmp(f->action, "log") == 0)
			return 0;	/* the log line is the point */
		if (strcmp(f->action, "stop") == 0) {
			/* frozen mid-step until the test sends SIGCONT */
			(void)raise(SIGSTOP);
			return 0;
		}
		if (strcmp(f->action, "enospc") == 0) {
			errno = ENOSPC;
			return -1;
		}
		if (strcmp(f->action, "edquot") == 0) {
			errno = EDQUOT;
			return -1;
		}
		errno = EIO;
		return -1;
	}
	return 0;
}

#endif
