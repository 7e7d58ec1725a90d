/* Unit tests for core/timefmt: ISO 8601 forms, Mode's format, durations, percentages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/timefmt.h"

#include <string.h>

/* 2024-10-02T21:00:00Z */
#define OCT2 1727902800000LL

static void
test_parse_documented_forms(void **state)
{
	static const char *const same[] = {
	    "2024-10-02T21:00Z",         "2024-10-02T21:00:00Z",     "2024-10-02T21:00:00+0000",
	    "2024-10-02T21:00:00+00:00", "2024-10-02T21:00:00.000Z", "2024-10-02T21:00:00-00",
	    "2024-10-02t21:00z",         "2024-10-02T23:00:00+0200", "2024-10-02T16:30:00-04:30",
	};
	int64_t ms;

	(void)state;
	for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
		ms = 0;
		assert_int_equal(timefmt_parse(same[i], &ms), 0);
		assert_int_equal(ms, OCT2);
	}
	assert_int_equal(timefmt_parse("2020-07-02T21:01:17.181Z", &ms), 0);
	assert_int_equal(ms, 1593723677181LL);
	assert_int_equal(timefmt_parse("1970-01-01T00:00Z", &ms), 0);
	assert_int_equal(ms, 0);
}

static void
test_parse_calendar_edges(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(timefmt_parse("2024-02-29T00:00Z", &ms), 0);
	assert_int_equal(timefmt_parse("2000-02-29T00:00Z", &ms), 0);
	assert_int_equal(timefmt_parse("2023-02-29T00:00Z", &ms), -1);
	assert_int_equal(timefmt_parse("1900-02-29T00:00Z", &ms), -1);
	assert_int_equal(timefmt_parse("2024-04-31T00:00Z", &ms), -1);
	assert_int_equal(timefmt_parse("2024-12-31T23:59:59Z", &ms), 0);
	assert_int_equal(ms, 1735689599000LL);
	/* An offset can carry the time over a year boundary. */
	assert_int_equal(timefmt_parse("2024-12-31T23:30:00-01:00", &ms), 0);
	assert_int_equal(ms, 1735691400000LL);
}

static void
test_parse_rejects(void **state)
{
	static const char *const bad[] = {
	    "",
	    "2024-10-02",
	    "2024-10-02T21Z",
	    "2024-10-02T21:00",
	    "2024-10-02 21:00Z",
	    "2024-13-02T21:00Z",
	    "2024-00-02T21:00Z",
	    "2024-10-00T21:00Z",
	    "2024-10-02T24:00Z",
	    "2024-10-02T21:60Z",
	    "2024-10-02T21:00:60Z",
	    "2024-10-02T21:00:00.Z",
	    "2024-10-02T21:00:00.1234567890Z",
	    "2024-10-02T21:00:00+2400",
	    "2024-10-02T21:00:00+00:60",
	    "2024-10-02T21:00:00+0",
	    "2024-10-02T21:00:00Zjunk",
	    "1969-12-31T23:59Z",
	    "24-10-02T21:00Z",
	    "2024-1-02T21:00Z",
	    "+2024-10-02T21:00Z",
	};
	int64_t ms = 42;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (timefmt_parse(bad[i], &ms) != -1)
			fail_msg("accepted '%s'", bad[i]);
		assert_int_equal(ms, 42);
	}
}

static void
test_format(void **state)
{
	char buf[TIMEFMT_MAX];
	int64_t back;

	(void)state;
	timefmt_mode(1593723677181LL, buf);
	assert_string_equal(buf, "2020-07-02T21:01:17.181Z");
	timefmt_mode(OCT2, buf);
	assert_string_equal(buf, "2024-10-02T21:00:00.000Z");
	timefmt_minute(OCT2 + 59999, buf);
	assert_string_equal(buf, "2024-10-02T21:00Z");
	timefmt_mode(951782400000LL, buf); /* leap day 2000 */
	assert_string_equal(buf, "2000-02-29T00:00:00.000Z");
	/* Round trip over a spread of instants, month ends included. */
	for (int64_t t = 0; t < 4102444800000LL; t += 86400000LL * 29 + 3600007) {
		timefmt_mode(t, buf);
		assert_int_equal(timefmt_parse(buf, &back), 0);
		assert_int_equal(back, t);
	}
}

static void
test_duration(void **state)
{
	static const struct {
		const char *s;
		int64_t secs;
	} ok[] = {
	    {"90d", 90 * 86400}, {"12h", 43200},    {"30m", 1800},          {"45s", 45},
	    {"2w", 1209600},     {"1d12h", 129600}, {"1w2d3h4m5s", 788645},
	};
	static const char *const bad[] = {"",     "d",   "12",           "12x",           "-1d",
					  "1.5d", "0d",  "12h1d",        "1d1d",          "1D",
					  " 1d",  "1d ", "99999999999x", "99999999999d1d"};
	/* Well formed, but past a hundred years: said apart from a typo. */
	static const char *const big[] = {"99999999999d", "36601d", "5300w", "1d9999999999999999h"};
	char buf[TIMEFMT_MAX];
	int64_t secs;

	(void)state;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		assert_int_equal(timefmt_duration(ok[i].s, &secs), 0);
		assert_int_equal(secs, ok[i].secs);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (timefmt_duration(bad[i], &secs) != -1)
			fail_msg("accepted duration '%s'", bad[i]);
	for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
		if (timefmt_duration(big[i], &secs) != -2)
			fail_msg("duration '%s' not found too long", big[i]);
	assert_int_equal(timefmt_duration("36600d", &secs), 0);
	timefmt_duration_str(129600, buf);
	assert_string_equal(buf, "1d12h");
	timefmt_duration_str(90 * 86400, buf);
	assert_string_equal(buf, "90d");
	timefmt_duration_str(3661, buf);
	assert_string_equal(buf, "1h1m1s");
	assert_int_equal(timefmt_duration(buf, &secs), 0);
	assert_int_equal(secs, 3661);
	timefmt_duration_str(10 * 86400 + 7 * 60, buf);
	assert_string_equal(buf, "10d7m");
	timefmt_duration_str(59, buf);
	assert_string_equal(buf, "59s");
	timefmt_duration_str(0, buf);
	assert_string_equal(buf, "0s");
	timefmt_duration_str(INT64_MAX, buf);
	assert_string_equal(buf, "106751991167300d15h30m7s");
}

/* Ages for people: the largest two units, never a run of six. */
static void
test_age(void **state)
{
	static const struct {
		int64_t secs;
		const char *want;
	} cases[] = {
	    {0, "0s"},
	    {45, "45s"},
	    {60, "1m"},
	    {3 * 86400 + 4 * 3600 + 59, "3d 4h"},
	    {3 * 86400, "3d"},
	    {3 * 86400 + 59, "3d"},
	    {340 * 86400 + 3 * 3600, "11mo 5d"},
	    {30 * 86400, "30d"},
	    {36499LL * 86400 + 23 * 3600 + 59 * 60 + 48, "99y 11mo"},
	    {365LL * 86400 * 1000 + 86400 * 31, "1000y 1mo"},
	    {365LL * 86400 * 12345, "9999y"},
	    {11 * 3600 + 10 * 60, "11h 10m"},
	    {2 * 3600 + 5, "2h"},
	    {59 * 60 + 9, "59m 9s"},
	    {-5, "0s"},
	};
	char buf[TIMEFMT_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		timefmt_age_str(cases[i].secs, buf);
		assert_string_equal(buf, cases[i].want);
	}
}

/* Spans from now for status: two units at most, never 36499d23h59m48s. */
static void
test_relative(void **state)
{
	static const struct {
		int64_t secs;
		const char *want;
	} cases[] = {
	    {0, "now"},
	    {45, "in 45s"},
	    {-45, "45s ago"},
	    {3 * 86400 + 4 * 3600 + 59, "in 3d 4h"},
	    {-(2 * 3600 + 5 * 60 + 7), "2h 5m ago"},
	    {340 * 86400, "in 11mo 5d"},
	    {335 * 86400, "in 11mo"},
	    {36499LL * 86400 + 23 * 3600 + 59 * 60 + 48, "in 99y 11mo"},
	    {INT64_MAX, "in 9999y"},
	    {INT64_MIN, "9999y ago"},
	};
	char buf[TIMEFMT_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		timefmt_relative(cases[i].secs, buf);
		assert_string_equal(buf, cases[i].want);
	}
}

static void
test_percent(void **state)
{
	int pct = 0;

	(void)state;
	assert_int_equal(timefmt_percent("20%", &pct), 0);
	assert_int_equal(pct, 20);
	assert_int_equal(timefmt_percent("1%", &pct), 0);
	assert_int_equal(timefmt_percent("99%", &pct), 0);
	assert_int_equal(pct, 99);
	assert_int_equal(timefmt_percent("0%", &pct), -1);
	assert_int_equal(timefmt_percent("100%", &pct), -1);
	assert_int_equal(timefmt_percent("20", &pct), -1);
	assert_int_equal(timefmt_percent("%", &pct), -1);
	assert_int_equal(timefmt_percent("2.5%", &pct), -1);
	assert_int_equal(timefmt_percent("20%%", &pct), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_documented_forms),
	    cmocka_unit_test(test_parse_calendar_edges),
	    cmocka_unit_test(test_parse_rejects),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_duration),
	    cmocka_unit_test(test_age),
	    cmocka_unit_test(test_relative),
	    cmocka_unit_test(test_percent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
