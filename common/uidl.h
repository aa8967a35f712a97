/*
 * POP3 unique-ids (RFC 1939 7, UIDL) for mbox messages. A UIDL is the
 * first 32 lowercase hex digits of the SHA-256 of the message's From_
 * line and header section (the bytes from the "From " to the end of the
 * empty line that ends the header section), with "-N" appended to the
 * N-th further message of the maildrop whose hash is the same.
 *
 * It depends only on the message's own bytes, so it survives restarts,
 * other messages' deletion and a lost index, and works for mail another
 * MDA wrote. The From_ line's date makes two deliveries of the same
 * message differ unless they arrived in the same second.
 *
 * mbox_scan() computes UIDLs while it scans; this module is the hashing
 * and the duplicate counting. No I/O.
 */
#ifndef MAILD_UIDL_H
#define MAILD_UIDL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"

/* Hex digits of the hash part. */
#define UIDL_HEX_LEN	32

/* Incremental hash of one message's From_ line and header section. */
struct uidl_hash;

/* Never returns NULL (failure to set up the digest is fatal). */
struct uidl_hash	*uidl_hash_new(void);
void			 uidl_hash_free(struct uidl_hash **);
/* Starts a message. */
void			 uidl_hash_begin(struct uidl_hash *);
void			 uidl_hash_update(struct uidl_hash *, const void *,
			    size_t);
/* Ends the message: writes UIDL_HEX_LEN digits and a NUL to hex_out. */
void			 uidl_hash_end(struct uidl_hash *,
			    char hex_out[UIDL_HEX_LEN + 1]);

/*
 * Counts hashes to number duplicates: a set of hex hashes with how often
 * each was added.
 */
struct uidl_set;

/* hint: the number of messages expected. Never returns NULL. */
struct uidl_set		*uidl_set_new(size_t hint);
void			 uidl_set_free(struct uidl_set **);
/*
 * Adds one occurrence of hex (at least UIDL_HEX_LEN hex digits; only
 * those are used, so a full UIDL may be passed) and returns how many
 * times it had been added before: 0 for the first, N for the N-th
 * further one (saturates at UINT32_MAX).
 */
uint32_t		 uidl_set_add(struct uidl_set *, const char *hex);

/*
 * Writes the UIDL for hash hex and duplicate number dup ("hex" for 0,
 * "hex-dup" otherwise) to out, which has MBOX_UIDL_SIZE bytes.
 */
void			 uidl_format(char out[MBOX_UIDL_SIZE], const char *hex,
			    uint32_t dup);

/*
 * Whether s is a well-formed unique-id: 1 to POP3_UIDL_MAX characters
 * in 0x21..0x7E (RFC 1939 7). For tests and for checking an index.
 */
bool			 uidl_is_valid(const char *s);

/*
 * Whether s has the shape uidl_format() gives: 32 lowercase hex digits,
 * optionally "-" and a decimal number without leading zeros, above 0.
 */
bool			 uidl_is_ours(const char *s);

#endif
