/* Run rows and their start and end events. */
#include "store/runs.h"

#include "core/jsonx.h"
#include "core/xalloc.h"
#include "store/events.h"

#include <sqlite3.h>
#include <string.h>

int
runs_start(struct store *s, const char *kind, int64_t now, int64_t *run, char **cause)
{
	sqlite3_stmt *st = NULL;
	json_t *d = NULL;
	int rc = -1;

	if (store_begin(s, cause) < 0)
		goto out;
	st = store_prepare(s, "INSERT INTO runs (started_at) VALUES (?1)", cause);
	if (st == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, now);
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_error(s, "starting a run", cause);
		goto out;
	}
	*run = sqlite3_last_insert_rowid(s->db);
	d = json_pack("{s:I, s:s}", "run", (json_int_t)*run, "kind", kind);
	if (events_append(s, now, "run.start", NULL, NULL, NULL, d, cause) < 0)
		goto out;
	rc = 0;
out:
	store_done(s, st);
	json_decref(d);
	return store_end(s, rc, cause);
}

int
runs_end(struct store *s, int64_t run, int status, const json_t *summary, int64_t now, char **cause)
{
	sqlite3_stmt *st = NULL;
	char *text = NULL;
	json_t *d = NULL;
	int rc = -1;

	if (store_begin(s, cause) < 0)
		goto out;
	if (summary != NULL)
		text = json_dumps(summary, JSON_COMPACT | JSON_SORT_KEYS);
	st = store_prepare(s,
			   "UPDATE runs SET ended_at = ?2, status = ?3, summary = ?4 "
			   "WHERE id = ?1 AND ended_at IS NULL",
			   cause);
	if (st == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, run);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int(st, 3, status);
	sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_error(s, "ending a run", cause);
		goto out;
	}
	if (sqlite3_changes(s->db) != 1) {
		*cause =
		    xasprintf("%s: run %lld is not open; nothing changed", s->path, (long long)run);
		goto out;
	}
	d = json_pack("{s:I, s:i, s:O?}", "run", (json_int_t)run, "status", status, "summary",
		      summary);
	if (events_append(s, now, "run.end", NULL, NULL, NULL, d, cause) < 0)
		goto out;
	rc = 0;
out:
	store_done(s, st);
	jsonx_free(text);
	json_decref(d);
	return store_end(s, rc, cause);
}

/* Reads the one run sql selects (id, started_at, ended_at, status, summary) into r. */
static int
run_one(struct store *s, const char *sql, struct run_row *r, char **cause)
{
	sqlite3_stmt *st = store_prepare(s, sql, cause);
	const char *text;
	int step;

	memset(r, 0, sizeof *r);
	r->status = -1;
	if (st == NULL)
		return -1;
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		r->id = sqlite3_column_int64(st, 0);
		r->started_at = sqlite3_column_int64(st, 1);
		r->ended_at = sqlite3_column_int64(st, 2);
		if (sqlite3_column_type(st, 3) != SQLITE_NULL)
			r->status = sqlite3_column_int(st, 3);
		text = (const char *)sqlite3_column_text(st, 4);
		/* A summary that does not parse is left out, not an error: it is only detail. */
		if (text != NULL)
			r->summary = json_loads(text, 0, NULL);
	}
	store_done(s, st);
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
		store_error(s, "reading the last run", cause);
		return -1;
	}
	return 0;
}

int
runs_last(struct store *s, struct run_row *last, struct run_row *last_ok, char **cause)
{
	memset(last_ok, 0, sizeof *last_ok);
	if (run_one(s,
		    "SELECT id, started_at, ended_at, status, summary FROM runs "
		    "ORDER BY id DESC LIMIT 1",
		    last, cause) < 0)
		return -1;
	if (run_one(s,
		    "SELECT id, started_at, ended_at, status, summary FROM runs "
		    "WHERE status = 0 AND ended_at IS NOT NULL ORDER BY id DESC LIMIT 1",
		    last_ok, cause) < 0) {
		runs_row_free(last);
		return -1;
	}
	return 0;
}

void
runs_row_free(struct run_row *r)
{
	json_decref(r->summary);
	memset(r, 0, sizeof *r);
}
