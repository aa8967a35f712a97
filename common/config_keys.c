/*
 * The table of every setting in maild.conf: its dotted name, type,
 * default, range, validator, place in struct config and one line of help.
 * config.c reads the file against this table, config_print() and
 * `maild -n` write it back, and config_doc.c produces the example config
 * and the settings part of maild.conf(5) from it, so a setting is added
 * here and nowhere else (plus its field in config.h).
 *
 * The validators below run in whichever process loads the config: the
 * master as root at start and on SIGHUP, `maild -t` as whoever runs it,
 * and the inetd entry points. They only look (stat, access, getpwnam);
 * they never create or change anything.
 */
#include "autoconf.h"

#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/statvfs.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "config_keys.h"
#include "bounds.h"
#include "milter_addr.h"
#include "xmalloc.h"
#include "relay/relay.h"

/* The usual aliases file; its absence is not an error when not set. */
#define ALIASES_FILE	"/etc/aliases"

/* The longest banner: a 220 reply line is at most 512 octets (RFC 5321
 * 4.5.3.1.5) and also carries "220 ", the host name and CRLF. */
#define BANNER_MAX	200

#define OFF(f)		offsetof(struct config, f)
#define Q(s)		"\"" s "\""
/* A default configure chooses: the value, and its name for the templates. */
#define BUILT(m, tail)	.def = Q(m tail), .def_template = Q("@" #m "@" tail)
#define MINUTE		60LL
#define HOUR		(60 * MINUTE)
#define DAY		(24 * HOUR)
/*
 * The default per-address connection limit is this fraction of the
 * pool's workers, so that a handful of addresses cannot take them all.
 */
#define PER_IP_SHARE	8
#define KIB		1024LL
#define GIB		(KIB * KIB * KIB)

static config_validate_fn	v_not_yet, v_alias_user, v_delimiter,
				v_hostname, v_domains, v_user, v_group,
				v_directory, v_readable,
				v_pam_service, v_banner, v_expire, v_listen,
				v_milters,
				v_pool_min_spare, v_pool_max_spare,
				v_tls_pair, v_cipher_list,
				v_queue_order, v_min_free,
				v_relay_dns_servers, v_relay_anchor,
				v_relay_helo, v_relay_timeouts,
				v_relay_ca_file, v_users;
/* relay: the runner's side */
static config_validate_fn	v_relay_hop, v_relay_routes,
				v_relay_credentials, v_relay_concurrency;
/* relay: per-destination TLS policy */
static config_validate_fn	v_relay_tls_policy;
static bool			hop_ok(const char *);
static config_compute_fn	compute_hostname, compute_local_domains,
				compute_aliases, compute_smtp_per_ip,
				compute_pop3_per_ip;

static const struct config_enum facilities[] = {
	{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
	{ NULL, 0 },
};

static const struct config_enum bare_newlines[] = {
	{ "normalize", BARE_NEWLINE_NORMALIZE },
	{ "reject", BARE_NEWLINE_REJECT },
	{ NULL, 0 },
};

static const struct config_enum auth_senders[] = {
	{ "own", AUTH_SENDER_OWN },
	{ "any", AUTH_SENDER_ANY },
	{ NULL, 0 },
};

static const struct config_enum milter_actions[] = {
	{ "tempfail", MILTER_ACTION_TEMPFAIL },
	{ "accept", MILTER_ACTION_ACCEPT },
	{ "reject", MILTER_ACTION_REJECT },
	{ NULL, 0 },
};

static const struct config_enum tls_protocols[] = {
	{ "TLSv1.2", 0 },
	{ "TLSv1.3", 0 },
	{ NULL, 0 },
};

/* relay engine */
static const struct config_enum relay_prefs[] = {
	{ "any", RELAY_PREF_ANY },
	{ "ipv4", RELAY_PREF_IPV4 },
	{ "ipv6", RELAY_PREF_IPV6 },
	{ NULL, 0 },
};

static const struct config_enum relay_tls_levels[] = {
	{ "none", RELAY_TLS_NONE },
	{ "may", RELAY_TLS_MAY },
	{ "encrypt", RELAY_TLS_ENCRYPT },
	{ "verify", RELAY_TLS_VERIFY },
	{ "dane", RELAY_TLS_DANE },
	{ NULL, 0 },
};

const struct config_group config_groups[] = {
	{ "",		"General settings" },
	{ "smtp",	"SMTP server (smtpd)" },
	{ "smtp.pool",	"SMTP worker pool" },
	{ "pop3",	"POP3 server (pop3d)" },
	{ "pop3.pool",	"POP3 worker pool" },
	{ "tls",	"TLS, for STARTTLS, STLS, smtps and pop3s" },
	{ "queue",	"The mail queue" },
	{ "relay",	"Relay to other mail servers (SMTP client)" },
	{ "relay.tls",	"TLS of the SMTP client" },
	{ "submit",	"Local submission (the sendmail command)" },
};
const size_t config_ngroups = sizeof(config_groups) / sizeof(config_groups[0]);

/* The pool rows, the same for each protocol. */
#define POOL_ROWS(proto)						\
	{ .name = #proto ".pool.min_spare", .type = CONFIG_INT,		\
	  .def = "2", .min = 0, .max = POOL_WORKERS_CEILING,		\
	  .validate = v_pool_min_spare,					\
	  .offset = OFF(proto.pool.min_spare),				\
	  .help = "Fewest idle workers kept waiting for connections; "	\
	    "at most max_spare." },					\
	{ .name = #proto ".pool.max_spare", .type = CONFIG_INT,		\
	  .def = "8", .min = 1, .max = POOL_WORKERS_CEILING,		\
	  .validate = v_pool_max_spare,					\
	  .offset = OFF(proto.pool.max_spare),				\
	  .help = "Most idle workers; when more have been idle for a "	\
	    "second, a quarter of the surplus (at least one) is retired "	\
	    "each second. At most max_workers." },			\
	{ .name = #proto ".pool.max_workers", .type = CONFIG_INT,	\
	  .def = "256", .min = 1, .max = POOL_WORKERS_CEILING,		\
	  .offset = OFF(proto.pool.max_workers),			\
	  .help = "Most workers, busy or idle: the most sessions "	\
	    "served at once. An idle worker and its monitor cost about " \
	    "150 kB of private memory. When every one is busy, the pool " \
	    "is under stress (see stress_timeout) and a new connection " \
	    "that no worker takes within half a second gets \"try "	\
	    "again later\" (421 4.7.0, -ERR [SYS/TEMP])." },		\
	{ .name = #proto ".pool.stress_timeout", .type = CONFIG_DURATION, \
	  .def = Q("10s"), .min = 1, .max = HOUR,			\
	  .offset = OFF(proto.pool.stress_timeout),			\
	  .help = "Under stress (every worker busy and clients waiting "	\
	    "for one, and 5 seconds more), no wait for a client's command or data lasts "	\
	    "longer than this; sessions already waiting longer end at " \
	    "once." },							\
	{ .name = #proto ".pool.stress_max_errors", .type = CONFIG_INT, \
	  .def = "1", .min = 0, .max = 1000,				\
	  .offset = OFF(proto.pool.stress_max_errors),			\
	  .help = "Under stress, a session is closed after this many "	\
	    "failed commands (instead of max_errors)." },		\
	{ .name = #proto ".pool.max_sessions_per_worker",		\
	  .type = CONFIG_INT, .def = "100", .min = 1, .max = 1000000,	\
	  .offset = OFF(proto.pool.max_sessions_per_worker),		\
	  .help = "A worker is replaced by a fresh one after serving this " \
	    "many sessions." },						\
	{ .name = #proto ".pool.retire_after_login", .type = CONFIG_BOOL, \
	  .def = "true",						\
	  .offset = OFF(proto.pool.retire_after_login),		\
	  .help = "A worker is replaced by a fresh one after a session " \
	    "in which a user logged in, so that a worker taken over in " \
	    "one session never sees another user's password or " \
	    "maildrop." }

const struct config_key config_keys[] = {
	/* --- top level ------------------------------------------------- */
	{ .name = "hostname", .type = CONFIG_STRING,
	  .validate = v_hostname, .offset = OFF(hostname),
	  .flags = CONFIG_K_LOWER,
	  .help = "This host's name in greetings, Received: lines and "
	    "bounces.",
	  .compute = compute_hostname,
	  .def_doc = "the host's fully qualified name (gethostname(3), "
	    "completed through the resolver when it has no dot)",
	  .example = Q("mx.example.org") },
	{ .name = "user", .type = CONFIG_STRING, BUILT(MAILD_USER, ""),
	  .validate = v_user, .offset = OFF(user),
	  .help = "The unprivileged user the network-facing workers run "
	    "as; it must exist and own nothing." },
	{ .name = "group", .type = CONFIG_STRING, BUILT(MAILD_GROUP, ""),
	  .validate = v_group, .offset = OFF(group),
	  .help = "The group the workers run as; it must exist." },
	{ .name = "chroot", .type = CONFIG_PATH,
	  BUILT(MAILD_STATE_DIR, "/empty"),
	  .validate = v_directory, .offset = OFF(chroot),
	  .flags = CONFIG_K_EMPTY_OK,
	  .help = "An empty directory the workers chroot into, or \"\" for "
	    "no chroot; it must exist." },
	{ .name = "spool_dir", .type = CONFIG_PATH, BUILT(MAILD_SPOOL_DIR, ""),
	  .offset = OFF(spool_dir),
	  .help = "The directory of the users' mbox maildrops." },
	{ .name = "queue_dir", .type = CONFIG_PATH, BUILT(MAILD_QUEUE_DIR, ""),
	  .offset = OFF(queue_dir),
	  .help = "The mail queue: mail accepted and not yet delivered." },
	{ .name = "state_dir", .type = CONFIG_PATH, BUILT(MAILD_STATE_DIR, ""),
	  .offset = OFF(state_dir),
	  .help = "Where maild keeps POP3 indexes and other caches, and, "
	    "under inetd, the failed logins per client address." },
	{ .name = "pid_file", .type = CONFIG_PATH,
	  BUILT(MAILD_RUN_DIR, "/maild.pid"), .offset = OFF(pid_file),
	  .help = "The master writes its process id here." },
	{ .name = "syslog_facility", .type = CONFIG_ENUM, .def = Q("mail"),
	  .enums = facilities, .offset = OFF(syslog_facility),
	  .help = "The syslog facility maild logs to." },
	{ .name = "local_domains", .type = CONFIG_STRLIST,
	  .validate = v_domains, .offset = OFF(local_domains),
	  .flags = CONFIG_K_LOWER,
	  .help = "The domains whose mail is delivered here (any case); "
	    "mail to other domains is accepted only from authenticated users "
	    "(or for aliases that point there) and relayed to them (see "
	    "relay).",
	  .compute = compute_local_domains,
	  .def_doc = "\"localhost\" and the value of hostname",
	  .example = "[ " Q("localhost") ", " Q("mx.example.org") ", "
	    Q("example.org") " ]" },
	{ .name = "aliases", .type = CONFIG_PATH,
	  .validate = v_readable, .offset = OFF(aliases),
	  .flags = CONFIG_K_EMPTY_OK,
	  .help = "The aliases(5) file, or \"\" for none; when set, it must "
	    "be readable.",
	  .compute = compute_aliases,
	  .def_doc = "\"" ALIASES_FILE "\" if that file exists, otherwise "
	    "\"\" (no aliases)",
	  .example = Q(ALIASES_FILE) },
	{ .name = "alias_file_targets", .type = CONFIG_BOOL, .def = "false",
	  .offset = OFF(alias_file_targets),
	  .help = "Whether an alias may deliver to a file (\"/path\"), "
	    "appended in mbox format as alias_user; when false such targets "
	    "are refused (5.3.5) when a recipient is looked up." },
	{ .name = "alias_program_targets", .type = CONFIG_BOOL,
	  .def = "false", .offset = OFF(alias_program_targets),
	  .help = "Whether an alias may deliver to a program "
	    "(\"|command\"), run by /bin/sh as alias_user; when false such "
	    "targets are refused (5.3.5) when a recipient is looked up." },
	/* local delivery: .forward, programs, files, user+detail */
	{ .name = "alias_user", .type = CONFIG_STRING, .def = Q("nobody"),
	  .validate = v_alias_user, .offset = OFF(alias_user),
	  .help = "The unprivileged user that runs the programs and writes "
	    "the files of aliases(5) targets; never root." },
	{ .name = "command_time_limit", .type = CONFIG_DURATION,
	  .def = Q("1000s"), .min = 1, .max = DAY,
	  .offset = OFF(command_time_limit),
	  .help = "How long a delivery to a program (an alias or .forward "
	    "\"|command\") may run; then its process group is killed and "
	    "the delivery deferred." },
	{ .name = "recipient_delimiter", .type = CONFIG_STRING, .def = Q("+"),
	  .validate = v_delimiter, .offset = OFF(recipient_delimiter),
	  .flags = CONFIG_K_EMPTY_OK,
	  .help = "The characters that separate a user from an address "
	    "extension (user+detail@domain reaches user, the detail is "
	    "EXTENSION for programs), or \"\" for none. The whole local part "
	    "is looked up first." },
	{ .name = "mail_group", .type = CONFIG_STRING, .def = Q("mail"),
	  .validate = v_group, .offset = OFF(mail_group),
	  .help = "The group of newly created maildrops; it must exist." },
	{ .name = "dotlock", .type = CONFIG_BOOL, .def = "true",
	  .offset = OFF(dotlock),
	  .help = "Whether to take a USER.lock file as well as an fcntl "
	    "lock on maildrops, for mail readers that use one." },
	{ .name = "pam_service", .type = CONFIG_STRING, .def = Q("maild"),
	  .validate = v_pam_service, .offset = OFF(pam_service),
	  .help = "The PAM service name that checks passwords "
	    "(/etc/pam.d/NAME)." },
	{ .name = "auth_fail_delay", .type = CONFIG_DURATION, .def = Q("2s"),
	  .min = 0, .max = MINUTE, .offset = OFF(auth_fail_delay),
	  .help = "How long to wait before answering a failed login or "
	    "AUTH, to slow down password guessing. From the fourth failure "
	    "from one client address (an IPv4 address or an IPv6 /64) on, "
	    "1, 2, 4 ... up to 30 seconds more; the failures are forgotten "
	    "15 minutes after the last one, and a successful login does "
	    "not forgive them." },
	{ .name = "limit_loopback", .type = CONFIG_BOOL, .def = "false",
	  .offset = OFF(limit_loopback),
	  .help = "Whether the per-address connection limits "
	    "(smtp.max_connections_per_ip, pop3.max_connections_per_ip) also "
	    "apply to clients on the loopback network. Off by default: local "
	    "programs (webmail, fetchers, a benchmark) all come from one "
	    "address and are the host's own." },
	{ .name = "shutdown_grace", .type = CONFIG_DURATION, .def = Q("30s"),
	  .min = 0, .max = HOUR, .offset = OFF(shutdown_grace),
	  .help = "On shutdown, how long sessions may run on before they "
	    "are cut off." },

	/* --- smtp ------------------------------------------------------- */
	{ .name = "smtp.listen", .type = CONFIG_LISTEN, .def = "[ " Q("*:25")
	  " ]", .validate = v_listen, .offset = OFF(smtp.listen),
	  .flags = CONFIG_K_EXAMPLE,
	  .help = "Where to accept SMTP (port 25, mail from other servers)." },
	{ .name = "smtp.submission_listen", .type = CONFIG_LISTEN,
	  .def = "[ ]", .validate = v_listen,
	  .offset = OFF(smtp.submission_listen),
	  .help = "Where to accept message submission from users (RFC "
	    "6409, usually \"*:587\"); AUTH is required there." },
	{ .name = "smtp.smtps_listen", .type = CONFIG_LISTEN, .def = "[ ]",
	  .validate = v_listen, .offset = OFF(smtp.smtps_listen),
	  .flags = CONFIG_K_TLS,
	  .help = "Where to accept submission over implicit TLS (RFC 8314, "
	    "usually \"*:465\"); needs tls.certificate." },
	{ .name = "smtp.banner", .type = CONFIG_STRING,
	  .def = Q("ESMTP maild"), .validate = v_banner,
	  .offset = OFF(smtp.banner),
	  .help = "The text after \"220 hostname\" in the greeting." },
	{ .name = "smtp.message_size_limit", .type = CONFIG_SIZE,
	  .def = Q("10M"), .min = KIB, .max = 4 * GIB,
	  .offset = OFF(smtp.message_size_limit), .flags = CONFIG_K_EXAMPLE,
	  .help = "The largest message accepted (advertised with SIZE, RFC "
	    "1870)." },
	{ .name = "smtp.max_recipients", .type = CONFIG_INT, .def = "100",
	  .min = 100, .max = 100000, .offset = OFF(smtp.max_recipients),
	  .help = "The most recipients of one message; RFC 5321 4.5.3.1.8 "
	    "requires at least 100." },
	{ .name = "smtp.max_errors", .type = CONFIG_INT, .def = "10",
	  .min = 1, .max = 1000, .offset = OFF(smtp.max_errors),
	  .help = "A session is closed after this many failed commands." },
	{ .name = "smtp.max_connections_per_ip", .type = CONFIG_INT,
	  .min = 0, .max = POOL_WORKERS_CEILING,
	  .offset = OFF(smtp.max_connections_per_ip),
	  .help = "The most SMTP sessions at once from one client address "
	    "(an IPv4 address or an IPv6 /64; loopback only with "
	    "limit_loopback); 0 means "
	    "no limit. The default keeps a handful of addresses from "
	    "taking every worker. Standalone only: under inetd, set the "
	    "super-server's per-source limit.",
	  .compute = compute_smtp_per_ip,
	  .def_doc = "an eighth of smtp.pool.max_workers, at least 1 (32 "
	    "with the default 256 workers)",
	  .example = "8" },
	{ .name = "smtp.max_line_length", .type = CONFIG_INT,
	  .def = "1048576", .min = SMTP_TEXT_LINE_MAX,
	  .max = SMTP_TEXT_LINE_CEILING, .offset = OFF(smtp.max_line_length),
	  .help = "The longest message line accepted, with CRLF; a longer "
	    "one refuses the message (554 5.6.0). RFC 5321 4.5.3.1.6 sets "
	    "1000, the strict setting; real mail has longer lines, which "
	    "are kept byte for byte through the queue, the maildrop and "
	    "POP3." },
	{ .name = "smtp.bare_newlines", .type = CONFIG_ENUM,
	  .def = Q("normalize"), .enums = bare_newlines,
	  .offset = OFF(smtp.bare_newlines),
	  .help = "What to do with a bare CR or LF in a message: "
	    "\"normalize\" makes it a line end, \"reject\" refuses the "
	    "message." },
	{ .name = "smtp.strict_rfc5321_paths", .type = CONFIG_BOOL,
	  .def = "false", .offset = OFF(smtp.strict_rfc5321_paths),
	  .help = "Whether MAIL FROM and RCPT TO need the angle brackets of "
	    "RFC 5321 4.1.2. By default a bare address (\"MAIL FROM: "
	    "user@example.org\", as printers, scanners and old scripts "
	    "send it) is taken too, when it is one word that parses as a "
	    "mailbox; anything else is 501." },
	{ .name = "smtp.vrfy", .type = CONFIG_BOOL, .def = "false",
	  .offset = OFF(smtp.vrfy),
	  .help = "Whether VRFY tells whether a user exists (otherwise it "
	    "answers 252)." },
	{ .name = "smtp.expn", .type = CONFIG_BOOL, .def = "false",
	  .offset = OFF(smtp.expn),
	  .help = "Whether EXPN shows what an alias expands to." },
	{ .name = "smtp.helo_required", .type = CONFIG_BOOL, .def = "true",
	  .offset = OFF(smtp.helo_required),
	  .help = "Whether a client must send HELO or EHLO before MAIL." },
	{ .name = "smtp.smtputf8", .type = CONFIG_BOOL, .def = "true",
	  .offset = OFF(smtp.smtputf8),
	  .help = "Whether to offer SMTPUTF8 (RFC 6531): UTF-8 addresses "
	    "and headers." },
	{ .name = "smtp.chunking", .type = CONFIG_BOOL, .def = "true",
	  .offset = OFF(smtp.chunking),
	  .help = "Whether to offer CHUNKING (BDAT, RFC 3030)." },
	{ .name = "smtp.allow_plaintext_auth", .type = CONFIG_BOOL,
	  .def = "false", .offset = OFF(smtp.allow_plaintext_auth),
	  .help = "Whether AUTH is offered on a connection without TLS "
	    "(passwords would cross the network in the clear)." },
	{ .name = "smtp.authenticated_sender", .type = CONFIG_ENUM,
	  .def = Q("own"), .enums = auth_senders,
	  .offset = OFF(smtp.authenticated_sender),
	  .help = "Which senders an authenticated user may use: \"own\" "
	    "(user@local_domain and its aliases) or \"any\"." },
	{ .name = "smtp.timeout_command", .type = CONFIG_DURATION,
	  .def = Q("5m"), .min = 1, .max = HOUR,
	  .offset = OFF(smtp.timeout_command),
	  .help = "How long to wait for the next command; RFC 5321 "
	    "4.5.3.2.7 asks for at least 5 minutes." },
	{ .name = "smtp.timeout_data", .type = CONFIG_DURATION,
	  .def = Q("3m"), .min = 1, .max = HOUR,
	  .offset = OFF(smtp.timeout_data),
	  .help = "How long to wait for the next block of message data." },
	/* queue-dsn: loops */
	{ .name = "smtp.hop_limit", .type = CONFIG_INT, .def = "50",
	  .min = 1, .max = 1000, .offset = OFF(smtp.hop_limit),
	  .help = "A message that arrives with more Received: header fields "
	    "than this is refused at the end of DATA (554 5.4.6, a mail "
	    "loop); one found in the queue over the limit (our own "
	    "Received: not counted) is bounced." },
	/* --- smtp: milters (smtpd/milter.c) --- */
	{ .name = "smtp.milters", .type = CONFIG_STRLIST, .def = "[ ]",
	  .validate = v_milters, .offset = OFF(smtp.milters),
	  .help = "Content filters speaking the Sendmail milter protocol "
	    "(OpenDKIM, spamass-milter, clamav-milter, ...), asked in this "
	    "order about every SMTP session: \"inet:HOST:PORT\" (a numeric "
	    "IPv4 or [IPv6] address; \"inet:PORT@HOST\" works too) or "
	    "\"unix:PATH\". The conversation runs in the chrooted worker: a "
	    "unix: PATH is looked up inside the chroot.",
	  .example = "[ " Q("inet:127.0.0.1:8891") " ]" },
	{ .name = "smtp.submission_milters", .type = CONFIG_STRLIST,
	  .def = "[ ]", .validate = v_milters,
	  .offset = OFF(smtp.submission_milters), .flags = CONFIG_K_EXAMPLE,
	  .help = "When not empty, replaces smtp.milters on the submission "
	    "and smtps ports and for the sendmail command (submit.socket): "
	    "to sign what users send, for instance.",
	  .example = "[ " Q("inet:127.0.0.1:8891") " ]" },
	{ .name = "smtp.milter_default_action", .type = CONFIG_ENUM,
	  .def = Q("tempfail"), .enums = milter_actions,
	  .offset = OFF(smtp.milter_default_action),
	  .help = "What happens when a filter cannot be reached, is slower "
	    "than smtp.milter_timeout or answers something invalid: "
	    "\"tempfail\" (451 4.7.1), \"accept\" (go on without it) or "
	    "\"reject\" (550 5.7.1)." },
	{ .name = "smtp.milter_timeout", .type = CONFIG_DURATION,
	  .def = Q("30s"), .min = 1, .max = HOUR,
	  .offset = OFF(smtp.milter_timeout),
	  .help = "How long to wait for each answer of a filter (a PROGRESS "
	    "reply starts the wait again)." },
	{ .name = "smtp.milter_connect_timeout", .type = CONFIG_DURATION,
	  .def = Q("10s"), .min = 1, .max = HOUR,
	  .offset = OFF(smtp.milter_connect_timeout),
	  .help = "How long to wait for a connection to a filter." },
	{ .name = "smtp.milter_macro_daemon_name", .type = CONFIG_STRING,
	  .def = Q("maild"), .offset = OFF(smtp.milter_macro_daemon_name),
	  .help = "The {daemon_name} macro the filters get (OpenDKIM's "
	    "MTA setting can match it)." },
	POOL_ROWS(smtp),

	/* --- pop3 ------------------------------------------------------- */
	{ .name = "pop3.listen", .type = CONFIG_LISTEN, .def = "[ " Q("*:110")
	  " ]", .validate = v_listen, .offset = OFF(pop3.listen),
	  .flags = CONFIG_K_EXAMPLE,
	  .help = "Where to accept POP3 (port 110; STLS upgrades to TLS)." },
	{ .name = "pop3.pop3s_listen", .type = CONFIG_LISTEN, .def = "[ ]",
	  .validate = v_listen, .offset = OFF(pop3.pop3s_listen),
	  .flags = CONFIG_K_TLS,
	  .help = "Where to accept POP3 over implicit TLS (RFC 8314, "
	    "usually \"*:995\"); needs tls.certificate." },
	{ .name = "pop3.timeout", .type = CONFIG_DURATION, .def = Q("10m"),
	  .min = 10 * MINUTE, .max = DAY, .offset = OFF(pop3.timeout),
	  .help = "How long an idle session may stay; RFC 1939 3 says the "
	    "autologout timer is at least 10 minutes." },
	{ .name = "pop3.max_errors", .type = CONFIG_INT, .def = "10",
	  .min = 1, .max = 1000, .offset = OFF(pop3.max_errors),
	  .help = "A session is closed after this many failed commands." },
	{ .name = "pop3.max_connections_per_ip", .type = CONFIG_INT,
	  .min = 0, .max = POOL_WORKERS_CEILING,
	  .offset = OFF(pop3.max_connections_per_ip),
	  .help = "The most POP3 sessions at once from one client address "
	    "(an IPv4 address or an IPv6 /64; loopback only with "
	    "limit_loopback); 0 means "
	    "no limit. The default keeps a handful of addresses from "
	    "taking every worker. Standalone only: under inetd, set the "
	    "super-server's per-source limit.",
	  .compute = compute_pop3_per_ip,
	  .def_doc = "an eighth of pop3.pool.max_workers, at least 1 (32 "
	    "with the default 256 workers)",
	  .example = "8" },
	{ .name = "pop3.apop_secrets", .type = CONFIG_PATH, .def = Q(""),
	  .validate = v_readable, .offset = OFF(pop3.apop_secrets),
	  .flags = CONFIG_K_EMPTY_OK,
	  .help = "A file of \"user:secret\" lines for APOP, or \"\" to "
	    "offer no APOP; it must be readable, by root only. PAM cannot "
	    "check APOP, so its users need a secret here, apart from their "
	    "password." },
	{ .name = "pop3.login_delay", .type = CONFIG_DURATION, .def = Q("0s"),
	  .min = 0, .max = HOUR, .offset = OFF(pop3.login_delay),
	  .help = "The least time between two logins of one user, "
	    "advertised as LOGIN-DELAY (RFC 2449); 0 for none." },
	{ .name = "pop3.expire", .type = CONFIG_STRING, .def = Q(""),
	  .validate = v_expire, .offset = OFF(pop3.expire),
	  .flags = CONFIG_K_EMPTY_OK,
	  .help = "The EXPIRE capability to advertise (RFC 2449): \"NEVER\", "
	    "a number of days, or \"\" for none." },
	{ .name = "pop3.allow_plaintext_login", .type = CONFIG_BOOL,
	  .def = "false", .offset = OFF(pop3.allow_plaintext_login),
	  .help = "Whether USER/PASS and AUTH are allowed on a connection "
	    "without TLS from outside the loopback network (loopback "
	    "clients always may)." },
	{ .name = "pop3.index", .type = CONFIG_BOOL, .def = "true",
	  .offset = OFF(pop3.index),
	  .help = "Whether to cache each maildrop's message table in "
	    "state_dir, so that opening a large maildrop is fast." },
	POOL_ROWS(pop3),

	/* --- tls -------------------------------------------------------- */
	{ .name = "tls.certificate", .type = CONFIG_PATH, .def = Q(""),
	  .validate = v_readable, .offset = OFF(tls.certificate),
	  .flags = CONFIG_K_EMPTY_OK,
	  .help = "The server's certificate chain (PEM), or \"\" for no "
	    "TLS; it must be readable." },
	{ .name = "tls.key", .type = CONFIG_PATH, .def = Q(""),
	  .validate = v_tls_pair, .offset = OFF(tls.key),
	  .flags = CONFIG_K_EMPTY_OK,
	  .help = "The private key of the certificate (PEM); needed exactly "
	    "when tls.certificate is set." },
	{ .name = "tls.min_protocol", .type = CONFIG_ENUM,
	  .def = Q("TLSv1.2"), .enums = tls_protocols,
	  .offset = OFF(tls.min_protocol), .flags = CONFIG_K_ENUM_STR,
	  .help = "The oldest TLS version accepted." },
	{ .name = "tls.ciphers", .type = CONFIG_STRING,
	  .def = Q("ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
	    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
	    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"),
	  .validate = v_cipher_list, .offset = OFF(tls.ciphers),
	  .help = "The TLS 1.2 cipher list, in OpenSSL's syntax "
	    "(openssl-ciphers(1)); the default has forward secrecy and "
	    "AEAD only." },
	{ .name = "tls.ciphersuites", .type = CONFIG_STRING,
	  .def = Q("TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:"
	    "TLS_AES_128_GCM_SHA256"),
	  .validate = v_cipher_list, .offset = OFF(tls.ciphersuites),
	  .help = "The TLS 1.3 cipher suites, in OpenSSL's syntax; the "
	    "default is OpenSSL's." },

	/* --- queue ------------------------------------------------------ */
	{ .name = "queue.retry_min", .type = CONFIG_DURATION, .def = Q("5m"),
	  .min = 1, .max = DAY, .offset = OFF(queue.retry_min),
	  .help = "The first wait before a deferred message is tried again; "
	    "it doubles on each try." },
	{ .name = "queue.retry_max", .type = CONFIG_DURATION, .def = Q("1h"),
	  .min = 1, .max = 7 * DAY, .validate = v_queue_order,
	  .offset = OFF(queue.retry_max),
	  .help = "The longest wait between two tries; at least retry_min." },
	{ .name = "queue.max_lifetime", .type = CONFIG_DURATION,
	  .def = Q("5d"), .min = HOUR, .max = 30 * DAY,
	  .validate = v_queue_order, .offset = OFF(queue.max_lifetime),
	  .help = "A message still undelivered after this long is returned "
	    "to its sender." },
	{ .name = "queue.locked_retry", .type = CONFIG_DURATION,
	  .def = Q("1s"), .min = 1, .max = HOUR,
	  .offset = OFF(queue.locked_retry),
	  .help = "How soon to retry a delivery whose maildrop was locked "
	    "(in use by a POP3 session or a mail reader)." },
	{ .name = "queue.min_free", .type = CONFIG_SIZE, .def = Q("100M"),
	  .min = 0, .max = 1024 * GIB, .validate = v_min_free,
	  .offset = OFF(queue.min_free),
	  .help = "The space to keep free on queue_dir's file system (as "
	    "users see it: the root reserve does not count); below it, and "
	    "when a message would go below it, new mail is refused with "
	    "452 4.3.1 until space is back. 0 turns the check off." },
	/* queue-dsn: delay notices and bounces */
	{ .name = "queue.delay_warning", .type = CONFIG_DURATION,
	  .def = Q("4h"), .min = 0, .max = 30 * DAY,
	  .offset = OFF(queue.delay_warning),
	  .help = "When a message is still not delivered to every recipient "
	    "after this long, its sender gets one delay notice (RFC 3464, "
	    "\"Action: delayed\"), unless the sender is null or NOTIFY "
	    "says otherwise. 0 turns delay notices off, and so does a value "
	    "past max_lifetime." },
	{ .name = "queue.bounce_lifetime", .type = CONFIG_DURATION,
	  .def = Q("2d"), .min = HOUR, .max = 30 * DAY,
	  .offset = OFF(queue.bounce_lifetime),
	  .help = "How long a message with the null sender (a bounce or a "
	    "notice) is tried before it is dropped; max_lifetime if that "
	    "is shorter." },
	{ .name = "queue.double_bounce_to_postmaster", .type = CONFIG_BOOL,
	  .def = "false", .offset = OFF(queue.double_bounce_to_postmaster),
	  .help = "Whether postmaster gets a notice when a bounce itself "
	    "cannot be delivered (a \"double bounce\"); either way it is "
	    "dropped with a log line." },

	/* --- relay (the engine: DNS, SMTP client, client TLS) ----------- */
	{ .name = "relay.port", .type = CONFIG_INT, .def = "25",
	  .min = 1, .max = 65535, .offset = OFF(relay.port),
	  .help = "The port relayed mail goes to when the next hop names "
	    "none; other values are for tests and benchmarks." },
	{ .name = "relay.dns_servers", .type = CONFIG_STRLIST, .def = "[ ]",
	  .validate = v_relay_dns_servers, .offset = OFF(relay.dns_servers),
	  .help = "The DNS servers the relay asks, as \"address\" or "
	    "\"address@port\"; empty: those of /etc/resolv.conf." },
	{ .name = "relay.dnssec_trust_anchor", .type = CONFIG_PATH,
	  .def = Q("/usr/share/dns/root.key"), .validate = v_relay_anchor,
	  .offset = OFF(relay.dnssec_trust_anchor), .flags = CONFIG_K_EMPTY_OK,
	  .help = "The DNSSEC trust anchor file (a DS or DNSKEY record in zone "
	    "file syntax) the resolver validates with; DANE needs it. \"\" "
	    "for no validation; a missing file is an error only with "
	    "relay.tls.security_level \"dane\"." },
	{ .name = "relay.helo_name", .type = CONFIG_STRING, .def = Q(""),
	  .validate = v_relay_helo, .offset = OFF(relay.helo_name),
	  .flags = CONFIG_K_EMPTY_OK | CONFIG_K_LOWER,
	  .help = "The name the relay gives in EHLO; \"\" for hostname." },
	{ .name = "relay.address_preference", .type = CONFIG_ENUM,
	  .def = Q("any"), .enums = relay_prefs,
	  .offset = OFF(relay.address_preference),
	  .help = "Which addresses of an MX host to try first: \"any\" "
	    "alternates IPv6 and IPv4, \"ipv4\" and \"ipv6\" put that "
	    "family first." },
	{ .name = "relay.mx_address_limit", .type = CONFIG_INT, .def = "5",
	  .min = 1, .max = 100, .offset = OFF(relay.mx_address_limit),
	  .help = "The most addresses tried in one delivery attempt." },
	{ .name = "relay.mx_session_limit", .type = CONFIG_INT, .def = "2",
	  .min = 1, .max = 100, .offset = OFF(relay.mx_session_limit),
	  .help = "The most SMTP sessions (that got a greeting) in one "
	    "delivery attempt." },
	{ .name = "relay.connect_timeout", .type = CONFIG_DURATION,
	  .def = Q("30s"), .min = 1, .max = 10 * MINUTE,
	  .validate = v_relay_timeouts, .offset = OFF(relay.connect_timeout),
	  .help = "How long a connection to another server may take to "
	    "open; also the time each DNS question of the relay may take." },
	{ .name = "relay.command_timeout", .type = CONFIG_DURATION,
	  .def = Q("5m"), .min = 1, .max = HOUR,
	  .offset = OFF(relay.command_timeout),
	  .help = "How long a whole reply may take: the greeting and the "
	    "replies to EHLO, MAIL, RCPT, DATA (RFC 5321 4.5.3.2), and each "
	    "block of the message to be sent." },
	{ .name = "relay.data_timeout", .type = CONFIG_DURATION,
	  .def = Q("10m"), .min = 1, .max = 2 * HOUR,
	  .offset = OFF(relay.data_timeout),
	  .help = "How long the reply to the final \".\" may take (RFC 5321 "
	    "4.5.3.2.6)." },
	{ .name = "relay.connection_cache_time", .type = CONFIG_DURATION,
	  .def = Q("2s"), .min = 0, .max = 5 * MINUTE,
	  .offset = OFF(relay.connection_cache_time),
	  .help = "How long a relay worker keeps a finished session open "
	    "for the next message to the same address; 0 closes it at "
	    "once." },
	{ .name = "relay.connection_reuse_limit", .type = CONFIG_INT,
	  .def = "100", .min = 1, .max = 100000,
	  .offset = OFF(relay.connection_reuse_limit),
	  .help = "The most messages sent over one SMTP session." },
	{ .name = "relay.tls.security_level", .type = CONFIG_ENUM,
	  .def = Q("may"), .enums = relay_tls_levels,
	  .offset = OFF(relay.tls_security_level),
	  .help = "STARTTLS to other servers: \"none\" never, \"may\" when "
	    "offered (unverified; a failed handshake is retried in "
	    "plaintext later), \"encrypt\" always (unverified), "
	    "\"verify\" always with a certificate valid for the MX name "
	    "(relay.tls.ca_file), \"dane\" per DNSSEC-signed TLSA records "
	    "(RFC 7672), else as \"may\"." },
	{ .name = "relay.tls.ca_file", .type = CONFIG_PATH,
	  .def = Q("/etc/ssl/certs/ca-certificates.crt"),
	  .validate = v_relay_ca_file, .offset = OFF(relay.tls_ca_file),
	  .flags = CONFIG_K_EMPTY_OK,
	  .help = "The certificate authorities (PEM) that \"verify\" trusts, "
	    "read before the relay worker enters its chroot; \"\" for "
	    "none." },
	{ .name = "relay.tls.min_protocol", .type = CONFIG_ENUM,
	  .def = Q("TLSv1.2"), .enums = tls_protocols,
	  .offset = OFF(relay.tls_min_protocol), .flags = CONFIG_K_ENUM_STR,
	  .help = "The oldest TLS version the SMTP client accepts." },
	{ .name = "relay.tls.ciphers", .type = CONFIG_STRING,
	  .def = Q("DEFAULT:@SECLEVEL=1"), .validate = v_cipher_list,
	  .offset = OFF(relay.tls_ciphers),
	  .help = "The SMTP client's TLS 1.2 cipher list (OpenSSL syntax); "
	    "wider than the server's, since an unverified encrypted session "
	    "beats plaintext." },
	{ .name = "relay.tls.policy", .type = CONFIG_STRLIST, .def = "[ ]",
	  .validate = v_relay_tls_policy, .offset = OFF(relay.tls_policy),
	  .help = "STARTTLS levels for some destinations, as \"key=level\" "
	    "(level as for security_level). A key is a domain "
	    "(\"example.org\"), a leading-dot parent domain for every name "
	    "below it (\".example.org\"), or a next hop as routes and "
	    "smarthost write it (\"[smtp.isp.example]:587\"). The next "
	    "hop's entry wins, then the recipient domain's (the exact name, "
	    "then its parents, nearest first); without one, security_level "
	    "applies." },
	/* --- relay: the runner's side (workers, scheduling, next hops) --- */
	{ .name = "relay.smarthost", .type = CONFIG_STRING, .def = Q(""),
	  .validate = v_relay_hop, .offset = OFF(relay.smarthost),
	  .flags = CONFIG_K_EMPTY_OK | CONFIG_K_LOWER,
	  .help = "Send all mail for other domains through this server "
	    "instead of the domains' MX hosts: \"host\" (its MX records, "
	    "else its address) or \"[host]:port\" (that host, no MX "
	    "lookup), e.g. an ISP's \"[smtp.isp.example]:587\"; \"\" for "
	    "direct delivery by MX." },
	{ .name = "relay.smarthost_credentials", .type = CONFIG_PATH,
	  .def = Q(""), .validate = v_relay_credentials,
	  .offset = OFF(relay.smarthost_credentials),
	  .flags = CONFIG_K_EMPTY_OK,
	  .help = "A file with \"user password\" on one line for AUTH at "
	    "the smarthost (only over TLS); owned by root and mode 0600. "
	    "Read by the queue runner, handed to the relay worker with "
	    "each request, never logged. \"\" for no AUTH." },
	{ .name = "relay.routes", .type = CONFIG_STRLIST, .def = "[ ]",
	  .validate = v_relay_routes, .offset = OFF(relay.routes),
	  .help = "Next hops for some domains, as \"domain=nexthop\" "
	    "(nexthop as for smarthost), e.g. \"example.org=[hub.internal]:25\"; "
	    "a smarthost wins over them." },
	{ .name = "relay.max_processes", .type = CONFIG_INT, .def = "50",
	  .min = 1, .max = 1000, .offset = OFF(relay.max_processes),
	  .help = "The most relay workers (unprivileged processes that "
	    "deliver to other servers) at once, over all destinations." },
	{ .name = "relay.max_idle", .type = CONFIG_DURATION, .def = Q("100s"),
	  .min = 1, .max = HOUR, .offset = OFF(relay.max_idle),
	  .help = "A relay worker with nothing to do exits after this long." },
	{ .name = "relay.max_use", .type = CONFIG_INT, .def = "100",
	  .min = 1, .max = 100000, .offset = OFF(relay.max_use),
	  .help = "A relay worker exits after this many deliveries." },
	{ .name = "relay.recipient_limit", .type = CONFIG_INT, .def = "50",
	  .min = 1, .max = 64, .offset = OFF(relay.recipient_limit),
	  .help = "The most recipients sent in one SMTP transaction; more "
	    "for the same destination go in further ones." },
	{ .name = "relay.initial_destination_concurrency", .type = CONFIG_INT,
	  .def = "5", .min = 1, .max = 1000,
	  .offset = OFF(relay.initial_destination_concurrency),
	  .help = "Deliveries to one destination at once, to begin with; "
	    "each success allows one more, up to "
	    "destination_concurrency_limit." },
	{ .name = "relay.destination_concurrency_limit", .type = CONFIG_INT,
	  .def = "20", .min = 1, .max = 1000, .validate = v_relay_concurrency,
	  .offset = OFF(relay.destination_concurrency_limit),
	  .help = "The most deliveries to one destination at once. A "
	    "destination that fails to answer this many times in a row "
	    "is suspended: its mail waits, without a connection, for a "
	    "while (at least twice relay.connect_timeout or a minute, "
	    "doubling up to queue.retry_max), then one probe goes out." },
	/* --- submit: the sendmail command -------------------------------- */
	{ .name = "submit.socket", .type = CONFIG_PATH,
	  BUILT(MAILD_RUN_DIR, "/maild.submit"), .offset = OFF(submit.socket),
	  .flags = CONFIG_K_EMPTY_OK,
	  .help = "The UNIX socket (mode 0666) on which the running maild "
	    "takes mail from the sendmail command; the kernel names the "
	    "submitting user (SO_PEERCRED). \"\" for none: sendmail then "
	    "leaves mail in queue_dir/maildrop." },
	{ .name = "submit.trusted_users", .type = CONFIG_STRLIST,
	  .def = "[ " Q("root") ", " Q(MAILD_USER) " ]",
	  .def_template = "[ " Q("root") ", " Q("@MAILD_USER@") " ]",
	  .validate = v_users, .offset = OFF(submit.trusted_users),
	  .help = "The users who may give sendmail another envelope sender "
	    "(-f, -r); everyone else's mail goes out from their own "
	    "address, USER@hostname." },
};
const size_t config_nkeys = sizeof(config_keys) / sizeof(config_keys[0]);

/* --- table helpers ------------------------------------------------------ */

const struct config_key *
config_key_find(const char *name)
{
	size_t	i;

	for (i = 0; i < config_nkeys; i++)
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	return NULL;
}

const struct config_key *
config_key_sibling(const struct config_key *k, const char *leaf)
{
	const char	*dot = strrchr(k->name, '.');
	char		 name[128];
	int		 plen = dot == NULL ? 0 : (int)(dot - k->name + 1);

	if (snprintf(name, sizeof(name), "%.*s%s", plen, k->name, leaf) >=
	    (int)sizeof(name))
		return NULL;
	return config_key_find(name);
}

const struct config_group *
config_group_find(const char *name)
{
	size_t	i;

	for (i = 0; i < config_ngroups; i++)
		if (strcmp(config_groups[i].name, name) == 0)
			return &config_groups[i];
	return NULL;
}

void *
config_key_ptr(const struct config_key *k, const struct config *cfg)
{
	return (char *)(uintptr_t)cfg + k->offset;
}

const char *
config_type_name(const struct config_key *k)
{
	switch (k->type) {
	case CONFIG_STRING:	return "string";
	case CONFIG_PATH:	return "path";
	case CONFIG_BOOL:	return "boolean";
	case CONFIG_INT:	return "number";
	case CONFIG_SIZE:	return "size";
	case CONFIG_DURATION:	return "duration";
	case CONFIG_ENUM:	return "keyword";
	case CONFIG_STRLIST:	return "list of strings";
	case CONFIG_LISTEN:	return "list of addresses";
	}
	return "?";
}

/* --- computed defaults -------------------------------------------------- */

/*
 * The host's fully qualified name: gethostname(), and when that has no
 * dot, the canonical name the resolver gives for it (usually from
 * /etc/hosts). Falls back to the plain name, then to "localhost".
 */
static void
compute_hostname(struct config *dst, const struct config *ctx)
{
	struct addrinfo	 hints, *res = NULL;
	char		 name[HOST_NAME_MAX_LEN + 1];
	char		*p;

	(void)ctx;
	if (gethostname(name, sizeof(name)) == -1 || name[0] == '\0')
		snprintf(name, sizeof(name), "localhost");
	name[sizeof(name) - 1] = '\0';
	if (strchr(name, '.') == NULL) {
		memset(&hints, 0, sizeof(hints));
		hints.ai_flags = AI_CANONNAME;
		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo(name, NULL, &hints, &res) == 0 &&
		    res->ai_canonname != NULL &&
		    strchr(res->ai_canonname, '.') != NULL &&
		    strlen(res->ai_canonname) < sizeof(name))
			snprintf(name, sizeof(name), "%s", res->ai_canonname);
		if (res != NULL)
			freeaddrinfo(res);
	}
	for (p = name; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	xfree(&dst->hostname);
	dst->hostname = xstrdup(name);
}

/* "localhost" and the host name (once, if the host name is localhost). */
static void
compute_local_domains(struct config *dst, const struct config *ctx)
{
	struct strlist	*l = &dst->local_domains;
	size_t		 i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = xcalloc(2, sizeof(*l->v));
	l->n = 0;
	l->v[l->n++] = xstrdup("localhost");
	if (ctx->hostname != NULL && strcmp(ctx->hostname, "localhost") != 0)
		l->v[l->n++] = xstrdup(ctx->hostname);
}

/*
 * ALIASES_FILE when it exists, else "" (no aliases): a system without
 * an aliases file is normal, while a file named in the config must be
 * there. Deciding here rather than in the validator keeps the value
 * honest, so `maild -n -a` prints a config that loads again.
 */
static void
compute_aliases(struct config *dst, const struct config *ctx)
{
	struct stat	st;

	(void)ctx;
	xfree(&dst->aliases);
	dst->aliases = xstrdup(stat(ALIASES_FILE, &st) == 0 ||
	    errno != ENOENT ? ALIASES_FILE : "");
}

/* A pool's share for one address: see PER_IP_SHARE. */
static int
per_ip_share(int max_workers)
{
	return max_workers / PER_IP_SHARE > 1 ? max_workers / PER_IP_SHARE :
	    1;
}

static void
compute_smtp_per_ip(struct config *dst, const struct config *ctx)
{
	dst->smtp.max_connections_per_ip =
	    per_ip_share(ctx->smtp.pool.max_workers);
}

static void
compute_pop3_per_ip(struct config *dst, const struct config *ctx)
{
	dst->pop3.max_connections_per_ip =
	    per_ip_share(ctx->pop3.pool.max_workers);
}

/* --- validators --------------------------------------------------------- */

/* A feature named in the file format that maild does not have yet. */
static void __attribute__((unused))
v_not_yet(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	if (*(bool *)config_key_ptr(k, cfg))
		config_check_error(chk, k, "not supported yet; only false is "
		    "accepted");
}

static const char *
str_of(const struct config_key *k, const struct config *cfg)
{
	return *(char **)config_key_ptr(k, cfg);
}

/*
 * A domain or host name as RFC 1035 2.3.1 and RFC 1123 2.1 allow:
 * labels of letters, digits and hyphens, not starting or ending with a
 * hyphen, at most 63 octets each and 255 in all. A trailing dot is not
 * accepted (we compare names as written).
 */
bool
config_is_domain_name(const char *s, const char **why_out)
{
	size_t	label = 0, total = 0;
	char	prev = '.';

	for (; *s != '\0'; prev = *s, s++, total++) {
		if (*s == '.') {
			if (prev == '.') {
				*why_out = "has an empty label (\"..\", or a "
				    "dot at the start or end)";
				return false;
			}
			if (prev == '-') {
				*why_out = "has a label that ends with '-'";
				return false;
			}
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*s) && *s != '-') {
			*why_out = "may contain only letters, digits, '-' "
			    "and '.'";
			return false;
		}
		if (*s == '-' && prev == '.') {
			*why_out = "has a label that starts with '-'";
			return false;
		}
		if (++label > 63) {
			*why_out = "has a label longer than 63 characters";
			return false;
		}
	}
	if (total == 0) {
		*why_out = "is empty";
		return false;
	}
	if (prev == '.' || prev == '-') {
		*why_out = prev == '.' ? "ends with a dot" :
		    "has a label that ends with '-'";
		return false;
	}
	if (total > SMTP_DOMAIN_MAX) {
		*why_out = "is longer than 255 characters";
		return false;
	}
	return true;
}

static void
v_milters(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	const struct strlist	*l = config_key_ptr(k, cfg);
	const char		*why;
	size_t			 i;

	if (l->n > MILTER_MAX)
		config_check_error(chk, k, "at most %d filters", MILTER_MAX);
	for (i = 0; i < l->n; i++)
		if (!milter_addr_ok(l->v[i], &why))
			config_check_error(chk, k, "\"%s\" is not a filter "
			    "address: %s", l->v[i], why);
}

static void
v_hostname(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	const char	*why;

	if (!config_is_domain_name(str_of(k, cfg), &why))
		config_check_error(chk, k, "\"%s\" is not a valid host name: "
		    "it %s", str_of(k, cfg), why);
}

static void
v_domains(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	const struct strlist	*l = config_key_ptr(k, cfg);
	const struct config_key	*host = config_key_find("hostname");
	const char		*why;
	size_t			 i, j;

	/* the default comes from hostname, whose problem is reported */
	if (!config_check_is_set(chk, k) && host != NULL &&
	    !config_check_is_ok(chk, host))
		return;
	for (i = 0; i < l->n; i++) {
		if (!config_is_domain_name(l->v[i], &why)) {
			config_check_error(chk, k, "\"%s\" is not a valid "
			    "domain: it %s", l->v[i], why);
			continue;
		}
		for (j = 0; j < i; j++)
			if (strcmp(l->v[i], l->v[j]) == 0) {
				config_check_error(chk, k, "\"%s\" is listed "
				    "twice", l->v[i]);
				break;
			}
	}
}

/* The words to add when a problem is with a default, not a set value. */
static const char *
if_default(const struct config_check *chk, const struct config_key *k)
{
	return config_check_is_set(chk, k) ? "" : " (the default)";
}

/*
 * After getpwnam/getgrnam returned NULL: whether the lookup itself failed
 * (errno says why) rather than found no such name. "Not found" may leave
 * errno 0 or set ENOENT, ESRCH, EBADF or EPERM (getpwnam(3)).
 */
static bool
lookup_failed(void)
{
	return errno != 0 && errno != ENOENT && errno != ESRCH &&
	    errno != EBADF && errno != EPERM;
}

static void
v_user(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	const char	*name = str_of(k, cfg);

	errno = 0;
	if (getpwnam(name) == NULL)
		config_check_error(chk, k, "there is no user \"%s\"%s%s%s",
		    name, if_default(chk, k), lookup_failed() ? ": " : "",
		    lookup_failed() ? strerror(errno) : "");
}

/* alias_user: an existing user that is not root (uid 0). */
static void
v_alias_user(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	const char	*name = str_of(k, cfg);
	struct passwd	*pw;

	errno = 0;
	if ((pw = getpwnam(name)) == NULL)
		config_check_error(chk, k, "there is no user \"%s\"%s%s%s",
		    name, if_default(chk, k), lookup_failed() ? ": " : "",
		    lookup_failed() ? strerror(errno) : "");
	else if (pw->pw_uid == 0)
		config_check_error(chk, k, "\"%s\" is root (uid 0): alias "
		    "programs and files never run as root", name);
}

/*
 * recipient_delimiter: up to 8 punctuation characters, none of them one
 * that has a meaning in an address or an alias ("@", quotes, "\\", "|",
 * "/", ":", ",").
 */
static void
v_delimiter(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	const char	*s = str_of(k, cfg);
	size_t		 i;

	if (strlen(s) > 8) {
		config_check_error(chk, k, "at most 8 characters");
		return;
	}
	for (i = 0; s[i] != '\0'; i++)
		if (!ispunct((unsigned char)s[i]) ||
		    strchr("@\"\\|/:,.<>()[];", s[i]) != NULL) {
			config_check_error(chk, k, "'%c' cannot separate an "
			    "address extension", s[i]);
			return;
		}
}

static void
v_group(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	const char	*name = str_of(k, cfg);

	errno = 0;
	if (getgrnam(name) == NULL)
		config_check_error(chk, k, "there is no group \"%s\"%s%s%s",
		    name, if_default(chk, k), lookup_failed() ? ": " : "",
		    lookup_failed() ? strerror(errno) : "");
}

static void
v_directory(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	const char	*path = str_of(k, cfg);
	struct stat	 st;

	if (*path == '\0')
		return;
	if (stat(path, &st) == -1 && errno == ENOENT)
		config_check_error(chk, k, "directory \"%s\"%s does not exist",
		    path, if_default(chk, k));
	else if (stat(path, &st) == -1)
		config_check_error(chk, k, "directory \"%s\"%s: %s", path,
		    if_default(chk, k), strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		config_check_error(chk, k, "\"%s\"%s is not a directory",
		    path, if_default(chk, k));
}

/* A file that must exist and be readable by whoever loads the config. */
static void
v_readable(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	const char	*path = str_of(k, cfg);
	struct stat	 st;

	if (*path == '\0')
		return;
	if (stat(path, &st) == -1 && errno == ENOENT)
		config_check_error(chk, k, "file \"%s\"%s does not exist", path,
		    if_default(chk, k));
	else if (stat(path, &st) == -1)
		config_check_error(chk, k, "file \"%s\"%s: %s", path,
		    if_default(chk, k), strerror(errno));
	else if (S_ISDIR(st.st_mode))
		config_check_error(chk, k, "\"%s\" is a directory, not a file",
		    path);
	else if (access(path, R_OK) == -1)
		config_check_error(chk, k, "file \"%s\" cannot be read: %s",
		    path, strerror(errno));
}

static void
v_pam_service(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	const char	*s = str_of(k, cfg);

	if (*s == '\0')
		config_check_error(chk, k, "must not be empty");
	else if (strchr(s, '/') != NULL || strcmp(s, ".") == 0 ||
	    strcmp(s, "..") == 0)
		config_check_error(chk, k, "\"%s\" must be a plain name, not "
		    "a path", s);
}

static void
v_banner(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	const char	*s = str_of(k, cfg), *p;

	for (p = s; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e) {
			config_check_error(chk, k, "may contain only printable "
			    "ASCII characters (no line breaks)");
			return;
		}
	if (strlen(s) > BANNER_MAX)
		config_check_error(chk, k, "is longer than %d characters",
		    BANNER_MAX);
}

/* RFC 2449 6.7: "EXPIRE" SP (number-of-days | "NEVER") [SP "USER"]. */
static void
v_expire(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	const char	*s = str_of(k, cfg), *p = s;

	if (*s == '\0')
		return;
	if (strncmp(p, "NEVER", 5) == 0)
		p += 5;
	else if (isdigit((unsigned char)*p) && p - s < 10)
		while (isdigit((unsigned char)*p) && p - s < 10)
			p++;
	else
		p = NULL;
	if (p != NULL && strcmp(p, " USER") == 0)
		p += 5;
	if (p == NULL || *p != '\0')
		config_check_error(chk, k, "\"%s\" is not \"NEVER\" or a "
		    "number of days, optionally followed by \" USER\"", s);
}

/*
 * a <= b, where a and b are two int fields. The problem is reported at
 * a when a was set in the file, otherwise at b; both must be valid.
 */
static void
check_order(struct config_check *chk, const struct config *cfg,
    const struct config_key *a, const struct config_key *b, bool duration)
{
	const struct config_key	*at;
	int			 va, vb;
	char			 ba[32], bb[32];

	if (a == NULL || b == NULL || !config_check_is_ok(chk, a) ||
	    !config_check_is_ok(chk, b))
		return;
	va = *(int *)config_key_ptr(a, cfg);
	vb = *(int *)config_key_ptr(b, cfg);
	if (va <= vb)
		return;
	if (duration) {
		config_fmt_duration(va, ba, sizeof(ba));
		config_fmt_duration(vb, bb, sizeof(bb));
	} else {
		snprintf(ba, sizeof(ba), "%d", va);
		snprintf(bb, sizeof(bb), "%d", vb);
	}
	at = config_check_is_set(chk, a) ? a : b;
	if (at == a)
		config_check_error(chk, a, "%s must not be more than %s "
		    "(%s%s)", ba, b->name, bb, config_check_is_set(chk, b) ?
		    "" : ", the default");
	else
		config_check_error(chk, b, "%s must not be less than %s "
		    "(%s%s)", bb, a->name, ba, config_check_is_set(chk, a) ?
		    "" : ", the default");
}

static void
v_pool_min_spare(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	check_order(chk, cfg, k, config_key_sibling(k, "max_spare"), false);
}

static void
v_pool_max_spare(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	check_order(chk, cfg, k, config_key_sibling(k, "max_workers"), false);
}

/* retry_min <= retry_max <= max_lifetime; on the larger of each pair. */
static void
v_queue_order(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	if (strcmp(k->name, "queue.retry_max") == 0)
		check_order(chk, cfg, config_key_sibling(k, "retry_min"), k,
		    true);
	else
		check_order(chk, cfg, config_key_sibling(k, "retry_max"), k,
		    true);
}

/*
 * A reserve as large as the whole file system would refuse every
 * message. Only looks: a queue_dir that does not exist yet (maild makes
 * it) is not judged.
 */
static void
v_min_free(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	const struct config_key	*qk = config_key_find("queue_dir");
	struct statvfs		 sv;
	unsigned long long	 total;
	char			 a[32], b[32];

	if (cfg->queue.min_free == 0 || qk == NULL ||
	    !config_check_is_ok(chk, qk) ||
	    statvfs(cfg->queue_dir, &sv) == -1)
		return;
	total = (unsigned long long)sv.f_blocks * sv.f_frsize;
	if ((unsigned long long)cfg->queue.min_free >= total)
		config_check_error(chk, k, "%s is not less than the size of "
		    "queue_dir's file system (%s): no mail would be accepted",
		    config_fmt_size(cfg->queue.min_free, a, sizeof(a)),
		    config_fmt_size((long long)total, b, sizeof(b)));
}

/*
 * A list of user names: each as a passwd name may be spelt (no space,
 * colon or control character), none twice. A user that does not exist
 * is no error: the name then matches nobody.
 */
static void
v_users(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	const struct strlist	*l = config_key_ptr(k, cfg);
	const char		*c;
	size_t			 i, j;

	for (i = 0; i < l->n; i++) {
		if (l->v[i][0] == '\0' || strlen(l->v[i]) > USER_NAME_MAX) {
			config_check_error(chk, k, "\"%s\" is not a user name",
			    l->v[i]);
			continue;
		}
		for (c = l->v[i]; *c != '\0'; c++)
			if ((unsigned char)*c <= 0x20 || *c == ':' ||
			    *c == 0x7f)
				break;
		if (*c != '\0') {
			config_check_error(chk, k, "\"%s\" is not a user name",
			    l->v[i]);
			continue;
		}
		for (j = 0; j < i; j++)
			if (strcmp(l->v[i], l->v[j]) == 0) {
				config_check_error(chk, k, "\"%s\" is listed "
				    "twice", l->v[i]);
				break;
			}
	}
}

/* The certificate and its key come together. */
static void
v_tls_pair(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	const struct config_key	*cert = config_key_sibling(k, "certificate");
	bool			 has_cert, has_key;

	if (cert == NULL || !config_check_is_ok(chk, cert))
		return;
	has_cert = *str_of(cert, cfg) != '\0';
	has_key = *str_of(k, cfg) != '\0';
	if (has_cert && !has_key)
		config_check_error(chk, cert, "set without tls.key; TLS "
		    "needs both the certificate and its key");
	else if (has_key && !has_cert)
		config_check_error(chk, k, "set without tls.certificate; TLS "
		    "needs both the certificate and its key");
	else
		v_readable(chk, k, cfg);
}

/*
 * A cipher list in OpenSSL's syntax: names joined by ':' (or ',' or
 * spaces) with the operators ! + - @ =. Only the characters are checked
 * here; whether OpenSSL knows the names is found when TLS is set up.
 */
static void
v_cipher_list(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	const char	*s = str_of(k, cfg);

	if (*s == '\0')
		config_check_error(chk, k, "must not be empty");
	else if (s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_:, !+-@=.")] != '\0')
		config_check_error(chk, k, "\"%s\" is not an OpenSSL cipher "
		    "list (see openssl-ciphers(1))", s);
}

/* Two listen entries that cannot both be bound. */
static bool
listen_overlaps(const struct listen_addr *a, const struct listen_addr *b)
{
	unsigned char	aa[16], bb[16];
	int		af;

	if (a->port != b->port)
		return false;
	if (a->host == NULL || b->host == NULL)
		return true;
	/* hosts are IP literals (either family) or names */
	af = strchr(a->host, ':') != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(af, a->host, aa) == 1) {
		if ((strchr(b->host, ':') != NULL ? AF_INET6 : AF_INET) != af ||
		    inet_pton(af, b->host, bb) != 1)
			return false;
		return memcmp(aa, bb, af == AF_INET6 ? 16 : 4) == 0;
	}
	return strcasecmp(a->host, b->host) == 0;
}

/*
 * No two listen entries of any protocol may name the same address (or
 * one "*" and one address on the same port): the second bind would
 * fail. Each entry is compared with those before it, in table order; the
 * later one is reported. The implicit-TLS lists also need a certificate.
 */
/*
 * Reports that entry a of list ka clashes with entry b of list kb, which
 * comes first. At a, unless a is a default (the file did not set it):
 * then at b, which the file did set.
 */
static void
listen_clash(struct config_check *chk, const struct config_key *ka,
    const struct listen_addr *a, const struct config_key *kb,
    const struct listen_addr *b)
{
	char	buf[HOST_NAME_MAX_LEN + 16];

	if (a->line == 0)
		config_check_error_at(chk, b->file, b->line, "%s: \"%s\" is "
		    "also used by %s (its default)", kb->name,
		    config_listen_addr_fmt(b, buf, sizeof(buf)), ka->name);
	else if (b->line == 0)
		config_check_error_at(chk, a->file, a->line, "%s: \"%s\" is "
		    "also used by %s (its default)", ka->name,
		    config_listen_addr_fmt(a, buf, sizeof(buf)), kb->name);
	else
		config_check_error_at(chk, a->file, a->line, "%s: \"%s\" is "
		    "already used by %s at %s:%d", ka->name,
		    config_listen_addr_fmt(a, buf, sizeof(buf)), kb->name,
		    b->file, b->line);
}

/* The first entry of o (its first n) that overlaps a, or NULL. */
static const struct listen_addr *
listen_find(const struct listen_list *o, size_t n, const struct listen_addr *a)
{
	size_t	j;

	for (j = 0; j < n; j++)
		if (listen_overlaps(a, &o->v[j]))
			return &o->v[j];
	return NULL;
}

static void
v_listen(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	const struct listen_list	*l = config_key_ptr(k, cfg), *o;
	const struct listen_addr	*b;
	const struct config_key		*cert, *ok;
	size_t				 i;

	for (i = 0; i < l->n; i++)
		for (ok = config_keys; ok <= k; ok++) {
			if (ok->type != CONFIG_LISTEN ||
			    !config_check_is_ok(chk, ok))
				continue;
			o = config_key_ptr(ok, cfg);
			if ((b = listen_find(o, ok == k ? i : o->n,
			    &l->v[i])) != NULL) {
				listen_clash(chk, k, &l->v[i], ok, b);
				break;
			}
		}
	if (l->n > 0 && (k->flags & CONFIG_K_TLS) &&
	    (cert = config_key_find("tls.certificate")) != NULL &&
	    config_check_is_ok(chk, cert) && *str_of(cert, cfg) == '\0')
		config_check_error(chk, k, "implicit TLS needs "
		    "tls.certificate and tls.key");
}

/* --- relay validators ---------------------------------------------------- */

/* "address" or "address@port", as libunbound's ub_ctx_set_fwd takes it. */
static void
v_relay_dns_servers(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	const struct strlist	*l = config_key_ptr(k, cfg);
	unsigned char		 buf[16];
	char			 host[INET6_ADDRSTRLEN + 1], *end;
	const char		*at;
	size_t			 i, hl;
	long			 port;

	for (i = 0; i < l->n; i++) {
		at = strchr(l->v[i], '@');
		hl = at != NULL ? (size_t)(at - l->v[i]) : strlen(l->v[i]);
		if (hl == 0 || hl >= sizeof(host)) {
			config_check_error(chk, k, "\"%s\" is not an IP "
			    "address (with @port)", l->v[i]);
			continue;
		}
		memcpy(host, l->v[i], hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET, host, buf) != 1 &&
		    inet_pton(AF_INET6, host, buf) != 1) {
			config_check_error(chk, k, "\"%s\" is not an IP "
			    "address (with @port)", l->v[i]);
			continue;
		}
		if (at != NULL) {
			errno = 0;
			port = strtol(at + 1, &end, 10);
			if (errno != 0 || end == at + 1 || *end != '\0' ||
			    port < 1 || port > 65535)
				config_check_error(chk, k, "\"%s\": the port "
				    "must be 1 to 65535", l->v[i]);
		}
	}
}

/* --- relay: per-destination TLS policy (relay.tls.policy) --------------- */

/*
 * One "key=level" entry: the key's length (blanks trimmed) in *keylen and
 * its level. 0, or -1 with *why when there is no "=" or the level is not
 * one of relay_tls_levels. relay/relay_policy.c reads entries the same way.
 */
static int
tls_policy_split(const char *e, size_t *keylen, int *level, const char **why)
{
	const char	*eq, *v;
	size_t		 n, vl, i;

	if ((eq = strchr(e, '=')) == NULL) {
		*why = "is not \"key=level\"";
		return -1;
	}
	n = (size_t)(eq - e);
	while (n > 0 && isspace((unsigned char)e[n - 1]))
		n--;
	for (v = eq + 1; isspace((unsigned char)*v); v++)
		;
	vl = strlen(v);
	while (vl > 0 && isspace((unsigned char)v[vl - 1]))
		vl--;
	*keylen = n;
	for (i = 0; relay_tls_levels[i].name != NULL; i++)
		if (strlen(relay_tls_levels[i].name) == vl &&
		    strncasecmp(relay_tls_levels[i].name, v, vl) == 0) {
			*level = relay_tls_levels[i].value;
			return 0;
		}
	*why = "has no level none, may, encrypt, verify or dane";
	return -1;
}

/* Whether an entry of relay.tls.policy asks for level. */
static bool
tls_policy_uses(const struct config *cfg, int level)
{
	const char	*why;
	size_t		 i, n;
	int		 lv;

	for (i = 0; i < cfg->relay.tls_policy.n; i++)
		if (tls_policy_split(cfg->relay.tls_policy.v[i], &n, &lv,
		    &why) == 0 && lv == level)
			return true;
	return false;
}

static void
v_relay_tls_policy(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	const struct strlist	*l = config_key_ptr(k, cfg);
	/* "[" host "]:" port */
	char			 key[SMTP_DOMAIN_MAX + sizeof("[]:65535")];
	const char		*why, *e;
	size_t			 i, n;
	int			 lv;

	for (i = 0; i < l->n; i++) {
		e = l->v[i];
		if (tls_policy_split(e, &n, &lv, &why) == -1) {
			config_check_error(chk, k, "\"%s\" %s", e, why);
			continue;
		}
		if (n == 0 || n >= sizeof(key)) {
			config_check_error(chk, k, "\"%s\": no destination",
			    e);
			continue;
		}
		memcpy(key, e, n);
		key[n] = '\0';
		if (key[0] == '[') {
			if (!hop_ok(key))
				config_check_error(chk, k, "\"%s\": the next "
				    "hop is not \"[host]\" or \"[host]:port\"",
				    e);
		} else if (!config_is_domain_name(key[0] == '.' ? key + 1 :
		    key, &why))
			config_check_error(chk, k, "\"%s\": the domain %s", e,
			    why);
	}
}

/* k's file must be readable when set, or when TLS level is in use. */
static void
readable_for(struct config_check *chk, const struct config_key *k,
    struct config *cfg, enum relay_tls level)
{
	if (cfg->relay.tls_security_level == (int)level ||
	    tls_policy_uses(cfg, level) || config_check_is_set(chk, k))
		v_readable(chk, k, cfg);
}

/* The trust anchor must exist only when DANE needs it. */
static void
v_relay_anchor(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	readable_for(chk, k, cfg, RELAY_TLS_DANE);
}

/*
 * The CA file must exist when set, or when "verify" needs it; the default
 * may be missing (no ca-certificates package) without making the whole
 * config wrong, since the default level never verifies.
 */
static void
v_relay_ca_file(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	readable_for(chk, k, cfg, RELAY_TLS_VERIFY);
}

static void
v_relay_helo(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	if (*str_of(k, cfg) != '\0')
		v_hostname(chk, k, cfg);
}

/* The connect timeout is part of a session's first wait. */
static void
v_relay_timeouts(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	if (cfg->relay.connect_timeout > cfg->relay.command_timeout)
		config_check_error(chk, k, "must not be longer than "
		    "relay.command_timeout");
}

/* --- relay: the runner's side ------------------------------------------- */

/*
 * A next hop: "domain", "host", "[host]" or "[host]:port"; host a domain
 * name or an address literal.
 */
static bool
hop_ok(const char *s)
{
	const char	*why, *close;
	char		 host[SMTP_DOMAIN_MAX + 1], *end;
	unsigned char	 buf[16];
	size_t		 n;
	long		 port;

	if (s[0] != '[')
		return strlen(s) <= SMTP_DOMAIN_MAX &&
		    config_is_domain_name(s, &why);
	if ((close = strchr(s, ']')) == NULL)
		return false;
	n = (size_t)(close - s - 1);
	if (n == 0 || n > SMTP_DOMAIN_MAX)
		return false;
	memcpy(host, s + 1, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, buf) != 1 &&
	    inet_pton(AF_INET6, host, buf) != 1 &&
	    !config_is_domain_name(host, &why))
		return false;
	if (close[1] == '\0')
		return true;
	if (close[1] != ':')
		return false;
	errno = 0;
	port = strtol(close + 2, &end, 10);
	return errno == 0 && end != close + 2 && *end == '\0' && port >= 1 &&
	    port <= 65535;
}

static void
v_relay_hop(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	const char	*s = str_of(k, cfg);

	if (*s != '\0' && !hop_ok(s))
		config_check_error(chk, k, "\"%s\" is not \"host\", "
		    "\"[host]\" or \"[host]:port\"", s);
}

static void
v_relay_routes(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	const struct strlist	*l = config_key_ptr(k, cfg);
	char			 dom[SMTP_DOMAIN_MAX + 1];
	const char		*eq, *hop, *why;
	size_t			 i, n;

	for (i = 0; i < l->n; i++) {
		if ((eq = strchr(l->v[i], '=')) == NULL) {
			config_check_error(chk, k, "\"%s\" is not "
			    "\"domain=nexthop\"", l->v[i]);
			continue;
		}
		n = (size_t)(eq - l->v[i]);
		while (n > 0 && l->v[i][n - 1] == ' ')
			n--;
		for (hop = eq + 1; *hop == ' '; hop++)
			;
		if (n == 0 || n > SMTP_DOMAIN_MAX) {
			config_check_error(chk, k, "\"%s\": no domain",
			    l->v[i]);
			continue;
		}
		memcpy(dom, l->v[i], n);
		dom[n] = '\0';
		if (!config_is_domain_name(dom, &why))
			config_check_error(chk, k, "\"%s\": the domain %s",
			    l->v[i], why);
		else if (!hop_ok(hop))
			config_check_error(chk, k, "\"%s\": the next hop is "
			    "not \"host\", \"[host]\" or \"[host]:port\"",
			    l->v[i]);
	}
}

/*
 * The password file: a regular file owned by the queue's owner (root,
 * which made queue_dir) and readable by nobody else, as the runner
 * checks again when it reads it.
 */
static void
v_relay_credentials(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	const char	*path = str_of(k, cfg);
	struct stat	 st, qst;
	uid_t		 owner = 0;

	if (*path == '\0')
		return;
	if (stat(cfg->queue_dir, &qst) == 0)
		owner = qst.st_uid;
	if (lstat(path, &st) == -1)
		config_check_error(chk, k, "file \"%s\": %s", path,
		    strerror(errno));
	else if (!S_ISREG(st.st_mode))
		config_check_error(chk, k, "\"%s\" is not a file", path);
	else if (st.st_uid != owner || (st.st_mode & 077) != 0)
		config_check_error(chk, k, "\"%s\" must be owned by root "
		    "and readable by nobody else (mode 0600): it holds a "
		    "password", path);
}

static void
v_relay_concurrency(struct config_check *chk, const struct config_key *k,
    struct config *cfg)
{
	check_order(chk, cfg, config_key_sibling(k,
	    "initial_destination_concurrency"), k, false);
}
