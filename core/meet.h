/*
 * Two threads walking one set of ids in order, one up from the lowest and
 * one down from the highest, until they meet, so that between them they
 * take every id once without counting the ids first: a run's start-of-run
 * check (cmd/runner.c).  Each claims the ids ahead of it a stretch at a
 * time, under a lock taken once a stretch rather than once an id; the two
 * claims never overlap, and a walk stops at the first id the other has
 * claimed.  What the last stretch claimed beyond the ids walked leaves the
 * other at most MEET_STRETCH ids short of the middle.
 */
#ifndef TW_MEET_H
#define TW_MEET_H

#include <pthread.h>
#include <stdint.h>

#define MEET_STRETCH 256

struct meet {
	pthread_mutex_t lock;
	int64_t low;  /* the ascending walk has claimed every id up to it */
	int64_t high; /* the descending walk, every id from it */
};

/* One walk's end of its claim, which only its own thread reads. */
struct meet_walk {
	struct meet *meet;
	int up; /* 1: ascending */
	int64_t claimed;
};

void meet_init(struct meet *m);
void meet_destroy(struct meet *m);

/* A walk of m, ascending (up) or descending, that has claimed nothing. */
struct meet_walk meet_walk(struct meet *m, int up);

/*
 * Whether id, the walk's next in its order, is the walk's: 1, or 0 when the
 * other has claimed it (the walk then stops: every id after it is the
 * other's too).
 */
int meet_take(struct meet_walk *w, int64_t id);

#endif
