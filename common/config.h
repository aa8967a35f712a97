/*
 * The configuration: the only module that calls libconfig. Every setting
 * is a row of the table in config_keys.c (name, type, default, range,
 * validator, one line of help); this header is the typed view of it that
 * the rest of maild reads. The file is libconfig syntax:
 *
 *	hostname = "mx.example.org";
 *	local_domains = [ "example.org", "localhost" ];
 *	smtp: { listen = [ "*:25" ]; pool: { max_workers = 64; }; };
 *
 * config_load() validates everything and reports each problem as
 * "FILE:LINE: reason" in plain words (unknown key, wrong type, out of
 * range, malformed address, missing file or user).
 */
#ifndef MAILD_CONFIG_H
#define MAILD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct strlist {
	char	**v;
	size_t	  n;
};

/* One "listen" entry: "host:port", "[v6]:port", "*:port" or "port". */
struct listen_addr {
	char	*host;		/* NULL for "*": every IPv4 and IPv6 address */
	int	 port;
	int	 line;		/* where it was set, for bind errors */
	char	*file;		/* the file of that line; NULL for a default */
};

struct listen_list {
	struct listen_addr	*v;
	size_t			 n;
};

struct config_pool {
	int	min_spare;
	int	max_spare;
	int	max_workers;
	int	max_sessions_per_worker;
	bool	retire_after_login;
	int	stress_timeout;		/* seconds */
	int	stress_max_errors;
};

enum bare_newline_policy {
	BARE_NEWLINE_NORMALIZE,	/* bare LF/CR become line ends */
	BARE_NEWLINE_REJECT,	/* the message is refused (554 5.6.0) */
};

/* relay.address_preference */
enum relay_address_pref {
	RELAY_PREF_ANY,		/* both families, interleaved */
	RELAY_PREF_IPV4,	/* IPv4 first */
	RELAY_PREF_IPV6,	/* IPv6 first */
};

/* smtp.milter_default_action: a filter that is down, slow or broken */
enum milter_action {
	MILTER_ACTION_TEMPFAIL,	/* 451 4.7.1 */
	MILTER_ACTION_ACCEPT,	/* go on without that filter */
	MILTER_ACTION_REJECT,	/* 550 5.7.1 */
};

enum auth_sender_policy {
	AUTH_SENDER_ANY,	/* authenticated users may use any sender */
	AUTH_SENDER_OWN,	/* only user@local_domain (and aliases to them) */
};

struct config {
	char			*path;		/* the file loaded */

	/* top level */
	char			*hostname;	/* default: gethostname(), FQDN */
	char			*user;		/* workers run as this user */
	char			*group;
	char			*chroot;	/* "" = no chroot */
	char			*spool_dir;
	char			*queue_dir;
	char			*state_dir;	/* POP3 indexes and other caches */
	char			*pid_file;
	int			 syslog_facility;	/* LOG_MAIL etc. */
	struct strlist		 local_domains;	/* lower case */
	char			*aliases;	/* "" = no aliases file */
	bool			 alias_file_targets;
	bool			 alias_program_targets;
	char			*alias_user;	/* alias targets */
	int			 command_time_limit;	/* seconds */
	char			*recipient_delimiter;	/* "" = none */
	char			*mail_group;	/* group of new maildrops */
	bool			 dotlock;
	char			*pam_service;
	int			 auth_fail_delay;	/* seconds */
	bool			 limit_loopback;	/* per-IP limits on 127/8 */
	int			 shutdown_grace;	/* seconds */

	struct {
		struct listen_list	 listen;
		struct listen_list	 submission_listen;
		struct listen_list	 smtps_listen;
		char			*banner;	/* text after "220 host " */
		long long		 message_size_limit;	/* bytes */
		int			 max_recipients;
		int			 max_errors;
		int			 max_connections_per_ip;
		int			 max_line_length;
		enum bare_newline_policy bare_newlines;
		bool			 strict_rfc5321_paths;
		bool			 vrfy;
		bool			 expn;
		bool			 helo_required;
		bool			 smtputf8;
		bool			 chunking;
		bool			 allow_plaintext_auth;
		enum auth_sender_policy	 authenticated_sender;
		int			 timeout_command;	/* seconds */
		int			 timeout_data;		/* seconds */
		int			 hop_limit;	/* Received: fields */
		/* milters (smtpd/milter.c) */
		struct strlist		 milters;
		struct strlist		 submission_milters;
		enum milter_action	 milter_default_action;
		int			 milter_timeout;	/* seconds */
		int			 milter_connect_timeout; /* seconds */
		char			*milter_macro_daemon_name;
		struct config_pool	 pool;
	} smtp;

	struct {
		struct listen_list	 listen;
		struct listen_list	 pop3s_listen;
		int			 timeout;		/* seconds */
		int			 max_errors;
		int			 max_connections_per_ip;
		char			*apop_secrets;	/* "" = no APOP */
		int			 login_delay;	/* seconds, 0 = none */
		char			*expire;	/* "" = not advertised */
		bool			 allow_plaintext_login;
		bool			 index;
		struct config_pool	 pool;
	} pop3;

	struct {
		char			*certificate;	/* "" = no TLS */
		char			*key;
		char			*min_protocol;	/* "TLSv1.2" */
		char			*ciphers;	/* TLS 1.2 and below */
		char			*ciphersuites;	/* TLS 1.3 */
	} tls;

	struct {
		int			 retry_min;	/* seconds */
		int			 retry_max;
		int			 max_lifetime;	/* then bounce */
		int			 locked_retry;	/* maildrop in use */
		long long		 min_free;	/* bytes; 0 = no check */
		int			 delay_warning;	/* seconds; 0 = off */
		int			 bounce_lifetime; /* null sender */
		bool			 double_bounce_to_postmaster;
	} queue;

	/* The relay engine (relay/): DNS, the SMTP client, client TLS. */
	struct {
		int			 port;		/* of hops without :port */
		struct strlist		 dns_servers;	/* "addr@port"; none = resolv.conf */
		char			*dnssec_trust_anchor;	/* "" = none */
		char			*helo_name;	/* "" = hostname */
		int			 address_preference;	/* RELAY_PREF_* */
		int			 mx_address_limit;
		int			 mx_session_limit;
		int			 connect_timeout;	/* seconds */
		int			 command_timeout;
		int			 data_timeout;
		int			 connection_cache_time;
		int			 connection_reuse_limit;
		int			 tls_security_level;	/* enum relay_tls */
		char			*tls_ca_file;
		char			*tls_min_protocol;
		char			*tls_ciphers;
		struct strlist		 tls_policy;	/* "domain=level" */
		/* the runner's side (queue/relay_sched.c, relay workers) */
		char			*smarthost;	/* "" = MX delivery */
		char			*smarthost_credentials;	/* "" = none */
		struct strlist		 routes;	/* "domain=nexthop" */
		int			 max_processes;
		int			 max_idle;	/* seconds */
		int			 max_use;
		int			 recipient_limit;
		int			 initial_destination_concurrency;
		int			 destination_concurrency_limit;
	} relay;
	/* local submission: the sendmail command (sendmail/) */
	struct {
		char			*socket;	/* "" = none */
		struct strlist		 trusted_users;	/* may set -f */
	} submit;
};

/* One problem found while loading. */
struct config_error {
	char	*file;
	int	 line;		/* 0 when the problem has no line */
	char	*reason;
};

struct config_errors {
	struct config_error	*v;
	size_t			 n;
};

/*
 * Loads and validates path. Returns the new config, or NULL with every
 * problem found appended to *errs (which the caller frees with
 * config_errors_free; errs may be NULL). Checks that need the system (the
 * user exists, files are readable, listen host names resolve) are done
 * too. Problems come sorted by file and line, those without a line (a
 * default that does not suit this system) last.
 */
struct config	*config_load(const char *path, struct config_errors *errs);
/* A config with every compiled-in default (no file). Never NULL. */
struct config	*config_defaults(void);
void		 config_free(struct config **);
void		 config_errors_free(struct config_errors *);
/* Writes "FILE:LINE: reason" lines (one per error) to fp. */
void		 config_errors_print(FILE *fp, const struct config_errors *);

/*
 * Prints the effective settings in config-file syntax: only those that
 * differ from the defaults, or all of them when all is set (maild -n/-a).
 */
void		 config_print(FILE *fp, const struct config *, bool all);

/*
 * Writes a as the config file would ("*:25", "192.0.2.1:25",
 * "[2001:db8::1]:587") into buf, and returns buf.
 */
const char	*config_listen_addr_fmt(const struct listen_addr *a,
		    char *buf, size_t bufsz);

/* Whether domain (any case) is one of local_domains. */
bool		 config_is_local_domain(const struct config *,
		    const char *domain);

#endif
