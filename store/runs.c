/* Run rows and their start and end events. */
#include "store/runs.h"

#include "core/jsonx.h"
#include "core/xalloc.h"
#include "store/events.h"

#include <sqlite3.h>

int
runs_start(struct store *s, const char *kind, int64_t now, int64_t *run, char **cause)
{
	sqlite3_stmt *st = NULL;
	json_t *d = NULL;
	int rc = -1;

	if (store_begin(s, cause) < 0)
		goto out;
	if (sqlite3_prepare_v2(s->db, "INSERT INTO runs (started_at) VALUES (?1)", -1, &st, NULL) !=
	    SQLITE_OK) {
		store_error(s, "starting a run", cause);
		goto out;
	}
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
	sqlite3_finalize(st);
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
	if (sqlite3_prepare_v2(s->db,
			       "UPDATE runs SET ended_at = ?2, status = ?3, summary = ?4 "
			       "WHERE id = ?1 AND ended_at IS NULL",
			       -1, &st, NULL) != SQLITE_OK) {
		store_error(s, "ending a run", cause);
		goto out;
	}
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
	sqlite3_finalize(st);
	jsonx_free(text);
	json_decref(d);
	return store_end(s, rc, cause);
}
