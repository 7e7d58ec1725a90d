/*
 * The two clocks tokenwarden reads.  Wall time can be pinned for tests with
 * TOKENWARDEN_NOW (an ISO 8601 time), as the simulator's clock is set.
 */
#ifndef TW_CLOCK_H
#define TW_CLOCK_H

#include <stdint.h>

/* Milliseconds since the epoch: TOKENWARDEN_NOW when set and valid, else the real time. */
int64_t clock_now_ms(void);
/* Milliseconds on a monotonic clock, for pacing and timeouts. */
int64_t clock_mono_ms(void);
/* Sleeps ms milliseconds (resumes after signals). */
void clock_sleep_ms(int64_t ms);

#endif
