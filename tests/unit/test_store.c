/* Unit tests for store/store: creation, pragmas, migrations and refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/clock.h"
#include "core/jsonx.h"
#include "store_fixture.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

static const char *
query_text(sqlite3 *db, const char *sql, char *buf, size_t len)
{
	sqlite3_stmt *st = NULL;

	buf[0] = '\0';
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return buf;
}

/* dir's entries and each one's size and mode, sorted, to tell that nothing changed. */
static char *
listing(const char *dir)
{
	struct dirent **names = NULL;
	char *out = xstrdup(""), *path, *next;
	struct stat st;
	int n = scandir(dir, &names, NULL, alphasort);

	for (int i = 0; i < n; i++) {
		path = xasprintf("%s/%s", dir, names[i]->d_name);
		if (lstat(path, &st) == 0) {
			next = xasprintf("%s%s %o %lld\n", out, names[i]->d_name,
					 (unsigned)st.st_mode, (long long)st.st_size);
			free(out);
			out = next;
		}
		free(path);
		free(names[i]);
	}
	free(names);
	return out;
}

/* The bytes of path, to tell that nothing changed; *len gets their number. */
static char *
contents(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = xmalloc(1 << 20);

	assert_non_null(f);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

/* Remembers dir and path as they are; same_as_before fails when either changed. */
struct before {
	char *listing;
	char *bytes;
	size_t len;
};

static void
remember(struct before *b, const char *dir, const char *path)
{
	b->listing = listing(dir);
	b->bytes = contents(path, &b->len);
}

static void
same_as_before(struct before *b, const char *dir, const char *path)
{
	char *now = listing(dir), *bytes;
	size_t len;

	assert_string_equal(now, b->listing);
	bytes = contents(path, &len);
	assert_int_equal(len, b->len);
	assert_memory_equal(bytes, b->bytes, len);
	free(now);
	free(bytes);
	free(b->listing);
	free(b->bytes);
}

static void
write_file(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

static void
test_created_private_with_pragmas(void **state)
{
	struct fixture *fx = *state;
	struct stat st;
	char buf[32];

	assert_int_equal(stat(fx->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(query_int(fx->s->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal((unsigned)query_int(fx->s->db, "PRAGMA application_id"),
			 STORE_APPLICATION_ID);
	assert_string_equal(query_text(fx->s->db, "PRAGMA journal_mode", buf, sizeof buf), "wal");
	assert_int_equal(query_int(fx->s->db, "PRAGMA synchronous"), 2); /* FULL */
	assert_int_equal(query_int(fx->s->db, "PRAGMA foreign_keys"), 1);
	/* A new store's pages are 2 KiB: a commit writes half the bytes of SQLite's 4. */
	assert_int_equal(query_int(fx->s->db, "PRAGMA page_size"), 2048);
	assert_int_equal(store_integrity_check(fx->s, NULL), 0);
}

static void
test_reopen_keeps_data(void **state)
{
	struct fixture *fx = *state;
	char *cause = NULL, *v = NULL;

	assert_int_equal(store_begin(fx->s, &cause), 0);
	assert_int_equal(store_meta_set(fx->s, "key_fingerprint", "tw1:abc", &cause), 0);
	assert_int_equal(store_commit(fx->s, &cause), 0);
	store_close(fx->s);
	assert_int_equal(store_open(fx->path, STORE_OPEN, &fx->s, &cause), 0);
	assert_int_equal(store_meta_get(fx->s, "key_fingerprint", &v, &cause), 0);
	assert_string_equal(v, "tw1:abc");
	free(v);
	assert_int_equal(store_meta_get(fx->s, "absent", &v, &cause), 1);
}

static void
test_missing_file_without_create(void **state)
{
	struct fixture *fx = *state;
	struct store *s = NULL;
	char *cause = NULL, *path = xasprintf("%s/none.db", fx->dir);

	assert_int_equal(store_open(path, STORE_OPEN, &s, &cause), -1);
	assert_non_null(strstr(cause, "run 'tokenwarden init' first"));
	assert_int_equal(access(path, F_OK), -1);
	free(cause);
	free(path);
}

static void
test_refuses_open_permissions(void **state)
{
	struct fixture *fx = *state;
	struct store *s = NULL;
	char *cause = NULL;

	assert_int_equal(chmod(fx->path, 0644), 0);
	assert_int_equal(store_open(fx->path, STORE_OPEN, &s, &cause), -1);
	assert_non_null(
	    strstr(cause, "permissions 0644 let others read the inventory; run: chmod 600"));
	free(cause);
	assert_int_equal(chmod(fx->path, 0600), 0);
}

static void
test_refuses_newer_schema(void **state)
{
	struct fixture *fx = *state;
	struct store *s = NULL;
	char *cause = NULL;

	assert_int_equal(sqlite3_exec(fx->s->db, "PRAGMA user_version = 99", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(store_open(fx->path, STORE_OPEN, &s, &cause), -1);
	assert_non_null(strstr(cause, "schema version 99 is newer"));
	free(cause);
	/* Refusing changed nothing. */
	assert_int_equal(query_int(fx->s->db, "PRAGMA user_version"), 99);
}

static void
test_refuses_foreign_database(void **state)
{
	static const char garbage[] =
	    "SQLite format 3\0this header goes on with nothing SQLite "
	    "can read, as an encrypted or damaged file would.............."
	    "..................................................";
	struct fixture *fx = *state;
	char *cause = NULL, *path = xasprintf("%s/other.db", fx->dir);
	struct store *s = NULL;
	struct before b;
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode = WAL; CREATE TABLE photos (id)",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(chmod(path, 0600), 0);
	remember(&b, fx->dir, path);
	for (int flags = STORE_OPEN; flags <= STORE_READ; flags++) {
		assert_int_equal(store_open(path, (enum store_open_flags)flags, &s, &cause), -1);
		assert_non_null(strstr(cause,
				       "a SQLite database of another program (application_id "
				       "0, user_version 0, 1 schema object), not a "
				       "tokenwarden store; check the path given with --db"));
		FREE_NULL(&cause);
	}
	/* Examined without a write: no -wal or -shm made, no byte changed. */
	same_as_before(&b, fx->dir, path);
	/* Not even SQLite. */
	write_file(path, "this is not a database, just text\n", 34);
	assert_int_equal(store_open(path, STORE_OPEN, &s, &cause), -1);
	assert_non_null(strstr(cause, "not a SQLite database (it does not begin with SQLite's "
				      "header), so not a tokenwarden store"));
	FREE_NULL(&cause);
	/* SQLite's header, then nothing SQLite can read: SQLite's own NOTADB, explained. */
	write_file(path, garbage, sizeof garbage);
	remember(&b, fx->dir, path);
	assert_int_equal(store_open(path, STORE_READ, &s, &cause), -1);
	assert_non_null(strstr(cause, path));
	assert_non_null(strstr(cause, "not a SQLite database, or a damaged or encrypted one"));
	assert_null(strstr(cause, "is it a SQLite database"));
	FREE_NULL(&cause);
	same_as_before(&b, fx->dir, path);
	free(path);
}

/* Only init makes a store: an empty file or database is refused by every other open. */
static void
test_empty_file_is_not_a_store(void **state)
{
	struct fixture *fx = *state;
	char *cause = NULL, *path = xasprintf("%s/empty.db", fx->dir), *want;
	struct store *s = NULL;
	struct before b;

	write_file(path, "", 0);
	want = xasprintf("%s: empty (0 bytes), not a tokenwarden store; create the store with: "
			 "tokenwarden init --db %s",
			 path, path);
	remember(&b, fx->dir, path);
	for (int flags = STORE_OPEN; flags <= STORE_READ; flags += STORE_READ) {
		assert_int_equal(store_open(path, (enum store_open_flags)flags, &s, &cause), -1);
		assert_string_equal(cause, want);
		FREE_NULL(&cause);
	}
	same_as_before(&b, fx->dir, path);
	/* init fills it. */
	assert_int_equal(store_open(path, STORE_CREATE, &s, &cause), 0);
	assert_int_equal(query_int(s->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	store_close(s);
	free(want);
	free(path);
}

/* An empty SQLite database (version 0) is refused, but init migrates it in one step. */
static void
test_migrates_from_version_0_only_at_init(void **state)
{
	struct fixture *fx = *state;
	char *cause = NULL, *v = NULL, *path = xasprintf("%s/v0.db", fx->dir);
	struct store *s = NULL;
	struct before b;
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (x); DROP TABLE t", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(query_int(db, "PRAGMA user_version"), 0);
	sqlite3_close(db);
	assert_int_equal(chmod(path, 0600), 0);
	remember(&b, fx->dir, path);
	assert_int_equal(store_open(path, STORE_OPEN, &s, &cause), -1);
	assert_non_null(strstr(cause, "an empty SQLite database (no schema, user_version 0), not "
				      "an initialised tokenwarden store; create the store with: "
				      "tokenwarden init --db"));
	FREE_NULL(&cause);
	assert_int_equal(store_open(path, STORE_READ, &s, &cause), -1);
	FREE_NULL(&cause);
	same_as_before(&b, fx->dir, path);
	assert_int_equal(store_open(path, STORE_CREATE, &s, &cause), 0);
	assert_int_equal(query_int(s->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(query_int(s->db, "SELECT count(*) FROM sqlite_schema WHERE name IN "
					  "('tokens', 'events', 'secrets', 'slots', 'runs')"),
			 5);
	/* A database that had a page already keeps its size, as a store made before 2 KiB. */
	assert_int_equal(query_int(s->db, "PRAGMA page_size"), 4096);
	store_close(s);
	assert_int_equal(store_open(path, STORE_OPEN, &s, &cause), 0);
	assert_int_equal(query_int(s->db, "PRAGMA page_size"), 4096);
	assert_int_equal(store_begin(s, &cause), 0);
	assert_int_equal(store_meta_set(s, "probe", "written at 4 KiB", &cause), 0);
	assert_int_equal(store_commit(s, &cause), 0);
	store_close(s);
	assert_int_equal(store_open(path, STORE_OPEN, &s, &cause), 0);
	assert_int_equal(store_meta_get(s, "probe", &v, &cause), 0);
	assert_string_equal(v, "written at 4 KiB");
	assert_int_equal(query_int(s->db, "PRAGMA page_size"), 4096);
	assert_int_equal(store_integrity_check(s, NULL), 0);
	store_close(s);
	free(v);
	free(path);
}

/* A version 1 database gains the tables and index of versions 2 to 5, its rows kept. */
static void
test_migrates_from_version_1(void **state)
{
	struct fixture *fx = *state;
	char *cause = NULL;
	struct store *s = NULL;
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_exec(fx->s->db,
				      "INSERT INTO meta (key, value) VALUES ('probe', 'kept')",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	store_close(fx->s);
	fx->s = NULL;
	/* Back to what version 1 wrote. */
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(
		db,
		FIXTURE_SCHEMA_12
		"DROP TABLE slot_state; DROP TABLE alerts; DROP TABLE clock_state; "
		"DROP INDEX events_by_row; DROP INDEX events_by_kind; DROP INDEX tokens_live; "
		"DROP INDEX secrets_rows; DROP INDEX tokens_by_name; DROP INDEX tokens_retiring; "
		"DROP INDEX tokens_dead_held; "
		"ALTER TABLE events DROP COLUMN row_digest; ALTER TABLE events DROP COLUMN "
		"token_row; CREATE INDEX tokens_by_state ON tokens(state, expires_at); "
		"PRAGMA user_version = 1",
		NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(fx->path, STORE_OPEN, &s, &cause), 0);
	assert_int_equal(query_int(s->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(
	    query_int(s->db, "SELECT count(*) FROM sqlite_schema WHERE name IN "
			     "('slot_state', 'alerts', 'clock_state', 'events_by_row', "
			     "'events_by_kind', 'tokens_live', 'secrets_rows', 'tokens_by_name', "
			     "'tokens_retiring', 'tokens_dead_held')"),
	    10);
	assert_int_equal(query_int(s->db, "SELECT count(*) FROM meta WHERE value = 'kept'"), 1);
	/* Version 1's index of every row by state is gone (schema 9). */
	assert_int_equal(
	    query_int(s->db, "SELECT count(*) FROM sqlite_schema WHERE name = 'tokens_by_state'"),
	    0);
	fx->s = s;
}

static void
test_pin_and_check_key(void **state)
{
	struct fixture *fx = *state;
	char *cause = NULL;

	assert_int_equal(store_check_key(fx->s, "tw1:aaa", &cause), -1);
	assert_non_null(strstr(cause, "run 'tokenwarden init'"));
	FREE_NULL(&cause);
	assert_int_equal(store_pin_key(fx->s, "tw1:aaa", 100, &cause), 0);
	assert_int_equal(store_check_key(fx->s, "tw1:aaa", &cause), 0);
	/* Init again with the same key is harmless; with another it is refused. */
	assert_int_equal(store_pin_key(fx->s, "tw1:aaa", 200, &cause), 0);
	assert_int_equal(store_pin_key(fx->s, "tw1:bbb", 300, &cause), -1);
	assert_non_null(strstr(cause, "already initialised with key tw1:aaa"));
	FREE_NULL(&cause);
	assert_int_equal(store_check_key(fx->s, "tw1:bbb", &cause), -1);
	assert_non_null(strstr(cause, "pinned to sealing key tw1:aaa"));
	FREE_NULL(&cause);
	/* One init event, whatever was retried. */
	assert_int_equal(
	    query_int(fx->s->db, "SELECT count(*) FROM events WHERE kind = 'store.init'"), 1);
}

static void
test_lock_is_exclusive(void **state)
{
	struct fixture *fx = *state;
	struct store *other = NULL;
	char *cause = NULL;

	int64_t t0;

	store_lock_label("test-verb");
	assert_int_equal(store_lock(fx->s, &cause), 0);
	assert_int_equal(store_lock(fx->s, &cause), 0); /* held already: fine */
	assert_int_equal(store_open(fx->path, STORE_OPEN, &other, &cause), 0);
	assert_int_equal(store_lock(other, &cause), 1);
	/* The refusal names the holder: its pid, what it does, since when. */
	assert_non_null(strstr(cause, "held by pid "));
	assert_non_null(strstr(cause, "(test-verb, "));
	assert_non_null(strstr(cause, ", since 20"));
	FREE_NULL(&cause);
	/* Waiting gives up at its limit, still busy. */
	t0 = clock_mono_ms();
	assert_int_equal(store_lock_wait(other, 300, &cause), 1);
	assert_true(clock_mono_ms() - t0 >= 300);
	FREE_NULL(&cause);
	store_close(fx->s);
	fx->s = NULL;
	assert_int_equal(store_lock(other, &cause), 0);
	fx->s = other;
}

/*
 * A look at the lock (store_lock_held) sees another holder but takes
 * nothing: the holder's refusal of a third still names it, and once it is
 * let go (store_unlock) anyone may take it, however often it was looked at.
 * Before any lock file exists, a look finds none and makes none.
 */
static void
test_lock_looked_at(void **state)
{
	struct fixture *fx = *state;
	struct store *other = NULL, *third = NULL;
	char *cause = NULL, *lock = xasprintf("%s.lock", fx->path);

	assert_int_equal(store_open(fx->path, STORE_OPEN, &other, &cause), 0);
	assert_int_equal(store_lock_held(other, &cause), 0);
	assert_int_equal(access(lock, F_OK), -1);
	store_lock_label("test-verb");
	assert_int_equal(store_lock(fx->s, &cause), 0);
	assert_int_equal(store_lock_held(fx->s, &cause), 0); /* held here */
	for (int i = 0; i < 3; i++)
		assert_int_equal(store_lock_held(other, &cause), 1);
	assert_int_equal(store_open(fx->path, STORE_OPEN, &third, &cause), 0);
	assert_int_equal(store_lock(third, &cause), 1);
	assert_non_null(strstr(cause, "(test-verb, "));
	FREE_NULL(&cause);
	store_unlock(fx->s);
	store_unlock(fx->s); /* not held: nothing to do */
	assert_int_equal(store_lock_held(other, &cause), 0);
	assert_int_equal(store_lock(third, &cause), 0);
	assert_int_equal(store_lock_held(other, &cause), 1);
	assert_int_equal(store_lock(fx->s, &cause), 1);
	FREE_NULL(&cause);
	store_close(third);
	assert_int_equal(store_lock(other, &cause), 0);
	store_close(other);
	free(lock);
}

/*
 * A child that takes the lock file at path as a look does (read-only, no
 * label) and holds it for hold_ms, or until killed; returns once it holds it.
 */
static pid_t
looker(const char *path, int hold_ms)
{
	int ready[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		if (fd < 0 || flock(fd, LOCK_EX) < 0 || write(ready[1], "x", 1) != 1)
			_exit(1);
		clock_sleep_ms(hold_ms);
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	return pid;
}

/*
 * A holder that was killed leaves its label in the lock file.  A look at
 * the lock (a `status`) that meets a run then is a holder the file names no
 * live process for: the run waits the look out, as for any unnamed holder,
 * rather than being refused and losing the night.  A holder that does not
 * let go within the grace is still refused, named as no one.
 */
static void
test_stale_label_waits_out_a_look(void **state)
{
	struct fixture *fx = *state;
	char *cause = NULL, *lock = xasprintf("%s.lock", fx->path), *label;
	int64_t t0;
	int status, fd;
	pid_t dead = fork(), look;

	assert_true(dead >= 0);
	if (dead == 0)
		_exit(0);
	assert_int_equal(waitpid(dead, &status, 0), dead);
	label = xasprintf("%ld\trotate\troot@host\t2026-12-02T02:00Z\n", (long)dead);
	fd = open(lock, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, label, strlen(label)), (ssize_t)strlen(label));
	close(fd);

	look = looker(lock, 150);
	assert_int_equal(store_lock(fx->s, &cause), 0);
	assert_int_equal(waitpid(look, &status, 0), look);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	store_unlock(fx->s);

	/* The file emptied by the unlock: the killed holder's label again. */
	fd = open(lock, O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, label, strlen(label)), (ssize_t)strlen(label));
	close(fd);
	look = looker(lock, 60 * 1000);
	t0 = clock_mono_ms();
	assert_int_equal(store_lock(fx->s, &cause), 1);
	assert_true(clock_mono_ms() - t0 >= 500);
	assert_non_null(strstr(cause, "held by another process; try again"));
	FREE_NULL(&cause);
	kill(look, SIGKILL);
	assert_int_equal(waitpid(look, &status, 0), look);
	free(label);
	free(lock);
}

/* A directory is not a file, and chmod 600 is no advice for one. */
static void
test_refuses_directory(void **state)
{
	struct fixture *fx = *state;
	struct store *s = NULL;
	char *cause = NULL;

	assert_int_equal(store_open(fx->dir, STORE_READ, &s, &cause), -1);
	assert_non_null(strstr(cause, "a directory, not a store file"));
	assert_null(strstr(cause, "chmod"));
	free(cause);
}

/* Makes fx's store a read-only copy: the file 0400 in a 0500 directory. */
static void
make_read_only(struct fixture *fx)
{
	store_close(fx->s);
	fx->s = NULL;
	assert_int_equal(chmod(fx->path, 0400), 0);
	assert_int_equal(chmod(fx->dir, 0500), 0);
}

static void
make_writable(struct fixture *fx)
{
	assert_int_equal(chmod(fx->dir, 0700), 0);
	assert_int_equal(chmod(fx->path, 0600), 0);
}

/* A read-only copy: refused for writing, read without a write or a new file. */
static void
test_read_only_copy(void **state)
{
	struct fixture *fx = *state;
	struct store *s = NULL;
	char *cause = NULL, *v = NULL;
	struct before b;

	assert_int_equal(store_begin(fx->s, &cause), 0);
	assert_int_equal(store_meta_set(fx->s, "probe", "kept", &cause), 0);
	assert_int_equal(store_commit(fx->s, &cause), 0);
	make_read_only(fx);
	remember(&b, fx->dir, fx->path);
	assert_int_equal(store_open(fx->path, STORE_OPEN, &s, &cause), -1);
	assert_non_null(strstr(cause, "cannot be written: its mode 0400 lets no one write it; "
				      "run: chmod 600"));
	FREE_NULL(&cause);
	assert_int_equal(store_open(fx->path, STORE_READ, &s, &cause), 0);
	assert_string_equal(s->readonly, "its mode 0400 lets no one write it");
	assert_int_equal(store_meta_get(s, "probe", &v, &cause), 0);
	assert_string_equal(v, "kept");
	FREE_NULL(&v);
	/* The run lock is tested, not made. */
	assert_int_equal(store_lock(s, &cause), 0);
	/* Writes are refused, saying why. */
	assert_int_equal(store_begin(s, &cause) == 0 && store_meta_set(s, "probe", "x", &cause) == 0
			     ? store_commit(s, &cause)
			     : -1,
			 -1);
	assert_non_null(strstr(cause, "the store is open read-only (its mode 0400 lets no one "
				      "write it), so nothing can be written"));
	FREE_NULL(&cause);
	store_rollback(s);
	store_close(s);
	same_as_before(&b, fx->dir, fx->path);
	/* The directory alone read-only: the same. */
	assert_int_equal(chmod(fx->path, 0600), 0);
	remember(&b, fx->dir, fx->path);
	assert_int_equal(store_open(fx->path, STORE_READ, &s, &cause), 0);
	assert_non_null(strstr(s->readonly, "lets no one write in it (mode 0500)"));
	store_close(s);
	same_as_before(&b, fx->dir, fx->path);
	make_writable(fx);
	assert_int_equal(store_open(fx->path, STORE_OPEN, &fx->s, &cause), 0);
	assert_null(fx->s->readonly);
}

/*
 * A connection that only reads keeps a page cache of STORE_SCAN_CACHE_KIB,
 * whether the store is writable or not; one that writes keeps SQLite's.
 */
static void
test_readers_keep_a_small_cache(void **state)
{
	struct fixture *fx = *state;
	int full = query_int(fx->s->db, "PRAGMA cache_size");
	char *cause = NULL;
	struct store *s = NULL;

	assert_int_not_equal(full, -STORE_SCAN_CACHE_KIB);
	assert_int_equal(store_open(fx->path, STORE_READ, &s, &cause), 0);
	assert_null(s->readonly);
	assert_int_equal(query_int(s->db, "PRAGMA cache_size"), -STORE_SCAN_CACHE_KIB);
	store_close(s);
	assert_int_equal(store_open(fx->path, STORE_OPEN, &s, &cause), 0);
	assert_int_equal(query_int(s->db, "PRAGMA cache_size"), full);
	store_close(s);
	make_read_only(fx);
	assert_int_equal(store_open(fx->path, STORE_READ, &s, &cause), 0);
	assert_non_null(s->readonly);
	assert_int_equal(query_int(s->db, "PRAGMA cache_size"), -STORE_SCAN_CACHE_KIB);
	store_close(s);
	make_writable(fx);
	assert_int_equal(store_open(fx->path, STORE_OPEN, &fx->s, &cause), 0);
}

/* A path with characters a URI escapes is read read-only all the same. */
static void
test_read_only_odd_path(void **state)
{
	struct fixture *fx = *state;
	char *cause = NULL, *v = NULL, *path = xasprintf("%s/a b%%c?d#e'f.db", fx->dir);
	struct store *s = NULL;

	assert_int_equal(store_open(path, STORE_CREATE, &s, &cause), 0);
	assert_int_equal(store_begin(s, &cause), 0);
	assert_int_equal(store_meta_set(s, "probe", "odd", &cause), 0);
	assert_int_equal(store_commit(s, &cause), 0);
	store_close(s);
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(store_open(path, STORE_READ, &s, &cause), 0);
	assert_non_null(s->readonly);
	assert_int_equal(store_meta_get(s, "probe", &v, &cause), 0);
	assert_string_equal(v, "odd");
	free(v);
	store_close(s);
	free(path);
}

/* A read-only store of an older schema cannot be migrated, so it is refused. */
static void
test_read_only_older_schema(void **state)
{
	struct fixture *fx = *state;
	struct store *s = NULL;
	char *cause = NULL, *expect;
	struct before b;

	assert_int_equal(
	    sqlite3_exec(fx->s->db,
			 "DROP TABLE alerts; DROP TABLE slot_state; DROP TABLE clock_state; "
			 "PRAGMA user_version = 1",
			 NULL, NULL, NULL),
	    SQLITE_OK);
	make_read_only(fx);
	remember(&b, fx->dir, fx->path);
	assert_int_equal(store_open(fx->path, STORE_READ, &s, &cause), -1);
	expect =
	    xasprintf("schema version 1 is older than this tokenwarden's (%d), and a read-only "
		      "store cannot be migrated",
		      STORE_SCHEMA_VERSION);
	assert_non_null(strstr(cause, expect));
	free(expect);
	FREE_NULL(&cause);
	same_as_before(&b, fx->dir, fx->path);
	make_writable(fx);
}

/*
 * STORE_INSPECT (doctor): refused as STORE_OPEN refuses, but read without a
 * write, a migration or a file made beside it, an older schema included.
 */
static void
test_inspect(void **state)
{
	struct fixture *fx = *state;
	struct store *s = NULL;
	char *cause = NULL, *v = NULL;
	struct before b;

	assert_int_equal(store_begin(fx->s, &cause), 0);
	assert_int_equal(store_meta_set(fx->s, "probe", "kept", &cause), 0);
	assert_int_equal(store_commit(fx->s, &cause), 0);
	assert_int_equal(
	    sqlite3_exec(fx->s->db,
			 "DROP TABLE alerts; DROP TABLE slot_state; DROP TABLE clock_state; "
			 "PRAGMA user_version = 1",
			 NULL, NULL, NULL),
	    SQLITE_OK);
	store_close(fx->s);
	fx->s = NULL;
	remember(&b, fx->dir, fx->path);
	assert_int_equal(store_open(fx->path, STORE_INSPECT, &s, &cause), 0);
	assert_non_null(s->readonly);
	assert_int_equal(store_meta_get(s, "probe", &v, &cause), 0);
	assert_string_equal(v, "kept");
	FREE_NULL(&v);
	store_close(s);
	same_as_before(&b, fx->dir, fx->path);
	/* A store that cannot be written is refused, as a run would refuse it. */
	make_read_only(fx);
	remember(&b, fx->dir, fx->path);
	assert_int_equal(store_open(fx->path, STORE_INSPECT, &s, &cause), -1);
	assert_non_null(strstr(cause, "cannot be written: its mode 0400 lets no one write it"));
	FREE_NULL(&cause);
	same_as_before(&b, fx->dir, fx->path);
	make_writable(fx);
	/* As is one others may read. */
	assert_int_equal(chmod(fx->path, 0644), 0);
	assert_int_equal(store_open(fx->path, STORE_INSPECT, &s, &cause), -1);
	assert_non_null(strstr(cause, "permissions 0644 let others read the inventory"));
	FREE_NULL(&cause);
	assert_int_equal(chmod(fx->path, 0600), 0);
}

/* A full disk says so, by SQLITE_FULL forced with max_page_count; nothing is kept. */
static void
test_disk_full(void **state)
{
	struct fixture *fx = *state;
	char *cause = NULL, *v = NULL, *sql, *big = xmalloc(256 * 1024);

	memset(big, 'x', 256 * 1024 - 1);
	big[256 * 1024 - 1] = '\0';
	/* Not a page more than it has. */
	sql = xasprintf("PRAGMA max_page_count = %d", query_int(fx->s->db, "PRAGMA page_count"));
	assert_int_equal(sqlite3_exec(fx->s->db, sql, NULL, NULL, NULL), SQLITE_OK);
	free(sql);
	assert_int_equal(store_begin(fx->s, &cause), 0);
	assert_int_equal(store_meta_set(fx->s, "big", big, &cause), -1);
	assert_int_equal(sqlite3_extended_errcode(fx->s->db), SQLITE_FULL);
	store_rollback(fx->s);
	assert_non_null(strstr(cause, fx->path));
	assert_non_null(strstr(cause, "writing meta: no space left: the file system holding it "
				      "is full (or the database reached its size limit); free "
				      "space there, then run the command again"));
	assert_null(strstr(cause, "SQLite database"));
	FREE_NULL(&cause);
	assert_int_equal(store_meta_get(fx->s, "big", &v, &cause), 1);
	free(big);
}

/* Another process holding the write lock: "locked", not a mystery. */
static void
test_locked_by_another(void **state)
{
	struct fixture *fx = *state;
	char *cause = NULL;
	sqlite3 *other = NULL;

	assert_int_equal(sqlite3_open(fx->path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_busy_timeout(fx->s->db, 0); /* not the store's 10 s */
	assert_int_equal(store_begin(fx->s, &cause), -1);
	assert_non_null(strstr(cause, "starting a write transaction: locked by another process"));
	assert_non_null(strstr(cause, "try again when it has finished"));
	FREE_NULL(&cause);
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(other);
}

/*
 * Whether another process could take SQLite's exclusive lock on path now:
 * not while a connection of this process holds its shared lock.
 */
static int
others_may_lock_exclusive(const char *path)
{
	struct flock fl;
	int status = 0, fd;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		fd = open(path, O_RDWR);
		memset(&fl, 0, sizeof fl);
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		fl.l_start = 0x40000000 + 2; /* SQLite's shared-lock bytes */
		fl.l_len = 510;
		_exit(fd >= 0 && fcntl(fd, F_SETLK, &fl) == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/*
 * Opening and closing another connection keeps this process's locks: the
 * file is never opened as a plain descriptor, whose close would drop them.
 */
static void
test_open_keeps_other_connections_locks(void **state)
{
	struct fixture *fx = *state;
	struct store *other = NULL;
	char *cause = NULL;

	/* With changes in tokenwarden.db-wal, then with none (the file read as immutable). */
	for (int round = 0; round < 2; round++) {
		if (round == 1)
			assert_int_equal(sqlite3_exec(fx->s->db, "PRAGMA wal_checkpoint(TRUNCATE)",
						      NULL, NULL, NULL),
					 SQLITE_OK);
		assert_true(query_int(fx->s->db, "SELECT count(*) FROM meta") >= 0);
		assert_false(others_may_lock_exclusive(fx->path));
		assert_int_equal(store_open_another(fx->s, &other, &cause), 0);
		store_close(other);
		assert_int_equal(store_open(fx->path, STORE_READ, &other, &cause), 0);
		store_close(other);
		assert_false(others_may_lock_exclusive(fx->path));
	}
}

/* A mark moves when this connection or another writes, and only then. */
static void
test_mark(void **state)
{
	struct fixture *fx = *state;
	struct store_mark a, b;
	struct store *other = NULL;
	char *cause = NULL;

	assert_int_equal(store_mark(fx->s, &a, &cause), 0);
	assert_true(query_int(fx->s->db, "SELECT count(*) FROM meta") >= 0);
	assert_int_equal(store_mark(fx->s, &b, &cause), 0);
	assert_true(a.own == b.own && a.others == b.others);
	assert_int_equal(store_meta_set(fx->s, "mark", "one", &cause), 0);
	assert_int_equal(store_mark(fx->s, &b, &cause), 0);
	assert_true(b.own != a.own);
	a = b;
	assert_int_equal(store_open_another(fx->s, &other, &cause), 0);
	assert_int_equal(store_meta_set(other, "mark", "two", &cause), 0);
	store_close(other);
	assert_int_equal(store_mark(fx->s, &b, &cause), 0);
	assert_true(b.own == a.own && b.others != a.others);
	assert_null(cause);
}

/* Each storage error has its own message, naming the file and the fix. */
static void
test_describe(void **state)
{
	static const struct {
		int code, sys;
		const char *want;
	} cases[] = {
	    {SQLITE_FULL, 0, "no space left: the file system holding it is full"},
	    {SQLITE_IOERR_WRITE, ENOSPC, "no space left: the file system holding it is full"},
	    {SQLITE_IOERR_SHMSIZE, ENOSPC, "no space left"},
	    {SQLITE_IOERR_WRITE, EDQUOT, "disk quota exceeded"},
	    {SQLITE_READONLY, 0,
	     "cannot be written: the file, its directory or its file system "
	     "is read-only; writing needs write access to it and its "
	     "directory"},
	    {SQLITE_READONLY, EROFS, "cannot be written: it is on a read-only file system"},
	    {SQLITE_IOERR_WRITE, EROFS, "it is on a read-only file system"},
	    {SQLITE_READONLY_DIRECTORY, 0, "may not create its journal in the directory /d"},
	    {SQLITE_READONLY_ROLLBACK, 0, "left /d/tw.db-journal, which must be rolled back"},
	    {SQLITE_READONLY_CANTINIT, 0, "cannot use its WAL index /d/tw.db-shm"},
	    {SQLITE_CANTOPEN, EACCES,
	     "permission denied (Permission denied): the user running "
	     "tokenwarden must be able to read and write it"},
	    {SQLITE_PERM, 0, "permission denied"},
	    {SQLITE_NOTADB, 0, "not a SQLite database, or a damaged or encrypted one"},
	    {SQLITE_CORRUPT, 0, "the database is damaged (m); restore it from a backup"},
	    {SQLITE_BUSY, 0, "locked by another process, still after 10 s (m); try again"},
	    {SQLITE_LOCKED, 0, "locked by another process"},
	    {SQLITE_IOERR_READ, EIO,
	     "input/output error (Input/output error): the disk or file "
	     "system failed; check the kernel log (dmesg)"},
	    {SQLITE_IOERR_WRITE, EFBIG, "the file size limit was reached"},
	    {SQLITE_CANTOPEN_ISDIR, 0, "a directory, not a store file"},
	    {SQLITE_CANTOPEN, EMFILE, "too many open files"},
	    {SQLITE_CANTOPEN, ENOENT, "cannot open it or a file beside it (No such file"},
	    {SQLITE_NOMEM, 0, "out of memory"},
	    {SQLITE_CONSTRAINT_UNIQUE, 0, "/d/tw.db: doing it: m"},
	};
	char *msg;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		msg =
		    store_describe("/d/tw.db", "doing it", cases[i].code, cases[i].sys, "m", NULL);
		if (strstr(msg, cases[i].want) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, msg, cases[i].want);
		assert_int_equal(strncmp(msg, "/d/tw.db: doing it: ", 20), 0);
		assert_null(strstr(msg, "is it a SQLite database"));
		free(msg);
	}
}

/*
 * A working copy beside the store (restore's), named by its copy, that runs
 * out of room says where it is written: that file system is the full one,
 * not the copy's.  Its size limit (max_page_count) stands for a full disk.
 */
static void
test_working_copy_full(void **state)
{
	struct fixture *fx = *state;
	struct store *work = NULL;
	char *cause = NULL, *file = xasprintf("%s/.tw.db.tw-work", fx->dir);

	int fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(store_open_file(fx->s, "bk.db", file, &work, &cause), 0);
	assert_int_equal(sqlite3_exec(work->db, "PRAGMA max_page_count = 1", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(work->db,
			 "CREATE TABLE big (b); INSERT INTO big VALUES (zeroblob(100000))", NULL,
			 NULL, NULL),
	    SQLITE_FULL);
	store_error(work, "recording an event", &cause);
	assert_non_null(strstr(cause, "bk.db: recording an event: no space left for its working "
				      "copy "));
	assert_non_null(strstr(cause, file));
	free(cause);
	store_close(work);
	free(file);
}

/*
 * A statement given back is handed out again for the same query, reset and
 * unbound; one still in use is not: a nested call running the same query gets
 * a statement of its own.  Past the kept number, queries still run.
 */
static void
test_statements_kept_per_query(void **state)
{
	struct fixture *fx = *state;
	const char *sql = "SELECT ?1 UNION ALL SELECT 2";
	char *cause = NULL;
	sqlite3_stmt *outer, *inner, *again;

	outer = store_prepare(fx->s, sql, &cause);
	assert_non_null(outer);
	sqlite3_bind_int(outer, 1, 7);
	assert_int_equal(sqlite3_step(outer), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(outer, 0), 7);
	inner = store_prepare(fx->s, sql, &cause); /* outer is mid-query */
	assert_non_null(inner);
	assert_ptr_not_equal(inner, outer);
	sqlite3_bind_int(inner, 1, 9);
	assert_int_equal(sqlite3_step(inner), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(inner, 0), 9);
	assert_int_equal(sqlite3_step(outer), SQLITE_ROW); /* outer goes on undisturbed */
	assert_int_equal(sqlite3_column_int(outer, 0), 2);
	store_done(fx->s, inner);
	store_done(fx->s, outer);
	again = store_prepare(fx->s, sql, &cause);
	assert_ptr_equal(again, outer);
	/* reset and unbound: it starts again, and ?1 is NULL */
	assert_int_equal(sqlite3_step(again), SQLITE_ROW);
	assert_int_equal(sqlite3_column_type(again, 0), SQLITE_NULL);
	store_done(fx->s, again);
	for (int i = 0; i < 200; i++) {
		char *q = xasprintf("SELECT %d", i);
		sqlite3_stmt *st = store_prepare(fx->s, q, &cause);

		assert_non_null(st);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(st, 0), i);
		store_done(fx->s, st);
		free(q);
	}
	/* A query at the address of another kept one is told from it by its text. */
	for (int i = 0; i < 2; i++) {
		char buf[32];
		sqlite3_stmt *st;

		snprintf(buf, sizeof buf, "SELECT %d", 1000 + i);
		st = store_prepare(fx->s, buf, &cause);
		assert_non_null(st);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(st, 0), 1000 + i);
		store_done(fx->s, st);
	}
	assert_null(store_prepare(fx->s, "SELECT FROM nothing", &cause));
	assert_non_null(strstr(cause, "preparing a query"));
	free(cause);
}

/* Reads meta key: its value, or "-" when absent. */
static char *
meta_or_dash(struct store *s, const char *key)
{
	char *value = NULL, *cause = NULL;
	int got = store_meta_get(s, key, &value, &cause);

	assert_true(got == 0 || got == 1);
	return got == 0 ? value : xstrdup("-");
}

static void
expect_meta(struct store *s, const char *key, const char *want)
{
	char *got = meta_or_dash(s, key);

	assert_string_equal(got, want);
	free(got);
}

/*
 * A transaction begun inside another is a savepoint: rolling it back undoes
 * its own changes only, committing it hands them to the outer one, and only
 * the outer commit or rollback decides what is written.
 */
static void
test_nested_transactions(void **state)
{
	struct fixture *fx = *state;
	char *cause = NULL;

	assert_int_equal(store_begin(fx->s, &cause), 0);
	assert_int_equal(store_meta_set(fx->s, "a", "1", &cause), 0);
	assert_int_equal(store_begin(fx->s, &cause), 0);
	assert_int_equal(store_meta_set(fx->s, "b", "1", &cause), 0);
	store_rollback(fx->s);
	assert_int_equal(store_begin(fx->s, &cause), 0);
	assert_int_equal(store_meta_set(fx->s, "c", "1", &cause), 0);
	assert_int_equal(store_end(fx->s, 0, &cause), 0);
	assert_int_equal(store_end(fx->s, 0, &cause), 0);
	expect_meta(fx->s, "a", "1");
	expect_meta(fx->s, "b", "-");
	expect_meta(fx->s, "c", "1");

	/* An inner commit is undone with its outer transaction. */
	assert_int_equal(store_begin(fx->s, &cause), 0);
	assert_int_equal(store_begin(fx->s, &cause), 0);
	assert_int_equal(store_meta_set(fx->s, "d", "1", &cause), 0);
	assert_int_equal(store_end(fx->s, 0, &cause), 0);
	assert_int_equal(store_end(fx->s, -1, &cause), -1);
	expect_meta(fx->s, "d", "-");

	/* Each level ended: a new transaction begins from the top. */
	assert_int_equal(fx->s->depth, 0);
	assert_int_equal(store_begin(fx->s, &cause), 0);
	assert_int_equal(store_meta_set(fx->s, "e", "1", &cause), 0);
	assert_int_equal(store_commit(fx->s, &cause), 0);
	expect_meta(fx->s, "e", "1");
	assert_null(cause);
}

struct bumper {
	struct store *s;
	int n, failures;
};

/* Adds 1 to meta's counter n times, each in a transaction of its own. */
static void *
bump(void *arg)
{
	struct bumper *b = arg;

	for (int i = 0; i < b->n; i++) {
		char *cause = NULL, *v = NULL, next[32];
		int rc = store_begin(b->s, &cause);

		if (rc == 0 && store_meta_get(b->s, "counter", &v, &cause) < 0)
			rc = -1;
		snprintf(next, sizeof next, "%ld", v != NULL ? strtol(v, NULL, 10) + 1 : 1);
		if (rc == 0)
			rc = store_meta_set(b->s, "counter", next, &cause);
		if (b->s->depth > 0)
			rc = store_end(b->s, rc, &cause);
		b->failures += rc != 0;
		free(v);
		free(cause);
	}
	return NULL;
}

/*
 * The connections of one store in one process take turns to write through
 * their gate, never through SQLite's lock: with SQLite's busy timeout at 0,
 * two threads writing at once never meet SQLITE_BUSY, and no increment is
 * lost.
 */
static void
test_connections_take_turns(void **state)
{
	struct fixture *fx = *state;
	struct bumper b[2] = {{fx->s, 400, 0}, {NULL, 400, 0}};
	pthread_t t[2];
	char *cause = NULL, *v = NULL;

	assert_int_equal(store_open_another(fx->s, &b[1].s, &cause), 0);
	for (int i = 0; i < 2; i++)
		sqlite3_busy_timeout(b[i].s->db, 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, bump, &b[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(b[0].failures + b[1].failures, 0);
	assert_int_equal(store_meta_get(fx->s, "counter", &v, &cause), 0);
	assert_string_equal(v, "800");
	free(v);
	store_close(b[1].s);
}

/* The tables SQLite builds for itself (OpenEphemeral) each time sql runs. */
static int
ephemeral_tables(sqlite3 *db, const char *sql)
{
	char *explain = xasprintf("EXPLAIN %s", sql);
	sqlite3_stmt *st = NULL;
	int n = 0;

	assert_int_equal(sqlite3_prepare_v2(db, explain, -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		n += strcmp((const char *)sqlite3_column_text(st, 1), "OpenEphemeral") == 0;
	sqlite3_finalize(st);
	free(explain);
	return n;
}

/*
 * A token row's write evaluates the partial indexes' conditions without a
 * table of their own: SQLite builds one, at each execution, for an IN list
 * of more than two constants, and the conditions of tokens_live and
 * tokens_one_in_flight were four of the six a change of state built (schema
 * 10); the table's two CHECKs on state the other two (schema 11).
 */
static void
test_index_conditions_build_no_table(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(ephemeral_tables(fx->s->db,
					  "UPDATE tokens SET state = 'verified', "
					  "updated_at = 1 WHERE id = 1 AND state = 'created'"),
			 0);
	assert_int_equal(ephemeral_tables(fx->s->db,
					  "INSERT INTO tokens (workspace_id, slot_id, name, state, "
					  "origin, requested_at, expires_at, updated_at) VALUES "
					  "(1, 1, 'x', 'pending', 'created', 1, 2, 1)"),
			 0);
	/* The rows the indexes hold are as before: every live state, every one in flight. */
	assert_int_equal(
	    query_int(fx->s->db, "SELECT count(*) FROM sqlite_schema WHERE name IN ('tokens_live', "
				 "'tokens_one_in_flight') AND sql LIKE '%IN (%'"),
	    0);
}

/*
 * A workspace or slot the store knows is found without a write: each intent
 * asks for both ids, and an upsert rewrote their rows (two pages of the log
 * a rotation).  An unknown one is made, once.
 */
static void
test_known_names_written_once(void **state)
{
	struct fixture *fx = *state;
	char *cause = NULL;
	int64_t ws, sl;
	int changes;

	ws = store_workspace_id(fx->s, "acme", &cause);
	sl = store_slot_id(fx->s, ws, "ci", &cause);
	assert_true(ws > 0 && sl > 0);
	assert_null(cause);
	changes = sqlite3_total_changes(fx->s->db);
	assert_int_equal(store_workspace_id(fx->s, "acme", &cause), ws);
	assert_int_equal(store_slot_id(fx->s, ws, "ci", &cause), sl);
	assert_int_equal(sqlite3_total_changes(fx->s->db), changes);
	/* A new slot of a known workspace, and the same name in another workspace. */
	assert_int_not_equal(store_slot_id(fx->s, ws, "deploy", &cause), sl);
	assert_int_equal(sqlite3_total_changes(fx->s->db), changes + 1);
	assert_int_not_equal(
	    store_slot_id(fx->s, store_workspace_id(fx->s, "beta", &cause), "ci", &cause), sl);
	assert_int_equal(sqlite3_total_changes(fx->s->db), changes + 3);
	assert_int_equal(store_slot_id(fx->s, ws, NULL, &cause), 0);
	assert_null(cause);
}

/* Whether sql, run on db, fails on a CHECK constraint. */
static int
check_refuses(sqlite3 *db, const char *sql)
{
	return (sqlite3_exec(db, sql, NULL, NULL, NULL) & 0xff) == SQLITE_CONSTRAINT &&
	       sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_CHECK;
}

/*
 * A version 10 store, its tokens table as schema 1 wrote it (the text below
 * is a store's, made by tokenwarden before schema 11), gains CHECKs without
 * IN lists that pass and refuse the same rows; the other connections of the
 * store read the new schema.  A table whose SQL is another's is left alone.
 */
static void
test_migrates_checks(void **state)
{
	static const char old_states[] =
	    "state IN (''pending'', ''created'', ''verified'', ''active'',    ''retiring'', "
	    "''deleted'', ''failed'', ''unknown'', ''expired'', ''revoked'')";
	static const char old_no_token[] = "state IN (''pending'', ''unknown'', ''failed'')";
	struct fixture *fx = *state;
	char *cause = NULL, *sql;
	struct store *s = NULL;
	sqlite3 *db = NULL;

	store_close(fx->s);
	fx->s = NULL;
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	sql = xasprintf(
	    "PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = "
	    "replace(replace(sql, '%s', '%s'), '%s', '%s') WHERE name = 'tokens'; "
	    "PRAGMA writable_schema = OFF; DROP INDEX tokens_dead_held; " FIXTURE_SCHEMA_12
	    "PRAGMA user_version = 10",
	    "state = ''pending'' OR state = ''created'' OR state = ''verified'' OR "
	    "state = ''active'' OR state = ''retiring'' OR state = ''deleted'' OR "
	    "state = ''failed'' OR state = ''unknown'' OR state = ''expired'' OR "
	    "state = ''revoked''",
	    old_states, "(state = ''pending'' OR state = ''unknown'' OR state = ''failed'')",
	    old_no_token);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	free(sql);
	sqlite3_close(db);
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'tokens' "
				       "AND sql LIKE '%state IN (''pending'', ''created''%' "
				       "AND sql LIKE '%OR state IN (''pending'', ''unknown''%'"),
			 1);

	/* Migrated while db, open, has read the old schema. */
	assert_int_equal(query_int(db, "SELECT count(*) FROM tokens"), 0);
	assert_int_equal(store_open(fx->path, STORE_OPEN, &s, &cause), 0);
	assert_int_equal(query_int(s->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(
	    query_int(s->db, "SELECT count(*) FROM sqlite_schema WHERE sql LIKE '%state IN (%'"),
	    0);
	fx->s = s;
	assert_int_equal(
	    sqlite3_exec(db,
			 "INSERT INTO workspaces (id, name) VALUES (1, 'acme'); "
			 "INSERT INTO slots (id, workspace_id, name) VALUES (1, 1, 'etl')",
			 NULL, NULL, NULL),
	    SQLITE_OK);
	/* Each state passes; another does not; a row without a token only pending, unknown, failed.
	 */
	for (int i = 0; i < 10; i++) {
		static const char *const states[] = {"pending",  "created", "verified", "active",
						     "retiring", "deleted", "failed",   "unknown",
						     "expired",  "revoked"};
		int no_token = i == 0 || i == 6 || i == 7;

		sql = xasprintf("INSERT INTO tokens (workspace_id, name, token, state, origin, "
				"requested_at, expires_at, updated_at) VALUES (1, 'n%d', 't%d', "
				"'%s', 'created', 1, 2, 1)",
				i, i, states[i]);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
		free(sql);
		sql = xasprintf(
		    "INSERT INTO tokens (workspace_id, name, state, origin, requested_at, "
		    "expires_at, updated_at) VALUES (1, 'm%d', '%s', 'created', 1, 2, 1)",
		    i, states[i]);
		if (no_token)
			assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
		else
			assert_true(check_refuses(db, sql));
		free(sql);
	}
	assert_true(check_refuses(db, "UPDATE tokens SET state = 'bogus' WHERE name = 'n0'"));
	assert_true(check_refuses(db, "UPDATE tokens SET state = 'Active' WHERE name = 'n0'"));
	assert_true(check_refuses(s->db, "UPDATE tokens SET origin = 'stolen' WHERE name = 'n0'"));
	sqlite3_close(db);
	assert_null(cause);

	/* A tokens table that is not schema 1's: left as it is, the store opens. */
	store_close(fx->s);
	fx->s = NULL;
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "DROP INDEX tokens_dead_held; " FIXTURE_SCHEMA_12
				      "PRAGMA user_version = 10",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(fx->path, STORE_OPEN, &fx->s, &cause), 0);
	assert_int_equal(query_int(fx->s->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_null(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_created_private_with_pragmas, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_readers_keep_a_small_cache, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_statements_kept_per_query, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_nested_transactions, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_connections_take_turns, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_reopen_keeps_data, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_missing_file_without_create, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_refuses_open_permissions, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_refuses_newer_schema, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_refuses_foreign_database, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_known_names_written_once, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_index_conditions_build_no_table, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_migrates_checks, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_migrates_from_version_1, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_migrates_from_version_0_only_at_init,
					    fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_empty_file_is_not_a_store, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_refuses_directory, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_read_only_copy, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_read_only_odd_path, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_read_only_older_schema, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_inspect, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_disk_full, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_locked_by_another, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_open_keeps_other_connections_locks, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test(test_describe),
	    cmocka_unit_test_setup_teardown(test_working_copy_full, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_mark, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_pin_and_check_key, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_lock_looked_at, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_stale_label_waits_out_a_look, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_lock_is_exclusive, fixture_setup,
					    fixture_teardown),
	};

	jsonx_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
