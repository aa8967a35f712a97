/*
 * The SMTP session's side of the milter client (smtpd worker,
 * unprivileged): which filter list applies, the macros, the hooks the
 * command handlers call at each stage, and the end of a message with
 * filters: the filters' verdict, then the envelope changes (replayed to
 * the monitor as MAIL and RCPT requests, so every added recipient passes
 * the same checks as one from the client, and a new sender the same
 * sender policy), then the message as the filters left it into the
 * queue. Without filters none of this runs: the message streams to the
 * monitor as it arrives (smtp_txn.c).
 *
 * A filter's refusal at MAIL, RCPT or the end of DATA is the reply to
 * that command, so no bounce is ever made for it; a refusal at connect
 * or HELO refuses every MAIL of the session.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io_tls.h"
#include "log.h"
#include "milter.h"
#include "pool_worker.h"
#include "priv_client.h"
#include "priv_proto.h"
#include "smtp.h"
#include "smtp_milter.h"
#include "sockaddr.h"
#include "xmalloc.h"

struct smtp_milter {
	struct milter_session	*ms;
	char			 client_port[8];
	char			 if_addr[CLIENT_ADDR_TEXT_MAX];
	char			 client_name[CLIENT_ADDR_TEXT_MAX + 2];
	/* a refusal at connect or HELO: every MAIL gets it */
	bool			 refused;
	struct milter_verdict	 sess_v;
	/* the transaction */
	char			 sender[ADDR_TEXT_SIZE];
	char			 rcpt[ADDR_TEXT_SIZE];
	char			**rcpts;	/* accepted by the monitor */
	size_t			 nrcpts;
	bool			 discard;
	bool			 in_msg;	/* filters know of a message */
	char			*trace;
};

static void
macros(struct smtp_session *s, struct milter_macros *mm)
{
	struct smtp_milter	*m = s->milter;

	memset(mm, 0, sizeof(*mm));
	mm->j = s->cfg->hostname;
	mm->daemon_name = s->cfg->smtp.milter_macro_daemon_name;
	mm->client_addr = s->client;
	mm->client_port = m->client_port;
	mm->if_addr = m->if_addr;
	mm->client_name = m->client_name;
	if (s->tls) {
		mm->tls_version = io_tls_version(s->io);
		mm->cipher = io_tls_cipher(s->io);
	}
	if (s->authed) {
		mm->auth_type = s->auth_mech;
		mm->auth_authen = s->user;
	}
	mm->qid = s->txn != NULL ? s->txn->qid : NULL;
	mm->mail_addr = m->sender;
	mm->rcpt_addr = m->rcpt;
}

void
smtp_milter_begin(struct smtp_session *s)
{
	const struct strlist	*list = &s->cfg->smtp.milters;
	struct smtp_milter	*m;
	struct milter_macros	 mm;
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	char			 family = 'U';
	uint16_t		 port = 0;
	int			 fd = io_fd(s->io);

	/* what users send: the submission ports and the sendmail command */
	if ((s->role == ROLE_SUBMISSION || s->role == ROLE_SMTPS ||
	    s->role == ROLE_LOCAL) && s->cfg->smtp.submission_milters.n > 0)
		list = &s->cfg->smtp.submission_milters;
	if (list->n == 0)
		return;
	m = s->milter = xcalloc(1, sizeof(*m));
	snprintf(m->client_name, sizeof(m->client_name), "[%s]",
	    s->client[0] ? s->client : "127.0.0.1");
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
		family = ss.ss_family == AF_INET ? '4' : '6';
		port = ntohs(ss.ss_family == AF_INET ?
		    ((struct sockaddr_in *)&ss)->sin_port :
		    ((struct sockaddr_in6 *)&ss)->sin6_port);
		snprintf(m->client_port, sizeof(m->client_port), "%u",
		    (unsigned)port);
	}
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6))
		sockaddr_ntop((struct sockaddr *)&ss, m->if_addr,
		    sizeof(m->if_addr));
	m->ms = milter_session_new(s->cfg, list);
	macros(s, &mm);
	if (milter_connect(m->ms, &mm, family, port, s->client[0] ? s->client :
	    "127.0.0.1", &m->sess_v) == MILTER_REFUSE)
		m->refused = true;
}

void
smtp_milter_end(struct smtp_session *s)
{
	struct smtp_milter	*m = s->milter;

	if (m == NULL)
		return;
	smtp_milter_reset(s);
	milter_session_free(&m->ms);
	xfree(&s->milter);
}

void
smtp_milter_helo(struct smtp_session *s)
{
	struct smtp_milter	*m = s->milter;
	struct milter_macros	 mm;

	if (m == NULL || m->refused)
		return;
	macros(s, &mm);
	if (milter_helo(m->ms, &mm, s->helo, &m->sess_v) == MILTER_REFUSE)
		m->refused = true;
}

void
smtp_milter_reset(struct smtp_session *s)
{
	struct smtp_milter	*m = s->milter;
	size_t			 i;

	if (m == NULL)
		return;
	if (m->in_msg)
		milter_abort(m->ms);
	m->in_msg = false;
	for (i = 0; i < m->nrcpts; i++)
		free(m->rcpts[i]);
	xfree(&m->rcpts);
	m->nrcpts = 0;
	m->discard = false;
	m->sender[0] = m->rcpt[0] = '\0';
	xfree(&m->trace);
}

int
smtp_milter_mail(struct smtp_session *s, const char *sender,
    struct milter_verdict *v)
{
	struct smtp_milter	*m = s->milter;
	struct milter_macros	 mm;
	int			 n;

	if (m == NULL)
		return MILTER_CONTINUE;
	if (m->refused) {
		*v = m->sess_v;
		return MILTER_REFUSE;
	}
	smtp_milter_reset(s);
	snprintf(m->sender, sizeof(m->sender), "%s", sender);
	m->in_msg = true;
	macros(s, &mm);
	n = milter_mail(m->ms, &mm, sender, v);
	if (n == MILTER_DISCARD) {
		m->discard = true;
		n = MILTER_CONTINUE;
	}
	return n;
}

int
smtp_milter_rcpt(struct smtp_session *s, const char *rcpt,
    struct milter_verdict *v)
{
	struct smtp_milter	*m = s->milter;
	struct milter_macros	 mm;
	int			 n;

	if (m == NULL)
		return MILTER_CONTINUE;
	snprintf(m->rcpt, sizeof(m->rcpt), "%s", rcpt);
	macros(s, &mm);
	n = milter_rcpt(m->ms, &mm, rcpt, v);
	if (n == MILTER_DISCARD) {
		m->discard = true;
		n = MILTER_CONTINUE;
	}
	return n;
}

void
smtp_milter_rcpt_ok(struct smtp_session *s, const char *rcpt)
{
	struct smtp_milter	*m = s->milter;

	if (m == NULL)
		return;
	m->rcpts = xreallocarray(m->rcpts, m->nrcpts + 1, sizeof(char *));
	m->rcpts[m->nrcpts++] = xstrdup(rcpt);
}

bool
smtp_milter_on(const struct smtp_session *s)
{
	return s->milter != NULL && milter_active(s->milter->ms);
}

int
smtp_milter_data(struct smtp_session *s, const char *trace,
    struct milter_verdict *v)
{
	struct smtp_milter	*m = s->milter;
	struct milter_macros	 mm;
	int			 n;

	macros(s, &mm);
	n = milter_data(m->ms, &mm, v);
	if (n == MILTER_DISCARD) {
		m->discard = true;
		n = MILTER_CONTINUE;
	}
	if (n == MILTER_CONTINUE)
		m->trace = xstrdup(trace);
	return n;
}

void *
smtp_milter_sink_arg(struct smtp_session *s)
{
	return s->milter->ms;
}

static bool
deleted(const struct milter_result *res, const char *rcpt)
{
	size_t	i, n;
	const char *d;

	for (i = 0; i < res->ndel; i++) {
		d = res->del_rcpt[i];
		n = strlen(d);
		/* filters give "<addr>" or "addr" */
		if (n >= 2 && d[0] == '<' && d[n - 1] == '>') {
			if (strlen(rcpt) == n - 2 &&
			    strncasecmp(d + 1, rcpt, n - 2) == 0)
				return true;
		} else if (strcasecmp(d, rcpt) == 0)
			return true;
	}
	return false;
}

/* "<addr>" -> "addr", into buf. */
static const char *
bare(const char *a, char *buf, size_t bufsz)
{
	size_t	n = strlen(a);

	if (n >= 2 && a[0] == '<' && a[n - 1] == '>')
		snprintf(buf, bufsz, "%.*s", (int)(n - 2), a + 1);
	else
		snprintf(buf, bufsz, "%s", a);
	return buf;
}

/*
 * The envelope as the filters left it, given to the monitor again: a
 * new MAIL (the monitor's sender policy applies, and the message gets
 * a new queue id) and the recipients kept and added (each one resolved
 * and checked like a client's RCPT; one refused is logged and left
 * out). Returns 0, -1 (monitor lost) or 1 (refused, r filled).
 */
static int
replay_envelope(struct smtp_session *s, const struct milter_result *res,
    struct reason *r)
{
	struct smtp_milter	*m = s->milter;
	struct smtp_txn		*t = s->txn;
	char			 qid[QUEUE_ID_MAX + 1], a[ADDR_TEXT_SIZE];
	char			 envid[SMTP_ENVID_MAX + 1];
	const char		*sender = m->sender;
	uint32_t		 flags;
	char			*p;
	size_t			 i, ok = 0;
	int			 n;

	if (res->new_sender != NULL)
		sender = bare(res->new_sender, a, sizeof(a));
	if (priv_rset(r) == -1)
		return -1;
	/* the client's DSN and BODY parameters go with the new envelope */
	flags = (t->mail.smtputf8 ? PRIV_MAIL_UTF8 : 0) |
	    (t->mail.body == SMTP_BODY_8BITMIME ||
	    t->mail.body == SMTP_BODY_BINARYMIME ? PRIV_MAIL_8BIT : 0) |
	    (t->mail.ret == SMTP_RET_HDRS ? PRIV_MAIL_RET_HDRS : 0) |
	    (t->mail.ret == SMTP_RET_FULL ? PRIV_MAIL_RET_FULL : 0);
	envid[0] = '\0';
	if ((t->mail.params & SMTP_PARAM_ENVID) &&
	    smtp_xtext_encode(t->mail.envid, strlen(t->mail.envid), envid,
	    sizeof(envid)) == -1)
		envid[0] = '\0';
	n = priv_mail(sender, s->helo, flags, 0, envid, qid, sizeof(qid), r);
	if (n != 0) {
		log_info("id=%s milter sender <%s> refused: %s", t->qid,
		    sender, n == 1 ? r->text : "monitor lost");
		return n;
	}
	log_info("id=%s milter changed the envelope: now id=%s from=<%s>",
	    t->qid, qid, sender);
	/* the Received: header names the id the queue file will have */
	if (strlen(qid) == strlen(t->qid) && m->trace != NULL &&
	    (p = strstr(m->trace, t->qid)) != NULL)
		memcpy(p, qid, strlen(qid));
	snprintf(t->qid, sizeof(t->qid), "%s", qid);
	for (i = 0; i < m->nrcpts + res->nadd; i++) {
		const char *rc = i < m->nrcpts ? m->rcpts[i] :
		    bare(res->add_rcpt[i - m->nrcpts], a, sizeof(a));

		if (i < m->nrcpts && deleted(res, rc)) {
			log_info("id=%s milter removed recipient <%s>", qid,
			    rc);
			continue;
		}
		/* (a recipient's NOTIFY and ORCPT are not carried over) */
		n = priv_rcpt(rc, 0, "", r);
		if (n == -1)
			return -1;
		if (n == 1) {
			log_info("id=%s recipient <%s> refused: %s", qid, rc,
			    r->text);
			continue;
		}
		if (i >= m->nrcpts)
			log_info("id=%s milter added recipient <%s>", qid,
			    rc);
		ok++;
	}
	if (ok == 0) {
		reason_set(r, "5.5.1", "no valid recipients");
		return 1;
	}
	return 0;
}

int
smtp_milter_end_message(struct smtp_session *s)
{
	struct smtp_milter	*m = s->milter;
	struct smtp_txn		*t = s->txn;
	struct milter_macros	 mm;
	struct milter_result	 res;
	struct milter_verdict	 v;
	struct reason		 r;
	const char		*buf;
	char			 qid[QUEUE_ID_MAX + 1];
	size_t			 len, off, n;
	int			 code, rc;

	memset(&res, 0, sizeof(res));
	if (smtp_data_result(&t->reader, &code, &r) == -1) {
		log_info("id=%s message refused: %d %s %s", t->qid, code,
		    r.status, r.text);
		goto refuse;
	}
	macros(s, &mm);
	rc = milter_eom(m->ms, &mm, &res, &v);
	/* after a refusal the filters that did not see EOM get ABORT */
	m->in_msg = rc == MILTER_REFUSE;
	if (rc == MILTER_REFUSE) {
		code = v.code;
		r = v.r;
		log_info("id=%s message refused: %d %s %s (milter)", t->qid,
		    code, r.status, r.text);
		goto refuse;
	}
	if (rc == MILTER_DISCARD || m->discard) {
		log_info("id=%s discarded by milter", t->qid);
		snprintf(qid, sizeof(qid), "%s", t->qid);
		milter_result_free(&res);
		if (priv_rset(&r) == -1)
			goto lost;
		smtp_txn_reset(s, false);
		return smtp_reply(s, 250, "2.0.0", "Ok: queued as %s", qid);
	}
	if (res.new_sender != NULL || res.nadd > 0 || res.ndel > 0) {
		rc = replay_envelope(s, &res, &r);
		if (rc == -1)
			goto lost;
		if (rc == 1) {
			code = r.status[0] == '4' ? 451 : 554;
			goto refuse;
		}
	}
	if (milter_message(m->ms, &buf, &len) == -1) {
		code = 451;
		reason_set(&r, "4.3.0", "local error, try again later");
		goto refuse;
	}
	switch (priv_data_begin(m->trace, strlen(m->trace), &r)) {
	case -1:
		goto lost;
	case 1:
		code = r.status[0] == '4' ? 451 : 554;
		milter_result_free(&res);
		(void)priv_rset(&r);
		smtp_txn_reset(s, false);
		return smtp_reply(s, code, r.status, "%s", r.text);
	}
	for (off = 0; off < len; off += n) {
		n = len - off > PRIV_CHUNK_MAX ? PRIV_CHUNK_MAX : len - off;
		if (priv_data_chunk(buf + off, n) == -1)
			goto lost;
	}
	if (res.hold)
		log_info("id=%s quarantined by milter: %s", t->qid,
		    res.hold_reason);
	rc = priv_data_end(len, res.hold ? 2 : 1, qid, sizeof(qid), &r);
	milter_result_free(&res);
	if (rc == -1)
		goto lost;
	smtp_txn_reset(s, false);
	if (rc == 1)
		return smtp_reply(s, r.status[0] == '4' ? 451 : 554, r.status,
		    "%s", r.text);
	s->nmsgs++;
	return smtp_reply(s, 250, "2.0.0", "Ok: queued as %s", qid);
refuse:
	milter_result_free(&res);
	if (priv_rset(&r) == -1 && code < 500)
		goto lost;
	smtp_txn_reset(s, false);
	if (code == 421) {
		smtp_reply(s, 421, r.status, "%s %s", s->cfg->hostname,
		    r.text);
		return SMTP_CMD_CLOSE;
	}
	return smtp_reply(s, code, r.status, "%s", r.text);
lost:
	milter_result_free(&res);
	smtp_reply(s, 421, "4.3.0", "%s local error, closing connection",
	    s->cfg->hostname);
	return SMTP_CMD_CLOSE;
}
