/*
 * The POP3 command-line parser (pop3_parse.h). Runs in the unprivileged
 * worker on bytes straight from the client, so it trusts nothing about
 * them: every length is checked before a copy, and nothing it returns
 * points outside the line it was given. RFC 1939 3 (keywords and
 * arguments), RFC 2449 3 (line lengths), RFC 5034 4 and RFC 4616 2 (AUTH
 * PLAIN).
 */
#include "autoconf.h"

#include <string.h>

#include "base64.h"
#include "pop3_parse.h"

static bool	is_alpha(unsigned char);

static bool
is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

int
pop3_parse_cmd(const char *line, size_t len, struct pop3_cmd *out,
    struct reason *r)
{
	size_t	i, v, start;

	memset(out, 0, sizeof(*out));
	if (len == 0) {
		reason_set(r, "5.5.2", "empty command");
		return -1;
	}
	/*
	 * NUL would cut a string short behind our back; other control
	 * characters (a bare CR among them) have no business in a command.
	 * TAB is tolerated: some clients send it inside passwords.
	 */
	for (i = 0; i < len; i++)
		if (((unsigned char)line[i] < 0x20 && line[i] != '\t') ||
		    (unsigned char)line[i] == 0x7f) {
			reason_set(r, "5.5.2", "control character in command");
			return -1;
		}
	for (v = 0; v < len && line[v] != ' '; v++) {
		if (!is_alpha((unsigned char)line[v]) || v >= POP3_VERB_MAX) {
			reason_set(r, "5.5.2", "malformed command keyword");
			return -1;
		}
		out->verb[v] = (char)(line[v] & ~0x20);
	}
	out->verb[v] = '\0';
	if (v == 0) {
		reason_set(r, "5.5.2", "malformed command keyword");
		return -1;
	}
	/* RFC 2449 4: 255 octets with CRLF; AUTH may be longer (RFC 5034 4) */
	if (len > (strcmp(out->verb, "AUTH") == 0 ? POP3_AUTH_LINE_MAX :
	    POP3_CMD_LINE_MAX)) {
		reason_set(r, "5.5.2", "command line too long");
		return -1;
	}
	if (v < len) {
		out->args = line + v + 1;
		out->argslen = len - v - 1;
	} else {
		out->args = line + len;
		out->argslen = 0;
	}
	/* arguments are separated by single spaces; we accept runs of them */
	for (i = 0; i < out->argslen; ) {
		while (i < out->argslen && out->args[i] == ' ')
			i++;
		if (i == out->argslen)
			break;
		start = i;
		while (i < out->argslen && out->args[i] != ' ')
			i++;
		if (out->argc < POP3_ARGS_MAX) {
			out->argv[out->argc].p = out->args + start;
			out->argv[out->argc].len = i - start;
		}
		out->argc++;
	}
	return 0;
}

int
pop3_parse_number(const char *p, size_t len, unsigned long long max,
    unsigned long long *out)
{
	unsigned long long	n = 0, d;
	size_t			i;

	if (len == 0 || len > 20)
		return -1;
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		d = (unsigned long long)(p[i] - '0');
		/* n * 10 + d > max, without overflowing on the way */
		if (n > max / 10 || d > max - n * 10)
			return -1;
		n = n * 10 + d;
	}
	*out = n;
	return 0;
}

bool
pop3_user_name_ok(const char *p, size_t len)
{
	size_t	i;

	if (len == 0 || len > USER_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] == 0x7f)
			return false;
	return true;
}

int
pop3_parse_sasl_plain(const char *b64, size_t len, char *user, size_t usersz,
    char *pass, size_t passsz, struct reason *r)
{
	unsigned char	 buf[BASE64_DECODED_MAX(POP3_AUTH_LINE_MAX) + 1];
	const unsigned char *authz, *authc, *pw, *nul1, *nul2;
	size_t		 n, authzlen, authclen, pwlen;
	int		 rc = -1;

	if (usersz == 0 || passsz == 0) {
		reason_set(r, "5.5.2", "no room for the credentials");
		return -1;
	}
	user[0] = '\0';
	explicit_bzero(pass, passsz);
	if (len == 1 && b64[0] == '=') {
		reason_set(r, "5.7.8", "empty SASL response");
		return -1;
	}
	if (len > POP3_AUTH_LINE_MAX ||
	    base64_decode(b64, len, buf, sizeof(buf), &n) == -1) {
		reason_set(r, "5.5.2", "malformed base64");
		goto out;
	}
	/* authzid NUL authcid NUL passwd, none of them holding a NUL */
	authz = buf;
	if ((nul1 = memchr(buf, '\0', n)) == NULL ||
	    (nul2 = memchr(nul1 + 1, '\0', n - (size_t)(nul1 + 1 - buf))) ==
	    NULL || memchr(nul2 + 1, '\0', n - (size_t)(nul2 + 1 - buf)) !=
	    NULL) {
		reason_set(r, "5.5.2", "malformed PLAIN response");
		goto out;
	}
	authzlen = (size_t)(nul1 - authz);
	authc = nul1 + 1;
	authclen = (size_t)(nul2 - authc);
	pw = nul2 + 1;
	pwlen = n - (size_t)(pw - buf);
	if (authclen == 0 || pwlen == 0) {
		reason_set(r, "5.7.8", "empty user name or password");
		goto out;
	}
	if (authzlen != 0 && (authzlen != authclen ||
	    memcmp(authz, authc, authclen) != 0)) {
		reason_set(r, "5.7.8", "cannot log in as another user");
		goto out;
	}
	if (!pop3_user_name_ok((const char *)authc, authclen) ||
	    authclen >= usersz || pwlen >= passsz) {
		reason_set(r, "5.7.8", "user name or password too long or "
		    "malformed");
		goto out;
	}
	memcpy(user, authc, authclen);
	user[authclen] = '\0';
	memcpy(pass, pw, pwlen);
	pass[pwlen] = '\0';
	rc = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	if (rc == -1)
		explicit_bzero(pass, passsz);
	return rc;
}
