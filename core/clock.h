/*
 * The two clocks tokenwarden reads.  Wall time can be set for tests with
 * TOKENWARDEN_NOW (an ISO 8601 time), as the simulator's clock is set: it
 * starts there when first read and runs on at real speed, as the
 * simulator's does, so that the two stay together through a long run.
 */
#ifndef TW_CLOCK_H
#define TW_CLOCK_H

#include <stdint.h>

/* Milliseconds since the epoch: from TOKENWARDEN_NOW when set and valid, else the real time. */
int64_t clock_now_ms(void);
/* Milliseconds on a monotonic clock, for pacing and timeouts. */
int64_t clock_mono_ms(void);
/* Sleeps ms milliseconds (resumes after signals). */
void clock_sleep_ms(int64_t ms);

#endif
