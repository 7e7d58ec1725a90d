/* ISO 8601 times and human durations, parsed strictly and written exactly. */
#include "core/timefmt.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Reads exactly n digits at *p into *out and advances *p. */
static int
digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int y, int m)
{
	static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

/* Howard Hinnant's days_from_civil: days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int *year, int *month, int *day)
{
	int64_t era, doe, yoe, doy, mp, y;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*day = (int)(doy - (153 * mp + 2) / 5 + 1);
	*month = (int)(mp < 10 ? mp + 3 : mp - 9);
	*year = (int)(y + (*month <= 2));
}

int64_t
timefmt_from_civil(int year, int month, int day, int hour, int min, int sec)
{
	return days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec;
}

/* Parses Z, +HH:MM, +HHMM or +HH at p into an offset in seconds east of UTC. */
static int
parse_offset(const char *p, int *offset)
{
	int sign, hh, mm = 0;

	if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0') {
		*offset = 0;
		return 0;
	}
	if (*p != '+' && *p != '-')
		return -1;
	sign = *p++ == '-' ? -1 : 1;
	if (digits(&p, 2, &hh) < 0)
		return -1;
	if (*p == ':')
		p++;
	if (*p != '\0' && digits(&p, 2, &mm) < 0)
		return -1;
	if (*p != '\0' || hh > 23 || mm > 59)
		return -1;
	*offset = sign * (hh * 3600 + mm * 60);
	return 0;
}

int
timefmt_parse(const char *s, int64_t *ms)
{
	const char *p = s;
	int y, mo, d, h, mi, sec = 0, frac = 0, offset;

	if (digits(&p, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, &mo) < 0 || *p++ != '-' ||
	    digits(&p, 2, &d) < 0 || (*p != 'T' && *p != 't'))
		return -1;
	p++;
	if (digits(&p, 2, &h) < 0 || *p++ != ':' || digits(&p, 2, &mi) < 0)
		return -1;
	if (*p == ':') {
		p++;
		if (digits(&p, 2, &sec) < 0)
			return -1;
		if (*p == '.' || *p == ',') {
			int scale = 100, n = 0;

			p++;
			while (isdigit((unsigned char)*p)) {
				frac += (*p - '0') * scale;
				scale /= 10;
				p++;
				n++;
			}
			if (n == 0 || n > 9)
				return -1;
		}
	}
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
	    mi > 59 || sec > 59)
		return -1;
	if (parse_offset(p, &offset) < 0)
		return -1;
	*ms = (timefmt_from_civil(y, mo, d, h, mi, sec) - offset) * 1000 + frac;
	return 0;
}

static void
split(int64_t ms, int f[7])
{
	int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
	int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
	int64_t rem = secs - days * 86400;

	civil_from_days(days, &f[0], &f[1], &f[2]);
	f[3] = (int)(rem / 3600);
	f[4] = (int)(rem / 60 % 60);
	f[5] = (int)(rem % 60);
	f[6] = (int)(ms - secs * 1000);
}

/* Writes v as n decimal digits at p (v in [0, 10^n)). */
static void
put_digits(char *p, int v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* Writes v (0 to 9999) in decimal and its unit (at most 2 letters) at p; returns the length. */
static size_t
put_number(char *p, int v, const char *unit)
{
	size_t n = v >= 1000 ? 4 : v >= 100 ? 3 : v >= 10 ? 2 : 1;

	put_digits(p, v, (int)n);
	while (*unit != '\0')
		p[n++] = *unit++;
	return n;
}

void
timefmt_mode(int64_t ms, char buf[TIMEFMT_MAX])
{
	int f[7];

	split(ms, f);
	/* The common case by hand: reports format a time per cell, and snprintf dominated. */
	if (f[0] >= 0 && f[0] <= 9999) {
		memcpy(buf, "0000-00-00T00:00:00.000Z", sizeof "0000-00-00T00:00:00.000Z");
		put_digits(buf, f[0], 4);
		put_digits(buf + 5, f[1], 2);
		put_digits(buf + 8, f[2], 2);
		put_digits(buf + 11, f[3], 2);
		put_digits(buf + 14, f[4], 2);
		put_digits(buf + 17, f[5], 2);
		put_digits(buf + 20, f[6], 3);
		return;
	}
	/* Years past 9999 do not fit; no caller makes them, but say so rather than cut. */
	if (snprintf(buf, TIMEFMT_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", f[0], f[1], f[2],
		     f[3], f[4], f[5], f[6]) >= TIMEFMT_MAX)
		snprintf(buf, TIMEFMT_MAX, "out-of-range");
}

void
timefmt_minute(int64_t ms, char buf[TIMEFMT_MAX])
{
	int f[7];

	split(ms, f);
	if (f[0] >= 0 && f[0] <= 9999) {
		memcpy(buf, "0000-00-00T00:00Z", sizeof "0000-00-00T00:00Z");
		put_digits(buf, f[0], 4);
		put_digits(buf + 5, f[1], 2);
		put_digits(buf + 8, f[2], 2);
		put_digits(buf + 11, f[3], 2);
		put_digits(buf + 14, f[4], 2);
		return;
	}
	if (snprintf(buf, TIMEFMT_MAX, "%04d-%02d-%02dT%02d:%02dZ", f[0], f[1], f[2], f[3], f[4]) >=
	    TIMEFMT_MAX)
		snprintf(buf, TIMEFMT_MAX, "out-of-range");
}

static const struct {
	char unit;
	int64_t secs;
} units[] = {{'w', 604800}, {'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};

#define NUNITS (sizeof units / sizeof units[0])
/* A hundred years: anything longer is a typo, and sums stay far from overflow. */
#define DURATION_MAX (100LL * 366 * 86400)

int
timefmt_duration(const char *s, int64_t *secs)
{
	const char *p = s;
	int64_t total = 0;
	size_t next = 0;
	int big = 0;

	if (*p == '\0')
		return -1;
	while (*p != '\0') {
		int64_t v = 0;
		size_t u;

		if (!isdigit((unsigned char)*p))
			return -1;
		/* Read on past the bound, which stays far from overflow, to tell a typo. */
		while (isdigit((unsigned char)*p)) {
			v = v * 10 + (*p++ - '0');
			if (v > DURATION_MAX) {
				v = DURATION_MAX + 1;
				big = 1;
			}
		}
		for (u = next; u < NUNITS && units[u].unit != *p; u++)
			;
		if (u == NUNITS)
			return -1;
		total += v * units[u].secs;
		if (total > DURATION_MAX) {
			total = DURATION_MAX + 1;
			big = 1;
		}
		next = u + 1;
		p++;
	}
	if (big)
		return -2;
	if (total <= 0)
		return -1;
	*secs = total;
	return 0;
}

void
timefmt_duration_str(int64_t secs, char buf[TIMEFMT_MAX])
{
	size_t off = 0;

	buf[0] = '\0';
	if (secs <= 0) {
		snprintf(buf, TIMEFMT_MAX, "0s");
		return;
	}
	/*
	 * Weeks are skipped: 14d reads better than 2w in a policy dump.  Digits
	 * are written by hand, as a large policy's messages hold thousands of
	 * durations; even INT64_MAX seconds (15 digits of days) fits the buffer.
	 */
	for (size_t u = 1; u < NUNITS; u++) {
		int64_t v = secs / units[u].secs;
		char digits[20];
		size_t nd = 0;

		if (v == 0)
			continue;
		secs -= v * units[u].secs;
		for (; v > 0; v /= 10)
			digits[nd++] = (char)('0' + v % 10);
		if (off + nd + 2 > TIMEFMT_MAX)
			break;
		while (nd > 0)
			buf[off++] = digits[--nd];
		buf[off++] = units[u].unit;
		buf[off] = '\0';
	}
}

void
timefmt_age_str(int64_t secs, char buf[TIMEFMT_MAX])
{
	static const struct {
		const char *unit;
		int64_t secs;
	} ages[] = {{"y", 365 * 86400}, {"mo", 365 * 86400 / 12},
		    {"d", 86400},       {"h", 3600},
		    {"m", 60},          {"s", 1}};
	size_t n = sizeof ages / sizeof ages[0], u = 0, len;
	int whole, part;

	/* Ten thousand years is past any token's life, and keeps the text short. */
	if (secs < 0)
		secs = 0;
	if (secs > 9999 * ages[0].secs)
		secs = 9999 * ages[0].secs;
	while (u + 1 < n && secs < ages[u].secs)
		u++;
	whole = (int)(secs / ages[u].secs);
	part = u + 1 < n ? (int)(secs % ages[u].secs / ages[u + 1].secs) : 0;
	/* By hand, as timefmt_duration_str: a large plan's findings hold thousands. */
	len = put_number(buf, whole, ages[u].unit);
	if (part != 0) {
		buf[len++] = ' ';
		len += put_number(buf + len, part, ages[u + 1].unit);
	}
	buf[len] = '\0';
}

void
timefmt_relative(int64_t secs, char buf[TIMEFMT_MAX])
{
	char span[TIMEFMT_MAX];
	int n;

	if (secs == 0) {
		snprintf(buf, TIMEFMT_MAX, "now");
		return;
	}
	/* INT64_MIN has no positive twin; it is past any age anyway. */
	timefmt_age_str(secs > 0 ? secs : secs == INT64_MIN ? INT64_MAX : -secs, span);
	/* At most "9999y 11mo" and 4 more: never truncated, but checked. */
	n = secs > 0 ? snprintf(buf, TIMEFMT_MAX, "in %s", span)
		     : snprintf(buf, TIMEFMT_MAX, "%s ago", span);
	if (n < 0 || n >= TIMEFMT_MAX)
		snprintf(buf, TIMEFMT_MAX, "%s", secs > 0 ? "later" : "long ago");
}

int
timefmt_percent(const char *s, int *pct)
{
	const char *p = s;
	int v = 0, n = 0;

	while (isdigit((unsigned char)*p) && n < 3) {
		v = v * 10 + (*p++ - '0');
		n++;
	}
	if (n == 0 || strcmp(p, "%") != 0 || v < 1 || v > 99)
		return -1;
	*pct = v;
	return 0;
}
