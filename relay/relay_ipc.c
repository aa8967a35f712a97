/*
 * Encoding and decoding of the runner <-> relay worker messages (see
 * relay_ipc.h), and relay_result_check(), the runner's look at what a
 * worker reports before it marks anything in a queue file. Linked into
 * both: the worker decodes requests and encodes results, the runner
 * (root) the other way round. Decoding fails closed, as priv/ipc.c does.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "relay/relay_ipc.h"

/* Optional strings go as a presence word and the string. */
static void
put_opt(struct ipc_msg *m, const char *s)
{
	ipc_put_u32(m, s != NULL);
	if (s != NULL)
		ipc_put_str(m, s);
}

static int
get_opt(struct ipc_msg *m, char *out, size_t outsz, size_t max,
    const char **p)
{
	uint32_t	have;

	*p = NULL;
	if (ipc_get_u32(m, &have) == -1 || have > 1)
		return -1;
	if (have == 0)
		return 0;
	if (ipc_get_str(m, out, outsz, max) == -1)
		return -1;
	*p = out;
	return 0;
}

void
relay_ipc_put_req(struct ipc_msg *m, const struct relay_req *req)
{
	size_t	i;

	ipc_msg_init(m, RELAY_IPC_DELIVER);
	if (req->nrcpts == 0 || req->nrcpts > RELAY_IPC_RCPTS_MAX) {
		m->bad = true;
		return;
	}
	ipc_put_str(m, req->qid);
	ipc_put_u64(m, (uint64_t)req->body_off);
	ipc_put_u64(m, (uint64_t)req->body_len);
	ipc_put_str(m, req->sender);
	put_opt(m, req->envid);
	ipc_put_u32(m, req->flags);
	ipc_put_str(m, req->nexthop);
	ipc_put_u32(m, req->port);
	ipc_put_u32(m, (uint32_t)req->tls);
	ipc_put_u32(m, req->no_starttls);
	put_opt(m, req->auth_user);
	put_opt(m, req->auth_pass);
	ipc_put_u32(m, (uint32_t)req->nrcpts);
	for (i = 0; i < req->nrcpts; i++) {
		ipc_put_u32(m, req->rcpts[i].idx);
		ipc_put_str(m, req->rcpts[i].addr);
		ipc_put_u32(m, req->rcpts[i].notify);
		put_opt(m, req->rcpts[i].orcpt);
	}
}

int
relay_ipc_get_req(struct ipc_msg *m, struct relay_ipc_req *o)
{
	struct relay_req	*req = &o->req;
	uint64_t		 off, len;
	uint32_t		 flags, port, tls, nost, n, i;
	const char		*dummy;

	memset(req, 0, sizeof(*req));
	req->fd = m->fd;
	if (m->type != RELAY_IPC_DELIVER ||
	    ipc_get_str(m, req->qid, sizeof(req->qid), QUEUE_ID_MAX) == -1 ||
	    ipc_get_u64(m, &off) == -1 || ipc_get_u64(m, &len) == -1 ||
	    off > INT64_MAX || len > INT64_MAX ||
	    ipc_get_str(m, o->sender, sizeof(o->sender), SMTP_PATH_MAX) ==
	    -1 ||
	    get_opt(m, o->envid, sizeof(o->envid), SMTP_ENVID_MAX,
	    &req->envid) == -1 ||
	    ipc_get_u32(m, &flags) == -1 ||
	    ipc_get_str(m, o->nexthop, sizeof(o->nexthop),
	    sizeof(o->nexthop) - 1) == -1 ||
	    ipc_get_u32(m, &port) == -1 || port > 65535 ||
	    ipc_get_u32(m, &tls) == -1 || tls > RELAY_TLS_DANE ||
	    ipc_get_u32(m, &nost) == -1 || nost > 1 ||
	    get_opt(m, o->auth_user, sizeof(o->auth_user), USER_NAME_MAX,
	    &req->auth_user) == -1 ||
	    get_opt(m, o->auth_pass, sizeof(o->auth_pass), PASSWORD_MAX,
	    &req->auth_pass) == -1 ||
	    ipc_get_u32(m, &n) == -1 || n == 0 || n > RELAY_IPC_RCPTS_MAX)
		return -1;
	req->body_off = (off_t)off;
	req->body_len = (off_t)len;
	req->sender = o->sender;
	req->flags = flags;
	req->nexthop = o->nexthop;
	req->port = port;
	req->tls = (enum relay_tls)tls;
	req->no_starttls = nost != 0;
	for (i = 0; i < n; i++) {
		struct relay_rcpt_req *rr = &o->rcpts[i];

		if (ipc_get_u32(m, &rr->idx) == -1 ||
		    ipc_get_str(m, o->addr[i], sizeof(o->addr[i]),
		    SMTP_PATH_MAX) == -1 ||
		    ipc_get_u32(m, &rr->notify) == -1 ||
		    get_opt(m, o->orcpt[i], sizeof(o->orcpt[i]),
		    SMTP_ORCPT_MAX, &dummy) == -1)
			return -1;
		rr->addr = o->addr[i];
		rr->orcpt = dummy;
	}
	req->rcpts = o->rcpts;
	req->nrcpts = n;
	return ipc_get_end(m);
}

void
relay_ipc_req_clear(struct relay_ipc_req *o)
{
	explicit_bzero(o->auth_pass, sizeof(o->auth_pass));
}

void
relay_ipc_put_res(struct ipc_msg *m, const struct relay_res *res)
{
	size_t	i;

	ipc_msg_init(m, RELAY_IPC_RESULT);
	ipc_put_u32(m, res->site_fail);
	ipc_put_u32(m, res->tls_failed);
	ipc_put_u32(m, res->remote_dsn);
	ipc_put_strn(m, res->mx_host, strnlen(res->mx_host,
	    sizeof(res->mx_host)));
	ipc_put_strn(m, res->mx_addr, strnlen(res->mx_addr,
	    sizeof(res->mx_addr)));
	ipc_put_strn(m, res->tls_info, strnlen(res->tls_info,
	    sizeof(res->tls_info)));
	ipc_put_u32(m, (uint32_t)res->nrcpts);
	for (i = 0; i < res->nrcpts; i++) {
		const struct relay_rcpt_res *r = &res->rcpts[i];

		ipc_put_u32(m, r->idx);
		ipc_put_u32(m, (uint32_t)r->cls);
		ipc_put_u32(m, (uint32_t)r->code);
		ipc_put_strn(m, r->why.status, strnlen(r->why.status,
		    sizeof(r->why.status)));
		ipc_put_strn(m, r->why.text, strnlen(r->why.text,
		    sizeof(r->why.text)));
	}
}

int
relay_ipc_get_res(struct ipc_msg *m, struct relay_res *res, size_t max)
{
	uint32_t	site, tlsf, rdsn, n, i, cls, code;

	if (m->type != RELAY_IPC_RESULT || m->fd != -1 ||
	    ipc_get_u32(m, &site) == -1 || site > 1 ||
	    ipc_get_u32(m, &tlsf) == -1 || tlsf > 1 ||
	    ipc_get_u32(m, &rdsn) == -1 || rdsn > 1 ||
	    ipc_get_str(m, res->mx_host, sizeof(res->mx_host),
	    RELAY_HOST_MAX) == -1 ||
	    ipc_get_str(m, res->mx_addr, sizeof(res->mx_addr),
	    sizeof(res->mx_addr) - 1) == -1 ||
	    ipc_get_str(m, res->tls_info, sizeof(res->tls_info),
	    sizeof(res->tls_info) - 1) == -1 ||
	    ipc_get_u32(m, &n) == -1 || n > max)
		return -1;
	res->site_fail = site != 0;
	res->tls_failed = tlsf != 0;
	res->remote_dsn = rdsn != 0;
	for (i = 0; i < n; i++) {
		struct relay_rcpt_res *r = &res->rcpts[i];

		if (ipc_get_u32(m, &r->idx) == -1 ||
		    ipc_get_u32(m, &cls) == -1 || cls > RELAY_BOUNCE ||
		    ipc_get_u32(m, &code) == -1 || code > 999 ||
		    ipc_get_str(m, r->why.status, sizeof(r->why.status),
		    sizeof(r->why.status) - 1) == -1 ||
		    ipc_get_str(m, r->why.text, sizeof(r->why.text),
		    sizeof(r->why.text) - 1) == -1)
			return -1;
		r->cls = (enum relay_class)cls;
		r->code = (int)code;
	}
	res->nrcpts = n;
	return ipc_get_end(m);
}

/* --- the runner's distrust ---------------------------------------------- */

/* Printable ASCII, NUL-terminated within sz, at most max characters. */
static bool
text_ok(const char *s, size_t sz, size_t max, bool empty_ok)
{
	size_t	n = strnlen(s, sz), i;

	if (n == sz || n > max || (n == 0 && !empty_ok))
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

/* "c.ddd.ddd" (RFC 3463 2): class c, then 1-3 digits twice. */
static bool
status_ok(const char *s, size_t sz, char cls)
{
	size_t	i = 2, k, part;

	if (strnlen(s, sz) == sz || s[0] != cls || s[1] != '.')
		return false;
	for (part = 0; part < 2; part++) {
		for (k = 0; k < 3 && s[i] >= '0' && s[i] <= '9'; k++)
			i++;
		if (k == 0)
			return false;
		if (part == 0) {
			if (s[i] != '.')
				return false;
			i++;
		}
	}
	return s[i] == '\0';
}

/* A host name as DNS spells it: letters, digits, '-', '.', '_'. */
static bool
host_ok(const char *s, size_t sz)
{
	size_t	n = strnlen(s, sz), i;

	if (n == sz || n > RELAY_HOST_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		    s[i] == '.' || s[i] == '_' || s[i] == ':' ||
		    s[i] == '[' || s[i] == ']'))
			return false;
	return true;
}

int
relay_result_check(const struct relay_req *req, const struct relay_res *res,
    char *err, size_t errsz)
{
	static const char	 classes[] = { '2', '4', '5' };
	bool			 seen[RELAY_IPC_RCPTS_MAX];
	size_t			 i, k;

	if (req->nrcpts > RELAY_IPC_RCPTS_MAX) {
		snprintf(err, errsz, "request too large");
		return -1;
	}
	if (res->nrcpts != req->nrcpts) {
		snprintf(err, errsz, "%zu results for %zu recipients",
		    res->nrcpts, req->nrcpts);
		return -1;
	}
	if (!host_ok(res->mx_host, sizeof(res->mx_host)) ||
	    !text_ok(res->mx_addr, sizeof(res->mx_addr),
	    sizeof(res->mx_addr) - 1, true) ||
	    !text_ok(res->tls_info, sizeof(res->tls_info),
	    sizeof(res->tls_info) - 1, true)) {
		snprintf(err, errsz, "malformed remote host or TLS summary");
		return -1;
	}
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < res->nrcpts; i++) {
		const struct relay_rcpt_res *r = &res->rcpts[i];

		for (k = 0; k < req->nrcpts; k++)
			if (req->rcpts[k].idx == r->idx)
				break;
		if (k == req->nrcpts) {
			snprintf(err, errsz, "result %zu: recipient index %u "
			    "was not asked for", i, r->idx);
			return -1;
		}
		if (seen[k]) {
			snprintf(err, errsz, "result %zu: recipient index %u "
			    "twice", i, r->idx);
			return -1;
		}
		seen[k] = true;
		if ((unsigned)r->cls > RELAY_BOUNCE) {
			snprintf(err, errsz, "result %zu: class %d", i,
			    (int)r->cls);
			return -1;
		}
		if ((r->code != 0 && (r->code < 200 || r->code > 599)) ||
		    (r->cls == RELAY_SENT && (r->code < 200 ||
		    r->code > 299)) ||
		    (r->cls != RELAY_SENT && r->code >= 200 &&
		    r->code <= 399)) {
			snprintf(err, errsz, "result %zu: reply code %d for "
			    "class %d", i, r->code, (int)r->cls);
			return -1;
		}
		if (!status_ok(r->why.status, sizeof(r->why.status),
		    classes[r->cls])) {
			snprintf(err, errsz, "result %zu: status \"%.7s\" for "
			    "class %d", i, r->why.status, (int)r->cls);
			return -1;
		}
		if (!text_ok(r->why.text, sizeof(r->why.text), RELAY_TEXT_MAX,
		    true)) {
			snprintf(err, errsz, "result %zu: text not printable "
			    "or too long", i);
			return -1;
		}
	}
	return 0;
}
