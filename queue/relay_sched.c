/*
 * The relay scheduler (see relay_sched.h). Runs in the queue runner
 * (root): the standalone runner, "maild -q" and an inetd monitor's
 * one-shot delivery all relay through it. It forks the relay workers
 * itself, so that every one of those has them; workers are reused for
 * several requests and retire after relay.max_use requests or
 * relay.max_idle idle.
 *
 * Nothing a worker sends is believed before relay_result_check(); a
 * worker that sends anything else, dies, or overstays its deadline is
 * killed and its recipients deferred (4.3.0), which never suspends a
 * destination.
 */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "deliver_local.h"
#include "fault.h"
#include "ipc.h"
#include "log.h"
#include "privdrop.h"
#include "queue_file.h"
#include "relay_sched.h"
#include "xmalloc.h"
#include "relay/relay.h"
#include "relay/relay_ipc.h"
#include "relay/relay_policy.h"
#include "relay/relay_worker.h"

#define RELAY_STATE_FILE	"relay-destinations"
#define RELAY_DEAD_MIN		60	/* a suspension lasts at least (s) */
#define RELAY_REAP_GRACE_MS	2000	/* for workers to exit at the end */

struct rjob {
	struct rjob		*next;
	struct relay_msg	*m;
	struct rdest		*d;
	struct relay_rcpt_req	*rr;	/* idx, addr (borrowed from m->env) */
	size_t			 n;
	bool			 no_starttls;
};

struct rdest {
	char		*key;		/* the next hop */
	struct rjob	*head, *tail;	/* waiting for a worker */
	unsigned	 active;
	unsigned	 limit;		/* concurrency, slow start */
	unsigned	 fails;		/* site failures since a success */
	bool		 dead;		/* suspended (until dead_until) */
	bool		 probing;	/* the one probe after a suspension */
	time_t		 dead_until;
	int		 period;	/* of the last suspension */
	struct reason	 why;		/* the site failure */
};

struct rworker {
	pid_t		 pid;
	int		 sock;
	struct rjob	*job;		/* NULL: idle */
	unsigned	 uses;
	time_t		 since;		/* idle since, or busy since */
	time_t		 deadline;	/* for the result */
	char		*last;		/* the destination it served last */
};

/* A message whose next try to a hop goes without STARTTLS. */
struct notls {
	char	 qid[QUEUE_ID_MAX + 1];
	char	*key;
};

struct relay_sched {
	const struct config	*cfg;
	relay_done_fn		*done;
	void			*arg;
	uid_t			 uid;
	gid_t			 gid;
	bool			 ids_ok;
	struct rdest		**dests;
	size_t			 ndests;
	size_t			 rr;		/* round robin start */
	struct rworker		*w;
	size_t			 nw;
	pid_t			*reap;		/* retired, not yet waited */
	size_t			 nreap;
	struct notls		*notls;
	size_t			 nnotls;
	char			*auth_user;	/* smarthost credentials */
	char			*auth_pass;
	struct ipc_msg		*msg;
	struct relay_rcpt_res	*res;
	struct relay_msg	**done_list;	/* finished, not yet told */
	size_t			 ndone;
};

static void	job_finish(struct relay_sched *, struct rjob *);
static void	job_apply(struct rjob *, const struct relay_res *);
static void	state_save(struct relay_sched *);

static double
delay_since(time_t arrival)
{
	struct timespec	now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (double)(now.tv_sec - arrival) + now.tv_nsec / 1e9;
}

/* d +- 20%, at least 1. */
static int
jitter(int d)
{
	long long	span = (long long)d * 2 / 5, v;

	v = d;
	if (span > 0)
		v = d - span / 2 + (long long)arc4random_uniform(
		    (uint32_t)span + 1);
	return v < 1 ? 1 : (int)v;
}

/* --- next hops ----------------------------------------------------------- */

int
relay_nexthop(const struct config *cfg, const char *addr, char *out,
    size_t outsz)
{
	const char	*dom = strrchr(addr, '@'), *eq;
	size_t		 i, n, dl;
	int		 w;

	if (cfg->relay.smarthost[0] != '\0') {
		w = snprintf(out, outsz, "%s", cfg->relay.smarthost);
		return w < 0 || (size_t)w >= outsz ? -1 : 0;
	}
	dom = dom == NULL ? "" : dom + 1;
	dl = strlen(dom);
	for (i = 0; i < cfg->relay.routes.n; i++) {
		const char *r = cfg->relay.routes.v[i];

		if ((eq = strchr(r, '=')) == NULL)
			continue;
		n = (size_t)(eq - r);
		while (n > 0 && isspace((unsigned char)r[n - 1]))
			n--;
		if (n != dl || strncasecmp(r, dom, n) != 0)
			continue;
		for (eq++; isspace((unsigned char)*eq); eq++)
			;
		w = snprintf(out, outsz, "%s", eq);
		return w < 0 || (size_t)w >= outsz ? -1 : 0;
	}
	if (dl + 1 > outsz)
		return -1;
	for (i = 0; i <= dl; i++)
		out[i] = (char)tolower((unsigned char)dom[i]);
	return 0;
}

/* --- the state file: suspended destinations, for maild -q --------------- */

static struct rdest *
dest_get(struct relay_sched *s, const char *key)
{
	struct rdest	*d;
	size_t		 i;

	for (i = 0; i < s->ndests; i++)
		if (strcmp(s->dests[i]->key, key) == 0)
			return s->dests[i];
	d = xcalloc(1, sizeof(*d));
	d->key = xstrdup(key);
	d->limit = (unsigned)s->cfg->relay.initial_destination_concurrency;
	s->dests = xreallocarray(s->dests, s->ndests + 1, sizeof(*s->dests));
	s->dests[s->ndests++] = d;
	return d;
}

/*
 * state_dir/relay-destinations: "nexthop dead_until period status text"
 * per suspended destination. Advisory: a missing or garbled file only
 * means that maild -q tries those destinations again.
 */
static void
state_load(struct relay_sched *s)
{
	char		 path[PATH_MAX], line[1024], key[SMTP_DOMAIN_MAX + 16];
	char		 st[8];
	long long	 until;
	int		 period, pos;
	struct rdest	*d;
	FILE		*fp;
	time_t		 now = time(NULL);

	if (snprintf(path, sizeof(path), "%s/" RELAY_STATE_FILE,
	    s->cfg->state_dir) >= (int)sizeof(path) ||
	    (fp = fopen(path, "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		pos = 0;
		if (sscanf(line, "%270s %lld %d %7s %n", key, &until, &period,
		    st, &pos) != 4 || pos == 0 || until <= now ||
		    period < 1 || period > 30 * 86400 ||
		    until > now + 30 * 86400)
			continue;
		d = dest_get(s, key);
		d->dead = true;
		d->dead_until = (time_t)until;
		d->period = period;
		reason_set(&d->why, st, "%s", line + pos);
	}
	fclose(fp);
}

static void
state_save(struct relay_sched *s)
{
	char	 path[PATH_MAX], tmp[PATH_MAX];
	size_t	 i;
	FILE	*fp;
	int	 fd;

	if (snprintf(path, sizeof(path), "%s/" RELAY_STATE_FILE,
	    s->cfg->state_dir) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp))
		return;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		if (fd != -1)
			close(fd);
		return;
	}
	for (i = 0; i < s->ndests; i++) {
		struct rdest *d = s->dests[i];

		if (d->dead)
			fprintf(fp, "%s %lld %d %s %s\n", d->key,
			    (long long)d->dead_until, d->period,
			    d->why.status[0] ? d->why.status : "4.4.1",
			    d->why.text);
	}
	if (fclose(fp) == EOF || rename(tmp, path) == -1) {
		log_warn("saving %s", path);
		(void)unlink(tmp);
	}
}

/* --- destinations -------------------------------------------------------- */

static bool
dest_suspended(const struct rdest *d, time_t now)
{
	return d->dead && now < d->dead_until;
}

/* Defers job's recipients without a connection: the hop is suspended. */
static void
job_suspended(struct relay_sched *s, struct rjob *j)
{
	struct relay_msg	*m = j->m;
	size_t			 k;

	(void)s;
	for (k = 0; k < j->n; k++) {
		struct queue_rcpt *rc = &m->env->rcpts[j->rr[k].idx];

		reason_set(&rc->why, j->d->why.status[0] == '4' ?
		    j->d->why.status : "4.4.1",
		    "delivery temporarily suspended: %.200s", j->d->why.text);
		m->res[j->rr[k].idx] = DELIVER_DEFER;
		log_info("id=%s: deferred to=<%s> relay=none delay=%.2fs "
		    "dsn=%s reply=\"%s\"", m->env->id, rc->addr,
		    delay_since(m->env->arrival), rc->why.status,
		    rc->why.text);
	}
	if (m->not_before < j->d->dead_until)
		m->not_before = j->d->dead_until;
}

/* Site-level failure: slow down, and suspend after one cohort. */
static void
dest_fail(struct relay_sched *s, struct rdest *d, const struct reason *why)
{
	const struct config	*cfg = s->cfg;
	struct rjob		*j;
	time_t			 now = time(NULL);
	char			 when[32];
	struct tm		 tm;
	int			 p;

	d->why = *why;
	d->fails++;
	if (!d->probing && d->fails < d->limit) {
		d->limit--;
		return;
	}
	if (d->limit > 1)
		d->limit--;
	p = d->period > 0 ? d->period * 2 : 2 * cfg->relay.connect_timeout;
	if (d->period == 0 && p < RELAY_DEAD_MIN)
		p = RELAY_DEAD_MIN;
	if (p > cfg->queue.retry_max)
		p = cfg->queue.retry_max;
	d->period = p;
	d->dead_until = now + jitter(p);
	/* one line when it goes down; a failed probe changes nothing */
	if (!d->dead) {
		localtime_r(&d->dead_until, &tm);
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
		log_info("destination %s suspended until %s (%d s): %s %s",
		    d->key, when, (int)(d->dead_until - now), why->status,
		    why->text);
	}
	d->dead = true;
	d->probing = false;
	state_save(s);
	/* everything waiting for it: deferred now, without connecting */
	while ((j = d->head) != NULL) {
		d->head = j->next;
		job_suspended(s, j);
		job_finish(s, j);
	}
	d->tail = NULL;
}

/* The site answered (a delivery, or a message-level refusal). */
static void
dest_ok(struct relay_sched *s, struct rdest *d)
{
	const struct config	*cfg = s->cfg;

	d->fails = 0;
	if (d->dead) {
		log_info("destination %s is back", d->key);
		d->dead = d->probing = false;
		d->period = 0;
		d->limit = (unsigned)cfg->relay.initial_destination_concurrency;
		state_save(s);
	} else if (d->limit <
	    (unsigned)cfg->relay.destination_concurrency_limit)
		d->limit++;
}

/* --- workers ------------------------------------------------------------- */

static struct rworker *
worker_spawn(struct relay_sched *s)
{
	struct rworker	*w;
	int		 sv[2];
	pid_t		 pid;

	if (!s->ids_ok)
		return NULL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("relay worker socketpair");
		return NULL;
	}
	switch (pid = fork()) {
	case -1:
		log_warn("fork relay worker");
		close(sv[0]);
		close(sv[1]);
		return NULL;
	case 0:
		close(sv[0]);
		relay_worker_main(s->cfg, sv[1], s->uid, s->gid);
	}
	close(sv[1]);
	s->w = xreallocarray(s->w, s->nw + 1, sizeof(*s->w));
	w = &s->w[s->nw++];
	memset(w, 0, sizeof(*w));
	w->pid = pid;
	w->sock = sv[0];
	w->since = time(NULL);
	return w;
}

/* Lets worker i go (it exits at EOF); kill: it is not to be trusted. */
static void
worker_drop(struct relay_sched *s, size_t i, bool kill_it)
{
	struct rworker	*w = &s->w[i];

	if (kill_it)
		(void)kill(w->pid, SIGKILL);
	close(w->sock);
	free(w->last);
	s->reap = xreallocarray(s->reap, s->nreap + 1, sizeof(*s->reap));
	s->reap[s->nreap++] = w->pid;
	s->w[i] = s->w[--s->nw];
}

static void
reap(struct relay_sched *s)
{
	size_t	i = 0;
	pid_t	r;

	while (i < s->nreap) {
		r = waitpid(s->reap[i], NULL, WNOHANG);
		if (r == s->reap[i] || (r == -1 && errno == ECHILD))
			s->reap[i] = s->reap[--s->nreap];
		else
			i++;
	}
}

/* How long a request may take: every address and session, timed out. */
static time_t
request_deadline(const struct config *cfg)
{
	long long	t;

	t = (long long)cfg->relay.mx_address_limit *
	    cfg->relay.connect_timeout + (long long)cfg->relay.mx_session_limit *
	    (6LL * cfg->relay.command_timeout + cfg->relay.data_timeout) + 60;
	return (time_t)t;
}

/* Sends j to w. 0, or -1 (j not sent; w is to be dropped). */
static int
job_send(struct relay_sched *s, struct rworker *w, struct rjob *j)
{
	struct relay_msg	*m = j->m;
	struct relay_req	 req;
	char			 proc[64];
	int			 fd, ret;

	memset(&req, 0, sizeof(req));
	snprintf(req.qid, sizeof(req.qid), "%s", m->env->id);
	req.body_off = m->env->body_off;
	req.body_len = m->env->body_len;
	req.sender = m->env->sender;
	req.envid = m->env->envid;
	req.flags = m->env->flags;
	req.nexthop = j->d->key;
	req.tls = relay_policy_tls(s->cfg, j->d->key, j->rr, j->n);
	req.no_starttls = j->no_starttls;
	if (s->cfg->relay.smarthost[0] != '\0' && s->auth_user != NULL) {
		req.auth_user = s->auth_user;
		req.auth_pass = s->auth_pass;
	}
	req.rcpts = j->rr;
	req.nrcpts = j->n;
	/*
	 * The worker gets the file read-only: a new open file description
	 * (closing it later drops nothing: the lock is an OFD lock on ours).
	 */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", m->fd);
	if ((fd = open(proc, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("id=%s: reopening the queue file read-only",
		    m->env->id);
		return -1;
	}
	relay_ipc_put_req(s->msg, &req);
	ret = ipc_send(w->sock, s->msg, fd);
	close(fd);
	if (ret == -1) {
		log_warn("id=%s: sending a relay request", m->env->id);
		return -1;
	}
	w->job = j;
	w->uses++;
	w->since = time(NULL);
	w->deadline = w->since + request_deadline(s->cfg);
	free(w->last);
	w->last = xstrdup(j->d->key);
	j->d->active++;
	return 0;
}

/* A worker for destination d: an idle one (one that served d first). */
static struct rworker *
worker_for(struct relay_sched *s, const struct rdest *d)
{
	struct rworker	*any = NULL;
	size_t		 i;

	for (i = 0; i < s->nw; i++) {
		if (s->w[i].job != NULL)
			continue;
		if (s->w[i].last != NULL && strcmp(s->w[i].last, d->key) == 0)
			return &s->w[i];
		if (any == NULL)
			any = &s->w[i];
	}
	if (any != NULL)
		return any;
	if (s->nw >= (size_t)s->cfg->relay.max_processes)
		return NULL;
	return worker_spawn(s);
}

/* Fails j's recipients for now (4.3.0): a local problem, not the site's. */
static void
job_local_fail(struct relay_sched *s, struct rjob *j, const char *why)
{
	struct relay_msg	*m = j->m;
	size_t			 k;

	(void)s;
	for (k = 0; k < j->n; k++) {
		struct queue_rcpt *rc = &m->env->rcpts[j->rr[k].idx];

		reason_set(&rc->why, "4.3.0", "%s", why);
		m->res[j->rr[k].idx] = DELIVER_DEFER;
		log_info("id=%s: deferred to=<%s> relay=none delay=%.2fs "
		    "dsn=4.3.0 reply=\"%s\"", m->env->id, rc->addr,
		    delay_since(m->env->arrival), why);
	}
}

/* Starts what is queued, round robin over the destinations. */
static void
start_jobs(struct relay_sched *s)
{
	struct rworker	*w;
	struct rdest	*d;
	struct rjob	*j;
	size_t		 k, i;
	time_t		 now = time(NULL);
	bool		 progress = true;

	while (progress) {
		progress = false;
		for (k = 0; k < s->ndests; k++) {
			i = (s->rr + k) % s->ndests;
			d = s->dests[i];
			if ((j = d->head) == NULL)
				continue;
			if (dest_suspended(d, now)) {
				/* it died while these waited */
				d->head = j->next;
				if (d->head == NULL)
					d->tail = NULL;
				job_suspended(s, j);
				job_finish(s, j);
				progress = true;
				continue;
			}
			/* after a suspension, one probe at a time */
			if (d->dead && d->active > 0)
				continue;
			if (!d->dead && d->active >= d->limit)
				continue;
			if ((w = worker_for(s, d)) == NULL)
				return;
			d->head = j->next;
			if (d->head == NULL)
				d->tail = NULL;
			if (d->dead)
				d->probing = true;
			if (job_send(s, w, j) == -1) {
				worker_drop(s, (size_t)(w - s->w), true);
				job_local_fail(s, j, "cannot hand the message "
				    "to a relay worker");
				job_finish(s, j);
			}
			progress = true;
		}
		s->rr++;
	}
}

/* --- results ------------------------------------------------------------- */

static void
notls_set(struct relay_sched *s, const char *qid, const char *key, bool on)
{
	size_t	i;

	for (i = 0; i < s->nnotls; i++)
		if (strcmp(s->notls[i].qid, qid) == 0 &&
		    strcmp(s->notls[i].key, key) == 0) {
			if (!on) {
				free(s->notls[i].key);
				s->notls[i] = s->notls[--s->nnotls];
			}
			return;
		}
	if (!on)
		return;
	s->notls = xreallocarray(s->notls, s->nnotls + 1, sizeof(*s->notls));
	snprintf(s->notls[s->nnotls].qid, sizeof(s->notls[0].qid), "%s", qid);
	s->notls[s->nnotls++].key = xstrdup(key);
}

static bool
notls_get(const struct relay_sched *s, const char *qid, const char *key)
{
	size_t	i;

	for (i = 0; i < s->nnotls; i++)
		if (strcmp(s->notls[i].qid, qid) == 0 &&
		    strcmp(s->notls[i].key, key) == 0)
			return true;
	return false;
}

/* Applies a checked result to the queue file and the message. */
static void
job_apply(struct rjob *j, const struct relay_res *res)
{
	static const char	*words[] = { "sent", "deferred", "bounced" };
	struct relay_msg	*m = j->m;
	time_t			 now = time(NULL);
	size_t			 k;
	char			 code[8], tls[sizeof(res->tls_info)];

	relay_policy_tls_token(res->tls_info, tls, sizeof(tls));
	for (k = 0; k < res->nrcpts; k++) {
		const struct relay_rcpt_res *r = &res->rcpts[k];
		struct queue_rcpt	*rc = &m->env->rcpts[r->idx];

		rc->why = r->why;
		rc->last_attempt = now;
		free(rc->diagnostic);
		rc->diagnostic = NULL;
		if (r->code != 0)
			rc->diagnostic = xasprintf("smtp; %d %s%s%s", r->code,
			    strncmp(r->why.text, r->why.status,
			    strlen(r->why.status)) == 0 ? "" : r->why.status,
			    strncmp(r->why.text, r->why.status,
			    strlen(r->why.status)) == 0 ? "" : " ",
			    r->why.text);
		free(rc->remote_mta);
		rc->remote_mta = res->mx_host[0] != '\0' ?
		    xstrdup(res->mx_host) : NULL;
		switch (r->cls) {
		case RELAY_SENT:
			/*
			 * At least once: the remote has it; a crash before
			 * this mark is durable sends it again.
			 */
			if (queue_rcpt_mark(m->fd, m->env, r->idx, QRCPT_DONE,
			    0, false) == -1)
				log_warn("id=%s: marking delivered",
				    m->env->id);
			m->marked = true;
			m->res[r->idx] = DELIVER_OK;
			if (!res->remote_dsn &&
			    (rc->notify & DSN_NOTIFY_SUCCESS))
				m->relayed[r->idx] = true;
			break;
		case RELAY_DEFER:
			m->res[r->idx] = DELIVER_DEFER;
			break;
		case RELAY_BOUNCE:
			m->res[r->idx] = DELIVER_BOUNCE;
			break;
		}
		if (r->code != 0)
			snprintf(code, sizeof(code), "%d ", r->code);
		else
			code[0] = '\0';
		log_info("id=%s: %s to=<%s> relay=%s%s tls=%s delay=%.2fs "
		    "dsn=%s reply=\"%s%s\"", m->env->id, words[r->cls],
		    rc->addr, res->mx_host[0] ? res->mx_host : "none",
		    res->mx_addr, tls,
		    delay_since(m->env->arrival), r->why.status, code,
		    r->why.text);
	}
}

/* A worker's answer to its job (or its death: res NULL). */
static void
job_result(struct relay_sched *s, struct rjob *j, const struct relay_res *res,
    const char *failure)
{
	struct rdest	*d = j->d;

	d->active--;
	if (res == NULL) {
		job_local_fail(s, j, failure);
		if (d->probing)
			d->probing = false;	/* probe again */
		job_finish(s, j);
		return;
	}
	/* for the tests: the remote has it, our mark is not written */
	if (fault_point("relay.runner_result") == -1)
		log_warnx("fault point relay.runner_result");
	job_apply(j, res);
	if (res->tls_failed && relay_policy_tls(s->cfg, d->key, j->rr, j->n) ==
	    RELAY_TLS_MAY)
		notls_set(s, j->m->env->id, d->key, true);
	if (res->site_fail) {
		struct reason why = res->nrcpts > 0 ? res->rcpts[0].why :
		    d->why;

		dest_fail(s, d, &why);
		if (d->dead && j->m->not_before < d->dead_until)
			j->m->not_before = d->dead_until;
		job_finish(s, j);
	} else {
		dest_ok(s, d);
		job_finish(s, j);
	}
}

/* The job is over: the message is done when its last job is. */
static void
job_finish(struct relay_sched *s, struct rjob *j)
{
	struct relay_msg	*m = j->m;

	free(j->rr);
	free(j);
	/* told from relay_sched_events(): never inside submit */
	if (m->inflight > 0 && --m->inflight == 0) {
		s->done_list = xreallocarray(s->done_list, s->ndone + 1,
		    sizeof(*s->done_list));
		s->done_list[s->ndone++] = m;
	}
}

static void
tell_done(struct relay_sched *s)
{
	struct relay_msg	*m;

	while (s->ndone > 0) {
		m = s->done_list[0];
		memmove(s->done_list, s->done_list + 1,
		    --s->ndone * sizeof(*s->done_list));
		s->done(s->arg, m);
	}
}

/* Reads and checks worker i's result. */
static void
worker_read(struct relay_sched *s, size_t i)
{
	struct rworker	*w = &s->w[i];
	struct rjob	*j = w->job;
	struct relay_res res;
	struct relay_req req;
	char		 err[256];
	int		 n;

	n = ipc_recv(w->sock, s->msg, false);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (j == NULL) {
		/* an idle worker speaks: EOF (it died) or garbage */
		if (n != 0)
			log_warnx("relay worker %ld sent a message while idle; "
			    "killed", (long)w->pid);
		worker_drop(s, i, true);
		return;
	}
	w->job = NULL;
	if (n <= 0) {
		log_warnx("id=%s: relay worker %ld %s; killed",
		    j->m->env->id, (long)w->pid, n == 0 ? "died" :
		    "sent a malformed message");
		worker_drop(s, i, true);
		job_result(s, j, NULL, "the relay worker died");
		return;
	}
	memset(&res, 0, sizeof(res));
	res.rcpts = s->res;
	memset(&req, 0, sizeof(req));
	req.rcpts = j->rr;
	req.nrcpts = j->n;
	if (relay_ipc_get_res(s->msg, &res, RELAY_IPC_RCPTS_MAX) == -1 ||
	    relay_result_check(&req, &res, err, sizeof(err)) == -1) {
		if (s->msg->bad)
			snprintf(err, sizeof(err), "undecodable result");
		log_warnx("id=%s: relay worker %ld sent a bad result (%s); "
		    "killed", j->m->env->id, (long)w->pid, err);
		worker_drop(s, i, true);
		job_result(s, j, NULL, "the relay worker misbehaved");
		return;
	}
	w->since = time(NULL);
	job_result(s, j, &res, NULL);
}

/* --- the API ------------------------------------------------------------- */

/* Reads relay.smarthost_credentials: "user password" on one line. */
static void
load_credentials(struct relay_sched *s)
{
	const char	*path = s->cfg->relay.smarthost_credentials;
	char		 buf[USER_NAME_MAX + PASSWORD_MAX + 4], *sp, *nl;
	struct stat	 st, qst;
	ssize_t		 n;
	int		 fd;

	if (path[0] == '\0')
		return;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		log_warn("relay.smarthost_credentials %s", path);
		return;
	}
	/* owned like the queue (by root), readable by nobody else */
	if (fstat(fd, &st) == -1 || stat(s->cfg->queue_dir, &qst) == -1 ||
	    !S_ISREG(st.st_mode) || st.st_uid != qst.st_uid ||
	    (st.st_mode & 077) != 0) {
		log_warnx("relay.smarthost_credentials %s: not a file owned "
		    "by root with mode 0600; not used", path);
		close(fd);
		return;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		log_warnx("relay.smarthost_credentials %s: empty", path);
		return;
	}
	buf[n] = '\0';
	if ((nl = strchr(buf, '\n')) != NULL)
		*nl = '\0';
	if ((sp = strchr(buf, ' ')) == NULL || sp == buf || sp[1] == '\0' ||
	    (size_t)(sp - buf) > USER_NAME_MAX || strlen(sp + 1) >
	    PASSWORD_MAX) {
		log_warnx("relay.smarthost_credentials %s: not \"user "
		    "password\"", path);
		explicit_bzero(buf, sizeof(buf));
		return;
	}
	*sp = '\0';
	s->auth_user = xstrdup(buf);
	s->auth_pass = xstrdup(sp + 1);
	explicit_bzero(buf, sizeof(buf));
}

struct relay_sched *
relay_sched_new(const struct config *cfg, relay_done_fn *done, void *arg)
{
	struct relay_sched	*s;
	char			 err[256];

	s = xcalloc(1, sizeof(*s));
	s->cfg = cfg;
	s->done = done;
	s->arg = arg;
	s->msg = xmalloc(sizeof(*s->msg));
	s->res = xcalloc(RELAY_IPC_RCPTS_MAX, sizeof(*s->res));
	if (privdrop_lookup(cfg->user, cfg->group, &s->uid, &s->gid, err,
	    sizeof(err)) == -1)
		log_warnx("relay workers cannot start: %s", err);
	else
		s->ids_ok = true;
	load_credentials(s);
	state_load(s);
	return s;
}

void
relay_sched_free(struct relay_sched **sp)
{
	struct relay_sched	*s = *sp;
	struct timespec		 tick = { 0, 20 * 1000000 };
	size_t			 i;
	int			 waited;

	if (s == NULL)
		return;
	while (s->nw > 0)
		worker_drop(s, 0, s->w[0].job != NULL);
	for (waited = 0; s->nreap > 0 && waited < RELAY_REAP_GRACE_MS;
	    waited += 20) {
		reap(s);
		if (s->nreap > 0)
			(void)nanosleep(&tick, NULL);
	}
	for (i = 0; i < s->nreap; i++) {
		(void)kill(s->reap[i], SIGKILL);
		(void)waitpid(s->reap[i], NULL, 0);
	}
	for (i = 0; i < s->ndests; i++) {
		struct rjob *j, *next;

		for (j = s->dests[i]->head; j != NULL; j = next) {
			next = j->next;
			free(j->rr);
			free(j);
		}
		free(s->dests[i]->key);
		free(s->dests[i]);
	}
	for (i = 0; i < s->nnotls; i++)
		free(s->notls[i].key);
	free(s->notls);
	free(s->dests);
	free(s->w);
	free(s->reap);
	if (s->auth_pass != NULL) {
		explicit_bzero(s->auth_pass, strlen(s->auth_pass));
		free(s->auth_pass);
	}
	free(s->auth_user);
	free(s->done_list);
	free(s->msg);
	free(s->res);
	free(s);
	*sp = NULL;
}

bool
relay_sched_submit(struct relay_sched *s, struct relay_msg *m)
{
	struct queue_env	*env = m->env;
	char			 hop[SMTP_DOMAIN_MAX + 16];
	bool			*taken;
	size_t			 i, k, limit;
	time_t			 now = time(NULL);

	limit = (size_t)s->cfg->relay.recipient_limit;
	if (limit > RELAY_IPC_RCPTS_MAX)
		limit = RELAY_IPC_RCPTS_MAX;
	m->inflight = 0;
	taken = xcalloc(env->nrcpts, sizeof(*taken));
	for (i = 0; i < env->nrcpts; i++) {
		struct rdest	*d;
		struct rjob	*j;

		if (taken[i] || env->rcpts[i].status != QRCPT_RELAY)
			continue;
		if (relay_nexthop(s->cfg, env->rcpts[i].addr, hop,
		    sizeof(hop)) == -1 || hop[0] == '\0') {
			reason_set(&env->rcpts[i].why, "5.1.2", "no next hop "
			    "for this address");
			m->res[i] = DELIVER_BOUNCE;
			taken[i] = true;
			continue;
		}
		d = dest_get(s, hop);
		j = xcalloc(1, sizeof(*j));
		j->m = m;
		j->d = d;
		j->rr = xcalloc(limit, sizeof(*j->rr));
		j->no_starttls = notls_get(s, env->id, hop);
		if (j->no_starttls)
			notls_set(s, env->id, hop, false);
		/* this recipient and every later one for the same hop */
		for (k = i; k < env->nrcpts && j->n < limit; k++) {
			char h2[sizeof(hop)];

			if (taken[k] || env->rcpts[k].status != QRCPT_RELAY ||
			    relay_nexthop(s->cfg, env->rcpts[k].addr, h2,
			    sizeof(h2)) == -1 || strcmp(h2, hop) != 0)
				continue;
			taken[k] = true;
			j->rr[j->n].idx = (unsigned)k;
			j->rr[j->n].addr = env->rcpts[k].addr;
			j->rr[j->n].notify = env->rcpts[k].notify;
			j->rr[j->n].orcpt = env->rcpts[k].orcpt;
			j->n++;
		}
		if (dest_suspended(d, now)) {
			job_suspended(s, j);
			free(j->rr);
			free(j);
			continue;
		}
		if (!s->ids_ok) {
			job_local_fail(s, j, "relay workers cannot start");
			free(j->rr);
			free(j);
			continue;
		}
		m->inflight++;
		if (d->tail != NULL)
			d->tail->next = j;
		else
			d->head = j;
		d->tail = j;
	}
	free(taken);
	if (m->inflight == 0)
		return false;
	start_jobs(s);
	return true;
}

bool
relay_sched_busy(const struct relay_sched *s, const char *qid)
{
	const struct rjob	*j;
	size_t			 i;

	for (i = 0; i < s->nw; i++)
		if (s->w[i].job != NULL &&
		    strcmp(s->w[i].job->m->env->id, qid) == 0)
			return true;
	for (i = 0; i < s->ndests; i++)
		for (j = s->dests[i]->head; j != NULL; j = j->next)
			if (strcmp(j->m->env->id, qid) == 0)
				return true;
	return false;
}

bool
relay_sched_idle(const struct relay_sched *s)
{
	size_t	i;

	for (i = 0; i < s->nw; i++)
		if (s->w[i].job != NULL)
			return false;
	for (i = 0; i < s->ndests; i++)
		if (s->dests[i]->head != NULL)
			return false;
	return true;
}

size_t
relay_sched_pollfds(const struct relay_sched *s, struct pollfd *pfd,
    size_t max)
{
	size_t	i;

	for (i = 0; i < s->nw && i < max; i++) {
		pfd[i].fd = s->w[i].sock;
		pfd[i].events = POLLIN;
		pfd[i].revents = 0;
	}
	return i;
}

int
relay_sched_timeout(const struct relay_sched *s)
{
	time_t		 now = time(NULL), t = 0;
	size_t		 i;
	bool		 any = false;

	for (i = 0; i < s->nw; i++) {
		time_t due = s->w[i].job != NULL ? s->w[i].deadline :
		    s->w[i].since + s->cfg->relay.max_idle;

		if (!any || due < t)
			t = due;
		any = true;
	}
	if (s->ndone > 0)
		return 0;
	if (s->nreap > 0) {
		if (!any || now + 1 < t)
			t = now + 1;
		any = true;
	}
	for (i = 0; i < s->ndests; i++)
		if (s->dests[i]->head != NULL && s->dests[i]->dead) {
			if (!any || s->dests[i]->dead_until < t)
				t = s->dests[i]->dead_until;
			any = true;
		}
	if (!any)
		return -1;
	return t <= now ? 0 : (int)(t - now) * 1000;
}

void
relay_sched_events(struct relay_sched *s, const struct pollfd *pfd,
    size_t n)
{
	time_t	now;
	size_t	i, k;

	/* by pid: reading may drop workers and reorder s->w */
	for (k = 0; k < n; k++) {
		if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		for (i = 0; i < s->nw; i++)
			if (s->w[i].sock == pfd[k].fd) {
				worker_read(s, i);
				break;
			}
	}
	now = time(NULL);
	for (i = 0; i < s->nw; ) {
		struct rworker *w = &s->w[i];

		if (w->job != NULL && now >= w->deadline) {
			struct rjob *j = w->job;

			log_warnx("id=%s: relay worker %ld overstayed its "
			    "deadline; killed", j->m->env->id, (long)w->pid);
			w->job = NULL;
			worker_drop(s, i, true);
			job_result(s, j, NULL, "the relay worker took too "
			    "long");
			continue;
		}
		if (w->job == NULL && (now - w->since >=
		    s->cfg->relay.max_idle ||
		    w->uses >= (unsigned)s->cfg->relay.max_use)) {
			worker_drop(s, i, false);
			continue;
		}
		i++;
	}
	reap(s);
	start_jobs(s);
	tell_done(s);
}

void
relay_sched_drain(struct relay_sched *s)
{
	struct pollfd	*pfd = NULL;
	size_t		 n;
	int		 t;

	tell_done(s);
	while (!relay_sched_idle(s) || s->ndone > 0) {
		pfd = xreallocarray(pfd, s->nw + 1, sizeof(*pfd));
		n = relay_sched_pollfds(s, pfd, s->nw);
		t = relay_sched_timeout(s);
		if (t < 0 || t > 1000)
			t = 1000;
		if (poll(pfd, n, t) == -1 && errno != EINTR) {
			log_warn("poll");
			break;
		}
		relay_sched_events(s, pfd, n);
	}
	free(pfd);
}
