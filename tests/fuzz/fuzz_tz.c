/*
 * Fuzz target for TZif parsing (core/tz.c): the header and data blocks, the
 * POSIX TZ footer, and then offsets and local-to-UTC conversions around
 * every transition and far past the last one, where the footer's rule
 * applies.
 */
#include "tests/fuzz/fuzz.h"

#include "core/tz.h"

#include <stdint.h>
#include <stdlib.h>

/* RFC 8536's bound on a UT offset, 25:59:59; tz.c enforces it for types and footers. */
#define UTOFF_MAX 93599
#define PROBES 16

/* Instants that reach every branch of tz_offset and the rule's year arithmetic. */
static const int64_t fixed[] = {
    INT64_MIN,
    INT64_MIN / 2,
    -INT64_C(2208988800), /* 1900 */
    -1,
    0,
    INT64_C(1711846800),   /* 2024-03-31T01:00Z, Berlin springs forward */
    INT64_C(1730595600),   /* 2024-11-03T01:00Z, New York falls back */
    INT64_C(4102444800),   /* 2100 */
    INT64_C(253402300799), /* 9999-12-31 */
    INT64_MAX / 2,
    INT64_MAX,
};

static void
check(const struct tz *z, int64_t t)
{
	int32_t off = tz_offset(z, t);

	if (off < -UTOFF_MAX || off > UTOFF_MAX)
		abort();
	(void)tz_local_to_utc(z, t);
	/* t's own local time, the round trip the planner makes */
	if ((off > 0 && t <= INT64_MAX - off) || (off <= 0 && t >= INT64_MIN - off))
		(void)tz_local_to_utc(z, t + off);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tz *z = NULL;
	char *cause = NULL;
	int64_t t = 0;

	if (tz_parse(data, size, "fuzz", &z, &cause) < 0) {
		free(cause);
		return 0;
	}
	(void)tz_name(z);
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		check(z, fixed[i]);
	/* Walk from the epoch in steps of about four months: a DST rule changes within them. */
	for (int i = 0; i < PROBES; i++) {
		check(z, t);
		check(z, -t);
		t += INT64_C(10368000) + i * 3607;
	}
	tz_free(z);
	return 0;
}
