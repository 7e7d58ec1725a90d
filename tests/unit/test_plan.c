/*
 * Unit tests for core/plan: a pure function, so every case is plain data:
 * a policy, some inventory rows and a time in, actions and findings out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/deliver.h"
#include "core/plan.h"
#include "core/timefmt.h"
#include "core/xalloc.h"
#include "store/slots.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S 1000LL
#define M (60 * S)
#define H (3600 * S)
#define D (24 * H)
/* 2026-11-23T01:00Z, a Monday */
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

/* A growing set of inventory rows. */
struct inv {
	struct token_row *rows;
	size_t n;
};

static struct token_row *
add(struct inv *v, const char *ws, const char *slot, const char *token, enum token_state st,
    int64_t created, int64_t expires)
{
	struct token_row *r;

	v->rows = xrealloc(v->rows, (v->n + 1) * sizeof *v->rows);
	r = &v->rows[v->n];
	memset(r, 0, sizeof *r);
	r->row = (int64_t)++v->n;
	r->workspace = xstrdup(ws);
	r->slot = slot != NULL ? xstrdup(slot) : NULL;
	r->token = token != NULL ? xstrdup(token) : NULL;
	r->name = xasprintf("%s-name", token != NULL ? token : "x");
	r->origin = xstrdup("created");
	r->state = st;
	r->requested_at = created;
	r->created_at = created;
	r->expires_at = expires;
	r->updated_at = created;
	return r;
}

static size_t
count(const struct plan *pl, enum plan_kind k, const char *slot)
{
	size_t n = 0;

	for (size_t i = 0; i < pl->nactions; i++)
		if (pl->actions[i].kind == k &&
		    (slot == NULL ||
		     (pl->actions[i].slot != NULL && strcmp(pl->actions[i].slot, slot) == 0)))
			n++;
	return n;
}

/* The first action of kind k for slot, or NULL. */
static const struct plan_action *
action_of(const struct plan *pl, enum plan_kind k, const char *slot)
{
	for (size_t i = 0; i < pl->nactions; i++)
		if (pl->actions[i].kind == k && pl->actions[i].slot != NULL &&
		    strcmp(pl->actions[i].slot, slot) == 0)
			return &pl->actions[i];
	return NULL;
}

static const struct plan_finding *
finding(const struct plan *pl, enum finding_kind k, const char *token)
{
	for (size_t i = 0; i < pl->nfindings; i++)
		if (pl->findings[i].kind == k &&
		    (token == NULL ||
		     (pl->findings[i].token != NULL && strcmp(pl->findings[i].token, token) == 0)))
			return &pl->findings[i];
	return NULL;
}

/* The slot the unmanaged finding about token waits for (NULL: none); fails without one. */
static const struct policy_slot *
unmanaged_waits(const struct plan *pl, const char *token)
{
	const struct plan_finding *f = finding(pl, FIND_UNMANAGED, token);

	if (f == NULL) {
		fail_msg("no unmanaged finding about %s", token);
		return NULL;
	}
	return f->waits;
}

/*
 * An active token, weeks from its expiry, for each slot of p that has none
 * in v: no slot then holds an unmanaged deletion back (unmanaged_due).
 */
static void
every_slot_active(struct inv *v, const struct policy *p)
{
	for (size_t i = 0; i < p->nslots; i++) {
		const struct policy_slot *s = p->slots[i];
		size_t k = 0;
		char *id;

		while (k < v->n && !(v->rows[k].state == TOKEN_ACTIVE && v->rows[k].slot != NULL &&
				     strcmp(v->rows[k].workspace, s->ws->name) == 0 &&
				     strcmp(v->rows[k].slot, s->name) == 0))
			k++;
		if (k < v->n)
			continue;
		id = xasprintf("tok-%s-%s", s->ws->name, s->name);
		add(v, s->ws->name, s->name, id, TOKEN_ACTIVE, NOW - D, NOW + 20 * D);
		free(id);
	}
}

/*
 * The enforce rules' texts name their durations as written (an expired
 * delete_after of 0 as "0"), the same for every row, and the row's expiry
 * or making: plan_action_why makes them from the row when asked.
 */
static void
test_enforce_texts(void **state)
{
	static const char *const yaml[2] = {
	    "version: 1\n"
	    "defaults: { lifetime: 30d }\n"
	    "enforce: { max_lifetime: 60d, unmanaged: { delete_after: 7d }, expired: { "
	    "delete_after: 36h } }\n"
	    "workspaces:\n"
	    "  - { name: acme, credential: acme-admin, tokens: [ { name: etl } ] }\n",
	    "version: 1\n"
	    "enforce: { unmanaged: { delete_after: 1d }, expired: { delete_after: 0 } }\n"
	    "workspaces:\n"
	    "  - { name: acme, credential: acme-admin, tokens: [ { name: etl } ] }\n",
	};
	static const char *const want[2][3] = {
	    {"enforce expired delete_after 1d12h", "enforce unmanaged delete_after 7d",
	     "longer than enforce max_lifetime 60d"},
	    {"enforce expired delete_after 0", "enforce unmanaged delete_after 1d", NULL},
	};

	(void)state;
	for (int k = 0; k < 2; k++) {
		struct policy *p = load(yaml[k]);
		struct inv v = {0};
		struct plan pl;
		const struct plan_finding *f;
		int seen = 0;

		for (int i = 0; i < 2; i++) {
			add(&v, "acme", NULL, i ? "old-2" : "old-1", TOKEN_ACTIVE, NOW - 40 * D,
			    NOW + 90 * D);
			add(&v, "acme", "etl", i ? "exp-2" : "exp-1", TOKEN_EXPIRED, NOW - 30 * D,
			    NOW - 3 * D);
		}
		every_slot_active(&v, p);
		plan_build(p, v.rows, v.n, NOW, &pl);
		for (size_t i = 0; i < pl.nactions; i++) {
			const struct plan_action *a = &pl.actions[i];
			char why[PLAN_WHY_MAX], at[TIMEFMT_MAX], *whole;

			if (a->kind == PLAN_DELETE_EXPIRED) {
				timefmt_minute(NOW - 3 * D, at);
				whole = xasprintf("expired at %s; %s", at, want[k][0]);
				assert_string_equal(plan_action_why(a, why), whole);
				free(whole);
			}
			if (a->kind == PLAN_DELETE_UNMANAGED) {
				timefmt_minute(NOW - 40 * D, at);
				whole =
				    xasprintf("belongs to no slot; made %s, %s", at, want[k][1]);
				assert_string_equal(plan_action_why(a, why), whole);
				free(whole);
			}
			seen += a->kind == PLAN_DELETE_EXPIRED || a->kind == PLAN_DELETE_UNMANAGED;
		}
		assert_int_equal(seen, 4);
		f = finding(&pl, FIND_MAX_LIFETIME, "old-2");
		if (want[k][2] != NULL) {
			char *text;

			assert_non_null(f);
			/* A row's finding: its text is made when asked, from the row. */
			assert_null(f->text);
			text = plan_finding_text(f);
			assert_non_null(strstr(text, want[k][2]));
			assert_string_equal(text,
					    "lives 4mo 8d, longer than enforce max_lifetime 60d");
			free(text);
		} else
			assert_null(f);

		plan_free(&pl);
		tokens_free(v.rows, v.n);
		policy_free(p);
	}
}

static void
test_jitter_stable(void **state)
{
	int64_t lo = INT64_MAX, hi = 0;
	char slot[16];

	(void)state;
	assert_int_equal(plan_jitter("acme", "etl", 0), 0);
	assert_int_equal(plan_jitter("acme", "etl", 7200), plan_jitter("acme", "etl", 7200));
	/*
	 * Fixed by the hash (FNV-1a over "workspace\0slot\0", splitmix64's
	 * finaliser, modulo jitter + 1; recomputed independently in Python): a
	 * change here reshuffles every installation's schedule.
	 */
	assert_int_equal(plan_jitter("acme", "etl", 7200), 4536);
	assert_int_equal(plan_jitter("beta", "bi", 86400), 38063);
	assert_int_not_equal(plan_jitter("acme", "etl", 86400), plan_jitter("acmf", "etl", 86400));
	/* "ab"/"c" and "a"/"bc" are different slots. */
	assert_int_not_equal(plan_jitter("ab", "c", 86400), plan_jitter("a", "bc", 86400));
	for (int i = 0; i < 1000; i++) {
		int64_t j;

		snprintf(slot, sizeof slot, "slot-%d", i);
		j = plan_jitter("acme", slot, 7200);
		assert_in_range(j, 0, 7200);
		lo = j < lo ? j : lo;
		hi = j > hi ? j : hi;
	}
	/* Spread over the whole range, not bunched. */
	assert_true(lo < 100);
	assert_true(hi > 7100);
}

static const char due_policy[] =
    "version: 1\n"
    "workspaces:\n"
    "  - name: acme\n"
    "    credential: c\n"
    "    tokens:\n"
    "      - { name: plain, lifetime: 30d, rotate_before: 20% }\n"
    "      - { name: jit, lifetime: 30d, rotate_before: 6d, jitter: 2h }\n"
    "      - name: weekdays\n"
    "        lifetime: 30d\n"
    "        rotate_before: 6d\n"
    "        window: { days: mon-fri, hours: '01:00-05:00' }\n"
    "      - name: nightly\n"
    "        lifetime: 30d\n"
    "        rotate_before: 6d\n"
    "        window: { hours: '01:00-05:00' }\n"
    "      - name: allday\n"
    "        lifetime: 7d\n"
    "        rotate_before: 1d\n"
    "        window: { hours: '00:00-24:00' }\n";

static void
test_due_time(void **state)
{
	struct policy *p = load(due_policy);
	const struct policy_slot *plain = policy_find_slot(p, "acme", "plain");
	const struct policy_slot *jit = policy_find_slot(p, "acme", "jit");
	const struct policy_slot *wd = policy_find_slot(p, "acme", "weekdays");
	const struct policy_slot *ni = policy_find_slot(p, "acme", "nightly");
	const struct policy_slot *ad = policy_find_slot(p, "acme", "allday");
	/* Expiring Friday 2026-12-04 12:00Z: raw due is Saturday 2026-11-28 12:00Z. */
	int64_t exp = NOW + 11 * D + 11 * H;

	(void)state;
	assert_int_equal(plan_due(p, plain, exp), exp - 6 * D);
	assert_int_equal(plan_due(p, jit, exp), exp - 6 * D - plan_jitter("acme", "jit", 7200) * S);
	/* Saturday noon moves to Monday 01:00. */
	assert_int_equal(plan_due(p, wd, exp), NOW + 7 * D);
	/* An instant inside the window stays put. */
	assert_int_equal(plan_due(p, wd, NOW + 6 * D + 2 * H), NOW + 2 * H);
	/* Month edge: due 2026-11-30T23:00Z moves to 2026-12-01T01:00Z. */
	assert_int_equal(plan_due(p, ni, NOW + 7 * D + 22 * H + 6 * D), NOW + 8 * D);
	/*
	 * A token that would expire before the next run can start is due now,
	 * window or not: with a window open all day as without one, a
	 * rotate_before shorter than the runs' interval (and their delay) is
	 * due by the last run before the expiry.
	 */
	assert_int_equal(plan_due(p, ad, exp), exp - plan_next_run(p, 0));
	/*
	 * A window that opens only after expiry: due as the last run before it
	 * can start, not at the raw time after that run.  The loader refuses such
	 * a policy (the window's gap exceeds rotate_before), so the slot is
	 * altered by hand: expiring Saturday noon, due an hour before.
	 */
	{
		struct policy_slot odd = *wd;

		odd.eff.rotate_before = 3600;
		odd.eff.rotate_before_pct = 0;
		assert_int_equal(plan_due(p, &odd, NOW + 5 * D + 11 * H),
				 NOW + 5 * D + 11 * H - plan_next_run(p, 0));
	}
	policy_free(p);
}

static const char slots_policy[] =
    "version: 1\n"
    "defaults: { lifetime: 30d, rotate_before: 6d, grace: 1d }\n"
    "enforce: { max_lifetime: 60d, unmanaged: { delete_after: 7d }, expired: report }\n"
    "workspaces:\n"
    "  - name: acme\n"
    "    credential: c\n"
    "    tokens:\n"
    "      - name: fresh\n"
    "        deliver: [ { file: /run/x.json }, { exec: [/bin/true] } ]\n"
    "      - name: due\n"
    "      - name: later\n"
    "      - name: resumed\n"
    "        verify: false\n"
    "      - name: held\n"
    "      - name: paused\n"
    "        paused: true\n"
    "      - name: lapsed\n"
    "  - name: beta\n"
    "    credential: { name: beta-admin, kind: personal }\n"
    "    tokens: [ { name: quiet } ]\n";

/* The inventory of slots_policy's slots that test_actions_and_findings plans, in id order. */
/* A replaced token of one of acme's slots, to be deleted from retire_after. */
static void
retired(struct inv *v, const char *slot, const char *token, int64_t created, int64_t expires,
	int64_t retire_after)
{
	add(v, "acme", slot, token, TOKEN_RETIRING, created, expires)->retire_after = retire_after;
}

static void
slots_inventory(struct inv *v)
{
	/* due: expires in 5 days, so due a day ago; its replaced token is past grace */
	retired(v, "due", "tok-due-old", NOW - 50 * D, NOW + 2 * H, NOW - H);
	add(v, "acme", "due", "tok-due", TOKEN_ACTIVE, NOW - 25 * D, NOW + 5 * D);
	/* later: not due for 10 days; its retiring token's grace ends in an hour */
	retired(v, "later", "tok-later-old", NOW - 40 * D, NOW + 3 * D, NOW + H);
	add(v, "acme", "later", "tok-later", TOKEN_ACTIVE, NOW - 14 * D, NOW + 16 * D);
	/* resumed: an interrupted run left a verified replacement behind */
	add(v, "acme", "resumed", "tok-res", TOKEN_ACTIVE, NOW - 25 * D, NOW + 5 * D);
	add(v, "acme", "resumed", "tok-res-new", TOKEN_VERIFIED, NOW - H, NOW + 30 * D);
	/* held: another process is creating its replacement right now */
	add(v, "acme", "held", "tok-held", TOKEN_ACTIVE, NOW - 25 * D, NOW + 5 * D);
	add(v, "acme", "held", NULL, TOKEN_PENDING, NOW, NOW + 30 * D);
	/* paused and due */
	add(v, "acme", "paused", "tok-paused", TOKEN_ACTIVE, NOW - 25 * D, NOW + 5 * D);
	/* lapsed: its token expired an hour ago */
	add(v, "acme", "lapsed", "tok-lapsed", TOKEN_ACTIVE, NOW - 30 * D, NOW - H);
	/* beta/quiet: fine, but lives longer than max_lifetime */
	add(v, "beta", "quiet", "tok-long", TOKEN_ACTIVE, NOW - D, NOW + 89 * D);
	/* unmanaged: one old enough to delete, one not yet; a lost create */
	add(v, "acme", NULL, "tok-um-old", TOKEN_ACTIVE, NOW - 8 * D, NOW + 20 * D);
	add(v, "acme", NULL, "tok-um-new", TOKEN_ACTIVE, NOW - 2 * D, NOW + 20 * D);
	add(v, "acme", "gone-slot", "tok-orphan", TOKEN_ACTIVE, NOW - 9 * D, NOW + 20 * D);
	add(v, "acme", "due", NULL, TOKEN_UNKNOWN, NOW - 2 * D, NOW + 28 * D);
	add(v, "acme", "due", "tok-dead", TOKEN_DELETED, NOW - 90 * D, NOW - 60 * D);
}

/* Whether a is a deletion an enforce rule asks for. */
static int
enforced(const struct plan_action *a)
{
	return a->kind == PLAN_DELETE_UNMANAGED || a->kind == PLAN_DELETE_EXPIRED;
}

static void
test_actions_and_findings(void **state)
{
	struct policy *p = load(slots_policy);
	struct inv v = {0};
	struct plan pl;

	(void)state;
	slots_inventory(&v);
	plan_build(p, v.rows, v.n, NOW, &pl);

	/* fresh: no token yet, so due at once: four steps, delivered to two consumers */
	assert_int_equal(count(&pl, PLAN_CREATE, "fresh"), 1);
	assert_int_equal(count(&pl, PLAN_VERIFY, "fresh"), 1);
	assert_int_equal(count(&pl, PLAN_DELIVER, "fresh"), 1);
	assert_int_equal(count(&pl, PLAN_ACTIVATE, "fresh"), 1);
	/* due: rotated (no consumers: no deliver step) and its old token deleted */
	assert_int_equal(count(&pl, PLAN_CREATE, "due"), 1);
	assert_int_equal(count(&pl, PLAN_DELIVER, "due"), 0);
	assert_int_equal(count(&pl, PLAN_DELETE_OLD, "due"), 1);
	/* later: nothing yet; the next moment is its retiring token's grace end */
	assert_int_equal(count(&pl, PLAN_CREATE, "later"), 0);
	assert_int_equal(count(&pl, PLAN_DELETE_OLD, "later"), 0);
	assert_int_equal(pl.next_at, NOW + H);
	/* resumed: the leftover goes first, then a fresh rotation, without verify */
	assert_int_equal(count(&pl, PLAN_DELETE_UNDELIVERED, "resumed"), 1);
	assert_int_equal(count(&pl, PLAN_CREATE, "resumed"), 1);
	assert_int_equal(count(&pl, PLAN_VERIFY, "resumed"), 0);
	/* held and paused: nothing done, but said */
	assert_int_equal(count(&pl, PLAN_CREATE, "held"), 0);
	assert_non_null(finding(&pl, FIND_IN_FLIGHT, NULL));
	assert_int_equal(count(&pl, PLAN_CREATE, "paused"), 0);
	assert_non_null(finding(&pl, FIND_PAUSED, "tok-paused"));
	/* lapsed: overdue, rotated at once, and its expired token reported */
	assert_non_null(finding(&pl, FIND_OVERDUE, "tok-lapsed"));
	assert_non_null(finding(&pl, FIND_EXPIRED, "tok-lapsed"));
	assert_int_equal(count(&pl, PLAN_CREATE, "lapsed"), 1);
	/* enforce rules */
	assert_non_null(finding(&pl, FIND_MAX_LIFETIME, "tok-long"));
	assert_null(finding(&pl, FIND_MAX_LIFETIME, "tok-due"));
	/* fresh and lapsed have no active token: the unmanaged deletions wait (below) */
	assert_int_equal(count(&pl, PLAN_DELETE_UNMANAGED, NULL), 0);
	assert_ptr_equal(unmanaged_waits(&pl, "tok-um-old"),
			 p->slots[policy_slot_index(p, "acme", "fresh")]);
	assert_null(unmanaged_waits(&pl, "tok-um-new")); /* not due yet: not held back */
	assert_non_null(finding(&pl, FIND_UNKNOWN, NULL));
	assert_non_null(finding(&pl, FIND_PERSONAL, NULL));
	assert_null(finding(&pl, FIND_OVERDUE, "tok-due"));
	/* quiet is not due: nothing for it */
	assert_int_equal(count(&pl, PLAN_CREATE, "quiet"), 0);
	assert_true(pl.capacity.ok);

	/* Earliest deadline first; one slot's steps stay together and in order. */
	for (size_t i = 1; i < pl.nactions; i++) {
		const struct plan_action *a = &pl.actions[i - 1], *b = &pl.actions[i];

		assert_true(a->deadline <= b->deadline);
		if (a->group == b->group)
			assert_true(a->kind < b->kind);
		/*
		 * An enforce rule's deletion waits for the rotations of its deadline:
		 * the token may be what a renamed slot's consumer still holds
		 * (fresh's create and tok-um-old's deletion have none).
		 */
		if (enforced(a) && !enforced(b))
			assert_true(a->deadline < b->deadline);
	}
	for (size_t i = 0; i < pl.nactions; i++) {
		char why[PLAN_WHY_MAX];

		assert_true(plan_action_why(&pl.actions[i], why)[0] != '\0');
	}
	plan_free(&pl);
	tokens_free(v.rows, v.n);
	policy_free(p);
}

/*
 * A window that opens only after the last run that can start before the
 * token expires: that run rotates it outside the window, and the finding
 * says so (not that the window never opens before the expiry).
 */
static void
test_window_after_last_run(void **state)
{
	struct policy *p = load("version: 1\n"
				"workspaces:\n"
				"  - name: acme\n"
				"    credential: c\n"
				"    tokens:\n"
				"      - name: win\n"
				"        lifetime: 30d\n"
				"        rotate_before: 21h\n"
				"        jitter: 0\n"
				"        window: { hours: '01:00-05:00' }\n");
	/* Expiring 2026-11-25T12:00Z: the last run before it starts by 11-24T11:45Z, closed;
	 * the window next opens 11-25T01:00Z, after that run and before the expiry. */
	int64_t exp = NOW + 2 * D + 11 * H;
	struct inv v = {0};
	const struct plan_finding *f;
	struct plan pl;
	char *text;

	(void)state;
	add(&v, "acme", "win", "tok-win", TOKEN_ACTIVE, NOW - 28 * D, exp);
	plan_build(p, v.rows, v.n, NOW, &pl);
	f = finding(&pl, FIND_OVERDUE, "tok-win");
	assert_non_null(f);
	text = plan_finding_text(f);
	assert_non_null(strstr(text,
			       "the window opens only after the last run before tok-win "
			       "expires at 2026-11-25T12:00Z; that run rotates it outside the "
			       "window"));
	free(text);
	assert_int_equal(plan_due(p, policy_find_slot(p, "acme", "win"), exp),
			 exp - plan_next_run(p, 0));
	plan_free(&pl);
	tokens_free(v.rows, v.n);
	policy_free(p);
}

/*
 * A window that does not exist on one day: 02:15-02:45 in Berlin, which
 * the clocks skip on 2026-03-29 (02:00 CET is 03:00 CEST).  Nightly runs
 * at 01:00Z, each up to random_delay late, rotate every token before it
 * expires, whenever around that day it expires: the window's gap there is
 * two days, longer than rotate_before, not the 23h30m a week of wall-clock
 * hours shows (window_longest_gap), and the last run before an expiry
 * rotates outside the window.
 */
static void
test_window_in_dst_gap(void **state)
{
	struct policy *p =
	    load("version: 1\n"
		 "schedule: { interval: 1d, random_delay: 15m }\n"
		 "workspaces:\n"
		 "  - name: acme\n"
		 "    credential: c\n"
		 "    tokens:\n"
		 "      - name: win\n"
		 "        lifetime: 30d\n"
		 "        rotate_before: 24h\n"
		 "        jitter: 0\n"
		 "        window: { hours: '02:15-02:45', timezone: Europe/Berlin }\n");
	/* 2026-03-28T00:00Z to 2026-04-01T00:00Z, every five minutes */
	const int64_t from = 1774656000000LL, to = from + 4 * D;

	(void)state;
	for (int64_t exp = from; exp <= to; exp += 5 * M) {
		struct inv v = {0};
		int64_t rotated = 0;

		add(&v, "acme", "win", "tok-win", TOKEN_ACTIVE, exp - 30 * D, exp);
		/*
		 * The runs of the three days before the expiry, each at 01:00Z but
		 * one (or none) random_delay late: the worst a timer can do is start
		 * one run early and the next late.
		 */
		for (int64_t late_day = exp / D - 4; late_day <= exp / D; late_day++) {
			rotated = 0;
			for (int64_t day = exp / D - 3; day <= exp / D && rotated == 0; day++) {
				int64_t run = day * D + H + (day == late_day ? 15 * M : 0);
				struct plan pl;

				if (run >= exp)
					break;
				plan_build(p, v.rows, v.n, run, &pl);
				if (count(&pl, PLAN_CREATE, "win") == 1)
					rotated = run;
				plan_free(&pl);
			}
			if (rotated == 0)
				fail_msg(
				    "a token expiring at %lld lapses: no run rotates it before "
				    "(day %lld's run late)",
				    (long long)exp, (long long)late_day);
		}
		tokens_free(v.rows, v.n);
	}
	policy_free(p);
}

/*
 * A bounded schedule.lost_answers holds across runs: a slot whose creates
 * lost that many answers since its token, within the last interval (less
 * random_delay), gets no create until the first of them is that old, even
 * though its token lapses before the next run: a daemon would otherwise
 * start another run at once.  Fewer, older ones, or the default bound (21,
 * none) leave it to its usual rules; so does rotate --force.
 */
/* A policy of one slot, acme/etl (lifetime 30d, rotate_before 6d), its schedule's keys these. */
static struct policy *
etl_policy(const char *schedule)
{
	char *yaml = xasprintf("version: 1\n"
			       "schedule: { %s }\n"
			       "defaults: { lifetime: 30d, rotate_before: 6d }\n"
			       "workspaces:\n"
			       "  - { name: acme, credential: c, tokens: [ { name: etl } ] }\n",
			       schedule);
	struct policy *p = load(yaml);

	free(yaml);
	return p;
}

/* The record of what consumers were last handed, by consumer, as store/slots lists it. */
struct handing {
	struct slot_handed v[8];
	size_t n;
};

static int
handed_order(const void *x, const void *y)
{
	const struct slot_handed *a = x, *b = y;

	return strcmp(a->consumer, b->consumer);
}

/* The record of consumer k of sl in h, added (handed nothing) if it has none. */
static struct slot_handed *
entry(struct handing *h, const struct policy_slot *sl, size_t k)
{
	struct slot_handed *e = NULL;
	char key[DELIVER_FINGERPRINT_MAX];

	deliver_holder(sl, &sl->eff.deliver[k], key);
	for (size_t i = 0; i < h->n && e == NULL; i++)
		if (strcmp(h->v[i].consumer, key) == 0)
			e = &h->v[i];
	if (e == NULL) {
		assert_true(h->n < sizeof h->v / sizeof h->v[0]);
		e = &h->v[h->n++];
		memset(e, 0, sizeof *e);
		memcpy(e->consumer, key, sizeof key);
	}
	return e;
}

/* Records that consumer k of sl was last handed token row r. */
static void
hand(struct handing *h, const struct policy_slot *sl, size_t k, const struct token_row *r)
{
	entry(h, sl, k)->row = r->row;
	qsort(h->v, h->n, sizeof h->v[0], handed_order);
}

/* Records that a delivery began to hand consumer k of sl token row r (0: none). */
static void
offer(struct handing *h, const struct policy_slot *sl, size_t k, int64_t r)
{
	entry(h, sl, k)->offered = r;
	qsort(h->v, h->n, sizeof h->v[0], handed_order);
}

/*
 * A file consumer given another owner or group than the policy gives it now
 * makes its slot due at the next run in its window, said with both; one
 * given as the policy says, one with no record of it (before schema 18),
 * and a program do not.
 */
static void
test_regiven_due(void **state)
{
	struct policy *p = load("version: 1\n"
				"workspaces:\n"
				"  - { name: acme, credential: c, tokens: [\n"
				"      { name: etl, deliver: [ { exec: [/usr/bin/reload] },\n"
				"        { file: /run/etl.json, owner: etl, group: staff } ] },\n"
				"      { name: bi, window: { hours: '03:00-05:00' },\n"
				"        deliver: [ { file: /run/bi.json } ] } ] }\n");
	const struct policy_slot *etl = policy_find_slot(p, "acme", "etl"),
				 *bi = policy_find_slot(p, "acme", "bi");
	struct slot_reached rec[2] = {
	    {.workspace = (char[]){"acme"}, .slot = (char[]){"etl"}, .row = 1},
	    {.workspace = (char[]){"acme"}, .slot = (char[]){"bi"}, .row = 2}};
	struct plan_input in = {.reached = rec, .nreached = 2};
	struct handing h = {0};
	const struct plan_action *a;
	struct token_row *t, *u;
	struct inv v = {0};
	struct plan pl;
	int64_t at;

	(void)state;
	/* 20 of 30 days left: neither due by its expiry */
	add(&v, "acme", "etl", "tok-etl", TOKEN_ACTIVE, NOW - 10 * D, NOW + 20 * D);
	add(&v, "acme", "bi", "tok-bi", TOKEN_ACTIVE, NOW - 10 * D, NOW + 20 * D);
	t = &v.rows[0];
	u = &v.rows[1];
	hand(&h, etl, 0, t);
	hand(&h, etl, 1, t);
	hand(&h, bi, 0, u);
	in.handed = h.v;
	in.nhanded = h.n;
	/* no record of what they were given: as the policy says */
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, NULL), 0);
	plan_free(&pl);
	entry(&h, etl, 1)->given = (char[]){"etl:staff"};
	entry(&h, bi, 0)->given = (char[]){":"};
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, NULL), 0);
	plan_free(&pl);

	entry(&h, etl, 1)->given = (char[]){"root:"};
	entry(&h, bi, 0)->given = (char[]){"nobody:staff"};
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	a = action_of(&pl, PLAN_CREATE, "etl");
	if (a == NULL) {
		fail_msg("no create for the file given another owner");
	} else {
		assert_int_equal(a->due, NOW);
		assert_string_equal(a->why, "its consumer file /run/etl.json was given owner root; "
					    "the policy now gives it owner etl, group staff: only "
					    "a rotation writes the file so");
	}
	/* bi waits for its window, which opens within the day */
	assert_int_equal(count(&pl, PLAN_CREATE, "bi"), 0);
	assert_true(pl.next_at > NOW && pl.next_at <= NOW + D);
	at = pl.next_at;
	plan_free(&pl);
	plan_build_with(p, v.rows, v.n, at, &in, &pl);
	a = action_of(&pl, PLAN_CREATE, "bi");
	if (a == NULL)
		fail_msg("no create for the windowed slot's file given another owner");
	else
		assert_string_equal(a->why,
				    "its consumer file /run/bi.json was given owner nobody, "
				    "group staff; the policy now gives it tokenwarden's own "
				    "user and group: only a rotation writes the file so");
	plan_free(&pl);

	/* only the group differs */
	entry(&h, etl, 1)->given = (char[]){"etl:"};
	entry(&h, bi, 0)->given = NULL;
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "etl"), 1);
	assert_int_equal(count(&pl, PLAN_CREATE, "bi"), 0);
	plan_free(&pl);
	tokens_free(v.rows, v.n);
	policy_free(p);
}

/*
 * A consumer handed nothing yet (the policy added it since the slot's
 * active token) makes the slot due at once; the record of another token
 * (one made by hand), or none, does not.
 */
static void
test_unreached_consumer_due(void **state)
{
	struct policy *p =
	    load("version: 1\n"
		 "workspaces:\n"
		 "  - { name: acme, credential: c, tokens: [ { name: etl, deliver: [\n"
		 "      { file: /run/etl.json }, { exec: [/usr/bin/reload, etl] } ] } ] }\n");
	const struct policy_slot *sl = policy_find_slot(p, "acme", "etl");
	struct slot_reached rec = {
	    .workspace = (char[]){"acme"}, .slot = (char[]){"etl"}, .row = 1};
	struct handing first = {0}, both = {0}, none = {0};
	struct plan_input in = {.reached = &rec, .nreached = 1};
	const struct plan_action *a;
	struct token_row *etl;
	struct inv v = {0};
	struct plan pl;

	(void)state;
	/* 20 of 30 days left: not due by its expiry */
	etl = add(&v, "acme", "etl", "tok-etl", TOKEN_ACTIVE, NOW - 10 * D, NOW + 20 * D);
	hand(&first, sl, 0, etl);
	hand(&both, sl, 1, etl);
	hand(&both, sl, 0, etl);

	in.handed = first.v;
	in.nhanded = first.n;
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	a = action_of(&pl, PLAN_CREATE, "etl");
	if (a == NULL) {
		fail_msg("no create for the consumer the token did not reach");
	} else {
		assert_int_equal(a->due, NOW);
		assert_string_equal(a->why, "its consumer exec /usr/bin/reload never got tok-etl "
					    "(the policy added it since): only a rotation hands "
					    "it a token");
	}
	plan_free(&pl);

	/* both reached; recorded, so not listed as unrecorded */
	in.handed = both.v;
	in.nhanded = both.n;
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "etl"), 0);
	assert_int_equal(pl.nunrecorded, 0);
	plan_free(&pl);

	/* the record is of another token row: nothing known of this one's; the plan lists it */
	in.handed = first.v;
	in.nhanded = first.n;
	rec.row = 2;
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "etl"), 0);
	assert_int_equal(pl.nunrecorded, 1);
	assert_ptr_equal(pl.unrecorded[0].slot, sl);
	assert_int_equal(pl.unrecorded[0].row, 1);
	plan_free(&pl);

	/* none at all */
	plan_build(p, v.rows, v.n, NOW, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "etl"), 0);
	assert_int_equal(pl.nunrecorded, 1);
	plan_free(&pl);

	/* only schema 14's record, which names the file: the program never got the token */
	{
		char legacy[DELIVER_FINGERPRINT_MAX + 1];
		struct slot_reached old = {.workspace = (char[]){"acme"},
					   .slot = (char[]){"etl"},
					   .row = 1,
					   .legacy = legacy};
		struct plan_input only14 = {.reached = &old, .nreached = 1};

		deliver_fingerprint(&sl->eff.deliver[0], legacy);
		legacy[DELIVER_FINGERPRINT_MAX - 1] = ',';
		legacy[DELIVER_FINGERPRINT_MAX] = '\0';
		plan_build_with(p, v.rows, v.n, NOW, &only14, &pl);
		a = action_of(&pl, PLAN_CREATE, "etl");
		if (a == NULL)
			fail_msg("no create for the consumer schema 14's record does not name");
		else
			assert_non_null(
			    strstr(a->why, "its consumer exec /usr/bin/reload never got"));
		assert_int_equal(pl.nunrecorded, 1);
		assert_ptr_equal(pl.unrecorded[0].legacy, legacy);
		plan_free(&pl);
		/* of another token: nothing known of this one's, nothing due */
		old.row = 2;
		plan_build_with(p, v.rows, v.n, NOW, &only14, &pl);
		assert_int_equal(count(&pl, PLAN_CREATE, "etl"), 0);
		assert_null(pl.unrecorded[0].legacy);
		plan_free(&pl);
	}
	policy_free(p);

	/* a long path: the reason keeps its end and the token, not the whole path */
	{
		char dir[201], *yaml;
		struct policy *lp;

		memset(dir, 'd', sizeof dir - 1);
		dir[sizeof dir - 1] = '\0';
		yaml =
		    xasprintf("version: 1\n"
			      "workspaces:\n"
			      "  - { name: acme, credential: c, tokens: [ { name: etl, deliver: [\n"
			      "      { file: /run/%s/etl.json } ] } ] }\n",
			      dir);
		lp = load(yaml);
		free(yaml);
		in.handed = none.v;
		in.nhanded = none.n;
		rec.row = 1;
		plan_build_with(lp, v.rows, v.n, NOW, &in, &pl);
		a = action_of(&pl, PLAN_CREATE, "etl");
		if (a == NULL) {
			fail_msg("no create for the consumer with a long path");
		} else {
			assert_non_null(strstr(a->why, "its consumer file ...ddd"));
			assert_non_null(strstr(a->why,
					       "/etl.json never got tok-etl (the policy added "
					       "it since): only a rotation hands it a token"));
		}
		plan_free(&pl);
		policy_free(lp);
	}

	/* a window keeps the rotation to its hours: the others still hold a working token */
	p = load(
	    "version: 1\n"
	    "workspaces:\n"
	    "  - { name: acme, credential: c, tokens: [ { name: etl, window: { hours: "
	    "'03:00-05:00' },\n"
	    "      deliver: [ { file: /run/etl.json }, { exec: [/usr/bin/reload, etl] } ] } ] }\n");
	in.handed = first.v;
	in.nhanded = first.n;
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "etl"), 0);
	assert_int_equal(pl.next_at, NOW + 2 * H);
	plan_free(&pl);
	plan_build_with(p, v.rows, v.n, NOW + 2 * H, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "etl"), 1);
	plan_free(&pl);

	tokens_free(v.rows, v.n);
	policy_free(p);
}

/*
 * A run killed after a consumer took the replacement it was delivering
 * leaves the consumer offered it, beside the token it last took: moved to
 * another slot, it may hold either, so neither is deleted past its grace
 * until that slot's token reaches it.  An offer alone (a consumer handed
 * nothing before) holds its token too.
 */
static void
test_offered_held(void **state)
{
	struct policy *p =
	    load("version: 1\n"
		 "workspaces:\n"
		 "  - { name: acme, credential: c, tokens: [\n"
		 "      { name: a, deliver: [ { file: /run/a.json } ] },\n"
		 "      { name: b, window: { hours: '03:00-05:00' },\n"
		 "        deliver: [ { file: /run/b.json }, { file: /run/fx.json } ] } ] }\n");
	const struct policy_slot *a = policy_find_slot(p, "acme", "a"),
				 *b = policy_find_slot(p, "acme", "b");
	struct slot_reached rec[2] = {
	    {.workspace = (char[]){"acme"}, .slot = (char[]){"a"}, .row = 3},
	    {.workspace = (char[]){"acme"}, .slot = (char[]){"b"}, .row = 4}};
	struct plan_input in = {.reached = rec, .nreached = 2};
	struct handing h = {0};
	struct token_row *t, *k, *u, *b1;
	const struct plan_finding *f;
	struct inv v = {0};
	struct plan pl;

	(void)state;
	/* a's old token, the replacement a killed run delivered (kept, then retired by
	 * a's rotation an hour ago), and a's active one; grace over for both */
	add(&v, "acme", "a", "tok-t", TOKEN_RETIRING, NOW - 25 * D, NOW + 5 * D);
	add(&v, "acme", "a", "tok-k", TOKEN_RETIRING, NOW - 2 * D, NOW + 28 * D);
	add(&v, "acme", "a", "tok-u", TOKEN_ACTIVE, NOW - H, NOW + 30 * D - H);
	add(&v, "acme", "b", "tok-b1", TOKEN_ACTIVE, NOW - 10 * D, NOW + 20 * D);
	t = &v.rows[0];
	k = &v.rows[1];
	u = &v.rows[2];
	b1 = &v.rows[3];
	t->retire_after = NOW - 10 * M;
	k->retire_after = NOW - 10 * M;
	hand(&h, a, 0, u);
	hand(&h, b, 0, b1);
	/* fx was a's: it took t, then the killed run's k, and moved to b */
	hand(&h, b, 1, t);
	offer(&h, b, 1, k->row);
	in.handed = h.v;
	in.nhanded = h.n;

	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_DELETE_OLD, "a"), 0);
	assert_int_equal(count(&pl, PLAN_CREATE, "b"), 0);
	f = finding(&pl, FIND_HELD, "tok-k");
	if (f == NULL)
		fail_msg("no held finding about the token fx was offered");
	else
		assert_ptr_equal(f->waits, b);
	assert_non_null(finding(&pl, FIND_HELD, "tok-t"));
	plan_free(&pl);

	/* b's token reached fx: both go */
	hand(&h, b, 1, b1);
	offer(&h, b, 1, 0);
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_DELETE_OLD, "a"), 2);
	assert_null(finding(&pl, FIND_HELD, NULL));
	plan_free(&pl);

	/* offered k and handed nothing before (new to the policy): k waits, and b is due */
	memset(&h, 0, sizeof h);
	hand(&h, a, 0, u);
	hand(&h, b, 0, b1);
	offer(&h, b, 1, k->row);
	in.handed = h.v;
	in.nhanded = h.n;
	plan_build_with(p, v.rows, v.n, NOW + 2 * H, &in, &pl);
	assert_int_equal(count(&pl, PLAN_DELETE_OLD, "a"), 1);
	assert_non_null(finding(&pl, FIND_HELD, "tok-k"));
	assert_int_equal(count(&pl, PLAN_CREATE, "b"), 1);
	plan_free(&pl);

	tokens_free(v.rows, v.n);
	policy_free(p);
}

/*
 * A consumer handed nothing yet may hold an imported token, which an admin
 * hands by hand (and may have moved that consumer before any run recorded
 * it): a retiring imported token waits past its grace until that
 * consumer's slot reaches it; one tokenwarden made and handed out goes.
 */
static void
test_unknown_holds_imported(void **state)
{
	struct policy *p = load(
	    "version: 1\n"
	    "workspaces:\n"
	    "  - { name: acme, credential: c, tokens: [\n"
	    "      { name: a, deliver: [ { file: /run/a.json } ] },\n"
	    "      { name: b, deliver: [ { file: /run/b.json }, { file: /run/fx.json } ] } ] }\n");
	const struct policy_slot *a = policy_find_slot(p, "acme", "a"),
				 *b = policy_find_slot(p, "acme", "b");
	struct slot_reached rec[2] = {
	    {.workspace = (char[]){"acme"}, .slot = (char[]){"a"}, .row = 3},
	    {.workspace = (char[]){"acme"}, .slot = (char[]){"b"}, .row = 4}};
	struct plan_input in = {.reached = rec, .nreached = 2};
	struct handing h = {0};
	const struct plan_finding *f;
	struct inv v = {0};
	struct plan pl;

	(void)state;
	add(&v, "acme", "a", "tok-imp", TOKEN_RETIRING, NOW - 20 * D, NOW + 10 * D);
	add(&v, "acme", "a", "tok-made", TOKEN_RETIRING, NOW - 25 * D, NOW + 5 * D);
	add(&v, "acme", "a", "tok-a", TOKEN_ACTIVE, NOW - H, NOW + 30 * D - H);
	add(&v, "acme", "b", "tok-b", TOKEN_ACTIVE, NOW - 10 * D, NOW + 20 * D);
	free(v.rows[0].origin);
	v.rows[0].origin = xstrdup("imported");
	v.rows[0].retire_after = NOW - 10 * M;
	v.rows[1].retire_after = NOW - 10 * M;
	hand(&h, a, 0, &v.rows[2]);
	hand(&h, b, 0, &v.rows[3]);
	in.handed = h.v;
	in.nhanded = h.n;

	/* fx, b's, handed nothing yet: the imported token waits for b, the other goes */
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_DELETE_OLD, "a"), 1);
	assert_null(finding(&pl, FIND_HELD, "tok-made"));
	f = finding(&pl, FIND_HELD, "tok-imp");
	if (f == NULL)
		fail_msg("no held finding about the imported token");
	else
		assert_ptr_equal(f->waits, b);
	assert_int_equal(count(&pl, PLAN_CREATE, "b"), 1);
	plan_free(&pl);

	/* expired, it takes nothing from anyone: it goes */
	v.rows[0].expires_at = NOW - M;
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_DELETE_OLD, "a"), 2);
	plan_free(&pl);
	v.rows[0].expires_at = NOW + 10 * D;

	/* b's token reached fx: both go */
	hand(&h, b, 1, &v.rows[3]);
	in.nhanded = h.n;
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_DELETE_OLD, "a"), 2);
	assert_null(finding(&pl, FIND_HELD, NULL));
	plan_free(&pl);

	tokens_free(v.rows, v.n);
	policy_free(p);
}

/*
 * A consumer moved from one slot to another, or back (A to B to A), holds
 * the token its old slot handed it: its new slot is due (in its window),
 * and that token, retired by its own slot meanwhile, is not deleted past
 * its grace until the new slot's token reaches the consumer.  One that
 * holds a token that works no more makes the slot due at once, its
 * backoff and window or not.
 */
static void
test_moved_consumer(void **state)
{
	struct policy *p =
	    load("version: 1\n"
		 "workspaces:\n"
		 "  - { name: acme, credential: c, tokens: [\n"
		 "      { name: a, deliver: [ { file: /run/a.json } ] },\n"
		 "      { name: b, window: { hours: '03:00-05:00' },\n"
		 "        deliver: [ { file: /run/b.json }, { file: /run/fx.json } ] } ] }\n");
	const struct policy_slot *a = policy_find_slot(p, "acme", "a"),
				 *b = policy_find_slot(p, "acme", "b");
	struct slot_reached rec[2] = {
	    {.workspace = (char[]){"acme"}, .slot = (char[]){"a"}, .row = 2},
	    {.workspace = (char[]){"acme"}, .slot = (char[]){"b"}, .row = 3}};
	struct slot_state failing = {.workspace = (char[]){"acme"},
				     .slot = (char[]){"b"},
				     .failures = 1,
				     .next_attempt_at = NOW + 6 * H,
				     .last_error = (char[]){"refused"}};
	struct plan_input in = {.reached = rec, .nreached = 2};
	struct handing h = {0};
	struct token_row *a1, *a2, *b1;
	const struct plan_action *act;
	struct inv v = {0};
	struct plan pl;

	(void)state;
	/* a rotated an hour ago; its old token's grace is over */
	add(&v, "acme", "a", "tok-a1", TOKEN_RETIRING, NOW - 25 * D, NOW + 5 * D);
	add(&v, "acme", "a", "tok-a2", TOKEN_ACTIVE, NOW - H, NOW + 30 * D - H);
	add(&v, "acme", "b", "tok-b1", TOKEN_ACTIVE, NOW - 10 * D, NOW + 20 * D);
	a1 = &v.rows[0];
	a2 = &v.rows[1];
	b1 = &v.rows[2];
	a1->retire_after = NOW - 10 * M;
	hand(&h, a, 0, a2);
	hand(&h, b, 0, b1);
	/* fx was a's consumer before a rotated: it holds a's old token */
	hand(&h, b, 1, a1);
	in.handed = h.v;
	in.nhanded = h.n;

	/* b waits for its window (2 hours on); a's old token stays meanwhile, and says why */
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "b"), 0);
	assert_int_equal(count(&pl, PLAN_DELETE_OLD, "a"), 0);
	assert_int_equal(pl.next_at, NOW + 2 * H);
	{
		const struct plan_finding *f = finding(&pl, FIND_HELD, "tok-a1");
		char *text;

		if (f == NULL) {
			fail_msg("no finding about the token kept past its grace");
		} else {
			assert_ptr_equal(f->waits, b);
			assert_string_equal(f->slot, "a");
			assert_int_equal(f->at, a1->expires_at);
			text = plan_finding_text(f);
			assert_string_equal(text,
					    "replaced, past its grace since 2026-11-23T00:50Z, "
					    "and kept: a consumer of acme/b holds it; deleted "
					    "once acme/b's next token reaches that consumer");
			free(text);
		}
		assert_null(finding(&pl, FIND_HELD, "tok-a2"));
		assert_null(finding(&pl, FIND_HELD, "tok-b1"));
	}
	plan_free(&pl);
	plan_build_with(p, v.rows, v.n, NOW + 2 * H, &in, &pl);
	act = action_of(&pl, PLAN_CREATE, "b");
	if (act == NULL) {
		fail_msg("no create for the consumer moved to b");
	} else {
		assert_int_equal(act->due, NOW + 2 * H);
		assert_string_equal(act->why, "its consumer file /run/fx.json holds tok-a1, not "
					      "tok-b1 (the policy moved it here since): only a "
					      "rotation hands it this slot's token");
	}
	assert_int_equal(count(&pl, PLAN_DELETE_OLD, "a"), 0);
	plan_free(&pl);

	/* b's token reached it: a's old token goes */
	{
		struct handing fx = h;

		for (size_t i = 0; i < fx.n; i++)
			if (fx.v[i].row == a1->row)
				fx.v[i].row = b1->row;
		in.handed = fx.v;
		plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
		assert_int_equal(count(&pl, PLAN_CREATE, "b"), 0);
		assert_int_equal(count(&pl, PLAN_DELETE_OLD, "a"), 1);
		assert_null(finding(&pl, FIND_HELD, NULL));
		plan_free(&pl);
		in.handed = h.v;
	}

	/* the token it holds was deleted: due now, out of its window and in its backoff */
	a1->state = TOKEN_DELETED;
	in.states = &failing;
	in.nstates = 1;
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	act = action_of(&pl, PLAN_CREATE, "b");
	if (act == NULL) {
		fail_msg("no create for the consumer that holds a deleted token");
	} else {
		assert_int_equal(act->due, NOW);
		assert_string_equal(act->why,
				    "its consumer file /run/fx.json holds tok-a1, deleted "
				    "(the policy moved it here since); a rotation gives "
				    "it a working token");
	}
	plan_free(&pl);

	/* a row not read (deleted: the store reads only the live ones): the same */
	{
		struct token_row *later = v.rows + 1;

		plan_build_with(p, later, 2, NOW, &in, &pl);
		act = action_of(&pl, PLAN_CREATE, "b");
		if (act == NULL) {
			fail_msg("no create for the consumer that holds a token not read");
		} else {
			assert_int_equal(act->due, NOW);
			assert_string_equal(
			    act->why, "its consumer file /run/fx.json holds a token deleted or "
				      "revoked since (the policy moved it here since); a "
				      "rotation gives it a working token");
		}
		plan_free(&pl);
	}

	/* it expired (not deleted yet): due now too, and deleting it takes nothing from fx */
	a1->state = TOKEN_RETIRING;
	a1->expires_at = NOW - M;
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	act = action_of(&pl, PLAN_CREATE, "b");
	if (act == NULL) {
		fail_msg("no create for the consumer that holds an expired token");
	} else {
		assert_int_equal(act->due, NOW);
		assert_non_null(strstr(act->why, "holds tok-a1, expired (the policy moved"));
	}
	assert_int_equal(count(&pl, PLAN_DELETE_OLD, "a"), 1);
	plan_free(&pl);

	tokens_free(v.rows, v.n);
	policy_free(p);
}

/*
 * A slot with a consumer that holds another slot's token (moved there from
 * the slot that made an unmanaged token) holds that token's deletion back,
 * though its own token is newer, until its next token reaches it; one with
 * a consumer handed nothing yet holds back every unmanaged deletion.
 */
static void
test_unreached_holds_unmanaged(void **state)
{
	struct policy *p =
	    load("version: 1\n"
		 "enforce: { unmanaged: { delete_after: 7d } }\n"
		 "workspaces:\n"
		 "  - { name: acme, credential: c, tokens: [ { name: etl, deliver: [\n"
		 "      { file: /run/etl.json }, { file: /run/moved.json } ] } ] }\n");
	const struct policy_slot *sl = policy_find_slot(p, "acme", "etl");
	struct slot_reached rec = {
	    .workspace = (char[]){"acme"}, .slot = (char[]){"etl"}, .row = 3};
	struct plan_input in = {.reached = &rec, .nreached = 1};
	struct handing moved = {0}, fresh = {0}, both = {0};
	struct token_row *dropped, *etl;
	struct inv v = {0};
	struct plan pl;

	(void)state;
	/* the dropped slots' tokens, 20 days old; the kept slot's, newer */
	add(&v, "acme", "dropped", "tok-dropped", TOKEN_ACTIVE, NOW - 20 * D, NOW + 10 * D);
	add(&v, "acme", "other", "tok-other", TOKEN_ACTIVE, NOW - 20 * D, NOW + 10 * D);
	add(&v, "acme", "etl", "tok-etl", TOKEN_ACTIVE, NOW - 10 * D, NOW + 20 * D);
	dropped = &v.rows[0];
	etl = &v.rows[2];
	hand(&moved, sl, 0, etl);
	hand(&moved, sl, 1, dropped);
	hand(&fresh, sl, 0, etl);
	hand(&both, sl, 0, etl);
	hand(&both, sl, 1, etl);

	/* moved.json holds the dropped slot's token: that one waits, the other goes */
	in.handed = moved.v;
	in.nhanded = moved.n;
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "etl"), 1);
	assert_int_equal(count(&pl, PLAN_DELETE_UNMANAGED, NULL), 1);
	assert_ptr_equal(unmanaged_waits(&pl, "tok-dropped"), sl);
	assert_int_equal(count(&pl, PLAN_DELETE_UNMANAGED, "other"), 1);
	plan_free(&pl);

	/* moved.json was handed nothing: what it holds is not known, both wait */
	in.handed = fresh.v;
	in.nhanded = fresh.n;
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "etl"), 1);
	assert_int_equal(count(&pl, PLAN_DELETE_UNMANAGED, NULL), 0);
	assert_ptr_equal(unmanaged_waits(&pl, "tok-other"), sl);
	plan_free(&pl);

	/* its token reached both: the deletions go ahead */
	in.handed = both.v;
	in.nhanded = both.n;
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "etl"), 0);
	assert_int_equal(count(&pl, PLAN_DELETE_UNMANAGED, NULL), 2);
	plan_free(&pl);
	policy_free(p);

	/* one consumer holds the dropped slot's token, one after it was handed nothing: both
	 * wait, whatever the order of the deliver: list */
	p = load("version: 1\n"
		 "enforce: { unmanaged: { delete_after: 7d } }\n"
		 "workspaces:\n"
		 "  - { name: acme, credential: c, tokens: [ { name: etl, deliver: [\n"
		 "      { file: /run/moved.json }, { file: /run/etl.json },\n"
		 "      { file: /run/fresh.json } ] } ] }\n");
	sl = policy_find_slot(p, "acme", "etl");
	memset(&moved, 0, sizeof moved);
	hand(&moved, sl, 0, dropped);
	hand(&moved, sl, 1, etl);
	in.handed = moved.v;
	in.nhanded = moved.n;
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_DELETE_UNMANAGED, NULL), 0);
	assert_ptr_equal(unmanaged_waits(&pl, "tok-other"), sl);
	plan_free(&pl);

	tokens_free(v.rows, v.n);
	policy_free(p);
}

/*
 * A slot whose token lapsed holds no unmanaged deletion back when each of
 * its consumers' records names the token it holds (the lapsed one); one
 * without a record may hold anything, and holds every one back.
 */
static void
test_lapsed_holds_by_record(void **state)
{
	struct policy *p =
	    load("version: 1\n"
		 "enforce: { unmanaged: { delete_after: 7d } }\n"
		 "workspaces:\n"
		 "  - { name: acme, credential: c, tokens: [ { name: etl, deliver: [\n"
		 "      { file: /run/etl.json }, { file: /run/two.json } ] } ] }\n");
	const struct policy_slot *sl = policy_find_slot(p, "acme", "etl");
	struct plan_input in = {0};
	struct handing both = {0}, one = {0};
	struct inv v = {0};
	struct plan pl;

	(void)state;
	add(&v, "acme", NULL, "tok-loose", TOKEN_ACTIVE, NOW - 20 * D, NOW + 10 * D);
	add(&v, "acme", "etl", "tok-lapsed", TOKEN_ACTIVE, NOW - 40 * D, NOW - H);
	hand(&both, sl, 0, &v.rows[1]);
	hand(&both, sl, 1, &v.rows[1]);
	hand(&one, sl, 0, &v.rows[1]);

	in.handed = both.v;
	in.nhanded = both.n;
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_non_null(finding(&pl, FIND_OVERDUE, "tok-lapsed"));
	assert_int_equal(count(&pl, PLAN_DELETE_UNMANAGED, NULL), 1);
	plan_free(&pl);

	in.handed = one.v;
	in.nhanded = one.n;
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_DELETE_UNMANAGED, NULL), 0);
	assert_ptr_equal(unmanaged_waits(&pl, "tok-loose"), sl);
	plan_free(&pl);

	tokens_free(v.rows, v.n);
	policy_free(p);
}

/*
 * A slot without consumers is served by hand: whether its token lapsed says
 * nothing of what anyone holds, so its retired imported token goes past its
 * grace as any, rather than wait for a consumer handed nothing yet that
 * there is not (seed 90020, case 165: a killed run had already deleted it
 * on the server, and the hold kept it listed as live).  The slot still
 * holds the unmanaged deletions back: each waits until every slot has an
 * active token made after it.
 */
static void
test_lapsed_unserved_imported(void **state)
{
	struct policy *p =
	    load("version: 1\n"
		 "enforce: { unmanaged: { delete_after: 7d } }\n"
		 "workspaces:\n"
		 "  - { name: acme, credential: c, tokens: [ { name: bi, deliver: [] } ] }\n");
	const struct policy_slot *bi = policy_find_slot(p, "acme", "bi");
	struct inv v = {0};
	struct plan pl;

	(void)state;
	add(&v, "acme", "bi", "tok-imp", TOKEN_RETIRING, NOW - 20 * D, NOW + 10 * D);
	add(&v, "acme", "bi", "tok-lapsed", TOKEN_ACTIVE, NOW - 10 * D, NOW - H);
	add(&v, "acme", NULL, "tok-loose", TOKEN_ACTIVE, NOW - 20 * D, NOW + 10 * D);
	free(v.rows[0].origin);
	v.rows[0].origin = xstrdup("imported");
	v.rows[0].retire_after = NOW - 10 * D;

	plan_build(p, v.rows, v.n, NOW, &pl);
	assert_non_null(finding(&pl, FIND_OVERDUE, "tok-lapsed"));
	assert_null(finding(&pl, FIND_HELD, "tok-imp"));
	assert_int_equal(count(&pl, PLAN_DELETE_OLD, "bi"), 1);
	assert_int_equal(count(&pl, PLAN_DELETE_UNMANAGED, NULL), 0);
	assert_ptr_equal(unmanaged_waits(&pl, "tok-loose"), bi);
	plan_free(&pl);

	tokens_free(v.rows, v.n);
	policy_free(p);
}

static void
test_lost_answers_across_runs(void **state)
{
	struct policy *p = etl_policy("lost_answers: 3"), *unbounded;
	struct slot_state st = {.workspace = (char[]){"acme"},
				.slot = (char[]){"etl"},
				.failures = 3,
				.next_attempt_at = NOW - H,
				.last_error = (char[]){"outcome unknown"}};
	struct plan_input in = {.states = &st, .nstates = 1};
	const struct plan_finding *f;
	struct inv v = {0};
	struct plan pl;
	char *text;

	(void)state;
	/* 10 hours left: no slack; three creates lost their answers an hour ago */
	add(&v, "acme", "etl", "tok-etl", TOKEN_ACTIVE, NOW - 30 * D + 10 * H, NOW + 10 * H);
	for (int i = 0; i < 3; i++)
		add(&v, "acme", "etl", NULL, TOKEN_UNKNOWN, NOW - H + i * M, NOW + 30 * D);
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "etl"), 0);
	assert_int_equal(pl.next_at, NOW - H + D - 15 * M);
	f = finding(&pl, FIND_FAILING, NULL);
	assert_non_null(f);
	text = plan_finding_text(f);
	assert_non_null(strstr(text, "; 3 of its creates since its last token lost their answers "
				     "(schedule.lost_answers 3); next attempt not before "
				     "2026-11-23T23:45Z"));
	free(text);
	plan_free(&pl);

	/* the first of them an interval (less random_delay) old: tried again */
	plan_build_with(p, v.rows, v.n, NOW - H + D - 15 * M, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "etl"), 1);
	plan_free(&pl);

	/* rotate --force: tried at once */
	in.force = policy_find_slot(p, "acme", "etl");
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "etl"), 1);
	plan_free(&pl);
	in.force = NULL;

	/* one try a run (retries: 0) is bounded across runs all the same */
	unbounded = etl_policy("lost_answers: 3, retries: 0");
	plan_build_with(unbounded, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "etl"), 0);
	plan_free(&pl);
	policy_free(unbounded);

	/* the default bound (21) counts nothing across runs */
	unbounded = etl_policy("");
	plan_build_with(unbounded, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "etl"), 1);
	plan_free(&pl);
	policy_free(unbounded);

	/* two of them, or three made before the slot's token: tried */
	v.rows[3].state = TOKEN_DELETED;
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "etl"), 1);
	plan_free(&pl);
	v.rows[3].state = TOKEN_UNKNOWN;
	v.rows[0].created_at = NOW - 30 * M;
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "etl"), 1);
	plan_free(&pl);
	tokens_free(v.rows, v.n);
	policy_free(p);
}

/*
 * A token of a workspace the policy no longer has: no API or credential to
 * delete it with, so an enforce rule that would delete it reports it
 * instead of planning a deletion every run can only fail (and a daemon
 * would wake for each minute).
 */
static void
test_enforce_workspace_gone(void **state)
{
	struct policy *p = load(slots_policy);
	struct inv v = {0};
	struct plan pl;

	(void)state;
	add(&v, "gone", NULL, "tok-gone-um", TOKEN_ACTIVE, NOW - 9 * D, NOW + 20 * D);
	add(&v, "acme", NULL, "tok-here-um", TOKEN_ACTIVE, NOW - 9 * D, NOW + 20 * D);
	every_slot_active(&v, p);
	plan_build(p, v.rows, v.n, NOW, &pl);
	assert_int_equal(count(&pl, PLAN_DELETE_UNMANAGED, NULL), 1);
	assert_non_null(finding(&pl, FIND_UNMANAGED, "tok-gone-um"));
	assert_null(finding(&pl, FIND_UNMANAGED, "tok-here-um"));
	plan_free(&pl);
	tokens_free(v.rows, v.n);
	policy_free(p);
}

/* The index of the first action of kind k for slot (NULL: any) in pl, or pl->nactions. */
static size_t
index_of(const struct plan *pl, enum plan_kind k, const char *slot)
{
	size_t i = 0;

	while (i < pl->nactions && !(pl->actions[i].kind == k &&
				     (slot == NULL || (pl->actions[i].slot != NULL &&
						       strcmp(pl->actions[i].slot, slot) == 0))))
		i++;
	return i;
}

/*
 * An unmanaged token due for deletion waits while any slot of the policy
 * has no active token: a slot renamed in the policy may deliver to the
 * consumers that hold it, and its first rotation may fail.  The finding
 * names the slot; once every slot has an active token the plan deletes it.
 * An expired token's deletion does not wait: no consumer works with it.
 */
static void
test_unmanaged_waits_for_every_slot(void **state)
{
	struct policy *p =
	    load("version: 1\n"
		 "defaults: { lifetime: 30d, rotate_before: 6d }\n"
		 "enforce: { unmanaged: { delete_after: 7d }, expired: { delete_after: 0 } }\n"
		 "workspaces:\n"
		 "  - { name: acme, credential: c, tokens: [ { name: etl }, { name: etl-v2 } ] }\n"
		 "  - { name: beta, credential: d, tokens: [ { name: bi } ] }\n");
	struct inv v = {0};
	struct plan pl;
	char *text;

	(void)state;
	add(&v, "acme", "etl", "tok-etl", TOKEN_ACTIVE, NOW - 20 * D, NOW + 10 * D);
	add(&v, "beta", "bi", "tok-bi", TOKEN_ACTIVE, NOW - 20 * D, NOW + 10 * D);
	/* the slot's old name's token, made 40 days ago: due for deletion */
	add(&v, "acme", "etl-old", "tok-renamed", TOKEN_ACTIVE, NOW - 40 * D, NOW + 20 * D);
	add(&v, "acme", "etl", "tok-exp", TOKEN_EXPIRED, NOW - 40 * D, NOW - 10 * D);

	/* etl-v2 has no token yet */
	plan_build(p, v.rows, v.n, NOW, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "etl-v2"), 1);
	assert_int_equal(count(&pl, PLAN_DELETE_UNMANAGED, NULL), 0);
	assert_ptr_equal(unmanaged_waits(&pl, "tok-renamed"),
			 p->slots[policy_slot_index(p, "acme", "etl-v2")]);
	text = plan_finding_text(finding(&pl, FIND_UNMANAGED, "tok-renamed"));
	assert_non_null(strstr(text, "belongs to no slot of the policy; deleted once acme/etl-v2 "
				     "has an active token newer than it that reached each of its "
				     "consumers (one may hold it)"));
	free(text);
	/* the expired one goes, after the rotation of its (lack of) deadline */
	assert_int_equal(count(&pl, PLAN_DELETE_EXPIRED, NULL), 1);
	assert_true(index_of(&pl, PLAN_ACTIVATE, "etl-v2") <
		    index_of(&pl, PLAN_DELETE_EXPIRED, NULL));
	plan_free(&pl);

	/* etl-v2's first token is active: the deletion is planned, no finding */
	add(&v, "acme", "etl-v2", "tok-v2", TOKEN_ACTIVE, NOW - H, NOW + 30 * D);
	plan_build(p, v.rows, v.n, NOW, &pl);
	assert_int_equal(count(&pl, PLAN_DELETE_UNMANAGED, NULL), 1);
	assert_int_equal(count(&pl, PLAN_DELETE_UNMANAGED, "etl-old"), 1);
	assert_null(finding(&pl, FIND_UNMANAGED, "tok-renamed"));
	plan_free(&pl);

	/*
	 * etl renamed back: tok-back, which etl-v2 made 15 days ago and its
	 * consumers hold, is now unmanaged; etl's active token is older, so
	 * tok-back waits for etl's next one.  tok-renamed, older than every
	 * active token, goes.
	 */
	add(&v, "acme", "etl-v3", "tok-back", TOKEN_ACTIVE, NOW - 15 * D, NOW + 15 * D);
	plan_build(p, v.rows, v.n, NOW, &pl);
	assert_int_equal(count(&pl, PLAN_DELETE_UNMANAGED, "etl-old"), 1);
	assert_int_equal(count(&pl, PLAN_DELETE_UNMANAGED, "etl-v3"), 0);
	assert_ptr_equal(unmanaged_waits(&pl, "tok-back"),
			 p->slots[policy_slot_index(p, "acme", "etl")]);
	plan_free(&pl);
	v.rows[v.n - 1].state = TOKEN_DELETED; /* tok-back gone: as before */

	/* beta/bi's token lapsed: it holds the deletion back in turn */
	v.rows[1].expires_at = NOW - H;
	plan_build(p, v.rows, v.n, NOW, &pl);
	assert_int_equal(count(&pl, PLAN_DELETE_UNMANAGED, NULL), 0);
	assert_ptr_equal(unmanaged_waits(&pl, "tok-renamed"),
			 p->slots[policy_slot_index(p, "beta", "bi")]);
	plan_free(&pl);
	tokens_free(v.rows, v.n);
	policy_free(p);
}

/*
 * The rows in two parts, as a run's start-of-run check reads them (the
 * rows, then plan_input's more), split anywhere, give the plan the whole
 * array gives: the same actions and findings, in the same order, about the
 * same rows.
 */
static void
test_two_parts(void **state)
{
	struct policy *p = load(slots_policy);
	struct inv v = {0};
	struct plan whole, parts;

	(void)state;
	slots_inventory(&v);
	plan_build(p, v.rows, v.n, NOW, &whole);
	assert_true(whole.nactions > 5 && whole.nfindings > 5);
	for (size_t k = 0; k <= v.n; k++) {
		struct plan_input in = {.more = v.rows + k, .nmore = v.n - k};

		plan_build_with(p, v.rows, k, NOW, &in, &parts);
		assert_int_equal(parts.nactions, whole.nactions);
		assert_int_equal(parts.nfindings, whole.nfindings);
		for (size_t i = 0; i < whole.nactions; i++) {
			assert_int_equal(parts.actions[i].kind, whole.actions[i].kind);
			assert_int_equal(parts.actions[i].row, whole.actions[i].row);
			assert_int_equal(parts.actions[i].deadline, whole.actions[i].deadline);
			assert_ptr_equal(parts.actions[i].r, whole.actions[i].r);
		}
		for (size_t i = 0; i < whole.nfindings; i++) {
			assert_int_equal(parts.findings[i].kind, whole.findings[i].kind);
			assert_int_equal(parts.findings[i].row, whole.findings[i].row);
			assert_ptr_equal(parts.findings[i].r, whole.findings[i].r);
		}
		assert_int_equal(parts.next_at, whole.next_at);
		plan_free(&parts);
	}
	plan_free(&whole);
	tokens_free(v.rows, v.n);
	policy_free(p);
}

/*
 * A plan that omits finding kinds is the whole plan without their findings:
 * the same actions, and the other findings in the same order with the same
 * texts, for every one kind left out, every kind, and random sets of them.
 */
static void
test_omit(void **state)
{
	struct policy *p = load(slots_policy);
	struct inv v = {0};
	struct plan whole, part;
	unsigned kinds = 0, masks[FIND_NKINDS + 2 + 64];
	size_t nmasks = 0;
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	(void)state;
	slots_inventory(&v);
	plan_build(p, v.rows, v.n, NOW, &whole);
	for (size_t i = 0; i < whole.nfindings; i++)
		kinds |= PLAN_FINDING_BIT(whole.findings[i].kind);
	/* Row findings and others, so that both ways of adding one are left out. */
	assert_true(__builtin_popcount(kinds) >= 6);
	assert_true(kinds & PLAN_FINDING_BIT(FIND_MAX_LIFETIME));
	assert_true(kinds & PLAN_FINDING_BIT(FIND_OVERDUE));
	for (int k = 0; k < FIND_NKINDS; k++)
		masks[nmasks++] = PLAN_FINDING_BIT(k);
	masks[nmasks++] = kinds;
	masks[nmasks++] = ~0u;
	while (nmasks < sizeof masks / sizeof *masks) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		masks[nmasks++] = (unsigned)x;
	}
	for (size_t m = 0; m < nmasks; m++) {
		struct plan_input in = {.omit = masks[m]};
		size_t j = 0;

		plan_build_with(p, v.rows, v.n, NOW, &in, &part);
		assert_int_equal(part.nactions, whole.nactions);
		for (size_t i = 0; i < whole.nactions; i++) {
			assert_int_equal(part.actions[i].kind, whole.actions[i].kind);
			assert_int_equal(part.actions[i].row, whole.actions[i].row);
			assert_int_equal(part.actions[i].deadline, whole.actions[i].deadline);
		}
		for (size_t i = 0; i < whole.nfindings; i++) {
			const struct plan_finding *w = &whole.findings[i];
			char *want, *got;

			if (masks[m] & PLAN_FINDING_BIT(w->kind))
				continue;
			assert_true(j < part.nfindings);
			assert_int_equal(part.findings[j].kind, w->kind);
			assert_int_equal(part.findings[j].row, w->row);
			want = plan_finding_text(w);
			got = plan_finding_text(&part.findings[j]);
			assert_string_equal(got, want);
			free(want);
			free(got);
			j++;
		}
		assert_int_equal(part.nfindings, j);
		assert_int_equal(part.next_at, whole.next_at);
		assert_int_equal(part.capacity.ok, whole.capacity.ok);
		plan_free(&part);
	}
	plan_free(&whole);
	tokens_free(v.rows, v.n);
	policy_free(p);
}

static void
test_pure(void **state)
{
	struct policy *p = load(slots_policy);
	struct inv v = {0};
	struct token_row other[2];
	struct plan a, b;

	(void)state;
	add(&v, "acme", "due", "tok-due", TOKEN_ACTIVE, NOW - 25 * D, NOW + 5 * D);
	add(&v, "acme", NULL, "tok-um", TOKEN_ACTIVE, NOW - 8 * D, NOW + 20 * D);
	plan_build(p, v.rows, v.n, NOW, &a);
	/*
	 * The same input twice, and with the rows in the other order, gives the
	 * same plan.  The other order is a second array: a plan borrows its rows,
	 * whose texts it makes when asked.
	 */
	other[0] = v.rows[1];
	other[1] = v.rows[0];
	plan_build(p, other, 2, NOW, &b);
	assert_int_equal(a.nactions, b.nactions);
	for (size_t i = 0; i < a.nactions; i++) {
		char wa[PLAN_WHY_MAX], wb[PLAN_WHY_MAX];

		assert_int_equal(a.actions[i].kind, b.actions[i].kind);
		assert_string_equal(plan_action_why(&a.actions[i], wa),
				    plan_action_why(&b.actions[i], wb));
	}
	plan_free(&a);
	plan_free(&b);
	tokens_free(v.rows, v.n);
	policy_free(p);
}

/*
 * 30 slots, each due an hour (plus i minutes) from now and expiring 36 hours
 * (plus i minutes) from now.  Runs every day at NOW; 40 requests per 10 s;
 * a rotation costs 3 requests (create, verify, delete the old token).  The
 * run at NOW has nothing due; the run a day on does as many as its budget
 * allows, earliest deadline first; the next run comes after the deadlines.
 */
static void
capacity_case(const char *max_time, int expect_ok, const char *expect_slot)
{
	char *yaml =
	    xasprintf("version: 1\n"
		      "schedule: { interval: 1d%s%s }\n"
		      "defaults: { lifetime: 30d, rotate_before: 35h, grace: 1h }\n"
		      "workspaces:\n"
		      "  - name: acme\n"
		      "    credential: c\n"
		      "    rate_limit: 40/10s\n"
		      "    tokens:\n",
		      max_time != NULL ? ", max_time: " : "", max_time != NULL ? max_time : "");
	struct inv v = {0};
	struct policy *p;
	struct plan pl;
	char slot[8], tok[16];

	for (int i = 0; i < 30; i++) {
		char *more = xasprintf("%s      - name: s%02d\n", yaml, i);

		free(yaml);
		yaml = more;
	}
	p = load(yaml);
	for (int i = 0; i < 30; i++) {
		snprintf(slot, sizeof slot, "s%02d", i);
		snprintf(tok, sizeof tok, "t%02d", i);
		add(&v, "acme", slot, tok, TOKEN_ACTIVE, NOW - 28 * D, NOW + 36 * H + i * 60 * S);
	}
	plan_build(p, v.rows, v.n, NOW, &pl);
	assert_int_equal(pl.nactions, 0);
	assert_int_equal(pl.capacity.rotations, 30);
	assert_int_equal(pl.capacity.ok, expect_ok);
	if (!expect_ok) {
		assert_false(pl.capacity.no_run);
		assert_string_equal(pl.capacity.slot, expect_slot);
		assert_int_equal(pl.capacity.finish, NOW + 2 * D);
		assert_non_null(finding(&pl, FIND_CAPACITY, NULL));
	} else
		assert_null(finding(&pl, FIND_CAPACITY, NULL));
	plan_free(&pl);
	tokens_free(v.rows, v.n);
	policy_free(p);
	free(yaml);
}

/*
 * A token due after this run that expires before the next may start
 * (interval plus the timer's random_delay) is due now, whatever its
 * rotate_before: waiting would let it lapse.
 */
static void
test_due_before_next_run(void **state)
{
	struct policy *p =
	    load("version: 1\n"
		 "defaults: { lifetime: 30d, rotate_before: 20h, grace: 1h }\n"
		 "workspaces:\n"
		 "  - name: acme\n"
		 "    credential: c\n"
		 "    tokens: [ { name: late }, { name: fine }, { name: roomy } ]\n");
	struct inv v = {0};
	struct plan pl;

	(void)state;
	/* Due in 2 h by rotate_before, expiring 22 h from now: before the next run. */
	add(&v, "acme", "late", "t-late", TOKEN_ACTIVE, NOW - 29 * D, NOW + 22 * H);
	add(&v, "acme", "fine", "t-fine", TOKEN_ACTIVE, NOW - 29 * D, NOW + 19 * H);
	/* Expiring just after the latest next run (1d + 15m): that run will do. */
	add(&v, "acme", "roomy", "t-roomy", TOKEN_ACTIVE, NOW - 29 * D, NOW + D + 16 * M);
	plan_build(p, v.rows, v.n, NOW, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "fine"), 1);
	assert_int_equal(count(&pl, PLAN_CREATE, "late"), 1);
	assert_int_equal(count(&pl, PLAN_CREATE, "roomy"), 0);
	assert_true(pl.capacity.ok);
	assert_null(finding(&pl, FIND_CAPACITY, NULL));
	plan_free(&pl);
	tokens_free(v.rows, v.n);
	policy_free(p);
}

/* Clean-up that must not wait on other rules. */
static void
test_cleanup_edges(void **state)
{
	struct policy *p = load(slots_policy);
	struct inv v = {0};
	struct plan pl;
	const struct plan_action *a;
	struct token_row *r;

	(void)state;
	/* later: not due; an interrupted run left a created replacement anyway */
	add(&v, "acme", "later", "tok-later", TOKEN_ACTIVE, NOW - 14 * D, NOW + 16 * D);
	add(&v, "acme", "later", "tok-left", TOKEN_CREATED, NOW - 2 * H, NOW + 30 * D);
	/* held: not due; its consumers took a newer token that a later one refused */
	add(&v, "acme", "held", "tok-held", TOKEN_ACTIVE, NOW - 14 * D, NOW + 16 * D);
	retired(&v, "held", "tok-held-kept", NOW - D, NOW + 29 * D, NOW + 29 * D);
	/* lapsed: not due; an older token retiring, as after any rotation */
	retired(&v, "lapsed", "tok-lapsed-old", NOW - 25 * D, NOW + 5 * D, NOW + 2 * H);
	add(&v, "acme", "lapsed", "tok-lapsed", TOKEN_ACTIVE, NOW - 3 * D, NOW + 27 * D);
	/* resumed: not due; a crash came after its replacement's delivery began */
	add(&v, "acme", "resumed", "tok-resumed", TOKEN_ACTIVE, NOW - 14 * D, NOW + 16 * D);
	r = add(&v, "acme", "resumed", "tok-handed", TOKEN_VERIFIED, NOW - 2 * H, NOW + 30 * D);
	r->retire_after = NOW + 30 * D;
	/* due: its replaced token is past grace and past expiry too */
	retired(&v, "due", "tok-old", NOW - 31 * D, NOW - H, NOW - 2 * H);
	add(&v, "acme", "due", "tok-due", TOKEN_ACTIVE, NOW - D, NOW + 29 * D);
	/* an unmanaged token that lived too long but has expired: no violation any more */
	add(&v, "acme", NULL, "tok-ancient", TOKEN_EXPIRED, NOW - 400 * D, NOW - 10 * D);
	/* made by hand by an older version, left created, and expired: expired like any */
	add(&v, "acme", NULL, "tok-hand", TOKEN_CREATED, NOW - 3 * D, NOW - 2 * D);
	/* deleted rows count for nothing */
	add(&v, "acme", NULL, "tok-gone", TOKEN_DELETED, NOW - 400 * D, NOW + 10 * D);
	/* replacements an interrupted run left for a slot the policy dropped since: the one
	 * never delivered is deleted, expired or not; the one a consumer may hold is kept,
	 * retiring at its expiry (no rotation will hand the consumer a newer one) */
	add(&v, "acme", "dropped", "tok-drop-made", TOKEN_CREATED, NOW - 20 * D, NOW - D);
	add(&v, "acme", "dropped", "tok-drop-proved", TOKEN_VERIFIED, NOW - D, NOW + 20 * D);
	r = add(&v, "acme", "dropped", "tok-drop-handed", TOKEN_VERIFIED, NOW - D, NOW + 20 * D);
	r->retire_after = NOW + 20 * D;
	plan_build(p, v.rows, v.n, NOW, &pl);
	assert_int_equal(count(&pl, PLAN_DELETE_UNDELIVERED, "dropped"), 2);
	assert_int_equal(count(&pl, PLAN_KEEP_DELIVERED, "dropped"), 1);
	a = action_of(&pl, PLAN_KEEP_DELIVERED, "dropped");
	if (a == NULL) {
		fail_msg("no keep-delivered action for the dropped slot");
	} else {
		assert_string_equal(a->token, "tok-drop-handed");
		assert_int_equal(a->deadline, NOW + 20 * D);
		assert_non_null(strstr(a->why, "no longer has"));
	}
	assert_null(finding(&pl, FIND_UNMANAGED, "tok-drop-handed"));
	assert_int_equal(count(&pl, PLAN_DELETE_UNDELIVERED, "later"), 1);
	assert_int_equal(count(&pl, PLAN_CREATE, "later"), 0);
	/* a consumer may hold it: kept, never deleted under it, and the slot rotated now so
	 * that its consumers hold one token again */
	assert_int_equal(count(&pl, PLAN_KEEP_DELIVERED, "resumed"), 1);
	assert_int_equal(count(&pl, PLAN_DELETE_UNDELIVERED, "resumed"), 0);
	assert_int_equal(count(&pl, PLAN_CREATE, "resumed"), 1);
	/* held: not due; a later consumer refused its last replacement, kept as retiring */
	assert_int_equal(count(&pl, PLAN_CREATE, "held"), 1);
	assert_int_equal(count(&pl, PLAN_CREATE, "lapsed"), 0);
	assert_int_equal(count(&pl, PLAN_DELETE_OLD, "due"), 1);
	assert_null(finding(&pl, FIND_EXPIRED, "tok-old"));
	assert_null(finding(&pl, FIND_MAX_LIFETIME, "tok-ancient"));
	assert_non_null(finding(&pl, FIND_EXPIRED, "tok-ancient"));
	assert_non_null(finding(&pl, FIND_EXPIRED, "tok-hand"));
	assert_null(finding(&pl, FIND_UNMANAGED, "tok-hand"));
	assert_null(finding(&pl, FIND_UNMANAGED, "tok-gone"));
	assert_int_equal(count(&pl, PLAN_DELETE_UNMANAGED, NULL), 0);
	plan_free(&pl);
	tokens_free(v.rows, v.n);
	policy_free(p);
}

/* Failed attempts: a due slot waits out its backoff; one that keeps failing is stuck. */
static void
test_backoff_and_stuck(void **state)
{
	struct policy *p = load(slots_policy);
	struct slot_state st[2] = {
	    {.workspace = (char[]){"acme"},
	     .slot = (char[]){"due"},
	     .failures = 2,
	     .next_attempt_at = NOW + H,
	     .last_error = (char[]){"HTTP 503"}},
	    {.workspace = (char[]){"acme"},
	     .slot = (char[]){"later"},
	     .failures = 5,
	     .next_attempt_at = NOW - H,
	     .last_error = (char[]){"HTTP 503"}},
	};
	struct plan_input in = {.states = st, .nstates = 2};
	const struct plan_finding *f;
	struct inv v = {0};
	struct plan pl;

	(void)state;
	add(&v, "acme", "due", "tok-due", TOKEN_ACTIVE, NOW - 25 * D, NOW + 5 * D);
	add(&v, "acme", "later", "tok-later", TOKEN_ACTIVE, NOW - 14 * D, NOW + 16 * D);
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "due"), 0);
	assert_true(pl.next_at <= NOW + H);
	/* later is not due, but five failures in a row make it stuck all the same; due is not */
	f = finding(&pl, FIND_STUCK, NULL);
	assert_non_null(f);
	if (f != NULL)
		assert_string_equal(f->slot, "later");
	plan_free(&pl);

	/* A slot whose token lapses before the next run does not wait out its backoff. */
	plan_build_with(p, v.rows, v.n, NOW + 4 * D + 2 * H, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "due"), 1);
	plan_free(&pl);
	st[0].next_attempt_at = NOW + 4 * D + 3 * H;
	plan_build_with(p, v.rows, v.n, NOW + 2 * H, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "due"), 0);
	plan_free(&pl);
	st[0].next_attempt_at = NOW + H;

	/* "not before" never names a time before the backoff ends: seconds round up. */
	st[0].next_attempt_at = NOW + H + 30 * S;
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	f = finding(&pl, FIND_FAILING, NULL);
	assert_non_null(f);
	if (f != NULL) {
		char *text = plan_finding_text(f);

		assert_non_null(strstr(text, "next attempt not before 2026-11-23T02:01Z"));
		free(text);
	}
	plan_free(&pl);
	st[0].next_attempt_at = NOW + H;

	/* Once its backoff is over, the slot is due again. */
	plan_build_with(p, v.rows, v.n, NOW + 2 * H, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "due"), 1);
	plan_free(&pl);
	tokens_free(v.rows, v.n);
	policy_free(p);
}

/* The why of slot's create, or NULL. */
static const char *
create_why(const struct plan *pl, const char *slot)
{
	const struct plan_action *a = action_of(pl, PLAN_CREATE, slot);

	return a != NULL ? a->why : NULL;
}

/*
 * A token a consumer may hold, revoked or deleted since, that is newer than
 * its slot's active one: the slot is due at once, or said to be when it is
 * paused.  One older than the active one, or of a slot the policy lacks,
 * changes nothing.
 */
static void
test_dead_held(void **state)
{
	struct policy *p = load(slots_policy);
	struct plan_input in = {0};
	struct inv v = {0}, dead = {0};
	const struct plan_finding *f;
	struct token_row *r;
	struct plan pl;
	const char *why;

	(void)state;
	add(&v, "acme", "later", "tok-later", TOKEN_ACTIVE, NOW - 14 * D, NOW + 16 * D);
	add(&v, "acme", "held", "tok-held", TOKEN_ACTIVE, NOW - 2 * D, NOW + 28 * D);
	add(&v, "acme", "paused", "tok-paused", TOKEN_ACTIVE, NOW - 1 * D, NOW + 29 * D);
	/* later: its replacement reached the consumer, then was revoked */
	r = add(&dead, "acme", "later", "tok-later-new", TOKEN_REVOKED, NOW - 2 * H, NOW + 30 * D);
	r->row = 4;
	r->updated_at = NOW - H;
	/* held: a token deleted by hand before the active one was made */
	r = add(&dead, "acme", "held", "tok-held-old", TOKEN_DELETED, NOW - 3 * D, NOW + 27 * D);
	r->row = 1; /* before tok-held's 2 (row 1 of another slot is no matter) */
	/* a slot the policy no longer has */
	r = add(&dead, "acme", "gone", "tok-gone", TOKEN_REVOKED, NOW - D, NOW + 29 * D);
	r->row = 6;
	/* paused: as later, but the slot is paused */
	r = add(&dead, "acme", "paused", "tok-paused-new", TOKEN_DELETED, NOW - H, NOW + 30 * D);
	r->row = 7;

	/* Without them, none of the three is due (the slots without a token are). */
	plan_build_with(p, v.rows, v.n, NOW, NULL, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "later"), 0);
	assert_int_equal(count(&pl, PLAN_CREATE, "held"), 0);
	assert_null(finding(&pl, FIND_PAUSED, NULL));
	plan_free(&pl);

	in.dead = dead.rows;
	in.ndead = dead.n;
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "later"), 1);
	assert_int_equal(count(&pl, PLAN_CREATE, "held"), 0);
	assert_int_equal(count(&pl, PLAN_CREATE, "paused"), 0);
	why = create_why(&pl, "later");
	assert_non_null(why);
	assert_non_null(strstr(why, "its consumers may hold tok-later-new, revoked at "
				    "2026-11-23T00:00Z; a rotation gives them a working token"));
	f = finding(&pl, FIND_PAUSED, "tok-paused");
	assert_non_null(f);
	if (f != NULL)
		assert_non_null(strstr(f->text, "its consumers may hold tok-paused-new, deleted"));
	plan_free(&pl);

	/* Its active token revoked (so no longer read as live): due anyway, and the why says
	 * what became of it. */
	v.rows[0].state = TOKEN_REVOKED;
	dead.rows[0].row = 1;
	free(dead.rows[0].token);
	dead.rows[0].token = xstrdup("tok-later");
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	why = create_why(&pl, "later");
	assert_non_null(why);
	assert_string_equal(why, "its token tok-later was revoked at 2026-11-23T00:00Z");
	plan_free(&pl);

	tokens_free(v.rows, v.n);
	tokens_free(dead.rows, dead.n);
	policy_free(p);
}

/*
 * A slot whose consumers may hold a dead token does not wait out a backoff
 * from an earlier failure: they are without a working token now, however
 * long its active one lasts.  (Property seed 625389488 case 20: a
 * replacement delivered, deleted by hand, the next run refused by the
 * server, and the run after it, at once, left the consumer on the deleted
 * token.)
 */
static void
test_dead_held_skips_backoff(void **state)
{
	struct policy *p = load(slots_policy);
	struct slot_state st = {.workspace = (char[]){"acme"},
				.slot = (char[]){"later"},
				.failures = 1,
				.next_attempt_at = NOW + H,
				.last_error = (char[]){"HTTP 401"}};
	struct plan_input in = {.states = &st, .nstates = 1};
	struct inv v = {0}, dead = {0};
	struct token_row *r;
	struct plan pl;

	(void)state;
	add(&v, "acme", "later", "tok-later", TOKEN_ACTIVE, NOW - 14 * D, NOW + 16 * D);
	r = add(&dead, "acme", "later", "tok-later-new", TOKEN_DELETED, NOW - 2 * H, NOW + 30 * D);
	r->row = 4;
	r->updated_at = NOW - H;
	in.dead = dead.rows;
	in.ndead = dead.n;
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "later"), 1);
	assert_non_null(strstr(create_why(&pl, "later"), "its consumers may hold tok-later-new"));
	/* The failure is still said. */
	assert_non_null(finding(&pl, FIND_FAILING, NULL));
	plan_free(&pl);
	/* Without the dead token the slot is not due, backoff or not. */
	in.ndead = 0;
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "later"), 0);
	plan_free(&pl);
	tokens_free(v.rows, v.n);
	tokens_free(dead.rows, dead.n);
	policy_free(p);
}

/* The deletions of a replaced token past its grace the plan has for token. */
static int
deletes(const struct plan *pl, const char *token)
{
	int n = 0;

	for (size_t i = 0; i < pl->nactions; i++)
		if (pl->actions[i].kind == PLAN_DELETE_OLD && pl->actions[i].token != NULL &&
		    strcmp(pl->actions[i].token, token) == 0)
			n++;
	return n;
}

/*
 * A replacement kept for a consumer that expires before the slot's older
 * active token (the policy shortened the lifetime since): the slot is due
 * at once, and the kept token is not deleted before that rotation, while an
 * older replaced token past its grace goes as ever.
 */
static void
test_kept_expired(void **state)
{
	struct policy *p = load(slots_policy);
	struct inv v = {0};
	struct plan pl;
	const char *why;

	(void)state;
	retired(&v, "later", "tok-older", NOW - 30 * D, NOW + 2 * D, NOW - D);
	add(&v, "acme", "later", "tok-later", TOKEN_ACTIVE, NOW - 14 * D, NOW + 16 * D);
	retired(&v, "later", "tok-kept", NOW - 3 * D, NOW - H, NOW - H);
	plan_build(p, v.rows, v.n, NOW, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "later"), 1);
	why = create_why(&pl, "later");
	assert_non_null(why);
	assert_non_null(
	    strstr(why, "its consumers may hold tok-kept, expired at 2026-11-23T00:00Z"));
	assert_int_equal(count(&pl, PLAN_DELETE_OLD, "later"), 1);
	assert_int_equal(deletes(&pl, "tok-older"), 1);
	plan_free(&pl);

	/* Once a newer token is active, the kept one is deleted like any other. */
	add(&v, "acme", "later", "tok-newest", TOKEN_ACTIVE, NOW, NOW + 30 * D);
	v.rows[1].state = TOKEN_RETIRING;
	v.rows[1].retire_after = NOW + D;
	plan_build(p, v.rows, v.n, NOW, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "later"), 0);
	assert_int_equal(count(&pl, PLAN_DELETE_OLD, "later"), 2);
	plan_free(&pl);
	tokens_free(v.rows, v.n);
	policy_free(p);
}

/*
 * Tokens newer than the slot's active one that the tool set to go before
 * their expiry are deleted past their grace, as any replaced token: one
 * whose consumers took a later kept one, and one its first consumer refused
 * (a crash came before its DELETE was recorded).  The newest kept one, which
 * retires at its expiry, stays.
 */
static void
test_past_grace_newer(void **state)
{
	struct policy *p = load(slots_policy);
	struct inv v = {0};
	struct plan pl;

	(void)state;
	retired(&v, "later", "tok-older", NOW - 30 * D, NOW + 2 * D, NOW - D);
	add(&v, "acme", "later", "tok-later", TOKEN_ACTIVE, NOW - 14 * D, NOW + 16 * D);
	retired(&v, "later", "tok-superseded", NOW - 3 * D, NOW + 27 * D, NOW - 2 * D + H);
	retired(&v, "later", "tok-refused", NOW - D, NOW + 29 * D, NOW - D);
	retired(&v, "later", "tok-kept", NOW - 2 * D, NOW + 28 * D, NOW + 28 * D);
	plan_build(p, v.rows, v.n, NOW, &pl);
	assert_int_equal(deletes(&pl, "tok-older"), 1);
	assert_int_equal(deletes(&pl, "tok-superseded"), 1);
	assert_int_equal(deletes(&pl, "tok-refused"), 1);
	assert_int_equal(deletes(&pl, "tok-kept"), 0);
	assert_int_equal(count(&pl, PLAN_DELETE_OLD, "later"), 3);
	plan_free(&pl);
	/* Kept and expired: still not deleted before the rotation its consumers need. */
	v.rows[4].expires_at = v.rows[4].retire_after = NOW - H;
	plan_build(p, v.rows, v.n, NOW, &pl);
	assert_int_equal(count(&pl, PLAN_DELETE_OLD, "later"), 3);
	assert_int_equal(count(&pl, PLAN_CREATE, "later"), 1);
	plan_free(&pl);
	tokens_free(v.rows, v.n);
	policy_free(p);
}

/* --force: the slot is rotated now whatever its due time, backoff or pause; the others as due. */
static void
test_force(void **state)
{
	struct policy *p = load(slots_policy);
	struct slot_state st = {.workspace = (char[]){"acme"},
				.slot = (char[]){"later"},
				.failures = 1,
				.next_attempt_at = NOW + H,
				.last_error = (char[]){"HTTP 503"}};
	struct plan_input in = {.states = &st, .nstates = 1};
	struct inv v = {0};
	struct plan pl;

	(void)state;
	add(&v, "acme", "later", "tok-later", TOKEN_ACTIVE, NOW - 14 * D, NOW + 16 * D);
	add(&v, "acme", "paused", "tok-paused", TOKEN_ACTIVE, NOW - 1 * D, NOW + 29 * D);
	in.force = policy_find_slot(p, "acme", "later");
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "later"), 1);
	assert_int_equal(count(&pl, PLAN_CREATE, "paused"), 0);
	for (size_t i = 0; i < pl.nactions; i++)
		if (pl.actions[i].kind == PLAN_CREATE && strcmp(pl.actions[i].slot, "later") == 0) {
			assert_true(pl.actions[i].due == NOW);
			assert_non_null(strstr(pl.actions[i].why, "--force"));
		}
	plan_free(&pl);

	in.force = policy_find_slot(p, "acme", "paused");
	plan_build_with(p, v.rows, v.n, NOW, &in, &pl);
	assert_int_equal(count(&pl, PLAN_CREATE, "paused"), 1);
	assert_int_equal(count(&pl, PLAN_CREATE, "later"), 0);
	plan_free(&pl);
	tokens_free(v.rows, v.n);
	policy_free(p);
}

static void
test_capacity(void **state)
{
	(void)state;
	/* 10 s: 40 requests, 13 rotations; the 14th (s13) misses. */
	capacity_case("10s", 0, "s13");
	/* 20 s: 80 requests, 26 rotations; s26 misses. */
	capacity_case("20s", 0, "s26");
	/* 23 s: 92 requests, 30 rotations: all fit. */
	capacity_case("23s", 1, NULL);
	/* No limit on the run's length: all fit. */
	capacity_case(NULL, 1, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_jitter_stable),
	    cmocka_unit_test(test_enforce_texts),
	    cmocka_unit_test(test_due_time),
	    cmocka_unit_test(test_actions_and_findings),
	    cmocka_unit_test(test_enforce_workspace_gone),
	    cmocka_unit_test(test_unmanaged_waits_for_every_slot),
	    cmocka_unit_test(test_window_in_dst_gap),
	    cmocka_unit_test(test_lost_answers_across_runs),
	    cmocka_unit_test(test_unreached_consumer_due),
	    cmocka_unit_test(test_moved_consumer),
	    cmocka_unit_test(test_offered_held),
	    cmocka_unit_test(test_regiven_due),
	    cmocka_unit_test(test_unknown_holds_imported),
	    cmocka_unit_test(test_unreached_holds_unmanaged),
	    cmocka_unit_test(test_lapsed_holds_by_record),
	    cmocka_unit_test(test_lapsed_unserved_imported),
	    cmocka_unit_test(test_window_after_last_run),
	    cmocka_unit_test(test_two_parts),
	    cmocka_unit_test(test_omit),
	    cmocka_unit_test(test_pure),
	    cmocka_unit_test(test_capacity),
	    cmocka_unit_test(test_due_before_next_run),
	    cmocka_unit_test(test_cleanup_edges),
	    cmocka_unit_test(test_backoff_and_stuck),
	    cmocka_unit_test(test_force),
	    cmocka_unit_test(test_dead_held),
	    cmocka_unit_test(test_dead_held_skips_backoff),
	    cmocka_unit_test(test_kept_expired),
	    cmocka_unit_test(test_past_grace_newer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
