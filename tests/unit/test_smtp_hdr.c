/*
 * Unit tests for smtpd/smtp_hdr.c: which headers a submitted message
 * gets, where they go, and that nothing else changes. Each case runs
 * with the text in one piece and one octet at a time.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rfc5322.h"
#include "smtpd/smtp_hdr.h"
#include "unit.h"

#define NOW	((time_t)1764633600)	/* a fixed "now" */
#define QID	"01ABCDEFGHJKMNPQ"

struct out {
	char	*buf;
	size_t	 len;
};

static int
sink(void *arg, const char *buf, size_t len)
{
	struct out	*o = arg;

	o->buf = realloc(o->buf, o->len + len + 1);
	ck_assert_ptr_nonnull(o->buf);
	memcpy(o->buf + o->len, buf, len);
	o->len += len;
	o->buf[o->len] = '\0';
	return 0;
}

/* In the want texts, placeholders for the Date:, Message-ID: and From: lines. */
#define DM	"\001\002"
#define DMF	"\001\002\003"
#define F	"\003"
static const struct {
	const char	*name;
	bool		 active;
	const char	*fullname;
	const char	*in;
	const char	*want;
} cases[] = {
	{ "all missing", true, "Ann User", "Subject: x\n\nbody\n",
	  "Subject: x\n" DMF "\nbody\n" },
	{ "all present", true, "Ann User",
	  "Date: d\nMessage-ID: <m@x>\nFrom: f@x\n\nbody\n",
	  "Date: d\nMessage-ID: <m@x>\nFrom: f@x\n\nbody\n" },
	{ "names in any case", true, "Ann User",
	  "date: d\nMESSAGE-id: <m@x>\nfROM: f@x\n\nb\n",
	  "date: d\nMESSAGE-id: <m@x>\nfROM: f@x\n\nb\n" },
	{ "only From missing", true, "Ann User",
	  "Date: d\nMessage-ID: <m@x>\n\nb\n", "Date: d\nMessage-ID: <m@x>\n" F "\nb\n" },
	{ "other names do not count", true, "Ann User",
	  "X-Date: d\nResent-From: r@x\nMessage-IDs: y\n\nb\n",
	  "X-Date: d\nResent-From: r@x\nMessage-IDs: y\n" DMF "\nb\n" },
	{ "folded header", true, "Ann User", "Subject: a\n b\n\tc\n\nx\n",
	  "Subject: a\n b\n\tc\n" DMF "\nx\n" },
	{ "From in the body does not count", true, "Ann User",
	  "Subject: x\n\nFrom: y\n", "Subject: x\n" DMF "\nFrom: y\n" },
	{ "no header section", true, "Ann User", "hello world\nmore\n",
	  DMF "\nhello world\nmore\n" },
	{ "body without the empty line", true, "Ann User",
	  "Subject: x\nnot a header\n", "Subject: x\n" DMF "\nnot a header\n" },
	{ "header only", true, "Ann User", "Subject: x\n", "Subject: x\n" DMF },
	{ "empty message", true, "Ann User", "", DMF },
	{ "no full name", true, "", "Subject: x\n\nb\n",
	  "Subject: x\n" DM "From: ann@mx.example.test\n\nb\n" },
	{ "quotes in the full name", true, "A \"Q\" \\ B", "\nb\n",
	  DM "From: \"A \\\"Q\\\" \\\\ B\" <ann@mx.example.test>\n\nb\n" },
	{ "UTF-8 full name", true, "Zo\xc3\xab", "\nb\n",
	  DM "From: =?UTF-8?B?Wm/Dqw==?= <ann@mx.example.test>\n\nb\n" },
	{ "inactive", false, "Ann User", "Subject: x\n\nbody\n",
	  "Subject: x\n\nbody\n" },
};

/* The want text with D, M, F spelt out. */
static char *
expand(const char *want)
{
	char	date[RFC5322_DATE_MAX], *out;
	size_t	len = 0, cap = 4096;

	ck_assert_int_eq(rfc5322_date(NOW, date, sizeof(date)), 0);
	out = calloc(1, cap);
	ck_assert_ptr_nonnull(out);
	for (; *want != '\0'; want++) {
		switch (*want) {
		case '\001':
			len += (size_t)snprintf(out + len, cap - len,
			    "Date: %s\n", date);
			continue;
		case '\002':
			len += (size_t)snprintf(out + len, cap - len,
			    "Message-ID: <%lld." QID "@mx.example.test>\n",
			    (long long)NOW);
			continue;
		case '\003':
			len += (size_t)snprintf(out + len, cap - len,
			    "From: \"Ann User\" <ann@mx.example.test>\n");
			continue;
		}
		len += (size_t)snprintf(out + len, cap - len, "%c", *want);
	}
	return out;
}

static void
run_case(int i, bool trickle)
{
	struct smtp_hdr_id	id = { "ann", cases[i].fullname,
				    "mx.example.test", QID, NOW };
	struct smtp_hdr		h;
	struct out		o = { NULL, 0 };
	const char		*in = cases[i].in;
	char			*want = expand(cases[i].want);
	size_t			 k, n = strlen(in);

	smtp_hdr_init(&h, cases[i].active, &id, sink, &o);
	if (trickle)
		for (k = 0; k < n; k++)
			ck_assert_int_eq(smtp_hdr_write(&h, in + k, 1), 0);
	else if (n > 0)
		ck_assert_int_eq(smtp_hdr_write(&h, in, n), 0);
	ck_assert_int_eq(smtp_hdr_finish(&h), 0);
	smtp_hdr_free(&h);
	if (o.buf == NULL)
		o.buf = strdup("");
	ck_assert_msg(strcmp(o.buf, want) == 0, "%s%s: got \"%s\", want \"%s\"",
	    cases[i].name, trickle ? " (trickled)" : "", o.buf, want);
	free(o.buf);
	free(want);
}

START_TEST(test_whole)
{
	run_case(_i, false);
}
END_TEST

START_TEST(test_trickle)
{
	run_case(_i, true);
}
END_TEST

static Suite *
smtp_hdr_suite(void)
{
	Suite	*s = suite_create("smtp_hdr");
	TCase	*tc = tcase_create("core");

	setenv("TZ", "UTC", 1);
	tcase_add_loop_test(tc, test_whole, 0, nitems(cases));
	tcase_add_loop_test(tc, test_trickle, 0, nitems(cases));
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(smtp_hdr_suite)
