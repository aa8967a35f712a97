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
#include <stddef.h>

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

/*
 * A value from a client (a user name) for a key=value field: as it is
 * when it is a plain word ([A-Za-z0-9._@+-]), else in double quotes with
 * '"' and '\\' escaped, so that "alice client=192.0.2.1" cannot fake a
 * field for a log parser such as fail2ban. Returns value or buf; bufsz
 * of 2 * strlen(value) + 3 holds any value whole.
 */
const char	*log_value(const char *value, char *buf, size_t bufsz);

#endif
