/*
 * core/ops.c and core/clock.c built as an installed binary has them (no
 * -DTW_TEST_HOOKS): a crash point named in $TOKENWARDEN_TEST_CRASH does
 * nothing, and $TOKENWARDEN_NOW does not move the wall clock, so a test's
 * variable left set on a host cannot make plan, status or a run read the
 * wrong time.  The suite's own build has the hooks, so this target compiles
 * both files again without them.
 */
#include "core/clock.h"
#include "core/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int
main(void)
{
	int64_t real, now;

	if (setenv("TOKENWARDEN_TEST_CRASH", "after-post", 1) != 0 ||
	    setenv("TOKENWARDEN_NOW", "2001-02-03T04:05Z", 1) != 0)
		return 2;
	ops_crash_point("after-post");
	/* Still here: the hook is not in this build. */
	puts("ok: a build without the test hooks ignores TOKENWARDEN_TEST_CRASH");
	real = (int64_t)time(NULL) * 1000;
	now = clock_now_ms();
	if (now < real - 60000 || now > real + 60000) {
		printf("not ok: with TOKENWARDEN_NOW set, clock_now_ms read %lld, the real time "
		       "is %lld\n",
		       (long long)now, (long long)real);
		return 1;
	}
	puts("ok: a build without the test hooks ignores TOKENWARDEN_NOW");
	return 0;
}
