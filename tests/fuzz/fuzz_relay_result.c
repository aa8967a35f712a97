/*
 * libFuzzer target for the queue runner's side of the relay worker
 * boundary (relay/relay_ipc.c): a hostile worker's RELAY_IPC_RESULT
 * message, decoded against a fixed request of three recipients
 * (indices 0, 5, 9) and checked by relay_result_check(). Checks: what
 * the check accepts has one result per requested index, codes of 0 or
 * 200-599, statuses of the class's digit, NUL-terminated printable text;
 * the decoder never reads out of bounds (ASan); and a result encoded by
 * the worker's own encoder decodes to the same thing.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/relay_ipc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(e)	do { if (!(e)) { fprintf(stderr, "%s:%d: %s\n", \
			    __FILE__, __LINE__, #e); abort(); } } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ipc_msg	 m, m2;
	struct relay_rcpt_req	 rq[3] = {
		{ 0, "a@example.org", 0, NULL },
		{ 5, "b@example.org", 0, NULL },
		{ 9, "c@example.org", 0, NULL },
	};
	struct relay_rcpt_res	 rr[4], rr2[4];
	struct relay_req	 req;
	struct relay_res	 res, res2;
	char			 err[256];
	size_t			 i;

	if (size > IPC_MSG_MAX - IPC_HDR_LEN)
		return 0;
	memset(&req, 0, sizeof(req));
	req.rcpts = rq;
	req.nrcpts = 3;
	ipc_msg_init(&m, RELAY_IPC_RESULT);
	memcpy(m.buf + IPC_HDR_LEN, data, size);
	m.len = size;
	memset(&res, 0, sizeof(res));
	memset(rr, 0, sizeof(rr));
	res.rcpts = rr;
	if (relay_ipc_get_res(&m, &res, 4) == -1)
		return 0;
	CHECK(res.nrcpts <= 4);
	if (relay_result_check(&req, &res, err, sizeof(err)) == -1) {
		CHECK(err[0] != '\0');
		return 0;
	}
	CHECK(res.nrcpts == 3);
	for (i = 0; i < res.nrcpts; i++) {
		CHECK(rr[i].idx == 0 || rr[i].idx == 5 || rr[i].idx == 9);
		CHECK(rr[i].code == 0 || (rr[i].code >= 200 &&
		    rr[i].code <= 599));
		CHECK(rr[i].why.status[0] == "245"[rr[i].cls]);
		CHECK(strlen(rr[i].why.text) < sizeof(rr[i].why.text));
	}
	/* the worker's encoder gives back the same result */
	relay_ipc_put_res(&m2, &res);
	CHECK(!m2.bad);
	m2.rpos = 0;
	m2.fd = -1;
	memset(&res2, 0, sizeof(res2));
	memset(rr2, 0, sizeof(rr2));
	res2.rcpts = rr2;
	CHECK(relay_ipc_get_res(&m2, &res2, 4) == 0);
	CHECK(res2.nrcpts == res.nrcpts);
	for (i = 0; i < res.nrcpts; i++)
		CHECK(rr2[i].idx == rr[i].idx && rr2[i].code == rr[i].code &&
		    strcmp(rr2[i].why.text, rr[i].why.text) == 0);
	return 0;
}
