/*
 * Local delivery into mbox maildrops (see deliver_local.h), in the root
 * deliverers; never in a network-facing process. A maildrop is opened
 * safely (mbox_open: no symlinks, hard links or foreign owners) and
 * locked (dotlock when configured, then fcntl) without waiting: a busy
 * maildrop -- a POP3 session is open -- defers the delivery instead.
 * After the locks the path is checked again, since a POP3 update may
 * have replaced the file.
 *
 * Group commit: all the messages waiting for one maildrop are appended
 * under one lock and fsync'ed once. Exactly once: before the maildrop is
 * touched, the journal records each message's offset and exact length
 * (journal.c); after a crash, deliver_local_recover() compares the bytes
 * there with what the message would have written.
 *
 * The maildrop is opened, created and locked as root (the spool directory
 * is not the user's to write, and a new maildrop is chown'ed), but its
 * bytes are written with the recipient's identity (privdrop_become): so
 * the kernel applies the user's disk quota and the file system's root
 * reserve, and a full mailbox defers the mail ("4.2.2 mailbox full")
 * instead of filling the disk as root.
 */
#include "autoconf.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deliver_local.h"
#include "fault.h"
#include "log.h"
#include "mbox_append.h"
#include "maildrop.h"
#include "privdrop.h"
#include "rfc5322.h"
#include "xmalloc.h"

/* Recovery may wait this long for a maildrop a POP3 session holds. */
#define RECOVER_LOCK_MS	5000
#define PREFIX_MAX	(SMTP_PATH_MAX * 8 + 128)

/*
 * Opens (creating when asked) and locks user's maildrop (maildrop.c),
 * without waiting unless told to. Returns DELIVER_OK with md open and
 * locked, or another result with r.
 */
static enum deliver_result
open_maildrop(const struct config *cfg, const char *user, bool create,
    int wait_ms, struct maildrop *md, struct reason *r)
{
	switch (maildrop_open(cfg, user, create ? MAILDROP_CREATE : 0, wait_ms,
	    md, r)) {
	case MAILDROP_OK:
		return DELIVER_OK;
	case MAILDROP_BUSY:
		return DELIVER_LOCKED;
	case MAILDROP_NOUSER:
		return DELIVER_BOUNCE;
	default:
		return DELIVER_DEFER;
	}
}

/*
 * The maildrop user of a recipient's user field: "\\alice" (a .forward's
 * own copy, forward.h) is alice's maildrop.
 */
static const char *
mbox_user(const char *user)
{
	return user[0] == '\\' ? user + 1 : user;
}

/*
 * Describes the message for recipient rcpt as mbox_append() wants it;
 * prefix is caller's: Return-Path:, then Delivered-To: (unless the
 * forwarding that made a "\\user" copy added it already).
 */
static void
describe(const struct queue_env *env, size_t rcpt, int qfd, char *prefix,
    struct mbox_append_msg *m)
{
	const struct queue_rcpt	*rc = &env->rcpts[rcpt];
	size_t			 len, i;
	int			 n;

	if (rfc5322_return_path(env->sender, prefix, PREFIX_MAX) == -1)
		prefix[0] = '\0';
	len = strlen(prefix);
	if (rc->user[0] != '\\') {
		n = snprintf(prefix + len, PREFIX_MAX - len,
		    "Delivered-To: %s\n", rc->addr);
		if (n < 0 || (size_t)n >= PREFIX_MAX - len)
			prefix[len] = '\0';
		else	/* a queue file field: nothing may break the line */
			for (i = len + 14; i < len + (size_t)n - 1; i++)
				if ((unsigned char)prefix[i] < 0x20 ||
				    prefix[i] == 0x7f)
					prefix[i] = '?';
	}
	memset(m, 0, sizeof(*m));
	m->sender = env->sender;
	m->arrival = env->arrival;
	m->prefix = prefix;
	m->prefix_len = strlen(prefix);
	m->body_fd = qfd;
	m->body_off = env->body_off;
	m->body_len = env->body_len;
}

static void
set_all(struct deliver_item *items, size_t n, enum deliver_result res,
    const struct reason *r)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		items[i].result = res;
		items[i].why = *r;
	}
}

void
deliver_local_batch(const struct config *cfg, struct journal *j,
    const char *user, struct deliver_item *items, size_t n)
{
	struct maildrop		 md;
	struct journal_batch	 jb;
	struct mbox_append_msg	*msgs;
	struct mbox_append_result res;
	struct privdrop_saved	 ids;
	struct reason		 r;
	struct stat		 st;
	enum deliver_result	 dr;
	char			(*prefix)[PREFIX_MAX];
	size_t			*idx, k = 0, i;
	off_t			 off, start;
	bool			 repair;

	user = mbox_user(user);
	dr = open_maildrop(cfg, user, true, 0, &md, &r);
	if (dr != DELIVER_OK) {
		set_all(items, n, dr, &r);
		return;
	}
	msgs = xcalloc(n, sizeof(*msgs));
	prefix = xcalloc(n, sizeof(*prefix));
	idx = xcalloc(n, sizeof(*idx));
	memset(&jb, 0, sizeof(jb));
	jb.msgs = xcalloc(n, sizeof(*jb.msgs));
	if (fstat(md.fd, &st) == -1 ||
	    mbox_append_repair_needed(md.fd, st.st_size, &repair) == -1) {
		reason_set(&r, "4.2.0", "cannot examine the maildrop: %s",
		    strerror(errno));
		set_all(items, n, DELIVER_DEFER, &r);
		goto out;
	}
	/* the exact place of every message, before any byte is written */
	start = off = st.st_size;
	for (i = 0; i < n; i++) {
		struct deliver_item *it = &items[i];
		off_t len;

		describe(it->env, it->rcpt, it->qfd, prefix[i], &msgs[i]);
		if (mbox_append_size(&msgs[i], k == 0 && repair, &len,
		    &it->why) == -1) {
			it->result = DELIVER_DEFER;
			continue;
		}
		idx[k] = i;
		snprintf(jb.msgs[k].qid, sizeof(jb.msgs[k].qid), "%s",
		    it->env->id);
		jb.msgs[k].rcpt = (uint32_t)it->rcpt;
		jb.msgs[k].off = off;
		jb.msgs[k].len = len;
		off += len;
		k++;
	}
	if (k == 0)
		goto out;
	jb.dev = st.st_dev;
	jb.ino = st.st_ino;
	jb.n = k;
	snprintf(jb.user, sizeof(jb.user), "%s", user);
	if (journal_record(j, &jb) == -1) {
		log_warn("recording a delivery in the journal");
		reason_set(&r, "4.3.0", "cannot write the delivery journal");
		for (i = 0; i < k; i++) {
			items[idx[i]].result = DELIVER_DEFER;
			items[idx[i]].why = r;
		}
		goto out;
	}
	/* from here to the fsync (or the cut back) as the recipient */
	if (privdrop_become(md.user.uid, md.user.gid, &ids) == -1) {
		log_warn("cannot take the ids of %s (uid %lu) to deliver",
		    user, (unsigned long)md.user.uid);
		reason_set(&r, "4.3.0", "cannot take the recipient's identity");
		for (i = 0; i < k; i++) {
			items[idx[i]].result = DELIVER_DEFER;
			items[idx[i]].why = r;
		}
		goto out;
	}
	for (i = 0; i < k; i++) {
		struct deliver_item *it = &items[idx[i]];

		if (mbox_append_flags(md.fd, &msgs[idx[i]], MBOX_APPEND_NOSYNC,
		    &res, &it->why) == -1 || res.offset != jb.msgs[i].off ||
		    res.length != jb.msgs[i].len) {
			if (it->why.status[0] == '\0')
				reason_set(&it->why, "4.3.0", "maildrop "
				    "changed during delivery");
			/* this one was cut back; none after it is written */
			for (; i < k; i++) {
				if (items[idx[i]].why.status[0] == '\0')
					items[idx[i]].why = it->why;
				items[idx[i]].result = DELIVER_DEFER;
			}
			k = 0;
			break;
		}
		it->result = DELIVER_OK;
	}
	if (fault_point("deliver.before_fsync") == -1 || fsync(md.fd) == -1) {
		log_warn("fsync maildrop %s; cutting it back", md.path);
		if (ftruncate(md.fd, start) == -1 || fsync(md.fd) == -1)
			log_warn("cannot cut %s back to %lld bytes", md.path,
			    (long long)start);
		privdrop_restore(&ids);
		reason_set(&r, "4.2.0", "cannot write the maildrop");
		for (i = 0; i < n; i++)
			if (items[i].result == DELIVER_OK) {
				items[i].result = DELIVER_DEFER;
				items[i].why = r;
			}
		goto out;
	}
	privdrop_restore(&ids);
	for (i = 0; i < n; i++) {
		struct deliver_item *it = &items[i];

		if (it->result == DELIVER_OK && queue_rcpt_mark(it->qfd,
		    it->env, it->rcpt, QRCPT_DONE, 0, false) == -1)
			log_warn("id=%s: marking delivered (the journal has "
			    "it)", it->env->id);
	}
out:
	maildrop_close(&md);
	free(jb.msgs);
	free(idx);
	free(prefix);
	free(msgs);
}

/* --- recovery ------------------------------------------------------------ */

struct recover_ctx {
	const struct config	*cfg;
	struct journal		*j;
	int			 qdirfd;
};

/* Opens the queue file of qid wherever it is now; -1 if it is gone. */
static int
open_queue_file(int qdirfd, const char *qid)
{
	const char	*dirs[] = { QUEUE_DIR_ACTIVE, QUEUE_DIR_DEFERRED };
	char		 path[QUEUE_RELPATH_MAX];
	size_t		 i;
	int		 fd;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dirs[i], qid);
		if ((fd = openat(qdirfd, path, O_RDWR | O_NOFOLLOW |
		    O_CLOEXEC)) != -1)
			return fd;
	}
	return -1;
}

static void
recover_batch(void *arg, const struct journal_batch *b)
{
	struct recover_ctx	*ctx = arg;
	struct maildrop		 md;
	struct mbox_append_msg	 m;
	struct queue_env	 env;
	struct reason		 r;
	struct stat		 st;
	char			 prefix[PREFIX_MAX];
	bool			 opened = false, cut = false;
	size_t			 i;
	int			 qfd, rc;

	md.fd = -1;
	md.dotlocked = false;
	for (i = 0; i < b->n && !cut; i++) {
		const struct journal_msg *jm = &b->msgs[i];

		if ((qfd = open_queue_file(ctx->qdirfd, jm->qid)) == -1)
			continue;	/* finished and removed */
		if (queue_env_read(qfd, &env, &r) == -1 ||
		    jm->rcpt >= env.nrcpts ||
		    strcmp(mbox_user(env.rcpts[jm->rcpt].user), b->user) != 0 ||
		    env.rcpts[jm->rcpt].status == QRCPT_DONE ||
		    env.rcpts[jm->rcpt].status == QRCPT_BOUNCED) {
			if (env.nrcpts > 0)
				queue_env_free(&env);
			close(qfd);
			continue;
		}
		if (!opened) {
			opened = true;
			if (open_maildrop(ctx->cfg, b->user, false,
			    RECOVER_LOCK_MS, &md, &r) != DELIVER_OK ||
			    fstat(md.fd, &st) == -1 || st.st_dev != b->dev ||
			    st.st_ino != b->ino) {
				log_warnx("id=%s: cannot tell whether an "
				    "interrupted delivery to %s completed "
				    "(maildrop replaced or unavailable); it "
				    "will be delivered again", jm->qid,
				    b->user);
				maildrop_close(&md);
			}
		}
		if (md.fd == -1) {
			queue_env_free(&env);
			close(qfd);
			continue;
		}
		describe(&env, jm->rcpt, qfd, prefix, &m);
		rc = mbox_append_check(md.fd, jm->off, &m, &r);
		switch (rc) {
		case MBOX_APPEND_COMPLETE:
			log_info("id=%s: delivery to %s found complete after "
			    "a crash", jm->qid, b->user);
			if (queue_rcpt_mark(qfd, &env, jm->rcpt, QRCPT_DONE, 0,
			    true) == -1)
				log_warn("id=%s: marking delivered", jm->qid);
			break;
		case MBOX_APPEND_TORN:
			log_info("id=%s: cutting a torn copy off %s at offset "
			    "%lld", jm->qid, b->user, (long long)jm->off);
			if (ftruncate(md.fd, jm->off) == -1 ||
			    fsync(md.fd) == -1)
				log_warn("cutting %s back", md.path);
			cut = true;	/* nothing after it was written */
			break;
		case MBOX_APPEND_DAMAGED:
			log_warnx("id=%s: a torn copy at offset %lld in %s is "
			    "followed by other mail; delivering again",
			    jm->qid, (long long)jm->off, b->user);
			break;
		default:
			break;		/* absent: it will be delivered */
		}
		queue_env_free(&env);
		close(qfd);
	}
	maildrop_close(&md);
}

void
deliver_local_recover(const struct config *cfg, struct journal *j)
{
	struct recover_ctx	ctx;
	int			n;

	ctx.cfg = cfg;
	ctx.j = j;
	ctx.qdirfd = j->qdirfd;
	if ((n = journal_replay(j, recover_batch, &ctx)) > 0)
		log_info("checked %d recorded delivery batch(es)", n);
	if (n != 0 && journal_compact(j) == -1)
		log_warn("compacting the delivery journal");
}
