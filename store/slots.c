/* Per-slot attempt state; see slots.h. */
#include "store/slots.h"

#include "core/clock.h"
#include "core/timefmt.h"
#include "core/xalloc.h"
#include "store/events.h"
#include "store/tokens.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

int
slots_failed(struct store *s, const char *workspace, const char *slot, int64_t now, int64_t next_at,
	     const char *error, int *failures, char **cause)
{
	sqlite3_stmt *st = NULL;
	json_t *d = NULL;
	char next[TIMEFMT_MAX];
	int64_t ws, sl;
	int rc = -1;

	if (store_begin(s, cause) < 0)
		goto out;
	ws = store_workspace_id(s, workspace, cause);
	sl = ws < 0 ? -1 : store_slot_id(s, ws, slot, cause);
	if (sl < 0)
		goto out;
	st =
	    store_prepare(s,
			  "INSERT INTO slot_state (slot_id, failures, next_attempt_at, last_error) "
			  "VALUES (?1, 1, ?2, ?3) ON CONFLICT (slot_id) DO UPDATE SET "
			  "failures = failures + 1, next_attempt_at = ?2, last_error = ?3 "
			  "RETURNING failures",
			  cause);
	if (st == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, sl);
	sqlite3_bind_int64(st, 2, next_at);
	sqlite3_bind_text(st, 3, error, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		store_error(s, "recording a failed attempt", cause);
		goto out;
	}
	*failures = sqlite3_column_int(st, 0);
	timefmt_mode(next_at, next);
	d = json_pack("{s:i, s:s, s:s}", "failures", *failures, "next_attempt_at", next, "error",
		      error);
	if (events_append(s, now, "slot.failure", workspace, slot, NULL, d, cause) < 0)
		goto out;
	rc = 0;
out:
	store_done(s, st);
	json_decref(d);
	return store_end(s, rc, cause);
}

int
slots_succeeded(struct store *s, const char *workspace, const char *slot, int64_t now, char **cause)
{
	sqlite3_stmt *st = NULL;
	json_t *d = NULL;
	int rc = -1, step;

	if (store_begin(s, cause) < 0)
		goto out;
	st = store_prepare(s,
			   "DELETE FROM slot_state WHERE slot_id = (SELECT sl.id FROM slots sl "
			   "JOIN workspaces w ON w.id = sl.workspace_id WHERE w.name = ?1 AND "
			   "sl.name = ?2) RETURNING failures",
			   cause);
	if (st == NULL)
		goto out;
	sqlite3_bind_text(st, 1, workspace, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, slot, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		d = json_pack("{s:i}", "after_failures", sqlite3_column_int(st, 0));
		sqlite3_reset(st);
		if (events_append(s, now, "slot.recovered", workspace, slot, NULL, d, cause) < 0)
			goto out;
	} else if (step != SQLITE_DONE) {
		store_error(s, "clearing a slot's failures", cause);
		goto out;
	}
	rc = 0;
out:
	store_done(s, st);
	json_decref(d);
	return store_end(s, rc, cause);
}

int
slots_list(struct store *s, struct slot_state **out, size_t *n, char **cause)
{
	sqlite3_stmt *st =
	    store_prepare(s,
			  "SELECT w.name, sl.name, ss.failures, ss.next_attempt_at, ss.last_error "
			  "FROM slot_state ss JOIN slots sl ON sl.id = ss.slot_id "
			  "JOIN workspaces w ON w.id = sl.workspace_id ORDER BY w.name, sl.name",
			  cause);
	size_t cap = 0;
	int step, rc = -1;

	*out = NULL;
	*n = 0;
	if (st == NULL)
		return -1;
	for (;;) {
		struct slot_state *v;

		step = sqlite3_step(st);
		if (step != SQLITE_ROW)
			break;
		if (*n == cap)
			*out = xgrow(*out, &cap, 16, sizeof **out);
		v = &(*out)[(*n)++];
		v->workspace = store_column_dup(st, 0);
		v->slot = store_column_dup(st, 1);
		v->failures = sqlite3_column_int(st, 2);
		v->next_attempt_at = sqlite3_column_int64(st, 3);
		v->last_error = store_column_dup(st, 4);
	}
	if (step == SQLITE_DONE)
		rc = 0;
	else
		store_error(s, "listing slot failures", cause);
	store_done(s, st);
	if (rc < 0) {
		slots_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

void
slots_free(struct slot_state *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].workspace);
		free(v[i].slot);
		free(v[i].last_error);
	}
	free(v);
}

/*
 * Records token row as its slot's last to reach every consumer, into
 * slots ({"slot id": row}), unless it has no slot.  Returns 0, or -1 with
 * *cause.
 */
static int
slot_reached(struct store *s, int64_t row, json_t *slots, char **cause)
{
	sqlite3_stmt *st =
	    store_prepare(s,
			  "INSERT INTO slot_reached (slot_id, token_row) SELECT slot_id, id "
			  "FROM tokens WHERE id = ?1 AND slot_id IS NOT NULL "
			  "ON CONFLICT (slot_id) DO UPDATE SET token_row = ?1 "
			  "RETURNING slot_id, token_row",
			  cause);
	int step;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, row);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		json_object_set_new(slots, (const char *)sqlite3_column_text(st, 0),
				    json_integer(sqlite3_column_int64(st, 1)));
		step = sqlite3_step(st);
	}
	if (step != SQLITE_DONE)
		store_error(s, "recording the consumers a token reached", cause);
	store_done(s, st);
	return step == SQLITE_DONE ? 0 : -1;
}

/* What slots_handed's statements return of a record. */
#define HANDED_RETURNING "RETURNING consumer, token_row, offered, given, superseded"

/*
 * The record st returns (HANDED_RETURNING), into consumers as the history
 * has it: [token_row, offered, given], and superseded after them when there
 * are any (as SQLite writes the array: no event before schema 21 has it).
 */
static void
handed_entry(sqlite3_stmt *st, json_t *consumers)
{
	json_t *offered = sqlite3_column_type(st, 2) == SQLITE_NULL
			      ? json_null()
			      : json_integer(sqlite3_column_int64(st, 2));
	json_t *entry = json_pack("[I, o, s?]", (json_int_t)sqlite3_column_int64(st, 1), offered,
				  (const char *)sqlite3_column_text(st, 3));
	const char *superseded = (const char *)sqlite3_column_text(st, 4);

	if (superseded != NULL)
		json_array_append_new(entry, json_loads(superseded, 0, NULL));
	json_object_set_new(consumers, (const char *)sqlite3_column_text(st, 0), entry);
}

/*
 * Appends the consumer.handed event recording details' records, about token
 * row (its workspace, slot and id named in the event, as a token event
 * names them).  Returns 0, or -1 with *cause.
 */
static int
handed_event(struct store *s, int64_t row, int64_t now, const json_t *details, char **cause)
{
	char *ws, *slot, *token;
	int rc = tokens_names_of(s, row, &ws, &slot, &token, cause);

	if (rc >= 0)
		rc = events_append(s, now, "consumer.handed", ws, slot, token, details, cause);
	free(ws);
	free(slot);
	free(token);
	return rc;
}

int
slots_handed(struct store *s, int64_t row, enum slots_hand how, const char *holders,
	     const char *const *given, size_t n, int64_t now, char **cause)
{
	/*
	 * An offer over one not seen through keeps that one in superseded (the
	 * SET's right-hand sides read the record as it was); a refusal puts
	 * back the last it kept; a token taken settles them all.
	 */
	static const char *const sql[] = {
	    [SLOTS_TOOK] = "INSERT INTO handed (consumer, token_row, given) VALUES (?1, ?2, ?3) "
			   "ON CONFLICT (consumer) DO UPDATE SET token_row = ?2, offered = NULL, "
			   "superseded = NULL, given = ?3 " HANDED_RETURNING,
	    [SLOTS_OFFERED] =
		"INSERT INTO handed (consumer, token_row, offered) VALUES (?1, 0, ?2) "
		"ON CONFLICT (consumer) DO UPDATE SET offered = ?2, superseded = CASE "
		"WHEN offered IS NOT NULL AND offered <> ?2 "
		"THEN json_insert(coalesce(superseded, '[]'), '$[#]', offered) "
		"ELSE superseded END " HANDED_RETURNING,
	    [SLOTS_REFUSED] = "UPDATE handed SET offered = json_extract(superseded, '$[#-1]'), "
			      "superseded = nullif(json_remove(superseded, '$[#-1]'), '[]') "
			      "WHERE consumer = ?1 AND offered = ?2 " HANDED_RETURNING,
	};
	static const char *const names[] = {
	    [SLOTS_TOOK] = "took",
	    [SLOTS_REACHED] = "reached",
	    [SLOTS_OFFERED] = "offered",
	    [SLOTS_REFUSED] = "refused",
	};
	json_t *consumers, *slots, *d = NULL;
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (n == 0 && how != SLOTS_REACHED)
		return 0;
	consumers = json_object();
	slots = json_object();
	if (store_begin(s, cause) < 0)
		goto out;
	if (how == SLOTS_REACHED && slot_reached(s, row, slots, cause) < 0)
		goto out;
	/* A token of no slot reaches no consumer through one. */
	if (how == SLOTS_REACHED && json_object_size(slots) == 0)
		n = 0;
	if (n > 0)
		st = store_prepare(s, sql[how == SLOTS_REACHED ? SLOTS_TOOK : how], cause);
	if (n > 0 && st == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		int step;

		sqlite3_bind_text(st, 1, holders + i * SLOTS_HOLDER_MAX, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, row);
		if (how == SLOTS_TOOK || how == SLOTS_REACHED)
			sqlite3_bind_text(st, 3, given != NULL ? given[i] : NULL, -1,
					  SQLITE_STATIC);
		step = sqlite3_step(st);
		if (step == SQLITE_ROW) {
			handed_entry(st, consumers);
			step = sqlite3_step(st);
		}
		if (step != SQLITE_DONE) {
			store_error(s, "recording the token a consumer holds", cause);
			goto out;
		}
		sqlite3_reset(st);
	}
	rc = 0;
	if (json_object_size(consumers) > 0 || json_object_size(slots) > 0) {
		d = json_pack("{s:s, s:I, s:O, s:O}", "how", names[how], "token_row",
			      (json_int_t)row, "consumers", consumers, "slots", slots);
		rc = handed_event(s, row, now, d, cause);
	}
out:
	store_done(s, st);
	json_decref(consumers);
	json_decref(slots);
	json_decref(d);
	return store_end(s, rc, cause);
}

/* Each row st yields (a key, then values), into o: {"key": value or [values]}. */
static int
attest_rows(struct store *s, sqlite3_stmt *st, json_t *o, char **cause)
{
	int step;

	for (step = sqlite3_step(st); step == SQLITE_ROW; step = sqlite3_step(st)) {
		int n = sqlite3_column_count(st);
		json_t *v = n == 2 ? NULL : json_array();

		for (int i = 1; i < n; i++) {
			json_t *x = sqlite3_column_type(st, i) == SQLITE_NULL ? json_null()
				    : sqlite3_column_type(st, i) == SQLITE_INTEGER
					? json_integer(sqlite3_column_int64(st, i))
					: json_string((const char *)sqlite3_column_text(st, i));

			if (v == NULL)
				v = x;
			else
				json_array_append_new(v, x);
		}
		json_object_set_new(o, (const char *)sqlite3_column_text(st, 0), v);
	}
	if (step != SQLITE_DONE)
		store_error(s, "recording the tokens consumers hold", cause);
	return step == SQLITE_DONE ? 0 : -1;
}

int
slots_attest(struct store *s, char **cause)
{
	static const char *const sql[] = {
	    "SELECT consumer, token_row, offered, given FROM handed ORDER BY consumer",
	    "SELECT slot_id, token_row FROM slot_reached ORDER BY slot_id",
	    "SELECT slot_id, token_row, consumers FROM slot_reached_14 ORDER BY slot_id",
	};
	static const char *const keys[] = {"consumers", "slots", "slots_14"};
	json_t *d = json_pack("{s:s}", "how", "attested");
	size_t records = 0;
	int rc = 0;

	for (size_t i = 0; i < sizeof sql / sizeof *sql && rc == 0; i++) {
		sqlite3_stmt *st = NULL;
		json_t *o = json_object();

		if (sqlite3_prepare_v2(s->db, sql[i], -1, &st, NULL) != SQLITE_OK) {
			store_error(s, "recording the tokens consumers hold", cause);
			rc = -1;
		} else {
			rc = attest_rows(s, st, o, cause);
		}
		sqlite3_finalize(st);
		records += json_object_size(o);
		json_object_set_new(d, keys[i], o);
	}
	if (rc == 0 && records > 0)
		rc =
		    events_append(s, clock_now_ms(), "consumer.handed", NULL, NULL, NULL, d, cause);
	json_decref(d);
	return rc;
}

int
slots_reached_list(struct store *s, struct slot_reached **out, size_t *n, char **cause)
{
	sqlite3_stmt *st =
	    store_prepare(s,
			  "SELECT w.name, sl.name, r.token_row, NULL "
			  "FROM slot_reached r JOIN slots sl ON sl.id = r.slot_id "
			  "JOIN workspaces w ON w.id = sl.workspace_id UNION ALL "
			  "SELECT w.name, sl.name, o.token_row, o.consumers "
			  "FROM slot_reached_14 o JOIN slots sl ON sl.id = o.slot_id "
			  "JOIN workspaces w ON w.id = sl.workspace_id",
			  cause);
	size_t cap = 0;
	int step, rc = -1;

	*out = NULL;
	*n = 0;
	if (st == NULL)
		return -1;
	for (;;) {
		struct slot_reached *v;

		step = sqlite3_step(st);
		if (step != SQLITE_ROW)
			break;
		if (*n == cap)
			*out = xgrow(*out, &cap, 16, sizeof **out);
		v = &(*out)[(*n)++];
		v->workspace = store_column_dup(st, 0);
		v->slot = store_column_dup(st, 1);
		v->row = sqlite3_column_int64(st, 2);
		v->legacy = store_column_dup(st, 3);
	}
	if (step == SQLITE_DONE)
		rc = 0;
	else
		store_error(s, "listing the consumers slots' tokens reached", cause);
	store_done(s, st);
	if (rc < 0) {
		slots_reached_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

void
slots_reached_free(struct slot_reached *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].workspace);
		free(v[i].slot);
		free(v[i].legacy);
	}
	free(v);
}

/*
 * The token rows of text (a record's superseded: a JSON array of them, or
 * NULL) into v.  What is no array of rows holds nothing; audit verify finds
 * such an edit.
 */
static void
superseded_read(const char *text, struct slot_handed *v)
{
	json_t *a = text != NULL ? json_loads(text, 0, NULL) : NULL;
	size_t i;
	json_t *x;

	v->superseded = NULL;
	v->nsuperseded = 0;
	if (!json_is_array(a) || json_array_size(a) == 0) {
		json_decref(a);
		return;
	}
	v->superseded = xcalloc(json_array_size(a), sizeof *v->superseded);
	json_array_foreach(a, i, x)
	{
		if (json_is_integer(x))
			v->superseded[v->nsuperseded++] = json_integer_value(x);
	}
	json_decref(a);
}

int
slots_handed_list(struct store *s, struct slot_handed **out, size_t *n, char **cause)
{
	sqlite3_stmt *st = store_prepare(
	    s,
	    "SELECT consumer, token_row, offered, given, superseded FROM handed ORDER BY consumer",
	    cause);
	size_t cap = 0;
	int step;

	*out = NULL;
	*n = 0;
	if (st == NULL)
		return -1;
	for (step = sqlite3_step(st); step == SQLITE_ROW; step = sqlite3_step(st)) {
		const char *consumer = (const char *)sqlite3_column_text(st, 0);
		struct slot_handed *v;

		/* Another length is no key deliver_holder makes: it names no consumer. */
		if (consumer == NULL || strlen(consumer) != SLOTS_HOLDER_MAX - 1)
			continue;
		if (*n == cap)
			*out = xgrow(*out, &cap, 64, sizeof **out);
		v = &(*out)[(*n)++];
		memcpy(v->consumer, consumer, SLOTS_HOLDER_MAX);
		v->row = sqlite3_column_int64(st, 1);
		v->offered = sqlite3_column_int64(st, 2);
		v->given = store_column_dup(st, 3);
		superseded_read((const char *)sqlite3_column_text(st, 4), v);
	}
	if (step != SQLITE_DONE)
		store_error(s, "listing the tokens consumers hold", cause);
	store_done(s, st);
	if (step != SQLITE_DONE) {
		slots_handed_free(*out, *n);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

void
slots_handed_free(struct slot_handed *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].given);
		free(v[i].superseded);
	}
	free(v);
}
