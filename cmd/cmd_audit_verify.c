/*
 * tokenwarden audit verify: recompute the history's hash chain and, with
 * --head, check that a head kept elsewhere is still in it (a truncated or
 * rewritten tail leaves a chain that holds but has lost that head); then
 * compare every token row with the digest its last event recorded
 * (store/inventory.h).
 */
#include "cmd/cmd.h"
#include "cmd/msg.h"

#include "core/exitcodes.h"
#include "core/audit.h"
#include "core/jsonx.h"
#include "core/xalloc.h"
#include "store/events.h"
#include "store/inventory.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The verdict, for either output. */
struct verdict {
	int intact;
	int64_t count;
	char head[EVENTS_HEAD_MAX];
	int64_t bad_id; /* with a broken chain: the first bad event, 0 when the tail is gone */
	char *reason;   /* when not intact */
	const char *known;
	int64_t known_id; /* the event whose hash is known; 0 when none is */
	int64_t rows;     /* the token rows compared with the history */
	json_t *diffs;    /* what differs between them: an array, for either output */
};

static const char *const diff_names[] = {
    [INVENTORY_EDITED] = "edited",
    [INVENTORY_UNRECORDED] = "unrecorded",
    [INVENTORY_MISSING] = "missing",
};

static const char *const table_names[] = {
    [INVENTORY_TOKENS] = "tokens",
    [INVENTORY_HANDED] = "handed",
    [INVENTORY_SLOT_REACHED] = "slot_reached",
    [INVENTORY_SLOT_REACHED_14] = "slot_reached_14",
    [INVENTORY_SECRETS] = "secrets",
};

static int
add_diff(const struct inventory_diff *d, void *arg)
{
	json_t *diffs = arg;
	char *text = inventory_diff_text(d);

	json_array_append_new(
	    diffs, json_pack("{s:s, s:s, s:I, s:o, s:s?, s:s?, s:s?, s:s?, s:s?, s:s}", "kind",
			     diff_names[d->what], "table", table_names[d->table], "row",
			     (json_int_t)d->row, "event",
			     d->event > 0 ? json_integer(d->event) : json_null(), "workspace",
			     d->workspace, "slot", d->slot, "token", d->token, "state", d->state,
			     "consumer", d->consumer, "text", text));
	free(text);
	return 0;
}

/* Lower-cases a --head value into out; returns 0, or -1 when it is not a hash. */
static int
parse_head(const char *arg, char out[EVENTS_HEAD_MAX])
{
	size_t n = strlen(arg);

	if (n != EVENTS_HEAD_MAX - 1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)arg[i]))
			return -1;
		out[i] = (char)tolower((unsigned char)arg[i]);
	}
	out[n] = '\0';
	return 0;
}

struct head_search {
	const char *want;
	int64_t id;
};

static int
find_head(const struct event *e, void *arg)
{
	struct head_search *h = arg;

	if (strcmp(e->hash, h->want) != 0)
		return 0;
	h->id = e->id;
	return 1;
}

/* Every token row against the history, into v's rows and diffs, as a reader. */
static int
check_rows(struct store *s, void *arg, char **cause)
{
	struct verdict *v = arg;

	return inventory_verify(s, INVENTORY_ALL, add_diff, v->diffs, &v->rows, cause) < 0 ? -1 : 0;
}

/*
 * Fills v from the store; returns 0, or -1 after a message on a database
 * error.  The chain's parts and the rows are read at once; the rows are
 * compared even with a broken chain: what differs is worth knowing either
 * way.
 */
static int
check(struct store *s, const char *known, struct verdict *v)
{
	struct audit_chain chain;
	struct reader rows = {.fn = check_rows, .arg = v};
	struct event_filter all = {0};
	struct head_search h = {known, 0};
	char *cause = NULL;
	int rc;

	v->diffs = json_array();
	rc = audit_chain_start(s, &chain, &cause);
	if (rc < 0)
		goto out;
	reader_start(s, &rows);
	rc = audit_chain_join(s, &chain, &v->count, v->head, &v->bad_id, &v->reason, &cause);
	if (reader_join(s, &rows, &cause) < 0)
		rc = -1;
	if (rc != 0)
		goto out;
	/* A damaged file can hide rows and events from every query above. */
	if (store_quick_check(s, &cause) < 0) {
		/* SQLite's report runs over lines ("*** in database main ***", then the page). */
		for (char *nl = strchr(cause, '\n'); nl != NULL; nl = strchr(nl, '\n'))
			*nl = ' ';
		v->reason =
		    xasprintf("the store's file is damaged (%s); restore it from a backup", cause);
		FREE_NULL(&cause);
		goto out;
	}
	/* The key secrets are sealed to is the one the history says. */
	rc = store_pin_recorded(s, &v->reason, &cause);
	if (rc != 0) {
		rc = rc < 0 ? -1 : 0;
		goto out;
	}
	v->intact = 1;
	if (known == NULL)
		goto out;
	v->known = known;
	rc = events_list(s, &all, find_head, &h, &cause);
	if (rc < 0)
		goto out;
	v->known_id = h.id;
	rc = 0;
	if (h.id == 0) {
		v->intact = 0;
		v->reason = xasprintf("head %s is not in the history: the history was truncated or "
				      "rewritten after that head was recorded",
				      known);
	}
out:
	if (rc < 0) {
		errorf("%s", cause);
		free(cause);
	}
	return rc < 0 ? -1 : 0;
}

static void
print_tables(const struct verdict *v)
{
	size_t i, n = json_array_size(v->diffs);

	if (n == 0) {
		printf("the tables follow from it: %lld token row%s\n", (long long)v->rows,
		       v->rows == 1 ? "" : "s");
		return;
	}
	printf("the tables do not follow from it: %zu difference%s among %lld token row%s\n", n,
	       n == 1 ? "" : "s", (long long)v->rows, v->rows == 1 ? "" : "s");
	for (i = 0; i < n; i++)
		printf("  %s\n",
		       json_string_value(json_object_get(json_array_get(v->diffs, i), "text")));
}

static void
print_human(const struct verdict *v)
{
	if (v->known == NULL && !v->intact && v->bad_id > 0)
		printf("history broken at event %lld: %s\n", (long long)v->bad_id, v->reason);
	else if (v->known == NULL && !v->intact)
		printf("history broken: %s\n", v->reason);
	else if (v->known != NULL && !v->intact)
		printf("history altered: its chain holds (%lld events, head %s), but %s\n",
		       (long long)v->count, v->head[0] != '\0' ? v->head : "none", v->reason);
	else if (v->count == 0)
		printf("history intact: 0 events\n");
	else
		printf("history intact: %lld event%s, head %s\n", (long long)v->count,
		       v->count == 1 ? "" : "s", v->head);
	if (v->intact && v->known != NULL)
		printf("head %s is event %lld; %lld event%s written since\n", v->known,
		       (long long)v->known_id, (long long)(v->count - v->known_id),
		       v->count - v->known_id == 1 ? " was" : "s were");
	print_tables(v);
}

static void
print_json(const struct verdict *v)
{
	json_t *o = json_object();
	char *text;

	json_object_set_new(o, "intact", json_boolean(v->intact));
	if (v->intact || v->known != NULL) {
		json_object_set_new(o, "events", json_integer(v->count));
		json_object_set_new(o, "head",
				    v->head[0] != '\0' ? json_string(v->head) : json_null());
	}
	if (!v->intact && v->known == NULL)
		json_object_set_new(o, "bad_event",
				    v->bad_id > 0 ? json_integer(v->bad_id) : json_null());
	if (v->known != NULL) {
		json_object_set_new(o, "known_head", json_string(v->known));
		json_object_set_new(o, "known_head_event",
				    v->known_id > 0 ? json_integer(v->known_id) : json_null());
	}
	if (!v->intact)
		json_object_set_new(o, "reason", json_string(v->reason));
	json_object_set_new(
	    o, "tables",
	    json_pack("{s:I, s:O}", "rows", (json_int_t)v->rows, "differences", v->diffs));
	text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("%s\n", text != NULL ? text : "{}");
	jsonx_free(text);
	json_decref(o);
}

struct verify_opts {
	const char *head;
};

static const struct args_opt verify_options[] = {
    OPT_STRING(0, "head", struct verify_opts, head, "HASH",
	       "also check that this head, kept elsewhere, is still\nin the history (the verbs "
	       "that change it note it)"),
    OPT_END,
};

static int
run_audit_verify(void *opts, int argc, char **argv)
{
	struct verify_opts *vo = opts;
	struct store_opts o;
	struct store *s = NULL;
	struct verdict v;
	char known[EVENTS_HEAD_MAX];
	int status = TW_EXIT_USAGE;

	(void)argc;
	(void)argv;
	memset(&v, 0, sizeof v);
	if (vo->head != NULL && parse_head(vo->head, known) < 0) {
		errorf("--head '%s': expected the 64 hexadecimal digits of an event hash",
		       vo->head);
		return TW_EXIT_USAGE;
	}
	store_opts_init(&o);
	s = store_ctx_open(&o, NULL, STORE_CTX_READ, &status);
	if (s == NULL)
		return status;
	status = TW_EXIT_FAILURE;
	if (check(s, vo->head != NULL ? known : NULL, &v) < 0)
		goto out;
	if (args_globals.json)
		print_json(&v);
	else
		print_human(&v);
	/* A head that verified is the one worth keeping; a broken chain's is not. */
	if (v.intact && v.count > 0)
		store_ctx_note_head(s);
	status = v.intact && json_array_size(v.diffs) == 0 ? TW_EXIT_OK : TW_EXIT_FINDINGS;
out:
	free(v.reason);
	json_decref(v.diffs);
	store_close(s);
	return status;
}

const struct cmd_entry cmd_audit_verify_entry = {
    .name = "audit verify",
    .args = "",
    .summary = "check the history's hash chain, and that the tables follow from it",
    .options = verify_options,
    .globals = G_JSON | G_DB,
    .opts_size = sizeof(struct verify_opts),
    .max_args = 0,
    .notes = "Every change tokenwarden makes to a token row is recorded with a digest of\n"
	     "the row, so a row edited, added or removed outside tokenwarden is listed;\n"
	     "so is a record of the token a consumer holds or a slot's token reached,\n"
	     "and a sealed secret that is not the one its history recorded.\n"
	     "It reads only: a read-only store or an auditor's copy works.  When the\n"
	     "history verifies, its head is noted on stderr, to be kept elsewhere.\n"
	     "\n"
	     "Exit status: 0 the history verifies (and holds HASH) and the tables follow\n"
	     "from it, 1 the database cannot be read, 2 a usage error or no usable store,\n"
	     "4 the history was altered, HASH is not in it, or a token row, a record or\n"
	     "a sealed secret differs from it.\n",
    .run = run_audit_verify,
};
