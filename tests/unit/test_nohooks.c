/*
 * core/ops.c built as an installed binary has it (no -DTW_TEST_HOOKS): a
 * crash point named in $TOKENWARDEN_TEST_CRASH does nothing.  The suite's
 * own build has the hooks, so this target compiles ops.c again without them.
 */
#include "core/ops.h"

#include <stdio.h>
#include <stdlib.h>

int
main(void)
{
	if (setenv("TOKENWARDEN_TEST_CRASH", "after-post", 1) != 0)
		return 2;
	ops_crash_point("after-post");
	/* Still here: the hook is not in this build. */
	puts("ok: a build without the test hooks ignores TOKENWARDEN_TEST_CRASH");
	return 0;
}
