/*
 * Mode's rate limit: at most `limit` requests per `window` seconds per user
 * name, as a sliding log of request times on the real monotonic clock (the
 * simulated clock can jump days; the limit is about wall time).  Not
 * thread-safe: callers hold the simulator's lock.
 */
#ifndef MODESIM_SIM_LIMIT_H
#define MODESIM_SIM_LIMIT_H

#include <stdint.h>

struct sim_limit;

/* Returns a limiter allowing limit requests per window_s seconds (both > 0). */
struct sim_limit *sim_limit_new(int64_t limit, int64_t window_s);
void sim_limit_free(struct sim_limit *l);

/* Changes the limit and window and forgets every user's log. */
void sim_limit_set(struct sim_limit *l, int64_t limit, int64_t window_s);

/* Forgets every user's log, keeping the limit. */
void sim_limit_forget(struct sim_limit *l);

int64_t sim_limit_limit(const struct sim_limit *l);
int64_t sim_limit_window(const struct sim_limit *l);

/*
 * Takes a slot for user at now_ms (monotonic).  Returns 0 and the slots left
 * in *remaining; or -1 when the user is throttled, setting *remaining to 0
 * and *retry_after to the whole seconds until a slot frees (at least 1).  A
 * refused request takes no slot.
 */
int sim_limit_take(struct sim_limit *l, const char *user, int64_t now_ms, int64_t *remaining,
		   int64_t *retry_after);

/* Returns the slots user has left at now_ms without taking one. */
int64_t sim_limit_peek(struct sim_limit *l, const char *user, int64_t now_ms);

/* Returns the monotonic clock in milliseconds. */
int64_t sim_limit_clock(void);

#endif
