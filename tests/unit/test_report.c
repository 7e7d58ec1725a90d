/*
 * Unit tests for core/report's reading of the live rows in two parts at
 * once: the plan gets every live row once, in id order, as one reading
 * gives them; and while another connection keeps changing the store, each
 * reading is of one state of it, never half of one and half of another.
 * Also the plan a run makes of them (rotate_plan), which leaves out the
 * violations when no alert wants them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/audit.h"
#include "core/report.h"
#include "core/rotate.h"
#include "core/violations.h"
#include "policies/policy.h"
#include "store/events.h"
#include "store_fixture.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define T0 1767225600000LL /* 2026-01-01T00:00Z */
#define DAY 86400000LL
#define ROWS 20000

static const char policy_yaml[] = "version: 1\n"
				  "defaults: { lifetime: 30d, rotate_before: 6d, grace: 1d }\n"
				  "workspaces:\n"
				  "  - name: acme\n"
				  "    credential: c\n"
				  "    tokens: [ { name: etl } ]\n";

static struct policy *
load_yaml(const char *yaml)
{
	struct diag_list d;
	struct policy *p = NULL;

	if (policy_load_buffer("t.yaml", yaml, strlen(yaml), NULL, &p, &d) < 0)
		fail_msg("the test policy does not load");
	diag_free(&d);
	return p;
}

static struct policy *
load_policy(void)
{
	return load_yaml(policy_yaml);
}

static void
exec_ok(struct store *s, const char *sql)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(s->db));
}

/*
 * ROWS live rows: etl's active token first (row 1), unmanaged ones, and
 * etl's retiring token last (row ROWS), so that the two parts of a reading
 * read one each.
 */
static void
fill(struct store *s)
{
	char *cause = NULL, *sql;

	exec_ok(s, "INSERT INTO workspaces (id, name) VALUES (1, 'acme'); "
		   "INSERT INTO slots (id, workspace_id, name) VALUES (1, 1, 'etl')");
	sql = xasprintf(
	    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d) "
	    "INSERT INTO tokens (id, workspace_id, slot_id, token, name, state, origin, "
	    "requested_at, created_at, expires_at, updated_at) SELECT i, 1, "
	    "CASE WHEN i IN (1, %d) THEN 1 END, 'tok-' || i, 'name-' || i, CASE i WHEN 1 THEN "
	    "'active' WHEN %d THEN 'retiring' ELSE 'active' END, 'created', %lld, %lld, %lld, "
	    "%lld FROM n",
	    ROWS, ROWS, ROWS, T0, T0, T0 + 30 * DAY, T0);
	exec_ok(s, sql);
	free(sql);
	assert_int_equal(store_begin(s, &cause), 0);
	assert_int_equal(events_append(s, T0, "run.start", NULL, NULL, NULL, NULL, &cause), 0);
	assert_int_equal(store_commit(s, &cause), 0);
}

/* The plan's rows, in order: r->rows then r->more. */
static const struct token_row *
row_at(const struct report *r, size_t i)
{
	return i < r->nrows ? &r->rows[i] : &r->more[i - r->nrows];
}

/* Both parts read, between them every live row once, in id order. */
static void
test_every_row_once(void **state)
{
	struct fixture *fx = *state;
	struct policy *p = load_policy();
	struct report r;
	char *cause = NULL;

	fill(fx->s);
	if (report_build_plan(fx->s, p, T0, NULL, 0, &r, &cause) < 0)
		fail_msg("report_build_plan: %s", cause);
	assert_int_equal(r.nrows + r.nmore, ROWS);
	for (size_t i = 0; i < ROWS; i++) {
		char want[32];

		assert_int_equal(row_at(&r, i)->row, (int64_t)i + 1);
		snprintf(want, sizeof want, "tok-%zu", i + 1);
		assert_string_equal(row_at(&r, i)->token, want);
	}
	report_free(&r);
	policy_free(p);
	assert_null(cause);
}

/* Another connection swapping etl's active and retiring tokens, one change a transaction. */
struct swapper {
	const char *path;
	atomic_int stop;
	int swaps;
};

static void *
swap_loop(void *arg)
{
	struct swapper *w = arg;
	struct store *s = NULL;
	char *cause = NULL, *sql;

	if (store_open(w->path, STORE_OPEN, &s, &cause) < 0)
		fail_msg("%s", cause);
	store_set_actor(s, "swapper@host");
	while (!atomic_load(&w->stop)) {
		/* The active one retires first: the schema allows one active token a slot. */
		int64_t from = w->swaps % 2 == 0 ? 1 : ROWS, to = from == 1 ? ROWS : 1;

		sql = xasprintf("UPDATE tokens SET state = 'retiring' WHERE id = %lld; "
				"UPDATE tokens SET state = 'active' WHERE id = %lld",
				(long long)from, (long long)to);
		if (store_begin(s, &cause) < 0 || sqlite3_exec(s->db, sql, NULL, NULL, NULL) != 0 ||
		    events_append(s, T0, "run.start", NULL, NULL, NULL, NULL, &cause) < 0 ||
		    store_commit(s, &cause) < 0)
			fail_msg("swap: %s", cause != NULL ? cause : sqlite3_errmsg(s->db));
		free(sql);
		w->swaps++;
	}
	store_close(s);
	return NULL;
}

/*
 * While another connection keeps swapping the slot's active token between
 * the first row and the last, every plan reads exactly one of them active:
 * the two parts' readings are of one state of the store.
 */
static void
test_one_state_while_written(void **state)
{
	struct fixture *fx = *state;
	struct policy *p = load_policy();
	struct swapper w = {.path = fx->path};
	pthread_t t;
	char *cause = NULL;
	int split = 0;

	fill(fx->s);
	assert_int_equal(pthread_create(&t, NULL, swap_loop, &w), 0);
	for (int k = 0; k < 150; k++) {
		struct report r;
		int active = 0;

		assert_int_equal(report_build_plan(fx->s, p, T0, NULL, 0, &r, &cause), 0);
		assert_int_equal(r.nrows + r.nmore, ROWS);
		split += r.nmore > 0;
		active = (row_at(&r, 0)->state == TOKEN_ACTIVE) +
			 (row_at(&r, ROWS - 1)->state == TOKEN_ACTIVE);
		if (active != 1)
			fail_msg("reading %d: %d of the slot's two tokens active", k, active);
		report_free(&r);
	}
	atomic_store(&w.stop, 1);
	pthread_join(t, NULL);
	/* The swaps ran through the readings, and most readings were in two parts. */
	assert_true(w.swaps > 10);
	assert_true(split > 0);
	policy_free(p);
	assert_null(cause);
}

/* How many of pl's findings are violations, and how many are not. */
static void
count_findings(const struct plan *pl, size_t *violations, size_t *others)
{
	*violations = *others = 0;
	for (size_t i = 0; i < pl->nfindings; i++) {
		if (violations_kind((int)pl->findings[i].kind))
			(*violations)++;
		else
			(*others)++;
	}
}

/*
 * A run's plan leaves out the violations when the policy's notify wants
 * none (the run would read them only to alert them), and keeps every one
 * when it does; either way its actions and other findings are the plan's.
 */
static void
test_run_leaves_out_violations(void **state)
{
	static const char head[] = "version: 1\n"
				   "defaults: { lifetime: 30d, rotate_before: 6d, grace: 1d }\n"
				   "enforce: { unmanaged: report, expired: report }\n"
				   "workspaces:\n"
				   "  - name: acme\n"
				   "    credential: c\n"
				   "    tokens: [ { name: etl } ]\n";
	struct fixture *fx = *state;
	char *alerting = xasprintf("%snotify:\n  - webhook: https://hooks.example.com/t\n"
				   "    events: [failure, violation]\n",
				   head);
	char *failures = xasprintf("%snotify:\n  - webhook: https://hooks.example.com/t\n"
				   "    events: [failure, stuck]\n",
				   head);
	struct policy *ps[3] = {load_yaml(head), load_yaml(failures), load_yaml(alerting)};
	struct rotate_opts o;
	struct report whole;
	char *cause = NULL;
	size_t want_v, want_o;

	fill(fx->s);
	rotate_opts_init(&o);
	setenv("TOKENWARDEN_NOW", "2026-01-02T00:00Z", 1);
	assert_int_equal(report_build_plan(fx->s, ps[0], T0 + DAY, NULL, 0, &whole, &cause), 0);
	count_findings(&whole.plan, &want_v, &want_o);
	/* All but the slot's two live rows are unmanaged. */
	assert_true(want_v >= ROWS - 2);
	for (int i = 0; i < 3; i++) {
		struct report run;
		size_t v, others;

		assert_int_equal(rotate_plan(fx->s, ps[i], &o, NULL, 0, NULL, 0, &run, &cause), 0);
		count_findings(&run.plan, &v, &others);
		assert_int_equal(v, i == 2 ? want_v : 0);
		assert_int_equal(others, want_o);
		assert_int_equal(run.plan.nactions, whole.plan.nactions);
		report_free(&run);
	}
	unsetenv("TOKENWARDEN_NOW");
	report_free(&whole);
	for (int i = 0; i < 3; i++)
		policy_free(ps[i]);
	free(alerting);
	free(failures);
	assert_null(cause);
}

/*
 * What audit report says of the tables: all that follows, or each kind
 * that differs (rows, records, sealed secrets), in that order, once.
 */
static void
test_tables_text(void **state)
{
	static const struct {
		int64_t differ, records, secrets;
		const char *want;
	} cases[] = {
	    {0, 0, 0,
	     "the chain holds and all 9 live token rows, the records of the tokens consumers "
	     "hold and the sealed secrets follow from it"},
	    {1, 0, 0, "1 of 9 live token rows differs from the history"},
	    {0, 2, 0, "2 records of the tokens consumers hold differ from the history"},
	    {0, 0, 1, "1 sealed secret differs from the history"},
	    {2, 0, 3, "2 of 9 live token rows and 3 sealed secrets differ from the history"},
	    {1, 1, 1,
	     "1 of 9 live token rows, 1 record of the tokens consumers hold and 1 sealed "
	     "secret differ from the history"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct audit_integrity v = {.rows = 9,
					    .differ = cases[i].differ,
					    .records_differ = cases[i].records,
					    .secrets_differ = cases[i].secrets};
		char *text = audit_tables_text(&v);

		assert_string_equal(text, cases[i].want);
		free(text);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_every_row_once, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_one_state_while_written, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_run_leaves_out_violations, fixture_setup,
					    fixture_teardown),
	    cmocka_unit_test(test_tables_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
