/*
 * The shared client-address table (see client_table.h). A fixed array
 * with linear probing. Standalone, it is a shared anonymous mapping
 * guarded by one process-shared robust mutex: a monitor that dies holding
 * it does not wedge the others. Under inetd it is the file
 * STATE_DIR/clients, mapped by every session's root process and guarded
 * by flock(2), which the kernel lets go when a holder dies and which
 * leaves no state in the file. Entries are recycled when they count no
 * connection and their failures are older than the penalty window.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client_table.h"
#include "log.h"

#define CT_SIZE		4096		/* addresses tracked at once */
#define CT_PROBE	64		/* probe length before giving up */
#define CT_WINDOW	(15 * 60)	/* failures forgotten after this */
#define CT_PENALTY_MAX	30		/* seconds */

struct ct_entry {
	unsigned char	addr[16];	/* IPv4 as v4-mapped IPv6 */
	uint32_t	conns;
	uint32_t	fails;
	time_t		last_fail;
};

#define CT_MAGIC	0x6d646374u	/* "mdct" */
#define CT_VERSION	1

struct ct {
	uint32_t	magic;		/* the file's: checked at each open */
	uint32_t	version;
	uint32_t	size;		/* sizeof(struct ct) */
	pthread_mutex_t	lock;		/* standalone only */
	struct ct_entry	e[CT_SIZE];
};

static struct ct	*ct;
static int		 ct_fd = -1;	/* inetd: the file, for flock */

void
client_table_init(void)
{
	pthread_mutexattr_t	a;

	ct = mmap(NULL, sizeof(*ct), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ct == MAP_FAILED)
		fatal("mmap client table");
	memset(ct, 0, sizeof(*ct));
	if (pthread_mutexattr_init(&a) != 0 ||
	    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) != 0 ||
	    pthread_mutex_init(&ct->lock, &a) != 0)
		fatalx("client table mutex");
	pthread_mutexattr_destroy(&a);
}

static int
flock_retry(int fd, int op)
{
	int	rc;

	while ((rc = flock(fd, op)) == -1 && errno == EINTR)
		;
	return rc;
}

int
client_table_open(const char *dir)
{
	struct stat	 top, st;
	struct ct	*m;
	int		 dfd, fd = -1;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fstat(dfd, &top) == -1) {
		log_warn("client table: state_dir %s", dir);
		goto fail;
	}
	fd = openat(dfd, "clients", O_RDWR | O_CREAT | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd == -1 || fstat(fd, &st) == -1) {
		log_warn("client table: %s/clients", dir);
		goto fail;
	}
	/* only a file that state_dir's owner made, and nobody else may write */
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    st.st_uid != top.st_uid || (st.st_mode & 077) != 0) {
		log_warnx("client table: %s/clients is not a private regular "
		    "file owned by the owner of %s; not used", dir, dir);
		goto fail;
	}
	if (flock_retry(fd, LOCK_EX) == -1) {
		log_warn("client table: flock %s/clients", dir);
		goto fail;
	}
	if (st.st_size != (off_t)sizeof(*ct) &&
	    (ftruncate(fd, 0) == -1 || ftruncate(fd, sizeof(*ct)) == -1)) {
		log_warn("client table: sizing %s/clients", dir);
		goto fail;
	}
	m = mmap(NULL, sizeof(*ct), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		log_warn("client table: mmap %s/clients", dir);
		goto fail;
	}
	/* new, or left by another version or a torn write: start afresh */
	if (m->magic != CT_MAGIC || m->version != CT_VERSION ||
	    m->size != sizeof(*ct)) {
		memset(m, 0, sizeof(*m));
		m->magic = CT_MAGIC;
		m->version = CT_VERSION;
		m->size = sizeof(*ct);
	}
	(void)flock_retry(fd, LOCK_UN);
	close(dfd);
	ct = m;
	ct_fd = fd;
	return 0;
fail:
	if (fd != -1)
		close(fd);
	if (dfd != -1)
		close(dfd);
	return -1;
}

void
client_table_unmap(void)
{
	if (ct != NULL)
		munmap(ct, sizeof(*ct));
	ct = NULL;
	if (ct_fd != -1)
		close(ct_fd);
	ct_fd = -1;
}

static bool
key(const struct sockaddr *sa, unsigned char out[16])
{
	memset(out, 0, 16);
	if (sa->sa_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_addr, 16);
		return true;
	}
	if (sa->sa_family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr, 4);
		return true;
	}
	return false;
}

static void
lock(void)
{
	if (ct_fd != -1) {
		/* a failure here leaves the counters unguarded, not wrong */
		if (flock_retry(ct_fd, LOCK_EX) == -1)
			log_warn("client table: flock");
		return;
	}
	if (pthread_mutex_lock(&ct->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&ct->lock);
}

static void
unlock(void)
{
	if (ct_fd != -1) {
		(void)flock_retry(ct_fd, LOCK_UN);
		return;
	}
	pthread_mutex_unlock(&ct->lock);
}

static bool
is_free(const struct ct_entry *e, time_t now)
{
	return e->conns == 0 && (e->fails == 0 ||
	    now - e->last_fail > CT_WINDOW);
}

/* Finds (or, with create, makes) the entry for k. Called locked. */
static struct ct_entry *
lookup(const unsigned char k[16], bool create)
{
	struct ct_entry	*e, *freeslot = NULL;
	uint32_t	 h = 2166136261u;
	time_t		 now = time(NULL);
	int		 i;

	for (i = 0; i < 16; i++)
		h = (h ^ k[i]) * 16777619u;
	for (i = 0; i < CT_PROBE; i++) {
		e = &ct->e[(h + (uint32_t)i) % CT_SIZE];
		if (memcmp(e->addr, k, 16) == 0 && !is_free(e, now))
			return e;
		if (freeslot == NULL && is_free(e, now))
			freeslot = e;
	}
	if (!create || freeslot == NULL)
		return NULL;
	memset(freeslot, 0, sizeof(*freeslot));
	memcpy(freeslot->addr, k, 16);
	return freeslot;
}

bool
client_table_connect(const struct sockaddr *sa, int max)
{
	struct ct_entry	*e;
	unsigned char	 k[16];
	bool		 ok = true;

	/* inetd: the super-server limits connections (see maild-smtpd(8)) */
	if (ct == NULL || ct_fd != -1 || !key(sa, k))
		return true;
	lock();
	if ((e = lookup(k, true)) != NULL) {
		if (max > 0 && e->conns >= (uint32_t)max)
			ok = false;
		else
			e->conns++;
	}
	/* a full table counts nothing rather than refusing everyone */
	unlock();
	return ok;
}

void
client_table_disconnect(const struct sockaddr *sa)
{
	struct ct_entry	*e;
	unsigned char	 k[16];

	if (ct == NULL || ct_fd != -1 || !key(sa, k))
		return;
	lock();
	if ((e = lookup(k, false)) != NULL && e->conns > 0)
		e->conns--;
	unlock();
}

int
client_table_penalty(const struct sockaddr *sa)
{
	struct ct_entry	*e;
	unsigned char	 k[16];
	int		 p = 0;

	if (ct == NULL || !key(sa, k))
		return 0;
	lock();
	/* 0 for the first failures, then doubling: 1, 2, 4, ... seconds */
	if ((e = lookup(k, false)) != NULL && e->fails > 2) {
		unsigned n = e->fails - 3;

		p = n >= 5 ? CT_PENALTY_MAX : (1 << n);
		if (p > CT_PENALTY_MAX)
			p = CT_PENALTY_MAX;
	}
	unlock();
	return p;
}

void
client_table_auth_failed(const struct sockaddr *sa)
{
	struct ct_entry	*e;
	unsigned char	 k[16];

	if (ct == NULL || !key(sa, k))
		return;
	lock();
	if ((e = lookup(k, true)) != NULL) {
		if (e->fails < 1000)
			e->fails++;
		e->last_fail = time(NULL);
	}
	unlock();
}

void
client_table_auth_ok(const struct sockaddr *sa)
{
	struct ct_entry	*e;
	unsigned char	 k[16];

	if (ct == NULL || !key(sa, k))
		return;
	lock();
	if ((e = lookup(k, false)) != NULL)
		e->fails = 0;
	unlock();
}
