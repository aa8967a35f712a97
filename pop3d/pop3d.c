/*
 * pop3d: the POP3 server for inetd (pop3d -i; pop3d -i -s for pop3s,
 * where TLS starts at once). Standalone, the maild master runs the same
 * session code in its pool; this program exists for inetd, xinetd and
 * systemd socket activation with Accept=yes.
 */
#include "autoconf.h"

#include <stdio.h>
#include <unistd.h>

#include "priv/priv_inetd.h"
#include "pool_worker.h"
#include "pop3_session.h"

int
main(int argc, char *argv[])
{
	const char	*path = MAILD_CONF_PATH;
	int		 ch, inetd = 0, pop3s = 0, verbose = 0;

	while ((ch = getopt(argc, argv, "c:disv")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
		case 'v':
			verbose = 1;
			break;
		case 'i':
			inetd = 1;
			break;
		case 's':
			pop3s = 1;
			break;
		default:
			goto usage;
		}
	}
	if (!inetd || optind != argc)
		goto usage;
	return inetd_main(PRIV_PROTO_POP3, pop3s ? ROLE_POP3S : ROLE_POP3,
	    "pop3d", path, verbose, pop3_session_inetd);
usage:
	fprintf(stderr, "usage: pop3d -i [-ds] [-c file]\n"
	    "pop3d serves one POP3 session on stdin/stdout for inetd; "
	    "standalone, run maild.\n");
	return 2;
}
