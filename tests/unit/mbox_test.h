/*
 * Helpers shared by the mbox unit tests: a scratch directory per test,
 * files from strings, a message read back through mbox_reader, and a
 * way to ask Python's mailbox module for its view of a file.
 */
#ifndef MAILD_MBOX_TEST_H
#define MAILD_MBOX_TEST_H

#include <stdbool.h>
#include <stddef.h>

#include "mbox_table.h"

/* The scratch directory of the running test (mt_setup/mt_teardown). */
extern char	mt_dir[];

/* Check fixtures: make and remove mt_dir. */
void	 mt_setup(void);
void	 mt_teardown(void);

/* mt_dir + "/" + name, in a static buffer (one at a time). */
const char *mt_path(const char *name);
/* Creates (or replaces) mt_dir/name with data; returns an O_RDWR fd. */
int	 mt_file(const char *name, const void *data, size_t len);
/* An anonymous file (memfd) holding data; O_RDWR. */
int	 mt_memfd(const void *data, size_t len);
/* The whole content of fd (malloc'ed); length in *len_out. */
char	*mt_slurp(int fd, size_t *len_out);
/* Message m of fd through mbox_reader (top < 0: all), malloc'ed. */
char	*mt_read_msg(int fd, const struct mbox_msg *m, long top,
	    size_t *len_out);
/* Writes len bytes to fd at its end, or fails the test. */
void	 mt_append_raw(int fd, const void *data, size_t len);

/*
 * Runs tests/fault/mbox_fault_helper with the arguments (NULL-ended)
 * and MAILD_FAULT=fault (NULL: unset). Returns its stdout (malloc'ed),
 * its wait status in *status_out; NULL when the helper is not built or
 * fault injection is compiled out (the caller skips).
 */
char	*mt_fault_helper(const char *fault, int *status_out, ...);

/*
 * Runs python3 -c script with args; returns its stdout (malloc'ed,
 * NUL-terminated), or NULL when there is no python3 (the caller skips).
 * Fails the test if python exits non-zero.
 */
char	*mt_python(const char *script, const char *arg1, const char *arg2);

/*
 * Python's mailbox.mbox view of path: one line per message, "START STOP
 * HEX" where HEX is the message bytes (From_ line excluded) in hex.
 * NULL when there is no python3.
 */
char	*mt_python_mbox(const char *path);

#endif
