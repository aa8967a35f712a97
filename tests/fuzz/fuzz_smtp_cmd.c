/*
 * libFuzzer target for smtpd/smtp_parse.c and common/base64.c. Input:
 * two octets of extension flags, then a command line. The line is split
 * and its arguments given to every argument parser (whatever the verb),
 * the EHLO check, base64 and xtext. Checks the reply codes each parser
 * may give, and that accepted results are consistent: a parsed path
 * formats back (with SMTP_BARE_PATH among the flags, bare paths too),
 * base64 that decodes re-encodes to the same text (the
 * decoder is strict), xtext survives a round trip.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "base64.h"
#include "smtpd/smtp_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(e)	do { if (!(e)) { fprintf(stderr, "%s:%d: %s\n", \
			    __FILE__, __LINE__, #e); abort(); } } while (0)

static char	dec[SMTP_AUTH_LINE_MAX + 16];
static char	enc[2 * SMTP_AUTH_LINE_MAX + 16];

static void
check_addr(const struct mailaddr *a)
{
	char	text[ADDR_TEXT_SIZE];

	CHECK(addr_format(a, text, sizeof(text)) == 0);
}

static void
args(const char *s, size_t len, unsigned flags)
{
	struct smtp_mail_args	m;
	struct smtp_rcpt_args	rc;
	struct smtp_auth_args	au;
	struct reason		r;
	char			dom[SMTP_DOMAIN_MAX + 1];
	size_t			n;
	int			code;

	if (smtp_parse_mail(s, len, flags, &m, &code, &r) == 0) {
		check_addr(&m.from);
		check_addr(&m.auth);
		CHECK(!addr_has_utf8(&m.from) || m.smtputf8);
		CHECK(!m.smtputf8 || (flags & SMTP_EXT_SMTPUTF8));
		CHECK(m.size == 0 || (m.params & SMTP_PARAM_SIZE));
		CHECK(m.body == SMTP_BODY_UNSPECIFIED ||
		    (m.params & SMTP_PARAM_BODY));
		CHECK(strlen(m.envid) <= SMTP_ENVID_MAX);
	} else {
		CHECK(code == 501 || code == 553 || code == 555);
		CHECK(r.status[0] == '5');
	}
	if (smtp_parse_rcpt(s, len, flags, &rc, &code, &r) == 0) {
		check_addr(&rc.to);
		CHECK(!addr_is_null(&rc.to));
		CHECK(!(rc.notify & SMTP_NOTIFY_NEVER) ||
		    rc.notify == SMTP_NOTIFY_NEVER);
		CHECK(strlen(rc.orcpt) <= SMTP_ORCPT_MAX);
	} else
		CHECK(code == 501 || code == 553 || code == 555);
	if (smtp_parse_auth(s, len, &au, &code, &r) == 0) {
		CHECK(au.mech[0] != '\0' && strlen(au.mech) <= SASL_MECH_MAX);
		if (au.has_ir && au.irlen > 0 && au.irlen < sizeof(dec)) {
			CHECK(base64_decode(au.ir, au.irlen, dec, sizeof(dec),
			    &n) == 0);
			CHECK(base64_encode(dec, n, enc, sizeof(enc)) == 0);
			CHECK(strlen(enc) == au.irlen &&
			    memcmp(enc, au.ir, au.irlen) == 0);
		}
	} else
		CHECK(code == 501 || code == 504);
	if (addr_parse_domain(s, len, 0, dom, sizeof(dom), &r) == 0)
		CHECK(strlen(dom) == len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_cmd	 cmd;
	struct reason	 r;
	const char	*line;
	size_t		 len, n, i;
	unsigned	 flags;
	int		 code, rc;

	if (size < 2)
		return 0;
	flags = (data[0] | (unsigned)data[1] << 8) & (SMTP_EXT_SIZE |
	    SMTP_EXT_8BITMIME | SMTP_EXT_BINARYMIME | SMTP_EXT_SMTPUTF8 |
	    SMTP_EXT_AUTH | SMTP_EXT_DSN | SMTP_TXN_UTF8 | SMTP_BARE_PATH);
	line = (const char *)data + 2;
	len = size - 2;

	if (smtp_parse_cmd(line, len, &cmd, &code, &r) == 0) {
		CHECK(cmd.verb[0] != '\0' && strlen(cmd.verb) <= SMTP_VERB_MAX);
		for (i = 0; cmd.verb[i] != '\0'; i++)
			CHECK(cmd.verb[i] >= 'A' && cmd.verb[i] <= 'Z');
		CHECK(cmd.args >= line && cmd.args + cmd.argslen <= line + len);
		CHECK(memchr(cmd.args, '\0', cmd.argslen) == NULL);
		CHECK(memchr(cmd.args, '\r', cmd.argslen) == NULL);
		args(cmd.args, cmd.argslen, flags);
	} else
		CHECK(code == 500);
	/* the parsers must also cope with what the splitter would refuse */
	args(line, len, flags);

	if (len < sizeof(dec) &&
	    base64_decode(line, len, dec, sizeof(dec), &n) == 0) {
		CHECK(n <= BASE64_DECODED_MAX(len));
		CHECK(base64_encode(dec, n, enc, sizeof(enc)) == 0);
		CHECK(strlen(enc) == len && memcmp(enc, line, len) == 0);
	}
	rc = len <= 4000 ? smtp_xtext_decode(line, len, dec, sizeof(dec)) : -1;
	if (rc == 0) {
		n = strlen(dec);
		CHECK(n <= len);
		CHECK(smtp_xtext_encode(dec, n, enc, sizeof(enc)) == 0);
		CHECK(smtp_xtext_decode(enc, strlen(enc), dec + n + 1,
		    sizeof(dec) - n - 1) == 0);
		CHECK(strcmp(dec, dec + n + 1) == 0);
	}
	return 0;
}
