/* audit report as a terminal table, JSON and CSV; see audit_render.h. */
#include "cmd/audit_render.h"

#include "cmd/planprint.h"
#include "cmd/print.h"
#include "cmd/table.h"
#include "core/clock.h"
#include "core/jsonx.h"
#include "core/xalloc.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL

const char *const audit_col_names[AC_NCOLS] = {
    [AC_WORKSPACE] = "workspace",
    [AC_SLOT] = "slot",
    [AC_TOKEN] = "token",
    [AC_NAME] = "name",
    [AC_STATE] = "state",
    [AC_ORIGIN] = "origin",
    [AC_CREATED] = "created_at",
    [AC_EXPIRES] = "expires_at",
    [AC_AGE] = "age_days",
    [AC_LEFT] = "days_left",
    [AC_VERIFIED] = "last_verified_at",
    [AC_CREATOR] = "created_by",
    [AC_DUE] = "next_rotation_at",
};

const char *const audit_csv_tables[] = {"tokens", "findings", "slots", "history", NULL};

/* Whole days in ms, rounded down (toward the past for a negative span). */
static int64_t
days(int64_t ms)
{
	return ms >= 0 ? ms / DAY_MS : -((-ms + DAY_MS - 1) / DAY_MS);
}

static const char *
time_or_null(int64_t ms, char buf[TIMEFMT_MAX])
{
	if (ms == 0 || ms == INT64_MAX)
		return NULL;
	timefmt_mode(ms, buf);
	return buf;
}

void
audit_cells(const struct audit_doc *d, const struct audit_token *t, struct audit_cells *c)
{
	const struct token_row *r = t->row;
	int64_t born = r->created_at != 0 ? r->created_at : r->requested_at;

	memset(c, 0, sizeof *c);
	c->age_days = born < d->at ? days(d->at - born) : 0;
	c->left_days = days(r->expires_at - d->at);
	snprintf(c->age, sizeof c->age, "%" PRId64, c->age_days);
	snprintf(c->left, sizeof c->left, "%" PRId64, c->left_days);
	c->v[AC_WORKSPACE] = r->workspace;
	c->v[AC_SLOT] = r->slot;
	c->v[AC_TOKEN] = r->token;
	c->v[AC_NAME] = r->name;
	c->v[AC_STATE] = tokens_state_name(r->state);
	c->v[AC_ORIGIN] = r->origin;
	c->v[AC_CREATED] = time_or_null(r->created_at, c->created);
	c->v[AC_EXPIRES] = time_or_null(r->expires_at, c->expires);
	c->v[AC_AGE] = c->age;
	c->v[AC_LEFT] = c->left;
	c->v[AC_VERIFIED] = time_or_null(t->verified_at, c->verified);
	c->v[AC_CREATOR] = t->creator;
	c->v[AC_DUE] = time_or_null(t->due, c->due);
}

/* ---- the terminal table ---- */

static const char *
finding_colour(enum finding_kind k)
{
	return k == FIND_OVERDUE || k == FIND_EXPIRED || k == FIND_STUCK ? "31" : "33";
}

static const char *
state_colour(enum token_state st)
{
	switch (st) {
	case TOKEN_ACTIVE:
		return "32";
	case TOKEN_EXPIRED:
	case TOKEN_UNKNOWN:
		return "31";
	case TOKEN_RETIRING:
	case TOKEN_PENDING:
		return "33";
	default:
		return NULL;
	}
}

static void
text_header(const struct audit_doc *d, FILE *f)
{
	const struct audit_integrity *v = &d->integrity;
	size_t by_state[TOKEN_NSTATES] = {0};
	const char *sep = ":";
	char when[TIMEFMT_MAX];

	for (size_t i = 0; i < d->ntokens; i++)
		by_state[d->tokens[i].row->state]++;
	timefmt_minute(d->at, when);
	fprintf(f, "audit at %s: %zu slot%s, %zu token%s", when, d->nslots,
		d->nslots == 1 ? "" : "s", d->ntokens, d->ntokens == 1 ? "" : "s");
	for (int st = 0; st < TOKEN_NSTATES; st++) {
		if (by_state[st] == 0)
			continue;
		fprintf(f, "%s %zu %s", sep, by_state[st], tokens_state_name((enum token_state)st));
		sep = ",";
	}
	fprintf(f, "\ntool     tokenwarden %s\n", TW_VERSION);
	fprintf(f, "policy   %s (sha256 %s)\n", d->policy_path,
		d->policy_sha256[0] != '\0' ? d->policy_sha256 : "unreadable");
	fprintf(f, "store    %s\n", d->store_path);
	fprintf(f, "history  %" PRId64 " events, head %s\n", v->events,
		v->head[0] != '\0' ? v->head : "-");
	if (v->broken != NULL) {
		fprintf(f, "verified NOT intact: %s\n", v->broken);
	} else {
		char *text = audit_tables_text(v);

		fprintf(f, "verified %s: %s\n", v->intact ? "intact" : "NOT intact", text);
		free(text);
	}
}

/* What the line functions share: the document and room for the text they make. */
struct text_lines {
	const struct audit_doc *d;
	char where[512];
	char t1[TIMEFMT_MAX], t2[TIMEFMT_MAX], t3[TIMEFMT_MAX];
	struct audit_cells c;
};

static void
slot_line(size_t i, const char **cells, const char **colour, void *arg)
{
	struct text_lines *l = arg;
	const struct slotview_slot *a = l->d->slots[i];

	snprintf(l->where, sizeof l->where, "%s/%s", a->slot->ws->name, a->slot->name);
	cells[0] = l->where;
	cells[1] = slotview_word_name(a->word);
	cells[2] = a->active != NULL ? a->active->token : NULL;
	cells[3] = time_or_null(a->expires_at, l->t1);
	cells[4] = time_or_null(a->last_success, l->t2);
	cells[5] = a->slot->eff.paused ? "paused" : time_or_null(a->next_rotation, l->t3);
	*colour = a->word == SLOT_OK ? NULL : a->word >= SLOT_FAILING ? "31" : "33";
}

static void
token_line(size_t i, const char **cells, const char **colour, void *arg)
{
	struct text_lines *l = arg;

	audit_cells(l->d, &l->d->tokens[i], &l->c);
	memcpy(cells, l->c.v, sizeof l->c.v);
	*colour = state_colour(l->d->tokens[i].row->state);
}

static void
text_tables(const struct audit_doc *d, FILE *f, int width, int colour)
{
	static const char *const sheads[] = {"SLOT",    "STATUS",        "ACTIVE",
					     "EXPIRES", "LAST ROTATION", "NEXT ROTATION"};
	static const int sdrop[] = {0, 0, 3, 0, 2, 1};
	static const char *const theads[AC_NCOLS] = {
	    "WORKSPACE", "SLOT",    "TOKEN",    "NAME",     "STATE",      "ORIGIN",       "CREATED",
	    "EXPIRES",   "AGE (d)", "LEFT (d)", "VERIFIED", "CREATED BY", "NEXT ROTATION"};
	static const int tdrop[AC_NCOLS] = {0, 0, 0, 6, 0, 8, 7, 0, 9, 0, 5, 4, 3};
	struct text_lines l = {.d = d};
	struct table slots = {6, sheads, sdrop, d->nslots, slot_line, &l};
	struct table tokens = {AC_NCOLS, theads, tdrop, d->ntokens, token_line, &l};

	/* Findings as plan prints them, each with its fix: a line too long for columns. */
	fprintf(f, "\n%zu finding%s\n", d->nfindings, d->nfindings == 1 ? "" : "s");
	for (size_t i = 0; i < d->nfindings; i++) {
		const struct plan_finding *x = d->findings[i];

		if (colour)
			fprintf(f, "\033[%sm", finding_colour(x->kind));
		planprint_finding(f, x);
		if (colour)
			fputs("\033[0m", f);
		fprintf(f, "  %-12s fix: %s\n", "", audit_fix(x->kind));
	}
	fprintf(f, "\n%zu slot%s\n", d->nslots, d->nslots == 1 ? "" : "s");
	if (d->nslots > 0)
		table_print(&slots, f, width, colour);
	fprintf(f, "\n%zu token%s\n", d->ntokens, d->ntokens == 1 ? "" : "s");
	if (d->ntokens > 0)
		table_print(&tokens, f, width, colour);
}

/* Prints s with control characters as '?', so a stored value cannot drive the terminal. */
static void
put_clean(FILE *f, const char *s)
{
	char *clean = print_clean(s != NULL ? s : "-", NULL);

	fputs(clean, f);
	free(clean);
}

/* The history as audit log prints it: a line per event, too varied for columns. */
static int
text_event(const struct event *e, void *arg)
{
	FILE *f = arg;
	char when[TIMEFMT_MAX];

	timefmt_minute(e->at, when);
	fprintf(f, "%s  ", when);
	put_clean(f, e->actor);
	fputs("  ", f);
	put_clean(f, e->kind);
	fputs("  ", f);
	put_clean(f, e->workspace);
	if (e->workspace != NULL) {
		fputc('/', f);
		put_clean(f, e->slot);
	}
	fputs("  ", f);
	put_clean(f, e->token);
	fputs("  ", f);
	put_clean(f, e->details);
	fputc('\n', f);
	return 0;
}

int
audit_render_text(struct store *s, const struct audit_doc *d, FILE *f, int width, int colour,
		  char **cause)
{
	char since[TIMEFMT_MAX];

	text_header(d, f);
	text_tables(d, f, width, colour);
	timefmt_minute(d->filter.since, since);
	fprintf(f, "\nhistory since %s\n", d->filter.since > 0 ? since : "the start");
	return audit_history(s, d, text_event, f, cause) < 0 ? -1 : 0;
}

/* ---- JSON: one document, streamed; each token and event on a line of its own ---- */

static void
put_json(FILE *f, json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);

	fputs(text != NULL ? text : "null", f);
	jsonx_free(text);
	json_decref(v);
}

static json_t *
json_time(int64_t ms)
{
	char buf[TIMEFMT_MAX];

	return ms == 0 || ms == INT64_MAX ? json_null() : json_string((timefmt_mode(ms, buf), buf));
}

static json_t *
header_json(const struct audit_doc *d)
{
	const struct audit_integrity *v = &d->integrity;
	const struct audit_filter *fl = &d->filter;

	return json_pack(
	    "{s:s, s:s, s:{s:s, s:o}, s:{s:s}, s:{s:b, s:I, s:o, s:o, s:o, s:I, s:I, s:I, s:I}, "
	    "s:{s:o, s:o, s:o, s:o, s:o}}",
	    "tool", "tokenwarden", "tool_version", TW_VERSION, "policy", "path", d->policy_path,
	    "sha256", d->policy_sha256[0] != '\0' ? json_string(d->policy_sha256) : json_null(),
	    "store", "path", d->store_path, "integrity", "intact", v->intact, "events",
	    (json_int_t)v->events, "head", v->head[0] != '\0' ? json_string(v->head) : json_null(),
	    "broken_at",
	    v->broken != NULL && v->bad_event != 0 ? json_integer(v->bad_event) : json_null(),
	    "broken", jsonx_text(v->broken), "live_rows", (json_int_t)v->rows, "rows_differ",
	    (json_int_t)v->differ, "records_differ", (json_int_t)v->records_differ,
	    "secrets_differ", (json_int_t)v->secrets_differ, "filter", "workspace",
	    jsonx_text(fl->workspace), "slot", jsonx_text(fl->slot), "state",
	    fl->state >= 0 ? json_string(tokens_state_name((enum token_state)fl->state))
			   : json_null(),
	    "expiring_within_seconds",
	    fl->expiring != 0 ? json_integer(fl->expiring / 1000) : json_null(), "history_since",
	    json_time(fl->since));
}

/* Writes "key":value with the separator before it; v NULL as null. */
static void
put_text(FILE *f, const char *key, const char *v, int first)
{
	jsonx_put_key(f, key, first);
	jsonx_put_text(f, v);
}

static void
put_finding(FILE *f, const struct plan_finding *x)
{
	char at[TIMEFMT_MAX];
	char *text = plan_finding_text(x);

	put_text(f, "finding", plan_finding_name(x->kind), 1);
	put_text(f, "workspace", x->workspace, 0);
	put_text(f, "slot", x->slot, 0);
	put_text(f, "token", x->token, 0);
	put_text(f, "at", time_or_null(x->at, at), 0);
	put_text(f, "text", text, 0);
	put_text(f, "rule", audit_rule(x->kind), 0);
	put_text(f, "fix", audit_fix(x->kind), 0);
	free(text);
	/* Only on a held deletion (unmanaged, held): the slot whose next token it waits for. */
	if (x->waits != NULL) {
		text = xstrjoin(x->waits->ws->name, "/", x->waits->name);
		put_text(f, "waits_for", text, 0);
		free(text);
	}
}

static json_t *
slot_json(const struct slotview_slot *a)
{
	const struct token_row *r = a->active;

	return json_pack("{s:o, s:o, s:s, s:b, s:i, s:o, s:o, s:o, s:o}", "workspace",
			 jsonx_text(a->slot->ws->name), "slot", jsonx_text(a->slot->name), "status",
			 slotview_word_name(a->word), "paused", a->slot->eff.paused, "failures",
			 a->failures, "active_token", jsonx_text(r != NULL ? r->token : NULL),
			 "expires_at", json_time(a->expires_at), "last_rotation_at",
			 json_time(a->last_success), "next_rotation_at",
			 a->slot->eff.paused ? json_null() : json_time(a->next_rotation));
}

static void
put_token(FILE *f, const struct audit_doc *d, const struct audit_token *t)
{
	struct audit_cells c;

	audit_cells(d, t, &c);
	jsonx_put_key(f, "row", 1);
	fprintf(f, "%" PRId64, t->row->row);
	for (int k = 0; k < AC_NCOLS; k++) {
		if (k == AC_AGE || k == AC_LEFT) {
			jsonx_put_key(f, audit_col_names[k], 0);
			fprintf(f, "%" PRId64, k == AC_AGE ? c.age_days : c.left_days);
		} else {
			put_text(f, audit_col_names[k], c.v[k], 0);
		}
	}
	jsonx_put_key(f, "has_secret", 0);
	fputs(t->row->has_secret ? "true" : "false", f);
}

struct json_history {
	FILE *f;
	size_t n;
};

static int
json_event(const struct event *e, void *arg)
{
	struct json_history *h = arg;

	fputs(h->n++ > 0 ? ",\n    " : "\n    ", h->f);
	put_json(h->f, audit_event_json(e));
	return 0;
}

int
audit_render_json(struct store *s, const struct audit_doc *d, FILE *f, char **cause)
{
	json_t *states = json_object();
	struct json_history h = {f, 0};
	const char *key;
	json_t *hdr, *v;

	for (int st = 0; st < TOKEN_NSTATES; st++)
		json_object_set_new(states, tokens_states[st], json_integer(0));
	for (size_t i = 0; i < d->ntokens; i++) {
		const char *name = tokens_state_name(d->tokens[i].row->state);

		json_object_set_new(
		    states, name,
		    json_integer(json_integer_value(json_object_get(states, name)) + 1));
	}
	fprintf(f, "{\n  \"version\": %d,\n  \"at\": ", AUDIT_FORMAT_VERSION);
	put_json(f, json_time(d->at));
	fputs(",\n  \"generated_at\": ", f);
	put_json(f, json_time(clock_now_ms()));
	hdr = header_json(d);
	json_object_foreach(hdr, key, v)
	{
		fprintf(f, ",\n  \"%s\": ", key);
		put_json(f, json_incref(v));
	}
	json_decref(hdr);
	fprintf(f, ",\n  \"summary\": ");
	put_json(f, json_pack("{s:I, s:I, s:I, s:o}", "findings", (json_int_t)d->nfindings, "slots",
			      (json_int_t)d->nslots, "tokens", (json_int_t)d->ntokens, "by_state",
			      states));
	fputs(",\n  \"capacity\": ", f);
	put_json(f, planprint_capacity_json(&d->report.plan.capacity));
	fputs(",\n  \"findings\": [", f);
	for (size_t i = 0; i < d->nfindings; i++) {
		fputs(i > 0 ? ",\n    {" : "\n    {", f);
		put_finding(f, d->findings[i]);
		fputc('}', f);
	}
	fputs(d->nfindings > 0 ? "\n  ],\n  \"slots\": [" : "],\n  \"slots\": [", f);
	for (size_t i = 0; i < d->nslots; i++) {
		fputs(i > 0 ? ",\n    " : "\n    ", f);
		put_json(f, slot_json(d->slots[i]));
	}
	fputs(d->nslots > 0 ? "\n  ],\n  \"tokens\": [" : "],\n  \"tokens\": [", f);
	for (size_t i = 0; i < d->ntokens; i++) {
		fputs(i > 0 ? ",\n    {" : "\n    {", f);
		put_token(f, d, &d->tokens[i]);
		fputc('}', f);
	}
	fputs(d->ntokens > 0 ? "\n  ],\n  \"history\": [" : "],\n  \"history\": [", f);
	if (audit_history(s, d, json_event, &h, cause) < 0)
		return -1;
	fputs(h.n > 0 ? "\n  ]\n}\n" : "]\n}\n", f);
	return 0;
}

/* ---- CSV (RFC 4180): one table, a head line, CRLF line ends ---- */

/*
 * Writes one field, quoted when it holds a comma, quote, CR or LF.  Text a
 * spreadsheet would take for a formula (=, +, -, @, tab, CR first) gets a
 * leading ' (OWASP's advice): token names come from whoever can make one.
 */
static void
csv_field(FILE *f, const char *v, int text, int last)
{
	char *clean = v != NULL && !print_plain(v) ? print_clean(v, NULL) : NULL;
	const char *s = clean != NULL ? clean : v != NULL ? v : "";
	int formula = text && strchr("=+-@\t\r", s[0]) != NULL && s[0] != '\0';

	if (strpbrk(s, ",\"\r\n") != NULL || formula) {
		fputc('"', f);
		if (formula)
			fputc('\'', f);
		for (; *s != '\0'; s++) {
			if (*s == '"')
				fputc('"', f);
			fputc(*s, f);
		}
		fputc('"', f);
	} else {
		fputs(s, f);
	}
	fputs(last ? "\r\n" : ",", f);
	free(clean);
}

static void
csv_tokens(const struct audit_doc *d, FILE *f)
{
	for (int k = 0; k < AC_NCOLS; k++)
		csv_field(f, audit_col_names[k], 0, k == AC_NCOLS - 1);
	for (size_t i = 0; i < d->ntokens; i++) {
		struct audit_cells c;

		audit_cells(d, &d->tokens[i], &c);
		for (int k = 0; k < AC_NCOLS; k++)
			csv_field(f, c.v[k], k != AC_AGE && k != AC_LEFT, k == AC_NCOLS - 1);
	}
}

static void
csv_findings(const struct audit_doc *d, FILE *f)
{
	static const char *const heads[] = {"finding", "workspace", "slot", "token",
					    "at",      "text",      "rule", "fix"};

	for (size_t k = 0; k < 8; k++)
		csv_field(f, heads[k], 0, k == 7);
	for (size_t i = 0; i < d->nfindings; i++) {
		const struct plan_finding *x = d->findings[i];
		char at[TIMEFMT_MAX];
		char *text = plan_finding_text(x);
		const char *v[] = {plan_finding_name(x->kind),
				   x->workspace,
				   x->slot,
				   x->token,
				   time_or_null(x->at, at),
				   text,
				   audit_rule(x->kind),
				   audit_fix(x->kind)};

		for (size_t k = 0; k < 8; k++)
			csv_field(f, v[k], 1, k == 7);
		free(text);
	}
}

static void
csv_slots(const struct audit_doc *d, FILE *f)
{
	static const char *const heads[] = {
	    "workspace",    "slot",       "status",           "paused",          "failures",
	    "active_token", "expires_at", "last_rotation_at", "next_rotation_at"};

	for (size_t k = 0; k < 9; k++)
		csv_field(f, heads[k], 0, k == 8);
	for (size_t i = 0; i < d->nslots; i++) {
		const struct slotview_slot *a = d->slots[i];
		char exp[TIMEFMT_MAX], last[TIMEFMT_MAX], next[TIMEFMT_MAX], failures[16];
		const char *v[] = {
		    a->slot->ws->name,
		    a->slot->name,
		    slotview_word_name(a->word),
		    a->slot->eff.paused ? "yes" : "no",
		    failures,
		    a->active != NULL ? a->active->token : NULL,
		    time_or_null(a->expires_at, exp),
		    time_or_null(a->last_success, last),
		    a->slot->eff.paused ? NULL : time_or_null(a->next_rotation, next),
		};

		snprintf(failures, sizeof failures, "%d", a->failures);
		for (size_t k = 0; k < 9; k++)
			csv_field(f, v[k], 1, k == 8);
	}
}

static int
csv_event(const struct event *e, void *arg)
{
	FILE *f = arg;
	char at[TIMEFMT_MAX], id[24];
	const char *v[] = {id,      at,       e->actor,   e->kind, e->workspace,
			   e->slot, e->token, e->details, e->hash};

	snprintf(id, sizeof id, "%" PRId64, e->id);
	timefmt_mode(e->at, at);
	for (size_t k = 0; k < 9; k++)
		csv_field(f, v[k], k > 1, k == 8);
	return 0;
}

int
audit_render_csv(struct store *s, const struct audit_doc *d, const char *table, FILE *f,
		 char **cause)
{
	static const char *const heads[] = {"id",   "at",    "actor",   "kind", "workspace",
					    "slot", "token", "details", "hash"};

	if (strcmp(table, "findings") == 0) {
		csv_findings(d, f);
	} else if (strcmp(table, "slots") == 0) {
		csv_slots(d, f);
	} else if (strcmp(table, "history") == 0) {
		for (size_t k = 0; k < 9; k++)
			csv_field(f, heads[k], 0, k == 8);
		return audit_history(s, d, csv_event, f, cause) < 0 ? -1 : 0;
	} else {
		csv_tokens(d, f);
	}
	return 0;
}
