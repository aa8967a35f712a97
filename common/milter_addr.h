/*
 * Milter addresses ("inet:HOST:PORT", "inet:PORT@HOST", "unix:PATH"):
 * parsed by the smtpd worker when it connects to a filter, and by the
 * configuration check. Numeric hosts only: the worker is chrooted,
 * without a resolver.
 */
#ifndef MAILD_MILTER_ADDR_H
#define MAILD_MILTER_ADDR_H

#include <sys/socket.h>

#include <stdbool.h>

/* Fills ss and sl; returns 0, or -1 with a short text in why. */
int	milter_addr_parse(const char *s, struct sockaddr_storage *ss,
	    socklen_t *sl, const char **why);
/* Whether s is a filter address (why says what is wrong). */
bool	milter_addr_ok(const char *s, const char **why);

#endif
