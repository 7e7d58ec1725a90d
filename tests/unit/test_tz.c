/*
 * Unit tests for core/tz: offsets against glibc's localtime_r for real zones
 * (tests may set $TZ; the module may not), POSIX TZ footers, local times in
 * gaps and overlaps, zone names, and damaged TZif data.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/timefmt.h"
#include "core/tz.h"
#include "core/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HOUR 3600LL
#define DAY 86400LL
#define BUF_MAX 16384

static const char *const zones[] = {
    "UTC",           "Europe/Berlin",     "America/New_York",   "Australia/Sydney",
    "Asia/Kolkata",  "Asia/Tehran",       "Pacific/Chatham",    "America/Sao_Paulo",
    "Europe/Dublin", "Africa/Casablanca", "Pacific/Kiritimati", "America/St_Johns",
    "America/Nuuk",
};
#define NZONES (sizeof zones / sizeof zones[0])

static long instants; /* compared against glibc, over all tests */

/* ---- glibc as the reference ---- */

static void
use_tz(const char *tz)
{
	assert_int_equal(setenv("TZ", tz, 1), 0);
	tzset();
}

static int32_t
glibc_offset(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	assert_non_null(localtime_r(&tt, &tm));
	return (int32_t)tm.tm_gmtoff;
}

static void
check_at(const struct tz *z, int64_t t)
{
	int32_t want = glibc_offset(t), got = tz_offset(z, t);

	if (got != want)
		fail_msg("%s at %lld: tz_offset %d, glibc %d", tz_name(z), (long long)t, (int)got,
			 (int)want);
	instants++;
}

/* Finds the first second in (lo, hi] whose offset differs from lo's, by either source. */
static int64_t
find_change(const struct tz *z, int64_t lo, int64_t hi, int use_glibc)
{
	int32_t before = use_glibc ? glibc_offset(lo) : tz_offset(z, lo);

	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;
		int32_t o = use_glibc ? glibc_offset(mid) : tz_offset(z, mid);

		if (o == before)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

/*
 * Compares z with glibc's current $TZ every step seconds over [from, to],
 * and at t-1, t and t+1 around each change either of them shows.
 */
static void
compare_range(const struct tz *z, int64_t from, int64_t to, int64_t step)
{
	for (int64_t t = from; t <= to; t += step) {
		check_at(z, t);
		if (t == from)
			continue;
		for (int g = 0; g < 2; g++) {
			int64_t a = g ? glibc_offset(t - step) : tz_offset(z, t - step);
			int64_t b = g ? glibc_offset(t) : tz_offset(z, t);

			if (a != b) {
				int64_t c = find_change(z, t - step, t, g);

				check_at(z, c - 1);
				check_at(z, c);
				check_at(z, c + 1);
			}
		}
	}
}

static int64_t
year_start(int year)
{
	return timefmt_from_civil(year, 1, 1, 0, 0, 0);
}

/* ---- TZif buffers built by hand ---- */

struct spec {
	char version; /* 0 (version 1), '2', '3' or '4' */
	size_t ntrans;
	const int64_t *trans;
	const unsigned char *idx;
	size_t ntypes;
	const int32_t *offs;
	const char *footer; /* versions 2+; NULL writes none at all */
};

struct out {
	unsigned char *b;
	size_t n;
};

static void
put(struct out *o, const void *p, size_t n)
{
	assert_true(o->n + n <= BUF_MAX);
	if (n == 0)
		return;
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void
put32(struct out *o, uint32_t v)
{
	unsigned char b[4] = {v >> 24, v >> 16 & 0xff, v >> 8 & 0xff, v & 0xff};

	put(o, b, 4);
}

static void
put64(struct out *o, int64_t v)
{
	put32(o, (uint32_t)((uint64_t)v >> 32));
	put32(o, (uint32_t)v);
}

static void
put_header(struct out *o, char version, uint32_t timecnt, uint32_t typecnt)
{
	unsigned char zero[15] = {0};

	put(o, "TZif", 4);
	put(o, &version, 1);
	put(o, zero, 15);
	put32(o, 0); /* isutcnt */
	put32(o, 0); /* isstdcnt */
	put32(o, 0); /* leapcnt */
	put32(o, timecnt);
	put32(o, typecnt);
	put32(o, 4); /* charcnt: "XXX" */
}

static void
put_block(struct out *o, const struct spec *s, int wide)
{
	for (size_t i = 0; i < s->ntrans; i++) {
		if (wide)
			put64(o, s->trans[i]);
		else
			put32(o, (uint32_t)s->trans[i]);
	}
	put(o, s->idx, s->ntrans);
	for (size_t i = 0; i < s->ntypes; i++) {
		unsigned char dst_idx[2] = {0, 0};

		put32(o, (uint32_t)s->offs[i]);
		put(o, dst_idx, 2);
	}
	put(o, "XXX", 4);
}

/* Writes s as TZif into buf; returns its length. */
static size_t
build(const struct spec *s, unsigned char *buf)
{
	static const int32_t zero[1];
	static const struct spec v1_stub = {0, 0, NULL, NULL, 1, zero, NULL};
	struct out o = {buf, 0};

	if (s->version == 0) {
		put_header(&o, 0, (uint32_t)s->ntrans, (uint32_t)s->ntypes);
		put_block(&o, s, 0);
		return o.n;
	}
	put_header(&o, s->version, 0, 1);
	put_block(&o, &v1_stub, 0);
	put_header(&o, s->version, (uint32_t)s->ntrans, (uint32_t)s->ntypes);
	put_block(&o, s, 1);
	if (s->footer != NULL) {
		put(&o, "\n", 1);
		put(&o, s->footer, strlen(s->footer));
		put(&o, "\n", 1);
	}
	return o.n;
}

/* A version 2 zone with no transitions: the footer decides everything. */
static struct tz *
footer_zone(const char *footer, int32_t type0)
{
	struct spec s = {'2', 0, NULL, NULL, 1, &type0, footer};
	unsigned char buf[BUF_MAX];
	struct tz *z = NULL;
	char *cause = NULL;
	size_t n = build(&s, buf);

	if (tz_parse(buf, n, footer, &z, &cause) < 0)
		fail_msg("footer '%s': %s", footer, cause);
	return z;
}

static unsigned char *
slurp(const char *zone, size_t *len)
{
	char path[256];
	unsigned char *buf = malloc(1 << 20);
	FILE *f;

	assert_true(snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", zone) < (int)sizeof path);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_non_null(buf);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

static struct tz *
load(const char *zone)
{
	struct tz *z = NULL;
	char *cause = NULL;

	if (tz_load(NULL, zone, &z, &cause) < 0)
		fail_msg("%s: %s", zone, cause);
	assert_string_equal(tz_name(z), zone);
	return z;
}

/* ---- Tests ---- */

static void
test_zones_match_glibc(void **state)
{
	long before = instants;

	(void)state;
	for (size_t i = 0; i < NZONES; i++) {
		struct tz *z = load(zones[i]);

		use_tz(zones[i]);
		compare_range(z, year_start(2020), year_start(2041) - 1, 6 * HOUR);
		compare_range(z, year_start(1900), year_start(2100), DAY + 7 * HOUR);
		tz_free(z);
	}
	print_message("zones vs glibc: %ld instants\n", instants - before);
}

/* The real zones' footers alone, as slim zic output relies on them. */
static void
test_footers_match_glibc(void **state)
{
	static const struct {
		const char *zone;
		int from; /* the year since which the footer has described the zone */
	} cases[] = {
	    {"UTC", 2020},
	    {"Europe/Berlin", 2020},
	    {"America/New_York", 2020},
	    {"Australia/Sydney", 2020},
	    {"Asia/Kolkata", 2020},
	    {"Asia/Tehran", 2023},
	    {"Pacific/Chatham", 2020},
	    {"America/Sao_Paulo", 2020},
	    {"Europe/Dublin", 2020},
	    {"Pacific/Kiritimati", 2020},
	    {"America/St_Johns", 2020},
	    {"America/Nuuk", 2024},
	};
	long before = instants;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len, end, start;
		unsigned char *file = slurp(cases[i].zone, &len);
		char footer[256];
		struct tz *z;

		assert_true(len > 2 && file[len - 1] == '\n');
		end = len - 1;
		start = end;
		while (start > 0 && file[start - 1] != '\n')
			start--;
		assert_true(end - start < sizeof footer);
		memcpy(footer, file + start, end - start);
		footer[end - start] = '\0';
		z = footer_zone(footer, 12345);
		use_tz(cases[i].zone);
		compare_range(z, year_start(cases[i].from), year_start(2060), 6 * HOUR);
		tz_free(z);
		free(file);
	}
	print_message("footers vs glibc: %ld instants\n", instants - before);
}

/* TZ strings with every date form and the version 3 extensions, against glibc's parser. */
static void
test_tz_strings_match_glibc(void **state)
{
	static const char *const strings[] = {
	    "EST5EDT,M3.2.0,M11.1.0",
	    "CET-1CEST,M3.5.0,M10.5.0/3",
	    "AEST-10AEDT,M10.1.0,M4.1.0/3",
	    "<+0330>-3:30",
	    "<-03>3",
	    "NZST-12NZDT,M9.5.0,M4.1.0/3",
	    "<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45",
	    "IST-1GMT0,M10.5.0,M3.5.0/1",
	    "<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
	    "NST3:30NDT,M3.2.0,M11.1.0",
	    "EST5EDT,J60/2,J300/2",
	    "EST5EDT,59/2,299/2",
	    "EST5EDT,J1/0,J365/0",
	    "EST5EDT,0/0,364/0",
	    "EST5EDT,M3.2.0/167,M11.1.0/-167",
	    "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1",
	    "XYZ+5:30:15ZYX+4:00:05,M2.5.4/12:34:56,M10.1.1/1",
	    "LHST-10:30LHDT-11,M10.1.0,M4.1.0",
	};
	long before = instants;

	(void)state;
	for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
		struct tz *z = footer_zone(strings[i], 0);

		use_tz(strings[i]);
		compare_range(z, year_start(2020), year_start(2041), 6 * HOUR);
		/* Far from the transitions table: the rule repeats every 400 years. */
		compare_range(z, year_start(2399), year_start(2401), 6 * HOUR);
		tz_free(z);
	}
	print_message("TZ strings vs glibc: %ld instants\n", instants - before);
}

/* The footer-only file of the brief, checked by hand in 2030. */
static void
test_footer_only_file(void **state)
{
	struct tz *z = footer_zone("EST5EDT,M3.2.0,M11.1.0", -18000);
	/* 2030: DST from Sunday 10 March 02:00 EST to Sunday 3 November 02:00 EDT. */
	int64_t on = timefmt_from_civil(2030, 3, 10, 7, 0, 0);
	int64_t off = timefmt_from_civil(2030, 11, 3, 6, 0, 0);

	(void)state;
	assert_int_equal(tz_offset(z, timefmt_from_civil(2030, 1, 15, 12, 0, 0)), -5 * HOUR);
	assert_int_equal(tz_offset(z, on - 1), -5 * HOUR);
	assert_int_equal(tz_offset(z, on), -4 * HOUR);
	assert_int_equal(tz_offset(z, timefmt_from_civil(2030, 7, 1, 12, 0, 0)), -4 * HOUR);
	assert_int_equal(tz_offset(z, off - 1), -4 * HOUR);
	assert_int_equal(tz_offset(z, off), -5 * HOUR);
	assert_int_equal(tz_offset(z, timefmt_from_civil(2030, 12, 31, 23, 0, 0)), -5 * HOUR);
	tz_free(z);
}

/* RFC 8536's example of DST all year: the end meets the next start. */
static void
test_dst_all_year(void **state)
{
	struct tz *z = footer_zone("EST5EDT4,0/0,J365/25", 0);

	(void)state;
	for (int64_t t = year_start(2025) - DAY; t < year_start(2027) + DAY; t += HOUR)
		assert_int_equal(tz_offset(z, t), -4 * HOUR);
	tz_free(z);
}

/*
 * Rule dates near the new year, where glibc looks only at the UTC year: the
 * next year's start can fall in this UTC year, and this year's end in the next.
 */
static void
test_rule_year_boundary(void **state)
{
	struct tz *z = footer_zone("ABC-14DEF-15,M1.1.0/0,M12.5.6/24", 0);

	(void)state;
	/* 2022 ends Saturday 31 December 24:00 DEF, 09:00Z; 2023 starts Sunday 1 January
	 * 00:00 ABC, 10:00Z on 31 December. */
	assert_int_equal(tz_offset(z, timefmt_from_civil(2022, 12, 31, 8, 59, 59)), 15 * HOUR);
	assert_int_equal(tz_offset(z, timefmt_from_civil(2022, 12, 31, 9, 0, 0)), 14 * HOUR);
	assert_int_equal(tz_offset(z, timefmt_from_civil(2022, 12, 31, 9, 59, 59)), 14 * HOUR);
	assert_int_equal(tz_offset(z, timefmt_from_civil(2022, 12, 31, 10, 0, 0)), 15 * HOUR);
	assert_int_equal(tz_offset(z, timefmt_from_civil(2022, 12, 31, 12, 0, 0)), 15 * HOUR);
	tz_free(z);
	/* Southern rules whose end, 167 hours after its date, lands in the next UTC year. */
	z = footer_zone("<-03>3<-02>,M10.1.0/0,M12.5.0/167", 0);
	/* 2030: from Sunday 6 October 03:00Z to Sunday 29 December + 167h -02, 2031-01-05 01:00Z.
	 */
	assert_int_equal(tz_offset(z, timefmt_from_civil(2031, 1, 5, 0, 59, 59)), -2 * HOUR);
	assert_int_equal(tz_offset(z, timefmt_from_civil(2031, 1, 5, 1, 0, 0)), -3 * HOUR);
	assert_int_equal(tz_offset(z, timefmt_from_civil(2030, 10, 6, 2, 59, 59)), -3 * HOUR);
	assert_int_equal(tz_offset(z, timefmt_from_civil(2030, 10, 6, 3, 0, 0)), -2 * HOUR);
	tz_free(z);
}

/* Before the first transition, type 0 (RFC 8536 3.2); after the last without a footer, the last
 * type. */
static void
test_transitions_table(void **state)
{
	static const int64_t trans[] = {1000000, 2000000, 3000000};
	static const unsigned char idx[] = {1, 2, 1};
	static const int32_t offs[] = {3600, 7200, -1800};
	unsigned char buf[BUF_MAX];
	const char versions[] = {0, '2', '3', '4'};

	(void)state;
	for (size_t v = 0; v < sizeof versions; v++) {
		struct spec s = {versions[v], 3, trans, idx, 3, offs, ""};
		size_t n = build(&s, buf);
		struct tz *z = NULL;
		char *cause = NULL;

		assert_int_equal(tz_parse(buf, n, "Test/Zone", &z, &cause), 0);
		assert_string_equal(tz_name(z), "Test/Zone");
		assert_int_equal(tz_offset(z, INT64_MIN), 3600);
		assert_int_equal(tz_offset(z, 999999), 3600);
		assert_int_equal(tz_offset(z, 1000000), 7200);
		assert_int_equal(tz_offset(z, 1999999), 7200);
		assert_int_equal(tz_offset(z, 2000000), -1800);
		assert_int_equal(tz_offset(z, 3000000), 7200);
		assert_int_equal(tz_offset(z, INT64_MAX), 7200);
		tz_free(z);
	}
}

static void
test_local_to_utc_berlin(void **state)
{
	struct tz *z = load("Europe/Berlin");

	(void)state;
	/* Winter and summer. */
	assert_int_equal(tz_local_to_utc(z, timefmt_from_civil(2026, 1, 15, 12, 0, 0)),
			 timefmt_from_civil(2026, 1, 15, 11, 0, 0));
	assert_int_equal(tz_local_to_utc(z, timefmt_from_civil(2026, 7, 15, 12, 0, 0)),
			 timefmt_from_civil(2026, 7, 15, 10, 0, 0));
	/* Gap: 02:30 does not exist; read with CET it is 01:30Z, which the clock shows as 03:30. */
	assert_int_equal(tz_local_to_utc(z, timefmt_from_civil(2026, 3, 29, 2, 30, 0)),
			 timefmt_from_civil(2026, 3, 29, 1, 30, 0));
	assert_int_equal(tz_local_to_utc(z, timefmt_from_civil(2026, 3, 29, 1, 59, 59)),
			 timefmt_from_civil(2026, 3, 29, 0, 59, 59));
	assert_int_equal(tz_local_to_utc(z, timefmt_from_civil(2026, 3, 29, 3, 0, 0)),
			 timefmt_from_civil(2026, 3, 29, 1, 0, 0));
	/* Overlap: 02:30 happens at 00:30Z (CEST) and 01:30Z (CET); the earlier wins. */
	assert_int_equal(tz_local_to_utc(z, timefmt_from_civil(2026, 10, 25, 2, 30, 0)),
			 timefmt_from_civil(2026, 10, 25, 0, 30, 0));
	assert_int_equal(tz_local_to_utc(z, timefmt_from_civil(2026, 10, 25, 3, 0, 0)),
			 timefmt_from_civil(2026, 10, 25, 2, 0, 0));
	assert_int_equal(tz_local_to_utc(z, timefmt_from_civil(2026, 10, 25, 1, 59, 59)),
			 timefmt_from_civil(2026, 10, 24, 23, 59, 59));
	tz_free(z);
}

static void
test_local_to_utc_elsewhere(void **state)
{
	struct tz *z;

	(void)state;
	/* New York: gap 2026-03-08 02:00-03:00, overlap 2026-11-01 01:00-02:00. */
	z = load("America/New_York");
	assert_int_equal(tz_local_to_utc(z, timefmt_from_civil(2026, 3, 8, 2, 15, 0)),
			 timefmt_from_civil(2026, 3, 8, 7, 15, 0));
	assert_int_equal(tz_local_to_utc(z, timefmt_from_civil(2026, 11, 1, 1, 15, 0)),
			 timefmt_from_civil(2026, 11, 1, 5, 15, 0));
	tz_free(z);
	/* Sydney: overlap 2026-04-05 02:00-03:00, gap 2026-10-04 02:00-03:00. */
	z = load("Australia/Sydney");
	assert_int_equal(tz_local_to_utc(z, timefmt_from_civil(2026, 4, 5, 2, 30, 0)),
			 timefmt_from_civil(2026, 4, 4, 15, 30, 0));
	assert_int_equal(tz_local_to_utc(z, timefmt_from_civil(2026, 10, 4, 2, 30, 0)),
			 timefmt_from_civil(2026, 10, 3, 16, 30, 0));
	tz_free(z);
	/* Dublin, whose "DST" is winter: the gap and overlap are still at 01:00 UTC. */
	z = load("Europe/Dublin");
	assert_int_equal(tz_local_to_utc(z, timefmt_from_civil(2026, 3, 29, 1, 30, 0)),
			 timefmt_from_civil(2026, 3, 29, 1, 30, 0));
	assert_int_equal(tz_local_to_utc(z, timefmt_from_civil(2026, 10, 25, 1, 30, 0)),
			 timefmt_from_civil(2026, 10, 25, 0, 30, 0));
	tz_free(z);
	z = tz_utc();
	assert_int_equal(tz_local_to_utc(z, 1234567890), 1234567890);
	tz_free(z);
}

/* Every instant's local time maps back to it, or to an earlier instant of an overlap. */
static void
test_local_to_utc_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < NZONES; i++) {
		struct tz *z = load(zones[i]);

		for (int64_t t = year_start(2020); t < year_start(2041); t += 15 * 60 * 7) {
			int64_t local = t + tz_offset(z, t);
			int64_t back = tz_local_to_utc(z, local);

			assert_true(back <= t);
			assert_true(back == t || t - back <= 2 * HOUR);
			assert_int_equal(back + tz_offset(z, back), local);
		}
		tz_free(z);
	}
}

static void
test_names(void **state)
{
	static const char *const bad[] = {
	    "../etc/passwd",           "/etc/localtime",   "",
	    "Europe/../../etc/passwd", "Europe//Berlin",   "Europe/",
	    "Europe/Ber lin",          "Europe/Berlin\n",  "Europe/.Berlin",
	    "Europe\\Berlin",          "Europe/Berlin;rm",
	};
	struct tz *z = NULL;
	char *cause = NULL;
	char name[TZ_NAME_MAX + 2];

	(void)state;
	memset(name, 'A', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	assert_int_equal(tz_load(NULL, name, &z, &cause), -1);
	assert_non_null(strstr(cause, "too long"));
	FREE_NULL(&cause);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(tz_load(NULL, bad[i], &z, &cause), -1);
		assert_non_null(strstr(cause, "invalid time zone name"));
		FREE_NULL(&cause);
	}
	assert_int_equal(tz_load(NULL, "Nowhere/City", &z, &cause), -1);
	assert_string_equal(cause, "unknown time zone 'Nowhere/City'");
	FREE_NULL(&cause);
	assert_int_equal(tz_load(NULL, "Europe/Berln", &z, &cause), -1);
	assert_string_equal(cause, "unknown time zone 'Europe/Berln'");
	FREE_NULL(&cause);
	assert_int_equal(tz_load(NULL, "Europe", &z, &cause), -1);
	assert_non_null(strstr(cause, "unknown time zone 'Europe'"));
	FREE_NULL(&cause);
	assert_int_equal(tz_load(NULL, "Europe/Berlin/x", &z, &cause), -1);
	FREE_NULL(&cause);
	/* An explicit directory, and the built-in UTC when the database is missing. */
	assert_int_equal(tz_load("/usr/share/zoneinfo", "Etc/GMT-3", &z, &cause), 0);
	assert_int_equal(tz_offset(z, 0), 3 * HOUR);
	tz_free(z);
	assert_int_equal(tz_load("/nonexistent", "UTC", &z, &cause), 0);
	assert_ptr_equal(z, tz_utc());
	tz_free(z);
	assert_int_equal(tz_load("/nonexistent", "Europe/Berlin", &z, &cause), -1);
	FREE_NULL(&cause);
}

static void
test_files(void **state)
{
	char dir[] = "/tmp/tw-tz-XXXXXX", path[64];
	struct tz *z = NULL;
	char *cause = NULL;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/Junk", dir);
	f = fopen(path, "w");
	fputs("not a zone\n", f);
	fclose(f);
	assert_int_equal(tz_load(dir, "Junk", &z, &cause), -1);
	assert_string_equal(cause, "time zone 'Junk': not a TZif file");
	FREE_NULL(&cause);
	unlink(path);
	snprintf(path, sizeof path, "%s/Huge", dir);
	f = fopen(path, "w");
	fputs("TZif2", f);
	fseek(f, 2 << 20, SEEK_SET);
	fputc('\n', f);
	fclose(f);
	assert_int_equal(tz_load(dir, "Huge", &z, &cause), -1);
	assert_non_null(strstr(cause, "larger than"));
	FREE_NULL(&cause);
	unlink(path);
	rmdir(dir);
}

static void
test_utc(void **state)
{
	struct tz *z = tz_utc();

	(void)state;
	assert_string_equal(tz_name(z), "UTC");
	assert_int_equal(tz_offset(z, INT64_MIN), 0);
	assert_int_equal(tz_offset(z, 0), 0);
	assert_int_equal(tz_offset(z, INT64_MAX), 0);
	assert_int_equal(tz_local_to_utc(z, INT64_MAX), INT64_MAX);
	tz_free(z);
	tz_free(z);
	tz_free(NULL);
	assert_int_equal(tz_offset(tz_utc(), 42), 0);
}

/* A zone with several holders lives until the last lets go (ASan checks the frees). */
static void
test_refs(void **state)
{
	struct tz *z = load("Europe/Berlin");

	(void)state;
	assert_ptr_equal(tz_ref(z), z);
	assert_ptr_equal(tz_ref(z), z);
	tz_free(z);
	tz_free(z);
	assert_string_equal(tz_name(z), "Europe/Berlin");
	assert_int_equal(tz_offset(z, timefmt_from_civil(2026, 7, 1, 0, 0, 0)), 2 * HOUR);
	tz_free(z);
	assert_ptr_equal(tz_ref(tz_utc()), tz_utc());
	assert_null(tz_ref(NULL));
	tz_free(tz_utc());
}

/* Lookups anywhere in the int64_t range, where arithmetic could overflow. */
static void
test_extreme_times(void **state)
{
	static const int64_t ts[] = {
	    INT64_MIN, INT64_MIN + 1,   -(1LL << 59), INT32_MIN - 1LL, INT32_MIN, 0,
	    INT32_MAX, INT32_MAX + 1LL, (1LL << 59),  INT64_MAX - 1,   INT64_MAX};
	struct tz *z = load("Europe/Berlin");
	int64_t t2026 = timefmt_from_civil(2026, 7, 1, 0, 0, 0);

	(void)state;
	for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
		int32_t o = tz_offset(z, ts[i]);

		assert_true(o >= -14 * HOUR && o <= 14 * HOUR);
		(void)tz_local_to_utc(z, ts[i]);
	}
	assert_true(tz_local_to_utc(z, INT64_MAX) >= INT64_MAX - 2 * HOUR);
	assert_int_equal(tz_local_to_utc(z, INT64_MIN), INT64_MIN);
	/* 400 Gregorian years later, the rule gives the same answers. */
	for (int64_t k = 1; k < 1000000; k *= 7)
		assert_int_equal(tz_offset(z, t2026 + k * 146097 * DAY), 2 * HOUR);
	tz_free(z);
}

/* A parse that succeeds on damaged data must still give sane lookups. */
static void
exercise(const unsigned char *buf, size_t len)
{
	static const int64_t ts[] = {INT64_MIN, -1, 0, 1774746000, 1792890000, INT64_MAX};
	struct tz *z = NULL;
	char *cause = NULL;

	if (tz_parse(buf, len, "Fuzz", &z, &cause) < 0) {
		assert_non_null(cause);
		free(cause);
		return;
	}
	for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
		int32_t o = tz_offset(z, ts[i]);

		assert_true(o > -26 * HOUR && o < 26 * HOUR);
		(void)tz_local_to_utc(z, ts[i]);
	}
	tz_free(z);
}

static void
test_truncated(void **state)
{
	static const char *const files[] = {"Europe/Berlin", "Asia/Kolkata", "UTC", "America/Nuuk"};

	(void)state;
	for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
		size_t len;
		unsigned char *buf = slurp(files[f], &len);

		for (size_t n = 0; n < len; n++) {
			/* A copy of exactly n bytes, so ASan sees any read past them. */
			unsigned char *cut = malloc(n > 0 ? n : 1);
			struct tz *z = NULL;
			char *cause = NULL;

			memcpy(cut, buf, n);
			assert_int_equal(tz_parse(cut, n, files[f], &z, &cause), -1);
			assert_non_null(cause);
			free(cause);
			free(cut);
		}
		exercise(buf, len);
		free(buf);
	}
}

static uint32_t
get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void
test_header_counts(void **state)
{
	size_t len, second;
	unsigned char *orig = slurp("Europe/Berlin", &len);
	unsigned char *buf = malloc(len);
	struct tz *z = NULL;
	char *cause = NULL;

	(void)state;
	/* The version 2 header follows the version 1 block, whose size the first header gives. */
	second = 44 + get_be32(orig + 20) + get_be32(orig + 24) + 8 * (size_t)get_be32(orig + 28) +
		 5 * (size_t)get_be32(orig + 32) + 6 * (size_t)get_be32(orig + 36) +
		 get_be32(orig + 40);
	assert_memory_equal(orig + second, "TZif", 4);
	for (int h = 0; h < 2; h++) {
		for (size_t field = 20; field < 44; field += 4) {
			size_t at = (h ? second : 0) + field;
			uint32_t was = get_be32(orig + at);
			const uint32_t values[] = {0,          1,       2,          255,
						   256,        257,     9999,       10000,
						   10001,      65535,   0x7fffffff, 0x80000000,
						   0xffffffff, was - 1, was + 1,    was * 2};

			for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
				memcpy(buf, orig, len);
				put_be32(buf + at, values[v]);
				exercise(buf, len);
			}
		}
	}
	memcpy(buf, orig, len);
	put_be32(buf + second + 32, 10001);
	assert_int_equal(tz_parse(buf, len, "Big", &z, &cause), -1);
	assert_string_equal(cause, "time zone 'Big': too many transitions");
	FREE_NULL(&cause);
	memcpy(buf, orig, len);
	put_be32(buf + second + 36, 257);
	assert_int_equal(tz_parse(buf, len, "Big", &z, &cause), -1);
	FREE_NULL(&cause);
	free(buf);
	free(orig);
}

/* Deterministic random damage: flipped bits and bytes anywhere in real files. */
static void
test_mutations(void **state)
{
	static const char *const files[] = {"Europe/Berlin", "America/New_York", "Pacific/Chatham"};
	uint64_t rng = 0x9e3779b97f4a7c15ULL;

	(void)state;
	for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
		size_t len;
		unsigned char *orig = slurp(files[f], &len);
		unsigned char *buf = malloc(len);

		for (int round = 0; round < 4000; round++) {
			memcpy(buf, orig, len);
			for (int k = 0; k < 1 + round % 4; k++) {
				rng ^= rng << 13;
				rng ^= rng >> 7;
				rng ^= rng << 17;
				buf[rng % len] ^= (unsigned char)(1u << (rng >> 32) % 8);
				if (round % 3 == 0)
					buf[(rng >> 20) % len] = (unsigned char)(rng >> 40);
			}
			exercise(buf, len);
		}
		free(buf);
		free(orig);
	}
}

static void
test_bad_footers(void **state)
{
	static const char *const bad[] = {
	    "junk",
	    "EST",
	    "ES5",
	    "EST5ED",
	    "<AB>5",
	    "<ABC5",
	    "<A.C>5",
	    "EST25",
	    "EST5:60",
	    "EST5EDT,M3.2.0",
	    "EST5EDT,M13.2.0,M11.1.0",
	    "EST5EDT,M3.6.0,M11.1.0",
	    "EST5EDT,M3.2.7,M11.1.0",
	    "EST5EDT,M0.2.0,M11.1.0",
	    "EST5EDT,J0,J365",
	    "EST5EDT,J1,J366",
	    "EST5EDT,0,366",
	    "EST5EDT,M3.2.0/168,M11.1.0",
	    "EST5EDT,M3.2.0/-168,M11.1.0",
	    "EST5EDT,M3.2.0,M11.1.0x",
	    "EST5EDT,M3.2.0,M11.1.0,",
	    "EST5EDT;M3.2.0,M11.1.0",
	    "EST5EDT,M3.2.0,M11.1.0/0001",
	    "EST 5",
	};
	unsigned char buf[BUF_MAX];
	int32_t type0 = 0;
	char longest[300];

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct spec s = {'2', 0, NULL, NULL, 1, &type0, bad[i]};
		size_t n = build(&s, buf);
		struct tz *z = NULL;
		char *cause = NULL;

		if (tz_parse(buf, n, "F", &z, &cause) == 0)
			fail_msg("footer '%s' accepted", bad[i]);
		assert_string_equal(cause, "time zone 'F': bad TZ string footer");
		free(cause);
	}
	/* Too long, no footer at all, an unterminated one, and a NUL inside. */
	memset(longest, 'A', sizeof longest - 1);
	longest[sizeof longest - 1] = '\0';
	{
		struct spec s = {'2', 0, NULL, NULL, 1, &type0, longest};
		struct spec none = {'3', 0, NULL, NULL, 1, &type0, NULL};
		struct spec nul = {'2', 0, NULL, NULL, 1, &type0, "EST5EDT,M3.2.0,M11.1.0"};
		size_t n = build(&s, buf);
		struct tz *z = NULL;
		char *cause = NULL;

		assert_int_equal(tz_parse(buf, n, "F", &z, &cause), -1);
		FREE_NULL(&cause);
		n = build(&none, buf);
		assert_int_equal(tz_parse(buf, n, "F", &z, &cause), -1);
		FREE_NULL(&cause);
		n = build(&nul, buf);
		assert_int_equal(tz_parse(buf, n - 1, "F", &z, &cause), -1);
		FREE_NULL(&cause);
		buf[n - 5] = '\0';
		assert_int_equal(tz_parse(buf, n, "F", &z, &cause), -1);
		FREE_NULL(&cause);
	}
}

static void
test_good_footers(void **state)
{
	static const struct {
		const char *footer;
		int32_t winter, summer; /* in January and in July 2030 */
	} cases[] = {
	    {"", 777, 777},
	    {"UTC0", 0, 0},
	    {"<+14>-14", 14 * HOUR, 14 * HOUR},
	    {"<-0930>9:30", -(9 * HOUR + 1800), -(9 * HOUR + 1800)},
	    {"EST+5EDT", -5 * HOUR, -4 * HOUR},
	    {"AEST-10AEDT,M10.1.0,M4.1.0/3", 11 * HOUR, 10 * HOUR},
	    {"IST-1GMT0,M10.5.0,M3.5.0/1", 0, HOUR},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct tz *z = footer_zone(cases[i].footer, 777);

		assert_int_equal(tz_offset(z, timefmt_from_civil(2030, 1, 15, 0, 0, 0)),
				 cases[i].winter);
		assert_int_equal(tz_offset(z, timefmt_from_civil(2030, 7, 15, 0, 0, 0)),
				 cases[i].summer);
		tz_free(z);
	}
}

static int
teardown(void **state)
{
	(void)state;
	unsetenv("TZ");
	tzset();
	print_message("%ld instants compared with glibc in all\n", instants);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_zones_match_glibc),
	    cmocka_unit_test(test_footers_match_glibc),
	    cmocka_unit_test(test_tz_strings_match_glibc),
	    cmocka_unit_test(test_footer_only_file),
	    cmocka_unit_test(test_dst_all_year),
	    cmocka_unit_test(test_rule_year_boundary),
	    cmocka_unit_test(test_transitions_table),
	    cmocka_unit_test(test_local_to_utc_berlin),
	    cmocka_unit_test(test_local_to_utc_elsewhere),
	    cmocka_unit_test(test_local_to_utc_round_trip),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_files),
	    cmocka_unit_test(test_utc),
	    cmocka_unit_test(test_refs),
	    cmocka_unit_test(test_extreme_times),
	    cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_header_counts),
	    cmocka_unit_test(test_mutations),
	    cmocka_unit_test(test_bad_footers),
	    cmocka_unit_test(test_good_footers),
	};

	return cmocka_run_group_tests(tests, NULL, teardown);
}
