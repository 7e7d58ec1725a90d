/* Buffered output; see outbuf.h. */
#include "core/outbuf.h"

#include <string.h>

void
outbuf_init(struct outbuf *o, FILE *f)
{
	o->f = f;
	o->len = 0;
}

void
outbuf_flush(struct outbuf *o)
{
	if (o->len > 0)
		fwrite(o->b, 1, o->len, o->f);
	o->len = 0;
}

void
outbuf_put_over(struct outbuf *o, const void *p, size_t n)
{
	outbuf_flush(o);
	if (n > sizeof o->b) {
		fwrite(p, 1, n, o->f);
		return;
	}
	memcpy(o->b, p, n);
	o->len = n;
}

void
outbuf_str(struct outbuf *o, const char *s)
{
	outbuf_put(o, s, strlen(s));
}

void
outbuf_spaces(struct outbuf *o, size_t n)
{
	static const char spaces[] = "                                ";

	while (n > 0) {
		size_t k = n < sizeof spaces - 1 ? n : sizeof spaces - 1;

		outbuf_put(o, spaces, k);
		n -= k;
	}
}

void
outbuf_pad(struct outbuf *o, const char *s, size_t width)
{
	size_t n = strlen(s);

	outbuf_put(o, s, n);
	if (n < width)
		outbuf_spaces(o, width - n);
}
