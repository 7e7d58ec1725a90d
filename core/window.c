/* Rotation windows; see window.h. */
#include "core/window.h"

#include "core/tz.h"

#include <stdlib.h>
#include <string.h>

#define DAY 86400
#define WEEK_MINUTES (7 * 1440)

/* Floor division, for times before the epoch. */
static int64_t
floordiv(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Monday 0 .. Sunday 6 of day number d (days since 1970-01-01, a Thursday). */
static int
weekday(int64_t d)
{
	return (int)(((d + 3) % 7 + 7) % 7);
}

static int
day_on(const struct policy_window *w, int64_t d)
{
	return (w->days & (1u << weekday(d))) != 0;
}

int
window_is_open(const struct policy_window *w, int64_t t)
{
	int64_t local, d, s;

	if (w == NULL)
		return 1;
	local = t + (w->tz != NULL ? tz_offset(w->tz, t) : 0);
	d = floordiv(local, DAY);
	s = local - d * DAY;
	for (size_t i = 0; i < w->nspans; i++) {
		int64_t a = (int64_t)w->spans[i].start * 60, b = (int64_t)w->spans[i].end * 60;

		if (a < b) {
			if (day_on(w, d) && s >= a && s < b)
				return 1;
		} else if ((day_on(w, d) && s >= a) || (day_on(w, d - 1) && s < b))
			return 1;
	}
	return 0;
}

static int64_t
to_utc(const struct policy_window *w, int64_t local)
{
	return w->tz != NULL ? tz_local_to_utc(w->tz, local) : local;
}

int64_t
window_next_open(const struct policy_window *w, int64_t t)
{
	int64_t best = INT64_MAX, d0;

	if (window_is_open(w, t))
		return t;
	d0 = floordiv(t + (w->tz != NULL ? tz_offset(w->tz, t) : 0), DAY);
	/* Every opening starts a span on some day; a week and a day covers them all. */
	for (int64_t d = d0 - 1; d <= d0 + 8; d++) {
		if (!day_on(w, d))
			continue;
		for (size_t i = 0; i < w->nspans; i++) {
			int64_t at = to_utc(w, d * DAY + (int64_t)w->spans[i].start * 60);

			if (at >= t && at < best && window_is_open(w, at))
				best = at;
		}
	}
	return best;
}

/* An open stretch of the week, in minutes from Monday 00:00: [start, end). */
struct stretch {
	int start, end;
};

static int
by_start(const void *a, const void *b)
{
	const struct stretch *x = a, *y = b;

	return (x->start > y->start) - (x->start < y->start);
}

/*
 * From the open stretches, sorted and merged: the longest closed run
 * between them, over the end of the week too.  A handful of intervals
 * rather than a mark per minute: a policy may hold a thousand windows.
 */
int64_t
window_longest_gap(const struct policy_window *w)
{
	struct stretch s[2 * 7 * POLICY_MAX_SPANS];
	size_t n = 0;
	int longest = 0, end;

	if (w == NULL)
		return 0;
	for (int day = 0; day < 7; day++) {
		if ((w->days & (1u << day)) == 0)
			continue;
		for (size_t i = 0; i < w->nspans && i < POLICY_MAX_SPANS; i++) {
			int a = w->spans[i].start, b = w->spans[i].end;
			int start = day * 1440 + a, len = a < b ? b - a : 1440 - a + b;

			/* One past the week's end wraps to its start: two stretches. */
			s[n++] = (struct stretch){start, start + len < WEEK_MINUTES ? start + len
										    : WEEK_MINUTES};
			if (start + len > WEEK_MINUTES)
				s[n++] = (struct stretch){0, start + len - WEEK_MINUTES};
		}
	}
	if (n == 0)
		return -1;
	qsort(s, n, sizeof *s, by_start);
	end = s[0].end;
	for (size_t i = 1; i < n; i++) {
		if (s[i].start - end > longest)
			longest = s[i].start - end;
		if (s[i].end > end)
			end = s[i].end;
	}
	/* Past the last stretch, round to the first. */
	if (s[0].start + WEEK_MINUTES - end > longest)
		longest = s[0].start + WEEK_MINUTES - end;
	return (int64_t)longest * 60;
}
