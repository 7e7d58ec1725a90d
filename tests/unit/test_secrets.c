/*
 * Unit tests for store/secrets: a reveal is recorded as one event; rekey
 * reseals every secret, re-pins and records one event, or changes nothing
 * at all when the pin is wrong or a reseal fails half-way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/jsonx.h"
#include "store/events.h"
#include "store/inventory.h"
#include "store/secrets.h"
#include "store/tokens.h"
#include "store_fixture.h"

#include <sqlite3.h>
#include <string.h>

#define OLD "tw1:old"
#define NEW "tw1:new"
#define NSECRETS 3

/* The "sealed" blob of token id: its id, so a reseal can be checked. */
static void
import(struct fixture *fx, const char *slot, const char *id, int with_secret)
{
	struct token_import imp = {
	    .workspace = "acme",
	    .slot = slot,
	    .token = id,
	    .name = "imported",
	    .created_at = 100,
	    .expires_at = 5000,
	    .sealed = with_secret ? (const unsigned char *)id : NULL,
	    .sealed_len = strlen(id),
	    .fpr = OLD,
	};
	char *cause = NULL;

	if (tokens_import(fx->s, &imp, 200, &cause) < 0)
		fail_msg("import: %s", cause);
}

/* A pinned store with three secrets (ids s1..s3) and one token without. */
static int
setup(void **state)
{
	struct fixture *fx;
	char *cause = NULL;

	if (fixture_setup(state) < 0)
		return -1;
	fx = *state;
	if (store_pin_key(fx->s, OLD, 10, &cause) < 0)
		return -1;
	import(fx, "etl", "s1", 1);
	import(fx, NULL, "s2", 1);
	import(fx, "bi", "nosecret", 0);
	import(fx, "ops", "s3", 1);
	return 0;
}

struct history {
	int64_t n;
	const char *kind; /* count only these, or every event when NULL */
	json_t *last;     /* details of the last counted event */
	char token[64];
	char slot[64];
};

static int
count_event(const struct event *e, void *arg)
{
	struct history *h = arg;

	if (h->kind != NULL && strcmp(e->kind, h->kind) != 0)
		return 0;
	h->n++;
	json_decref(h->last);
	h->last = json_loads(e->details, 0, NULL);
	snprintf(h->token, sizeof h->token, "%s", e->token != NULL ? e->token : "");
	snprintf(h->slot, sizeof h->slot, "%s", e->slot != NULL ? e->slot : "");
	return 0;
}

static void
history(struct fixture *fx, const char *kind, struct history *h)
{
	struct event_filter f = {.kind = kind};
	char head[EVENTS_HEAD_MAX], *cause = NULL;
	int64_t n = 0, bad = 0;

	memset(h, 0, sizeof *h);
	h->kind = kind;
	assert_int_equal(events_list(fx->s, &f, count_event, h, &cause), 0);
	/* The chain holds whatever happened. */
	assert_int_equal(events_verify(fx->s, &n, head, &bad, &cause), 0);
}

static int64_t
row_of(struct fixture *fx, const char *id)
{
	struct token_row *r = NULL;
	char *cause = NULL;
	int64_t row;

	assert_int_equal(tokens_find(fx->s, "acme", id, &r, &cause), 0);
	row = r->row;
	tokens_free(r, 1);
	return row;
}

/* Asserts id's stored blob is want, sealed to fpr. */
static void
assert_blob(struct fixture *fx, const char *id, const char *want, const char *fpr)
{
	unsigned char *b = NULL;
	size_t len = 0;
	char *got_fpr = NULL, *cause = NULL;

	assert_int_equal(tokens_sealed(fx->s, row_of(fx, id), &b, &len, &got_fpr, &cause), 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(b, want, len);
	assert_string_equal(got_fpr, fpr);
	free(b);
	free(got_fpr);
}

static void
assert_pinned(struct fixture *fx, const char *fpr)
{
	char *cause = NULL;

	assert_int_equal(store_check_key(fx->s, fpr, &cause), 0);
}

/*
 * The fake reseal: "new:" + the old blob; fails on call number fail_at
 * (1-based), and finds the blob does not open on call unopened_at.
 */
struct reseal_arg {
	int calls;
	int fail_at;
	int unopened_at;
	char seen[NSECRETS + 1][64];
};

static int
fake_reseal(const char *workspace, const char *token, const unsigned char *blob, size_t len,
	    unsigned char **out, size_t *out_len, void *arg, char **cause)
{
	struct reseal_arg *a = arg;

	a->calls++;
	assert_string_equal(workspace, "acme");
	/* The blob handed over is the one stored for this token. */
	assert_int_equal(len, strlen(token));
	assert_memory_equal(blob, token, len);
	if (a->calls <= NSECRETS)
		snprintf(a->seen[a->calls - 1], sizeof a->seen[0], "%s", token);
	if (a->calls == a->fail_at) {
		*cause = xasprintf("cannot open %s", token);
		return -1;
	}
	if (a->calls == a->unopened_at) {
		*cause = xasprintf("the sealed secret of token %s does not open", token);
		return SECRETS_UNOPENED;
	}
	*out_len = len + 4;
	*out = xmalloc(*out_len);
	memcpy(*out, "new:", 4);
	memcpy(*out + 4, blob, len);
	return 0;
}

static void
test_reveal_recorded(void **state)
{
	struct fixture *fx = *state;
	struct history before, after;
	struct secrets_reveal ok = {.key_fingerprint = "tw1:abc",
				    .user = "alice",
				    .claimed_login = "bob",
				    .claimed_login_from = "SUDO_USER",
				    .reason = "incident 42"};
	struct secrets_reveal bad = {.key_fingerprint = "tw1:other",
				     .user = "alice",
				     .failure = "wrong_key",
				     .message = "does not open",
				     .sealed_to = "tw1:abc"};
	char *cause = NULL;

	history(fx, NULL, &before);
	assert_int_equal(secrets_record_reveal(fx->s, row_of(fx, "s1"), 300, &ok, &cause), 0);
	history(fx, NULL, &after);
	assert_int_equal(after.n, before.n + 1);
	json_decref(after.last);
	history(fx, "secret.revealed", &after);
	assert_int_equal(after.n, 1);
	assert_string_equal(after.token, "s1");
	assert_string_equal(after.slot, "etl");
	/* Each field given is in the details, under its name; those not given are absent. */
	assert_string_equal(json_string_value(json_object_get(after.last, "key_fingerprint")),
			    "tw1:abc");
	assert_string_equal(json_string_value(json_object_get(after.last, "user")), "alice");
	assert_string_equal(json_string_value(json_object_get(after.last, "claimed_login")), "bob");
	assert_string_equal(json_string_value(json_object_get(after.last, "claimed_login_from")),
			    "SUDO_USER");
	assert_string_equal(json_string_value(json_object_get(after.last, "reason")),
			    "incident 42");
	assert_null(json_object_get(after.last, "failure"));
	assert_int_equal(json_object_size(after.last), 5);
	json_decref(after.last);
	/* A failed reveal is its own kind, with why. */
	assert_int_equal(secrets_record_reveal(fx->s, row_of(fx, "s1"), 305, &bad, &cause), 0);
	history(fx, "secret.reveal_failed", &after);
	assert_int_equal(after.n, 1);
	assert_string_equal(json_string_value(json_object_get(after.last, "failure")), "wrong_key");
	assert_string_equal(json_string_value(json_object_get(after.last, "sealed_to")), "tw1:abc");
	assert_null(json_object_get(after.last, "reason"));
	json_decref(after.last);
	json_decref(before.last);
	/* A row that does not exist: refused, nothing recorded. */
	assert_int_equal(secrets_record_reveal(fx->s, 999, 310, &ok, &cause), -1);
	assert_non_null(strstr(cause, "no token row 999"));
	free(cause);
	history(fx, "secret.revealed", &after);
	assert_int_equal(after.n, 1);
	json_decref(after.last);
}

static int
count_diffs(const struct inventory_diff *d, void *arg)
{
	(void)d;
	++*(int *)arg;
	return 0;
}

static void
test_rekey_reseals_all(void **state)
{
	struct fixture *fx = *state;
	struct reseal_arg a = {0};
	struct history h;
	char *cause = NULL, digest[INVENTORY_DIGEST_MAX];
	struct secrets_rekeyed r = {.count = -1};
	int64_t rows = 0;
	int diffs = 0;

	assert_int_equal(secrets_rekey(fx->s, OLD, NEW, fake_reseal, &a, 0, 400, &r, &cause), 0);
	assert_int_equal(r.count, NSECRETS);
	assert_int_equal(a.calls, NSECRETS);
	assert_string_equal(a.seen[0], "s1");
	assert_string_equal(a.seen[1], "s2");
	assert_string_equal(a.seen[2], "s3");
	assert_blob(fx, "s1", "new:s1", NEW);
	assert_blob(fx, "s2", "new:s2", NEW);
	assert_blob(fx, "s3", "new:s3", NEW);
	assert_pinned(fx, NEW);
	history(fx, "store.rekey", &h);
	assert_int_equal(h.n, 1);
	assert_string_equal(json_string_value(json_object_get(h.last, "old")), OLD);
	assert_string_equal(json_string_value(json_object_get(h.last, "new")), NEW);
	assert_int_equal(json_integer_value(json_object_get(h.last, "count")), NSECRETS);
	json_decref(h.last);
	/* Each new blob recorded by an event of its row, so the tables follow from the history. */
	history(fx, "secret.resealed", &h);
	assert_int_equal(h.n, NSECRETS);
	assert_string_equal(h.token, "s3");
	inventory_sealed_digest(NEW, (const unsigned char *)"new:s3", 6, digest);
	assert_string_equal(json_string_value(json_object_get(h.last, "sealed")), digest);
	assert_string_equal(json_string_value(json_object_get(h.last, "key_fingerprint")), NEW);
	json_decref(h.last);
	assert_int_equal(inventory_verify(fx->s, INVENTORY_ALL, count_diffs, &diffs, &rows, &cause),
			 0);
	assert_int_equal(diffs, 0);
}

/*
 * A secret that opens but is not the one its history recorded (here its
 * key's fingerprint edited) is not resealed, which would record it: it
 * stops the rekey, named, or with drop is dropped.
 */
static void
test_rekey_replaced(void **state)
{
	struct fixture *fx = *state;
	struct reseal_arg a = {0};
	struct secrets_rekeyed r;
	struct history h;
	char *cause = NULL, *sql;
	int64_t rows = 0;
	int diffs = 0;

	sql = xasprintf("UPDATE secrets SET key_fingerprint = 'tw1:else' WHERE token_row = %lld",
			(long long)row_of(fx, "s2"));
	assert_int_equal(sqlite3_exec(fx->s->db, sql, NULL, NULL, NULL), SQLITE_OK);
	free(sql);
	assert_int_equal(secrets_rekey(fx->s, OLD, NEW, fake_reseal, &a, 0, 400, &r, &cause), -1);
	assert_int_equal(r.unopened_n, 1);
	assert_non_null(strstr(r.unopened, "the sealed secret of token s2 in workspace acme is not "
					   "the one its history recorded (event "));
	assert_non_null(strstr(r.unopened, "): it was replaced outside tokenwarden"));
	FREE_NULL(&cause);
	FREE_NULL(&r.unopened);
	assert_blob(fx, "s1", "s1", OLD);
	assert_pinned(fx, OLD);

	a = (struct reseal_arg){0};
	assert_int_equal(secrets_rekey(fx->s, OLD, NEW, fake_reseal, &a, 1, 410, &r, &cause), 0);
	assert_int_equal(r.count, NSECRETS - 1);
	assert_int_equal(r.dropped, 1);
	history(fx, "secret.dropped", &h);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.token, "s2");
	assert_string_equal(json_string_value(json_object_get(h.last, "reason")), r.unopened);
	json_decref(h.last);
	free(r.unopened);
	assert_int_equal(inventory_verify(fx->s, INVENTORY_ALL, count_diffs, &diffs, &rows, &cause),
			 0);
	assert_int_equal(diffs, 0);
}

/* Asserts the fixture is exactly as setup left it. */
static void
assert_unchanged(struct fixture *fx)
{
	struct history h;

	assert_blob(fx, "s1", "s1", OLD);
	assert_blob(fx, "s2", "s2", OLD);
	assert_blob(fx, "s3", "s3", OLD);
	assert_pinned(fx, OLD);
	history(fx, "store.rekey", &h);
	assert_int_equal(h.n, 0);
	json_decref(h.last);
}

static void
test_rekey_failure_rolls_back(void **state)
{
	struct fixture *fx = *state;
	struct reseal_arg a = {.fail_at = 2};
	char *cause = NULL;
	struct secrets_rekeyed r = {.count = -1};

	assert_int_equal(secrets_rekey(fx->s, OLD, NEW, fake_reseal, &a, 0, 400, &r, &cause), -1);
	assert_string_equal(cause, "cannot open s2");
	free(cause);
	assert_int_equal(a.calls, 2);
	assert_int_equal(r.count, 0);
	assert_unchanged(fx);
	/* The store is usable afterwards: no transaction was left open. */
	a = (struct reseal_arg){0};
	assert_int_equal(secrets_rekey(fx->s, OLD, NEW, fake_reseal, &a, 0, 410, &r, &cause), 0);
	assert_int_equal(r.count, NSECRETS);
}

static void
test_rekey_wrong_pin_refused(void **state)
{
	struct fixture *fx = *state;
	struct reseal_arg a = {0};
	char *cause = NULL;
	struct secrets_rekeyed r = {.count = -1};

	assert_int_equal(
	    secrets_rekey(fx->s, "tw1:other", NEW, fake_reseal, &a, 0, 400, &r, &cause), -1);
	assert_non_null(strstr(cause, "pinned to sealing key " OLD));
	assert_non_null(strstr(cause, "tw1:other"));
	FREE_NULL(&cause);
	assert_int_equal(a.calls, 0);
	assert_unchanged(fx);
	/* Rekeying to the pinned key itself is refused too. */
	assert_int_equal(secrets_rekey(fx->s, OLD, OLD, fake_reseal, &a, 0, 400, &r, &cause), -1);
	assert_non_null(strstr(cause, "nothing to do"));
	FREE_NULL(&cause);
	assert_unchanged(fx);
	/* Another pair's secret key, to its own public key: the pin is what is wrong. */
	assert_int_equal(
	    secrets_rekey(fx->s, "tw1:other", "tw1:other", fake_reseal, &a, 0, 400, &r, &cause),
	    -1);
	assert_non_null(strstr(cause, "pinned to sealing key " OLD));
	assert_null(strstr(cause, "nothing to do"));
	free(cause);
	assert_unchanged(fx);
}

static void
test_rekey_empty_store(void **state)
{
	struct fixture *fx = *state;
	struct reseal_arg a = {0};
	char *cause = NULL;
	struct secrets_rekeyed r = {.count = -1};

	/* A store that was never initialised has no pin to check against. */
	assert_int_equal(secrets_rekey(fx->s, OLD, NEW, fake_reseal, &a, 0, 400, &r, &cause), -1);
	assert_non_null(strstr(cause, "run 'tokenwarden init'"));
	FREE_NULL(&cause);
	/* Pinned but without secrets: only the pin moves. */
	assert_int_equal(store_pin_key(fx->s, OLD, 10, &cause), 0);
	assert_int_equal(secrets_rekey(fx->s, OLD, NEW, fake_reseal, &a, 0, 400, &r, &cause), 0);
	assert_int_equal(r.count, 0);
	assert_int_equal(a.calls, 0);
	assert_pinned(fx, NEW);
}

static void
test_rekey_unopened(void **state)
{
	struct fixture *fx = *state;
	struct reseal_arg a = {.unopened_at = 2};
	struct secrets_rekeyed r;
	struct history h;
	unsigned char *b = NULL;
	char *cause = NULL, *fpr = NULL;
	int64_t rows = 0;
	int diffs = 0;
	size_t len = 0;

	/* Without drop: every one is tried and named, and nothing changes. */
	assert_int_equal(secrets_rekey(fx->s, OLD, NEW, fake_reseal, &a, 0, 400, &r, &cause), -1);
	assert_int_equal(a.calls, NSECRETS);
	assert_string_equal(r.unopened, "the sealed secret of token s2 does not open");
	assert_string_equal(cause, "1 secret of 3 cannot be resealed (the "
				   "sealed secret of token s2 does not open)");
	FREE_NULL(&cause);
	FREE_NULL(&r.unopened);
	assert_unchanged(fx);

	/* With drop: the others resealed, that one dropped and recorded. */
	a = (struct reseal_arg){.unopened_at = 2};
	assert_int_equal(secrets_rekey(fx->s, OLD, NEW, fake_reseal, &a, 1, 410, &r, &cause), 0);
	assert_int_equal(r.count, NSECRETS - 1);
	assert_int_equal(r.dropped, 1);
	assert_string_equal(r.unopened, "the sealed secret of token s2 does not open");
	free(r.unopened);
	assert_blob(fx, "s1", "new:s1", NEW);
	assert_int_equal(tokens_sealed(fx->s, row_of(fx, "s2"), &b, &len, &fpr, &cause), 1);
	assert_blob(fx, "s3", "new:s3", NEW);
	assert_pinned(fx, NEW);
	history(fx, "secret.dropped", &h);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.token, "s2");
	assert_string_equal(json_string_value(json_object_get(h.last, "reason")),
			    "the sealed secret of token s2 does not open");
	assert_string_equal(json_string_value(json_object_get(h.last, "key_fingerprint")), OLD);
	json_decref(h.last);
	history(fx, "store.rekey", &h);
	assert_int_equal(json_integer_value(json_object_get(h.last, "count")), NSECRETS - 1);
	assert_int_equal(json_integer_value(json_object_get(h.last, "dropped")), 1);
	json_decref(h.last);
	/* The row without its secret follows from the history. */
	assert_int_equal(inventory_verify(fx->s, INVENTORY_ALL, count_diffs, &diffs, &rows, &cause),
			 0);
	assert_int_equal(diffs, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_reveal_recorded, setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_rekey_reseals_all, setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_rekey_failure_rolls_back, setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_rekey_wrong_pin_refused, setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_rekey_unopened, setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_rekey_replaced, setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_rekey_empty_store, fixture_setup,
					    fixture_teardown),
	};

	jsonx_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
