/*
 * The master's half of the pre-forked pools (root; reads nothing from
 * the network). Per protocol it keeps min_spare..max_spare idle workers,
 * never more than max_workers in all, learning who is idle or busy from
 * each worker's status pipe. A worker that dies before it ever became
 * ready makes the next start wait, doubling up to 30 s, so a broken
 * setup does not fork in a tight loop; the log says so.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "master.h"
#include "xmalloc.h"

#define BACKOFF_FIRST_MS	100
#define BACKOFF_MAX_MS		30000
#define STARTUP_GRACE_MS	2000	/* dying sooner counts as a failure */

static long long
ms_since(const struct timespec *t)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - t->tv_sec) * 1000 +
	    (now.tv_nsec - t->tv_nsec) / 1000000;
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
		bool smtp = ls->v[i].role <= ROLE_SMTPS;

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

static void
spawn(struct master *m, struct pool *pl, struct slot *s)
{
	int	st[2];
	pid_t	pid;

	if (pipe2(st, O_CLOEXEC) == -1) {
		log_warn("%s: pipe", pl->name);
		return;
	}
	pid = spawn_monitor(m, pl, st[0], st[1]);
	close(st[1]);
	if (pid == -1) {
		close(st[0]);
		return;
	}
	(void)fcntl(st[0], F_SETFL, O_NONBLOCK);
	memset(s, 0, sizeof(*s));
	s->state = SLOT_STARTING;
	s->monitor = pid;
	s->status_fd = st[0];
	s->generation = m->generation;
	clock_gettime(CLOCK_MONOTONIC, &s->started);
}

void
pool_maintain(struct master *m, struct pool *pl)
{
	struct slot	*s;
	size_t		 i, idle = 0, live = 0, unproven = 0;
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
	/* too many idle: retire the surplus, newest first */
	for (i = pl->nslots; i-- > 0 && idle > (size_t)pl->cfg.max_spare;) {
		s = &pl->slots[i];
		if (s->state == SLOT_IDLE) {
			slot_tell(pl, s, SIGTERM);
			idle--;
			live--;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	for (i = 0; i < pl->nslots && idle < (size_t)pl->cfg.min_spare &&
	    live < (size_t)pl->cfg.max_workers; i++) {
		s = &pl->slots[i];
		if (s->state != SLOT_FREE)
			continue;
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

int
pool_next_timeout(const struct pool *pl)
{
	struct timespec	now;
	long long	ms;

	if (pl->fail_streak == 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(pl->next_spawn.tv_sec - now.tv_sec) * 1000 +
	    (pl->next_spawn.tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : (int)ms + 1;
}
