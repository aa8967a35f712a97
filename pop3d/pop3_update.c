/*
 * QUIT, and the UPDATE state (RFC 1939 6) in the unprivileged worker:
 * the messages marked with DELE leave the maildrop, so that a crash at
 * any instant leaves the old maildrop or the new one, never a torn one
 * (mbox_rewrite.h). When only the last messages go and nothing arrived
 * since the scan, the file is cut (ftruncate, fsync); otherwise the
 * monitor makes a new file beside the maildrop (PRIV_MAILDROP_TMP), we
 * copy the kept messages and whatever arrived since the scan into it
 * and fsync it, and the monitor renames it over the maildrop
 * (PRIV_MAILDROP_COMMIT). Any failure (a full disk: -ERR [SYS/TEMP])
 * leaves the maildrop as it was. The index is brought up to date after,
 * best effort: it is only a cache.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "mbox_index.h"
#include "mbox_rewrite.h"
#include "pop3.h"
#include "priv_client.h"

static void	save_index(struct pop3_maildrop *, struct mbox_table *, int);
static int	update(struct pop3_session *, struct reason *);

/* Writes t as the index of fd (the maildrop now); a failure is logged. */
static void
save_index(struct pop3_maildrop *md, struct mbox_table *t, int fd)
{
	if (md->idx_fd != -1 && mbox_index_save(md->idx_fd, t, fd) == -1)
		log_warn("maildrop index not saved after the update");
}

/* Applies the deletions. Returns 0, or -1 with r filled (logged). */
static int
update(struct pop3_session *s, struct reason *r)
{
	struct pop3_maildrop	*md = s->md;
	struct mbox_table	 newt;
	struct stat		 st;
	off_t			 off = 0;
	size_t			 i;
	int			 dst, rc;

	if (fstat(md->fd, &st) == -1) {
		log_warn("fstat maildrop");
		reason_set(r, "4.2.0", "cannot examine the maildrop");
		return -1;
	}
	switch (mbox_rewrite_plan(&md->t, md->deleted, st.st_size, &off)) {
	case MBOX_REWRITE_NOTHING:
		return 0;
	case MBOX_REWRITE_TRUNCATE:
		if (mbox_rewrite_truncate(md->fd, off, st.st_size, r) == -1)
			return -1;
		/* the kept messages are a prefix: the table stays true */
		for (i = 0; i < md->t.n && !md->deleted[i]; i++)
			;
		md->t.n = i;
		md->t.scanned = off;
		if (fstat(md->fd, &st) == 0) {
			md->t.mtime = st.st_mtim;
			save_index(md, &md->t, md->fd);
		}
		return 0;
	case MBOX_REWRITE_COPY:
		break;
	}
	if ((rc = priv_maildrop_tmp(&dst, r)) != 0) {
		log_warnx("no file for the update: %s", r->text);
		return -1;
	}
	mbox_table_init(&newt);
	if (mbox_rewrite_copy(md->fd, &md->t, md->deleted, dst, &newt, r) ==
	    -1) {
		/* logged; the monitor removes the file at the release */
		close(dst);
		return -1;
	}
	if (priv_maildrop_commit(r) != 0) {
		log_warnx("update not committed: %s", r->text);
		mbox_table_deinit(&newt);
		close(dst);
		return -1;
	}
	save_index(md, &newt, dst);
	mbox_table_deinit(&newt);
	close(dst);
	return 0;
}

int
pop3_quit(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	struct pop3_maildrop	*md = s->md;
	struct reason		 r;
	size_t			 left;

	if (cmd->argc != 0)
		return pop3_err(s, "", "QUIT takes no argument");
	if (s->state == POP3_AUTH) {
		io_puts(s->io, "+OK maild POP3 server signing off\r\n");
		return POP3_CMD_CLOSE;
	}
	pop3_enter_state(s, POP3_UPDATE);
	left = md->t.n - md->ndeleted;
	if (md->ndeleted > 0 && update(s, &r) == -1) {
		log_warnx("update failed user=%s: %s %s; nothing deleted",
		    s->login, r.status, r.text);
		io_printf(s->io, "-ERR %s%s; no messages were deleted\r\n",
		    reason_is_temporary(&r) ? RESP_SYS_TEMP : RESP_SYS_PERM,
		    r.text);
	} else {
		if (md->ndeleted > 0)
			log_info("update user=%s deleted=%zu/%lld kept=%zu",
			    s->login, md->ndeleted,
			    (long long)md->deleted_octets, left);
		s->ndeleted = (unsigned)md->ndeleted;
		s->deleted_octets = (unsigned long long)md->deleted_octets;
		io_printf(s->io, "+OK maild POP3 server signing off (%zu "
		    "message%s left)\r\n", left, left == 1 ? "" : "s");
	}
	pop3_maildrop_close(s);
	return POP3_CMD_CLOSE;
}
