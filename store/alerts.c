/*
 * Alerts sent for findings that still hold; see alerts.h.  The caller's
 * keys reach SQL as one JSON array, read with json_each, so each call is a
 * single statement whatever the number of keys.
 */
#include "store/alerts.h"

#include "core/jsonx.h"

#include <jansson.h>
#include <sqlite3.h>

/* Binds keys[0..n) as a JSON array to parameter 1 of st (SQLite copies it). */
static void
bind_keys(sqlite3_stmt *st, const char *const *keys, size_t n)
{
	json_t *a = json_array();
	char *text;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(keys[i]));
	text = json_dumps(a, JSON_COMPACT);
	sqlite3_bind_text(st, 1, text != NULL ? text : "[]", -1, SQLITE_TRANSIENT);
	jsonx_free(text);
	json_decref(a);
}

/* Runs st to its end; returns 0, or -1 with *cause naming what. */
static int
run_all(struct store *s, sqlite3_stmt *st, const char *what, char **cause)
{
	if (sqlite3_step(st) == SQLITE_DONE)
		return 0;
	store_error(s, what, cause);
	return -1;
}

int
alerts_last(struct store *s, const char *const *keys, size_t n, int64_t *last, char **cause)
{
	sqlite3_stmt *del = NULL, *sel = NULL;
	int rc = -1, step;

	for (size_t i = 0; i < n; i++)
		last[i] = 0;
	if (store_begin(s, cause) < 0)
		goto out;
	del = store_prepare(s,
			    "DELETE FROM alerts WHERE substr(key, 1, 1) <> '" ALERTS_LASTING
			    "' AND key NOT IN (SELECT value FROM json_each(?1))",
			    cause);
	if (del == NULL)
		goto out;
	bind_keys(del, keys, n);
	if (run_all(s, del, "forgetting the alerts of findings that are over", cause) < 0)
		goto out;
	/* json_each's key is the index into keys. */
	sel = store_prepare(s,
			    "SELECT j.key, a.sent_at FROM json_each(?1) j "
			    "JOIN alerts a ON a.key = j.value",
			    cause);
	if (sel == NULL)
		goto out;
	bind_keys(sel, keys, n);
	for (;;) {
		step = sqlite3_step(sel);
		if (step != SQLITE_ROW)
			break;
		last[sqlite3_column_int64(sel, 0)] = sqlite3_column_int64(sel, 1);
	}
	if (step != SQLITE_DONE) {
		store_error(s, "reading the alerts sent", cause);
		goto out;
	}
	rc = 0;
out:
	store_done(s, del);
	store_done(s, sel);
	return store_end(s, rc, cause);
}

int
alerts_sent(struct store *s, const char *const *keys, size_t n, int64_t now, char **cause)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (store_begin(s, cause) < 0)
		goto out;
	/* "WHERE true" tells SQLite's parser the ON CONFLICT is the upsert's. */
	st = store_prepare(s,
			   "INSERT INTO alerts (key, sent_at) SELECT value, ?2 FROM json_each(?1) "
			   "WHERE true ON CONFLICT (key) DO UPDATE SET sent_at = excluded.sent_at",
			   cause);
	if (st == NULL)
		goto out;
	bind_keys(st, keys, n);
	sqlite3_bind_int64(st, 2, now);
	rc = run_all(s, st, "recording the alerts sent", cause);
out:
	store_done(s, st);
	return store_end(s, rc, cause);
}

int
alerts_last_one(struct store *s, const char *key, int64_t *last, char **cause)
{
	sqlite3_stmt *st = store_prepare(s, "SELECT sent_at FROM alerts WHERE key = ?1", cause);
	int step;

	*last = 0;
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		*last = sqlite3_column_int64(st, 0);
	else if (step != SQLITE_DONE)
		store_error(s, "reading the alerts sent", cause);
	store_done(s, st);
	return step == SQLITE_ROW || step == SQLITE_DONE ? 0 : -1;
}

int
alerts_over(struct store *s, const char *key, char **cause)
{
	sqlite3_stmt *st;
	int64_t last;
	int rc;

	/* Most runs find it over, as it was: a read, and no write to sync. */
	if (alerts_last_one(s, key, &last, cause) < 0)
		return -1;
	if (last == 0)
		return 0;
	st = store_prepare(s, "DELETE FROM alerts WHERE key = ?1", cause);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = run_all(s, st, "forgetting an alert of a failure that is over", cause);
	store_done(s, st);
	return rc;
}
