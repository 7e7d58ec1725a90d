/*
 * Allocation that cannot fail: out of memory aborts with a message, so
 * callers never scatter NULL checks (tmux's xmalloc).  Secret buffers live in
 * sodium_malloc memory; see xsecret_*.
 */
#ifndef TW_XALLOC_H
#define TW_XALLOC_H

#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/*
 * Has the kernel back the whole pages of the n bytes at p with memory now,
 * in one call, rather than fault at each page's first write: for memory
 * about to be filled.  On the first virtual machine of the benchmarks a
 * page's first touch costs 10 to 14 µs, and a page populated this way 6 to
 * 9.  Only a hint: without MADV_POPULATE_WRITE (Linux 5.14) pages fault as
 * before.
 */
void xprefault(void *p, size_t n);
/*
 * Returns the array p of *cap elements of size bytes grown (to first when
 * *cap is 0; to twice as many below 128 KiB, and by a quarter from there),
 * its new part populated (xprefault): for an array filled as it grows.
 * Sets *cap.
 */
void *xgrow(void *p, size_t *cap, size_t first, size_t size);
/*
 * As xgrow, for the arrays a large inventory makes of megabytes (its live
 * rows, a plan's actions): from 128 KiB on, the array is kept in blocks of
 * whole 2 MiB pages, aligned to them and advised as transparent huge pages
 * (MADV_HUGEPAGE), doubling.  Where the kernel backs them so, one fault maps
 * 2 MiB: on the first virtual machine of the benchmarks, where each page
 * mapped costs its 10 µs whether fresh or not, that is about 1,000 fewer
 * mappings for `plan` of 100,000 rows; the price is up to 2 MiB of memory
 * an array that it does not fill.  Without huge pages the blocks fault
 * page by page as they are filled.  Freed with free().
 */
void *xgrow_bulk(void *p, size_t *cap, size_t first, size_t size);
/* Returns an allocated copy of s; the caller frees it. */
char *xstrdup(const char *s);
/* Returns an allocated copy of the first n bytes of s, NUL-terminated. */
char *xstrndup(const char *s, size_t n);
/* Returns the directory holding path, allocated: "." for a bare name, "/" for one under it. */
char *xdirname(const char *path);
/* Returns an allocated, formatted string; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* As xasprintf, with a va_list (which it leaves to the caller to end). */
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/*
 * strjoin(buf, size, s1, s2, ...) writes the strings one after another
 * into buf (size bytes, at least 1), cut to fit, and ends them with a NUL;
 * returns the length written.  xstrjoin(s1, s2, ...) joins them in a new
 * allocation, which the caller frees.  For a message made of pieces that a
 * large plan makes thousands of times: snprintf's reading of its format
 * cost more than the copies.  The macros end the list (a null pointer of
 * the arguments' type, as a variadic call needs); the functions take it
 * ended.
 */
#define strjoin(buf, size, ...) strjoin_list((buf), (size), __VA_ARGS__, (const char *)NULL)
#define xstrjoin(...) xstrjoin_list(__VA_ARGS__, (const char *)NULL)
size_t strjoin_list(char *buf, size_t size, ...) __attribute__((sentinel));
char *xstrjoin_list(const char *s, ...) __attribute__((sentinel));

/* Returns a copy of s in sodium_malloc memory; the caller frees it with xsecret_free. */
char *xsecret_strdup(const char *s);
/* Returns n zeroed bytes of sodium_malloc memory. */
void *xsecret_alloc(size_t n);
/* Wipes and releases a secret buffer; NULL is allowed. */
void xsecret_free(void *p);

/* Frees *pp and sets it to NULL. */
#define FREE_NULL(pp)                                                                              \
	do {                                                                                       \
		free(*(pp));                                                                       \
		*(pp) = NULL;                                                                      \
	} while (0)

#endif
