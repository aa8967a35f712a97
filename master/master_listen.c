/*
 * Binding the listening sockets, in the master (root, before any worker
 * exists, so ports below 1024 work). "*:port" binds the IPv6 and IPv4
 * wildcard addresses separately (IPV6_V6ONLY), so the same port answers
 * on both families; a host name or literal binds each of its addresses.
 * Sockets are non-blocking: the pool's workers all poll them and race
 * to accept.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "master.h"
#include "sockaddr.h"
#include "xmalloc.h"

/*
 * The listen queue. Linux cuts it to net.core.somaxconn (4096 since
 * 5.4); once it is full, new SYNs are dropped and clients hang in SYN
 * for seconds. It only has to hold a burst until a worker, or the
 * master refusing for a full pool (master_pool.c), takes it: 128 was
 * filled by a couple of hundred idle connections.
 */
#define LISTEN_BACKLOG	4096

static int
bind_one(const struct sockaddr *sa, socklen_t salen, char *err, size_t errsz)
{
	int	fd, on = 1;
	char	name[80];

	sockaddr_ntop_port(sa, name, sizeof(name));
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		snprintf(err, errsz, "%s: socket: %s", name, strerror(errno));
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (sa->sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1) {
		snprintf(err, errsz, "%s: IPV6_V6ONLY: %s", name,
		    strerror(errno));
		close(fd);
		return -1;
	}
	if (bind(fd, sa, salen) == -1 || listen(fd, LISTEN_BACKLOG) == -1) {
		snprintf(err, errsz, "%s: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	/* workers inherit it across fork; nothing exec()s */
	return fd;
}

static struct listener *
find(struct listen_set *set, enum listen_role role, const char *name)
{
	size_t	i;

	if (set == NULL)
		return NULL;
	for (i = 0; i < set->n; i++)
		if (set->v[i].role == role && set->v[i].fd != -1 &&
		    strcmp(set->v[i].name, name) == 0)
			return &set->v[i];
	return NULL;
}

static int
add(struct listen_set *out, struct listen_set *old, enum listen_role role,
    const struct config *cfg, const struct listen_addr *la, char *err,
    size_t errsz)
{
	struct addrinfo	 hints, *res, *ai;
	struct listener	*l, *prev;
	char		 port[8], name[80], e[200];
	int		 r, fd, bound = 0;

	snprintf(port, sizeof(port), "%d", la->port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	hints.ai_family = AF_UNSPEC;
	if ((r = getaddrinfo(la->host, port, &hints, &res)) != 0) {
		snprintf(err, errsz, "%s:%d: listen address %s:%d: %s",
		    cfg->path, la->line, la->host ? la->host : "*", la->port,
		    gai_strerror(r));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		sockaddr_ntop_port(ai->ai_addr, name, sizeof(name));
		if (find(out, role, name) != NULL) {
			bound++;
			continue;
		}
		if ((prev = find(old, role, name)) != NULL) {
			/* the same socket, so a reload never drops a port */
			if ((fd = fcntl(prev->fd, F_DUPFD_CLOEXEC, 0)) == -1) {
				snprintf(err, errsz, "%s: dup: %s", name,
				    strerror(errno));
				freeaddrinfo(res);
				return -1;
			}
		} else if ((fd = bind_one(ai->ai_addr, ai->ai_addrlen, e,
		    sizeof(e))) == -1) {
			/* a wildcard on a host without IPv6 is not an error */
			if (la->host == NULL && ai->ai_family == AF_INET6 &&
			    (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
				log_info("no IPv6 here; %s not bound", name);
				continue;
			}
			snprintf(err, errsz, "%s:%d: cannot listen on %s",
			    cfg->path, la->line, e);
			freeaddrinfo(res);
			return -1;
		}
		out->v = xreallocarray(out->v, out->n + 1, sizeof(*out->v));
		l = &out->v[out->n++];
		l->fd = fd;
		l->role = role;
		snprintf(l->name, sizeof(l->name), "%s", name);
		bound++;
	}
	freeaddrinfo(res);
	if (bound == 0) {
		snprintf(err, errsz, "%s:%d: listen address %s:%d has no "
		    "usable address", cfg->path, la->line,
		    la->host ? la->host : "*", la->port);
		return -1;
	}
	return 0;
}

/*
 * The local submission socket (submit.socket): a UNIX stream socket,
 * mode 0666, that the sendmail command connects to; the monitor asks
 * the kernel who is at the other end (SO_PEERCRED), so the mode grants
 * nothing but the right to say who one is. A stale socket left by a
 * previous master is replaced; anything else at the path is not touched.
 * Returns the descriptor, or -1 with err filled.
 */
static int
bind_unix(const char *path, char *err, size_t errsz)
{
	struct sockaddr_un	sun;
	struct stat		st;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path) ||
	    strlen(path) >= sizeof(((struct listener *)NULL)->name)) {
		snprintf(err, errsz, "%s: path too long for a socket", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errsz, "%s: exists and is not a socket",
			    path);
			return -1;
		}
		/* a live one is another maild's: never take it over */
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) !=
		    -1) {
			int live = connect(fd, (struct sockaddr *)&sun,
			    sizeof(sun)) == 0;

			close(fd);
			if (live) {
				snprintf(err, errsz, "%s: another process "
				    "listens there", path);
				return -1;
			}
		}
		if (unlink(path) == -1) {
			snprintf(err, errsz, "%s: unlink: %s", path,
			    strerror(errno));
			return -1;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errsz, "%s: socket: %s", path, strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(path, 0666) == -1 || listen(fd, LISTEN_BACKLOG) == -1) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Adds the submit.socket listener. Its failure is not fatal: without it
 * the sendmail command leaves mail in queue_dir/maildrop, which the
 * queue runner picks up.
 */
static void
add_local(struct listen_set *out, struct listen_set *old, const char *path)
{
	struct listener	*l, *prev;
	char		 e[200];
	int		 fd;

	if (*path == '\0')
		return;
	if ((prev = find(old, ROLE_LOCAL, path)) != NULL) {
		if ((fd = fcntl(prev->fd, F_DUPFD_CLOEXEC, 0)) == -1) {
			log_warn("submit.socket %s: dup", path);
			return;
		}
	} else if ((fd = bind_unix(path, e, sizeof(e))) == -1) {
		log_warnx("no local submission socket: %s (the sendmail "
		    "command will leave mail in queue_dir/maildrop)", e);
		return;
	}
	out->v = xreallocarray(out->v, out->n + 1, sizeof(*out->v));
	l = &out->v[out->n++];
	l->fd = fd;
	l->role = ROLE_LOCAL;
	snprintf(l->name, sizeof(l->name), "%s", path);
}

int
listen_set_bind(const struct config *cfg, struct listen_set *old,
    struct listen_set *out, char *err, size_t errsz)
{
	const struct {
		const struct listen_list	*list;
		enum listen_role		 role;
	} groups[] = {
		{ &cfg->smtp.listen, ROLE_SMTP },
		{ &cfg->smtp.submission_listen, ROLE_SUBMISSION },
		{ &cfg->smtp.smtps_listen, ROLE_SMTPS },
		{ &cfg->pop3.listen, ROLE_POP3 },
		{ &cfg->pop3.pop3s_listen, ROLE_POP3S },
	};
	size_t	g, i;

	out->v = NULL;
	out->n = 0;
	for (g = 0; g < sizeof(groups) / sizeof(groups[0]); g++)
		for (i = 0; i < groups[g].list->n; i++)
			if (add(out, old, groups[g].role, cfg,
			    &groups[g].list->v[i], err, errsz) == -1) {
				listen_set_close(out);
				return -1;
			}
	add_local(out, old, cfg->submit.socket);
	return 0;
}

void
listen_set_close(struct listen_set *set)
{
	size_t	i;

	for (i = 0; i < set->n; i++)
		if (set->v[i].fd != -1)
			close(set->v[i].fd);
	free(set->v);
	set->v = NULL;
	set->n = 0;
}
