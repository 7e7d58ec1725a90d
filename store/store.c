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
#include "store/slots.h"
#include "store/store_priv.h"
#include "store/walbuf.h"

#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The partial indexes' conditions since schema 10, of the table's own columns. */
#define LIVE_ROWS STORE_LIVE("")
#define IN_FLIGHT_ROWS STORE_IN_FLIGHT("")

/*
 * The tokens table's CHECKs on state, as schema 1 wrote them, and as schema
 * 11 rewrites them: comparisons, for which SQLite builds no table of the
 * constants, as it does for an IN list of more than two at every write.
 */
#define STATES_1                                                                                   \
	"state IN ('pending', 'created', 'verified', 'active',    'retiring', 'deleted', "         \
	"'failed', 'unknown', 'expired', 'revoked')"
#define NO_TOKEN_1 "state IN ('pending', 'unknown', 'failed')"
#define STATES_11                                                                                  \
	"state = 'pending' OR state = 'created' OR state = 'verified' OR state = 'active' OR "     \
	"state = 'retiring' OR state = 'deleted' OR state = 'failed' OR state = 'unknown' OR "     \
	"state = 'expired' OR state = 'revoked'"
#define NO_TOKEN_11 "(state = 'pending' OR state = 'unknown' OR state = 'failed')"

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
    "  state TEXT NOT NULL CHECK (" STATES_1 "),"
    "  origin TEXT NOT NULL CHECK (origin IN ('created', 'imported')),"
    "  requested_at INTEGER NOT NULL,"
    "  created_at INTEGER,"
    "  expires_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  retire_after INTEGER,"
    "  CHECK (token IS NOT NULL OR " NO_TOKEN_1 "),"
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
    /* A workspace's tokens by name: each create checks its name is new (tokens_intent_fresh),
     * which read every row of a long history. */
    "CREATE INDEX tokens_by_name ON tokens(workspace_id, name);",
    /* 7 -> 8: a slot's retiring tokens, which each activation may bring forward
     * (bring_forward): read through the state index, that was every retiring token
     * of the store, for each rotation. */
    "CREATE INDEX tokens_retiring ON tokens(slot_id) WHERE state = 'retiring';",
    /*
     * 8 -> 9: each token event's digest in a column of its own, in the index of a
     * row's events, so that a run's start-of-run check reads each live row's last
     * digest from the index rather than a page of history and its JSON per row.
     * A plain column (SQLite 3.40 reads a generated one from the table): events_append
     * writes it from the details, and events_verify holds it to them, as to the hash.
     */
    "ALTER TABLE events ADD COLUMN row_digest TEXT;"
    "UPDATE events SET row_digest = " STORE_DETAILS_DIGEST ";"
    "DROP INDEX events_by_row;"
    "CREATE INDEX events_by_row ON events(token_row, id, row_digest) WHERE token_row IS NOT NULL;"
    /* Each slot's last token.active alone (events_last_active): every event had an entry
     * written for a look-up of one kind. */
    "DROP INDEX events_by_kind;"
    "CREATE INDEX events_by_kind ON events(workspace, slot, at) WHERE kind = 'token.active';"
    /* The pending rows are read from the in-flight ones (pending_rows): an index of every
     * row by state had an entry rewritten at each change of state, for that alone. */
    "DROP INDEX IF EXISTS tokens_by_state;",
    /*
     * 9 -> 10: the partial indexes of the live rows and of those in flight, on
     * conditions without an IN list: SQLite built a table for each list at every
     * write of a token row, four of the six a change of state built.  The same
     * rows, the same uniqueness.
     */
    "DROP INDEX tokens_live;"
    "CREATE INDEX tokens_live ON tokens(id, workspace_id, slot_id, state, token, name, origin,"
    "  requested_at, created_at, expires_at, updated_at, retire_after) WHERE " LIVE_ROWS ";"
    "DROP INDEX tokens_one_in_flight;"
    "CREATE UNIQUE INDEX tokens_one_in_flight ON tokens(slot_id) WHERE " IN_FLIGHT_ROWS ";",
    /* 10 -> 11: the tokens table's CHECKs without IN lists, in code (checks_as_comparisons). */
    "",
    /* 11 -> 12: the tokens a consumer may hold that were deleted or revoked
     * (tokens_dead_held), in row order: the few rows that can make a slot due at once. */
    "CREATE INDEX tokens_dead_held ON tokens(id) WHERE " STORE_DEAD_HELD("") ";",
    /*
     * 12 -> 13: each row keeps the digest its last event recorded (events_append
     * writes it with the event), in the index of the live rows: a run's check
     * reads that index alone, rather than look up each live row's last event in
     * a history that grows every night.  migrate_code copies the digests a store
     * already holds from its events.
     */
    "DROP INDEX tokens_live;"
    "ALTER TABLE tokens ADD COLUMN recorded_digest BLOB;"
    "CREATE INDEX tokens_live ON tokens(id, workspace_id, slot_id, state, token, name, origin,"
    "  requested_at, created_at, expires_at, updated_at, retire_after, recorded_digest)"
    "  WHERE " LIVE_ROWS ";",
    /* 13 -> 14: the consumers each slot's token reached when it became active. */
    "CREATE TABLE slot_reached ("
    "  slot_id INTEGER PRIMARY KEY REFERENCES slots(id),"
    "  token_row INTEGER NOT NULL,"
    "  consumers TEXT NOT NULL);",
    /*
     * 14 -> 15: the token each consumer was last handed, so that one moved
     * between slots is seen; a slot's record names its token's handing
     * only.  The records 14 kept name consumers as written (a path's {slot}
     * unfilled), which SQL cannot fill: they stay, as slot_reached_14, until
     * the next run reads them with the policy and records, for each active
     * token they are of, the consumers it reached (core/rotate.c:
     * record_unrecorded); one it did not reach stays due.
     */
    "ALTER TABLE slot_reached RENAME TO slot_reached_14;"
    "CREATE TABLE slot_reached ("
    "  slot_id INTEGER PRIMARY KEY REFERENCES slots(id),"
    "  token_row INTEGER NOT NULL);"
    "CREATE TABLE handed ("
    "  consumer TEXT PRIMARY KEY,"
    "  token_row INTEGER NOT NULL) WITHOUT ROWID;",
    /*
     * 15 -> 16: the token a delivery began to hand each consumer, recorded
     * before it begins, so that a run killed after the consumer took it
     * leaves that known (the consumer may hold it or its last one) even
     * when the policy moves the consumer before the next run.  A consumer
     * offered a token and handed none yet has token_row 0.
     */
    "ALTER TABLE handed ADD COLUMN offered INTEGER;",
    /*
     * 16 -> 17: the records of handed and slot_reached follow from the
     * history: each change is a consumer.handed event giving the records
     * as it left them, which inventory_verify finds through this index
     * (store/slots.h).  migrate_code records those a store already holds.
     */
    "CREATE INDEX events_handed ON events(id) WHERE kind = 'consumer.handed';",
    /*
     * 17 -> 18: the owner and group a file consumer was last given with its
     * token, so that the plan sees a change of them; NULL for a program, and
     * for a record from before (taken to be as the policy says).
     */
    "ALTER TABLE handed ADD COLUMN given TEXT;",
    /*
     * 18 -> 19: the events that store or reseal a sealed secret record its
     * digest ("sealed", store/inventory.h); migrate_code records each secret
     * a store already holds.
     */
    "",
    /*
     * 19 -> 20: a token deleted or revoked loses its sealed secret with its
     * row's move (store/tokens.h); migrate_code erases those a store kept.
     */
    "",
    /*
     * 20 -> 21: the offers a later offer replaced before either was seen
     * through (a run killed mid-delivery, then another offer to the same
     * consumer): a JSON array of token rows the consumer may hold too, NULL
     * for none (store/slots.h).  Before, the later offer dropped the
     * earlier, and with it the hold on the token the consumer took.
     */
    "ALTER TABLE handed ADD COLUMN superseded TEXT;",
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

/* Runs check, a PRAGMA integrity_check or quick_check: 0 when it says ok, else -1 with *cause. */
static int
check_ok(struct store *s, const char *check, char **cause)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(s->db, check, -1, &st, NULL) != SQLITE_OK ||
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

/*
 * 10 -> 11: the tokens table's CHECKs on state as comparisons (STATES_11),
 * the same rows passing: SQLite built a table of an IN list's constants, and
 * zeroed its pages, at every write of a token row.  A CHECK alone changes as
 * SQLite documents it ("Making Other Kinds Of Table Schema Changes"): the
 * table's SQL rewritten in sqlite_schema, the schema version moved on so that
 * every connection reads it again, and the table checked, in the migration's
 * transaction.  A table whose SQL is not schema 1's is left as it is.
 */
static int
checks_as_comparisons(struct store *s, char **cause)
{
	static const char update[] = "UPDATE sqlite_schema SET sql = replace(replace(sql, ?1, ?2), "
				     "?3, ?4) WHERE type = 'table' AND name = 'tokens' "
				     "AND instr(sql, ?1) > 0 AND instr(sql, ?3) > 0";
	sqlite3_stmt *st = NULL;
	char *bump = NULL, *ignored = NULL;
	int version, changed = 0, rc = -1;

	if (store_pragma_int(s, "PRAGMA schema_version", &version, cause) < 0 ||
	    store_exec(s, "PRAGMA writable_schema = ON", "migrating its schema", cause) < 0)
		return -1;
	if (sqlite3_prepare_v2(s->db, update, -1, &st, NULL) != SQLITE_OK) {
		store_error(s, "migrating its schema", cause);
		goto out;
	}
	sqlite3_bind_text(st, 1, STATES_1, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, STATES_11, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, NO_TOKEN_1, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, NO_TOKEN_11, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_error(s, "migrating its schema", cause);
		goto out;
	}
	changed = sqlite3_changes(s->db);
	bump = xasprintf("PRAGMA schema_version = %d", version + 1);
	if (changed > 0 && store_exec(s, bump, "migrating its schema", cause) < 0)
		goto out;
	rc = 0;
out:
	sqlite3_finalize(st);
	free(bump);
	/* Off on every path: the transaction's end rolls back what went wrong. */
	if (store_exec(s, "PRAGMA writable_schema = OFF", "migrating its schema",
		       rc == 0 ? cause : &ignored) < 0)
		rc = -1;
	free(ignored);
	return rc == 0 && changed > 0 ? check_ok(s, "PRAGMA quick_check(tokens)", cause) : rc;
}

/* What a migration does beyond its SQL, run after all of it; NULL: nothing. */
static int (*const migrate_code[STORE_SCHEMA_VERSION])(struct store *s, char **cause) = {
    [4] = attest_rows,                /* each row in a token.attested event */
    [10] = checks_as_comparisons,     /* the tokens table's CHECKs */
    [12] = inventory_copy_recorded,   /* each row's last digest */
    [16] = slots_attest,              /* the records in a consumer.handed event */
    [18] = inventory_attest_secrets,  /* each secret in a secret.recorded event */
    [19] = tokens_erase_dead_secrets, /* each dead token's, with a secret.erased event */
};

int64_t
store_query_id(struct store *s, const char *sql, int64_t parent, const char *name, const char *what,
	       char **cause)
{
	sqlite3_stmt *st = store_prepare(s, sql, cause);
	int64_t id = -1;
	int step;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, parent);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	else if (step == SQLITE_DONE)
		id = 0;
	else
		store_error(s, what, cause);
	store_done(s, st);
	return id;
}

/*
 * The id of the row named name under parent: found by find, else made by
 * make, an INSERT ... RETURNING id upsert, so that a known name costs no
 * write.  Returns the id (ids start at 1), or -1 with *cause.
 */
static int64_t
name_id(struct store *s, const char *find, const char *make, int64_t parent, const char *name,
	const char *what, char **cause)
{
	int64_t id = store_query_id(s, find, parent, name, what, cause);

	if (id == 0)
		id = store_query_id(s, make, parent, name, what, cause);
	if (id == 0) {
		*cause = xasprintf("%s: %s: the upsert returned no row", s->path, what);
		id = -1;
	}
	return id;
}

int64_t
store_workspace_id(struct store *s, const char *name, char **cause)
{
	return name_id(s, "SELECT id FROM workspaces WHERE name = ?2",
		       "INSERT INTO workspaces (name) VALUES (?2) ON CONFLICT (name) "
		       "DO UPDATE SET name = name RETURNING id",
		       0, name, "recording the workspace", cause);
}

int64_t
store_slot_id(struct store *s, int64_t ws, const char *slot, char **cause)
{
	if (slot == NULL)
		return 0;
	return name_id(s, "SELECT id FROM slots WHERE workspace_id = ?1 AND name = ?2",
		       "INSERT INTO slots (workspace_id, name) VALUES (?1, ?2) "
		       "ON CONFLICT (workspace_id, name) DO UPDATE SET name = name RETURNING id",
		       ws, slot, "recording the slot", cause);
}

int
store_no_space(int code, int sys_errno)
{
	int primary = code & 0xff;

	return primary == SQLITE_FULL || ((primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN) &&
					  (sys_errno == ENOSPC || sys_errno == EDQUOT));
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
	else if (s->file != NULL && store_no_space(code, sys))
		*cause = xasprintf("%s: %s: no space left for its working copy %s: the file system "
				   "holding that is full; free space there, then run the command "
				   "again",
				   s->path, what, s->file);
	else
		*cause = store_describe(s->path, what, code, sys, msg, s->which);
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
store_describe(const char *path, const char *what, int code, int sys_errno, const char *sqlmsg,
	       const char *which)
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
		text = xasprintf("not a SQLite database, or a damaged or encrypted one (%s); %s",
				 sqlmsg, which != NULL ? which : STORE_CHECK_DB);
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
store_cache_kib(struct store *s, int kib, char **cause)
{
	char sql[64];

	snprintf(sql, sizeof sql, "PRAGMA cache_size = %d", -kib);
	return store_exec(s, sql, "setting its page cache", cause);
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

/* Steps sql, a statement that returns no row, once; returns 0, or -1 with *cause. */
static int
store_step_once(struct store *s, const char *sql, const char *what, char **cause)
{
	sqlite3_stmt *st = store_prepare(s, sql, cause);
	int rc = 0;

	if (st == NULL)
		return -1;
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_error(s, what, cause);
		rc = -1;
	}
	store_done(s, st);
	return rc;
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
store_read_begin(struct store *s, char **cause)
{
	assert(s->depth == 0);
	/* Deferred: the snapshot is taken by the first read. */
	return store_step_once(s, "BEGIN", "reading it", cause);
}

void
store_read_end(struct store *s)
{
	assert(s->depth == 0);
	/* A transaction that only read has nothing to commit: its end cannot fail. */
	(void)sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
}

/* The header's file format versions (offsets 18 and 19): 1 rollback journal, 2 WAL. */
#define HEADER_WRITE_VERSION 18
#define HEADER_READ_VERSION 19

int
store_image(struct store *s, unsigned char **image, size_t *size, char **cause)
{
	sqlite3_int64 n = 0;
	unsigned char *bytes = NULL;
	int pages = 0, rc = -1;

	if (store_read_begin(s, cause) < 0)
		return -1;
	/* The first read takes the snapshot, and says why it cannot (damaged, busy). */
	if (store_pragma_int(s, "PRAGMA page_count", &pages, cause) < 0)
		goto out;
	bytes = sqlite3_serialize(s->db, "main", &n, 0);
	if (bytes == NULL || n < 100) {
		store_error(s, "copying its pages", cause);
		goto out;
	}
	bytes[HEADER_WRITE_VERSION] = 1;
	bytes[HEADER_READ_VERSION] = 1;
	*image = bytes;
	*size = (size_t)n;
	bytes = NULL;
	rc = 0;
out:
	sqlite3_free(bytes);
	store_read_end(s);
	return rc;
}

/* Why a copy into to failed, as it says: the system's words for a full disk or an I/O error. */
static const char *
copy_failure(sqlite3 *to)
{
	int code = to != NULL ? sqlite3_errcode(to) & 0xff : SQLITE_NOMEM;

	if (code == SQLITE_FULL)
		return strerror(ENOSPC);
	if ((code == SQLITE_IOERR || code == SQLITE_CANTOPEN) && sqlite3_system_errno(to) != 0)
		return strerror(sqlite3_system_errno(to));
	return to != NULL ? sqlite3_errmsg(to) : "out of memory";
}

int
store_copy_to(struct store *s, const char *path, const char *name, int fd, size_t *size,
	      char **cause)
{
	static const unsigned char rollback[2] = {1, 1};
	const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX;
	sqlite3 *to = NULL;
	sqlite3_backup *b = NULL;
	struct stat st;
	int rc = -1, step = SQLITE_ERROR;

	assert(s->depth == 0);
	/* No journal: the file is no store until it is whole, synced and renamed. */
	if (sqlite3_open_v2(path, &to, flags, NULL) == SQLITE_OK &&
	    sqlite3_exec(to, "PRAGMA journal_mode = OFF", NULL, NULL, NULL) == SQLITE_OK)
		b = sqlite3_backup_init(to, "main", s->db, "main");
	/* Every page in one step: one read transaction, the destination's cache spilling to it. */
	if (b != NULL)
		step = sqlite3_backup_step(b, -1);
	if (b != NULL && sqlite3_backup_finish(b) == SQLITE_OK && step == SQLITE_DONE)
		rc = 0;
	if (rc < 0)
		*cause = xasprintf("%s: cannot copy the store into it: %s", name, copy_failure(to));
	sqlite3_close(to);
	if (rc < 0)
		return -1;
	/* The source's header says WAL; the copy is whole without one. */
	if (pwrite(fd, rollback, sizeof rollback, HEADER_WRITE_VERSION) != sizeof rollback ||
	    fstat(fd, &st) < 0) {
		*cause = xasprintf("%s: cannot write the copy: %s", name, strerror(errno));
		return -1;
	}
	*size = (size_t)st.st_size;
	return 0;
}

void
store_image_free(unsigned char *image)
{
	sqlite3_free(image);
}

int
store_replace_check(struct store *s, struct store *from, char **cause)
{
	int ours = 0, theirs = 0;

	/* SQLite copies into a WAL file only pages of its own size. */
	if (store_pragma_int(s, "PRAGMA page_size", &ours, cause) < 0 ||
	    store_pragma_int(from, "PRAGMA page_size", &theirs, cause) < 0)
		return -1;
	if (ours != theirs) {
		*cause = xasprintf("%s has %d-byte pages and %s %d-byte ones: SQLite cannot copy "
				   "one into the other; restore by moving files instead (the "
				   "README's 'Backup and restore')",
				   from->path, theirs, s->path, ours);
		return -1;
	}
	return 0;
}

int
store_replace(struct store *s, struct store *from, int (*fn)(void *arg, char **cause), void *arg,
	      char **cause)
{
	sqlite3_backup *b;
	int rc, done;

	assert(s->depth == 0 && s->readonly == NULL);
	if (store_replace_check(s, from, cause) < 0)
		return -1;
	b = sqlite3_backup_init(s->db, "main", from->db, "main");
	if (b == NULL) {
		store_error(s, "replacing its content", cause);
		return -1;
	}
	/* No page yet: the step takes the write transaction, held until the end. */
	rc = sqlite3_backup_step(b, 0);
	if (rc != SQLITE_OK) {
		sqlite3_backup_finish(b);
		store_error(s, "replacing its content", cause);
		return -1;
	}
	rc = fn(arg, cause);
	if (rc != 0) {
		sqlite3_backup_finish(b); /* rolls the transaction back */
		return rc;
	}
	done = sqlite3_backup_step(b, -1);
	if (sqlite3_backup_finish(b) != SQLITE_OK || done != SQLITE_DONE) {
		store_error(s, "replacing its content", cause);
		return -1;
	}
	return 0;
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
	for (int v = version; v < STORE_SCHEMA_VERSION; v++)
		if (store_exec(s, migrations[v], "migrating its schema", cause) < 0)
			goto out;
	/* Then the code, which writes through today's statements: with the schema they need. */
	for (int v = version; v < STORE_SCHEMA_VERSION; v++)
		if (migrate_code[v] != NULL && migrate_code[v](s, cause) < 0)
			goto out;
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

struct store_gate {
	pthread_mutex_t mu;
	atomic_int refs;
	int unsynced; /* a commit was left for store_sync to sync (under mu) */
};

struct store_gate *
store_gate_new(void)
{
	struct store_gate *g = xcalloc(1, sizeof *g);

	pthread_mutex_init(&g->mu, NULL);
	atomic_init(&g->refs, 1);
	return g;
}

void
store_gate_share(struct store *s, struct store_gate *g)
{
	atomic_fetch_add(&g->refs, 1);
	store_gate_drop(s->gate);
	s->gate = g;
}

void
store_gate_drop(struct store_gate *g)
{
	if (g == NULL || atomic_fetch_sub(&g->refs, 1) > 1)
		return;
	pthread_mutex_destroy(&g->mu);
	free(g);
}

/*
 * A connection that store_open_another opened syncs its commits outside
 * the gate: its COMMIT writes the log without syncing it (walbuf skips the
 * commit's sync, as synchronous=NORMAL would), lets the next connection in,
 * and then syncs the log before store_commit returns.  The connections
 * share the log, so a sync makes every commit written before it durable,
 * and no connection waits on another's sync to write.  Every other commit
 * is synced inside COMMIT, as SQLite does at FULL, at which each connection
 * stays: should the sync fail, the commit is undone.
 */

/* The log the connection writes, or NULL when none is open. */
static sqlite3_file *
log_of(struct store *s)
{
	sqlite3_file *log = NULL;

	if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &log) != SQLITE_OK)
		return NULL;
	return log != NULL && log->pMethods != NULL ? log : NULL;
}

/* Syncs the store's log (FILE-wal) through s's connection: SQLite's result, *sys errno. */
static int
sync_log(struct store *s, int *sys)
{
	sqlite3_file *log = log_of(s);
	int err = SQLITE_MISUSE; /* no log open: nothing was committed through it */

	*sys = 0;
	if (log != NULL) {
		err = log->pMethods->xSync(log, SQLITE_SYNC_NORMAL);
		*sys = errno;
	}
	return err;
}

/* The cause for a failed sync_log. */
static char *
sync_failed(const struct store *s, int err, int sys, const char *what)
{
	return xasprintf("%s-wal: syncing the store's log to disk failed (%s%s%s): %s", s->path,
			 sqlite3_errstr(err), err != SQLITE_MISUSE && sys != 0 ? ": " : "",
			 err != SQLITE_MISUSE && sys != 0 ? strerror(sys) : "", what);
}

/* Takes the gate for a transaction of s's, its commit left unsynced when deferred. */
static void
gate_enter(struct store *s, int deferred)
{
	pthread_mutex_lock(&s->gate->mu);
	s->deferred = deferred;
}

/* The outermost transaction ended, committed or not: the other connections may write. */
static void
transaction_ended(struct store *s, int committed)
{
	s->head.known = 0;
	if (committed && s->deferred)
		s->gate->unsynced = 1;
	s->depth = 0;
	pthread_mutex_unlock(&s->gate->mu);
}

/*
 * Steps the outermost COMMIT.  One whose sync comes later (deferred, or
 * late on a connection of store_open_another's) has walbuf skip the sync
 * FULL makes inside it; without walbuf, the commit is synced there too.
 */
static int
commit_outer(struct store *s, char **cause)
{
	sqlite3_file *log = s->depth == 1 && (s->deferred || s->late_sync) ? log_of(s) : NULL;
	int rc;

	if (log != NULL)
		walbuf_defer_sync(log, 1);
	rc = store_step_once(s, "COMMIT", "committing the change", cause);
	if (log != NULL)
		walbuf_defer_sync(log, 0);
	return rc;
}

/*
 * Transactions nest: a store function that makes one change in a transaction
 * of its own can be called inside a caller's, which then commits several
 * changes with one sync of the disk (a rotation's activation and its slot's
 * success).  Inside, a transaction is a savepoint: its failure undoes its own
 * changes only, and its caller decides for the rest.
 */
static int
begin(struct store *s, int deferred, char **cause)
{
	if (s->depth == 0)
		gate_enter(s, deferred);
	if (store_step_once(s, s->depth > 0 ? "SAVEPOINT nested" : "BEGIN IMMEDIATE",
			    "starting a write transaction", cause) < 0) {
		if (s->depth == 0)
			transaction_ended(s, 0);
		return -1;
	}
	s->depth++;
	return 0;
}

int
store_begin(struct store *s, char **cause)
{
	return begin(s, 0, cause);
}

int
store_begin_unsynced(struct store *s, char **cause)
{
	return begin(s, 1, cause);
}

int
store_commit(struct store *s, char **cause)
{
	int late = s->late_sync && !s->deferred, err, sys;

	if ((s->depth > 1 ? store_step_once(s, "RELEASE nested", "committing the change", cause)
			  : commit_outer(s, cause)) < 0) {
		store_rollback(s);
		return -1;
	}
	if (s->depth > 1) {
		s->depth--;
		return 0;
	}
	if (s->depth == 0)
		return 0; /* a transaction store_begin did not begin: no gate to give back */
	transaction_ended(s, 1);
	if (!late)
		return 0;
	err = sync_log(s, &sys);
	if (err == SQLITE_OK)
		return 0;
	*cause = sync_failed(s, err, sys, "the change is made, but may not survive a power cut");
	return -1;
}

int
store_sync(struct store *s, char **cause)
{
	int err = SQLITE_OK, sys = 0;

	pthread_mutex_lock(&s->gate->mu);
	if (s->gate->unsynced) {
		err = sync_log(s, &sys);
		if (err == SQLITE_OK)
			s->gate->unsynced = 0;
	}
	pthread_mutex_unlock(&s->gate->mu);
	if (err == SQLITE_OK)
		return 0;
	*cause = sync_failed(s, err, sys, "the last changes may not survive a power cut");
	return -1;
}

void
store_rollback(struct store *s)
{
	char *cause = NULL;

	/* Undone events, or a whole transaction SQLite ended after an error. */
	s->head.known = 0;

	if (s->depth > 1) {
		/* After an error that ended the whole transaction there is no
		 * savepoint left to undo: the outer end then finds none either. */
		if (store_step_once(s, "ROLLBACK TO nested", "rolling back", &cause) < 0 ||
		    store_step_once(s, "RELEASE nested", "rolling back", &cause) < 0)
			FREE_NULL(&cause);
		s->depth--;
		return;
	}
	if (!sqlite3_get_autocommit(s->db) &&
	    store_step_once(s, "ROLLBACK", "rolling back", &cause) < 0)
		free(cause);
	if (s->depth == 1)
		transaction_ended(s, 0);
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

	st = store_prepare(s, "SELECT value FROM meta WHERE key = ?1", cause);
	if (st == NULL)
		return -1;
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
	store_done(s, st);
	return rc;
}

int
store_meta_set(struct store *s, const char *key, const char *value, char **cause)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;

	st = store_prepare(s,
			   "INSERT INTO meta (key, value) VALUES (?1, ?2) "
			   "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
			   cause);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_error(s, "writing meta", cause);
		rc = -1;
	}
	store_done(s, st);
	return rc;
}

int
store_integrity_check(struct store *s, char **cause)
{
	return check_ok(s, "PRAGMA integrity_check", cause);
}

int
store_quick_check(struct store *s, char **cause)
{
	return check_ok(s, "PRAGMA quick_check(1)", cause);
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

/*
 * The statements a connection keeps prepared, so that each query is parsed
 * once per connection rather than once per call: a rotation runs some thirty
 * queries, and parsing them was a sixth of its CPU time.  A statement is
 * found by its SQL text; one in use (a query stepped while a nested call runs
 * the same one) is never handed out twice, and the nested call gets a
 * statement of its own.  Past STORE_STMTS statements, the rest are finalised
 * when done, so that queries built at run time cannot grow the cache.
 */
#define STORE_STMTS 64

struct store_stmts {
	size_t n;
	struct {
		sqlite3_stmt *st;
		const char *sql; /* the text it was last asked for by, at that address */
		uint32_t hash;   /* of its SQL text */
		int busy;        /* handed out by store_prepare, not yet given back */
	} e[STORE_STMTS];
};

/* FNV-1a: a cheap first comparison of two queries' texts. */
static uint32_t
sql_hash(const char *sql)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)sql; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

/* The idle statement of sql kept in c, or NULL; hashed only when sql is at a new address. */
static sqlite3_stmt *
kept(struct store_stmts *c, const char *sql, uint32_t *hash)
{
	/* Most queries are literals, asked for at the same address each time. */
	for (size_t i = 0; i < c->n; i++) {
		if (c->e[i].sql == sql && !c->e[i].busy &&
		    strcmp(sqlite3_sql(c->e[i].st), sql) == 0) {
			c->e[i].busy = 1;
			return c->e[i].st;
		}
	}
	*hash = sql_hash(sql);
	for (size_t i = 0; i < c->n; i++) {
		if (c->e[i].hash == *hash && !c->e[i].busy &&
		    strcmp(sqlite3_sql(c->e[i].st), sql) == 0) {
			c->e[i].busy = 1;
			c->e[i].sql = sql;
			return c->e[i].st;
		}
	}
	return NULL;
}

sqlite3_stmt *
store_prepare(struct store *s, const char *sql, char **cause)
{
	struct store_stmts *c = s->stmts;
	sqlite3_stmt *st = NULL;
	uint32_t hash = 0;

	if (c == NULL) {
		c = xcalloc(1, sizeof *c);
		s->stmts = c;
	}
	st = kept(c, sql, &hash);
	if (st != NULL)
		return st;
	if (sqlite3_prepare_v3(s->db, sql, -1, c->n < STORE_STMTS ? SQLITE_PREPARE_PERSISTENT : 0,
			       &st, NULL) != SQLITE_OK) {
		store_error(s, "preparing a query", cause);
		sqlite3_finalize(st);
		return NULL;
	}
	if (c->n < STORE_STMTS) {
		c->e[c->n].st = st;
		c->e[c->n].sql = sql;
		c->e[c->n].hash = hash;
		c->e[c->n].busy = 1;
		c->n++;
	}
	return st;
}

void
store_done(struct store *s, sqlite3_stmt *st)
{
	struct store_stmts *c = s->stmts;

	if (st == NULL)
		return;
	for (size_t i = 0; c != NULL && i < c->n; i++) {
		if (c->e[i].st == st) {
			/* Reset ends the statement's read of the database; its bindings
			 * may point at the caller's strings. */
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			c->e[i].busy = 0;
			return;
		}
	}
	sqlite3_finalize(st);
}

int
store_stmts_busy(const struct store *s)
{
	int n = 0;

	for (size_t i = 0; s->stmts != NULL && i < s->stmts->n; i++)
		n += s->stmts->e[i].busy;
	return n;
}

void
store_stmts_free(struct store *s)
{
	for (size_t i = 0; s->stmts != NULL && i < s->stmts->n; i++)
		sqlite3_finalize(s->stmts->e[i].st);
	free(s->stmts);
	s->stmts = NULL;
}

char *
store_column_dup(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL
		   ? NULL
		   : xstrdup((const char *)sqlite3_column_text(st, i));
}

const char *
store_file_at(const struct store *s, int dir, const char *name)
{
	static const char *const suffix[] = {"", "-wal", "-shm", ".lock"};
	struct stat at, own;
	char *path;
	int same;

	if (s == NULL || dir < 0 || fstatat(dir, name, &at, AT_SYMLINK_NOFOLLOW) < 0)
		return NULL;
	for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
		path = xasprintf("%s%s", s->path, suffix[i]);
		same = stat(path, &own) == 0 && own.st_dev == at.st_dev && own.st_ino == at.st_ino;
		free(path);
		if (same)
			return i == 0   ? "the store"
			       : i == 1 ? "the store's -wal file"
			       : i == 2 ? "the store's -shm file"
					: "the store's lock file";
	}
	return NULL;
}

int
store_pin_recorded(struct store *s, char **why, char **cause)
{
	sqlite3_stmt *st = store_prepare(s,
					 "SELECT id, kind, details FROM events WHERE kind IN "
					 "('store.init', 'store.rekey') ORDER BY id DESC LIMIT 1",
					 cause);
	json_t *d = NULL;
	const char *recorded = NULL;
	char *pinned = NULL;
	int rc = -1, step, got;

	if (st == NULL)
		return -1;
	step = sqlite3_step(st);
	if (step == SQLITE_DONE) {
		rc = 0;
		goto out;
	}
	if (step != SQLITE_ROW) {
		store_error(s, "reading the key's history", cause);
		goto out;
	}
	d = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
	recorded = json_string_value(
	    json_object_get(d, strcmp((const char *)sqlite3_column_text(st, 1), "store.init") == 0
				   ? "key_fingerprint"
				   : "new"));
	got = store_meta_get(s, STORE_META_KEY_FPR, &pinned, cause);
	if (got < 0)
		goto out;
	rc = 0;
	if (got == 1 || recorded == NULL || strcmp(pinned, recorded) != 0) {
		*why =
		    xasprintf("the store is pinned to key %s, but its history last recorded key "
			      "%s (event %lld, %s): the pin was changed outside tokenwarden",
			      got == 1 ? "(none)" : pinned, recorded != NULL ? recorded : "(none)",
			      (long long)sqlite3_column_int64(st, 0),
			      (const char *)sqlite3_column_text(st, 1));
		rc = 1;
	}
out:
	free(pinned);
	json_decref(d);
	store_done(s, st);
	return rc;
}
