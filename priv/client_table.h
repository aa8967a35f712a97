/*
 * Per client address counters shared by every monitor of a standalone
 * maild: open connections per protocol (for smtp.max_connections_per_ip
 * and pop3.max_connections_per_ip) and recent failed logins (for the
 * growing delay after a failure). An address is an IPv4 address or an
 * IPv6 /64. The table lives in a shared anonymous mapping the master
 * makes before forking; workers unmap it before dropping privileges, so
 * only root processes touch it. In inetd mode the failed logins are kept
 * in a file that every session's root process maps (client_table_open);
 * the connection count is the super-server's business there, and those
 * two calls do nothing.
 */
#ifndef MAILD_CLIENT_TABLE_H
#define MAILD_CLIENT_TABLE_H

#include <stdbool.h>
#include <sys/socket.h>

/* Which pool a connection is counted for: each has its own limit. */
enum client_table_proto {
	CLIENT_TABLE_SMTP,
	CLIENT_TABLE_POP3,
	CLIENT_TABLE_NPROTO
};

/* Creates the table; fatal on failure. Call once in the master. */
void	client_table_init(void);
/*
 * inetd mode: maps DIR/clients, making it when missing. -1 (logged) when
 * it cannot be used; the calls below then do nothing.
 */
int	client_table_open(const char *dir);
/* Unmaps it (in a process that must not see it). */
void	client_table_unmap(void);

/*
 * Counts a new connection from sa to proto's pool. Returns true when it
 * is within max (max <= 0: no limit), false (and nothing counted)
 * otherwise. Always true under inetd.
 */
bool	client_table_connect(const struct sockaddr *sa,
	    enum client_table_proto proto, int max);
/* Uncounts one that client_table_connect() counted. */
void	client_table_disconnect(const struct sockaddr *sa,
	    enum client_table_proto proto);

/*
 * Extra seconds to wait before answering a failed login from sa: none
 * for the first three failures, then 1, 2, 4 ... up to 30. Failures are
 * forgotten 15 minutes after the last one, and only then.
 */
int	client_table_penalty(const struct sockaddr *sa);
void	client_table_auth_failed(const struct sockaddr *sa);
/* A successful login: it does not forgive the failures before it. */
void	client_table_auth_ok(const struct sockaddr *sa);

#endif
