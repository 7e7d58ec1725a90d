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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_last_sent_and_forgotten, fixture_setup,
					    fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
