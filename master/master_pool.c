/*
 * The master's half of the pre-forked pools (root; reads nothing from
 * the network). Per protocol it keeps min_spare..max_spare idle workers,
 * never more than max_workers in all, learning who is idle or busy from
 * each worker's status pipe. A worker that dies before it ever became
 * ready makes the next start wait, doubling up to 30 s, so a broken
 * setup does not fork in a tight loop; the log says so.
 *
 * When every worker the pool may have is busy and a client has waited
 * half a second for one, the pool is under stress: the master says so in the shared page (workers then cut
 * their waits for clients to stress_timeout and tolerate fewer errors,
 * pool_worker.c), logs when it begins and ends, and itself takes the
 * connections no worker can: each gets a fixed "try again later" and is
 * closed, never read from. A client is answered or refused at once,
 * rather than left in the listen queue or in SYN.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "log.h"
#include "master.h"
#include "xmalloc.h"

#define BACKOFF_FIRST_MS	100
#define BACKOFF_MAX_MS		30000
#define STARTUP_GRACE_MS	2000	/* dying sooner counts as a failure */
#define RETIRE_AFTER_MS		1000	/* idle surplus lasting this long */
/*
 * Stress ends this long after the pool was last full: workers freed by
 * the shorter timeouts are soon taken again in a flood, and the mode
 * should not flap (and log) at every session.
 */
#define STRESS_HOLD_MS		5000
/* Connections refused in one go, so that the status pipes get a turn. */
#define REFUSE_BATCH		64
/* How long a client may wait for a worker of a full pool: see master.h. */
#define REFUSE_GRACE_MS		500
/* Out of descriptors: how long to leave the listeners alone. */
#define REFUSE_PAUSE_MS		200
/* After a failed fork or pipe (out of processes or descriptors). */
#define SPAWN_RETRY_MS		1000

static void	refuse(struct master *, struct pool *,
		    const struct listener *);

static long long
ms_since(const struct timespec *t)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - t->tv_sec) * 1000 +
	    (now.tv_nsec - t->tv_nsec) / 1000000;
}

static void
add_ms(struct timespec *t, long ms)
{
	t->tv_sec += ms / 1000;
	t->tv_nsec += (ms % 1000) * 1000000;
	if (t->tv_nsec >= 1000000000) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000;
	}
}

static bool
reached(const struct timespec *t)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec &&
	    now.tv_nsec >= t->tv_nsec);
}

void
pool_shared_init(struct master *m)
{
	void	*p;

	/* the workers make their copy read-only (master_spawn.c) */
	p = mmap(NULL, sizeof(*m->shared), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fatal("mmap shared page");
	m->shared = p;
	memset(p, 0, sizeof(*m->shared));
}

void
pool_setup(struct master *m, struct pool *pl, enum pool_proto proto)
{
	struct listen_set	*ls = m->listeners;
	size_t			 i;

	pl->proto = proto;
	pl->name = proto == POOL_SMTP ? "smtpd" : "pop3d";
	pl->cfg = proto == POOL_SMTP ? m->cfg->smtp.pool : m->cfg->pop3.pool;
	free(pl->listeners);
	pl->listeners = NULL;
	pl->nlisteners = 0;
	for (i = 0; i < ls->n; i++) {
		bool smtp = listen_role_is_smtp((int)ls->v[i].role);

		if (smtp != (proto == POOL_SMTP))
			continue;
		pl->listeners = xreallocarray(pl->listeners,
		    pl->nlisteners + 1, sizeof(*pl->listeners));
		pl->listeners[pl->nlisteners++] = ls->v[i];
	}
	if (pl->nslots < (size_t)pl->cfg.max_workers) {
		pl->slots = xreallocarray(pl->slots,
		    (size_t)pl->cfg.max_workers, sizeof(*pl->slots));
		for (i = pl->nslots; i < (size_t)pl->cfg.max_workers; i++) {
			memset(&pl->slots[i], 0, sizeof(pl->slots[i]));
			pl->slots[i].status_fd = -1;
		}
		pl->nslots = (size_t)pl->cfg.max_workers;
	}
}

static void
slot_tell(struct pool *pl, struct slot *s, int sig)
{
	if (s->monitor > 0 && kill(s->monitor, sig) == -1 && errno != ESRCH)
		log_warn("%s: kill %ld", pl->name, (long)s->monitor);
	if (sig == SIGTERM) {
		s->told = true;
		s->state = SLOT_EXITING;
	}
}

/*
 * Out of processes or descriptors: try again in SPAWN_RETRY_MS, not on
 * every turn of the master's loop (which logged the failure dozens of
 * times a second and never refused anyone).
 */
static void
spawn_failed(struct pool *pl)
{
	pl->spawn_failing = true;
	clock_gettime(CLOCK_MONOTONIC, &pl->spawn_retry);
	add_ms(&pl->spawn_retry, SPAWN_RETRY_MS);
}

static void
spawn(struct master *m, struct pool *pl, struct slot *s)
{
	int	st[2];
	pid_t	pid;

	if (pipe2(st, O_CLOEXEC) == -1) {
		log_warn("%s: pipe", pl->name);
		spawn_failed(pl);
		return;
	}
	pid = spawn_monitor(m, pl, st[0], st[1]);
	close(st[1]);
	if (pid == -1) {
		close(st[0]);
		spawn_failed(pl);
		return;
	}
	if (pl->spawn_failing)
		log_info("%s: starting workers again", pl->name);
	pl->spawn_failing = false;
	(void)fcntl(st[0], F_SETFL, O_NONBLOCK);
	memset(s, 0, sizeof(*s));
	s->state = SLOT_STARTING;
	s->monitor = pid;
	s->status_fd = st[0];
	s->generation = m->generation;
	clock_gettime(CLOCK_MONOTONIC, &s->started);
}

bool
pool_is_full(const struct pool *pl)
{
	const struct slot	*s;
	size_t			 i, live = 0;
	bool			 room = false;

	for (i = 0; i < pl->nslots; i++) {
		s = &pl->slots[i];
		/* a worker that is leaving makes room for a successor */
		if (s->state == SLOT_IDLE || s->state == SLOT_STARTING ||
		    s->state == SLOT_DEAD || (s->state == SLOT_EXITING &&
		    s->leaving))
			return false;
		if (s->state == SLOT_FREE)
			room = true;
		else if (s->state != SLOT_EXITING)
			live++;
	}
	/* no idle worker, and none can be started now */
	if (pl->spawn_failing)
		return true;
	return !room || live >= (size_t)pl->cfg.max_workers;
}

/*
 * Begins or ends stress, and tells the workers through the shared page.
 * Stress begins when the pool is full and a client has waited the grace
 * for a worker (a pool of one worker serving one client is not under
 * stress), and ends STRESS_HOLD_MS after the pool was last full.
 */
static void
stress_update(struct master *m, struct pool *pl)
{
	struct timespec	end;
	size_t		i;

	pl->full = pool_is_full(pl);
	if (!pl->full)
		pl->waiting = pl->refusing = false;
	else
		clock_gettime(CLOCK_MONOTONIC, &pl->last_full);
	if (pl->full && pl->waiting && reached(&pl->refuse_at)) {
		pl->waiting = false;
		pl->refusing = true;
		if (!pl->stress) {
			pl->stress = true;
			pl->stress_began = pl->last_full;
			pl->refused = 0;
			m->shared->stress[pl->proto] = 1;
			log_warnx("%s: all %d workers busy: stress mode on "
			    "(waits for clients cut to %d s, at most %d "
			    "errors); connections no worker can take are "
			    "refused", pl->name, pl->cfg.max_workers,
			    pl->cfg.stress_timeout, pl->cfg.stress_max_errors);
		}
		for (i = 0; i < pl->nlisteners; i++)
			refuse(m, pl, &pl->listeners[i]);
	}
	end = pl->last_full;
	add_ms(&end, STRESS_HOLD_MS);
	if (pl->stress && !pl->full && reached(&end)) {
		pl->stress = false;
		m->shared->stress[pl->proto] = 0;
		log_info("%s: stress mode off after %lld s; %lu connections "
		    "refused", pl->name, ms_since(&pl->stress_began) / 1000,
		    pl->refused);
	}
}

bool
pool_wants_listeners(const struct pool *pl)
{
	return pl->full && !pl->waiting && reached(&pl->refuse_pause);
}

void
pool_listener_ready(struct master *m, struct pool *pl,
    const struct listener *l)
{
	if (!pool_is_full(pl))
		return;		/* a worker came free: it takes the client */
	if (pl->refusing)
		refuse(m, pl, l);
	else if (!pl->waiting) {
		pl->waiting = true;
		clock_gettime(CLOCK_MONOTONIC, &pl->refuse_at);
		add_ms(&pl->refuse_at, REFUSE_GRACE_MS);
	}
}

static void
refuse(struct master *m, struct pool *pl, const struct listener *l)
{
	char		 smtp[POOL_REFUSAL_MAX];
	const char	*msg;
	size_t		 len;
	int		 fd, i;

	snprintf(smtp, sizeof(smtp), "421 4.7.0 %s all workers are busy, "
	    "try again later\r\n", m->cfg->hostname);
	switch (l->role) {
	case ROLE_POP3:
		msg = "-ERR [SYS/TEMP] all workers are busy, try again "
		    "later\r\n";
		break;
	case ROLE_SMTPS:
	case ROLE_POP3S:
		msg = NULL;	/* TLS from the first byte: only the close */
		break;
	default:
		msg = smtp;
		break;
	}
	for (i = 0; i < REFUSE_BATCH; i++) {
		fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				log_warn("%s: refusing on %s", pl->name,
				    l->name);
				clock_gettime(CLOCK_MONOTONIC,
				    &pl->refuse_pause);
				add_ms(&pl->refuse_pause, REFUSE_PAUSE_MS);
			} else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_warn("%s: accept on %s", pl->name,
				    l->name);
			return;
		}
		/*
		 * A new socket's send buffer takes the line whole; if the
		 * client is already gone, there is nobody to tell.
		 */
		if (msg != NULL) {
			len = strlen(msg);
			if (write(fd, msg, len) != (ssize_t)len)
				log_debug("%s: refusal not sent: %s",
				    pl->name, strerror(errno));
		}
		close(fd);
		pl->refused++;
	}
}

void
pool_maintain(struct master *m, struct pool *pl)
{
	struct slot	*s;
	size_t		 i, idle = 0, live = 0, unproven = 0, want;
	struct timespec	 now;

	if (pl->nlisteners == 0 || m->stopping)
		return;
	/* workers of an older configuration retire (after their session) */
	for (i = 0; i < pl->nslots; i++) {
		s = &pl->slots[i];
		if (s->state != SLOT_FREE && s->state != SLOT_EXITING &&
		    s->generation != m->generation)
			slot_tell(pl, s, SIGTERM);
	}
	for (i = 0; i < pl->nslots; i++) {
		s = &pl->slots[i];
		if (s->state == SLOT_IDLE || s->state == SLOT_STARTING ||
		    s->state == SLOT_DEAD)
			idle++;
		if (s->state != SLOT_FREE && s->state != SLOT_EXITING)
			live++;
		if (s->state == SLOT_STARTING || s->state == SLOT_DEAD)
			unproven++;
	}
	/* backing off: one worker at a time, each after the last is ready */
	if (pl->fail_streak > 0 && unproven > 0)
		return;
	/*
	 * Too many idle: retire the surplus, newest first, once it has
	 * lasted RETIRE_AFTER_MS, and a quarter of it (at least one) each
	 * RETIRE_AFTER_MS after that. Under a steady load idle and busy
	 * swap all the time as sessions end and begin: retiring at once
	 * what is idle for a moment meant forking its successor (monitor
	 * and worker) a moment later, a fork pair every dozen sessions at
	 * 32 clients.
	 */
	if (idle <= (size_t)pl->cfg.max_spare)
		pl->surplus = false;
	else if (!pl->surplus) {
		pl->surplus = true;
		clock_gettime(CLOCK_MONOTONIC, &pl->surplus_since);
	} else if (ms_since(&pl->surplus_since) >= RETIRE_AFTER_MS) {
		size_t	n = (idle - (size_t)pl->cfg.max_spare + 3) / 4;

		for (i = pl->nslots; i-- > 0 && n > 0;) {
			s = &pl->slots[i];
			if (s->state == SLOT_IDLE) {
				slot_tell(pl, s, SIGTERM);
				idle--;
				live--;
				n--;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &pl->surplus_since);
	}
	/*
	 * Growing: a worker takes some 10-20 ms from fork to its first
	 * client, so starting min_spare at a time, each after the last is
	 * busy, takes seconds to meet a burst of a few hundred clients
	 * waiting in the listen queue. Busy workers say how much is going
	 * on: keep up to a quarter of their number starting or idle (at
	 * most max_spare, which is never retired).
	 */
	want = (size_t)pl->cfg.min_spare;
	if ((live - idle) / 4 > want)
		want = (live - idle) / 4;
	if (want > (size_t)pl->cfg.max_spare)
		want = (size_t)pl->cfg.max_spare;
	if (want < (size_t)pl->cfg.min_spare)
		want = (size_t)pl->cfg.min_spare;
	clock_gettime(CLOCK_MONOTONIC, &now);
	for (i = 0; i < pl->nslots && idle < want &&
	    live < (size_t)pl->cfg.max_workers; i++) {
		s = &pl->slots[i];
		if (s->state != SLOT_FREE)
			continue;
		if (pl->spawn_failing && !reached(&pl->spawn_retry))
			break;
		if (pl->fail_streak > 0 && (now.tv_sec < pl->next_spawn.tv_sec ||
		    (now.tv_sec == pl->next_spawn.tv_sec &&
		    now.tv_nsec < pl->next_spawn.tv_nsec)))
			break;
		spawn(m, pl, s);
		if (s->state == SLOT_FREE)
			break;	/* fork failed; try again on the next tick */
		idle++;
		live++;
		if (pl->fail_streak > 0)
			break;
	}
	stress_update(m, pl);
}

static void
handle_status(struct pool *pl, struct slot *s, const struct pool_status *st)
{
	switch (st->type) {
	case POOL_ST_READY:
		s->ready = true;
		s->worker = st->pid;
		log_debug("%s: worker %ld ready", pl->name, (long)st->pid);
		break;
	case POOL_ST_IDLE:
		if (s->state != SLOT_EXITING)
			s->state = SLOT_IDLE;
		s->sessions = st->sessions;
		break;
	case POOL_ST_BUSY:
		if (s->state != SLOT_EXITING)
			s->state = SLOT_BUSY;
		/*
		 * A worker that serves is healthy: forget start failures, and
		 * count this session, so that its death (a crash, or its
		 * monitor killing it) is not taken for a death at start.
		 */
		pl->fail_streak = 0;
		s->sessions = st->sessions + 1;
		break;
	case POOL_ST_EXITING:
		s->state = SLOT_EXITING;
		s->leaving = true;
		s->sessions = st->sessions;
		break;
	default:
		log_warnx("%s: worker %ld sent bad status %u; stopping it",
		    pl->name, (long)s->worker, st->type);
		slot_tell(pl, s, SIGKILL);
		break;
	}
}

void
pool_read_status(struct pool *pl, struct slot *s)
{
	struct pool_status	st;
	ssize_t			n;

	for (;;) {
		n = read(s->status_fd, s->statbuf + s->statlen,
		    sizeof(s->statbuf) - s->statlen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {
			/*
			 * The worker is gone; its monitor follows. Unless it
			 * said goodbye, the slot keeps its place until the
			 * reap decides whether this was a death at start (and
			 * how long to wait before the next one).
			 */
			close(s->status_fd);
			s->status_fd = -1;
			if (s->state != SLOT_FREE && s->state != SLOT_EXITING)
				s->state = SLOT_DEAD;
			return;
		}
		s->statlen += (size_t)n;
		if (s->statlen == sizeof(s->statbuf)) {
			memcpy(&st, s->statbuf, sizeof(st));
			s->statlen = 0;
			handle_status(pl, s, &st);
		}
	}
}

bool
pool_reaped(struct pool *pl, pid_t pid, int status)
{
	struct slot	*s = NULL;
	long long	 age;
	size_t		 i;
	long		 delay;

	for (i = 0; i < pl->nslots; i++)
		if (pl->slots[i].state != SLOT_FREE &&
		    pl->slots[i].monitor == pid) {
			s = &pl->slots[i];
			break;
		}
	if (s == NULL)
		return false;
	if (s->status_fd != -1) {
		pool_read_status(pl, s);
		if (s->status_fd != -1)
			close(s->status_fd);
	}
	age = ms_since(&s->started);
	if (WIFSIGNALED(status))
		log_warnx("%s: monitor %ld killed by signal %d", pl->name,
		    (long)pid, WTERMSIG(status));
	else if (WEXITSTATUS(status) != 0)
		log_warnx("%s: monitor %ld exited with status %d", pl->name,
		    (long)pid, WEXITSTATUS(status));
	if (!s->told && (!s->ready || (age < STARTUP_GRACE_MS &&
	    s->sessions == 0))) {
		pl->fail_streak++;
		delay = BACKOFF_FIRST_MS;
		for (i = 1; i < pl->fail_streak && delay < BACKOFF_MAX_MS; i++)
			delay *= 2;
		if (delay > BACKOFF_MAX_MS)
			delay = BACKOFF_MAX_MS;
		clock_gettime(CLOCK_MONOTONIC, &pl->next_spawn);
		pl->next_spawn.tv_sec += delay / 1000;
		pl->next_spawn.tv_nsec += (delay % 1000) * 1000000;
		if (pl->next_spawn.tv_nsec >= 1000000000) {
			pl->next_spawn.tv_sec++;
			pl->next_spawn.tv_nsec -= 1000000000;
		}
		log_warnx("%s: workers die at start (%u in a row); next start "
		    "in %ld ms", pl->name, pl->fail_streak, delay);
	}
	memset(s, 0, sizeof(*s));
	s->status_fd = -1;
	return true;
}

void
pool_signal_all(struct pool *pl, int sig)
{
	size_t	i;

	for (i = 0; i < pl->nslots; i++)
		if (pl->slots[i].state != SLOT_FREE) {
			if (sig == SIGKILL && pl->slots[i].monitor > 0)
				/* monitor and worker share a process group */
				(void)killpg(pl->slots[i].monitor, SIGKILL);
			else
				slot_tell(pl, &pl->slots[i], sig);
		}
}

size_t
pool_alive(const struct pool *pl)
{
	size_t	i, n = 0;

	for (i = 0; i < pl->nslots; i++)
		if (pl->slots[i].state != SLOT_FREE)
			n++;
	return n;
}

static int next_timeout(const struct pool *);

int
pool_next_timeout(const struct pool *pl)
{
	struct timespec	now;
	long long	ms;
	int		t = next_timeout(pl), r;

	if (!pl->spawn_failing)
		return t;
	/* wake up to try starting workers again */
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(pl->spawn_retry.tv_sec - now.tv_sec) * 1000 +
	    (pl->spawn_retry.tv_nsec - now.tv_nsec) / 1000000;
	r = ms < 0 ? 0 : (int)ms + 1;
	return t == -1 || r < t ? r : t;
}

static int
next_timeout(const struct pool *pl)
{
	struct timespec	now;
	long long	ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (pl->fail_streak == 0) {
		if (pl->full && pl->waiting)
			ms = (long long)(pl->refuse_at.tv_sec - now.tv_sec) *
			    1000 + (pl->refuse_at.tv_nsec - now.tv_nsec) /
			    1000000;
		else if (pl->full && !reached(&pl->refuse_pause))
			ms = REFUSE_PAUSE_MS;
		else
			return -1;
		return ms < 0 ? 0 : (int)ms + 1;
	}
	ms = (long long)(pl->next_spawn.tv_sec - now.tv_sec) * 1000 +
	    (pl->next_spawn.tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : (int)ms + 1;
}
