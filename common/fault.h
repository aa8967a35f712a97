/*
 * Named fault points for the crash-safety tests. A write path calls
 *
 *	if (fault_point("mbox_append.after_write") == -1)
 *		goto fail;
 *
 * at each step. Normally this returns 0. When the environment variable
 * MAILD_FAULT names the point ("name:action[:n]", several separated by
 * commas) the n-th hit (default 1st; 0: every hit) acts:
 *	kill	the process kills itself with SIGKILL (a crash at that instant)
 *	eio	returns -1 with errno EIO
 *	enospc	returns -1 with errno ENOSPC (disk full)
 *	edquot	returns -1 with errno EDQUOT (over the user's disk quota)
 *	exit	_exit(3)
 *	stop	the process stops itself (SIGSTOP) and goes on normally
 *		after SIGCONT: "in the middle of this step" for a test
 *	log	only logs the hit and goes on: a test counts the steps
 * With MAILD_FAULT_ONCE=path set, only the first process to reach a
 * point acts (it creates path): a restarted process then goes on, as
 * after a real crash. Configure with --disable-fault-injection to
 * compile the points out.
 */
#ifndef MAILD_FAULT_H
#define MAILD_FAULT_H

#ifdef MAILD_FAULT_INJECTION
int	fault_point(const char *name);
#else
#define fault_point(name)	0
#endif

#endif
