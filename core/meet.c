/* Two walks of one set of ids from either end, claiming stretches until they meet. */
#include "core/meet.h"

void
meet_init(struct meet *m)
{
	pthread_mutex_init(&m->lock, NULL);
	m->low = INT64_MIN;
	m->high = INT64_MAX;
}

void
meet_destroy(struct meet *m)
{
	pthread_mutex_destroy(&m->lock);
}

struct meet_walk
meet_walk(struct meet *m, int up)
{
	return (struct meet_walk){.meet = m, .up = up, .claimed = up ? INT64_MIN : INT64_MAX};
}

/*
 * The distance from a to b (a <= b) in unsigned arithmetic, which holds it
 * whatever their signs, as int64_t arithmetic would not.
 */
static uint64_t
gap(int64_t a, int64_t b)
{
	return (uint64_t)b - (uint64_t)a;
}

int
meet_take(struct meet_walk *w, int64_t id)
{
	struct meet *m = w->meet;
	int ok;

	/*
	 * Within the walk's claim, which the other never enters: no lock.  The
	 * first claim's extreme is no id the other could take either.
	 */
	if (w->up ? id <= w->claimed : id >= w->claimed)
		return 1;
	pthread_mutex_lock(&m->lock);
	if (w->up) {
		ok = id < m->high;
		/* This stretch, up to the id before the other's claim. */
		if (ok)
			m->low = gap(id, m->high) <= MEET_STRETCH ? m->high - 1
								  : id + (MEET_STRETCH - 1);
		w->claimed = m->low;
	} else {
		ok = id > m->low;
		if (ok)
			m->high =
			    gap(m->low, id) <= MEET_STRETCH ? m->low + 1 : id - (MEET_STRETCH - 1);
		w->claimed = m->high;
	}
	pthread_mutex_unlock(&m->lock);
	return ok;
}
