/* Unit tests for core/ratelimit: the pacing arithmetic, with times passed in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/ratelimit.h"

/* With 40/10 s the margin is 500 ms: the 41st request waits for the 1st + 10.5 s. */
static void
test_paces_past_the_limit(void **state)
{
	struct ratelimit rl;

	(void)state;
	ratelimit_init(&rl, 40, 10000);
	assert_int_equal(rl.margin_ms, 500);
	for (int i = 0; i < 40; i++) {
		assert_int_equal(ratelimit_wait(&rl, 1000 + i), 0);
		ratelimit_sent(&rl, 1000 + i);
	}
	assert_int_equal(ratelimit_wait(&rl, 1040), 10500 - 40);
	assert_int_equal(ratelimit_wait(&rl, 11499), 1);
	assert_int_equal(ratelimit_wait(&rl, 11500), 0);
	ratelimit_sent(&rl, 11500);
	/* The 42nd waits for the 2nd. */
	assert_int_equal(ratelimit_wait(&rl, 11500), 1001 + 10500 - 11500);
	ratelimit_free(&rl);
}

/* Simulates a burst of 100 and checks no 10 s window ever holds more than 40. */
static void
test_burst_never_exceeds_window(void **state)
{
	struct ratelimit rl;
	int64_t now = 0, sent[100];

	(void)state;
	ratelimit_init(&rl, 40, 10000);
	for (int i = 0; i < 100; i++) {
		now += ratelimit_wait(&rl, now);
		ratelimit_sent(&rl, now);
		sent[i] = now;
		now += 7; /* each request takes a little time */
	}
	for (int i = 40; i < 100; i++)
		assert_true(sent[i] - sent[i - 40] >= 10000);
	/* Pacing costs no more than the limit requires: 100 requests in under 3 windows. */
	assert_true(sent[99] < 3 * 10500);
	ratelimit_free(&rl);
}

static void
test_retry_after_holds(void **state)
{
	struct ratelimit rl;

	(void)state;
	ratelimit_init(&rl, 40, 10000);
	ratelimit_hold(&rl, 5000, 3);
	assert_int_equal(ratelimit_wait(&rl, 5000), 3000);
	assert_int_equal(ratelimit_wait(&rl, 7999), 1);
	assert_int_equal(ratelimit_wait(&rl, 8000), 0);
	/* A shorter hold does not shorten a longer one. */
	ratelimit_hold(&rl, 5000, 1);
	assert_int_equal(ratelimit_wait(&rl, 5000), 3000);
	ratelimit_free(&rl);
}

static void
test_observe_lower_limit(void **state)
{
	struct ratelimit rl;

	(void)state;
	ratelimit_init(&rl, 40, 10000);
	for (int i = 0; i < 12; i++)
		ratelimit_sent(&rl, i);
	/* The server allows 10: adopt it, keeping the newest sends. */
	ratelimit_observe(&rl, 12, 10, -1);
	assert_int_equal(rl.limit, 10);
	assert_int_equal(rl.count, 10);
	assert_int_equal(ratelimit_wait(&rl, 12), 2 + 10500 - 12);
	/* A higher server limit is not adopted: the configured one is a ceiling. */
	ratelimit_observe(&rl, 12, 100, -1);
	assert_int_equal(rl.limit, 10);
	ratelimit_free(&rl);
}

static void
test_observe_remaining(void **state)
{
	struct ratelimit rl;

	(void)state;
	ratelimit_init(&rl, 40, 10000);
	ratelimit_sent(&rl, 0);
	/* The server agrees with the log (39 left): nothing changes. */
	ratelimit_observe(&rl, 0, 40, 39);
	assert_int_equal(rl.count, 1);
	/* Another client used 30 more: their requests count from now. */
	ratelimit_observe(&rl, 100, 40, 9);
	assert_int_equal(rl.count, 31);
	assert_int_equal(ratelimit_wait(&rl, 100), 0);
	/* Nothing left: the oldest send must leave the window first. */
	ratelimit_observe(&rl, 200, 40, 0);
	assert_int_equal(rl.count, 40);
	assert_int_equal(ratelimit_wait(&rl, 200), 0 + 10500 - 200);
	ratelimit_free(&rl);
}

static void
test_small_window_margin(void **state)
{
	struct ratelimit rl;

	(void)state;
	ratelimit_init(&rl, 2, 1000);
	assert_int_equal(rl.margin_ms, 100);
	ratelimit_sent(&rl, 0);
	ratelimit_sent(&rl, 0);
	assert_int_equal(ratelimit_wait(&rl, 0), 1100);
	ratelimit_free(&rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_paces_past_the_limit),
	    cmocka_unit_test(test_burst_never_exceeds_window),
	    cmocka_unit_test(test_retry_after_holds),
	    cmocka_unit_test(test_observe_lower_limit),
	    cmocka_unit_test(test_observe_remaining),
	    cmocka_unit_test(test_small_window_margin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
