/*
 * Rotation windows (policies/policy.h's struct policy_window) in time:
 * whether one is open at an instant and when it next opens.  Pure: the
 * zone's rules were read when the policy was loaded.  Times are seconds
 * since the epoch, UTC.
 */
#ifndef TW_WINDOW_H
#define TW_WINDOW_H

#include "policies/policy.h"

#include <stdint.h>

/* Returns 1 when w is open at t; a NULL window is always open. */
int window_is_open(const struct policy_window *w, int64_t t);

/* Returns the first instant at or after t when w is open, or INT64_MAX when it never opens. */
int64_t window_next_open(const struct policy_window *w, int64_t t);

/*
 * Returns the longest stretch in seconds that w stays closed, measured on
 * the local clock over a week (0 when always open, -1 when never open).
 */
int64_t window_longest_gap(const struct policy_window *w);

#endif
