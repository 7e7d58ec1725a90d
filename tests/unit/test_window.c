/* Unit tests for core/window: open or closed, the next opening, the longest gap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/tz.h"
#include "core/window.h"

#include <stdlib.h>
#include <string.h>

#define H 3600
#define MON_NOV23_0100 1795395600 /* 2026-11-23T01:00Z, a Monday */
#define FRI_NOV27_0500 1795755600
#define MON_NOV30_0100 1796000400
#define FRI_NOV27_2300 1795820400
#define SAT_NOV28_0100 1795827600
#define SAT_NOV28_0300 1795834800
#define SAT_NOV28_2300 1795906800
#define FRI_DEC04_2200 1796421600
#define MON_NOV30_2300 1796079600
#define TUE_DEC01_0100 1796086800
#define THU_DEC31_0600 1798696800
#define FRI_JAN01_0100 1798765200
#define JAN15_0000 1768435200
#define JUL14_2300 1784070000
#define JUL15_0000 1784073600
#define SUN_MAR29_0000 1774742400
#define MON_MAR30_0000 1774828800

static struct policy_window
window(unsigned days, int start_h, int end_h)
{
	struct policy_window w;

	memset(&w, 0, sizeof w);
	w.days = days;
	w.spans[0].start = start_h * 60;
	w.spans[0].end = end_h * 60;
	w.nspans = 1;
	return w;
}

#define WEEKDAYS 0x1fu
#define EVERY_DAY 0x7fu
#define FRIDAY (1u << 4)
#define SUNDAY (1u << 6)

/* The longest gap by brute force: every minute of the week marked, then the longest run. */
static int64_t
gap_by_minutes(const struct policy_window *w)
{
	static unsigned char open[7 * 1440];
	int64_t run = 0, longest = 0;
	int any = 0;

	memset(open, 0, sizeof open);
	for (int day = 0; day < 7; day++) {
		if ((w->days & (1u << day)) == 0)
			continue;
		for (size_t i = 0; i < w->nspans; i++) {
			int a = w->spans[i].start, b = w->spans[i].end;
			int len = a < b ? b - a : 1440 - a + b;

			for (int m = 0; m < len; m++)
				open[(day * 1440 + a + m) % (7 * 1440)] = 1;
		}
	}
	for (int m = 0; m < 2 * 7 * 1440; m++) {
		if (open[m % (7 * 1440)]) {
			any = 1;
			run = 0;
		} else if (++run > longest) {
			longest = run;
		}
	}
	return any ? longest * 60 : -1;
}

/* Random windows (days, up to POLICY_MAX_SPANS spans, some past midnight) against brute force. */
static void
test_longest_gap_random(void **state)
{
	uint64_t seed = 0x77696e646f77ULL;

	(void)state;
	for (int n = 0; n < 20000; n++) {
		struct policy_window w = {0};

		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		w.days = (unsigned)(seed >> 33) & 0x7fu;
		w.nspans = 1 + (size_t)((seed >> 20) % POLICY_MAX_SPANS);
		for (size_t i = 0; i < w.nspans; i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			/* Whole hours mostly, minutes sometimes, as policies write them. */
			w.spans[i].start = (int)((seed >> 33) % 1440);
			w.spans[i].end = (int)((seed >> 13) % 1440);
			if ((seed >> 60) < 12) {
				w.spans[i].start -= w.spans[i].start % 60;
				w.spans[i].end -= w.spans[i].end % 60;
			}
		}
		if (window_longest_gap(&w) != gap_by_minutes(&w))
			fail_msg("days %#x, %zu spans, first %d-%d: %lld, by minutes %lld", w.days,
				 w.nspans, w.spans[0].start, w.spans[0].end,
				 (long long)window_longest_gap(&w), (long long)gap_by_minutes(&w));
	}
}

static void
test_null_window(void **state)
{
	(void)state;
	assert_int_equal(window_is_open(NULL, 12345), 1);
	assert_int_equal(window_next_open(NULL, 12345), 12345);
	assert_int_equal(window_longest_gap(NULL), 0);
}

static void
test_weekdays_utc(void **state)
{
	struct policy_window w = window(WEEKDAYS, 1, 5);

	(void)state;
	assert_true(window_is_open(&w, MON_NOV23_0100));
	assert_false(window_is_open(&w, MON_NOV23_0100 - 1));
	assert_true(window_is_open(&w, MON_NOV23_0100 + 4 * H - 1));
	assert_false(window_is_open(&w, MON_NOV23_0100 + 4 * H));
	/* Friday's window closes at 05:00; the next one is Monday's. */
	assert_false(window_is_open(&w, FRI_NOV27_0500));
	assert_int_equal(window_next_open(&w, FRI_NOV27_0500), MON_NOV30_0100);
	assert_int_equal(window_next_open(&w, MON_NOV23_0100 + 2 * H), MON_NOV23_0100 + 2 * H);
	assert_int_equal(window_next_open(&w, MON_NOV23_0100 - 1), MON_NOV23_0100);
	/* Fri 05:00 to Mon 01:00 */
	assert_int_equal(window_longest_gap(&w), 68 * H);
}

static void
test_span_past_midnight(void **state)
{
	struct policy_window w = window(FRIDAY, 22, 2);

	(void)state;
	assert_true(window_is_open(&w, FRI_NOV27_2300));
	assert_true(window_is_open(&w, SAT_NOV28_0100)); /* Friday's span, after midnight */
	assert_false(window_is_open(&w, SAT_NOV28_2300));
	assert_false(window_is_open(&w, SAT_NOV28_0300));
	assert_int_equal(window_next_open(&w, SAT_NOV28_0300), FRI_DEC04_2200);
	assert_int_equal(window_longest_gap(&w), 7 * 24 * H - 4 * H);
}

static void
test_month_and_year_edges(void **state)
{
	struct policy_window w = window(EVERY_DAY, 1, 5);
	struct policy_window none = window(0, 1, 5);
	struct policy_window all = window(EVERY_DAY, 0, 24);

	(void)state;
	assert_int_equal(window_next_open(&w, MON_NOV30_2300), TUE_DEC01_0100);
	assert_int_equal(window_next_open(&w, THU_DEC31_0600), FRI_JAN01_0100);
	assert_int_equal(window_longest_gap(&w), 20 * H);
	assert_int_equal(window_next_open(&none, MON_NOV30_2300), INT64_MAX);
	assert_int_equal(window_longest_gap(&none), -1);
	assert_int_equal(window_longest_gap(&all), 0);
	assert_true(window_is_open(&all, THU_DEC31_0600));
}

static void
test_time_zone(void **state)
{
	struct policy_window w = window(EVERY_DAY, 1, 5);
	struct policy_window gap = window(EVERY_DAY, 2, 3);
	char *cause = NULL;

	(void)state;
	if (tz_load(NULL, "Europe/Berlin", &w.tz, &cause) < 0)
		fail_msg("%s", cause);
	/* Winter: 01:00 in Berlin is 00:00Z.  Summer: 23:00Z the day before. */
	assert_int_equal(window_next_open(&w, JAN15_0000 - 5 * H), JAN15_0000);
	assert_false(window_is_open(&w, JAN15_0000 - 1));
	assert_int_equal(window_next_open(&w, JUL14_2300 - 5 * H), JUL14_2300);
	assert_true(window_is_open(&w, JUL15_0000));
	/* 02:00-03:00 does not exist in Berlin on 2026-03-29: the next opening is a day on. */
	gap.tz = w.tz;
	assert_int_equal(window_next_open(&gap, SUN_MAR29_0000), MON_MAR30_0000);
	tz_free(w.tz);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_longest_gap_random),   cmocka_unit_test(test_null_window),
	    cmocka_unit_test(test_weekdays_utc),         cmocka_unit_test(test_span_past_midnight),
	    cmocka_unit_test(test_month_and_year_edges), cmocka_unit_test(test_time_zone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
