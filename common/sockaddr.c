/*
 * Socket addresses as text, and small socket settings: used by every
 * process that logs or checks a peer (workers, monitors, the master).
 * No I/O but setsockopt.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>

#include "bounds.h"
#include "sockaddr.h"

void
sockaddr_ntop(const struct sockaddr *sa, char *buf, size_t bufsz)
{
	const void	*a;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		/* show v4-mapped peers as plain IPv4 */
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], buf,
			    (socklen_t)bufsz);
			return;
		}
		a = &s6->sin6_addr;
	} else if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else {
		snprintf(buf, bufsz, "local");
		return;
	}
	if (inet_ntop(sa->sa_family, a, buf, (socklen_t)bufsz) == NULL)
		snprintf(buf, bufsz, "?");
}

void
sockaddr_ntop_port(const struct sockaddr *sa, char *buf, size_t bufsz)
{
	char	host[CLIENT_ADDR_TEXT_MAX];
	int	port = 0;

	sockaddr_ntop(sa, host, sizeof(host));
	if (sa->sa_family == AF_INET6)
		port = ntohs(((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_port);
	else if (sa->sa_family == AF_INET)
		port = ntohs(((const struct sockaddr_in *)(const void *)sa)->
		    sin_port);
	if (strchr(host, ':') != NULL)
		snprintf(buf, bufsz, "[%s]:%d", host, port);
	else
		snprintf(buf, bufsz, "%s:%d", host, port);
}

bool
sockaddr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			return s6->sin6_addr.s6_addr[12] == 127;
		return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
	}
	return false;
}

void
socket_nodelay(int fd)
{
	int	on = 1;

	/*
	 * The io layer sends what it has in one write per flush; Nagle would
	 * only hold back a reply behind an unacknowledged earlier one (after
	 * a TLS 1.3 handshake, the session tickets), for up to a delayed-ACK
	 * time. Not a socket (inetd on a pipe): nothing to do.
	 */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}
