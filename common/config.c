/*
 * Minimal configuration loader: reads the keys the master needs so far,
 * without validation. The table-driven, validating loader (config_keys.c)
 * replaces it.
 */
#include "autoconf.h"
#include <libconfig.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <strings.h>
#include "config.h"
#include "xmalloc.h"

static void setlisten(struct listen_list *l, const char *s) {
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	const char *c = strrchr(s, ':');
	struct listen_addr *a = &l->v[l->n++];
	a->line = 0;
	if (!c) { a->host = NULL; a->port = atoi(s); return; }
	a->port = atoi(c + 1);
	if (c - s == 1 && s[0] == '*') a->host = NULL;
	else if (s[0] == '[') a->host = xstrndup(s + 1, (size_t)(c - s - 2));
	else a->host = xstrndup(s, (size_t)(c - s));
}
struct config *config_defaults(void) {
	struct config *c = xcalloc(1, sizeof(*c));
	char h[256]; gethostname(h, sizeof h);
	c->hostname = xstrdup(h); c->user = xstrdup(MAILD_USER); c->group = xstrdup("");
	c->chroot = xstrdup(""); c->spool_dir = xstrdup(MAILD_SPOOL_DIR); c->queue_dir = xstrdup(MAILD_QUEUE_DIR);
	c->state_dir = xstrdup(MAILD_STATE_DIR); c->pid_file = xstrdup("/run/maild.pid"); c->syslog_facility = LOG_MAIL;
	c->aliases = xstrdup(""); c->mail_group = xstrdup("mail"); c->dotlock = true; c->pam_service = xstrdup("maild");
	c->auth_fail_delay = 2; c->shutdown_grace = 30;
	c->smtp.banner = xstrdup("ESMTP maild"); c->smtp.message_size_limit = 10485760; c->smtp.max_recipients = 100;
	c->smtp.max_errors = 10; c->smtp.max_connections_per_ip = 10; c->smtp.max_line_length = 1000;
	c->smtp.helo_required = true; c->smtp.timeout_command = 300; c->smtp.timeout_data = 180;
	c->smtp.pool = (struct config_pool){2, 8, 64, 100}; c->pop3.pool = (struct config_pool){2, 8, 64, 100};
	c->pop3.timeout = 600; c->pop3.max_errors = 10;
	c->tls.certificate = xstrdup(""); c->tls.key = xstrdup("");
	c->queue.retry_min = 300; c->queue.retry_max = 3600; c->queue.max_lifetime = 5*86400; c->queue.locked_retry = 1;
	return c;
}
static void getstr(config_t *cf, const char *k, char **dst) { const char *s; if (config_lookup_string(cf, k, &s)) { free(*dst); *dst = xstrdup(s); } }
static void getint(config_t *cf, const char *k, int *dst) { int v; if (config_lookup_int(cf, k, &v)) *dst = v; }
static void getlist(config_t *cf, const char *k, struct listen_list *l) {
	config_setting_t *s = config_lookup(cf, k); if (!s) return;
	l->n = 0; for (int i = 0; i < config_setting_length(s); i++) setlisten(l, config_setting_get_string_elem(s, i)); }
struct config *config_load(const char *path, struct config_errors *errs) {
	config_t cf; config_init(&cf);
	if (!config_read_file(&cf, path)) {
		errs->v = xreallocarray(errs->v, errs->n + 1, sizeof(*errs->v));
		errs->v[errs->n].file = xstrdup(config_error_file(&cf) ? config_error_file(&cf) : path);
		errs->v[errs->n].line = config_error_line(&cf);
		errs->v[errs->n].reason = xstrdup(config_error_text(&cf)); errs->n++;
		config_destroy(&cf); return NULL;
	}
	struct config *c = config_defaults(); c->path = xstrdup(path);
	setlisten(&c->smtp.listen, "*:25"); setlisten(&c->pop3.listen, "*:110");
	getstr(&cf, "hostname", &c->hostname); getstr(&cf, "user", &c->user); getstr(&cf, "group", &c->group);
	getstr(&cf, "chroot", &c->chroot); getstr(&cf, "spool_dir", &c->spool_dir); getstr(&cf, "queue_dir", &c->queue_dir);
	getstr(&cf, "state_dir", &c->state_dir); getstr(&cf, "pid_file", &c->pid_file); getstr(&cf, "pam_service", &c->pam_service);
	getint(&cf, "auth_fail_delay", &c->auth_fail_delay); getint(&cf, "shutdown_grace", &c->shutdown_grace);
	getlist(&cf, "smtp.listen", &c->smtp.listen); getlist(&cf, "pop3.listen", &c->pop3.listen);
	getint(&cf, "smtp.pool.min_spare", &c->smtp.pool.min_spare); getint(&cf, "smtp.pool.max_spare", &c->smtp.pool.max_spare);
	getint(&cf, "smtp.pool.max_workers", &c->smtp.pool.max_workers); getint(&cf, "smtp.pool.max_sessions_per_worker", &c->smtp.pool.max_sessions_per_worker);
	getint(&cf, "pop3.pool.min_spare", &c->pop3.pool.min_spare); getint(&cf, "pop3.pool.max_spare", &c->pop3.pool.max_spare);
	getint(&cf, "pop3.pool.max_workers", &c->pop3.pool.max_workers);
	getint(&cf, "smtp.max_connections_per_ip", &c->smtp.max_connections_per_ip);
	getstr(&cf, "smtp.banner", &c->smtp.banner);
	config_destroy(&cf); return c;
}
void config_free(struct config **c) { free(*c); *c = NULL; }
void config_errors_free(struct config_errors *e) { free(e->v); e->v = NULL; e->n = 0; }
void config_errors_print(FILE *fp, const struct config_errors *e) { for (size_t i = 0; i < e->n; i++) fprintf(fp, "%s:%d: %s\n", e->v[i].file, e->v[i].line, e->v[i].reason); }
void config_print(FILE *fp, const struct config *c, bool all) { (void)all; fprintf(fp, "hostname = \"%s\";\n", c->hostname); }
bool config_is_local_domain(const struct config *c, const char *d) { for (size_t i = 0; i < c->local_domains.n; i++) if (!strcasecmp(c->local_domains.v[i], d)) return true; return false; }
