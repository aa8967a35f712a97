/*
 * Unit tests for common/mbox_append.c: the exact bytes appended (From_
 * line, null sender, prefix, mboxrd quoting both ways, a missing final
 * newline, a foreign file without one), the round trip through the
 * scanner and reader (a 5 MB message byte for byte), Python's mailbox
 * module reading what we wrote, every fault point leaving the file at
 * its old length, and the crash-recovery check (complete, torn at every
 * byte, damaged, absent). And an append as the deliverers make it, with
 * the recipient's identity (privdrop_become): no capabilities meanwhile,
 * the maildrop's owner and mode as they were, root again afterwards.
 */
#include "autoconf.h"

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mbox_append.h"
#include "mbox_scan.h"
#include "mbox_test.h"
#include "privdrop.h"
#include "unit.h"

#define S(s)	s, sizeof(s) - 1
/* 2023-11-14T22:13:20Z, a Tuesday */
#define T1	1700000000
#define FROM_T1	" Tue Nov 14 22:13:20 2023\n"

struct append_case {
	const char	*name;
	const char	*existing;
	const char	*sender;
	time_t		 arrival;
	const char	*prefix;
	const char	*body;
	const char	*want;		/* the bytes appended */
	int		 repair;	/* 1 if a LF goes first */
};

static const struct append_case cases[] = {
	{ "plain", "", "a@b", T1, "Return-Path: <a@b>\n",
	    "Subject: s\n\nhello\n",
	    "From a@b" FROM_T1 "Return-Path: <a@b>\nSubject: s\n\nhello\n\n",
	    0 },
	{ "null sender", "", "", T1, "", "S: x\n\nb\n",
	    "From MAILER-DAEMON" FROM_T1 "S: x\n\nb\n\n", 0 },
	{ "mboxrd quoting", "", "a@b", T1, "",
	    "S: q\n\nFrom x\n>From y\n>>From z\nFromage\n From w\n>From\n",
	    "From a@b" FROM_T1 "S: q\n\n>From x\n>>From y\n>>>From z\n"
	    "Fromage\n From w\n>From\n\n", 0 },
	{ "From_ as the first line", "", "a@b", T1, "", "From me\nx\n",
	    "From a@b" FROM_T1 ">From me\nx\n\n", 0 },
	{ "no final newline", "", "a@b", T1, "", "S: x\n\nend",
	    "From a@b" FROM_T1 "S: x\n\nend\n\n", 0 },
	{ "quoted last line without newline", "", "a@b", T1, "", "\n>From z",
	    "From a@b" FROM_T1 "\n>>From z\n\n", 0 },
	{ "empty message", "", "a@b", T1, "", "",
	    "From a@b" FROM_T1 "\n", 0 },
	{ "prefix only", "", "a@b", T1, "X-A: 1\n", "",
	    "From a@b" FROM_T1 "X-A: 1\n\n", 0 },
	{ "foreign file without final newline", "From x\n\nbody", "a@b", T1,
	    "", "S: y\n", "\nFrom a@b" FROM_T1 "S: y\n\n", 1 },
	{ "file ending in a newline", "From x\n\nbody\n\n", "a@b", T1, "",
	    "S: y\n", "From a@b" FROM_T1 "S: y\n\n", 0 },
	{ "sender with space and tab", "", "\"a b\"@c\t", T1, "", "x\n",
	    "From \"a_b\"@c_" FROM_T1 "x\n\n", 0 },
	{ "day of month padded", "", "a@b", 1699000000, "", "x\n",
	    "From a@b Fri Nov  3 08:26:40 2023\nx\n\n", 0 },
	{ "stored CR kept", "", "a@b", T1, "", "a\r\nb\rc\n",
	    "From a@b" FROM_T1 "a\r\nb\rc\n\n", 0 },
};

/* The message as the body file holds it: after a fake envelope. */
#define ENVELOPE	"V 1\nI q1\n\n"

static int
body_fd(const char *body, size_t len)
{
	int	fd = mt_memfd(ENVELOPE, strlen(ENVELOPE));

	mt_append_raw(fd, body, len);
	return fd;
}

static void
fill_msg(struct mbox_append_msg *m, const char *sender, time_t arrival,
    const char *prefix, int bfd, off_t body_len)
{
	memset(m, 0, sizeof(*m));
	m->sender = sender;
	m->arrival = arrival;
	m->prefix = prefix;
	m->prefix_len = prefix != NULL ? strlen(prefix) : 0;
	m->body_fd = bfd;
	m->body_off = (off_t)strlen(ENVELOPE);
	m->body_len = body_len;
}

/* What the reader must give for prefix + body: LF -> CRLF, a final one. */
static char *
pop3_form(const char *prefix, const char *body, size_t blen, size_t *len_out)
{
	size_t	 plen = strlen(prefix), n = 0, i;
	char	*in = malloc(plen + blen + 2), *out;

	memcpy(in, prefix, plen);
	memcpy(in + plen, body, blen);
	if (plen + blen > 0 && in[plen + blen - 1] != '\n')
		in[plen + blen++] = '\n';
	out = malloc(2 * (plen + blen) + 1);
	for (i = 0; i < plen + blen; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			out[n++] = '\r';
		out[n++] = in[i];
	}
	free(in);
	*len_out = n;
	return out;
}

START_TEST(test_append_bytes)
{
	const struct append_case	*c = &cases[_i];
	struct mbox_append_msg		 m;
	struct mbox_append_result	 res;
	struct mbox_table		 t;
	struct reason			 r;
	char				*all, *got, *want;
	size_t				 len, elen = strlen(c->existing), glen;
	size_t				 wlen;
	int				 fd, bfd;

	fd = mt_file("mbox", c->existing, elen);
	bfd = body_fd(c->body, strlen(c->body));
	fill_msg(&m, c->sender, c->arrival, c->prefix, bfd,
	    (off_t)strlen(c->body));
	ck_assert_msg(mbox_append(fd, &m, &res, &r) == 0, "%s: %s", c->name,
	    r.text);
	all = mt_slurp(fd, &len);
	ck_assert_msg(len == elen + strlen(c->want) &&
	    memcmp(all, c->existing, elen) == 0 &&
	    memcmp(all + elen, c->want, strlen(c->want)) == 0,
	    "%s: got \"%s\", want \"%s%s\"", c->name, all, c->existing,
	    c->want);
	ck_assert_int_eq(res.offset, (off_t)elen);
	ck_assert_int_eq(res.from_off, (off_t)elen + c->repair);
	ck_assert_int_eq(res.length, (off_t)strlen(c->want));

	/* back through the scanner and the reader */
	mbox_table_init(&t);
	ck_assert_int_eq(mbox_scan(fd, 0, &t, &r), 0);
	ck_assert_uint_ge(t.n, 1);
	ck_assert_int_eq(t.v[t.n - 1].from_off, res.from_off);
	got = mt_read_msg(fd, &t.v[t.n - 1], -1, &glen);
	want = pop3_form(c->prefix, c->body, strlen(c->body), &wlen);
	ck_assert_msg(glen == wlen && memcmp(got, want, glen) == 0,
	    "%s: read back \"%s\", want \"%s\"", c->name, got, want);
	ck_assert_int_eq(mbox_append_check(fd, res.offset, &m, &r),
	    MBOX_APPEND_COMPLETE);
	free(got);
	free(want);
	free(all);
	mbox_table_deinit(&t);
	close(bfd);
	close(fd);
}
END_TEST

START_TEST(test_bad_description)
{
	struct mbox_append_msg	m;
	struct reason		r;
	char			long_sender[400];
	int			fd, bfd;

	fd = mt_file("mbox", "", 0);
	bfd = body_fd(S("x\n"));
	fill_msg(&m, "a@b", T1, "X-No-Newline: 1", bfd, 2);
	ck_assert_int_eq(mbox_append(fd, &m, NULL, &r), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_str_eq(r.status, "5.1.7");
	fill_msg(&m, "a@b", T1, "From x\n", bfd, 2);
	ck_assert_int_eq(mbox_append(fd, &m, NULL, &r), -1);
	memset(long_sender, 'a', sizeof(long_sender) - 1);
	long_sender[sizeof(long_sender) - 1] = '\0';
	fill_msg(&m, long_sender, T1, NULL, bfd, 2);
	ck_assert_int_eq(mbox_append(fd, &m, NULL, &r), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(lseek(fd, 0, SEEK_END), 0);
	close(bfd);
	close(fd);
}
END_TEST

/* The queue file is shorter than its envelope says: 4.3.0, cut back. */
START_TEST(test_short_body)
{
	struct mbox_append_msg	 m;
	struct reason		 r;
	char			*all;
	size_t			 len;
	int			 fd, bfd;

	fd = mt_file("mbox", S("From x\n\nold\n\n"));
	bfd = body_fd(S("S: x\n\nshort\n"));
	fill_msg(&m, "a@b", T1, NULL, bfd, 1000);
	ck_assert_int_eq(mbox_append(fd, &m, NULL, &r), -1);
	ck_assert_int_eq(errno, EIO);
	ck_assert_str_eq(r.status, "4.3.0");
	all = mt_slurp(fd, &len);
	ck_assert_str_eq(all, "From x\n\nold\n\n");
	free(all);
	close(bfd);
	close(fd);
}
END_TEST

/* A 5 MB message with every awkward line, byte for byte. */
START_TEST(test_big_message)
{
	static const char *const lines[] = {
		"From the start of a line\n", ">From quoted\n", ">>>From\n",
		"plain text line of some length, as mail has them\n", "\n",
		"\r\n", ">\n", "From \n", ">>>>>>>>>>From x\n", "Fro\n",
	};
	struct mbox_append_msg	 m;
	struct mbox_append_result res;
	struct mbox_table	 t;
	struct reason		 r;
	char			*body, *got, *want, *prefix;
	size_t			 len = 0, cap = 5 * 1024 * 1024 + 200000;
	size_t			 glen, wlen, k;
	unsigned		 seed = 1;
	int			 fd, bfd, i;

	body = malloc(cap);
	len += (size_t)snprintf(body, cap, "Subject: big\n\n");
	while (len < 5 * 1024 * 1024) {
		seed = seed * 1103515245 + 12345;
		k = (seed >> 16) % nitems(lines);
		if ((seed >> 8) % 997 == 0) {
			/* now and then a 100 KB line */
			memset(body + len, 'L', 100000);
			len += 100000;
		}
		memcpy(body + len, lines[k], strlen(lines[k]));
		len += strlen(lines[k]);
	}
	memcpy(body + len, "last line, no newline", 21);
	len += 21;
	prefix = "Return-Path: <big@example>\n";

	fd = mt_file("mbox", S("From x\n\nfirst\n\n"));
	for (i = 0; i < 2; i++) {
		bfd = body_fd(body, len);
		fill_msg(&m, "big@example", T1, prefix, bfd, (off_t)len);
		ck_assert_int_eq(mbox_append(fd, &m, &res, &r), 0);
		ck_assert_int_eq(mbox_append_check(fd, res.offset, &m, &r),
		    MBOX_APPEND_COMPLETE);
		close(bfd);
	}
	mbox_table_init(&t);
	ck_assert_int_eq(mbox_scan(fd, 0, &t, &r), 0);
	ck_assert_uint_eq(t.n, 3);
	want = pop3_form(prefix, body, len, &wlen);
	for (i = 1; i < 3; i++) {
		got = mt_read_msg(fd, &t.v[i], -1, &glen);
		ck_assert_msg(glen == wlen && memcmp(got, want, wlen) == 0,
		    "message %d: got %zu bytes, want %zu", i, glen, wlen);
		ck_assert_int_eq(t.v[i].octets, (off_t)wlen);
		free(got);
	}
	ck_assert_str_eq(t.v[1].uidl + 32, "");
	ck_assert_str_eq(t.v[2].uidl + 32, "-1");	/* same second */
	free(want);
	free(body);
	mbox_table_deinit(&t);
	close(fd);
}
END_TEST

/*
 * Python's mailbox module reads what we write as the same messages (it
 * does not undo mboxrd quoting; the script does).
 */
START_TEST(test_python_reads_it)
{
	static const char script[] =
	    "import mailbox, re, sys\n"
	    "mb = mailbox.mbox(sys.argv[1], create=False)\n"
	    "for key in mb.iterkeys():\n"
	    "    b = mb.get_bytes(key)\n"
	    "    b = re.sub(rb'(?m)^>(>*From )', rb'\\1', b)\n"
	    "    print(mb.get_message(key).get_from(), '|', b.hex())\n";
	struct mbox_append_msg	 m;
	struct reason		 r;
	char			*out, *line, *save = NULL, *bar, *hex, *want;
	const char		*from;
	char			 exp[8192];
	size_t			 i, n = 0, k;
	int			 fd, bfd;

	fd = mt_file("mbox", S("From old Mon Jan  1 00:00:00 2024\n\nold"));
	for (i = 0; i < nitems(cases); i++) {
		bfd = body_fd(cases[i].body, strlen(cases[i].body));
		fill_msg(&m, cases[i].sender, cases[i].arrival,
		    cases[i].prefix, bfd, (off_t)strlen(cases[i].body));
		ck_assert_int_eq(mbox_append(fd, &m, NULL, &r), 0);
		close(bfd);
	}
	if ((out = mt_python(script, mt_path("mbox"), NULL)) == NULL)
		return;		/* no python3 */
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save), n++) {
		ck_assert_ptr_nonnull(bar = strstr(line, " | "));
		hex = bar + 3;
		if (n == 0) {
			ck_assert_str_eq(hex, "0a6f6c640a");	/* "\nold\n" */
			continue;
		}
		i = n - 1;
		ck_assert_uint_lt(i, nitems(cases));
		snprintf(exp, sizeof(exp), "%s%s", cases[i].prefix,
		    cases[i].body);
		if (exp[0] != '\0' && exp[strlen(exp) - 1] != '\n')
			strcat(exp, "\n");
		want = malloc(2 * strlen(exp) + 1);
		for (k = 0; exp[k] != '\0'; k++)
			snprintf(want + 2 * k, 3, "%02x",
			    (unsigned char)exp[k]);
		want[2 * k] = '\0';
		ck_assert_msg(strcmp(hex, want) == 0,
		    "%s: python read %s, want %s", cases[i].name, hex, want);
		/* get_from(): our From_ line after "From " */
		from = cases[i].want + cases[i].repair + 5;
		ck_assert_msg(strncmp(line, from, strcspn(from, "\n")) == 0 &&
		    line + strcspn(from, "\n") == bar,
		    "%s: python's From_ line is %s", cases[i].name, line);
		free(want);
	}
	ck_assert_uint_eq(n, nitems(cases) + 1);
	free(out);
	close(fd);
}
END_TEST

struct fault_case {
	const char	*point;
	const char	*action;
	const char	*want_status;
	int		 want_errno;
};

static const struct fault_case fault_cases[] = {
	{ "mbox_append.before_write", "eio", "4.2.0", EIO },
	{ "mbox_append.mid_write", "eio", "4.2.0", EIO },
	{ "mbox_append.after_write", "eio", "4.2.0", EIO },
	{ "mbox_append.after_fsync", "eio", "4.2.0", EIO },
	{ "mbox_append.before_write", "enospc", "4.3.1", ENOSPC },
	{ "mbox_append.mid_write", "enospc", "4.3.1", ENOSPC },
	{ "mbox_append.after_write", "enospc", "4.3.1", ENOSPC },
	{ "mbox_append.after_fsync", "enospc", "4.3.1", ENOSPC },
	{ "mbox_append.before_write", "edquot", "4.2.2", EDQUOT },
	{ "mbox_append.mid_write", "edquot", "4.2.2", EDQUOT },
};

#define OLD_MBOX	"From x Mon Jan  1 00:00:00 2024\n\nold body"
#define NEW_BODY	"Subject: new\n\nFrom here\nbody\n"

static void
write_body_file(void)
{
	close(mt_file("body", S(NEW_BODY)));
}

/* Every fault point, as an error: the maildrop keeps its old bytes. */
START_TEST(test_fault_points)
{
	const struct fault_case	*c = &fault_cases[_i];
	char			 spec[128], want[64], *out, *all;
	char			 mbox[512], body[512];
	size_t			 len;
	int			 status, fd;

	fd = mt_file("mbox", S(OLD_MBOX));
	close(fd);
	write_body_file();
	snprintf(mbox, sizeof(mbox), "%s", mt_path("mbox"));
	snprintf(body, sizeof(body), "%s", mt_path("body"));
	snprintf(spec, sizeof(spec), "%s:%s", c->point, c->action);
	out = mt_fault_helper(spec, &status, "append", mbox, body, "a@b",
	    "1700000000", "Return-Path: <a@b>\n", NULL);
	if (out == NULL)
		return;		/* no fault injection in this build */
	snprintf(want, sizeof(want), "fail %d %s\n", c->want_errno,
	    c->want_status);
	ck_assert_msg(strcmp(out, want) == 0, "%s: got \"%s\", want \"%s\"",
	    spec, out, want);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	fd = open(mbox, O_RDONLY);
	all = mt_slurp(fd, &len);
	ck_assert_msg(len == sizeof(OLD_MBOX) - 1 &&
	    memcmp(all, OLD_MBOX, len) == 0, "%s: maildrop is \"%s\"", spec,
	    all);
	free(all);
	free(out);
	close(fd);
}
END_TEST

/* The effective capability set (/proc/self/status CapEff), or -1. */
static long long
cap_eff(void)
{
	FILE		*fp;
	char		 line[256];
	long long	 v = -1;

	if ((fp = fopen("/proc/self/status", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, "CapEff:", 7) == 0)
			v = strtoll(line + 7, NULL, 16);
	fclose(fp);
	return v;
}

#define RCPT_UID	60001
#define RCPT_GID	60001
#define MAIL_GID	60008

/*
 * The deliverers write a maildrop as its user: with seteuid the
 * effective capabilities go (CAP_SYS_RESOURCE would pass quotas and the
 * root reserve; setfsuid alone would keep it), and they come back.
 * Needs real root: skipped as an ordinary user, and under uid_wrapper
 * (which fakes the ids, not the kernel's capabilities).
 */
START_TEST(test_append_as_recipient)
{
	struct privdrop_saved	 ids;
	struct mbox_append_msg	 m;
	struct reason		 r;
	struct stat		 st;
	gid_t			 g[8];
	long long		 caps;
	int			 fd, bfd, dumpable, ngroups;

	caps = cap_eff();
	if (geteuid() != 0 || caps <= 0)
		return;
	fd = mt_file("mbox", S(OLD_MBOX));
	ck_assert_int_eq(fchown(fd, RCPT_UID, MAIL_GID), 0);
	ck_assert_int_eq(fchmod(fd, 0600), 0);
	write_body_file();
	ck_assert_int_ne(bfd = open(mt_path("body"), O_RDONLY), -1);
	ck_assert_int_eq(fstat(bfd, &st), 0);
	memset(&m, 0, sizeof(m));
	m.sender = "a@b";
	m.arrival = T1;
	m.body_fd = bfd;
	m.body_len = st.st_size;
	dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	ngroups = getgroups(0, NULL);

	ck_assert_int_eq(privdrop_become(RCPT_UID, RCPT_GID, &ids), 0);
	ck_assert_uint_eq(geteuid(), RCPT_UID);
	ck_assert_uint_eq(getegid(), RCPT_GID);
	ck_assert_int_eq(getgroups(8, g), 1);
	ck_assert_uint_eq(g[0], RCPT_GID);
	ck_assert_msg(cap_eff() == 0, "CapEff %llx as the recipient",
	    cap_eff());
	ck_assert_int_eq(mbox_append(fd, &m, NULL, &r), 0);
	privdrop_restore(&ids);

	ck_assert_uint_eq(geteuid(), 0);
	ck_assert_uint_eq(getegid(), 0);
	ck_assert_int_eq(getgroups(0, NULL), ngroups);
	ck_assert_int_eq(cap_eff(), caps);
	ck_assert_int_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), dumpable);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_uint_eq(st.st_uid, RCPT_UID);
	ck_assert_uint_eq(st.st_gid, MAIL_GID);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_gt(st.st_size, (off_t)sizeof(OLD_MBOX) - 1);

	/* root's own maildrop: nothing to change */
	ck_assert_int_eq(privdrop_become(0, 0, &ids), 0);
	ck_assert(!ids.active);
	ck_assert_int_eq(cap_eff(), caps);
	privdrop_restore(&ids);
	close(bfd);
	close(fd);
}
END_TEST

struct kill_case {
	const char	*point;
	int		 want;	/* mbox_append_check() after the crash */
};

static const struct kill_case kill_cases[] = {
	{ "mbox_append.before_write", MBOX_APPEND_ABSENT },
	{ "mbox_append.mid_write", MBOX_APPEND_TORN },
	{ "mbox_append.after_write", MBOX_APPEND_COMPLETE },
	{ "mbox_append.after_fsync", MBOX_APPEND_COMPLETE },
};

/* A crash at each point, then recovery as the queue runner does it. */
START_TEST(test_crash_recovery)
{
	const struct kill_case	*c = &kill_cases[_i];
	struct mbox_append_msg	 m;
	struct reason		 r;
	char			 spec[128], mbox[512], body[512], *out, *all;
	size_t			 len;
	int			 status, fd, bfd, rc;

	close(mt_file("mbox", S(OLD_MBOX)));
	write_body_file();
	snprintf(mbox, sizeof(mbox), "%s", mt_path("mbox"));
	snprintf(body, sizeof(body), "%s", mt_path("body"));
	snprintf(spec, sizeof(spec), "%s:kill", c->point);
	out = mt_fault_helper(spec, &status, "append", mbox, body, "a@b",
	    "1700000000", "Return-Path: <a@b>\n", NULL);
	if (out == NULL)
		return;
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	    "%s: got status %#x, want killed", spec, status);
	fd = open(mbox, O_RDWR);
	bfd = open(body, O_RDONLY);
	memset(&m, 0, sizeof(m));
	m.sender = "a@b";
	m.arrival = T1;
	m.prefix = "Return-Path: <a@b>\n";
	m.prefix_len = strlen(m.prefix);
	m.body_fd = bfd;
	m.body_len = sizeof(NEW_BODY) - 1;
	rc = mbox_append_check(fd, sizeof(OLD_MBOX) - 1, &m, &r);
	ck_assert_msg(rc == c->want, "%s: check got %d, want %d", spec, rc,
	    c->want);
	if (rc == MBOX_APPEND_TORN)
		ck_assert_int_eq(ftruncate(fd, sizeof(OLD_MBOX) - 1), 0);
	if (rc != MBOX_APPEND_COMPLETE)
		ck_assert_int_eq(mbox_append(fd, &m, NULL, &r), 0);
	/* exactly one whole copy now */
	ck_assert_int_eq(mbox_append_check(fd, sizeof(OLD_MBOX) - 1, &m, &r),
	    MBOX_APPEND_COMPLETE);
	all = mt_slurp(fd, &len);
	ck_assert_str_eq(all, OLD_MBOX "\nFrom a@b" FROM_T1
	    "Return-Path: <a@b>\n" "Subject: new\n\n>From here\nbody\n\n");
	free(all);
	free(out);
	close(bfd);
	close(fd);
}
END_TEST

/* The check, against every possible torn length and worse. */
START_TEST(test_check_results)
{
	struct mbox_append_msg	 m, other;
	struct mbox_append_result res;
	struct reason		 r;
	char			*all;
	size_t			 len;
	off_t			 cut, ident;
	int			 fd, bfd, bfd2, rc, repair;

	for (repair = 0; repair < 2; repair++) {
		fd = mt_file("mbox", OLD_MBOX "\n", sizeof(OLD_MBOX) - repair);
		bfd = body_fd(S(NEW_BODY));
		bfd2 = body_fd(S("S: other\n\nother\n"));
		fill_msg(&m, "a@b", T1, "Delivered-To: q1\n", bfd,
		    sizeof(NEW_BODY) - 1);
		fill_msg(&other, "c@d", T1 + 1, "Delivered-To: q2\n", bfd2,
		    16);
		ck_assert_int_eq(mbox_append(fd, &m, &res, &r), 0);
		all = mt_slurp(fd, &len);
		ck_assert_int_eq(res.from_off - res.offset, repair);
		ident = res.from_off - res.offset + (off_t)strlen("From a@b"
		    FROM_T1 "Delivered-To: q1\n");

		/* nothing at the end of the file, or someone else's */
		ck_assert_int_eq(mbox_append_check(fd, (off_t)len, &m, &r),
		    MBOX_APPEND_ABSENT);
		ck_assert_int_eq(mbox_append_check(fd, 0, &m, &r),
		    MBOX_APPEND_ABSENT);
		ck_assert_int_eq(mbox_append_check(fd, res.offset, &other, &r),
		    MBOX_APPEND_ABSENT);

		for (cut = res.offset; cut < res.offset + res.length; cut++) {
			/* torn at cut */
			ck_assert_int_eq(ftruncate(fd, cut), 0);
			rc = mbox_append_check(fd, res.offset, &m, &r);
			ck_assert_msg(rc == (cut == res.offset ?
			    MBOX_APPEND_ABSENT : MBOX_APPEND_TORN),
			    "cut at +%lld: got %d", (long long)(cut -
			    res.offset), rc);
			/*
			 * Torn, then another delivery after it. Cut one byte
			 * short of the prefix's end, the other delivery's
			 * repair LF completes our prefix: damaged too.
			 */
			ck_assert_int_eq(mbox_append(fd, &other, NULL, &r), 0);
			rc = mbox_append_check(fd, res.offset, &m, &r);
			if (cut - res.offset >= ident - 1)
				ck_assert_msg(rc == MBOX_APPEND_DAMAGED,
				    "cut at +%lld then other: got %d",
				    (long long)(cut - res.offset), rc);
			else
				ck_assert_msg(rc == MBOX_APPEND_ABSENT,
				    "cut at +%lld then other: got %d",
				    (long long)(cut - res.offset), rc);
			/* restore */
			ck_assert_int_eq(ftruncate(fd, 0), 0);
			ck_assert_int_eq(pwrite(fd, all, len, 0), (ssize_t)len);
		}
		free(all);
		close(bfd);
		close(bfd2);
		close(fd);
	}
}
END_TEST

static Suite *
mbox_append_suite(void)
{
	Suite	*s = suite_create("mbox_append");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, mt_setup, mt_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_append_bytes, 0, nitems(cases));
	tcase_add_test(tc, test_bad_description);
	tcase_add_test(tc, test_short_body);
	tcase_add_test(tc, test_big_message);
	tcase_add_test(tc, test_python_reads_it);
	tcase_add_loop_test(tc, test_fault_points, 0, nitems(fault_cases));
	tcase_add_loop_test(tc, test_crash_recovery, 0, nitems(kill_cases));
	tcase_add_test(tc, test_check_results);
	tcase_add_test(tc, test_append_as_recipient);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(mbox_append_suite)
