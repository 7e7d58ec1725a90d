/* The workspaces whose server clock disagrees with the host's; see clocks.h. */
#include "store/clocks.h"

#include "core/xalloc.h"
#include "store/events.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>

/* Whether workspace ws's clock disagreed at its last check: 1 or 0, or -1 with *cause. */
static int
disagreed(struct store *s, int64_t ws, char **cause)
{
	sqlite3_stmt *st =
	    store_prepare(s, "SELECT 1 FROM clock_state WHERE workspace_id = ?1", cause);
	int step;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, ws);
	step = sqlite3_step(st);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		store_error(s, "reading a server clock check", cause);
	store_done(s, st);
	return step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? 0 : -1;
}

/* Records the check of workspace's clock at now: error, or NULL when it agrees. */
static int
record(struct store *s, const char *workspace, int64_t now, const char *error, char **cause)
{
	sqlite3_stmt *st = NULL;
	json_t *d = NULL;
	int64_t ws;
	int rc = -1, was;

	if (store_begin(s, cause) < 0)
		goto out;
	ws = store_workspace_id(s, workspace, cause);
	was = ws < 0 ? -1 : disagreed(s, ws, cause);
	if (was < 0)
		goto out;
	st = store_prepare(s,
			   error != NULL
			       ? "INSERT INTO clock_state (workspace_id, checked_at, error) VALUES "
				 "(?1, ?2, ?3) ON CONFLICT (workspace_id) DO UPDATE SET "
				 "checked_at = ?2, error = ?3"
			       : "DELETE FROM clock_state WHERE workspace_id = ?1",
			   cause);
	if (st == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, ws);
	if (error != NULL) {
		sqlite3_bind_int64(st, 2, now);
		sqlite3_bind_text(st, 3, error, -1, SQLITE_STATIC);
		d = json_pack("{s:s}", "error", error);
	}
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_error(s, "recording a server clock check", cause);
		goto out;
	}
	/* An event when the verdict changes, not every night it holds. */
	if ((error != NULL) != was &&
	    events_append(s, now, error != NULL ? "workspace.clock" : "workspace.clock_agrees",
			  workspace, NULL, NULL, d, cause) < 0)
		goto out;
	rc = 0;
out:
	store_done(s, st);
	json_decref(d);
	return store_end(s, rc, cause);
}

int
clocks_skewed(struct store *s, const char *workspace, int64_t now, const char *error, char **cause)
{
	return record(s, workspace, now, error, cause);
}

/* Whether workspace has a disagreement recorded: 1 or 0, or -1 with *cause. */
static int
recorded(struct store *s, const char *workspace, char **cause)
{
	sqlite3_stmt *st = store_prepare(s,
					 "SELECT 1 FROM clock_state c JOIN workspaces w "
					 "ON w.id = c.workspace_id WHERE w.name = ?1",
					 cause);
	int step;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, workspace, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		store_error(s, "reading a server clock check", cause);
	store_done(s, st);
	return step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? 0 : -1;
}

int
clocks_agree(struct store *s, const char *workspace, int64_t now, char **cause)
{
	/* Most nights every clock agrees, as it did: nothing to write, nor a sync of the disk. */
	int was = recorded(s, workspace, cause);

	return was <= 0 ? was : record(s, workspace, now, NULL, cause);
}

int
clocks_list(struct store *s, struct clock_state **out, size_t *n, char **cause)
{
	sqlite3_stmt *st =
	    store_prepare(s,
			  "SELECT w.name, c.checked_at, c.error FROM clock_state c "
			  "JOIN workspaces w ON w.id = c.workspace_id ORDER BY w.name",
			  cause);
	size_t cap = 0;
	int step;

	*out = NULL;
	*n = 0;
	if (st == NULL)
		return -1;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct clock_state *v;

		if (*n == cap)
			*out = xgrow(*out, &cap, 4, sizeof **out);
		v = &(*out)[(*n)++];
		v->workspace = store_column_dup(st, 0);
		v->checked_at = sqlite3_column_int64(st, 1);
		v->error = store_column_dup(st, 2);
	}
	if (step != SQLITE_DONE)
		store_error(s, "listing server clocks that disagree", cause);
	store_done(s, st);
	if (step == SQLITE_DONE)
		return 0;
	clocks_free(*out, *n);
	*out = NULL;
	*n = 0;
	return -1;
}

void
clocks_free(struct clock_state *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].workspace);
		free(v[i].error);
	}
	free(v);
}
