/*
 * Unit tests for common/base64.c: the RFC 4648 test vectors both ways,
 * strict refusal of everything that is not the one canonical encoding,
 * buffer sizes.
 */
#include "autoconf.h"

#include <string.h>

#include "base64.h"
#include "unit.h"

struct vector {
	const char	*plain, *encoded;
};

/* RFC 4648 10, plus SASL PLAIN ("\0user\0pass") and binary octets. */
static const struct vector vectors[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
	{ "\xff\xfe\xfd", "//79" },
	{ "\xfb\xff", "+/8=" },
};

START_TEST(test_encode)
{
	const struct vector	*v = &vectors[_i];
	char			 out[64];

	ck_assert_int_eq(base64_encode(v->plain, strlen(v->plain), out,
	    sizeof(out)), 0);
	ck_assert_msg(strcmp(out, v->encoded) == 0, "got %s, want %s", out,
	    v->encoded);
	ck_assert_uint_eq(strlen(out), BASE64_ENCODED_LEN(strlen(v->plain)));
}
END_TEST

START_TEST(test_decode)
{
	const struct vector	*v = &vectors[_i];
	char			 out[64];
	size_t			 n = 99;

	ck_assert_int_eq(base64_decode(v->encoded, strlen(v->encoded), out,
	    sizeof(out), &n), 0);
	ck_assert_msg(n == strlen(v->plain) && memcmp(out, v->plain, n) == 0,
	    "%s: got %zu octets", v->encoded, n);
	ck_assert_uint_le(n, BASE64_DECODED_MAX(strlen(v->encoded)));
	/* checking only */
	ck_assert_int_eq(base64_decode(v->encoded, strlen(v->encoded), NULL,
	    0, &n), 0);
	ck_assert_uint_eq(n, strlen(v->plain));
}
END_TEST

START_TEST(test_sasl_plain)
{
	static const char	want[] = "\0alice\0secret";
	char			out[32];
	size_t			n;

	ck_assert_int_eq(base64_decode("AGFsaWNlAHNlY3JldA==", 20, out,
	    sizeof(out), &n), 0);
	ck_assert_uint_eq(n, sizeof(want) - 1);
	ck_assert(memcmp(out, want, n) == 0);
}
END_TEST

static const struct {
	const char	*in;
	size_t		 len;	/* 0: strlen */
} bad[] = {
	{ "Zg=", 0 },		/* length not a multiple of 4 */
	{ "Zg", 0 },
	{ "Z", 0 },
	{ "Zm9vY", 0 },
	{ "Zg===", 0 },
	{ "====", 0 },
	{ "Z===", 0 },		/* one character cannot make an octet */
	{ "Zh==", 0 },		/* leftover bits set: "Zg==" is the encoding */
	{ "Zm9=", 0 },		/* likewise: "Zm8=" */
	{ "Zg==Zg==", 0 },	/* padding in the middle */
	{ "Z=g=", 0 },
	{ "Zm 9v", 0 },
	{ "Zm9v\n", 0 },
	{ "Zm9v\r\n", 0 },
	{ "Zm9-", 0 },		/* base64url, not base64 */
	{ "Zm9_", 0 },
	{ "Zm9\x80", 0 },
	{ "Zm\0v", 4 },
};

START_TEST(test_decode_bad)
{
	const char	*in = bad[_i].in;
	size_t		 len = bad[_i].len != 0 ? bad[_i].len : strlen(in);
	char		 out[64];

	ck_assert_msg(base64_decode(in, len, out, sizeof(out), NULL) == -1,
	    "bad[%d] \"%s\": got success, want failure", _i, in);
	ck_assert_msg(base64_decode(in, len, NULL, 0, NULL) == -1,
	    "bad[%d] \"%s\": check got success, want failure", _i, in);
}
END_TEST

START_TEST(test_sizes)
{
	char	out[8];
	size_t	n;

	/* "foobar" needs 8 characters and the NUL */
	ck_assert_int_eq(base64_encode("foobar", 6, out, 8), -1);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(base64_encode("fooba", 5, out, 8), -1);
	ck_assert_int_eq(base64_encode("foo", 3, out, 5), 0);
	ck_assert_str_eq(out, "Zm9v");
	/* decoding into too small a buffer fails */
	ck_assert_int_eq(base64_decode("Zm9vYmFy", 8, out, 5, &n), -1);
	ck_assert_int_eq(base64_decode("Zm9vYmFy", 8, out, 6, &n), 0);
	ck_assert_uint_eq(n, 6);
	ck_assert_int_eq(base64_decode("Zm9vYg==", 8, out, 4, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(base64_decode("Zm9vYg==", 8, out, 3, &n), -1);
}
END_TEST

/* Every octet string of length 0..4 over a few values round-trips. */
START_TEST(test_roundtrip)
{
	unsigned char	in[4], back[4];
	char		enc[9];
	size_t		len, n, i;
	unsigned	k;
	static const unsigned char vals[] = { 0, 1, 0x3f, 0x40, 0x7f, 0x80,
	    0xfe, 0xff };

	for (len = 0; len <= 4; len++) {
		unsigned total = 1;

		for (i = 0; i < len; i++)
			total *= nitems(vals);
		for (k = 0; k < total; k++) {
			unsigned	x = k;

			for (i = 0; i < len; i++) {
				in[i] = vals[x % nitems(vals)];
				x /= nitems(vals);
			}
			ck_assert_int_eq(base64_encode(in, len, enc,
			    sizeof(enc)), 0);
			ck_assert_int_eq(base64_decode(enc, strlen(enc), back,
			    sizeof(back), &n), 0);
			ck_assert_uint_eq(n, len);
			ck_assert(memcmp(in, back, len) == 0);
		}
	}
}
END_TEST

static Suite *
base64_suite(void)
{
	Suite	*s = suite_create("base64");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, test_encode, 0, nitems(vectors));
	tcase_add_loop_test(tc, test_decode, 0, nitems(vectors));
	tcase_add_test(tc, test_sasl_plain);
	tcase_add_loop_test(tc, test_decode_bad, 0, nitems(bad));
	tcase_add_test(tc, test_sizes);
	tcase_add_test(tc, test_roundtrip);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(base64_suite)
