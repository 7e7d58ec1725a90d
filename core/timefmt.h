/*
 * Times and durations as Mode and the policy file write them.  Times are
 * milliseconds since the Unix epoch, UTC; nothing here reads the local time
 * zone or the clock.
 */
#ifndef TW_TIMEFMT_H
#define TW_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Big enough for every string timefmt_* writes, with its NUL. */
#define TIMEFMT_MAX 32

/*
 * Parses an ISO 8601 date-time: YYYY-MM-DDTHH:MM[:SS[.f...]] followed by Z,
 * +HH:MM, +HHMM or +HH (or -).  Year 1970..9999.  Returns 0 and sets *ms, or
 * -1 when s is not such a time (nothing is written then).
 */
int timefmt_parse(const char *s, int64_t *ms);

/* Writes ms as Mode writes datetimes: 2020-07-02T21:01:17.181Z. */
void timefmt_mode(int64_t ms, char buf[TIMEFMT_MAX]);

/* Writes ms to the minute, as Mode documents expires_at: 2024-10-02T21:00Z. */
void timefmt_minute(int64_t ms, char buf[TIMEFMT_MAX]);

/*
 * Parses a duration: one or more groups of a positive integer and a unit
 * (w, d, h, m, s), largest unit first, each unit at most once: 90d, 12h,
 * 1d12h, 45s.  Returns 0 and sets *secs (> 0), -2 for one longer than a
 * hundred years (TIMEFMT_DURATION_MAX_TEXT), or -1.
 */
#define TIMEFMT_DURATION_MAX_TEXT "a hundred years"
int timefmt_duration(const char *s, int64_t *secs);

/* Writes secs in the shortest form timefmt_duration reads back: 1d12h. */
void timefmt_duration_str(int64_t secs, char buf[TIMEFMT_MAX]);

/*
 * Writes secs for a person, in its largest two units (truncated): 3d 4h,
 * 11mo 2d, 99y 11mo, 45s.  A year is 365 days and a month a twelfth of it.
 */
void timefmt_age_str(int64_t secs, char buf[TIMEFMT_MAX]);

/*
 * Writes a span of secs from now for a person, as timefmt_age_str in its
 * largest two units: "in 3d 4h" ahead (secs > 0), "2h 5m ago" behind, and
 * "now" within a second.
 */
void timefmt_relative(int64_t secs, char buf[TIMEFMT_MAX]);

/* Parses a percentage of 1..99 written as an integer and %: 20%.  Returns 0 and sets *pct, or -1.
 */
int timefmt_percent(const char *s, int *pct);

/* Converts a civil UTC date and time to seconds since the epoch. */
int64_t timefmt_from_civil(int year, int month, int day, int hour, int min, int sec);

#endif
