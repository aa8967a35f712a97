/*
 * Recipient resolution (see resolve.h), in root processes: the SMTP
 * monitor and the queue runner. Local parts are folded to lower case
 * before lookup, as most MTAs do for local delivery, so Alice@ and alice@
 * reach the same maildrop. User names come from NSS (getpwnam), which
 * also decides that a user exists.
 */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "maildrop.h"
#include "queue_file.h"
#include "resolve.h"
#include "xmalloc.h"

struct expand_ctx {
	const struct config	*cfg;
	const struct aliases	*al;		/* may be NULL */
	struct resolve_list	*out;
	int			 depth;
};

static bool
has(const struct resolve_list *l, const char *user, const char *addr)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].user, user) == 0 &&
		    strcmp(l->v[i].addr, addr) == 0)
			return true;
	return false;
}

/* Into the expansion's own list: the recipient is set by merge(). */
static void
add(struct resolve_list *out, const char *user, const char *addr)
{
	if (has(out, user, addr))
		return;
	out->v = xreallocarray(out->v, out->n + 1, sizeof(*out->v));
	out->v[out->n].user = xstrdup(user);
	out->v[out->n].addr = xstrdup(addr);
	out->v[out->n].rcpt = NULL;
	out->n++;
}

/*
 * Moves the targets of a whole, successful resolution (from) to the end
 * of out, each with rcpt, leaving out the ones out has already; from is
 * left empty. Nothing here can fail half-way (xreallocarray aborts).
 */
static void
merge(struct resolve_list *out, struct resolve_list *from, const char *rcpt)
{
	size_t	i;

	if (from->n > 0)
		out->v = xreallocarray(out->v, out->n + from->n,
		    sizeof(*out->v));
	for (i = 0; i < from->n; i++) {
		struct resolved *t = &from->v[i];

		if (has(out, t->user, t->addr))
			continue;
		out->v[out->n].user = t->user;
		out->v[out->n].addr = t->addr;
		out->v[out->n].rcpt = xstrdup(rcpt);
		out->n++;
		t->user = t->addr = NULL;
	}
	resolve_list_free(from);
}

/*
 * 1: a local user (the database's spelling in out), 0: none, -1: NSS
 * failed. The one rule for names that may name a maildrop (maildrop.c).
 */
static int
lookup_user(const struct config *cfg, const char *name, char *out,
    size_t outsz)
{
	struct maildrop_user	u;
	struct reason		r;
	int			n;

	if ((n = maildrop_user(cfg, name, &u, &r)) == 1)
		snprintf(out, outsz, "%s", u.name);
	return n;
}

static int resolve_local(struct expand_ctx *, const char *, struct reason *);

static int
expand_cb(void *arg, enum alias_kind kind, const char *target,
    struct reason *r)
{
	struct expand_ctx	*ctx = arg;
	struct mailaddr		 a;
	char			 user[USER_NAME_MAX + 1];
	int			 n;

	switch (kind) {
	case ALIAS_LOCAL:
		n = lookup_user(ctx->cfg, target, user, sizeof(user));
		if (n == 1) {
			add(ctx->out, user, "");
			return 0;
		}
		if (n == -1)
			reason_set(r, "4.3.0", "user database unavailable");
		else {
			log_warnx("alias target \"%s\" is not a local user",
			    target);
			reason_set(r, "5.1.1", "alias target is not a local "
			    "user");
		}
		return -1;
	case ALIAS_REMOTE:
		if (addr_parse_mailbox(target, strlen(target), ADDR_UTF8, &a,
		    r) == -1)
			return -1;
		if (config_is_local_domain(ctx->cfg, a.domain)) {
			if (++ctx->depth > ALIAS_DEPTH_MAX) {
				reason_set(r, "5.4.6", "alias loop");
				return -1;
			}
			n = resolve_local(ctx, a.local, r);
			ctx->depth--;
			return n;
		}
		/* forwarding an admin configured: a relay, allowed */
		add(ctx->out, QRCPT_REMOTE, target);
		return 0;
	case ALIAS_FILE:
		/* only reported when alias_file_targets allows it */
		if (target[0] != '/') {
			reason_set(r, "5.3.5", "file target is not an "
			    "absolute path");
			return -1;
		}
		add(ctx->out, target, "");
		return 0;
	case ALIAS_PROGRAM: {
		/* only reported when alias_program_targets allows it */
		char *prog = xasprintf("|%s", target);

		add(ctx->out, prog, "");
		free(prog);
		return 0;
	}
	default:
		reason_set(r, "5.3.5", "unknown alias target");
		return -1;
	}
}

/* The aliases_expand() flags the configuration allows. */
static unsigned
alias_allow(const struct config *cfg)
{
	return (cfg->alias_file_targets ? ALIAS_ALLOW_FILE : 0) |
	    (cfg->alias_program_targets ? ALIAS_ALLOW_PROGRAM : 0);
}

/*
 * Where recipient_delimiter cuts name into user and extension: the
 * offset of the first delimiter character, or 0 (none, or at the start:
 * "+x" has no user part).
 */
size_t
resolve_delimiter_at(const struct config *cfg, const char *name)
{
	size_t	n;

	if (cfg->recipient_delimiter == NULL ||
	    cfg->recipient_delimiter[0] == '\0')
		return 0;
	n = strcspn(name, cfg->recipient_delimiter);
	return name[n] == '\0' ? 0 : n;
}

/* 1 resolved (into ctx->out), 0 neither an alias nor a user, -1 r. */
static int
resolve_name(struct expand_ctx *ctx, const char *name, struct reason *r)
{
	char	user[USER_NAME_MAX + 1];
	int	n = 0;

	/* aliases first: they may redirect real users too */
	if (ctx->al != NULL)
		n = aliases_expand(ctx->al, name, alias_allow(ctx->cfg),
		    expand_cb, ctx, r);
	if (n != 0)
		return n;
	switch (lookup_user(ctx->cfg, name, user, sizeof(user))) {
	case 1:
		add(ctx->out, user, "");
		return 1;
	case -1:
		reason_set(r, "4.3.0", "user database unavailable, try again "
		    "later");
		return -1;
	}
	return 0;
}

static int
resolve_local(struct expand_ctx *ctx, const char *local, struct reason *r)
{
	char	lower[SMTP_LOCALPART_MAX + 1];
	size_t	i, cut;
	int	n;

	for (i = 0; local[i] != '\0' && i < sizeof(lower) - 1; i++)
		lower[i] = (char)tolower((unsigned char)local[i]);
	lower[i] = '\0';
	/* the whole local part first: an alias or user "a+b" wins */
	if ((n = resolve_name(ctx, lower, r)) != 0)
		return n == 1 ? 0 : -1;
	/* then user+detail: the part before the delimiter */
	if ((cut = resolve_delimiter_at(ctx->cfg, lower)) > 0) {
		lower[cut] = '\0';
		if ((n = resolve_name(ctx, lower, r)) != 0)
			return n == 1 ? 0 : -1;
	}
	if (strcmp(lower, "postmaster") == 0) {
		/* RFC 5321 4.5.1: postmaster must always work */
		add(ctx->out, "root", "");
		return 0;
	}
	reason_set(r, "5.1.1", "no such user here");
	return -1;
}

int
resolve_rcpt(const struct config *cfg, const struct aliases *al,
    const struct mailaddr *rcpt, bool relay_ok, struct resolve_list *out,
    int *code_out, struct reason *r)
{
	struct resolve_list	got = { NULL, 0 };
	struct expand_ctx	ctx;
	char			text[ADDR_TEXT_SIZE];

	if (addr_format(rcpt, text, sizeof(text)) == -1) {
		*code_out = 501;
		reason_set(r, "5.1.3", "bad recipient address");
		return -1;
	}
	if (rcpt->domain[0] != '\0' &&
	    !config_is_local_domain(cfg, rcpt->domain)) {
		if (!relay_ok) {
			*code_out = 554;
			reason_set(r, "5.7.1", "relay access denied");
			return -1;
		}
		add(&got, QRCPT_REMOTE, text);
		merge(out, &got, text);
		return 0;
	}
	/*
	 * Into a list of its own: an alias reports its targets one by one,
	 * and a member refused after others were taken must not leave those
	 * in out (the caller answers 5xx/4xx for the whole recipient).
	 */
	ctx.cfg = cfg;
	ctx.al = al;
	ctx.out = &got;
	ctx.depth = 0;
	if (resolve_local(&ctx, rcpt->local, r) == -1) {
		resolve_list_free(&got);
		*code_out = r->status[0] == '4' ? 451 : 550;
		if (strcmp(r->status, "5.4.6") == 0 ||
		    strcmp(r->status, "5.5.3") == 0)
			*code_out = 550;
		return -1;
	}
	merge(out, &got, text);
	return 0;
}

bool
resolve_sender_owned(const struct config *cfg, const struct aliases *al,
    const struct mailaddr *sender, const char *user)
{
	struct resolve_list	list = { NULL, 0 };
	struct reason		r;
	bool			own = false;
	size_t			i;
	int			code;

	if (addr_is_null(sender))
		return true;
	if (sender->domain[0] == '\0' ||
	    !config_is_local_domain(cfg, sender->domain))
		return false;
	if (resolve_rcpt(cfg, al, sender, false, &list, &code, &r) == 0)
		for (i = 0; i < list.n; i++)
			if (strcmp(list.v[i].user, user) == 0)
				own = true;
	resolve_list_free(&list);
	return own;
}

void
resolve_list_free(struct resolve_list *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].user);
		free(l->v[i].addr);
		free(l->v[i].rcpt);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}
