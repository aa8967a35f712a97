/*
 * Reading one message of an mbox maildrop the way POP3 sends it (RETR,
 * TOP): the content from hdr_off to end, every line ended by CRLF (a
 * stored CRLF stays as it is, a last line without LF gets CRLF), and one
 * '>' taken off each ">>*From " line (mboxrd quoting undone). Used by the
 * POP3 worker on the maildrop descriptor. The output is exactly
 * mbox_msg.octets bytes for the whole message.
 *
 * By default the reader does not dot-stuff (RFC 1939 3) and never sends
 * the final "."; with mbox_reader_dotstuff() it gives every line that
 * starts with "." another one in the same pass, so that its pieces go to
 * the wire as they are. It hands out large pieces, not lines (to find
 * line starts: the first piece starts a line, and every line start after
 * that follows a '\n', within a piece or at the end of the previous
 * one). Bytes other than LF are passed through unchanged (a bare CR, a
 * NUL).
 */
#ifndef MAILD_MBOX_READER_H
#define MAILD_MBOX_READER_H

#include <stddef.h>

#include "mbox_table.h"

/* mbox_reader_new() top_lines: the whole message. */
#define MBOX_READER_ALL	(-1L)

struct mbox_reader;

/*
 * Starts reading message m (copied) of the maildrop fd (borrowed: it
 * must stay open while the reader is used). top_lines >= 0 gives TOP:
 * the header section with the empty line that ends it, then at most
 * top_lines lines of the body; MBOX_READER_ALL gives RETR. A message
 * without an empty line after the header gets no line added. Never
 * returns NULL.
 */
struct mbox_reader	*mbox_reader_new(int fd, const struct mbox_msg *m,
			    long top_lines);
void			 mbox_reader_free(struct mbox_reader **);

/*
 * From now on, byte-stuff (RFC 1939 3): a '.' before every line that
 * starts with '.'. Call before the first read.
 */
void			 mbox_reader_dotstuff(struct mbox_reader *);
/* How many bytes dot-stuffing added to the pieces so far. */
size_t			 mbox_reader_stuffed(const struct mbox_reader *);

/*
 * The next piece: returns 1 with *data_out (borrowed until the next call
 * or free) and *len_out > 0; 0 at the end of the message; -1 on error
 * with errno set: a read error, or ESTALE when the maildrop ends before
 * the message does (it changed since the scan).
 */
int			 mbox_reader_read(struct mbox_reader *,
			    const char **data_out, size_t *len_out);

#endif
