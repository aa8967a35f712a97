/*
 * Deliveries to programs ("|command") and files ("/path"), the targets of
 * aliases(5) (as alias_user) and of a user's ~/.forward (as that user).
 * Called as root by queue/forward.c: deliver_file() in the deliverer
 * itself (the queue runner, maild -q or an inetd monitor), deliver_prog()
 * in a program job the deliverer forked; never as root for the program
 * or the file itself: a target whose user is uid 0 is refused.
 */
#ifndef MAILD_DELIVER_PROG_H
#define MAILD_DELIVER_PROG_H

#include <sys/types.h>

#include "config.h"
#include "deliver_local.h"
#include "reason.h"

/* Who a program runs as, or a file is written as. */
struct deliver_as {
	const char	*name;		/* the passwd entry's name */
	uid_t		 uid;
	gid_t		 gid;
	const char	*home;
	const char	*shell;
};

/* What a delivery writes: the message of a queue file. */
struct deliver_msg {
	const char	*sender;	/* envelope sender, "" for <> */
	time_t		 arrival;	/* for the From_ line */
	const char	*rcpt;		/* RECIPIENT, Delivered-To */
	const char	*extension;	/* EXTENSION, "" when none */
	bool		 delivered_to;	/* add Delivered-To: rcpt */
	int		 fd;		/* the queue file */
	off_t		 off;		/* the message (LF ends) */
	off_t		 len;
};

/*
 * Runs command through /bin/sh -c as who (initgroups, setgid, setuid;
 * checked), in its home directory, with a clean environment (HOME, USER,
 * LOGNAME, SHELL, PATH, SENDER, RECIPIENT, EXTENSION, LOCAL, DOMAIN), no
 * descriptors but 0, 1 and 2, and its own process group. Stdin gets the
 * message as a From_ line, Return-Path:, Delivered-To: (when asked) and
 * the message (not >From-quoted: programs such as procmail do their
 * own). Stdout and stderr are read into the reason, up to
 * PROG_OUTPUT_MAX bytes (the rest is read and thrown away). After
 * command_time_limit the process group is killed (SIGKILL).
 * Returns DELIVER_OK (exit 0), DELIVER_DEFER (EX_TEMPFAIL and the other
 * temporary sysexits, the time limit, a failure to start) or
 * DELIVER_BOUNCE (any other exit status, a signal), with r filled.
 */
enum deliver_result deliver_prog(const struct config *cfg,
	    const struct deliver_as *who, const char *command,
	    const struct deliver_msg *m, struct reason *r);

/*
 * Appends the message to the file path in mbox format (mbox_append, with
 * Return-Path: and Delivered-To: as asked) as who: the file is opened
 * and written with who's identity, must not be a symbolic link, must be
 * a regular file with one link owned by who (a missing one is created
 * 0600), and is fcntl-locked (busy: deferred). Returns DELIVER_OK,
 * DELIVER_DEFER or DELIVER_BOUNCE with r.
 */
enum deliver_result deliver_file(const struct config *cfg,
	    const struct deliver_as *who, const char *path,
	    const struct deliver_msg *m, struct reason *r);

/*
 * Whether the process runs under uid_wrapper (the test suite run by an
 * ordinary user): then ids are faked, files belong to the real user
 * whatever the faked one, and programs get the wrapper's environment
 * variables so that they see the faked ids. Always false in production.
 */
bool	deliver_wrapped(void);

#endif
