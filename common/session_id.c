/*
 * Session ids: 12 characters of base32 (about 60 random bits) from the
 * kernel's random source. Short enough to read in a log line, long
 * enough not to collide between the sessions of one day.
 */
#include "autoconf.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "session_id.h"

void
session_id_new(char *buf)
{
	static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	unsigned char	  rnd[SESSION_ID_MAX];
	int		  i;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		/* never seen; fall back to something unique per process */
		unsigned long v = (unsigned long)getpid() * 2654435761u ^
		    (unsigned long)time(NULL);

		for (i = 0; i < SESSION_ID_MAX; i++, v = v * 6364136223846793005ULL + 1)
			rnd[i] = (unsigned char)(v >> 33);
	}
	for (i = 0; i < SESSION_ID_MAX; i++)
		buf[i] = alphabet[rnd[i] & 31];
	buf[SESSION_ID_MAX] = '\0';
}
