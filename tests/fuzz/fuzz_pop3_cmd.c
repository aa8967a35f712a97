/*
 * libFuzzer target for the POP3 command-line parser (pop3d/pop3_parse.c).
 * Built and run by tests/fuzz/run.sh; never part of "make check".
 *
 * The input is one command line as the session hands it over (without
 * its line end; it may hold anything). Whatever pop3_parse_cmd() makes
 * of it is checked against what the line says: the keyword is the
 * line's first word folded to upper case, the raw arguments are the rest
 * of the line, the split arguments are its space-separated words, every
 * pointer stays inside the line, and an accepted line has no control
 * character and is within its length limit. Every argument then goes
 * through the number parser (checked against strtoull) and, for AUTH,
 * the SASL PLAIN decoder (checked for what it may return).
 */
#include "autoconf.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3d/pop3_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
		    __LINE__, #cond);					\
		abort();						\
	}								\
} while (0)

static void
check_number(const char *p, size_t len)
{
	static const unsigned long long maxes[] = {
		0, 1, 9, 10, 99, 1000, LONG_MAX, ULLONG_MAX
	};
	char			 buf[32], *end;
	unsigned long long	 n, ref;
	size_t			 i, k;
	bool			 digits = len > 0 && len <= 20;
	int			 rc;

	for (i = 0; i < len && digits; i++)
		digits = p[i] >= '0' && p[i] <= '9';
	for (k = 0; k < sizeof(maxes) / sizeof(maxes[0]); k++) {
		n = 12345;
		rc = pop3_parse_number(p, len, maxes[k], &n);
		if (!digits) {
			CHECK(rc == -1);
			continue;
		}
		memcpy(buf, p, len);
		buf[len] = '\0';
		errno = 0;
		ref = strtoull(buf, &end, 10);
		if (errno == ERANGE || ref > maxes[k])
			CHECK(rc == -1);
		else
			CHECK(rc == 0 && n == ref);
	}
}

static void
check_sasl(const char *p, size_t len)
{
	char		user[USER_NAME_MAX + 1], pass[PASSWORD_MAX + 1];
	struct reason	r;
	size_t		ulen, i;

	if (pop3_parse_sasl_plain(p, len, user, sizeof(user), pass,
	    sizeof(pass), &r) == -1) {
		CHECK(pass[0] == '\0' && r.text[0] != '\0');
		for (i = 0; i < sizeof(pass); i++)
			CHECK(pass[i] == '\0');
		return;
	}
	ulen = strlen(user);
	CHECK(ulen > 0 && pop3_user_name_ok(user, ulen));
	CHECK(strlen(pass) > 0);
	/* small user buffers are refused, never overrun */
	CHECK(pop3_parse_sasl_plain(p, len, user, ulen, pass, sizeof(pass),
	    &r) == -1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_cmd	 cmd;
	struct reason	 r;
	const char	*line;
	char		*copy;
	size_t		 i, v, n, start;
	int		 rc;

	/* a copy of exactly size bytes, so ASan sees any overread */
	copy = malloc(size > 0 ? size : 1);
	CHECK(copy != NULL);
	memcpy(copy, data, size);
	line = copy;

	rc = pop3_parse_cmd(line, size, &cmd, &r);
	if (rc == -1) {
		CHECK(r.text[0] != '\0');
		free(copy);
		return 0;
	}
	CHECK(rc == 0);
	for (i = 0; i < size; i++)
		CHECK(((unsigned char)line[i] >= 0x20 &&
		    (unsigned char)line[i] != 0x7f) || line[i] == '\t');
	/* the keyword: the first word, letters, folded */
	for (v = 0; v < size && line[v] != ' '; v++)
		CHECK(cmd.verb[v] == (line[v] & ~0x20) &&
		    cmd.verb[v] >= 'A' && cmd.verb[v] <= 'Z');
	CHECK(v > 0 && v <= POP3_VERB_MAX && cmd.verb[v] == '\0');
	CHECK(size <= (strcmp(cmd.verb, "AUTH") == 0 ? POP3_AUTH_LINE_MAX :
	    POP3_CMD_LINE_MAX));
	/* the arguments: the rest of the line, then its words */
	CHECK(cmd.args >= line && cmd.args + cmd.argslen == line + size);
	CHECK(v == size ? cmd.argslen == 0 : cmd.args == line + v + 1);
	for (n = 0, i = 0; i < cmd.argslen; ) {
		while (i < cmd.argslen && cmd.args[i] == ' ')
			i++;
		if (i == cmd.argslen)
			break;
		start = i;
		while (i < cmd.argslen && cmd.args[i] != ' ')
			i++;
		if (n < POP3_ARGS_MAX) {
			CHECK(cmd.argv[n].p == cmd.args + start);
			CHECK(cmd.argv[n].len == i - start);
		}
		n++;
	}
	CHECK(n == cmd.argc);
	for (i = 0; i < cmd.argc && i < POP3_ARGS_MAX; i++) {
		CHECK(cmd.argv[i].len > 0 && memchr(cmd.argv[i].p, ' ',
		    cmd.argv[i].len) == NULL);
		check_number(cmd.argv[i].p, cmd.argv[i].len);
		(void)pop3_user_name_ok(cmd.argv[i].p, cmd.argv[i].len);
	}
	if (strcmp(cmd.verb, "AUTH") == 0 && cmd.argc == 2)
		check_sasl(cmd.argv[1].p, cmd.argv[1].len);
	/* a PASS or AUTH continuation line is taken whole */
	check_sasl(line, size);
	free(copy);
	return 0;
}
