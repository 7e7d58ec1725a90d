/*
 * Client-side pacing for one credential, so a run never draws a 429: at most
 * `limit` requests in any `window`, measured from when each request was sent,
 * plus a safety margin for network jitter.  Pure arithmetic over times the
 * caller passes in (milliseconds, any monotonic origin), so it is tested
 * without sleeping.  Not thread-safe: one limiter per credential and worker.
 */
#ifndef TW_RATELIMIT_H
#define TW_RATELIMIT_H

#include <stdint.h>

struct ratelimit {
	int limit;          /* requests allowed per window */
	int64_t window_ms;  /* the server's window */
	int64_t margin_ms;  /* added to the window to absorb latency jitter */
	int64_t *sent;      /* ring of the last `limit` send times */
	int count;          /* entries in use, <= limit */
	int head;           /* index of the oldest entry */
	int64_t hold_until; /* no request before this (Retry-After) */
};

/* Sets up rl for limit requests per window_ms (both > 0). */
void ratelimit_init(struct ratelimit *rl, int limit, int64_t window_ms);
/* Releases rl's memory. */
void ratelimit_free(struct ratelimit *rl);

/* Returns how many milliseconds to wait at now before the next request may be sent (0: now). */
int64_t ratelimit_wait(const struct ratelimit *rl, int64_t now);
/* Records a request sent at now. */
void ratelimit_sent(struct ratelimit *rl, int64_t now);

/*
 * Folds in the server's X-RateLimit-Limit and X-RateLimit-Remaining headers
 * seen at now (-1 when absent): a lower limit is adopted, and when the server
 * reports fewer requests left than the log explains (another client shares
 * the user name), the difference is recorded as sent at now.
 */
void ratelimit_observe(struct ratelimit *rl, int64_t now, long limit, long remaining);

/* Holds every request until now + secs (a 429's Retry-After). */
void ratelimit_hold(struct ratelimit *rl, int64_t now, int64_t secs);

#endif
