/* Unit tests for store/alerts: when each finding was last alerted, forgotten once it is over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/alerts.h"
#include "store_fixture.h"

static void
test_last_sent_and_forgotten(void **state)
{
	struct fixture *fx = *state;
	const char *keys[] = {"overdue acme/etl #1", "unmanaged acme/- tok-hand",
			      "capacity beta/bi #0"};
	int64_t last[3] = {-1, -1, -1};
	char *cause = NULL;

	/* Never alerted: 0. */
	assert_int_equal(alerts_last(fx->s, keys, 3, last, &cause), 0);
	assert_true(last[0] == 0 && last[1] == 0 && last[2] == 0);
	/* Only those named are recorded. */
	assert_int_equal(alerts_sent(fx->s, keys + 1, 1, 1000, &cause), 0);
	assert_int_equal(alerts_last(fx->s, keys, 3, last, &cause), 0);
	assert_true(last[0] == 0 && last[1] == 1000 && last[2] == 0);
	assert_int_equal(alerts_sent(fx->s, keys, 3, 5000, &cause), 0);
	assert_int_equal(alerts_last(fx->s, keys, 3, last, &cause), 0);
	assert_true(last[0] == 5000 && last[1] == 5000 && last[2] == 5000);

	/* A key left out is over: forgotten, so it counts as new should it come back. */
	assert_int_equal(alerts_last(fx->s, keys + 1, 2, last, &cause), 0);
	assert_true(last[0] == 5000 && last[1] == 5000);
	assert_int_equal(alerts_last(fx->s, keys, 3, last, &cause), 0);
	assert_true(last[0] == 0 && last[1] == 5000 && last[2] == 5000);

	/* None at all: every alert is forgotten. */
	assert_int_equal(alerts_last(fx->s, NULL, 0, NULL, &cause), 0);
	assert_int_equal(alerts_last(fx->s, keys, 3, last, &cause), 0);
	assert_true(last[0] == 0 && last[1] == 0 && last[2] == 0);
	assert_null(cause);
}

/*
 * A lasting failure's key (ALERTS_LASTING) stays through the violations'
 * forgetting, whatever keys they name, until alerts_over forgets it.
 */
static void
test_lasting_failures_kept_until_over(void **state)
{
	struct fixture *fx = *state;
	const char *finding[] = {"overdue acme/etl #1"};
	const char *lasting[] = {ALERTS_LASTING "integrity", ALERTS_LASTING "clock acme"};
	int64_t last = -1, one = -1;
	char *cause = NULL;

	assert_int_equal(alerts_last_one(fx->s, lasting[0], &last, &cause), 0);
	assert_int_equal(last, 0);
	assert_int_equal(alerts_sent(fx->s, lasting, 2, 7000, &cause), 0);
	assert_int_equal(alerts_sent(fx->s, finding, 1, 8000, &cause), 0);
	/* The violations' calls forget findings only, even when they name none. */
	assert_int_equal(alerts_last(fx->s, NULL, 0, NULL, &cause), 0);
	assert_int_equal(alerts_last(fx->s, finding, 1, &one, &cause), 0);
	assert_int_equal(one, 0);
	assert_int_equal(alerts_last_one(fx->s, lasting[0], &last, &cause), 0);
	assert_int_equal(last, 7000);
	assert_int_equal(alerts_last_one(fx->s, lasting[1], &last, &cause), 0);
	assert_int_equal(last, 7000);
	/* Over: forgotten, the other kept; over again changes nothing. */
	assert_int_equal(alerts_over(fx->s, lasting[1], &cause), 0);
	assert_int_equal(alerts_over(fx->s, lasting[1], &cause), 0);
	assert_int_equal(alerts_last_one(fx->s, lasting[1], &last, &cause), 0);
	assert_int_equal(last, 0);
	assert_int_equal(alerts_last_one(fx->s, lasting[0], &last, &cause), 0);
	assert_int_equal(last, 7000);
	assert_null(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_last_sent_and_forgotten, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_lasting_failures_kept_until_over, fixture_setup,
					    fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
