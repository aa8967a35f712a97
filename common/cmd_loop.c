/*
 * The parts of a protocol command loop that SMTP (smtpd/smtp_session.c)
 * and POP3 (pop3d/pop3_session.c) share, so that their pipelining,
 * timeout and over-long-line behaviour cannot drift apart. Runs in the
 * unprivileged worker.
 */
#include "autoconf.h"

#include <errno.h>
#include <string.h>

#include "cmd_loop.h"
#include "log.h"

enum cmd_read
cmd_read(struct io *io, size_t max, struct io_line *line)
{
	int	n;

	if (io_pending(io) == 0 && io_flush(io) == -1) {
		log_info("lost connection: %s", strerror(errno));
		return CMD_READ_LOST;
	}
	n = io_getline(io, max, line);
	if (n == IO_TIMEOUT)
		return CMD_READ_TIMEOUT;
	if (n == IO_EOF) {
		log_info("client closed the connection without QUIT");
		return CMD_READ_EOF;
	}
	if (n != IO_OK) {
		log_info("lost connection: %s", strerror(errno));
		return CMD_READ_LOST;
	}
	return (line->flags & IO_LINE_PARTIAL) ? CMD_READ_TOO_LONG :
	    CMD_READ_LINE;
}

int
cmd_skip(struct io *io, size_t skip_max)
{
	if (io_skip_line(io, skip_max) != IO_OK) {
		log_info("over-long line not ended within %zu bytes, or "
		    "connection lost", skip_max);
		return -1;
	}
	return 0;
}

const void *
cmd_lookup(const void *table, size_t rowsize, const char *verb)
{
	const char	*row = table;
	const char	*v;

	for (;; row += rowsize) {
		memcpy(&v, row, sizeof(v));	/* the row's first member */
		if (v == NULL || strcmp(v, verb) == 0)
			return row;
	}
}

void
cmd_log(const struct io_line *line, const char *verb, bool secret)
{
	if (secret)
		log_debug("command %s ...", verb);
	else
		log_debug("command %.*s", (int)line->len, line->data);
}
