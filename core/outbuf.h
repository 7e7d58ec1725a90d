/*
 * Output gathered in a buffer and written to its stream in one fwrite when
 * the buffer fills and at outbuf_flush, rather than in a call of stdio per
 * piece: plan writes hundreds of thousands of pieces, and stdio's calls
 * cost more than the formatting.  Nothing reaches the stream before a
 * flush; an error shows in the stream's ferror, as with stdio.
 */
#ifndef TW_OUTBUF_H
#define TW_OUTBUF_H

#include <stddef.h>
#include <stdio.h>

struct outbuf {
	FILE *f;
	size_t len;
	unsigned char b[8192];
};

void outbuf_init(struct outbuf *o, FILE *f);
/* Writes what o gathered to its stream. */
void outbuf_flush(struct outbuf *o);
void outbuf_put(struct outbuf *o, const void *p, size_t n);
void outbuf_str(struct outbuf *o, const char *s);
/* s, then spaces up to width bytes, as printf's %-*s writes it. */
void outbuf_pad(struct outbuf *o, const char *s, size_t width);

#endif
