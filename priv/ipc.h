/*
 * Typed request/reply messages between an unprivileged worker and its
 * privileged monitor, over a SOCK_SEQPACKET socketpair (one message per
 * send, boundaries kept by the kernel). A message is a type, then fields
 * written and read in a fixed order: u32, u64 and length-prefixed
 * strings. At most one descriptor rides with a message (SCM_RIGHTS).
 *
 * Decoding fails closed: every read is bounds-checked, a string may not
 * contain NUL and has a maximum length, ipc_get_end() fails if bytes are
 * left over, and a descriptor that arrives where none is expected is
 * closed and the message refused.
 */
#ifndef MAILD_IPC_H
#define MAILD_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"

#define IPC_HDR_LEN	8	/* u32 type, u32 payload length */

struct ipc_msg {
	uint32_t	type;
	size_t		len;		/* payload bytes */
	size_t		rpos;		/* read position in the payload */
	bool		bad;		/* a put or get went out of bounds */
	int		fd;		/* received descriptor, or -1 */
	unsigned char	buf[IPC_MSG_MAX];	/* header + payload */
};

/* Starts an outgoing message of the given type. */
void	ipc_msg_init(struct ipc_msg *, uint32_t type);
void	ipc_put_u32(struct ipc_msg *, uint32_t);
void	ipc_put_u64(struct ipc_msg *, uint64_t);
/* A string without NULs; len bytes of s. */
void	ipc_put_strn(struct ipc_msg *, const char *s, size_t len);
void	ipc_put_str(struct ipc_msg *, const char *s);
/* Raw bytes (may contain anything), length-prefixed. */
void	ipc_put_bytes(struct ipc_msg *, const void *, size_t);

/* Each returns 0, or -1 (and marks the message bad) on a short read. */
int	ipc_get_u32(struct ipc_msg *, uint32_t *out);
int	ipc_get_u64(struct ipc_msg *, uint64_t *out);
/*
 * A string of at most max bytes without NULs: copied into out (size
 * outsz > max) and NUL-terminated.
 */
int	ipc_get_str(struct ipc_msg *, char *out, size_t outsz, size_t max);
/* Raw bytes: *p points into the message (borrowed), *len_out <= max. */
int	ipc_get_bytes(struct ipc_msg *, const void **p, size_t *len_out,
	    size_t max);
/* 0 if the whole payload was consumed and nothing went wrong. */
int	ipc_get_end(struct ipc_msg *);

/*
 * Sends the message with fd (or -1) attached. Returns 0, or -1 (errno)
 * also when a put overflowed the message (EMSGSIZE).
 */
int	ipc_send(int sock, struct ipc_msg *, int fd);
/*
 * Receives one message. fd_allowed says whether a descriptor may come
 * with it; it lands in m->fd (owned by the caller, who must close it).
 * Returns 1 on a message, 0 at EOF, -1 on error: EMSGSIZE (too long),
 * EBADMSG (malformed header or an unexpected descriptor, which has been
 * closed), or EINTR. On -1 the connection may still be usable.
 */
int	ipc_recv(int sock, struct ipc_msg *, bool fd_allowed);

#endif
