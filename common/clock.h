/*
 * Milliseconds on the monotonic clock, for deadlines and timeouts (never
 * for dates: it starts at an arbitrary point and does not jump with the
 * wall clock).
 */
#ifndef MAILD_CLOCK_H
#define MAILD_CLOCK_H

#include <time.h>

static inline long long
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
