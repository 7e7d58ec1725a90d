/* The planner; see plan.h.  Capacity is estimated in plan_capacity.c. */
#include "core/plan.h"

#include "core/deliver.h"
#include "core/plan_priv.h"
#include "core/timefmt.h"
#include "core/window.h"
#include "core/xalloc.h"
#include "store/slots.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000

const char *
plan_kind_name(enum plan_kind k)
{
	static const char *const names[] = {
	    [PLAN_DELETE_UNDELIVERED] = "delete-undelivered",
	    [PLAN_KEEP_DELIVERED] = "keep-delivered",
	    [PLAN_CREATE] = "create",
	    [PLAN_VERIFY] = "verify",
	    [PLAN_DELIVER] = "deliver",
	    [PLAN_ACTIVATE] = "activate",
	    [PLAN_DELETE_OLD] = "delete-retired",
	    [PLAN_DELETE_EXPIRED] = "delete-expired",
	    [PLAN_DELETE_UNMANAGED] = "delete-unmanaged",
	};
	_Static_assert(sizeof names / sizeof names[0] == PLAN_NKINDS, "a plan kind has no name");

	return k < PLAN_NKINDS ? names[k] : "?";
}

const char *
plan_finding_name(enum finding_kind k)
{
	static const char *const names[] = {
	    [FIND_OVERDUE] = "overdue",     [FIND_MAX_LIFETIME] = "max-lifetime",
	    [FIND_UNMANAGED] = "unmanaged", [FIND_EXPIRED] = "expired",
	    [FIND_UNKNOWN] = "unknown",     [FIND_IN_FLIGHT] = "in-flight",
	    [FIND_PAUSED] = "paused",       [FIND_PERSONAL] = "personal",
	    [FIND_CAPACITY] = "capacity",   [FIND_STUCK] = "stuck",
	    [FIND_FAILING] = "failing",     [FIND_CLOCK] = "clock",
	    [FIND_HELD] = "held",
	};
	_Static_assert(sizeof names / sizeof names[0] == FIND_NKINDS, "a finding has no name");

	return k < FIND_NKINDS ? names[k] : "?";
}

int64_t
plan_next_run(const struct policy *p, int64_t now)
{
	return now + (p->schedule.interval + p->schedule.random_delay) * MS;
}

int
plan_no_slack(const struct policy *p, int64_t deadline, int64_t now)
{
	return deadline == INT64_MAX || deadline <= plan_next_run(p, now);
}

int64_t
plan_jitter(const char *workspace, const char *slot, int64_t jitter)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325); /* FNV-1a over "workspace\0slot" */
	const char *parts[2] = {workspace, slot};

	if (jitter <= 0)
		return 0;
	for (int i = 0; i < 2; i++) {
		for (const unsigned char *p = (const unsigned char *)parts[i];; p++) {
			h ^= *p;
			h *= UINT64_C(0x100000001b3);
			if (*p == '\0')
				break;
		}
	}
	/* splitmix64's finaliser spreads FNV's weak low bits. */
	h ^= h >> 30;
	h *= UINT64_C(0xbf58476d1ce4e5b9);
	h ^= h >> 27;
	h *= UINT64_C(0x94d049bb133111eb);
	h ^= h >> 31;
	return (int64_t)(h % (uint64_t)(jitter + 1));
}

/* The most of a consumer's path a reason quotes: why[384] must hold the rest. */
#define WHY_PATH_MAX 120

/* Seconds (floor) of a time in ms, and back. */
static int64_t
secs(int64_t ms)
{
	return ms / MS - (ms % MS < 0);
}

int64_t
plan_due(const struct policy *p, const struct policy_slot *s, int64_t expires_at)
{
	int64_t raw =
	    expires_at -
	    (policy_rotate_before(&s->eff) + plan_jitter(s->ws->name, s->name, s->eff.jitter)) * MS;
	int64_t last = expires_at - plan_next_run(p, 0);
	int64_t open, due = raw;

	if (s->eff.window != NULL && !window_is_open(s->eff.window, secs(raw))) {
		open = window_next_open(s->eff.window, secs(raw));
		if (open != INT64_MAX && open < secs(expires_at))
			due = open * MS;
	}
	/* Window or not: a token that would expire before the next run can start is due. */
	return due < last ? due : last;
}

/* Adds an action with room for it, its fields but the why set. */
static struct plan_action *
add_action(struct plan_builder *b, enum plan_kind kind, const char *ws, const char *slot,
	   const struct token_row *r, int64_t due, int64_t deadline)
{
	struct plan_action *a;

	if (b->pl->nactions == b->acap)
		b->pl->actions = xgrow_bulk(b->pl->actions, &b->acap, 64, sizeof *b->pl->actions);
	a = &b->pl->actions[b->pl->nactions++];
	memset(a, 0, sizeof *a);
	a->kind = kind;
	a->workspace = ws;
	a->slot = slot;
	a->row = r != NULL ? r->row : 0;
	a->token = r != NULL ? r->token : NULL;
	a->r = r;
	a->due = due;
	a->deadline = deadline;
	a->cost = kind == PLAN_DELIVER || kind == PLAN_ACTIVATE ? 0 : 1;
	a->group = b->group;
	return a;
}

void
plan_add_action(struct plan_builder *b, enum plan_kind kind, const char *ws, const char *slot,
		const struct token_row *r, int64_t due, int64_t deadline, const char *fmt, ...)
{
	struct plan_action *a = add_action(b, kind, ws, slot, r, due, deadline);
	va_list ap;

	va_start(ap, fmt);
	a->why = xvasprintf(fmt, ap);
	va_end(ap);
}

/* An enforce rule's deletion of row r, due at when, its why made from the row when asked. */
static void
enforce_action(struct plan_builder *b, enum plan_kind kind, const struct token_row *r, int64_t when,
	       int64_t after)
{
	struct plan_action *a = add_action(b, kind, r->workspace, r->slot, r, when, INT64_MAX);

	a->after = after;
}

/* Adds a finding with room for it, its fields but the text set; NULL when b omits its kind. */
static struct plan_finding *
add_finding(struct plan_builder *b, enum finding_kind kind, const char *ws, const char *slot,
	    const struct token_row *r, int64_t at)
{
	struct plan_finding *f;

	if (b->omit & PLAN_FINDING_BIT(kind))
		return NULL;
	if (b->pl->nfindings == b->fcap)
		b->pl->findings = xgrow(b->pl->findings, &b->fcap, 64, sizeof *b->pl->findings);
	f = &b->pl->findings[b->pl->nfindings++];
	memset(f, 0, sizeof *f);
	f->kind = kind;
	f->workspace = ws;
	f->slot = slot;
	f->row = r != NULL ? r->row : 0;
	f->token = r != NULL ? r->token : NULL;
	f->at = at;
	return f;
}

void
plan_add_finding(struct plan_builder *b, enum finding_kind kind, const char *ws, const char *slot,
		 const struct token_row *r, int64_t at, const char *fmt, ...)
{
	struct plan_finding *f = add_finding(b, kind, ws, slot, r, at);
	va_list ap;

	if (f == NULL)
		return;
	va_start(ap, fmt);
	f->text = xvasprintf(fmt, ap);
	va_end(ap);
}

/*
 * A finding about row r, its text made from the row when asked
 * (plan_finding_text); NULL when b omits its kind.
 */
static struct plan_finding *
row_finding(struct plan_builder *b, enum finding_kind kind, const struct token_row *r, int64_t at)
{
	struct plan_finding *f = add_finding(b, kind, r->workspace, r->slot, r, at);

	if (f != NULL)
		f->r = r;
	return f;
}

static void
later(struct plan_builder *b, int64_t at)
{
	if (at > b->now && at < b->pl->next_at)
		b->pl->next_at = at;
}

/* When row r was made: the server's time, else the intent's. */
static int64_t
born(const struct token_row *r)
{
	return r->created_at > 0 ? r->created_at : r->requested_at;
}

/* Rows that may still exist on the server and work, or did. */
static int
live(const struct token_row *r)
{
	return r->state == TOKEN_ACTIVE || r->state == TOKEN_RETIRING ||
	       r->state == TOKEN_CREATED || r->state == TOKEN_VERIFIED || r->state == TOKEN_EXPIRED;
}

static void
check_lifetime(struct plan_builder *b, const struct token_row *r)
{
	struct plan_finding *f;

	if (b->p->enforce.max_lifetime <= 0 ||
	    r->expires_at - born(r) <= b->p->enforce.max_lifetime * MS)
		return;
	f = row_finding(b, FIND_MAX_LIFETIME, r, r->expires_at);
	if (f != NULL)
		f->limit = b->p->enforce.max_lifetime;
}

/* enforce expired: a token past expiry that may still exist on the server. */
static void
expired_rule(struct plan_builder *b, const struct token_row *r)
{
	const struct policy_enforce *e = &b->p->enforce;
	int64_t when = r->expires_at + e->expired_after * MS;

	/* A workspace the policy no longer has gives no API to delete it with: said instead. */
	int gone = e->expired == RULE_DELETE && policy_find_workspace(b->p, r->workspace) == NULL;

	if (e->expired == RULE_REPORT || (e->expired == RULE_DELETE && gone))
		row_finding(b, FIND_EXPIRED, r, r->expires_at);
	if (e->expired != RULE_DELETE || gone)
		return;
	if (when > b->now) {
		later(b, when);
		return;
	}
	b->group++;
	enforce_action(b, PLAN_DELETE_EXPIRED, r, when, e->expired_after);
}

/* enforce unmanaged: a live token no slot of the policy owns. */
static void
unmanaged_rule(struct plan_builder *b, const struct token_row *r)
{
	const struct policy_enforce *e = &b->p->enforce;
	int64_t when = born(r) + e->unmanaged_after * MS;
	/* A workspace the policy no longer has gives no API to delete it with: said instead. */
	int gone = e->unmanaged == RULE_DELETE && policy_find_workspace(b->p, r->workspace) == NULL;

	if (e->unmanaged == RULE_REPORT || (e->unmanaged == RULE_DELETE && (when > b->now || gone)))
		row_finding(b, FIND_UNMANAGED, r, r->expires_at);
	if (e->unmanaged != RULE_DELETE || gone)
		return;
	if (when > b->now) {
		later(b, when);
		return;
	}
	if (b->nunmanaged == b->unmanaged_cap)
		b->unmanaged = xgrow(b->unmanaged, &b->unmanaged_cap, 16, sizeof *b->unmanaged);
	b->unmanaged[b->nunmanaged++] = (struct plan_unmanaged){r, when};
}

/* What the rows say about one slot. */
struct slot_view {
	const struct slot_state *failures; /* NULL: none in a row */
	const struct token_row *active;
	const struct token_row *leftover; /* created or verified, never delivered */
	const struct token_row *pending;
	const struct token_row *lapsed;     /* its latest token that expired while in use */
	const struct token_row *retiring;   /* its newest retiring token */
	const struct token_row *dead;       /* its newest tokens_dead_held row */
	const struct slot_reached *reached; /* its active token's handing record; NULL: none */
	const struct slot_reached *legacy;  /* schema 14's record; NULL: none */
	/* A consumer that holds anything but its active token (the policy added
	 * it, or moved it from another slot, since); NULL: none, or its active
	 * token's handing is not recorded (the plan's unrecorded). */
	const struct policy_deliver *unreached;
	int unknown; /* some consumer was handed nothing yet */
	/* A file consumer its active token reached, given another owner or group
	 * than the policy gives it now, and what it was given (deliver_given's);
	 * NULL: none. */
	const struct policy_deliver *regiven;
	const char *given;
	int64_t stray_row;               /* what that consumer was last handed; 0: nothing */
	const struct plan_held *stray;   /* that row, once read (NULL: handed nothing) */
	const struct token_row *expired; /* its newest retiring token past grace and expiry */
	/* Its creates whose answers were lost since its active token, in the last interval
	 * (lost_answers), and the first of them. */
	int lost;
	int64_t lost_first;
};

/* The first time at or after t (ms) that s's window is open; INT64_MAX: never. */
static int64_t
window_at(const struct policy_slot *s, int64_t t)
{
	int64_t open = window_next_open(s->eff.window, secs(t));

	if (open == INT64_MAX)
		return INT64_MAX;
	return open * MS > t ? open * MS : t;
}

static int
by_consumer(const void *key, const void *elem)
{
	const struct slot_handed *h = elem;

	return strcmp(key, h->consumer);
}

static int
by_row(const void *x, const void *y)
{
	const struct plan_held *a = x, *c = y;

	return a->row < c->row ? -1 : a->row > c->row;
}

/* Whether token row r still works at now. */
static int
works(const struct token_row *r, int64_t now)
{
	return (r->state == TOKEN_ACTIVE || r->state == TOKEN_RETIRING ||
		r->state == TOKEN_CREATED || r->state == TOKEN_VERIFIED) &&
	       r->expires_at > now;
}

static struct plan_held *
held_row(const struct plan_builder *b, int64_t row)
{
	struct plan_held key = {row, NULL, NULL};

	return b->nheld == 0 ? NULL : bsearch(&key, b->held, b->nheld, sizeof *b->held, by_row);
}

/*
 * The slot of a consumer of the policy that holds token row, which still
 * works, and has not reached it yet (so that token is not deleted), or
 * NULL: none.
 */
static const struct policy_slot *
holder(const struct plan_builder *b, int64_t row)
{
	const struct plan_held *h = held_row(b, row);

	return h != NULL && h->r != NULL && works(h->r, b->now) ? h->slot : NULL;
}

/*
 * Sets v's unreached (and unknown) from schema 14's record of its active
 * token, legacy: a consumer it does not name never got that token.
 */
static void
unreached_14(const struct policy_slot *sl, struct slot_view *v, const char *legacy)
{
	for (size_t k = 0; k < sl->eff.ndeliver; k++) {
		if (deliver_among(legacy, &sl->eff.deliver[k]))
			continue;
		if (v->unreached == NULL)
			v->unreached = &sl->eff.deliver[k];
		v->unknown = 1;
	}
}

/* Points each of b's held rows at its row among rows (n of them), if there. */
static void
held_read(struct plan_builder *b, const struct token_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct plan_held *h = held_row(b, rows[i].row);

		if (h != NULL)
			h->r = &rows[i];
	}
}

/* Holds token row (0: none) for a consumer of slot sl, view v, unless it is sl's active one. */
static void
hold(struct plan_builder *b, const struct policy_slot *sl, const struct slot_view *v, int64_t row)
{
	if (row == 0 || (v->active != NULL && row == v->active->row))
		return;
	if (b->nheld == b->held_cap)
		b->held = xgrow(b->held, &b->held_cap, 16, sizeof *b->held);
	b->held[b->nheld++] = (struct plan_held){row, sl, NULL};
}

/*
 * Sets each slot's unreached and stray: a consumer that holds anything but
 * its active token, as the record of what each consumer was last handed
 * says.  The token such a consumer holds, while it works, is held
 * (b->held), not deleted until its slot reaches the consumer, as is the
 * one a consumer of a slot without a token holds, and one a delivery
 * began to hand a consumer and did not see through (offered, and the
 * earlier offers a later one superseded: none makes a slot due, its own
 * slot's plan sees to that).  A slot whose active
 * token's handing is not recorded (made before the record was kept,
 * imported, or by hand) is taken to have reached its consumers, and
 * listed in the plan's unrecorded.  The rows (n, and in's more) give each
 * held row's state; one not among them is gone.
 */
static void
unreached(struct plan_builder *b, const struct plan_input *in, const struct token_row *rows,
	  size_t nrows, struct slot_view *views)
{
	_Static_assert(DELIVER_FINGERPRINT_MAX == SLOTS_HOLDER_MAX, "one key, two lengths");
	const struct policy *p = b->p;
	char key[DELIVER_FINGERPRINT_MAX];
	size_t cap = 0, n = 0;

	for (size_t i = 0; i < p->nslots; i++) {
		const struct policy_slot *sl = p->slots[i];
		struct slot_view *v = &views[i];

		if (v->active != NULL &&
		    (v->reached == NULL || v->reached->row != v->active->row)) {
			const char *legacy = v->legacy != NULL && v->legacy->row == v->active->row
						 ? v->legacy->legacy
						 : NULL;

			if (b->pl->nunrecorded == cap)
				b->pl->unrecorded =
				    xgrow(b->pl->unrecorded, &cap, 16, sizeof *b->pl->unrecorded);
			b->pl->unrecorded[b->pl->nunrecorded++] =
			    (struct plan_unrecorded){sl, v->active->row, legacy};
			if (legacy != NULL)
				unreached_14(sl, v, legacy);
			continue;
		}
		for (size_t k = 0; k < sl->eff.ndeliver; k++) {
			const struct slot_handed *h;

			deliver_holder(sl, &sl->eff.deliver[k], key);
			h = in->nhanded == 0 ? NULL
					     : bsearch(key, in->handed, in->nhanded,
						       sizeof *in->handed, by_consumer);
			if (h != NULL) {
				hold(b, sl, v, h->row);
				hold(b, sl, v, h->offered);
				for (size_t j = 0; j < h->nsuperseded; j++)
					hold(b, sl, v, h->superseded[j]);
			}
			if (v->active != NULL && h != NULL && h->row == v->active->row &&
			    v->regiven == NULL &&
			    !deliver_given_is(&sl->eff.deliver[k], h->given)) {
				v->regiven = &sl->eff.deliver[k];
				v->given = h->given;
			}
			/* Without a working token, only its record says what a consumer holds. */
			if (v->active == NULL)
				v->unknown |= h == NULL || h->row == 0;
			if (v->active == NULL || (h != NULL && h->row == v->active->row))
				continue;
			if (v->unreached == NULL) {
				v->unreached = &sl->eff.deliver[k];
				v->stray_row = h != NULL ? h->row : 0;
			}
			v->unknown |= h == NULL || h->row == 0;
		}
	}
	if (b->nheld == 0)
		return;
	qsort(b->held, b->nheld, sizeof *b->held, by_row);
	for (size_t i = 0; i < b->nheld; i++)
		if (n == 0 || b->held[n - 1].row != b->held[i].row)
			b->held[n++] = b->held[i];
	b->nheld = n;
	held_read(b, rows, nrows);
	held_read(b, in->more, in->nmore);
	for (size_t i = 0; i < p->nslots; i++)
		if (views[i].stray_row != 0)
			views[i].stray = held_row(b, views[i].stray_row);
}

/*
 * A token the slot's consumers may hold that is newer than its active one,
 * or NULL: a replacement an interrupted run began to deliver, or one kept
 * after a later consumer refused it.  Until a rotation reaches them all,
 * the consumers do not agree on one token.
 */
static const struct token_row *
held_newer(const struct slot_view *v)
{
	if (v->leftover != NULL && v->leftover->retire_after != 0)
		return v->leftover;
	if (v->retiring != NULL && v->active != NULL && v->retiring->row > v->active->row)
		return v->retiring;
	return NULL;
}

/* The newer of two rows (either may be NULL): the later intent, which no clock can turn. */
static const struct token_row *
newest(const struct token_row *a, const struct token_row *b)
{
	return a == NULL || (b != NULL && b->row > a->row) ? b : a;
}

/*
 * A token the slot's consumers may hold that is newer than its active one
 * and works no more, or NULL: a replacement kept for a consumer
 * (held_newer) that someone revoked or deleted, or that expired first
 * (its lifetime was shortened since).  Its consumer holds a dead token.
 */
static const struct token_row *
held_dead(const struct plan_builder *b, const struct slot_view *v)
{
	const struct token_row *r = newest(newest(v->dead, v->expired), held_newer(v));

	if (r == NULL || v->active == NULL || r->row <= v->active->row)
		return NULL;
	if (r->state == TOKEN_REVOKED || r->state == TOKEN_DELETED || r->expires_at <= b->now)
		return r;
	return NULL;
}

/* What became of a dead token a consumer may hold ("revoked", ...), and when (at). */
static const char *
dead_how(const struct token_row *r, char at[TIMEFMT_MAX])
{
	int gone = (r->state == TOKEN_REVOKED || r->state == TOKEN_DELETED) &&
		   r->updated_at < r->expires_at;

	timefmt_minute(gone ? r->updated_at : r->expires_at, at);
	return gone ? tokens_state_name(r->state) : "expired";
}

/* A replaced token whose grace is over. */
static void
retiring(struct plan_builder *b, const struct token_row *r)
{
	char at[TIMEFMT_MAX];

	timefmt_minute(r->retire_after, at);
	b->group++;
	plan_add_action(b, PLAN_DELETE_OLD, r->workspace, r->slot, r, r->retire_after,
			r->expires_at, "replaced; its grace ended at %s", at);
}

/*
 * What becomes of a replacement an interrupted run left for a slot the
 * policy has dropped since, where no rotation will resume it: deleted when
 * no consumer got it, as its slot's would be (DESIGN: after a crash); kept,
 * retiring at its expiry, when delivery began, since a consumer may hold it
 * and nothing will hand them a newer one.
 */
static void
dropped_leftover(struct plan_builder *b, const struct token_row *r)
{
	const char *id = r->token != NULL ? r->token : "?";

	b->group++;
	if (r->retire_after != 0)
		plan_add_action(b, PLAN_KEEP_DELIVERED, r->workspace, r->slot, r, b->now,
				r->expires_at,
				"replacement %s reached consumers before an interrupted run "
				"ended, for a slot the policy no longer has; it retires at its "
				"expiry",
				id);
	else
		plan_add_action(b, PLAN_DELETE_UNDELIVERED, r->workspace, r->slot, r, b->now,
				INT64_MAX,
				"replacement %s was made by an interrupted run for a slot the "
				"policy no longer has, and never delivered",
				id);
}

/* Sorts one row into its slot's view, or applies the rules for tokens no slot owns. */
/*
 * How far back a bounded schedule.lost_answers counts a slot's lost
 * answers across runs: the least time between two runs, so that a nightly
 * timer's next run counts none of the last one's, and a daemon, which starts
 * a run whenever a slot is due, waits as long before it sends a bounded
 * slot's creates again.
 */
static int64_t
lost_window(const struct policy *p)
{
	return (p->schedule.interval - p->schedule.random_delay) * MS;
}

/* Whether schedule.lost_answers bounds anything: the default leaves every try. */
static int
lost_bounded(const struct policy *p)
{
	return p->schedule.lost_answers < POLICY_LOST_UNBOUNDED;
}

static void
classify(struct plan_builder *b, const struct token_row *r, struct slot_view *views)
{
	struct slot_view *v = NULL;
	long i = -1;

	/* Deleted, failed and revoked rows matter to no rule: skip them before any look-up. */
	if (!live(r) && r->state != TOKEN_UNKNOWN && r->state != TOKEN_PENDING)
		return;
	if (r->slot != NULL)
		i = policy_slot_index(b->p, r->workspace, r->slot);
	if (i >= 0)
		v = &views[i];
	/* An expired token no longer grants anything; only live risks are violations. */
	if (live(r) && r->expires_at > b->now)
		check_lifetime(b, r);
	if (r->state == TOKEN_UNKNOWN) {
		if (r->expires_at <= b->now)
			return;
		row_finding(b, FIND_UNKNOWN, r, r->expires_at);
		if (v != NULL && r->requested_at > b->now - lost_window(b->p)) {
			if (b->nlost == b->lost_cap)
				b->lost = xgrow(b->lost, &b->lost_cap, 16, sizeof *b->lost);
			b->lost[b->nlost++] = (struct plan_lost){r, i};
		}
		return;
	}
	if (r->state == TOKEN_PENDING) {
		row_finding(b, FIND_IN_FLIGHT, r, r->expires_at);
		if (v != NULL)
			v->pending = r;
		return;
	}
	/* A replacement an interrupted run left for a slot the policy has dropped since. */
	if (v == NULL && r->slot != NULL &&
	    (r->state == TOKEN_CREATED || r->state == TOKEN_VERIFIED) &&
	    policy_find_workspace(b->p, r->workspace) != NULL) {
		dropped_leftover(b, r);
		return;
	}
	/* A replaced token past its grace goes now, expired or not (past_grace). */
	if (r->state == TOKEN_RETIRING && v != NULL && r->retire_after <= b->now) {
		if (r->expires_at <= b->now)
			v->expired = newest(v->expired, r);
		if (b->npast == b->past_cap) {
			b->past_cap = b->past_cap ? 2 * b->past_cap : 16;
			b->past = xrealloc(b->past, b->past_cap * sizeof *b->past);
		}
		b->past[b->npast++] = (struct plan_past){r, i};
		return;
	}
	/* Past expiry; a created or verified row no slot will resume counts as in use. */
	if (r->state == TOKEN_EXPIRED ||
	    ((r->state == TOKEN_ACTIVE || r->state == TOKEN_RETIRING || v == NULL) &&
	     r->expires_at <= b->now)) {
		if (v != NULL && r->state != TOKEN_RETIRING &&
		    (v->lapsed == NULL || v->lapsed->expires_at < r->expires_at))
			v->lapsed = r;
		expired_rule(b, r);
		return;
	}
	if (v == NULL) {
		unmanaged_rule(b, r);
		return;
	}
	switch (r->state) {
	case TOKEN_ACTIVE:
		v->active = r;
		break;
	case TOKEN_RETIRING:
		later(b, r->retire_after);
		if (v->retiring == NULL || v->retiring->row < r->row)
			v->retiring = r;
		break;
	default: /* created or verified */
		v->leftover = r;
		break;
	}
}

/*
 * What becomes of a replacement an interrupted run left behind: deleted when
 * no consumer got it, kept (retiring until its slot's next rotation reaches
 * the consumers) when delivery began, since a consumer may hold it.
 */
static void
leftover(struct plan_builder *b, const struct policy_slot *s, const struct token_row *r,
	 int64_t due, int64_t deadline)
{
	const char *id = r->token != NULL ? r->token : "?";

	if (r->retire_after != 0)
		plan_add_action(b, PLAN_KEEP_DELIVERED, s->ws->name, s->name, r, due, deadline,
				"replacement %s reached consumers before an interrupted run "
				"ended; it retires after the slot's next rotation",
				id);
	else
		plan_add_action(b, PLAN_DELETE_UNDELIVERED, s->ws->name, s->name, r, due, deadline,
				"replacement %s was made by an interrupted run and never "
				"delivered; its secret cannot be read back here",
				id);
}

/* The create, verify, deliver and activate steps of one rotation, in a group of their own. */
static void
rotation(struct plan_builder *b, const struct policy_slot *s, const struct slot_view *v,
	 int64_t due, int64_t deadline, const char *why)
{
	/* A lapsed token still marked active steps aside too: one active per slot. */
	const struct token_row *old = v->active != NULL ? v->active
				      : v->lapsed != NULL && v->lapsed->state == TOKEN_ACTIVE
					  ? v->lapsed
					  : NULL;
	char grace[32];

	b->group++;
	if (v->leftover != NULL)
		leftover(b, s, v->leftover, due, deadline);
	plan_add_action(b, PLAN_CREATE, s->ws->name, s->name, NULL, due, deadline, "%s", why);
	if (s->eff.verify)
		plan_add_action(b, PLAN_VERIFY, s->ws->name, s->name, NULL, due, deadline,
				"prove the new token with a Bearer call");
	if (s->eff.ndeliver > 0)
		plan_add_action(b, PLAN_DELIVER, s->ws->name, s->name, NULL, due, deadline,
				"hand it to %zu consumer%s", s->eff.ndeliver,
				s->eff.ndeliver == 1 ? "" : "s");
	if (old != NULL) {
		if (s->eff.grace > 0)
			timefmt_duration_str(s->eff.grace, grace);
		plan_add_action(b, PLAN_ACTIVATE, s->ws->name, s->name, old, due, deadline,
				"make the new token active; %s %s and is deleted after grace %s",
				old->token,
				old->expires_at <= b->now ? "(expired) retires" : "retires",
				s->eff.grace > 0 ? grace : "0");
	} else
		plan_add_action(b, PLAN_ACTIVATE, s->ws->name, s->name, NULL, due, deadline,
				"make it the slot's active token");
}

/*
 * Earlier failed attempts: a slot that failed stuck_after times in a row is
 * reported, and one in its backoff waits, unless its token would lapse
 * before the next run or its consumers may hold a dead token (they have no
 * working one now).  So does one that reached a bounded lost_answers
 * across runs, slack or none, until the first of those is an interval old
 * (lost_window): a run stops it there, and a daemon would start another.
 * Returns 1 when it must wait.
 */
static int
failed_before(struct plan_builder *b, const struct policy_slot *s, const struct slot_view *v,
	      struct plan_slot_due *d)
{
	const struct slot_state *f = v->failures;
	int64_t lost_until = v->lost_first + lost_window(b->p), next_at = f->next_attempt_at;
	int lost = lost_bounded(b->p) && v->lost >= b->p->schedule.lost_answers &&
		   lost_until > b->now && !d->held_dead;
	char next[TIMEFMT_MAX], why[160] = "";

	if (lost) {
		next_at = lost_until > next_at ? lost_until : next_at;
		snprintf(why, sizeof why,
			 "; %d of its creates since its last token lost their answers "
			 "(schedule.lost_answers %d)",
			 v->lost, b->p->schedule.lost_answers);
	}
	/* To the minute, rounded up: never a time the backoff has not reached. */
	timefmt_minute(next_at + 60 * MS - 1, next);
	/* From the first failure on, so a slot left without a token shows at once. */
	if (f->failures > 0)
		plan_add_finding(
		    b, f->failures >= b->p->schedule.stuck_after ? FIND_STUCK : FIND_FAILING,
		    s->ws->name, s->name, NULL, next_at,
		    "failed %d time%s in a row (last: %s)%s; next attempt not before %s",
		    f->failures, f->failures == 1 ? "" : "s",
		    f->last_error != NULL ? f->last_error : "?", why, next);
	if (d->due > b->now || next_at <= b->now || d->held_dead)
		return 0;
	/* A token that lapses before the next run cannot wait out a backoff. */
	if (!lost && plan_no_slack(b->p, d->deadline, b->now))
		return 0;
	later(b, next_at);
	return 1;
}

/* rotate --force: the slot's rotation now, whatever its due time, backoff or pause. */
static void
forced(struct plan_builder *b, const struct policy_slot *s, const struct slot_view *v,
       struct plan_slot_due *d, const char *why)
{
	char forced_why[448];

	if (v->failures != NULL)
		failed_before(b, s, v, d);
	if (v->pending != NULL) {
		d->skip = 1;
		return;
	}
	snprintf(forced_why, sizeof forced_why, "--force asks for it now%s%s%s",
		 s->eff.paused ? " (the slot is paused)" : "", d->due > b->now ? "; " : " and ",
		 d->due > b->now ? why : "it is due");
	rotation(b, s, v, b->now, d->deadline, forced_why);
}

/*
 * What a reason quotes of a consumer's path: a long one keeps its end, the
 * file's name, in WHY_PATH_MAX bytes, after *dots ("...", else "").
 */
static const char *
quoted(const char *path, const char **dots)
{
	size_t n = strlen(path);

	*dots = n > WHY_PATH_MAX ? "..." : "";
	return n > WHY_PATH_MAX ? path + n - WHY_PATH_MAX : path;
}

/*
 * A slot with a consumer that holds anything but its active token (its
 * unreached): due now when that consumer holds a token that works no
 * more, as one whose consumers hold a dead token is; else at the next run
 * in its window, since its other consumers keep a working token and so
 * does that one, or it has none to lose.  Sets d and why when that is
 * sooner than its due time.
 */
static void
strayed(const struct plan_builder *b, const struct policy_slot *s, const struct slot_view *v,
	struct plan_slot_due *d, char *why, size_t size)
{
	const struct policy_deliver *c = v->unreached;
	const struct token_row *r = v->stray != NULL ? v->stray->r : NULL;
	const char *dots, *where = quoted(c->kind == DELIVER_FILE ? c->path : c->argv[0], &dots);
	const char *kind = c->kind == DELIVER_FILE ? "file" : "exec";
	const char *id = r != NULL && r->token != NULL ? r->token : "?";
	int dead = v->stray_row != 0 && (r == NULL || !works(r, b->now));
	int64_t at = dead ? b->now : window_at(s, b->now);

	if (at >= d->due)
		return;
	d->due = at;
	d->held_dead = dead;
	if (v->stray_row == 0)
		snprintf(why, size,
			 "its consumer %s %s%s never got %s (the policy added it since): only a "
			 "rotation hands it a token",
			 kind, dots, where, v->active->token);
	else if (r == NULL)
		snprintf(why, size,
			 "its consumer %s %s%s holds a token deleted or revoked since (the policy "
			 "moved it here since); a rotation gives it a working token",
			 kind, dots, where);
	else if (dead)
		snprintf(why, size,
			 "its consumer %s %s%s holds %s, %s (the policy moved it here since); a "
			 "rotation gives it a working token",
			 kind, dots, where, id,
			 r->state == TOKEN_DELETED || r->state == TOKEN_REVOKED
			     ? tokens_state_name(r->state)
			     : "expired");
	else
		snprintf(why, size,
			 "its consumer %s %s%s holds %s, not %s (the policy moved it here "
			 "since): only a rotation hands it this slot's token",
			 kind, dots, where, id, v->active->token);
}

/*
 * Says who a file is given to by given (deliver_given's "OWNER:GROUP"), or,
 * when given is NULL, by d's policy, into out: each name cut at 32 bytes.
 */
static void
given_text(const struct policy_deliver *d, const char *given, char *out, size_t size)
{
	const char *owner = d->owner != NULL ? d->owner : "",
		   *group = d->group != NULL ? d->group : "";
	const char *colon = given != NULL ? strchr(given, ':') : NULL;
	int no = (int)strlen(owner);

	if (colon != NULL) {
		owner = given;
		no = (int)(colon - given);
		group = colon + 1;
	}
	if (no == 0 && *group == '\0')
		snprintf(out, size, "tokenwarden's own user and group");
	else if (*group == '\0')
		snprintf(out, size, "owner %.*s", no < 32 ? no : 32, owner);
	else if (no == 0)
		snprintf(out, size, "group %.32s", group);
	else
		snprintf(out, size, "owner %.*s, group %.32s", no < 32 ? no : 32, owner, group);
}

/*
 * A slot with a file consumer its active token reached, given another
 * owner or group than the policy gives it now: due at the next run in its
 * window, since only a rotation writes the file, and its token still
 * works.  Sets d and why when that is sooner than its due time.
 */
static void
regiven(const struct plan_builder *b, const struct policy_slot *s, const struct slot_view *v,
	struct plan_slot_due *d, char *why, size_t size)
{
	const struct policy_deliver *c = v->regiven;
	const char *dots, *where = quoted(c->path, &dots);
	char was[96], now[96];
	int64_t at = window_at(s, b->now);

	if (at >= d->due)
		return;
	d->due = at;
	given_text(c, v->given, was, sizeof was);
	given_text(c, NULL, now, sizeof now);
	snprintf(why, size,
		 "its consumer file %s%s was given %s; the policy now gives it %s: only a rotation "
		 "writes the file so",
		 dots, where, was, now);
}

/* Decides what slot s needs; fills d for the capacity estimate. */
static void
evaluate(struct plan_builder *b, const struct policy_slot *s, const struct slot_view *v,
	 struct plan_slot_due *d)
{
	char exp[TIMEFMT_MAX], when[TIMEFMT_MAX], rb[32], why[384];
	const struct token_row *newer, *dead;
	const char *how;
	int64_t due;

	d->skip = 0;
	d->has_old = v->active != NULL;
	if (v->active == NULL) {
		d->due = b->now;
		d->deadline = INT64_MAX;
		if (v->lapsed != NULL) {
			timefmt_minute(v->lapsed->expires_at, exp);
			plan_add_finding(b, FIND_OVERDUE, s->ws->name, s->name, v->lapsed,
					 v->lapsed->expires_at,
					 "has no working token: %s expired at %s",
					 v->lapsed->token != NULL ? v->lapsed->token : "?", exp);
			snprintf(why, sizeof why, "its token expired at %s", exp);
		} else if (v->dead != NULL) {
			how = dead_how(v->dead, when);
			snprintf(why, sizeof why, "its token %s was %s at %s",
				 v->dead->token != NULL ? v->dead->token : "?", how, when);
		} else
			snprintf(why, sizeof why, "the slot has no token yet");
	} else {
		due = plan_due(b->p, s, v->active->expires_at);
		d->due = due;
		d->deadline = v->active->expires_at;
		timefmt_minute(v->active->expires_at, exp);
		timefmt_minute(due, when);
		timefmt_duration_str(policy_rotate_before(&s->eff), rb);
		snprintf(why, sizeof why, "%s expires %s; due %s (rotate_before %s%s)",
			 v->active->token, exp, when, rb, s->eff.window != NULL ? ", window" : "");
		/*
		 * plan_due ignores a window that opens only after expiry, or only
		 * after the last run that can start before it: the slot is then
		 * rotated outside its window.
		 */
		if (s->eff.window != NULL && !window_is_open(s->eff.window, secs(due)))
			plan_add_finding(
			    b, FIND_OVERDUE, s->ws->name, s->name, v->active, v->active->expires_at,
			    window_next_open(s->eff.window, secs(due)) < secs(v->active->expires_at)
				? "the window opens only after the last run before %s expires at "
				  "%s; "
				  "that run rotates it outside the window"
				: "the window does not open before %s expires at %s",
			    v->active->token, exp);
	}
	/* Consumers split between two tokens: a rotation now brings them together. */
	newer = held_newer(v);
	dead = held_dead(b, v);
	d->held_dead = dead != NULL;
	if (dead != NULL && d->due > b->now) {
		d->due = b->now;
		how = dead_how(dead, when);
		snprintf(why, sizeof why,
			 "its consumers may hold %s, %s at %s; a rotation gives them a working "
			 "token",
			 dead->token != NULL ? dead->token : "?", how, when);
	} else if (newer != NULL && v->active != NULL && d->due > b->now) {
		d->due = b->now;
		snprintf(why, sizeof why,
			 "its consumers may hold %s, newer than the active %s; a rotation reaches "
			 "them all",
			 newer->token != NULL ? newer->token : "?", v->active->token);
	} else if (v->unreached != NULL) {
		strayed(b, s, v, d, why, sizeof why);
	} else if (v->regiven != NULL) {
		regiven(b, s, v, d, why, sizeof why);
	}
	if (s == b->force) {
		forced(b, s, v, d, why);
		return;
	}
	if (s->eff.paused) {
		d->skip = 1;
		if (d->due <= b->now)
			plan_add_finding(b, FIND_PAUSED, s->ws->name, s->name, v->active, d->due,
					 "paused, and due: %s", why);
		return;
	}
	if (v->pending != NULL) {
		d->skip = 1;
		return;
	}
	if (v->failures != NULL && failed_before(b, s, v, d))
		return;
	if (d->due > b->now) {
		later(b, d->due);
		if (v->leftover != NULL) {
			b->group++;
			leftover(b, s, v->leftover, b->now, v->leftover->expires_at);
		}
		return;
	}
	rotation(b, s, v, d->due, d->deadline, why);
}

/* Whether a is a deletion an enforce rule asks for, of a token no slot has. */
static int
enforced(const struct plan_action *a)
{
	return a->kind == PLAN_DELETE_UNMANAGED || a->kind == PLAN_DELETE_EXPIRED;
}

static int
action_order(const void *x, const void *y)
{
	const struct plan_action *a = x, *b = y;
	int c;

	if (a->deadline != b->deadline)
		return a->deadline < b->deadline ? -1 : 1;
	/*
	 * Of one deadline, an enforce rule's deletions come last: the token may
	 * be the one a renamed slot's consumer holds until its first rotation.
	 */
	if (enforced(a) != enforced(b))
		return enforced(a) ? 1 : -1;
	if (a->due != b->due)
		return a->due < b->due ? -1 : 1;
	c = strcmp(a->workspace, b->workspace);
	if (c != 0)
		return c;
	if ((a->slot == NULL) != (b->slot == NULL))
		return a->slot == NULL ? 1 : -1;
	c = a->slot != NULL ? strcmp(a->slot, b->slot) : 0;
	if (c != 0)
		return c;
	if (a->group != b->group)
		return a->group < b->group ? -1 : 1;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	return a->row < b->row ? -1 : a->row > b->row;
}

/* Workspaces left alone because their server's clock disagreed at the last run. */
static void
clocks(struct plan_builder *b, const struct plan_input *in)
{
	char at[TIMEFMT_MAX];

	for (size_t i = 0; i < in->nclocks; i++) {
		const struct clock_state *c = &in->clocks[i];

		if (policy_find_workspace(b->p, c->workspace) == NULL)
			continue;
		timefmt_minute(c->checked_at, at);
		plan_add_finding(b, FIND_CLOCK, c->workspace, NULL, NULL, c->checked_at,
				 "the run at %s did nothing in this workspace: %s; it stays so "
				 "until the host's clock and the server's agree",
				 at, c->error);
	}
}

static void
personal(struct plan_builder *b)
{
	if (b->p->enforce.personal != RULE_REPORT)
		return;
	for (size_t i = 0; i < b->p->nws; i++)
		if (b->p->ws[i].credential_kind == CRED_PERSONAL)
			plan_add_finding(b, FIND_PERSONAL, b->p->ws[i].name, NULL, NULL, 0,
					 "credential '%s' is a personal API token, deprecated by "
					 "Mode; use a workspace API token",
					 b->p->ws[i].credential);
}

/*
 * The first slot with a consumer handed nothing yet (added, or one of a
 * slot that never had a token), or NULL: what that consumer holds is not
 * known.
 */
static const struct policy_slot *
unknown_slot(const struct plan_builder *b, const struct slot_view *views)
{
	for (size_t i = 0; i < b->p->nslots; i++)
		if (views[i].unknown)
			return b->p->slots[i];
	return NULL;
}

/*
 * unknown_slot, else the first slot without a token and without consumers
 * (paused, say, and served by hand), or NULL: either may hold any token
 * tokenwarden did not hand out itself.  A slot whose token lapsed is not
 * bare when each of its consumers' records names the token it holds.
 */
static const struct policy_slot *
bare_slot(const struct plan_builder *b, const struct slot_view *views)
{
	const struct policy_slot *unknown = unknown_slot(b, views);

	if (unknown != NULL)
		return unknown;
	for (size_t i = 0; i < b->p->nslots; i++)
		if (views[i].active == NULL && b->p->slots[i]->eff.ndeliver == 0)
			return b->p->slots[i];
	return NULL;
}

/*
 * The unmanaged tokens due for deletion: each is deleted once every slot of
 * the policy has an active token made after it, and no consumer of the
 * policy holds it (unreached); until then it is a finding naming a slot
 * with a consumer handed nothing yet, or without token and consumers (the
 * first: bare_slot), else the slot of a consumer that holds it, else the
 * slot whose active token is oldest.  Such a slot may be one renamed in
 * the policy, renamed back, or moved to another workspace, or one a
 * consumer moved to: its consumers may still hold the token now unmanaged,
 * and deleting that before the slot's next token reaches them leaves them
 * a dead token (DESIGN's trust rules) when that rotation fails or is weeks
 * away.  What a consumer handed nothing yet holds is not known, so such a
 * slot holds every deletion back.
 */
static void
unmanaged_due(struct plan_builder *b, const struct slot_view *views, const struct policy_slot *bare)
{
	const struct policy_slot *oldest = NULL;
	int64_t oldest_at = INT64_MAX;

	for (size_t i = 0; i < b->p->nslots; i++) {
		const struct token_row *a = views[i].active;

		if (a != NULL && born(a) < oldest_at) {
			oldest_at = born(a);
			oldest = b->p->slots[i];
		}
	}
	for (size_t k = 0; k < b->nunmanaged; k++) {
		const struct token_row *r = b->unmanaged[k].r;
		const struct policy_slot *waits = bare;
		struct plan_finding *f;

		if (waits == NULL)
			waits = holder(b, r->row);
		if (waits == NULL && oldest_at < born(r))
			waits = oldest;
		if (waits == NULL) {
			b->group++;
			enforce_action(b, PLAN_DELETE_UNMANAGED, r, b->unmanaged[k].when,
				       b->p->enforce.unmanaged_after);
			continue;
		}
		f = row_finding(b, FIND_UNMANAGED, r, r->expires_at);
		if (f != NULL)
			f->waits = waits;
	}
	free(b->unmanaged);
	b->unmanaged = NULL;
}

/* Counts each slot's lost answers since its active token was made (lost_window). */
static void
lost_answers(struct plan_builder *b, struct slot_view *views)
{
	for (size_t k = 0; k < b->nlost; k++) {
		const struct token_row *r = b->lost[k].r;
		struct slot_view *v = &views[b->lost[k].slot];

		if (v->active != NULL && r->requested_at <= born(v->active))
			continue;
		if (v->lost == 0 || r->requested_at < v->lost_first)
			v->lost_first = r->requested_at;
		v->lost++;
	}
	free(b->lost);
	b->lost = NULL;
}

/*
 * Deletes the replaced tokens past their grace, now that every row is seen,
 * but not a replacement kept for a consumer (newer than its slot's active
 * token and retiring at its expiry), which its slot's next rotation must
 * reach first (held_dead).  A newer one the tool set to go before its expiry
 * goes as any: one whose consumers all took a later one (tokens_keep), or
 * one the first consumer refused, which a crash kept from its DELETE.  One
 * a consumer moved to another slot holds stays until that slot's token
 * reaches it, and is a held finding meanwhile: should that slot wait long,
 * be paused or fail, the token would otherwise outlive its grace unsaid.
 * So does an imported one while a consumer is handed nothing yet (unknown):
 * an admin hands an imported token by hand, and may have moved that
 * consumer before any run recorded what it holds.  A slot without
 * consumers holds none back: it is served by hand whether its token works
 * or lapsed, and the deletion a run killed after its DELETE left would
 * keep a token the server no longer has listed as live.
 */
static void
past_grace(struct plan_builder *b, const struct slot_view *views, const struct policy_slot *unknown)
{
	for (size_t k = 0; k < b->npast; k++) {
		const struct token_row *r = b->past[k].r;
		long i = b->past[k].slot;
		const struct token_row *active = views[i].active;
		int kept =
		    active != NULL && r->row > active->row && r->retire_after >= r->expires_at;
		const struct policy_slot *waits;
		struct plan_finding *f;

		if (b->p->slots[i]->eff.paused || kept)
			continue;
		waits = holder(b, r->row);
		if (waits == NULL && r->origin != NULL && strcmp(r->origin, "imported") == 0 &&
		    works(r, b->now))
			waits = unknown;
		if (waits == NULL) {
			retiring(b, r);
			continue;
		}
		f = row_finding(b, FIND_HELD, r, r->expires_at);
		if (f != NULL)
			f->waits = waits;
	}
	free(b->past);
	b->past = NULL;
}

void
plan_build(const struct policy *p, const struct token_row *rows, size_t n, int64_t now,
	   struct plan *out)
{
	plan_build_with(p, rows, n, now, NULL, out);
}

void
plan_build_with(const struct policy *p, const struct token_row *rows, size_t n, int64_t now,
		const struct plan_input *in, struct plan *out)
{
	static const struct plan_input none;
	struct plan_builder b = {.pl = out, .p = p, .now = now};
	struct slot_view *views = xcalloc(p->nslots + 1, sizeof *views);
	struct plan_slot_due *dues = xcalloc(p->nslots + 1, sizeof *dues);

	if (in == NULL)
		in = &none;
	b.force = in->force;
	b.omit = in->omit;
	memset(out, 0, sizeof *out);
	out->next_at = INT64_MAX;
	for (size_t i = 0; i < in->nstates; i++) {
		long j = policy_slot_index(p, in->states[i].workspace, in->states[i].slot);

		if (j >= 0)
			views[j].failures = &in->states[i];
	}
	for (size_t i = 0; i < in->nreached; i++) {
		const struct slot_reached *r = &in->reached[i];
		long j = policy_slot_index(p, r->workspace, r->slot);

		if (j >= 0 && r->legacy != NULL)
			views[j].legacy = r;
		else if (j >= 0)
			views[j].reached = r;
	}
	for (size_t i = 0; i < in->ndead; i++) {
		const struct token_row *r = &in->dead[i];
		long j = r->slot != NULL ? policy_slot_index(p, r->workspace, r->slot) : -1;

		if (j >= 0)
			views[j].dead = newest(views[j].dead, r);
	}
	for (size_t i = 0; i < n; i++)
		classify(&b, &rows[i], views);
	for (size_t i = 0; i < in->nmore; i++)
		classify(&b, &in->more[i], views);
	unreached(&b, in, rows, n, views);
	past_grace(&b, views, unknown_slot(&b, views));
	unmanaged_due(&b, views, bare_slot(&b, views));
	lost_answers(&b, views);
	for (size_t i = 0; i < p->nslots; i++)
		evaluate(&b, p->slots[i], &views[i], &dues[i]);
	personal(&b);
	clocks(&b, in);
	plan_capacity(&b, dues);
	if (out->nactions > 1)
		qsort(out->actions, out->nactions, sizeof *out->actions, action_order);
	free(b.held);
	free(views);
	free(dues);
}

char *
plan_finding_text(const struct plan_finding *f)
{
	const struct token_row *r = f->r;
	char at[TIMEFMT_MAX], life[TIMEFMT_MAX], limit[TIMEFMT_MAX];
	const char *what;

	if (r == NULL)
		return xstrdup(f->text);
	/* Joined rather than formatted: a large plan writes thousands of these. */
	switch (f->kind) {
	case FIND_MAX_LIFETIME:
		timefmt_age_str((r->expires_at - born(r)) / MS, life);
		timefmt_duration_str(f->limit, limit);
		return xstrjoin("lives ", life, ", longer than enforce max_lifetime ", limit);
	case FIND_EXPIRED:
		timefmt_minute(r->expires_at, at);
		return xstrjoin("expired at ", at, " and is still on the server");
	case FIND_UNMANAGED:
		timefmt_minute(born(r), at);
		what = r->slot != NULL ? "a token of a slot the policy no longer has"
				       : "an unmanaged token";
		if (f->waits == NULL)
			return xstrjoin(what, ", made ", at, ", belongs to no slot of the policy");
		return xstrjoin(what, ", made ", at,
				", belongs to no slot of the policy; deleted once ",
				f->waits->ws->name, "/", f->waits->name,
				" has an active token newer than it that reached each of its "
				"consumers (one may hold it)");
	case FIND_UNKNOWN:
		timefmt_minute(r->expires_at, at);
		return xstrjoin("a create whose answer was lost; token '", r->name,
				"' may exist until ", at);
	case FIND_HELD:
		timefmt_minute(r->retire_after, at);
		return xstrjoin("replaced, past its grace since ", at, ", and kept: a consumer of ",
				f->waits->ws->name, "/", f->waits->name, " holds it; deleted once ",
				f->waits->ws->name, "/", f->waits->name,
				"'s next token reaches that consumer");
	case FIND_IN_FLIGHT:
	default: /* no other kind is a row's (row_finding) */
		return xstrjoin("another process is creating token '", r->name, "'");
	}
}

const char *
plan_action_why(const struct plan_action *a, char buf[PLAN_WHY_MAX])
{
	char at[TIMEFMT_MAX], after[TIMEFMT_MAX] = "0";

	if (a->why != NULL)
		return a->why;
	if (a->after > 0)
		timefmt_duration_str(a->after, after);
	if (a->kind == PLAN_DELETE_EXPIRED) {
		timefmt_minute(a->r->expires_at, at);
		strjoin(buf, PLAN_WHY_MAX, "expired at ", at, "; enforce expired delete_after ",
			after);
	} else {
		timefmt_minute(born(a->r), at);
		strjoin(buf, PLAN_WHY_MAX, "belongs to no slot; made ", at,
			", enforce unmanaged delete_after ", after);
	}
	return buf;
}

void
plan_free(struct plan *pl)
{
	for (size_t i = 0; i < pl->nactions; i++)
		free(pl->actions[i].why);
	free(pl->actions);
	for (size_t i = 0; i < pl->nfindings; i++)
		free(pl->findings[i].text);
	free(pl->findings);
	free(pl->unrecorded);
	memset(pl, 0, sizeof *pl);
}
