/*
 * The SMTP transaction on the privileged side (the monitor, root): MAIL
 * (sender policy, size), RCPT (recipient lookup through the aliases and
 * NSS, the relay rule, max_recipients), and the message itself, which
 * arrives in DATA_CHUNK requests and is written into a queue file that
 * only this process can touch. The envelope is built from what these
 * handlers accepted, never from the worker's word, so a compromised
 * worker cannot add recipients or claim an authentication it did not do.
 * The queue file is committed (fsync, rename, directory fsync) before
 * DATA_END is answered: the worker says 250 only after that.
 *
 * Mail is refused (452 4.3.1, RFC 3463 "mail system full") while the
 * queue's file system has less than queue.min_free free for users: at
 * MAIL, counting the size the client declared (RFC 1870), and again
 * before DATA_END is committed, counting the message as written. The
 * monitor writes the queue as root, so without this a sender could fill
 * the file system into the root reserve.
 */
#include "autoconf.h"

#include <sys/statvfs.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "log.h"
#include "pool_worker.h"
#include "priv.h"
#include "priv_proto.h"
#include "queue/notice.h"
#include "queue/queue_file.h"
#include "queue/resolve.h"
#include "relay/relay.h"
#include "xmalloc.h"

/* Room for the trace headers on top of the message size limit. */
#define TRACE_SLACK	65536

struct priv_txn_state {
	struct mailaddr		 sender;
	char			 sender_text[ADDR_TEXT_SIZE];
	char			 helo[SMTP_DOMAIN_MAX + 1];
	bool			 utf8;
	unsigned		 flags;		/* RELAY_F_* */
	char			 envid[QUEUE_ENVID_MAX + 1];	/* xtext */
	char			 qid[QUEUE_ID_MAX + 1];
	struct resolve_list	 targets;	/* deduplicated final targets,
						   each with its recipient */
	/* per target: its RCPT's NOTIFY bits and ORCPT (or NULL) */
	unsigned		*notify;
	char			**orcpt;
	size_t			 ndsn;
	struct notice_hops	 hops;		/* Received: in the message */
	size_t			 nrcpt_cmds;	/* RCPTs accepted */
	struct queue_writer	 w;
	bool			 writing;
	off_t			 trace_len;
	uint64_t		 data_bytes;
};

static struct priv_txn_state *
txn(struct priv *p)
{
	if (p->smtp == NULL)
		p->smtp = xcalloc(1, sizeof(*p->smtp));
	return p->smtp;
}

void
priv_txn_abort(struct priv *p)
{
	struct priv_txn_state	*t = p->smtp;

	if (t != NULL) {
		if (t->writing)
			queue_writer_abort(&t->w);
		resolve_list_free(&t->targets);
		while (t->ndsn > 0)
			free(t->orcpt[--t->ndsn]);
		free(t->orcpt);
		free(t->notify);
		free(t);
		p->smtp = NULL;
	}
	p->txn = TXN_NONE;
}

/*
 * Whether the queue's file system keeps queue.min_free bytes free after
 * need more: f_bavail, what users may still use (not the root reserve).
 * Says yes when the check is off or statvfs fails (writing the queue
 * file then reports the trouble). Otherwise logs and fills r.
 */
static bool
queue_has_room(const struct config *cfg, uint64_t need, struct reason *r)
{
	struct statvfs	sv;
	uint64_t	avail;

	if (cfg->queue.min_free <= 0)
		return true;
	if (statvfs(cfg->queue_dir, &sv) == -1) {
		log_warn("statvfs %s", cfg->queue_dir);
		return true;
	}
	avail = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
	if (avail >= need && avail - need >= (uint64_t)cfg->queue.min_free)
		return true;
	log_warnx("mail refused: %llu bytes free in queue_dir, queue.min_free "
	    "is %lld, message %llu bytes", (unsigned long long)avail,
	    cfg->queue.min_free, (unsigned long long)need);
	reason_set(r, "4.3.1", "insufficient system storage, try again "
	    "later");
	return false;
}

/*
 * xtext (RFC 3461 4): octets 33..126 but "+" and "=" as themselves, any
 * octet as "+" and two upper-case hex digits. The worker re-encodes what
 * it parsed; the monitor trusts none of it.
 */
static bool
is_xtext(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '+') {
			if (!strchr("0123456789ABCDEF", s[1]) || s[1] == '\0' ||
			    !strchr("0123456789ABCDEF", s[2]) || s[2] == '\0')
				return false;
			s += 2;
		} else if (*s < 33 || *s > 126 || *s == '=')
			return false;
	}
	return true;
}

/*
 * ORCPT as the worker passes it: "addr-type;value", at most
 * SMTP_ORCPT_MAX octets; the type an atom, the value xtext, or for
 * "utf-8" (RFC 6533 3) printable ASCII and UTF-8 octets.
 */
static bool
orcpt_valid(const char *s)
{
	const char	*semi = strchr(s, ';');
	size_t		 i, tlen;

	if (strlen(s) > SMTP_ORCPT_MAX || semi == NULL || semi[1] == '\0')
		return false;
	tlen = (size_t)(semi - s);
	if (tlen == 0 || tlen > SMTP_ADDRTYPE_MAX)
		return false;
	for (i = 0; i < tlen; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!(ch >= 'a' && ch <= 'z') && !(ch >= '0' && ch <= '9') &&
		    strchr("!#$%&'*+-/=?^_`{|}~", ch) == NULL)
			return false;
	}
	if (tlen == 5 && memcmp(s, "utf-8", 5) == 0) {
		for (s = semi + 1; *s != '\0'; s++)
			if ((unsigned char)*s <= 32 || *s == 127)
				return false;
		return true;
	}
	return is_xtext(semi + 1);
}

static bool
needs_auth(const struct priv *p)
{
	return p->role == ROLE_SUBMISSION || p->role == ROLE_SMTPS;
}

int
priv_answer_mail(struct priv *p, struct ipc_msg *m)
{
	struct priv_txn_state	*t;
	struct reason		 r;
	char			 sender[ADDR_TEXT_SIZE], helo[SMTP_DOMAIN_MAX + 1];
	char			 envid[QUEUE_ENVID_MAX + 1];
	uint32_t		 flags;
	uint64_t		 size;
	struct ipc_msg		*rep;

	if (ipc_get_str(m, sender, sizeof(sender), ADDR_TEXT_MAX) == -1 ||
	    ipc_get_str(m, helo, sizeof(helo), SMTP_DOMAIN_MAX) == -1 ||
	    ipc_get_u32(m, &flags) == -1 || ipc_get_u64(m, &size) == -1 ||
	    ipc_get_str(m, envid, sizeof(envid), QUEUE_ENVID_MAX) == -1 ||
	    ipc_get_end(m) == -1)
		return PRIV_H_REFUSE;
	if ((flags & ~(uint32_t)PRIV_MAIL_FLAGS) != 0 ||
	    ((flags & PRIV_MAIL_RET_HDRS) && (flags & PRIV_MAIL_RET_FULL)) ||
	    !is_xtext(envid))
		return PRIV_H_REFUSE;	/* the worker parsed them already */
	t = txn(p);
	t->utf8 = (flags & PRIV_MAIL_UTF8) != 0;
	t->flags = (t->utf8 ? RELAY_F_UTF8 : 0) |
	    ((flags & PRIV_MAIL_8BIT) ? RELAY_F_8BIT : 0) |
	    ((flags & PRIV_MAIL_RET_HDRS) ? RELAY_F_RET_HDRS : 0) |
	    ((flags & PRIV_MAIL_RET_FULL) ? RELAY_F_RET_FULL : 0);
	snprintf(t->envid, sizeof(t->envid), "%s", envid);
	if (sender[0] == '\0')
		memset(&t->sender, 0, sizeof(t->sender));
	else if (addr_parse_mailbox(sender, strlen(sender),
	    ADDR_SENDER | (t->utf8 ? ADDR_UTF8 : 0), &t->sender, &r) == -1) {
		priv_txn_abort(p);
		return PRIV_H_REFUSE;	/* the worker parsed it already */
	}
	if (needs_auth(p) && !p->authed) {
		priv_txn_abort(p);
		reason_set(&r, "5.7.0", "authentication required");
		return priv_reply_fail(p, &r);
	}
	if (p->authed && p->cfg->smtp.authenticated_sender == AUTH_SENDER_OWN &&
	    !resolve_sender_owned(p->cfg, p->aliases, &t->sender, p->user)) {
		log_info("sender <%s> refused for user %s", sender, p->user);
		priv_txn_abort(p);
		reason_set(&r, "5.7.1", "sender address not owned by user %s",
		    p->user);
		return priv_reply_fail(p, &r);
	}
	if (p->cfg->smtp.message_size_limit > 0 &&
	    size > (uint64_t)p->cfg->smtp.message_size_limit) {
		priv_txn_abort(p);
		reason_set(&r, "5.3.4", "message size exceeds the limit of "
		    "%lld octets", p->cfg->smtp.message_size_limit);
		return priv_reply_fail(p, &r);
	}
	if (!queue_has_room(p->cfg, size, &r)) {
		priv_txn_abort(p);
		return priv_reply_fail(p, &r);
	}
	snprintf(t->sender_text, sizeof(t->sender_text), "%s", sender);
	snprintf(t->helo, sizeof(t->helo), "%s", helo);
	queue_id_new(t->qid);
	p->txn = TXN_MAIL;
	rep = priv_reply_begin(p);
	ipc_put_str(rep, t->qid);
	return priv_reply_send(p, -1);
}

int
priv_answer_rcpt(struct priv *p, struct ipc_msg *m)
{
	struct priv_txn_state	*t = txn(p);
	struct mailaddr		 a;
	struct reason		 r;
	char			 text[SMTP_PATH_MAX + 1];
	char			 orcpt[SMTP_ORCPT_MAX + 1];
	uint32_t		 notify;
	size_t			 n0, i;
	int			 code;

	if (ipc_get_str(m, text, sizeof(text), SMTP_PATH_MAX) == -1 ||
	    ipc_get_u32(m, &notify) == -1 ||
	    ipc_get_str(m, orcpt, sizeof(orcpt), SMTP_ORCPT_MAX) == -1 ||
	    ipc_get_end(m) == -1)
		return PRIV_H_REFUSE;
	/* NOTIFY: known bits, NEVER alone (RFC 3461 4.1) */
	if ((notify & ~(uint32_t)(DSN_NOTIFY_NEVER | DSN_NOTIFY_SUCCESS |
	    DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY)) != 0 ||
	    ((notify & DSN_NOTIFY_NEVER) && notify != DSN_NOTIFY_NEVER) ||
	    (orcpt[0] != '\0' && !orcpt_valid(orcpt)))
		return PRIV_H_REFUSE;
	if (addr_parse_mailbox(text, strlen(text), ADDR_ALLOW_POSTMASTER |
	    (t->utf8 ? ADDR_UTF8 : 0), &a, &r) == -1)
		return PRIV_H_REFUSE;
	if (t->nrcpt_cmds >= (size_t)p->cfg->smtp.max_recipients) {
		reason_set(&r, "4.5.3", "too many recipients");
		return priv_reply_fail(p, &r);
	}
	/* a refused recipient leaves the targets as they were (resolve.h) */
	n0 = t->targets.n;
	if (resolve_rcpt(p->cfg, p->aliases, &a, p->authed, &t->targets,
	    &code, &r) == -1) {
		log_info("recipient <%s> refused: %s %s", text, r.status,
		    r.text);
		return priv_reply_fail(p, &r);
	}
	/* the new targets (an alias may give several) carry its DSN asks */
	if (t->targets.n > n0) {
		t->notify = xreallocarray(t->notify, t->targets.n,
		    sizeof(*t->notify));
		t->orcpt = xreallocarray(t->orcpt, t->targets.n,
		    sizeof(*t->orcpt));
		for (i = n0; i < t->targets.n; i++) {
			t->notify[i] = notify;
			t->orcpt[i] = orcpt[0] != '\0' ? xstrdup(orcpt) : NULL;
		}
		t->ndsn = t->targets.n;
	}
	t->nrcpt_cmds++;
	p->txn = TXN_RCPT;
	return priv_reply_ok(p);
}

int
priv_answer_rset(struct priv *p, struct ipc_msg *m)
{
	if (ipc_get_end(m) == -1)
		return PRIV_H_REFUSE;
	priv_txn_abort(p);
	return priv_reply_ok(p);
}

int
priv_answer_data_begin(struct priv *p, struct ipc_msg *m)
{
	struct priv_txn_state	*t = txn(p);
	struct queue_env	 env;
	struct reason		 r;
	const void		*trace;
	size_t			 tracelen, i;
	off_t			 limit = 0;

	if (ipc_get_bytes(m, &trace, &tracelen, IPC_STR_MAX * 4) == -1 ||
	    ipc_get_end(m) == -1 || memchr(trace, '\0', tracelen) != NULL ||
	    (tracelen > 0 && ((const char *)trace)[tracelen - 1] != '\n'))
		return PRIV_H_REFUSE;
	if (t->targets.n == 0) {
		/* every RCPT resolved to targets already listed: fine */
		reason_set(&r, "5.5.1", "no valid recipients");
		return priv_reply_fail(p, &r);
	}
	memset(&env, 0, sizeof(env));
	memcpy(env.id, t->qid, sizeof(env.id));
	env.arrival = time(NULL);
	env.sender = t->sender_text;
	env.auth_user = p->authed ? p->user : NULL;
	env.client = p->client;
	env.helo = t->helo;
	env.flags = t->flags;
	env.envid = t->envid[0] != '\0' ? t->envid : NULL;
	env.nrcpts = t->targets.n;
	env.rcpts = xcalloc(env.nrcpts, sizeof(*env.rcpts));
	for (i = 0; i < env.nrcpts; i++) {
		bool remote = strcmp(t->targets.v[i].user, QRCPT_REMOTE) == 0;

		env.rcpts[i].status = remote ? QRCPT_RELAY : QRCPT_PENDING;
		env.rcpts[i].user = t->targets.v[i].user;
		env.rcpts[i].addr = remote ? t->targets.v[i].addr :
		    t->targets.v[i].rcpt;
		if (i < t->ndsn) {
			env.rcpts[i].notify = t->notify[i];
			env.rcpts[i].orcpt = t->orcpt[i];
		}
	}
	if (p->cfg->smtp.message_size_limit > 0)
		limit = (off_t)p->cfg->smtp.message_size_limit + TRACE_SLACK;
	if (queue_writer_begin(&t->w, p->cfg->queue_dir, &env, limit, &r) ==
	    -1) {
		free(env.rcpts);
		return priv_reply_fail(p, &r);
	}
	free(env.rcpts);
	t->writing = true;
	queue_writer_write(&t->w, trace, tracelen);
	t->trace_len = (off_t)tracelen;
	t->data_bytes = 0;
	notice_hops_init(&t->hops);
	p->txn = TXN_DATA;
	return priv_reply_ok(p);
}

int
priv_answer_data_chunk(struct priv *p, struct ipc_msg *m)
{
	struct priv_txn_state	*t = txn(p);
	const void		*buf;
	size_t			 len;

	if (ipc_get_bytes(m, &buf, &len, IPC_MSG_MAX) == -1 ||
	    ipc_get_end(m) == -1)
		return PRIV_H_REFUSE;
	queue_writer_write(&t->w, buf, len);
	notice_hops_feed(&t->hops, buf, len);
	t->data_bytes += len;
	return 0;
}

int
priv_answer_data_end(struct priv *p, struct ipc_msg *m)
{
	struct priv_txn_state	*t = txn(p);
	struct reason		 r;
	struct ipc_msg		*rep;
	uint64_t		 size;
	uint32_t		 ok;
	size_t			 nrcpt = t->nrcpt_cmds;
	char			 qid[QUEUE_ID_MAX + 1];

	if (ipc_get_u64(m, &size) == -1 || ipc_get_u32(m, &ok) == -1 ||
	    ipc_get_end(m) == -1)
		return PRIV_H_REFUSE;
	if (!ok) {
		priv_txn_abort(p);
		return priv_reply_ok(p);
	}
	if (size != t->data_bytes) {
		log_warnx("worker says %llu octets, sent %llu: message "
		    "dropped", (unsigned long long)size,
		    (unsigned long long)t->data_bytes);
		priv_txn_abort(p);
		reason_set(&r, "4.3.0", "internal error, try again later");
		return priv_reply_fail(p, &r);
	}
	/*
	 * A mail loop (RFC 5321 6.3): more Received: fields than
	 * smtp.hop_limit in what the client sent (ours is not counted).
	 */
	if (t->hops.received > (unsigned)p->cfg->smtp.hop_limit) {
		log_info("id=%s: refused: %u Received: header fields, "
		    "smtp.hop_limit is %d (mail loop?)", t->qid,
		    t->hops.received, p->cfg->smtp.hop_limit);
		priv_txn_abort(p);
		reason_set(&r, "5.4.6", "too many hops (%s), mail loop?",
		    "Received: header fields");
		return priv_reply_fail(p, &r);
	}
	/* the message is written (not yet synced): it counts already */
	if (!queue_has_room(p->cfg, 0, &r)) {
		priv_txn_abort(p);
		return priv_reply_fail(p, &r);
	}
	t->writing = false;
	if (queue_writer_commit(&t->w, &r) == -1) {
		priv_txn_abort(p);
		return priv_reply_fail(p, &r);
	}
	memcpy(qid, t->qid, sizeof(qid));
	log_info("queued id=%s client=%s from=<%s> size=%llu nrcpt=%zu%s%s",
	    qid, p->client, t->sender_text, (unsigned long long)size, nrcpt,
	    p->authed ? " user=" : "", p->authed ? p->user : "");
	priv_txn_abort(p);
	priv_notify(p, "Q %s", qid);
	if (p->inetd)
		priv_inetd_queued(p, qid);
	rep = priv_reply_begin(p);
	ipc_put_str(rep, qid);
	return priv_reply_send(p, -1);
}

int
priv_answer_vrfy(struct priv *p, struct ipc_msg *m)
{
	struct resolve_list	 l = { NULL, 0 };
	struct mailaddr		 a;
	struct reason		 r;
	struct ipc_msg		*rep;
	char			 text[SMTP_PATH_MAX + 1], *out;
	size_t			 i, len = 0, cap = IPC_STR_MAX;
	uint32_t		 expand;
	int			 code;

	if (ipc_get_str(m, text, sizeof(text), SMTP_PATH_MAX) == -1 ||
	    ipc_get_u32(m, &expand) == -1 || ipc_get_end(m) == -1 ||
	    expand > 1)
		return PRIV_H_REFUSE;
	/* off by default: address harvesting (checked here as well) */
	if (!expand && !p->cfg->smtp.vrfy) {
		reason_set(&r, "2.5.2", "cannot VRFY user");
		return priv_reply_fail(p, &r);
	}
	if (expand && !p->cfg->smtp.expn) {
		reason_set(&r, "5.5.1", "EXPN not available");
		return priv_reply_fail(p, &r);
	}
	if (addr_parse_mailbox(text, strlen(text), ADDR_ALLOW_POSTMASTER |
	    ADDR_UTF8, &a, &r) == -1)
		return PRIV_H_REFUSE;
	/* only our own users: VRFY never says anything about relaying */
	if (resolve_rcpt(p->cfg, p->aliases, &a, false, &l, &code, &r) == -1) {
		resolve_list_free(&l);	/* empty: resolve_rcpt took nothing */
		return priv_reply_fail(p, &r);
	}
	log_info("%s <%s>: %zu target(s)", expand ? "EXPN" : "VRFY", text,
	    l.n);
	out = xmalloc(cap);
	out[0] = '\0';
	if (!expand)
		snprintf(out, cap, "%s", text);
	for (i = 0; expand && i < l.n; i++) {
		const char *t = strcmp(l.v[i].user, QRCPT_REMOTE) == 0 ?
		    l.v[i].addr : l.v[i].user;
		int n = snprintf(out + len, cap - len, "%s%s", len ? "\n" : "",
		    t);

		if (n < 0 || (size_t)n >= cap - len) {
			out[len] = '\0';	/* the rest does not fit */
			break;
		}
		len += (size_t)n;
	}
	resolve_list_free(&l);
	rep = priv_reply_begin(p);
	ipc_put_str(rep, out);
	free(out);
	return priv_reply_send(p, -1);
}
