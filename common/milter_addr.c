/*
 * Milter addresses, for the smtpd worker (unprivileged) and the
 * configuration check: see milter_addr.h.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "milter_addr.h"

/*
 * "inet:HOST:PORT", "inet:[HOST]:PORT", "inet:PORT@HOST", "inet6:..."
 * (numeric hosts: the chroot has no resolver), "unix:PATH", "local:PATH".
 */
int
milter_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *sl,
    const char **why)
{
	char			 host[MILTER_ADDR_MAX + 1], *p, *port;
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_un	*sun = (struct sockaddr_un *)ss;
	const char		*rest;
	char			*end;
	long			 pn;

	memset(ss, 0, sizeof(*ss));
	if (strlen(s) > MILTER_ADDR_MAX) {
		*why = "too long";
		return -1;
	}
	if (strncmp(s, "unix:", 5) == 0 || strncmp(s, "local:", 6) == 0) {
		rest = strchr(s, ':') + 1;
		if (rest[0] != '/' || strlen(rest) >= sizeof(sun->sun_path)) {
			*why = "needs an absolute path that fits a socket "
			    "address";
			return -1;
		}
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, rest, strlen(rest) + 1);
		*sl = sizeof(*sun);
		return 0;
	}
	if (strncmp(s, "inet:", 5) == 0)
		rest = s + 5;
	else if (strncmp(s, "inet6:", 6) == 0)
		rest = s + 6;
	else {
		*why = "must start with inet:, inet6: or unix:";
		return -1;
	}
	snprintf(host, sizeof(host), "%s", rest);
	if ((p = strchr(host, '@')) != NULL) {
		/* sendmail's PORT@HOST */
		*p++ = '\0';
		port = host;
	} else {
		if ((port = strrchr(host, ':')) == NULL) {
			*why = "needs a port";
			return -1;
		}
		*port++ = '\0';
		p = host;
	}
	if (p[0] == '[' && strlen(p) > 1 && p[strlen(p) - 1] == ']') {
		p[strlen(p) - 1] = '\0';
		p++;
	}
	errno = 0;
	pn = strtol(port, &end, 10);
	if (errno != 0 || end == port || *end != '\0' || pn < 1 ||
	    pn > 65535) {
		*why = "bad port";
		return -1;
	}
	if (inet_pton(AF_INET, p, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)pn);
		*sl = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, p, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)pn);
		*sl = sizeof(*sin6);
		return 0;
	}
	*why = "needs a numeric IPv4 or IPv6 address";
	return -1;
}

bool
milter_addr_ok(const char *s, const char **why)
{
	struct sockaddr_storage	ss;
	socklen_t		sl;

	return milter_addr_parse(s, &ss, &sl, why) == 0;
}

