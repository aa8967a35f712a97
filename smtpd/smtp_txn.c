/*
 * The mail transaction (RFC 5321 3.3): MAIL, RCPT, DATA, BDAT (RFC 3030)
 * and RSET, in the unprivileged worker. The worker parses and checks the
 * syntax; every decision that needs privileges (who may send, who
 * exists, relaying) and the queue file itself belong to the monitor.
 * The message is read by the DATA reader (smtp_data.c, which finds the
 * one true end and refuses smuggling), passed to the monitor in chunks,
 * and acknowledged with 250 only after the monitor has committed it to
 * the queue.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "pool_worker.h"
#include "priv_client.h"
#include "priv_proto.h"
#include "relay/relay.h"
#include "rfc5322.h"
#include "smtp.h"
#include "xmalloc.h"

/*
 * The data timeout bounds the arrival of each BDAT_PACE octets of a
 * chunk: the pace DATA asks for, where it bounds each line.
 */
#define BDAT_PACE	SMTP_TEXT_LINE_MAX

_Static_assert(SMTP_NOTIFY_NEVER == DSN_NOTIFY_NEVER &&
    SMTP_NOTIFY_SUCCESS == DSN_NOTIFY_SUCCESS &&
    SMTP_NOTIFY_FAILURE == DSN_NOTIFY_FAILURE &&
    SMTP_NOTIFY_DELAY == DSN_NOTIFY_DELAY, "NOTIFY bits differ");

/* The reply code for a refusal the monitor gave as a reason. */
static int
code_for(const struct reason *r, int perm)
{
	if (strcmp(r->status, "5.7.0") == 0)
		return 530;
	if (strcmp(r->status, "5.3.4") == 0)
		return 552;
	if (strcmp(r->status, "4.5.3") == 0 ||
	    strcmp(r->status, "4.3.1") == 0)
		return 452;	/* too many recipients; no room (RFC 1870) */
	if (strcmp(r->status, "5.7.1") == 0 && perm == 550)
		return 554;	/* relaying denied */
	if (r->status[0] == '4')
		return 451;
	return perm;
}

/* The monitor is gone: nothing more can be done in this session. */
static int
lost_monitor(struct smtp_session *s, const struct reason *r)
{
	smtp_reply(s, 421, "4.3.0", "%s %s", s->cfg->hostname, r->text);
	return SMTP_CMD_CLOSE;
}

/* Bare paths ("MAIL FROM: user@example.org") unless told to be strict. */
static unsigned
path_flags(const struct smtp_session *s)
{
	return s->cfg->smtp.strict_rfc5321_paths ? 0 : SMTP_BARE_PATH;
}

int
smtp_mail(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	const struct config	*cfg = s->cfg;
	struct smtp_mail_args	 m;
	struct reason		 r;
	char			 sender[ADDR_TEXT_SIZE], qid[QUEUE_ID_MAX + 1];
	char			 envid[SMTP_ENVID_MAX + 1];
	uint32_t		 flags;
	int			 code, rc;

	if (smtp_parse_mail(cmd->args, cmd->argslen, path_flags(s) |
	    (s->esmtp ? s->ext : 0), &m, &code, &r) == -1)
		return smtp_reply(s, code, r.status, "%s", r.text);
	if ((m.params & SMTP_PARAM_SIZE) && cfg->smtp.message_size_limit > 0 &&
	    m.size > (uint64_t)cfg->smtp.message_size_limit)
		return smtp_reply(s, 552, "5.3.4", "message size exceeds "
		    "fixed maximum message size");
	if ((s->role == ROLE_SUBMISSION || s->role == ROLE_SMTPS) &&
	    !s->authed)
		return smtp_reply(s, 530, "5.7.0", "authentication required");
	if (addr_format(&m.from, sender, sizeof(sender)) == -1)
		return smtp_reply(s, 501, "5.1.7", "bad sender address");
	/* DSN (RFC 3461) and BODY for the queue file, as the monitor wants */
	flags = (m.smtputf8 ? PRIV_MAIL_UTF8 : 0) |
	    (m.body == SMTP_BODY_8BITMIME || m.body == SMTP_BODY_BINARYMIME ?
	    PRIV_MAIL_8BIT : 0) |
	    (m.ret == SMTP_RET_HDRS ? PRIV_MAIL_RET_HDRS : 0) |
	    (m.ret == SMTP_RET_FULL ? PRIV_MAIL_RET_FULL : 0);
	envid[0] = '\0';
	/* the parser took at most SMTP_ENVID_MAX octets of xtext: same again */
	if ((m.params & SMTP_PARAM_ENVID) && smtp_xtext_encode(m.envid,
	    strlen(m.envid), envid, sizeof(envid)) == -1)
		return smtp_reply(s, 501, "5.5.4", "invalid ENVID value");
	rc = priv_mail(sender, s->helo, flags, m.size, envid, qid, sizeof(qid),
	    &r);
	if (rc == -1)
		return lost_monitor(s, &r);
	if (rc == 1)
		return smtp_reply(s, code_for(&r, 553), r.status, "%s",
		    r.text);
	s->txn = xcalloc(1, sizeof(*s->txn));
	s->txn->mail = m;
	snprintf(s->txn->sender, sizeof(s->txn->sender), "%s", sender);
	snprintf(s->txn->qid, sizeof(s->txn->qid), "%s", qid);
	smtp_enter_state(s, SMTP_MAIL);
	log_debug("id=%s from=<%s>", qid, sender);
	return smtp_reply(s, 250, "2.1.0", "Ok");
}

int
smtp_rcpt(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct smtp_rcpt_args	 rc;
	struct reason		 r;
	char			 text[ADDR_TEXT_SIZE];
	char			 orcpt[SMTP_ORCPT_MAX + 1];
	unsigned		 flags;
	size_t			 tl;
	bool			 bad;
	int			 code, n;

	if (s->txn->bdat)
		return smtp_reply(s, 503, "5.5.1", "RCPT after BDAT");
	flags = path_flags(s) | (s->esmtp ? s->ext : 0);
	if (s->txn->mail.smtputf8)
		flags |= SMTP_TXN_UTF8;
	if (smtp_parse_rcpt(cmd->args, cmd->argslen, flags, &rc, &code, &r) ==
	    -1)
		return smtp_reply(s, code, r.status, "%s", r.text);
	if (addr_format(&rc.to, text, sizeof(text)) == -1)
		return smtp_reply(s, 501, "5.1.3", "bad recipient address");
	/* ORCPT back to "type;xtext", as received (at most 500 octets) */
	orcpt[0] = '\0';
	if (rc.params & SMTP_PARAM_ORCPT) {
		/* a "utf-8" address was kept as sent; others are decoded */
		tl = (size_t)snprintf(orcpt, sizeof(orcpt), "%s;",
		    rc.orcpt_type);
		if (tl >= sizeof(orcpt))
			bad = true;
		else if (strcmp(rc.orcpt_type, "utf-8") == 0)
			bad = (size_t)snprintf(orcpt + tl, sizeof(orcpt) - tl,
			    "%s", rc.orcpt) >= sizeof(orcpt) - tl;
		else
			bad = smtp_xtext_encode(rc.orcpt, strlen(rc.orcpt),
			    orcpt + tl, sizeof(orcpt) - tl) == -1;
		if (bad)
			return smtp_reply(s, 501, "5.5.4",
			    "invalid ORCPT value");
	}
	n = priv_rcpt(text, rc.notify, orcpt, &r);
	if (n == -1)
		return lost_monitor(s, &r);
	if (n == 1) {
		log_info("id=%s refused recipient <%s>: %s", s->txn->qid, text,
		    r.text);
		return smtp_reply(s, code_for(&r, 550), r.status, "<%s>: %s",
		    text, r.text);
	}
	if (s->txn->nrcpts++ == 0)
		snprintf(s->txn->first_rcpt, sizeof(s->txn->first_rcpt), "%s",
		    text);
	smtp_enter_state(s, SMTP_RCPT);
	return smtp_reply(s, 250, "2.1.5", "Ok");
}

int
smtp_rset(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	smtp_txn_reset(s, true);
	return smtp_reply(s, 250, "2.0.0", "Ok");
}

/* --- the message --------------------------------------------------------- */

static int
flush_chunk(struct smtp_txn *t)
{
	if (t->chunklen == 0 || t->ipc_failed)
		return t->ipc_failed ? -1 : 0;
	if (priv_data_chunk(t->chunk, t->chunklen) == -1) {
		t->ipc_failed = true;
		return -1;
	}
	t->chunklen = 0;
	return 0;
}

/* The DATA reader's sink: batches the text into monitor-sized chunks. */
static int
sink(void *arg, const char *buf, size_t len)
{
	struct smtp_txn	*t = arg;
	size_t		 n;

	while (len > 0) {
		if (t->chunklen == PRIV_CHUNK_MAX && flush_chunk(t) == -1)
			return -1;
		n = PRIV_CHUNK_MAX - t->chunklen;
		if (n > len)
			n = len;
		memcpy(t->chunk + t->chunklen, buf, n);
		t->chunklen += n;
		buf += n;
		len -= n;
	}
	return 0;
}

/* Builds the Received: header and opens the queue file in the monitor. */
static int
begin_message(struct smtp_session *s, struct reason *r)
{
	struct smtp_txn		*t = s->txn;
	struct rfc5322_received	 rcv;
	struct smtp_data_opts	 opts;
	char			 trace[RFC5322_TRACE_MAX], tls[128];

	memset(&rcv, 0, sizeof(rcv));
	rcv.helo = s->helo;
	rcv.addr = s->client[0] ? s->client : "127.0.0.1";
	rcv.by = s->cfg->hostname;
	rcv.with = rfc5322_with_protocol(s->esmtp, s->tls, s->authed,
	    t->mail.smtputf8);
	if (s->tls) {
		snprintf(tls, sizeof(tls), "version=%s cipher=%s bits=%d",
		    io_tls_version(s->io), io_tls_cipher(s->io),
		    io_tls_bits(s->io));
		rcv.tls = tls;
	}
	rcv.id = t->qid;
	rcv.rcpt = t->nrcpts == 1 ? t->first_rcpt : NULL;
	rcv.date = time(NULL);
	if (rfc5322_received(&rcv, trace, sizeof(trace)) == -1) {
		reason_set(r, "4.3.0", "cannot build the trace header");
		return 451;
	}
	switch (priv_data_begin(trace, strlen(trace), r)) {
	case -1:
		return 421;
	case 1:
		return code_for(r, 554);
	}
	memset(&opts, 0, sizeof(opts));
	opts.bare_newlines = s->cfg->smtp.bare_newlines;
	opts.max_line_length = (size_t)s->cfg->smtp.max_line_length;
	opts.max_size = (uint64_t)s->cfg->smtp.message_size_limit;
	t->chunk = xmalloc(PRIV_CHUNK_MAX);
	t->chunklen = 0;
	smtp_data_init(&t->reader, &opts, sink, t);
	return 0;
}

/*
 * Ends the message: the reader's verdict, then the monitor's commit.
 * Replies and returns the handler result.
 */
static int
end_message(struct smtp_session *s)
{
	struct smtp_txn	*t = s->txn;
	struct reason	 r;
	char		 qid[QUEUE_ID_MAX + 1];
	uint64_t	 size = smtp_data_size(&t->reader);
	int		 code, n;

	if (smtp_data_result(&t->reader, &code, &r) == 0 &&
	    flush_chunk(t) == -1) {
		code = 451;
		reason_set(&r, "4.3.0", "internal error, try again later");
	} else if (smtp_data_result(&t->reader, &code, &r) == 0)
		code = 0;
	if (code != 0) {
		log_info("id=%s message refused: %d %s %s", t->qid, code,
		    r.status, r.text);
		if (t->ipc_failed || priv_data_end(size, 0, NULL, 0, &r) == -1)
			return lost_monitor(s, &r);
		smtp_txn_reset(s, false);
		return smtp_reply(s, code, r.status, "%s", r.text);
	}
	n = priv_data_end(size, 1, qid, sizeof(qid), &r);
	if (n == -1)
		return lost_monitor(s, &r);
	smtp_txn_reset(s, false);
	if (n == 1)
		return smtp_reply(s, code_for(&r, 554), r.status, "%s", r.text);
	s->nmsgs++;
	return smtp_reply(s, 250, "2.0.0", "Ok: queued as %s", qid);
}

int
smtp_data(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct smtp_txn	*t = s->txn;
	struct io_line	 line;
	struct reason	 r;
	int		 code, n, result = SMTP_CMD_OK;

	if (cmd->argslen != 0)
		return smtp_reply(s, 501, "5.5.4", "DATA takes no arguments");
	if (t->bdat)
		return smtp_reply(s, 503, "5.5.1", "DATA after BDAT");
	if ((code = begin_message(s, &r)) != 0) {
		if (code == 421)
			return lost_monitor(s, &r);
		return smtp_reply(s, code, r.status, "%s", r.text);
	}
	s->nrcpts_total += (unsigned)t->nrcpts;
	smtp_reply(s, 354, NULL, "End data with <CR><LF>.<CR><LF>");
	if (io_pending(s->io) == 0 && io_flush(s->io) == -1)
		return SMTP_CMD_CLOSE;
	io_set_read_timeout(s->io, s->cfg->smtp.timeout_data * 1000);
	for (;;) {
		n = io_getline(s->io, smtp_data_getline_max(&t->reader),
		    &line);
		if (n != IO_OK) {
			/* the message is lost: never deliver a partial one */
			log_info("id=%s connection %s during DATA", t->qid,
			    n == IO_TIMEOUT ? "timed out" : "lost");
			if (!t->ipc_failed)
				(void)priv_data_end(0, 0, NULL, 0, &r);
			if (n == IO_TIMEOUT)
				smtp_reply(s, 421, "4.4.2", "%s timeout "
				    "during DATA", s->cfg->hostname);
			result = SMTP_CMD_CLOSE;
			break;
		}
		if (smtp_data_feed(&t->reader, &line) == SMTP_DATA_END) {
			result = end_message(s);
			break;
		}
	}
	io_set_read_timeout(s->io, s->cfg->smtp.timeout_command * 1000);
	return result;
}

static int
bdat_feed(void *arg, const char *buf, size_t n)
{
	struct smtp_txn	*t = arg;

	if (!t->bdat_failed)
		smtp_bdat_feed(&t->reader, buf, n);
	return 0;
}

static int
bdat_discard(void *arg, const char *buf, size_t n)
{
	(void)arg;
	(void)buf;
	(void)n;
	return 0;
}

/*
 * Reads a chunk of size octets into fn. The data timeout bounds each
 * piece of BDAT_PACE octets, not the whole chunk: as in DATA, where it
 * bounds each line, a client that keeps sending is never cut off by a
 * deadline for a large chunk, and one that stalls is, after
 * timeout_data. Returns IO_OK, or what io_read_exact() failed with.
 */
static int
read_chunk(struct smtp_session *s, uint64_t size,
    int (*fn)(void *, const char *, size_t), void *arg)
{
	size_t	n;
	int	r = IO_OK;

	io_set_read_timeout(s->io, s->cfg->smtp.timeout_data * 1000);
	while (size > 0) {
		n = size > BDAT_PACE ? BDAT_PACE : (size_t)size;
		if ((r = io_read_exact(s->io, n, fn, arg)) != IO_OK)
			break;
		size -= n;
	}
	io_set_read_timeout(s->io, s->cfg->smtp.timeout_command * 1000);
	return r;
}

/* The chunk could not be read to its end: the session is over. */
static int
chunk_lost(struct smtp_session *s, const char *qid, int n)
{
	log_info("id=%s connection %s during BDAT", qid != NULL ? qid : "-",
	    n == IO_TIMEOUT ? "timed out" : "lost");
	if (n == IO_TIMEOUT)
		smtp_reply(s, 421, "4.4.2", "%s timeout during BDAT",
		    s->cfg->hostname);
	return SMTP_CMD_CLOSE;
}

/* The size of a BDAT command, or -1 after replying (the session ends). */
static int
bdat_args(struct smtp_session *s, const struct smtp_cmd *cmd,
    uint64_t *size, bool *last)
{
	struct reason	r;
	int		code;

	if (smtp_parse_bdat(cmd->args, cmd->argslen, size, last, &code,
	    &r) == -1) {
		/* we cannot know where the chunk ends: stop here */
		smtp_reply(s, code, r.status, "%s", r.text);
		return -1;
	}
	return 0;
}

int
smtp_bdat_refuse(struct smtp_session *s, const struct smtp_cmd *cmd,
    int code, const char *status, const char *text)
{
	uint64_t	size;
	bool		last;
	int		n;

	if (bdat_args(s, cmd, &size, &last) == -1)
		return SMTP_CMD_CLOSE;
	if ((n = read_chunk(s, size, bdat_discard, NULL)) != IO_OK)
		return chunk_lost(s, NULL, n);
	log_debug("discarded the %llu octets of a refused BDAT chunk",
	    (unsigned long long)size);
	return smtp_reply(s, code, status, "%s", text);
}

int
smtp_bdat(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct smtp_txn	*t = s->txn;
	struct reason	 r;
	uint64_t	 size;
	bool		 last;
	int		 code = 0, n;

	if (!s->cfg->smtp.chunking || !s->esmtp) {
		/* not offered, so not a command; its chunk is data still */
		log_info("unknown command %s", cmd->verb);
		return smtp_bdat_refuse(s, cmd, 500, "5.5.1",
		    "command not recognized");
	}
	if (bdat_args(s, cmd, &size, &last) == -1)
		return SMTP_CMD_CLOSE;
	if (!t->bdat) {
		t->bdat = true;
		s->nrcpts_total += (unsigned)t->nrcpts;
		if ((code = begin_message(s, &r)) != 0) {
			if (code == 421)
				return lost_monitor(s, &r);
			t->bdat_failed = true;
		}
	}
	n = read_chunk(s, size, t->bdat_failed ? bdat_discard : bdat_feed, t);
	if (n != IO_OK) {
		/* the message is lost: never deliver a partial one */
		if (!t->bdat_failed && !t->ipc_failed)
			(void)priv_data_end(0, 0, NULL, 0, &r);
		return chunk_lost(s, t->qid, n);
	}
	if (t->bdat_failed) {
		/*
		 * The refusal stands for every chunk of the message; the
		 * transaction stays until LAST so that each chunk's bytes
		 * are still consumed as data, never as commands.
		 */
		if (code != 0) {
			t->fail_code = code;
			t->fail_reason = r;
		}
		if (last)
			smtp_txn_reset(s, true);
		return smtp_reply(s, t->fail_code, t->fail_reason.status, "%s",
		    t->fail_reason.text);
	}
	if (!last)
		return smtp_reply(s, 250, "2.0.0", "%llu octets received",
		    (unsigned long long)size);
	smtp_bdat_last(&t->reader);
	return end_message(s);
}
