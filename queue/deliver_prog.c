/*
 * Deliveries to programs and files (see deliver_prog.h), in the root
 * deliverers. Nothing here runs a program or writes a file as root:
 *
 * A program runs in a child that takes the target user's ids for good
 * (initgroups, setgid, setuid, then checks that root cannot be regained),
 * with a process group of its own, descriptors 0, 1 and 2 only (the
 * message on a pipe, the output on another) and an environment built
 * from nothing. That child forks once more and the grandchild execs
 * /bin/sh -c COMMAND, as every MTA does for "|command" targets: the
 * shell is the user's own tool, and the command the user's (or the
 * admin's) own text; the message never reaches the command line. The
 * extra fork is for uid_wrapper (the test suite as an ordinary user),
 * which hands faked ids across exec only as they were at the last fork;
 * it costs one process per delivery. The deliverer writes the message,
 * reads at most PROG_OUTPUT_MAX bytes of output (and drains the rest),
 * and kills the whole process group after command_time_limit.
 *
 * Exit statuses are read as sysexits(3) say and as Postfix's local(8)
 * maps them: EX_TEMPFAIL and EX_OSERR try again later, the others
 * bounce with the enhanced status their meaning suggests.
 *
 * A file is appended to with the user's effective ids (privdrop_become),
 * so the kernel checks every directory on the path and the file itself
 * as the user would, never following a final symbolic link.
 */
#include "autoconf.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "clock.h"
#include "deliver_prog.h"
#include "fdutil.h"
#include "log.h"
#include "mbox_append.h"
#include "privdrop.h"
#include "rfc5322.h"
#include "xmalloc.h"

#define PROG_SHELL	"/bin/sh"
#define PROG_PATH	"/usr/local/bin:/usr/bin:/bin"
/* From_ line, Return-Path: and Delivered-To: */
#define PROG_HEAD_MAX	(SMTP_PATH_MAX * 8 + 128)
#define PROG_ENV_MAX	24

struct sysexit {
	int		 code;
	const char	*status;
	const char	*text;
};

static const struct sysexit sysexits[] = {
	{ EX_USAGE,	  "5.3.0", "command line usage error" },
	{ EX_DATAERR,	  "5.6.0", "data format error" },
	{ EX_NOINPUT,	  "5.3.0", "cannot open input" },
	{ EX_NOUSER,	  "5.1.1", "user unknown" },
	{ EX_NOHOST,	  "5.1.2", "host name unknown" },
	{ EX_UNAVAILABLE, "5.3.0", "service unavailable" },
	{ EX_SOFTWARE,	  "5.3.0", "internal software error" },
	{ EX_OSERR,	  "4.3.0", "system resource problem" },
	{ EX_OSFILE,	  "5.3.0", "critical OS file missing" },
	{ EX_CANTCREAT,	  "5.2.0", "cannot create output file" },
	{ EX_IOERR,	  "5.3.0", "input/output error" },
	{ EX_TEMPFAIL,	  "4.3.0", "temporary failure" },
	{ EX_PROTOCOL,	  "5.5.0", "remote error in protocol" },
	{ EX_NOPERM,	  "5.7.0", "permission denied" },
	{ EX_CONFIG,	  "5.3.5", "local configuration error" },
};

/* Whether the cwrap library whose "NAME_enabled" function is sym is on. */
static bool
cwrap_enabled(const char *sym)
{
	bool	(*fn)(void);

	*(void **)&fn = dlsym(RTLD_DEFAULT, sym);
	return fn != NULL && fn();
}

bool
deliver_wrapped(void)
{
	return cwrap_enabled("uid_wrapper_enabled");
}

/*
 * Whether programs must get the cwrap preloads to see the test's users
 * and ids (nss_wrapper's users exist nowhere else). Never in production.
 */
static bool
prog_wrapped(void)
{
	return cwrap_enabled("uid_wrapper_enabled") ||
	    cwrap_enabled("nss_wrapper_enabled");
}

/*
 * The lines a delivery puts before the message: with from_line, an mbox
 * From_ line (the sender's bytes that could end or split it made "_");
 * Return-Path:; Delivered-To: when asked. 0, or -1 (too long).
 */
static int
head_lines(const struct deliver_msg *m, bool from_line, char *buf,
    size_t size)
{
	struct tm	tm;
	char		date[32], sender[SMTP_PATH_MAX + 1];
	size_t		len = 0, i;
	int		n;

	buf[0] = '\0';
	if (from_line) {
		snprintf(sender, sizeof(sender), "%s", m->sender[0] != '\0' ?
		    m->sender : "MAILER-DAEMON");
		for (i = 0; sender[i] != '\0'; i++)
			if ((unsigned char)sender[i] <= 0x20 ||
			    (unsigned char)sender[i] >= 0x7f)
				sender[i] = '_';
		if (gmtime_r(&m->arrival, &tm) == NULL ||
		    strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y",
		    &tm) == 0)
			return -1;
		n = snprintf(buf, size, "From %s %s\n", sender, date);
		if (n < 0 || (size_t)n >= size)
			return -1;
		len = (size_t)n;
	}
	if (rfc5322_return_path(m->sender, buf + len, size - len) == -1)
		return -1;
	len += strlen(buf + len);
	if (m->delivered_to) {
		n = snprintf(buf + len, size - len, "Delivered-To: %s\n",
		    m->rcpt);
		if (n < 0 || (size_t)n >= size - len)
			return -1;
		/* the recipient is a queue file field: no line breaks */
		for (i = len + 14; i < len + (size_t)n - 1; i++)
			if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
				buf[i] = '?';
	}
	return 0;
}

/* --- programs ------------------------------------------------------------ */

static char *
env_var(const char *name, const char *value)
{
	return xasprintf("%s=%s", name, value != NULL ? value : "");
}

/*
 * "LD_PRELOAD=..." without pam_wrapper: a program never needs PAM, and
 * pam_wrapper's start-up, run as the program's user, trips over the
 * suite's directories of other users (and says so on stderr, which is
 * the program's output).
 */
static char *
preload_without_pam(const char *var)
{
	const char	*p = var + 11, *e;
	char		*out;
	size_t		 n = 11, len;

	out = xmalloc(strlen(var) + 1);
	memcpy(out, "LD_PRELOAD=", 11);
	while (*p != '\0') {
		len = strcspn(p, ": ");
		e = p + len;
		if (len > 0 && memmem(p, len, "pam_wrapper", 11) == NULL) {
			if (n > 11)
				out[n++] = ':';
			memcpy(out + n, p, len);
			n += len;
		}
		p = *e != '\0' ? e + 1 : e;
	}
	out[n] = '\0';
	return out;
}

/*
 * The program's environment, built from nothing (in the grandchild).
 * Under the cwrap wrappers (the test suite) their own variables are
 * passed on, so that the program sees the test's users (nss_wrapper) and
 * the ids it was given, but not UID_WRAPPER_ROOT: uid_wrapper hands faked
 * ids on only at fork, so a program the shell execs directly starts
 * afresh, and without that variable as the real (ordinary) user, never
 * as a fake root. Never in production (prog_wrapped()).
 */
static char **
prog_env(const struct deliver_as *who, const struct deliver_msg *m,
    bool wrapped)
{
	extern char	**environ;
	char		**envp, local[SMTP_LOCALPART_MAX + 1];
	const char	 *at, *domain = "";
	size_t		  n = 0, i, k, cap = PROG_ENV_MAX;

	at = strrchr(m->rcpt, '@');
	k = at != NULL ? (size_t)(at - m->rcpt) : strlen(m->rcpt);
	if (k >= sizeof(local))
		k = sizeof(local) - 1;
	for (i = 0; i < k; i++)
		local[i] = (char)((m->rcpt[i] >= 'A' && m->rcpt[i] <= 'Z') ?
		    m->rcpt[i] - 'A' + 'a' : m->rcpt[i]);
	local[k] = '\0';
	if (at != NULL)
		domain = at + 1;
	if (wrapped)
		for (i = 0; environ[i] != NULL; i++)
			cap++;
	envp = xcalloc(cap + 1, sizeof(*envp));
	envp[n++] = env_var("HOME", who->home);
	envp[n++] = env_var("USER", who->name);
	envp[n++] = env_var("LOGNAME", who->name);
	envp[n++] = env_var("SHELL", who->shell);
	envp[n++] = env_var("PATH", PROG_PATH);
	envp[n++] = env_var("SENDER", m->sender);
	envp[n++] = env_var("RECIPIENT", m->rcpt);
	envp[n++] = env_var("EXTENSION", m->extension);
	envp[n++] = env_var("LOCAL", local);
	envp[n++] = env_var("DOMAIN", domain);
	for (i = 0; wrapped && environ[i] != NULL && n < cap; i++) {
		if (strncmp(environ[i], "LD_PRELOAD=", 11) == 0)
			envp[n++] = preload_without_pam(environ[i]);
		else if ((strncmp(environ[i], "UID_WRAPPER", 11) == 0 &&
		    strncmp(environ[i], "UID_WRAPPER_ROOT=", 17) != 0) ||
		    strncmp(environ[i], "NSS_WRAPPER", 11) == 0)
			envp[n++] = xstrdup(environ[i]);
	}
	envp[n] = NULL;
	return envp;
}

static void __attribute__((noreturn))
child_fail(const char *what)
{
	dprintf(2, "maild: %s: %s\n", what, strerror(errno));
	_exit(EX_TEMPFAIL);
}

/*
 * The child: becomes who for good and runs the command in a grandchild,
 * whose exit status (or signal) it passes on as its own.
 */
static void __attribute__((noreturn))
prog_child(const struct deliver_as *who, const char *command,
    const struct deliver_msg *m, int in_r, int out_w, bool wrapped)
{
	struct rlimit	 rl = { 0, 0 };
	sigset_t	 all;
	char		*argv[4], **envp;
	pid_t		 pid;
	int		 st, sig;

	for (sig = 1; sig < NSIG; sig++)
		(void)signal(sig, SIG_DFL);
	sigemptyset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
	(void)setpgid(0, 0);
	if (dup2(in_r, 0) == -1 || dup2(out_w, 1) == -1 ||
	    dup2(out_w, 2) == -1)
		_exit(EX_TEMPFAIL);
	fd_keep_only(NULL, 0);
	if (who->uid == 0)
		_exit(EX_TEMPFAIL);
	if (initgroups(who->name, who->gid) == -1)
		child_fail("initgroups");
	if (setgid(who->gid) == -1 || setuid(who->uid) == -1)
		child_fail("cannot take the user's ids");
	if (getuid() != who->uid || geteuid() != who->uid ||
	    getgid() != who->gid || getegid() != who->gid ||
	    setuid(0) != -1) {
		errno = EPERM;
		child_fail("ids not as expected after setuid");
	}
	if (who->home == NULL || chdir(who->home) == -1)
		if (chdir("/") == -1)
			child_fail("chdir /");
	(void)umask(077);
	if ((pid = fork()) == -1)
		child_fail("fork");
	if (pid == 0) {
		argv[0] = "sh";
		argv[1] = "-c";
		argv[2] = (char *)command;
		argv[3] = NULL;
		envp = prog_env(who, m, wrapped);
		execve(PROG_SHELL, argv, envp);
		child_fail("cannot run " PROG_SHELL);
	}
	(void)close(0);
	(void)close(1);
	(void)close(2);
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			_exit(EX_OSERR);
	if (WIFEXITED(st))
		_exit(WEXITSTATUS(st));
	/* the same signal, without a core of this process */
	(void)setrlimit(RLIMIT_CORE, &rl);
	if (WIFSIGNALED(st))
		(void)raise(WTERMSIG(st));
	_exit(EX_SOFTWARE);
}

/* Output for a log line or a reason: one line, printable, shortened. */
static void
output_text(const char *out, size_t len, char *buf, size_t size)
{
	size_t	i, k = 0;

	while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == ' '))
		len--;
	for (i = 0; i < len && k + 1 < size; i++) {
		unsigned char c = (unsigned char)out[i];

		buf[k++] = c == '\n' ? ' ' : (c < 0x20 || c == 0x7f) ? '?' :
		    (char)c;
	}
	buf[k] = '\0';
}

/*
 * Feeds the message, collects the output, waits for the child. Returns
 * 0 with *status_out, 1 when the time limit was reached, 2 when the
 * message could not be read (then the group is killed and reaped).
 */
static int
prog_talk(pid_t pid, int in_w, int out_r, const char *head,
    const struct deliver_msg *m, int limit_s, char *out, size_t *outlen,
    int *status_out)
{
	struct pollfd	 pfd[2];
	char		 buf[8192], drain[4096];
	const char	*wp = head;
	size_t		 wleft = strlen(head);
	off_t		 boff = 0;
	long long	 deadline = mono_ms() + (long long)limit_s * 1000, left;
	ssize_t		 n;
	bool		 timed_out = false, body_err = false;
	pid_t		 w;

	*outlen = 0;
	while (out_r != -1 || in_w != -1) {
		if ((left = deadline - mono_ms()) <= 0) {
			timed_out = true;
			break;
		}
		pfd[0].fd = out_r;
		pfd[0].events = POLLIN;
		pfd[1].fd = in_w;
		pfd[1].events = POLLOUT;
		if (poll(pfd, 2, left > 1000 ? 1000 : (int)left) == -1) {
			if (errno == EINTR)
				continue;
			timed_out = true;	/* cannot watch it: stop it */
			break;
		}
		if (in_w != -1 && pfd[1].revents != 0) {
			if (wleft == 0 && boff < m->len) {
				size_t want = sizeof(buf);

				if ((off_t)want > m->len - boff)
					want = (size_t)(m->len - boff);
				n = fd_pread_full(m->fd, buf, want,
				    m->off + boff);
				if (n <= 0) {
					/* the queue file: try again later */
					log_warn("reading the message for a "
					    "program");
					body_err = true;
					break;
				}
				wp = buf;
				wleft = (size_t)n;
				boff += n;
			}
			n = wleft > 0 ? write(in_w, wp, wleft) : 0;
			if (n > 0) {
				wp += n;
				wleft -= (size_t)n;
			} else if (n == -1 && errno != EAGAIN &&
			    errno != EINTR) {
				/* EPIPE: it read what it wanted */
				wleft = 0;
				boff = m->len;
			}
			if (wleft == 0 && boff >= m->len) {
				(void)close(in_w);
				in_w = -1;
			}
		}
		if (out_r != -1 && pfd[0].revents != 0) {
			bool keep = *outlen < PROG_OUTPUT_MAX;

			n = keep ? read(out_r, out + *outlen, PROG_OUTPUT_MAX -
			    *outlen) : read(out_r, drain, sizeof(drain));
			if (n > 0) {
				if (keep)
					*outlen += (size_t)n;
			} else if (n == 0 || (errno != EAGAIN &&
			    errno != EINTR)) {
				(void)close(out_r);
				out_r = -1;
			}
		}
	}
	if (in_w != -1)
		(void)close(in_w);
	if (out_r != -1)
		(void)close(out_r);
	/* the output is closed: wait for the exit, within the limit */
	while (!timed_out && !body_err) {
		if ((w = waitpid(pid, status_out, WNOHANG)) == pid)
			return 0;
		if (w == -1 && errno != EINTR) {
			*status_out = 0;
			return 0;
		}
		if (mono_ms() >= deadline)
			timed_out = true;
		else
			(void)poll(NULL, 0, 20);
	}
	(void)kill(-pid, SIGKILL);
	(void)kill(pid, SIGKILL);
	while (waitpid(pid, status_out, 0) == -1 && errno == EINTR)
		;
	return body_err ? 2 : 1;
}

enum deliver_result
deliver_prog(const struct config *cfg, const struct deliver_as *who,
    const char *command, const struct deliver_msg *m, struct reason *r)
{
	char	 head[PROG_HEAD_MAX], *out = NULL, text[200];
	size_t	 outlen = 0, i;
	int	 inp[2] = { -1, -1 }, outp[2] = { -1, -1 }, st = 0, saved;
	int	 talk;
	bool	 wrapped = prog_wrapped();
	pid_t	 pid;
	enum deliver_result res;

	if (who->uid == 0) {
		reason_set(r, "5.7.1", "programs are never run as root");
		return DELIVER_BOUNCE;
	}
	if (head_lines(m, true, head, sizeof(head)) == -1) {
		reason_set(r, "5.3.0", "envelope too long for a program");
		return DELIVER_BOUNCE;
	}
	if (pipe2(inp, O_CLOEXEC) == -1 || pipe2(outp, O_CLOEXEC) == -1) {
		saved = errno;
		log_warn("pipe for a program delivery");
		reason_set(r, "4.3.0", "cannot start the program: %s",
		    strerror(saved));
		res = DELIVER_DEFER;
		goto out;
	}
	if ((pid = fork()) == -1) {
		saved = errno;
		log_warn("fork for a program delivery");
		reason_set(r, "4.3.0", "cannot start the program: %s",
		    strerror(saved));
		res = DELIVER_DEFER;
		goto out;
	}
	if (pid == 0) {
		(void)close(inp[1]);
		(void)close(outp[0]);
		prog_child(who, command, m, inp[0], outp[1], wrapped);
	}
	/* the group exists at once for the kill, whoever runs first */
	(void)setpgid(pid, pid);
	(void)close(inp[0]);
	(void)close(outp[1]);
	inp[0] = outp[1] = -1;
	if (fd_set_nonblock(inp[1], 1) == -1 ||
	    fd_set_nonblock(outp[0], 1) == -1)
		log_warn("non-blocking pipes to a program");
	out = xmalloc(PROG_OUTPUT_MAX + 1);
	talk = prog_talk(pid, inp[1], outp[0], head, m,
	    cfg->command_time_limit, out, &outlen, &st);
	inp[1] = outp[0] = -1;
	if (talk == 2) {
		reason_set(r, "4.3.0", "cannot read the queued message");
		res = DELIVER_DEFER;
		goto out;
	}
	if (talk == 1) {
		output_text(out, outlen, text, sizeof(text));
		log_warnx("command of %s killed after %d s: \"%s\" output: %s",
		    who->name, cfg->command_time_limit, command, text);
		reason_set(r, "4.3.0", "command time limit exceeded (%d s)",
		    cfg->command_time_limit);
		res = DELIVER_DEFER;
		goto out;
	}
	output_text(out, outlen, text, sizeof(text));
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		reason_set(r, "2.0.0", "delivered to command");
		res = DELIVER_OK;
		goto out;
	}
	if (WIFSIGNALED(st)) {
		reason_set(r, "5.3.0", "command died with signal %d%s%s",
		    WTERMSIG(st), text[0] ? ": " : "", text);
		res = DELIVER_BOUNCE;
		goto out;
	}
	reason_set(r, "5.3.0", "command exited with status %d (unknown "
	    "mail system error)%s%s", WEXITSTATUS(st), text[0] ? ": " : "",
	    text);
	res = DELIVER_BOUNCE;
	for (i = 0; i < NITEMS(sysexits); i++)
		if (sysexits[i].code == WEXITSTATUS(st)) {
			reason_set(r, sysexits[i].status, "command exited "
			    "with status %d (%s)%s%s", WEXITSTATUS(st),
			    sysexits[i].text, text[0] ? ": " : "", text);
			res = sysexits[i].status[0] == '4' ? DELIVER_DEFER :
			    DELIVER_BOUNCE;
		}
out:
	for (i = 0; i < 2; i++) {
		if (inp[i] != -1)
			(void)close(inp[i]);
		if (outp[i] != -1)
			(void)close(outp[i]);
	}
	free(out);
	return res;
}

/* --- files --------------------------------------------------------------- */

enum deliver_result
deliver_file(const struct config *cfg, const struct deliver_as *who,
    const char *path, const struct deliver_msg *m, struct reason *r)
{
	struct privdrop_saved	ids;
	struct mbox_append_msg	am;
	struct flock		fl;
	struct stat		st;
	char			head[PROG_HEAD_MAX];
	enum deliver_result	res = DELIVER_DEFER;
	int			fd = -1, fl_flags, saved;

	(void)cfg;
	if (who->uid == 0) {
		reason_set(r, "5.7.1", "files are never written as root");
		return DELIVER_BOUNCE;
	}
	if (path[0] != '/') {
		reason_set(r, "5.3.5", "file target is not an absolute path");
		return DELIVER_BOUNCE;
	}
	if (head_lines(m, false, head, sizeof(head)) == -1) {
		reason_set(r, "5.3.0", "envelope too long");
		return DELIVER_BOUNCE;
	}
	if (privdrop_become(who->uid, who->gid, &ids) == -1) {
		log_warn("cannot take the ids of %s to write %s", who->name,
		    path);
		reason_set(r, "4.3.0", "cannot take the user's identity");
		return DELIVER_DEFER;
	}
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC | O_NOCTTY, 0600);
	if (fd == -1) {
		saved = errno;
		log_warnx("file delivery for %s to %s: %s", who->name, path,
		    strerror(saved));
		if (saved == ELOOP || saved == EACCES || saved == EPERM ||
		    saved == EISDIR || saved == ENOTDIR || saved == ENOENT ||
		    saved == EROFS) {
			reason_set(r, "5.2.0", "cannot open file %s: %s",
			    path, saved == ELOOP ? "a symbolic link" :
			    strerror(saved));
			res = DELIVER_BOUNCE;
		} else
			reason_set(r, "4.2.0", "cannot open file %s: %s",
			    path, strerror(saved));
		goto out;
	}
	/* under uid_wrapper every file is the real user's (tests only) */
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_nlink != 1 || (st.st_uid != who->uid &&
	    !deliver_wrapped())) {
		log_warnx("file delivery for %s refused: %s is not a regular "
		    "file with one link owned by %s", who->name, path,
		    who->name);
		reason_set(r, "5.2.0", "file %s is not a regular file owned "
		    "by %s", path, who->name);
		res = DELIVER_BOUNCE;
		goto out;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_SETLK, &fl) == -1) {
		reason_set(r, "4.2.0", "file %s is locked", path);
		goto out;
	}
	if ((fl_flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl_flags & ~O_NONBLOCK) == -1) {
		reason_set(r, "4.2.0", "cannot set up file %s", path);
		goto out;
	}
	memset(&am, 0, sizeof(am));
	am.sender = m->sender;
	am.arrival = m->arrival;
	am.prefix = head;
	am.prefix_len = strlen(head);
	am.body_fd = m->fd;
	am.body_off = m->off;
	am.body_len = m->len;
	if (mbox_append(fd, &am, NULL, r) == -1) {
		log_warnx("file delivery for %s to %s: %s %s", who->name,
		    path, r->status, r->text);
		res = r->status[0] == '5' ? DELIVER_BOUNCE : DELIVER_DEFER;
		goto out;
	}
	reason_set(r, "2.0.0", "delivered to file");
	res = DELIVER_OK;
out:
	if (fd != -1)
		(void)close(fd);
	privdrop_restore(&ids);
	return res;
}
