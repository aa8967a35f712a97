/*
 * The privsep message layer (see ipc.h), used on both sides of every
 * worker/monitor pair. Nothing here knows what a message means; the
 * request tables in priv/priv.c and the stubs in priv/priv_client.c
 * do.
 */
#include "autoconf.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ipc.h"

static void
put(struct ipc_msg *m, const void *p, size_t n)
{
	if (m->bad || n > IPC_MSG_MAX - IPC_HDR_LEN - m->len) {
		m->bad = true;
		return;
	}
	memcpy(m->buf + IPC_HDR_LEN + m->len, p, n);
	m->len += n;
}

static int
get(struct ipc_msg *m, void *p, size_t n)
{
	if (m->bad || n > m->len - m->rpos) {
		m->bad = true;
		return -1;
	}
	memcpy(p, m->buf + IPC_HDR_LEN + m->rpos, n);
	m->rpos += n;
	return 0;
}

void
ipc_msg_init(struct ipc_msg *m, uint32_t type)
{
	m->type = type;
	m->len = m->rpos = 0;
	m->bad = false;
	m->fd = -1;
}

void
ipc_put_u32(struct ipc_msg *m, uint32_t v)
{
	put(m, &v, sizeof(v));
}

void
ipc_put_u64(struct ipc_msg *m, uint64_t v)
{
	put(m, &v, sizeof(v));
}

void
ipc_put_bytes(struct ipc_msg *m, const void *p, size_t n)
{
	if (n > UINT32_MAX) {
		m->bad = true;
		return;
	}
	ipc_put_u32(m, (uint32_t)n);
	put(m, p, n);
}

void
ipc_put_strn(struct ipc_msg *m, const char *s, size_t n)
{
	if (memchr(s, '\0', n) != NULL) {
		m->bad = true;
		return;
	}
	ipc_put_bytes(m, s, n);
}

void
ipc_put_str(struct ipc_msg *m, const char *s)
{
	ipc_put_strn(m, s, strlen(s));
}

int
ipc_get_u32(struct ipc_msg *m, uint32_t *out)
{
	return get(m, out, sizeof(*out));
}

int
ipc_get_u64(struct ipc_msg *m, uint64_t *out)
{
	return get(m, out, sizeof(*out));
}

int
ipc_get_bytes(struct ipc_msg *m, const void **p, size_t *len_out,
    size_t max)
{
	uint32_t	n;

	if (ipc_get_u32(m, &n) == -1)
		return -1;
	if (n > max || n > m->len - m->rpos) {
		m->bad = true;
		return -1;
	}
	*p = m->buf + IPC_HDR_LEN + m->rpos;
	*len_out = n;
	m->rpos += n;
	return 0;
}

int
ipc_get_str(struct ipc_msg *m, char *out, size_t outsz, size_t max)
{
	const void	*p;
	size_t		 n;

	if (outsz == 0 || max >= outsz)
		max = outsz - 1;
	if (ipc_get_bytes(m, &p, &n, max) == -1)
		return -1;
	if (memchr(p, '\0', n) != NULL) {
		m->bad = true;
		return -1;
	}
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int
ipc_get_end(struct ipc_msg *m)
{
	if (m->bad || m->rpos != m->len) {
		m->bad = true;
		return -1;
	}
	return 0;
}

int
ipc_send(int sock, struct ipc_msg *m, int fd)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 cmsgbuf;
	struct msghdr	 msg;
	struct iovec	 iov;
	uint32_t	 hdr[2];
	ssize_t		 n;

	if (m->bad) {
		errno = EMSGSIZE;
		return -1;
	}
	hdr[0] = m->type;
	hdr[1] = (uint32_t)m->len;
	memcpy(m->buf, hdr, sizeof(hdr));
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = m->buf;
	iov.iov_len = IPC_HDR_LEN + m->len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd != -1) {
		struct cmsghdr *c;

		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = sizeof(cmsgbuf.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if ((size_t)n != iov.iov_len) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

/* Closes every descriptor carried by the control messages. */
static void
close_fds(struct msghdr *msg)
{
	struct cmsghdr	*c;
	size_t		 i, n;
	int		 fd;

	for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			close(fd);
		}
	}
}

int
ipc_recv(int sock, struct ipc_msg *m, bool fd_allowed)
{
	union {
		struct cmsghdr	hdr;
		/* room for a few, so extra descriptors are seen and closed */
		char		buf[CMSG_SPACE(sizeof(int) * 8)];
	}		 cmsgbuf;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*c;
	uint32_t	 hdr[2];
	ssize_t		 n;
	int		 nfds = 0;

	ipc_msg_init(m, 0);
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = m->buf;
	iov.iov_len = sizeof(m->buf);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	/* EINTR goes back to the caller: the monitor forwards signals */
	if ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) == -1)
		return -1;
	if (n == 0 && msg.msg_controllen == 0)
		return 0;

	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			nfds += (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		else
			nfds += 100;	/* anything else is unexpected */
	}
	if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    nfds > (fd_allowed ? 1 : 0)) {
		close_fds(&msg);
		errno = (msg.msg_flags & MSG_TRUNC) ? EMSGSIZE : EBADMSG;
		return -1;
	}
	if ((size_t)n < IPC_HDR_LEN) {
		close_fds(&msg);
		errno = EBADMSG;
		return -1;
	}
	memcpy(hdr, m->buf, sizeof(hdr));
	if (hdr[1] != (size_t)n - IPC_HDR_LEN) {
		close_fds(&msg);
		errno = EBADMSG;
		return -1;
	}
	m->type = hdr[0];
	m->len = hdr[1];
	if (nfds == 1) {
		c = CMSG_FIRSTHDR(&msg);
		memcpy(&m->fd, CMSG_DATA(c), sizeof(int));
	}
	return 1;
}
