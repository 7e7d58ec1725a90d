/*
 * Each policy slot at a glance, as `status`, `metrics` (and the audit
 * report) show it: its active token, when it rotates next, when it last
 * rotated, its failures, its slack, and one word for its health.  Built
 * from report_build's result and the store; reads, changes nothing.
 */
#ifndef TW_SLOTVIEW_H
#define TW_SLOTVIEW_H

#include "core/report.h"

#include <stddef.h>
#include <stdint.h>

/*
 * A slot's health, worst last.  When several hold, the worst is the word:
 * overdue > stuck > failing > paused > due > ok.
 *  - overdue: its consumers hold no working token, or will not before it
 *    expires (the plan's overdue finding: its token expired, or its window
 *    does not open before expiry);
 *  - stuck:   its rotation failed schedule.stuck_after times in a row;
 *  - failing: its rotation failed since its last success (not yet stuck);
 *  - paused:  the policy pauses it (nothing rotates it, due or not);
 *  - due:     the next run rotates it (its due time has come, or it has no
 *    token yet);
 *  - ok:      none of these.
 */
enum slot_word {
	SLOT_OK,
	SLOT_DUE,
	SLOT_PAUSED,
	SLOT_FAILING,
	SLOT_STUCK,
	SLOT_OVERDUE,
	SLOT_NWORDS /* not a word: the count, for loops */
};

/* The word as printed and in JSON ("ok", "overdue"). */
const char *slotview_word_name(enum slot_word w);

/* What the word follows from. */
struct slot_facts {
	int overdue;     /* the plan has an overdue finding for the slot */
	int failures;    /* failed rotations in a row */
	int stuck_after; /* schedule.stuck_after */
	int paused;
	int due;
};

/* The word for f, by the precedence above. */
enum slot_word slotview_word(const struct slot_facts *f);

/*
 * A slot's slack in runs at now: how many runs in a row may fail before its
 * token (expiring at expires_at, ms) lapses, counting the runs sure to
 * start between max(now, due) and expiry however late each starts
 * (schedule.random_delay) and however long its window stays closed, less
 * the one that rotates it; 0 at least, and 0 without a live token
 * (expires_at <= now).  At its due time it is policy_slack's figure.
 */
int slotview_slack(const struct policy *p, const struct policy_slot *s, int64_t expires_at,
		   int64_t due, int64_t now);

struct slotview_slot {
	const struct policy_slot *slot; /* borrowed from the policy */
	const struct token_row *active; /* borrowed from the report; NULL: none */
	int64_t expires_at;             /* active's expiry (ms); 0: no active token */
	int64_t next_rotation;          /* its due time, now when due (ms) */
	int64_t last_success;           /* its last token.active event (ms); 0: never */
	int failures;                   /* failed rotations since the last success */
	int64_t next_attempt;           /* with failures: no attempt before (ms); else 0 */
	int slack;                      /* slotview_slack at the report's time */
	/* The facts behind the word, each whatever the others (the word shows the worst). */
	int overdue, stuck, due;
	enum slot_word word;
};

struct slotview {
	struct slotview_slot *slots; /* one per policy slot, in the policy's order */
	size_t nslots;
	size_t by_word[SLOT_NWORDS];
};

/*
 * Builds the view of every slot of p at now from r (report_build over s,
 * p and now, which must outlive the view) and s's history.  Returns 0 with
 * *v (free with slotview_free), or -1 with *cause.
 */
int slotview_build(struct store *s, const struct policy *p, const struct report *r, int64_t now,
		   struct slotview *v, char **cause);

void slotview_free(struct slotview *v);

#endif
