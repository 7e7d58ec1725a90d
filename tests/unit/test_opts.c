/*
 * Unit tests for cmd/opts.c's mapping of API errors to exit statuses, the
 * statuses scripts and timers act on (README's table).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cmd/cmd.h"
#include "core/exitcodes.h"

static void
test_api_exit_status(void **state)
{
	(void)state;
	assert_int_equal(api_exit_status(MODE_OK), TW_EXIT_OK);
	assert_int_equal(api_exit_status(MODE_ERR_USAGE), TW_EXIT_USAGE);
	assert_int_equal(api_exit_status(MODE_ERR_AUTH), TW_EXIT_FAILURE);
	assert_int_equal(api_exit_status(MODE_ERR_NOT_FOUND), TW_EXIT_FAILURE);
	assert_int_equal(api_exit_status(MODE_ERR_REJECTED), TW_EXIT_FAILURE);
	assert_int_equal(api_exit_status(MODE_ERR_PROTOCOL), TW_EXIT_FAILURE);
	assert_int_equal(api_exit_status(MODE_ERR_THROTTLED), TW_EXIT_TEMPFAIL);
	assert_int_equal(api_exit_status(MODE_ERR_UNAVAILABLE), TW_EXIT_TEMPFAIL);
	assert_int_equal(api_exit_status(MODE_ERR_UNKNOWN), TW_EXIT_UNKNOWN);
	/* A clock the server disagrees with fails the run; the invocation was fine. */
	assert_int_equal(api_exit_status(MODE_ERR_CLOCK), TW_EXIT_FAILURE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_api_exit_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
