/*
 * Helpers for the mbox unit tests (mbox_test.h).
 */
#include "autoconf.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "mbox_reader.h"
#include "mbox_test.h"

#ifndef PYTHON3
#define PYTHON3	""
#endif
#ifndef MBOX_FAULT_HELPER
#define MBOX_FAULT_HELPER	""
#endif

char	mt_dir[256];

void
mt_setup(void)
{
	const char	*tmp = getenv("TMPDIR");

	snprintf(mt_dir, sizeof(mt_dir), "%s/mbox-test.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(mt_dir));
}

static int
mt_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
mt_teardown(void)
{
	if (mt_dir[0] != '\0')
		(void)nftw(mt_dir, mt_rm, 16, FTW_DEPTH | FTW_PHYS);
	mt_dir[0] = '\0';
}

const char *
mt_path(const char *name)
{
	static char	buf[512];

	snprintf(buf, sizeof(buf), "%s/%s", mt_dir, name);
	return buf;
}

static void
mt_write_all(int fd, const void *data, size_t len)
{
	const char	*p = data;
	ssize_t		 n;

	while (len > 0) {
		n = write(fd, p, len);
		ck_assert_msg(n > 0, "write: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

int
mt_file(const char *name, const void *data, size_t len)
{
	int	fd;

	(void)unlink(mt_path(name));
	fd = open(mt_path(name), O_RDWR | O_CREAT | O_EXCL, 0600);
	ck_assert_msg(fd != -1, "create %s: %s", name, strerror(errno));
	mt_write_all(fd, data, len);
	return fd;
}

int
mt_memfd(const void *data, size_t len)
{
	int	fd = memfd_create("mbox-test", MFD_CLOEXEC);

	ck_assert_int_ne(fd, -1);
	mt_write_all(fd, data, len);
	return fd;
}

void
mt_append_raw(int fd, const void *data, size_t len)
{
	ck_assert_int_ne(lseek(fd, 0, SEEK_END), -1);
	mt_write_all(fd, data, len);
}

char *
mt_slurp(int fd, size_t *len_out)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 n;

	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	n = pread(fd, buf, (size_t)st.st_size, 0);
	ck_assert_int_eq(n, st.st_size);
	buf[n] = '\0';
	*len_out = (size_t)n;
	return buf;
}

char *
mt_read_msg(int fd, const struct mbox_msg *m, long top, size_t *len_out)
{
	struct mbox_reader	*rd = mbox_reader_new(fd, m, top);
	const char		*p;
	size_t			 n, len = 0, cap = 4096;
	char			*buf = malloc(cap);
	int			 rc;

	while ((rc = mbox_reader_read(rd, &p, &n)) == 1) {
		ck_assert_uint_gt(n, 0);
		while (len + n + 1 > cap)
			buf = realloc(buf, cap *= 2);
		memcpy(buf + len, p, n);
		len += n;
	}
	ck_assert_msg(rc == 0, "reader: got %d (%s), want 0", rc,
	    strerror(errno));
	/* the end is sticky */
	ck_assert_int_eq(mbox_reader_read(rd, &p, &n), 0);
	mbox_reader_free(&rd);
	ck_assert_ptr_null(rd);
	buf[len] = '\0';
	*len_out = len;
	return buf;
}

/* Runs argv with stdout to a pipe; returns the output and wait status. */
static char *
mt_run(char *const argv[], const char *fault, int *status_out)
{
	int	 pfd[2];
	pid_t	 pid;
	char	*out;
	size_t	 len = 0, cap = 4096;
	ssize_t	 n;

	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		if (fault != NULL)
			setenv("MAILD_FAULT", fault, 1);
		else
			unsetenv("MAILD_FAULT");
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	out = malloc(cap);
	while ((n = read(pfd[0], out + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 2)
			out = realloc(out, cap *= 2);
	}
	close(pfd[0]);
	out[len] = '\0';
	ck_assert_int_eq(waitpid(pid, status_out, 0), pid);
	return out;
}

/*
 * Whether the library's fault points act: an append with a fault at its
 * first point must fail. They do not when configured with
 * --disable-fault-injection, or when common/fault.c was compiled without
 * the autoconf config.h.
 */
static bool
mt_fault_works(void)
{
	static int	 works = -1;
	char		*argv[8], mbox[512], body[512], *out;
	int		 status;

	if (works != -1)
		return works;
	snprintf(mbox, sizeof(mbox), "%s", mt_path("probe.mbox"));
	snprintf(body, sizeof(body), "%s", mt_path("probe.body"));
	close(mt_file("probe.mbox", "", 0));
	close(mt_file("probe.body", "x\n", 2));
	argv[0] = (char *)MBOX_FAULT_HELPER;
	argv[1] = (char *)"append";
	argv[2] = mbox;
	argv[3] = body;
	argv[4] = (char *)"a@b";
	argv[5] = (char *)"0";
	argv[6] = (char *)"";
	argv[7] = NULL;
	out = mt_run(argv, "mbox_append.before_write:eio", &status);
	works = strncmp(out, "fail ", 5) == 0;
	if (!works)
		fprintf(stderr, "fault points do not act in this build: "
		    "skipping the fault tests\n");
	free(out);
	(void)unlink(mbox);
	(void)unlink(body);
	return works;
}

char *
mt_fault_helper(const char *fault, int *status_out, ...)
{
	char	*argv[16];
	va_list	 ap;
	int	 i = 0;

	if (MBOX_FAULT_HELPER[0] == '\0' ||
	    access(MBOX_FAULT_HELPER, X_OK) == -1)
		return NULL;
	if (fault != NULL && !mt_fault_works())
		return NULL;
	argv[i++] = (char *)MBOX_FAULT_HELPER;
	va_start(ap, status_out);
	while (i < 15 && (argv[i] = va_arg(ap, char *)) != NULL)
		i++;
	va_end(ap);
	argv[i] = NULL;
	return mt_run(argv, fault, status_out);
}

char *
mt_python(const char *script, const char *arg1, const char *arg2)
{
	char	*argv[] = { (char *)PYTHON3, (char *)"-c", (char *)script,
		    (char *)arg1, (char *)arg2, NULL };
	char	*out;
	int	 status;

	if (PYTHON3[0] == '\0' || access(PYTHON3, X_OK) == -1)
		return NULL;
	out = mt_run(argv, NULL, &status);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "python failed: status %d", status);
	return out;
}

char *
mt_python_mbox(const char *path)
{
	static const char script[] =
	    "import mailbox, sys\n"
	    "mb = mailbox.mbox(sys.argv[1], create=False)\n"
	    "for key in mb.iterkeys():\n"
	    "    start, stop = mb._toc[key]\n"
	    "    print(start, stop, mb.get_bytes(key).hex() or '-')\n";

	return mt_python(script, path, NULL);
}
