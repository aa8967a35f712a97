/*
 * Socket addresses as text, and small socket settings (sockaddr.c).
 */
#ifndef MAILD_SOCKADDR_H
#define MAILD_SOCKADDR_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>

/* Sets TCP_NODELAY on a client connection (ignored if not TCP). */
void	socket_nodelay(int fd);

/*
 * Formats a socket address as "1.2.3.4" or "::1" (no port; v4-mapped
 * addresses as IPv4; anything else as "local"). CLIENT_ADDR_TEXT_MAX
 * (bounds.h) holds any of them.
 */
void	sockaddr_ntop(const struct sockaddr *, char *buf, size_t bufsz);
/* The same with the port: "1.2.3.4:25", "[::1]:25". */
void	sockaddr_ntop_port(const struct sockaddr *, char *buf, size_t bufsz);
/* Whether sa is on the loopback network (127/8, ::1, v4-mapped 127/8). */
bool	sockaddr_is_loopback(const struct sockaddr *sa);

#endif
