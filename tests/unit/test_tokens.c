/*
 * Unit tests for store/tokens: the state machine's rows, the one-active and
 * one-in-flight rules enforced by the schema, import, listing (the live rows
 * as every listing has them), settling.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/jsonx.h"
#include "store/events.h"
#include "store/tokens.h"
#include "store_fixture.h"

#include <sqlite3.h>
#include <string.h>

static const unsigned char blob[] = {1, 2, 3, 4, 5};

static int64_t
history_length(struct fixture *fx)
{
	char head[EVENTS_HEAD_MAX], *cause = NULL;
	int64_t n = -1, bad;

	assert_int_equal(events_verify(fx->s, &n, head, &bad, &cause), 0);
	return n;
}

/* Creates a token for slot through intent and created; returns its row. */
static int64_t
make(struct fixture *fx, const char *slot, const char *id)
{
	char *cause = NULL;
	int64_t row = 0;

	if (tokens_intent(fx->s, "acme", slot, "name-x", 5000, 100, &row, &cause) < 0)
		fail_msg("intent: %s", cause);
	if (tokens_created(fx->s, row, id, 110, 5000, blob, sizeof blob, "tw1:k", 120, &cause) < 0)
		fail_msg("created: %s", cause);
	return row;
}

static void
test_state_names_round_trip(void **state)
{
	enum token_state st;

	(void)state;
	for (int i = TOKEN_PENDING; i < TOKEN_NSTATES; i++) {
		assert_int_equal(tokens_state_parse(tokens_state_name((enum token_state)i), &st),
				 0);
		assert_int_equal(st, i);
	}
	assert_int_equal(tokens_state_parse("bogus", &st), -1);
}

/* Every state counted, 0 included, for the metrics. */
static void
test_count_by_state(void **state)
{
	struct fixture *fx = *state;
	int64_t counts[TOKEN_NSTATES], row = 0;
	char *cause = NULL;

	assert_int_equal(tokens_count_by_state(fx->s, counts, &cause), 0);
	for (int i = 0; i < TOKEN_NSTATES; i++)
		assert_int_equal(counts[i], 0);
	assert_int_equal(tokens_intent(fx->s, "acme", "etl", "etl-1", 5000, 100, &row, &cause), 0);
	assert_int_equal(
	    tokens_created(fx->s, row, "abc", 110, 4980, blob, sizeof blob, "tw1:k", 120, &cause),
	    0);
	assert_int_equal(tokens_intent(fx->s, "acme", "bi", "bi-1", 5000, 100, &row, &cause), 0);
	assert_int_equal(tokens_intent(fx->s, "acme", NULL, "x-1", 5000, 100, &row, &cause), 0);
	assert_int_equal(tokens_count_by_state(fx->s, counts, &cause), 0);
	assert_int_equal(counts[TOKEN_PENDING], 2);
	assert_int_equal(counts[TOKEN_CREATED], 1);
	assert_int_equal(counts[TOKEN_ACTIVE], 0);
}

static void
test_intent_then_created(void **state)
{
	struct fixture *fx = *state;
	struct token_row *r = NULL;
	unsigned char *b = NULL;
	size_t len = 0;
	char *fpr = NULL, *cause = NULL;
	int64_t row = 0;

	assert_int_equal(
	    tokens_intent(fx->s, "acme", "etl", "etl-202611250000", 5000, 100, &row, &cause), 0);
	assert_int_equal(tokens_find(fx->s, "acme", "abc", &r, &cause), 1);
	assert_int_equal(
	    tokens_created(fx->s, row, "abc", 110, 4980, blob, sizeof blob, "tw1:k", 120, &cause),
	    0);
	assert_int_equal(tokens_find(fx->s, "acme", "abc", &r, &cause), 0);
	assert_int_equal(r->state, TOKEN_CREATED);
	assert_string_equal(r->slot, "etl");
	assert_string_equal(r->name, "etl-202611250000");
	assert_int_equal(r->expires_at, 4980);
	assert_int_equal(r->requested_at, 100);
	assert_true(r->has_secret);
	tokens_free(r, 1);
	assert_int_equal(tokens_sealed(fx->s, row, &b, &len, &fpr, &cause), 0);
	assert_int_equal(len, sizeof blob);
	assert_memory_equal(b, blob, len);
	assert_string_equal(fpr, "tw1:k");
	free(b);
	free(fpr);
	assert_int_equal(history_length(fx), 2);
	/* Recording the answer twice is refused. */
	assert_int_equal(
	    tokens_created(fx->s, row, "abc", 110, 4980, blob, sizeof blob, "tw1:k", 120, &cause),
	    -1);
	assert_non_null(strstr(cause, "is not pending"));
	free(cause);
	assert_int_equal(history_length(fx), 2);
}

/* A fresh name is refused, with nothing recorded, once the workspace has used it. */
static void
test_intent_fresh(void **state)
{
	struct fixture *fx = *state;
	int64_t counts[TOKEN_NSTATES], row = 0, first;
	char *cause = NULL;

	assert_int_equal(
	    tokens_intent_fresh(fx->s, "acme", "etl", "etl-1", 5000, 100, &first, &cause), 0);
	assert_int_equal(
	    tokens_transition(fx->s, first, TOKEN_PENDING, TOKEN_FAILED, 110, NULL, &cause), 0);
	/* Used in any state, by any slot of the workspace. */
	assert_int_equal(tokens_intent_fresh(fx->s, "acme", "bi", "etl-1", 5000, 120, &row, &cause),
			 1);
	assert_int_equal(row, 0);
	assert_int_equal(tokens_count_by_state(fx->s, counts, &cause), 0);
	assert_int_equal(counts[TOKEN_PENDING], 0);
	assert_int_equal(history_length(fx), 2);
	/* Another workspace's name, or another name, is new; tokens_intent takes any. */
	assert_int_equal(
	    tokens_intent_fresh(fx->s, "other", "etl", "etl-1", 5000, 130, &row, &cause), 0);
	assert_int_equal(
	    tokens_intent_fresh(fx->s, "acme", "etl", "etl-2", 5000, 140, &row, &cause), 0);
	assert_int_equal(tokens_intent(fx->s, "acme", NULL, "etl-1", 5000, 150, &row, &cause), 0);
	assert_int_equal(tokens_count_by_state(fx->s, counts, &cause), 0);
	assert_int_equal(counts[TOKEN_PENDING], 3);
}

static void
test_schema_refuses_second_active(void **state)
{
	struct fixture *fx = *state;
	int64_t a = make(fx, "etl", "aaa"), b;
	char *cause = NULL;

	assert_int_equal(
	    tokens_transition(fx->s, a, TOKEN_CREATED, TOKEN_ACTIVE, 130, NULL, &cause), 0);
	b = make(fx, "etl", "bbb");
	assert_int_equal(
	    tokens_transition(fx->s, b, TOKEN_CREATED, TOKEN_ACTIVE, 140, NULL, &cause), -1);
	assert_non_null(strstr(cause, "already has an active token"));
	FREE_NULL(&cause);
	/* Also straight SQL, bypassing the C code. */
	assert_int_not_equal(sqlite3_exec(fx->s->db,
					  "UPDATE tokens SET state = 'active' WHERE token = 'bbb'",
					  NULL, NULL, NULL),
			     SQLITE_OK);
	/* The old one retires first; then the new one may become active. */
	assert_int_equal(
	    tokens_transition(fx->s, a, TOKEN_ACTIVE, TOKEN_RETIRING, 150, NULL, &cause), 0);
	assert_int_equal(
	    tokens_transition(fx->s, b, TOKEN_CREATED, TOKEN_ACTIVE, 160, NULL, &cause), 0);
	/* Another slot is independent. */
	assert_int_equal(tokens_transition(fx->s, make(fx, "bi", "ccc"), TOKEN_CREATED,
					   TOKEN_ACTIVE, 170, NULL, &cause),
			 0);
}

/*
 * Activation swaps the slot's tokens in one transaction, retiring whatever
 * the slot has active at that moment, or changes nothing.
 */
static void
test_activate(void **state)
{
	struct fixture *fx = *state;
	int64_t a = make(fx, "etl", "aaa"), b, c, d, retired = -1;
	struct token_row *r = NULL;
	char *cause = NULL;
	int events;

	/* The slot's first token: nothing to retire. */
	assert_int_equal(tokens_activate(fx->s, a, 0, 130, &retired, &cause), 0);
	assert_int_equal(retired, 0);
	b = make(fx, "etl", "bbb");
	assert_int_equal(
	    tokens_transition(fx->s, b, TOKEN_CREATED, TOKEN_VERIFIED, 135, NULL, &cause), 0);
	events = history_length(fx);
	assert_int_equal(tokens_activate(fx->s, b, 86400130, 140, &retired, &cause), 0);
	assert_int_equal(retired, a);
	assert_int_equal(history_length(fx), events + 2);
	assert_int_equal(tokens_find(fx->s, "acme", "aaa", &r, &cause), 0);
	assert_int_equal(r->state, TOKEN_RETIRING);
	assert_int_equal(r->retire_after, 86400130);
	tokens_free(r, 1);
	assert_int_equal(tokens_find(fx->s, "acme", "bbb", &r, &cause), 0);
	assert_int_equal(r->state, TOKEN_ACTIVE);
	tokens_free(r, 1);

	/* The active token went away before the activation (deleted as expired): still fine. */
	assert_int_equal(tokens_mark_deleted(fx->s, "acme", "bbb", 145, NULL, &cause), 0);
	c = make(fx, "etl", "ccc");
	assert_int_equal(tokens_activate(fx->s, c, 1, 150, &retired, &cause), 0);
	assert_int_equal(retired, 0);

	/* A row that is not created or verified: refused, nothing changes. */
	d = make(fx, "etl", "ddd");
	assert_int_equal(
	    tokens_transition(fx->s, d, TOKEN_CREATED, TOKEN_REVOKED, 155, NULL, &cause), 0);
	events = history_length(fx);
	retired = -1;
	assert_int_equal(tokens_activate(fx->s, d, 1, 160, &retired, &cause), -1);
	assert_int_equal(retired, 0);
	assert_non_null(strstr(cause, "is not created or verified; nothing changed"));
	FREE_NULL(&cause);
	assert_int_equal(history_length(fx), events);
	assert_int_equal(tokens_find(fx->s, "acme", "ccc", &r, &cause), 0);
	assert_int_equal(r->state, TOKEN_ACTIVE);
	tokens_free(r, 1);
}

/* A kept replacement retires at its expiry, brought forward by the slot's next activation. */
static void
test_retire_kept(void **state)
{
	struct fixture *fx = *state;
	int64_t a = make(fx, "etl", "aaa"), b, c, retired = 0;
	struct token_row *r = NULL;
	char *cause = NULL;

	assert_int_equal(tokens_activate(fx->s, a, 0, 130, &retired, &cause), 0);
	b = make(fx, "etl", "bbb");
	assert_int_equal(tokens_retire(fx->s, b, 900000, 140, NULL, &cause), 0);
	assert_int_equal(tokens_retire(fx->s, b, 900000, 140, NULL, &cause), -1);
	assert_non_null(strstr(cause, "is not created or verified"));
	FREE_NULL(&cause);
	assert_int_equal(tokens_find(fx->s, "acme", "bbb", &r, &cause), 0);
	assert_int_equal(r->state, TOKEN_RETIRING);
	assert_int_equal(r->retire_after, 900000);
	tokens_free(r, 1);
	/* The next rotation reaches every consumer: both older tokens go after its grace. */
	c = make(fx, "etl", "ccc");
	assert_int_equal(tokens_activate(fx->s, c, 5000, 150, &retired, &cause), 0);
	assert_int_equal(retired, a);
	assert_int_equal(tokens_find(fx->s, "acme", "bbb", &r, &cause), 0);
	assert_int_equal(r->state, TOKEN_RETIRING);
	assert_int_equal(r->retire_after, 5000);
	tokens_free(r, 1);
}

/* Keeps row with the consumers it reached (NULL: none named), superseded ones at 6000. */
static int
keep_reached(struct fixture *fx, int64_t row, const char *reached, int64_t now)
{
	json_t *d = json_pack("{s:s}", "reason", "test");
	char *cause = NULL;
	int superseded = -1;

	if (reached != NULL)
		json_object_set_new(d, "reached", json_loads(reached, 0, NULL));
	if (tokens_keep(fx->s, row, 900000, 6000, now, d, &superseded, &cause) < 0)
		fail_msg("keep: %s", cause);
	json_decref(d);
	return superseded;
}

/* The state and retire_after of token in workspace acme. */
static enum token_state
state_of(struct fixture *fx, const char *token, int64_t *retire_after)
{
	struct token_row *r = NULL;
	char *cause = NULL;
	enum token_state st;

	if (tokens_find(fx->s, "acme", token, &r, &cause) < 0)
		fail_msg("find %s: %s", token, cause);
	st = r->state;
	*retire_after = r->retire_after;
	tokens_free(r, 1);
	return st;
}

static int64_t
retire_after_of(struct fixture *fx, const char *token)
{
	int64_t v = 0;

	assert_int_equal(state_of(fx, token, &v), TOKEN_RETIRING);
	return v;
}

/*
 * A kept replacement the consumers that took it no longer hold (they took a
 * newer one) retires at the grace; one a consumer may still hold stays kept:
 * a consumer the newer one did not reach, or one an interrupted run kept.
 */
static void
test_keep_supersedes(void **state)
{
	struct fixture *fx = *state;
	int64_t a = make(fx, "etl", "aaa"), retired = 0, b, c, d, e, other;
	char *cause = NULL;
	int events, superseded;

	assert_int_equal(tokens_activate(fx->s, a, 0, 130, &retired, &cause), 0);
	b = make(fx, "etl", "bbb");
	assert_int_equal(keep_reached(fx, b, "[\"fa\", \"fb\"]", 140), 0);
	/* Only fa took c: fb still holds b. */
	c = make(fx, "etl", "ccc");
	assert_int_equal(keep_reached(fx, c, "[\"fa\"]", 150), 0);
	assert_int_equal(retire_after_of(fx, "bbb"), 900000);
	/* An interrupted run's keep names no consumer; another slot's is not this one's. */
	d = make(fx, "etl", "ddd");
	assert_int_equal(tokens_retire(fx->s, d, 900000, 155, NULL, &cause), 0);
	other = make(fx, "bi", "ooo");
	assert_int_equal(keep_reached(fx, other, "[\"fa\"]", 156), 0);
	/* fb and fa took e, in another order: b and c go after the grace, d stays. */
	e = make(fx, "etl", "eee");
	events = history_length(fx);
	assert_int_equal(keep_reached(fx, e, "[\"fb\", \"fa\"]", 160), 2);
	assert_int_equal(history_length(fx), events + 3);
	assert_int_equal(retire_after_of(fx, "bbb"), 6000);
	assert_int_equal(retire_after_of(fx, "ccc"), 6000);
	assert_int_equal(retire_after_of(fx, "ddd"), 900000);
	assert_int_equal(retire_after_of(fx, "ooo"), 900000);
	assert_int_equal(retire_after_of(fx, "eee"), 900000);
	/* A keep that fails (the row is not in flight) changes nothing. */
	events = history_length(fx);
	superseded = -1;
	assert_int_equal(tokens_keep(fx->s, e, 900000, 1, 170, NULL, &superseded, &cause), -1);
	assert_non_null(strstr(cause, "is not created or verified"));
	FREE_NULL(&cause);
	assert_int_equal(superseded, 0);
	assert_int_equal(history_length(fx), events);
	assert_int_equal(retire_after_of(fx, "ddd"), 900000);
}

/*
 * A replacement kept for the consumers that took it goes back in flight to
 * be handed to the rest: only while it is kept (retiring at its expiry)
 * and its slot has no other replacement in flight; it stays marked as
 * handed to consumers, and activates as a fresh one.
 */
static void
test_resume_kept(void **state)
{
	struct fixture *fx = *state;
	int64_t a = make(fx, "etl", "aaa"), retired = 0, b, c, d, after = 0, events;
	char *cause = NULL;
	int resumed = -1, superseded;

	assert_int_equal(tokens_activate(fx->s, a, 0, 130, &retired, &cause), 0);
	b = make(fx, "etl", "bbb");
	/* Kept at its expiry (5000), as rotate keeps one. */
	assert_int_equal(tokens_keep(fx->s, b, 5000, 6000, 140, NULL, &superseded, &cause), 0);
	/* One retiring before its expiry is not kept: not resumed, nothing recorded. */
	c = make(fx, "bi", "ccc");
	assert_int_equal(keep_reached(fx, c, NULL, 145), 0);
	events = history_length(fx);
	assert_int_equal(tokens_resume(fx->s, c, TOKEN_VERIFIED, 2, 1, 150, &resumed, &cause), 0);
	assert_int_equal(resumed, 0);
	assert_int_equal(state_of(fx, "ccc", &after), TOKEN_RETIRING);
	/* Nor while its slot has another replacement in flight. */
	d = make(fx, "etl", "ddd");
	assert_int_equal(tokens_resume(fx->s, b, TOKEN_VERIFIED, 2, 1, 150, &resumed, &cause), 0);
	assert_int_equal(resumed, 0);
	assert_int_equal(state_of(fx, "bbb", &after), TOKEN_RETIRING);
	assert_int_equal(history_length(fx), events + 2); /* d's intent and created */
	assert_int_equal(
	    tokens_transition(fx->s, d, TOKEN_CREATED, TOKEN_FAILED, 155, NULL, &cause), 0);
	events = history_length(fx);
	assert_int_equal(tokens_resume(fx->s, b, TOKEN_VERIFIED, 2, 1, 160, &resumed, &cause), 0);
	assert_int_equal(resumed, 1);
	assert_int_equal(state_of(fx, "bbb", &after), TOKEN_VERIFIED);
	assert_int_equal(after, 5000);
	assert_int_equal(history_length(fx), events + 1);
	/* In flight again: a second resume finds nothing kept. */
	assert_int_equal(tokens_resume(fx->s, b, TOKEN_VERIFIED, 2, 1, 165, &resumed, &cause), 0);
	assert_int_equal(resumed, 0);
	assert_int_equal(tokens_activate(fx->s, b, 6000, 170, &retired, &cause), 0);
	assert_int_equal(retired, a);
	assert_int_equal(state_of(fx, "bbb", &after), TOKEN_ACTIVE);
	assert_int_equal(state_of(fx, "aaa", &after), TOKEN_RETIRING);
	assert_int_equal(after, 6000);
}

static void
test_schema_refuses_second_in_flight(void **state)
{
	struct fixture *fx = *state;
	int64_t row = 0, before;
	char *cause = NULL;

	assert_int_equal(tokens_intent(fx->s, "acme", "etl", "n1", 5000, 100, &row, &cause), 0);
	before = history_length(fx);
	assert_int_equal(tokens_intent(fx->s, "acme", "etl", "n2", 5000, 100, &row, &cause), -1);
	assert_non_null(strstr(cause, "already has a replacement in flight"));
	free(cause);
	assert_int_equal(history_length(fx), before); /* nothing recorded */
	/* Unmanaged intents (no slot) are not limited. */
	assert_int_equal(tokens_intent(fx->s, "acme", NULL, "n3", 5000, 100, &row, &cause), 0);
	assert_int_equal(tokens_intent(fx->s, "acme", NULL, "n4", 5000, 100, &row, &cause), 0);
}

static void
test_transition_from_wrong_state(void **state)
{
	struct fixture *fx = *state;
	int64_t row = make(fx, "etl", "aaa"), before = history_length(fx);
	char *cause = NULL;

	assert_int_equal(
	    tokens_transition(fx->s, row, TOKEN_VERIFIED, TOKEN_ACTIVE, 130, NULL, &cause), -1);
	assert_non_null(strstr(cause, "is not verified; nothing changed"));
	free(cause);
	assert_int_equal(history_length(fx), before);
}

static void
test_settle_pending_to_unknown(void **state)
{
	struct fixture *fx = *state;
	struct token_filter f = {.state = TOKEN_UNKNOWN};
	struct token_row *rows = NULL;
	size_t n = 0;
	int64_t row = 0;
	int settled = -1;
	char *cause = NULL;

	assert_int_equal(tokens_intent(fx->s, "acme", "etl", "lost-one", 7000, 100, &row, &cause),
			 0);
	make(fx, "bi", "aaa");
	assert_int_equal(tokens_settle_pending(fx->s, 200, &settled, &cause), 0);
	assert_int_equal(settled, 1);
	assert_int_equal(tokens_list(fx->s, &f, &rows, &n, &cause), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].name, "lost-one");
	assert_int_equal(rows[0].expires_at, 7000);
	assert_null(rows[0].token);
	tokens_free(rows, n);
}

static void
test_import_and_list(void **state)
{
	struct fixture *fx = *state;
	struct token_import a = {.workspace = "acme",
				 .token = "imp1",
				 .name = "by-hand",
				 .created_at = 10,
				 .expires_at = 9000};
	struct token_import b = {.workspace = "acme",
				 .slot = "etl",
				 .token = "imp2",
				 .name = "etl-old",
				 .created_at = 20,
				 .expires_at = 9000,
				 .sealed = blob,
				 .sealed_len = sizeof blob,
				 .fpr = "tw1:k"};
	struct token_filter unmanaged = {.slot = "", .state = -1},
			    etl = {.slot = "etl", .state = -1},
			    other = {.workspace = "other", .state = -1};
	struct token_row *rows = NULL;
	size_t n = 0;
	char *cause = NULL;

	assert_int_equal(tokens_import(fx->s, &a, 100, &cause), 0);
	assert_int_equal(tokens_import(fx->s, &b, 100, &cause), 0);
	assert_int_equal(tokens_import(fx->s, &a, 100, &cause), -1);
	assert_non_null(strstr(cause, "already in the inventory"));
	FREE_NULL(&cause);
	assert_int_equal(tokens_list(fx->s, &unmanaged, &rows, &n, &cause), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].token, "imp1");
	assert_null(rows[0].slot);
	assert_false(rows[0].has_secret);
	assert_string_equal(rows[0].origin, "imported");
	tokens_free(rows, n);
	assert_int_equal(tokens_list(fx->s, &etl, &rows, &n, &cause), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].state, TOKEN_ACTIVE);
	assert_true(rows[0].has_secret);
	tokens_free(rows, n);
	assert_int_equal(tokens_list(fx->s, &other, &rows, &n, &cause), 0);
	assert_int_equal(n, 0);
	tokens_free(rows, n);
	assert_int_equal(history_length(fx), 2);
}

/*
 * tokens_live reads names by id rather than by join, and the rows share
 * them: it lists exactly what tokens_list lists in the live states, a row
 * whose slot is gone with no slot, and no row whose workspace is gone.
 */
static void
test_live_as_listed(void **state)
{
	struct fixture *fx = *state;
	struct token_import imp = {.workspace = "beta",
				   .token = "imp1",
				   .name = "by-hand",
				   .created_at = 10,
				   .expires_at = 9000};
	struct token_filter all = {.state = -1}, live_only = {.state = -1, .live = 1};
	struct token_row *live = NULL, *rows = NULL, *listed = NULL;
	size_t nl = 0, n = 0, k = 0, nlisted = 0;
	char *cause = NULL;
	int64_t gone, deleted, pending;

	make(fx, "etl", "t-etl");
	gone = make(fx, "bi", "t-bi");
	deleted = make(fx, "ops", "t-ops");
	assert_int_equal(tokens_mark_deleted(fx->s, "acme", "t-ops", 200, NULL, &cause), 0);
	assert_int_equal(tokens_import(fx->s, &imp, 100, &cause), 0);
	assert_int_equal(tokens_intent(fx->s, "acme", "ml", "ml-1", 5000, 100, &pending, &cause),
			 0);
	/* A slot and a workspace removed under their rows (foreign keys off, as an editor might).
	 */
	assert_int_equal(
	    sqlite3_exec(fx->s->db,
			 "PRAGMA foreign_keys = OFF; DELETE FROM slots WHERE name = 'bi'; "
			 "DELETE FROM workspaces WHERE name = 'beta'; "
			 "PRAGMA foreign_keys = ON",
			 NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(tokens_live(fx->s, &live, &nl, &cause), 0);
	assert_int_equal(tokens_list(fx->s, &all, &rows, &n, &cause), 0);
	for (size_t i = 0; i < n; i++) {
		if (rows[i].state == TOKEN_DELETED)
			continue;
		assert_true(k < nl);
		assert_same_row(&live[k++], &rows[i]);
	}
	assert_int_equal(k, nl);
	assert_int_equal(nl, 3); /* etl, bi (no slot now) and ml's intent; not the import */
	for (size_t i = 0; i < nl; i++) {
		assert_true(live[i].row != deleted);
		if (live[i].row == gone)
			assert_null(live[i].slot);
	}
	assert_ptr_equal(live[0].workspace, live[2].workspace); /* one copy of each name */
	assert_int_equal(live[2].row, pending);
	/* token list's default: every row of all but the deleted one, in the same order. */
	assert_int_equal(tokens_list(fx->s, &live_only, &listed, &nlisted, &cause), 0);
	k = 0;
	for (size_t i = 0; i < n; i++) {
		if (rows[i].state == TOKEN_DELETED)
			continue;
		assert_true(k < nlisted);
		assert_int_equal(listed[k++].row, rows[i].row);
	}
	assert_int_equal(k, nlisted);
	assert_int_equal(nlisted, n - 1);
	tokens_free(listed, nlisted);
	tokens_free(rows, n);
	/* The planner's read: the same rows, without looking up their secrets. */
	assert_int_equal(tokens_live_unsealed(fx->s, &rows, &n, &cause), 0);
	assert_int_equal(n, nl);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(rows[i].has_secret, -1);
		rows[i].has_secret = live[i].has_secret;
		assert_same_row(&rows[i], &live[i]);
	}
	assert_true(live[0].has_secret);
	tokens_free(live, nl);
	tokens_free(rows, n);
	assert_null(cause);
}

/* What tokens_each handed over: the rows, copied; stops with 7 once it has stop of them. */
struct each {
	struct token_row rows[16];
	size_t n, stop;
};

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static int
keep_row(const struct token_row *r, void *arg)
{
	struct each *e = arg;
	struct token_row *c = &e->rows[e->n++];

	assert_true(e->n <= sizeof e->rows / sizeof e->rows[0]);
	*c = *r;
	c->workspace = dup_or_null(r->workspace);
	c->slot = dup_or_null(r->slot);
	c->token = dup_or_null(r->token);
	c->name = dup_or_null(r->name);
	c->origin = dup_or_null(r->origin);
	return e->n == e->stop ? 7 : 0;
}

static void
each_free(struct each *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->rows[i].workspace);
		free(e->rows[i].slot);
		free(e->rows[i].token);
		free(e->rows[i].name);
		free(e->rows[i].origin);
	}
	e->n = 0;
}

/*
 * tokens_each hands over, one at a time, exactly the rows tokens_list
 * lists, for every filter: NULL slots and token ids, secrets or none,
 * names of every length; and stops at the first call that says so.
 */
static void
test_each_as_listed(void **state)
{
	struct fixture *fx = *state;
	struct token_import imp = {.workspace = "beta",
				   .token = "imp1",
				   .name = "a-hand-made-token-with-a-name-longer-than-the-others",
				   .created_at = 10,
				   .expires_at = 9000};
	const struct token_filter filters[] = {
	    {.state = -1},
	    {.workspace = "acme", .state = -1},
	    {.slot = "", .state = -1},
	    {.slot = "etl", .state = -1},
	    {.state = TOKEN_PENDING},
	    {.state = TOKEN_DELETED},
	    {.workspace = "nosuch", .state = -1},
	};
	struct token_row *rows = NULL;
	struct each e = {0};
	size_t n = 0;
	char *cause = NULL;
	int64_t pending;

	make(fx, "etl", "t-etl");
	make(fx, "bi", "t-bi");
	make(fx, "ops", "t-ops");
	assert_int_equal(tokens_mark_deleted(fx->s, "acme", "t-ops", 200, NULL, &cause), 0);
	assert_int_equal(tokens_import(fx->s, &imp, 100, &cause), 0);
	assert_int_equal(tokens_intent(fx->s, "acme", "ml", "ml-1", 5000, 100, &pending, &cause),
			 0);
	for (size_t f = 0; f < sizeof filters / sizeof filters[0]; f++) {
		assert_int_equal(tokens_list(fx->s, &filters[f], &rows, &n, &cause), 0);
		assert_int_equal(tokens_each(fx->s, &filters[f], keep_row, &e, &cause), 0);
		assert_int_equal(e.n, n);
		for (size_t i = 0; i < n; i++)
			assert_same_row(&e.rows[i], &rows[i]);
		tokens_free(rows, n);
		each_free(&e);
	}
	/* Stopped by the second call: its value comes back, and no third call is made. */
	e.stop = 2;
	assert_int_equal(tokens_each(fx->s, &filters[0], keep_row, &e, &cause), 7);
	assert_int_equal(e.n, 2);
	each_free(&e);
	assert_null(cause);
}

/* Counts the rows tokens_each hands over. */
static int
count_row(const struct token_row *r, void *arg)
{
	(void)r;
	(*(size_t *)arg)++;
	return 0;
}

/*
 * store_read_begin: the reads until store_read_end see the store as the
 * first found it, though another connection commits a row in between (a
 * table measured, then printed); after it, they see the row.
 */
static void
test_read_transaction(void **state)
{
	struct fixture *fx = *state;
	struct token_filter all = {.state = -1};
	struct store *other = NULL;
	size_t first = 0, second = 0, after = 0;
	char *cause = NULL;
	int64_t row;

	make(fx, "etl", "t-etl");
	assert_int_equal(store_open(fx->path, STORE_READ, &other, &cause), 0);
	assert_int_equal(store_read_begin(other, &cause), 0);
	assert_int_equal(tokens_each(other, &all, count_row, &first, &cause), 0);
	assert_int_equal(tokens_intent(fx->s, "acme", "bi", "bi-1", 5000, 100, &row, &cause), 0);
	assert_int_equal(tokens_each(other, &all, count_row, &second, &cause), 0);
	store_read_end(other);
	assert_int_equal(tokens_each(other, &all, count_row, &after, &cause), 0);
	assert_int_equal(first, 1);
	assert_int_equal(second, 1);
	assert_int_equal(after, 2);
	store_close(other);
	assert_null(cause);
}

static void
test_mark_deleted(void **state)
{
	struct fixture *fx = *state;
	struct token_row *r = NULL;
	char *cause = NULL;
	int64_t n;

	make(fx, "etl", "aaa");
	n = history_length(fx);
	assert_int_equal(tokens_mark_deleted(fx->s, "acme", "aaa", 300, NULL, &cause), 0);
	assert_int_equal(tokens_find(fx->s, "acme", "aaa", &r, &cause), 0);
	assert_int_equal(r->state, TOKEN_DELETED);
	assert_int_equal(r->updated_at, 300);
	tokens_free(r, 1);
	/* A token the inventory never knew: only the event. */
	assert_int_equal(tokens_mark_deleted(fx->s, "acme", "zzz", 310, NULL, &cause), 0);
	assert_int_equal(tokens_find(fx->s, "acme", "zzz", &r, &cause), 1);
	assert_int_equal(history_length(fx), n + 2);
}

/*
 * The dead tokens a consumer may hold: a slot's token revoked or deleted
 * before its retire_after, newer than the slot's active token.  Not a
 * replacement never delivered, nor one retired after its grace, nor a token
 * of no slot; and none once the slot has an active token newer than them.
 */
static void
test_dead_held(void **state)
{
	struct fixture *fx = *state;
	int64_t a = make(fx, "etl", "aaa"), b, e, f, g, retired = 0;
	struct token_row *r = NULL;
	char *cause = NULL;
	size_t n = 9;

	assert_int_equal(tokens_delivering(fx->s, a, 1, 125, &cause), 0);
	assert_int_equal(tokens_activate(fx->s, a, 0, 130, &retired, &cause), 0);
	/* Delivered, then revoked: kept for its consumers until 5000. */
	b = make(fx, "etl", "bbb");
	assert_int_equal(tokens_delivering(fx->s, b, 1, 135, &cause), 0);
	assert_int_equal(
	    tokens_transition(fx->s, b, TOKEN_CREATED, TOKEN_REVOKED, 140, NULL, &cause), 0);
	assert_int_equal(tokens_dead_held(fx->s, &r, &n, &cause), 0);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].row, b);
	assert_string_equal(r[0].token, "bbb");
	assert_string_equal(r[0].slot, "etl");
	assert_int_equal(r[0].state, TOKEN_REVOKED);
	assert_int_equal(r[0].updated_at, 140);
	tokens_free(r, n);
	/* Never delivered: no consumer holds it. */
	make(fx, "etl", "ccc");
	assert_int_equal(tokens_mark_deleted(fx->s, "acme", "ccc", 145, NULL, &cause), 0);
	/* The next rotation retires aaa until 200; it is deleted after. */
	e = make(fx, "etl", "eee");
	assert_int_equal(tokens_delivering(fx->s, e, 1, 148, &cause), 0);
	assert_int_equal(tokens_activate(fx->s, e, 200, 150, &retired, &cause), 0);
	assert_int_equal(retired, a);
	assert_int_equal(tokens_mark_deleted(fx->s, "acme", "aaa", 250, NULL, &cause), 0);
	/* eee is newer than bbb: nothing a consumer may hold is dead. */
	assert_int_equal(tokens_dead_held(fx->s, &r, &n, &cause), 0);
	assert_int_equal(n, 0);
	tokens_free(r, n);
	/* The active token deleted by hand while its consumers hold it: the slot has none. */
	assert_int_equal(tokens_mark_deleted(fx->s, "acme", "eee", 260, NULL, &cause), 0);
	/* A token of no slot, kept and revoked. */
	f = make(fx, NULL, "fff");
	assert_int_equal(tokens_retire(fx->s, f, 4000, 270, NULL, &cause), 0);
	assert_int_equal(
	    tokens_transition(fx->s, f, TOKEN_RETIRING, TOKEN_REVOKED, 280, NULL, &cause), 0);
	assert_int_equal(tokens_dead_held(fx->s, &r, &n, &cause), 0);
	assert_int_equal(n, 2);
	assert_int_equal(r[0].row, b);
	assert_int_equal(r[1].row, e);
	assert_int_equal(r[1].state, TOKEN_DELETED);
	tokens_free(r, n);
	/* A newer active token: they are all behind it. */
	g = make(fx, "etl", "ggg");
	assert_int_equal(tokens_activate(fx->s, g, 300, 290, &retired, &cause), 0);
	assert_int_equal(tokens_dead_held(fx->s, &r, &n, &cause), 0);
	assert_int_equal(n, 0);
	tokens_free(r, n);
	assert_null(cause);
}

/* A token is found by its id, else by its name; a name two tokens share is refused. */
static void
test_lookup_by_id_or_name(void **state)
{
	struct fixture *fx = *state;
	struct token_import a = {.workspace = "acme",
				 .token = "imp1",
				 .name = "by-hand",
				 .created_at = 10,
				 .expires_at = 9000};
	struct token_import b = a, c = a, d = a;
	struct token_row *r = NULL;
	char *cause = NULL;

	/* The same name in another workspace, and a token named as a's id. */
	b.workspace = "beta";
	b.token = "imp2";
	c.token = "imp3";
	c.name = "imp1";
	assert_int_equal(tokens_import(fx->s, &a, 100, &cause), 0);
	assert_int_equal(tokens_import(fx->s, &b, 100, &cause), 0);
	assert_int_equal(tokens_import(fx->s, &c, 100, &cause), 0);
	assert_int_equal(tokens_lookup(fx->s, "acme", "imp1", &r, &cause), 0);
	assert_string_equal(r->name, "by-hand"); /* the id wins over c's name */
	tokens_free(r, 1);
	assert_int_equal(tokens_lookup(fx->s, "acme", "by-hand", &r, &cause), 0);
	assert_string_equal(r->token, "imp1");
	tokens_free(r, 1);
	assert_int_equal(tokens_lookup(fx->s, "beta", "by-hand", &r, &cause), 0);
	assert_string_equal(r->token, "imp2");
	tokens_free(r, 1);
	assert_int_equal(tokens_lookup(fx->s, "acme", "nosuch", &r, &cause), 1);
	assert_int_equal(tokens_lookup(fx->s, "gamma", "by-hand", &r, &cause), 1);
	/* A second hand-made token of that name in acme: refused, naming both ids. */
	d.token = "imp4";
	assert_int_equal(tokens_import(fx->s, &d, 100, &cause), 0);
	assert_int_equal(tokens_lookup(fx->s, "acme", "by-hand", &r, &cause), 2);
	assert_string_equal(cause, "workspace acme has 2 tokens named 'by-hand': imp1 (active), "
				   "imp4 (active); give the id of one");
	FREE_NULL(&cause);
	assert_int_equal(tokens_lookup(fx->s, "acme", "imp4", &r, &cause), 0);
	tokens_free(r, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_state_names_round_trip),
	    cmocka_unit_test_setup_teardown(test_count_by_state, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_intent_then_created, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_intent_fresh, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_schema_refuses_second_active, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_activate, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_retire_kept, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_keep_supersedes, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_resume_kept, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_schema_refuses_second_in_flight, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_transition_from_wrong_state, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_settle_pending_to_unknown, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_import_and_list, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_live_as_listed, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_each_as_listed, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_read_transaction, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_mark_deleted, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_dead_held, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_lookup_by_id_or_name, fixture_setup,
					    fixture_teardown),
	};

	jsonx_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
