/*
 * Unit tests for core/slotview: the word's precedence and the slack in runs
 * as plain data, then one view built over a real store (a slot in each
 * state, its last success from the history).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/slotview.h"
#include "store/slots.h"
#include "store/tokens.h"
#include "store_fixture.h"

#include <string.h>

#define S 1000LL
#define H (3600 * S)
#define D (24 * H)
/* 2026-11-23T01:00Z */
#define NOW 1795395600000LL

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

/* Each fact alone, then each pair: the worse word wins. */
static void
test_word_precedence(void **state)
{
	static const struct {
		struct slot_facts f;
		enum slot_word want;
	} cases[] = {
	    {{0, 0, 3, 0, 0}, SLOT_OK},
	    {{0, 0, 3, 0, 1}, SLOT_DUE},
	    {{0, 0, 3, 1, 0}, SLOT_PAUSED},
	    {{0, 0, 3, 1, 1}, SLOT_PAUSED},  /* paused and due: paused (nothing rotates it) */
	    {{0, 1, 3, 0, 1}, SLOT_FAILING}, /* failed once, due again: failing */
	    {{0, 2, 3, 1, 0}, SLOT_FAILING}, /* failed before it was paused */
	    {{0, 3, 3, 0, 1}, SLOT_STUCK},   /* stuck_after reached */
	    {{0, 9, 3, 1, 1}, SLOT_STUCK},   /* past it */
	    {{1, 0, 3, 0, 1}, SLOT_OVERDUE}, /* no working token: worst of all */
	    {{1, 5, 3, 1, 1}, SLOT_OVERDUE}, /* overdue beats stuck */
	    {{0, 1, 1, 0, 0}, SLOT_STUCK},   /* stuck_after 1: the first failure */
	    {{0, 0, 0, 0, 0}, SLOT_OK},      /* stuck_after 0 and no failure: not stuck */
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum slot_word got = slotview_word(&cases[i].f);

		if (got != cases[i].want)
			fail_msg("case %zu: %s, expected %s", i, slotview_word_name(got),
				 slotview_word_name(cases[i].want));
	}
	assert_string_equal(slotview_word_name(SLOT_OK), "ok");
	assert_string_equal(slotview_word_name(SLOT_OVERDUE), "overdue");
	assert_string_equal(slotview_word_name(SLOT_NWORDS), "?");
}

static const char slack_policy[] = "version: 1\n"
				   "schedule: { interval: 1d, random_delay: 1h }\n"
				   "defaults: { lifetime: 30d, rotate_before: 6d, jitter: 0 }\n"
				   "workspaces:\n"
				   "  - name: acme\n"
				   "    credential: c\n"
				   "    tokens:\n"
				   "      - name: any\n"
				   "      - name: night\n"
				   "        window: { days: mon-fri, hours: '01:00-05:00' }\n";

static void
test_slack(void **state)
{
	struct policy *p = load(slack_policy);
	const struct policy_slot *any = policy_find_slot(p, "acme", "any");
	const struct policy_slot *night = policy_find_slot(p, "acme", "night");
	int64_t exp = NOW + 30 * D, due = exp - 6 * D;

	(void)state;
	/* Before its due time: counted from due, 6d less the 1h delay: 5 runs sure, 4 may fail. */
	assert_int_equal(slotview_slack(p, any, exp, due, NOW), 4);
	assert_int_equal(slotview_slack(p, any, exp, due, NOW), policy_slack(p, any));
	/* Past due, from now: 2d12h before expiry hold 2 sure runs, so 1 may fail. */
	assert_int_equal(slotview_slack(p, any, exp, due, exp - 60 * H), 1);
	/* One day and a bit left: one sure run, the one that must rotate it. */
	assert_int_equal(slotview_slack(p, any, exp, due, exp - 26 * H), 0);
	/* Expired, or no token: none. */
	assert_int_equal(slotview_slack(p, any, exp, due, exp), 0);
	assert_int_equal(slotview_slack(p, any, exp, due, exp + D), 0);
	/* A window closed from Friday 05:00 to Monday 01:00 takes those 68h off: 6d - 1h -
	 * 68h leaves 75h, 3 sure runs, 2 may fail. */
	assert_int_equal(slotview_slack(p, night, exp, due, NOW), 2);
	assert_int_equal(slotview_slack(p, night, exp, due, NOW), policy_slack(p, night));
	policy_free(p);
}

static const char view_policy[] = "version: 1\n"
				  "schedule: { interval: 1d, random_delay: 0, stuck_after: 2 }\n"
				  "defaults: { lifetime: 30d, rotate_before: 6d, jitter: 0 }\n"
				  "workspaces:\n"
				  "  - name: acme\n"
				  "    credential: c\n"
				  "    tokens:\n"
				  "      - name: due\n"
				  "      - name: failing\n"
				  "      - name: none\n"
				  "      - name: ok\n"
				  "      - name: paused\n"
				  "        paused: true\n"
				  "      - name: stuck\n";

/* Makes a created token for slot and activates it at now. */
static void
activate(struct store *s, const char *slot, const char *token, int64_t now, int64_t exp)
{
	char *cause = NULL;
	int64_t row = 0, retired = 0;
	unsigned char blob[4] = {1, 2, 3, 4};

	assert_int_equal(tokens_intent(s, "acme", slot, token, exp, now, &row, &cause), 0);
	assert_int_equal(
	    tokens_created(s, row, token, now, exp, blob, sizeof blob, "fpr", now, &cause), 0);
	assert_int_equal(tokens_activate(s, row, 0, now, &retired, &cause), 0);
}

static void
test_build(void **state)
{
	struct fixture *fx = *state;
	struct policy *p = load(view_policy);
	struct report r;
	struct slotview v;
	char *cause = NULL;
	int n = 0;

	activate(fx->s, "ok", "tok-ok", NOW - 2 * D, NOW + 28 * D);
	activate(fx->s, "due", "tok-due", NOW - 27 * D, NOW + 3 * D);
	activate(fx->s, "paused", "tok-paused", NOW - 2 * D, NOW + 28 * D);
	activate(fx->s, "stuck", "tok-stuck", NOW - 29 * D, NOW + D / 2);
	assert_int_equal(slots_failed(fx->s, "acme", "failing", NOW - H, NOW + H, "e", &n, &cause),
			 0);
	assert_int_equal(
	    slots_failed(fx->s, "acme", "stuck", NOW - 2 * H, NOW - H, "e", &n, &cause), 0);
	assert_int_equal(slots_failed(fx->s, "acme", "stuck", NOW - H, NOW + H, "e", &n, &cause),
			 0);
	assert_int_equal(report_build(fx->s, p, NOW, NULL, &r, &cause), 0);
	assert_int_equal(slotview_build(fx->s, p, &r, NOW, &v, &cause), 0);
	assert_int_equal(v.nslots, 6);
	/* In the policy's order: due, failing, none, ok, paused, stuck. */
	assert_int_equal(v.slots[0].word, SLOT_DUE);
	assert_int_equal(v.slots[0].next_rotation, NOW);
	assert_int_equal(v.slots[1].word, SLOT_FAILING);
	assert_int_equal(v.slots[1].failures, 1);
	assert_int_equal(v.slots[1].next_attempt, NOW + H);
	assert_null(v.slots[1].active);
	assert_int_equal(v.slots[2].word, SLOT_DUE); /* no token yet: the next run makes one */
	assert_int_equal(v.slots[2].last_success, 0);
	assert_int_equal(v.slots[3].word, SLOT_OK);
	assert_string_equal(v.slots[3].active->token, "tok-ok");
	assert_int_equal(v.slots[3].expires_at, NOW + 28 * D);
	assert_int_equal(v.slots[3].next_rotation, NOW + 22 * D);
	assert_int_equal(v.slots[3].last_success, NOW - 2 * D);
	assert_int_equal(v.slots[3].slack, 5);
	assert_int_equal(v.slots[4].word, SLOT_PAUSED);
	assert_int_equal(v.slots[5].word, SLOT_STUCK);
	assert_int_equal(v.slots[5].failures, 2);
	assert_true(v.slots[5].stuck);
	assert_false(v.slots[5].overdue);
	assert_false(v.slots[1].stuck);
	assert_int_equal(v.by_word[SLOT_DUE], 2);
	assert_int_equal(v.by_word[SLOT_OK], 1);
	slotview_free(&v);
	report_free(&r);

	/* Past the stuck slot's expiry it is overdue, which beats stuck. */
	assert_int_equal(report_build(fx->s, p, NOW + D, NULL, &r, &cause), 0);
	assert_int_equal(slotview_build(fx->s, p, &r, NOW + D, &v, &cause), 0);
	assert_int_equal(v.slots[5].word, SLOT_OVERDUE);
	assert_int_equal(v.slots[5].slack, 0);
	/* The facts stay: still stuck, and due, under the worse word. */
	assert_true(v.slots[5].stuck);
	assert_true(v.slots[5].overdue);
	assert_true(v.slots[5].due);
	assert_false(v.slots[3].overdue || v.slots[3].stuck || v.slots[3].due);
	slotview_free(&v);
	report_free(&r);
	policy_free(p);
}

/*
 * A slot the plan rotates now, though its active token is not due (an
 * interrupted delivery left its consumers split): due, and its next
 * rotation is now, not the active token's due time.
 */
static void
test_due_before_its_time(void **state)
{
	struct fixture *fx = *state;
	struct policy *p = load(view_policy);
	unsigned char blob[4] = {1, 2, 3, 4};
	struct report r;
	struct slotview v;
	char *cause = NULL;
	int64_t row = 0;

	activate(fx->s, "ok", "tok-ok", NOW - 2 * D, NOW + 28 * D);
	assert_int_equal(
	    tokens_intent(fx->s, "acme", "ok", "tok-new", NOW + 29 * D, NOW - D, &row, &cause), 0);
	assert_int_equal(tokens_created(fx->s, row, "tok-new", NOW - D, NOW + 29 * D, blob,
					sizeof blob, "fpr", NOW - D, &cause),
			 0);
	assert_int_equal(tokens_delivering(fx->s, row, 1, NOW - D, &cause), 0);
	assert_int_equal(report_build(fx->s, p, NOW, NULL, &r, &cause), 0);
	assert_int_equal(slotview_build(fx->s, p, &r, NOW, &v, &cause), 0);
	assert_string_equal(v.slots[3].slot->name, "ok");
	assert_string_equal(v.slots[3].active->token, "tok-ok");
	assert_true(v.slots[3].due);
	assert_int_equal(v.slots[3].word, SLOT_DUE);
	assert_int_equal(v.slots[3].next_rotation, NOW);
	assert_null(cause);
	slotview_free(&v);
	report_free(&r);
	policy_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_word_precedence),
	    cmocka_unit_test(test_slack),
	    cmocka_unit_test_setup_teardown(test_build, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_due_before_its_time, fixture_setup,
					    fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
