/*
 * Unit tests for core/meet: two walks of one set of ids from either end
 * take every id once between them, whatever the ids (sparse, negative, the
 * extremes of int64_t) and however the walks' steps interleave, one after
 * the other, alternately, at random, or on two threads; and they meet near
 * the middle when they walk at the same pace.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/meet.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IDS 3000

/* One walk over ids in its order, and what it took. */
struct walker {
	struct meet_walk w;
	const int64_t *ids;
	size_t n;
	size_t next;  /* steps made */
	int stopped;  /* refused an id: takes no more */
	char *took;   /* took[i]: it took ids[i] */
	size_t taken; /* how many */
};

static void
walker_init(struct walker *k, struct meet *m, int up, const int64_t *ids, size_t n, char *took)
{
	*k = (struct walker){.w = meet_walk(m, up), .ids = ids, .n = n, .took = took};
	memset(took, 0, n);
}

/* One step: asks about the walk's next id; returns 0 when the walk is over. */
static int
step(struct walker *k)
{
	size_t i;

	if (k->stopped || k->next == k->n)
		return 0;
	i = k->w.up ? k->next : k->n - 1 - k->next;
	k->next++;
	if (!meet_take(&k->w, k->ids[i])) {
		k->stopped = 1;
		return 0;
	}
	k->took[i] = 1;
	k->taken++;
	return 1;
}

static void *
walk_all(void *arg)
{
	while (step(arg))
		;
	return NULL;
}

/* Each id taken by one walk exactly, and each walk's ids one run from its end. */
static void
assert_cover(const struct walker *up, const struct walker *down, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (up->took[i] + down->took[i] != 1)
			fail_msg("id %zu of %zu taken %d times", i, n, up->took[i] + down->took[i]);
		if (up->took[i])
			assert_true(i < up->taken);
	}
	assert_int_equal(up->taken + down->taken, n);
}

/*
 * Strictly increasing ids drawn from seed, mostly dense, some far apart:
 * from the lowest int64_t, from below zero, from 1, or up to the highest.
 * Returns how many (up to MAX_IDS, a few of them none or one).
 */
static size_t
random_ids(unsigned *seed, int64_t *ids)
{
	size_t n = (size_t)(rand_r(seed) % 6 == 0 ? rand_r(seed) % 3 : rand_r(seed) % MAX_IDS);
	uint64_t at = 0, span;
	int64_t start;

	for (size_t i = 0; i < n; i++) {
		unsigned kind = (unsigned)rand_r(seed) % 10;

		at += i == 0     ? 0
		      : kind < 6 ? 1
		      : kind < 9 ? 1 + (uint64_t)(rand_r(seed) % 600)
				 : (uint64_t)rand_r(seed) << 20;
		ids[i] = (int64_t)at; /* the offset, for now: at most 2^52 */
	}
	span = n > 0 ? (uint64_t)ids[n - 1] : 0;
	switch (rand_r(seed) % 4) {
	case 0:
		start = INT64_MIN;
		break;
	case 1:
		start = -1 - (int64_t)(rand_r(seed) % 100000);
		break;
	case 2:
		start = 1;
		break;
	default:
		start = INT64_MAX - (int64_t)span;
	}
	for (size_t i = 0; i < n; i++)
		ids[i] = start + ids[i];
	for (size_t i = 1; i < n; i++)
		assert_true(ids[i - 1] < ids[i]);
	return n;
}

/* The extremes: the lowest and highest ids, alone and together, each way round. */
static void
test_extremes(void **state)
{
	static const int64_t sets[][3] = {
	    {INT64_MIN, 0, 0},  {INT64_MAX, 0, 0}, {INT64_MIN, INT64_MAX, 0},
	    {INT64_MIN, -1, 0}, {0, 1, INT64_MAX}, {INT64_MIN, INT64_MIN + 1, INT64_MIN + 2},
	};
	static const size_t sizes[] = {1, 1, 2, 3, 3, 3};
	struct walker up, down;
	char tu[3], td[3];

	(void)state;
	for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
		for (int first = 0; first < 3; first++) {
			struct meet m;

			meet_init(&m);
			walker_init(&up, &m, 1, sets[s], sizes[s], tu);
			walker_init(&down, &m, 0, sets[s], sizes[s], td);
			if (first == 0) {
				walk_all(&up);
				walk_all(&down);
			} else if (first == 1) {
				walk_all(&down);
				walk_all(&up);
			} else {
				while (step(&up) | step(&down))
					;
			}
			assert_cover(&up, &down, sizes[s]);
			meet_destroy(&m);
		}
	}
}

/* Random ids, the two walks' steps interleaved at random from one thread. */
static void
test_interleaved(void **state)
{
	static int64_t ids[MAX_IDS];
	static char tu[MAX_IDS], td[MAX_IDS];
	unsigned seed = 20261204;

	(void)state;
	for (int c = 0; c < 3000; c++) {
		size_t n = random_ids(&seed, ids);
		unsigned bias = (unsigned)rand_r(&seed) % 100;
		struct walker up, down;
		struct meet m;

		meet_init(&m);
		walker_init(&up, &m, 1, ids, n, tu);
		walker_init(&down, &m, 0, ids, n, td);
		/* Each step the chosen walk's, or the other's once the chosen one is over. */
		for (;;) {
			int pick_up = (unsigned)rand_r(&seed) % 100 < bias;

			/* step says 0 only for a walk that is over. */
			if (!step(pick_up ? &up : &down) && !step(pick_up ? &down : &up))
				break;
		}
		assert_cover(&up, &down, n);
		meet_destroy(&m);
	}
}

/* Dense ids walked at the same pace: they meet within a stretch or two of the middle. */
static void
test_meet_near_the_middle(void **state)
{
	static int64_t ids[MAX_IDS];
	static char tu[MAX_IDS], td[MAX_IDS];
	struct walker up, down;
	struct meet m;

	(void)state;
	for (size_t i = 0; i < MAX_IDS; i++)
		ids[i] = (int64_t)i + 1;
	meet_init(&m);
	walker_init(&up, &m, 1, ids, MAX_IDS, tu);
	walker_init(&down, &m, 0, ids, MAX_IDS, td);
	while (step(&up) | step(&down))
		;
	assert_cover(&up, &down, MAX_IDS);
	assert_true(up.taken + MEET_STRETCH >= MAX_IDS / 2);
	assert_true(down.taken + MEET_STRETCH >= MAX_IDS / 2);
	meet_destroy(&m);
}

/* Random ids, the two walks on threads of their own, as a run's check runs them. */
static void
test_threads(void **state)
{
	static int64_t ids[MAX_IDS];
	static char tu[MAX_IDS], td[MAX_IDS];
	unsigned seed = 4242;

	(void)state;
	for (int c = 0; c < 300; c++) {
		size_t n = random_ids(&seed, ids);
		struct walker up, down;
		pthread_t t[2];
		struct meet m;

		meet_init(&m);
		walker_init(&up, &m, 1, ids, n, tu);
		walker_init(&down, &m, 0, ids, n, td);
		assert_int_equal(pthread_create(&t[0], NULL, walk_all, &up), 0);
		assert_int_equal(pthread_create(&t[1], NULL, walk_all, &down), 0);
		pthread_join(t[0], NULL);
		pthread_join(t[1], NULL);
		assert_cover(&up, &down, n);
		meet_destroy(&m);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_extremes),
	    cmocka_unit_test(test_interleaved),
	    cmocka_unit_test(test_meet_near_the_middle),
	    cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
