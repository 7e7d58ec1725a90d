/*
 * Unit tests for store/clocks: a clock that agrees, as it did, writes
 * nothing (no transaction, so no sync of the disk on a quiet night); a
 * disagreement is recorded with an event, and the agreement after it too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/clocks.h"
#include "store/events.h"
#include "store_fixture.h"

#include <sqlite3.h>
#include <string.h>

static int64_t
changes(struct fixture *fx)
{
	return (int64_t)sqlite3_total_changes64(fx->s->db);
}

static int64_t
events(struct fixture *fx)
{
	char head[EVENTS_HEAD_MAX], *cause = NULL;
	int64_t n = 0;

	assert_int_equal(events_head(fx->s, head, &n, &cause), 0);
	return n;
}

static size_t
skewed(struct fixture *fx)
{
	struct clock_state *v = NULL;
	char *cause = NULL;
	size_t n = 0;

	assert_int_equal(clocks_list(fx->s, &v, &n, &cause), 0);
	clocks_free(v, n);
	return n;
}

static void
test_agreement_as_before_writes_nothing(void **state)
{
	struct fixture *fx = *state;
	char *cause = NULL;
	int64_t c0 = changes(fx), e0 = events(fx);

	/* A workspace never seen, and one seen agreeing: nothing is written. */
	assert_int_equal(clocks_agree(fx->s, "acme", 1000, &cause), 0);
	assert_int_equal(changes(fx), c0);
	assert_int_equal(events(fx), e0);

	assert_int_equal(clocks_skewed(fx->s, "acme", 2000, "45 days ahead", &cause), 0);
	assert_int_equal(skewed(fx), 1);
	assert_int_equal(events(fx), e0 + 1);
	/* Still skewed: the check is recorded again, with no second event. */
	assert_int_equal(clocks_skewed(fx->s, "acme", 3000, "45 days ahead", &cause), 0);
	assert_int_equal(events(fx), e0 + 1);

	assert_int_equal(clocks_agree(fx->s, "acme", 4000, &cause), 0);
	assert_int_equal(skewed(fx), 0);
	assert_int_equal(events(fx), e0 + 2);
	c0 = changes(fx);
	assert_int_equal(clocks_agree(fx->s, "acme", 5000, &cause), 0);
	assert_int_equal(clocks_agree(fx->s, "globex", 5000, &cause), 0);
	assert_int_equal(changes(fx), c0);
	assert_int_equal(events(fx), e0 + 2);
	assert_null(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_agreement_as_before_writes_nothing, fixture_setup,
					    fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
