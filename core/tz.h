/*
 * Named time zones for the planner, from the tz database's TZif files
 * (RFC 8536), without localtime() or $TZ.  A loaded zone is immutable, so
 * lookups are pure functions, safe from any thread, and do no I/O.  Leap
 * seconds are not modelled: times are POSIX seconds since the epoch.
 */
#ifndef TW_TZ_H
#define TW_TZ_H

#include <stddef.h>
#include <stdint.h>

/* Where tz_load looks when dir is NULL.  The environment ($TZDIR) is never read. */
#define TZ_DIR_DEFAULT "/usr/share/zoneinfo"
/* Longest zone name tz_load accepts. */
#define TZ_NAME_MAX 64

struct tz;

/*
 * Loads zone `name` ("UTC", "Europe/Berlin") from the TZif file dir/name (dir
 * NULL: TZ_DIR_DEFAULT).  Names must be 1..TZ_NAME_MAX characters of
 * [A-Za-z0-9_+-/], relative, without empty or "." / ".." components.  When
 * the file is missing and name is "UTC", returns the built-in tz_utc().
 * Returns 0 and *out (free with tz_free), or -1 with an allocated *cause
 * naming the zone and what is wrong.
 */
int tz_load(const char *dir, const char *name, struct tz **out, char **cause);

/* Returns the built-in UTC zone; never fails.  tz_free on it does nothing. */
struct tz *tz_utc(void);

/*
 * Parses TZif data (versions 1 to 4) of len bytes; name is copied and only
 * labels the zone.  Every count is checked against len; files with leap
 * seconds, more than 10000 transitions or 256 types are refused.  Returns 0
 * and *out (free with tz_free), or -1 with an allocated *cause.
 */
int tz_parse(const unsigned char *buf, size_t len, const char *name, struct tz **out, char **cause);

/* Returns the zone's name as given to tz_load or tz_parse; valid until tz_free. */
const char *tz_name(const struct tz *z);

/*
 * Returns the UTC offset in seconds (east positive) in force at utc_secs.
 * Before the first transition that is time type 0's; after the last, the
 * footer's POSIX TZ rule's (or the last type's when there is none).
 */
int32_t tz_offset(const struct tz *z, int64_t utc_secs);

/*
 * Converts local wall-clock seconds (the local date and time counted as if
 * they were UTC) to UTC seconds.  In an overlap (clocks set back) returns the
 * earlier instant.  In a gap (clocks set forward) the local time is read with
 * the offset in force before the gap, which gives the instant as far after
 * the transition as the local time is after the gap's start (Berlin 02:30 on
 * the spring-forward day is 01:30Z, shown as 03:30).  Saturates at the
 * int64_t range.
 */
int64_t tz_local_to_utc(const struct tz *z, int64_t local_secs);

/*
 * Returns z with one more holder, so that one loaded zone can serve many
 * users (a policy's windows): each holder calls tz_free once.  The count is
 * not atomic: take and drop a zone's references in one thread at a time.
 * NULL and tz_utc() are returned as they are.
 */
struct tz *tz_ref(struct tz *z);

/* Drops one holder of z, freeing it with the last; NULL and tz_utc() are allowed. */
void tz_free(struct tz *z);

#endif
