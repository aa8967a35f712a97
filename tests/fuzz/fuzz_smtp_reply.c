/*
 * libFuzzer target for relay/relay_reply.c, the relay's SMTP reply
 * parser: what a remote server sends is split at LF into lines (a line
 * that had CR LF is fed as crlf), fed one by one until the reply ends or
 * is malformed, then read as an EHLO reply. Checks: a complete reply has
 * one code of three digits in 200-559 on every line, at most
 * RELAY_REPLY_LINES_MAX lines, text NUL-terminated within its buffer, an
 * enhanced status only of the reply's class; an error always has a
 * reason; nothing is read or written out of bounds (ASan).
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/relay_reply.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(e)	do { if (!(e)) { fprintf(stderr, "%s:%d: %s\n", \
			    __FILE__, __LINE__, #e); abort(); } } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct relay_reply	 r;
	struct relay_ehlo	 e;
	const char		*p = (const char *)data, *end = p + size, *nl;
	char			 line[256];
	size_t			 len;
	bool			 crlf;
	int			 rc = 0;

	relay_reply_init(&r);
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		crlf = nl != NULL && len > 0 && p[len - 1] == '\r';
		rc = relay_reply_feed(&r, p, crlf ? len - 1 : len, crlf);
		if (rc != 0)
			break;
		p = nl != NULL ? nl + 1 : end;
	}
	CHECK(r.textlen < sizeof(r.text) && r.text[r.textlen] == '\0');
	CHECK(r.nlines <= RELAY_REPLY_LINES_MAX);
	if (rc == -1) {
		CHECK(r.err[0] != '\0');
		return 0;
	}
	if (rc == 1) {
		CHECK(r.done && r.code >= 200 && r.code <= 559);
		CHECK(r.status[0] == '\0' || r.status[0] == '0' + r.code / 100);
		CHECK(strlen(r.status) < sizeof(r.status));
		relay_reply_line(&r, line, sizeof(line));
		CHECK(strlen(line) < sizeof(line));
		relay_reply_ehlo(&r, &e);
		/* feeding after the end is an error, never a crash */
		CHECK(relay_reply_feed(&r, "250 x", 5, true) == -1);
	}
	return 0;
}
