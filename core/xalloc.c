/* Allocation wrappers that abort on out-of-memory. */
#include "core/xalloc.h"

#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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

/* From this many bytes, xcalloc populates its memory before zeroing it (xprefault). */
#define CALLOC_PREFAULT (16 * 1024)

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p;

	nmemb = nmemb ? nmemb : 1;
	size = size ? size : 1;
	if (nmemb > SIZE_MAX / size)
		oom();
	if (nmemb * size < CALLOC_PREFAULT) {
		p = calloc(nmemb, size);
		if (p == NULL)
			oom();
		return p;
	}
	p = xmalloc(nmemb * size);
	xprefault(p, nmemb * size);
	return memset(p, 0, nmemb * size);
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		oom();
	return q;
}

void
xprefault(void *p, size_t n)
{
#ifdef MADV_POPULATE_WRITE
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1);
	uintptr_t end = ((uintptr_t)p + n) & ~(page - 1);

	/* A hint: a kernel without it says EINVAL, and the pages fault as they would. */
	if (end > start)
		(void)madvise((void *)start, end - start, MADV_POPULATE_WRITE);
#else
	(void)p;
	(void)n;
#endif
}

/*
 * The size from which malloc maps a block on its own: glibc's 128 KiB,
 * which main's mallopt keeps from rising.  Such a block realloc moves;
 * a smaller one it may copy.
 */
#define XGROW_MAPPED (128 * 1024)

void *
xgrow(void *p, size_t *cap, size_t first, size_t size)
{
	size_t old = *cap;
	/*
	 * From XGROW_MAPPED on, realloc moves the block with mremap, which
	 * copies nothing: growing it by a quarter copies no more than doubling
	 * would, and what is populated ahead of the filling is at most a fifth
	 * of the array, not a half (a plan's rows: 0.7 MiB less).
	 */
	int mapped = old > 0 && old <= SIZE_MAX / size && old * size >= XGROW_MAPPED;
	size_t n = old == 0 ? first : mapped ? old + (old / 4 > 0 ? old / 4 : 1) : 2 * old;
	char *q;

	if (n <= old || n > SIZE_MAX / size)
		oom();
	if (mapped) {
		q = xrealloc(p, n * size);
		xprefault(q + old * size, (n - old) * size);
	} else {
		/* Not realloc: its copy into a new block would fault its pages one by one. */
		q = xmalloc(n * size);
		xprefault(q, n * size);
		if (old > 0)
			memcpy(q, p, old * size);
		free(p);
	}
	*cap = n;
	return q;
}

/* A transparent huge page: 2 MiB where pages are 4 KiB (x86-64, arm64). */
#define XGROW_HUGE (2u * 1024 * 1024)

void *
xgrow_bulk(void *p, size_t *cap, size_t first, size_t size)
{
	size_t old = *cap, bytes;
	void *q;

	/* Below XGROW_MAPPED the array stays in malloc's heap, in memory it reuses. */
	if (old == 0 || old > SIZE_MAX / 2 / size || 2 * old * size < XGROW_MAPPED)
		return xgrow(p, cap, first, size);
	if (2 * old * size > SIZE_MAX - XGROW_HUGE)
		oom();
	bytes = (2 * old * size + XGROW_HUGE - 1) & ~(size_t)(XGROW_HUGE - 1);
	/* A size that is a multiple of the alignment, as C11's aligned_alloc asks. */
	q = aligned_alloc(XGROW_HUGE, bytes);
	if (q == NULL)
		oom();
#ifdef MADV_HUGEPAGE
	/* Before the first write: a fault maps a huge page only into an empty 2 MiB. */
	(void)madvise(q, bytes, MADV_HUGEPAGE);
#endif
	memcpy(q, p, old * size);
	free(p);
	*cap = bytes / size;
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
xdirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xstrdup(".");
	return slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path));
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

/* Joins s and the strings of ap into buf as strjoin does; returns the length written. */
static size_t
vjoin(char *buf, size_t size, const char *s, va_list ap)
{
	size_t len = 0;

	for (; s != NULL; s = va_arg(ap, const char *)) {
		size_t n = strlen(s);

		if (n > size - 1 - len)
			n = size - 1 - len;
		memcpy(buf + len, s, n);
		len += n;
	}
	buf[len] = '\0';
	return len;
}

size_t
strjoin_list(char *buf, size_t size, ...)
{
	va_list ap;
	size_t len;

	va_start(ap, size);
	len = vjoin(buf, size, va_arg(ap, const char *), ap);
	va_end(ap);
	return len;
}

char *
xstrjoin_list(const char *s, ...)
{
	va_list ap;
	size_t n = 0;
	char *p;

	va_start(ap, s);
	for (const char *t = s; t != NULL; t = va_arg(ap, const char *))
		n += strlen(t);
	va_end(ap);
	p = xmalloc(n + 1);
	va_start(ap, s);
	vjoin(p, n + 1, s, ap);
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

/*
 * Kept before each buffer, through memcpy: sodium_malloc puts a buffer's
 * end against its guard page, so its start has no alignment.
 */
struct secret_head {
	size_t n;
	uintptr_t check; /* SECRET_CHECK ^ the header's address while handed out */
};

static pthread_mutex_t secret_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	unsigned char *base; /* the header, then n bytes */
	size_t n;
} secret_kept[SECRET_KEPT];
static size_t secret_nkept;

static void
head_write(unsigned char *base, size_t n, uintptr_t check)
{
	struct secret_head h = {n, check};

	memcpy(base, &h, sizeof h);
}

/* A kept buffer of exactly n bytes, or NULL. */
static unsigned char *
secret_reuse(size_t n)
{
	unsigned char *base = NULL;

	pthread_mutex_lock(&secret_lock);
	for (size_t i = 0; i < secret_nkept; i++) {
		if (secret_kept[i].n == n) {
			base = secret_kept[i].base;
			secret_kept[i] = secret_kept[--secret_nkept];
			break;
		}
	}
	pthread_mutex_unlock(&secret_lock);
	return base;
}

void *
xsecret_alloc(size_t n)
{
	unsigned char *base;

	if (n == 0)
		n = 1;
	base = secret_reuse(n);
	if (base == NULL) {
		if (sodium_init() < 0 || n > SIZE_MAX - sizeof(struct secret_head))
			oom();
		base = sodium_malloc(sizeof(struct secret_head) + n);
		if (base == NULL)
			oom();
		sodium_memzero(base + sizeof(struct secret_head), n);
	}
	head_write(base, n, SECRET_CHECK ^ (uintptr_t)base);
	return base + sizeof(struct secret_head);
}

void
xsecret_free(void *p)
{
	unsigned char *base;
	struct secret_head h;

	if (p == NULL)
		return;
	base = (unsigned char *)p - sizeof h;
	memcpy(&h, base, sizeof h);
	if (h.check != (SECRET_CHECK ^ (uintptr_t)base)) {
		fputs("tokenwarden: a secret buffer was overwritten before its start, or freed "
		      "twice\n",
		      stderr);
		abort();
	}
	sodium_memzero(p, h.n);
	head_write(base, h.n, 0);
	pthread_mutex_lock(&secret_lock);
	if (secret_nkept < SECRET_KEPT) {
		secret_kept[secret_nkept].base = base;
		secret_kept[secret_nkept++].n = h.n;
		base = NULL;
	}
	pthread_mutex_unlock(&secret_lock);
	if (base != NULL)
		sodium_free(base);
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
