/*
 * The Sendmail milter protocol, version 6 as Postfix speaks it: the
 * packets the MTA sends and the checks on what a filter answers
 * (milter_proto.c). Pure functions, no I/O: the smtpd worker
 * (unprivileged) builds packets here and parses every reply here, so
 * that the parser can be fuzzed alone. Nothing a filter sends is
 * trusted: lengths are bounded, strings must be NUL-terminated inside
 * the packet, header names must be RFC 5322 ftext and header values may
 * hold no CR or LF except as folding.
 */
#ifndef MAILD_MILTER_PROTO_H
#define MAILD_MILTER_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MILTER_VERSION		6

/* Commands (MTA to filter). */
#define MILTER_C_ABORT		'A'
#define MILTER_C_BODY		'B'
#define MILTER_C_CONNECT	'C'
#define MILTER_C_MACRO		'D'
#define MILTER_C_BODYEOB	'E'
#define MILTER_C_HELO		'H'
#define MILTER_C_HEADER		'L'
#define MILTER_C_MAIL		'M'
#define MILTER_C_EOH		'N'
#define MILTER_C_OPTNEG		'O'
#define MILTER_C_QUIT		'Q'
#define MILTER_C_RCPT		'R'
#define MILTER_C_DATA		'T'

/* Replies (filter to MTA). */
#define MILTER_R_ADDRCPT	'+'
#define MILTER_R_DELRCPT	'-'
#define MILTER_R_ADDRCPT_PAR	'2'
#define MILTER_R_SHUTDOWN	'4'
#define MILTER_R_ACCEPT		'a'
#define MILTER_R_REPLBODY	'b'
#define MILTER_R_CONTINUE	'c'
#define MILTER_R_DISCARD	'd'
#define MILTER_R_CHGFROM	'e'
#define MILTER_R_CONN_FAIL	'f'
#define MILTER_R_ADDHEADER	'h'
#define MILTER_R_INSHEADER	'i'
#define MILTER_R_CHGHEADER	'm'
#define MILTER_R_OPTNEG		'O'
#define MILTER_R_PROGRESS	'p'
#define MILTER_R_QUARANTINE	'q'
#define MILTER_R_REJECT		'r'
#define MILTER_R_SKIP		's'
#define MILTER_R_TEMPFAIL	't'
#define MILTER_R_REPLYCODE	'y'

/* Actions a filter may ask for (negotiated). */
#define MILTER_A_ADDHDRS	0x001
#define MILTER_A_CHGBODY	0x002
#define MILTER_A_ADDRCPT	0x004
#define MILTER_A_DELRCPT	0x008
#define MILTER_A_CHGHDRS	0x010
#define MILTER_A_QUARANTINE	0x020
#define MILTER_A_CHGFROM	0x040
#define MILTER_A_ADDRCPT_PAR	0x080
#define MILTER_A_SETSYMLIST	0x100
#define MILTER_A_ALL		0x1ff

/* Protocol steps (negotiated). */
#define MILTER_P_NOCONNECT	0x00000001
#define MILTER_P_NOHELO		0x00000002
#define MILTER_P_NOMAIL		0x00000004
#define MILTER_P_NORCPT		0x00000008
#define MILTER_P_NOBODY		0x00000010
#define MILTER_P_NOHDRS		0x00000020
#define MILTER_P_NOEOH		0x00000040
#define MILTER_P_NR_HDR		0x00000080
#define MILTER_P_NOUNKNOWN	0x00000100
#define MILTER_P_NODATA		0x00000200
#define MILTER_P_SKIP		0x00000400
#define MILTER_P_RCPT_REJ	0x00000800
#define MILTER_P_NR_CONN	0x00001000
#define MILTER_P_NR_HELO	0x00002000
#define MILTER_P_NR_MAIL	0x00004000
#define MILTER_P_NR_RCPT	0x00008000
#define MILTER_P_NR_DATA	0x00010000
#define MILTER_P_NR_UNKN	0x00020000
#define MILTER_P_NR_EOH		0x00040000
#define MILTER_P_NR_BODY	0x00080000
#define MILTER_P_HDR_LEADSPC	0x00100000
/* What we offer: every step may be left out or go unanswered; SKIP. */
#define MILTER_P_OFFER		0x001fffff

/* Macro stages of SETSYMLIST. */
enum milter_stage {
	MILTER_M_CONNECT, MILTER_M_HELO, MILTER_M_MAIL, MILTER_M_RCPT,
	MILTER_M_DATA, MILTER_M_EOM, MILTER_M_EOH, MILTER_M_NSTAGES
};

/* A packet being built (MTA side). */
struct milter_pkt {
	char	*buf;		/* 4 length octets, the command, data */
	size_t	 len;
	size_t	 cap;
	bool	 overflow;	/* more than MILTER_PKT_MAX: do not send */
};

void	milter_pkt_begin(struct milter_pkt *, char cmd);
void	milter_pkt_bytes(struct milter_pkt *, const void *, size_t);
/* A string with its NUL. */
void	milter_pkt_str(struct milter_pkt *, const char *);
void	milter_pkt_u16(struct milter_pkt *, uint16_t);
void	milter_pkt_u32(struct milter_pkt *, uint32_t);
/* Writes the length; returns -1 when the packet is too big. */
int	milter_pkt_end(struct milter_pkt *);
void	milter_pkt_free(struct milter_pkt *);

/* What the filter answered to OPTNEG. */
struct milter_neg {
	uint32_t	 version;
	uint32_t	 actions;
	uint32_t	 protocol;
};

/*
 * Parses the data of an OPTNEG reply against what we offered (actions,
 * protocol). Macro lists (SETSYMLIST) are checked and ignored: we send
 * the same macros to every filter. Returns 0, or -1 with a short text in
 * why.
 */
int	milter_parse_optneg(const char *data, size_t len, uint32_t offer_act,
	    uint32_t offer_proto, struct milter_neg *out, const char **why);

/* A parsed reply; the pointers point into the packet data. */
struct milter_reply {
	char		 cmd;
	uint32_t	 index;		/* INSHEADER, CHGHEADER */
	/* header name; address (CHGFROM, ADDRCPT, DELRCPT); reason
	 * (QUARANTINE) */
	const char	*name;
	const char	*value;		/* header value; ESMTP args or NULL */
	const char	*data;		/* REPLBODY */
	size_t		 datalen;
	int		 code;		/* REPLYCODE: 421, 4xx, 5xx */
	char		 status[16];	/* REPLYCODE: "5.7.1" or "" */
	const char	*text;		/* REPLYCODE: the text after them */
};

/*
 * Parses one reply packet (command cmd, len octets of data). Returns 0,
 * or -1 with a short text in why (the filter is then broken: the
 * default action applies). Header names are RFC 5322 ftext (1 to
 * MILTER_HDRNAME_MAX octets); values are bounded, NUL-free, and hold
 * line ends only as folding (CRLF or LF before SP or HT). A reply code
 * is 4xx or 5xx with an optional matching enhanced status and no
 * control characters in the text.
 */
int	milter_parse_reply(char cmd, const char *data, size_t len,
	    struct milter_reply *out, const char **why);

/* Whether s[0..len) is a valid header field name (RFC 5322 2.2, ftext). */
bool	milter_header_name_ok(const char *s, size_t len);

#endif
