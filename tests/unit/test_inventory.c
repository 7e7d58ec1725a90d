/*
 * Unit tests for store/inventory: every change the store makes to a token
 * row leaves the tables following from the history; a change made outside
 * it is found, as edited, unrecorded or missing; a store of schema 4 is
 * attested when it is migrated; a row's digest is the same bytes as ever;
 * a row's copy of its last digest, which a run's check reads, is held to
 * the history by audit verify's.
 */
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

#define T0 1767225600000LL /* 2026-01-01T00:00Z */
#define DAY 86400000LL

struct seen {
	int n;
	struct inventory_diff last;
	int64_t rows[8];
	/* The sealed secrets' differences, apart: */
	int nsecrets;
	struct inventory_diff secrets[4];
};

static int
collect(const struct inventory_diff *d, void *arg)
{
	struct seen *seen = arg;

	if (d->table == INVENTORY_SECRETS) {
		if (seen->nsecrets < 4)
			seen->secrets[seen->nsecrets] = *d;
		seen->nsecrets++;
		return 0;
	}
	if (seen->n < 8)
		seen->rows[seen->n] = d->row;
	seen->n++;
	seen->last = *d;
	seen->last.workspace = seen->last.slot = seen->last.token = seen->last.state = NULL;
	seen->last.consumer = NULL;
	return 0;
}

/* The differences in scope; fails the test on a database error. */
static int
differences(struct store *s, enum inventory_scope scope, struct seen *seen, int64_t *rows)
{
	char *cause = NULL;
	int n;

	memset(seen, 0, sizeof *seen);
	n = inventory_verify(s, scope, collect, seen, rows, &cause);
	if (n < 0)
		fail_msg("inventory_verify: %s", cause);
	assert_int_equal(n, seen->n + seen->nsecrets);
	return n;
}

static void
exec_ok(struct store *s, const char *sql)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(s->db));
}

/* A slot's life through every store function that changes a row: none leaves a difference. */
static void
test_every_change_is_recorded(void **state)
{
	struct fixture *fx = *state;
	static const unsigned char sealed[] = "not really sealed";
	struct token_import imp = {"acme",        NULL,   "tok-hand",    "by hand", T0,
				   T0 + 90 * DAY, sealed, sizeof sealed, "tw1:fpr"};
	struct seen seen;
	int64_t r1, r2, r3, retired, rows;
	char *cause = NULL;
	int settled;

	assert_int_equal(
	    tokens_intent(fx->s, "acme", "etl", "etl-1", T0 + 10 * DAY, T0, &r1, &cause), 0);
	assert_int_equal(differences(fx->s, INVENTORY_ALL, &seen, &rows), 0);
	assert_int_equal(rows, 1);
	assert_int_equal(tokens_created(fx->s, r1, "tok-1", T0, T0 + 10 * DAY, sealed,
					sizeof sealed, "tw1:fpr", T0, &cause),
			 0);
	assert_int_equal(
	    tokens_transition(fx->s, r1, TOKEN_CREATED, TOKEN_VERIFIED, T0, NULL, &cause), 0);
	assert_int_equal(tokens_delivering(fx->s, r1, 1, T0, &cause), 0);
	assert_int_equal(tokens_activate(fx->s, r1, T0, T0, &retired, &cause), 0);
	assert_int_equal(
	    tokens_intent(fx->s, "acme", "etl", "etl-2", T0 + 17 * DAY, T0 + 7 * DAY, &r2, &cause),
	    0);
	assert_int_equal(tokens_created(fx->s, r2, "tok-2", T0 + 7 * DAY, T0 + 17 * DAY, sealed,
					sizeof sealed, "tw1:fpr", T0 + 7 * DAY, &cause),
			 0);
	assert_int_equal(tokens_activate(fx->s, r2, T0 + 8 * DAY, T0 + 7 * DAY, &retired, &cause),
			 0);
	assert_int_equal(retired, r1);
	assert_int_equal(tokens_mark_deleted(fx->s, "acme", "tok-1", T0 + 8 * DAY, NULL, &cause),
			 0);
	assert_int_equal(
	    tokens_intent(fx->s, "acme", "etl", "etl-3", T0 + 27 * DAY, T0 + 17 * DAY, &r3, &cause),
	    0);
	assert_int_equal(tokens_settle_pending(fx->s, T0 + 17 * DAY, &settled, &cause), 0);
	assert_int_equal(settled, 1);
	assert_int_equal(tokens_import(fx->s, &imp, T0, &cause), 0);
	assert_int_equal(differences(fx->s, INVENTORY_ALL, &seen, &rows), 0);
	assert_int_equal(rows, 4);
	/* A deletion the inventory did not hold is recorded, and changes no row. */
	assert_int_equal(tokens_mark_deleted(fx->s, "acme", "tok-elsewhere", T0, NULL, &cause), 0);
	assert_int_equal(differences(fx->s, INVENTORY_ALL, &seen, &rows), 0);
	/* Each row keeps its last event's digest, as the bytes the hex says. */
	assert_int_equal(query_int(fx->s->db,
				   "SELECT count(*) FROM tokens t WHERE "
				   "lower(hex(t.recorded_digest)) IS (SELECT e.row_digest "
				   "FROM events e WHERE e.token_row = t.id ORDER BY e.id "
				   "DESC LIMIT 1) AND length(t.recorded_digest) = 32"),
			 4);
	assert_null(cause);
}

/* Edits outside the store: each is found, and named by its kind, row and last event. */
static void
test_edits_are_found(void **state)
{
	struct fixture *fx = *state;
	static const unsigned char sealed[] = "not really sealed";
	struct seen seen;
	int64_t r1, r2, rows, last_event;
	char head[EVENTS_HEAD_MAX], *cause = NULL;

	assert_int_equal(
	    tokens_intent(fx->s, "acme", "etl", "etl-1", T0 + 10 * DAY, T0, &r1, &cause), 0);
	assert_int_equal(tokens_created(fx->s, r1, "tok-1", T0, T0 + 10 * DAY, sealed,
					sizeof sealed, "tw1:fpr", T0, &cause),
			 0);
	assert_int_equal(tokens_intent(fx->s, "acme", "bi", "bi-1", T0 + 10 * DAY, T0, &r2, &cause),
			 0);
	assert_int_equal(
	    tokens_transition(fx->s, r2, TOKEN_PENDING, TOKEN_FAILED, T0, NULL, &cause), 0);
	assert_int_equal(events_head(fx->s, head, &last_event, &cause), 0);

	/* A longer expiry. */
	exec_ok(fx->s, "UPDATE tokens SET expires_at = expires_at + 1 WHERE token = 'tok-1'");
	assert_int_equal(differences(fx->s, INVENTORY_ALL, &seen, &rows), 1);
	assert_int_equal(seen.last.what, INVENTORY_EDITED);
	assert_int_equal(seen.last.row, r1);
	assert_true(seen.last.event > 0 && seen.last.event <= last_event);
	assert_int_equal(differences(fx->s, INVENTORY_LIVE, &seen, &rows), 1);
	exec_ok(fx->s, "UPDATE tokens SET expires_at = expires_at - 1 WHERE token = 'tok-1'");
	assert_int_equal(differences(fx->s, INVENTORY_ALL, &seen, &rows), 0);

	/* A terminal row edited: found by the whole check, not by the one rotate makes. */
	exec_ok(fx->s, "UPDATE tokens SET expires_at = 1 WHERE state = 'failed'");
	assert_int_equal(differences(fx->s, INVENTORY_ALL, &seen, &rows), 1);
	assert_int_equal(seen.last.row, r2);
	assert_int_equal(differences(fx->s, INVENTORY_LIVE, &seen, &rows), 0);
	assert_int_equal(rows, 1);
	/* Made live again: then rotate's check finds it too. */
	exec_ok(fx->s, "UPDATE tokens SET state = 'unknown' WHERE state = 'failed'");
	assert_int_equal(differences(fx->s, INVENTORY_LIVE, &seen, &rows), 1);
	assert_int_equal(seen.last.row, r2);

	/* A row with no event, and a row removed. */
	exec_ok(fx->s,
		"INSERT INTO tokens (workspace_id, token, name, state, origin, requested_at, "
		"expires_at, updated_at) SELECT workspace_id, 'tok-x', 'planted', 'active', "
		"'imported', 0, 0, 0 FROM tokens LIMIT 1");
	exec_ok(fx->s, "DELETE FROM secrets; DELETE FROM tokens WHERE token = 'tok-1'");
	assert_int_equal(differences(fx->s, INVENTORY_ALL, &seen, &rows), 3);
	assert_int_equal(seen.rows[0], r2);
	assert_int_equal(seen.rows[1], r2 + 1);
	assert_int_equal(seen.last.what, INVENTORY_MISSING);
	assert_int_equal(seen.last.row, r1);
	assert_null(cause);
}

/* The texts name the row, its names and the event, and say what to suspect. */
static void
test_texts(void **state)
{
	struct inventory_diff edited = {.what = INVENTORY_EDITED,
					.row = 7,
					.event = 42,
					.workspace = "acme",
					.slot = "etl",
					.token = "tok-7",
					.state = "active"};
	struct inventory_diff unrec = {
	    .what = INVENTORY_UNRECORDED, .row = 8, .workspace = "acme", .state = "pending"};
	struct inventory_diff gone = {.what = INVENTORY_MISSING, .row = 9, .event = 51};
	struct inventory_diff handed = {.what = INVENTORY_EDITED,
					.table = INVENTORY_HANDED,
					.row = 7,
					.event = 60,
					.workspace = "acme",
					.slot = "etl",
					.consumer = "0123456789abcdef0123456789abcdef"};
	struct inventory_diff reached = {.what = INVENTORY_UNRECORDED,
					 .table = INVENTORY_SLOT_REACHED,
					 .row = 7,
					 .workspace = "acme",
					 .slot = "etl"};
	struct inventory_diff legacy = {.what = INVENTORY_MISSING,
					.table = INVENTORY_SLOT_REACHED_14,
					.row = 5,
					.event = 3,
					.workspace = "acme",
					.slot = "bi"};
	char *t;

	(void)state;
	t = inventory_diff_text(&edited);
	assert_string_equal(t, "token row 7 (acme/etl, tok-7, active) differs from what its last "
			       "event (42) recorded: it was edited outside tokenwarden");
	free(t);
	t = inventory_diff_text(&unrec);
	assert_string_equal(t, "token row 8 (acme/-, no id, pending): no event records it; it was "
			       "added outside tokenwarden");
	free(t);
	t = inventory_diff_text(&gone);
	assert_string_equal(t, "token row 9 is in the history (event 51) but not in the table: it "
			       "was removed outside tokenwarden");
	free(t);
	t = inventory_diff_text(&handed);
	assert_string_equal(t, "the record of the token consumer 0123456789abcdef0123456789abcdef "
			       "holds (token row 7, of acme/etl) differs from what its last event "
			       "(60) recorded: it was edited outside tokenwarden");
	free(t);
	t = inventory_diff_text(&reached);
	assert_string_equal(t, "the record of the token that reached slot acme/etl's consumers "
			       "(token row 7): no event records it; it was added outside "
			       "tokenwarden");
	free(t);
	t = inventory_diff_text(&legacy);
	assert_string_equal(t, "schema 14's record of the consumers slot acme/bi's token reached "
			       "(token row 5) is in the history (event 3) but not in the table: it "
			       "was removed outside tokenwarden");
	free(t);
}

/* Two consumers' keys, one after the other (SLOTS_HOLDER_MAX bytes each). */
static const char keys[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\0bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/* The records' differences from the history (inventory_verify_records), into seen. */
static int
record_differences(struct store *s, struct seen *seen)
{
	char *cause = NULL;
	int n;

	memset(seen, 0, sizeof *seen);
	n = inventory_verify_records(s, collect, seen, &cause);
	if (n < 0)
		fail_msg("inventory_verify_records: %s", cause);
	assert_int_equal(n, seen->n);
	return n;
}

/*
 * Applies edit in a transaction rolled back after: the records then have n
 * differences, the last of table and of what kind.
 */
static void
edited_records(struct store *s, const char *edit, int n, enum inventory_table table,
	       enum inventory_difference what)
{
	struct seen seen;

	exec_ok(s, "BEGIN");
	exec_ok(s, edit);
	assert_int_equal(record_differences(s, &seen), n);
	assert_int_equal(seen.last.table, table);
	assert_int_equal(seen.last.what, what);
	exec_ok(s, "ROLLBACK");
}

/*
 * Each way the records of what reached whom change (store/slots.h) leaves
 * them following from the history; an edit, a removal or a planted record
 * of each table is found, and a store upgraded to schema 17 with records
 * has them attested in one event.
 */
static void
test_records_follow_history(void **state)
{
	struct fixture *fx = *state;
	struct seen seen;
	int64_t r1, r2, bi;
	char *cause = NULL;

	assert_int_equal(
	    tokens_intent(fx->s, "acme", "etl", "etl-1", T0 + 10 * DAY, T0, &r1, &cause), 0);
	assert_int_equal(slots_handed(fx->s, r1, SLOTS_REACHED, keys, NULL, 2, T0, &cause), 0);
	assert_int_equal(tokens_intent(fx->s, "acme", "bi", "bi-1", T0 + 10 * DAY, T0, &bi, &cause),
			 0);
	assert_int_equal(slots_handed(fx->s, bi, SLOTS_REACHED, keys, NULL, 0, T0, &cause), 0);
	exec_ok(fx->s, "UPDATE tokens SET state = 'failed'");
	assert_int_equal(
	    tokens_intent(fx->s, "acme", "etl", "etl-2", T0 + 10 * DAY, T0, &r2, &cause), 0);
	assert_int_equal(slots_handed(fx->s, r2, SLOTS_OFFERED, keys, NULL, 2, T0, &cause), 0);
	assert_int_equal(slots_handed(fx->s, r2, SLOTS_REFUSED, keys, NULL, 1, T0, &cause), 0);
	assert_int_equal(
	    slots_handed(fx->s, r2, SLOTS_TOOK, keys + SLOTS_HOLDER_MAX, NULL, 1, T0, &cause), 0);
	/* A refusal that withdraws nothing records nothing. */
	assert_int_equal(slots_handed(fx->s, r2, SLOTS_REFUSED, keys, NULL, 1, T0, &cause), 0);
	assert_int_equal(query_int(fx->s->db, "SELECT count(*) FROM events WHERE kind = "
					      "'consumer.handed'"),
			 5);
	/* (The rows' state edited above is not this test's: only the records are compared.) */
	assert_int_equal(record_differences(fx->s, &seen), 0);

	edited_records(fx->s, "UPDATE handed SET offered = 7 WHERE consumer LIKE 'b%'", 1,
		       INVENTORY_HANDED, INVENTORY_EDITED);
	edited_records(fx->s, "DELETE FROM handed WHERE consumer LIKE 'a%'", 1, INVENTORY_HANDED,
		       INVENTORY_MISSING);
	edited_records(fx->s, "INSERT INTO handed (consumer, token_row) VALUES ('c', 1)", 1,
		       INVENTORY_HANDED, INVENTORY_UNRECORDED);
	edited_records(fx->s, "UPDATE handed SET token_row = CAST(token_row AS BLOB)", 2,
		       INVENTORY_HANDED, INVENTORY_EDITED);
	edited_records(fx->s, "UPDATE slot_reached SET token_row = 0 WHERE token_row = 1", 1,
		       INVENTORY_SLOT_REACHED, INVENTORY_EDITED);
	edited_records(fx->s, "DELETE FROM slot_reached", 2, INVENTORY_SLOT_REACHED,
		       INVENTORY_MISSING);

	/* Back to schema 16, with records no event gives, one of schema 14 among them. */
	exec_ok(fx->s, "DROP INDEX events_handed; ALTER TABLE handed DROP COLUMN given; "
		       "ALTER TABLE handed DROP COLUMN superseded; "
		       "DELETE FROM events WHERE kind = 'consumer.handed'; "
		       "INSERT INTO slot_reached_14 SELECT slot_id, id, 'aa,' FROM tokens "
		       "WHERE id = 2; PRAGMA user_version = 16");
	store_close(fx->s);
	fx->s = NULL;
	assert_int_equal(store_open(fx->path, STORE_OPEN, &fx->s, &cause), 0);
	assert_int_equal(query_int(fx->s->db,
				   "SELECT count(*) FROM events WHERE kind = "
				   "'consumer.handed' AND details LIKE '%\"attested\"%'"),
			 1);
	assert_int_equal(record_differences(fx->s, &seen), 0);
	edited_records(fx->s, "UPDATE slot_reached_14 SET consumers = 'bb,'", 1,
		       INVENTORY_SLOT_REACHED_14, INVENTORY_EDITED);
}

/* A store upgraded to schema 17 with no records has no event of them. */
static void
test_no_records_no_event(void **state)
{
	struct fixture *fx = *state;
	char *cause = NULL;

	exec_ok(fx->s, "DROP INDEX events_handed; ALTER TABLE handed DROP COLUMN given; "
		       "ALTER TABLE handed DROP COLUMN superseded; "
		       "PRAGMA user_version = 16");
	store_close(fx->s);
	fx->s = NULL;
	assert_int_equal(store_open(fx->path, STORE_OPEN, &fx->s, &cause), 0);
	assert_int_equal(query_int(fx->s->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(
	    query_int(fx->s->db, "SELECT count(*) FROM events WHERE kind = 'consumer.handed'"), 0);
}

/*
 * Makes two token rows, takes the store back to an older schema with
 * older_sql, and opens it again, which migrates it.
 */
/* What schema 4 wrote: no index, and events without digests. */
#define SCHEMA_4                                                                                   \
	FIXTURE_SCHEMA_12                                                                          \
	"DROP INDEX secrets_rows; DROP INDEX tokens_by_name; "                                     \
	"DROP INDEX tokens_live; DROP INDEX events_by_kind; "                                      \
	"DROP INDEX tokens_retiring; DROP INDEX events_by_row; DROP INDEX tokens_dead_held; "      \
	"ALTER TABLE events DROP COLUMN row_digest; "                                              \
	"ALTER TABLE events DROP COLUMN token_row; "                                               \
	"DELETE FROM events; DELETE FROM sqlite_sequence; PRAGMA user_version = 4"

/* Two rows written, then older_sql run (back to an older schema), and the store closed. */
static void
two_rows_then(struct fixture *fx, const char *older_sql)
{
	int64_t row;
	char *cause = NULL;

	assert_int_equal(tokens_intent(fx->s, "acme", "etl", "etl-1", T0 + DAY, T0, &row, &cause),
			 0);
	assert_int_equal(tokens_intent(fx->s, "acme", "bi", "bi-1", T0 + DAY, T0, &row, &cause), 0);
	exec_ok(fx->s, older_sql);
	store_close(fx->s);
	fx->s = NULL;
}

static void
migrate_two_rows(struct fixture *fx, const char *older_sql)
{
	char *cause = NULL;

	two_rows_then(fx, older_sql);
	assert_int_equal(store_open(fx->path, STORE_OPEN, &fx->s, &cause), 0);
}

/*
 * A copy of a schema 4 store opened in memory (restore) is migrated there,
 * its rows attested in a chain that holds, and the file is left as it was.
 */
static void
test_image_migrates_in_memory(void **state)
{
	struct fixture *fx = *state;
	struct store *old = NULL, *mem = NULL;
	struct seen seen;
	unsigned char *image = NULL;
	size_t size = 0;
	int64_t rows, count, bad;
	char head[EVENTS_HEAD_MAX], *cause = NULL;

	two_rows_then(fx, SCHEMA_4);
	assert_int_equal(store_open(fx->path, STORE_INSPECT, &old, &cause), 0);
	assert_int_equal(store_image(old, &image, &size, &cause), 0);
	assert_int_equal(store_open_image(old, "copy", image, size, &mem, &cause), 0);
	assert_int_equal(query_int(mem->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(differences(mem, INVENTORY_ALL, &seen, &rows), 0);
	assert_int_equal(rows, 2);
	assert_int_equal(events_verify(mem, &count, head, &bad, &cause), 0);
	assert_int_equal(count, 2);
	assert_int_equal(query_int(old->db, "PRAGMA user_version"), 4);
	store_close(mem);
	fx->s = old;
}

/* A schema 4 store's rows are recorded as they are when it is migrated, in a chain that holds. */
static void
test_migration_attests_rows(void **state)
{
	struct fixture *fx = *state;
	struct seen seen;
	int64_t rows, count, bad;
	char head[EVENTS_HEAD_MAX], *cause = NULL;
	int indexed = 0;
	sqlite3_stmt *st = NULL;

	migrate_two_rows(fx, SCHEMA_4);
	assert_int_equal(differences(fx->s, INVENTORY_ALL, &seen, &rows), 0);
	assert_int_equal(rows, 2);
	assert_int_equal(
	    query_int(fx->s->db, "SELECT count(*) FROM events WHERE kind = 'token.attested'"), 2);
	assert_int_equal(events_verify(fx->s, &count, head, &bad, &cause), 0);
	assert_int_equal(count, 2);
	/* The index serves rotate's look-up of each row's last event, correlated. */
	assert_int_equal(
	    sqlite3_prepare_v2(fx->s->db,
			       "EXPLAIN QUERY PLAN SELECT t.id, (SELECT max(id) FROM events "
			       "WHERE token_row = t.id) FROM tokens t",
			       -1, &st, NULL),
	    SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		if (strstr((const char *)sqlite3_column_text(st, 3), "USING INDEX events_by_row") !=
		    NULL)
			indexed = 1;
	sqlite3_finalize(st);
	assert_true(indexed);
}

/*
 * A schema 8 store's history gets its digest column when it is migrated: its rows
 * still follow from it, an edit still shows, and the chain holds the column.
 */
static void
test_migration_fills_digests(void **state)
{
	struct fixture *fx = *state;
	struct seen seen;
	int64_t rows, count, bad;
	char head[EVENTS_HEAD_MAX], *cause = NULL;

	/* Back to what schema 8 wrote: the digests in the details alone. */
	migrate_two_rows(fx, FIXTURE_SCHEMA_12
			 "DROP INDEX tokens_dead_held; "
			 "DROP INDEX events_by_row; ALTER TABLE events DROP COLUMN row_digest; "
			 "CREATE INDEX events_by_row ON events(token_row, id) "
			 "WHERE token_row IS NOT NULL; PRAGMA user_version = 8");
	assert_int_equal(query_int(fx->s->db,
				   "SELECT count(*) FROM events WHERE row_digest IS "
				   "json_extract(details, '$.digest') AND token_row > 0"),
			 2);
	assert_int_equal(differences(fx->s, INVENTORY_LIVE, &seen, &rows), 0);
	assert_int_equal(rows, 2);
	assert_int_equal(events_verify(fx->s, &count, head, &bad, &cause), 0);
	exec_ok(fx->s, "UPDATE tokens SET name = 'bi-2' WHERE id = 2");
	assert_int_equal(differences(fx->s, INVENTORY_LIVE, &seen, &rows), 1);
}

/* A part's bound: it takes the rows below (up) or from (down) row below. */
struct bound {
	struct inventory_part *part;
	struct seen seen;
	int64_t below;
	int asked; /* rows take was asked about */
};

static int
take_below(int64_t row, void *arg)
{
	struct bound *b = arg;

	b->asked++;
	return b->part->up ? row < b->below : row >= b->below;
}

static int
collect_bound(const struct inventory_diff *d, void *arg)
{
	return collect(d, &((struct bound *)arg)->seen);
}

/* Runs part (up or down) bounded at below into b; returns its differences. */
static int
run_part(struct store *s, struct inventory_part *part, struct bound *b, int up, int64_t below)
{
	char *cause = NULL;
	int n;

	memset(b, 0, sizeof *b);
	b->part = part;
	b->below = below;
	*part =
	    (struct inventory_part){.up = up, .take = take_below, .diff = collect_bound, .arg = b};
	n = inventory_verify_part(s, part, 1, &cause);
	if (n < 0)
		fail_msg("inventory_verify_part: %s", cause);
	return n;
}

/* Fails the test unless rows (n), then more (nmore), are tokens_live's, field by field. */
static void
assert_live_rows(struct store *s, const struct token_row *rows, size_t n,
		 const struct token_row *more, size_t nmore)
{
	struct token_row *live = NULL;
	size_t nlive = 0;
	char *cause = NULL;

	assert_int_equal(tokens_live(s, &live, &nlive, &cause), 0);
	assert_int_equal(n + nmore, nlive);
	for (size_t i = 0; i < n + nmore && i < nlive; i++)
		assert_same_row(i < n ? &rows[i] : &more[i - n], &live[i]);
	tokens_free(live, nlive);
}

/*
 * The check in two parts, as rotate shares it out: one from each end, each
 * for as long as its take says, meeting where the other stopped.  Between
 * them they compare every live row once, say each difference (the
 * descending part from its end), and read the rows as tokens_live does, in
 * id order, for the run's plan.
 */
static void
test_parts_cover_the_live_rows(void **state)
{
	struct fixture *fx = *state;
	static const unsigned char sealed[] = "not really sealed";
	struct token_import imp = {"beta",        NULL,   "tok-hand",    "by hand", T0,
				   T0 + 90 * DAY, sealed, sizeof sealed, "tw1:fpr"};
	struct inventory_part up, down;
	struct bound bu, bd;
	int64_t row;
	char name[32], *cause = NULL;

	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof name, "etl-%d", i);
		assert_int_equal(tokens_intent(fx->s, i < 5 ? "acme" : "beta", name, name, T0 + DAY,
					       T0, &row, &cause),
				 0);
	}
	assert_int_equal(tokens_import(fx->s, &imp, T0, &cause), 0); /* row 9: a secret */
	/* Not live: in no part. */
	exec_ok(fx->s, "UPDATE tokens SET state = 'failed' WHERE id = 8");
	/* Edited below the meeting point and from it, and the failed row too. */
	exec_ok(fx->s, "UPDATE tokens SET expires_at = expires_at + 1 WHERE id IN (2, 4, 6, 8, 9)");
	assert_int_equal(run_part(fx->s, &up, &bu, 1, 5), 2);
	assert_int_equal(run_part(fx->s, &down, &bd, 0, 5), 2);
	assert_int_equal(up.compared, 4);
	assert_int_equal(down.compared, 4); /* 5, 6, 7 and 9; 8 failed */
	assert_int_equal(bu.seen.rows[0], 2);
	assert_int_equal(bu.seen.rows[1], 4);
	assert_int_equal(bd.seen.rows[0], 9);
	assert_int_equal(bd.seen.rows[1], 6);
	/* Each stopped at the first row refused. */
	assert_int_equal(bu.asked, 5);
	assert_int_equal(bd.asked, 5);
	assert_int_equal(up.nrows, 4);
	assert_int_equal(down.nrows, 4);
	assert_live_rows(fx->s, up.rows, up.nrows, down.rows, down.nrows);
	tokens_free(up.rows, up.nrows);
	tokens_free(down.rows, down.nrows);

	/* One part that is refused nothing takes every row; the other then none. */
	assert_int_equal(run_part(fx->s, &down, &bd, 0, INT64_MIN), 4);
	assert_int_equal(run_part(fx->s, &up, &bu, 1, INT64_MIN), 0);
	assert_int_equal(down.compared, 8);
	assert_int_equal(up.compared, 0);
	assert_null(up.rows);
	assert_live_rows(fx->s, up.rows, up.nrows, down.rows, down.nrows);
	tokens_free(down.rows, down.nrows);

	/* A row whose workspace is gone is compared (it differs), but no plan reads it. */
	exec_ok(fx->s,
		"PRAGMA foreign_keys = OFF; UPDATE tokens SET workspace_id = 99 WHERE id = 1; "
		"PRAGMA foreign_keys = ON");
	assert_int_equal(run_part(fx->s, &up, &bu, 1, INT64_MAX), 5);
	assert_int_equal(up.compared, 8);
	assert_int_equal(up.nrows, 7);
	assert_int_equal(bu.seen.rows[0], 1);
	assert_live_rows(fx->s, up.rows, up.nrows, NULL, 0);
	tokens_free(up.rows, up.nrows);

	/* No live row: nothing compared, no rows. */
	exec_ok(fx->s, "UPDATE tokens SET state = 'failed'");
	assert_int_equal(run_part(fx->s, &up, &bu, 1, INT64_MAX), 0);
	assert_int_equal(up.compared, 0);
	assert_null(up.rows);
	assert_int_equal(up.nrows, 0);
	assert_null(cause);
}

/* Row row's live state and whether it holds a secret, as the tables say. */
struct fact {
	int live, secret;
};

/* Adds rows the LIVE check (live) or every check finds to want, from facts before and now. */
static int
changed_rows(const struct fact *before, const struct fact *now, int64_t n, int live,
	     int64_t want[8])
{
	int k = 0;

	for (int64_t r = 1; r <= n; r++)
		if (before[r].secret != now[r].secret && (!live || now[r].live))
			want[k++] = r;
	return k;
}

/* Fails the test unless got (n, in any order) is want (k, ascending). */
static void
assert_rows(const int64_t *got, int n, const int64_t *want, int k)
{
	int64_t sorted[16];

	assert_int_equal(n, k);
	memcpy(sorted, got, (size_t)n * sizeof *got);
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
			int64_t t = sorted[j];

			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	for (int i = 0; i < n; i++)
		assert_int_equal(sorted[i], want[i]);
}

/*
 * A secret removed or planted outside tokenwarden changes its row's
 * digest, and each check finds it: the whole one, the run's, and its two
 * parts wherever they meet, walking up and down through rows with and
 * without secrets, live and deleted, each part reading has_secret as
 * tokens_live does.  Rows: 40, a third with no secret (intents), every
 * fourth of the rest deleted; then secrets removed and planted on live and
 * deleted rows alike.
 */
static void
test_secrets_found_either_way(void **state)
{
	enum { NROWS = 40 };
	struct fixture *fx = *state;
	static const unsigned char sealed[] = "not really sealed";
	struct fact before[NROWS + 1], now[NROWS + 1];
	struct inventory_part up, down;
	struct bound bu, bd;
	struct seen seen;
	int64_t row, rows, want[8], got[16];
	char name[32], *cause = NULL;
	int k, n;

	for (int i = 1; i <= NROWS; i++) {
		snprintf(name, sizeof name, "tok-%d", i);
		if (i % 3 == 0) {
			assert_int_equal(tokens_intent(fx->s, i % 2 ? "acme" : "beta", name, name,
						       T0 + DAY, T0, &row, &cause),
					 0);
		} else {
			struct token_import imp = {
			    i % 2 ? "acme" : "beta", NULL,   name,          name,     T0,
			    T0 + 90 * DAY,           sealed, sizeof sealed, "tw1:fpr"};

			assert_int_equal(tokens_import(fx->s, &imp, T0, &cause), 0);
			row = i;
		}
		assert_int_equal(row, i);
		before[i] = (struct fact){1, i % 3 != 0};
		if (i % 3 != 0 && i % 4 == 0) {
			/* Its secret erased with it. */
			assert_int_equal(tokens_transition(fx->s, row, TOKEN_ACTIVE, TOKEN_DELETED,
							   T0, NULL, &cause),
					 0);
			before[i].live = 0;
			before[i].secret = 0;
		}
	}
	assert_int_equal(differences(fx->s, INVENTORY_ALL, &seen, &rows), 0);
	assert_int_equal(rows, NROWS);
	assert_int_equal(differences(fx->s, INVENTORY_LIVE, &seen, &rows), 0);
	/* Removed from live rows 1 and 38 (the first and last with one) and 19;
	 * planted on live 3 and 39, and on deleted 8 (a deleted row's was erased
	 * with it). */
	memcpy(now, before, sizeof now);
	exec_ok(fx->s, "DELETE FROM secrets WHERE token_row IN (1, 38, 19)");
	exec_ok(fx->s,
		"INSERT INTO secrets (token_row, sealed, key_fingerprint) "
		"VALUES (3, x'00', 'tw1:fpr'), (39, x'00', 'tw1:fpr'), (8, x'00', 'tw1:fpr')");
	now[1].secret = now[38].secret = now[19].secret = 0;
	now[3].secret = now[39].secret = now[8].secret = 1;

	k = changed_rows(before, now, NROWS, 0, want);
	assert_int_equal(differences(fx->s, INVENTORY_ALL, &seen, &rows), k + 3);
	assert_rows(seen.rows, seen.n, want, k);
	/* And the secrets planted, which no event records, as secrets (the live check reads none).
	 */
	assert_int_equal(seen.nsecrets, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(seen.secrets[i].what, INVENTORY_UNRECORDED);
		assert_int_equal(seen.secrets[i].row, i == 0 ? 3 : i == 1 ? 8 : 39);
	}
	k = changed_rows(before, now, NROWS, 1, want);
	assert_int_equal(differences(fx->s, INVENTORY_LIVE, &seen, &rows), k);
	assert_rows(seen.rows, seen.n, want, k);
	/* The parts, meeting at every row and past either end. */
	for (int64_t m = 0; m <= NROWS + 2; m++) {
		n = run_part(fx->s, &up, &bu, 1, m);
		n += run_part(fx->s, &down, &bd, 0, m);
		assert_int_equal(n, k);
		memcpy(got, bu.seen.rows, (size_t)bu.seen.n * sizeof *got);
		memcpy(got + bu.seen.n, bd.seen.rows, (size_t)bd.seen.n * sizeof *got);
		assert_rows(got, bu.seen.n + bd.seen.n, want, k);
		assert_live_rows(fx->s, up.rows, up.nrows, down.rows, down.nrows);
		tokens_free(up.rows, up.nrows);
		tokens_free(down.rows, down.nrows);
	}
	/* Put back as they were ("not really sealed"): no difference in any check again. */
	exec_ok(fx->s, "DELETE FROM secrets WHERE token_row IN (3, 39, 8)");
	exec_ok(fx->s, "INSERT INTO secrets (token_row, sealed, key_fingerprint) SELECT value, "
		       "x'6e6f74207265616c6c79207365616c656400', 'tw1:fpr' FROM json_each('[1, 38, "
		       "19]')");
	assert_int_equal(differences(fx->s, INVENTORY_ALL, &seen, &rows), 0);
	assert_int_equal(run_part(fx->s, &up, &bu, 1, 21) + run_part(fx->s, &down, &bd, 0, 21), 0);
	assert_live_rows(fx->s, up.rows, up.nrows, down.rows, down.nrows);
	tokens_free(up.rows, up.nrows);
	tokens_free(down.rows, down.nrows);
	assert_null(cause);
}

/* Row's stored secret held to its history: 0 as recorded, 1 not, with *event. */
static int
sealed_check(struct store *s, int64_t row, int64_t *event)
{
	unsigned char *blob = NULL;
	size_t len = 0;
	char *fpr = NULL, *cause = NULL;
	int rc;

	assert_int_equal(tokens_sealed(s, row, &blob, &len, &fpr, &cause), 0);
	rc = inventory_sealed_check(s, row, fpr, blob, len, event, &cause);
	if (rc < 0)
		fail_msg("inventory_sealed_check: %s", cause);
	free(blob);
	free(fpr);
	return rc;
}

/*
 * One difference of a sealed secret, row's: what, and the event it names.
 * Returns the differences of token rows seen beside it.
 */
static int
assert_secret_differs(struct store *s, int64_t row, enum inventory_difference what, int64_t event)
{
	struct seen seen;
	int64_t rows, got = -1;
	int n = differences(s, INVENTORY_ALL, &seen, &rows), tokens = seen.n;

	assert_int_equal(n, tokens + 1);
	assert_int_equal(seen.nsecrets, 1);
	assert_int_equal(seen.secrets[0].row, row);
	assert_int_equal(seen.secrets[0].what, what);
	assert_int_equal(seen.secrets[0].event, event);
	/* The run's check reads no blob. */
	n = differences(s, INVENTORY_LIVE, &seen, &rows);
	assert_int_equal(n, seen.n);
	assert_int_equal(seen.nsecrets, 0);
	assert_int_equal(sealed_check(s, row, &got), 1);
	assert_int_equal(got, event);
	return tokens;
}

/*
 * Each event that stores a sealed secret records its digest ("sealed"), so
 * a blob or its key's fingerprint replaced outside tokenwarden, or a secret
 * given to a row that had none, is found by the whole check, naming the
 * event, and by inventory_sealed_check, which secret reveal asks.  Rows: 1
 * created, 2 imported with a secret, 3 imported without.
 */
static void
test_sealed_secrets_follow_history(void **state)
{
	struct fixture *fx = *state;
	static const unsigned char sealed[] = "not really sealed";
	struct token_import imp = {"acme",        "bi",   "tok-2",       "bi-1",   T0,
				   T0 + 90 * DAY, sealed, sizeof sealed, "tw1:fpr"};
	struct seen seen;
	int64_t row, rows, event = -1, created, imported, bare;
	char *cause = NULL;

	assert_int_equal(tokens_intent(fx->s, "acme", "etl", "etl-1", T0 + DAY, T0, &row, &cause),
			 0);
	assert_int_equal(tokens_created(fx->s, row, "tok-1", T0, T0 + DAY, sealed, sizeof sealed,
					"tw1:fpr", T0, &cause),
			 0);
	assert_int_equal(tokens_import(fx->s, &imp, T0, &cause), 0);
	imp.slot = "ops";
	imp.token = "tok-3";
	imp.name = "ops-1";
	imp.sealed = NULL;
	imp.sealed_len = 0;
	assert_int_equal(tokens_import(fx->s, &imp, T0, &cause), 0);
	created = query_int(fx->s->db, "SELECT id FROM events WHERE kind = 'token.created'");
	imported = query_int(fx->s->db, "SELECT min(id) FROM events WHERE kind = 'token.imported'");
	bare = query_int(fx->s->db, "SELECT max(id) FROM events WHERE kind = 'token.imported'");
	assert_int_equal(differences(fx->s, INVENTORY_ALL, &seen, &rows), 0);
	assert_int_equal(sealed_check(fx->s, 1, &event), 0);
	assert_int_equal(event, created);
	assert_int_equal(sealed_check(fx->s, 2, &event), 0);
	assert_int_equal(event, imported);

	/* Another blob of the same length. */
	exec_ok(fx->s, "UPDATE secrets SET sealed = zeroblob(length(sealed)) WHERE token_row = 1");
	assert_int_equal(assert_secret_differs(fx->s, 1, INVENTORY_EDITED, created), 0);
	/* Another key's fingerprint, the blob as it was. */
	exec_ok(fx->s, "UPDATE secrets SET sealed = (SELECT sealed FROM secrets WHERE token_row = "
		       "2) WHERE token_row = 1; UPDATE secrets SET key_fingerprint = 'tw1:other' "
		       "WHERE token_row = 2");
	assert_int_equal(assert_secret_differs(fx->s, 2, INVENTORY_EDITED, imported), 0);
	/* The same bytes as text: the whole check holds the type too. */
	exec_ok(fx->s, "UPDATE secrets SET key_fingerprint = 'tw1:fpr' WHERE token_row = 2; "
		       "UPDATE secrets SET sealed = CAST(sealed AS TEXT) WHERE token_row = 2");
	assert_int_equal(differences(fx->s, INVENTORY_ALL, &seen, &rows), 1);
	assert_int_equal(seen.secrets[0].row, 2);
	exec_ok(fx->s, "UPDATE secrets SET sealed = CAST(sealed AS BLOB) WHERE token_row = 2");
	assert_int_equal(differences(fx->s, INVENTORY_ALL, &seen, &rows), 0);
	/* A secret given to the row imported without one: the row differs too. */
	exec_ok(fx->s, "INSERT INTO secrets SELECT 3, sealed, key_fingerprint FROM secrets WHERE "
		       "token_row = 2");
	assert_int_equal(assert_secret_differs(fx->s, 3, INVENTORY_UNRECORDED, bare), 1);
	assert_int_equal(differences(fx->s, INVENTORY_ALL, &seen, &rows), 2);
	assert_int_equal(seen.rows[0], 3);
	assert_null(cause);
}

/*
 * A schema 18 store's sealed secrets are recorded as they are when it is
 * migrated, a secret.recorded event each in a chain that holds, so a blob
 * replaced after that shows; a secret of a row that is not there stays
 * unrecorded and does not stop the migration.
 */
static void
test_migration_records_secrets(void **state)
{
	struct fixture *fx = *state;
	static const unsigned char sealed[] = "not really sealed";
	struct token_import imp = {"acme",        "etl",  "tok-1",       "etl-1",  T0,
				   T0 + 90 * DAY, sealed, sizeof sealed, "tw1:fpr"};
	struct seen seen;
	int64_t rows, count, bad;
	char head[EVENTS_HEAD_MAX], *cause = NULL;

	assert_int_equal(tokens_import(fx->s, &imp, T0, &cause), 0);
	imp.slot = "bi";
	imp.token = "tok-2";
	imp.name = "bi-1";
	assert_int_equal(tokens_import(fx->s, &imp, T0, &cause), 0);
	/* An editor's connection checks no foreign key (SQLite's default). */
	exec_ok(fx->s, "PRAGMA foreign_keys = OFF; INSERT INTO secrets VALUES (99, x'01', "
		       "'tw1:fpr'); PRAGMA foreign_keys = ON; "
		       "ALTER TABLE handed DROP COLUMN superseded; PRAGMA user_version = 18");
	store_close(fx->s);
	fx->s = NULL;
	assert_int_equal(store_open(fx->path, STORE_OPEN, &fx->s, &cause), 0);
	assert_int_equal(query_int(fx->s->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(query_int(fx->s->db, "SELECT count(*) FROM events WHERE kind = "
					      "'secret.recorded' AND token_row IN (1, 2)"),
			 2);
	assert_int_equal(events_verify(fx->s, &count, head, &bad, &cause), 0);
	assert_int_equal(count, 4);
	assert_int_equal(differences(fx->s, INVENTORY_ALL, &seen, &rows), 1);
	assert_int_equal(seen.nsecrets, 1);
	assert_int_equal(seen.secrets[0].row, 99);
	assert_int_equal(seen.secrets[0].what, INVENTORY_UNRECORDED);
	exec_ok(fx->s,
		"DELETE FROM secrets WHERE token_row = 99; UPDATE secrets SET sealed = x'02' "
		"WHERE token_row = 1");
	assert_int_equal(
	    assert_secret_differs(fx->s, 1, INVENTORY_EDITED,
				  query_int(fx->s->db, "SELECT min(id) FROM events "
						       "WHERE kind = 'secret.recorded'")),
	    0);
}

/* Imports workspace acme's token (slot, name) with a sealed secret; fails the test if refused. */
static void
import_sealed(struct store *s, const char *slot, const char *token, const char *name)
{
	static const unsigned char sealed[] = "not really sealed";
	struct token_import imp = {"acme",        slot,   token,         name,     T0,
				   T0 + 90 * DAY, sealed, sizeof sealed, "tw1:fpr"};
	char *cause = NULL;

	if (tokens_import(s, &imp, T0, &cause) < 0)
		fail_msg("tokens_import %s: %s", token, cause);
}

/*
 * A token deleted or revoked on the server no longer opens anything: its
 * sealed secret is erased with the row's move (its event says so), the
 * history then records the row without one, and a secret put back outside
 * tokenwarden is found, naming that event.  Rows: 1 deleted, 2 revoked,
 * 3 live; a deletion recorded for a token the store does not hold erases
 * nothing.
 */
static void
test_dead_secrets_erased(void **state)
{
	struct fixture *fx = *state;
	json_t *d = json_pack("{s:s}", "answer", "deleted");
	struct seen seen;
	int64_t rows, deleted;
	char *cause = NULL;

	import_sealed(fx->s, "etl", "tok-1", "etl-1");
	import_sealed(fx->s, "bi", "tok-2", "bi-1");
	import_sealed(fx->s, "ops", "tok-3", "ops-1");
	assert_int_equal(tokens_mark_deleted(fx->s, "acme", "tok-1", T0 + DAY, d, &cause), 0);
	assert_int_equal(
	    tokens_transition(fx->s, 2, TOKEN_ACTIVE, TOKEN_REVOKED, T0 + DAY, d, &cause), 0);
	assert_int_equal(tokens_mark_deleted(fx->s, "acme", "tok-none", T0 + DAY, d, &cause), 0);
	assert_int_equal(query_int(fx->s->db, "SELECT group_concat(token_row) FROM secrets"), 3);
	assert_int_equal(query_int(fx->s->db, "SELECT count(*) FROM events WHERE "
					      "json_extract(details, '$.secret') = 'erased'"),
			 2);
	assert_int_equal(query_int(fx->s->db, "SELECT count(*) FROM events WHERE kind = "
					      "'token.deleted' AND token = 'tok-none' AND "
					      "json_extract(details, '$.secret') IS NULL"),
			 1);
	assert_int_equal(differences(fx->s, INVENTORY_ALL, &seen, &rows), 0);
	assert_int_equal(rows, 3);

	/* Put back: no event after the erasure records it. */
	deleted = query_int(fx->s->db, "SELECT id FROM events WHERE kind = 'token.deleted' AND "
				       "token_row = 1");
	exec_ok(fx->s, "INSERT INTO secrets (token_row, sealed, key_fingerprint) SELECT 1, sealed, "
		       "key_fingerprint FROM secrets WHERE token_row = 3");
	assert_int_equal(assert_secret_differs(fx->s, 1, INVENTORY_UNRECORDED, deleted), 1);
	json_decref(d);
	assert_null(cause);
}

/*
 * Schema 19 to 20 erases the secrets a store still holds of deleted and
 * revoked tokens, each recorded by a secret.erased event; a live row's
 * stays, and the whole check and the chain hold after.
 */
static void
test_migration_erases_dead_secrets(void **state)
{
	struct fixture *fx = *state;
	struct seen seen;
	int64_t rows, count, bad;
	char head[EVENTS_HEAD_MAX], *cause = NULL;

	import_sealed(fx->s, "etl", "tok-1", "etl-1");
	import_sealed(fx->s, "bi", "tok-2", "bi-1");
	import_sealed(fx->s, "ops", "tok-3", "ops-1");
	/* As schema 19 left them: rows 1 deleted and 2 revoked, each with its secret. */
	exec_ok(fx->s,
		"UPDATE tokens SET state = 'deleted' WHERE id = 1; UPDATE tokens SET state = "
		"'revoked' WHERE id = 2; ALTER TABLE handed DROP COLUMN superseded; "
		"PRAGMA user_version = 19");
	store_close(fx->s);
	fx->s = NULL;
	assert_int_equal(store_open(fx->path, STORE_OPEN, &fx->s, &cause), 0);
	assert_int_equal(query_int(fx->s->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(query_int(fx->s->db, "SELECT group_concat(token_row) FROM secrets"), 3);
	assert_int_equal(query_int(fx->s->db, "SELECT count(*) FROM events WHERE kind = "
					      "'secret.erased' AND token_row IN (1, 2)"),
			 2);
	assert_int_equal(events_verify(fx->s, &count, head, &bad, &cause), 0);
	assert_int_equal(count, 5);
	/* The events record the rows as they then stand, without their secrets. */
	assert_int_equal(differences(fx->s, INVENTORY_ALL, &seen, &rows), 0);
	assert_null(cause);
}

/* The digest row's last event recorded; fails the test when it has none. */
static void
event_digest(struct store *s, int64_t row, char out[INVENTORY_DIGEST_MAX])
{
	sqlite3_stmt *st = NULL;

	assert_int_equal(sqlite3_prepare_v2(s->db,
					    "SELECT json_extract(details, '$.digest') FROM events "
					    "WHERE token_row = ?1 ORDER BY id DESC LIMIT 1",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_int64(st, 1, row);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_non_null(sqlite3_column_text(st, 0));
	snprintf(out, INVENTORY_DIGEST_MAX, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

/* Sets row's copy of its last digest to what sql (an expression) gives. */
static void
set_copy(struct store *s, int64_t row, const char *sql)
{
	char *update = xasprintf("UPDATE tokens SET recorded_digest = %s WHERE id = %lld", sql,
				 (long long)row);

	exec_ok(s, update);
	free(update);
}

/*
 * A row keeps a copy of its last event's digest, which a run's check reads
 * in place of the event: a copy edited alone is found by both checks, and
 * one made to match an edited row by audit verify's, which holds every
 * copy to its event.  A digest in an event not as tokenwarden writes it
 * (upper case, short, long, not hex, not text) makes no copy that matches.
 */
static void
test_recorded_copy(void **state)
{
	struct fixture *fx = *state;
	static const char *const copies[] = {
	    "NULL",
	    "zeroblob(32)",
	    "substr(recorded_digest, 1, 31)",
	    "recorded_digest || x'00'",
	    "lower(hex(recorded_digest))",
	    "CAST(recorded_digest AS TEXT)",
	};
	struct seen seen;
	int64_t r1, r2, rows;
	char digest[INVENTORY_DIGEST_MAX], *cause = NULL, *ws = NULL, *slot = NULL, *token = NULL;
	char *hexes[6], *restore;
	json_t *d;

	assert_int_equal(
	    tokens_intent(fx->s, "acme", "etl", "etl-1", T0 + 10 * DAY, T0, &r1, &cause), 0);
	assert_int_equal(tokens_intent(fx->s, "acme", "bi", "bi-1", T0 + 10 * DAY, T0, &r2, &cause),
			 0);
	event_digest(fx->s, r1, digest);
	restore = xasprintf("x'%s'", digest);

	/* The copy edited alone, each way. */
	for (size_t i = 0; i < sizeof copies / sizeof *copies; i++) {
		set_copy(fx->s, r1, copies[i]);
		assert_int_equal(differences(fx->s, INVENTORY_LIVE, &seen, &rows), 1);
		assert_int_equal(seen.last.row, r1);
		assert_int_equal(seen.last.what, INVENTORY_EDITED);
		assert_int_equal(differences(fx->s, INVENTORY_ALL, &seen, &rows), 1);
		set_copy(fx->s, r1, restore);
		assert_int_equal(differences(fx->s, INVENTORY_ALL, &seen, &rows), 0);
	}
	/* Another row's copy. */
	set_copy(fx->s, r1, "(SELECT recorded_digest FROM tokens WHERE name = 'bi-1')");
	assert_int_equal(differences(fx->s, INVENTORY_LIVE, &seen, &rows), 1);
	set_copy(fx->s, r1, restore);

	/* An edited row with its copy made to match: audit verify's check finds it. */
	exec_ok(fx->s, "UPDATE tokens SET expires_at = expires_at + 86400000 WHERE name = 'etl-1'");
	d = json_object();
	assert_int_equal(inventory_stamp(fx->s, r1, d, &ws, &slot, &token, &cause), 0);
	free(restore);
	restore = xasprintf("x'%s'", json_string_value(json_object_get(d, "digest")));
	set_copy(fx->s, r1, restore);
	assert_int_equal(differences(fx->s, INVENTORY_LIVE, &seen, &rows), 0);
	assert_int_equal(differences(fx->s, INVENTORY_ALL, &seen, &rows), 1);
	assert_int_equal(seen.last.row, r1);
	assert_int_equal(seen.last.what, INVENTORY_EDITED);
	json_decref(d);

	/* Digests an event might name: only the exact form makes a copy that matches. */
	event_digest(fx->s, r2, digest);
	hexes[0] = xasprintf("%s", digest);
	hexes[1] = xasprintf("%.63s", digest);
	hexes[2] = xasprintf("%s0", digest);
	hexes[3] = xasprintf("%.63sg", digest);
	hexes[4] = xasprintf("%s", digest);
	for (char *c = hexes[4]; *c != '\0'; c++)
		*c = (char)(*c >= 'a' && *c <= 'f' ? *c - 'a' + 'A' : *c);
	hexes[5] = NULL;
	for (size_t i = 0; i < 6; i++) {
		d = json_pack("{s:I}", "row", (json_int_t)r2);
		if (hexes[i] != NULL)
			json_object_set_new(d, "digest", json_string(hexes[i]));
		else
			json_object_set_new(d, "digest", json_integer(7));
		assert_int_equal(inventory_record(fx->s, d, &cause), 0);
		assert_int_equal(differences(fx->s, INVENTORY_LIVE, &seen, &rows), i == 0 ? 0 : 1);
		json_decref(d);
		free(hexes[i]);
	}
	/* Details that name no row change no copy. */
	d = json_pack("{s:s, s:s}", "row", "2", "digest", digest);
	assert_int_equal(inventory_record(fx->s, d, &cause), 0);
	json_decref(d);
	assert_int_equal(differences(fx->s, INVENTORY_LIVE, &seen, &rows), 1);
	assert_int_equal(seen.last.row, r2);
	free(restore);
	free(ws);
	free(slot);
	free(token);
	assert_null(cause);
}

/*
 * A schema 12 store's rows get their copies from the history when it is
 * migrated: a row edited before still shows after, the others do not.
 */
static void
test_migration_copies_digests(void **state)
{
	struct fixture *fx = *state;
	struct seen seen;
	int64_t rows;

	migrate_two_rows(fx, FIXTURE_SCHEMA_12 "UPDATE tokens SET name = 'bi-2' WHERE name = "
					       "'bi-1'; PRAGMA user_version = 12");
	assert_int_equal(query_int(fx->s->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(
	    query_int(fx->s->db, "SELECT count(*) FROM tokens WHERE length(recorded_digest) = 32"),
	    2);
	assert_int_equal(differences(fx->s, INVENTORY_LIVE, &seen, &rows), 1);
	assert_int_equal(rows, 2);
	assert_int_equal(seen.last.row, 2);
	assert_int_equal(differences(fx->s, INVENTORY_ALL, &seen, &rows), 1);
	assert_int_equal(seen.last.row, 2);
}

/*
 * A row's digest is BLAKE2b-256 of the tag "tokenwarden-row-v1" with its
 * NUL, then each column: 'n' for NULL, 'i' and 8 bytes big-endian for an
 * integer, 't', its length in 8 bytes big-endian and its bytes for text.
 * Stores keep the digests of every past version, so however the code
 * computes it, it must stay these bytes: the values below were computed
 * from that description alone (Python's hashlib.blake2b), one row short
 * and one with a slot name longer than any buffer the code hashes through.
 */
static void
test_digest_is_stable(void **state)
{
	struct fixture *fx = *state;
	char digest[INVENTORY_DIGEST_MAX], *cause = NULL, slot[1501], name[41];
	struct seen seen;
	int64_t row, rows;

	assert_int_equal(
	    tokens_intent(fx->s, "acme", "etl", "etl-1", T0 + 10 * DAY, T0, &row, &cause), 0);
	event_digest(fx->s, row, digest);
	assert_string_equal(digest,
			    "7f9f2dbd03e108531e6e65817701f99ec0775c303284fec0b0db508940a8bdc5");
	memset(slot, 'x', sizeof slot - 1);
	slot[sizeof slot - 1] = '\0';
	memset(name, 'y', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	assert_int_equal(tokens_intent(fx->s, "acme", slot, name, T0 + 10 * DAY, T0, &row, &cause),
			 0);
	event_digest(fx->s, row, digest);
	assert_string_equal(digest,
			    "a11791f4eedfb2c01988c09638365502977fea0dc802db59b9c083032bdbd98d");
	/* The check makes the same bytes from the names it reads once, the long one too. */
	assert_int_equal(differences(fx->s, INVENTORY_LIVE, &seen, &rows), 0);
	assert_int_equal(rows, 2);
	assert_null(cause);
}

/*
 * The check reads the names of workspaces and slots once rather than
 * joining them for each row, and hashes them as the join reads them: a name
 * stored as an integer, or as a blob with a NUL inside, by an edit outside
 * tokenwarden, is the same bytes either way, and a row whose slot is gone
 * reads as the join's NULL.
 */
static void
test_names_as_joined(void **state)
{
	struct fixture *fx = *state;
	static const unsigned char sealed[] = "not really sealed";
	struct seen seen;
	int64_t r1, r2, rows;
	char *cause = NULL;

	assert_int_equal(
	    tokens_intent(fx->s, "acme", "etl", "etl-1", T0 + 10 * DAY, T0, &r1, &cause), 0);
	assert_int_equal(tokens_intent(fx->s, "acme", "bi", "bi-1", T0 + 10 * DAY, T0, &r2, &cause),
			 0);
	exec_ok(fx->s, "UPDATE workspaces SET name = 5; UPDATE slots SET name = x'65740074' "
		       "WHERE name = 'etl'; PRAGMA foreign_keys = OFF; DELETE FROM slots WHERE "
		       "name = 'bi'; PRAGMA foreign_keys = ON");
	/* Edits outside tokenwarden: found, each row once. */
	assert_int_equal(differences(fx->s, INVENTORY_LIVE, &seen, &rows), 2);
	/* Recorded as they now stand, through the join. */
	assert_int_equal(tokens_created(fx->s, r1, "tok-1", T0, T0 + 10 * DAY, sealed,
					sizeof sealed, "tw1:fpr", T0, &cause),
			 0);
	assert_int_equal(tokens_created(fx->s, r2, "tok-2", T0, T0 + 10 * DAY, sealed,
					sizeof sealed, "tw1:fpr", T0, &cause),
			 0);
	assert_int_equal(differences(fx->s, INVENTORY_LIVE, &seen, &rows), 0);
	assert_int_equal(differences(fx->s, INVENTORY_ALL, &seen, &rows), 0);
	assert_int_equal(rows, 2);
	assert_null(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_every_change_is_recorded, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_edits_are_found, fixture_setup, fixture_teardown),
	    cmocka_unit_test(test_texts),
	    cmocka_unit_test_setup_teardown(test_records_follow_history, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_no_records_no_event, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_migration_attests_rows, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_image_migrates_in_memory, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_parts_cover_the_live_rows, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_secrets_found_either_way, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_migration_fills_digests, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_digest_is_stable, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_names_as_joined, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_recorded_copy, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_sealed_secrets_follow_history, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_migration_records_secrets, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_migration_copies_digests, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_dead_secrets_erased, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_migration_erases_dead_secrets, fixture_setup,
					    fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
