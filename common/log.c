/*
 * Logging for every maild process: syslog always, stderr as well in the
 * foreground. Each call writes exactly one line; the session id of the
 * current session is put first ("sid=..."), and every byte that is not
 * printable ASCII is escaped so that text received from a client cannot
 * break a line or inject terminal control sequences.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "log.h"

static char	 log_ident[32] = "maild";
static int	 log_facility = LOG_MAIL;
static bool	 log_stderr;
static int	 log_verbose;
static char	 log_sid[SESSION_ID_MAX + 1];

static void	 log_vwrite(int, const char *, va_list, const char *)
		    __attribute__((format(printf, 2, 0)));

void
log_init(const char *ident, int facility, bool to_stderr)
{
	log_stderr = to_stderr;
	log_facility = facility;
	log_setident(ident);
}

static void
log_reopen(void)
{
	closelog();
	/* LOG_NDELAY: connect now, so logging still works after chroot. */
	openlog(log_ident, LOG_PID | LOG_NDELAY, log_facility);
}

void
log_setident(const char *ident)
{
	if (ident != log_ident)
		snprintf(log_ident, sizeof(log_ident), "%s", ident);
	log_reopen();
}

void
log_setfacility(int facility)
{
	if (facility == log_facility)
		return;
	log_facility = facility;
	log_reopen();
}

void
log_setstderr(bool on)
{
	log_stderr = on;
}

void
log_setverbose(int level)
{
	log_verbose = level;
}

int
log_getverbose(void)
{
	return log_verbose;
}

void
log_session(const char *sid)
{
	if (sid == NULL)
		log_sid[0] = '\0';
	else
		snprintf(log_sid, sizeof(log_sid), "%s", sid);
}

const char *
log_session_id(void)
{
	return log_sid;
}

char *
log_sanitize(char *dst, size_t dstsz, const char *src, size_t srclen)
{
	static const char hex[] = "0123456789abcdef";
	size_t	 i, o = 0;

	if (dstsz == 0)
		return dst;
	for (i = 0; i < srclen; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= dstsz)
				goto trunc;
			dst[o++] = (char)c;
		} else {
			if (o + 4 >= dstsz)
				goto trunc;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
	return dst;
trunc:
	if (dstsz >= 4) {
		o = o < dstsz - 4 ? o : dstsz - 4;
		memcpy(dst + o, "...", 4);
	} else
		dst[0] = '\0';
	return dst;
}

static void
log_vwrite(int pri, const char *fmt, va_list ap, const char *errtext)
{
	char	 raw[LOG_LINE_MAX], line[LOG_LINE_MAX];
	size_t	 len;
	int	 saved_errno = errno;

	if (vsnprintf(raw, sizeof(raw), fmt, ap) < 0)
		snprintf(raw, sizeof(raw), "(log format error)");
	log_sanitize(line, sizeof(line), raw, strlen(raw));
	if (errtext != NULL) {
		len = strlen(line);
		snprintf(line + len, sizeof(line) - len, ": %s", errtext);
	}

	if (log_sid[0] != '\0')
		syslog(pri, "sid=%s %s", log_sid, line);
	else
		syslog(pri, "%s", line);
	if (log_stderr) {
		char		 ts[32];
		struct timespec	 now;
		struct tm	 tm;

		clock_gettime(CLOCK_REALTIME, &now);
		localtime_r(&now.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld %s[%ld]: %s%s%s%s\n", ts,
		    now.tv_nsec / 1000000, log_ident, (long)getpid(),
		    log_sid[0] ? "sid=" : "", log_sid, log_sid[0] ? " " : "",
		    line);
		fflush(stderr);
	}
	errno = saved_errno;
}

#define LOG_VA(pri, err) do {				\
	va_list ap;					\
	va_start(ap, fmt);				\
	log_vwrite(pri, fmt, ap, err);			\
	va_end(ap);					\
} while (0)

void
log_debug(const char *fmt, ...)
{
	if (log_verbose < 1)
		return;
	LOG_VA(LOG_DEBUG, NULL);
}

void
log_info(const char *fmt, ...)
{
	LOG_VA(LOG_INFO, NULL);
}

void
log_warn(const char *fmt, ...)
{
	const char *e = strerror(errno);

	LOG_VA(LOG_WARNING, e);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_VA(LOG_WARNING, NULL);
}

void
fatal(const char *fmt, ...)
{
	const char *e = strerror(errno);

	LOG_VA(LOG_CRIT, e);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_VA(LOG_CRIT, NULL);
	exit(1);
}

void
panic(const char *fmt, ...)
{
	LOG_VA(LOG_CRIT, NULL);
	abort();
}

/* See log.h. Control characters are escaped later, for the whole line. */
const char *
log_value(const char *value, char *buf, size_t bufsz)
{
	size_t	i, n = 0;
	bool	esc;

	if (value[0] != '\0' && strspn(value, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@+-") == strlen(value))
		return value;
	if (bufsz < 3)
		return "\"\"";
	buf[n++] = '"';
	for (i = 0; value[i] != '\0'; i++) {
		esc = value[i] == '"' || value[i] == '\\';
		/* room for this character, the closing quote and the NUL */
		if (n + (esc ? 2 : 1) + 2 > bufsz)
			break;
		if (esc)
			buf[n++] = '\\';
		buf[n++] = value[i];
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return buf;
}
