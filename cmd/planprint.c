/* Printing a plan's parts; see planprint.h. */
#include "cmd/planprint.h"
#include "cmd/print.h"

#include "core/jsonx.h"
#include "core/outbuf.h"
#include "core/timefmt.h"
#include "core/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *
planprint_time(int64_t ms)
{
	char buf[TIMEFMT_MAX];

	if (ms == INT64_MAX || ms == 0)
		return json_null();
	timefmt_minute(ms, buf);
	return json_string(buf);
}

/* Writes "key":TIME as planprint_time gives it. */
static void
put_time(struct outbuf *o, const char *key, int64_t ms)
{
	char buf[TIMEFMT_MAX];

	jsonx_out_key(o, key, 0);
	if (ms == INT64_MAX || ms == 0) {
		outbuf_str(o, "null");
		return;
	}
	timefmt_minute(ms, buf);
	jsonx_out_text(o, buf);
}

/* Writes "key":TEXT, with a comma before it unless first. */
static void
put_text(struct outbuf *o, const char *key, const char *v, int first)
{
	jsonx_out_key(o, key, first);
	jsonx_out_text(o, v);
}

/* The members an action and a finding begin with: what it is (key: name), and where. */
static void
put_head(struct outbuf *o, const char *key, const char *name, const char *workspace,
	 const char *slot, const char *token)
{
	put_text(o, key, name, 1);
	put_text(o, "workspace", workspace, 0);
	put_text(o, "slot", slot, 0);
	put_text(o, "token", token, 0);
}

/*
 * An action or a finding as one JSON object, written straight out: a plan
 * may hold tens of thousands, and building each as a json_t took longer
 * than planning them.
 */
static void
put_action(struct outbuf *o, const struct plan_action *a)
{
	char why[PLAN_WHY_MAX];

	put_head(o, "action", plan_kind_name(a->kind), a->workspace, a->slot, a->token);
	put_time(o, "due", a->due);
	put_time(o, "deadline", a->deadline);
	jsonx_out_int(o, "requests", a->cost);
	jsonx_out_int(o, "group", (int64_t)a->group);
	put_text(o, "why", plan_action_why(a, why), 0);
}

static void
put_finding(struct outbuf *o, const struct plan_finding *f)
{
	char *text = plan_finding_text(f);

	put_head(o, "finding", plan_finding_name(f->kind), f->workspace, f->slot, f->token);
	put_time(o, "at", f->at);
	put_text(o, "text", text, 0);
	free(text);
	/* Only on a held deletion (unmanaged, held): the slot whose next token it waits for. */
	if (f->waits != NULL) {
		text = xstrjoin(f->waits->ws->name, "/", f->waits->name);
		put_text(o, "waits_for", text, 0);
		free(text);
	}
}

/* Prints v compactly and releases it. */
static void
put_json(json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);

	fputs(text != NULL ? text : "null", stdout);
	jsonx_free(text);
	json_decref(v);
}

void
planprint_open(void)
{
	fputs("{\n", stdout);
}

void
planprint_field(const char *key, json_t *v, int more)
{
	printf("  \"%s\": ", key);
	put_json(v);
	fputs(more ? ",\n" : "\n", stdout);
}

void
planprint_close(void)
{
	fputs("}\n", stdout);
}

void
planprint_actions_field(const struct plan *pl, int more)
{
	struct outbuf o;

	outbuf_init(&o, stdout);
	outbuf_str(&o, "  \"actions\": [");
	for (size_t i = 0; i < pl->nactions; i++) {
		outbuf_str(&o, i == 0 ? "\n    {" : ",\n    {");
		put_action(&o, &pl->actions[i]);
		outbuf_str(&o, "}");
	}
	outbuf_str(&o, pl->nactions > 0 ? "\n  ]" : "]");
	outbuf_str(&o, more ? ",\n" : "\n");
	outbuf_flush(&o);
}

void
planprint_findings_field(const struct plan *pl, int more)
{
	struct outbuf o;

	outbuf_init(&o, stdout);
	outbuf_str(&o, "  \"findings\": [");
	for (size_t i = 0; i < pl->nfindings; i++) {
		outbuf_str(&o, i == 0 ? "\n    {" : ",\n    {");
		put_finding(&o, &pl->findings[i]);
		outbuf_str(&o, "}");
	}
	outbuf_str(&o, pl->nfindings > 0 ? "\n  ]" : "]");
	outbuf_str(&o, more ? ",\n" : "\n");
	outbuf_flush(&o);
}

json_t *
planprint_capacity_json(const struct plan_capacity *c)
{
	json_t *o = json_pack("{s:b, s:I, s:o}", "ok", c->ok, "rotations", (json_int_t)c->rotations,
			      "horizon", planprint_time(c->horizon));

	if (!c->ok) {
		json_object_set_new(o, "reason", json_string(c->no_run ? "no-run" : "budget"));
		json_object_set_new(o, "workspace", json_string(c->workspace));
		json_object_set_new(o, "slot", json_string(c->slot));
		json_object_set_new(o, "due", planprint_time(c->due));
		json_object_set_new(o, "deadline", planprint_time(c->deadline));
		json_object_set_new(o, "finish", planprint_time(c->finish));
	}
	return o;
}

void
planprint_actions(const struct plan *pl)
{
	struct outbuf o;
	char dl[TIMEFMT_MAX], why[PLAN_WHY_MAX];

	if (pl->nactions > 0)
		printf("\n%-18s  %-18s  %-32s  %s\n", "DEADLINE", "ACTION", "SLOT", "WHY");
	/* A line each, gathered rather than printed: plan's output is most of its cost. */
	outbuf_init(&o, stdout);
	for (size_t i = 0; i < pl->nactions; i++) {
		const struct plan_action *a = &pl->actions[i];
		const char *slot = a->slot != NULL ? a->slot : "-";
		/* WORKSPACE/SLOT padded to 32 as %-32s would, without making the string. */
		size_t before = strlen(a->workspace) + 1;

		if (a->deadline == INT64_MAX)
			snprintf(dl, sizeof dl, "-");
		else
			timefmt_minute(a->deadline, dl);
		outbuf_pad(&o, dl, 18);
		outbuf_str(&o, "  ");
		outbuf_pad(&o, plan_kind_name(a->kind), 18);
		outbuf_str(&o, "  ");
		outbuf_str(&o, a->workspace);
		outbuf_str(&o, "/");
		outbuf_pad(&o, slot, before < 32 ? 32 - before : 0);
		outbuf_str(&o, "  ");
		outbuf_str(&o, plan_action_why(a, why));
		outbuf_str(&o, "\n");
	}
	outbuf_flush(&o);
}

/* A finding's line, as planprint_finding writes it. */
static void
put_finding_line(struct outbuf *o, const struct plan_finding *f)
{
	char *text = plan_finding_text(f);

	outbuf_str(o, "  ");
	outbuf_pad(o, plan_finding_name(f->kind), 12);
	outbuf_str(o, " ");
	outbuf_str(o, f->workspace);
	outbuf_str(o, "/");
	outbuf_str(o, f->slot != NULL ? f->slot : "-");
	if (f->token != NULL) {
		outbuf_str(o, " ");
		outbuf_str(o, f->token);
	}
	outbuf_str(o, ": ");
	/* It may quote a stored name: shown clean. */
	if (!print_plain(text)) {
		char *clean = print_clean(text, NULL);

		free(text);
		text = clean;
	}
	outbuf_str(o, text);
	outbuf_str(o, "\n");
	free(text);
}

void
planprint_findings(const struct plan *pl)
{
	struct outbuf o;

	if (pl->nfindings > 0)
		printf("\nFINDINGS\n");
	outbuf_init(&o, stdout);
	for (size_t i = 0; i < pl->nfindings; i++)
		put_finding_line(&o, &pl->findings[i]);
	outbuf_flush(&o);
}

void
planprint_finding(FILE *out, const struct plan_finding *f)
{
	struct outbuf o;

	outbuf_init(&o, out);
	put_finding_line(&o, f);
	outbuf_flush(&o);
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
planprint_slack(const struct policy *p)
{
	if (p->nslots > 0)
		printf("\n%-32s  %s\n", "SLOT", "SLACK (failed runs in a row it survives)");
	for (size_t i = 0; i < p->nslots; i++) {
		const struct policy_slot *s = p->slots[i];
		char *slot = xasprintf("%s/%s", s->ws->name, s->name);
		int n = policy_slack(p, s);

		printf("%-32s  %d%s\n", slot, n,
		       n == 0  ? ": tried again within the run"
		       : n < 2 ? ": policy check warns below 2"
			       : "");
		free(slot);
	}
}

void
planprint_slots_field(const struct policy *p, int more)
{
	struct outbuf o;

	outbuf_init(&o, stdout);
	outbuf_str(&o, "  \"slots\": [");
	for (size_t i = 0; i < p->nslots; i++) {
		outbuf_str(&o, i == 0 ? "{" : ",{");
		put_text(&o, "workspace", p->slots[i]->ws->name, 1);
		put_text(&o, "slot", p->slots[i]->name, 0);
		jsonx_out_int(&o, "slack", policy_slack(p, p->slots[i]));
		outbuf_str(&o, "}");
	}
	outbuf_str(&o, more ? "],\n" : "]\n");
	outbuf_flush(&o);
}
