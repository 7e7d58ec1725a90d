/* Unit tests for store/slots: failed attempts counted, kept, and cleared, with their events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/events.h"
#include "store/slots.h"
#include "store/tokens.h"
#include "store_fixture.h"

#include <sqlite3.h>
#include <string.h>

static int
count_events(struct fixture *fx, const char *kind)
{
	sqlite3_stmt *st = NULL;
	int n = -1;

	sqlite3_prepare_v2(fx->s->db, "SELECT count(*) FROM events WHERE kind = ?1", -1, &st, NULL);
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void
test_failures_count_and_clear(void **state)
{
	struct fixture *fx = *state;
	struct slot_state *v = NULL;
	char *cause = NULL;
	size_t n = 0;
	int failures = 0;

	assert_int_equal(slots_list(fx->s, &v, &n, &cause), 0);
	assert_int_equal(n, 0);
	assert_int_equal(
	    slots_failed(fx->s, "acme", "etl", 100, 1000, "HTTP 503", &failures, &cause), 0);
	assert_int_equal(failures, 1);
	assert_int_equal(
	    slots_failed(fx->s, "acme", "etl", 1100, 5000, "timed out", &failures, &cause), 0);
	assert_int_equal(failures, 2);
	assert_int_equal(
	    slots_failed(fx->s, "acme", "bi", 1200, 2000, "HTTP 500", &failures, &cause), 0);
	assert_int_equal(failures, 1);
	assert_int_equal(slots_list(fx->s, &v, &n, &cause), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].slot, "bi");
	assert_string_equal(v[1].slot, "etl");
	assert_int_equal(v[1].failures, 2);
	assert_int_equal(v[1].next_attempt_at, 5000);
	assert_string_equal(v[1].last_error, "timed out");
	slots_free(v, n);
	assert_int_equal(count_events(fx, "slot.failure"), 3);

	/* A success clears the count, once; clearing a clean slot records nothing. */
	assert_int_equal(slots_succeeded(fx->s, "acme", "etl", 6000, &cause), 0);
	assert_int_equal(slots_succeeded(fx->s, "acme", "etl", 6100, &cause), 0);
	assert_int_equal(slots_succeeded(fx->s, "acme", "never", 6200, &cause), 0);
	assert_int_equal(count_events(fx, "slot.recovered"), 1);
	assert_int_equal(slots_list(fx->s, &v, &n, &cause), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].slot, "bi");
	slots_free(v, n);
	{
		char head[EVENTS_HEAD_MAX];
		int64_t count = 0, bad = 0;

		assert_int_equal(events_verify(fx->s, &count, head, &bad, &cause), 0);
		assert_int_equal(count, 4);
	}
}

/* The consumers a slot's token reached: one record a slot, the latest token's. */
static void
test_reached_replaced(void **state)
{
	struct fixture *fx = *state;
	struct slot_reached *v = NULL;
	char *cause = NULL;
	size_t n = 0;

	int64_t etl1, bi, etl2, bare;

	assert_int_equal(tokens_intent(fx->s, "acme", "etl", "etl-1", 5000, 100, &etl1, &cause), 0);
	assert_int_equal(tokens_intent(fx->s, "acme", "bi", "bi-1", 5000, 100, &bi, &cause), 0);
	/* (One in flight a slot: the first one's create failed.) */
	assert_int_equal(
	    sqlite3_exec(fx->s->db, "UPDATE tokens SET state = 'failed'", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(tokens_intent(fx->s, "acme", "etl", "etl-2", 5000, 100, &etl2, &cause), 0);
	assert_int_equal(tokens_intent(fx->s, "acme", NULL, "bare", 5000, 100, &bare, &cause), 0);
	assert_int_equal(slots_reached_list(fx->s, &v, &n, &cause), 0);
	assert_int_equal(n, 0);
	assert_int_equal(slots_reached(fx->s, etl1, "aa,bb,", &cause), 0);
	assert_int_equal(slots_reached(fx->s, bi, "", &cause), 0);
	assert_int_equal(slots_reached(fx->s, etl2, "cc,", &cause), 0);
	/* A token of no slot has no record. */
	assert_int_equal(slots_reached(fx->s, bare, "dd,", &cause), 0);
	assert_int_equal(slots_reached_list(fx->s, &v, &n, &cause), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(v[i].workspace, "acme");
		if (strcmp(v[i].slot, "etl") == 0) {
			assert_int_equal(v[i].row, etl2);
			assert_string_equal(v[i].consumers, "cc,");
		} else {
			assert_string_equal(v[i].slot, "bi");
			assert_int_equal(v[i].row, bi);
			assert_string_equal(v[i].consumers, "");
		}
	}
	slots_reached_free(v, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_reached_replaced, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_failures_count_and_clear, fixture_setup,
					    fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
