/*
 * libFuzzer target for smtpd/milter_proto.c, the parser of what a
 * content filter (milter) answers. Input: the reply command octet, then
 * the packet's data. Checks, on every reply the parser accepts:
 *   - header names are ftext, header values hold CR/LF only as folding
 *     (so a filter cannot inject a header or end the header section);
 *   - strings lie inside the packet;
 *   - a reply code is 4xx or 5xx, an enhanced status matches its class,
 *     the text has no control characters.
 * The same data also goes through the OPTNEG parser.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd/milter_proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(e)	do { if (!(e)) { fprintf(stderr, "%s:%d: %s\n", \
			    __FILE__, __LINE__, #e); abort(); } } while (0)

static int
inside(const char *s, const char *buf, size_t len)
{
	return s >= buf && s + strlen(s) < buf + len;
}

static void
check_value(const char *v)
{
	size_t	i, n = strlen(v);

	for (i = 0; i < n; i++) {
		if (v[i] == '\r')
			CHECK(i + 1 < n && v[i + 1] == '\n');
		if (v[i] == '\n')
			CHECK(i + 1 < n && (v[i + 1] == ' ' ||
			    v[i + 1] == '\t'));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct milter_reply	 r;
	struct milter_neg	 neg;
	const char		*why;
	char			*buf;
	size_t			 len, i;

	if (size < 1)
		return 0;
	len = size - 1;
	/* a copy of exactly the packet data: overreads are caught */
	buf = malloc(len ? len : 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data + 1, len);
	if (milter_parse_reply((char)data[0], buf, len, &r, &why) == 0) {
		switch (r.cmd) {
		case 'h': case 'i': case 'm':
			CHECK(inside(r.name, buf, len));
			CHECK(inside(r.value, buf, len));
			CHECK(milter_header_name_ok(r.name, strlen(r.name)));
			for (i = 0; r.name[i] != '\0'; i++)
				CHECK(r.name[i] > 32 && r.name[i] < 127 &&
				    r.name[i] != ':');
			check_value(r.value);
			break;
		case 'y':
			CHECK(r.code >= 400 && r.code <= 599);
			CHECK(r.status[0] == '\0' ||
			    r.status[0] - '0' == r.code / 100);
			CHECK(inside(r.text, buf, len));
			for (i = 0; r.text[i] != '\0'; i++)
				CHECK((unsigned char)r.text[i] >= 32 &&
				    r.text[i] != 127);
			break;
		case '+': case '-': case '2': case 'e': case 'q':
			CHECK(inside(r.name, buf, len));
			CHECK(strpbrk(r.name, "\r\n") == NULL);
			break;
		case 'b':
			CHECK(r.data == buf && r.datalen == len);
			break;
		}
	} else
		CHECK(why != NULL && why[0] != '\0');
	if (milter_parse_optneg(buf, len, MILTER_A_ALL, MILTER_P_OFFER, &neg,
	    &why) == 0) {
		CHECK(neg.version >= 2 && neg.version <= MILTER_VERSION);
		CHECK((neg.actions & ~(uint32_t)MILTER_A_ALL) == 0);
	}
	free(buf);
	return 0;
}
