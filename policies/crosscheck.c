/* Checks across a slot's effective settings; see crosscheck.h. */
#include "policies/crosscheck.h"

#include "core/mode.h"
#include "core/timefmt.h"
#include "core/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define YEAR (365 * 86400)
/* The widest time a name can carry: every digit of {yyyymmddhhmm} is used. */
#define NAME_PROBE_MS (INT64_C(253402300740) * 1000) /* 9999-12-31T23:59Z */

/* Writes "lifetime 30d (token, line 12)" for messages. */
static void
describe(const struct policy_slot *s, enum policy_field f, int64_t secs, char *buf, size_t size)
{
	char d[32];

	loader_duration_str(secs, d);
	if (s->from[f] == PL_BUILTIN)
		snprintf(buf, size, "%s %s (built-in)", policy_field_name(f), d);
	else
		snprintf(buf, size, "%s %s (%s, line %d)", policy_field_name(f), d,
			 policy_level_name(s->from[f]), s->eff.line[f]);
}

/* A node standing for the slot's place in the file, for messages. */
static struct ynode
at_slot(const struct policy_slot *s)
{
	struct ynode n = {.type = YNODE_SCALAR, .line = s->line, .col = s->col};

	return n;
}

static void
check_name(struct loader *ld, const struct policy_slot *s, const struct ynode *at)
{
	char *cause = NULL, *name = policy_render_name(s, NAME_PROBE_MS, &cause);

	if (name == NULL)
		loader_error(ld, at, "slot '%s': %s", s->name, cause);
	else if (mode_check_name(name, &cause) < 0)
		loader_error(ld, at,
			     "slot '%s': name_template: %s; shorten the template or the slot name",
			     s->name, cause);
	free(name);
	free(cause);
}

/*
 * Warns when slot s tolerates fewer than two failed runs in a row before
 * its token lapses (rb_secs is its rotate_before).
 */
static void
check_slack(struct loader *ld, const struct policy *p, const struct policy_slot *s,
	    const struct ynode *at, int64_t rb_secs)
{
	const struct policy_schedule *sc = &p->schedule;
	int64_t gap = s->eff.window != NULL ? s->eff.window->longest_gap : 0;
	int slack = policy_slack(p, s);
	char every[32], late[32], need[32], g[32], closed[64] = "", rb[96];

	/* A window closed for all of rotate_before is an error of its own. */
	if (slack >= 2 || gap >= rb_secs)
		return;
	describe(s, PF_ROTATE_BEFORE, rb_secs, rb, sizeof rb);
	if (gap > 0) {
		loader_duration_str(gap, g);
		snprintf(closed, sizeof closed, ", a window closed for up to %s,", g);
	} else
		gap = 0;
	loader_duration_str(sc->interval, every);
	loader_duration_str(sc->random_delay, late);
	/* Three runs must fall inside: the one that rotates, and two that may fail. */
	loader_duration_str(3 * sc->interval + sc->random_delay + gap, need);
	loader_warn(ld, at,
		    "slot '%s': a token lapses after %d failed run%s in a row, with %s%s and runs "
		    "every %s (schedule interval) starting up to %s late (schedule random_delay); "
		    "a rotate_before of %s or more tolerates 2",
		    s->name, slack + 1, slack == 0 ? "" : "s", rb, closed, every,
		    sc->random_delay > 0 ? late : "0s", need);
}

static void
check_times(struct loader *ld, const struct policy *p, const struct policy_slot *s,
	    const struct ynode *at)
{
	const struct policy_settings *e = &s->eff;
	int64_t rb = policy_rotate_before(e);
	char a[96], b[96], c[96];

	/* The descriptions are written only for a message: most slots have none. */
	if (rb >= e->lifetime) {
		describe(s, PF_LIFETIME, e->lifetime, a, sizeof a);
		describe(s, PF_ROTATE_BEFORE, rb, b, sizeof b);
		loader_error(ld, at,
			     "slot '%s': %s is not shorter than %s, so every token would be due "
			     "as soon as it is made",
			     s->name, b, a);
		return;
	}
	if (e->lifetime <= p->schedule.interval + p->schedule.random_delay) {
		char every[32], late[32];

		describe(s, PF_LIFETIME, e->lifetime, a, sizeof a);
		loader_duration_str(p->schedule.interval, every);
		loader_duration_str(p->schedule.random_delay, late);
		loader_error(
		    ld, at,
		    "slot '%s': %s is not longer than the time between runs (schedule "
		    "interval %s plus random_delay %s): each token would expire before the "
		    "next run, so each run would replace it at once",
		    s->name, a, every, late);
		return;
	}
	if (rb + e->jitter >= e->lifetime) {
		describe(s, PF_LIFETIME, e->lifetime, a, sizeof a);
		describe(s, PF_ROTATE_BEFORE, rb, b, sizeof b);
		describe(s, PF_JITTER, e->jitter, c, sizeof c);
		loader_error(ld, at, "slot '%s': %s plus %s is not shorter than %s", s->name, b, c,
			     a);
		return;
	}
	if (e->grace >= e->lifetime - rb - e->jitter) {
		char due[32];

		describe(s, PF_GRACE, e->grace, c, sizeof c);
		loader_duration_str(e->lifetime - rb - e->jitter, due);
		loader_error(ld, at,
			     "slot '%s': %s outlives the replacement's own rotation, due %s "
			     "after it is made; old tokens would pile up",
			     s->name, c, due);
	}
	if (p->enforce.max_lifetime > 0 && e->lifetime > p->enforce.max_lifetime) {
		describe(s, PF_LIFETIME, e->lifetime, a, sizeof a);
		loader_duration_str(p->enforce.max_lifetime, c);
		loader_error(ld, at, "slot '%s': %s exceeds enforce max_lifetime %s", s->name, a,
			     c);
	} else if (e->lifetime > YEAR) {
		describe(s, PF_LIFETIME, e->lifetime, a, sizeof a);
		loader_warn(ld, at,
			    "slot '%s': %s is over a year; short-lived tokens are the "
			    "point",
			    s->name, a);
	}
	check_slack(ld, p, s, at, rb);
}

static void
check_window(struct loader *ld, const struct policy_slot *s, const struct ynode *at)
{
	int64_t gap = s->eff.window->longest_gap;
	int64_t rb = policy_rotate_before(&s->eff);
	char g[32], b[96];

	if (gap < 0) {
		loader_error(ld, at, "slot '%s': the window never opens", s->name);
		return;
	}
	if (gap >= rb) {
		loader_duration_str(gap, g);
		describe(s, PF_ROTATE_BEFORE, rb, b, sizeof b);
		loader_error(ld, at,
			     "slot '%s': the window (line %d) stays closed for up to %s, not "
			     "less than %s: a token could expire before the window opens",
			     s->name, s->eff.window->line, g, b);
		return;
	}
}

/* One file consumer of one slot, its path rendered. */
struct target {
	char *path;
	const struct policy_slot *slot;
	const struct policy_deliver *d;
};

static int
target_order(const void *x, const void *y)
{
	const struct target *a = x, *b = y;
	int c = strcmp(a->path, b->path);

	if (c != 0)
		return c;
	c = strcmp(a->slot->ws->name, b->slot->ws->name);
	return c != 0 ? c : strcmp(a->slot->name, b->slot->name);
}

/* Two slots delivering to one file would overwrite each other's token. */
static void
check_files(struct loader *ld, const struct policy *p)
{
	struct target *t = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < p->nslots; i++) {
		const struct policy_slot *s = p->slots[i];

		for (size_t j = 0; j < s->eff.ndeliver; j++) {
			if (s->eff.deliver[j].kind != DELIVER_FILE)
				continue;
			if (n == cap)
				t = xgrow(t, &cap, 16, sizeof *t);
			t[n].path = policy_render_target(s, s->eff.deliver[j].path);
			policy_path_lexical(t[n].path);
			t[n].slot = s;
			t[n].d = &s->eff.deliver[j];
			n++;
		}
	}
	if (n > 1)
		qsort(t, n, sizeof *t, target_order);
	for (size_t i = 1; i < n; i++) {
		const struct policy_slot *a = t[i - 1].slot, *b = t[i].slot;
		struct ynode at = {.type = YNODE_SCALAR, .line = t[i].d->line, .col = t[i].d->col};

		if (strcmp(t[i - 1].path, t[i].path) != 0 || a == b)
			continue;
		if (i >= 2 && strcmp(t[i - 2].path, t[i].path) == 0)
			continue; /* one message per file */
		if (strcmp(a->ws->name, b->ws->name) == 0)
			loader_error(
			    ld, &at,
			    "deliver file '%s' is the same for slots '%s' and '%s' in "
			    "workspace '%s', so each would overwrite the other's token; put "
			    "{slot} in the path",
			    t[i].path, a->name, b->name, a->ws->name);
		else
			loader_error(ld, &at,
				     "deliver file '%s' is the same for slots '%s/%s' and '%s/%s', "
				     "so each would overwrite the other's token; put {workspace} "
				     "and {slot} in the path",
				     t[i].path, a->ws->name, a->name, b->ws->name, b->name);
	}
	for (size_t i = 0; i < n; i++)
		free(t[i].path);
	free(t);
}

#define BIT(f) (1u << (f))

void
crosscheck_policy(struct loader *ld, const struct policy *p)
{
	for (size_t i = 0; i < p->nslots; i++) {
		const struct policy_slot *s = p->slots[i];
		struct ynode at = at_slot(s);
		/* Fields given along the slot's inheritance that failed to load. */
		unsigned bad = p->defaults.bad | s->ws->own.bad | s->own.bad;

		/*
		 * A value that failed to load leaves an inherited one in its
		 * place, which would mislead: each check needs its fields sound.
		 */
		if ((bad & BIT(PF_NAME_TEMPLATE)) == 0)
			check_name(ld, s, &at);
		if ((bad & (BIT(PF_LIFETIME) | BIT(PF_ROTATE_BEFORE) | BIT(PF_JITTER) |
			    BIT(PF_GRACE))) == 0)
			check_times(ld, p, s, &at);
		if (s->eff.window != NULL &&
		    (bad & (BIT(PF_WINDOW) | BIT(PF_LIFETIME) | BIT(PF_ROTATE_BEFORE))) == 0)
			check_window(ld, s, &at);
	}
	check_files(ld, p);
}
