/* The inventory of token generations and their state changes. */
#include "store/tokens.h"

#include "core/clock.h"
#include "core/timefmt.h"
#include "core/xalloc.h"
#include "store/events.h"
#include "store/inventory.h"
#include "store/store_priv.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

const char *const tokens_states[TOKEN_NSTATES + 1] = {
    [TOKEN_PENDING] = "pending", [TOKEN_CREATED] = "created",   [TOKEN_VERIFIED] = "verified",
    [TOKEN_ACTIVE] = "active",   [TOKEN_RETIRING] = "retiring", [TOKEN_DELETED] = "deleted",
    [TOKEN_FAILED] = "failed",   [TOKEN_UNKNOWN] = "unknown",   [TOKEN_EXPIRED] = "expired",
    [TOKEN_REVOKED] = "revoked", [TOKEN_NSTATES] = NULL,
};

#define NSTATES ((size_t)TOKEN_NSTATES)

const char *
tokens_state_name(enum token_state st)
{
	return (size_t)st < NSTATES ? tokens_states[st] : "?";
}

int
tokens_state_parse(const char *name, enum token_state *st)
{
	for (size_t i = 0; i < NSTATES; i++) {
		if (strcmp(tokens_states[i], name) == 0) {
			*st = (enum token_state)i;
			return 0;
		}
	}
	return -1;
}

/* Steps a statement that returns no rows; finalizes it.  Returns 0 or -1. */
static int
run(struct store *s, sqlite3_stmt *st, const char *what, char **cause)
{
	int rc = 0;

	if (sqlite3_step(st) != SQLITE_DONE) {
		store_error(s, what, cause);
		rc = -1;
	}
	store_done(s, st);
	return rc;
}

static void
set_time(json_t *o, const char *key, int64_t ms)
{
	char buf[TIMEFMT_MAX];

	timefmt_mode(ms, buf);
	json_object_set_new(o, key, json_string(buf));
}

/* tokens_row_event with details d, its own copy, which it takes. */
static int
row_event_taking(struct store *s, int64_t row, int64_t now, const char *kind, json_t *d,
		 char **cause)
{
	char *ws = NULL, *slot = NULL, *token = NULL;
	int rc = -1;

	if (inventory_stamp(s, row, d, &ws, &slot, &token, cause) == 0)
		rc = events_append(s, now, kind, ws, slot, token, d, cause);
	json_decref(d);
	free(ws);
	free(slot);
	free(token);
	return rc;
}

int
tokens_row_event(struct store *s, int64_t row, int64_t now, const char *kind, const json_t *details,
		 char **cause)
{
	return row_event_taking(s, row, now, kind,
				details != NULL ? json_deep_copy(details) : json_object(), cause);
}

/*
 * Erases row's sealed secret, if it holds one.  Returns 1 when it did, 0
 * when it held none, or -1 with *cause.
 */
static int
erase_secret(struct store *s, int64_t row, char **cause)
{
	sqlite3_stmt *st = store_prepare(s, "DELETE FROM secrets WHERE token_row = ?1", cause);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, row);
	if (run(s, st, "erasing a dead token's sealed secret", cause) < 0)
		return -1;
	return sqlite3_changes(s->db) > 0;
}

/*
 * tokens_row_event for row's move to a state in which its token no longer
 * exists on the server (deleted, revoked): the sealed secret, which opens
 * nothing any more, is erased first (secure_delete zeroes its bytes), and
 * the event says so ("secret": "erased").  The history keeps its digest.
 */
static int
dead_row_event(struct store *s, int64_t row, int64_t now, const char *kind, const json_t *details,
	       char **cause)
{
	int erased = erase_secret(s, row, cause);
	json_t *d;

	if (erased < 0)
		return -1;
	d = details != NULL ? json_deep_copy(details) : json_object();
	if (erased)
		json_object_set_new(d, "secret", json_string("erased"));
	return row_event_taking(s, row, now, kind, d, cause);
}

int
tokens_erase_dead_secrets(struct store *s, char **cause)
{
	/* The rows first: a scan of secrets does not see its own deletions through. */
	sqlite3_stmt *st =
	    store_prepare(s,
			  "SELECT x.token_row FROM secrets x JOIN tokens t ON t.id = "
			  "x.token_row WHERE t.state = 'deleted' OR t.state = "
			  "'revoked' ORDER BY x.token_row",
			  cause);
	json_t *d = json_pack("{s:s}", "reason",
			      "a deleted or revoked token's sealed secret, erased when the store "
			      "began to erase them with their tokens (schema 20)");
	int64_t *rows = NULL, now = clock_now_ms();
	size_t n = 0, cap = 0;
	int step, rc = 0;

	if (st == NULL) {
		json_decref(d);
		return -1;
	}
	for (step = sqlite3_step(st); step == SQLITE_ROW; step = sqlite3_step(st)) {
		if (n == cap)
			rows = xgrow(rows, &cap, 64, sizeof *rows);
		rows[n++] = sqlite3_column_int64(st, 0);
	}
	if (step != SQLITE_DONE) {
		store_error(s, "finding the secrets of deleted tokens", cause);
		rc = -1;
	}
	store_done(s, st);
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = erase_secret(s, rows[i], cause) < 0 ? -1 : 0;
		if (rc == 0)
			rc = tokens_row_event(s, rows[i], now, "secret.erased", d, cause);
	}
	free(rows);
	json_decref(d);
	return rc;
}

/* Says why the schema refused moving a row to state `to`, in the user's terms. */
static void
constraint_cause(struct store *s, int64_t row, enum token_state to, char **cause)
{
	const char *msg = sqlite3_errmsg(s->db);

	/* SQLite names the column, not the partial index: the target state tells which. */
	if (strstr(msg, "tokens.slot_id") != NULL)
		*cause = xasprintf(
		    "%s: the slot of token row %lld already has %s", s->path, (long long)row,
		    to == TOKEN_ACTIVE ? "an active token" : "a replacement in flight");
	else
		*cause = xasprintf("%s: refused by the schema: %s", s->path, msg);
}

/* tokens_intent; with fresh, 1 and nothing recorded when the workspace has used name. */
static int
intent(struct store *s, const char *workspace, const char *slot, const char *name,
       int64_t expires_at, int64_t now, int fresh, int64_t *row, char **cause)
{
	sqlite3_stmt *st = NULL;
	json_t *details = json_object();
	int64_t ws, sl;
	int rc = -1;

	if (store_begin(s, cause) < 0)
		goto out;
	ws = store_workspace_id(s, workspace, cause);
	sl = ws < 0 ? -1 : store_slot_id(s, ws, slot, cause);
	if (sl < 0)
		goto out;
	/* A fresh name is one the workspace has no token of, in any state. */
	if (fresh) {
		rc = (int)store_query_id(
		    s, "SELECT 1 FROM tokens WHERE workspace_id = ?1 AND name = ?2", ws, name,
		    "looking up a token name", cause);
		if (rc != 0)
			goto out;
		rc = -1;
	}
	st = store_prepare(
	    s,
	    "INSERT INTO tokens (workspace_id, slot_id, name, state, origin, requested_at, "
	    "expires_at, updated_at) VALUES (?1, ?2, ?3, 'pending', 'created', ?4, ?5, ?4)",
	    cause);
	if (st == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, ws);
	if (sl > 0)
		sqlite3_bind_int64(st, 2, sl);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_int64(st, 5, expires_at);
	if (sqlite3_step(st) != SQLITE_DONE) {
		if (sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE)
			*cause = xasprintf("%s: slot %s already has a replacement in flight",
					   s->path, slot != NULL ? slot : "?");
		else
			store_error(s, "recording the intent", cause);
		goto out;
	}
	*row = sqlite3_last_insert_rowid(s->db);
	json_object_set_new(details, "name", json_string(name));
	set_time(details, "expires_at", expires_at);
	if (tokens_row_event(s, *row, now, "token.intent", details, cause) < 0)
		goto out;
	rc = 0;
out:
	store_done(s, st);
	json_decref(details);
	return store_end(s, rc, cause);
}

int
tokens_intent(struct store *s, const char *workspace, const char *slot, const char *name,
	      int64_t expires_at, int64_t now, int64_t *row, char **cause)
{
	return intent(s, workspace, slot, name, expires_at, now, 0, row, cause);
}

int
tokens_intent_fresh(struct store *s, const char *workspace, const char *slot, const char *name,
		    int64_t expires_at, int64_t now, int64_t *row, char **cause)
{
	return intent(s, workspace, slot, name, expires_at, now, 1, row, cause);
}

/*
 * Stores a sealed secret for row in the open transaction, and its digest in
 * details ("sealed"), for the event that records it (store/inventory.h).
 */
static int
put_secret(struct store *s, int64_t row, const unsigned char *sealed, size_t len, const char *fpr,
	   json_t *details, char **cause)
{
	char digest[INVENTORY_DIGEST_MAX];
	sqlite3_stmt *st = store_prepare(s,
					 "INSERT INTO secrets (token_row, sealed, key_fingerprint) "
					 "VALUES (?1, ?2, ?3)",
					 cause);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, row);
	sqlite3_bind_blob(st, 2, sealed, (int)len, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, fpr, -1, SQLITE_STATIC);
	inventory_sealed_digest(fpr, sealed, len, digest);
	json_object_set_new(details, "sealed", json_string(digest));
	return run(s, st, "storing the sealed secret", cause);
}

int
tokens_created(struct store *s, int64_t row, const char *token, int64_t created_at,
	       int64_t expires_at, const unsigned char *sealed, size_t sealed_len, const char *fpr,
	       int64_t now, char **cause)
{
	sqlite3_stmt *st = NULL;
	json_t *details = json_object();
	int rc = -1;

	if (store_begin(s, cause) < 0)
		goto out;
	st = store_prepare(s,
			   "UPDATE tokens SET state = 'created', token = ?2, created_at = ?3, "
			   "expires_at = ?4, updated_at = ?5 WHERE id = ?1 AND state = 'pending'",
			   cause);
	if (st == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, row);
	sqlite3_bind_text(st, 2, token, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, created_at);
	sqlite3_bind_int64(st, 4, expires_at);
	sqlite3_bind_int64(st, 5, now);
	if (sqlite3_step(st) != SQLITE_DONE || sqlite3_changes(s->db) != 1) {
		*cause = xasprintf("%s: token row %lld is not pending; another process settled "
				   "it",
				   s->path, (long long)row);
		goto out;
	}
	if (put_secret(s, row, sealed, sealed_len, fpr, details, cause) < 0)
		goto out;
	set_time(details, "expires_at", expires_at);
	json_object_set_new(details, "key_fingerprint", json_string(fpr));
	if (tokens_row_event(s, row, now, "token.created", details, cause) < 0)
		goto out;
	rc = 0;
out:
	store_done(s, st);
	json_decref(details);
	return store_end(s, rc, cause);
}

int
tokens_transition(struct store *s, int64_t row, enum token_state from, enum token_state to,
		  int64_t now, const json_t *details, char **cause)
{
	sqlite3_stmt *st = NULL;
	char kind[32];
	int dead, rc = -1;

	if (store_begin(s, cause) < 0)
		goto out;
	st = store_prepare(
	    s, "UPDATE tokens SET state = ?3, updated_at = ?4 WHERE id = ?1 AND state = ?2", cause);
	if (st == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, row);
	sqlite3_bind_text(st, 2, tokens_state_name(from), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, tokens_state_name(to), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	if (sqlite3_step(st) != SQLITE_DONE) {
		constraint_cause(s, row, to, cause);
		goto out;
	}
	if (sqlite3_changes(s->db) != 1) {
		*cause = xasprintf("%s: token row %lld is not %s; nothing changed", s->path,
				   (long long)row, tokens_state_name(from));
		goto out;
	}
	snprintf(kind, sizeof kind, "token.%s", tokens_state_name(to));
	dead = to == TOKEN_DELETED || to == TOKEN_REVOKED;
	if ((dead ? dead_row_event : tokens_row_event)(s, row, now, kind, details, cause) < 0)
		goto out;
	rc = 0;
out:
	store_done(s, st);
	return store_end(s, rc, cause);
}

/* Says that row is no longer a replacement in flight (created or verified). */
static void
not_in_flight(const struct store *s, int64_t row, char **cause)
{
	*cause = xasprintf("%s: token row %lld is not created or verified; nothing changed",
			   s->path, (long long)row);
}

/* Records each of rows ids (n) retiring at retire_after, details d (given a reason). */
static int
retiring_events(struct store *s, const int64_t *ids, size_t n, int64_t retire_after, int64_t now,
		json_t *d, char **cause)
{
	set_time(d, "retire_after", retire_after);
	for (size_t i = 0; i < n; i++)
		if (tokens_row_event(s, ids[i], now, "token.retiring", d, cause) < 0)
			return -1;
	return 0;
}

/*
 * Brings the retire_after of row's slot's retiring tokens that would
 * outlive retire_after forward to it (a partly delivered replacement kept
 * for its consumers), with an event each.  Returns 0, or -1 with *cause.
 */
static int
bring_forward(struct store *s, int64_t row, int64_t retire_after, int64_t now, char **cause)
{
	sqlite3_stmt *st = store_prepare(
	    s,
	    "UPDATE tokens INDEXED BY tokens_retiring SET retire_after = ?3, updated_at = ?2 "
	    "WHERE state = 'retiring' AND retire_after > ?3 AND "
	    "slot_id = (SELECT slot_id FROM tokens WHERE id = ?1) RETURNING id",
	    cause);
	int64_t *ids = NULL;
	size_t n = 0;
	json_t *d = json_object();
	int step, rc = -1;

	if (st == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, row);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, retire_after);
	for (step = sqlite3_step(st); step == SQLITE_ROW; step = sqlite3_step(st)) {
		ids = xrealloc(ids, (n + 1) * sizeof *ids);
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	if (step != SQLITE_DONE) {
		store_error(s, "retiring the slot's kept tokens", cause);
		goto out;
	}
	json_object_set_new(d, "reason", json_string("the slot's consumers have a newer token"));
	rc = retiring_events(s, ids, n, retire_after, now, d, cause);
out:
	free(ids);
	json_decref(d);
	store_done(s, st);
	return rc;
}

/*
 * Moves the token active in row's slot, if any, to retiring: sets *retired
 * to its row, or 0.  Returns 0, or -1 with *cause.
 */
static int
retire_active(struct store *s, int64_t row, int64_t retire_after, int64_t now, int64_t *retired,
	      char **cause)
{
	sqlite3_stmt *st = store_prepare(
	    s,
	    "UPDATE tokens SET state = 'retiring', updated_at = ?2, retire_after = ?3 WHERE "
	    "state = 'active' AND id <> ?1 AND slot_id = (SELECT slot_id FROM tokens WHERE id = "
	    "?1) "
	    "RETURNING id",
	    cause);
	json_t *d = NULL;
	int step, rc = -1;

	*retired = 0;
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, row);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, retire_after);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		*retired = sqlite3_column_int64(st, 0);
		step = sqlite3_step(st);
	}
	if (step != SQLITE_DONE) {
		store_error(s, "retiring the slot's active token", cause);
		goto out;
	}
	rc = 0;
	if (*retired != 0) {
		d = json_object();
		set_time(d, "retire_after", retire_after);
		rc = tokens_row_event(s, *retired, now, "token.retiring", d, cause);
	}
	if (rc == 0)
		rc = bring_forward(s, row, retire_after, now, cause);
out:
	json_decref(d);
	store_done(s, st);
	return rc;
}

int
tokens_activate(struct store *s, int64_t row, int64_t retire_after, int64_t now, int64_t *retired,
		char **cause)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	*retired = 0;
	if (store_begin(s, cause) < 0)
		goto out;
	/* The old token steps aside first: the schema allows one active per slot. */
	if (retire_active(s, row, retire_after, now, retired, cause) < 0)
		goto out;
	st = store_prepare(s,
			   "UPDATE tokens SET state = 'active', updated_at = ?2 WHERE id = ?1 AND "
			   "state IN ('created', 'verified')",
			   cause);
	if (st == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, row);
	sqlite3_bind_int64(st, 2, now);
	if (sqlite3_step(st) != SQLITE_DONE) {
		constraint_cause(s, row, TOKEN_ACTIVE, cause);
		goto out;
	}
	if (sqlite3_changes(s->db) != 1) {
		not_in_flight(s, row, cause);
		goto out;
	}
	rc = tokens_row_event(s, row, now, "token.active", NULL, cause);
out:
	store_done(s, st);
	if (rc < 0)
		*retired = 0;
	return store_end(s, rc, cause);
}

int
tokens_delivering(struct store *s, int64_t row, size_t consumers, int64_t now, char **cause)
{
	sqlite3_stmt *st = NULL;
	json_t *d = json_pack("{s:I}", "consumers", (json_int_t)consumers);
	int rc = -1;

	if (store_begin(s, cause) < 0)
		goto out;
	st = store_prepare(s,
			   "UPDATE tokens SET retire_after = expires_at, updated_at = ?2 "
			   "WHERE id = ?1 AND state IN ('created', 'verified')",
			   cause);
	if (st == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, row);
	sqlite3_bind_int64(st, 2, now);
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_error(s, "marking the replacement delivered", cause);
		goto out;
	}
	if (sqlite3_changes(s->db) != 1) {
		not_in_flight(s, row, cause);
		goto out;
	}
	rc = tokens_row_event(s, row, now, "token.delivering", d, cause);
out:
	json_decref(d);
	store_done(s, st);
	return store_end(s, rc, cause);
}

int
tokens_resume(struct store *s, int64_t row, enum token_state to, size_t consumers, size_t took,
	      int64_t now, int *resumed, char **cause)
{
	sqlite3_stmt *st = NULL;
	json_t *d = json_pack("{s:I, s:I, s:s}", "consumers", (json_int_t)consumers, "delivered",
			      (json_int_t)took, "reason",
			      "kept for the consumers that took it: handing it to the rest");
	int rc = -1;

	*resumed = 0;
	if (store_begin(s, cause) < 0)
		goto out;
	st = store_prepare(s,
			   "UPDATE tokens SET state = ?3, updated_at = ?2 WHERE id = ?1 AND "
			   "state = 'retiring' AND retire_after = expires_at AND NOT EXISTS "
			   "(SELECT 1 FROM tokens x INDEXED BY tokens_one_in_flight WHERE "
			   "x.slot_id = tokens.slot_id AND " STORE_IN_FLIGHT("x.") ")",
			   cause);
	if (st == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, row);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_text(st, 3, tokens_state_name(to), -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		constraint_cause(s, row, to, cause);
		goto out;
	}
	rc = 0;
	if (sqlite3_changes(s->db) == 1) {
		rc = tokens_row_event(s, row, now, "token.delivering", d, cause);
		*resumed = rc == 0;
	}
out:
	json_decref(d);
	store_done(s, st);
	rc = store_end(s, rc, cause);
	if (rc < 0)
		*resumed = 0;
	return rc;
}

int
tokens_retire(struct store *s, int64_t row, int64_t retire_after, int64_t now,
	      const json_t *details, char **cause)
{
	sqlite3_stmt *st = NULL;
	json_t *d = details != NULL ? json_deep_copy(details) : json_object();
	int rc = -1;

	if (store_begin(s, cause) < 0)
		goto out;
	st = store_prepare(
	    s,
	    "UPDATE tokens SET state = 'retiring', updated_at = ?2, retire_after = ?3 "
	    "WHERE id = ?1 AND state IN ('created', 'verified')",
	    cause);
	if (st == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, row);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, retire_after);
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_error(s, "keeping the replacement", cause);
		goto out;
	}
	if (sqlite3_changes(s->db) != 1) {
		not_in_flight(s, row, cause);
		goto out;
	}
	set_time(d, "retire_after", retire_after);
	rc = tokens_row_event(s, row, now, "token.retiring", d, cause);
out:
	json_decref(d);
	store_done(s, st);
	return store_end(s, rc, cause);
}

/* Whether sub, a non-empty JSON array, has only strings that set (an array) also has. */
static int
all_in(const json_t *sub, const json_t *set)
{
	if (!json_is_array(sub) || json_array_size(sub) == 0)
		return 0;
	for (size_t i = 0; i < json_array_size(sub); i++) {
		const json_t *a = json_array_get(sub, i);
		int found = 0;

		for (size_t j = 0; j < json_array_size(set) && !found; j++)
			found = json_is_string(a) && json_equal(a, json_array_get(set, j));
		if (!found)
			return 0;
	}
	return 1;
}

/*
 * The ids of row's slot's other retiring tokens that outlive after and
 * whose last token.retiring event names consumers ("reached") that are all
 * in reached; into *ids (*n of them).  Returns 0, or -1 with *cause.
 */
static int
kept_superseded(struct store *s, int64_t row, const json_t *reached, int64_t after, int64_t **ids,
		size_t *n, char **cause)
{
	sqlite3_stmt *st = store_prepare(
	    s,
	    "SELECT t.id, (SELECT e.details FROM events e INDEXED BY events_by_row WHERE "
	    "e.token_row = t.id AND e.kind = 'token.retiring' ORDER BY e.id DESC LIMIT 1) "
	    "FROM tokens t INDEXED BY tokens_retiring WHERE t.state = 'retiring' AND "
	    "t.retire_after > ?2 AND t.id <> ?1 AND "
	    "t.slot_id = (SELECT slot_id FROM tokens WHERE id = ?1)",
	    cause);
	int step;

	*ids = NULL;
	*n = 0;
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, row);
	sqlite3_bind_int64(st, 2, after);
	for (step = sqlite3_step(st); step == SQLITE_ROW; step = sqlite3_step(st)) {
		const char *text = (const char *)sqlite3_column_text(st, 1);
		json_t *d = text != NULL ? json_loads(text, 0, NULL) : NULL;

		if (all_in(json_object_get(d, "reached"), reached)) {
			*ids = xrealloc(*ids, (*n + 1) * sizeof **ids);
			(*ids)[(*n)++] = sqlite3_column_int64(st, 0);
		}
		json_decref(d);
	}
	if (step != SQLITE_DONE)
		store_error(s, "reading the slot's kept tokens", cause);
	store_done(s, st);
	return step == SQLITE_DONE ? 0 : -1;
}

int
tokens_keep(struct store *s, int64_t row, int64_t retire_after, int64_t superseded_after,
	    int64_t now, const json_t *details, int *superseded, char **cause)
{
	sqlite3_stmt *st = NULL;
	json_t *d = json_pack("{s:s}", "reason", "the consumers that took it have a newer token");
	int64_t *ids = NULL;
	size_t n = 0;
	int rc = -1;

	*superseded = 0;
	if (store_begin(s, cause) < 0)
		goto out;
	if (tokens_retire(s, row, retire_after, now, details, cause) < 0 ||
	    kept_superseded(s, row, json_object_get(details, "reached"), superseded_after, &ids, &n,
			    cause) < 0)
		goto out;
	st = store_prepare(s,
			   "UPDATE tokens SET retire_after = ?3, updated_at = ?2 "
			   "WHERE id = ?1 AND state = 'retiring'",
			   cause);
	if (st == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_int64(st, 1, ids[i]);
		sqlite3_bind_int64(st, 2, now);
		sqlite3_bind_int64(st, 3, superseded_after);
		if (sqlite3_step(st) != SQLITE_DONE) {
			store_error(s, "retiring a kept token no consumer holds", cause);
			goto out;
		}
		sqlite3_reset(st);
	}
	rc = retiring_events(s, ids, n, superseded_after, now, d, cause);
	if (rc == 0)
		*superseded = (int)n;
out:
	free(ids);
	json_decref(d);
	store_done(s, st);
	if (rc < 0)
		*superseded = 0;
	return store_end(s, rc, cause);
}

static int pending_rows(struct store *s, struct token_row **rows, size_t *n, char **cause);

int
tokens_settle_pending(struct store *s, int64_t now, int *settled, char **cause)
{
	struct token_row *rows = NULL;
	size_t n = 0;
	json_t *why = json_pack("{s:s}", "reason",
				"interrupted between the POST and its answer; the token may "
				"exist until it expires");
	int rc = 0;

	*settled = 0;
	if (pending_rows(s, &rows, &n, cause) < 0) {
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (tokens_transition(s, rows[i].row, TOKEN_PENDING, TOKEN_UNKNOWN, now, why,
				      cause) < 0) {
			rc = -1;
			goto out;
		}
		(*settled)++;
	}
out:
	tokens_free(rows, n);
	json_decref(why);
	return rc;
}

/* The pending rows, read from the in-flight index: the rows and their test, joined between. */
#define PENDING_FROM "FROM tokens t INDEXED BY tokens_one_in_flight "
#define PENDING_WHERE "WHERE " STORE_IN_FLIGHT("t.") " AND t.state = 'pending'"

int
tokens_any_pending(struct store *s, int *any, char **cause)
{
	sqlite3_stmt *st =
	    store_prepare(s, "SELECT EXISTS (SELECT 1 " PENDING_FROM PENDING_WHERE ")", cause);
	int step;

	if (st == NULL)
		return -1;
	step = sqlite3_step(st);
	*any = step == SQLITE_ROW && sqlite3_column_int(st, 0) != 0;
	if (step != SQLITE_ROW)
		store_error(s, "looking for interrupted creates", cause);
	store_done(s, st);
	return step == SQLITE_ROW ? 0 : -1;
}

int
tokens_mark_deleted(struct store *s, const char *workspace, const char *token, int64_t now,
		    const json_t *details, char **cause)
{
	sqlite3_stmt *st = NULL;
	int64_t row = 0;
	int step;
	int rc = -1;

	if (store_begin(s, cause) < 0)
		goto out;
	st = store_prepare(
	    s,
	    "UPDATE tokens SET state = 'deleted', updated_at = ?3 WHERE token = ?2 AND "
	    "state <> 'deleted' AND workspace_id = (SELECT id FROM workspaces WHERE "
	    "name = ?1) RETURNING id",
	    cause);
	if (st == NULL)
		goto out;
	sqlite3_bind_text(st, 1, workspace, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, token, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		row = sqlite3_column_int64(st, 0);
		step = sqlite3_step(st);
	}
	if (step != SQLITE_DONE) {
		store_error(s, "recording the deletion", cause);
		goto out;
	}
	store_done(s, st);
	st = NULL;
	/* A token the inventory does not hold (or holds as deleted) is recorded all the same. */
	if (row != 0)
		rc = dead_row_event(s, row, now, "token.deleted", details, cause);
	else
		rc = events_append(s, now, "token.deleted", workspace, NULL, token, details, cause);
out:
	store_done(s, st);
	return store_end(s, rc, cause);
}

int
tokens_import(struct store *s, const struct token_import *imp, int64_t now, char **cause)
{
	sqlite3_stmt *st = NULL;
	json_t *details = json_object();
	int64_t ws, sl, row;
	int rc = -1;

	if (store_begin(s, cause) < 0)
		goto out;
	ws = store_workspace_id(s, imp->workspace, cause);
	sl = ws < 0 ? -1 : store_slot_id(s, ws, imp->slot, cause);
	if (sl < 0)
		goto out;
	st = store_prepare(s,
			   "INSERT INTO tokens (workspace_id, slot_id, token, name, state, origin, "
			   "requested_at, created_at, expires_at, updated_at) "
			   "VALUES (?1, ?2, ?3, ?4, 'active', 'imported', ?5, ?6, ?7, ?5)",
			   cause);
	if (st == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, ws);
	if (sl > 0)
		sqlite3_bind_int64(st, 2, sl);
	sqlite3_bind_text(st, 3, imp->token, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, imp->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_int64(st, 6, imp->created_at);
	sqlite3_bind_int64(st, 7, imp->expires_at);
	if (sqlite3_step(st) != SQLITE_DONE) {
		/* Only a constraint is the inventory's answer; a full disk or damage is the
		 * store's. */
		if ((sqlite3_extended_errcode(s->db) & 0xff) != SQLITE_CONSTRAINT)
			store_error(s, "importing a token", cause);
		else if (strstr(sqlite3_errmsg(s->db), "tokens.workspace_id, tokens.token") != NULL)
			*cause = xasprintf("%s: token %s of workspace %s is already in the "
					   "inventory",
					   s->path, imp->token, imp->workspace);
		else
			*cause = xasprintf("%s: slot %s already has an active token", s->path,
					   imp->slot != NULL ? imp->slot : "-");
		goto out;
	}
	row = sqlite3_last_insert_rowid(s->db);
	if (imp->sealed != NULL &&
	    put_secret(s, row, imp->sealed, imp->sealed_len, imp->fpr, details, cause) < 0)
		goto out;
	json_object_set_new(details, "name", json_string(imp->name));
	set_time(details, "created_at", imp->created_at);
	set_time(details, "expires_at", imp->expires_at);
	json_object_set_new(details, "secret", json_boolean(imp->sealed != NULL));
	if (tokens_row_event(s, row, now, "token.imported", details, cause) < 0)
		goto out;
	rc = 0;
out:
	store_done(s, st);
	json_decref(details);
	return store_end(s, rc, cause);
}

#define ROW_SELECT                                                                                 \
	"SELECT t.id, w.name, sl.name, t.token, t.name, t.state, t.origin, t.requested_at, "       \
	"coalesce(t.created_at, 0), t.expires_at, t.updated_at, coalesce(t.retire_after, "         \
	"0), " STORE_HAS_SECRET " "
#define ROW_JOINS                                                                                  \
	"JOIN workspaces w ON w.id = t.workspace_id LEFT JOIN slots sl ON sl.id = t.slot_id "
#define ROW_COLUMNS ROW_SELECT "FROM tokens t " ROW_JOINS

/*
 * Reads the columns every row listing shares, by the same positions: the
 * row id (0), its state (5), its times (7 to 11) and has_secret (12).
 */
static void
read_row_facts(sqlite3_stmt *st, struct token_row *r)
{
	enum token_state state = TOKEN_UNKNOWN;

	tokens_state_parse((const char *)sqlite3_column_text(st, 5), &state);
	r->row = sqlite3_column_int64(st, 0);
	r->state = state;
	r->requested_at = sqlite3_column_int64(st, 7);
	r->created_at = sqlite3_column_int64(st, 8);
	r->expires_at = sqlite3_column_int64(st, 9);
	r->updated_at = sqlite3_column_int64(st, 10);
	r->retire_after = sqlite3_column_int64(st, 11);
	r->has_secret = sqlite3_column_int(st, 12);
}

static void
read_row(sqlite3_stmt *st, struct token_row *r)
{
	read_row_facts(st, r);
	r->workspace = store_column_dup(st, 1);
	r->slot = store_column_dup(st, 2);
	r->token = store_column_dup(st, 3);
	r->name = store_column_dup(st, 4);
	r->origin = store_column_dup(st, 6);
	r->names = NULL;
}

/* Collects every row st yields. */
static int
collect(struct store *s, sqlite3_stmt *st, struct token_row **rows, size_t *n, char **cause)
{
	size_t cap = 0;
	int step;

	*rows = NULL;
	*n = 0;
	for (step = sqlite3_step(st); step == SQLITE_ROW; step = sqlite3_step(st)) {
		if (*n == cap)
			*rows = xgrow(*rows, &cap, 16, sizeof **rows);
		read_row(st, &(*rows)[(*n)++]);
	}
	if (step != SQLITE_DONE) {
		store_error(s, "reading the inventory", cause);
		tokens_free(*rows, *n);
		*rows = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

/* The rows f matches, oldest first, bound to a statement; NULL with *cause. */
static sqlite3_stmt *
filtered(struct store *s, const struct token_filter *f, char **cause)
{
	sqlite3_stmt *st = store_prepare(
	    s,
	    ROW_COLUMNS "WHERE (?1 IS NULL OR w.name = ?1) AND (?2 IS NULL OR "
			"(?2 = '' AND t.slot_id IS NULL) OR sl.name = ?2) "
			"AND (?3 IS NULL OR t.state = ?3) AND (?4 IS NULL OR " STORE_LIVE(
			    "t.") ") ORDER BY t.id",
	    cause);

	if (st == NULL)
		return NULL;
	sqlite3_bind_text(st, 1, f->workspace, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, f->slot, -1, SQLITE_STATIC);
	if (f->state >= 0)
		sqlite3_bind_text(st, 3, tokens_state_name((enum token_state)f->state), -1,
				  SQLITE_STATIC);
	if (f->live)
		sqlite3_bind_int(st, 4, 1);
	return st;
}

int
tokens_list(struct store *s, const struct token_filter *f, struct token_row **rows, size_t *n,
	    char **cause)
{
	sqlite3_stmt *st = filtered(s, f, cause);
	int rc;

	if (st == NULL)
		return -1;
	rc = collect(s, st, rows, n, cause);
	store_done(s, st);
	return rc;
}

/* Copies n bytes of text (NULL: none) to *at, returning the copy and moving *at past it. */
static char *
copy_text(const unsigned char *text, size_t n, char **at)
{
	char *copy = *at;

	if (text == NULL)
		return NULL;
	memcpy(copy, text, n);
	copy[n] = '\0';
	*at += n + 1;
	return copy;
}

int
tokens_each(struct store *s, const struct token_filter *f,
	    int (*fn)(const struct token_row *r, void *arg), void *arg, char **cause)
{
	/* The columns of the row's strings: workspace, slot, token, name, origin. */
	static const int columns[5] = {1, 2, 3, 4, 6};
	sqlite3_stmt *st = filtered(s, f, cause);
	char *buf = NULL, *at;
	size_t cap = 0;
	struct token_row r;
	int step, rc = 0;

	if (st == NULL)
		return -1;
	for (step = sqlite3_step(st); step == SQLITE_ROW; step = sqlite3_step(st)) {
		const unsigned char *text[5];
		size_t len[5], need = 0;

		/* The row's strings in one buffer, kept from row to row. */
		for (size_t k = 0; k < 5; k++) {
			text[k] = sqlite3_column_text(st, columns[k]);
			len[k] = (size_t)sqlite3_column_bytes(st, columns[k]);
			need += len[k] + 1;
		}
		if (need > cap) {
			cap = need * 2;
			buf = xrealloc(buf, cap);
		}
		at = buf;
		r.workspace = copy_text(text[0], len[0], &at);
		r.slot = copy_text(text[1], len[1], &at);
		r.token = copy_text(text[2], len[2], &at);
		r.name = copy_text(text[3], len[3], &at);
		r.origin = copy_text(text[4], len[4], &at);
		read_row_facts(st, &r);
		r.names = NULL;
		rc = fn(&r, arg);
		if (rc != 0)
			break;
	}
	if (rc == 0 && step != SQLITE_DONE) {
		store_error(s, "reading the inventory", cause);
		rc = -1;
	}
	store_done(s, st);
	free(buf);
	return rc;
}

/*
 * The names the rows of one tokens_live array share: every workspace and
 * slot name, read once, by id, and the origins.  A workspace or a slot is a
 * few names among tens of thousands of rows: looked up here, rather than
 * joined and copied for each row.
 */
/* Blocks the rows' own strings (token ids and names) are cut from, newest first. */
#define NAMES_BLOCK 65536
struct names_block {
	struct names_block *next;
	size_t used, size;
	char text[];
};

struct token_names {
	struct token_name *ws, *slots;
	size_t nws, nslots;
	char **origins; /* as met ("created", "imported") */
	size_t norigins;
	struct names_block *blocks;
};

void
tokens_names_free(struct token_names *nm)
{
	if (nm == NULL)
		return;
	for (size_t i = 0; i < nm->nws; i++)
		free(nm->ws[i].name);
	for (size_t i = 0; i < nm->nslots; i++)
		free(nm->slots[i].name);
	for (size_t i = 0; i < nm->norigins; i++)
		free(nm->origins[i]);
	while (nm->blocks != NULL) {
		struct names_block *next = nm->blocks->next;

		free(nm->blocks);
		nm->blocks = next;
	}
	free(nm->ws);
	free(nm->slots);
	free(nm->origins);
	free(nm);
}

/* Sets x from the (id, name) st holds: the name's bytes whatever its type. */
static void
name_read(struct token_name *x, sqlite3_stmt *st)
{
	/* The type first: reading the text converts the value. */
	int type = sqlite3_column_type(st, 1);
	const unsigned char *text = sqlite3_column_text(st, 1);
	size_t len = (size_t)sqlite3_column_bytes(st, 1);

	x->id = sqlite3_column_int64(st, 0);
	x->type = type;
	x->len = len;
	x->name = NULL;
	if (type == SQLITE_NULL || text == NULL)
		return;
	x->name = xmalloc(len + 1);
	memcpy(x->name, text, len);
	x->name[len] = '\0';
}

/* Reads every (id, name) of sql, in id order, into *v and *n.  Returns 0 or -1. */
static int
names_read(struct store *s, const char *sql, struct token_name **v, size_t *n, char **cause)
{
	sqlite3_stmt *st = store_prepare(s, sql, cause);
	size_t cap = 0;
	int step;

	if (st == NULL)
		return -1;
	for (step = sqlite3_step(st); step == SQLITE_ROW; step = sqlite3_step(st)) {
		if (*n == cap)
			*v = xgrow(*v, &cap, 16, sizeof **v);
		name_read(&(*v)[(*n)++], st);
	}
	store_done(s, st);
	if (step != SQLITE_DONE) {
		store_error(s, "reading the inventory's names", cause);
		return -1;
	}
	return 0;
}

/* The entry of id in v (n, by id), or NULL when there is none, as a join finds it. */
static const struct token_name *
entry_of(const struct token_name *v, size_t n, int64_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].id == id)
			return &v[mid];
		if (v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The name of id in v, or NULL when there is none. */
static char *
name_of(const struct token_name *v, size_t n, int64_t id)
{
	const struct token_name *x = entry_of(v, n, id);

	return x != NULL ? x->name : NULL;
}

const struct token_name *
tokens_workspace_of(const struct token_names *nm, int64_t id)
{
	return entry_of(nm->ws, nm->nws, id);
}

const struct token_name *
tokens_slot_of(const struct token_names *nm, int64_t id)
{
	return entry_of(nm->slots, nm->nslots, id);
}

struct token_names *
tokens_names_load(struct store *s, char **cause)
{
	struct token_names *nm = xcalloc(1, sizeof *nm);

	if (names_read(s, "SELECT id, name FROM workspaces ORDER BY id", &nm->ws, &nm->nws, cause) <
		0 ||
	    names_read(s, "SELECT id, name FROM slots ORDER BY id", &nm->slots, &nm->nslots,
		       cause) < 0) {
		tokens_names_free(nm);
		return NULL;
	}
	return nm;
}

/*
 * A copy of column i of st cut from nm's blocks (NULL for NULL): two small
 * strings of each of 21,000 rows, without a malloc and a free each.
 */
static char *
names_dup(struct token_names *nm, sqlite3_stmt *st, int i)
{
	const char *text = (const char *)sqlite3_column_text(st, i);
	size_t n;
	char *copy;

	if (text == NULL)
		return NULL;
	n = (size_t)sqlite3_column_bytes(st, i) + 1;
	if (nm->blocks == NULL || nm->blocks->size - nm->blocks->used < n) {
		size_t size = n > NAMES_BLOCK ? n : NAMES_BLOCK;
		struct names_block *b = xmalloc(sizeof *b + size);

		xprefault(b->text, size);
		b->next = nm->blocks;
		b->used = 0;
		b->size = size;
		nm->blocks = b;
	}
	copy = nm->blocks->text + nm->blocks->used;
	memcpy(copy, text, n);
	nm->blocks->used += n;
	return copy;
}

/* nm's copy of origin (NULL: none), added when first met. */
static char *
origin_of(struct token_names *nm, const char *origin)
{
	if (origin == NULL)
		return NULL;
	for (size_t i = 0; i < nm->norigins; i++)
		if (strcmp(nm->origins[i], origin) == 0)
			return nm->origins[i];
	nm->origins = xrealloc(nm->origins, (nm->norigins + 1) * sizeof *nm->origins);
	nm->origins[nm->norigins] = xstrdup(origin);
	return nm->origins[nm->norigins++];
}

int
tokens_read_live(sqlite3_stmt *st, struct token_names *nm, struct token_row *r)
{
	memset(r, 0, sizeof *r);
	r->workspace = name_of(nm->ws, nm->nws, sqlite3_column_int64(st, 1));
	if (r->workspace == NULL)
		return -1;
	r->origin = origin_of(nm, (const char *)sqlite3_column_text(st, 6));
	if (sqlite3_column_type(st, 2) != SQLITE_NULL)
		r->slot = name_of(nm->slots, nm->nslots, sqlite3_column_int64(st, 2));
	read_row_facts(st, r);
	r->names = nm;
	r->token = names_dup(nm, st, 3);
	r->name = names_dup(nm, st, 4);
	return 0;
}

/*
 * The live rows, with has_secret when with_secret, else -1, from the index
 * of them (its condition repeated): most of a long history is deleted rows.
 * The index holds every column: no visit of the table, and no join.
 */
#define LIVE_SELECT(HAS, ORDER)                                                                    \
	"SELECT t.id, t.workspace_id, t.slot_id, t.token, t.name, t.state, t.origin, "             \
	"t.requested_at, coalesce(t.created_at, 0), t.expires_at, t.updated_at, "                  \
	"coalesce(t.retire_after, 0), " HAS " FROM tokens t INDEXED BY tokens_live "               \
	"WHERE " STORE_LIVE("t.") " ORDER BY t.id " ORDER
static const char *const live_sql[2][2] = {
    /* [with_secret][down] */
    {LIVE_SELECT("-1", "ASC"), LIVE_SELECT("-1", "DESC")},
    {LIVE_SELECT(STORE_HAS_SECRET, "ASC"), LIVE_SELECT(STORE_HAS_SECRET, "DESC")},
};

void
tokens_reverse(struct token_row *rows, size_t n)
{
	for (size_t i = 0; i < n / 2; i++) {
		struct token_row r = rows[i];

		rows[i] = rows[n - 1 - i];
		rows[n - 1 - i] = r;
	}
}

/*
 * The live rows in id order, from the lowest or (down) the highest, for as
 * long as take (NULL: always) says a row is the reading's; given in id
 * order either way.
 */
static int
live_rows(struct store *s, int with_secret, int down, int (*take)(int64_t row, void *arg),
	  void *arg, struct token_row **rows, size_t *n, char **cause)
{
	sqlite3_stmt *st = store_prepare(s, live_sql[with_secret != 0][down != 0], cause);
	struct token_names *nm = NULL;
	size_t cap = 0;
	int step = SQLITE_DONE;

	*rows = NULL;
	*n = 0;
	if (st == NULL)
		return -1;
	nm = tokens_names_load(s, cause);
	if (nm == NULL) {
		store_done(s, st);
		return -1;
	}
	for (step = sqlite3_step(st); step == SQLITE_ROW; step = sqlite3_step(st)) {
		if (take != NULL && !take(sqlite3_column_int64(st, 0), arg))
			break;
		if (*n == cap)
			*rows = xgrow_bulk(*rows, &cap, 64, sizeof **rows);
		*n += tokens_read_live(st, nm, &(*rows)[*n]) == 0;
	}
	store_done(s, st);
	/* SQLITE_ROW: take refused a row, and those after it. */
	if (step != SQLITE_DONE && step != SQLITE_ROW) {
		store_error(s, "reading the inventory", cause);
		tokens_free(*rows, *n);
		tokens_names_free(*n == 0 ? nm : NULL);
		*rows = NULL;
		*n = 0;
		return -1;
	}
	/* No row to free them with: the names go now. */
	if (*n == 0)
		tokens_names_free(nm);
	return 0;
}

int
tokens_live(struct store *s, struct token_row **rows, size_t *n, char **cause)
{
	return live_rows(s, 1, 0, NULL, NULL, rows, n, cause);
}

int
tokens_live_unsealed(struct store *s, struct token_row **rows, size_t *n, char **cause)
{
	return live_rows(s, 0, 0, NULL, NULL, rows, n, cause);
}

int
tokens_live_part(struct store *s, int up, int (*take)(int64_t row, void *arg), void *arg,
		 struct token_row **rows, size_t *n, int64_t *end, char **cause)
{
	/* In the caller's transaction, if one is open: then of the same state already. */
	int own = s->depth == 0, rc;

	*end = 0;
	*rows = NULL;
	*n = 0;
	if (own && store_read_begin(s, cause) < 0)
		return -1;
	rc = live_rows(s, 0, !up, take, arg, rows, n, cause);
	if (rc == 0 && !up)
		tokens_reverse(*rows, *n);
	if (rc == 0 && events_last_id(s, end, cause) < 0) {
		tokens_free(*rows, *n);
		*rows = NULL;
		*n = 0;
		rc = -1;
	}
	if (own)
		store_read_end(s);
	return rc;
}

/* Every row sql (binding nothing) yields, into *rows and *n.  Returns 0 or -1. */
static int
query_rows(struct store *s, const char *sql, struct token_row **rows, size_t *n, char **cause)
{
	sqlite3_stmt *st = store_prepare(s, sql, cause);
	int rc;

	if (st == NULL)
		return -1;
	rc = collect(s, st, rows, n, cause);
	store_done(s, st);
	return rc;
}

/*
 * The pending rows, oldest first, from the index of the in-flight ones (its
 * condition repeated, so SQLite sees the index fits): every run and locked
 * verb asks, and tokens_list's optional filters read every row.
 */
static int
pending_rows(struct store *s, struct token_row **rows, size_t *n, char **cause)
{
	return query_rows(s, ROW_SELECT PENDING_FROM ROW_JOINS PENDING_WHERE " ORDER BY t.id", rows,
			  n, cause);
}

/* tokens_dead_held's rows: the index's, each newer than its slot's active row, if any. */
#define DEAD_HELD_ROWS STORE_DEAD_HELD("t.")
#define DEAD_HELD_SELECT                                                                           \
	ROW_SELECT "FROM tokens t INDEXED BY tokens_dead_held " ROW_JOINS "WHERE " DEAD_HELD_ROWS  \
		   " AND t.slot_id IS NOT NULL AND t.id > coalesce((SELECT a.id FROM tokens a "    \
		   "WHERE a.slot_id = t.slot_id AND a.state = 'active'), 0) ORDER BY t.id"

int
tokens_dead_held(struct store *s, struct token_row **rows, size_t *n, char **cause)
{
	return query_rows(s, DEAD_HELD_SELECT, rows, n, cause);
}

int
tokens_find(struct store *s, const char *workspace, const char *token, struct token_row **out,
	    char **cause)
{
	sqlite3_stmt *st =
	    store_prepare(s, ROW_COLUMNS "WHERE w.name = ?1 AND t.token = ?2", cause);
	size_t n = 0;
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, workspace, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, token, -1, SQLITE_STATIC);
	rc = collect(s, st, out, &n, cause);
	store_done(s, st);
	if (rc == 0 && n == 0)
		return 1;
	return rc;
}

/* *cause for several rows named word: their ids and states, to pick one from. */
static char *
ambiguous(const char *workspace, const char *word, const struct token_row *rows, size_t n)
{
	char *list = xstrdup(""), *more;

	for (size_t i = 0; i < n; i++) {
		more = xasprintf("%s%s%s (%s)", list, i > 0 ? ", " : "",
				 rows[i].token != NULL ? rows[i].token : "no id",
				 tokens_state_name(rows[i].state));
		free(list);
		list = more;
	}
	more = xasprintf("workspace %s has %zu tokens named '%s': %s; give the id of one",
			 workspace, n, word, list);
	free(list);
	return more;
}

int
tokens_lookup(struct store *s, const char *workspace, const char *word, struct token_row **out,
	      char **cause)
{
	sqlite3_stmt *st = NULL;
	struct token_row *rows = NULL;
	size_t n = 0;
	int rc = tokens_find(s, workspace, word, out, cause);

	if (rc != 1)
		return rc;
	st = store_prepare(s, ROW_COLUMNS "WHERE w.name = ?1 AND t.name = ?2 ORDER BY t.id", cause);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, workspace, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, word, -1, SQLITE_STATIC);
	rc = collect(s, st, &rows, &n, cause);
	store_done(s, st);
	if (rc < 0)
		return -1;
	if (n == 1) {
		*out = rows;
		return 0;
	}
	if (n > 1)
		*cause = ambiguous(workspace, word, rows, n);
	tokens_free(rows, n);
	return n == 0 ? 1 : 2;
}

int
tokens_names_of(struct store *s, int64_t row, char **ws, char **slot, char **token, char **cause)
{
	sqlite3_stmt *st = store_prepare(s,
					 "SELECT w.name, sl.name, t.token FROM tokens t "
					 "LEFT JOIN workspaces w ON w.id = t.workspace_id "
					 "LEFT JOIN slots sl ON sl.id = t.slot_id WHERE t.id = ?1",
					 cause);
	int step;

	*ws = *slot = *token = NULL;
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, row);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		*ws = store_column_dup(st, 0);
		*slot = store_column_dup(st, 1);
		*token = store_column_dup(st, 2);
	} else if (step != SQLITE_DONE) {
		store_error(s, "reading a token row", cause);
	}
	store_done(s, st);
	return step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? 0 : -1;
}

int
tokens_sealed(struct store *s, int64_t row, unsigned char **blob, size_t *len, char **fpr,
	      char **cause)
{
	sqlite3_stmt *st = store_prepare(
	    s, "SELECT sealed, key_fingerprint FROM secrets WHERE token_row = ?1", cause);
	int rc = -1, step;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, row);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		*len = (size_t)sqlite3_column_bytes(st, 0);
		*blob = xmalloc(*len);
		memcpy(*blob, sqlite3_column_blob(st, 0), *len);
		*fpr = xstrdup((const char *)sqlite3_column_text(st, 1));
		rc = 0;
	} else if (step == SQLITE_DONE) {
		rc = 1;
	} else {
		store_error(s, "reading a sealed secret", cause);
	}
	store_done(s, st);
	return rc;
}

void
tokens_free(struct token_row *rows, size_t n)
{
	struct token_names *shared = NULL;

	for (size_t i = 0; i < n; i++) {
		if (rows[i].names != NULL) {
			shared = rows[i].names;
			continue;
		}
		free(rows[i].token);
		free(rows[i].name);
		free(rows[i].workspace);
		free(rows[i].slot);
		free(rows[i].origin);
	}
	/* The rows of one tokens_live array share one set of names. */
	tokens_names_free(shared);
	free(rows);
}

int
tokens_count_by_state(struct store *s, int64_t counts[TOKEN_NSTATES], char **cause)
{
	sqlite3_stmt *st =
	    store_prepare(s, "SELECT state, count(*) FROM tokens GROUP BY state", cause);
	enum token_state state;
	int step;

	for (int i = 0; i < TOKEN_NSTATES; i++)
		counts[i] = 0;
	if (st == NULL)
		return -1;
	for (;;) {
		const char *name;

		step = sqlite3_step(st);
		if (step != SQLITE_ROW)
			break;
		name = (const char *)sqlite3_column_text(st, 0);
		if (name != NULL && tokens_state_parse(name, &state) == 0)
			counts[state] = sqlite3_column_int64(st, 1);
	}
	store_done(s, st);
	if (step != SQLITE_DONE) {
		store_error(s, "counting tokens by state", cause);
		return -1;
	}
	return 0;
}
