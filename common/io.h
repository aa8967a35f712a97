/*
 * Buffered line I/O for the protocol workers. Reading: lines ended by LF
 * (CRLF or bare LF, reported), a maximum length (longer lines come back
 * in pieces marked IO_LINE_PARTIAL), and a deadline on every wait.
 * Writing: buffered, sent on io_flush() or when the buffer fills.
 *
 * Under the buffers sits a transport (plain fd, or TLS from io_tls.c).
 * Protocol code never looks below this interface; it may only ask
 * io_tls_active() (io_tls.h) whether TLS is on.
 */
#ifndef MAILD_IO_H
#define MAILD_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Transport results besides a byte count. */
#define IO_T_EOF	0
#define IO_T_ERR	(-1)
#define IO_T_WANT_READ	(-2)
#define IO_T_WANT_WRITE	(-3)

struct io_transport {
	const char *name;
	/* > 0 bytes, IO_T_EOF, IO_T_ERR (errno set), or IO_T_WANT_*. */
	ssize_t	(*read)(void *ctx, int fd, void *buf, size_t len);
	ssize_t	(*write)(void *ctx, int fd, const void *buf, size_t len);
	/* Bytes the transport holds that read() returns without waiting. */
	size_t	(*pending)(void *ctx);
	/* Orderly close (TLS close_notify); may be NULL. */
	void	(*shutdown)(void *ctx, int fd);
	void	(*free)(void *ctx);
};

/* io_getline() results. */
#define IO_OK		1
#define IO_EOF		0
#define IO_ERR		(-1)
#define IO_TIMEOUT	(-2)

/* struct io_line flags. */
#define IO_LINE_CRLF	0x01	/* ended by CR LF */
#define IO_LINE_LF	0x02	/* ended by a bare LF */
#define IO_LINE_EOF	0x04	/* no terminator: the peer closed */
#define IO_LINE_PARTIAL	0x08	/* longer than max: more of it follows */
#define IO_LINE_BARECR	0x10	/* contains a CR not followed by LF */

struct io_line {
	/*
	 * The line without its terminator, NUL-terminated (the NUL may not be
	 * the first one: check len). Borrowed: valid until the next call on
	 * this io.
	 */
	char	*data;
	size_t	 len;
	unsigned flags;
};

struct io;

/*
 * Wraps a connected descriptor (both directions) or, for inetd mode, a
 * pair (rfd = 0, wfd = 1). The io owns the descriptors and sets them
 * non-blocking. Never returns NULL.
 */
struct io	*io_new(int rfd, int wfd);
/* Closes the descriptors, frees the transport, frees *iop, sets NULL. */
void		 io_free(struct io **iop);

/* Deadlines in milliseconds for each wait; <= 0 means none. */
void		 io_set_timeouts(struct io *, int read_ms, int write_ms);
void		 io_set_read_timeout(struct io *, int read_ms);
int		 io_read_timeout(struct io *);
/*
 * Stress: while is_stress() says so, no wait for the peer (a line, a
 * BDAT chunk, a flush) lasts more than ms from its start, whatever the
 * timeouts above; one that began before stress did ends when it is
 * seen (the hook is looked at twice a second). is_stress NULL: none.
 */
void		 io_set_stress(struct io *, bool (*is_stress)(void), int ms);
/*
 * Waits until fd (one of the io's) is ready for events, bounded as the
 * io's own waits are: by deadline (ms on the monotonic clock, 0: none)
 * and, under stress, by start + the stress time. For a transport's
 * handshake. Returns 1 ready, 0 time is up, -1 error (errno).
 */
int		 io_wait(struct io *, int fd, short events, long long start,
		    long long deadline);

/*
 * Reads one line of at most max bytes (not counting the terminator; max
 * is clamped to the buffer size). Returns IO_OK with *out filled, IO_EOF
 * when the peer closed with nothing buffered, IO_TIMEOUT, or IO_ERR.
 */
int		 io_getline(struct io *, size_t max, struct io_line *out);
/*
 * Reads exactly len raw bytes (for BDAT chunks): appends them to the
 * caller's sink through fn in pieces. Returns IO_OK, IO_EOF (peer closed
 * early), IO_TIMEOUT or IO_ERR, or the sink's nonzero return.
 */
int		 io_read_exact(struct io *, size_t len,
		    int (*fn)(void *arg, const char *buf, size_t n), void *arg);

/*
 * After io_getline() returned an IO_LINE_PARTIAL piece: reads and throws
 * away the rest of that line, up to limit bytes. Returns IO_OK at the
 * line's end, IO_ERR (errno EMSGSIZE) when it goes on past limit, or
 * IO_EOF / IO_TIMEOUT / IO_ERR from the reading.
 */
int		 io_skip_line(struct io *, size_t limit);

/* Bytes of client input that can be read without waiting. */
size_t		 io_pending(struct io *);
/* Throws away buffered input (STARTTLS injection defence). */
size_t		 io_discard_input(struct io *);

/*
 * Buffers output; a piece of 64 kB or more is written at once, after
 * what was buffered. Returns 0, or -1 if a forced flush or write failed.
 */
int		 io_write(struct io *, const void *, size_t);
int		 io_puts(struct io *, const char *);
int		 io_printf(struct io *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
/* Sends everything buffered; 0, or -1 on error/timeout (errno set). */
int		 io_flush(struct io *);
/* Bytes waiting in the output buffer. */
size_t		 io_outpending(struct io *);

/* The read descriptor (for poll); the io still owns it. */
int		 io_fd(struct io *);
int		 io_wfd(struct io *);
/* Totals since io_new, for the session summary. */
unsigned long long io_bytes_in(struct io *);
unsigned long long io_bytes_out(struct io *);

/*
 * Puts a transport under the buffers. The io takes ownership of ctx
 * (freed with the transport's free). Input already buffered is thrown
 * away: plaintext received before the switch must never be read as if
 * it came through the new transport.
 */
void		 io_set_transport(struct io *, const struct io_transport *,
		    void *ctx);
/* The transport's context if it is t, else NULL. */
void		*io_transport_ctx(struct io *, const struct io_transport *t);

#endif
