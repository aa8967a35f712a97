/*
 * Unit tests for common/uidl.c and the UIDLs mbox_scan() gives: the hash
 * (a known SHA-256 vector, fed in pieces), duplicate counting (also past
 * table growth), the format and RFC 1939 syntax, and the properties
 * POP3 clients rely on: stable across scans, independent of the body,
 * unchanged for the other messages when one is deleted, -1, -2 for
 * duplicates.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mbox_rewrite.h"
#include "mbox_scan.h"
#include "mbox_test.h"
#include "uidl.h"
#include "unit.h"

#define S(s)	s, sizeof(s) - 1

START_TEST(test_hash_vector)
{
	struct uidl_hash	*h = uidl_hash_new();
	char			 hex[UIDL_HEX_LEN + 1];

	/* SHA-256("abc"), FIPS 180-2 appendix B.1 */
	uidl_hash_begin(h);
	uidl_hash_update(h, "abc", 3);
	uidl_hash_end(h, hex);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223");
	/* the same in pieces, and the context is reusable */
	uidl_hash_begin(h);
	uidl_hash_update(h, "a", 1);
	uidl_hash_update(h, "", 0);
	uidl_hash_update(h, "bc", 2);
	uidl_hash_end(h, hex);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223");
	uidl_hash_free(&h);
	ck_assert_ptr_null(h);
	uidl_hash_free(&h);
}
END_TEST

START_TEST(test_set)
{
	struct uidl_set	*s = uidl_set_new(0);
	char		 hex[UIDL_HEX_LEN + 1];
	unsigned	 i;

	ck_assert_uint_eq(uidl_set_add(s, "ba7816bf8f01cfea414140de5dae2223"),
	    0);
	ck_assert_uint_eq(uidl_set_add(s, "ba7816bf8f01cfea414140de5dae2223"),
	    1);
	/* a full UIDL counts as its hash */
	ck_assert_uint_eq(uidl_set_add(s,
	    "ba7816bf8f01cfea414140de5dae2223-7"), 2);
	/* many keys, well past the first table size; some share a slot */
	for (i = 0; i < 100000; i++) {
		snprintf(hex, sizeof(hex), "%08x%024x", i * 2654435761u, i);
		ck_assert_uint_eq(uidl_set_add(s, hex), 0);
	}
	for (i = 0; i < 100000; i += 997) {
		snprintf(hex, sizeof(hex), "%08x%024x", i * 2654435761u, i);
		ck_assert_uint_eq(uidl_set_add(s, hex), 1);
	}
	uidl_set_free(&s);
	ck_assert_ptr_null(s);
}
END_TEST

START_TEST(test_format)
{
	char	out[MBOX_UIDL_SIZE];

	uidl_format(out, "0123456789abcdef0123456789abcdefXX", 0);
	ck_assert_str_eq(out, "0123456789abcdef0123456789abcdef");
	uidl_format(out, "0123456789abcdef0123456789abcdef", 2);
	ck_assert_str_eq(out, "0123456789abcdef0123456789abcdef-2");
	uidl_format(out, "0123456789abcdef0123456789abcdef", UINT32_MAX);
	ck_assert_str_eq(out,
	    "0123456789abcdef0123456789abcdef-4294967295");
	ck_assert(uidl_is_valid(out) && uidl_is_ours(out));
}
END_TEST

struct syntax_case {
	const char	*s;
	bool		 valid;	/* RFC 1939 */
	bool		 ours;	/* uidl_format()'s shape */
};

static const struct syntax_case syntax_cases[] = {
	{ "", false, false },
	{ "a", true, false },
	{ "~!", true, false },
	{ "a b", false, false },
	{ "a\x7f", false, false },
	{ "a\t", false, false },
	{ "0123456789abcdef0123456789abcdef", true, true },
	{ "0123456789abcdef0123456789abcdef-1", true, true },
	{ "0123456789abcdef0123456789abcdef-10", true, true },
	{ "0123456789abcdef0123456789abcdef-0", true, false },
	{ "0123456789abcdef0123456789abcdef-01", true, false },
	{ "0123456789abcdef0123456789abcdef-", true, false },
	{ "0123456789ABCDEF0123456789abcdef", true, false },
	{ "0123456789abcdef0123456789abcde", true, false },
	{ "0123456789abcdef0123456789abcdef-12345678901", true, false },
	{ "01234567890123456789012345678901234"
	    "56789012345678901234567890123456789", true, false },
	{ "01234567890123456789012345678901234"
	    "567890123456789012345678901234567890", false, false },
};

START_TEST(test_syntax)
{
	const struct syntax_case *c = &syntax_cases[_i];

	ck_assert_msg(uidl_is_valid(c->s) == c->valid,
	    "\"%s\": valid got %d, want %d", c->s, !c->valid, c->valid);
	ck_assert_msg(uidl_is_ours(c->s) == c->ours,
	    "\"%s\": ours got %d, want %d", c->s, !c->ours, c->ours);
}
END_TEST

#define HDR(n)	"From a@b Mon Jan  1 00:00:0" #n " 2024\nSubject: " #n "\n\n"

static const char maildrop[] =
    HDR(1) "one\n\n"
    HDR(2) "two\n\n"
    HDR(1) "one again, another body\n\n"
    HDR(3) "three\n\n"
    HDR(1) "and once more\n\n";

static void
scan(int fd, struct mbox_table *t)
{
	struct reason	r;

	mbox_table_init(t);
	ck_assert_int_eq(mbox_scan(fd, 0, t, &r), 0);
}

START_TEST(test_scan_uidls)
{
	struct mbox_table	t, again, other;
	struct reason		r;
	bool			deleted[5] = { false, true, false, false,
				    false };
	size_t			i;
	int			fd, fd2, dst;

	fd = mt_file("mbox", S(maildrop));
	scan(fd, &t);
	ck_assert_uint_eq(t.n, 5);
	for (i = 0; i < t.n; i++) {
		ck_assert(uidl_is_valid(t.v[i].uidl));
		ck_assert(uidl_is_ours(t.v[i].uidl));
		ck_assert_uint_le(strlen(t.v[i].uidl), POP3_UIDL_MAX);
	}
	/* the same headers: the same hash, numbered; the body plays no part */
	ck_assert_int_eq(strncmp(t.v[0].uidl, t.v[2].uidl, UIDL_HEX_LEN), 0);
	ck_assert_str_eq(t.v[0].uidl + UIDL_HEX_LEN, "");
	ck_assert_str_eq(t.v[2].uidl + UIDL_HEX_LEN, "-1");
	ck_assert_str_eq(t.v[4].uidl + UIDL_HEX_LEN, "-2");
	ck_assert_str_ne(t.v[0].uidl, t.v[1].uidl);
	ck_assert_str_ne(t.v[1].uidl, t.v[3].uidl);

	/* stable across a new scan */
	scan(fd, &again);
	for (i = 0; i < t.n; i++)
		ck_assert_str_eq(t.v[i].uidl, again.v[i].uidl);

	/* the same message elsewhere, without its separator: the same */
	fd2 = mt_file("other", S(HDR(2) "two\n\n" HDR(9) "x\n"));
	scan(fd2, &other);
	ck_assert_str_eq(other.v[0].uidl, t.v[1].uidl);
	mbox_table_deinit(&other);
	close(fd2);
	fd2 = mt_file("other", S(HDR(2) "different body"));
	scan(fd2, &other);
	ck_assert_str_eq(other.v[0].uidl, t.v[1].uidl);
	mbox_table_deinit(&other);
	close(fd2);

	/* deleting message 2 changes no one else's */
	dst = mt_file("mbox.new", "", 0);
	ck_assert_int_eq(mbox_rewrite_copy(fd, &t, deleted, dst, NULL, &r), 0);
	mbox_table_deinit(&again);
	scan(dst, &again);
	ck_assert_uint_eq(again.n, 4);
	ck_assert_str_eq(again.v[0].uidl, t.v[0].uidl);
	ck_assert_str_eq(again.v[1].uidl, t.v[2].uidl);
	ck_assert_str_eq(again.v[2].uidl, t.v[3].uidl);
	ck_assert_str_eq(again.v[3].uidl, t.v[4].uidl);
	mbox_table_deinit(&t);
	mbox_table_deinit(&again);
	close(fd);
	close(dst);
}
END_TEST

/* What goes into the hash: the From_ line and every header byte. */
START_TEST(test_scan_uidl_inputs)
{
	static const char *const variants[] = {
		"From a@b Mon Jan  1 00:00:01 2024\nSubject: 1\n\nbody\n",
		"From a@b Mon Jan  1 00:00:02 2024\nSubject: 1\n\nbody\n",
		"From c@d Mon Jan  1 00:00:01 2024\nSubject: 1\n\nbody\n",
		"From a@b Mon Jan  1 00:00:01 2024\nSubject: 2\n\nbody\n",
		"From a@b Mon Jan  1 00:00:01 2024\nSubject: 1\r\n\r\nbody\n",
		"From a@b Mon Jan  1 00:00:01 2024\nSubject: 1\n",
		"From a@b Mon Jan  1 00:00:01 2024\n\nbody\n",
		"From a@b Mon Jan  1 00:00:01 2024\n",
	};
	struct mbox_table	t[nitems(variants)];
	size_t			i, k;
	int			fd;

	for (i = 0; i < nitems(variants); i++) {
		fd = mt_memfd(variants[i], strlen(variants[i]));
		scan(fd, &t[i]);
		ck_assert_uint_eq(t[i].n, 1);
		close(fd);
	}
	for (i = 0; i < nitems(variants); i++)
		for (k = i + 1; k < nitems(variants); k++)
			ck_assert_msg(strcmp(t[i].v[0].uidl, t[k].v[0].uidl),
			    "variants %zu and %zu hash the same", i, k);
	for (i = 0; i < nitems(variants); i++)
		mbox_table_deinit(&t[i]);
}
END_TEST

static Suite *
uidl_suite(void)
{
	Suite	*s = suite_create("uidl");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, mt_setup, mt_teardown);
	tcase_add_test(tc, test_hash_vector);
	tcase_add_test(tc, test_set);
	tcase_add_test(tc, test_format);
	tcase_add_loop_test(tc, test_syntax, 0, nitems(syntax_cases));
	tcase_add_test(tc, test_scan_uidls);
	tcase_add_test(tc, test_scan_uidl_inputs);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(uidl_suite)
