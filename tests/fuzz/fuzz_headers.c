/*
 * Fuzz target for the headers of Mode's answers (core/mode.c, mode_clock.c,
 * ratelimit.c): the input is the header lines of one answer, after its
 * status line.  Each goes through libcurl's header callback, which reads
 * Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining and Date; then the
 * answer's end folds the limits into the rate limiter and keeps the clock,
 * as after every attempt, and the clock bound and a 429's hold are applied.
 * Every Date value is also parsed alone (mode_http_date), at any length,
 * and one that parses must come back the same from its IMF-fixdate.
 */
#include "tests/fuzz/fuzz.h"

#include "core/clock.h"
#include "core/mode_priv.h"
#include "core/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_SKEW_MS 60000
/* 10000-01-01T00:00Z: 9999-12-31T23:59:60, a leap second, is read as it. */
#define DATE_MS_MAX INT64_C(253402300800000)

/* Calls the header callback on a copy of the line in a block of its size, so ASan sees past it. */
static void
feed(struct mode_client *c, const char *p, size_t len)
{
	char *copy = xmalloc(len == 0 ? 1 : len);

	memcpy(copy, p, len);
	if (mode_header_cb(copy, 1, len, c) != len)
		abort();
	free(copy);
}

/* Parses a Date line's value on its own; a date read must survive a round trip. */
static void
date_alone(const char *p, size_t len)
{
	char *copy, again[64];
	int64_t ms, ms2;
	struct tm tm;
	time_t t;
	size_t n;

	if (len < 5 || strncasecmp(p, "Date:", 5) != 0)
		return;
	while (len > 5 && (p[len - 1] == '\r' || p[len - 1] == '\n'))
		len--;
	copy = xmalloc(len - 5 == 0 ? 1 : len - 5);
	memcpy(copy, p + 5, len - 5);
	if (mode_http_date(copy, len - 5, &ms) == 0) {
		if (ms < 0 || ms > DATE_MS_MAX || ms % 1000 != 0)
			abort();
		t = (time_t)(ms / 1000);
		if (gmtime_r(&t, &tm) == NULL)
			abort();
		n = strftime(again, sizeof again, "%a, %d %b %Y %H:%M:%S GMT", &tm);
		/* 10000-01-01 is past what a date may say. */
		if (tm.tm_year + 1900 <= 9999 &&
		    (n == 0 || mode_http_date(again, n, &ms2) < 0 || ms2 != ms))
			abort();
	}
	free(copy);
}

static struct mode_client *
client(void)
{
	static int ready;
	struct mode_opts o;
	struct mode_client *c;
	char *cause = NULL;

	if (!ready && mode_global_init() < 0)
		abort();
	ready = 1;
	mode_opts_default(&o);
	c = mode_client_new("http://127.0.0.1:9", "acme", NULL, &o, &cause);
	if (c == NULL)
		abort();
	return c;
}

/* The limiter's promises: a wait within one window (and a hold), a sane ring. */
static void
check_limiter(const struct ratelimit *rl, int64_t now, int64_t hold_ms)
{
	int64_t w = ratelimit_wait(rl, now);

	if (rl->limit < 1 || rl->count < 0 || rl->count > rl->limit || rl->head < 0 ||
	    rl->head >= rl->limit || w < 0 || w > rl->window_ms + rl->margin_ms + hold_ms)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct mode_client *c = client();
	char *cause = NULL;
	int64_t skew, now, hold = 0;
	long ra;

	mode_answer_start(c);
	feed(c, "HTTP/1.1 200 OK\r\n", 17);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl != NULL ? nl + 1 : end) - p);

		/* An empty line would end the headers early; libcurl passes none but the last. */
		if (!((len == 2 && p[0] == '\r') || len == 1)) {
			feed(c, p, len);
			date_alone(p, len);
		}
		p += len;
	}
	feed(c, "\r\n", 2);
	mode_answer_done(c, 1);

	if (c->clock.state != MODE_CLOCK_KNOWN && c->clock.state != MODE_CLOCK_NO_DATE &&
	    c->clock.state != MODE_CLOCK_BAD_DATE)
		abort();
	if (mode_last_skew(c, &skew) == 1 &&
	    (c->clock.server_ms < 0 || c->clock.server_ms > DATE_MS_MAX))
		abort();
	if (mode_clock_judge(&c->clock, MAX_SKEW_MS, "fuzz", &cause) != MODE_OK && cause == NULL)
		abort();
	free(cause);

	now = clock_mono_ms();
	check_limiter(c->rl, now, 0);
	ra = mode_retry_after(c);
	if (ra < 0 || (c->retry_after < 0 && (ra < 1 || ra > RETRY_AFTER_DAY)))
		abort();
	if (ra <= RETRY_AFTER_MAX) {
		ratelimit_hold(c->rl, now, ra);
		hold = ra * 1000;
	}
	check_limiter(c->rl, now, hold);
	/* Send up to the limit again: the ring stays whole. */
	for (int i = 0; i <= c->rl->limit; i++) {
		ratelimit_sent(c->rl, now);
		check_limiter(c->rl, now, hold);
	}
	mode_client_free(c);
	return 0;
}
