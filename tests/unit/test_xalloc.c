/*
 * Unit tests for core/xalloc's secret buffers: a buffer given back is wiped
 * before anyone can have it again, buffers kept for reuse never mix sizes,
 * and a write before a buffer's start stops the process when it is freed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/xalloc.h"

#include <signal.h>
#include <string.h>
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    /* First: their children need an allocator that has kept nothing. */
	    cmocka_unit_test(test_kept_buffer_serves_its_size_only),
	    cmocka_unit_test(test_a_damaged_or_repeated_free_aborts),
	    cmocka_unit_test(test_reused_buffers_come_back_wiped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
