/*
 * Allocation that cannot return NULL: on failure the process logs and
 * exits (a worker then loses only its own session; the master replaces
 * it). Use the plain allocators where running out of memory must be
 * answered rather than fatal.
 */
#ifndef MAILD_XMALLOC_H
#define MAILD_XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
/* Returns a newly allocated formatted string. */
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Frees *pp and sets it to NULL; a no-op when *pp is NULL. */
void	 xfree(void *pp);
/* Wipes n bytes of p (not optimised away) and frees it; NULL is fine. */
void	 xfree_secret(void *p, size_t n);

#endif
