/*
 * Unit tests for relay/relay_ipc.c: relay_result_check(), the runner's
 * distrust of what a relay worker reports (a table of good and bad
 * results), and the request and result encodings both ways, including
 * refusal of a truncated or padded message.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "relay/relay_ipc.h"
#include "unit.h"

/* One result of a two-recipient request (indices 3 and 7). */
struct rcase {
	const char	*name;
	int		 ok;		/* what relay_result_check must say */
	size_t		 n;		/* results */
	unsigned	 idx[2];
	enum relay_class cls[2];
	int		 code[2];
	const char	*status[2];
	const char	*text[2];
	const char	*mx_host;
};

#define GOOD_TEXT	{ "Ok", "Ok" }
static const struct rcase rcases[] = {
	{ "both sent", 0, 2, { 3, 7 }, { RELAY_SENT, RELAY_SENT },
	  { 250, 250 }, { "2.0.0", "2.1.5" }, GOOD_TEXT, "mx.example.org" },
	{ "reordered, mixed", 0, 2, { 7, 3 }, { RELAY_BOUNCE, RELAY_DEFER },
	  { 550, 451 }, { "5.1.1", "4.7.1" }, { "no such user", "later" },
	  "mx1.example.org" },
	{ "ours, no code", 0, 2, { 3, 7 }, { RELAY_DEFER, RELAY_BOUNCE },
	  { 0, 0 }, { "4.4.3", "5.1.10" }, { "dns", "null MX" }, "" },
	{ "long status parts", 0, 2, { 3, 7 }, { RELAY_DEFER, RELAY_DEFER },
	  { 421, 421 }, { "4.123.456", "4.4.2" }, GOOD_TEXT, "" },
	{ "one result missing", -1, 1, { 3, 0 }, { RELAY_SENT, 0 },
	  { 250, 0 }, { "2.0.0", "" }, GOOD_TEXT, "" },
	{ "index twice", -1, 2, { 3, 3 }, { RELAY_SENT, RELAY_SENT },
	  { 250, 250 }, { "2.0.0", "2.0.0" }, GOOD_TEXT, "" },
	{ "index not asked", -1, 2, { 3, 8 }, { RELAY_SENT, RELAY_SENT },
	  { 250, 250 }, { "2.0.0", "2.0.0" }, GOOD_TEXT, "" },
	{ "code 600", -1, 2, { 3, 7 }, { RELAY_BOUNCE, RELAY_SENT },
	  { 600, 250 }, { "5.0.0", "2.0.0" }, GOOD_TEXT, "" },
	{ "code 199", -1, 2, { 3, 7 }, { RELAY_DEFER, RELAY_SENT },
	  { 199, 250 }, { "4.0.0", "2.0.0" }, GOOD_TEXT, "" },
	{ "sent without a reply", -1, 2, { 3, 7 }, { RELAY_SENT, RELAY_SENT },
	  { 0, 250 }, { "2.0.0", "2.0.0" }, GOOD_TEXT, "" },
	{ "deferred with a 250", -1, 2, { 3, 7 }, { RELAY_DEFER, RELAY_SENT },
	  { 250, 250 }, { "4.0.0", "2.0.0" }, GOOD_TEXT, "" },
	{ "sent, class 5 status", -1, 2, { 3, 7 }, { RELAY_SENT, RELAY_SENT },
	  { 250, 250 }, { "5.0.0", "2.0.0" }, GOOD_TEXT, "" },
	{ "bounce, class 4 status", -1, 2, { 3, 7 },
	  { RELAY_BOUNCE, RELAY_SENT }, { 550, 250 }, { "4.1.1", "2.0.0" },
	  GOOD_TEXT, "" },
	{ "status four digits", -1, 2, { 3, 7 }, { RELAY_DEFER, RELAY_SENT },
	  { 451, 250 }, { "4.1234.1", "2.0.0" }, GOOD_TEXT, "" },
	{ "status not numeric", -1, 2, { 3, 7 }, { RELAY_DEFER, RELAY_SENT },
	  { 451, 250 }, { "4.x.1", "2.0.0" }, GOOD_TEXT, "" },
	{ "status empty part", -1, 2, { 3, 7 }, { RELAY_DEFER, RELAY_SENT },
	  { 451, 250 }, { "4..1", "2.0.0" }, GOOD_TEXT, "" },
	{ "status trailing", -1, 2, { 3, 7 }, { RELAY_DEFER, RELAY_SENT },
	  { 451, 250 }, { "4.1.1 ", "2.0.0" }, GOOD_TEXT, "" },
	{ "control character", -1, 2, { 3, 7 }, { RELAY_DEFER, RELAY_SENT },
	  { 451, 250 }, { "4.1.1", "2.0.0" }, { "evil\r\nX: y", "Ok" }, "" },
	{ "8-bit text", -1, 2, { 3, 7 }, { RELAY_DEFER, RELAY_SENT },
	  { 451, 250 }, { "4.1.1", "2.0.0" }, { "caf\xc3\xa9", "Ok" }, "" },
	{ "host with a space", -1, 2, { 3, 7 }, { RELAY_SENT, RELAY_SENT },
	  { 250, 250 }, { "2.0.0", "2.0.0" }, GOOD_TEXT, "mx example" },
};

static void
fill(const struct rcase *c, struct relay_req *req, struct relay_rcpt_req *rq,
    struct relay_res *res, struct relay_rcpt_res *rr)
{
	size_t	i;

	memset(req, 0, sizeof(*req));
	memset(rq, 0, 2 * sizeof(*rq));
	rq[0].idx = 3;
	rq[0].addr = "a@example.org";
	rq[1].idx = 7;
	rq[1].addr = "b@example.org";
	req->rcpts = rq;
	req->nrcpts = 2;
	memset(res, 0, sizeof(*res));
	memset(rr, 0, 2 * sizeof(*rr));
	res->rcpts = rr;
	res->nrcpts = c->n;
	snprintf(res->mx_host, sizeof(res->mx_host), "%s", c->mx_host);
	snprintf(res->mx_addr, sizeof(res->mx_addr), "[192.0.2.1]:25");
	snprintf(res->tls_info, sizeof(res->tls_info), "TLSv1.3");
	for (i = 0; i < c->n; i++) {
		rr[i].idx = c->idx[i];
		rr[i].cls = c->cls[i];
		rr[i].code = c->code[i];
		snprintf(rr[i].why.status, sizeof(rr[i].why.status), "%s",
		    c->status[i]);
		snprintf(rr[i].why.text, sizeof(rr[i].why.text), "%s",
		    c->text[i]);
	}
}

START_TEST(test_result_check)
{
	const struct rcase	*c = &rcases[_i];
	struct relay_req	 req;
	struct relay_rcpt_req	 rq[2];
	struct relay_res	 res;
	struct relay_rcpt_res	 rr[2];
	char			 err[256] = "";
	int			 got;

	fill(c, &req, rq, &res, rr);
	got = relay_result_check(&req, &res, err, sizeof(err));
	ck_assert_msg(got == c->ok, "%s: got %d (%s), want %d", c->name, got,
	    err, c->ok);
}
END_TEST

/* Bytes past the end of a field, and an unterminated one. */
START_TEST(test_result_check_unterminated)
{
	struct relay_req	 req;
	struct relay_rcpt_req	 rq[2];
	struct relay_res	 res;
	struct relay_rcpt_res	 rr[2];
	char			 err[256];

	fill(&rcases[0], &req, rq, &res, rr);
	memset(rr[1].why.text, 'a', sizeof(rr[1].why.text));
	ck_assert_int_eq(relay_result_check(&req, &res, err, sizeof(err)), -1);
	fill(&rcases[0], &req, rq, &res, rr);
	memset(res.tls_info, 'a', sizeof(res.tls_info));
	ck_assert_int_eq(relay_result_check(&req, &res, err, sizeof(err)), -1);
	fill(&rcases[0], &req, rq, &res, rr);
	memset(rr[0].why.status, '2', sizeof(rr[0].why.status));
	ck_assert_int_eq(relay_result_check(&req, &res, err, sizeof(err)), -1);
	fill(&rcases[0], &req, rq, &res, rr);
	rr[0].cls = (enum relay_class)7;
	ck_assert_int_eq(relay_result_check(&req, &res, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_req_roundtrip)
{
	static struct ipc_msg		m;
	static struct relay_ipc_req	out;
	struct relay_rcpt_req		rq[2];
	struct relay_req		req;

	memset(&req, 0, sizeof(req));
	memset(rq, 0, sizeof(rq));
	snprintf(req.qid, sizeof(req.qid), "0123456789ABCDEF");
	req.body_off = 321;
	req.body_len = 4096;
	req.sender = "alice@example.test";
	req.envid = "env+2Did";
	req.flags = RELAY_F_8BIT | RELAY_F_RET_HDRS;
	req.nexthop = "[127.0.0.1]:2526";
	req.tls = RELAY_TLS_MAY;
	req.no_starttls = true;
	req.auth_user = "u";
	req.auth_pass = "secret";
	rq[0].idx = 3;
	rq[0].addr = "a@example.org";
	rq[0].notify = DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY;
	rq[0].orcpt = "rfc822;a@example.org";
	rq[1].idx = 9;
	rq[1].addr = "b@example.org";
	req.rcpts = rq;
	req.nrcpts = 2;
	relay_ipc_put_req(&m, &req);
	ck_assert(!m.bad);
	m.rpos = 0;
	m.fd = 5;
	ck_assert_int_eq(relay_ipc_get_req(&m, &out), 0);
	ck_assert_str_eq(out.req.qid, req.qid);
	ck_assert_int_eq(out.req.fd, 5);
	ck_assert_int_eq(out.req.body_off, 321);
	ck_assert_int_eq(out.req.body_len, 4096);
	ck_assert_str_eq(out.req.sender, req.sender);
	ck_assert_str_eq(out.req.envid, req.envid);
	ck_assert_uint_eq(out.req.flags, req.flags);
	ck_assert_str_eq(out.req.nexthop, req.nexthop);
	ck_assert_int_eq(out.req.tls, RELAY_TLS_MAY);
	ck_assert(out.req.no_starttls);
	ck_assert_str_eq(out.req.auth_user, "u");
	ck_assert_str_eq(out.req.auth_pass, "secret");
	ck_assert_uint_eq(out.req.nrcpts, 2);
	ck_assert_uint_eq(out.req.rcpts[1].idx, 9);
	ck_assert_str_eq(out.req.rcpts[0].addr, "a@example.org");
	ck_assert_str_eq(out.req.rcpts[0].orcpt, "rfc822;a@example.org");
	ck_assert_ptr_null(out.req.rcpts[1].orcpt);
	ck_assert_uint_eq(out.req.rcpts[0].notify,
	    DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY);
	relay_ipc_req_clear(&out);
	ck_assert_str_eq(out.auth_pass, "");

	/* one byte short, and one byte too many */
	m.rpos = 0;
	m.len--;
	m.bad = false;
	ck_assert_int_eq(relay_ipc_get_req(&m, &out), -1);
	m.rpos = 0;
	m.len += 2;
	m.bad = false;
	ck_assert_int_eq(relay_ipc_get_req(&m, &out), -1);
}
END_TEST

START_TEST(test_res_roundtrip)
{
	static struct ipc_msg	m;
	struct relay_req	req;
	struct relay_rcpt_req	rq[2];
	struct relay_res	res, back;
	struct relay_rcpt_res	rr[2], rb[2];
	char			err[256];

	fill(&rcases[1], &req, rq, &res, rr);
	res.site_fail = false;
	res.tls_failed = true;
	res.remote_dsn = true;
	relay_ipc_put_res(&m, &res);
	ck_assert(!m.bad);
	m.rpos = 0;
	m.fd = -1;
	memset(&back, 0, sizeof(back));
	back.rcpts = rb;
	ck_assert_int_eq(relay_ipc_get_res(&m, &back, 2), 0);
	ck_assert(back.tls_failed);
	ck_assert(back.remote_dsn);
	ck_assert_uint_eq(back.nrcpts, 2);
	ck_assert_uint_eq(back.rcpts[0].idx, 7);
	ck_assert_int_eq(back.rcpts[0].code, 550);
	ck_assert_str_eq(back.rcpts[0].why.text, "no such user");
	ck_assert_str_eq(back.mx_host, "mx1.example.org");
	ck_assert_int_eq(relay_result_check(&req, &back, err, sizeof(err)),
	    0);
	/* more results than there is room for */
	m.rpos = 0;
	m.bad = false;
	ck_assert_int_eq(relay_ipc_get_res(&m, &back, 1), -1);
	/* a descriptor where none belongs */
	m.rpos = 0;
	m.bad = false;
	m.fd = 3;
	ck_assert_int_eq(relay_ipc_get_res(&m, &back, 2), -1);
}
END_TEST

static Suite *
relay_ipc_suite(void)
{
	Suite	*s = suite_create("relay_ipc");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, test_result_check, 0, nitems(rcases));
	tcase_add_test(tc, test_result_check_unterminated);
	tcase_add_test(tc, test_req_roundtrip);
	tcase_add_test(tc, test_res_roundtrip);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(relay_ipc_suite)
