/*
 * The tokenwarden database: one SQLite file holding the inventory, sealed
 * secrets, runs and the hash-chained history.  All SQL lives under store/.
 * Every write runs in a BEGIN IMMEDIATE transaction; the schema is versioned
 * with PRAGMA user_version and migrated forward in one transaction on open.
 */
#ifndef TW_STORE_H
#define TW_STORE_H

#include <stddef.h>
#include <stdint.h>

struct sqlite3;
struct sqlite3_stmt;
struct store_file;

/* The meta key holding the pinned sealing key's fingerprint. */
#define STORE_META_KEY_FPR "key_fingerprint"
/*
 * The meta key that is "1" while a run owes the consumers' directories a
 * sweep for what an interrupted delivery left, one it could not reach.
 */
#define STORE_META_KEY_SWEEP "sweep_owed"

#define STORE_SCHEMA_VERSION 21
/* PRAGMA application_id of a tokenwarden database: "twdb". */
#define STORE_APPLICATION_ID 0x74776462

enum store_open_flags {
	/* An existing store, to write in. */
	STORE_OPEN = 0,
	/* init: creates the file (0600) when it does not exist, and fills an empty one. */
	STORE_CREATE = 1,
	/* An existing store, to read: read-only when it cannot be written. */
	STORE_READ = 2,
	/*
	 * An existing store, to look at (doctor): refused as STORE_OPEN refuses
	 * it, a store it cannot write included, but then opened read-only, so
	 * nothing is written or migrated (an older schema is taken as it is).
	 */
	STORE_INSPECT = 4,
	/*
	 * With one of the above: path is a copy named on the command line
	 * (restore's), not the store, and what is not one says so.
	 */
	STORE_COPY = 8,
};

struct store {
	struct sqlite3 *db;
	char *path;
	char *actor;    /* user@host, recorded with every event */
	int lock_fd;    /* the run lock, -1 when not held */
	char *readonly; /* why the store was opened read-only, or NULL when it is writable */
	struct store_file *share;  /* a read-only open's shared lock on the file, or NULL */
	struct store_stmts *stmts; /* the prepared statements kept (store_prepare) */
	int depth;                 /* transactions open, one inside another (store_begin) */
	int late_sync;             /* its commits are synced after the gate (store_open_another) */
	int deferred; /* the transaction's commit is left unsynced (store_begin_unsynced) */
	struct store_gate *gate; /* taken in turn by this store's connections to write */
	const char *which;       /* what to check when path is no store (store_describe) */
	char *file;              /* the working copy that holds it, not at path, or NULL */
	/*
	 * The history's last event as this connection's open transaction
	 * appended it (events_append), so that the next one it appends need
	 * not read it back; known is 0 outside it, and after any rollback.
	 */
	struct {
		int known;
		int64_t id;
		unsigned char hash[32];
	} head;
};

/*
 * Opens the tokenwarden store at path.  Only a store is opened: a path
 * that is missing, not a regular file (a directory, a symbolic link), empty
 * (0 bytes), not SQLite, an empty SQLite database (no schema, user_version
 * 0; STORE_CREATE initialises those two), another program's database (not
 * our application_id), newer than this binary, or readable by group or
 * others is refused with a cause naming the file and the fix, and is left
 * as it was: it is examined read-only (see below) before anything writes.
 *
 * The store is writable when this process may write the file and its
 * directory (where SQLite keeps FILE-wal and FILE-shm and store_lock
 * FILE.lock), its file system is mounted read-write, and the file and the
 * directory each have a write bit: a 0400 file or a 0500 directory is a
 * read-only copy even for root.  STORE_OPEN and STORE_CREATE refuse a store
 * that is not writable; on a writable one they set the pragmas (WAL,
 * synchronous=FULL, foreign_keys, secure_delete, busy timeout) and migrate
 * it to STORE_SCHEMA_VERSION in one transaction.
 *
 * STORE_READ opens a writable store as STORE_OPEN does.  Otherwise, or when
 * the disk is too full to set it up for writing, it opens it read-only and
 * sets s->readonly to the reason.  Either way its connection keeps a page
 * cache of STORE_SCAN_CACHE_KIB, a setting of the connection alone.  A
 * read-only open never writes: no pragma of the file is set, nothing is
 * migrated (an older schema is refused), query_only is
 * on, no checkpoint runs at close, and no file is created or removed beside
 * it (FILE-wal, FILE-shm, FILE.lock).  It reads the file with its FILE-wal
 * through an existing FILE-shm; a FILE-wal without FILE-shm through a
 * wal-index in memory; a file without FILE-wal (or with an empty one) as
 * immutable, holding a shared lock on it so that a writer that starts
 * meanwhile cannot checkpoint into it when it closes (a checkpoint of 1000
 * pages made while it reads still could: read-only opens of a live store
 * are meant for moments, not long reads).
 * Returns 0 and *out (close with store_close), or -1 with *cause.
 */
int store_open(const char *path, enum store_open_flags flags, struct store **out, char **cause);
/*
 * Opens another connection to s's database as s was opened, recording
 * events as s's actor, for another thread: a connection is opened without
 * SQLite's own mutex (SQLITE_OPEN_NOMUTEX), so it must never be used by two
 * threads at once.  The run lock stays with s.  Its commits are synced
 * after the other connections may write again (see store_commit): one
 * thread's wait for the disk does not hold up the others'.  Returns 0 and
 * *out, or -1 with *cause.
 */
int store_open_another(const struct store *s, struct store **out, char **cause);
/*
 * Keeps at most kib KiB of s's pages in memory rather than SQLite's 2 MiB:
 * for a connection that reads most pages once.  Returns 0, or -1 with *cause.
 */
int store_cache_kib(struct store *s, int kib, char **cause);
/*
 * The page cache of a connection that reads most pages once: a STORE_READ
 * connection's and the start-of-run check's.  Such a reader finds a page
 * in its cache only when it is the B-tree's root or an inner page; every
 * page cached beyond those is new memory that the process faults in, and
 * does not read twice.  On the 100,000-row bench, SQLite's 2 MiB made
 * `plan` fault in 480 more pages for the same 612 reads, and take 12%
 * longer.
 */
#define STORE_SCAN_CACHE_KIB 256
/* Closes s; NULL is allowed. */
void store_close(struct store *s);

/*
 * The name of s's own file that name in directory dir is (the database,
 * its -wal, -shm or .lock file; name itself, not a file a link there points
 * to), or NULL: an output must never be renamed over one.
 */
const char *store_file_at(const struct store *s, int dir, const char *name);

/*
 * Takes the run lock (an flock on "<path>.lock", created 0600) without
 * waiting: one process at a time creates, rotates or deletes.  Returns 0,
 * 1 when another process holds it, or -1 with *cause.  store_close releases it.
 * On a store opened read-only it creates nothing: it locks an existing lock
 * file opened read-only, and returns 0 holding nothing when there is none
 * (then no process holds the lock either).
 */
int store_lock(struct store *s, char **cause);

/*
 * As store_lock, waiting up to wait_ms (< 0: for as long as it takes) for
 * the holder to finish.  A lock held here names its holder in the lock
 * file (pid, store_lock_label, actor, since when), and a refusal says it.
 */
int store_lock_wait(struct store *s, int64_t wait_ms, char **cause);

/*
 * Lets go of the run lock, if s holds it, and of its label: a verb that
 * needs the lock for one step (settling what a killed create left) does
 * not keep a run that starts after that step from starting.
 */
void store_unlock(struct store *s);

/*
 * Whether another process holds the run lock: 1 yes, 0 no (none does, or s
 * does), or -1 with *cause when the lock cannot be looked at.  It is taken
 * only for the look, unlabelled, from the lock file opened read-only (none
 * is created), and let go at once: a run that tries for it in that moment
 * waits the moment out (store_lock_wait's grace for a holder the lock file
 * names no live process for, as when a killed holder's label is left)
 * rather than being refused.
 */
int store_lock_held(struct store *s, char **cause);

/* What this process is, for the lock file: the verb ("rotate"); static storage. */
void store_lock_label(const char *label);

/* Replaces the actor recorded with events (tests; default user@host). */
void store_set_actor(struct store *s, const char *actor);

/*
 * BEGIN IMMEDIATE; returns 0 or -1 with *cause.  Inside an open transaction,
 * a nested one: a savepoint, which store_commit releases into the outer one
 * and store_rollback undoes alone; only the outermost commit writes.
 */
int store_begin(struct store *s, char **cause);
/*
 * As store_begin, for a change no action outside the store depends on (a
 * rotation's activation): its commit is written but not synced to the disk.
 * The next synced commit of any of the store's connections makes it durable
 * (they share one log), as does store_sync; a power cut before then loses
 * it.  Inside an open transaction, the outer one's commit decides.
 */
int store_begin_unsynced(struct store *s, char **cause);
/*
 * Syncs to the disk the commits store_begin_unsynced left, when there are
 * any, made by this connection or another sharing its gate.  Returns 0, or
 * -1 with *cause.
 */
int store_sync(struct store *s, char **cause);
/*
 * COMMIT, synced to the disk before it returns unless store_begin_unsynced
 * began the transaction.  Returns 0, or -1 with *cause: the transaction is
 * rolled back then.  On a connection store_open_another opened, the sync is
 * made after the other connections may write again, so that they do not
 * wait on it; should it fail, the change is made, and the cause says that it
 * may not survive a power cut.
 */
int store_commit(struct store *s, char **cause);
/* ROLLBACK of the innermost open transaction, when one is open. */
void store_rollback(struct store *s);
/*
 * Ends the open transaction by rc, for one exit path: commits when rc is 0
 * (returning 0, or -1 when the commit fails), else rolls back and returns rc.
 */
int store_end(struct store *s, int rc, char **cause);

/*
 * Opens a read transaction: every read until store_read_end sees the store
 * as the first of them found it, whatever other connections commit
 * meanwhile (a listing read twice, to measure and then to print).  Not
 * inside a write transaction.  Returns 0, or -1 with *cause.
 */
int store_read_begin(struct store *s, char **cause);
/* Ends the read transaction store_read_begin opened. */
void store_read_end(struct store *s);

/*
 * The whole database as the bytes of one file (sqlite3_serialize), as one
 * read transaction sees it, whatever other connections commit meanwhile:
 * pages committed to the -wal included, its header set for a rollback
 * journal, so the copy is whole with no -wal or -shm beside it.  Not inside
 * a transaction.  Returns 0 with *image (free with store_image_free) and
 * *size, or -1 with *cause.
 */
int store_image(struct store *s, unsigned char **image, size_t *size, char **cause);
void store_image_free(unsigned char *image);

/*
 * Writes the whole database into the file at path, as store_image would
 * give it (one read transaction's view, the -wal's pages included, its
 * header set for a rollback journal), page by page through SQLite's backup:
 * memory does not grow with the store.  path is an empty file the caller
 * made and holds open as fd; nothing else may use it meanwhile; messages
 * call it name.  Not inside a transaction.  Returns 0 with *size the file's bytes, or -1 with
 * *cause (the file then holds whatever was written).
 */
int store_copy_to(struct store *s, const char *path, const char *name, int fd, size_t *size,
		  char **cause);

/*
 * A store in memory holding image (store_image's; taken over, and freed
 * with it or on failure), migrated to this version's schema, its events
 * recorded as like's actor, named name in messages: a copy to change
 * before it goes anywhere (restore).  Returns 0 and *out, or -1 with *cause.
 */
int store_open_image(const struct store *like, const char *name, unsigned char *image, size_t size,
		     struct store **out, char **cause);

/*
 * As store_open_image, for a copy in the file at path (store_copy_to's,
 * which nothing else uses): changed in place, its rollback journal beside
 * it while a transaction is open, so memory does not grow with it.
 */
int store_open_file(const struct store *like, const char *name, const char *path,
		    struct store **out, char **cause);

/* Whether store_replace can copy from into s: 0, or -1 with *cause (their page sizes differ). */
int store_replace_check(struct store *s, struct store *from, char **cause);

/*
 * Replaces s's whole content with from's (sqlite3_backup), in one write
 * transaction that other connections see as any commit: no file is
 * replaced, so the file keeps its owner, mode and inode, and no -wal of
 * the old content meets the new.  Holding that transaction, before any
 * page is copied, it calls fn(arg): what fn reads of s through another
 * connection is the content to be replaced, which no other writer can
 * change meanwhile, and what fn writes to from (through from) is copied
 * too.  s is writable, holds the run lock and is in no transaction; from is
 * at this version's schema.  Returns 0; fn's nonzero result, or -1 with
 * *cause, with s as it was.
 */
int store_replace(struct store *s, struct store *from, int (*fn)(void *arg, char **cause),
		  void *arg, char **cause);

/* What store_mark says of the store's content. */
struct store_mark {
	int64_t own;    /* rows this connection has changed (sqlite3_total_changes64) */
	int64_t others; /* PRAGMA data_version: moves when another connection commits */
};

/*
 * Marks the content as this connection sees it now: two equal marks mean
 * that no connection wrote between them, so every read gives what it gave
 * at the first.  Returns 0 with *m, or -1 with *cause.
 */
int store_mark(struct store *s, struct store_mark *m, char **cause);

/*
 * Reads meta value key into *value (allocated; caller frees).  Returns 0,
 * 1 when absent, or -1 with *cause.
 */
int store_meta_get(struct store *s, const char *key, char **value, char **cause);
/* Sets meta key to value inside the caller's transaction; returns 0 or -1. */
int store_meta_set(struct store *s, const char *key, const char *value, char **cause);

/*
 * Pins the sealing public key's fingerprint at init, with its event, in one
 * transaction.  Refuses when a different key is already pinned.  Returns 0
 * (also when fpr was already pinned), or -1 with *cause.
 */
int store_pin_key(struct store *s, const char *fpr, int64_t now, char **cause);

/*
 * Checks that fpr is the pinned key.  Returns 0, or -1 with *cause naming
 * both fingerprints (or saying the store was never initialised).
 */
int store_check_key(struct store *s, const char *fpr, char **cause);

/*
 * For store/ only: a prepared statement of sql, or NULL with *cause.  It is
 * s's own, kept prepared between calls: give it back with store_done, never
 * sqlite3_finalize.
 */
struct sqlite3_stmt *store_prepare(struct store *s, const char *sql, char **cause);
/* For store/ only: gives back st from store_prepare, reset and unbound; NULL: nothing. */
void store_done(struct store *s, struct sqlite3_stmt *st);
/* For store/ only: returns an allocated copy of column i's text, or NULL for SQL NULL. */
char *store_column_dup(struct sqlite3_stmt *st, int i);
/* For store/ only, in an open transaction: the id of workspace name (made if new), or -1. */
int64_t store_workspace_id(struct store *s, const char *name, char **cause);
/* For store/ only, likewise: the id of slot in workspace ws (made if new), 0 for NULL, or -1. */
int64_t store_slot_id(struct store *s, int64_t ws, const char *slot, char **cause);

/*
 * Sets *cause from the connection's last error: "PATH: WHAT: what happened;
 * the fix", as store_describe says it, or that the store was opened
 * read-only and why when a write was refused for it.
 */
void store_error(struct store *s, const char *what, char **cause);

/*
 * The message for SQLite result code code (extended codes too), with the
 * operating system's errno sys_errno (0 when none) and SQLite's own text
 * sqlmsg, of an operation what on the store at path: disk full, read-only,
 * permission denied, not a database, damaged, locked, I/O error and cannot
 * open each say what happened and what to do; which, what to check when the
 * path is no store (NULL: the path given with --db).  Returns an allocated
 * string; the caller frees it.
 */
char *store_describe(const char *path, const char *what, int code, int sys_errno,
		     const char *sqlmsg, const char *which);

/*
 * Runs PRAGMA integrity_check; returns 0 when it answers "ok", else -1 with
 * the first problem in *cause.
 */
int store_integrity_check(struct store *s, char **cause);

/*
 * Whether the pinned key is the one the history last recorded (its last
 * store.init's key_fingerprint or store.rekey's new): 0 when it is (or the
 * history records none), 1 with *why when the pin was changed outside
 * tokenwarden, -1 with *cause on a database error.
 */
int store_pin_recorded(struct store *s, char **why, char **cause);

/* As store_integrity_check, with PRAGMA quick_check: every page, but not each index against its
 * table. */
int store_quick_check(struct store *s, char **cause);

#endif
