/*
 * Per client address counters shared by every monitor of a standalone
 * maild: open connections (for max_connections_per_ip) and recent failed
 * logins (for the growing delay after a failure). The table lives in a
 * shared anonymous mapping the master makes before forking; workers
 * unmap it before dropping privileges, so only root processes touch it.
 * In inetd mode the failed logins are kept in a file that every
 * session's root process maps (client_table_open); the connection count
 * is the super-server's business there, and those two calls do nothing.
 */
#ifndef MAILD_CLIENT_TABLE_H
#define MAILD_CLIENT_TABLE_H

#include <stdbool.h>
#include <sys/socket.h>

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
 * Counts a new connection from sa. Returns true when it is within max
 * (max <= 0: no limit), false (and nothing counted) otherwise.
 */
bool	client_table_connect(const struct sockaddr *sa, int max);
void	client_table_disconnect(const struct sockaddr *sa);

/* Extra seconds to wait before answering a failed login from sa. */
int	client_table_penalty(const struct sockaddr *sa);
void	client_table_auth_failed(const struct sockaddr *sa);
void	client_table_auth_ok(const struct sockaddr *sa);

#endif
