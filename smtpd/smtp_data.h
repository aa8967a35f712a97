/*
 * The message reader behind DATA and BDAT: turns what the client sends
 * into the message as the queue stores it (LF line ends, no dot
 * stuffing), finds the one true end of DATA, and decides whether the
 * message is acceptable. It never reads or writes anything itself: the
 * session feeds it the lines io_getline() returns (DATA) or the chunk
 * bytes io_read_exact() returns (BDAT), and it hands the message text
 * to a sink (the queue file writer).
 *
 * Policies, the same for DATA and BDAT:
 *   - End of DATA: only CR LF "." CR LF (the "." line ends in CRLF and
 *     so did the line before it; the first line after DATA counts as
 *     preceded by CRLF). Nothing else ends the message or starts a new
 *     command: not "\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r", "\r\n.\r",
 *     ... (the 2023 "SMTP smuggling" attacks).
 *   - Bare LF and bare CR (opts.bare_newlines):
 *     BARE_NEWLINE_NORMALIZE: each is a line end inside the message
 *     (stored as LF); a lone "." after one is not the end and stays in
 *     the message as a line "."; other lines after one lose a leading
 *     dot like any line. Whatever a smuggler puts after it stays body
 *     text. BARE_NEWLINE_REJECT: the message is refused, 554 5.6.0.
 *   - Dot-unstuffing (DATA only, RFC 5321 4.5.2): a line starting with
 *     "." loses that dot.
 *   - Long lines: a line (the bytes between two LFs as received, less
 *     a leading dot in DATA) longer than opts.max_line_length - 2 octets
 *     (max_line_length counts the CRLF but not the transparency dot,
 *     RFC 5321 4.5.3.1.6) refuses the message: 554 5.6.0. The message
 *     is never split or cut to make it fit.
 *   - NUL octets refuse the message, 554 5.6.0 (RFC 5322 3.5 and RFC
 *     6152 2 exclude NUL from text; MUAs and mbox readers choke on it).
 *   - Size: the octets handed to the sink; more than opts.max_size
 *     refuses the message, 552 5.3.4.
 *   - A sink error refuses the message, 451 4.3.0.
 * After the first refusal the sink is not called again, but the reader
 * goes on consuming until the real end, so the reply comes in step with
 * the client; the first reason found is the one reported.
 *
 * BODY=BINARYMIME content is handled as text too (CRLF becomes LF, the
 * checks above apply): advertise BINARYMIME only once the queue can
 * store binary messages.
 */
#ifndef MAILD_SMTP_DATA_H
#define MAILD_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "io.h"
#include "reason.h"

/* smtp_data_feed() results. */
#define SMTP_DATA_MORE	0
#define SMTP_DATA_END	1

struct smtp_data_opts {
	enum bare_newline_policy bare_newlines;
	/* Octets per line including CRLF; 0 = SMTP_TEXT_LINE_MAX. Values
	 * below 3 or above SMTP_TEXT_LINE_CEILING are clamped. */
	size_t			 max_line_length;
	uint64_t		 max_size;	/* stored octets; 0: no limit */
};

/*
 * Receives the message text, in pieces of any size. Returns 0, or -1
 * when it cannot store it (the message is then refused with 451 4.3.0;
 * the sink keeps its own details for the log).
 */
typedef int smtp_data_sink_fn(void *arg, const char *buf, size_t len);

/* Treat as opaque; it is here only so that it can live on the stack. */
struct smtp_data {
	struct smtp_data_opts	 opts;
	smtp_data_sink_fn	*sink;
	void			*sink_arg;
	uint64_t		 size;		/* octets given to the sink */
	size_t			 linelen;	/* octets of the line so far */
	bool			 prev_crlf;	/* last line ended in CRLF */
	bool			 midline;	/* last piece was PARTIAL */
	bool			 bol;		/* output is at a line start */
	bool			 dot_pending;	/* piece ended in a first "." */
	bool			 cr_pending;	/* BDAT: chunk ended in CR */
	bool			 ended;
	int			 code;		/* 0, or the refusal's reply */
	struct reason		 reason;
};

/*
 * Starts a message. opts may be NULL for the defaults (normalize, 1000
 * octets a line, no size limit). sink gets the text. Never fails.
 */
void	smtp_data_init(struct smtp_data *, const struct smtp_data_opts *opts,
	    smtp_data_sink_fn *sink, void *sink_arg);

/*
 * The max to give io_getline() while reading DATA: the longest line
 * content allowed (max_line_length - 2). Longer lines then arrive as
 * IO_LINE_PARTIAL pieces, which the reader adds up; any other max works
 * too, only with more or fewer pieces.
 */
size_t	smtp_data_getline_max(const struct smtp_data *);

/*
 * Feeds one line as io_getline() returned it (flags included). Returns
 * SMTP_DATA_END when it was the "." that ends the data (then call
 * smtp_data_result()), else SMTP_DATA_MORE. When io_getline() fails or
 * hits EOF first, the message is lost: the caller drops it.
 */
int	smtp_data_feed(struct smtp_data *, const struct io_line *line);

/*
 * Feeds len raw octets of a BDAT chunk (RFC 3030): CRLF becomes LF, also
 * across chunk boundaries; no dot-unstuffing. Returns 0 (a refusal is
 * kept for smtp_data_result()).
 */
int	smtp_bdat_feed(struct smtp_data *, const char *buf, size_t len);

/*
 * After the chunk of BDAT ... LAST: ends the message. A message that
 * does not end in a line end gets one (the queue holds whole lines).
 */
void	smtp_bdat_last(struct smtp_data *);

/*
 * The verdict, once smtp_data_feed() returned SMTP_DATA_END or after
 * smtp_bdat_last(): 0 to accept, or -1 with the reply code (552, 554,
 * 451) in *code_out and the reason in r. Before the end, -1 with 451.
 */
int	smtp_data_result(const struct smtp_data *, int *code_out,
	    struct reason *r);

/* Octets given to the sink so far. */
uint64_t smtp_data_size(const struct smtp_data *);

#endif
