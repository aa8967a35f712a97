/*
 * Every fixed bound in maild, with its reason. Buffers are sized from
 * these; nothing else in the tree invents a size.
 */
#ifndef MAILD_BOUNDS_H
#define MAILD_BOUNDS_H

/* The number of elements of an array (not a pointer). */
#define NITEMS(a)		(sizeof(a) / sizeof((a)[0]))

/* One log line, before syslog adds its own prefix. */
#define LOG_LINE_MAX		1024
/* "sid=" values: 12 base32 characters, about 60 random bits. */
#define SESSION_ID_MAX		12
/* Queue ids: time-derived, sortable, unique per host; see queue_file.h. */
#define QUEUE_ID_MAX		24
/* Recipients one queue file may hold (the reader refuses more). */
#define QUEUE_RCPTS_MAX		100000

/* RFC 5321 4.5.3.1.4: a command line is at most 512 octets with CRLF. */
#define SMTP_CMD_LINE_MAX	512
/*
 * We accept command lines a little longer than the RFC minimum, because
 * ESMTP parameters (SIZE=, BODY=, AUTH=, SMTPUTF8) push MAIL FROM past 512
 * in the wild; RFC 5321 4.5.3.1.4 allows a server to accept longer lines
 * and RFC 1869 asks for 512 plus the parameters' lengths.
 */
#define SMTP_CMD_LINE_ACCEPT	2048
/* RFC 5321 4.5.3.1.6: a text line is at most 1000 octets with CRLF. */
#define SMTP_TEXT_LINE_MAX	1000
/*
 * What smtp.max_line_length allows by default: real mail (HTML
 * newsletters, generated reports, some MUAs) has longer lines, and
 * Postfix and Dovecot's LDA take them, so refusing costs a sender a
 * message for nothing. A limit, not a buffer: the DATA reader counts a
 * long line in IO_BUF_SIZE pieces, and the queue, the mbox and POP3
 * stream the bytes. 1000 is the strict RFC setting.
 */
#define SMTP_TEXT_LINE_DEFAULT	(1024 * 1024)
/* The most an administrator may raise the text line limit to. */
#define SMTP_TEXT_LINE_CEILING	(64 * 1024 * 1024)
/* RFC 5321 4.5.3.1.1-3: local part 64, domain 255, path 256 octets. */
#define SMTP_LOCALPART_MAX	64
#define SMTP_DOMAIN_MAX		255
#define SMTP_PATH_MAX		256
/* The most of an over-long command line read and thrown away. */
#define SMTP_SKIP_MAX		(1024 * 1024)
/* An AUTH line: base64 of "authzid\0authcid\0password" (RFC 4954 4). */
#define SMTP_AUTH_LINE_MAX	12288

/* RFC 1939 3 / RFC 2449 4: 255 octets with CRLF; we allow a little more. */
#define POP3_CMD_LINE_MAX	512
/* RFC 1939 7: a unique-id is 1..70 characters 0x21-0x7E. */
#define POP3_UIDL_MAX		70
/*
 * An AUTH command or SASL response line: base64 of "authzid\0authcid\0
 * password" (RFC 4616) with PASSWORD_MAX and two user names, rounded up.
 * RFC 5034 4 lets the AUTH line exceed the 255-octet command limit.
 */
#define POP3_AUTH_LINE_MAX	4096
/* The longest command verb we split off; POP3 keywords are 3-4 (RFC 2449). */
#define POP3_VERB_MAX		16
/* A reply line we compose ("+OK ..." / "-ERR [CODE] ..."), without CRLF. */
#define POP3_REPLY_MAX		512
/*
 * How long a POP3 login waits for a maildrop that a delivery is writing
 * before answering [IN-USE]: a delivery holds the lock for one append.
 */
#define POP3_LOCK_WAIT_MS	2000
/* The APOP timestamp "<pid.time.sid@host>" (RFC 1939 7), with its NUL. */
#define APOP_STAMP_MAX		(32 + SESSION_ID_MAX + HOST_NAME_MAX_LEN)

/* A user name as NSS and PAM see it. */
#define USER_NAME_MAX		256
/* A password (as received; wiped after use). */
#define PASSWORD_MAX		1024
/*
 * A client's address as text (sockaddr_ntop): INET6_ADDRSTRLEN (46) for
 * the longest IPv6 form, rounded up.
 */
#define CLIENT_ADDR_TEXT_MAX	64
/* A host name, as the client claims or as we resolve it. */
#define HOST_NAME_MAX_LEN	255

/* One privsep IPC message, header included (ipc.h). */
#define IPC_MSG_MAX		65536
/* One string field inside an IPC message. */
#define IPC_STR_MAX		4096

/*
 * The line reader's buffer (io.h): io_getline() returns a longer line in
 * pieces of at most this (IO_LINE_PARTIAL). Commands fit in it whole.
 */
#define IO_BUF_SIZE		(65536 + 4096)

/* Aliases: expansion depth and the number of targets per address. */
#define ALIAS_DEPTH_MAX		8
#define ALIAS_TARGETS_MAX	1000

/* Listeners per protocol in the config. */
#define LISTEN_MAX		16
/* Workers per pool, whatever the config says. */
#define POOL_WORKERS_CEILING	1024
/* The master's refusal for a full pool: an SMTP reply line (RFC 5321
 * 4.5.3.1.5: 512 octets with CRLF). */
#define POOL_REFUSAL_MAX	512

/*
 * mbox maildrops (mbox_*.c). The scanner reads this much per read(): a
 * 1 GB maildrop is about a thousand system calls, and the buffer is still
 * small next to the page cache. No line or message is ever held whole.
 * The four buffer sizes may be set on the compiler's command line: the
 * fuzzer builds with tiny ones so that short inputs cross every buffer
 * boundary.
 */
#ifndef MBOX_SCAN_CHUNK
#define MBOX_SCAN_CHUNK		(1024 * 1024)
#endif
/* The message reader (RETR, TOP) reads this much per pread(). */
#ifndef MBOX_READ_CHUNK
#define MBOX_READ_CHUNK		(256 * 1024)
#endif
/* The appender's output buffer: one write() per this many bytes. */
#ifndef MBOX_APPEND_BUF
#define MBOX_APPEND_BUF		(256 * 1024)
#endif
/* The POP3 update's read/write copy when copy_file_range() cannot work. */
#ifndef MBOX_COPY_CHUNK
#define MBOX_COPY_CHUNK		(1024 * 1024)
#endif
/*
 * The most messages one scan lists (about 90 bytes of table each, so
 * some 90 MB). What lies after them is treated like mail that arrived
 * after the scan: a rewrite keeps it, a later session lists it. Guards
 * the worker's memory against a maildrop of millions of tiny messages.
 */
#ifndef MBOX_SCAN_MESSAGES_MAX
#define MBOX_SCAN_MESSAGES_MAX	1000000
#endif
/*
 * A dotlock older than this is stale even when its pid looks alive (the
 * pid may have been reused, or belong to another host over NFS). Ten
 * minutes, as long as the RFC 1939 3 minimum POP3 autologout timer; a
 * holder that keeps the lock longer refreshes it (mbox_dotlock_touch()).
 */
#define MBOX_DOTLOCK_STALE_SEC	600
/*
 * A dotlock holds a pid, perhaps a host name: a bigger file at a lock's
 * name is a maildrop (user "x.lock"'s is at user x's dotlock), and is
 * never removed as a stale lock.
 */
#define MBOX_DOTLOCK_SIZE_MAX	256
/* Longest sleep between two attempts while waiting for a busy lock. */
#define MBOX_LOCK_POLL_MS	50
/*
 * A UIDL as we make them (uidl.h): 32 hex digits, "-", a decimal
 * duplicate number below 2^32, NUL. Well below POP3_UIDL_MAX.
 */
#define MBOX_UIDL_SIZE		48

/* --- SMTP grammar and message text (addr, smtp_parse, rfc5322) --- */
/* RFC 1035 2.3.4: one DNS label is at most 63 octets. */
#define DNS_LABEL_MAX		63
/* local@domain as text: a path less its angle brackets (RFC 5321 4.5.3.1.3). */
#define ADDR_TEXT_MAX		(SMTP_PATH_MAX - 2)
/* The longest command verb we split off; STARTTLS (8) is the longest known. */
#define SMTP_VERB_MAX		16
/* RFC 4422 3.1: a SASL mechanism name is 1 to 20 characters. */
#define SASL_MECH_MAX		20
/* RFC 3461 4.4: an ENVID is at most 100 characters. */
#define SMTP_ENVID_MAX		100
/* RFC 3461 4.2: an ORCPT is at most 500 characters. */
#define SMTP_ORCPT_MAX		500
/* The addr-type of ORCPT ("rfc822", "utf-8"); no registered one is longer. */
#define SMTP_ADDRTYPE_MAX	32
/* RFC 5322 2.1.1: lines SHOULD be at most 78 characters; we fold there. */
#define RFC5322_FOLD_AT		78
/* "Tue, 25 Nov 2026 17:41:33 +0000" and its NUL, with room to spare. */
#define RFC5322_DATE_MAX	40
/* A Received: or Return-Path: header we build, folded, with its LF. */
#define RFC5322_TRACE_MAX	2048

/* Aliases: one logical line with its continuations, and a whole file. */
#define ALIAS_LINE_MAX		65536
#define ALIAS_FILE_MAX		(16 * 1024 * 1024)

/* Bounces: how much of the original message is returned unless told. */
#define BOUNCE_RETURN_MAX	(128 * 1024)

/* --- the relay engine (relay/) --- */
/*
 * One SMTP reply line we read from a remote server. RFC 5321 4.5.3.1.5
 * says 512 with CRLF; EHLO lines in the wild run longer, so we take a
 * little more and call anything beyond it malformed.
 */
#define RELAY_REPLY_LINE_MAX	2048
/* The lines of one multi-line reply (an EHLO reply has a few dozen). */
#define RELAY_REPLY_LINES_MAX	100
/* The text of one reply we keep (EHLO keywords, the diagnostic). */
#define RELAY_REPLY_TEXT_MAX	4096
/* MX records of one domain, and addresses of one MX host, we look at. */
#define RELAY_MX_MAX		64
#define RELAY_ADDRS_MAX		64
/* The block the body is read from the queue file in (pread). */
#define RELAY_BODY_BLOCK	(64 * 1024)
/* TLSA records of one MX host (RFC 7672) we use. */
#define RELAY_TLSA_MAX		16

#endif
