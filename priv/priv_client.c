/*
 * Worker-side stubs of the privileged requests (see priv_client.h and
 * priv_proto.h). Runs unprivileged. One request is in flight at a time;
 * the monitor answers in order. Once the monitor's socket has failed
 * (EOF: it dropped us or died), every request fails at once, and the
 * worker must not start another session (priv_client_lost).
 */
#include "autoconf.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "priv_client.h"
#include "priv_proto.h"

static int		priv_fd = -1;
static bool		priv_lost;
static struct ipc_msg	req, rep;
static bool		logged_in;	/* a login succeeded, ever */

void
priv_client_init(int fd)
{
	priv_fd = fd;
	priv_lost = false;
}

bool
priv_client_lost(void)
{
	return priv_lost;
}

int
priv_client_fd(void)
{
	return priv_fd;
}

/*
 * Sends req (with fd, or -1) and reads the reply into rep. Returns 0 on
 * PRIV_OK, 1 on PRIV_FAIL (r filled), -1 when the exchange failed.
 * When fd_reply is set, a descriptor may come with the reply.
 */
static int
exchange(int fd, bool fd_reply, struct reason *r)
{
	char	status[8], text[256];
	int	n;

	if (priv_lost) {
		reason_set(r, "4.3.0", "internal error, try again later");
		return -1;
	}
	if (ipc_send(priv_fd, &req, fd) == -1) {
		log_warn("privileged request %u", req.type);
		/* a request too big for the socket is our bug, not a loss */
		if (errno != EMSGSIZE && errno != EINVAL)
			priv_lost = true;
		reason_set(r, "4.3.0", "internal error, try again later");
		return -1;
	}
	do {
		n = ipc_recv(priv_fd, &rep, fd_reply);
	} while (n == -1 && errno == EINTR);
	if (n != 1) {
		if (n == 0)
			log_warnx("monitor closed the connection");
		else
			log_warn("privileged reply");
		priv_lost = true;
		reason_set(r, "4.3.0", "internal error, try again later");
		return -1;
	}
	switch (rep.type) {
	case PRIV_OK:
		return 0;
	case PRIV_FAIL:
		if (ipc_get_str(&rep, status, sizeof(status), 7) == -1 ||
		    ipc_get_str(&rep, text, sizeof(text), 255) == -1 ||
		    ipc_get_end(&rep) == -1)
			break;
		reason_set(r, status, "%s", text);
		return 1;
	default:
		break;
	}
	if (rep.fd != -1) {
		close(rep.fd);
		rep.fd = -1;
	}
	log_warnx("privileged request %u: unexpected reply %u", req.type,
	    rep.type);
	reason_set(r, "4.3.0", "internal error, try again later");
	return -1;
}

/* For replies that carry no fields. */
static int
simple(int fd, struct reason *r)
{
	int	n = exchange(fd, false, r);

	if (n == 0 && ipc_get_end(&rep) == -1) {
		reason_set(r, "4.3.0", "internal error, try again later");
		return -1;
	}
	return n;
}

int
priv_ping(struct reason *r)
{
	ipc_msg_init(&req, PRIV_PING);
	return simple(-1, r);
}

int
priv_session_begin(int client_fd, const char *sid, int role,
    struct reason *r)
{
	ipc_msg_init(&req, PRIV_SESSION_BEGIN);
	ipc_put_str(&req, sid);
	ipc_put_u32(&req, (uint32_t)role);
	return simple(client_fd, r);
}

int
priv_session_end(struct reason *r)
{
	ipc_msg_init(&req, PRIV_SESSION_END);
	return simple(-1, r);
}

int
priv_auth_user(const char *user, const char *password, const char *mech,
    uint32_t flags, char *user_out, size_t outsz, struct reason *r)
{
	int	n;

	ipc_msg_init(&req, PRIV_AUTH);
	ipc_put_str(&req, user);
	ipc_put_str(&req, password);
	ipc_put_str(&req, mech);
	ipc_put_u32(&req, flags);
	n = exchange(-1, false, r);
	explicit_bzero(req.buf, sizeof(req.buf));
	if (n == 0 && (ipc_get_str(&rep, user_out, outsz, USER_NAME_MAX) ==
	    -1 || ipc_get_end(&rep) == -1)) {
		reason_set(r, "4.3.0", "internal error, try again later");
		return -1;
	}
	if (n == 0)
		logged_in = true;
	return n;
}

bool
priv_client_has_logged_in(void)
{
	return logged_in;
}

/* For replies that carry one string. */
static int
with_string(char *out, size_t outsz, struct reason *r)
{
	int	n = exchange(-1, false, r);

	if (n == 0 && (ipc_get_str(&rep, out, outsz, outsz - 1) == -1 ||
	    ipc_get_end(&rep) == -1)) {
		reason_set(r, "4.3.0", "internal error, try again later");
		return -1;
	}
	return n;
}

int
priv_mail(const char *sender, const char *helo, uint32_t flags,
    uint64_t size, const char *envid, char *qid_out, size_t qidsz,
    struct reason *r)
{
	ipc_msg_init(&req, PRIV_MAIL);
	ipc_put_str(&req, sender);
	ipc_put_str(&req, helo);
	ipc_put_u32(&req, flags);
	ipc_put_u64(&req, size);
	ipc_put_str(&req, envid != NULL ? envid : "");
	return with_string(qid_out, qidsz, r);
}

int
priv_rcpt(const char *addr, uint32_t notify, const char *orcpt,
    struct reason *r)
{
	ipc_msg_init(&req, PRIV_RCPT);
	ipc_put_str(&req, addr);
	ipc_put_u32(&req, notify);
	ipc_put_str(&req, orcpt != NULL ? orcpt : "");
	return simple(-1, r);
}

int
priv_rset(struct reason *r)
{
	ipc_msg_init(&req, PRIV_RSET);
	return simple(-1, r);
}

int
priv_data_begin(const char *trace, size_t len, struct reason *r)
{
	ipc_msg_init(&req, PRIV_DATA_BEGIN);
	ipc_put_bytes(&req, trace, len);
	return simple(-1, r);
}

int
priv_data_chunk(const void *buf, size_t len)
{
	if (priv_lost)
		return -1;
	ipc_msg_init(&req, PRIV_DATA_CHUNK);
	ipc_put_bytes(&req, buf, len);
	if (ipc_send(priv_fd, &req, -1) == -1) {
		log_warn("sending message data to the monitor");
		if (errno != EMSGSIZE && errno != EINVAL)
			priv_lost = true;
		return -1;
	}
	return 0;
}

int
priv_data_end(uint64_t size, int ok, char *qid_out, size_t qidsz,
    struct reason *r)
{
	ipc_msg_init(&req, PRIV_DATA_END);
	ipc_put_u64(&req, size);
	ipc_put_u32(&req, ok ? 1 : 0);
	if (!ok)
		return simple(-1, r);
	return with_string(qid_out, qidsz, r);
}

int
priv_vrfy(const char *addr, int expand, char *out, size_t outsz,
    struct reason *r)
{
	ipc_msg_init(&req, PRIV_VRFY);
	ipc_put_str(&req, addr);
	ipc_put_u32(&req, expand ? 1 : 0);
	return with_string(out, outsz, r);
}

/* For replies that carry a descriptor and nothing else. */
static int
with_fd(int *fd_out, struct reason *r)
{
	int	n = exchange(-1, true, r);

	*fd_out = -1;
	if (n != 0) {
		if (rep.fd != -1) {
			close(rep.fd);
			rep.fd = -1;
		}
		return n;
	}
	if (rep.fd == -1 || ipc_get_end(&rep) == -1) {
		if (rep.fd != -1)
			close(rep.fd);
		rep.fd = -1;
		log_warnx("privileged request %u: reply without its descriptor",
		    req.type);
		reason_set(r, "4.3.0", "internal error, try again later");
		return -1;
	}
	*fd_out = rep.fd;
	rep.fd = -1;
	return 0;
}

int
priv_maildrop_open(int *fd_out, struct reason *r)
{
	ipc_msg_init(&req, PRIV_MAILDROP_OPEN);
	return with_fd(fd_out, r);
}

int
priv_index_open(int *fd_out, struct reason *r)
{
	ipc_msg_init(&req, PRIV_INDEX_OPEN);
	return with_fd(fd_out, r);
}

int
priv_maildrop_tmp(int *fd_out, struct reason *r)
{
	ipc_msg_init(&req, PRIV_MAILDROP_TMP);
	return with_fd(fd_out, r);
}

int
priv_maildrop_commit(struct reason *r)
{
	ipc_msg_init(&req, PRIV_MAILDROP_COMMIT);
	return simple(-1, r);
}

int
priv_release_maildrop(struct reason *r)
{
	ipc_msg_init(&req, PRIV_MAILDROP_RELEASE);
	return simple(-1, r);
}

int
priv_apop_challenge(char *stamp_out, size_t outsz, struct reason *r)
{
	ipc_msg_init(&req, PRIV_APOP_CHALLENGE);
	return with_string(stamp_out, outsz, r);
}

int
priv_apop_user(const char *user, const char *digest, char *user_out,
    size_t outsz, struct reason *r)
{
	int	n;

	ipc_msg_init(&req, PRIV_APOP);
	ipc_put_str(&req, user);
	ipc_put_str(&req, digest);
	if ((n = with_string(user_out, outsz, r)) == 0)
		logged_in = true;
	return n;
}
