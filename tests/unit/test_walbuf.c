/*
 * Unit tests for store/walbuf, the VFS that writes each commit to the log
 * at once.  Under it sits a VFS of the test's own, "counted": the unix VFS
 * with the log's writes counted, failed on demand as on a full disk, and
 * the same "random" bytes every time.  SQLite's salts then repeat, so the
 * same work on two databases, one through walbuf and one straight through
 * counted, must leave the same bytes in their files at every step.
 *
 * TW_SEED picks the random work (printed, to repeat a failure).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/xalloc.h"
#include "store/walbuf.h"
#include "vfs_wrap.h"

#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- counted: the unix VFS, its logs' writes counted and failed on demand ------------ */

static sqlite3_io_methods counted_methods;
static long log_writes; /* writes to any log that reached the unix VFS */
static long full_from;  /* the log write from which every one fails, as on a full disk; 0 none */
static long log_syncs;  /* syncs of any log that reached the unix VFS */

static int
c_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	log_writes++;
	if (full_from > 0 && log_writes >= full_from)
		return SQLITE_FULL;
	return wrap_write(f, buf, n, off);
}

static int
c_sync(sqlite3_file *f, int flags)
{
	log_syncs++;
	return wrap_sync(f, flags);
}

/* A log is wrapped, to count its writes; any other file is the unix VFS's own. */
static int
c_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags, int *out)
{
	struct wrap_file *c = (struct wrap_file *)f;
	int rc;

	(void)vfs;
	if ((flags & SQLITE_OPEN_WAL) == 0)
		return wrap_unix->xOpen(wrap_unix, name, f, flags, out);
	c->real = (sqlite3_file *)(c + 1);
	rc = wrap_unix->xOpen(wrap_unix, name, c->real, flags, out);
	f->pMethods = c->real->pMethods != NULL ? &counted_methods : NULL;
	return rc;
}

/* The same bytes at every call: SQLite's generator, reseeded, repeats itself. */
static int
c_random(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	memset(out, 0x5a, (size_t)n);
	return n;
}

/* Makes counted the default VFS, then registers walbuf over it. */
static int
counted_setup(void **state)
{
	(void)state;
	counted_methods = wrap_methods();
	counted_methods.xWrite = c_write;
	counted_methods.xSync = c_sync;
	if (wrap_vfs("counted", sizeof(struct wrap_file), c_open, c_random) < 0)
		return -1;
	return walbuf_vfs() != NULL ? 0 : -1;
}

/* --- helpers --------------------------------------------------------------------------- */

struct dir {
	char path[PATH_MAX];
	char log[PATH_MAX]; /* open_log's file name: the VFS keeps it until the close */
};

static int
dir_setup(void **state)
{
	struct dir *d = xcalloc(1, sizeof *d);

	snprintf(d->path, sizeof d->path, "%s/tw-walbuf.XXXXXX",
		 getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(d->path) == NULL) {
		free(d);
		return -1;
	}
	log_writes = 0;
	full_from = 0;
	*state = d;
	return 0;
}

static int
dir_teardown(void **state)
{
	struct dir *d = *state;
	char *cmd = xasprintf("rm -rf '%s'", d->path);
	int rc = system(cmd);

	free(cmd);
	free(d);
	return rc == 0 ? 0 : -1;
}

/* Opens dir/name through vfs (NULL the default, counted), as the store's writer is set up. */
static sqlite3 *
open_db(const struct dir *d, const char *name, const char *vfs)
{
	char *path = xasprintf("%s/%s", d->path, name);
	sqlite3 *db = NULL;

	assert_int_equal(
	    sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs), SQLITE_OK);
	free(path);
	assert_int_equal(sqlite3_exec(db,
				      "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
				      "PRAGMA secure_delete = ON;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	return db;
}

static void
exec_ok(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
}

static long long
query_ll(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	long long v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static const char schema[] = "CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, n INTEGER, "
			     "v BLOB); CREATE INDEX t_n ON t (n);";

/* A row digest of the table as db sees it: count, sum of n, total length. */
static void
view(sqlite3 *db, long long out[3])
{
	out[0] = query_ll(db, "SELECT count(*) FROM t");
	out[1] = query_ll(db, "SELECT coalesce(sum(n), 0) FROM t");
	out[2] = query_ll(db, "SELECT coalesce(sum(length(v)), 0) FROM t");
}

/* Inserts row k with a blob of len bytes; SQLite's result code. */
static int
insert(sqlite3 *db, long k, size_t len)
{
	sqlite3_stmt *st = NULL;
	unsigned char *v = xmalloc(len + 1);
	int rc;

	for (size_t i = 0; i < len; i++)
		v[i] = (unsigned char)(k * 31 + (long)i);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "INSERT INTO t (k, n, v) VALUES (?, ?, ?)", -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_text(st, 1, xasprintf("key-%ld", k), -1, free);
	sqlite3_bind_int64(st, 2, k);
	sqlite3_bind_blob(st, 3, v, (int)len, free);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Whether files a and b in d hold the same bytes (both missing counts as the same). */
static int
same_file(const struct dir *d, const char *a, const char *b)
{
	char *pa = xasprintf("%s/%s", d->path, a), *pb = xasprintf("%s/%s", d->path, b);
	FILE *fa = fopen(pa, "rb"), *fb = fopen(pb, "rb");
	int same = fa == NULL && fb == NULL, ca = 0, cb = 0;

	if (fa != NULL && fb != NULL) {
		do {
			ca = getc(fa);
			cb = getc(fb);
		} while (ca == cb && ca != EOF);
		same = ca == cb;
	}
	if (!same)
		print_error("%s and %s differ\n", pa, pb);
	if (fa != NULL)
		fclose(fa);
	if (fb != NULL)
		fclose(fb);
	free(pa);
	free(pb);
	return same;
}

/* The size of file name in d, or -1 when it does not exist. */
static long long
file_size(const struct dir *d, const char *name)
{
	char *path = xasprintf("%s/%s", d->path, name);
	struct stat st;
	long long size = stat(path, &st) == 0 ? (long long)st.st_size : -1;

	free(path);
	return size;
}

/*
 * Opens dir/direct.db-wal through walbuf as SQLite opens a log, for a test
 * to write as it likes.  The unix VFS takes a log's mode from its
 * database, so an empty dir/direct.db is made first.
 */
static sqlite3_file *
open_log(struct dir *d)
{
	sqlite3_vfs *vfs = sqlite3_vfs_find(walbuf_vfs());
	char *db = xasprintf("%s/direct.db", d->path);
	sqlite3_file *f = xcalloc(1, (size_t)vfs->szOsFile);
	FILE *made = fopen(db, "w");
	int out = 0;

	assert_non_null(made);
	assert_int_equal(fclose(made), 0);
	snprintf(d->log, sizeof d->log, "%s-wal", db);
	assert_int_equal(vfs->xOpen(vfs, d->log, f,
				    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_WAL,
				    &out),
			 SQLITE_OK);
	free(db);
	return f;
}

static void
close_log(sqlite3_file *f)
{
	assert_int_equal(f->pMethods->xClose(f), SQLITE_OK);
	free(f);
}

#define PAGE 4096
#define FRAME (24 + PAGE)
/* Where frame i (from 0) of a log of PAGE-byte pages begins. */
#define AT(i) (32 + (sqlite3_int64)(i)*FRAME)

/* A frame header for page pgno; size, the database's after a commit, else 0. */
static void
frame_header(unsigned char h[24], unsigned pgno, unsigned size)
{
	memset(h, 0, 24);
	h[3] = (unsigned char)pgno;
	h[7] = (unsigned char)size;
}

/* --- tests ----------------------------------------------------------------------------- */

/*
 * A commit reaches the log in two writes, where SQLite alone makes two per
 * page: walbuf's whole point, measured.
 */
static void
test_one_write_per_commit(void **state)
{
	struct dir *d = *state;
	sqlite3 *db = open_db(d, "buffered.db", walbuf_vfs()),
		*straight = open_db(d, "straight.db", NULL);
	long before;

	exec_ok(db, schema);
	exec_ok(straight, schema);
	for (long k = 0; k < 50; k++) {
		before = log_writes;
		exec_ok(db,
			k % 2 == 0 ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
		assert_int_equal(insert(db, k, 600), SQLITE_OK);
		assert_int_equal(log_writes - before, 2);

		before = log_writes;
		assert_int_equal(insert(straight, k, 600), SQLITE_OK);
		/* Three pages at least: the table's, and one per index. */
		assert_true(log_writes - before >= 6);
	}
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	assert_int_equal(sqlite3_close(straight), SQLITE_OK);
}

/*
 * What walbuf holds and when it lets go, driven write by write: the log's
 * header and the frames before a commit are held; a commit frame's header
 * sends them, with it; the write after it goes straight; a sync, a read
 * and a close send what is held first.
 */
static void
test_held_until_commit(void **state)
{
	struct dir *d = *state;
	sqlite3_file *f = open_log(d);
	unsigned char head[32] = {0x37, 0x7f, 0x06, 0x82}, h[24], page[PAGE], back[PAGE];
	long base = log_writes;

	memset(page, 0xab, sizeof page);
	assert_int_equal(f->pMethods->xWrite(f, head, 32, 0), SQLITE_OK);
	frame_header(h, 1, 0);
	assert_int_equal(f->pMethods->xWrite(f, h, 24, AT(0)), SQLITE_OK);
	assert_int_equal(f->pMethods->xWrite(f, page, PAGE, AT(0) + 24), SQLITE_OK);
	assert_int_equal(log_writes, base);
	assert_int_equal(file_size(d, "direct.db-wal"), 0);

	frame_header(h, 2, 2);
	assert_int_equal(f->pMethods->xWrite(f, h, 24, AT(1)), SQLITE_OK);
	assert_int_equal(log_writes, base + 1);
	assert_int_equal(file_size(d, "direct.db-wal"), AT(1) + 24);
	assert_int_equal(f->pMethods->xWrite(f, page, PAGE, AT(1) + 24), SQLITE_OK);
	assert_int_equal(log_writes, base + 2);
	assert_int_equal(file_size(d, "direct.db-wal"), AT(2));

	/* The commit frame's header again, alone (its checksums rewritten): sent at once. */
	assert_int_equal(f->pMethods->xWrite(f, h, 24, AT(1)), SQLITE_OK);
	assert_int_equal(log_writes, base + 3);

	frame_header(h, 3, 0);
	for (int step = 0; step < 3; step++) {
		long before = log_writes;

		assert_int_equal(f->pMethods->xWrite(f, h, 24, AT(2)), SQLITE_OK);
		assert_int_equal(f->pMethods->xWrite(f, page, PAGE, AT(2) + 24), SQLITE_OK);
		/* The first write after the lone header above goes straight. */
		assert_int_equal(log_writes, before + (step == 0 ? 1 : 0));
		before = log_writes;
		if (step == 0)
			assert_int_equal(f->pMethods->xSync(f, SQLITE_SYNC_NORMAL), SQLITE_OK);
		else if (step == 1)
			assert_int_equal(f->pMethods->xRead(f, back, PAGE, AT(2) + 24), SQLITE_OK);
		else
			break;
		assert_int_equal(log_writes, before + 1);
		assert_int_equal(file_size(d, "direct.db-wal"), AT(3));
	}
	assert_memory_equal(back, page, PAGE);
	close_log(f);
	assert_int_equal(file_size(d, "direct.db-wal"), AT(3));
}

/*
 * A log told to defer (walbuf_defer_sync) skips the first sync after a
 * commit frame's header, the commit's own at FULL, and no other: not one
 * before any commit, nor the next (a checkpoint's), nor any once told to
 * stop.  Only a walbuf log can be told.
 */
static void
test_defer_skips_the_commit_sync(void **state)
{
	struct dir *d = *state;
	sqlite3_file *f = open_log(d), *db_file = NULL;
	unsigned char head[32] = {0x37, 0x7f, 0x06, 0x82}, h[24], page[PAGE];
	sqlite3 *db = open_db(d, "plain.db", "counted");
	long base = log_syncs;

	memset(page, 0xcd, sizeof page);
	assert_int_equal(walbuf_defer_sync(f, 1), 0);
	assert_int_equal(f->pMethods->xWrite(f, head, 32, 0), SQLITE_OK);
	assert_int_equal(f->pMethods->xSync(f, SQLITE_SYNC_NORMAL), SQLITE_OK); /* a header's */
	assert_int_equal(log_syncs, base + 1);
	for (unsigned i = 0; i < 3; i++) {
		frame_header(h, i + 1, i == 2 ? 3 : 0);
		assert_int_equal(f->pMethods->xWrite(f, h, 24, AT(i)), SQLITE_OK);
		assert_int_equal(f->pMethods->xWrite(f, page, PAGE, AT(i) + 24), SQLITE_OK);
	}
	assert_int_equal(f->pMethods->xSync(f, SQLITE_SYNC_NORMAL), SQLITE_OK); /* the commit's */
	assert_int_equal(log_syncs, base + 1);
	assert_int_equal(file_size(d, "direct.db-wal"), AT(3)); /* written, all the same */
	assert_int_equal(f->pMethods->xSync(f, SQLITE_SYNC_NORMAL), SQLITE_OK); /* a checkpoint's */
	assert_int_equal(log_syncs, base + 2);

	assert_int_equal(walbuf_defer_sync(f, 0), 0);
	frame_header(h, 4, 4);
	assert_int_equal(f->pMethods->xWrite(f, h, 24, AT(3)), SQLITE_OK);
	assert_int_equal(f->pMethods->xWrite(f, page, PAGE, AT(3) + 24), SQLITE_OK);
	assert_int_equal(f->pMethods->xSync(f, SQLITE_SYNC_NORMAL), SQLITE_OK);
	assert_int_equal(log_syncs, base + 3);
	close_log(f);

	assert_int_equal(walbuf_defer_sync(NULL, 1), -1);
	exec_ok(db, "CREATE TABLE t (x)");
	assert_int_equal(sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &db_file),
			 SQLITE_OK);
	/* A database's file, and not through walbuf. */
	assert_int_equal(walbuf_defer_sync(db_file, 1), -1);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/*
 * A write of a shape SQLite does not make today (a frame whole, a piece
 * of a page) is not held: what is held goes first, then it, at once.
 */
static void
test_other_shapes_go_straight(void **state)
{
	struct dir *d = *state;
	sqlite3_file *f = open_log(d);
	unsigned char h[24], frame[FRAME];
	long base = log_writes;

	frame_header(h, 1, 0);
	assert_int_equal(f->pMethods->xWrite(f, h, 24, AT(0)), SQLITE_OK);
	assert_int_equal(log_writes, base);
	memset(frame, 0x5c, sizeof frame);
	frame_header(frame, 1, 1);
	assert_int_equal(f->pMethods->xWrite(f, frame, FRAME, AT(0) + 24), SQLITE_OK);
	assert_int_equal(log_writes, base + 2);
	assert_int_equal(file_size(d, "direct.db-wal"), AT(0) + 24 + FRAME);
	assert_int_equal(f->pMethods->xWrite(f, frame, 100, AT(0) + 24 + FRAME), SQLITE_OK);
	assert_int_equal(log_writes, base + 3);
	close_log(f);
}

/*
 * The same random work, through walbuf and straight, leaves the same bytes
 * in the database after every transaction and in its log after every
 * commit (the frames a rollback spilled to the log, past its last commit
 * and never read, reach the file at walbuf's next write); and what a second
 * connection reads after each commit is what the writer wrote.  The work
 * mixes small and large rows (past walbuf's buffer and the unix VFS's
 * largest write), commits and rollbacks, synced and unsynced commits,
 * checkpoints of every kind, and a page cache small enough to spill
 * pages to the log mid-transaction and write them again.
 */
static void
test_same_bytes_as_sqlite(void **state)
{
	struct dir *d = *state;
	const char *seed_env = getenv("TW_SEED");
	unsigned seed =
	    seed_env != NULL ? (unsigned)strtoul(seed_env, NULL, 10) : (unsigned)getpid();
	sqlite3 *db[2], *reader[2];
	long next = 0;

	print_message("TW_SEED=%u\n", seed);
	srandom(seed);
	sqlite3_randomness(0, NULL);
	db[0] = open_db(d, "buffered.db", walbuf_vfs());
	sqlite3_randomness(0, NULL);
	db[1] = open_db(d, "straight.db", NULL);
	for (int i = 0; i < 2; i++) {
		sqlite3_randomness(0, NULL);
		exec_ok(db[i], "PRAGMA cache_size = 12; PRAGMA wal_autocheckpoint = 200;");
		exec_ok(db[i], schema);
	}
	reader[0] = open_db(d, "buffered.db", "unix");
	reader[1] = open_db(d, "straight.db", "unix");
	for (int step = 0; step < 150; step++) {
		int rows = 1 + (int)(random() % 12), end = (int)(random() % 8),
		    sync = (int)(random() % 2), ckpt = (int)(random() % 10);
		long ks[12];
		size_t lens[12];
		long long seen[2][3], read[2][3];

		for (int r = 0; r < rows; r++) {
			ks[r] = next++;
			lens[r] = random() % 20 == 0 ? 40000 + (size_t)(random() % 200000)
						     : (size_t)(random() % 3000);
		}
		for (int i = 0; i < 2; i++) {
			sqlite3_randomness(0, NULL);
			exec_ok(db[i],
				sync ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
			exec_ok(db[i], "BEGIN");
			for (int r = 0; r < rows; r++)
				assert_int_equal(insert(db[i], ks[r], lens[r]), SQLITE_OK);
			if (step % 3 == 1)
				exec_ok(db[i], "UPDATE t SET n = n + 1, v = zeroblob(length(v)) "
					       "WHERE id % 7 = 3");
			if (step % 5 == 2)
				exec_ok(db[i], "DELETE FROM t WHERE id % 11 = 5");
			exec_ok(db[i], end == 0 ? "ROLLBACK" : "COMMIT");
			if (ckpt == 0)
				exec_ok(db[i], "PRAGMA wal_checkpoint(PASSIVE)");
			else if (ckpt == 1)
				exec_ok(db[i], "PRAGMA wal_checkpoint(RESTART)");
			else if (ckpt == 2)
				exec_ok(db[i], "PRAGMA wal_checkpoint(TRUNCATE)");
			view(db[i], seen[i]);
			view(reader[i], read[i]);
			assert_memory_equal(seen[i], read[i], sizeof seen[i]);
		}
		assert_memory_equal(seen[0], seen[1], sizeof seen[0]);
		assert_true(same_file(d, "buffered.db", "straight.db"));
		/* A rollback's spilled frames wait for walbuf's next write: past any commit. */
		if (end != 0)
			assert_true(same_file(d, "buffered.db-wal", "straight.db-wal"));
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(sqlite3_close(reader[i]), SQLITE_OK);
		sqlite3_randomness(0, NULL);
		assert_int_equal(sqlite3_close(db[i]), SQLITE_OK);
	}
	assert_true(same_file(d, "buffered.db", "straight.db"));
	assert_true(same_file(d, "buffered.db-wal", "straight.db-wal"));
}

/*
 * A disk that fills at any one of the log's writes: the commit that meets
 * it fails with SQLITE_FULL, every earlier commit stays, the failed one is
 * not seen, and once there is room again the writer goes on, the database
 * whole.
 */
static void
test_full_disk_at_every_write(void **state)
{
	struct dir *d = *state;
	long total;

	/* A clean run says how many log writes there are to fail. */
	for (long from = 0;; from++) {
		char *name = xasprintf("full-%ld.db", from);
		sqlite3 *db = open_db(d, name, walbuf_vfs()), *reader;
		long committed = 0, k = 0;
		int failed = 0;

		exec_ok(db, schema);
		log_writes = 0;
		full_from = from;
		for (; k < 24; k++) {
			int rc = insert(db, k, k % 8 == 7 ? 90000 : 700);

			if (rc != SQLITE_OK) {
				assert_int_equal(rc & 0xff, SQLITE_FULL);
				failed = 1;
				break;
			}
			committed++;
		}
		total = log_writes;
		full_from = 0;
		reader = open_db(d, name, "unix");
		assert_int_equal(query_ll(reader, "SELECT count(*) FROM t"), committed);
		assert_int_equal(query_ll(db, "SELECT count(*) FROM t"), committed);
		/* Room again: the same writer goes on. */
		for (; k < 24; k++)
			assert_int_equal(insert(db, k, 700), SQLITE_OK);
		assert_int_equal(query_ll(reader, "SELECT count(*) FROM t"), 24);
		assert_int_equal(sqlite3_close(reader), SQLITE_OK);
		assert_int_equal(sqlite3_close(db), SQLITE_OK);
		db = open_db(d, name, NULL);
		assert_int_equal(query_ll(db, "SELECT count(*) FROM t"), 24);
		exec_ok(db, "PRAGMA integrity_check");
		assert_int_equal(query_ll(db, "SELECT count(*) FROM pragma_integrity_check "
					      "WHERE integrity_check <> 'ok'"),
				 0);
		assert_int_equal(sqlite3_close(db), SQLITE_OK);
		free(name);
		if (from == 0)
			assert_true(total >= 24 && !failed);
		else if (!failed)
			break; /* from is past the last write */
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_held_until_commit, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(test_other_shapes_go_straight, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(test_defer_skips_the_commit_sync, dir_setup,
					    dir_teardown),
	    cmocka_unit_test_setup_teardown(test_one_write_per_commit, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(test_same_bytes_as_sqlite, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(test_full_disk_at_every_write, dir_setup, dir_teardown),
	};

	return cmocka_run_group_tests(tests, counted_setup, NULL);
}
