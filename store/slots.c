/* Per-slot attempt state; see slots.h. */
#include "store/slots.h"

#include "core/timefmt.h"
#include "core/xalloc.h"
#include "store/events.h"

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
 * Records token row as its slot's last to reach every consumer; *mine: the
 * row has a slot.
 */
static int
slot_reached(struct store *s, int64_t row, int *mine, char **cause)
{
	sqlite3_stmt *st =
	    store_prepare(s,
			  "INSERT INTO slot_reached (slot_id, token_row) SELECT slot_id, id "
			  "FROM tokens WHERE id = ?1 AND slot_id IS NOT NULL "
			  "ON CONFLICT (slot_id) DO UPDATE SET token_row = ?1",
			  cause);
	int rc = -1;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, row);
	if (sqlite3_step(st) == SQLITE_DONE) {
		*mine = sqlite3_changes(s->db) > 0;
		rc = 0;
	} else {
		store_error(s, "recording the consumers a token reached", cause);
	}
	store_done(s, st);
	return rc;
}

int
slots_handed(struct store *s, int64_t row, enum slots_hand how, const char *holders, size_t n,
	     char **cause)
{
	static const char *const sql[] = {
	    [SLOTS_TOOK] = "INSERT INTO handed (consumer, token_row) VALUES (?1, ?2) "
			   "ON CONFLICT (consumer) DO UPDATE SET token_row = ?2, offered = NULL",
	    [SLOTS_OFFERED] =
		"INSERT INTO handed (consumer, token_row, offered) VALUES (?1, 0, ?2) "
		"ON CONFLICT (consumer) DO UPDATE SET offered = ?2",
	    [SLOTS_REFUSED] =
		"UPDATE handed SET offered = NULL WHERE consumer = ?1 AND offered = ?2",
	};
	sqlite3_stmt *st = NULL;
	int rc = -1, mine = 1;

	if (n == 0 && how != SLOTS_REACHED)
		return 0;
	if (store_begin(s, cause) < 0)
		goto out;
	if (how == SLOTS_REACHED && slot_reached(s, row, &mine, cause) < 0)
		goto out;
	if (!mine || n == 0) {
		rc = 0;
		goto out;
	}
	st = store_prepare(s, sql[how == SLOTS_REACHED ? SLOTS_TOOK : how], cause);
	if (st == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_text(st, 1, holders + i * SLOTS_HOLDER_MAX, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, row);
		if (sqlite3_step(st) != SQLITE_DONE) {
			store_error(s, "recording the token a consumer holds", cause);
			goto out;
		}
		sqlite3_reset(st);
	}
	rc = 0;
out:
	store_done(s, st);
	return store_end(s, rc, cause);
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

int
slots_handed_list(struct store *s, struct slot_handed **out, size_t *n, char **cause)
{
	sqlite3_stmt *st = store_prepare(
	    s, "SELECT consumer, token_row, offered FROM handed ORDER BY consumer", cause);
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
	}
	if (step != SQLITE_DONE)
		store_error(s, "listing the tokens consumers hold", cause);
	store_done(s, st);
	if (step != SQLITE_DONE) {
		free(*out);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}
