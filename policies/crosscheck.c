/* Checks across a slot's effective settings; see crosscheck.h. */
#include "policies/crosscheck.h"

#include "core/mode.h"
#include "core/timefmt.h"
#include "core/window.h"
#include "core/xalloc.h"

#include <stdio.h>
#include <stdlib.h>

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
			     "slot '%s': name_template gives names such as '%s': %s; shorten "
			     "the template or the slot name",
			     s->name, name, cause);
	free(name);
	free(cause);
}

static void
check_times(struct loader *ld, const struct policy *p, const struct policy_slot *s,
	    const struct ynode *at)
{
	const struct policy_settings *e = &s->eff;
	int64_t rb = policy_rotate_before(e);
	char a[96], b[96], c[96];

	describe(s, PF_LIFETIME, e->lifetime, a, sizeof a);
	describe(s, PF_ROTATE_BEFORE, rb, b, sizeof b);
	describe(s, PF_JITTER, e->jitter, c, sizeof c);
	if (rb >= e->lifetime) {
		loader_error(ld, at,
			     "slot '%s': %s is not shorter than %s, so every token would be due "
			     "as soon as it is made",
			     s->name, b, a);
		return;
	}
	if (rb + e->jitter >= e->lifetime) {
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
		loader_duration_str(p->enforce.max_lifetime, c);
		loader_error(ld, at, "slot '%s': %s exceeds enforce max_lifetime %s", s->name, a,
			     c);
	} else if (e->lifetime > YEAR)
		loader_warn(ld, at,
			    "slot '%s': %s is over a year; short-lived tokens are the "
			    "point",
			    s->name, a);
	if (rb < p->schedule.interval) {
		loader_duration_str(p->schedule.interval, c);
		loader_warn(ld, at,
			    "slot '%s': %s is shorter than the %s between runs (schedule "
			    "interval); a token may expire between two runs",
			    s->name, b, c);
	}
}

static void
check_window(struct loader *ld, const struct policy_slot *s, const struct ynode *at)
{
	int64_t gap = window_longest_gap(s->eff.window);
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
	}
}

void
crosscheck_policy(struct loader *ld, const struct policy *p)
{
	for (size_t i = 0; i < p->nslots; i++) {
		const struct policy_slot *s = p->slots[i];
		struct ynode at = at_slot(s);

		/* Values that failed to load would stand in as inherited ones and mislead. */
		if (s->invalid || s->ws->invalid || p->defaults_invalid)
			continue;
		check_name(ld, s, &at);
		check_times(ld, p, s, &at);
		if (s->eff.window != NULL)
			check_window(ld, s, &at);
	}
}
