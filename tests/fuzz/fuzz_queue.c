/*
 * libFuzzer target for the queue file reader (queue/queue_file.c): the
 * runner parses every file it finds in the queue, also the ones a crash
 * or a bad disk left torn. Input: a queue file. It must be refused or
 * read into a sane envelope; a read one must survive the runner's
 * in-place updates (every recipient marked, the attempt counter bumped)
 * and read back the same apart from those, with the message untouched.
 */
#define _GNU_SOURCE
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "queue/queue_file.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(e)	do { if (!(e)) { fprintf(stderr, "%s:%d: %s\n", \
			    __FILE__, __LINE__, #e); abort(); } } while (0)

static int
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_env	 env, again;
	struct reason		 r;
	char			*back;
	size_t			 i;
	int			 fd;

	if ((fd = memfd_create("fuzz_queue", MFD_CLOEXEC)) == -1)
		abort();
	CHECK(write(fd, data, size) == (ssize_t)size);
	if (queue_env_read(fd, &env, &r) == -1) {
		CHECK(r.status[0] == '4');
		close(fd);
		return 0;
	}
	CHECK(queue_id_valid(env.id));
	CHECK(env.sender != NULL && env.client != NULL && env.helo != NULL);
	CHECK(env.nrcpts > 0);
	CHECK(env.body_off > 0 && (size_t)env.body_off <= size);
	CHECK((size_t)(env.body_off + env.body_len) == size);
	CHECK(env.attempts_off > 0 && env.attempts_off < env.body_off);
	CHECK(env.warned_off >= 0 && env.warned_off < env.body_off);
	CHECK(env.envid == NULL || strlen(env.envid) <= QUEUE_ENVID_MAX);
	for (i = 0; i < env.nrcpts; i++) {
		CHECK(strchr("-TDBX", env.rcpts[i].status) != NULL);
		CHECK(env.rcpts[i].user != NULL && env.rcpts[i].addr != NULL);
		CHECK(env.rcpts[i].line_off >= 0 &&
		    env.rcpts[i].line_off < env.body_off);
		CHECK(env.rcpts[i].mbox_off >= 0);
		CHECK(data[env.rcpts[i].line_off] == 'R');
	}

	/* the runner's updates, in place */
	for (i = 0; i < env.nrcpts; i++)
		CHECK(queue_rcpt_mark(fd, &env, i, i % 2 ? QRCPT_DONE :
		    QRCPT_TRYING, (off_t)(i * 1000003 % 99999999999LL),
		    false) == 0);
	CHECK(queue_attempts_mark(fd, &env, 4242) == 0);
	/* V 2 files have a W line to rewrite, V 1 files none */
	CHECK((queue_warned_mark(fd, &env, 1764100000) == 0) ==
	    (env.warned_off > 0));
	CHECK(queue_env_read(fd, &again, &r) == 0);
	CHECK(strcmp(env.id, again.id) == 0);
	CHECK(env.arrival == again.arrival);
	CHECK(again.attempts == 4242);
	CHECK(same_str(env.sender, again.sender));
	CHECK(same_str(env.auth_user, again.auth_user));
	CHECK(same_str(env.client, again.client));
	CHECK(same_str(env.helo, again.helo));
	CHECK(env.nrcpts == again.nrcpts);
	CHECK(env.flags == again.flags);
	CHECK(same_str(env.envid, again.envid));
	CHECK(env.warned_off == again.warned_off);
	CHECK(env.warned_off == 0 || again.warned == 1764100000);
	CHECK(env.body_off == again.body_off && env.body_len == again.body_len);
	for (i = 0; i < env.nrcpts; i++) {
		CHECK(again.rcpts[i].status == (i % 2 ? QRCPT_DONE :
		    QRCPT_TRYING));
		CHECK(again.rcpts[i].mbox_off ==
		    (off_t)(i * 1000003 % 99999999999LL));
		CHECK(same_str(env.rcpts[i].user, again.rcpts[i].user));
		CHECK(same_str(env.rcpts[i].addr, again.rcpts[i].addr));
		CHECK(env.rcpts[i].notify == again.rcpts[i].notify);
		CHECK(same_str(env.rcpts[i].orcpt, again.rcpts[i].orcpt));
	}
	/* the first recipient is TRYING: not done */
	CHECK(!queue_env_done(&again));
	/* the message itself is untouched */
	back = malloc(env.body_len + 1);
	CHECK(back != NULL);
	CHECK(pread(fd, back, (size_t)env.body_len, env.body_off) ==
	    (ssize_t)env.body_len);
	CHECK(memcmp(back, data + env.body_off, (size_t)env.body_len) == 0);
	free(back);
	queue_env_free(&again);
	queue_env_free(&env);
	close(fd);
	return 0;
}
