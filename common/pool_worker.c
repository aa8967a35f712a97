/*
 * The worker side of the pre-fork pool. Runs unprivileged (after
 * privdrop) in every standalone smtpd and pop3d worker. Workers accept
 * connections themselves, from non-blocking listening sockets shared by
 * the whole pool: when several wake for one connection, the losers get
 * EAGAIN and go back to waiting. The master only counts IDLE and BUSY
 * reports to keep the spare count. A worker retires after
 * max_sessions_per_worker sessions, and (retire_after_login) after a
 * session in which a user logged in.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "log.h"
#include "pool_worker.h"
#include "priv_client.h"
#include "session_id.h"
#include "sockaddr.h"

/* After accept() failed for want of descriptors or memory. */
#define ACCEPT_PAUSE_MS	250

static volatile sig_atomic_t	stopping;
static const volatile uint32_t	*stress;

static void
on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

bool
pool_worker_stopping(void)
{
	return stopping != 0;
}

bool
pool_worker_stressed(void)
{
	return stress != NULL && *stress != 0;
}

const char *
listen_role_name(enum listen_role r)
{
	switch (r) {
	case ROLE_SMTP:		return "smtp";
	case ROLE_SUBMISSION:	return "submission";
	case ROLE_SMTPS:	return "smtps";
	case ROLE_POP3:		return "pop3";
	case ROLE_POP3S:	return "pop3s";
	case ROLE_LOCAL:	return "local";
	}
	return "?";
}

bool
listen_role_is_smtp(int role)
{
	return (role >= ROLE_SMTP && role <= ROLE_SMTPS) || role == ROLE_LOCAL;
}

int
worker_session_begin(int client_fd, int role, const struct sockaddr *peer,
    struct reason *r)
{
	char	sid[SESSION_ID_MAX + 1], name[80];

	session_id_new(sid);
	log_session(sid);
	if (peer != NULL) {
		sockaddr_ntop_port(peer, name, sizeof(name));
		log_info("connect from %s (%s)", name, listen_role_name(role));
	} else
		log_info("connect from local (%s)", listen_role_name(role));
	return priv_session_begin(client_fd, sid, role, r);
}

const struct sockaddr *
worker_inetd_peer(int fd, struct sockaddr_storage *ss)
{
	socklen_t	len = sizeof(*ss);

	if (getpeername(fd, (struct sockaddr *)ss, &len) == 0 &&
	    (ss->ss_family == AF_INET || ss->ss_family == AF_INET6))
		return (const struct sockaddr *)ss;
	return NULL;
}

static void
report(struct pool_worker *w, enum pool_status_type type, uint32_t sessions)
{
	struct pool_status	st;
	ssize_t			n;

	memset(&st, 0, sizeof(st));
	st.type = type;
	st.pid = (int32_t)getpid();
	st.sessions = sessions;
	do {
		n = write(w->status_fd, &st, sizeof(st));
	} while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof(st)) {
		/* the master is gone or wedged: nobody counts us, stop */
		log_warnx("status pipe to the master failed; exiting");
		_exit(0);
	}
}

void
pool_worker_run(struct pool_worker *w)
{
	struct pollfd		 pfd[LISTEN_MAX * 5 + 2];
	struct session_start	 s;
	struct sigaction	 sa;
	sigset_t		 term;
	uint32_t		 served = 0;
	size_t			 i, n;
	int			 r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Blocked since the monitor was forked (master_spawn.c): a SIGTERM
	 * that came meanwhile is delivered now, before the first accept.
	 */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	sigprocmask(SIG_UNBLOCK, &term, NULL);

	stress = w->stress;
	n = w->nlisteners;
	if (n > sizeof(pfd) / sizeof(pfd[0]) - 2)
		n = sizeof(pfd) / sizeof(pfd[0]) - 2;
	report(w, POOL_ST_READY, 0);
	report(w, POOL_ST_IDLE, 0);
	while (!stopping) {
		for (i = 0; i < n; i++) {
			pfd[i].fd = w->listeners[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		pfd[n].fd = w->life_fd;
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		/* the monitor never speaks first: anything here is its end */
		pfd[n + 1].fd = priv_client_fd();
		pfd[n + 1].events = POLLIN;
		pfd[n + 1].revents = 0;
		r = poll(pfd, n + 2, 1000);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if (pfd[n].revents != 0) {
			log_debug("master went away; worker exiting");
			break;
		}
		if (pfd[n + 1].revents != 0) {
			log_warnx("monitor went away; worker exiting");
			break;
		}
		for (i = 0; i < n && !stopping; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			s.peerlen = sizeof(s.peer);
			s.fd = accept4(pfd[i].fd, (struct sockaddr *)&s.peer,
			    &s.peerlen, SOCK_CLOEXEC);
			if (s.fd == -1) {
				if (errno == EAGAIN || errno == EWOULDBLOCK ||
				    errno == EINTR || errno == ECONNABORTED)
					continue;
				log_warn("accept on %s", w->listeners[i].name);
				/*
				 * Out of descriptors or memory: the client
				 * stays queued, and poll() would wake us at
				 * once again. Leave it a moment (to another
				 * worker, or to the master's refusal).
				 */
				if (errno == EMFILE || errno == ENFILE ||
				    errno == ENOBUFS || errno == ENOMEM)
					(void)poll(NULL, 0, ACCEPT_PAUSE_MS);
				continue;
			}
			s.listener = &w->listeners[i];
			socket_nodelay(s.fd);
			report(w, POOL_ST_BUSY, served);
			w->session(w->arg, &s);
			served++;
			log_session(NULL);
			/*
			 * Without a monitor every session would only get a
			 * 421: leave the listeners to workers that can serve.
			 */
			if (priv_client_lost()) {
				log_warnx("lost the monitor; worker exiting");
				report(w, POOL_ST_EXITING, served);
				_exit(1);
			}
			if (w->max_sessions > 0 &&
			    served >= (uint32_t)w->max_sessions) {
				log_debug("served %u sessions; retiring",
				    served);
				report(w, POOL_ST_EXITING, served);
				_exit(0);
			}
			/*
			 * A worker that has seen a password and held a
			 * user's maildrop serves nobody else: one taken
			 * over in that session would see the next users'
			 * passwords. Its monitor insists (priv_session.c).
			 */
			if (w->retire_after_login &&
			    priv_client_has_logged_in()) {
				log_debug("a user logged in; retiring");
				report(w, POOL_ST_EXITING, served);
				_exit(0);
			}
			report(w, POOL_ST_IDLE, served);
			break;	/* re-poll: be fair to the other listeners */
		}
	}
	report(w, POOL_ST_EXITING, served);
	_exit(0);
}
