/*
 * SMTP command-line grammar for the smtpd worker (unprivileged, after
 * privdrop): splits the verb off a line and parses the arguments of
 * MAIL, RCPT (RFC 5321 4.1.1.2-3, 4.1.2) and AUTH (RFC 4954 4), with the
 * ESMTP parameters of SIZE (RFC 1870), BODY (RFC 6152, RFC 3030),
 * SMTPUTF8 (RFC 6531), AUTH= (RFC 4954 5) and DSN (RFC 3461 4). Every
 * byte here comes from the client; a failure costs one reply.
 */
#include "autoconf.h"

#include <string.h>

#include "addr.h"
#include "base64.h"
#include "smtp_parse.h"

/* Which argument struct a parameter handler fills. */
union smtp_args_out {
	struct smtp_mail_args	*mail;
	struct smtp_rcpt_args	*rcpt;
};

struct param_def {
	const char	*keyword;
	unsigned	 ext;		/* any of these SMTP_EXT_* enables it */
	unsigned	 bit;		/* SMTP_PARAM_* */
	bool		 has_value;	/* "KEY=value" rather than "KEY" */
	int		(*fn)(const char *, size_t, unsigned,
			    union smtp_args_out, int *, struct reason *);
};

static int	param_size(const char *, size_t, unsigned,
		    union smtp_args_out, int *, struct reason *);
static int	param_body(const char *, size_t, unsigned,
		    union smtp_args_out, int *, struct reason *);
static int	param_smtputf8(const char *, size_t, unsigned,
		    union smtp_args_out, int *, struct reason *);
static int	param_auth(const char *, size_t, unsigned,
		    union smtp_args_out, int *, struct reason *);
static int	param_ret(const char *, size_t, unsigned,
		    union smtp_args_out, int *, struct reason *);
static int	param_envid(const char *, size_t, unsigned,
		    union smtp_args_out, int *, struct reason *);
static int	param_notify(const char *, size_t, unsigned,
		    union smtp_args_out, int *, struct reason *);
static int	param_orcpt(const char *, size_t, unsigned,
		    union smtp_args_out, int *, struct reason *);

static const struct param_def mail_params[] = {
	{ "SIZE", SMTP_EXT_SIZE, SMTP_PARAM_SIZE, true, param_size },
	{ "BODY", SMTP_EXT_8BITMIME | SMTP_EXT_BINARYMIME, SMTP_PARAM_BODY,
	    true, param_body },
	{ "SMTPUTF8", SMTP_EXT_SMTPUTF8, SMTP_PARAM_SMTPUTF8, false,
	    param_smtputf8 },
	{ "AUTH", SMTP_EXT_AUTH, SMTP_PARAM_AUTH, true, param_auth },
	{ "RET", SMTP_EXT_DSN, SMTP_PARAM_RET, true, param_ret },
	{ "ENVID", SMTP_EXT_DSN, SMTP_PARAM_ENVID, true, param_envid },
	{ NULL, 0, 0, false, NULL },
};

static const struct param_def rcpt_params[] = {
	{ "NOTIFY", SMTP_EXT_DSN, SMTP_PARAM_NOTIFY, true, param_notify },
	{ "ORCPT", SMTP_EXT_DSN, SMTP_PARAM_ORCPT, true, param_orcpt },
	{ NULL, 0, 0, false, NULL },
};

static int
fail(int *code_out, int code, struct reason *r, const char *status,
    const char *text)
{
	*code_out = code;
	reason_set(r, status, "%s", text);
	return -1;
}

static bool
is_alpha(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool
is_digit(unsigned char ch)
{
	return ch >= '0' && ch <= '9';
}

static unsigned char
ascii_upper(unsigned char ch)
{
	return ch >= 'a' && ch <= 'z' ? (unsigned char)(ch - 'a' + 'A') : ch;
}

/* Whether s[0..len) is word, ignoring ASCII case. */
static bool
word_eq(const char *s, size_t len, const char *word)
{
	size_t	i;

	if (strlen(word) != len)
		return false;
	for (i = 0; i < len; i++)
		if (ascii_upper((unsigned char)s[i]) !=
		    ascii_upper((unsigned char)word[i]))
			return false;
	return true;
}

int
smtp_parse_cmd(const char *line, size_t len, struct smtp_cmd *out,
    int *code_out, struct reason *r)
{
	size_t		i, v;
	unsigned char	ch;

	memset(out, 0, sizeof(*out));
	out->args = "";
	for (i = 0; i < len; i++) {
		ch = (unsigned char)line[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return fail(code_out, 500, r, "5.5.2",
			    "control characters in command line");
	}
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	for (v = 0; v < len && is_alpha((unsigned char)line[v]); v++)
		;
	if (v == 0 || (v < len && line[v] != ' '))
		return fail(code_out, 500, r, "5.5.2", "syntax error");
	if (v > SMTP_VERB_MAX)
		return fail(code_out, 500, r, "5.5.1",
		    "command not recognized");
	for (i = 0; i < v; i++)
		out->verb[i] = (char)ascii_upper((unsigned char)line[i]);
	out->verb[v] = '\0';
	while (v < len && line[v] == ' ')
		v++;
	out->args = line + v;
	out->argslen = len - v;
	return 0;
}

bool
smtp_parse_is_bdat(const char *line, size_t len)
{
	return len >= 4 && word_eq(line, 4, "BDAT") &&
	    (len == 4 || !is_alpha((unsigned char)line[4]));
}

int
smtp_parse_bdat(const char *args, size_t len, uint64_t *size_out,
    bool *last_out, int *code_out, struct reason *r)
{
	const char	*p = args, *end = args + len;
	uint64_t	 v = 0, d;

	if (p == end || !is_digit((unsigned char)*p))
		goto bad;
	for (; p < end && is_digit((unsigned char)*p); p++) {
		d = (uint64_t)(*p - '0');
		/* v * 10 + d > UINT64_MAX, without overflowing on the way */
		if (v > UINT64_MAX / 10 || d > UINT64_MAX - v * 10)
			goto bad;
		v = v * 10 + d;
	}
	*size_out = v;
	*last_out = false;
	if (p == end)
		return 0;
	if (*p++ != ' ')
		goto bad;
	while (p < end && *p == ' ')
		p++;
	if (word_eq(p, (size_t)(end - p), "LAST")) {
		*last_out = true;
		return 0;
	}
bad:
	return fail(code_out, 501, r, "5.5.4", "syntax: BDAT size [LAST]");
}

/* esmtp-value = 1*(%d33-60 / %d62-126), plus UTF-8 under SMTPUTF8. */
static bool
esmtp_value_ok(const char *s, size_t len, bool utf8)
{
	size_t		i, n;
	unsigned char	ch;

	if (len == 0)
		return false;
	for (i = 0; i < len; i += n) {
		ch = (unsigned char)s[i];
		n = 1;
		if (ch >= 0x80) {
			if (!utf8 ||
			    (n = addr_utf8_seqlen(s + i, len - i)) == 0)
				return false;
		} else if (ch < 33 || ch == '=' || ch > 126)
			return false;
	}
	return true;
}

/*
 * Mail-parameters = esmtp-param *(SP esmtp-param) (RFC 5321 4.1.2),
 * after the path. Runs of spaces are tolerated. Each keyword is looked
 * up in defs; unknown or unadvertised ones are 555, bad or repeated
 * ones 501.
 */
static int
parse_params(const char *s, size_t len, const struct param_def *defs,
    unsigned flags, bool utf8, unsigned *seen, union smtp_args_out out,
    int *code_out, struct reason *r)
{
	const struct param_def	*d;
	const char		*key, *val;
	size_t			 p = 0, klen, vlen, i;

	if (len > 0 && s[0] != ' ')
		return fail(code_out, 501, r, "5.5.2",
		    "syntax error after the address");
	for (;;) {
		while (p < len && s[p] == ' ')
			p++;
		if (p == len)
			return 0;
		key = s + p;
		while (p < len && s[p] != ' ' && s[p] != '=')
			p++;
		klen = (size_t)(s + p - key);
		val = NULL;
		vlen = 0;
		if (p < len && s[p] == '=') {
			val = s + ++p;
			while (p < len && s[p] != ' ')
				p++;
			vlen = (size_t)(s + p - val);
		}
		/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
		for (i = 0; i < klen; i++)
			if (!is_alpha((unsigned char)key[i]) &&
			    !is_digit((unsigned char)key[i]) &&
			    (i == 0 || key[i] != '-'))
				break;
		if (klen == 0 || i < klen)
			return fail(code_out, 501, r, "5.5.4",
			    "invalid parameter keyword");
		if (val != NULL && !esmtp_value_ok(val, vlen, utf8)) {
			*code_out = 501;
			reason_set(r, "5.5.4", "invalid value for %.*s",
			    (int)(klen > 32 ? 32 : klen), key);
			return -1;
		}
		for (d = defs; d->keyword != NULL; d++)
			if (word_eq(key, klen, d->keyword))
				break;
		if (d->keyword == NULL || !(d->ext & flags)) {
			*code_out = 555;
			reason_set(r, "5.5.4", "parameter %.*s not supported",
			    (int)(klen > 32 ? 32 : klen), key);
			return -1;
		}
		if (*seen & d->bit) {
			*code_out = 501;
			reason_set(r, "5.5.4", "parameter %s given twice",
			    d->keyword);
			return -1;
		}
		*seen |= d->bit;
		if (d->has_value != (val != NULL)) {
			*code_out = 501;
			reason_set(r, "5.5.4", d->has_value ?
			    "parameter %s needs a value" :
			    "parameter %s takes no value", d->keyword);
			return -1;
		}
		if (d->fn(val, vlen, flags, out, code_out, r) == -1)
			return -1;
	}
}

/* RFC 1870: size-value = 1*20DIGIT. Saturates rather than wraps. */
static int
param_size(const char *v, size_t len, unsigned flags, union smtp_args_out o,
    int *code_out, struct reason *r)
{
	uint64_t	n = 0;
	size_t		i;

	(void)flags;
	if (len > 20)
		return fail(code_out, 501, r, "5.5.4", "invalid SIZE value");
	for (i = 0; i < len; i++) {
		if (!is_digit((unsigned char)v[i]))
			return fail(code_out, 501, r, "5.5.4",
			    "invalid SIZE value");
		if (n > (UINT64_MAX - 9) / 10)
			n = UINT64_MAX;
		else
			n = n * 10 + (uint64_t)(v[i] - '0');
	}
	o.mail->size = n;
	return 0;
}

/* RFC 6152 2: BODY=7BIT / 8BITMIME; RFC 3030 3: BODY=BINARYMIME. */
static int
param_body(const char *v, size_t len, unsigned flags, union smtp_args_out o,
    int *code_out, struct reason *r)
{
	if (word_eq(v, len, "7BIT"))
		o.mail->body = SMTP_BODY_7BIT;
	else if (word_eq(v, len, "8BITMIME") && (flags & SMTP_EXT_8BITMIME))
		o.mail->body = SMTP_BODY_8BITMIME;
	else if (word_eq(v, len, "BINARYMIME") &&
	    (flags & SMTP_EXT_BINARYMIME))
		o.mail->body = SMTP_BODY_BINARYMIME;
	else if (word_eq(v, len, "8BITMIME") || word_eq(v, len, "BINARYMIME"))
		return fail(code_out, 555, r, "5.5.4",
		    "BODY type not supported");
	else
		return fail(code_out, 501, r, "5.5.4", "invalid BODY value");
	return 0;
}

static int
param_smtputf8(const char *v, size_t len, unsigned flags,
    union smtp_args_out o, int *code_out, struct reason *r)
{
	(void)v;
	(void)len;
	(void)flags;
	(void)code_out;
	(void)r;
	o.mail->smtputf8 = true;
	return 0;
}

/* RFC 4954 5: AUTH=xtext(mailbox) or AUTH=<>. */
static int
param_auth(const char *v, size_t len, unsigned flags, union smtp_args_out o,
    int *code_out, struct reason *r)
{
	char	buf[SMTP_CMD_LINE_ACCEPT];

	if (smtp_xtext_decode(v, len, buf, sizeof(buf)) == -1)
		return fail(code_out, 501, r, "5.5.4", "invalid AUTH value");
	if (strcmp(buf, "<>") == 0) {
		memset(&o.mail->auth, 0, sizeof(o.mail->auth));
		return 0;
	}
	if (addr_parse_mailbox(buf, strlen(buf),
	    (flags & SMTP_EXT_SMTPUTF8) ? ADDR_UTF8 : 0, &o.mail->auth,
	    NULL) == -1)
		return fail(code_out, 501, r, "5.5.4",
		    "invalid AUTH mailbox");
	return 0;
}

/* RFC 3461 4.3: RET=FULL / HDRS. */
static int
param_ret(const char *v, size_t len, unsigned flags, union smtp_args_out o,
    int *code_out, struct reason *r)
{
	(void)flags;
	if (word_eq(v, len, "FULL"))
		o.mail->ret = SMTP_RET_FULL;
	else if (word_eq(v, len, "HDRS"))
		o.mail->ret = SMTP_RET_HDRS;
	else
		return fail(code_out, 501, r, "5.5.4", "invalid RET value");
	return 0;
}

/* Whether every octet of s is printable US-ASCII (RFC 3461 4.2, 4.4). */
static bool
is_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 32 || (unsigned char)*s > 126)
			return false;
	return true;
}

/* RFC 3461 4.4: ENVID=xtext, at most 100 characters, printable. */
static int
param_envid(const char *v, size_t len, unsigned flags, union smtp_args_out o,
    int *code_out, struct reason *r)
{
	(void)flags;
	if (len > SMTP_ENVID_MAX ||
	    smtp_xtext_decode(v, len, o.mail->envid,
	    sizeof(o.mail->envid)) == -1 || !is_printable(o.mail->envid)) {
		o.mail->envid[0] = '\0';
		return fail(code_out, 501, r, "5.5.4", "invalid ENVID value");
	}
	return 0;
}

/* RFC 3461 4.1: NOTIFY=NEVER / 1#(SUCCESS / FAILURE / DELAY). */
static int
param_notify(const char *v, size_t len, unsigned flags,
    union smtp_args_out o, int *code_out, struct reason *r)
{
	size_t		i = 0, j;
	unsigned	bits = 0, bit;

	(void)flags;
	while (i <= len) {
		for (j = i; j < len && v[j] != ','; j++)
			;
		if (word_eq(v + i, j - i, "NEVER"))
			bit = SMTP_NOTIFY_NEVER;
		else if (word_eq(v + i, j - i, "SUCCESS"))
			bit = SMTP_NOTIFY_SUCCESS;
		else if (word_eq(v + i, j - i, "FAILURE"))
			bit = SMTP_NOTIFY_FAILURE;
		else if (word_eq(v + i, j - i, "DELAY"))
			bit = SMTP_NOTIFY_DELAY;
		else
			return fail(code_out, 501, r, "5.5.4",
			    "invalid NOTIFY value");
		if (bits & bit)
			return fail(code_out, 501, r, "5.5.4",
			    "invalid NOTIFY value");
		bits |= bit;
		i = j + 1;
	}
	if ((bits & SMTP_NOTIFY_NEVER) && bits != SMTP_NOTIFY_NEVER)
		return fail(code_out, 501, r, "5.5.4",
		    "NOTIFY=NEVER cannot be combined");
	o.rcpt->notify = bits;
	return 0;
}

/*
 * RFC 3461 4.2: ORCPT=addr-type ";" xtext, at most 500 characters.
 * addr-type is an atom, kept in lower case. An "rfc822" (or unknown)
 * address is xtext and decodes to printable ASCII; a "utf-8" one (RFC
 * 6533 3) has its own \x{...} encoding and is kept as sent.
 */
static int
param_orcpt(const char *v, size_t len, unsigned flags,
    union smtp_args_out o, int *code_out, struct reason *r)
{
	struct smtp_rcpt_args	*a = o.rcpt;
	const char		*semi;
	size_t			 tlen, i;

	(void)flags;
	semi = memchr(v, ';', len);
	if (len > SMTP_ORCPT_MAX || semi == NULL)
		goto bad;
	tlen = (size_t)(semi - v);
	if (tlen == 0 || tlen > SMTP_ADDRTYPE_MAX || semi + 1 == v + len)
		goto bad;
	for (i = 0; i < tlen; i++) {
		unsigned char	ch = (unsigned char)v[i];

		if (!is_alpha(ch) && !is_digit(ch) &&
		    strchr("!#$%&'*+-/=?^_`{|}~", ch) == NULL)
			goto bad;
		a->orcpt_type[i] = (char)(is_alpha(ch) ? ch | 0x20 : ch);
	}
	a->orcpt_type[tlen] = '\0';
	if (strcmp(a->orcpt_type, "utf-8") == 0) {
		memcpy(a->orcpt, semi + 1, (size_t)(v + len - semi - 1));
		a->orcpt[v + len - semi - 1] = '\0';
		return 0;
	}
	if (smtp_xtext_decode(semi + 1, (size_t)(v + len - semi - 1),
	    a->orcpt, sizeof(a->orcpt)) == -1 || !is_printable(a->orcpt))
		goto bad;
	return 0;
bad:
	a->orcpt_type[0] = a->orcpt[0] = '\0';
	return fail(code_out, 501, r, "5.5.4", "invalid ORCPT value");
}

/* Maps an address error to its reply code: 553 for 5.6.7, else 501. */
static int
addr_fail(int *code_out, const struct reason *r)
{
	*code_out = r != NULL && strcmp(r->status, "5.6.7") == 0 ? 553 : 501;
	return -1;
}

/*
 * Skips "FROM:" / "TO:" (any case) and the one space some clients put
 * after the colon. Returns the offset of the path, or 0 if the keyword
 * is missing.
 */
static size_t
skip_keyword(const char *args, size_t len, const char *kw)
{
	size_t	n = strlen(kw);

	if (len < n || !word_eq(args, n, kw))
		return 0;
	if (n < len && args[n] == ' ')
		n++;
	return n;
}

/*
 * The path at args[0..len): "<...>" as RFC 5321 4.1.2 has it, or, with
 * SMTP_BARE_PATH and no "<", a bare mailbox ("user@example.org") as
 * printers and old scripts send it. The bare form is the one word up to
 * the next space (or the end), parsed whole by the same mailbox parser:
 * no brackets, spaces, quoted spaces or control characters can get
 * into it, so it cannot be read two ways; ESMTP parameters may follow
 * after a space, as after a bracketed path. Returns 0 with the octets
 * used in *used_out, or -1 with r.
 */
static int
parse_path(const char *args, size_t len, unsigned flags, unsigned aflags,
    struct mailaddr *out, size_t *used_out, struct reason *r)
{
	const char	*sp;
	size_t		 n;

	if (!(flags & SMTP_BARE_PATH) || len == 0 || args[0] == '<')
		return addr_parse_path(args, len, aflags, out, used_out, r);
	sp = memchr(args, ' ', len);
	n = sp != NULL ? (size_t)(sp - args) : len;
	/* never the null path: "<>" needs its brackets */
	if (addr_parse_mailbox(args, n, aflags & ~ADDR_ALLOW_NULL, out,
	    r) == -1)
		return -1;
	*used_out = n;
	return 0;
}

int
smtp_parse_mail(const char *args, size_t len, unsigned flags,
    struct smtp_mail_args *out, int *code_out, struct reason *r)
{
	union smtp_args_out	o;
	size_t			p, used;
	unsigned		aflags = ADDR_ALLOW_NULL | ADDR_SENDER;

	memset(out, 0, sizeof(*out));
	o.mail = out;
	if ((p = skip_keyword(args, len, "FROM:")) == 0)
		return fail(code_out, 501, r, "5.5.2",
		    "syntax: MAIL FROM:<address>");
	if (flags & SMTP_EXT_SMTPUTF8)
		aflags |= ADDR_UTF8;
	if (parse_path(args + p, len - p, flags, aflags, &out->from, &used,
	    r) == -1)
		return addr_fail(code_out, r);
	p += used;
	if (parse_params(args + p, len - p, mail_params, flags,
	    (flags & SMTP_EXT_SMTPUTF8) != 0, &out->params, o, code_out,
	    r) == -1)
		goto bad;
	if (addr_has_utf8(&out->from) && !out->smtputf8) {
		fail(code_out, 553, r, "5.6.7",
		    "non-ASCII address needs SMTPUTF8");
		goto bad;
	}
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return -1;
}

int
smtp_parse_rcpt(const char *args, size_t len, unsigned flags,
    struct smtp_rcpt_args *out, int *code_out, struct reason *r)
{
	union smtp_args_out	o;
	size_t			p, used;
	unsigned		aflags = ADDR_ALLOW_POSTMASTER;

	memset(out, 0, sizeof(*out));
	o.rcpt = out;
	if ((p = skip_keyword(args, len, "TO:")) == 0)
		return fail(code_out, 501, r, "5.5.2",
		    "syntax: RCPT TO:<address>");
	if ((flags & SMTP_EXT_SMTPUTF8) && (flags & SMTP_TXN_UTF8))
		aflags |= ADDR_UTF8;
	if (parse_path(args + p, len - p, flags, aflags, &out->to, &used,
	    r) == -1)
		return addr_fail(code_out, r);
	p += used;
	if (parse_params(args + p, len - p, rcpt_params, flags,
	    (aflags & ADDR_UTF8) != 0, &out->params, o, code_out, r) == -1) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}

int
smtp_parse_auth(const char *args, size_t len, struct smtp_auth_args *out,
    int *code_out, struct reason *r)
{
	size_t		i;
	unsigned char	ch;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < len && args[i] != ' '; i++) {
		ch = (unsigned char)args[i];
		if (i >= SASL_MECH_MAX || (!is_alpha(ch) && !is_digit(ch) &&
		    ch != '-' && ch != '_')) {
			memset(out, 0, sizeof(*out));
			return fail(code_out, 504, r, "5.5.4",
			    "invalid mechanism name");
		}
		out->mech[i] = (char)ascii_upper(ch);
	}
	if (i == 0)
		return fail(code_out, 501, r, "5.5.2",
		    "syntax: AUTH mechanism [initial-response]");
	out->mech[i] = '\0';
	if (i == len)
		return 0;
	/* exactly one space, then one word */
	out->ir = args + i + 1;
	out->irlen = len - i - 1;
	out->has_ir = true;
	if (out->irlen == 1 && out->ir[0] == '=') {
		out->irlen = 0;
		return 0;
	}
	if (out->irlen == 0 ||
	    base64_decode(out->ir, out->irlen, NULL, 0, NULL) == -1) {
		memset(out, 0, sizeof(*out));
		return fail(code_out, 501, r, "5.5.2",
		    "initial response is not base64");
	}
	return 0;
}

int
smtp_parse_auth_response(const char *line, size_t len, void *out,
    size_t outsize, size_t *outlen_out, int *code_out, struct reason *r)
{
	*outlen_out = 0;
	if (len == 1 && line[0] == '*')
		return 1;
	if (base64_decode(line, len, NULL, 0, NULL) == -1)
		return fail(code_out, 501, r, "5.5.2",
		    "response is not base64");
	if (base64_decode(line, len, out, outsize, outlen_out) == -1)
		return fail(code_out, 501, r, "5.5.2", "response too long");
	return 0;
}

static int
hexval(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;	/* RFC 3461 4: upper case only */
}

int
smtp_xtext_decode(const char *s, size_t len, char *out, size_t outsize)
{
	size_t		i, o = 0;
	unsigned char	ch;
	int		hi, lo;

	if (outsize == 0)
		return -1;
	for (i = 0; i < len; i++) {
		ch = (unsigned char)s[i];
		if (ch == '+') {
			if (i + 2 >= len ||
			    (hi = hexval((unsigned char)s[i + 1])) == -1 ||
			    (lo = hexval((unsigned char)s[i + 2])) == -1 ||
			    (hi == 0 && lo == 0))
				goto bad;
			ch = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (ch < 33 || ch > 126 || ch == '=')
			goto bad;
		if (o + 1 >= outsize)
			goto bad;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	return 0;
bad:
	out[0] = '\0';
	return -1;
}

int
smtp_xtext_encode(const char *s, size_t len, char *out, size_t outsize)
{
	static const char	hex[] = "0123456789ABCDEF";
	size_t			i, o = 0;
	unsigned char		ch;

	if (outsize == 0)
		return -1;
	for (i = 0; i < len; i++) {
		ch = (unsigned char)s[i];
		if (ch >= 33 && ch <= 126 && ch != '+' && ch != '=') {
			if (o + 1 >= outsize)
				goto toosmall;
			out[o++] = (char)ch;
		} else {
			if (o + 3 >= outsize)
				goto toosmall;
			out[o++] = '+';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
	return 0;
toosmall:
	out[0] = '\0';
	return -1;
}
