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
#include <string.h>

struct outbuf {
	FILE *f;
	size_t len;
	unsigned char b[8192];
};

void outbuf_init(struct outbuf *o, FILE *f);
/* Writes what o gathered to its stream. */
void outbuf_flush(struct outbuf *o);
/* outbuf_put's way for n bytes that do not fit in what is left of the buffer. */
void outbuf_put_over(struct outbuf *o, const void *p, size_t n);

/*
 * Gathers n bytes.  Inline: plan --json puts several pieces a field, most
 * of a byte or two, and a call for each cost a tenth of its instructions.
 */
static inline void
outbuf_put(struct outbuf *o, const void *p, size_t n)
{
	if (n > sizeof o->b - o->len) {
		outbuf_put_over(o, p, n);
		return;
	}
	memcpy(o->b + o->len, p, n);
	o->len += n;
}
void outbuf_str(struct outbuf *o, const char *s);
/* n spaces. */
void outbuf_spaces(struct outbuf *o, size_t n);
/* s, then spaces up to width bytes, as printf's %-*s writes it. */
void outbuf_pad(struct outbuf *o, const char *s, size_t width);

#endif
