/* Unit tests for store/runs: start and end rows with their events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/jsonx.h"
#include "store/events.h"
#include "store/runs.h"
#include "store_fixture.h"

#include <sqlite3.h>
#include <string.h>

struct seen {
	int n;
	char kinds[4][16];
	char details[4][128];
};

static int
collect(const struct event *e, void *arg)
{
	struct seen *s = arg;

	if (s->n < 4) {
		snprintf(s->kinds[s->n], sizeof s->kinds[0], "%s", e->kind);
		snprintf(s->details[s->n], sizeof s->details[0], "%s", e->details);
	}
	s->n++;
	return 0;
}

static void
test_start_and_end(void **state)
{
	struct fixture *fx = *state;
	struct event_filter all = {0};
	struct seen seen = {0};
	json_t *summary = json_pack("{s:i, s:i}", "rotated", 3, "failed", 0);
	char *cause = NULL;
	int64_t run = 0;
	sqlite3_stmt *st = NULL;

	assert_int_equal(runs_start(fx->s, "rotate", 1000, &run, &cause), 0);
	assert_true(run > 0);
	assert_int_equal(runs_end(fx->s, run, 0, summary, 2000, &cause), 0);
	assert_int_equal(events_list(fx->s, &all, collect, &seen, &cause), 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.kinds[0], "run.start");
	assert_string_equal(seen.details[0], "{\"kind\":\"rotate\",\"run\":1}");
	assert_string_equal(seen.kinds[1], "run.end");
	assert_string_equal(seen.details[1],
			    "{\"run\":1,\"status\":0,\"summary\":{\"failed\":0,\"rotated\":3}}");
	assert_int_equal(sqlite3_prepare_v2(fx->s->db,
					    "SELECT started_at, ended_at, status FROM runs", -1,
					    &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(st, 0), 1000);
	assert_int_equal(sqlite3_column_int64(st, 1), 2000);
	assert_int_equal(sqlite3_column_int(st, 2), 0);
	sqlite3_finalize(st);
	/* A closed run cannot end again; nothing is recorded. */
	assert_int_equal(runs_end(fx->s, run, 1, NULL, 3000, &cause), -1);
	assert_non_null(strstr(cause, "is not open"));
	FREE_NULL(&cause);
	assert_int_equal(runs_end(fx->s, 99, 1, NULL, 3000, &cause), -1);
	FREE_NULL(&cause);
	seen.n = 0;
	assert_int_equal(events_list(fx->s, &all, collect, &seen, &cause), 0);
	assert_int_equal(seen.n, 2);
	json_decref(summary);
}

/* The last run, open or not, and the last that exited 0, for the metrics. */
static void
test_last(void **state)
{
	struct fixture *fx = *state;
	struct run_row last, ok;
	json_t *summary = json_pack("{s:{s:{s:i, s:i}}}", "credentials", "acme-admin", "requests",
				    7, "throttled", 2);
	char *cause = NULL;
	int64_t a = 0, b = 0, c = 0;

	/* None yet: both empty. */
	assert_int_equal(runs_last(fx->s, &last, &ok, &cause), 0);
	assert_int_equal(last.id, 0);
	assert_int_equal(last.status, -1);
	assert_int_equal(ok.id, 0);
	runs_row_free(&last);
	runs_row_free(&ok);

	assert_int_equal(runs_start(fx->s, "rotate", 1000, &a, &cause), 0);
	assert_int_equal(runs_end(fx->s, a, 0, summary, 2000, &cause), 0);
	assert_int_equal(runs_start(fx->s, "rotate", 3000, &b, &cause), 0);
	assert_int_equal(runs_end(fx->s, b, 1, NULL, 4000, &cause), 0);
	assert_int_equal(runs_last(fx->s, &last, &ok, &cause), 0);
	assert_int_equal(last.id, b);
	assert_int_equal(last.status, 1);
	assert_int_equal(last.ended_at, 4000);
	assert_null(last.summary);
	assert_int_equal(ok.id, a);
	assert_int_equal(ok.started_at, 1000);
	assert_int_equal(ok.ended_at, 2000);
	assert_int_equal(
	    json_integer_value(json_object_get(
		json_object_get(json_object_get(ok.summary, "credentials"), "acme-admin"),
		"throttled")),
	    2);
	runs_row_free(&last);
	runs_row_free(&ok);

	/* A run still open (or whose process died): no end, status -1. */
	assert_int_equal(runs_start(fx->s, "daemon", 5000, &c, &cause), 0);
	assert_int_equal(runs_last(fx->s, &last, &ok, &cause), 0);
	assert_int_equal(last.id, c);
	assert_int_equal(last.ended_at, 0);
	assert_int_equal(last.status, -1);
	assert_int_equal(ok.id, a);
	runs_row_free(&last);
	runs_row_free(&ok);
	json_decref(summary);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_start_and_end, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_last, fixture_setup, fixture_teardown),
	};

	jsonx_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
