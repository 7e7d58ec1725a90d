/*
 * Fuzz target for the times, durations and rates given on the command line
 * (cmd/args.c, core/timefmt.c): each input is one argument word (cut at a
 * NUL, as argv is) read as ARGS_TIME does in its three senses (args_time:
 * ISO 8601, "now", a signed or unsigned duration from now), as
 * ARGS_DURATION and ARGS_WAIT do (timefmt_duration), as ARGS_RATE does
 * (args_rate), and as a percentage.  What reads must write back to what
 * reads the same.
 */
#include "tests/fuzz/fuzz.h"

#include "cmd/args.h"
#include "core/timefmt.h"
#include "core/xalloc.h"

#include <stdlib.h>
#include <string.h>

/* A fixed now, 2024-10-02T21:00:00Z, so every input reads the same each time. */
#define NOW INT64_C(1727902800000)
#define DURATION_MAX (100LL * 366 * 86400) /* timefmt.c's bound */

static void
times(const char *s)
{
	static const enum args_since senses[] = {ARGS_AHEAD, ARGS_AGO, ARGS_EITHER};
	char buf[TIMEFMT_MAX];
	int64_t ms, again;

	for (size_t i = 0; i < sizeof senses / sizeof senses[0]; i++)
		if (args_time(s, NOW, senses[i], &ms) == 0 &&
		    (ms < NOW - DURATION_MAX * 1000 - 1 ||
		     ms > INT64_C(253402300800000) + DURATION_MAX * 1000))
			abort();
	if (timefmt_parse(s, &ms) == 0) {
		/* Offsets reach a day either side of the years 1970..9999. */
		if (ms < -INT64_C(86400000) || ms > INT64_C(253402387200000))
			abort();
		timefmt_mode(ms, buf);
		if (timefmt_parse(buf, &again) == 0 && again != ms)
			abort();
		timefmt_minute(ms, buf);
	}
}

static void
durations(const char *s)
{
	char buf[TIMEFMT_MAX];
	int64_t secs, again;
	int pct;

	if (timefmt_duration(s, &secs) == 0) {
		if (secs <= 0 || secs > DURATION_MAX)
			abort();
		timefmt_duration_str(secs, buf);
		if (timefmt_duration(buf, &again) < 0 || again != secs)
			abort();
		timefmt_age_str(secs, buf);
	}
	if (timefmt_percent(s, &pct) == 0 && (pct < 1 || pct > 99))
		abort();
}

static void
rate(const char *s)
{
	long n = 0, secs = 0;

	if (args_rate(s, &n, &secs) == 0 && (n < 1 || n > 100000 || secs < 1 || secs > 3600))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A block of the word's size with its NUL, so ASan sees a read past it. */
	size_t len = strnlen((const char *)data, size);
	char *s = xmalloc(len + 1);

	memcpy(s, data, len);
	s[len] = '\0';
	times(s);
	durations(s);
	rate(s);
	free(s);
	return 0;
}
