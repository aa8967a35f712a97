/*
 * POP3 command lines and arguments (RFC 1939 3, RFC 2449 3): splitting a
 * line into its keyword and arguments, message numbers, and the SASL
 * PLAIN response (RFC 4616) of AUTH. Pure functions: no I/O, no state,
 * nothing kept; the session (pop3_session.c) reads the lines and the
 * fuzzer (tests/fuzz/fuzz_pop3_cmd.c) feeds them anything.
 */
#ifndef MAILD_POP3_PARSE_H
#define MAILD_POP3_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "bounds.h"
#include "reason.h"

/* Arguments kept apart; a command never takes more than two. */
#define POP3_ARGS_MAX	3

struct pop3_arg {
	const char	*p;	/* borrowed from the line; not terminated */
	size_t		 len;
};

struct pop3_cmd {
	char		 verb[POP3_VERB_MAX + 1];	/* upper case */
	/*
	 * Everything after the keyword and the space that ends it, as
	 * sent (PASS takes it whole: a password may hold spaces).
	 * Borrowed from the line.
	 */
	const char	*args;
	size_t		 argslen;
	/* The arguments split at spaces; argc counts all of them. */
	size_t		 argc;
	struct pop3_arg	 argv[POP3_ARGS_MAX];
};

/*
 * Splits a command line (without its CRLF; len bytes, which may hold
 * NULs). The keyword is 1 to POP3_VERB_MAX letters, folded to upper
 * case; unknown keywords are the caller's business. Returns 0, or -1
 * with r's text saying why: empty line, NUL or another control
 * character but TAB (DEL too), a keyword that is not letters, or a line longer
 * than POP3_CMD_LINE_MAX (POP3_AUTH_LINE_MAX for AUTH).
 */
int	pop3_parse_cmd(const char *line, size_t len, struct pop3_cmd *out,
	    struct reason *r);

/*
 * A decimal number of 1 to 20 digits, nothing else, at most max.
 * Returns 0 with *out set, or -1.
 */
int	pop3_parse_number(const char *p, size_t len, unsigned long long max,
	    unsigned long long *out);

/*
 * Decodes a SASL PLAIN response (base64 of authzid NUL authcid NUL
 * password, RFC 4616 2). "=" is an empty response (RFC 5034 4), which
 * fails. The authorization identity must be empty or the same as the
 * authentication identity: we do not log in as someone else. Returns 0
 * with the names and the password filled (the caller wipes pass), or -1
 * with r's text saying why (pass is then wiped).
 */
int	pop3_parse_sasl_plain(const char *b64, size_t len, char *user,
	    size_t usersz, char *pass, size_t passsz, struct reason *r);

/* Whether a user name given to USER or APOP is acceptable to pass on. */
bool	pop3_user_name_ok(const char *p, size_t len);

#endif
