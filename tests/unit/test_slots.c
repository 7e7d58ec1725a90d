/* Unit tests for store/slots: failed attempts counted, kept, and cleared, with their events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/events.h"
#include "store/inventory.h"
#include "store/slots.h"
#include "store/tokens.h"
#include "store_fixture.h"

#include <sqlite3.h>
#include <string.h>

static int
count_events(struct fixture *fx, const char *kind)
{
	sqlite3_stmt *st = NULL;
	int n = -1;

	sqlite3_prepare_v2(fx->s->db, "SELECT count(*) FROM events WHERE kind = ?1", -1, &st, NULL);
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void
test_failures_count_and_clear(void **state)
{
	struct fixture *fx = *state;
	struct slot_state *v = NULL;
	char *cause = NULL;
	size_t n = 0;
	int failures = 0;

	assert_int_equal(slots_list(fx->s, &v, &n, &cause), 0);
	assert_int_equal(n, 0);
	assert_int_equal(
	    slots_failed(fx->s, "acme", "etl", 100, 1000, "HTTP 503", &failures, &cause), 0);
	assert_int_equal(failures, 1);
	assert_int_equal(
	    slots_failed(fx->s, "acme", "etl", 1100, 5000, "timed out", &failures, &cause), 0);
	assert_int_equal(failures, 2);
	assert_int_equal(
	    slots_failed(fx->s, "acme", "bi", 1200, 2000, "HTTP 500", &failures, &cause), 0);
	assert_int_equal(failures, 1);
	assert_int_equal(slots_list(fx->s, &v, &n, &cause), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].slot, "bi");
	assert_string_equal(v[1].slot, "etl");
	assert_int_equal(v[1].failures, 2);
	assert_int_equal(v[1].next_attempt_at, 5000);
	assert_string_equal(v[1].last_error, "timed out");
	slots_free(v, n);
	assert_int_equal(count_events(fx, "slot.failure"), 3);

	/* A success clears the count, once; clearing a clean slot records nothing. */
	assert_int_equal(slots_succeeded(fx->s, "acme", "etl", 6000, &cause), 0);
	assert_int_equal(slots_succeeded(fx->s, "acme", "etl", 6100, &cause), 0);
	assert_int_equal(slots_succeeded(fx->s, "acme", "never", 6200, &cause), 0);
	assert_int_equal(count_events(fx, "slot.recovered"), 1);
	assert_int_equal(slots_list(fx->s, &v, &n, &cause), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].slot, "bi");
	slots_free(v, n);
	{
		char head[EVENTS_HEAD_MAX];
		int64_t count = 0, bad = 0;

		assert_int_equal(events_verify(fx->s, &count, head, &bad, &cause), 0);
		assert_int_equal(count, 4);
	}
}

/* A key as deliver_holder makes them: 32 hex digits, c repeated. */
static void
key_of(char c, char out[SLOTS_HOLDER_MAX])
{
	memset(out, c, SLOTS_HOLDER_MAX - 1);
	out[SLOTS_HOLDER_MAX - 1] = '\0';
}

/* The record of consumer key_of(c), which the test fails without. */
static const struct slot_handed *
handed_to(const struct slot_handed *v, size_t n, char c)
{
	static const struct slot_handed none;
	char key[SLOTS_HOLDER_MAX];

	key_of(c, key);
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].consumer, key) == 0)
			return &v[i];
	fail_msg("no record of consumer %s", key);
	return &none;
}

/*
 * One record a slot, the latest token's; the token each consumer was last
 * handed, whichever slot handed it (a consumer moved from one to another);
 * nothing for a token of no slot.
 */
static void
test_reached_replaced(void **state)
{
	struct fixture *fx = *state;
	struct slot_reached *v = NULL;
	struct slot_handed *h = NULL;
	char keys[3 * SLOTS_HOLDER_MAX];
	char *cause = NULL;
	size_t n = 0, nh = 0;
	int64_t etl1, bi, etl2, bare;

	key_of('a', keys);
	key_of('b', keys + SLOTS_HOLDER_MAX);
	key_of('c', keys + 2 * SLOTS_HOLDER_MAX);
	assert_int_equal(tokens_intent(fx->s, "acme", "etl", "etl-1", 5000, 100, &etl1, &cause), 0);
	assert_int_equal(tokens_intent(fx->s, "acme", "bi", "bi-1", 5000, 100, &bi, &cause), 0);
	/* (One in flight a slot: the first one's create failed.) */
	assert_int_equal(
	    sqlite3_exec(fx->s->db, "UPDATE tokens SET state = 'failed'", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(tokens_intent(fx->s, "acme", "etl", "etl-2", 5000, 100, &etl2, &cause), 0);
	assert_int_equal(tokens_intent(fx->s, "acme", NULL, "bare", 5000, 100, &bare, &cause), 0);
	assert_int_equal(slots_reached_list(fx->s, &v, &n, &cause), 0);
	assert_int_equal(n, 0);
	assert_int_equal(slots_handed_list(fx->s, &h, &nh, &cause), 0);
	assert_int_equal(nh, 0);
	/* etl's first token reached a and b; bi's, none; etl's second, c; then bi took b */
	assert_int_equal(slots_handed(fx->s, etl1, SLOTS_REACHED, keys, NULL, 2, 1000, &cause), 0);
	assert_int_equal(slots_handed(fx->s, bi, SLOTS_REACHED, keys, NULL, 0, 1000, &cause), 0);
	assert_int_equal(slots_handed(fx->s, etl2, SLOTS_REACHED, keys + 2 * SLOTS_HOLDER_MAX, NULL,
				      1, 1000, &cause),
			 0);
	assert_int_equal(
	    slots_handed(fx->s, bi, SLOTS_TOOK, keys + SLOTS_HOLDER_MAX, NULL, 1, 1000, &cause), 0);
	/* A token of no slot has no record, and hands nothing through one. */
	assert_int_equal(slots_handed(fx->s, bare, SLOTS_REACHED, keys, NULL, 1, 1000, &cause), 0);
	assert_int_equal(slots_reached_list(fx->s, &v, &n, &cause), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(v[i].workspace, "acme");
		if (strcmp(v[i].slot, "etl") == 0) {
			assert_int_equal(v[i].row, etl2);
		} else {
			assert_string_equal(v[i].slot, "bi");
			assert_int_equal(v[i].row, bi);
		}
	}
	slots_reached_free(v, n);

	/* A key of another length names no consumer: left out of the list. */
	assert_int_equal(
	    sqlite3_exec(fx->s->db, "INSERT INTO handed (consumer, token_row) VALUES ('short', 1)",
			 NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(slots_handed_list(fx->s, &h, &nh, &cause), 0);
	assert_int_equal(nh, 3);
	for (size_t i = 1; i < nh; i++)
		assert_true(strcmp(h[i - 1].consumer, h[i].consumer) < 0);
	assert_int_equal(handed_to(h, nh, 'a')->row, etl1);
	assert_int_equal(handed_to(h, nh, 'b')->row, bi);
	assert_int_equal(handed_to(h, nh, 'c')->row, etl2);
	slots_handed_free(h, nh);
	assert_null(cause);
}

/* Lets inventory_verify_records count the differences, which it returns. */
static int
any_difference(const struct inventory_diff *d, void *arg)
{
	(void)d;
	(void)arg;
	return 0;
}

/*
 * A delivery begun offers its token to each consumer beside the one it
 * holds (a consumer handed none yet holds row 0); taking a token clears
 * the offer; a later offer keeps an earlier one not seen through as
 * superseded; a refusal withdraws its token's offer only, offering again
 * the last one it superseded.
 */
static void
test_offered(void **state)
{
	struct fixture *fx = *state;
	struct slot_handed *h = NULL;
	char keys[2 * SLOTS_HOLDER_MAX];
	char *cause = NULL;
	size_t nh = 0;
	int64_t t1, t2, t3;

	key_of('a', keys);
	key_of('b', keys + SLOTS_HOLDER_MAX);
	assert_int_equal(tokens_intent(fx->s, "acme", "etl", "etl-1", 5000, 100, &t1, &cause), 0);
	assert_int_equal(slots_handed(fx->s, t1, SLOTS_REACHED, keys, NULL, 1, 1000, &cause), 0);
	t2 = t1 + 1;
	t3 = t1 + 2;
	/* a holds t1 and is offered t2; b, handed nothing, is offered t2 */
	assert_int_equal(slots_handed(fx->s, t2, SLOTS_OFFERED, keys, NULL, 2, 1000, &cause), 0);
	assert_int_equal(slots_handed_list(fx->s, &h, &nh, &cause), 0);
	assert_int_equal(nh, 2);
	assert_int_equal(handed_to(h, nh, 'a')->row, t1);
	assert_int_equal(handed_to(h, nh, 'a')->offered, t2);
	assert_int_equal(handed_to(h, nh, 'b')->row, 0);
	assert_int_equal(handed_to(h, nh, 'b')->offered, t2);
	slots_handed_free(h, nh);
	/* b took t2: its offer is cleared; a, whose offer of t2 was not seen
	 * through (a run killed), is offered t3: it may hold t1, t2 or t3 */
	assert_int_equal(
	    slots_handed(fx->s, t2, SLOTS_TOOK, keys + SLOTS_HOLDER_MAX, NULL, 1, 1000, &cause), 0);
	assert_int_equal(slots_handed(fx->s, t3, SLOTS_OFFERED, keys, NULL, 1, 1000, &cause), 0);
	assert_int_equal(slots_handed_list(fx->s, &h, &nh, &cause), 0);
	assert_int_equal(handed_to(h, nh, 'a')->row, t1);
	assert_int_equal(handed_to(h, nh, 'a')->offered, t3);
	assert_int_equal(handed_to(h, nh, 'a')->nsuperseded, 1);
	assert_int_equal(handed_to(h, nh, 'a')->superseded[0], t2);
	assert_int_equal(handed_to(h, nh, 'b')->row, t2);
	assert_int_equal(handed_to(h, nh, 'b')->offered, 0);
	assert_int_equal(handed_to(h, nh, 'b')->nsuperseded, 0);
	slots_handed_free(h, nh);
	/* the same offer again supersedes nothing */
	assert_int_equal(slots_handed(fx->s, t3, SLOTS_OFFERED, keys, NULL, 1, 1000, &cause), 0);
	assert_int_equal(slots_handed_list(fx->s, &h, &nh, &cause), 0);
	assert_int_equal(handed_to(h, nh, 'a')->nsuperseded, 1);
	slots_handed_free(h, nh);
	/* a refusal withdraws only an offer of its own token */
	assert_int_equal(slots_handed(fx->s, t2, SLOTS_REFUSED, keys, NULL, 1, 1000, &cause), 0);
	assert_int_equal(slots_handed_list(fx->s, &h, &nh, &cause), 0);
	assert_int_equal(handed_to(h, nh, 'a')->offered, t3);
	assert_int_equal(handed_to(h, nh, 'a')->nsuperseded, 1);
	slots_handed_free(h, nh);
	/* a refused t3: it holds t1 or t2, as before t3 was offered */
	assert_int_equal(slots_handed(fx->s, t3, SLOTS_REFUSED, keys, NULL, 2, 1000, &cause), 0);
	assert_int_equal(slots_handed_list(fx->s, &h, &nh, &cause), 0);
	assert_int_equal(handed_to(h, nh, 'a')->row, t1);
	assert_int_equal(handed_to(h, nh, 'a')->offered, t2);
	assert_int_equal(handed_to(h, nh, 'a')->nsuperseded, 0);
	assert_int_equal(handed_to(h, nh, 'b')->row, t2);
	slots_handed_free(h, nh);
	/* two offers killed in turn, then a third: each kept, in order */
	assert_int_equal(slots_handed(fx->s, t3, SLOTS_OFFERED, keys, NULL, 1, 1000, &cause), 0);
	assert_int_equal(slots_handed(fx->s, t3 + 1, SLOTS_OFFERED, keys, NULL, 1, 1000, &cause),
			 0);
	assert_int_equal(slots_handed_list(fx->s, &h, &nh, &cause), 0);
	assert_int_equal(handed_to(h, nh, 'a')->offered, t3 + 1);
	assert_int_equal(handed_to(h, nh, 'a')->nsuperseded, 2);
	assert_int_equal(handed_to(h, nh, 'a')->superseded[0], t2);
	assert_int_equal(handed_to(h, nh, 'a')->superseded[1], t3);
	slots_handed_free(h, nh);
	assert_int_equal(inventory_verify_records(fx->s, any_difference, NULL, &cause), 0);
	/* an edit of what was superseded shows */
	assert_int_equal(sqlite3_exec(fx->s->db,
				      "UPDATE handed SET superseded = '[1]' "
				      "WHERE superseded IS NOT NULL",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(inventory_verify_records(fx->s, any_difference, NULL, &cause), 1);
	assert_int_equal(
	    sqlite3_exec(fx->s->db, "UPDATE handed SET superseded = NULL WHERE superseded = '[1]'",
			 NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(inventory_verify_records(fx->s, any_difference, NULL, &cause), 1);
	/* an activation's record clears a's offers too */
	assert_int_equal(slots_handed(fx->s, t1, SLOTS_REACHED, keys, NULL, 2, 1000, &cause), 0);
	assert_int_equal(slots_handed_list(fx->s, &h, &nh, &cause), 0);
	assert_int_equal(handed_to(h, nh, 'a')->offered, 0);
	assert_int_equal(handed_to(h, nh, 'a')->nsuperseded, 0);
	assert_int_equal(handed_to(h, nh, 'b')->row, t1);
	slots_handed_free(h, nh);
	assert_int_equal(inventory_verify_records(fx->s, any_difference, NULL, &cause), 0);
	assert_null(cause);
}

/*
 * What a file was given is recorded when it takes a token (and with an
 * activation), kept through an offer and a refusal, and replaced by the
 * next take; the records follow from the history throughout.
 */
static void
test_given(void **state)
{
	struct fixture *fx = *state;
	static const char *const given[] = {"etl:staff", NULL};
	static const char *const later[] = {":", NULL};
	struct slot_handed *h = NULL;
	char keys[2 * SLOTS_HOLDER_MAX];
	char *cause = NULL;
	size_t nh = 0;
	int64_t t1;

	key_of('a', keys);
	key_of('b', keys + SLOTS_HOLDER_MAX);
	assert_int_equal(tokens_intent(fx->s, "acme", "etl", "etl-1", 5000, 100, &t1, &cause), 0);
	assert_int_equal(slots_handed(fx->s, t1, SLOTS_REACHED, keys, given, 2, 1000, &cause), 0);
	assert_int_equal(slots_handed(fx->s, t1 + 1, SLOTS_OFFERED, keys, NULL, 2, 1000, &cause),
			 0);
	assert_int_equal(slots_handed(fx->s, t1 + 1, SLOTS_REFUSED, keys, NULL, 1, 1000, &cause),
			 0);
	assert_int_equal(slots_handed_list(fx->s, &h, &nh, &cause), 0);
	assert_string_equal(handed_to(h, nh, 'a')->given, "etl:staff");
	assert_null(handed_to(h, nh, 'b')->given);
	slots_handed_free(h, nh);
	assert_int_equal(slots_handed(fx->s, t1 + 1, SLOTS_TOOK, keys, later, 1, 1000, &cause), 0);
	assert_int_equal(slots_handed_list(fx->s, &h, &nh, &cause), 0);
	assert_string_equal(handed_to(h, nh, 'a')->given, ":");
	slots_handed_free(h, nh);
	assert_int_equal(inventory_verify_records(fx->s, any_difference, NULL, &cause), 0);
	/* an edit of what a file was given shows */
	assert_int_equal(sqlite3_exec(fx->s->db,
				      "UPDATE handed SET given = 'root:' WHERE given = ':'", NULL,
				      NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(inventory_verify_records(fx->s, any_difference, NULL, &cause), 1);
	assert_null(cause);
}

/* A schema 14 store's records name consumers as written: the step to 15 keeps them aside. */
static void
test_reached_migrated(void **state)
{
	struct fixture *fx = *state;
	struct slot_reached *v = NULL;
	char *cause = NULL;
	sqlite3 *db = NULL;
	size_t n = 0;
	int64_t row;

	assert_int_equal(tokens_intent(fx->s, "acme", "etl", "etl-1", 5000, 100, &row, &cause), 0);
	store_close(fx->s);
	fx->s = NULL;
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db,
			 "DROP INDEX events_handed; DROP TABLE handed; DROP TABLE slot_reached; "
			 "DROP TABLE slot_reached_14; "
			 "CREATE TABLE slot_reached (slot_id INTEGER PRIMARY KEY REFERENCES "
			 "slots(id), token_row INTEGER NOT NULL, consumers TEXT NOT NULL); "
			 "INSERT INTO slot_reached SELECT slot_id, id, 'aa,' FROM tokens; "
			 "PRAGMA user_version = 14",
			 NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(fx->path, STORE_OPEN, &fx->s, &cause), 0);
	assert_null(cause);
	assert_int_equal(query_int(fx->s->db, "SELECT count(*) FROM slot_reached"), 0);
	assert_int_equal(query_int(fx->s->db, "SELECT count(*) FROM handed"), 0);
	assert_int_equal(query_int(fx->s->db, "SELECT count(*) FROM pragma_table_info("
					      "'slot_reached') WHERE name = 'consumers'"),
			 0);
	/* Schema 14's record stays, for the next run to read with the policy. */
	assert_int_equal(slots_reached_list(fx->s, &v, &n, &cause), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].row, row);
	assert_string_equal(v[0].legacy, "aa,");
	slots_reached_free(v, n);
	assert_int_equal(slots_handed(fx->s, row, SLOTS_REACHED, "0123456789abcdef0123456789abcdef",
				      NULL, 1, 1000, &cause),
			 0);
	assert_int_equal(query_int(fx->s->db, "SELECT count(*) FROM handed"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_reached_replaced, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_given, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_offered, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_reached_migrated, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_failures_count_and_clear, fixture_setup,
					    fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
