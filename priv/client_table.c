/*
 * The shared client-address table (see client_table.h). A fixed array
 * with linear probing under a keyed hash (a random key per table, so
 * that nobody can aim many addresses at one probe window). Standalone,
 * it is a shared anonymous mapping guarded by one process-shared robust
 * mutex: a monitor that dies holding it does not wedge the others. Under
 * inetd it is the file STATE_DIR/clients, mapped by every session's root
 * process and guarded by flock(2), which the kernel lets go when a holder
 * dies and which leaves no state in the file.
 *
 * Entries are recycled when they count no connection and their failures
 * are older than the penalty window. When a probe window has no such
 * entry, the least recently seen one is taken over (one counting no
 * connection first): a flood of fresh addresses then pushes out old
 * records, never the attacker that is at work now, and the table never
 * stops counting.
 *
 * An IPv6 client is counted per /64: that is what one subscriber gets
 * (RFC 7421, RFC 6177), and it can pick any address in it at will.
 * IPv4 clients, and IPv4 clients seen through a v4-mapped IPv6 socket,
 * are counted per address.
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
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client_table.h"
#include "log.h"

#define CT_SIZE		4096		/* addresses tracked at once */
#define CT_PROBE	64		/* probe length before giving up */
#define CT_WINDOW	(15 * 60)	/* failures forgotten after this */
#define CT_PENALTY_MAX	30		/* seconds */
#define CT_FAILS_MAX	1000		/* a counter that cannot wrap */
#define CT_EVICT_LOG	60		/* seconds between two such log lines */

struct ct_entry {
	unsigned char	addr[16];	/* IPv4 as v4-mapped IPv6; IPv6 /64 */
	uint32_t	conns[CLIENT_TABLE_NPROTO];
	uint32_t	fails;
	time_t		last_fail;
	uint64_t	seen;		/* ct->clock at its last use */
};

#define CT_MAGIC	0x6d646374u	/* "mdct" */
#define CT_VERSION	2		/* 2: /64 keys, LRU, per-protocol */

struct ct {
	uint32_t	magic;		/* the file's: checked at each open */
	uint32_t	version;
	uint32_t	size;		/* sizeof(struct ct) */
	uint64_t	hash_key;	/* random, chosen with the table */
	uint64_t	clock;		/* counts uses: the eviction order */
	pthread_mutex_t	lock;		/* standalone only */
	struct ct_entry	e[CT_SIZE];
};

static struct ct	*ct;
static int		 ct_fd = -1;	/* inetd: the file, for flock */
static time_t		 ct_evict_logged;	/* this process's last */

/* A new table's hash key. */
static uint64_t
new_hash_key(void)
{
	uint64_t	k;

	if (getrandom(&k, sizeof(k), GRND_NONBLOCK) == (ssize_t)sizeof(k))
		return k;
	/* early at boot: guessable, which only makes collisions aimable */
	log_warn("client table: getrandom");
	return (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL ^
	    (uint64_t)getpid();
}

void
client_table_init(void)
{
	pthread_mutexattr_t	a;

	ct = mmap(NULL, sizeof(*ct), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ct == MAP_FAILED)
		fatal("mmap client table");
	memset(ct, 0, sizeof(*ct));
	ct->hash_key = new_hash_key();
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
		m->hash_key = new_hash_key();
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

/* The table's key for sa: the IPv4 address, or the IPv6 /64. */
static bool
key(const struct sockaddr *sa, unsigned char out[16])
{
	const struct in6_addr	*a6;

	memset(out, 0, 16);
	if (sa->sa_family == AF_INET6) {
		a6 = &((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_addr;
		/* a v4-mapped address is an IPv4 client: all of it */
		memcpy(out, a6, IN6_IS_ADDR_V4MAPPED(a6) ? 16 : 8);
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
has_conns(const struct ct_entry *e)
{
	int	i;

	for (i = 0; i < CLIENT_TABLE_NPROTO; i++)
		if (e->conns[i] != 0)
			return true;
	return false;
}

static bool
is_free(const struct ct_entry *e, time_t now)
{
	return !has_conns(e) && (e->fails == 0 ||
	    now - e->last_fail > CT_WINDOW);
}

/* Whether a should go before b: no connection first, then the oldest. */
static bool
evicts_before(const struct ct_entry *a, const struct ct_entry *b)
{
	if (has_conns(a) != has_conns(b))
		return !has_conns(a);
	return a->seen < b->seen;
}

/* splitmix64's finaliser: every input bit moves every output bit. */
static uint64_t
mix(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/*
 * Finds (or, with create, makes) the entry for k, and marks it used.
 * With create it fails only when the table is not there. Called locked.
 */
static struct ct_entry *
lookup(const unsigned char k[16], bool create)
{
	struct ct_entry	*e, *freeslot = NULL, *victim = NULL;
	uint64_t	 w0, w1, h;
	time_t		 now = time(NULL);
	int		 i;

	memcpy(&w0, k, 8);
	memcpy(&w1, k + 8, 8);
	h = mix(mix(ct->hash_key ^ w0) ^ w1);
	for (i = 0; i < CT_PROBE; i++) {
		e = &ct->e[(h + (uint64_t)i) % CT_SIZE];
		if (is_free(e, now)) {
			if (freeslot == NULL)
				freeslot = e;
			continue;
		}
		if (memcmp(e->addr, k, 16) == 0) {
			e->seen = ++ct->clock;
			return e;
		}
		if (victim == NULL || evicts_before(e, victim))
			victim = e;
	}
	if (!create)
		return NULL;
	if (freeslot == NULL) {
		/* a flood of addresses: forget the least recently seen */
		freeslot = victim;
		if (now - ct_evict_logged >= CT_EVICT_LOG) {
			log_info("client table full: forgetting the least "
			    "recently seen addresses");
			ct_evict_logged = now;
		}
	}
	memset(freeslot, 0, sizeof(*freeslot));
	memcpy(freeslot->addr, k, 16);
	freeslot->seen = ++ct->clock;
	return freeslot;
}

bool
client_table_connect(const struct sockaddr *sa,
    enum client_table_proto proto, int max)
{
	struct ct_entry	*e;
	unsigned char	 k[16];
	bool		 ok = true;

	/* inetd: the super-server limits connections (see maild-smtpd(8)) */
	if (ct == NULL || ct_fd != -1 || !key(sa, k) ||
	    (unsigned)proto >= CLIENT_TABLE_NPROTO)
		return true;
	lock();
	if ((e = lookup(k, true)) != NULL) {
		if (max > 0 && e->conns[proto] >= (uint32_t)max)
			ok = false;
		else
			e->conns[proto]++;
	}
	unlock();
	return ok;
}

void
client_table_disconnect(const struct sockaddr *sa,
    enum client_table_proto proto)
{
	struct ct_entry	*e;
	unsigned char	 k[16];

	if (ct == NULL || ct_fd != -1 || !key(sa, k) ||
	    (unsigned)proto >= CLIENT_TABLE_NPROTO)
		return;
	lock();
	/* (an entry taken over while counting: its count started afresh) */
	if ((e = lookup(k, false)) != NULL && e->conns[proto] > 0)
		e->conns[proto]--;
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
		if (e->fails < CT_FAILS_MAX)
			e->fails++;
		e->last_fail = time(NULL);
	}
	unlock();
}

/*
 * A success forgives nothing. Clearing the count here let anyone with
 * one account of their own reset it between guesses (two guesses, one
 * real login, and again), so the penalty never started; OpenSSH's
 * PerSourcePenalties and fail2ban likewise count failures on their own.
 * A legitimate user pays nothing for it: the penalty delays only a
 * failed answer, and failures are forgotten CT_WINDOW after the last.
 */
void
client_table_auth_ok(const struct sockaddr *sa)
{
	unsigned char	 k[16];

	if (ct == NULL || !key(sa, k))
		return;
	lock();
	/* only marks the address as in use, for the eviction order */
	(void)lookup(k, false);
	unlock();
}
