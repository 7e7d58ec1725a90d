/*
 * The planner: policy + inventory + now -> the ordered list of what is due
 * and what is wrong.  A pure function: no I/O, no clock, no randomness, so
 * `plan`, `rotate`, `audit` and the tests all see the same answer for the
 * same inputs.  Times are milliseconds since the epoch, UTC.
 */
#ifndef TW_PLAN_H
#define TW_PLAN_H

#include "policies/policy.h"
#include "store/clocks.h"
#include "store/tokens.h"

#include <stddef.h>
#include <stdint.h>

enum plan_kind {
	PLAN_DELETE_UNDELIVERED, /* a replacement an interrupted run made but never delivered */
	PLAN_KEEP_DELIVERED,     /* one an interrupted run began to deliver: kept as retiring */
	PLAN_CREATE,             /* make a slot's replacement (or first token) */
	PLAN_VERIFY,             /* prove it with a Bearer call */
	PLAN_DELIVER,            /* hand it to every consumer */
	PLAN_ACTIVATE,           /* make it active; the old token starts its grace */
	PLAN_DELETE_OLD,         /* a retiring token whose grace is over */
	PLAN_DELETE_EXPIRED,     /* past expiry, by enforce expired */
	PLAN_DELETE_UNMANAGED,   /* no slot owns it, by enforce unmanaged */
	PLAN_NKINDS
};

enum finding_kind {
	FIND_OVERDUE,      /* a slot without a working token, or one that will expire first */
	FIND_MAX_LIFETIME, /* a token living longer than enforce max_lifetime */
	FIND_UNMANAGED,    /* a live token no slot owns */
	FIND_EXPIRED,      /* a token past expiry still on the server */
	FIND_UNKNOWN,      /* a create whose outcome was lost: may exist until it expires */
	FIND_IN_FLIGHT,    /* a create another process is making now */
	FIND_PAUSED,       /* a paused slot that is due */
	FIND_PERSONAL,     /* a workspace using a deprecated personal API credential */
	FIND_CAPACITY,     /* the rate budget cannot rotate everything before its deadline */
	FIND_STUCK,        /* a slot whose rotation failed schedule.stuck_after times in a row */
	FIND_FAILING,      /* a slot whose rotation failed since its last success (not yet stuck) */
	FIND_CLOCK,        /* a workspace whose server clock disagreed at the last run */
	FIND_HELD,         /* a replaced token past its grace that a moved consumer holds */
	FIND_NKINDS
};

/* Returns the kind's name as printed and in JSON ("create", "overdue"). */
const char *plan_kind_name(enum plan_kind k);
const char *plan_finding_name(enum finding_kind k);

struct plan_action {
	enum plan_kind kind;
	int cost;              /* API requests it takes */
	const char *workspace; /* borrowed from the policy or the rows */
	const char *slot;      /* NULL: unmanaged */
	int64_t row;           /* the token row acted on; 0 for a create */
	const char *token;     /* its Mode id, or NULL */
	int64_t due;           /* when it became due */
	int64_t deadline;      /* when it must be done (the token's expiry); INT64_MAX: none */
	size_t group;          /* the actions of one slot's rotation share a group */
	/*
	 * Why it is due, for people: see plan_action_why.  An enforce deletion
	 * (delete-expired, delete-unmanaged) has its row and the rule's
	 * delete_after instead, and its text is made when it is said: a plan of
	 * a large inventory holds thousands, each a text and an allocation.
	 */
	char *why;                 /* allocated; NULL for an enforce deletion */
	const struct token_row *r; /* the row acted on, borrowed as workspace is; NULL: none */
	int64_t after;             /* the rule's delete_after, in seconds */
};

/* The most bytes plan_action_why writes into its buffer, with the NUL. */
#define PLAN_WHY_MAX 160

/* Why a is due, for people: its own text, or one made in buf. */
const char *plan_action_why(const struct plan_action *a, char buf[PLAN_WHY_MAX]);

struct plan_finding {
	enum finding_kind kind;
	const char *workspace;
	const char *slot; /* NULL: none */
	int64_t row;      /* 0: none */
	const char *token;
	int64_t at; /* the moment it concerns (an expiry, a deadline) */
	/*
	 * A row's finding (max-lifetime, expired, unmanaged, unknown, in-flight,
	 * held):
	 * its row, and its text left to plan_finding_text, for a plan of a large
	 * inventory finds thousands that a run never says.  NULL for the others.
	 */
	const struct token_row *r;
	/*
	 * unmanaged and held: the slot whose next active token its deletion
	 * waits for (plan.c: unmanaged_due, past_grace), or NULL when none holds
	 * it back.
	 */
	const struct policy_slot *waits;
	int64_t limit; /* max-lifetime: enforce max_lifetime, in seconds */
	char *text;    /* allocated; NULL for a row's finding */
};

/* The finding's text for people (allocated). */
char *plan_finding_text(const struct plan_finding *f);

/*
 * The capacity estimate over the next policy schedule.capacity_days: runs
 * are taken to start at the plan's time of day, every schedule.interval,
 * each lasting at most schedule.max_time; each does the rotations due by
 * its start, earliest deadline first, at the credential's request rate.
 */
struct plan_capacity {
	int ok;           /* every rotation in the horizon fits before its deadline */
	size_t rotations; /* rotations counted */
	int64_t horizon;  /* the end of the horizon */
	/* The first rotation that would miss, when !ok: */
	const char *workspace;
	const char *slot;
	int64_t due;
	int64_t deadline;
	int64_t finish; /* when it would be done; INT64_MAX: in no run */
	int no_run;     /* no run falls between its due time and its deadline */
	int rate_requests;
	int64_t rate_window; /* seconds */
};

struct plan {
	struct plan_action *actions; /* earliest deadline first */
	size_t nactions;
	struct plan_finding *findings;
	size_t nfindings;
	struct plan_capacity capacity;
	int64_t next_at; /* the next moment after now when something falls due; INT64_MAX: none */
	/* The slots whose active token no record says the consumers of (made before
	 * the record was kept, imported, or by hand), and that token's row: a run
	 * records that it reached the slot's consumers as they are now. */
	struct plan_unrecorded {
		const struct policy_slot *slot;
		int64_t row;
		/* NULL; or schema 14's record of it, the consumers it reached (as
		 * deliver_fingerprint names them, each followed by a comma): only
		 * those are recorded, and the others stay due. */
		const char *legacy;
	} * unrecorded;
	size_t nunrecorded;
};

/*
 * Plans for policy p over the inventory rows (n, any order; the planner
 * looks at every row) at now.  The result borrows strings from p, and the
 * rows themselves, which must outlive it unchanged.  Never fails.
 */
void plan_build(const struct policy *p, const struct token_row *rows, size_t n, int64_t now,
		struct plan *out);

struct slot_state;
struct slot_reached;
struct slot_handed;

/* What the planner knows beyond the rows and the policy; all zero: nothing. */
struct plan_input {
	/* The rows after plan_build_with's rows, in id order, when they were read
	 * in two parts (the start-of-run check's); NULL: none. */
	const struct token_row *more;
	size_t nmore;
	/* Each slot's failed attempts, as store/slots lists them: a due slot waits
	 * for its next_attempt_at; one that failed schedule.stuck_after times in a
	 * row is a finding. */
	const struct slot_state *states;
	size_t nstates;
	/* Which slots' active tokens have their handing recorded, and the token
	 * each consumer was last handed, as store/slots lists them (handed by
	 * consumer): a slot with a consumer that holds anything but its active
	 * token is due, and the token that consumer holds is not deleted until
	 * then. */
	const struct slot_reached *reached;
	size_t nreached;
	const struct slot_handed *handed;
	size_t nhanded;
	/* A slot to rotate now, due or not, backoff, pause or not (rotate --force). */
	const struct policy_slot *force;
	/* The workspaces whose server clock disagreed at the last run, as
	 * store/clocks lists them: each is a finding. */
	const struct clock_state *clocks;
	size_t nclocks;
	/* Deleted or revoked tokens a consumer may still hold, as store/tokens
	 * lists them (tokens_dead_held): a slot whose active token is older than
	 * one is due at once, since only a rotation reaches that consumer. */
	const struct token_row *dead;
	size_t ndead;
	/* Kinds of finding left out of the plan, as PLAN_FINDING_BIT(kind)s: a
	 * caller that never reads them spares a large inventory thousands of
	 * findings (rotate: the violations, when no alert wants them).  The
	 * actions, and every other finding, are the same. */
	unsigned omit;
};

/* A finding kind's bit in plan_input's omit. */
#define PLAN_FINDING_BIT(kind) (1u << (kind))
_Static_assert(FIND_NKINDS <= 32, "plan_input's omit has a bit for every finding kind");

/* As plan_build, minding in (may be NULL). */
void plan_build_with(const struct policy *p, const struct token_row *rows, size_t n, int64_t now,
		     const struct plan_input *in, struct plan *out);

void plan_free(struct plan *pl);

/*
 * The latest the run after one at now (ms) may start: schedule.interval
 * plus the timer's schedule.random_delay later.
 */
int64_t plan_next_run(const struct policy *p, int64_t now);

/*
 * Whether a slot whose token expires at deadline (ms; INT64_MAX: it has
 * none) lapses if this run, at now, fails: it expires before the next run
 * may start (plan_next_run).  Such a slot cannot wait out a backoff.
 */
int plan_no_slack(const struct policy *p, int64_t deadline, int64_t now);

/* A slot's stable share of its jitter in seconds: [0, jitter], the same on every run. */
int64_t plan_jitter(const char *workspace, const char *slot, int64_t jitter);

/*
 * When slot s's token expiring at expires_at (ms) falls due: expiry minus
 * rotate_before minus the slot's jitter, moved to the window's next
 * opening; when the window would only open after expiry, the unmoved time.
 * The run before the token expires must still catch it: never later than
 * plan_next_run's gap before expiry, window or not.
 */
int64_t plan_due(const struct policy *p, const struct policy_slot *s, int64_t expires_at);

#endif
