/*
 * The relay engine's test driver (not installed): loads a maild.conf,
 * makes the engine as a relay worker would, and delivers a message file
 * (LF line ends, as the queue keeps bodies) to a next hop, printing one
 * line per recipient and one with the session's facts. tests/proto/
 * test_relay_engine.py runs it against a fake DNS and fake MX servers.
 *
 *	relay_probe -c CONF -m FILE -n NEXTHOP [-s SENDER] [-t LEVEL]
 *	    [-8] [-U] [-N] [-a USER:PASS] [-r REPEAT] [-w MS] [-e ENVID]
 *	    [-o OFFSET] [-C DIR] RCPT[;NOTIFY[;ORCPT]]...
 *
 * -C: after making the engine, chroot to DIR and become nobody (65534),
 * as a relay worker does (root only): delivering must open no file.
 *
 * Output, per delivery:
 *	rcpt ADDR CLASS CODE STATUS TEXT
 *	session host=H addr=A tls="T" site_fail=0|1 tls_failed=0|1 dsn=0|1
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "relay/relay.h"
#include "xmalloc.h"

static const char *const classes[] = { "sent", "defer", "bounce" };

static void
usage(void)
{
	fprintf(stderr, "usage: relay_probe -c conf -m file -n nexthop "
	    "[-s sender] [-t level] [-8] [-U] [-N] [-a user:pass] "
	    "[-r repeat] [-w ms] [-e envid] [-o offset] rcpt...\n");
	exit(2);
}

static enum relay_tls
level_of(const char *s)
{
	static const char *const names[] = { "none", "may", "encrypt",
	    "verify", "dane" };
	size_t	i;

	for (i = 0; i < NITEMS(names); i++)
		if (strcmp(s, names[i]) == 0)
			return (enum relay_tls)i;
	usage();
	return RELAY_TLS_NONE;
}

static unsigned
notify_of(const char *s)
{
	unsigned	bits = 0;

	if (strstr(s, "NEVER"))
		bits |= DSN_NOTIFY_NEVER;
	if (strstr(s, "SUCCESS"))
		bits |= DSN_NOTIFY_SUCCESS;
	if (strstr(s, "FAILURE"))
		bits |= DSN_NOTIFY_FAILURE;
	if (strstr(s, "DELAY"))
		bits |= DSN_NOTIFY_DELAY;
	return bits;
}

int
main(int argc, char **argv)
{
	struct config_errors	 errs = { NULL, 0 };
	struct config		*cfg;
	struct relay_engine	*e;
	struct relay_req	 req;
	struct relay_res	 res;
	struct relay_rcpt_req	*rr;
	struct stat		 st;
	struct timespec		 ts;
	const char		*conf = NULL, *file = NULL, *level = NULL;
	const char		*jail = NULL;
	char			 err[256], *auth = NULL, *p;
	long			 repeat = 1, wait_ms = 0, offset = 0;
	size_t			 i;
	int			 ch, fd;
	long			 k;

	memset(&req, 0, sizeof(req));
	req.sender = "sender@example.test";
	while ((ch = getopt(argc, argv, "c:m:n:s:t:8UNa:r:w:e:o:C:")) != -1) {
		switch (ch) {
		case 'c': conf = optarg; break;
		case 'm': file = optarg; break;
		case 'n': req.nexthop = optarg; break;
		case 's': req.sender = optarg; break;
		case 't': level = optarg; break;
		case '8': req.flags |= RELAY_F_8BIT; break;
		case 'U': req.flags |= RELAY_F_UTF8; break;
		case 'N': req.no_starttls = true; break;
		case 'a': auth = optarg; break;
		case 'r': repeat = strtol(optarg, NULL, 10); break;
		case 'w': wait_ms = strtol(optarg, NULL, 10); break;
		case 'e': req.envid = optarg; break;
		case 'o': offset = strtol(optarg, NULL, 10); break;
		case 'C': jail = optarg; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (conf == NULL || file == NULL || req.nexthop == NULL || argc < 1 ||
	    repeat < 1 || repeat > 1000 || wait_ms < 0 || offset < 0)
		usage();
	log_init("relay_probe", LOG_MAIL, true);
	signal(SIGPIPE, SIG_IGN);
	if ((cfg = config_load(conf, &errs)) == NULL) {
		config_errors_print(stderr, &errs);
		return 1;
	}
	req.tls = level != NULL ? level_of(level) :
	    (enum relay_tls)cfg->relay.tls_security_level;
	if (auth != NULL) {
		if ((p = strchr(auth, ':')) == NULL)
			usage();
		*p = '\0';
		req.auth_user = auth;
		req.auth_pass = p + 1;
	}
	if ((fd = open(file, O_RDONLY)) == -1 || fstat(fd, &st) == -1) {
		perror(file);
		return 1;
	}
	req.fd = fd;
	req.body_off = offset;
	req.body_len = st.st_size - offset;
	snprintf(req.qid, sizeof(req.qid), "PROBE");
	rr = xcalloc((size_t)argc, sizeof(*rr));
	for (k = 0; k < argc; k++) {
		rr[k].idx = (unsigned)k;
		rr[k].addr = argv[k];
		if ((p = strchr(argv[k], ';')) != NULL) {
			*p++ = '\0';
			rr[k].notify = notify_of(p);
			if ((p = strchr(p, ';')) != NULL)
				rr[k].orcpt = p + 1;
		}
	}
	req.rcpts = rr;
	req.nrcpts = (size_t)argc;
	if ((e = relay_engine_new(cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "relay_engine_new: %s\n", err);
		return 1;
	}
	if (jail != NULL && (chroot(jail) == -1 || chdir("/") == -1 ||
	    setgroups(0, NULL) == -1 || setgid(65534) == -1 ||
	    setuid(65534) == -1)) {
		perror(jail);
		return 1;
	}
	res.rcpts = xcalloc(req.nrcpts, sizeof(*res.rcpts));
	for (k = 0; k < repeat; k++) {
		if (k > 0 && wait_ms > 0) {
			ts.tv_sec = wait_ms / 1000;
			ts.tv_nsec = (wait_ms % 1000) * 1000000;
			nanosleep(&ts, NULL);
			relay_engine_idle(e);
		}
		relay_deliver(e, &req, &res);
		for (i = 0; i < res.nrcpts; i++)
			printf("rcpt %s %s %d %s %s\n", rr[i].addr,
			    classes[res.rcpts[i].cls], res.rcpts[i].code,
			    res.rcpts[i].why.status, res.rcpts[i].why.text);
		printf("session host=%s addr=%s tls=\"%s\" site_fail=%d "
		    "tls_failed=%d dsn=%d\n", res.mx_host[0] ? res.mx_host :
		    "-", res.mx_addr[0] ? res.mx_addr : "-", res.tls_info,
		    res.site_fail, res.tls_failed, res.remote_dsn);
		fflush(stdout);
	}
	relay_engine_free(e);
	free(res.rcpts);
	free(rr);
	close(fd);
	config_free(&cfg);
	return 0;
}
