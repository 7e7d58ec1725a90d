/* When the daemon runs; see schedule.h. */
#include "core/schedule.h"

#include "core/report.h"

int
schedule_read(struct store *s, const struct policy *p, int64_t now, struct schedule *sc,
	      char **cause)
{
	struct report r;

	if (report_build(s, p, now, NULL, &r, cause) < 0)
		return -1;
	sc->due_now = r.plan.nactions > 0;
	sc->next_at = r.plan.next_at;
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
