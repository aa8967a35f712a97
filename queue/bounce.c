/*
 * Delivery status notifications for the queue runner (root): when a
 * message cannot be delivered to some recipients, it builds the bounce
 * with this and queues it to the original envelope sender. The format
 * is RFC 3464 (message/delivery-status) inside RFC 6522's
 * multipart/report, returning the original message (message/rfc822) or
 * only its header section (text/rfc822-headers, RFC 6522 4). Text with
 * LF line ends; the only I/O is pread() of the original message.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "bounce.h"
#include "bounds.h"
#include "rfc5322.h"

/* The output side: the sink and the first failure. */
struct out {
	bounce_sink_fn	*sink;
	void		*arg;
	bool		 failed;
};

static void	put(struct out *, const char *, size_t);
static void	puts_(struct out *, const char *);
static void	printf_(struct out *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
put(struct out *o, const char *s, size_t n)
{
	if (!o->failed && n > 0 && o->sink(o->arg, s, n) != 0)
		o->failed = true;
}

static void
puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void
printf_(struct out *o, const char *fmt, ...)
{
	char	buf[RFC5322_TRACE_MAX];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		o->failed = true;
	else
		put(o, buf, (size_t)n < sizeof(buf) ? (size_t)n :
		    sizeof(buf) - 1);
}

/*
 * Copies s into dst (at most size - 1 octets), replacing control
 * characters (a remote reply may have CR, LF, TAB) with spaces, so
 * that nothing from outside can start a new header or body line.
 */
static const char *
clean(char *dst, size_t size, const char *s)
{
	size_t	i;

	if (s == NULL)
		s = "";
	for (i = 0; s[i] != '\0' && i + 1 < size; i++)
		dst[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ?
		    ' ' : s[i];
	dst[i] = '\0';
	return dst;
}

static bool
is_ascii(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/* "Name: value", folded at its spaces to 78 characters where possible. */
static void
put_field(struct out *o, const char *name, const char *value)
{
	char			buf[RFC5322_TRACE_MAX], v[1000];
	struct rfc5322_fold	f;

	rfc5322_fold_init(&f, buf, sizeof(buf), name);
	rfc5322_fold_add(&f, clean(v, sizeof(v), value));
	if (rfc5322_fold_end(&f) == -1)
		o->failed = true;
	else
		puts_(o, buf);
}

static void
make_unique(const struct bounce_info *b, char *buf, size_t size)
{
	uint64_t	rnd = 0;
	char		id[QUEUE_ID_MAX + 1];
	size_t		i;

	/* letters and digits only: fits a boundary and a msg-id alike */
	for (i = 0; b->queue_id != NULL && b->queue_id[i] != '\0' &&
	    i < QUEUE_ID_MAX; i++) {
		unsigned char	ch = (unsigned char)b->queue_id[i];

		id[i] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') ? (char)ch : 'x';
	}
	id[i] = '\0';
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd ^= (uint64_t)getpid() << 32 ^ (uint64_t)b->date;
	snprintf(buf, size, "%s.%lld.%016llx", id, (long long)b->date,
	    (unsigned long long)rnd);
}

/*
 * Copies the original message (or its header section) into the bounce,
 * at most max octets, cut after a LF. Returns 0, or -1 if it cannot be
 * read.
 */
static int
put_original(struct out *o, const struct bounce_info *b, size_t max)
{
	char	buf[16384];
	off_t	off = b->msg_off, end = b->msg_off + b->msg_len;
	size_t	want, n, i, keep, total = 0;
	ssize_t	got;
	bool	bol = true, lastlf = true;

	while (off < end && total < max) {
		want = (size_t)(end - off) < sizeof(buf) ?
		    (size_t)(end - off) : sizeof(buf);
		if (want > max - total)
			want = max - total;
		got = pread(b->msg_fd, buf, want, off);
		if (got == -1 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		n = (size_t)got;
		keep = n;
		if (b->headers_only) {
			/* stop at the empty line that ends the header */
			for (i = 0; i < n; i++) {
				if (buf[i] == '\n' && bol) {
					keep = i;
					off = end;	/* done */
					break;
				}
				bol = buf[i] == '\n';
			}
		}
		if (off != end && total + n >= max && off + (off_t)n < end) {
			/* the cap: cut after the last whole line */
			while (keep > 0 && buf[keep - 1] != '\n')
				keep--;
			off = end;
		}
		put(o, buf, keep);
		if (keep > 0)
			lastlf = buf[keep - 1] == '\n';
		total += keep;
		if (off != end)
			off += (off_t)n;
	}
	if (!lastlf)
		put(o, "\n", 1);
	return 0;
}

static const char *const kind_subject[] = {
	"Undelivered Mail Returned to Sender",
	"Delayed Mail (still being retried)",
	"Successful Mail Delivery Report",
	"Mail Relayed (no further reports)",
};
static const char *const kind_action[] = {
	"failed", "delayed", "delivered", "relayed"
};
static const char *const kind_message[] = {
	"Undelivered", "Delayed", "Delivered", "Relayed"
};

int
bounce_write(const struct bounce_info *b, bounce_sink_fn *sink, void *arg,
    struct reason *r)
{
	struct out	 o = { sink, arg, false };
	char		 date[RFC5322_DATE_MAX], uniq[128], t1[1000], t2[1000];
	const char	*host = b->hostname, *ct;
	enum bounce_kind kind = b->kind;
	size_t		 i, max;
	bool		 cut;

	if ((unsigned)kind > BOUNCE_RELAYED)
		kind = BOUNCE_FAILED;

	if (rfc5322_date(b->date, date, sizeof(date)) == -1)
		date[0] = '\0';
	make_unique(b, uniq, sizeof(uniq));
	max = b->return_max != 0 ? b->return_max : BOUNCE_RETURN_MAX;
	cut = !b->headers_only && b->msg_len > 0 &&
	    (uint64_t)b->msg_len > max;

	/* the header; RFC 3834 5: Auto-Submitted against loops */
	printf_(&o, "From: MAILER-DAEMON@%s (Mail Delivery System)\n",
	    clean(t1, sizeof(t1), host));
	printf_(&o, "To: <%s>\n", clean(t1, sizeof(t1), b->sender));
	printf_(&o, "Subject: %s\n", kind_subject[kind]);
	puts_(&o, "Auto-Submitted: auto-replied\n");
	printf_(&o, "Date: %s\n", date);
	printf_(&o, "Message-ID: <%s@%s>\n", uniq, clean(t2, sizeof(t2), host));
	puts_(&o, "MIME-Version: 1.0\n");
	printf_(&o, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\n\tboundary=\"%s\"\n", uniq);
	if (b->eightbit)
		puts_(&o, "Content-Transfer-Encoding: 8bit\n");
	puts_(&o, "\nThis is a MIME-encapsulated message.\n\n");

	/* 1: for people */
	printf_(&o, "--%s\n", uniq);
	puts_(&o, "Content-Description: Notification\n"
	    "Content-Type: text/plain; charset=us-ascii\n\n");
	printf_(&o, "This is the mail system at %s.\n\n",
	    clean(t1, sizeof(t1), host));
	switch (kind) {
	case BOUNCE_FAILED:
		printf_(&o, "Your message could not be delivered to one or "
		    "more of its recipients.\nThe reasons follow; %s is "
		    "attached.\n\n", b->headers_only ?
		    "the header of the message" : "a copy of the message");
		break;
	case BOUNCE_DELAYED:
		if (b->retry_until > 0 && rfc5322_date(b->retry_until, t2,
		    sizeof(t2)) == 0)
			printf_(&o, "This is a warning only; you do not need "
			    "to send your message again.\nIt has not yet "
			    "been delivered to the recipients below; the mail "
			    "system\nwill keep trying until %s.\n\n", t2);
		else
			puts_(&o, "This is a warning only; you do not need to "
			    "send your message again.\nIt has not yet been "
			    "delivered to the recipients below; the mail "
			    "system\nwill keep trying.\n\n");
		break;
	case BOUNCE_DELIVERED:
		puts_(&o, "Your message was delivered to the recipients below, "
		    "as you asked\n(NOTIFY=SUCCESS).\n\n");
		break;
	case BOUNCE_RELAYED:
		puts_(&o, "Your message was relayed to the recipients below "
		    "to a mail system that\ndoes not send delivery "
		    "notifications; you may hear no more of it.\n\n");
		break;
	}
	for (i = 0; i < b->nrcpts; i++) {
		/* 254 + 700 octets: within the 998 of RFC 5322 2.1.1 */
		printf_(&o, "<%s>: %s\n", clean(t1, ADDR_TEXT_MAX + 1,
		    b->rcpts[i].addr), clean(t2, 700,
		    b->rcpts[i].diagnostic != NULL ? b->rcpts[i].diagnostic :
		    b->rcpts[i].status));
	}
	if (cut)
		printf_(&o, "\nOnly the first %zu octets of the message are "
		    "returned.\n", max);

	/* 2: for programs, RFC 3464 2.2 and 2.3 */
	printf_(&o, "\n--%s\n", uniq);
	puts_(&o, "Content-Description: Delivery report\n"
	    "Content-Type: message/delivery-status\n\n");
	printf_(&o, "Reporting-MTA: dns; %s\n", clean(t1, sizeof(t1), host));
	if (b->queue_id != NULL)
		printf_(&o, "X-Maild-Queue-ID: %s\n",
		    clean(t1, sizeof(t1), b->queue_id));
	if (b->envid != NULL && b->envid[0] != '\0')
		put_field(&o, "Original-Envelope-Id", b->envid);
	if (rfc5322_date(b->arrival, t1, sizeof(t1)) == 0)
		printf_(&o, "Arrival-Date: %s\n", t1);
	for (i = 0; i < b->nrcpts; i++) {
		const struct bounce_rcpt	*rc = &b->rcpts[i];

		printf_(&o, "\nFinal-Recipient: %s; %s\n",
		    is_ascii(rc->addr) ? "rfc822" : "utf-8",
		    clean(t1, sizeof(t1), rc->addr));
		if (rc->orcpt != NULL && rc->orcpt[0] != '\0')
			printf_(&o, "Original-Recipient: %s; %s\n",
			    clean(t2, SMTP_ADDRTYPE_MAX + 1,
			    rc->orcpt_type != NULL ? rc->orcpt_type :
			    "rfc822"), clean(t1, sizeof(t1), rc->orcpt));
		printf_(&o, "Action: %s\n", kind_action[kind]);
		printf_(&o, "Status: %s\n", clean(t1, 8, rc->status));
		if (rc->remote_mta != NULL && rc->remote_mta[0] != '\0')
			printf_(&o, "Remote-MTA: dns; %s\n",
			    clean(t1, sizeof(t1), rc->remote_mta));
		if (rc->diagnostic != NULL && rc->diagnostic[0] != '\0')
			put_field(&o, "Diagnostic-Code", rc->diagnostic);
		if (rc->last_attempt > 0 && rfc5322_date(rc->last_attempt, t1,
		    sizeof(t1)) == 0)
			printf_(&o, "Last-Attempt-Date: %s\n", t1);
		if (kind == BOUNCE_DELAYED && b->retry_until > 0 &&
		    rfc5322_date(b->retry_until, t1, sizeof(t1)) == 0)
			printf_(&o, "Will-Retry-Until: %s\n", t1);
	}

	/* 3: the message, RFC 6522 3 and 4 */
	printf_(&o, "\n--%s\n", uniq);
	if (b->headers_only) {
		ct = "text/rfc822-headers";
		printf_(&o, "Content-Description: %s Message Headers\n",
		    kind_message[kind]);
	} else {
		ct = "message/rfc822";
		printf_(&o, "Content-Description: %s Message\n",
		    kind_message[kind]);
	}
	printf_(&o, "Content-Type: %s\n", ct);
	if (b->eightbit)
		puts_(&o, "Content-Transfer-Encoding: 8bit\n");
	puts_(&o, "\n");
	if (!o.failed && put_original(&o, b, max) == -1) {
		reason_set(r, "4.3.0", "cannot read the original message");
		return -1;
	}
	printf_(&o, "\n--%s--\n", uniq);
	if (o.failed) {
		reason_set(r, "4.3.0", "cannot write the bounce");
		return -1;
	}
	return 0;
}

bool
bounce_is_dsn_sender(const char *sender)
{
	return sender == NULL || sender[0] == '\0' || strcmp(sender, "<>") == 0;
}
