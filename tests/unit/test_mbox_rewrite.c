/*
 * Unit tests for common/mbox_rewrite.c: the plan (nothing, truncate a
 * suffix, copy), truncating, copying (the right messages survive, byte
 * for byte; the new table matches a scan of the new file; UIDLs of the
 * kept messages do not change, duplicate numbers are counted again;
 * mail appended after the scan is kept, without a stray line), and
 * errors (ENOSPC and EIO at the fault points, a maildrop that changed):
 * the maildrop is never touched by a failed copy.
 */
#include "autoconf.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mbox_append.h"
#include "mbox_rewrite.h"
#include "mbox_scan.h"
#include "mbox_test.h"
#include "unit.h"

#define S(s)	s, sizeof(s) - 1
#define MSG(n)	"From s" #n "@x Mon Jan  1 00:00:0" #n " 2024\n" \
		"Subject: " #n "\n\nbody " #n "\n>From quoted " #n "\n\n"

/* Six messages; the last one has no final newline. */
static const char maildrop[] =
    MSG(0) MSG(1) MSG(2) MSG(3) MSG(4)
    "From s5@x Mon Jan  1 00:00:05 2024\nSubject: 5\n\nno newline";

struct plan_case {
	const char		*name;
	const char		*deleted;	/* '1' = deleted, per message */
	int			 grown;		/* size_now = scanned + grown */
	enum mbox_rewrite_action want;
	int			 want_from;	/* truncate at this message */
};

static const struct plan_case plan_cases[] = {
	{ "nothing deleted", "000000", 0, MBOX_REWRITE_NOTHING, 0 },
	{ "last deleted", "000001", 0, MBOX_REWRITE_TRUNCATE, 5 },
	{ "suffix deleted", "000111", 0, MBOX_REWRITE_TRUNCATE, 3 },
	{ "all deleted", "111111", 0, MBOX_REWRITE_TRUNCATE, 0 },
	{ "middle deleted", "001000", 0, MBOX_REWRITE_COPY, 0 },
	{ "first deleted", "100000", 0, MBOX_REWRITE_COPY, 0 },
	{ "holes", "010101", 0, MBOX_REWRITE_COPY, 0 },
	{ "suffix, but mail came", "000011", 10, MBOX_REWRITE_COPY, 0 },
	{ "nothing, mail came", "000000", 10, MBOX_REWRITE_NOTHING, 0 },
};

static bool *
parse_deleted(const char *s)
{
	bool	*d = calloc(strlen(s) + 1, sizeof(*d));
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++)
		d[i] = s[i] == '1';
	return d;
}

static void
scan_fd(int fd, struct mbox_table *t)
{
	struct reason	r;

	mbox_table_init(t);
	ck_assert_msg(mbox_scan(fd, 0, t, &r) == 0, "scan: %s", r.text);
}

START_TEST(test_plan)
{
	const struct plan_case	*c = &plan_cases[_i];
	struct mbox_table	 t;
	bool			*deleted;
	off_t			 off = -1;
	int			 fd;

	fd = mt_memfd(S(maildrop));
	scan_fd(fd, &t);
	ck_assert_uint_eq(t.n, 6);
	deleted = parse_deleted(c->deleted);
	ck_assert_int_eq(mbox_rewrite_plan(&t, deleted, t.scanned + c->grown,
	    &off), c->want);
	if (c->want == MBOX_REWRITE_TRUNCATE)
		ck_assert_int_eq(off, t.v[c->want_from].from_off);
	free(deleted);
	mbox_table_deinit(&t);
	mbox_table_init(&t);
	ck_assert_int_eq(mbox_rewrite_plan(&t, NULL, 0, &off),
	    MBOX_REWRITE_NOTHING);
	close(fd);
}
END_TEST

/* The messages of fd as the reader gives them, with their UIDLs. */
struct msgs {
	char	*body[16];
	size_t	 len[16];
	char	 uidl[16][MBOX_UIDL_SIZE];
	size_t	 n;
};

static void
read_all(int fd, struct msgs *out)
{
	struct mbox_table	t;
	size_t			i;

	scan_fd(fd, &t);
	ck_assert_uint_le(t.n, 16);
	out->n = t.n;
	for (i = 0; i < t.n; i++) {
		out->body[i] = mt_read_msg(fd, &t.v[i], -1, &out->len[i]);
		snprintf(out->uidl[i], sizeof(out->uidl[i]), "%s",
		    t.v[i].uidl);
	}
	mbox_table_deinit(&t);
}

static void
free_msgs(struct msgs *m)
{
	size_t	i;

	for (i = 0; i < m->n; i++)
		free(m->body[i]);
}

/* a and b describe the same messages at the same places. */
static void
same_table(const struct mbox_table *a, const struct mbox_table *b)
{
	size_t	i;

	ck_assert_uint_eq(a->n, b->n);
	for (i = 0; i < a->n; i++) {
		ck_assert_msg(a->v[i].from_off == b->v[i].from_off &&
		    a->v[i].hdr_off == b->v[i].hdr_off &&
		    a->v[i].body_off == b->v[i].body_off &&
		    a->v[i].end == b->v[i].end &&
		    a->v[i].octets == b->v[i].octets,
		    "message %zu: offsets differ", i);
		ck_assert_msg(strcmp(a->v[i].uidl, b->v[i].uidl) == 0,
		    "message %zu: got uidl %s, want %s", i, a->v[i].uidl,
		    b->v[i].uidl);
	}
}

static const char *const copy_patterns[] = {
	"001000", "100000", "010101", "111110", "011111", "000001", "111111",
	"101010",
};

START_TEST(test_copy)
{
	const char		*pat = copy_patterns[_i];
	struct mbox_table	 t, newt, scanned;
	struct msgs		 before, after;
	struct reason		 r;
	struct stat		 st;
	bool			*deleted = parse_deleted(pat);
	char			*src_before, *src_after;
	size_t			 i, k, len;
	int			 src, dst;

	src = mt_file("mbox", S(maildrop));
	dst = mt_file("mbox.new", "", 0);
	read_all(src, &before);
	scan_fd(src, &t);
	src_before = mt_slurp(src, &len);
	mbox_table_init(&newt);
	ck_assert_msg(mbox_rewrite_copy(src, &t, deleted, dst, &newt, &r) == 0,
	    "%s: %s", pat, r.text);
	/* the maildrop is only read */
	src_after = mt_slurp(src, &len);
	ck_assert_str_eq(src_after, src_before);

	read_all(dst, &after);
	for (i = 0, k = 0; i < before.n; i++) {
		if (deleted[i])
			continue;
		ck_assert_msg(k < after.n, "%s: message %zu missing", pat, i);
		ck_assert_msg(before.len[i] == after.len[k] &&
		    memcmp(before.body[i], after.body[k], before.len[i]) == 0,
		    "%s: message %zu changed", pat, i);
		ck_assert_str_eq(before.uidl[i], after.uidl[k]);
		k++;
	}
	ck_assert_uint_eq(k, after.n);

	/* the new table is what a scan of the new file says */
	scan_fd(dst, &scanned);
	same_table(&newt, &scanned);
	ck_assert_int_eq(newt.scanned, scanned.scanned);
	ck_assert_int_eq(fstat(dst, &st), 0);
	ck_assert(newt.dev == st.st_dev && newt.ino == st.st_ino);

	free_msgs(&before);
	free_msgs(&after);
	free(src_before);
	free(src_after);
	free(deleted);
	mbox_table_deinit(&t);
	mbox_table_deinit(&newt);
	mbox_table_deinit(&scanned);
	close(src);
	close(dst);
}
END_TEST

START_TEST(test_truncate)
{
	struct mbox_table	 t;
	struct reason		 r;
	bool			*deleted = parse_deleted("000011");
	off_t			 off;
	char			*all;
	size_t			 len;
	int			 fd;

	fd = mt_file("mbox", S(maildrop));
	scan_fd(fd, &t);
	ck_assert_int_eq(mbox_rewrite_plan(&t, deleted, t.scanned, &off),
	    MBOX_REWRITE_TRUNCATE);
	/* a size that moved on is refused */
	ck_assert_int_eq(mbox_rewrite_truncate(fd, off, t.scanned - 1, &r),
	    -1);
	ck_assert_int_eq(errno, ESTALE);
	ck_assert_int_eq(mbox_rewrite_truncate(fd, off, t.scanned, &r), 0);
	all = mt_slurp(fd, &len);
	ck_assert_str_eq(all, MSG(0) MSG(1) MSG(2) MSG(3));
	mbox_table_deinit(&t);
	scan_fd(fd, &t);
	ck_assert_uint_eq(t.n, 4);
	free(all);
	free(deleted);
	mbox_table_deinit(&t);
	close(fd);
}
END_TEST

/*
 * Mail appended after the scan survives the copy, also when the message
 * it was appended behind (whose missing newline mbox_append repaired) is
 * deleted: then the repair LF goes too.
 */
START_TEST(test_copy_keeps_new_mail)
{
	static const char	 body[] = "Subject: late\n\nlate mail\n";
	struct mbox_append_msg	 m;
	struct mbox_table	 t, newt, full;
	struct msgs		 before, after;
	struct reason		 r;
	bool			*deleted;
	char			*got;
	size_t			 len;
	int			 src, dst, bfd, del_last;

	for (del_last = 0; del_last < 2; del_last++) {
		src = mt_file("mbox", S(maildrop));
		dst = mt_file("mbox.new", "", 0);
		read_all(src, &before);
		scan_fd(src, &t);
		bfd = mt_memfd(S(body));
		memset(&m, 0, sizeof(m));
		m.sender = "late@x";
		m.arrival = 1700000000;
		m.body_fd = bfd;
		m.body_len = sizeof(body) - 1;
		ck_assert_int_eq(mbox_append(src, &m, NULL, &r), 0);
		ck_assert_int_eq(mbox_append(src, &m, NULL, &r), 0);

		deleted = parse_deleted(del_last ? "010001" : "010000");
		mbox_table_init(&newt);
		ck_assert_int_eq(mbox_rewrite_copy(src, &t, deleted, dst,
		    &newt, &r), 0);
		read_all(dst, &after);
		ck_assert_uint_eq(after.n, 5 - del_last + 2);
		/* message 0 keeps its content: no stray line after it */
		ck_assert(before.len[0] == after.len[0] &&
		    memcmp(before.body[0], after.body[0], before.len[0]) == 0);
		if (!del_last)
			ck_assert(before.len[5] == after.len[4] &&
			    memcmp(before.body[5], after.body[4],
			    before.len[5]) == 0);
		got = after.body[after.n - 1];
		ck_assert_str_eq(got, "Subject: late\r\n\r\nlate mail\r\n");
		ck_assert_str_eq(after.uidl[after.n - 1] + 32, "-1");

		/* continuing the new table gives the full scan */
		ck_assert_int_eq(mbox_scan(dst, newt.scanned, &newt, &r), 0);
		scan_fd(dst, &full);
		same_table(&newt, &full);
		if (del_last) {
			/* no "\n\n\n" where the deleted message was */
			got = mt_slurp(dst, &len);
			ck_assert_ptr_null(strstr(got, "\n\n\nFrom late"));
			free(got);
		}
		free_msgs(&before);
		free_msgs(&after);
		free(deleted);
		mbox_table_deinit(&t);
		mbox_table_deinit(&newt);
		mbox_table_deinit(&full);
		close(bfd);
		close(src);
		close(dst);
		ck_assert_int_eq(unlink(mt_path("mbox.new")), 0);
	}
}
END_TEST

/* Duplicate UIDL numbers are counted again over what is left. */
START_TEST(test_copy_renumbers_duplicates)
{
	static const char dup[] = MSG(1) MSG(1) MSG(1) MSG(2);
	struct mbox_table t, newt;
	struct reason	 r;
	bool		*deleted = parse_deleted("1000");
	char		 hex[33];
	int		 src, dst;

	src = mt_file("mbox", S(dup));
	dst = mt_file("mbox.new", "", 0);
	scan_fd(src, &t);
	snprintf(hex, sizeof(hex), "%.32s", t.v[0].uidl);
	ck_assert_str_eq(t.v[0].uidl, hex);
	ck_assert_str_eq(t.v[1].uidl + 32, "-1");
	ck_assert_str_eq(t.v[2].uidl + 32, "-2");
	mbox_table_init(&newt);
	ck_assert_int_eq(mbox_rewrite_copy(src, &t, deleted, dst, &newt, &r),
	    0);
	ck_assert_str_eq(newt.v[0].uidl, hex);
	ck_assert_str_eq(newt.v[1].uidl + 32, "-1");
	ck_assert_str_eq(newt.v[2].uidl, t.v[3].uidl);
	free(deleted);
	mbox_table_deinit(&t);
	mbox_table_deinit(&newt);
	close(src);
	close(dst);
}
END_TEST

START_TEST(test_copy_refuses)
{
	struct mbox_table	 t;
	struct reason		 r;
	bool			*deleted = parse_deleted("010000");
	int			 src, dst;

	src = mt_file("mbox", S(maildrop));
	dst = mt_file("mbox.new", "x", 1);
	scan_fd(src, &t);
	/* dst not empty */
	ck_assert_int_eq(mbox_rewrite_copy(src, &t, deleted, dst, NULL, &r),
	    -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(ftruncate(dst, 0), 0);
	/* dst is the maildrop itself */
	ck_assert_int_eq(mbox_rewrite_copy(src, &t, deleted, src, NULL, &r),
	    -1);
	/* a From_ line moved: the table no longer fits */
	ck_assert_int_eq(pwrite(src, "X", 1, t.v[3].from_off), 1);
	ck_assert_int_eq(mbox_rewrite_copy(src, &t, deleted, dst, NULL, &r),
	    -1);
	ck_assert_int_eq(errno, ESTALE);
	ck_assert_str_eq(r.status, "4.2.0");
	/* the maildrop got shorter */
	ck_assert_int_eq(pwrite(src, "F", 1, t.v[3].from_off), 1);
	ck_assert_int_eq(ftruncate(src, t.scanned - 1), 0);
	ck_assert_int_eq(mbox_rewrite_copy(src, &t, deleted, dst, NULL, &r),
	    -1);
	ck_assert_int_eq(errno, ESTALE);
	free(deleted);
	mbox_table_deinit(&t);
	close(src);
	close(dst);
}
END_TEST

struct rewrite_fault {
	const char	*op;		/* helper command */
	const char	*arg;		/* deleted list, or the offset */
	const char	*fault;
	const char	*want;
};

static const struct rewrite_fault rewrite_faults[] = {
	{ "copy", "1", "mbox_rewrite.mid_copy:enospc", "fail 28 4.3.1\n" },
	{ "copy", "0,3", "mbox_rewrite.mid_copy:enospc", "fail 28 4.3.1\n" },
	{ "copy", "1", "mbox_rewrite.after_copy:eio", "fail 5 4.2.0\n" },
	{ "copy", "1", "mbox_rewrite.after_copy:enospc", "fail 28 4.3.1\n" },
	{ "truncate", "0", "mbox_rewrite.before_truncate:eio",
	    "fail 5 4.2.0\n" },
	{ "copy", "1", NULL, "ok\n" },
};

START_TEST(test_faults)
{
	const struct rewrite_fault *c = &rewrite_faults[_i];
	char		 src[512], dst[512], *out, *all;
	size_t		 len;
	int		 fd, status;

	close(mt_file("mbox", S(maildrop)));
	snprintf(src, sizeof(src), "%s", mt_path("mbox"));
	snprintf(dst, sizeof(dst), "%s", mt_path("mbox.new"));
	out = mt_fault_helper(c->fault, &status, c->op, src,
	    strcmp(c->op, "copy") == 0 ? dst : c->arg,
	    strcmp(c->op, "copy") == 0 ? c->arg : NULL, NULL);
	if (out == NULL)
		return;		/* no fault injection in this build */
	ck_assert_msg(strcmp(out, c->want) == 0, "%s %s: got \"%s\", want "
	    "\"%s\"", c->op, c->fault, out, c->want);
	fd = open(src, O_RDONLY);
	all = mt_slurp(fd, &len);
	ck_assert_msg(len == sizeof(maildrop) - 1 &&
	    memcmp(all, maildrop, len) == 0, "the maildrop changed");
	free(all);
	free(out);
	close(fd);
}
END_TEST

/* Python reads the copied maildrop as the kept messages. */
START_TEST(test_copy_python)
{
	struct mbox_table	 t;
	struct reason		 r;
	bool			*deleted = parse_deleted("010100");
	char			*out, *p;
	int			 src, dst, n = 0;

	src = mt_file("mbox", S(maildrop));
	dst = mt_file("mbox.new", "", 0);
	scan_fd(src, &t);
	ck_assert_int_eq(mbox_rewrite_copy(src, &t, deleted, dst, NULL, &r),
	    0);
	if ((out = mt_python_mbox(mt_path("mbox.new"))) != NULL) {
		for (p = out; (p = strchr(p, '\n')) != NULL; p++)
			n++;
		ck_assert_int_eq(n, 4);
		free(out);
	}
	free(deleted);
	mbox_table_deinit(&t);
	close(src);
	close(dst);
}
END_TEST

static Suite *
mbox_rewrite_suite(void)
{
	Suite	*s = suite_create("mbox_rewrite");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, mt_setup, mt_teardown);
	tcase_add_loop_test(tc, test_plan, 0, nitems(plan_cases));
	tcase_add_loop_test(tc, test_copy, 0, nitems(copy_patterns));
	tcase_add_test(tc, test_truncate);
	tcase_add_test(tc, test_copy_keeps_new_mail);
	tcase_add_test(tc, test_copy_renumbers_duplicates);
	tcase_add_test(tc, test_copy_refuses);
	tcase_add_loop_test(tc, test_faults, 0, nitems(rewrite_faults));
	tcase_add_test(tc, test_copy_python);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(mbox_rewrite_suite)
