/*
 * Unit tests for core/xalloc's secret buffers: a buffer given back is wiped
 * before anyone can have it again, buffers kept for reuse never mix sizes,
 * and a write before a buffer's start stops the process when it is freed.
 * And for its populated memory: xprefault backs exactly the whole pages of
 * its range, as mincore(2) sees them; xgrow keeps an array's elements as it
 * grows it, and populates its new part; xcalloc zeroes what it populates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/xalloc.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int
all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/* Every size handed out again after a fill comes back zeroed, whichever buffer it is. */
static void
test_reused_buffers_come_back_wiped(void **state)
{
	enum { SIZES = 40, ROUNDS = 5 };
	unsigned char *p[SIZES];

	(void)state;
	for (int r = 0; r < ROUNDS; r++) {
		for (size_t i = 0; i < SIZES; i++) {
			size_t n = 1 + i * 37;

			p[i] = xsecret_alloc(n);
			assert_true(all_zero(p[i], n));
			memset(p[i], 0xa5, n);
		}
		for (size_t i = 0; i < SIZES; i++)
			xsecret_free(p[i]);
	}
}

/*
 * Runs fn in a child, with the default action for every signal (cmocka's
 * handlers would go on running tests there), from this process's allocator:
 * main runs these tests before any that keeps buffers.  Returns the signal
 * that ended it, or 100 + its exit status.
 */
static int
in_child(int (*fn)(void))
{
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		signal(SIGABRT, SIG_DFL);
		_exit(fn());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFSIGNALED(status) ? WTERMSIG(status) : 100 + WEXITSTATUS(status);
}

/* A buffer given back is handed out again for its own size only, and wiped; 0, or which check
 * failed. */
static int
kept_buffer_serves_its_size_only(void)
{
	unsigned char *a = xsecret_alloc(100), *b, *c;

	memset(a, 0x5a, 100);
	xsecret_free(a);
	b = xsecret_alloc(101); /* another size: a fresh buffer, not a's */
	if (b == a || !all_zero(b, 101))
		return 1;
	c = xsecret_alloc(100); /* the same size: a's buffer, wiped */
	if (c != a || !all_zero(c, 100))
		return 2;
	memset(b, 0xff, 101); /* the whole of a buffer is writable */
	xsecret_free(b);
	xsecret_free(c);
	xsecret_free(NULL);
	return 0;
}

static void
test_kept_buffer_serves_its_size_only(void **state)
{
	(void)state;
	assert_int_equal(in_child(kept_buffer_serves_its_size_only), 100);
}

static int
write_before_start(void)
{
	unsigned char *p = xsecret_alloc(16);

	p[-1] ^= 1;
	xsecret_free(p);
	return 0;
}

/* Freed twice while kept: the header says it is no longer handed out. */
static int
free_twice(void)
{
	unsigned char *p = xsecret_alloc(24);

	xsecret_free(p);
	xsecret_free(p);
	return 0;
}

static int
free_once(void)
{
	xsecret_free(xsecret_alloc(24));
	return 0;
}

static void
test_a_damaged_or_repeated_free_aborts(void **state)
{
	(void)state;
	assert_int_equal(in_child(free_once), 100);
	assert_int_equal(in_child(write_before_start), SIGABRT);
	assert_int_equal(in_child(free_twice), SIGABRT);
}

/* How many of the n pages at p are resident, with page k's state in in[k]. */
static size_t
resident(void *p, size_t n, unsigned char *in)
{
	size_t count = 0;

	assert_int_equal(mincore(p, n * (size_t)sysconf(_SC_PAGESIZE), in), 0);
	for (size_t k = 0; k < n; k++) {
		in[k] &= 1;
		count += in[k];
	}
	return count;
}

/* Whether this kernel populates memory on request (MADV_POPULATE_WRITE, Linux 5.14). */
static int
populate_supported(void)
{
	int supported = 0;
#ifdef MADV_POPULATE_WRITE
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char *probe =
	    mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(probe != MAP_FAILED);
	supported = madvise(probe, page, MADV_POPULATE_WRITE) == 0;
	if (!supported)
		assert_int_equal(errno, EINVAL);
	munmap(probe, page);
#endif
	return supported;
}

/*
 * Over fresh mappings, xprefault makes resident the whole pages inside its
 * range and no other, for ranges starting and ending at random offsets;
 * its memory reads as zero and takes writes.  A kernel without
 * MADV_POPULATE_WRITE (before Linux 5.14) populates nothing, and then
 * neither may xprefault.
 */
static void
test_prefault_backs_whole_pages(void **state)
{
	const size_t page = (size_t)sysconf(_SC_PAGESIZE), npages = 64;
	unsigned char in[64];
	uint64_t x = 0x2545f4914f6cdd1dULL;
	int supported = populate_supported();

	(void)state;
	for (int round = 0; round < 200; round++) {
		unsigned char *m = mmap(NULL, npages * page, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		size_t from, len, first, end;

		assert_true(m != MAP_FAILED);
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		from = (size_t)(x % (npages * page / 2));
		len = (size_t)((x >> 32) % (npages * page - from));
		/* Also a range within one page, and one of whole pages exactly. */
		if (round == 0) {
			from = 10;
			len = page - 20;
		} else if (round == 1) {
			from = 3 * page;
			len = 5 * page;
		}
		assert_int_equal(resident(m, npages, in), 0);
		xprefault(m + from, len);
		first = (from + page - 1) / page;
		end = (from + len) / page;
		resident(m, npages, in);
		for (size_t k = 0; k < npages; k++)
			if (in[k] != (supported && k >= first && k < end))
				fail_msg("round %d: range %zu+%zu: page %zu %s resident", round,
					 from, len, k, in[k] ? "is" : "is not");
		for (size_t i = from; i < from + len; i++)
			if (m[i] != 0)
				fail_msg("round %d: byte %zu reads %d", round, i, m[i]);
		memset(m + from, 0x5a, len);
		munmap(m, npages * page);
	}
}

/*
 * What xgrow grows n elements of size bytes to: twice as many below 128
 * KiB; from there (a block malloc maps on its own) a quarter more, and at
 * least one.
 */
static size_t
grown(size_t n, size_t size)
{
	if (n * size < 128 * 1024)
		return 2 * n;
	return n + (n / 4 > 0 ? n / 4 : 1);
}

/* Fails unless each of the n elements of size bytes at v is all of its index % 251. */
static void
check_elements(const unsigned char *v, size_t n, size_t size)
{
	for (size_t i = 0; i < n; i++)
		for (size_t b = 0; b < size; b++)
			if (v[i * size + b] != i % 251)
				fail_msg("size %zu: element %zu byte %zu lost", size, i, b);
}

/*
 * Grown from nothing again and again, an array keeps every element written
 * before; from 128 KiB on it grows by a quarter, so that what it populates
 * ahead of its filling is at most a fifth of it.  Elements of 200 KiB grow
 * one at a time.
 */
static void
test_grow_keeps_elements(void **state)
{
	const size_t sizes[] = {1, 8, 104, 4096 + 8, 200 * 1024};

	(void)state;
	for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
		unsigned char *v = NULL;
		size_t cap = 0, n = 0, want = 3;
		size_t count = sizes[s] > 64 * 1024 ? 24 : 5000;

		for (; n < count; n++) {
			if (n == cap) {
				v = xgrow(v, &cap, want, sizes[s]);
				assert_int_equal(cap, n == 0 ? want : grown(n, sizes[s]));
			}
			memset(v + n * sizes[s], (int)(n % 251), sizes[s]);
		}
		check_elements(v, n, sizes[s]);
		free(v);
	}
}

/*
 * Each time xgrow grows an array, the whole pages of its new part are
 * resident before anything is written there; at sizes malloc maps on its
 * own, which realloc moves rather than copies.
 */
static void
test_grow_populates_new_part(void **state)
{
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);
	int supported = populate_supported();
	unsigned char *v = NULL, *in = NULL;
	size_t cap = 0, old;

	(void)state;
	while (cap < (8u << 20)) {
		size_t first, end;
		uintptr_t base;

		old = cap;
		v = xgrow(v, &cap, 64 * 1024 + 24, 1);
		base = (uintptr_t)v & ~(uintptr_t)(page - 1);
		first = ((uintptr_t)v + old + page - 1 - base) / page;
		end = ((uintptr_t)v + cap - base) / page;
		/* Up to the last whole page: the page past the array may not be mapped. */
		in = xrealloc(in, end);
		resident((void *)base, end, in);
		for (size_t k = first; k < end; k++)
			if (in[k] != supported)
				fail_msg("grown %zu to %zu: page %zu of the new part %s resident",
					 old, cap, k - first, in[k] ? "is" : "is not");
		memset(v + old, (int)(cap % 251), cap - old);
	}
	free(in);
	free(v);
}

/* Whether the mapping that holds p is advised as huge pages (VmFlags "hg" in smaps). */
static int
advised_huge(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0, hg = 0;

	assert_non_null(f);
	while (fgets(line, sizeof line, f) != NULL) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
		else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			hg = strstr(line, " hg") != NULL;
			break;
		}
	}
	fclose(f);
	return hg;
}

/*
 * xgrow_bulk keeps every element; below 128 KiB it grows as xgrow does, and
 * from there in whole 2 MiB blocks aligned to 2 MiB, doubling, advised as
 * huge pages wherever the kernel has them (VmFlags "hg").
 */
static void
test_grow_bulk(void **state)
{
	const size_t sizes[] = {8, 104, 4096 + 8};
	const size_t huge = 2u << 20;
	int thp = access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0;

	(void)state;
	for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
		unsigned char *v = NULL;
		size_t cap = 0, n = 0, bulk = 0;

		for (; n * sizes[s] < (5u << 20); n++) {
			if (n == cap) {
				v = xgrow_bulk(v, &cap, 16, sizes[s]);
				if (n == 0)
					assert_int_equal(cap, 16);
				else if (2 * n * sizes[s] < 128 * 1024)
					assert_int_equal(cap, 2 * n);
				else {
					size_t bytes = (2 * n * sizes[s] + huge - 1) / huge * huge;

					assert_int_equal((uintptr_t)v % huge, 0);
					assert_int_equal(cap, bytes / sizes[s]);
					assert_int_equal(advised_huge(v), thp);
					bulk++;
				}
			}
			memset(v + n * sizes[s], (int)(n % 251), sizes[s]);
		}
		assert_true(bulk >= 2);
		check_elements(v, n, sizes[s]);
		free(v);
	}
}

/* strjoin and xstrjoin: the pieces in order, cut to the buffer with its NUL. */
static void
test_join(void **state)
{
	char buf[8];
	char *p;

	(void)state;
	assert_int_equal(strjoin(buf, sizeof buf, "ab", "", "cd"), 4);
	assert_string_equal(buf, "abcd");
	assert_int_equal(strjoin(buf, sizeof buf, "abcde", "fghij"), 7);
	assert_string_equal(buf, "abcdefg");
	assert_int_equal(strjoin(buf, 1, "abc"), 0);
	assert_string_equal(buf, "");
	assert_int_equal(strjoin_list(buf, sizeof buf, (const char *)NULL), 0);
	assert_string_equal(buf, "");
	p = xstrjoin("expired at ", "2026-11-25T02:00Z", "; ", "", "x");
	assert_string_equal(p, "expired at 2026-11-25T02:00Z; x");
	free(p);
}

/* Large or small, and over memory just freed dirty, xcalloc's memory is zero. */
/* The directory of a path, as the callers open it: a bare name's is ".", one under the root's "/".
 */
static void
test_dirname(void **state)
{
	static const char *const cases[][2] = {
	    {"tw.db", "."}, {"/tw.db", "/"}, {"/var/lib/tw/tw.db", "/var/lib/tw"}, {"a/b", "a"}};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *d = xdirname(cases[i][0]);

		assert_string_equal(d, cases[i][1]);
		free(d);
	}
}

static void
test_calloc_zeroes(void **state)
{
	const size_t sizes[] = {1, 100, 16 * 1024 - 1, 16 * 1024, 100 * 1000, 1 << 20};

	(void)state;
	for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
		for (int k = 0; k < 4; k++) {
			unsigned char *dirty = xmalloc(sizes[s]), *z;

			memset(dirty, 0xa5, sizes[s]);
			free(dirty);
			z = xcalloc(sizes[s] / (k + 1) + 1, (size_t)k + 1);
			assert_true(all_zero(z, (sizes[s] / (k + 1) + 1) * ((size_t)k + 1)));
			free(z);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    /* First: their children need an allocator that has kept nothing. */
	    cmocka_unit_test(test_kept_buffer_serves_its_size_only),
	    cmocka_unit_test(test_a_damaged_or_repeated_free_aborts),
	    cmocka_unit_test(test_reused_buffers_come_back_wiped),
	    cmocka_unit_test(test_prefault_backs_whole_pages),
	    cmocka_unit_test(test_grow_keeps_elements),
	    cmocka_unit_test(test_grow_populates_new_part),
	    cmocka_unit_test(test_grow_bulk),
	    cmocka_unit_test(test_calloc_zeroes),
	    cmocka_unit_test(test_join),
	    cmocka_unit_test(test_dirname),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
