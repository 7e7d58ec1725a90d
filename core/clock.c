/* Wall and monotonic clocks. */
#include "core/clock.h"

#include "core/timefmt.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

static int64_t
read_clock(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The wall clock, or in a build with the test hooks the time pinned in
 * TOKENWARDEN_NOW: an installed binary reads no clock of a variable a
 * test left set.
 */
int64_t
clock_now_ms(void)
{
#ifdef TW_TEST_HOOKS
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static int64_t start = INT64_MIN, mono_start;
	const char *pinned = getenv("TOKENWARDEN_NOW");
	int64_t ms, now;

	if (pinned == NULL || timefmt_parse(pinned, &ms) < 0)
		return read_clock(CLOCK_REALTIME);
	/* Set at the first reading of that value, then running, as the simulator's does. */
	pthread_mutex_lock(&lock);
	if (ms != start) {
		start = ms;
		mono_start = clock_mono_ms();
	}
	now = start + (clock_mono_ms() - mono_start);
	pthread_mutex_unlock(&lock);
	return now;
#else
	return read_clock(CLOCK_REALTIME);
#endif
}

int64_t
clock_mono_ms(void)
{
	return read_clock(CLOCK_MONOTONIC);
}

void
clock_sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

	if (ms <= 0)
		return;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
