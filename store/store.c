/* Opening, pragmas, migrations and transactions of the tokenwarden database. */
#include "store/store.h"

#include "core/xalloc.h"
#include "store/events.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 10000

/* Schema version 1: the first.  Each later version adds one entry. */
static const char *const migrations[STORE_SCHEMA_VERSION] = {
    /* 0 -> 1 */
    "CREATE TABLE meta ("
    "  key TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL);"
    "CREATE TABLE workspaces ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE slots ("
    "  id INTEGER PRIMARY KEY,"
    "  workspace_id INTEGER NOT NULL REFERENCES workspaces(id),"
    "  name TEXT NOT NULL,"
    "  UNIQUE (workspace_id, name));"
    /* One row per token generation; `token` (Mode's id) is NULL until known. */
    "CREATE TABLE tokens ("
    "  id INTEGER PRIMARY KEY,"
    "  workspace_id INTEGER NOT NULL REFERENCES workspaces(id),"
    "  slot_id INTEGER REFERENCES slots(id),"
    "  token TEXT,"
    "  name TEXT NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN ('pending', 'created', 'verified', 'active',"
    "    'retiring', 'deleted', 'failed', 'unknown', 'expired', 'revoked')),"
    "  origin TEXT NOT NULL CHECK (origin IN ('created', 'imported')),"
    "  requested_at INTEGER NOT NULL,"
    "  created_at INTEGER,"
    "  expires_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  retire_after INTEGER,"
    "  CHECK (token IS NOT NULL OR state IN ('pending', 'unknown', 'failed')),"
    "  UNIQUE (workspace_id, token));"
    /* At most one active token and one replacement in flight per slot. */
    "CREATE UNIQUE INDEX tokens_one_active ON tokens(slot_id) WHERE state = 'active';"
    "CREATE UNIQUE INDEX tokens_one_in_flight ON tokens(slot_id)"
    "  WHERE state IN ('pending', 'created', 'verified');"
    "CREATE INDEX tokens_by_state ON tokens(state, expires_at);"
    "CREATE TABLE secrets ("
    "  token_row INTEGER PRIMARY KEY REFERENCES tokens(id),"
    "  sealed BLOB NOT NULL,"
    "  key_fingerprint TEXT NOT NULL);"
    "CREATE TABLE runs ("
    "  id INTEGER PRIMARY KEY,"
    "  started_at INTEGER NOT NULL,"
    "  ended_at INTEGER,"
    "  status INTEGER,"
    "  summary TEXT);"
    /* AUTOINCREMENT: sqlite_sequence then remembers a deleted last event. */
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  at INTEGER NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  workspace TEXT,"
    "  slot TEXT,"
    "  token TEXT,"
    "  details TEXT NOT NULL,"
    "  prev_hash BLOB NOT NULL,"
    "  hash BLOB NOT NULL);",
    /* 1 -> 2: each slot's failed attempts, so backoff survives between runs. */
    "CREATE TABLE slot_state ("
    "  slot_id INTEGER PRIMARY KEY REFERENCES slots(id),"
    "  failures INTEGER NOT NULL CHECK (failures >= 0),"
    "  next_attempt_at INTEGER NOT NULL,"
    "  last_error TEXT);",
    /* 2 -> 3: the alerts sent for violations that still hold, to remind, not repeat. */
    "CREATE TABLE alerts ("
    "  key TEXT PRIMARY KEY,"
    "  sent_at INTEGER NOT NULL);",
};

/*
 * Runs an INSERT ... RETURNING id upsert binding parent (?1) and name (?2);
 * returns the id, or -1 with *cause.
 */
static int64_t
upsert_id(struct store *s, const char *sql, int64_t parent, const char *name, const char *what,
	  char **cause)
{
	sqlite3_stmt *st = store_prepare(s, sql, cause);
	int64_t id = -1;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, parent);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	else
		store_error(s, what, cause);
	sqlite3_finalize(st);
	return id;
}

int64_t
store_workspace_id(struct store *s, const char *name, char **cause)
{
	return upsert_id(s,
			 "INSERT INTO workspaces (name) VALUES (?2) ON CONFLICT (name) "
			 "DO UPDATE SET name = name RETURNING id",
			 0, name, "recording the workspace", cause);
}

int64_t
store_slot_id(struct store *s, int64_t ws, const char *slot, char **cause)
{
	if (slot == NULL)
		return 0;
	return upsert_id(s,
			 "INSERT INTO slots (workspace_id, name) VALUES (?1, ?2) "
			 "ON CONFLICT (workspace_id, name) DO UPDATE SET name = name RETURNING id",
			 ws, slot, "recording the slot", cause);
}

void
store_error(struct store *s, const char *what, char **cause)
{
	*cause = xasprintf("%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static int
exec(struct store *s, const char *sql, const char *what, char **cause)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		store_error(s, what, cause);
		return -1;
	}
	return 0;
}

/* Reads an integer pragma. */
static int
pragma_int(struct store *s, const char *sql, int *out, char **cause)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		store_error(s, "cannot read the schema version; is it a SQLite database?", cause);
		goto out;
	}
	*out = sqlite3_column_int(st, 0);
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

/* Counts the schema objects, to tell an empty file from someone else's database. */
static int
schema_objects(struct store *s, int *n, char **cause)
{
	return pragma_int(s, "SELECT count(*) FROM sqlite_schema", n, cause);
}

static int
migrate(struct store *s, char **cause)
{
	int version, app, objects;
	char *sql;

	if (pragma_int(s, "PRAGMA user_version", &version, cause) < 0 ||
	    pragma_int(s, "PRAGMA application_id", &app, cause) < 0 ||
	    schema_objects(s, &objects, cause) < 0)
		return -1;
	if ((uint32_t)app != STORE_APPLICATION_ID && (app != 0 || objects != 0)) {
		*cause = xasprintf("%s: not a tokenwarden database (application id %#x); check "
				   "the path",
				   s->path, (unsigned)app);
		return -1;
	}
	if (version > STORE_SCHEMA_VERSION) {
		*cause = xasprintf("%s: schema version %d is newer than this tokenwarden "
				   "understands (%d); upgrade tokenwarden",
				   s->path, version, STORE_SCHEMA_VERSION);
		return -1;
	}
	if (version == STORE_SCHEMA_VERSION)
		return 0;
	if (store_begin(s, cause) < 0)
		return -1;
	for (int v = version; v < STORE_SCHEMA_VERSION; v++)
		if (exec(s, migrations[v], "migration", cause) < 0)
			goto fail;
	sql = xasprintf("PRAGMA application_id = %d; PRAGMA user_version = %d;",
			(int)STORE_APPLICATION_ID, STORE_SCHEMA_VERSION);
	if (exec(s, sql, "setting the schema version", cause) < 0) {
		free(sql);
		goto fail;
	}
	free(sql);
	return store_commit(s, cause);
fail:
	store_rollback(s);
	return -1;
}

static char *
default_actor(void)
{
	struct passwd *pw = getpwuid(geteuid());
	char host[256] = "unknown";

	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = '\0';
	if (pw != NULL)
		return xasprintf("%s@%s", pw->pw_name, host);
	return xasprintf("uid%u@%s", (unsigned)geteuid(), host);
}

/* Creates path with mode 0600 when it does not exist, so SQLite never makes it wider. */
static int
create_private(const char *path, char **cause)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0 && errno == EEXIST)
		return 0;
	if (fd < 0) {
		*cause = xasprintf("%s: cannot create: %s", path, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

int
store_open(const char *path, enum store_open_flags flags, struct store **out, char **cause)
{
	struct store *s = xcalloc(1, sizeof *s);
	struct stat st;
	int sqlflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_FULLMUTEX;

	s->path = xstrdup(path);
	s->actor = default_actor();
	s->lock_fd = -1;
	if ((flags & STORE_CREATE) != 0 && create_private(path, cause) < 0)
		goto fail;
	if (stat(path, &st) < 0) {
		*cause = xasprintf("%s: %s; run 'tokenwarden init' first", path, strerror(errno));
		goto fail;
	}
	if ((st.st_mode & 077) != 0) {
		*cause = xasprintf("%s: permissions %04o let others read the inventory; run: "
				   "chmod 600 %s",
				   path, (unsigned)(st.st_mode & 07777), path);
		goto fail;
	}
	if (sqlite3_open_v2(path, &s->db, sqlflags, NULL) != SQLITE_OK) {
		store_error(s, "cannot open", cause);
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	if (exec(s,
		 "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
		 "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;",
		 "cannot set pragmas (is it a SQLite database?)", cause) < 0 ||
	    migrate(s, cause) < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	store_close(s);
	return -1;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	sqlite3_close_v2(s->db);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s->path);
	free(s->actor);
	free(s);
}

int
store_lock(struct store *s, char **cause)
{
	char *path = xasprintf("%s.lock", s->path);
	int fd, rc = -1;

	if (s->lock_fd >= 0) {
		free(path);
		return 0;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		*cause = xasprintf("%s: cannot open the lock: %s", path, strerror(errno));
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK) {
			*cause = xasprintf("%s: another tokenwarden process holds the lock; try "
					   "again when it has finished",
					   path);
			rc = 1;
		} else {
			*cause = xasprintf("%s: cannot lock: %s", path, strerror(errno));
		}
		close(fd);
		goto out;
	}
	s->lock_fd = fd;
	rc = 0;
out:
	free(path);
	return rc;
}

int
store_open_another(const struct store *s, struct store **out, char **cause)
{
	if (store_open(s->path, STORE_OPEN, out, cause) < 0)
		return -1;
	store_set_actor(*out, s->actor);
	return 0;
}

void
store_set_actor(struct store *s, const char *actor)
{
	free(s->actor);
	s->actor = xstrdup(actor);
}

int
store_begin(struct store *s, char **cause)
{
	return exec(s, "BEGIN IMMEDIATE", "cannot start a write transaction", cause);
}

int
store_commit(struct store *s, char **cause)
{
	if (exec(s, "COMMIT", "cannot commit", cause) < 0) {
		store_rollback(s);
		return -1;
	}
	return 0;
}

void
store_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

int
store_end(struct store *s, int rc, char **cause)
{
	if (rc == 0)
		return store_commit(s, cause);
	store_rollback(s);
	return rc;
}

int
store_meta_get(struct store *s, const char *key, char **value, char **cause)
{
	sqlite3_stmt *st = NULL;
	int rc = -1, step;

	if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL) !=
	    SQLITE_OK) {
		store_error(s, "reading meta", cause);
		return -1;
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		*value = xstrdup((const char *)sqlite3_column_text(st, 0));
		rc = 0;
	} else if (step == SQLITE_DONE) {
		rc = 1;
	} else {
		store_error(s, "reading meta", cause);
	}
	sqlite3_finalize(st);
	return rc;
}

int
store_meta_set(struct store *s, const char *key, const char *value, char **cause)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;

	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO meta (key, value) VALUES (?1, ?2) "
			       "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
			       -1, &st, NULL) != SQLITE_OK) {
		store_error(s, "writing meta", cause);
		return -1;
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_error(s, "writing meta", cause);
		rc = -1;
	}
	sqlite3_finalize(st);
	return rc;
}

int
store_integrity_check(struct store *s, char **cause)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		store_error(s, "integrity check", cause);
		goto out;
	}
	if (strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
		*cause = xasprintf("%s: integrity check: %s", s->path,
				   (const char *)sqlite3_column_text(st, 0));
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

int
store_pin_key(struct store *s, const char *fpr, int64_t now, char **cause)
{
	json_t *details = json_pack("{s:s}", "key_fingerprint", fpr);
	char *pinned = NULL;
	int rc = -1, got;

	if (store_begin(s, cause) < 0)
		goto out;
	got = store_meta_get(s, STORE_META_KEY_FPR, &pinned, cause);
	if (got < 0)
		goto out;
	if (got == 0 && strcmp(pinned, fpr) != 0) {
		*cause = xasprintf("%s: already initialised with key %s, not %s; use "
				   "'tokenwarden rekey' to change keys",
				   s->path, pinned, fpr);
		goto out;
	}
	/* Already pinned to this key: nothing to write, and no second init event. */
	if (got == 1 && (store_meta_set(s, STORE_META_KEY_FPR, fpr, cause) < 0 ||
			 events_append(s, now, "store.init", NULL, NULL, NULL, details, cause) < 0))
		goto out;
	rc = 0;
out:
	free(pinned);
	json_decref(details);
	return store_end(s, rc, cause);
}

int
store_check_key(struct store *s, const char *fpr, char **cause)
{
	char *pinned = NULL;
	int got = store_meta_get(s, STORE_META_KEY_FPR, &pinned, cause), rc = -1;

	if (got == 1)
		*cause = xasprintf("%s: no sealing key is pinned; run 'tokenwarden init'", s->path);
	else if (got == 0 && strcmp(pinned, fpr) != 0)
		*cause = xasprintf("%s: pinned to sealing key %s, but the public key given is %s; "
				   "check the public key file, or use 'tokenwarden rekey'",
				   s->path, pinned, fpr);
	else if (got == 0)
		rc = 0;
	free(pinned);
	return rc;
}

sqlite3_stmt *
store_prepare(struct store *s, const char *sql, char **cause)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_error(s, "preparing a query", cause);
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

char *
store_column_dup(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL
		   ? NULL
		   : xstrdup((const char *)sqlite3_column_text(st, i));
}
