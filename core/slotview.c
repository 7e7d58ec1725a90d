/* Each policy slot at a glance; see slotview.h. */
#include "core/slotview.h"

#include "core/xalloc.h"
#include "store/events.h"
#include "store/slots.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define MS INT64_C(1000)

static const char *const words[SLOT_NWORDS] = {
    [SLOT_OK] = "ok",           [SLOT_DUE] = "due",     [SLOT_PAUSED] = "paused",
    [SLOT_FAILING] = "failing", [SLOT_STUCK] = "stuck", [SLOT_OVERDUE] = "overdue",
};

const char *
slotview_word_name(enum slot_word w)
{
	return w >= 0 && w < SLOT_NWORDS ? words[w] : "?";
}

enum slot_word
slotview_word(const struct slot_facts *f)
{
	if (f->overdue)
		return SLOT_OVERDUE;
	if (f->failures > 0 && f->failures >= f->stuck_after)
		return SLOT_STUCK;
	if (f->failures > 0)
		return SLOT_FAILING;
	if (f->paused)
		return SLOT_PAUSED;
	if (f->due)
		return SLOT_DUE;
	return SLOT_OK;
}

int
slotview_slack(const struct policy *p, const struct policy_slot *s, int64_t expires_at, int64_t due,
	       int64_t now)
{
	int64_t from = due > now ? due : now, open, runs;

	if (expires_at <= now || p->schedule.interval <= 0)
		return 0;
	open = (expires_at - from) / MS - p->schedule.random_delay;
	if (s->eff.window != NULL && s->eff.window->longest_gap > 0)
		open -= s->eff.window->longest_gap;
	runs = open / p->schedule.interval;
	if (runs < 1)
		return 0;
	return runs - 1 > INT_MAX ? INT_MAX : (int)(runs - 1);
}

/* The index in p->slots of workspace/slot, or -1 (unmanaged, or a slot the policy lost). */
static long
index_of(const struct policy *p, const char *ws, const char *slot)
{
	return ws != NULL && slot != NULL ? policy_slot_index(p, ws, slot) : -1;
}

/* What last_active needs: the policy and the view it fills. */
struct history_ctx {
	const struct policy *p;
	struct slotview *v;
};

static int
last_active(const char *ws, const char *slot, int64_t at, void *arg)
{
	struct history_ctx *h = arg;
	long i = index_of(h->p, ws, slot);

	if (i >= 0)
		h->v->slots[i].last_success = at;
	return 0;
}

/* Sets each slot's failures (from the report) and last success (from the history). */
static int
history(struct store *s, const struct policy *p, const struct report *r, struct slotview *v,
	char **cause)
{
	struct history_ctx h = {p, v};
	long i;

	for (size_t k = 0; k < r->nstates; k++) {
		i = index_of(p, r->states[k].workspace, r->states[k].slot);
		if (i < 0 || r->states[k].failures <= 0)
			continue;
		v->slots[i].failures = r->states[k].failures;
		v->slots[i].next_attempt = r->states[k].next_attempt_at;
	}
	/* Served by the index events_by_kind (schema 9), however long the history. */
	return events_last_active(s, last_active, &h, cause) == 0 ? 0 : -1;
}

int
slotview_build(struct store *s, const struct policy *p, const struct report *r, int64_t now,
	       struct slotview *v, char **cause)
{
	unsigned char *overdue = NULL, *due = NULL;
	long i;

	memset(v, 0, sizeof *v);
	v->nslots = p->nslots;
	v->slots = xcalloc(p->nslots + 1, sizeof *v->slots);
	overdue = xcalloc(p->nslots + 1, 1);
	due = xcalloc(p->nslots + 1, 1);
	for (size_t k = 0; k < p->nslots; k++)
		v->slots[k].slot = p->slots[k];
	if (history(s, p, r, v, cause) < 0) {
		slotview_free(v);
		free(overdue);
		free(due);
		return -1;
	}
	/* At most one active row per slot (the store enforces it); an expired one still shows. */
	for (size_t k = 0; k < r->nrows + r->nmore; k++) {
		struct token_row *row = k < r->nrows ? &r->rows[k] : &r->more[k - r->nrows];

		i = row->state == TOKEN_ACTIVE ? index_of(p, row->workspace, row->slot) : -1;
		if (i >= 0)
			v->slots[i].active = row;
	}
	for (size_t k = 0; k < r->plan.nfindings; k++) {
		const struct plan_finding *f = &r->plan.findings[k];

		i = f->kind == FIND_OVERDUE ? index_of(p, f->workspace, f->slot) : -1;
		if (i >= 0)
			overdue[i] = 1;
	}
	for (size_t k = 0; k < r->plan.nactions; k++) {
		const struct plan_action *a = &r->plan.actions[k];

		i = a->kind == PLAN_CREATE ? index_of(p, a->workspace, a->slot) : -1;
		if (i >= 0)
			due[i] = 1;
	}
	for (size_t k = 0; k < p->nslots; k++) {
		struct slotview_slot *e = &v->slots[k];
		struct slot_facts f = {.overdue = overdue[k],
				       .failures = e->failures,
				       .stuck_after = p->schedule.stuck_after,
				       .paused = e->slot->eff.paused};
		int64_t at = now;

		if (e->active != NULL) {
			e->expires_at = e->active->expires_at;
			at = plan_due(p, e->slot, e->expires_at);
			e->slack = slotview_slack(p, e->slot, e->expires_at, at, now);
		}
		f.due = due[k] || at <= now;
		/* The plan may rotate a slot before its token is due (its consumers split). */
		e->next_rotation = at > now && !f.due ? at : now;
		e->overdue = f.overdue;
		e->stuck = f.failures > 0 && f.failures >= f.stuck_after;
		e->due = f.due;
		e->word = slotview_word(&f);
		v->by_word[e->word]++;
	}
	free(overdue);
	free(due);
	return 0;
}

void
slotview_free(struct slotview *v)
{
	free(v->slots);
	memset(v, 0, sizeof *v);
}
