/*
 * The hooks of the SMTP session for the milter client
 * (smtp_milter.c), in the unprivileged worker. Each does nothing when
 * no filter is configured for the session's port.
 */
#ifndef MAILD_SMTP_MILTER_H
#define MAILD_SMTP_MILTER_H

#include <stdbool.h>

#include "milter.h"

struct smtp_session;

/* Connects to the filters (connect stage); at session start. */
void	smtp_milter_begin(struct smtp_session *);
/* QUIT to the filters; at session end. */
void	smtp_milter_end(struct smtp_session *);
/* After HELO/EHLO: a refusal is kept for every MAIL. */
void	smtp_milter_helo(struct smtp_session *);
/* RSET or a transaction's end: ABORT to the filters. */
void	smtp_milter_reset(struct smtp_session *);
/* The stages; MILTER_CONTINUE or MILTER_REFUSE with v. */
int	smtp_milter_mail(struct smtp_session *, const char *sender,
	    struct milter_verdict *v);
int	smtp_milter_rcpt(struct smtp_session *, const char *rcpt,
	    struct milter_verdict *v);
/* A recipient the monitor accepted. */
void	smtp_milter_rcpt_ok(struct smtp_session *, const char *rcpt);
/* Whether this session's messages go through filters. */
bool	smtp_milter_on(const struct smtp_session *);
/* DATA/BDAT: the DATA stage; keeps the trace for the queue file. */
int	smtp_milter_data(struct smtp_session *, const char *trace,
	    struct milter_verdict *v);
/* The argument for milter_spool_write, the message reader's sink. */
void	*smtp_milter_sink_arg(struct smtp_session *);
/* End of message with filters: verdict, edits, queue; replies. */
int	smtp_milter_end_message(struct smtp_session *);

#endif
