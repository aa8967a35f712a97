/*
 * The shared client-address table (see client_table.h). A fixed array
 * with linear probing, guarded by one process-shared robust mutex: a
 * monitor that dies holding it does not wedge the others. Entries are
 * recycled when they count no connection and their failures are older
 * than the penalty window.
 */
#include "autoconf.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

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

struct ct {
	pthread_mutex_t	lock;
	struct ct_entry	e[CT_SIZE];
};

static struct ct	*ct;

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

void
client_table_unmap(void)
{
	if (ct != NULL)
		munmap(ct, sizeof(*ct));
	ct = NULL;
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
	if (pthread_mutex_lock(&ct->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&ct->lock);
}

static void
unlock(void)
{
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

	if (ct == NULL || !key(sa, k))
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

	if (ct == NULL || !key(sa, k))
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
