/*
 * libFuzzer target for the configuration loader (common/config*.c over
 * libconfig): the input is a maild.conf. It must be refused with
 * "FILE:LINE: reason" errors, each one line without control characters
 * (values from the file are quoted escaped), or loaded; a loaded one must survive the
 * round trip maild -n makes possible: what config_print() writes loads
 * again, and prints the same.
 *
 * The loader resolves host names in listen addresses; here the resolver
 * knows only numeric addresses and "localhost" (getaddrinfo is wrapped
 * at link time, see run.sh), so that no run waits on DNS.
 */
#define _GNU_SOURCE
#include "autoconf.h"

#include <fcntl.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"

#define CHECK(e)	do { if (!(e)) { fprintf(stderr, "%s:%d: %s\n", \
			    __FILE__, __LINE__, #e); abort(); } } while (0)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	__real_getaddrinfo(const char *, const char *, const struct addrinfo *,
	    struct addrinfo **);
int	__wrap_getaddrinfo(const char *, const char *, const struct addrinfo *,
	    struct addrinfo **);

static char	dir[64], one[128], two[128];

int
__wrap_getaddrinfo(const char *node, const char *service,
    const struct addrinfo *hints, struct addrinfo **res)
{
	struct addrinfo	h;

	if (hints != NULL)
		h = *hints;
	else {
		memset(&h, 0, sizeof(h));
		h.ai_family = AF_UNSPEC;
	}
	if (node != NULL && strcasecmp(node, "localhost") != 0)
		h.ai_flags |= AI_NUMERICHOST;
	return __real_getaddrinfo(node, service, &h, res);
}

static void
cleanup(void)
{
	(void)unlink(one);
	(void)unlink(two);
	(void)rmdir(dir);
}

static void
put(const char *path, const void *data, size_t len)
{
	int	fd;

	CHECK((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) != -1);
	CHECK(write(fd, data, len) == (ssize_t)len);
	close(fd);
}

/* config_print() into a string (the caller frees it). */
static char *
print(const struct config *cfg, size_t *len)
{
	char	*text = NULL;
	FILE	*fp;

	CHECK((fp = open_memstream(&text, len)) != NULL);
	config_print(fp, cfg, false);
	CHECK(fclose(fp) == 0);
	return text;
}

static void
errors_sane(const struct config_errors *errs)
{
	const unsigned char	*p;
	size_t			 i;

	CHECK(errs->n > 0);
	for (i = 0; i < errs->n; i++) {
		CHECK(errs->v[i].file != NULL && errs->v[i].reason != NULL);
		CHECK(errs->v[i].reason[0] != '\0');
		CHECK(errs->v[i].line >= 0);
		/* one error, one line: no control characters */
		for (p = (const unsigned char *)errs->v[i].reason; *p != '\0'; p++)
			CHECK(*p >= 0x20 && *p != 0x7f);
		for (p = (const unsigned char *)errs->v[i].file; *p != '\0';
		    p++)
			CHECK(*p >= 0x20 && *p != 0x7f);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool		 ready;
	struct config_errors	 errs = { NULL, 0 };
	struct config		*cfg, *again;
	char			*t1, *t2;
	size_t			 l1, l2, i;
	FILE			*null;

	if (!ready) {
		snprintf(dir, sizeof(dir), "%s/maild-fuzz-config-XXXXXX",
		    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		CHECK(mkdtemp(dir) != NULL);
		atexit(cleanup);
		snprintf(one, sizeof(one), "%s/one.conf", dir);
		snprintf(two, sizeof(two), "%s/two.conf", dir);
		ready = true;
	}
	put(one, data, size);
	if ((cfg = config_load(one, &errs)) == NULL) {
		errors_sane(&errs);
		CHECK((null = fopen("/dev/null", "w")) != NULL);
		config_errors_print(null, &errs);
		fclose(null);
		config_errors_free(&errs);
		return 0;
	}
	CHECK(errs.n == 0);

	/* maild -n's output is a config file that means the same */
	t1 = print(cfg, &l1);
	put(two, t1, l1);
	if ((again = config_load(two, &errs)) == NULL) {
		fprintf(stderr, "config_print wrote:\n%s\nwhich loads as:\n",
		    t1);
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "%d: %s\n", errs.v[i].line,
			    errs.v[i].reason);
		CHECK(!"the printed configuration loads again");
	}
	t2 = print(again, &l2);
	if (l1 != l2 || memcmp(t1, t2, l1) != 0) {
		fprintf(stderr, "first:\n%s\nsecond:\n%s\n", t1, t2);
		CHECK(!"it prints the same the second time");
	}
	/* and -a, every setting, prints too */
	CHECK((null = fopen("/dev/null", "w")) != NULL);
	config_print(null, again, true);
	fclose(null);
	free(t1);
	free(t2);
	config_free(&again);
	config_free(&cfg);
	return 0;
}
