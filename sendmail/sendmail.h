/*
 * The sendmail command (sendmail/): what its parts share. Runs as the
 * calling user; nothing here is privileged.
 */
#ifndef MAILD_SENDMAIL_H
#define MAILD_SENDMAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "bounds.h"

/* The most a message read from stdin may be: the queue takes no more. */
#define SM_MESSAGE_MAX	(1024LL * 1024 * 1024)

struct sm_settings {
	char	socket[108];		/* sun_path */
	char	hostname[SMTP_DOMAIN_MAX + 1];
	char	queue_dir[4096];
	char	pid_file[4096];		/* newaliases: whom to SIGHUP */
};

struct sm_submit {
	const char	*sender;	/* -f/-r, or NULL: the caller's own */
	const char	*fullname;	/* -F, or NULL */
	const char	*sender_domain;	/* hostname: USER@this */
	char		 user[USER_NAME_MAX + 1];
	bool		 extract;	/* -t */
	bool		 dot_is_data;	/* -i, -oi */
	bool		 verbose;	/* -v */
	char		**rcpts;
	size_t		 nrcpts;
};

/* The message as it will be sent: LF line ends, Bcc: gone. */
struct sm_message {
	char	*text;
	size_t	 len;
};

void	sm_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Adds a recipient (copied). -1 if it cannot be one (empty, a space...). */
int	sm_rcpt_add(struct sm_submit *, const char *addr);
/*
 * Reads the message from fp: up to EOF, or a lone "." line unless
 * dot_is_data. With extract, adds the To:, Cc: and Bcc: recipients and
 * drops Bcc:. With a full name and no From:, adds one. -1 after a
 * message on stderr.
 */
int	sm_message_read(FILE *fp, struct sm_submit *, struct sm_message *);
/*
 * Hands the message to maild; returns the exit status (sysexits.h).
 * *queued (may be NULL) says whether maild took the message, for at
 * least one recipient. SM_UNREACHABLE: maild could not be reached (not
 * running), and nothing was said.
 */
#define SM_UNREACHABLE	(-1)
int	sm_submit(const struct sm_settings *, const struct sm_submit *,
	    const struct sm_message *, bool *queued);
/*
 * Leaves the message in queue_dir/maildrop (sm_maildrop.c), for when
 * maild is not running. Returns the exit status.
 */
/* Writes all n bytes, retrying short writes and EINTR; 0 or -1. */
int	sm_write_all(int fd, const char *p, size_t n);
int	sm_maildrop_write(const char *queue_dir, const struct sm_submit *,
	    const struct sm_message *);
/*
 * Parses a maildrop file read into buf (len octets; changed in place):
 * fills the sender and recipients of s and points m into buf. -1 when it
 * is not exactly the format sm_maildrop_write() writes.
 */
int	sm_maildrop_parse(char *buf, size_t len, struct sm_submit *,
	    struct sm_message *);
/* -bs: relays an SMTP session on stdin/stdout to maild. Exit status. */
int	sm_relay_smtp(const struct sm_settings *);

#endif
