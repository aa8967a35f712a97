/*
 * Why something failed, in a form a client can be told: an RFC 3463
 * enhanced status code and a short text. The layer that knows the cause
 * fills it in; the protocol layer only formats it ("452 4.2.0 ..." or
 * "-ERR [IN-USE] ..."). The first digit of status says temporary (4) or
 * permanent (5).
 */
#ifndef MAILD_REASON_H
#define MAILD_REASON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

struct reason {
	char	status[8];	/* "4.2.0" */
	char	text[256];
};

static inline void reason_set(struct reason *, const char *,
    const char *, ...) __attribute__((format(printf, 3, 4)));

/* Fills r (which may be NULL) with status and the formatted text. */
static inline void
reason_set(struct reason *r, const char *status, const char *fmt, ...)
{
	va_list	ap;

	if (r == NULL)
		return;
	snprintf(r->status, sizeof(r->status), "%s", status);
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
}

static inline bool
reason_is_temporary(const struct reason *r)
{
	return r->status[0] != '5';
}

#endif
