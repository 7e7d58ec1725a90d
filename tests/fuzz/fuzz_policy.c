/*
 * Fuzz target for the policy loader: YAML through policies/ytree.c, every
 * section's checks, the cross-checks, and then the look-ups and name
 * rendering that the verbs run on a loaded policy.  Time zones come from
 * the system's zoneinfo, as `tokenwarden policy check` reads them.
 */
#include "tests/fuzz/fuzz.h"

#include "core/window.h"
#include "policies/diag.h"
#include "policies/policy.h"

#include <stdlib.h>

/* A fixed creation time for names: 2024-10-02T21:00:00Z. */
#define RENDER_MS INT64_C(1727902800000)
#define WINDOW_T INT64_C(1727902800)

/* Runs what the verbs run on each slot; aborts when a look-up disagrees with the index. */
static void
exercise(const struct policy *p)
{
	for (size_t i = 0; i < p->nslots; i++) {
		const struct policy_slot *s = p->slots[i];
		char *cause = NULL, *name;

		if (policy_find_slot(p, s->ws->name, s->name) != s ||
		    policy_slot_index(p, s->ws->name, s->name) != (long)i ||
		    policy_find_workspace(p, s->ws->name) != s->ws)
			abort();
		name = policy_render_name(s, RENDER_MS, &cause);
		free(name);
		free(cause);
		(void)policy_rotate_before(&s->eff);
		for (int f = 0; f < PF_NFIELDS; f++)
			(void)policy_level_name(s->from[f]);
		if (s->eff.window != NULL) {
			(void)window_is_open(s->eff.window, WINDOW_T);
			(void)window_next_open(s->eff.window, WINDOW_T);
		}
	}
	(void)policy_find_slot(p, "", "");
	(void)policy_find_workspace(p, "");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy *p = NULL;
	struct diag_list d;

	if (size > POLICY_MAX_BYTES)
		return 0;
	if (policy_load_buffer("fuzz.yaml", (const char *)data, size, NULL, &p, &d) == 0)
		exercise(p);
	for (size_t i = 0; i < d.n; i++)
		free(diag_format(&d, i));
	policy_free(p);
	diag_free(&d);
	return 0;
}
