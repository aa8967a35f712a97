/*
 * smtpd: the SMTP server for inetd (smtpd -i). Standalone, the maild
 * master runs the same session code in its pool; this program exists for
 * inetd, xinetd and systemd socket activation with Accept=yes.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "priv/priv_inetd.h"
#include "pool_worker.h"
#include "smtp_session.h"

int
main(int argc, char *argv[])
{
	const char	*path = MAILD_CONF_PATH;
	int		 ch, inetd = 0, verbose = 0, role = ROLE_SMTP;

	while ((ch = getopt(argc, argv, "c:dir:v")) != -1) {
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
		case 'r':
			if (strcmp(optarg, "smtp") == 0)
				role = ROLE_SMTP;
			else if (strcmp(optarg, "submission") == 0)
				role = ROLE_SUBMISSION;
			else if (strcmp(optarg, "smtps") == 0)
				role = ROLE_SMTPS;
			else
				goto usage;
			break;
		default:
			goto usage;
		}
	}
	if (!inetd || optind != argc)
		goto usage;
	return inetd_main(PRIV_PROTO_SMTP, role, "smtpd", path, verbose,
	    smtp_session_inetd);
usage:
	fprintf(stderr, "usage: smtpd -i [-d] [-c file] [-r smtp|submission|smtps]\n"
	    "smtpd serves one SMTP session on stdin/stdout for inetd; "
	    "standalone, run maild.\n");
	return 2;
}
