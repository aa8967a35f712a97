/*
 * Base64 (RFC 4648 4) for SASL exchanges (RFC 4954): strict decoding,
 * padded encoding. No line breaks, no whitespace, no I/O.
 */
#ifndef MAILD_BASE64_H
#define MAILD_BASE64_H

#include <stddef.h>

/* Characters base64_encode() writes for n octets, without the NUL. */
#define BASE64_ENCODED_LEN(n)	((((n) + 2) / 3) * 4)
/* Octets base64_decode() can write for n characters, at most. */
#define BASE64_DECODED_MAX(n)	(((n) / 4) * 3)

/*
 * Encodes inlen octets into out as NUL-terminated base64 with padding.
 * Returns 0, or -1 if outsize < BASE64_ENCODED_LEN(inlen) + 1 (out is
 * then "" if outsize > 0).
 */
int	base64_encode(const void *in, size_t inlen, char *out, size_t outsize);

/*
 * Decodes inlen characters of base64. Strict: the length must be a
 * multiple of 4, only A-Z a-z 0-9 + / are allowed, "=" only as the one
 * or two last characters, and the bits padding leaves over must be zero
 * (so every octet string has exactly one accepted encoding). "" decodes
 * to zero octets. out may be NULL (outsize 0) to check the input only.
 * Returns 0 with the octet count in *outlen_out (may be NULL), or -1 if
 * the input is not base64 or does not fit outsize; out's contents are
 * then unspecified (wipe it if it may hold a secret).
 */
int	base64_decode(const char *in, size_t inlen, void *out, size_t outsize,
	    size_t *outlen_out);

#endif
