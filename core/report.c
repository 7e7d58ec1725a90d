/* The plan over the stored inventory; see report.h. */
#include "core/report.h"

#include "core/meet.h"
#include "core/readers.h"
#include "store/clocks.h"
#include "store/slots.h"
#include "store/tokens.h"

#include <stdlib.h>
#include <string.h>

/* Plans p over what r has read, at now. */
static void
plan_rows(struct report *r, const struct policy *p, int64_t now, const struct policy_slot *force)
{
	struct plan_input in = {0};

	in.states = r->states;
	in.nstates = r->nstates;
	in.reached = r->reached;
	in.nreached = r->nreached;
	in.handed = r->handed;
	in.nhanded = r->nhanded;
	in.force = force;
	in.omit = r->omit;
	in.clocks = r->clocks;
	in.nclocks = r->nclocks;
	in.dead = r->dead;
	in.ndead = r->ndead;
	in.more = r->more;
	in.nmore = r->nmore;
	plan_build_with(p, r->rows, r->nrows, now, &in, &r->plan);
}

/* The descending part of a reading of the live rows in two (read_in_two). */
struct down_part {
	struct meet_walk walk;
	struct token_row *rows;
	size_t n;
	int64_t end;
};

static int
take_walked(int64_t row, void *arg)
{
	return meet_take(arg, row);
}

static int
read_down(struct store *s, void *arg, char **cause)
{
	struct down_part *d = arg;

	return tokens_live_part(s, 0, take_walked, &d->walk, &d->rows, &d->n, &d->end, cause);
}

/*
 * The live rows as tokens_live_unsealed reads them, into r->rows and then
 * r->more: read in two parts at once, one on s from the lowest id up and
 * one on a reader's connection from the highest down, until they meet
 * (core/meet.h).  Their two read transactions may see different states of
 * the store, when another process commits between them: that shows as a
 * different last event, and the rows are then read again, on s alone.
 */
static int
read_in_two(struct store *s, struct report *r, char **cause)
{
	struct down_part down = {0};
	struct reader rd = {.fn = read_down, .arg = &down, .scan = 1};
	struct meet_walk up;
	struct meet m;
	char *down_cause = NULL;
	int64_t end = 0;
	int rc, rc_down;

	meet_init(&m);
	up = meet_walk(&m, 1);
	down.walk = meet_walk(&m, 0);
	reader_start(s, &rd);
	rc = tokens_live_part(s, 1, take_walked, &up, &r->rows, &r->nrows, &end, cause);
	rc_down = reader_join(s, &rd, &down_cause);
	meet_destroy(&m);
	if (rc == 0 && rc_down == 0 && end == down.end) {
		r->more = down.rows;
		r->nmore = down.n;
		return 0;
	}
	tokens_free(down.rows, down.n);
	tokens_free(r->rows, r->nrows);
	r->rows = NULL;
	r->nrows = 0;
	if (rc < 0 || rc_down < 0) {
		if (rc == 0)
			*cause = down_cause;
		else
			free(down_cause);
		return -1;
	}
	return tokens_live_unsealed(s, &r->rows, &r->nrows, cause);
}

/* What report_build reads of the rows: each row's has_secret too, or not. */
enum reading { WITH_SECRET, UNSEALED, READ };

/* report_build over the rows of reading (READ: those r holds). */
static int
build(struct store *s, const struct policy *p, int64_t now, const struct policy_slot *force,
      enum reading reading, struct report *r, char **cause)
{
	char *lock_cause = NULL;
	int free_lock;

	if ((reading == WITH_SECRET && tokens_live(s, &r->rows, &r->nrows, cause) < 0) ||
	    (reading == UNSEALED && read_in_two(s, r, cause) < 0) ||
	    tokens_dead_held(s, &r->dead, &r->ndead, cause) < 0 ||
	    slots_list(s, &r->states, &r->nstates, cause) < 0 ||
	    slots_reached_list(s, &r->reached, &r->nreached, cause) < 0 ||
	    slots_handed_list(s, &r->handed, &r->nhanded, cause) < 0 ||
	    clocks_list(s, &r->clocks, &r->nclocks, cause) < 0)
		return -1;
	/* Only a look: a read that kept the lock would refuse a run that starts meanwhile. */
	free_lock = store_lock_held(s, &lock_cause) == 0;
	free(lock_cause);
	for (size_t i = 0; free_lock && i < r->nrows + r->nmore; i++) {
		struct token_row *row = i < r->nrows ? &r->rows[i] : &r->more[i - r->nrows];

		if (row->state == TOKEN_PENDING) {
			row->state = TOKEN_UNKNOWN;
			r->pending_settled++;
		}
	}
	plan_rows(r, p, now, force);
	return 0;
}

int
report_build(struct store *s, const struct policy *p, int64_t now, const struct policy_slot *force,
	     struct report *r, char **cause)
{
	memset(r, 0, sizeof *r);
	return build(s, p, now, force, WITH_SECRET, r, cause);
}

int
report_build_plan(struct store *s, const struct policy *p, int64_t now,
		  const struct policy_slot *force, unsigned omit, struct report *r, char **cause)
{
	memset(r, 0, sizeof *r);
	r->omit = omit;
	return build(s, p, now, force, UNSEALED, r, cause);
}

int
report_build_plan_rows(struct store *s, const struct policy *p, int64_t now,
		       const struct policy_slot *force, unsigned omit, struct token_row *rows,
		       size_t n, struct token_row *more, size_t nmore, struct report *r,
		       char **cause)
{
	memset(r, 0, sizeof *r);
	r->omit = omit;
	r->rows = rows;
	r->nrows = n;
	r->more = more;
	r->nmore = nmore;
	return build(s, p, now, force, READ, r, cause);
}

void
report_replan(struct report *r, const struct policy *p, int64_t now)
{
	plan_free(&r->plan);
	plan_rows(r, p, now, NULL);
}

void
report_free(struct report *r)
{
	plan_free(&r->plan);
	tokens_free(r->rows, r->nrows);
	tokens_free(r->more, r->nmore);
	tokens_free(r->dead, r->ndead);
	slots_free(r->states, r->nstates);
	slots_reached_free(r->reached, r->nreached);
	slots_handed_free(r->handed, r->nhanded);
	clocks_free(r->clocks, r->nclocks);
	memset(r, 0, sizeof *r);
}
