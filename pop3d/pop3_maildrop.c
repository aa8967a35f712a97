/*
 * The maildrop of a logged-in POP3 session, in the unprivileged worker:
 * the locked descriptor the monitor passes (PRIV_MAILDROP_OPEN), the
 * index file (PRIV_INDEX_OPEN, when pop3.index is on), and the message
 * table read from them (mbox_table_open: the index if it still fits,
 * else a scan). Message numbers are table positions and stay fixed for
 * the session (RFC 1939 5); DELE only marks.
 *
 * A maildrop that cannot be parsed (it does not start with a From_ line)
 * is refused with -ERR [SYS/PERM] and a log line, and given back
 * untouched: nothing is ever rewritten that was not understood.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "pop3.h"
#include "priv_client.h"
#include "xmalloc.h"

static void	md_free(struct pop3_maildrop **);

static void
md_free(struct pop3_maildrop **mdp)
{
	struct pop3_maildrop	*md = *mdp;

	if (md == NULL)
		return;
	if (md->fd != -1)
		close(md->fd);
	if (md->idx_fd != -1)
		close(md->idx_fd);
	mbox_table_deinit(&md->t);
	free(md->deleted);
	free(md);
	*mdp = NULL;
}

int
pop3_maildrop_open(struct pop3_session *s)
{
	struct pop3_maildrop	*md;
	struct reason		 r, ir;
	int			 fd, rc;
	size_t			 i;

	if ((rc = priv_maildrop_open(&fd, &r)) != 0) {
		if (rc == -1) {
			io_printf(s->io, "-ERR [SYS/TEMP] %s\r\n", r.text);
			return POP3_CMD_CLOSE;
		}
		log_info("user=%s: no maildrop: %s", s->login, r.text);
		s->login[0] = '\0';
		s->method = NULL;
		return pop3_err(s, pop3_resp_code(&r), "%s", r.text);
	}
	md = xcalloc(1, sizeof(*md));
	md->fd = fd;
	md->idx_fd = -1;
	mbox_table_init(&md->t);
	if (s->cfg->pop3.index) {
		rc = priv_index_open(&md->idx_fd, &ir);
		if (rc == -1) {
			md_free(&md);
			io_printf(s->io, "-ERR [SYS/TEMP] %s\r\n", ir.text);
			return POP3_CMD_CLOSE;
		}
		if (rc == 1)
			log_info("going without an index: %s", ir.text);
	}
	if (mbox_table_open(md->fd, md->idx_fd, &md->t, &r) == -1) {
		log_warnx("maildrop of %s refused: %s %s", s->login, r.status,
		    r.text);
		s->md = md;
		pop3_maildrop_close(s);
		s->login[0] = '\0';
		s->method = NULL;
		return pop3_err(s, pop3_resp_code(&r), "%s", r.text);
	}
	md->deleted = xcalloc(md->t.n > 0 ? md->t.n : 1, sizeof(bool));
	for (i = 0; i < md->t.n; i++)
		md->total_octets += md->t.v[i].octets;
	s->md = md;
	pop3_enter_state(s, POP3_TRANS);
	log_info("maildrop user=%s messages=%zu octets=%lld", s->login,
	    md->t.n, (long long)md->total_octets);
	return pop3_ok(s, "%s has %zu message%s (%lld octets)", s->login,
	    md->t.n, md->t.n == 1 ? "" : "s", (long long)md->total_octets);
}

void
pop3_maildrop_close(struct pop3_session *s)
{
	struct reason	r;

	if (s->md == NULL)
		return;
	md_free(&s->md);
	/* the monitor unlocks it and wakes deliveries that waited */
	if (priv_release_maildrop(&r) != 0)
		log_warnx("releasing the maildrop: %s", r.text);
}
