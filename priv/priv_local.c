/*
 * Local submission on the monitor's side (root): a session that came in
 * on submit.socket, the UNIX socket the sendmail command connects to.
 * The monitor asks the kernel, from the descriptor the worker passed at
 * SESSION_BEGIN, who is at the other end (SO_PEERCRED) and makes the
 * session that user's, as if they had authenticated; it never believes
 * the worker about it. The message itself is read and parsed by the
 * unprivileged worker, as on every other port; the monitor only writes
 * it into the queue.
 *
 * Only root and submit.trusted_users may give another envelope sender;
 * everyone else's mail has their own address (checked at MAIL,
 * priv_local_sender_ok).
 */
#include "autoconf.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "addr.h"
#include "log.h"
#include "pool_worker.h"
#include "priv.h"

int
priv_local_fd(struct priv *p, int fd, const char **why)
{
	struct sockaddr_storage	 local;
	struct sockaddr_un	 a, b;
	struct ucred		 cred;
	socklen_t		 len;
	size_t			 i;

	len = sizeof(local);
	memset(&local, 0, sizeof(local));
	if (getsockname(fd, (struct sockaddr *)&local, &len) == -1 ||
	    local.ss_family != AF_UNIX || len > sizeof(a)) {
		*why = "not a TCP connection";
		return 0;
	}
	memset(&a, 0, sizeof(a));
	memcpy(&a, &local, len);
	for (i = 0; i < p->nlisteners; i++) {
		if (p->listeners[i].role != ROLE_LOCAL ||
		    p->listeners[i].addr.ss_family != AF_UNIX)
			continue;
		memcpy(&b, &p->listeners[i].addr, sizeof(b));
		if (strncmp(a.sun_path, b.sun_path, sizeof(a.sun_path)) == 0)
			break;
	}
	if (i == p->nlisteners) {
		*why = "not accepted on the local submission socket";
		return 0;
	}
	len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 ||
	    len != sizeof(cred)) {
		*why = "no peer credentials";
		return 0;
	}
	p->local_uid = (uint32_t)cred.uid;
	return ROLE_LOCAL;
}

void
priv_fullname(const char *gecos, char *out, size_t outsz)
{
	size_t	i, n = 0;

	/* the GECOS field's first member; nothing a header cannot carry */
	for (i = 0; gecos != NULL && gecos[i] != '\0' && gecos[i] != ',' &&
	    n + 1 < outsz; i++)
		if ((unsigned char)gecos[i] >= 0x20 && gecos[i] != 0x7f)
			out[n++] = gecos[i];
	out[n] = '\0';
}

int
priv_local_begin(struct priv *p, struct reason *r)
{
	struct passwd	*pw;
	size_t		 i;

	errno = 0;
	if ((pw = getpwuid((uid_t)p->local_uid)) == NULL) {
		log_warnx("local submission from uid %lu: %s",
		    (unsigned long)p->local_uid, errno != 0 ?
		    strerror(errno) : "no such user");
		if (errno != 0 && errno != ENOENT && errno != ESRCH)
			reason_set(r, "4.3.0", "cannot look up uid %lu, try "
			    "again later", (unsigned long)p->local_uid);
		else
			reason_set(r, "5.7.1", "uid %lu has no user name",
			    (unsigned long)p->local_uid);
		return -1;
	}
	if (strlen(pw->pw_name) > USER_NAME_MAX) {
		reason_set(r, "5.7.1", "user name too long");
		return -1;
	}
	p->authed = true;
	snprintf(p->user, sizeof(p->user), "%s", pw->pw_name);
	priv_fullname(pw->pw_gecos, p->fullname, sizeof(p->fullname));
	p->local_trusted = pw->pw_uid == 0;
	for (i = 0; i < p->cfg->submit.trusted_users.n; i++)
		if (strcmp(p->cfg->submit.trusted_users.v[i], pw->pw_name) == 0)
			p->local_trusted = true;
	snprintf(p->client, sizeof(p->client), "local");
	log_info("local submission user=%s uid=%lu%s", p->user,
	    (unsigned long)p->local_uid, p->local_trusted ? " trusted" : "");
	return 0;
}

bool
priv_local_sender_ok(const struct priv *p, const struct mailaddr *sender)
{
	if (p->local_trusted)
		return true;
	/* USER@hostname, and nothing else: not even <> */
	return sender->local[0] != '\0' &&
	    strcmp(sender->local, p->user) == 0 &&
	    strcasecmp(sender->domain, p->cfg->hostname) == 0;
}
