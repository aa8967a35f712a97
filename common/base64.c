/*
 * Base64 for the SASL exchanges of SMTP AUTH (RFC 4954 4): the smtpd
 * worker decodes client responses and encodes challenges. Our own code
 * rather than EVP_DecodeBlock, which accepts whitespace and does not
 * tell how much padding it dropped. Decoding is strict (RFC 4648 3.3,
 * 3.5): anything but the canonical encoding is refused.
 */
#include "autoconf.h"

#include <stdint.h>

#include "base64.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of a base64 character, or -1. */
static int
b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

int
base64_encode(const void *in, size_t inlen, char *out, size_t outsize)
{
	const unsigned char	*p = in;
	size_t			 i, o = 0;
	uint32_t		 v;

	if (inlen > (SIZE_MAX - 1) / 4 * 3 - 2 ||
	    outsize < BASE64_ENCODED_LEN(inlen) + 1) {
		if (outsize > 0)
			out[0] = '\0';
		return -1;
	}
	for (i = 0; i + 2 < inlen; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (i < inlen) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < inlen)
			v |= (uint32_t)p[i + 1] << 8;
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < inlen ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return 0;
}

int
base64_decode(const char *in, size_t inlen, void *out, size_t outsize,
    size_t *outlen_out)
{
	const unsigned char	*p = (const unsigned char *)in;
	unsigned char		*q = out;
	size_t			 i, o = 0, pad = 0, n;
	uint32_t		 v;
	int			 k, d;

	if (inlen % 4 != 0)
		return -1;
	if (inlen > 0 && p[inlen - 1] == '=')
		pad = p[inlen - 2] == '=' ? 2 : 1;
	for (i = 0; i < inlen; i += 4) {
		v = 0;
		for (k = 0; k < 4; k++) {
			if (i + 4 == inlen && k >= 4 - (int)pad)
				d = 0;	/* the padding itself */
			else if ((d = b64_value(p[i + k])) == -1)
				return -1;	/* includes a misplaced '=' */
			v = v << 6 | (uint32_t)d;
		}
		n = i + 4 == inlen ? 3 - pad : 3;
		/* padding must leave zero bits behind (RFC 4648 3.5) */
		if ((n == 1 && (v & 0xffff) != 0) ||
		    (n == 2 && (v & 0xff) != 0))
			return -1;
		if (out != NULL) {
			if (outsize - o < n)
				return -1;
			q[o] = (unsigned char)(v >> 16);
			if (n > 1)
				q[o + 1] = (unsigned char)(v >> 8);
			if (n > 2)
				q[o + 2] = (unsigned char)v;
		}
		o += n;
	}
	if (outlen_out != NULL)
		*outlen_out = o;
	return 0;
}
