/*
 * Short random identifiers for log lines ("sid=") and messages.
 */
#ifndef MAILD_SESSION_ID_H
#define MAILD_SESSION_ID_H

#include <stddef.h>

#include "bounds.h"

/* Fills buf (at least SESSION_ID_MAX + 1 bytes) with a fresh id. */
void	session_id_new(char *buf);

#endif
