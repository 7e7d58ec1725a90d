/* Printing a plan's parts; see planprint.h. */
#include "cmd/planprint.h"

#include "core/jsonx.h"
#include "core/timefmt.h"
#include "core/xalloc.h"

#include <stdio.h>
#include <stdlib.h>

json_t *
planprint_time(int64_t ms)
{
	char buf[TIMEFMT_MAX];

	if (ms == INT64_MAX || ms == 0)
		return json_null();
	timefmt_minute(ms, buf);
	return json_string(buf);
}

static json_t *
nullable(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

json_t *
planprint_actions_json(const struct plan *pl)
{
	json_t *list = json_array();

	for (size_t i = 0; i < pl->nactions; i++) {
		const struct plan_action *a = &pl->actions[i];

		json_array_append_new(
		    list,
		    json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:i, s:I, s:s}", "action",
			      plan_kind_name(a->kind), "workspace", a->workspace, "slot",
			      nullable(a->slot), "token", nullable(a->token), "due",
			      planprint_time(a->due), "deadline", planprint_time(a->deadline),
			      "requests", a->cost, "group", (json_int_t)a->group, "why", a->why));
	}
	return list;
}

json_t *
planprint_findings_json(const struct plan *pl)
{
	json_t *list = json_array();

	for (size_t i = 0; i < pl->nfindings; i++) {
		const struct plan_finding *f = &pl->findings[i];

		json_array_append_new(list, json_pack("{s:s, s:s, s:o, s:o, s:o, s:s}", "finding",
						      plan_finding_name(f->kind), "workspace",
						      f->workspace, "slot", nullable(f->slot),
						      "token", nullable(f->token), "at",
						      planprint_time(f->at), "text", f->text));
	}
	return list;
}

json_t *
planprint_capacity_json(const struct plan_capacity *c)
{
	return json_pack("{s:b, s:I, s:o, s:o, s:o, s:o, s:o}", "ok", c->ok, "rotations",
			 (json_int_t)c->rotations, "horizon", planprint_time(c->horizon),
			 "workspace", nullable(c->ok ? NULL : c->workspace), "slot",
			 nullable(c->ok ? NULL : c->slot), "deadline",
			 c->ok ? json_null() : planprint_time(c->deadline), "finish",
			 c->ok ? json_null() : planprint_time(c->finish));
}

void
planprint_actions(const struct plan *pl)
{
	char dl[TIMEFMT_MAX];

	if (pl->nactions > 0)
		printf("\n%-18s  %-18s  %-32s  %s\n", "DEADLINE", "ACTION", "SLOT", "WHY");
	for (size_t i = 0; i < pl->nactions; i++) {
		const struct plan_action *a = &pl->actions[i];
		char *slot = xasprintf("%s/%s", a->workspace, a->slot != NULL ? a->slot : "-");

		if (a->deadline == INT64_MAX)
			snprintf(dl, sizeof dl, "-");
		else
			timefmt_minute(a->deadline, dl);
		printf("%-18s  %-18s  %-32s  %s\n", dl, plan_kind_name(a->kind), slot, a->why);
		free(slot);
	}
}

void
planprint_findings(const struct plan *pl)
{
	if (pl->nfindings > 0)
		printf("\nFINDINGS\n");
	for (size_t i = 0; i < pl->nfindings; i++) {
		const struct plan_finding *f = &pl->findings[i];

		printf("  %-12s %s/%s%s%s: %s\n", plan_finding_name(f->kind), f->workspace,
		       f->slot != NULL ? f->slot : "-", f->token != NULL ? " " : "",
		       f->token != NULL ? f->token : "", f->text);
	}
}

void
planprint_capacity(const struct plan_capacity *c)
{
	char horizon[TIMEFMT_MAX];

	timefmt_minute(c->horizon, horizon);
	if (c->ok)
		printf("\ncapacity: %zu rotation%s due before %s fit the request budget\n",
		       c->rotations, c->rotations == 1 ? "" : "s", horizon);
}

void
planprint_dump(json_t *o)
{
	char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	printf("%s\n", text != NULL ? text : "{}");
	jsonx_free(text);
	json_decref(o);
}
