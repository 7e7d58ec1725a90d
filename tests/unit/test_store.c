/* Unit tests for store/store: creation, pragmas, migrations and refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/jsonx.h"
#include "store_fixture.h"

#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>

static int
query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

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
	assert_non_null(strstr(cause, "permissions 0644"));
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
	struct fixture *fx = *state;
	char *cause = NULL, *path = xasprintf("%s/other.db", fx->dir);
	struct store *s = NULL;
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE photos (id INTEGER)", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(store_open(path, STORE_OPEN, &s, &cause), -1);
	assert_non_null(strstr(cause, "not a tokenwarden database"));
	FREE_NULL(&cause);
	/* Not even SQLite. */
	assert_int_equal(truncate(path, 0), 0);
	{
		FILE *f = fopen(path, "w");

		fputs("this is not a database, just text that is long enough to matter......"
		      "................................................................",
		      f);
		fclose(f);
	}
	assert_int_equal(store_open(path, STORE_OPEN, &s, &cause), -1);
	assert_non_null(cause);
	free(cause);
	free(path);
}

/* Version 0 (an empty file) migrates to the current version in one step. */
static void
test_migrates_from_version_0(void **state)
{
	struct fixture *fx = *state;
	char *cause = NULL, *path = xasprintf("%s/v0.db", fx->dir);
	struct store *s = NULL;
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(query_int(db, "PRAGMA user_version"), 0);
	sqlite3_close(db);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(store_open(path, STORE_OPEN, &s, &cause), 0);
	assert_int_equal(query_int(s->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(query_int(s->db, "SELECT count(*) FROM sqlite_schema WHERE name IN "
					  "('tokens', 'events', 'secrets', 'slots', 'runs')"),
			 5);
	store_close(s);
	free(path);
}

/* A version 1 database gains the tables of versions 2 and 3, its rows kept. */
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
	    sqlite3_exec(db, "DROP TABLE slot_state; DROP TABLE alerts; PRAGMA user_version = 1",
			 NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(fx->path, STORE_OPEN, &s, &cause), 0);
	assert_int_equal(query_int(s->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(query_int(s->db, "SELECT count(*) FROM sqlite_schema WHERE name IN "
					  "('slot_state', 'alerts')"),
			 2);
	assert_int_equal(query_int(s->db, "SELECT count(*) FROM meta WHERE value = 'kept'"), 1);
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

	assert_int_equal(store_lock(fx->s, &cause), 0);
	assert_int_equal(store_lock(fx->s, &cause), 0); /* held already: fine */
	assert_int_equal(store_open(fx->path, STORE_OPEN, &other, &cause), 0);
	assert_int_equal(store_lock(other, &cause), 1);
	assert_non_null(strstr(cause, "another tokenwarden process holds the lock"));
	FREE_NULL(&cause);
	store_close(fx->s);
	fx->s = NULL;
	assert_int_equal(store_lock(other, &cause), 0);
	fx->s = other;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_created_private_with_pragmas, fixture_setup,
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
	    cmocka_unit_test_setup_teardown(test_migrates_from_version_1, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_migrates_from_version_0, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_pin_and_check_key, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_lock_is_exclusive, fixture_setup,
					    fixture_teardown),
	};

	jsonx_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
