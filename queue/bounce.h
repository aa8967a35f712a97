/*
 * Bounces: the delivery status notification (RFC 3464, in a RFC 6522
 * multipart/report) that the queue sends to the envelope sender of a
 * message it could not deliver. Written as text with LF line ends, the
 * way the queue stores messages; the caller queues it with the null
 * sender "<>". A bounce is never bounced: the queue checks
 * bounce_is_dsn_sender() on the failed message's sender first.
 */
#ifndef MAILD_BOUNCE_H
#define MAILD_BOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "reason.h"

/*
 * One recipient that failed. Strings may come from afar: they are
 * written with control characters replaced and long lines folded. A
 * Final-Recipient with non-ASCII octets gets the "utf-8" address type
 * (RFC 6533 3).
 */
/*
 * What the notification says (RFC 3464 2.3.3 Action): the message could
 * not be delivered (a bounce), is still being tried (a delay notice),
 * was delivered (NOTIFY=SUCCESS), or was relayed to an MTA that does
 * not do DSN (NOTIFY=SUCCESS, RFC 3461 5.2.2).
 */
enum bounce_kind {
	BOUNCE_FAILED = 0,
	BOUNCE_DELAYED,
	BOUNCE_DELIVERED,
	BOUNCE_RELAYED
};

struct bounce_rcpt {
	const char	*addr;		/* final recipient, "local@domain" */
	const char	*orcpt;		/* original recipient (ORCPT); NULL */
	const char	*orcpt_type;	/* its addr-type; NULL means "rfc822" */
	const char	*status;	/* RFC 3463 code: "5.1.1" */
	/*
	 * RFC 3464 2.3.6 Diagnostic-Code, type and text: "smtp; 550 5.1.1
	 * user unknown" (a remote reply) or "x-local; mailbox is full"; NULL
	 * for none.
	 */
	const char	*diagnostic;
	const char	*remote_mta;	/* the MTA that said so, or NULL */
	time_t		 last_attempt;	/* Last-Attempt-Date; 0: none */
};

struct bounce_info {
	enum bounce_kind	  kind;		/* 0: a bounce */
	/* BOUNCE_DELAYED: Will-Retry-Until (0: not said) */
	time_t			  retry_until;
	const char		 *hostname;	/* ours: Reporting-MTA */
	const char		 *queue_id;	/* of the failed message */
	time_t			  arrival;	/* when we accepted it */
	time_t			  date;		/* of the bounce (now) */
	const char		 *sender;	/* its envelope sender */
	const char		 *envid;	/* its ENVID, or NULL */
	const struct bounce_rcpt *rcpts;
	size_t			  nrcpts;	/* at least one */
	/* The failed message: msg_len octets at msg_off of msg_fd, as the
	 * queue stores it (LF line ends). Read with pread(); not closed. */
	int			  msg_fd;
	off_t			  msg_off;
	off_t			  msg_len;
	/* Return only the header section (RET=HDRS, RFC 3461 4.3), as
	 * text/rfc822-headers, instead of the message/rfc822. */
	bool			  headers_only;
	/* Return at most this many octets of it, cut at a line end; 0 means
	 * BOUNCE_RETURN_MAX. */
	size_t			  return_max;
	bool			  eightbit;	/* it was BODY=8BITMIME */
};

/* Receives the bounce text; returns 0, or -1 to stop. */
typedef int bounce_sink_fn(void *arg, const char *buf, size_t len);

/*
 * Writes the whole bounce (header, then the three parts: the human-
 * readable notice, message/delivery-status, the returned message) to
 * sink. Headers: From: MAILER-DAEMON@hostname, To: <sender>, Subject,
 * Auto-Submitted: auto-replied (RFC 3834), Date, Message-ID, MIME
 * headers; the boundary and Message-ID are unique (queue id, time, 64
 * random bits). Returns 0, or -1 with r (4.3.0) if the original could
 * not be read or the sink failed.
 */
int	bounce_write(const struct bounce_info *, bounce_sink_fn *sink,
	    void *arg, struct reason *r);

/*
 * Whether a message from sender must never be bounced: the null
 * reverse-path, given as "" or "<>" (RFC 5321 4.5.5, RFC 3464 2).
 */
bool	bounce_is_dsn_sender(const char *sender);

#endif
