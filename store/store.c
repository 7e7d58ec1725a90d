/*
 * What the store modules do on an open connection: the schema and its
 * migration by user_version, transactions, prepared statements and column
 * helpers, workspace and slot ids, the meta table with the pinned sealing
 * key, the integrity check, and the messages for storage errors.  Opening
 * the connection (telling a store from any other file, writable from
 * read-only) is store/open.c.
 */
#include "store/store.h"

#include "core/clock.h"
#include "core/xalloc.h"
#include "store/events.h"
#include "store/inventory.h"
#include "store/store_priv.h"

#include <errno.h>
#include <sqlite3.h>
#include <string.h>

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
    /* 3 -> 4: the workspaces whose server clock disagreed at the last check. */
    "CREATE TABLE clock_state ("
    "  workspace_id INTEGER PRIMARY KEY REFERENCES workspaces(id),"
    "  checked_at INTEGER NOT NULL,"
    "  error TEXT NOT NULL);",
    /*
     * 4 -> 5: token events carry their row and its digest (store/inventory.h);
     * each row's last event is found through this index.  The row is a
     * generated column, so it cannot differ from the hashed details (and an
     * index on it serves a correlated look-up, which SQLite 3.40 does not do
     * with an index on the expression).  migrate_code records the rows a
     * store already holds.
     */
    "ALTER TABLE events ADD COLUMN token_row INTEGER"
    "  GENERATED ALWAYS AS (json_extract(details, '$.row')) VIRTUAL;"
    "CREATE INDEX events_by_row ON events(token_row, id) WHERE token_row IS NOT NULL;",
    /* 5 -> 6: each slot's last event of a kind (events_last_by_slot: the last
     * token.active of status, metrics and audit report) read from this index
     * alone, in order, rather than by sorting the whole history. */
    "CREATE INDEX events_by_kind ON events(kind, workspace, slot, at);",
    /* 6 -> 7: the rows that may exist on the server, every column, in id order: the
     * inventory every verb reads and audit report checks, without visiting the rest
     * of a long history of deleted rows nor sorting (tokens_live, inventory_verify). */
    "CREATE INDEX tokens_live ON tokens(id, workspace_id, slot_id, state, token, name, origin,"
    "  requested_at, created_at, expires_at, updated_at, retire_after)"
    "  WHERE state IN " STORE_LIVE_STATES ";"
    /* Whether a row has a sealed secret, from a few pages of keys rather than the
     * table's pages of blobs (STORE_HAS_SECRET). */
    "CREATE INDEX secrets_rows ON secrets(token_row);"
    /* A workspace's tokens by name: each create checks its name is new (tokens_name_used),
     * which read every row of a long history. */
    "CREATE INDEX tokens_by_name ON tokens(workspace_id, name);",
};

/* 4 -> 5: the rows a store already holds, recorded with their digests. */
static int
attest_rows(struct store *s, char **cause)
{
	return inventory_attest(s, clock_now_ms(),
				"the token rows as this store held them when its events began "
				"to carry row digests (schema 5)",
				cause);
}

/* What a migration does beyond its SQL; NULL: nothing. */
static int (*const migrate_code[STORE_SCHEMA_VERSION])(struct store *s, char **cause) = {
    [4] = attest_rows,
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
	int code = s->db != NULL ? sqlite3_extended_errcode(s->db) : SQLITE_NOMEM;
	int sys = s->db != NULL ? sqlite3_system_errno(s->db) : 0;
	const char *msg = s->db != NULL ? sqlite3_errmsg(s->db) : "out of memory";

	if (s->readonly != NULL && (code & 0xff) == SQLITE_READONLY)
		*cause = xasprintf("%s: %s: the store is open read-only (%s), so nothing can be "
				   "written; run this where the store is writable",
				   s->path, what, s->readonly);
	else
		*cause = store_describe(s->path, what, code, sys, msg);
}

/* What happened and what to do when SQLite refused to write; see store_describe. */
static char *
readonly_text(const char *path, int code, int sys_errno)
{
	char *dir = store_dir_of(path), *text;

	if (code == SQLITE_READONLY_DIRECTORY)
		text = xasprintf("cannot be written: SQLite may not create its journal in the "
				 "directory %s; make it writable for the user running tokenwarden",
				 dir);
	else if (code == SQLITE_READONLY_ROLLBACK)
		text = xasprintf("a writer that crashed left %s-journal, which must be rolled "
				 "back, and that needs write access; run any tokenwarden command "
				 "on it once where it is writable",
				 path);
	else if (code == SQLITE_READONLY_DBMOVED)
		text = xasprintf("the file was moved or removed while open; run the command again");
	else if (code == SQLITE_READONLY_CANTINIT || code == SQLITE_READONLY_CANTLOCK ||
		 code == SQLITE_READONLY_RECOVERY)
		text =
		    xasprintf("SQLite cannot use its WAL index %s-shm, which it may only read; "
			      "run this where %s-shm is writable, or on a copy of %s, %s-wal and "
			      "%s-shm",
			      path, path, path, path, path);
	else
		text = xasprintf("cannot be written: %s; writing needs write access to it and its "
				 "directory (the verbs that only read work on it as it is)",
				 sys_errno == EROFS ? "it is on a read-only file system"
						    : "the file, its directory or its file system "
						      "is read-only");
	free(dir);
	return text;
}

char *
store_describe(const char *path, const char *what, int code, int sys_errno, const char *sqlmsg)
{
	int primary = code & 0xff, os = primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN;
	const char *why = sys_errno != 0 ? strerror(sys_errno) : sqlmsg;
	char *text, *msg;

	if (primary == SQLITE_FULL || (os && sys_errno == ENOSPC))
		text = xasprintf("no space left: the file system holding it is full (or the "
				 "database reached its size limit); free space there, then run the "
				 "command again");
	else if (os && sys_errno == EDQUOT)
		text = xasprintf("disk quota exceeded on the file system holding it; free space or "
				 "raise the quota, then run the command again");
	else if (primary == SQLITE_READONLY || (os && sys_errno == EROFS))
		text = readonly_text(path, code, sys_errno);
	else if (primary == SQLITE_PERM || primary == SQLITE_AUTH ||
		 (os && (sys_errno == EACCES || sys_errno == EPERM)))
		text = xasprintf("permission denied (%s): the user running tokenwarden must be "
				 "able to read and write it, its directory and the files beside it "
				 "(%s-wal, %s-shm, %s.lock); look with: ls -ld %s*",
				 why, path, path, path, path);
	else if (primary == SQLITE_NOTADB)
		text = xasprintf("not a SQLite database, or a damaged or encrypted one (%s); check "
				 "the path given with --db",
				 sqlmsg);
	else if (primary == SQLITE_CORRUPT)
		text = xasprintf("the database is damaged (%s); restore it from a backup and check "
				 "its history with 'tokenwarden audit verify'",
				 sqlmsg);
	else if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
		text = xasprintf("locked by another process, still after %d s (%s); try again "
				 "when it has finished",
				 STORE_BUSY_TIMEOUT_MS / 1000, sqlmsg);
	else if (primary == SQLITE_NOMEM)
		text = xasprintf("out of memory");
	else if (primary == SQLITE_IOERR && sys_errno == EFBIG)
		text = xasprintf("the file size limit was reached (%s); raise it (ulimit -f), then "
				 "run the command again",
				 why);
	else if (primary == SQLITE_IOERR)
		text = xasprintf("input/output error (%s): the disk or file system failed; check "
				 "the kernel log (dmesg) and the disk, then run the command again",
				 why);
	else if (code == SQLITE_CANTOPEN_ISDIR || (os && sys_errno == EISDIR))
		text = xasprintf("a directory, not a store file");
	else if (code == SQLITE_CANTOPEN_SYMLINK)
		text = xasprintf("a symbolic link; give --db the file it points to");
	else if (os && (sys_errno == EMFILE || sys_errno == ENFILE))
		text = xasprintf("too many open files (%s); raise the limit (ulimit -n)", why);
	else if (primary == SQLITE_CANTOPEN)
		text = xasprintf("cannot open it or a file beside it (%s); check %s, %s-wal and "
				 "%s-shm with: ls -ld %s*",
				 why, path, path, path, path);
	else
		text = xstrdup(sqlmsg);
	msg = xasprintf("%s: %s: %s", path, what, text);
	free(text);
	return msg;
}

int
store_exec(struct store *s, const char *sql, const char *what, char **cause)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		store_error(s, what, cause);
		return -1;
	}
	return 0;
}

/* Reads one integer with sql. */
int
store_pragma_int(struct store *s, const char *sql, int *out, char **cause)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		store_error(s, "reading its schema", cause);
		goto out;
	}
	*out = sqlite3_column_int(st, 0);
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

int
store_mark(struct store *s, struct store_mark *m, char **cause)
{
	int version = 0;

	if (store_pragma_int(s, "PRAGMA data_version", &version, cause) < 0)
		return -1;
	m->own = (int64_t)sqlite3_total_changes64(s->db);
	m->others = version;
	return 0;
}

/* Inside a write transaction: the migrations from the schema version found then. */
static int
migrate_steps(struct store *s, char **cause)
{
	char *sql = NULL;
	int version, rc = -1;

	/* Read again: another process may have migrated it since it was first read. */
	if (store_pragma_int(s, "PRAGMA user_version", &version, cause) < 0)
		goto out;
	for (int v = version; v < STORE_SCHEMA_VERSION; v++) {
		if (store_exec(s, migrations[v], "migrating its schema", cause) < 0)
			goto out;
		if (migrate_code[v] != NULL && migrate_code[v](s, cause) < 0)
			goto out;
	}
	sql = xasprintf("PRAGMA application_id = %d; PRAGMA user_version = %d;",
			(int)STORE_APPLICATION_ID, STORE_SCHEMA_VERSION);
	if (version < STORE_SCHEMA_VERSION &&
	    store_exec(s, sql, "setting the schema version", cause) < 0)
		goto out;
	rc = 0;
out:
	free(sql);
	return rc;
}

/* Migrates s, open for writing, to STORE_SCHEMA_VERSION in one transaction. */
int
store_migrate(struct store *s, char **cause)
{
	int version, rc = -1;

	if (store_pragma_int(s, "PRAGMA user_version", &version, cause) < 0)
		goto out;
	if (version == STORE_SCHEMA_VERSION) {
		rc = 0;
		goto out;
	}
	if (store_begin(s, cause) < 0)
		goto out;
	rc = store_end(s, migrate_steps(s, cause), cause);
out:
	return rc;
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
	return store_exec(s, "BEGIN IMMEDIATE", "starting a write transaction", cause);
}

int
store_commit(struct store *s, char **cause)
{
	if (store_exec(s, "COMMIT", "committing the change", cause) < 0) {
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
