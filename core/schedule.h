/*
 * When `tokenwarden daemon` next runs the executor: as soon as work falls
 * due (a rotation, a grace ending, a window opening, a backoff ending), but
 * not again before not_before while work stays due right after a run (a
 * deletion that failed stays due; retrying at once would be a tight loop),
 * and never sleeping longer than a nap, so that changes other commands make
 * to the store and steps of the wall clock are seen within one.
 */
#ifndef TW_SCHEDULE_H
#define TW_SCHEDULE_H

#include "policies/policy.h"
#include "store/store.h"

#include <stdint.h>

#define SCHEDULE_RETRY_MS (60 * 1000)   /* the least gap after a run that left work due */
#define SCHEDULE_MAX_NAP_MS (60 * 1000) /* the longest sleep before looking again */

/* What the plan over the store says about the next run. */
struct schedule {
	int due_now;     /* work is due at once */
	int64_t next_at; /* else when work next falls due (ms); INT64_MAX: nothing will */
};

/*
 * Until when (wall ms) a 429's Retry-After holds the requests of
 * credential name: its runs send nothing for it meanwhile.  0, or a time
 * not after now: not held.
 */
typedef int64_t (*schedule_held_fn)(const void *arg, const char *credential);

/*
 * Plans p over s at now (changing nothing) into *sc.  Work due at once for
 * a workspace whose credential held (NULL: none is) says is held is due
 * when the hold ends instead: a run before then could send nothing for it.
 * Returns 0, or -1 with *cause.
 */
int schedule_read(struct store *s, const struct policy *p, int64_t now, schedule_held_fn held,
		  const void *arg, struct schedule *sc, char **cause);

/*
 * When the next run should start: now when work is due and not_before has
 * passed, else the earlier of the next due moment and not_before.  Returns
 * that moment (ms), never later than now + max_nap; *wake (may be NULL)
 * gets it before the cap (INT64_MAX when nothing will fall due).
 */
int64_t schedule_wake(const struct schedule *sc, int64_t now, int64_t not_before, int64_t max_nap,
		      int64_t *wake);

#endif
