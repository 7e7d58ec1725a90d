/* Allocation wrappers that abort on out-of-memory. */
#include "core/xalloc.h"

#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
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
	char small[512];
	va_list copy;
	int n;
	char *p;

	/* Most texts fit the stack buffer: formatted once, not measured and then written. */
	va_copy(copy, ap);
	n = vsnprintf(small, sizeof small, fmt, copy);
	va_end(copy);
	if (n < 0)
		oom();
	if ((size_t)n < sizeof small) {
		p = xstrndup(small, (size_t)n);
		/* Callers may format a secret: no copy of it stays behind on the stack. */
		sodium_memzero(small, (size_t)n);
		return p;
	}
	sodium_memzero(small, sizeof small);
	p = xmalloc((size_t)n + 1);
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
/*
 * sodium_malloc maps, guards and locks fresh pages for each buffer, and
 * sodium_free unmaps them: some fifty microseconds a pair, and a rotation
 * used a dozen pairs.  A buffer given back is wiped at once and kept, up to
 * SECRET_KEPT of them, to be handed out again for the same size: it keeps
 * its place against its guard page, and it never leaves locked,
 * sodium_malloc memory.  Each buffer starts with a header holding its size
 * and a check word, which xsecret_free verifies: a write before the buffer
 * aborts there, as sodium_free's canary would.
 */
#define SECRET_KEPT 32
#define SECRET_CHECK ((uintptr_t)0x7365637265747321u)

struct secret_head {
	size_t n;
	uintptr_t check; /* SECRET_CHECK ^ the header's address while handed out */
};

static pthread_mutex_t secret_lock = PTHREAD_MUTEX_INITIALIZER;
static struct secret_head *secret_kept[SECRET_KEPT];
static size_t secret_nkept;

/* A kept buffer of exactly n bytes, or NULL. */
static struct secret_head *
secret_reuse(size_t n)
{
	struct secret_head *h = NULL;

	pthread_mutex_lock(&secret_lock);
	for (size_t i = 0; i < secret_nkept; i++) {
		if (secret_kept[i]->n == n) {
			h = secret_kept[i];
			secret_kept[i] = secret_kept[--secret_nkept];
			break;
		}
	}
	pthread_mutex_unlock(&secret_lock);
	return h;
}

void *
xsecret_alloc(size_t n)
{
	struct secret_head *h;

	if (n == 0)
		n = 1;
	h = secret_reuse(n);
	if (h == NULL) {
		if (sodium_init() < 0 || n > SIZE_MAX - sizeof *h)
			oom();
		h = sodium_malloc(sizeof *h + n);
		if (h == NULL)
			oom();
		h->n = n;
		sodium_memzero(h + 1, n);
	}
	h->check = SECRET_CHECK ^ (uintptr_t)h;
	return h + 1;
}

void
xsecret_free(void *p)
{
	struct secret_head *h;

	if (p == NULL)
		return;
	h = (struct secret_head *)p - 1;
	if (h->check != (SECRET_CHECK ^ (uintptr_t)h)) {
		fputs("tokenwarden: a secret buffer was overwritten before its start, or freed "
		      "twice\n",
		      stderr);
		abort();
	}
	sodium_memzero(p, h->n);
	h->check = 0;
	pthread_mutex_lock(&secret_lock);
	if (secret_nkept < SECRET_KEPT) {
		secret_kept[secret_nkept++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&secret_lock);
	if (h != NULL)
		sodium_free(h);
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
