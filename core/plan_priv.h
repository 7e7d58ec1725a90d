/* Shared between plan.c and plan_capacity.c; not part of the planner's interface. */
#ifndef TW_PLAN_PRIV_H
#define TW_PLAN_PRIV_H

#include "core/plan.h"
#include "core/timefmt.h"

struct plan_builder {
	struct plan *pl;
	const struct policy *p;
	const struct policy_slot *force;
	unsigned omit; /* plan_input's */
	int64_t now;
	size_t acap, fcap;
	size_t group;
	/* The slots' replaced tokens past their grace, deleted once every row is
	 * seen unless newer than their slot's active token (plan.c: past_grace). */
	struct plan_past {
		const struct token_row *r;
		long slot; /* its index in the policy's slots */
	} * past;
	size_t npast, past_cap;
	/* Tokens enforce unmanaged deletes now, unless a slot holds them back
	 * (plan.c: unmanaged_due). */
	struct plan_unmanaged {
		const struct token_row *r;
		int64_t when;
	} * unmanaged;
	size_t nunmanaged, unmanaged_cap;
	/* The token rows a consumer of the policy holds and its slot has not
	 * reached yet, by row: none that works is deleted (plan.c: unreached). */
	struct plan_held {
		int64_t row;
		const struct policy_slot *slot; /* the slot of a consumer that holds it */
		const struct token_row *r;      /* the row; NULL: not among those read */
	} * held;
	size_t nheld, held_cap;
	/* The slots' lost answers of the last interval (plan.c: lost_answers). */
	struct plan_lost {
		const struct token_row *r;
		long slot;
	} * lost;
	size_t nlost, lost_cap;
};

void plan_add_action(struct plan_builder *b, enum plan_kind kind, const char *ws, const char *slot,
		     const struct token_row *r, int64_t due, int64_t deadline, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));
void plan_add_finding(struct plan_builder *b, enum finding_kind kind, const char *ws,
		      const char *slot, const struct token_row *r, int64_t at, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/*
 * What the capacity estimate needs of each slot: when its current token
 * falls due and must be replaced by (INT64_MAX: no deadline), and whether
 * a token exists that a rotation then deletes.
 */
struct plan_slot_due {
	int64_t due;
	int64_t deadline;
	int has_old;
	int skip;      /* paused, or nothing to rotate */
	int held_dead; /* its consumers may hold a dead token: no backoff delays it */
};

/* Estimates capacity over the policy's horizon from each slot's first due time (p->nslots). */
void plan_capacity(struct plan_builder *b, const struct plan_slot_due *dues);

#endif
