/*
 * The two clocks tokenwarden reads.  In a build with the test hooks, wall
 * time can be set with TOKENWARDEN_NOW (an ISO 8601 time), as the
 * simulator's clock is set: it starts there when first read and runs on at
 * real speed, as the simulator's does, so that the two stay together
 * through a long run.  An installed binary ignores it.
 */
#ifndef TW_CLOCK_H
#define TW_CLOCK_H

#include <stdint.h>

/* Milliseconds since the epoch: with the test hooks, from TOKENWARDEN_NOW when set and valid. */
int64_t clock_now_ms(void);
/* Milliseconds on a monotonic clock, for pacing and timeouts. */
int64_t clock_mono_ms(void);
/* Sleeps ms milliseconds (resumes after signals). */
void clock_sleep_ms(int64_t ms);

#endif
