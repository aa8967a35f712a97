/*
 * The scratch mail system of the fuzz targets (see scratch.h).
 */
#include "autoconf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "queue/queue_file.h"
#include "scratch.h"

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

void
scratch_init(struct scratch *s, const char *name)
{
	char	err[256];

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
#undef SET
	s->cfg->auth_fail_delay = 0;
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

int
scratch_check_queue(const struct scratch *s)
{
	char		 dir[256], path[512];
	struct queue_env env;
	struct reason	 r;
	struct dirent	*e;
	DIR		*d;
	int		 fd, n = 0;

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
		n++;
	}
	closedir(d);
	(void)scratch_sweep(dir, false);
	return n;
}
