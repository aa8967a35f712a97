/*
 * The scratch mail system of the fuzz targets (see scratch.h).
 */
#include "autoconf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "aliases.h"
#include "config.h"
#include "log.h"
#include "pool_worker.h"
#include "queue/queue_file.h"
#include "scratch.h"

/* inetd mode is not used here (p.inetd is false): never called */
void
priv_inetd_queued(struct priv *p, const char *qid)
{
	(void)p;
	(void)qid;
	abort();
}

static char	scratch_top[64];

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) == -1 && errno != ENOENT ? -1 : 0;
}

static void
cleanup(void)
{
	if (scratch_top[0] != '\0')
		(void)nftw(scratch_top, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *
sub(const struct scratch *s, char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", s->top, name);
	return buf;
}

/* SCRATCH_ALIASES with USER replaced, written to path and loaded. */
static struct aliases *
make_aliases(const char *path)
{
	struct config_errors	 errs = { NULL, 0 };
	struct aliases		*al;
	struct passwd		*pw;
	const char		*p, *q;
	FILE			*f;

	CHECK((pw = getpwuid(getuid())) != NULL);
	CHECK((f = fopen(path, "w")) != NULL);
	for (p = SCRATCH_ALIASES; (q = strstr(p, "USER")) != NULL; p = q + 4)
		fprintf(f, "%.*s%s", (int)(q - p), p, pw->pw_name);
	fputs(p, f);
	CHECK(fclose(f) == 0);
	al = aliases_load(path, &errs);
	if (errs.n > 0)
		config_errors_print(stderr, &errs);
	CHECK(al != NULL && errs.n == 0);
	CHECK(aliases_count(al) == 11);
	config_errors_free(&errs);
	return al;
}

void
scratch_init(struct scratch *s, const char *name)
{
	char	err[256], apath[128];

	memset(s, 0, sizeof(*s));
	snprintf(s->top, sizeof(s->top), "%s/maild-%s-XXXXXX",
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", name);
	CHECK(mkdtemp(s->top) != NULL);
	memcpy(scratch_top, s->top, sizeof(scratch_top));
	atexit(cleanup);
	CHECK(mkdir(sub(s, s->spool, sizeof(s->spool), "spool"), 0755) == 0);
	CHECK(mkdir(sub(s, s->state, sizeof(s->state), "state"), 0700) == 0);
	sub(s, s->queue, sizeof(s->queue), "queue");
	CHECK(queue_dirs_init(s->queue, err, sizeof(err)) == 0);

	log_init(name, 0, getenv("FUZZ_LOG") != NULL);
	/* FUZZ_LOG=2: every command too */
	log_setverbose(getenv("FUZZ_LOG") != NULL && atoi(getenv("FUZZ_LOG")) > 1);
	CHECK((s->cfg = config_defaults()) != NULL);
#define SET(field, v)	do { free(s->cfg->field); \
			    CHECK((s->cfg->field = strdup(v)) != NULL); } while (0)
	SET(spool_dir, s->spool);
	SET(state_dir, s->state);
	SET(queue_dir, s->queue);
	SET(mail_group, "");
	SET(aliases, sub(s, apath, sizeof(apath), "aliases"));
#undef SET
	s->aliases = make_aliases(s->cfg->aliases);
	s->cfg->auth_fail_delay = 0;
	signal(SIGPIPE, SIG_IGN);
}

int
scratch_sweep(const char *dir, bool report)
{
	char		 path[512];
	struct dirent	*e;
	DIR		*d;
	int		 n = 0;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' && (e->d_name[1] == '\0' ||
		    (e->d_name[1] == '.' && e->d_name[2] == '\0')))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (report)
			fprintf(stderr, "left behind: %s\n", path);
		if (unlink(path) == 0)
			n++;
	}
	closedir(d);
	return n;
}

void
scratch_check_queue(const struct scratch *s)
{
	char		 dir[256], path[512];
	struct queue_env env;
	struct reason	 r;
	struct dirent	*e;
	DIR		*d;
	int		 fd;

	snprintf(dir, sizeof(dir), "%s/%s", s->queue, QUEUE_DIR_INCOMING);
	CHECK(scratch_sweep(dir, true) == 0);
	snprintf(dir, sizeof(dir), "%s/%s", s->queue, QUEUE_DIR_ACTIVE);
	CHECK((d = opendir(dir)) != NULL);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		CHECK((fd = open(path, O_RDONLY)) != -1);
		if (queue_env_read(fd, &env, &r) == -1) {
			fprintf(stderr, "%s: %s\n", path, r.text);
			CHECK(!"a queued message reads back");
		}
		CHECK(strcmp(env.id, e->d_name) == 0);
		queue_env_free(&env);
		close(fd);
	}
	closedir(d);
	(void)scratch_sweep(dir, false);
}

void
scratch_apop(struct scratch *s)
{
	struct passwd	*pw;
	char		 path[192];
	FILE		*f;

	CHECK((pw = getpwuid(getuid())) != NULL);
	snprintf(s->user, sizeof(s->user), "%s", pw->pw_name);
	snprintf(path, sizeof(path), "%s/apop", s->top);
	CHECK((f = fopen(path, "w")) != NULL);
	fprintf(f, "%s:%s\n", s->user, SCRATCH_SECRET);
	CHECK(fclose(f) == 0);
	CHECK(chmod(path, 0600) == 0);
	free(s->cfg->pop3.apop_secrets);
	CHECK((s->cfg->pop3.apop_secrets = strdup(path)) != NULL);
}

void
scratch_apop_digest(const char *stamp, size_t len, char hex[33])
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen, i;
	char		 buf[1024];

	snprintf(buf, sizeof(buf), "%.*s%s", (int)len, stamp, SCRATCH_SECRET);
	CHECK(EVP_Digest(buf, strlen(buf), md, &mdlen, EVP_md5(), NULL));
	CHECK(mdlen == 16);
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void *
monitor(void *arg)
{
	struct priv	*p = arg;

	priv_serve(p);
	close(p->sock);
	return NULL;
}

int
scratch_monitor_start(struct scratch_monitor *m, const struct scratch *s,
    enum priv_proto proto)
{
	int	sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	memset(m, 0, sizeof(*m));
	m->p.cfg = s->cfg;
	m->p.aliases = s->aliases;
	m->p.proto = proto;
	m->p.sock = sv[1];
	m->p.notify_fd = -1;
	if (s->nlisteners > 0)
		CHECK(priv_set_listeners(&m->p, s->listeners, s->nlisteners) ==
		    0);
	else
		m->p.fixed_role = s->role != 0 ? s->role :
		    proto == PRIV_PROTO_SMTP ? ROLE_SMTP : ROLE_POP3;
	CHECK(pthread_create(&m->t, NULL, monitor, &m->p) == 0);
	return sv[0];
}

void
scratch_monitor_join(struct scratch_monitor *m)
{
	CHECK(pthread_join(m->t, NULL) == 0);
	free(m->p.listeners);
	m->p.listeners = NULL;
}

void
scratch_send_all(int fd, const void *data, size_t len)
{
	size_t	off = 0;
	ssize_t	n;

	while (off < len) {
		n = send(fd, (const char *)data + off, len - off, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			break;		/* the server closed: fine */
		off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
}

bool
scratch_getline(int fd, char *buf, size_t n)
{
	size_t	i = 0;
	char	c;

	while (i + 1 < n) {
		if (recv(fd, &c, 1, 0) != 1)
			return false;
		buf[i++] = c;
		if (i >= 2 && buf[i - 2] == '\r' && buf[i - 1] == '\n') {
			buf[i - 2] = '\0';
			return true;
		}
	}
	return false;
}

size_t
scratch_read_lines(int fd, void (*line)(const char *, size_t, void *),
    void *arg)
{
	const size_t	 size = 1 << 17;
	char		*buf = malloc(size);
	size_t		 have = 0, i, start;
	ssize_t		 n;

	CHECK(buf != NULL);
	for (;;) {
		n = recv(fd, buf + have, size - have, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		start = 0;
		for (i = 0; i + 1 < have; i++) {
			if (buf[i] != '\r' || buf[i + 1] != '\n')
				continue;
			line(buf + start, i - start, arg);
			start = i + 2;
			i++;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
		if (have >= size - 1)
			have = 0;	/* a line too long to check: skip it */
	}
	free(buf);
	return have;
}
