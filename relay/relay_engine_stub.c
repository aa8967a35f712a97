/*
 * XXX a stand-in for the relay engine until it is merged: every
 * recipient is deferred. Deleted when relay/relay_engine.c lands.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"
#include "relay/relay.h"

struct relay_engine {
	int	dummy;
};

struct relay_engine *
relay_engine_new(const struct config *cfg, char *err, size_t errsz)
{
	(void)cfg;
	(void)err;
	(void)errsz;
	return xcalloc(1, sizeof(struct relay_engine));
}

void
relay_engine_free(struct relay_engine *e)
{
	free(e);
}

void
relay_deliver(struct relay_engine *e, const struct relay_req *req,
    struct relay_res *res)
{
	size_t	i;

	(void)e;
	snprintf(res->tls_info, sizeof(res->tls_info), "none");
	for (i = 0; i < req->nrcpts; i++) {
		res->rcpts[i].idx = req->rcpts[i].idx;
		res->rcpts[i].cls = RELAY_DEFER;
		res->rcpts[i].code = 0;
		reason_set(&res->rcpts[i].why, "4.4.1", "relay engine not "
		    "built in");
	}
	res->nrcpts = req->nrcpts;
}

void
relay_engine_idle(struct relay_engine *e)
{
	(void)e;
}
