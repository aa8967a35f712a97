/*
 * What the SMTP and POP3 command loops share (cmd_loop.c), in the
 * unprivileged worker: reading one command line with the pipelining
 * flush rule, throwing away an over-long one, the verb look-up over a
 * protocol's command table, and the debug log of a command that never
 * shows a secret's arguments. Each protocol keeps its own table, states,
 * replies and error counting.
 */
#ifndef MAILD_CMD_LOOP_H
#define MAILD_CMD_LOOP_H

#include <stdbool.h>
#include <stddef.h>

#include "io.h"

/* What cmd_read() found. */
enum cmd_read {
	CMD_READ_LINE,		/* a whole command line in *line */
	CMD_READ_TOO_LONG,	/* the first max bytes of a longer line */
	CMD_READ_TIMEOUT,	/* no command within the io's read timeout */
	CMD_READ_EOF,		/* the client closed the connection (logged) */
	CMD_READ_LOST,		/* a read or write failed (logged) */
};

/*
 * Reads the next command line of at most max bytes. First flushes the
 * replies written so far if no more client input is buffered (RFC 2920
 * and RFC 2449 6.6: a pipelined batch is answered in one go). For a
 * longer line, *line holds its first max bytes and the rest is still
 * unread: the caller ends the session or calls cmd_skip().
 */
enum cmd_read	cmd_read(struct io *io, size_t max, struct io_line *line);

/*
 * Reads through the rest of an over-long line, at most skip_max bytes.
 * Returns 0, or -1 (logged) when the line goes on past that or the
 * connection is lost. *line from cmd_read() is no longer valid.
 */
int		cmd_skip(struct io *io, size_t skip_max);

/*
 * A command table is an array of a protocol's own row type whose first
 * member is the verb (const char *), ended by a row with a NULL verb
 * that handles unknown commands. Returns the row for verb, or that last
 * row. Verbs are compared exactly (the parsers upper-case them).
 */
const void	*cmd_lookup(const void *table, size_t rowsize,
		    const char *verb);
/* For a row type: the verb must come first for cmd_lookup(). */
#define CMD_ROW_CHECK(type)						\
	_Static_assert(offsetof(type, verb) == 0, #type ": verb first")

/* Logs a command at debug level; only the verb when secret. */
void		 cmd_log(const struct io_line *line, const char *verb,
		    bool secret);

#endif
