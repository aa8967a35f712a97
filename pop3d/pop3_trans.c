/*
 * The TRANSACTION state (RFC 1939 5, 7) in the unprivileged worker:
 * STAT, LIST, RETR, DELE, NOOP, RSET, TOP and UIDL over the message
 * table of the session's maildrop. Sizes are the octets RETR sends
 * (mbox_table.h: CRLF line ends, mboxrd quoting undone, before
 * byte-stuffing); RETR and TOP byte-stuff lines that start with "."
 * (RFC 1939 3). Message numbers are fixed for the session; a deleted or
 * absent one gets -ERR.
 */
#include "autoconf.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "io.h"
#include "log.h"
#include "mbox_reader.h"
#include "pop3.h"

static int	msg_arg(struct pop3_session *, const struct pop3_arg *,
		    size_t *);
static size_t	live_count(const struct pop3_maildrop *);
static long long live_octets(const struct pop3_maildrop *);
static int	send_message(struct pop3_session *, size_t, long, off_t *);

/*
 * The message an argument names, as an index into the table. Returns 0,
 * or POP3_CMD_ERR with the reply set.
 */
static int
msg_arg(struct pop3_session *s, const struct pop3_arg *a, size_t *i_out)
{
	struct pop3_maildrop	*md = s->md;
	unsigned long long	 n;

	if (pop3_parse_number(a->p, a->len, ULLONG_MAX, &n) == -1)
		return pop3_err(s, "", "invalid message number");
	if (n == 0 || n > md->t.n)
		return pop3_err(s, "", "no such message");
	if (md->deleted[n - 1])
		return pop3_err(s, "", "message %llu already deleted", n);
	*i_out = (size_t)(n - 1);
	return 0;
}

static size_t
live_count(const struct pop3_maildrop *md)
{
	return md->t.n - md->ndeleted;
}

static long long
live_octets(const struct pop3_maildrop *md)
{
	return (long long)(md->total_octets - md->deleted_octets);
}

int
pop3_stat(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	if (cmd->argc != 0)
		return pop3_err(s, "", "STAT takes no argument");
	return pop3_ok(s, "%zu %lld", live_count(s->md), live_octets(s->md));
}

int
pop3_list(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	struct pop3_maildrop	*md = s->md;
	size_t			 i;
	int			 rc;

	if (cmd->argc > 1)
		return pop3_err(s, "", "usage: LIST [msg]");
	if (cmd->argc == 1) {
		if ((rc = msg_arg(s, &cmd->argv[0], &i)) != 0)
			return rc;
		return pop3_ok(s, "%zu %lld", i + 1,
		    (long long)md->t.v[i].octets);
	}
	io_printf(s->io, "+OK %zu message%s (%lld octets)\r\n",
	    live_count(md), live_count(md) == 1 ? "" : "s", live_octets(md));
	for (i = 0; i < md->t.n; i++)
		if (!md->deleted[i])
			io_printf(s->io, "%zu %lld\r\n", i + 1,
			    (long long)md->t.v[i].octets);
	io_puts(s->io, ".\r\n");
	return POP3_CMD_REPLIED;
}

int
pop3_uidl(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	struct pop3_maildrop	*md = s->md;
	size_t			 i;
	int			 rc;

	if (cmd->argc > 1)
		return pop3_err(s, "", "usage: UIDL [msg]");
	if (cmd->argc == 1) {
		if ((rc = msg_arg(s, &cmd->argv[0], &i)) != 0)
			return rc;
		return pop3_ok(s, "%zu %s", i + 1, md->t.v[i].uidl);
	}
	io_puts(s->io, "+OK unique-id listing follows\r\n");
	for (i = 0; i < md->t.n; i++)
		if (!md->deleted[i])
			io_printf(s->io, "%zu %s\r\n", i + 1, md->t.v[i].uidl);
	io_puts(s->io, ".\r\n");
	return POP3_CMD_REPLIED;
}

/*
 * Sends message i (top < 0: all of it; else the header and top body
 * lines), byte-stuffed by the reader in the same pass that makes the
 * line ends CRLF, and the final ".": one io_write() per piece of up to
 * twice MBOX_READ_CHUNK (a small message goes out with its "+OK" line in
 * one write; a big one in writes of that size, straight from the
 * reader's buffer). Returns 0, or -1 when the session cannot go on: the
 * client had "+OK" and part of the message, so the only honest end is to
 * close without the "." (logged).
 */
static int
send_message(struct pop3_session *s, size_t i, long top, off_t *octets_out)
{
	struct mbox_reader	*rd;
	const char		*data;
	size_t			 len, wire = 0;
	int			 n;

	rd = mbox_reader_new(s->md->fd, &s->md->t.v[i], top);
	mbox_reader_dotstuff(rd);
	while ((n = mbox_reader_read(rd, &data, &len)) == 1) {
		wire += len;
		if (io_write(s->io, data, len) == -1)
			goto lost;
	}
	if (n == -1) {
		log_warn("reading message %zu of %s's maildrop", i + 1,
		    s->login);
		mbox_reader_free(&rd);
		return -1;
	}
	*octets_out = (off_t)(wire - mbox_reader_stuffed(rd));
	mbox_reader_free(&rd);
	if (io_puts(s->io, ".\r\n") == -1) {
		log_info("lost connection: %s", strerror(errno));
		return -1;
	}
	return 0;
lost:
	log_info("lost connection: %s", strerror(errno));
	mbox_reader_free(&rd);
	return -1;
}

int
pop3_retr(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	size_t	i;
	off_t	sent;
	int	rc;

	if (cmd->argc != 1)
		return pop3_err(s, "", "usage: RETR msg");
	if ((rc = msg_arg(s, &cmd->argv[0], &i)) != 0)
		return rc;
	io_printf(s->io, "+OK %lld octets\r\n",
	    (long long)s->md->t.v[i].octets);
	if (send_message(s, i, MBOX_READER_ALL, &sent) == -1)
		return POP3_CMD_CLOSE;
	if (sent != s->md->t.v[i].octets)
		log_warnx("message %zu: sent %lld octets, LIST said %lld",
		    i + 1, (long long)sent, (long long)s->md->t.v[i].octets);
	s->nretr++;
	s->retr_octets += (unsigned long long)sent;
	return POP3_CMD_REPLIED;
}

int
pop3_top(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	unsigned long long	lines;
	size_t			i;
	off_t			sent;
	int			rc;

	if (cmd->argc != 2)
		return pop3_err(s, "", "usage: TOP msg lines");
	if ((rc = msg_arg(s, &cmd->argv[0], &i)) != 0)
		return rc;
	if (pop3_parse_number(cmd->argv[1].p, cmd->argv[1].len, LONG_MAX,
	    &lines) == -1)
		return pop3_err(s, "", "invalid number of lines");
	io_puts(s->io, "+OK top of message follows\r\n");
	if (send_message(s, i, (long)lines, &sent) == -1)
		return POP3_CMD_CLOSE;
	return POP3_CMD_REPLIED;
}

int
pop3_dele(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	struct pop3_maildrop	*md = s->md;
	size_t			 i;
	int			 rc;

	if (cmd->argc != 1)
		return pop3_err(s, "", "usage: DELE msg");
	if ((rc = msg_arg(s, &cmd->argv[0], &i)) != 0)
		return rc;
	md->deleted[i] = true;
	md->ndeleted++;
	md->deleted_octets += md->t.v[i].octets;
	return pop3_ok(s, "message %zu deleted", i + 1);
}

int
pop3_noop(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	if (cmd->argc != 0)
		return pop3_err(s, "", "NOOP takes no argument");
	return POP3_CMD_OK;
}

int
pop3_rset(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	struct pop3_maildrop	*md = s->md;

	if (cmd->argc != 0)
		return pop3_err(s, "", "RSET takes no argument");
	memset(md->deleted, 0, md->t.n * sizeof(bool));
	md->ndeleted = 0;
	md->deleted_octets = 0;
	return pop3_ok(s, "maildrop has %zu message%s (%lld octets)",
	    md->t.n, md->t.n == 1 ? "" : "s", (long long)md->total_octets);
}
