/*
 * The plan over the stored inventory: what `plan` prints and `audit report`
 * judges.  Reads the store, changes nothing.
 */
#ifndef TW_REPORT_H
#define TW_REPORT_H

#include "core/plan.h"
#include "store/store.h"

struct report {
	struct token_row *rows; /* the inventory the plan borrows from, in id order */
	size_t nrows;
	/* Its rows after those, when it was read in two parts (report_build_plan_rows); else NULL.
	 */
	struct token_row *more;
	size_t nmore;
	struct token_row *dead; /* tokens_dead_held: dead tokens a consumer may hold */
	size_t ndead;
	struct slot_state *states; /* slots with failed attempts */
	size_t nstates;
	struct slot_reached *reached; /* the slots whose token's handing is recorded */
	size_t nreached;
	struct slot_handed *handed; /* the token each consumer was last handed */
	size_t nhanded;
	struct clock_state *clocks; /* workspaces whose clock disagreed at the last run */
	size_t nclocks;
	size_t pending_settled; /* pending rows planned as unknown (their creator is gone) */
	unsigned omit;          /* the finding kinds its plan leaves out (plan_input's) */
	struct plan plan;
};

/*
 * Reads the rows of s that may exist on the server and plans p over them at
 * now, with force as plan_input's (NULL: none).  A pending row whose creator
 * is gone (the run lock is free) is planned as the unknown it will be
 * settled to, without writing.  Returns 0 with *r (free with report_free),
 * or -1 with *cause.
 */
int report_build(struct store *s, const struct policy *p, int64_t now,
		 const struct policy_slot *force, struct report *r, char **cause);

/*
 * As report_build, with every row's has_secret -1 (tokens_live_unsealed):
 * for what only plans (plan, status, rotate), not for audit's inventory.
 * The plan leaves out the finding kinds in omit (plan_input's; 0: none).
 */
int report_build_plan(struct store *s, const struct policy *p, int64_t now,
		      const struct policy_slot *force, unsigned omit, struct report *r,
		      char **cause);

/*
 * As report_build_plan, over rows (n of them, read as tokens_live reads
 * them, in id order) and then more (nmore; NULL: none), the rows after
 * them, both of which *r holds from then on, failed or not: a plan made
 * from the reading the start-of-run check made in its two parts, which
 * need not be copied into one array.
 */
int report_build_plan_rows(struct store *s, const struct policy *p, int64_t now,
			   const struct policy_slot *force, unsigned omit, struct token_row *rows,
			   size_t n, struct token_row *more, size_t nmore, struct report *r,
			   char **cause);

/*
 * Plans r's rows, slot states and clocks afresh at now, with no slot
 * forced and the findings r's plan left out still left out: what
 * report_build would give when the store has not changed since
 * r was read (store_mark), without reading it again.
 */
void report_replan(struct report *r, const struct policy *p, int64_t now);

void report_free(struct report *r);

#endif
