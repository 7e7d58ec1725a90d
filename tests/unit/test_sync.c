/*
 * Unit tests for when the store's commits reach the disk.  A VFS wrapped
 * around SQLite's own counts the log's (FILE-wal's) writes and syncs, and
 * keeps a copy of the log as each sync leaves it: a power cut is then a
 * process that dies, its log replaced by the last copy, as the disk would
 * have it.  What a reopened store holds after that is the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/tokens.h"
#include "store_fixture.h"
#include "vfs_wrap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* --- a VFS that watches the log ------------------------------------------------------ */

struct watched {
	struct wrap_file f;
	int log; /* this is FILE-wal */
	char path[PATH_MAX];
};

static sqlite3_io_methods watched_methods;
static pthread_mutex_t watch_mu = PTHREAD_MUTEX_INITIALIZER;
static int log_syncs;    /* syncs of the log */
static int log_unsynced; /* the log was written since its last sync */
static int fail_sync;    /* the next sync of the log fails */
static int db_writes;    /* writes to any other file: a database's */
static int early_copies; /* of them, made while the log held writes not yet synced */

/* Copies path to path.synced: what a power cut leaves of it.  Returns 0 or -1. */
static int
keep_synced(const char *path)
{
	char *to = xasprintf("%s.synced", path), buf[65536];
	int in = open(path, O_RDONLY | O_CLOEXEC), out = -1;
	ssize_t n = -1;

	if (in >= 0)
		out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	while (out >= 0) {
		n = read(in, buf, sizeof buf);
		if (n <= 0 || write(out, buf, (size_t)n) != n)
			break;
	}
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	free(to);
	return n == 0 ? 0 : -1;
}

static int
w_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	struct watched *w = (struct watched *)f;

	pthread_mutex_lock(&watch_mu);
	if (w->log) {
		log_unsynced = 1;
	} else {
		db_writes++;
		early_copies += log_unsynced;
	}
	pthread_mutex_unlock(&watch_mu);
	return wrap_write(f, buf, n, off);
}

static int
w_sync(sqlite3_file *f, int flags)
{
	struct watched *w = (struct watched *)f;
	int rc;

	if (!w->log)
		return wrap_sync(f, flags);
	/* Under the lock: no write slips between the sync and its copy. */
	pthread_mutex_lock(&watch_mu);
	if (fail_sync) {
		fail_sync = 0;
		pthread_mutex_unlock(&watch_mu);
		return SQLITE_IOERR_FSYNC;
	}
	rc = wrap_sync(f, flags);
	if (rc == SQLITE_OK && keep_synced(w->path) < 0)
		rc = SQLITE_IOERR_FSYNC;
	if (rc == SQLITE_OK) {
		log_syncs++;
		log_unsynced = 0;
	}
	pthread_mutex_unlock(&watch_mu);
	return rc;
}

static int
w_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags, int *out)
{
	struct watched *w = (struct watched *)f;
	int rc;

	(void)vfs;
	memset(w, 0, sizeof *w);
	w->f.real = (sqlite3_file *)(w + 1);
	w->log = (flags & SQLITE_OPEN_WAL) != 0;
	if (name != NULL)
		snprintf(w->path, sizeof w->path, "%s", name);
	rc = wrap_unix->xOpen(wrap_unix, name, w->f.real, flags, out);
	f->pMethods = rc == SQLITE_OK && w->f.real->pMethods != NULL ? &watched_methods : NULL;
	return rc;
}

/* Makes the watching VFS the default one, before any store opens. */
static int
watch_setup(void **state)
{
	(void)state;
	watched_methods = wrap_methods();
	watched_methods.xWrite = w_write;
	watched_methods.xSync = w_sync;
	return wrap_vfs("watched", sizeof(struct watched), w_open, NULL);
}

/* The log's syncs so far, and whether it was written since the last. */
static int
syncs(void)
{
	int n;

	pthread_mutex_lock(&watch_mu);
	n = log_syncs;
	pthread_mutex_unlock(&watch_mu);
	return n;
}

static int
unsynced(void)
{
	int n;

	pthread_mutex_lock(&watch_mu);
	n = log_unsynced;
	pthread_mutex_unlock(&watch_mu);
	return n;
}

/* --- helpers ---------------------------------------------------------------------------- */

/* One change, in a transaction of its own: synced, or left unsynced. */
static void
change(struct store *s, const char *key, int lazy)
{
	char *cause = NULL;

	assert_int_equal(lazy ? store_begin_unsynced(s, &cause) : store_begin(s, &cause), 0);
	assert_int_equal(store_meta_set(s, key, "set", &cause), 0);
	assert_int_equal(store_commit(s, &cause), 0);
	assert_null(cause);
}

/* Whether the store at path holds key. */
static int
holds(const char *path, const char *key)
{
	struct store *s = NULL;
	char *cause = NULL, *value = NULL;
	int rc;

	assert_int_equal(store_open(path, STORE_OPEN, &s, &cause), 0);
	rc = store_meta_get(s, key, &value, &cause);
	assert_true(rc >= 0);
	free(value);
	store_close(s);
	return rc == 0;
}

/* The connection's PRAGMA synchronous. */
static int
synchronous(struct store *s)
{
	return query_int(s->db, "PRAGMA synchronous");
}

/*
 * Runs steps in a child with its own connection to path, which then dies at
 * a power cut: killed, it closes, checkpoints, syncs and frees nothing (nor
 * has its memory checked for leaks under valgrind, as an exit would); its
 * log is put back as its last sync left it, and FILE-shm, lost with the
 * memory, is rebuilt by the next open.
 */
static void
power_cut_after(const char *path, void (*steps)(struct store *))
{
	char *log = xasprintf("%s-wal", path), *kept = xasprintf("%s-wal.synced", path);
	char *shm = xasprintf("%s-shm", path);
	int status = 0;
	pid_t pid;

	unlink(kept);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *s = NULL;
		char *cause = NULL;

		if (store_open(path, STORE_OPEN, &s, &cause) < 0)
			_exit(2);
		steps(s);
		raise(SIGKILL);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	if (access(kept, F_OK) == 0)
		assert_int_equal(rename(kept, log), 0);
	else
		assert_int_equal(truncate(log, 0), 0);
	assert_true(unlink(shm) == 0 || errno == ENOENT);
	free(log);
	free(kept);
	free(shm);
}

/* --- tests ----------------------------------------------------------------------------- */

/* A commit is synced before store_commit returns, and the connection is back at FULL. */
static void
test_commit_is_synced(void **state)
{
	struct fixture *fx = *state;
	int before = syncs();

	change(fx->s, "a", 0);
	assert_int_equal(syncs(), before + 1);
	assert_false(unsynced());
	assert_int_equal(synchronous(fx->s), 2);
}

/* An unsynced commit waits for the next synced one, or for store_sync. */
static void
test_unsynced_commit_waits(void **state)
{
	struct fixture *fx = *state;
	char *cause = NULL;
	int before = syncs();

	change(fx->s, "a", 1);
	assert_int_equal(syncs(), before);
	assert_true(unsynced());
	assert_int_equal(synchronous(fx->s), 2);
	change(fx->s, "b", 0);
	assert_int_equal(syncs(), before + 1);
	assert_false(unsynced());

	change(fx->s, "c", 1);
	assert_true(unsynced());
	assert_int_equal(store_sync(fx->s, &cause), 0);
	assert_false(unsynced());
	assert_int_equal(syncs(), before + 2);
	/* Nothing left to sync: no sync. */
	assert_int_equal(store_sync(fx->s, &cause), 0);
	assert_int_equal(syncs(), before + 2);
	assert_null(cause);
}

/* What another connection left unsynced, store_sync syncs through this one. */
static void
test_sync_covers_other_connections(void **state)
{
	struct fixture *fx = *state;
	struct store *other = NULL;
	char *cause = NULL;

	assert_int_equal(store_open_another(fx->s, &other, &cause), 0);
	change(other, "a", 1);
	assert_true(unsynced());
	assert_int_equal(store_sync(fx->s, &cause), 0);
	assert_false(unsynced());
	store_close(other);
	assert_null(cause);
}

/* Another connection's commit is synced too, after the gate, and it is back at FULL. */
static void
test_other_connection_syncs_late(void **state)
{
	struct fixture *fx = *state;
	struct store *other = NULL;
	char *cause = NULL;
	int before = syncs();

	assert_int_equal(store_open_another(fx->s, &other, &cause), 0);
	change(other, "a", 0);
	assert_int_equal(syncs(), before + 1);
	assert_false(unsynced());
	assert_int_equal(synchronous(other), 2);
	store_close(other);
	assert_null(cause);
}

/*
 * A failed sync: inside COMMIT it undoes the change; after the gate (another
 * connection) the change is made, and the cause says it may not last.
 */
static void
test_failed_sync(void **state)
{
	struct fixture *fx = *state;
	struct store *other = NULL;
	char *cause = NULL;

	assert_int_equal(store_begin(fx->s, &cause), 0);
	assert_int_equal(store_meta_set(fx->s, "a", "set", &cause), 0);
	fail_sync = 1;
	assert_int_equal(store_commit(fx->s, &cause), -1);
	assert_non_null(cause);
	FREE_NULL(&cause);
	assert_false(holds(fx->path, "a"));

	assert_int_equal(store_open_another(fx->s, &other, &cause), 0);
	assert_int_equal(store_begin(other, &cause), 0);
	assert_int_equal(store_meta_set(other, "b", "set", &cause), 0);
	fail_sync = 1;
	assert_int_equal(store_commit(other, &cause), -1);
	assert_non_null(strstr(cause, "tw.db-wal: syncing the store's log to disk failed"));
	assert_non_null(strstr(cause, "the change is made, but may not survive a power cut"));
	FREE_NULL(&cause);
	assert_int_equal(synchronous(other), 2);
	store_close(other);
	assert_true(holds(fx->path, "b"));
	/* And the connection writes on. */
	change(fx->s, "c", 0);
}

/*
 * A rolled back unsynced transaction leaves nothing to sync.  The connection
 * stays at FULL throughout: walbuf, not a pragma, leaves the commit's sync out.
 */
static void
test_rollback_leaves_nothing(void **state)
{
	struct fixture *fx = *state;
	char *cause = NULL;
	int before;

	change(fx->s, "a", 0);
	before = syncs();
	assert_int_equal(store_begin_unsynced(fx->s, &cause), 0);
	assert_int_equal(synchronous(fx->s), 2);
	assert_int_equal(store_meta_set(fx->s, "b", "set", &cause), 0);
	store_rollback(fx->s);
	assert_int_equal(synchronous(fx->s), 2);
	assert_int_equal(store_sync(fx->s, &cause), 0);
	assert_int_equal(syncs(), before);
	assert_false(holds(fx->path, "b"));
	assert_null(cause);
}

/* n commits of s's, of keys named from `late`: left unsynced, or (late) synced late. */
static void
changes(struct store *s, int n, int late)
{
	char key[16];

	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof key, "%s%d", late ? "late" : "lazy", i);
		change(s, key, !late);
		assert_int_equal(synchronous(s), 2);
	}
}

/*
 * A checkpoint inside a commit whose own sync is left out still syncs the
 * log before it copies the log into the database: no page reaches the
 * database from a log that a power cut could take back.  With a checkpoint
 * at every commit, on the connection that defers its syncs and on one that
 * syncs late.
 */
static void
test_checkpoint_syncs_log_first(void **state)
{
	struct fixture *fx = *state;
	struct store *other = NULL;
	char *cause = NULL;
	int before, written;

	assert_int_equal(store_open_another(fx->s, &other, &cause), 0);
	for (int late = 0; late <= 1; late++) {
		struct store *s = late ? other : fx->s;

		assert_int_equal(
		    sqlite3_exec(s->db, "PRAGMA wal_autocheckpoint = 1", NULL, NULL, NULL),
		    SQLITE_OK);
		before = syncs();
		written = db_writes;
		early_copies = 0;
		changes(s, 20, late);
		assert_true(db_writes > written); /* the checkpoints ran */
		assert_int_equal(early_copies, 0);
		assert_true(syncs() >= before + 20);
	}
	store_close(other);
	assert_true(holds(fx->path, "lazy19"));
	assert_true(holds(fx->path, "late19"));
	assert_null(cause);
}

/* Nested, the outer transaction decides: an inner unsynced one is synced with it. */
static void
test_outer_transaction_decides(void **state)
{
	struct fixture *fx = *state;
	char *cause = NULL;
	int before = syncs();

	assert_int_equal(store_begin(fx->s, &cause), 0);
	change(fx->s, "a", 1);
	assert_int_equal(store_commit(fx->s, &cause), 0);
	assert_int_equal(syncs(), before + 1);
	assert_false(unsynced());
	assert_null(cause);
}

static void
synced_then_unsynced(struct store *s)
{
	change(s, "synced", 0);
	change(s, "unsynced", 1);
}

static void
unsynced_then_synced(struct store *s)
{
	change(s, "first", 1);
	change(s, "second", 0);
}

static void
unsynced_then_store_sync(struct store *s)
{
	char *cause = NULL;

	change(s, "lazy", 1);
	if (store_sync(s, &cause) < 0)
		_exit(3);
}

/* A power cut loses an unsynced commit only, and only until something syncs the log. */
static void
test_power_cut(void **state)
{
	struct fixture *fx = *state;
	char *cause = NULL;

	/* The fixture's own connection is closed: the child is the store's only one. */
	store_close(fx->s);
	fx->s = NULL;
	power_cut_after(fx->path, synced_then_unsynced);
	assert_true(holds(fx->path, "synced"));
	assert_false(holds(fx->path, "unsynced"));

	power_cut_after(fx->path, unsynced_then_synced);
	assert_true(holds(fx->path, "first"));
	assert_true(holds(fx->path, "second"));

	power_cut_after(fx->path, unsynced_then_store_sync);
	assert_true(holds(fx->path, "lazy"));
	assert_int_equal(store_open(fx->path, STORE_OPEN, &fx->s, &cause), 0);
	assert_null(cause);
}

/* A rotation's create as core/ops.c records it with OPS_SYNC_LATER: the intent synced, the answer
 * not. */
static void
intent_then_lazy_answer(struct store *s)
{
	static const unsigned char blob[4] = {1, 2, 3, 4};
	char *cause = NULL;
	int64_t row = 0;

	if (tokens_intent(s, "acme", "ci", "tw-ci-1", 2000000, 1000, &row, &cause) < 0 ||
	    store_begin_unsynced(s, &cause) < 0 ||
	    store_end(s,
		      tokens_created(s, row, "tok-1", 1000, 2000000, blob, sizeof blob, "fpr", 1001,
				     &cause),
		      &cause) < 0)
		_exit(3);
}

/* ... and then its proof, synced before any consumer gets the token. */
static void
lazy_answer_then_proof(struct store *s)
{
	char *cause = NULL;

	intent_then_lazy_answer(s);
	if (tokens_transition(s, 1, TOKEN_CREATED, TOKEN_VERIFIED, 1002, NULL, &cause) < 0)
		_exit(4);
}

/* The state of token row 1 in the store at path, the number of its secrets in *secrets. */
static int
row_state(const char *path, int *secrets)
{
	struct store *s = NULL;
	char *cause = NULL;
	int state;

	assert_int_equal(store_open(path, STORE_OPEN, &s, &cause), 0);
	state = query_int(s->db, "SELECT CASE state WHEN 'pending' THEN 0 WHEN 'unknown' THEN 1 "
				 "WHEN 'created' THEN 2 WHEN 'verified' THEN 3 ELSE 9 END "
				 "FROM tokens WHERE id = 1");
	*secrets = query_int(s->db, "SELECT count(*) FROM secrets WHERE token_row = 1");
	store_close(s);
	return state;
}

/*
 * A power cut after a rotation's create answer, committed but left for the
 * proof's sync, and before that sync: the intent survives, the answer does
 * not, and the next run settles the row as unknown, bounded by its expiry,
 * as it does an answer lost on the way.
 */
static void
test_power_cut_before_proof(void **state)
{
	struct fixture *fx = *state;
	char *cause = NULL;
	int settled = 0, secrets = -1;

	store_close(fx->s);
	fx->s = NULL;
	power_cut_after(fx->path, intent_then_lazy_answer);
	assert_int_equal(row_state(fx->path, &secrets), 0);
	assert_int_equal(secrets, 0);
	assert_int_equal(store_open(fx->path, STORE_OPEN, &fx->s, &cause), 0);
	assert_int_equal(tokens_settle_pending(fx->s, 5000, &settled, &cause), 0);
	assert_int_equal(settled, 1);
	assert_null(cause);
	store_close(fx->s);
	fx->s = NULL;
	assert_int_equal(row_state(fx->path, &secrets), 1);
	assert_int_equal(store_open(fx->path, STORE_OPEN, &fx->s, &cause), 0);
}

/* Once the proof is synced, the answer and its secret are on the disk with it. */
static void
test_proof_syncs_answer(void **state)
{
	struct fixture *fx = *state;
	char *cause = NULL;
	int secrets = -1;

	store_close(fx->s);
	fx->s = NULL;
	power_cut_after(fx->path, lazy_answer_then_proof);
	assert_int_equal(row_state(fx->path, &secrets), 3);
	assert_int_equal(secrets, 1);
	assert_int_equal(store_open(fx->path, STORE_OPEN, &fx->s, &cause), 0);
	assert_null(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_commit_is_synced, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_unsynced_commit_waits, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_sync_covers_other_connections, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_other_connection_syncs_late, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_failed_sync, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_rollback_leaves_nothing, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_checkpoint_syncs_log_first, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_outer_transaction_decides, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_power_cut, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_power_cut_before_proof, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_proof_syncs_answer, fixture_setup,
					    fixture_teardown),
	};

	return cmocka_run_group_tests(tests, watch_setup, NULL);
}
