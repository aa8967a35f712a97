/*
 * Notifications to senders (notice.h): the queue runner's bounces,
 * delay notices and success reports, built by bounce.c and queued like
 * any message with the null sender, and the Received: count that the
 * monitor (at DATA) and the runner (on a queued message) hold against
 * smtp.hop_limit.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "notice.h"
#include "relay/relay.h"
#include "resolve.h"
#include "xmalloc.h"

/* --- Received: count --------------------------------------------------- */

#define RECEIVED	"received:"
#define RECEIVED_LEN	(sizeof(RECEIVED) - 1)
/* A queued message's header section is read in pieces of this size. */
#define HOPS_READ_CHUNK	8192

void
notice_hops_init(struct notice_hops *h)
{
	memset(h, 0, sizeof(*h));
}

void
notice_hops_feed(struct notice_hops *h, const char *buf, size_t len)
{
	size_t	i;
	char	c;

	for (i = 0; i < len && !h->done; i++) {
		c = buf[i];
		if (c == '\n') {
			/* an empty line ends the header section */
			if (!h->skipping && h->matched == 0)
				h->done = true;
			h->skipping = false;
			h->matched = 0;
			continue;
		}
		if (h->skipping)
			continue;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == RECEIVED[h->matched]) {
			if (++h->matched == RECEIVED_LEN) {
				h->received++;
				h->skipping = true;
			}
		} else
			h->skipping = true;
	}
}

long
notice_hops_file(int fd, off_t off, off_t len)
{
	struct notice_hops	h;
	char			buf[HOPS_READ_CHUNK];
	off_t			end = off + len;
	ssize_t			n;

	notice_hops_init(&h);
	while (off < end && !h.done) {
		n = pread(fd, buf, (size_t)(end - off) < sizeof(buf) ?
		    (size_t)(end - off) : sizeof(buf), off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		notice_hops_feed(&h, buf, (size_t)n);
		off += n;
	}
	return (long)h.received;
}

/* --- policy ------------------------------------------------------------ */

bool
notice_wanted(unsigned notify, enum bounce_kind kind)
{
	if (notify & DSN_NOTIFY_NEVER)
		return false;
	switch (kind) {
	case BOUNCE_FAILED:
		return notify == 0 || (notify & DSN_NOTIFY_FAILURE);
	case BOUNCE_DELAYED:
		return notify == 0 || (notify & DSN_NOTIFY_DELAY);
	case BOUNCE_DELIVERED:
	case BOUNCE_RELAYED:
		return (notify & DSN_NOTIFY_SUCCESS) != 0;
	}
	return false;
}

int
notice_lifetime(const struct config *cfg, const struct queue_env *env)
{
	if (bounce_is_dsn_sender(env->sender) &&
	    cfg->queue.bounce_lifetime < cfg->queue.max_lifetime)
		return cfg->queue.bounce_lifetime;
	return cfg->queue.max_lifetime;
}

bool
notice_delay_due(const struct config *cfg, const struct queue_env *env,
    time_t now)
{
	return cfg->queue.delay_warning > 0 && env->warned == 0 &&
	    env->warned_off > 0 && !bounce_is_dsn_sender(env->sender) &&
	    now - env->arrival >= cfg->queue.delay_warning;
}

/* --- sending ------------------------------------------------------------ */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * xtext (RFC 3461 4) decoded for a report, where the field wants the
 * address itself (RFC 3464 2.2.1, 2.3.1); a malformed or control octet
 * becomes "?". A new string.
 */
static char *
xtext_decode(const char *s)
{
	char	*out = xmalloc(strlen(s) + 1), *o = out;
	int	 hi, lo;

	for (; *s != '\0'; s++) {
		if (*s == '+' && (hi = hexval(s[1])) >= 0 &&
		    (lo = hexval(s[2])) >= 0) {
			*o = (char)(hi << 4 | lo);
			s += 2;
		} else
			*o = *s;
		if ((unsigned char)*o < 0x20 || *o == 0x7f)
			*o = '?';
		o++;
	}
	*o = '\0';
	return out;
}

static int
sink(void *arg, const char *buf, size_t len)
{
	struct queue_writer *w = arg;

	queue_writer_write(w, buf, len);
	return w->failed ? -1 : 0;
}

static const char *
kind_name(enum bounce_kind kind)
{
	switch (kind) {
	case BOUNCE_FAILED:	return "bounce";
	case BOUNCE_DELAYED:	return "delay notice";
	case BOUNCE_DELIVERED:	return "success notice";
	case BOUNCE_RELAYED:	return "relay notice";
	}
	return "notice";
}

int
notice_send(const struct config *cfg, const struct aliases *al, int qfd,
    const struct queue_env *env, const size_t *idx, size_t n,
    enum bounce_kind kind, bool to_postmaster, char *new_qid,
    struct reason *r)
{
	struct bounce_rcpt	*br;
	struct bounce_info	 bi;
	struct resolve_list	 to = { NULL, 0 };
	struct queue_writer	 w;
	struct queue_env	 benv;
	struct mailaddr		 dest;
	char			**strs, *pm = NULL, *envid = NULL;
	const char		*dest_text, *route;
	size_t			 i, ns = 0;
	int			 code, ret = -1;

	new_qid[0] = '\0';
	/* RFC 5321 4.5.1's <Postmaster>: ours, whatever the host name */
	if (to_postmaster) {
		pm = xasprintf("postmaster@%s", cfg->hostname);
		dest_text = pm;
		route = "Postmaster";
	} else
		dest_text = route = env->sender;
	if (addr_parse_mailbox(route, strlen(route), ADDR_UTF8 |
	    ADDR_ALLOW_POSTMASTER, &dest, r) == -1 || resolve_rcpt(cfg, al,
	    &dest, true, &to, &code, r) == -1) {
		resolve_list_free(&to);
		free(pm);
		return -2;
	}
	br = xcalloc(n, sizeof(*br));
	/* per recipient: a diagnostic, a status, an ORCPT type and address */
	strs = xcalloc(4 * n + 1, sizeof(*strs));
	for (i = 0; i < n; i++) {
		const struct queue_rcpt	*rc = &env->rcpts[idx[i]];
		const char		*semi;

		br[i].addr = rc->addr;
		switch (kind) {
		case BOUNCE_DELIVERED:
		case BOUNCE_RELAYED:
			br[i].status = "2.0.0";
			break;
		case BOUNCE_DELAYED:
			br[i].status = rc->why.status[0] == '4' ?
			    rc->why.status : "4.0.0";
			break;
		case BOUNCE_FAILED:
			br[i].status = rc->why.status[0] == '5' ?
			    rc->why.status : "5.0.0";
			break;
		}
		if (rc->diagnostic != NULL)
			br[i].diagnostic = rc->diagnostic;
		else if (rc->why.text[0] != '\0' && kind != BOUNCE_DELIVERED)
			br[i].diagnostic = strs[ns++] = xasprintf("x-local; %s",
			    rc->why.text);
		br[i].remote_mta = rc->remote_mta;
		br[i].last_attempt = rc->last_attempt;
		if (rc->orcpt != NULL && (semi = strchr(rc->orcpt, ';')) !=
		    NULL) {
			br[i].orcpt_type = strs[ns++] = xstrndup(rc->orcpt,
			    (size_t)(semi - rc->orcpt));
			br[i].orcpt = strs[ns++] = strcmp(br[i].orcpt_type,
			    "utf-8") == 0 ? xstrdup(semi + 1) :
			    xtext_decode(semi + 1);
		}
	}
	if (env->envid != NULL)
		envid = xtext_decode(env->envid);
	memset(&bi, 0, sizeof(bi));
	bi.kind = kind;
	bi.hostname = cfg->hostname;
	bi.queue_id = env->id;
	bi.arrival = env->arrival;
	bi.date = time(NULL);
	bi.retry_until = kind == BOUNCE_DELAYED ? env->arrival +
	    notice_lifetime(cfg, env) : 0;
	bi.sender = dest_text;
	bi.envid = envid;
	bi.rcpts = br;
	bi.nrcpts = n;
	bi.msg_fd = qfd;
	bi.msg_off = env->body_off;
	bi.msg_len = env->body_len;
	/* only a bounce returns the message, and only without RET=HDRS */
	bi.headers_only = kind != BOUNCE_FAILED ||
	    (env->flags & RELAY_F_RET_HDRS) != 0;
	bi.eightbit = (env->flags & RELAY_F_8BIT) != 0;

	memset(&benv, 0, sizeof(benv));
	benv.arrival = time(NULL);
	benv.sender = "";
	benv.flags = to_postmaster ? QUEUE_F_POSTMASTER : 0;
	benv.client = "localhost";
	benv.helo = cfg->hostname;
	benv.nrcpts = to.n;
	benv.rcpts = xcalloc(to.n, sizeof(*benv.rcpts));
	for (i = 0; i < to.n; i++) {
		bool remote = strcmp(to.v[i].user, QRCPT_REMOTE) == 0;

		benv.rcpts[i].status = remote ? QRCPT_RELAY : QRCPT_PENDING;
		benv.rcpts[i].user = to.v[i].user;
		benv.rcpts[i].addr = remote ? to.v[i].addr :
		    (char *)dest_text;
	}
	if (queue_writer_begin(&w, cfg->queue_dir, &benv, 0, r) == 0) {
		if (bounce_write(&bi, sink, &w, r) == 0 &&
		    queue_writer_commit(&w, r) == 0) {
			snprintf(new_qid, QUEUE_ID_MAX + 1, "%s", w.id);
			log_info("id=%s: %s id=%s to=<%s> for %zu "
			    "recipient(s)", env->id, kind_name(kind), w.id,
			    dest_text, n);
			ret = 0;
		} else
			queue_writer_abort(&w);
	}
	for (i = 0; i < ns; i++)
		free(strs[i]);
	free(strs);
	free(br);
	free(envid);
	free(benv.rcpts);
	free(pm);
	resolve_list_free(&to);
	return ret;
}
