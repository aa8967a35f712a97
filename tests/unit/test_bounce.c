/*
 * Unit tests for queue/bounce.c. The generated DSN is handed to
 * Python's email package (the configured python3), which must parse it
 * without defects as a multipart/report with the three right parts and
 * the right per-recipient fields; the C side checks line ends, the cut
 * of the returned message, uniqueness, hostile diagnostics and errors.
 */
#include "autoconf.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "queue/bounce.h"
#include "unit.h"

#ifndef PYTHON3
#define PYTHON3	""
#endif

/* Wed, 25 Nov 2026 17:41:33 UTC */
#define T0	((time_t)1795628493)

static char	tmpdir[64];

static void
setup(void)
{
	strcpy(tmpdir, "/tmp/test_bounce.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	setenv("TZ", "UTC0", 1);
}

static void
teardown(void)
{
	char	cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

struct buf {
	char	*p;
	size_t	 len;
	int	 fail_after;	/* calls; 0 = never fail */
	int	 calls;
};

static int
sink(void *arg, const char *s, size_t n)
{
	struct buf	*b = arg;

	if (b->fail_after != 0 && ++b->calls > b->fail_after)
		return -1;
	b->p = realloc(b->p, b->len + n + 1);
	ck_assert_ptr_nonnull(b->p);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

/* A file in tmpdir holding text; returns an open fd (read only). */
static int
message_fd(const char *text, size_t len)
{
	char	path[128];
	int	fd;

	snprintf(path, sizeof(path), "%s/msg", tmpdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	return fd;
}

static const char original[] =
    "Return-Path: <alice@example.org>\n"
    "Received: from client (client [192.0.2.7])\n"
    "\tby mx.example.org (maild) with ESMTP id 4Q1AB2CD3EF;\n"
    "\tWed, 25 Nov 2026 17:41:33 +0000\n"
    "From: Alice <alice@example.org>\n"
    "To: bob@example.net, carol@example.net\n"
    "Subject: Lunch on Friday\n"
    "Message-ID: <lunch-1@example.org>\n"
    "\n"
    "Shall we?\n"
    "--\n"
    "Alice\n";

static const struct bounce_rcpt rcpts[] = {
	{ "bob@example.net", "bob@example.net", NULL, "5.1.1",
	    "smtp; 550 5.1.1 <bob@example.net>: Recipient address rejected: "
	    "User unknown in virtual mailbox table", "mx.example.net", 0 },
	{ "carol@example.net", NULL, NULL, "4.4.7",
	    "x-local; delivery time expired after 5 days", NULL, 0 },
	{ "j\xc3\xb6rg@example.net", "j\\x{F6}rg@example.net", "utf-8",
	    "5.1.1", NULL, NULL, 0 },
};

static void
init_info(struct bounce_info *b, int fd, size_t len)
{
	memset(b, 0, sizeof(*b));
	b->hostname = "mx.example.org";
	b->queue_id = "4Q1AB2CD3EF";
	b->arrival = T0 - 5 * 86400;
	b->date = T0;
	b->sender = "alice@example.org";
	b->envid = "QQ314159";
	b->rcpts = rcpts;
	b->nrcpts = nitems(rcpts);
	b->msg_fd = fd;
	b->msg_off = 0;
	b->msg_len = (off_t)len;
}

/*
 * Python checks: argv[1] the bounce, argv[2] the type of the third part,
 * argv[3] the Subject expected in the returned message or header.
 */
static const char checker[] =
"import sys, email, email.policy\n"
"def fail(why):\n"
"    print(why); sys.exit(1)\n"
"raw = open(sys.argv[1], 'rb').read()\n"
"if b'\\r' in raw: fail('CR in the bounce')\n"
"m = email.message_from_bytes(raw, policy=email.policy.default)\n"
"if m.defects: fail('defects: %r' % m.defects)\n"
"if m.get_content_type() != 'multipart/report': fail(m.get_content_type())\n"
"if m.get_param('report-type') != 'delivery-status': fail('report-type')\n"
"for h in ('From', 'To', 'Subject', 'Date', 'Message-ID', 'MIME-Version'):\n"
"    if m[h] is None: fail('no ' + h)\n"
"if m['Auto-Submitted'] != 'auto-replied': fail('Auto-Submitted')\n"
"if m['To'].addresses[0].addr_spec != 'alice@example.org': fail('To')\n"
"if m['From'].addresses[0].addr_spec != 'MAILER-DAEMON@mx.example.org': fail('From')\n"
"parts = m.get_payload()\n"
"types = [p.get_content_type() for p in parts]\n"
"if types != ['text/plain', 'message/delivery-status', sys.argv[2]]: fail(types)\n"
"for p in parts:\n"
"    if p.defects: fail('part defects: %r' % p.defects)\n"
"blocks = parts[1].get_payload()\n"
"if len(blocks) != 4: fail('%d status blocks' % len(blocks))\n"
"if blocks[0]['Reporting-MTA'] != 'dns; mx.example.org': fail('Reporting-MTA')\n"
"if blocks[0]['Original-Envelope-Id'] != 'QQ314159': fail('ENVID')\n"
"if not blocks[0]['Arrival-Date'].startswith('Fri, 20 Nov 2026'): fail('Arrival-Date')\n"
"want = [('rfc822; bob@example.net', '5.1.1'),\n"
"    ('rfc822; carol@example.net', '4.4.7'),\n"
"    ('utf-8; j\u00f6rg@example.net', '5.1.1')]\n"
"for b, (addr, st) in zip(blocks[1:], want):\n"
"    if b['Final-Recipient'] != addr: fail(b['Final-Recipient'])\n"
"    if b['Action'] != 'failed': fail('Action')\n"
"    if b['Status'] != st: fail('Status ' + str(b['Status']))\n"
"if not blocks[1]['Diagnostic-Code']: fail('Diagnostic-Code')\n"
"if blocks[3]['Diagnostic-Code'] is not None: fail('no diagnostic given')\n"
"if blocks[3]['Original-Recipient'] != 'utf-8; j\\\\x{F6}rg@example.net': fail('ORCPT 3 %r' % blocks[3]['Original-Recipient'])\n"
"if blocks[1]['Original-Recipient'] != 'rfc822; bob@example.net': fail('ORCPT')\n"
"if blocks[1]['Remote-MTA'] != 'dns; mx.example.net': fail('Remote-MTA')\n"
"if 'User unknown in virtual mailbox table' not in str(blocks[1]['Diagnostic-Code']): fail('diag')\n"
"if blocks[2]['Original-Recipient'] is not None: fail('ORCPT 2')\n"
"if sys.argv[2] == 'message/rfc822':\n"
"    inner = parts[2].get_payload()[0]\n"
"    if inner['Subject'] != sys.argv[3]: fail('inner Subject %r' % inner['Subject'])\n"
"    if 'Shall we?' not in inner.get_content(): fail('inner body')\n"
"else:\n"
"    text = parts[2].get_content()\n"
"    if 'Subject: ' + sys.argv[3] not in text: fail('headers part')\n"
"    if 'Shall we?' in text: fail('body in the headers part')\n"
"print('ok')\n";

/* Runs the checker on the bounce; skips (passes) without python3. */
static void
python_check(const struct buf *b, const char *third, const char *subject)
{
	char	path[128], script[128], cmd[512];
	FILE	*fp;
	int	rc;

	if (PYTHON3[0] == '\0') {
		fprintf(stderr, "no python3: DSN parse check skipped\n");
		return;
	}
	snprintf(path, sizeof(path), "%s/bounce", tmpdir);
	snprintf(script, sizeof(script), "%s/check.py", tmpdir);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fwrite(b->p, 1, b->len, fp);
	ck_assert_int_eq(fclose(fp), 0);
	fp = fopen(script, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(checker, fp);
	ck_assert_int_eq(fclose(fp), 0);
	snprintf(cmd, sizeof(cmd), "%s '%s' '%s' '%s' '%s'", PYTHON3, script,
	    path, third, subject);
	rc = system(cmd);
	ck_assert_msg(rc == 0, "python's email package refused the bounce "
	    "(%d):\n%s", rc, b->p);
}

/* Every line ends in LF, none is longer than 998 octets. */
static void
check_lines(const struct buf *b)
{
	const char	*p = b->p, *nl;

	ck_assert(b->len > 0 && b->p[b->len - 1] == '\n');
	for (; p < b->p + b->len; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(b->p + b->len - p));
		ck_assert_ptr_nonnull(nl);
		ck_assert_msg(nl - p <= 998, "line of %d octets",
		    (int)(nl - p));
		ck_assert(memchr(p, '\r', (size_t)(nl - p)) == NULL);
	}
}

START_TEST(test_full)
{
	struct bounce_info	bi;
	struct buf		b = { NULL, 0, 0, 0 };
	struct reason		r;
	int			fd = message_fd(original, sizeof(original) - 1);

	init_info(&bi, fd, sizeof(original) - 1);
	ck_assert_int_eq(bounce_write(&bi, sink, &b, &r), 0);
	check_lines(&b);
	ck_assert_ptr_nonnull(strstr(b.p, "\nSubject: Undelivered Mail "
	    "Returned to Sender\n"));
	ck_assert_ptr_nonnull(strstr(b.p, "\nDate: Wed, 25 Nov 2026 17:41:33 "
	    "+0000\n"));
	ck_assert_ptr_nonnull(strstr(b.p, "\nX-Maild-Queue-ID: 4Q1AB2CD3EF\n"));
	/* the original, whole and unchanged */
	ck_assert_ptr_nonnull(strstr(b.p, original));
	python_check(&b, "message/rfc822", "Lunch on Friday");
	free(b.p);
	close(fd);
}
END_TEST

/* A delay notice and a success report: the same report, other words. */
START_TEST(test_kinds)
{
	struct bounce_info	bi;
	struct bounce_rcpt	rc[nitems(rcpts)];
	struct buf		b = { NULL, 0, 0, 0 };
	struct reason		r;
	int			fd = message_fd(original, sizeof(original) - 1);
	const char		*p;
	size_t			i, n;

	memcpy(rc, rcpts, sizeof(rc));
	for (i = 0; i < nitems(rc); i++)
		rc[i].last_attempt = T0 - 60;
	init_info(&bi, fd, sizeof(original) - 1);
	bi.rcpts = rc;
	bi.kind = BOUNCE_DELAYED;
	bi.retry_until = T0 + 86400;
	bi.headers_only = true;
	ck_assert_int_eq(bounce_write(&bi, sink, &b, &r), 0);
	check_lines(&b);
	ck_assert_ptr_nonnull(strstr(b.p, "\nSubject: Delayed Mail (still "
	    "being retried)\n"));
	ck_assert_ptr_nonnull(strstr(b.p, "This is a warning only"));
	ck_assert_ptr_nonnull(strstr(b.p, "will keep trying until Thu, 26 Nov "
	    "2026 17:41:33 +0000."));
	for (n = 0, p = b.p; (p = strstr(p, "\nAction: delayed\n")) != NULL;
	    p++)
		n++;
	ck_assert_uint_eq(n, nitems(rc));
	ck_assert_ptr_null(strstr(b.p, "Action: failed"));
	ck_assert_ptr_nonnull(strstr(b.p, "\nWill-Retry-Until: Thu, 26 Nov 2026 "
	    "17:41:33 +0000\n"));
	ck_assert_ptr_nonnull(strstr(b.p, "\nLast-Attempt-Date: Wed, 25 Nov "
	    "2026 17:40:33 +0000\n"));
	ck_assert_ptr_nonnull(strstr(b.p, "Delayed Message Headers"));
	free(b.p);

	memset(&b, 0, sizeof(b));
	bi.kind = BOUNCE_DELIVERED;
	ck_assert_int_eq(bounce_write(&bi, sink, &b, &r), 0);
	check_lines(&b);
	ck_assert_ptr_nonnull(strstr(b.p, "\nSubject: Successful Mail Delivery "
	    "Report\n"));
	ck_assert_ptr_nonnull(strstr(b.p, "\nAction: delivered\n"));
	ck_assert_ptr_null(strstr(b.p, "Will-Retry-Until"));
	free(b.p);

	/* an unknown kind is a bounce */
	memset(&b, 0, sizeof(b));
	bi.kind = (enum bounce_kind)77;
	ck_assert_int_eq(bounce_write(&bi, sink, &b, &r), 0);
	ck_assert_ptr_nonnull(strstr(b.p, "\nAction: failed\n"));
	free(b.p);
	close(fd);
}
END_TEST

START_TEST(test_headers_only)
{
	struct bounce_info	bi;
	struct buf		b = { NULL, 0, 0, 0 };
	struct reason		r;
	int			fd = message_fd(original, sizeof(original) - 1);
	size_t			hlen = strstr(original, "\n\n") + 1 - original;

	init_info(&bi, fd, sizeof(original) - 1);
	bi.headers_only = true;
	ck_assert_int_eq(bounce_write(&bi, sink, &b, &r), 0);
	check_lines(&b);
	ck_assert_ptr_null(strstr(b.p, "Shall we?"));
	ck_assert_ptr_nonnull(memmem(b.p, b.len, original, hlen));
	ck_assert_ptr_nonnull(strstr(b.p, "text/rfc822-headers"));
	python_check(&b, "text/rfc822-headers", "Lunch on Friday");
	free(b.p);
	close(fd);
}
END_TEST

/* The returned message is cut at a line end within return_max. */
START_TEST(test_cut)
{
	struct bounce_info	 bi;
	struct buf		 b = { NULL, 0, 0, 0 };
	struct reason		 r;
	char			*big, *p, *end;
	size_t			 o, i;
	int			 fd;

	big = malloc(200000);
	ck_assert_ptr_nonnull(big);
	o = (size_t)sprintf(big, "Subject: Lunch on Friday\n\nShall we?\n");
	for (i = 0; o < 190000; i++)
		o += (size_t)sprintf(big + o, "line %06zu of the body\n", i);
	fd = message_fd(big, o);
	init_info(&bi, fd, o);
	bi.return_max = 100000;
	ck_assert_int_eq(bounce_write(&bi, sink, &b, &r), 0);
	check_lines(&b);
	ck_assert_ptr_nonnull(strstr(b.p, "Only the first 100000 octets"));
	/* the last line returned is whole, and within the cap */
	p = strstr(b.p, "Subject: Lunch on Friday\n\nShall we?\n");
	ck_assert_ptr_nonnull(p);
	end = strstr(p, "\n\n--");
	ck_assert_ptr_nonnull(end);
	ck_assert_uint_le((size_t)(end + 1 - p), 100000);
	ck_assert_uint_gt((size_t)(end + 1 - p), 100000 - 30);
	ck_assert(memcmp(p, big, (size_t)(end + 1 - p)) == 0);
	python_check(&b, "message/rfc822", "Lunch on Friday");
	free(b.p);

	/* the header section is capped too */
	b.p = NULL;
	b.len = 0;
	bi.headers_only = true;
	bi.return_max = 10;
	ck_assert_int_eq(bounce_write(&bi, sink, &b, &r), 0);
	ck_assert_ptr_null(strstr(b.p, "Subject: Lunch"));
	ck_assert_ptr_null(strstr(b.p, "Only the first"));
	free(b.p);
	free(big);
	close(fd);
}
END_TEST

/* A message without a final LF, or without a body, still frames well. */
START_TEST(test_odd_originals)
{
	static const char *const texts[] = {
		"Subject: Lunch on Friday\n\nShall we?",
		"Subject: Lunch on Friday\n",
		"Subject: Lunch on Friday",
		"",
	};
	struct bounce_info	bi;
	struct buf		b;
	struct reason		r;
	size_t			i;
	int			fd, h;

	for (h = 0; h < 2; h++)
		for (i = 0; i < nitems(texts); i++) {
			memset(&b, 0, sizeof(b));
			fd = message_fd(texts[i], strlen(texts[i]));
			init_info(&bi, fd, strlen(texts[i]));
			bi.headers_only = h;
			ck_assert_int_eq(bounce_write(&bi, sink, &b, &r), 0);
			check_lines(&b);
			ck_assert_msg(memmem(b.p, b.len, "\n\n--", 4) != NULL,
			    "no closing boundary after text %zu", i);
			free(b.p);
			close(fd);
		}
}
END_TEST

START_TEST(test_unique)
{
	struct bounce_info	 bi;
	struct buf		 a = { NULL, 0, 0, 0 }, b = { NULL, 0, 0, 0 };
	struct reason		 r;
	int			 fd = message_fd(original, sizeof(original) - 1);
	const char		*ma, *mb;

	init_info(&bi, fd, sizeof(original) - 1);
	ck_assert_int_eq(bounce_write(&bi, sink, &a, &r), 0);
	ck_assert_int_eq(bounce_write(&bi, sink, &b, &r), 0);
	ma = strstr(a.p, "Message-ID: ");
	mb = strstr(b.p, "Message-ID: ");
	ck_assert(ma != NULL && mb != NULL);
	ck_assert_msg(strncmp(ma, mb, strcspn(ma, "\n")) != 0,
	    "two bounces with the same Message-ID");
	ck_assert_ptr_nonnull(strstr(ma, "@mx.example.org>\n"));
	ma = strstr(a.p, "boundary=\"");
	mb = strstr(b.p, "boundary=\"");
	ck_assert(ma != NULL && mb != NULL);
	ck_assert(strncmp(ma, mb, strcspn(ma, "\n")) != 0);
	free(a.p);
	free(b.p);
	close(fd);
}
END_TEST

START_TEST(test_hostile_fields)
{
	static const struct bounce_rcpt evil[] = {
		{ "bob@example.net\nX-Evil: 1", NULL, "x\ny", "5.1.1\nX",
		    "smtp; 550 no\r\nX-Injected: yes\r\n\r\n--fake--",
		    "mx\n.example", 0 },
	};
	struct bounce_info	bi;
	struct buf		b = { NULL, 0, 0, 0 };
	struct reason		r;
	int			fd = message_fd(original, sizeof(original) - 1);

	init_info(&bi, fd, sizeof(original) - 1);
	bi.rcpts = evil;
	bi.nrcpts = 1;
	bi.sender = "alice@example.org\nBcc: victim@example.com";
	bi.envid = "x\ny";
	ck_assert_int_eq(bounce_write(&bi, sink, &b, &r), 0);
	check_lines(&b);
	ck_assert_ptr_null(strstr(b.p, "\nX-Evil"));
	ck_assert_ptr_null(strstr(b.p, "\nX-Injected"));
	ck_assert_ptr_null(strstr(b.p, "\nBcc:"));
	ck_assert_ptr_null(strstr(b.p, "\n--fake--"));
	ck_assert_ptr_null(strstr(b.p, "\n.example"));
	free(b.p);
	close(fd);
}
END_TEST

START_TEST(test_errors)
{
	struct bounce_info	bi;
	struct buf		b = { NULL, 0, 3, 0 };
	struct reason		r;
	int			fd = message_fd(original, sizeof(original) - 1);

	init_info(&bi, fd, sizeof(original) - 1);
	ck_assert_int_eq(bounce_write(&bi, sink, &b, &r), -1);
	ck_assert_str_eq(r.status, "4.3.0");
	ck_assert_int_eq(b.calls, 4);	/* no call after the failure */
	free(b.p);

	/* the message is shorter than the queue says */
	memset(&b, 0, sizeof(b));
	bi.msg_len += 100;
	ck_assert_int_eq(bounce_write(&bi, sink, &b, &r), -1);
	ck_assert_str_eq(r.status, "4.3.0");
	free(b.p);
	close(fd);

	memset(&b, 0, sizeof(b));
	bi.msg_fd = -1;
	ck_assert_int_eq(bounce_write(&bi, sink, &b, &r), -1);
	free(b.p);
}
END_TEST

START_TEST(test_is_dsn_sender)
{
	ck_assert(bounce_is_dsn_sender(""));
	ck_assert(bounce_is_dsn_sender("<>"));
	ck_assert(bounce_is_dsn_sender(NULL));
	ck_assert(!bounce_is_dsn_sender("alice@example.org"));
	ck_assert(!bounce_is_dsn_sender("MAILER-DAEMON@example.org"));
	ck_assert(!bounce_is_dsn_sender("<alice@example.org>"));
}
END_TEST

static Suite *
bounce_suite(void)
{
	Suite	*s = suite_create("bounce");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_headers_only);
	tcase_add_test(tc, test_kinds);
	tcase_add_test(tc, test_cut);
	tcase_add_test(tc, test_odd_originals);
	tcase_add_test(tc, test_unique);
	tcase_add_test(tc, test_hostile_fields);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_is_dsn_sender);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(bounce_suite)
