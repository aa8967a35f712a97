/*
 * libFuzzer target for common/aliases.c. Input: one octet of allow
 * flags (no :include:, which would read files), then an aliases file.
 * It is parsed, and every name written before a ":" is expanded.
 * Checks that errors carry sane line numbers, that expansion results
 * are in range, that targets are never empty and hold no line ends,
 * and that the callback runs only on success.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aliases.h"
#include "bounds.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(e)	do { if (!(e)) { fprintf(stderr, "%s:%d: %s\n", \
			    __FILE__, __LINE__, #e); abort(); } } while (0)

struct seen {
	int	n;
};

static int
cb(void *arg, enum alias_kind kind, const char *target, struct reason *r)
{
	struct seen	*s = arg;

	(void)r;
	CHECK(kind >= ALIAS_LOCAL && kind <= ALIAS_PROGRAM);
	CHECK(target[0] != '\0');
	CHECK(strchr(target, '\n') == NULL && strchr(target, '\r') == NULL);
	s->n++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_errors	 errs = { NULL, 0 };
	struct aliases		*al;
	struct reason		 r;
	struct seen		 s;
	const char		*text, *p, *end, *nl, *colon;
	char			 name[SMTP_LOCALPART_MAX + 1];
	size_t			 len, i, lines = 1, n;
	unsigned		 allow;
	int			 rc;

	if (size < 1)
		return 0;
	allow = data[0] & (ALIAS_ALLOW_FILE | ALIAS_ALLOW_PROGRAM);
	text = (const char *)data + 1;
	len = size - 1;
	for (i = 0; i < len; i++)
		lines += text[i] == '\n';

	al = aliases_parse(text, len, "fuzz", &errs);
	CHECK(al != NULL);
	for (i = 0; i < errs.n; i++) {
		CHECK(errs.v[i].line >= 1 && (size_t)errs.v[i].line <= lines);
		CHECK(errs.v[i].reason[0] != '\0');
		CHECK(strcmp(errs.v[i].file, "fuzz") == 0);
		free(errs.v[i].file);
		free(errs.v[i].reason);
	}
	free(errs.v);

	end = text + len;
	for (p = text; p < end; p = nl != NULL ? nl + 1 : end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		colon = memchr(p, ':', (size_t)((nl != NULL ? nl : end) - p));
		if (colon == NULL)
			continue;
		n = (size_t)(colon - p);
		if (n > SMTP_LOCALPART_MAX)
			n = SMTP_LOCALPART_MAX;
		memcpy(name, p, n);
		name[n] = '\0';		/* a NUL inside just cuts it */
		memset(&s, 0, sizeof(s));
		memset(&r, 0, sizeof(r));
		rc = aliases_expand(al, name, allow, cb, &s, &r);
		CHECK(rc >= -1 && rc <= 1);
		CHECK(s.n <= ALIAS_TARGETS_MAX);
		if (rc != 1)
			CHECK(s.n == 0);
		if (rc == 1)
			CHECK(s.n > 0);
		if (rc == -1)
			CHECK(r.status[0] == '4' || r.status[0] == '5');
	}
	aliases_free(&al);
	CHECK(al == NULL);
	return 0;
}
