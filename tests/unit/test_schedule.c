/* Unit tests for core/schedule: when the daemon runs next. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/schedule.h"
#include "store/tokens.h"
#include "store_fixture.h"

#include <string.h>

#define S 1000LL
#define H (3600 * S)
#define D (24 * H)
#define NOW 1795395600000LL /* 2026-11-23T01:00Z */
#define NAP SCHEDULE_MAX_NAP_MS

static void
test_due_now_runs_at_once(void **state)
{
	struct schedule sc = {1, INT64_MAX};
	int64_t wake = 0;

	(void)state;
	assert_int_equal(schedule_wake(&sc, NOW, 0, NAP, &wake), NOW);
	assert_int_equal(wake, NOW);
	/* not_before already past changes nothing */
	assert_int_equal(schedule_wake(&sc, NOW, NOW - 1, NAP, NULL), NOW);
}

static void
test_due_work_waits_for_not_before(void **state)
{
	struct schedule sc = {1, NOW + 10 * S};
	int64_t wake = 0;

	(void)state;
	/* a failed deletion stays due: no run before not_before, however soon next_at */
	assert_int_equal(schedule_wake(&sc, NOW, NOW + 30 * S, NAP, &wake), NOW + 30 * S);
	assert_int_equal(wake, NOW + 30 * S);
}

static void
test_sleeps_until_next_due_moment(void **state)
{
	struct schedule sc = {0, NOW + 5 * S};
	int64_t wake = 0;

	(void)state;
	/* nothing due now: not_before does not hold back work that falls due later */
	assert_int_equal(schedule_wake(&sc, NOW, NOW + 30 * S, NAP, &wake), NOW + 5 * S);
	assert_int_equal(wake, NOW + 5 * S);
}

static void
test_nap_is_capped(void **state)
{
	struct schedule later = {0, NOW + 3 * H}, never = {0, INT64_MAX};
	int64_t wake = 0;

	(void)state;
	assert_int_equal(schedule_wake(&later, NOW, 0, NAP, &wake), NOW + NAP);
	assert_int_equal(wake, NOW + 3 * H);
	assert_int_equal(schedule_wake(&never, NOW, 0, NAP, &wake), NOW + NAP);
	assert_true(wake == INT64_MAX);
}

static struct policy *
load(const char *yaml)
{
	struct diag_list d;
	struct policy *p = NULL;

	if (policy_load_buffer("t.yaml", yaml, strlen(yaml), NULL, &p, &d) < 0) {
		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "%d:%d: %s\n", d.v[i].line, d.v[i].col, d.v[i].msg);
		fail_msg("the test policy does not load");
	}
	diag_free(&d);
	return p;
}

static const char policy_yaml[] =
    "version: 1\n"
    "workspaces:\n"
    "  - name: acme\n"
    "    credential: acme-admin\n"
    "    tokens:\n"
    "      - { name: etl, lifetime: 30d, rotate_before: 7d, grace: 1h }\n";

/* Reads the plan over a real store: an empty slot is due at once, then its due time, then a grace
 * end. */
static void
test_read_from_store(void **state)
{
	struct fixture fx;
	struct policy *p = load(policy_yaml);
	struct schedule sc;
	struct token_import old = {"acme",       "etl", "t-old", "old", NOW - 20 * D,
				   NOW + 10 * D, NULL,  0,       NULL};
	struct token_row *rows = NULL;
	const unsigned char blob[] = "sealed";
	char *cause = NULL;
	int64_t row = 0, retired = 0;

	(void)state;
	assert_int_equal(fixture_open(&fx), 0);
	assert_int_equal(schedule_read(fx.s, p, NOW, NULL, NULL, &sc, &cause), 0);
	assert_true(sc.due_now);

	/* the active token falls due rotate_before (7d) ahead of its expiry */
	assert_int_equal(tokens_import(fx.s, &old, NOW - 20 * D, &cause), 0);
	assert_int_equal(schedule_read(fx.s, p, NOW, NULL, NULL, &sc, &cause), 0);
	assert_false(sc.due_now);
	assert_true(sc.next_at == NOW + 3 * D);

	/* replaced: the old token's grace ends before the new one falls due */
	assert_int_equal(tokens_find(fx.s, "acme", "t-old", &rows, &cause), 0);
	assert_int_equal(tokens_intent(fx.s, "acme", "etl", "new", NOW + 30 * D, NOW, &row, &cause),
			 0);
	assert_int_equal(tokens_created(fx.s, row, "t-new", NOW, NOW + 30 * D, blob, sizeof blob,
					"fpr", NOW, &cause),
			 0);
	assert_int_equal(tokens_activate(fx.s, row, NOW + H, NOW, &retired, &cause), 0);
	assert_true(retired == rows->row);
	tokens_free(rows, 1);
	assert_int_equal(schedule_read(fx.s, p, NOW, NULL, NULL, &sc, &cause), 0);
	assert_false(sc.due_now);
	assert_true(sc.next_at == NOW + H);
	fixture_close(&fx);
	policy_free(p);
}

/* Holds by credential name, as the daemon keeps them: acme's until held[0], beta's held[1]. */
static int64_t
held_until(const void *arg, const char *credential)
{
	const int64_t *held = arg;

	return strcmp(credential, "acme-admin") == 0   ? held[0]
	       : strcmp(credential, "beta-admin") == 0 ? held[1]
						       : 0;
}

/*
 * Work due for a credential a 429 holds is due when the hold ends, not at
 * once: a run before then would send nothing for it.  Work for another
 * credential, or a hold already over, is due at once.
 */
static void
test_held_work_waits(void **state)
{
	struct fixture fx;
	struct policy *p =
	    load("version: 1\n"
		 "workspaces:\n"
		 "  - { name: acme, credential: acme-admin, tokens: [ { name: etl } ] }\n"
		 "  - { name: beta, credential: beta-admin, tokens: [ { name: etl } ] }\n");
	struct schedule sc;
	int64_t held[2] = {NOW + H, 0};
	char *cause = NULL;

	(void)state;
	assert_int_equal(fixture_open(&fx), 0);
	/* beta's slot can still be worked */
	assert_int_equal(schedule_read(fx.s, p, NOW, held_until, held, &sc, &cause), 0);
	assert_true(sc.due_now);
	/* both held: the first hold's end */
	held[1] = NOW + 2 * H;
	assert_int_equal(schedule_read(fx.s, p, NOW, held_until, held, &sc, &cause), 0);
	assert_false(sc.due_now);
	assert_true(sc.next_at == NOW + H);
	/* a hold that ended is none */
	held[0] = NOW;
	assert_int_equal(schedule_read(fx.s, p, NOW, held_until, held, &sc, &cause), 0);
	assert_true(sc.due_now);
	assert_null(cause);
	fixture_close(&fx);
	policy_free(p);
}

/*
 * Keeping a replacement an interrupted run delivered sends nothing (and
 * removes the secrets that run left): due at once, however the credential
 * is held.
 */
static void
test_held_keeps_at_once(void **state)
{
	struct fixture fx;
	struct policy *p = load(policy_yaml);
	struct schedule sc;
	struct token_import old = {"acme",       "etl", "t-old", "old", NOW - 20 * D,
				   NOW + 10 * D, NULL,  0,       NULL};
	const unsigned char blob[] = "sealed";
	int64_t held[2] = {NOW + H, 0}, row = 0;
	char *cause = NULL;

	(void)state;
	assert_int_equal(fixture_open(&fx), 0);
	assert_int_equal(tokens_import(fx.s, &old, NOW - 20 * D, &cause), 0);
	assert_int_equal(schedule_read(fx.s, p, NOW, held_until, held, &sc, &cause), 0);
	assert_false(sc.due_now);
	/* a run killed while it delivered a replacement */
	assert_int_equal(tokens_intent(fx.s, "acme", "etl", "new", NOW + 30 * D, NOW, &row, &cause),
			 0);
	assert_int_equal(tokens_created(fx.s, row, "t-new", NOW, NOW + 30 * D, blob, sizeof blob,
					"fpr", NOW, &cause),
			 0);
	assert_int_equal(tokens_delivering(fx.s, row, 1, NOW, &cause), 0);
	assert_int_equal(schedule_read(fx.s, p, NOW, held_until, held, &sc, &cause), 0);
	assert_true(sc.due_now);
	assert_null(cause);
	fixture_close(&fx);
	policy_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_due_now_runs_at_once),
	    cmocka_unit_test(test_held_work_waits),
	    cmocka_unit_test(test_held_keeps_at_once),
	    cmocka_unit_test(test_due_work_waits_for_not_before),
	    cmocka_unit_test(test_sleeps_until_next_due_moment),
	    cmocka_unit_test(test_nap_is_capped),
	    cmocka_unit_test(test_read_from_store),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
