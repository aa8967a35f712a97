/*
 * queue_dir/maildrop: where sendmail leaves mail while maild is not
 * running, and the strict reader the queue runner's pickup uses
 * (queue/pickup.c). The directory is mode 1733, as Postfix's maildrop
 * without a setgid postdrop: anyone may create a file there, nobody but
 * root may list it, and the sticky bit keeps each user's files their
 * own. The kernel sets the file's owner, and the pickup submits the
 * file as that user, never as whoever the contents claim.
 *
 * A file, written by sendmail as the caller:
 *	MAILDROP 1
 *	F sender		(empty: the caller's own address)
 *	T recipient		(one or more)
 *	<empty line>
 *	the message, LF line ends
 * Made 0600 and fsync'ed; the owner's execute bit, set last (and synced
 * again), says it is complete. The directory entry cannot be fsync'ed
 * by the caller, who may not open the directory for reading.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sysexits.h>
#include <unistd.h>

#include "sendmail.h"

#define MAGIC		"MAILDROP 1\n"
/* Most recipients a maildrop file may name (the queue takes no more). */
#define SM_RCPTS_MAX	10000

int
sm_maildrop_write(const char *queue_dir, const struct sm_submit *s,
    const struct sm_message *m)
{
	char		 path[4096], line[ADDR_TEXT_MAX + 4];
	unsigned char	 rnd[8];
	size_t		 i;
	int		 fd, n;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		sm_warn("getrandom: %s", strerror(errno));
		return EX_OSERR;
	}
	n = snprintf(path, sizeof(path), "%s/maildrop/", queue_dir);
	for (i = 0; i < sizeof(rnd) && n > 0 && (size_t)n + 3 <
	    sizeof(path); i++)
		n += snprintf(path + n, sizeof(path) - (size_t)n, "%02x",
		    rnd[i]);
	if (n < 0 || (size_t)n >= sizeof(path) - 3) {
		sm_warn("queue_dir %s: path too long", queue_dir);
		return EX_CONFIG;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		sm_warn("cannot leave the mail in %s/maildrop either: %s",
		    queue_dir, strerror(errno));
		return EX_TEMPFAIL;
	}
	if (sm_write_all(fd, MAGIC, strlen(MAGIC)) == -1)
		goto fail;
	n = snprintf(line, sizeof(line), "F %s\n", s->sender != NULL ?
	    s->sender : "");
	if (n < 0 || (size_t)n >= sizeof(line) || sm_write_all(fd, line,
	    (size_t)n) == -1)
		goto fail;
	for (i = 0; i < s->nrcpts; i++) {
		n = snprintf(line, sizeof(line), "T %s\n", s->rcpts[i]);
		if (n < 0 || (size_t)n >= sizeof(line) || sm_write_all(fd, line,
		    (size_t)n) == -1)
			goto fail;
	}
	if (sm_write_all(fd, "\n", 1) == -1 || sm_write_all(fd, m->text,
	    m->len) == -1 || fsync(fd) == -1 || fchmod(fd, 0700) == -1 ||
	    fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	return EX_OK;
fail:
	sm_warn("writing %s: %s", path, strerror(errno));
	if (fd != -1)
		close(fd);
	(void)unlink(path);
	return EX_TEMPFAIL;
}

/* One "K value\n" line at *p; its value (NUL-terminated in place). */
static char *
field(char **p, char *end, char key)
{
	char	*nl, *v;

	if (end - *p < 3 || (*p)[0] != key || (*p)[1] != ' ')
		return NULL;
	if ((nl = memchr(*p, '\n', (size_t)(end - *p))) == NULL)
		return NULL;
	*nl = '\0';
	v = *p + 2;
	*p = nl + 1;
	if (strlen(v) != (size_t)(nl - v) || strlen(v) > ADDR_TEXT_MAX)
		return NULL;	/* a NUL inside, or too long */
	return v;
}

int
sm_maildrop_parse(char *buf, size_t len, struct sm_submit *s,
    struct sm_message *m)
{
	char	*p = buf, *end = buf + len, *v;

	if (len < strlen(MAGIC) || memcmp(buf, MAGIC, strlen(MAGIC)) != 0)
		return -1;
	p += strlen(MAGIC);
	if ((v = field(&p, end, 'F')) == NULL)
		return -1;
	s->sender = *v != '\0' ? v : NULL;
	if (s->sender != NULL && strpbrk(s->sender, " \t<>") != NULL)
		return -1;
	while (p < end && *p == 'T') {
		if (s->nrcpts >= SM_RCPTS_MAX || (v = field(&p, end, 'T')) ==
		    NULL || sm_rcpt_add(s, v) == -1)
			return -1;
	}
	if (s->nrcpts == 0 || p >= end || *p != '\n')
		return -1;
	p++;
	if (memchr(p, '\0', (size_t)(end - p)) != NULL)
		return -1;
	m->text = p;
	m->len = (size_t)(end - p);
	return 0;
}
