/*
 * maild: the master process. Placeholder until the master lands.
 */
#include "config.h"

#include <stdio.h>

int
main(void)
{
	puts(PACKAGE_STRING);
	return 0;
}
