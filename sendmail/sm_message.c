/*
 * Reading the message the caller gives sendmail on stdin, as the caller:
 * line ends made LF, the end at EOF or (without -i) at a lone "." line,
 * and for -t the recipients taken from To:, Cc: and Bcc:, Bcc: removed
 * (RFC 5322 3.6.3: its addresses must not reach the other recipients).
 */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sendmail.h"

int
sm_rcpt_add(struct sm_submit *s, const char *addr)
{
	const char	*c;
	char		**v;

	if (*addr == '\0' || strlen(addr) > ADDR_TEXT_MAX)
		return -1;
	for (c = addr; *c != '\0'; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f || *c == '<' ||
		    *c == '>')
			return -1;
	v = reallocarray(s->rcpts, s->nrcpts + 1, sizeof(*v));
	if (v == NULL)
		return -1;
	s->rcpts = v;
	if ((s->rcpts[s->nrcpts] = strdup(addr)) == NULL)
		return -1;
	s->nrcpts++;
	return 0;
}

/*
 * The addresses of an address-list header value (RFC 5322 3.4): the
 * part in <> of "Name <a@b>", or the bare "a@b"; comments, quoted
 * display names and group names ("undisclosed-recipients:;") are
 * skipped.
 */
static int
extract(struct sm_submit *s, const char *v, size_t len)
{
	char	cur[ADDR_TEXT_MAX + 1], angle[ADDR_TEXT_MAX + 1];
	size_t	i, n = 0, an = 0;
	int	depth = 0;
	bool	quoted = false, in_angle = false, have_angle = false;

	for (i = 0; i <= len; i++) {
		char c = i < len ? v[i] : ',';

		if (quoted) {
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '"')
				quoted = false;
			continue;
		}
		if (depth > 0) {
			if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			continue;
		}
		if (in_angle) {
			if (c == '>')
				in_angle = false;
			else if (an < ADDR_TEXT_MAX && c != ' ' && c != '\t')
				angle[an++] = c;
			continue;
		}
		switch (c) {
		case '"':
			quoted = true;
			n = 0;		/* a display name, not an address */
			break;
		case '(':
			depth = 1;
			break;
		case '<':
			in_angle = have_angle = true;
			an = 0;
			break;
		case ':':
			n = 0;		/* a group's name */
			break;
		case ',':
		case ';':
			if (have_angle) {
				angle[an] = '\0';
				/* "<>" or a route: nothing to send to */
				if (an > 0 && strchr(angle, '@') != NULL &&
				    sm_rcpt_add(s, angle) == -1)
					return -1;
			} else if (n > 0) {
				cur[n] = '\0';
				if (sm_rcpt_add(s, cur) == -1)
					return -1;
			}
			n = an = 0;
			have_angle = false;
			break;
		case ' ': case '\t': case '\r': case '\n':
			break;
		default:
			if (n < ADDR_TEXT_MAX)
				cur[n++] = c;
			break;
		}
	}
	return 0;
}

static int
append(struct sm_message *m, size_t *cap, const char *p, size_t n)
{
	char	*t;
	size_t	 c = *cap;

	if ((long long)(m->len + n) > SM_MESSAGE_MAX) {
		errno = EFBIG;
		return -1;
	}
	while (m->len + n + 1 > c)
		c = c == 0 ? 65536 : c * 2;
	if (c != *cap) {
		if ((t = realloc(m->text, c)) == NULL)
			return -1;
		m->text = t;
		*cap = c;
	}
	memcpy(m->text + m->len, p, n);
	m->len += n;
	m->text[m->len] = '\0';
	return 0;
}

/* Whether the header line (with its continuations) is field name. */
static bool
is_field(const char *line, size_t len, const char *name)
{
	size_t	n = strlen(name), i;

	if (len <= n || strncasecmp(line, name, n) != 0)
		return false;
	for (i = n; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	return i < len && line[i] == ':';
}

/*
 * Goes through the header section of raw (the whole input, LF line
 * ends): recipients for -t, Bcc: dropped, From: added for -F.
 */
static int
headers(struct sm_submit *s, const struct sm_message *raw,
    struct sm_message *out)
{
	const char	*p = raw->text, *end = raw->text + raw->len, *f, *nl;
	size_t		 cap = 0, flen;
	bool		 from = false;

	memset(out, 0, sizeof(*out));
	while (p < end && *p != '\n') {
		/* one field: its line and the continuation lines */
		f = p;
		do {
			nl = memchr(p, '\n', (size_t)(end - p));
			p = nl != NULL ? nl + 1 : end;
		} while (p < end && (*p == ' ' || *p == '\t'));
		flen = (size_t)(p - f);
		if (memchr(f, ':', flen) == NULL) {
			/* not a field: the body starts here */
			p = f;
			break;
		}
		if (is_field(f, flen, "From"))
			from = true;
		if (s->extract && (is_field(f, flen, "To") ||
		    is_field(f, flen, "Cc") || is_field(f, flen, "Bcc"))) {
			const char *v = (const char *)memchr(f, ':', flen) + 1;

			if (extract(s, v, (size_t)(f + flen - v)) == -1) {
				sm_warn("too many or bad recipients in the "
				    "header");
				return -1;
			}
		}
		if (is_field(f, flen, "Bcc"))
			continue;	/* RFC 5322 3.6.3 */
		if (append(out, &cap, f, flen) == -1)
			goto fail;
	}
	if (!from && s->fullname != NULL) {
		char	line[FULLNAME_MAX * 2 + USER_NAME_MAX +
		    SMTP_DOMAIN_MAX + 32];
		size_t	n = 0;
		const char *c;

		/* the address is left for maild to add: only the name here */
		n = (size_t)snprintf(line, sizeof(line), "From: \"");
		for (c = s->fullname; *c != '\0'; c++) {
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				continue;
			if (*c == '"' || *c == '\\')
				line[n++] = '\\';
			line[n++] = *c;
		}
		n += (size_t)snprintf(line + n, sizeof(line) - n, "\" <%s@%s>\n",
		    s->user, s->sender_domain);
		if (append(out, &cap, line, n) == -1)
			goto fail;
	}
	if (append(out, &cap, p, (size_t)(end - p)) == -1)
		goto fail;
	return 0;
fail:
	sm_warn("reading the message: %s", strerror(errno));
	return -1;
}

int
sm_message_read(FILE *fp, struct sm_submit *s, struct sm_message *m)
{
	struct sm_message	 raw;
	char			*line = NULL;
	size_t			 cap = 0, lcap = 0, n;
	ssize_t			 got;
	int			 rc = -1;

	memset(&raw, 0, sizeof(raw));
	while ((got = getline(&line, &lcap, fp)) != -1) {
		n = (size_t)got;
		if (n > 0 && line[n - 1] == '\n')
			n--;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (!s->dot_is_data && n == 1 && line[0] == '.')
			break;	/* Sendmail's end of input, without -i */
		if (append(&raw, &cap, line, n) == -1 ||
		    append(&raw, &cap, "\n", 1) == -1) {
			sm_warn("reading the message: %s", errno == EFBIG ?
			    "message too big" : strerror(errno));
			goto out;
		}
	}
	if (ferror(fp)) {
		sm_warn("reading the message: %s", strerror(errno));
		goto out;
	}
	if (raw.text == NULL && append(&raw, &cap, "", 0) == -1)
		goto out;
	rc = headers(s, &raw, m);
out:
	free(line);
	free(raw.text);
	return rc;
}
