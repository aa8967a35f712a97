/*
 * Completing a submitted message's header (RFC 6409 8), in the
 * unprivileged worker: mail from an authenticated user (SMTP AUTH on
 * any port, or the local submission socket of the sendmail command)
 * that lacks Date:, Message-ID: or From: gets them, added at the end
 * of the header section; a message whose header section ends without
 * its empty line gets one after them. Mail relayed to us from other
 * servers (port 25, no AUTH) is never changed. The filter sits between
 * the DATA/BDAT reader (smtp_data.c) and the chunks for the monitor.
 */
#ifndef MAILD_SMTP_HDR_H
#define MAILD_SMTP_HDR_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "bounds.h"
#include "smtp_data.h"

/* Who submits, for the headers we may add. */
struct smtp_hdr_id {
	const char	*user;		/* local part of From: */
	const char	*fullname;	/* "" or NULL: no display name */
	const char	*hostname;	/* domain of From: and Message-ID: */
	const char	*qid;		/* makes the Message-ID: unique */
	time_t		 now;
};

/* Treat as opaque; here so that it can live in the transaction. */
struct smtp_hdr {
	bool			 active;	/* false: passes bytes through */
	struct smtp_hdr_id	 id;		/* its strings borrowed */
	bool			 in_header;
	unsigned		 seen;		/* SMTP_HDR_SEEN_* */
	char			*line;		/* the header line so far */
	size_t			 len;
	size_t			 cap;		/* line's size */
	char			*add;		/* what to add, all of it */
	size_t			 addlen;
	smtp_data_sink_fn	*sink;
	void			*sink_arg;
};

/*
 * Starts a message. With active false (or id NULL) everything passes
 * through unchanged. Never fails (xmalloc aborts).
 */
void	smtp_hdr_init(struct smtp_hdr *, bool active,
	    const struct smtp_hdr_id *id, smtp_data_sink_fn *sink, void *arg);
/* An smtp_data_sink_fn: arg is the struct smtp_hdr. 0, or the sink's -1. */
int	smtp_hdr_write(void *arg, const char *buf, size_t len);
/* The message ended: adds what is still due. 0, or the sink's -1. */
int	smtp_hdr_finish(struct smtp_hdr *);
/* Frees what init allocated; safe twice. */
void	smtp_hdr_free(struct smtp_hdr *);

#endif
