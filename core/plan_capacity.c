/*
 * The capacity estimate: can the request budget of each credential rotate
 * every slot due in the next capacity_days before its deadline, given runs
 * every schedule.interval lasting at most schedule.max_time?  Each run takes
 * the due rotations earliest deadline first, as rotate does, and a rotation
 * of c requests finishes c * window / requests seconds into the run.
 */
#include "core/plan_priv.h"

#include "core/timefmt.h"
#include "core/xalloc.h"

#include <stdlib.h>
#include <string.h>

#define MS 1000
/* More rotations of one slot than this in the horizon say nothing more. */
#define MAX_PER_SLOT 400

struct job {
	int64_t due, deadline;
	int64_t first_run; /* the first run it was due in */
	int cost;
	const struct policy_slot *slot;
};

struct jobs {
	struct job *v;
	size_t n, cap;
};

static void
push(struct jobs *j, int64_t due, int64_t deadline, int cost, const struct policy_slot *s)
{
	if (j->n == j->cap)
		j->v = xgrow(j->v, &j->cap, 256, sizeof *j->v);
	j->v[j->n].due = due;
	j->v[j->n].deadline = deadline;
	j->v[j->n].first_run = INT64_MAX;
	j->v[j->n].cost = cost;
	j->v[j->n].slot = s;
	j->n++;
}

/* Adds a slot's rotations in the horizon: the one due now, then each replacement's. */
static void
slot_jobs(struct jobs *j, const struct policy *p, const struct plan_slot_due *d,
	  const struct policy_slot *s, int64_t now, int64_t horizon)
{
	int cost = 1 + (s->eff.verify ? 1 : 0);
	int64_t due = d->due, deadline = d->deadline;
	int has_old = d->has_old;

	for (int k = 0; k < MAX_PER_SLOT && due <= horizon; k++) {
		int64_t made = due > now ? due : now;

		push(j, due, deadline, cost + (has_old ? 1 : 0), s);
		has_old = 1;
		deadline = made + s->eff.lifetime * MS;
		due = plan_due(p, s, deadline);
		if (due <= made)
			break; /* cannot happen for a checked policy; never loop */
	}
}

static int
by_due(const void *x, const void *y)
{
	const struct job *a = x, *b = y;

	return a->due < b->due ? -1 : a->due > b->due;
}

/* A binary min-heap of jobs by deadline. */
struct heap {
	const struct job **v;
	size_t n;
};

static void
heap_push(struct heap *h, const struct job *j)
{
	size_t i = h->n++;

	while (i > 0 && h->v[(i - 1) / 2]->deadline > j->deadline) {
		h->v[i] = h->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->v[i] = j;
}

static const struct job *
heap_pop(struct heap *h)
{
	const struct job *top = h->v[0], *last = h->v[--h->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1]->deadline < h->v[c]->deadline)
			c++;
		if (h->v[c]->deadline >= last->deadline)
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n > 0)
		h->v[i] = last;
	return top;
}

/* Runs one credential's jobs through the nightly runs; returns the first miss, or NULL. */
static const struct job *
simulate(const struct policy *p, const struct policy_workspace *w, struct jobs *j, int64_t now,
	 int64_t horizon, int64_t *finish)
{
	struct heap h = {xcalloc(j->n + 1, sizeof *h.v), 0};
	int64_t interval = p->schedule.interval * MS;
	/* Requests one run can send; -1: no limit on the run's length. */
	int64_t budget = p->schedule.max_time > 0
			     ? p->schedule.max_time * w->rate_requests / w->rate_window
			     : -1;
	const struct job *miss = NULL;
	size_t next = 0;

	if (j->n > 1)
		qsort(j->v, j->n, sizeof *j->v, by_due);
	for (int64_t run = now; run <= horizon && miss == NULL; run += interval) {
		int64_t used = 0;

		while (next < j->n && j->v[next].due <= run) {
			j->v[next].first_run = run;
			heap_push(&h, &j->v[next++]);
		}
		while (h.n > 0) {
			const struct job *top = h.v[0];
			int64_t done;

			if (budget >= 0 && used + top->cost > budget)
				break;
			heap_pop(&h);
			used += top->cost;
			done = run + used * w->rate_window * MS / w->rate_requests;
			if (done > top->deadline) {
				miss = top;
				*finish = done;
				break;
			}
		}
		/* What waits for the next run misses if its deadline comes first. */
		if (miss == NULL && h.n > 0 && h.v[0]->deadline < run + interval) {
			miss = h.v[0];
			*finish = run + interval <= horizon ? run + interval : INT64_MAX;
		}
	}
	free(h.v);
	return miss;
}

/* Two workspaces share a budget when they use the same credential at the same API. */
static int
same_credential(const struct policy_workspace *a, const struct policy_workspace *b)
{
	return strcmp(a->credential, b->credential) == 0 && strcmp(a->api, b->api) == 0;
}

static void
capacity_finding(struct plan_builder *b)
{
	const struct plan_capacity *c = &b->pl->capacity;
	const struct policy_schedule *sc = &b->p->schedule;
	char due[TIMEFMT_MAX], dl[TIMEFMT_MAX], fin[TIMEFMT_MAX], every[32], max[32], per[32];

	timefmt_minute(c->due, due);
	timefmt_minute(c->deadline, dl);
	timefmt_duration_str(sc->interval, every);
	if (c->no_run) {
		plan_add_finding(b, FIND_CAPACITY, c->workspace, c->slot, NULL, c->deadline,
				 "falls due at %s after one run and expires at %s before the next "
				 "(runs every %s from this plan's time of day): lengthen "
				 "rotate_before or run more often",
				 due, dl, every);
		return;
	}
	if (c->finish == INT64_MAX)
		snprintf(fin, sizeof fin, "in no run before the horizon");
	else
		timefmt_minute(c->finish, fin);
	timefmt_duration_str(c->rate_window, per);
	if (sc->max_time > 0)
		timefmt_duration_str(sc->max_time, max);
	plan_add_finding(b, FIND_CAPACITY, c->workspace, c->slot, NULL, c->deadline,
			 "the request budget (%d per %s, runs of %s%s every %s) cannot rotate "
			 "everything due in the next %d days: this slot must be rotated by %s but "
			 "would be done %s%s",
			 c->rate_requests, per, sc->max_time > 0 ? "at most " : "any length",
			 sc->max_time > 0 ? max : "", every, sc->capacity_days, dl,
			 c->finish == INT64_MAX ? "" : "at ", fin);
}

void
plan_capacity(struct plan_builder *b, const struct plan_slot_due *dues)
{
	const struct policy *p = b->p;
	struct plan_capacity *c = &b->pl->capacity;
	int64_t horizon = b->now + (int64_t)p->schedule.capacity_days * 86400 * MS;
	memset(c, 0, sizeof *c);
	c->ok = 1;
	c->horizon = horizon;
	for (size_t w = 0; w < p->nws; w++) {
		struct jobs j = {0};
		const struct job *miss;
		int64_t finish = 0;
		size_t first = w;

		for (size_t v = 0; v < w; v++)
			if (same_credential(&p->ws[v], &p->ws[w]))
				first = v;
		if (first != w)
			continue; /* counted with the first workspace of its credential */
		for (size_t i = 0; i < p->nslots; i++)
			if (!dues[i].skip && same_credential(p->slots[i]->ws, &p->ws[w]))
				slot_jobs(&j, p, &dues[i], p->slots[i], b->now, horizon);
		c->rotations += j.n;
		miss = simulate(p, &p->ws[w], &j, b->now, horizon, &finish);
		if (miss != NULL && (c->ok || miss->deadline < c->deadline)) {
			c->ok = 0;
			c->workspace = miss->slot->ws->name;
			c->slot = miss->slot->name;
			c->due = miss->due;
			c->deadline = miss->deadline;
			c->finish = finish;
			/* Due after one run and expiring before the next: timing, not budget. */
			c->no_run = miss->first_run > miss->deadline;
			c->rate_requests = p->ws[w].rate_requests;
			c->rate_window = p->ws[w].rate_window;
		}
		free(j.v);
	}
	if (!c->ok)
		capacity_finding(b);
}
