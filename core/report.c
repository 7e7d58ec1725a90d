/* The plan over the stored inventory; see report.h. */
#include "core/report.h"

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
	in.force = force;
	in.clocks = r->clocks;
	in.nclocks = r->nclocks;
	in.dead = r->dead;
	in.ndead = r->ndead;
	in.more = r->more;
	in.nmore = r->nmore;
	plan_build_with(p, r->rows, r->nrows, now, &in, &r->plan);
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
	    (reading == UNSEALED && tokens_live_unsealed(s, &r->rows, &r->nrows, cause) < 0) ||
	    tokens_dead_held(s, &r->dead, &r->ndead, cause) < 0 ||
	    slots_list(s, &r->states, &r->nstates, cause) < 0 ||
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
		  const struct policy_slot *force, struct report *r, char **cause)
{
	memset(r, 0, sizeof *r);
	return build(s, p, now, force, UNSEALED, r, cause);
}

int
report_build_plan_rows(struct store *s, const struct policy *p, int64_t now,
		       const struct policy_slot *force, struct token_row *rows, size_t n,
		       struct token_row *more, size_t nmore, struct report *r, char **cause)
{
	memset(r, 0, sizeof *r);
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
	clocks_free(r->clocks, r->nclocks);
	memset(r, 0, sizeof *r);
}
