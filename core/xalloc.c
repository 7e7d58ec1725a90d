/* Allocation wrappers that abort on out-of-memory. */
#include "core/xalloc.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
oom(void)
{
	fputs("tokenwarden: out of memory\n", stderr);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		oom();
	return q;
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xvasprintf(const char *fmt, va_list ap)
{
	/* Most texts fit: formatted once here, rather than once to measure and once to write. */
	char buf[256];
	va_list copy;
	int n;
	char *p;

	va_copy(copy, ap);
	n = vsnprintf(buf, sizeof buf, fmt, copy);
	va_end(copy);
	if (n < 0)
		oom();
	p = xmalloc((size_t)n + 1);
	if ((size_t)n < sizeof buf)
		memcpy(p, buf, (size_t)n + 1);
	else
		vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

#ifdef TW_FUZZ_MALLOC
/*
 * The fuzz targets' build of the library (tests/fuzz) takes secret buffers
 * from malloc: ASan then sees a read one byte past either end, and no input
 * pays for mapping, locking and guarding pages per buffer.  It never holds
 * a real secret, so nothing is wiped.
 */
void *
xsecret_alloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (p == NULL)
		oom();
	return p;
}

void
xsecret_free(void *p)
{
	free(p);
}
#else
void *
xsecret_alloc(size_t n)
{
	void *p;

	if (sodium_init() < 0)
		oom();
	p = sodium_malloc(n ? n : 1);
	if (p == NULL)
		oom();
	sodium_memzero(p, n ? n : 1);
	return p;
}

void
xsecret_free(void *p)
{
	if (p != NULL)
		sodium_free(p);
}
#endif

char *
xsecret_strdup(const char *s)
{
	size_t n = strlen(s);
	char *p = xsecret_alloc(n + 1);

	memcpy(p, s, n + 1);
	return p;
}
