/*
 * A reference model of the mbox format as mbox_table.h describes it,
 * written for obviousness, not speed: the whole file in memory, one line
 * at a time. The unit tests and the fuzzer compare mbox_scan() and
 * mbox_reader with it.
 */
#ifndef MAILD_MBOX_REF_H
#define MAILD_MBOX_REF_H

#include <stdbool.h>
#include <stddef.h>

struct mbox_ref_msg {
	size_t	from_off, hdr_off, body_off, end;
	size_t	octets;
	char	hash[33];	/* first 32 hex digits of the UIDL hash */
};

struct mbox_ref {
	struct mbox_ref_msg	*v;
	size_t			 n;
	bool			 garbage;	/* no From_ line first */
};

/* Parses buf. Free with mbox_ref_free(). */
void	mbox_ref_parse(const char *buf, size_t len, struct mbox_ref *out);
void	mbox_ref_free(struct mbox_ref *);

/*
 * What the reader must give for message m (top < 0: all of it). Returns
 * a malloc'ed buffer, its length in *len_out.
 */
char	*mbox_ref_output(const char *buf, const struct mbox_ref_msg *m,
	    long top, size_t *len_out);

#endif
