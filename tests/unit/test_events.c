/*
 * Unit tests for store/events: the hash chain holds, and editing, deleting
 * or reordering any one event row is reported at that row.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/jsonx.h"
#include "store/events.h"
#include "store_fixture.h"

#include <sodium.h>
#include <sqlite3.h>
#include <string.h>

#define NEVENTS 6

static int
setup(void **state)
{
	struct fixture *fx;
	char *cause = NULL;

	if (fixture_setup(state) < 0)
		return -1;
	fx = *state;
	if (store_begin(fx->s, &cause) < 0)
		return -1;
	for (int i = 0; i < NEVENTS; i++) {
		json_t *d = json_pack("{s:i, s:s}", "n", i, "why", "test");

		if (events_append(fx->s, 1000 + i, i % 2 ? "token.created" : "token.intent", "acme",
				  i < 3 ? "etl" : NULL, i % 2 ? "abc123" : NULL, d, &cause) < 0)
			return -1;
		json_decref(d);
	}
	return store_commit(fx->s, &cause);
}

/* Checks the chain in the n parts given, and requires the verdict events_verify gave. */
static void
same_in_parts(struct fixture *fx, struct events_part *parts, size_t n, int rc, const char *head,
	      int64_t count, int64_t bad_id, const char *cause)
{
	char part_head[EVENTS_HEAD_MAX], *part_cause = NULL;
	int64_t part_count = -1, part_bad = -1;
	int part_rc;

	for (size_t i = 0; i < n; i++)
		assert_int_equal(events_verify_part(fx->s, &parts[i], &part_cause), 0);
	part_rc = events_verify_join(parts, n, &part_count, part_head, &part_bad, &part_cause);
	if (part_rc != rc || part_bad != bad_id)
		fail_msg("%zu parts, the first to %lld: %d at %lld, not %d at %lld (%s)", n,
			 (long long)parts[0].to, part_rc, (long long)part_bad, rc,
			 (long long)bad_id, part_cause != NULL ? part_cause : "");
	if (rc == 0) {
		assert_string_equal(part_head, head);
		assert_int_equal(part_count, count);
	} else {
		assert_string_equal(part_cause, cause);
	}
	free(part_cause);
}

/*
 * Runs sql inside a transaction, verifies, rolls back; returns the verdict
 * and bad id.  The chain checked in parts, split at every event and as
 * events_split splits it, must give the same verdict, id and words.
 */
static int
verify_after(struct fixture *fx, const char *sql, int64_t *bad_id, char **cause)
{
	char head[EVENTS_HEAD_MAX];
	int64_t count = 0;
	int rc;

	assert_int_equal(sqlite3_exec(fx->s->db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	if (sqlite3_exec(fx->s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("tamper sql failed: %s: %s", sql, sqlite3_errmsg(fx->s->db));
	rc = events_verify(fx->s, &count, head, bad_id, cause);
	assert_true(rc == 0 || rc == 1);
	for (int64_t at = -1; at <= NEVENTS + 1; at++) {
		struct events_part two[2] = {{.from = INT64_MIN, .to = at},
					     {.from = at + 1, .to = INT64_MAX}};

		same_in_parts(fx, two, 2, rc, head, count, *bad_id, rc ? *cause : NULL);
	}
	for (size_t n = 1; n <= 4; n++) {
		struct events_part parts[4];
		char *split_cause = NULL;

		int64_t next = INT64_MIN;

		assert_int_equal(events_split(fx->s, parts, n, &split_cause), 0);
		/* The parts that hold ids (from <= to) cover them all, in order, once. */
		for (size_t i = 0; i < n; i++) {
			if (parts[i].from > parts[i].to)
				continue;
			assert_int_equal(parts[i].from, next);
			if (parts[i].to == INT64_MAX)
				assert_int_equal(i, n - 1);
			else
				next = parts[i].to + 1;
		}
		assert_int_equal(parts[n - 1].to, INT64_MAX);
		same_in_parts(fx, parts, n, rc, head, count, *bad_id, rc ? *cause : NULL);
	}
	assert_int_equal(sqlite3_exec(fx->s->db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	return rc;
}

static void
test_chain_holds(void **state)
{
	struct fixture *fx = *state;
	char head[EVENTS_HEAD_MAX], head2[EVENTS_HEAD_MAX];
	int64_t count = 0, count2 = 0, bad = -1;
	char *cause = NULL;

	assert_int_equal(events_verify(fx->s, &count, head, &bad, &cause), 0);
	assert_int_equal(count, NEVENTS);
	assert_int_equal(strlen(head), 64);
	assert_int_equal(events_head(fx->s, head2, &count2, &cause), 0);
	assert_string_equal(head, head2);
	assert_int_equal(count2, NEVENTS);
	/* Appending moves the head. */
	assert_int_equal(store_begin(fx->s, &cause), 0);
	assert_int_equal(events_append(fx->s, 2000, "run.end", NULL, NULL, NULL, NULL, &cause), 0);
	assert_int_equal(store_commit(fx->s, &cause), 0);
	assert_int_equal(events_verify(fx->s, &count, head2, &bad, &cause), 0);
	assert_int_equal(count, NEVENTS + 1);
	assert_string_not_equal(head, head2);
}

/* Appends a run.end event at `at` to fx's store, in whatever transaction is open. */
static void
append(struct fixture *fx, int64_t at)
{
	char *cause = NULL;

	if (events_append(fx->s, at, "run.end", NULL, NULL, NULL, NULL, &cause) < 0)
		fail_msg("append: %s", cause);
}

/*
 * A transaction appends each event after the last it appended without
 * reading it back; events a rollback undid, of a savepoint or of the whole
 * transaction, or of one SQLite ended after an error, are not followed.
 */
static void
test_chain_through_rollbacks(void **state)
{
	struct fixture *fx = *state;
	char head[EVENTS_HEAD_MAX];
	int64_t count = 0, bad = -1;
	char *cause = NULL;

	assert_int_equal(store_begin(fx->s, &cause), 0);
	append(fx, 2000);
	append(fx, 2001);
	assert_int_equal(store_begin(fx->s, &cause), 0);
	append(fx, 2002);
	store_rollback(fx->s);
	append(fx, 2003);
	assert_int_equal(store_commit(fx->s, &cause), 0);
	assert_int_equal(store_begin(fx->s, &cause), 0);
	append(fx, 2004);
	store_rollback(fx->s);
	assert_int_equal(store_begin(fx->s, &cause), 0);
	append(fx, 2005);
	/* As SQLite does after some errors: the transaction ends under the caller. */
	assert_int_equal(sqlite3_exec(fx->s->db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	append(fx, 2006);
	store_rollback(fx->s);
	assert_int_equal(events_verify(fx->s, &count, head, &bad, &cause), 0);
	assert_int_equal(count, NEVENTS + 4);
}

static void
test_empty_history_verifies(void **state)
{
	struct fixture fx;
	char head[EVENTS_HEAD_MAX];
	int64_t count = -1, bad = -1;
	char *cause = NULL;

	(void)state;
	assert_int_equal(fixture_open(&fx), 0);
	assert_int_equal(events_verify(fx.s, &count, head, &bad, &cause), 0);
	assert_int_equal(count, 0);
	assert_string_equal(head, "");
	fixture_close(&fx);
}

static void
test_edit_any_row_any_column(void **state)
{
	static const char *const edits[] = {
	    "UPDATE events SET details = '{\"n\":99,\"why\":\"test\"}' WHERE id = ",
	    "UPDATE events SET actor = 'mallory@host' WHERE id = ",
	    "UPDATE events SET at = at + 1 WHERE id = ",
	    "UPDATE events SET kind = 'token.deleted' WHERE id = ",
	    "UPDATE events SET workspace = 'other' WHERE id = ",
	    "UPDATE events SET slot = 'x' WHERE id = ",
	    "UPDATE events SET token = 'zzz' WHERE id = ",
	    "UPDATE events SET hash = zeroblob(32) WHERE id = ",
	    "UPDATE events SET prev_hash = zeroblob(32) WHERE id = ",
	    "UPDATE events SET row_digest = 'x' WHERE id = ",
	};
	struct fixture *fx = *state;

	for (int id = 1; id <= NEVENTS; id++) {
		for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
			char sql[256], *cause = NULL;
			int64_t bad = -1;

			if (e == 8 && id == 1)
				continue; /* the first event's prev_hash is already zero */
			snprintf(sql, sizeof sql, "%s%d", edits[e], id);
			if (verify_after(fx, sql, &bad, &cause) != 1)
				fail_msg("not detected: %s", sql);
			/* Rewriting a row's own hash shows at the next row when there is one. */
			if (bad != id && !(e == 7 && bad == id + 1))
				fail_msg("%s: reported event %lld", sql, (long long)bad);
			assert_non_null(strstr(cause, "event"));
			free(cause);
		}
	}
}

/* The digest column the start-of-run check reads is written from, and held to, the details. */
static void
test_row_digest_follows_details(void **state)
{
	static const char *const edits[] = {
	    "UPDATE events SET row_digest = 'abd' WHERE id = ",
	    "UPDATE events SET row_digest = NULL WHERE id = ",
	    "UPDATE events SET row_digest = upper(row_digest) WHERE id = ",
	};
	struct fixture *fx = *state;
	json_t *d = json_pack("{s:i, s:s}", "row", 7, "digest", "abc");
	char head[EVENTS_HEAD_MAX], *cause = NULL;
	int64_t count = 0, bad = -1, id = NEVENTS + 1;

	assert_int_equal(store_begin(fx->s, &cause), 0);
	assert_int_equal(
	    events_append(fx->s, 3000, "token.created", "acme", "etl", "abc123", d, &cause), 0);
	assert_int_equal(store_commit(fx->s, &cause), 0);
	json_decref(d);
	assert_int_equal(events_verify(fx->s, &count, head, &bad, &cause), 0);
	assert_int_equal(query_int(fx->s->db, "SELECT count(*) FROM events WHERE row_digest = "
					      "'abc' AND token_row = 7"),
			 1);
	for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
		char sql[256];

		snprintf(sql, sizeof sql, "%s%lld", edits[e], (long long)id);
		if (verify_after(fx, sql, &bad, &cause) != 1 || bad != id)
			fail_msg("not detected: %s", sql);
		assert_non_null(strstr(cause, "row digest"));
		free(cause);
		cause = NULL;
	}
}

static void
test_delete_any_row(void **state)
{
	struct fixture *fx = *state;

	for (int id = 1; id <= NEVENTS; id++) {
		char sql[128], *cause = NULL;
		int64_t bad = -1;

		snprintf(sql, sizeof sql, "DELETE FROM events WHERE id = %d", id);
		assert_int_equal(verify_after(fx, sql, &bad, &cause), 1);
		assert_non_null(strstr(cause, "deleted"));
		assert_int_equal(bad, id < NEVENTS ? id + 1 : 0);
		free(cause);
	}
}

static void
test_reorder_rows(void **state)
{
	struct fixture *fx = *state;

	for (int id = 1; id < NEVENTS; id++) {
		char sql[256], *cause = NULL;
		int64_t bad = -1;

		/* Swap two neighbours' positions, keeping their stored hashes. */
		snprintf(
		    sql, sizeof sql,
		    "UPDATE events SET id = -id WHERE id IN (%d, %d);"
		    "UPDATE events SET id = CASE -id WHEN %d THEN %d ELSE %d END WHERE id < 0;",
		    id, id + 1, id, id + 1, id);
		assert_int_equal(verify_after(fx, sql, &bad, &cause), 1);
		assert_int_equal(bad, id);
		free(cause);
	}
}

/* Another connection, and how many events it appended beside a verify. */
struct beside {
	struct store *other;
	int appended;
};

/* A trace callback: as the verify reads the next event id, another process commits an event. */
static int
append_beside(unsigned type, void *ctx, void *p, void *x)
{
	struct beside *b = ctx;
	const char *sql = sqlite3_sql(p);
	json_t *d = NULL;
	char *cause = NULL;

	(void)type;
	(void)x;
	if (b->appended > 0 || sql == NULL || strstr(sql, "sqlite_sequence") == NULL)
		return 0;
	d = json_pack("{s:s}", "why", "beside");
	if (store_begin(b->other, &cause) < 0 ||
	    events_append(b->other, 2000, "token.intent", "acme", NULL, NULL, d, &cause) < 0 ||
	    store_commit(b->other, &cause) < 0)
		fail_msg("appending beside the verify: %s", cause);
	json_decref(d);
	b->appended++;
	return 0;
}

/*
 * An event committed by another process while audit verify reads the
 * history is after the history it verified, never "the last event(s) were
 * deleted": the events and the next id are read in one snapshot.
 */
static void
test_verify_beside_a_writer(void **state)
{
	struct fixture *fx = *state;
	struct beside b = {0};
	char head[EVENTS_HEAD_MAX], *cause = NULL;
	int64_t count = 0, bad = 0;

	assert_int_equal(store_open_another(fx->s, &b.other, &cause), 0);
	sqlite3_trace_v2(fx->s->db, SQLITE_TRACE_STMT, append_beside, &b);
	if (events_verify(fx->s, &count, head, &bad, &cause) != 0)
		fail_msg("verify beside a writer: %s", cause);
	sqlite3_trace_v2(fx->s->db, 0, NULL, NULL);
	assert_int_equal(b.appended, 1);
	assert_int_equal(count, NEVENTS);
	/* And the next verify sees the event, the chain whole. */
	assert_int_equal(events_verify(fx->s, &count, head, &bad, &cause), 0);
	assert_int_equal(count, NEVENTS + 1);
	store_close(b.other);
}

/*
 * Ids edited to the ends of int64_t, or below 1, break the chain where
 * they stand, checked whole or in parts, with no arithmetic overflowing
 * (UBSan in ./dev test).
 */
static void
test_ids_at_the_ends(void **state)
{
	static const char *const edits[] = {
	    "UPDATE events SET id = -9223372036854775808 WHERE id = 1",
	    "UPDATE events SET id = 9223372036854775807 WHERE id = 6",
	    "UPDATE events SET id = 0 WHERE id = 1",
	    "DELETE FROM events WHERE id > 1; UPDATE events SET id = -9223372036854775808",
	    "DELETE FROM events WHERE id < 6; UPDATE events SET id = 9223372036854775807",
	};
	static const int64_t bad[] = {INT64_MIN, INT64_MAX, 0, INT64_MIN, INT64_MAX};
	struct fixture *fx = *state;

	for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
		char *cause = NULL;
		int64_t at = -1;

		assert_int_equal(verify_after(fx, edits[e], &at, &cause), 1);
		if (at != bad[e])
			fail_msg("%s: reported event %lld (%s)", edits[e], (long long)at, cause);
		free(cause);
	}
}

static int
count_cb(const struct event *e, void *arg)
{
	int *n = arg;

	assert_non_null(e->kind);
	assert_int_equal(strlen(e->hash), 64);
	(*n)++;
	return 0;
}

static void
test_list_filters(void **state)
{
	struct fixture *fx = *state;
	struct event_filter all = {0}, created = {.kind = "token.created"}, slot = {.slot = "etl"},
			    window = {.since = 1002, .until = 1004};
	char *cause = NULL;
	int n = 0;

	assert_int_equal(events_list(fx->s, &all, count_cb, &n, &cause), 0);
	assert_int_equal(n, NEVENTS);
	n = 0;
	assert_int_equal(events_list(fx->s, &created, count_cb, &n, &cause), 0);
	assert_int_equal(n, NEVENTS / 2);
	n = 0;
	assert_int_equal(events_list(fx->s, &slot, count_cb, &n, &cause), 0);
	assert_int_equal(n, 3);
	n = 0;
	assert_int_equal(events_list(fx->s, &window, count_cb, &n, &cause), 0);
	assert_int_equal(n, 2);
}

/* Every listed kind is written; one missing from the list is refused, and nothing is added. */
static void
test_only_listed_kinds(void **state)
{
	struct fixture *fx = *state;
	char head[EVENTS_HEAD_MAX];
	int64_t count = 0;
	char *cause = NULL;
	size_t i;

	assert_int_equal(store_begin(fx->s, &cause), 0);
	for (i = 0; events_kinds[i] != NULL; i++) {
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(events_kinds[i], events_kinds[j]);
		assert_int_equal(
		    events_append(fx->s, 3000, events_kinds[i], NULL, NULL, NULL, NULL, &cause), 0);
	}
	assert_int_equal(
	    events_append(fx->s, 3000, "token.create", "acme", NULL, NULL, NULL, &cause), -1);
	assert_non_null(strstr(cause, "event kind 'token.create' is not in events_kinds"));
	free(cause);
	cause = NULL;
	assert_int_equal(store_commit(fx->s, &cause), 0);
	assert_int_equal(events_head(fx->s, head, &count, &cause), 0);
	assert_int_equal(count, NEVENTS + (int64_t)i);
}

/* Appends a number as the chain lays it out: eight bytes, most significant first. */
static void
lay_u64(unsigned char *buf, size_t *n, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		buf[*n + (size_t)i] = (unsigned char)(v >> (56 - 8 * i));
	*n += 8;
}

/* Appends a text as the chain lays it out: its length, then its bytes; NULL, UINT64_MAX alone. */
static void
lay_text(unsigned char *buf, size_t *n, const char *text)
{
	size_t len;

	if (text == NULL) {
		lay_u64(buf, n, UINT64_MAX);
		return;
	}
	len = strlen(text);
	lay_u64(buf, n, len);
	/* Bytes, not a string: the layout has no NUL. */
	for (size_t i = 0; i < len; i++)
		buf[*n + i] = (unsigned char)text[i];
	*n += len;
}

/*
 * Every stored hash is BLAKE2b-256 of the previous hash and the fields in this order and
 * layout, written out here by hand: a change to it would break every store's history.
 */
static void
test_hash_layout(void **state)
{
	struct fixture *fx = *state;
	sqlite3_stmt *st;
	unsigned char prev[EVENTS_HASH_BYTES] = {0}, want[EVENTS_HASH_BYTES], buf[1024];
	int rows = 0;

	assert_int_equal(sqlite3_prepare_v2(fx->s->db,
					    "SELECT id, at, actor, kind, workspace, slot, token, "
					    "details, prev_hash, hash FROM events ORDER BY id",
					    -1, &st, NULL),
			 SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		size_t n = EVENTS_HASH_BYTES;

		memcpy(buf, prev, EVENTS_HASH_BYTES);
		lay_text(buf, &n, "tokenwarden-event-v1");
		lay_u64(buf, &n, (uint64_t)sqlite3_column_int64(st, 0));
		lay_u64(buf, &n, (uint64_t)sqlite3_column_int64(st, 1));
		for (int col = 2; col <= 7; col++)
			lay_text(buf, &n, (const char *)sqlite3_column_text(st, col));
		crypto_generichash(want, sizeof want, buf, n, NULL, 0);
		assert_int_equal(sqlite3_column_bytes(st, 9), EVENTS_HASH_BYTES);
		assert_memory_equal(sqlite3_column_blob(st, 8), prev, EVENTS_HASH_BYTES);
		assert_memory_equal(sqlite3_column_blob(st, 9), want, EVENTS_HASH_BYTES);
		memcpy(prev, want, EVENTS_HASH_BYTES);
		rows++;
	}
	sqlite3_finalize(st);
	/* The setup's rows have a slot and none, a token and none. */
	assert_int_equal(rows, NEVENTS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_chain_holds, setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_hash_layout, setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_chain_through_rollbacks, setup, fixture_teardown),
	    cmocka_unit_test(test_empty_history_verifies),
	    cmocka_unit_test_setup_teardown(test_edit_any_row_any_column, setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_row_digest_follows_details, setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_delete_any_row, setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_reorder_rows, setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_ids_at_the_ends, setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_verify_beside_a_writer, setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_list_filters, setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_only_listed_kinds, setup, fixture_teardown),
	};

	jsonx_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
