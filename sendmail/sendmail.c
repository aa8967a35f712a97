/*
 * sendmail(1): the Sendmail-compatible command that local programs (cron,
 * mail(1), scripts, PHP's mail()) run to send mail. It runs as whoever
 * calls it, with no setuid or setgid bit, and grants nothing: it speaks
 * SMTP to the running maild over the local submission socket
 * (submit.socket), where the monitor asks the kernel who the caller is
 * (SO_PEERCRED) and the unprivileged smtpd worker reads the message
 * (priv/priv_local.c). It exits 0 only after maild answered 250, i.e.
 * after the message was written and fsync'ed into the queue.
 *
 * Also: -bs (SMTP on stdin/stdout, relayed to the socket), -bp and the
 * name mailq (the queue listing: maild queue list), -q (maild -q), -bi
 * and the name newaliases (a notice: maild reads the aliases file
 * itself). Options of other Sendmails that mean nothing here are
 * accepted and ignored, as Postfix's sendmail does. Exit codes are
 * sysexits(3)'s.
 */
#include "autoconf.h"

#include <errno.h>
#include <getopt.h>
#include <libconfig.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "bounds.h"
#include "sendmail.h"

#define SM_CONF_PATH		MAILD_CONF_PATH
#define SM_SOCKET_DEFAULT	MAILD_RUN_DIR "/maild.submit"
#define SM_MAILD_PATH		MAILD_SBIN_DIR "/maild"

static const char	*progname = "sendmail";

static void
die(int code, const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

void
sm_warn(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: sendmail [-t] [-i | -oi] [-f sender] [-F name] [-C file] "
	    "[-v] [recipient ...]\n"
	    "       sendmail -bs | -bp | -bi | -q   (mailq, newaliases)\n");
	exit(EX_USAGE);
}

/*
 * The few settings sendmail needs, read straight from maild.conf: a
 * full config_load() would also check files only root may read (the
 * TLS key), and any user may run sendmail.
 */
static void
load_settings(struct sm_settings *st, const char *path)
{
	config_t	 c;
	const char	*v;

	snprintf(st->socket, sizeof(st->socket), "%s", SM_SOCKET_DEFAULT);
	snprintf(st->queue_dir, sizeof(st->queue_dir), "%s", MAILD_QUEUE_DIR);
	snprintf(st->pid_file, sizeof(st->pid_file), "%s",
	    MAILD_RUN_DIR "/maild.pid");
	st->hostname[0] = '\0';
	config_init(&c);
	if (config_read_file(&c, path) == CONFIG_FALSE) {
		if (config_error_type(&c) == CONFIG_ERR_FILE_IO) {
			if (errno != ENOENT)
				sm_warn("%s: %s (using the defaults)", path,
				    strerror(errno));
		} else
			die(EX_CONFIG, "%s:%d: %s", path,
			    config_error_line(&c), config_error_text(&c));
	} else {
		if (config_lookup_string(&c, "submit.socket", &v) ==
		    CONFIG_TRUE)
			snprintf(st->socket, sizeof(st->socket), "%s", v);
		if (config_lookup_string(&c, "hostname", &v) == CONFIG_TRUE)
			snprintf(st->hostname, sizeof(st->hostname), "%s", v);
		if (config_lookup_string(&c, "queue_dir", &v) == CONFIG_TRUE)
			snprintf(st->queue_dir, sizeof(st->queue_dir), "%s", v);
		if (config_lookup_string(&c, "pid_file", &v) == CONFIG_TRUE)
			snprintf(st->pid_file, sizeof(st->pid_file), "%s", v);
	}
	config_destroy(&c);
	if (st->hostname[0] == '\0' &&
	    gethostname(st->hostname, sizeof(st->hostname) - 1) == -1)
		snprintf(st->hostname, sizeof(st->hostname), "localhost");
	st->hostname[sizeof(st->hostname) - 1] = '\0';
}

/*
 * -bi, newaliases: maild has no aliases database to rebuild; it reads
 * the aliases file itself, at start and on SIGHUP. So this sends the
 * running maild a SIGHUP when the caller may (root), and says so.
 */
static int
newaliases(const struct sm_settings *st)
{
	FILE	*fp;
	long	 pid = 0;

	printf("%s: maild reads the aliases file itself, at start and when "
	    "it gets SIGHUP (maild -t names the file); there is no database "
	    "to rebuild.\n", progname);
	if ((fp = fopen(st->pid_file, "r")) == NULL)
		return 0;
	if (fscanf(fp, "%ld", &pid) != 1 || pid <= 1)
		pid = 0;
	fclose(fp);
	if (pid == 0)
		return 0;
	if (kill((pid_t)pid, SIGHUP) == -1) {
		if (errno != EPERM && errno != ESRCH)
			sm_warn("kill %ld: %s", pid, strerror(errno));
		if (errno == EPERM)
			printf("%s: only root may make maild (pid %ld) re-read "
			    "it now\n", progname, pid);
		return 0;
	}
	printf("%s: maild (pid %ld) told to re-read it (SIGHUP)\n", progname,
	    pid);
	return 0;
}

/* Runs maild with the same config: the queue listing, a queue run. */
static int
run_maild(const char *conf, const char *const *args)
{
	const char	*argv[8];
	const char	*maild = getenv("MAILD_PROGRAM");
	size_t		 n = 0;

	if (maild == NULL || *maild == '\0')
		maild = SM_MAILD_PATH;
	argv[n++] = "maild";
	argv[n++] = "-c";
	argv[n++] = conf;
	while (*args != NULL && n < sizeof(argv) / sizeof(argv[0]) - 1)
		argv[n++] = *args++;
	argv[n] = NULL;
	fflush(NULL);
	execv(maild, (char *const *)argv);
	die(errno == ENOENT ? EX_UNAVAILABLE : EX_OSERR, "cannot run %s: %s",
	    maild, strerror(errno));
	return EX_OSERR;
}

int
main(int argc, char **argv)
{
	struct sm_settings	 st;
	struct sm_message	 msg;
	struct sm_submit	 sub;
	const char		*conf = SM_CONF_PATH, *base, *mode = "m";
	struct passwd		*pw;
	int			 ch, i, rc;

	base = strrchr(argv[0], '/');
	base = base != NULL ? base + 1 : argv[0];
	if (strcmp(base, "mailq") == 0)
		mode = "p";
	else if (strcmp(base, "newaliases") == 0)
		mode = "i";
	progname = base;
	(void)signal(SIGPIPE, SIG_IGN);
	memset(&sub, 0, sizeof(sub));
	/*
	 * Postfix's option letters; those that mean nothing here (-B, -N,
	 * -R, -V, -L, -X, -h, -m, -e..., -G, -U, -o...) are ignored.
	 */
	while ((ch = getopt(argc, argv,
	    "B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:q::r:tvx")) != -1) {
		switch (ch) {
		case 'b':
			if (strcmp(optarg, "m") != 0 && strcmp(optarg, "s") !=
			    0 && strcmp(optarg, "p") != 0 &&
			    strcmp(optarg, "i") != 0 && strcmp(optarg, "d") !=
			    0 && strcmp(optarg, "D") != 0 && strcmp(optarg,
			    "v") != 0 && strcmp(optarg, "l") != 0)
				die(EX_USAGE, "-b%s: unsupported mode", optarg);
			mode = optarg;
			break;
		case 'C':
			conf = optarg;
			break;
		case 'F':
			sub.fullname = optarg;
			break;
		case 'f':
		case 'r':
			sub.sender = optarg;
			break;
		case 'i':
			sub.dot_is_data = true;
			break;
		case 'o':
			/* -oi: dots; -oXXX (other): ignored */
			if (strcmp(optarg, "i") == 0)
				sub.dot_is_data = true;
			break;
		case 'q':
			mode = "q";
			break;
		case 'I':
			mode = "i";	/* Postfix: -I is newaliases */
			break;
		case 't':
			sub.extract = true;
			break;
		case 'v':
			sub.verbose = true;
			break;
		case 'B': case 'G': case 'L': case 'N': case 'O':
		case 'R': case 'U': case 'V': case 'X': case 'c': case 'e':
		case 'h': case 'm': case 'n': case 'p': case 'x':
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	load_settings(&st, conf);
	sub.sender_domain = st.hostname;

	if (strcmp(mode, "p") == 0) {
		const char *args[] = { "queue", "list", NULL };

		return run_maild(conf, args);
	}
	if (strcmp(mode, "q") == 0) {
		const char *args[] = { "-q", NULL };

		return run_maild(conf, args);
	}
	if (strcmp(mode, "i") == 0)
		return newaliases(&st);
	if (strcmp(mode, "s") == 0)
		return sm_relay_smtp(&st);
	if (strcmp(mode, "m") != 0)
		die(EX_USAGE, "-b%s: not supported", mode);

	errno = 0;
	if ((pw = getpwuid(getuid())) == NULL)
		die(EX_NOUSER, "who are you? uid %lu has no user name",
		    (unsigned long)getuid());
	snprintf(sub.user, sizeof(sub.user), "%s", pw->pw_name);
	if (sub.fullname != NULL && strlen(sub.fullname) > FULLNAME_MAX)
		die(EX_USAGE, "-F: full name longer than %d characters",
		    FULLNAME_MAX);
	for (i = 0; i < argc; i++)
		if (sm_rcpt_add(&sub, argv[i]) == -1)
			die(EX_USAGE, "bad recipient address: %s", argv[i]);
	if (sm_message_read(stdin, &sub, &msg) == -1)
		return EX_IOERR;
	if (sub.nrcpts == 0)
		die(EX_USAGE, "no recipients: give them as arguments, or use "
		    "-t to take them from To:, Cc: and Bcc:");
	rc = sm_submit(&st, &sub, &msg, NULL);
	if (rc != SM_UNREACHABLE)
		return rc;
	/* maild is not running: the runner picks it up when it starts */
	if (sub.verbose)
		sm_warn("leaving the mail in %s/maildrop", st.queue_dir);
	return sm_maildrop_write(st.queue_dir, &sub, &msg);
}
