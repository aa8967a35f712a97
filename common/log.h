/*
 * Logging: syslog, and stderr when running in the foreground. One line per
 * event; the current session id (if any) is prefixed to every line so that
 * one session can be followed with grep. Control characters in the
 * formatted text (which may come from a client) are escaped, so a client
 * can never forge or split a log line.
 */
#ifndef MAILD_LOG_H
#define MAILD_LOG_H

#include <stdarg.h>
#include <stdbool.h>

/* Starts logging as ident. facility is a LOG_* facility. */
void	log_init(const char *ident, int facility, bool to_stderr);
/* Changes the program name (after a fork that takes on another role). */
void	log_setident(const char *ident);
/* Changes the facility and reopens syslog. */
void	log_setfacility(int facility);
/* Whether to also write to stderr. */
void	log_setstderr(bool on);
/* 0 = info and up, 1 = also debug. */
void	log_setverbose(int level);
int	log_getverbose(void);

/*
 * Sets the session id put on every following line; NULL clears it. The
 * string is copied.
 */
void	log_session(const char *sid);
/* The current session id, or "" when none is set. Borrowed. */
const char *log_session_id(void);

void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Like log_info at LOG_WARNING, with ": strerror(errno)" added. */
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Like log_warn without the errno text. */
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
/* The environment is unusable (start-up): log with errno text and exit 1. */
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
/* As fatal, without errno text. */
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
/* Our own bug: log and abort() for a core. Never for client input. */
void	panic(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/*
 * Copies src into dst (size dstsz) escaping bytes outside printable
 * ASCII as \xHH; truncates with "..." if needed. Returns dst.
 */
char	*log_sanitize(char *dst, size_t dstsz, const char *src, size_t srclen);

#endif
