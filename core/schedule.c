/* When the daemon runs; see schedule.h. */
#include "core/schedule.h"

#include "core/report.h"

/*
 * Until when (ms) held says action a's workspace's credential is held; 0:
 * not held.  Keeping a replacement an interrupted run delivered sends
 * nothing (and removes the secrets that run left beside consumers' files):
 * never held.
 */
static int64_t
held_until(const struct policy *p, int64_t now, schedule_held_fn held, const void *arg,
	   const struct plan_action *a)
{
	const struct policy_workspace *w = policy_find_workspace(p, a->workspace);
	int64_t until = w != NULL && held != NULL && a->kind != PLAN_KEEP_DELIVERED
			    ? held(arg, w->credential)
			    : 0;

	return until > now ? until : 0;
}

int
schedule_read(struct store *s, const struct policy *p, int64_t now, schedule_held_fn held,
	      const void *arg, struct schedule *sc, char **cause)
{
	struct report r;

	if (report_build(s, p, now, NULL, &r, cause) < 0)
		return -1;
	sc->due_now = 0;
	sc->next_at = r.plan.next_at;
	for (size_t i = 0; i < r.plan.nactions && !sc->due_now; i++) {
		int64_t until = held_until(p, now, held, arg, &r.plan.actions[i]);

		if (until == 0)
			sc->due_now = 1;
		else if (until < sc->next_at)
			sc->next_at = until;
	}
	report_free(&r);
	return 0;
}

int64_t
schedule_wake(const struct schedule *sc, int64_t now, int64_t not_before, int64_t max_nap,
	      int64_t *wake)
{
	int64_t at;

	if (sc->due_now)
		at = not_before > now ? not_before : now;
	else
		at = sc->next_at;
	if (wake != NULL)
		*wake = at;
	if (at - now > max_nap)
		at = now + max_nap;
	return at;
}
