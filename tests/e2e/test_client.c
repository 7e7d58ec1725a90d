/*
 * The API client against tests/modesim on loopback: the retry rules, the
 * pacing, every fault kind's error code, and the clock bound (the server's
 * Date against this process's clock).  Run by run_with_sim.sh, which
 * starts the simulator and exports SIM_URL (workspace acme, credential
 * adminkey:adminsecret).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/clock.h"
#include "core/cred.h"
#include "core/jsonx.h"
#include "core/mode.h"
#include "core/ratelimit.h"
#include "core/timefmt.h"
#include "core/xalloc.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *sim;
static struct cred admin;

/* Collects a control-API answer. */
static size_t
collect(char *data, size_t size, size_t n, void *arg)
{
	char **buf = arg;
	size_t old = *buf != NULL ? strlen(*buf) : 0;

	*buf = xrealloc(*buf, old + size * n + 1);
	memcpy(*buf + old, data, size * n);
	(*buf)[old + size * n] = '\0';
	return size * n;
}

/* Calls the simulator's control API; returns the parsed answer (caller decrefs). */
static json_t *
ctl(const char *method, const char *path, const char *body)
{
	CURL *h = curl_easy_init();
	char *url = xasprintf("%s/_sim/%s", sim, path), *text = NULL;
	long status = 0;
	json_t *j;

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &text);
	if (curl_easy_perform(h) != CURLE_OK)
		fail_msg("control call %s %s failed", method, path);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200)
		fail_msg("control call %s %s: %ld %s", method, path, status, text);
	j = json_loads(text != NULL ? text : "", 0, NULL);
	assert_non_null(j);
	free(text);
	free(url);
	curl_easy_cleanup(h);
	return j;
}

static void
faults(const char *json)
{
	json_decref(ctl("POST", "faults", json));
}

/* Requests the simulator answered with status since the last reset. */
static long
stat_status(const char *status)
{
	json_t *s = ctl("GET", "stats", NULL);
	long n = (long)json_integer_value(json_object_get(json_object_get(s, "by_status"), status));

	json_decref(s);
	return n;
}

/* Returns 1 when a token named name exists server-side. */
static int
sim_has(const char *name)
{
	json_t *all = ctl("GET", "tokens", NULL), *t;
	size_t i;
	int found = 0;

	json_array_foreach(json_object_get(all, "tokens"), i, t) found |=
	    strcmp(json_string_value(json_object_get(t, "name")), name) == 0;
	json_decref(all);
	return found;
}

static struct mode_client *
client(const char *workspace, int retries, long timeout_ms)
{
	struct mode_opts o;
	char *cause = NULL;
	struct mode_client *c;

	mode_opts_default(&o);
	o.retries = retries;
	o.timeout_ms = timeout_ms;
	c = mode_client_new(sim, workspace, &admin, &o, &cause);
	if (c == NULL)
		fail_msg("client: %s", cause);
	return c;
}

/* A client of workspace acme whose credential's budget is rl, as a run's clients share one. */
static struct mode_client *
sharing_client(struct ratelimit *rl)
{
	struct mode_opts o;
	char *cause = NULL;
	struct mode_client *c;

	mode_opts_default(&o);
	o.shared_rl = rl;
	c = mode_client_new(sim, "acme", &admin, &o, &cause);
	if (c == NULL)
		fail_msg("client: %s", cause);
	return c;
}

static int64_t
in_days(int days)
{
	return clock_now_ms() + (int64_t)days * 86400000;
}

static int
reset(void **state)
{
	(void)state;
	json_decref(ctl("POST", "reset", "{}"));
	return 0;
}

/*
 * Whether string s is in sodium_malloc memory, as xsecret_strdup makes it:
 * such a block ends where a page ends, against its guard page, which a
 * block from malloc does only by chance.
 */
static int
guarded(const char *s)
{
	return (uintptr_t)(s + strlen(s) + 1) % (uintptr_t)sysconf(_SC_PAGESIZE) == 0;
}

static void
test_create_verify_delete(void **state)
{
	struct mode_client *c = client("acme", 4, 30000);
	struct mode_token *t = NULL, *d = NULL;
	char *cause = NULL;

	(void)state;
	assert_int_equal(mode_create(c, "e2e-happy-path", in_days(30), &t, &cause), MODE_OK);
	assert_string_equal(t->name, "e2e-happy-path");
	assert_non_null(t->access_secret);
	/* Issue 12, finding 8: the access key is kept as the secret is. */
	assert_true(guarded(t->access_secret));
	assert_true(guarded(t->access_key));
	assert_string_equal(t->authentication_for, "batch-api");
	assert_string_equal(t->authorization_type, "read-only");
	assert_true(t->expires_at > clock_now_ms());
	assert_int_equal(mode_verify(c, t->token, t->access_key, t->access_secret, &cause),
			 MODE_OK);
	assert_int_equal(mode_delete(c, t->token, &d, &cause), MODE_OK);
	assert_string_equal(d->token, t->token);
	assert_null(d->access_secret);
	assert_true(guarded(d->access_key));
	/* Deleted: the token no longer works, and a second delete is a 404. */
	assert_int_equal(mode_verify(c, t->token, t->access_key, t->access_secret, &cause),
			 MODE_ERR_AUTH);
	assert_non_null(strstr(cause, "401"));
	FREE_NULL(&cause);
	assert_int_equal(mode_delete(c, t->token, NULL, &cause), MODE_ERR_NOT_FOUND);
	assert_non_null(strstr(cause, "already deleted, or a wrong id"));
	FREE_NULL(&cause);
	mode_token_free(t);
	mode_token_free(d);
	mode_client_free(c);
}

static void
test_wrong_credential_and_workspace(void **state)
{
	struct cred bad = {.key = xsecret_strdup("adminkey"), .secret = xsecret_strdup("wrong")};
	struct mode_opts o;
	struct mode_client *c;
	struct mode_token *t = NULL;
	char *cause = NULL, *root;

	(void)state;
	mode_opts_default(&o);
	c = mode_client_new(sim, "acme", &bad, &o, &cause);
	assert_int_equal(mode_create(c, "e2e-wrong-secret", in_days(1), &t, &cause), MODE_ERR_AUTH);
	assert_non_null(strstr(cause, "create token 'e2e-wrong-secret' in workspace acme: 401"));
	assert_non_null(strstr(cause, "the API key or secret is wrong, or its owner left"));
	assert_null(strstr(cause, "wrong\""));
	FREE_NULL(&cause);
	assert_int_equal(mode_requests(c), 1); /* a 401 is final */
	mode_client_free(c);
	c = client("nosuchws", 4, 30000);
	assert_int_equal(mode_create(c, "e2e-no-workspace", in_days(1), &t, &cause),
			 MODE_ERR_NOT_FOUND);
	assert_non_null(strstr(cause, "no such workspace"));
	FREE_NULL(&cause);
	/*
	 * A DELETE's 404 means the token is gone only when it says so: one for
	 * a workspace, or a path, the API lacks is no deletion (a revoke must
	 * not report a leaked token revoked).
	 */
	assert_int_equal(mode_delete(c, "e2e-no-such-token", NULL, &cause), MODE_ERR_REJECTED);
	assert_non_null(strstr(cause, "Workspace not found"));
	assert_non_null(strstr(cause, "did not say the token is gone"));
	FREE_NULL(&cause);
	mode_client_free(c);
	root = xasprintf("%s/v2", sim);
	mode_opts_default(&o);
	c = mode_client_new(root, "acme", &admin, &o, &cause);
	assert_non_null(c);
	assert_int_equal(mode_delete(c, "e2e-no-such-token", NULL, &cause), MODE_ERR_REJECTED);
	assert_non_null(strstr(cause, "404"));
	FREE_NULL(&cause);
	mode_client_free(c);
	free(root);
	xsecret_free(bad.key);
	xsecret_free(bad.secret);
}

static void
test_expired_token_fails_verify(void **state)
{
	struct mode_client *c = client("acme", 4, 30000);
	struct mode_token *t = NULL;
	char *cause = NULL;

	(void)state;
	assert_int_equal(mode_create(c, "e2e-expiring", in_days(1), &t, &cause), MODE_OK);
	json_decref(ctl("POST", "clock", "{\"advance\": \"2d\"}"));
	assert_int_equal(mode_verify(c, t->token, t->access_key, t->access_secret, &cause),
			 MODE_ERR_AUTH);
	assert_non_null(strstr(cause, "deleted, expired, or a wrong access key or secret"));
	FREE_NULL(&cause);
	json_decref(ctl("POST", "clock", "{\"advance_seconds\": -172800}"));
	assert_int_equal(mode_delete(c, t->token, NULL, &cause), MODE_OK);
	mode_token_free(t);
	mode_client_free(c);
}

/* The nasty one: the POST creates the token, the answer is lost; never retried. */
static void
test_lost_post_is_unknown(void **state)
{
	struct mode_client *c = client("acme", 4, 30000);
	struct mode_token *t = NULL;
	char *cause = NULL;

	(void)state;
	faults("{\"lost_post_rate\": 1}");
	assert_int_equal(mode_create(c, "e2e-lost-answer", in_days(1), &t, &cause),
			 MODE_ERR_UNKNOWN);
	assert_null(t);
	assert_non_null(strstr(cause, "outcome unknown"));
	FREE_NULL(&cause);
	assert_int_equal(mode_requests(c), 1);
	assert_true(sim_has("e2e-lost-answer"));
	mode_client_free(c);
}

/* Every way a POST can end without a readable answer is "unknown", sent once. */
static void
test_post_faults_are_unknown(void **state)
{
	static const char *const kinds[] = {
	    "{\"error_rate\": 1}",     "{\"drop_rate\": 1}",     "{\"malformed_rate\": 1}",
	    "{\"truncated_rate\": 1}", "{\"latency_ms\": 1500}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		struct mode_client *c = client("acme", 4, 1000);
		struct mode_token *t = NULL;
		char *cause = NULL, name[32];

		snprintf(name, sizeof name, "e2e-post-fault-%zu", i);
		faults(kinds[i]);
		if (mode_create(c, name, in_days(1), &t, &cause) != MODE_ERR_UNKNOWN)
			fail_msg("%s: expected outcome unknown, got: %s", kinds[i], cause);
		if (mode_requests(c) != 1)
			fail_msg("%s: POST sent %ld times", kinds[i], mode_requests(c));
		assert_non_null(strstr(cause, "outcome unknown"));
		free(cause);
		mode_client_free(c);
	}
	faults("{}");
}

/* DELETE and GET are retried on 5xx, resets and timeouts, then fail as unavailable. */
static void
test_idempotent_calls_retry_then_fail(void **state)
{
	static const char *const kinds[] = {"{\"error_rate\": 1}", "{\"drop_rate\": 1}",
					    "{\"latency_ms\": 1500}"};
	struct mode_client *setup_c = client("acme", 4, 30000);
	struct mode_token *t = NULL;
	char *cause = NULL;

	(void)state;
	assert_int_equal(mode_create(setup_c, "e2e-retry-target", in_days(1), &t, &cause), MODE_OK);
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		struct mode_client *c = client("acme", 2, 1000);

		faults(kinds[i]);
		if (mode_delete(c, t->token, NULL, &cause) != MODE_ERR_UNAVAILABLE)
			fail_msg("%s: delete: %s", kinds[i], cause);
		assert_non_null(strstr(cause, "(3 attempts)"));
		FREE_NULL(&cause);
		assert_int_equal(mode_verify(c, t->token, t->access_key, t->access_secret, &cause),
				 MODE_ERR_UNAVAILABLE);
		FREE_NULL(&cause);
		assert_int_equal(mode_requests(c), 6);
		mode_client_free(c);
	}
	faults("{}");
	/* The slow server went on with the last kind's deletes after the client gave up. */
	clock_sleep_ms(2000);
	assert_false(sim_has("e2e-retry-target"));
	mode_token_free(t);
	mode_client_free(setup_c);
}

/* A DELETE whose answer is lost is retried; the retry's 404 means it is done. */
static void
test_delete_with_lost_answer_converges(void **state)
{
	struct mode_client *c = client("acme", 4, 30000);
	struct mode_token *t = NULL, *d = NULL;
	char *cause = NULL;

	(void)state;
	assert_int_equal(mode_create(c, "e2e-delete-lost", in_days(1), &t, &cause), MODE_OK);
	/* Only the next answer is cut: the delete happens, the retry finds it gone. */
	faults("{\"truncated_rate\": 1, \"count\": 1}");
	assert_int_equal(mode_delete(c, t->token, &d, &cause), MODE_OK);
	assert_null(d);
	assert_int_equal(mode_requests(c), 3);
	assert_false(sim_has("e2e-delete-lost"));
	mode_token_free(t);
	mode_client_free(c);
}

/* A burst of 429s is waited out (Retry-After) and the call then succeeds. */
static void
test_429_burst_is_waited_out(void **state)
{
	struct mode_client *c = client("acme", 0, 30000);
	struct mode_token *t = NULL;
	char *cause = NULL;
	int64_t start = clock_mono_ms();

	(void)state;
	faults("{\"burst_429\": 2, \"retry_after\": 1}");
	assert_int_equal(mode_create(c, "e2e-after-429", in_days(1), &t, &cause), MODE_OK);
	assert_int_equal(mode_requests(c), 3);
	/* Counted for the run's summary and metrics: 2 of the 3 were answered 429. */
	assert_int_equal(mode_throttled(c), 2);
	assert_int_equal(mode_refused_wait(c), 0);
	assert_true(clock_mono_ms() - start >= 2000);
	assert_int_equal(stat_status("429"), 2);
	assert_int_equal(mode_delete(c, t->token, NULL, &cause), MODE_OK);
	mode_token_free(t);
	mode_client_free(c);
}

/*
 * A 429 that asks for a longer wait than the client waits out fails the call
 * at once, and says how long it asked for (the run then leaves the slot for
 * the next run); the next call that ends otherwise clears it.
 */
static void
test_429_past_patience_is_refused(void **state)
{
	struct mode_client *c = client("acme", 0, 30000);
	struct mode_token *t = NULL;
	char *cause = NULL;

	(void)state;
	faults("{\"burst_429\": 1, \"retry_after\": 3600}");
	assert_int_equal(mode_create(c, "e2e-refused-429", in_days(1), &t, &cause),
			 MODE_ERR_THROTTLED);
	assert_non_null(strstr(cause, "Retry-After 3600s"));
	assert_int_equal(mode_requests(c), 1);
	assert_int_equal(mode_refused_wait(c), 3600);
	FREE_NULL(&cause);
	/* The server said when to come back: until then nothing more is sent on that key. */
	assert_int_equal(mode_create(c, "e2e-after-refusal", in_days(1), &t, &cause),
			 MODE_ERR_THROTTLED);
	assert_non_null(strstr(cause, "not sent: the API asked to wait"));
	assert_int_equal(mode_requests(c), 1);
	assert_in_range(mode_refused_wait(c), 3590, 3600);
	FREE_NULL(&cause);
	mode_client_free(c);
}

/* The hold is the credential's: its other clients (workspaces) send nothing either. */
static void
test_refusal_holds_the_credential(void **state)
{
	struct ratelimit rl;
	struct mode_client *a, *b;
	struct mode_token *t = NULL;
	char *cause = NULL;
	json_t *stats;

	(void)state;
	ratelimit_init(&rl, 40, 10000);
	a = sharing_client(&rl);
	b = sharing_client(&rl);
	faults("{\"burst_429\": 1, \"retry_after\": 600}");
	assert_int_equal(mode_create(a, "e2e-held-a", in_days(1), &t, &cause), MODE_ERR_THROTTLED);
	FREE_NULL(&cause);
	assert_int_equal(mode_delete(b, "e2e-no-such-token", NULL, &cause), MODE_ERR_THROTTLED);
	assert_non_null(strstr(cause, "not sent"));
	FREE_NULL(&cause);
	assert_in_range(mode_refused_wait(b), 590, 600);
	assert_int_equal(mode_requests(b), 0);
	stats = ctl("GET", "stats", NULL);
	assert_int_equal(json_integer_value(json_object_get(stats, "requests")), 1);
	json_decref(stats);
	mode_client_free(a);
	mode_client_free(b);
	ratelimit_free(&rl);
}

/* Stop hooks: one that always says stop, one that says it from its second look on. */
static int
say_stop(void *arg)
{
	(void)arg;
	return 1;
}

static int
stop_after_first_look(void *arg)
{
	int *looks = arg;

	return (*looks)++ > 0;
}

/*
 * The undo of a create whose answer could not be stored is sent while the
 * run is stopping, once: a 5xx, a 429 or an answer that is not JSON is not
 * tried again.  Not stopping, it is retried as any delete.
 */
static void
test_undo_while_stopping(void **state)
{
	static const struct {
		const char *faults;
		int rc;
	} kinds[] = {
	    {"{\"error_rate\": 1}", MODE_ERR_UNAVAILABLE},
	    {"{\"burst_429\": 5, \"retry_after\": 1}", MODE_ERR_THROTTLED},
	    {"{\"malformed_rate\": 1}", MODE_ERR_PROTOCOL},
	};
	struct mode_client *setup_c = client("acme", 0, 30000), *c;
	struct mode_token *t = NULL;
	char *cause = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		c = client("acme", 4, 30000);
		mode_set_stop(c, say_stop, NULL);
		assert_int_equal(mode_create(setup_c, "e2e-undo-stopping", in_days(1), &t, &cause),
				 MODE_OK);
		faults(kinds[i].faults);
		if (mode_undo_create(c, t->token, &cause) != kinds[i].rc)
			fail_msg("%s: undo: %s", kinds[i].faults, cause);
		FREE_NULL(&cause);
		assert_int_equal(mode_requests(c), 1);
		faults("{\"burst_429\": 0}");
		faults("{}");
		mode_delete(setup_c, t->token, NULL, &cause);
		FREE_NULL(&cause);
		mode_token_free(t);
		mode_client_free(c);
	}
	/* Not stopping: tried again, as the retries allow. */
	c = client("acme", 2, 30000);
	faults("{\"error_rate\": 1}");
	assert_int_equal(mode_undo_create(c, "5b89bf4b0a49", &cause), MODE_ERR_UNAVAILABLE);
	assert_int_equal(mode_requests(c), 3);
	FREE_NULL(&cause);
	faults("{}");
	mode_client_free(c);
	mode_client_free(setup_c);
}

/*
 * Once the run is stopping, an undo does not wait for its turn on the rate
 * budget (a window may last an hour), but a 429's hold it keeps: it is not
 * sent then.
 */
static void
test_undo_while_stopping_waits_for_nothing(void **state)
{
	struct ratelimit rl;
	struct mode_client *a, *b, *setup_c = client("acme", 0, 30000);
	struct mode_token *t = NULL;
	char *cause = NULL;
	int64_t start;
	int looks = 0;

	(void)state;
	assert_int_equal(mode_create(setup_c, "e2e-undo-paced", in_days(1), &t, &cause), MODE_OK);
	/* One request a minute, which a first call takes. */
	ratelimit_init(&rl, 1, 60000);
	a = sharing_client(&rl);
	b = sharing_client(&rl);
	assert_int_equal(mode_delete(a, "5b89bf4b0a49", NULL, &cause), MODE_ERR_NOT_FOUND);
	FREE_NULL(&cause);
	mode_set_stop(b, say_stop, NULL);
	start = clock_mono_ms();
	if (mode_undo_create(b, t->token, &cause) != MODE_OK)
		fail_msg("undo: %s", cause);
	assert_true(clock_mono_ms() - start < 20000);
	assert_int_equal(mode_requests(b), 1);
	assert_false(sim_has("e2e-undo-paced"));

	/* A 429 asks the credential to hold for 200 s: a stopping run sends no undo then. */
	mode_token_free(t);
	mode_client_free(a);
	mode_client_free(b);
	ratelimit_free(&rl);
	ratelimit_init(&rl, 40, 10000);
	a = sharing_client(&rl);
	b = sharing_client(&rl);
	mode_set_stop(a, stop_after_first_look, &looks);
	mode_set_stop(b, say_stop, NULL);
	assert_int_equal(mode_create(setup_c, "e2e-undo-held", in_days(1), &t, &cause), MODE_OK);
	faults("{\"burst_429\": 1, \"retry_after\": 200}");
	assert_int_equal(mode_delete(a, "5b89bf4b0a49", NULL, &cause), MODE_ERR_STOPPED);
	assert_int_equal(mode_requests(a), 1);
	FREE_NULL(&cause);
	start = clock_mono_ms();
	if (mode_undo_create(b, t->token, &cause) != MODE_ERR_STOPPED)
		fail_msg("held undo: %s", cause);
	assert_true(clock_mono_ms() - start < 20000);
	assert_int_equal(mode_requests(b), 0);
	FREE_NULL(&cause);
	assert_true(sim_has("e2e-undo-held"));
	assert_int_equal(mode_delete(setup_c, t->token, NULL, &cause), MODE_OK);
	mode_token_free(t);
	mode_client_free(a);
	mode_client_free(b);
	mode_client_free(setup_c);
	ratelimit_free(&rl);
}

/* Nothing listens: a call that never left is retried, even a POST, then fails. */
static void
test_connection_refused(void **state)
{
	struct mode_opts o;
	struct mode_client *c;
	struct mode_token *t = NULL;
	char *cause = NULL;

	(void)state;
	mode_opts_default(&o);
	o.retries = 1;
	c = mode_client_new("http://127.0.0.1:9", "acme", &admin, &o, &cause);
	assert_int_equal(mode_create(c, "e2e-refused", in_days(1), &t, &cause),
			 MODE_ERR_UNAVAILABLE);
	assert_non_null(strstr(cause, "(2 attempts); check --api and the network"));
	FREE_NULL(&cause);
	mode_client_free(c);
}

/* 100 creates against the default 40 per 10 s draw no 429: the client paces itself. */
static void
test_burst_of_100_draws_no_429(void **state)
{
	struct mode_client *c = client("acme", 4, 30000);
	char *cause = NULL, name[32];

	(void)state;
	for (int i = 0; i < 100; i++) {
		struct mode_token *t = NULL;

		snprintf(name, sizeof name, "e2e-burst-%03d", i);
		if (mode_create(c, name, in_days(1), &t, &cause) != MODE_OK)
			fail_msg("create %d: %s", i, cause);
		mode_token_free(t);
	}
	assert_int_equal(mode_requests(c), 100);
	assert_int_equal(stat_status("429"), 0);
	assert_int_equal(stat_status("200"), 100);
	mode_client_free(c);
}

/*
 * Issue 15: the calls that may be resent (verify, delete, the clock probe)
 * share one kept-alive connection, one handshake for all of them; each
 * create opens its own connection and closes it after its answer, so
 * nothing else rides on it and libcurl never resends a create.
 */
static void
test_connections_kept_alive_but_for_creates(void **state)
{
	struct mode_client *c = client("acme", 4, 30000);
	struct mode_token *t[3] = {NULL, NULL, NULL};
	char *cause = NULL, name[32];
	int64_t skew;
	long before;

	(void)state;
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof name, "e2e-keepalive-%d", i);
		before = mode_connections(c);
		assert_int_equal(mode_create(c, name, in_days(1), &t[i], &cause), MODE_OK);
		/* Its own connection, whatever was open before. */
		assert_int_equal(mode_connections(c), before + 1);
		before = mode_connections(c);
		for (int j = 0; j <= i; j++)
			assert_int_equal(mode_verify(c, t[j]->token, t[j]->access_key,
						     t[j]->access_secret, &cause),
					 MODE_OK);
		assert_int_equal(mode_delete(c, "e2e-no-such-token", NULL, &cause),
				 MODE_ERR_NOT_FOUND);
		FREE_NULL(&cause);
		assert_int_equal(mode_check_clock(c, &skew, &cause), MODE_OK);
		/* The first round opens the kept connection; later rounds open none. */
		assert_int_equal(mode_connections(c), before + (i == 0 ? 1 : 0));
	}
	for (int i = 0; i < 3; i++) {
		assert_int_equal(mode_delete(c, t[i]->token, NULL, &cause), MODE_OK);
		mode_token_free(t[i]);
	}
	/* 3 creates, 3 connections; 13 other requests, 1 connection. */
	assert_int_equal(mode_requests(c), 3 + 6 + 3 + 3 + 3);
	assert_int_equal(mode_connections(c), 3 + 1);
	assert_int_equal(stat_status("429"), 0);
	mode_client_free(c);
}

/*
 * Issue 15: the simulator counts a verify against the new token's own id.
 * At 4 requests per 2 s, 8 creates and their verifies: once the first
 * verify's answer shows a budget of its own, the verifies leave the admin's
 * budget to the creates (9 requests on it, three windows: about 4.2 s, where
 * 16 on one budget would take four: 6.3 s), and nothing is answered 429.
 */
static void
test_verifies_paced_on_their_own_budget(void **state)
{
	struct mode_opts o;
	struct mode_client *c;
	struct mode_token *t[8] = {NULL};
	char *cause = NULL, name[32];
	int64_t start;

	(void)state;
	json_decref(ctl("POST", "ratelimit", "{\"limit\": 4, \"window\": 2}"));
	mode_opts_default(&o);
	o.rate_limit = 4;
	o.rate_window_ms = 2000;
	c = mode_client_new(sim, "acme", &admin, &o, &cause);
	assert_non_null(c);
	start = clock_mono_ms();
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof name, "e2e-own-budget-%d", i);
		if (mode_create(c, name, in_days(1), &t[i], &cause) != MODE_OK)
			fail_msg("create %d: %s", i, cause);
		if (mode_verify(c, t[i]->token, t[i]->access_key, t[i]->access_secret, &cause) !=
		    MODE_OK)
			fail_msg("verify %d: %s", i, cause);
	}
	if (clock_mono_ms() - start > 5500)
		fail_msg("8 creates and verifies took %lld ms: the verifies were paced on the "
			 "admin's budget",
			 (long long)(clock_mono_ms() - start));
	assert_int_equal(stat_status("429"), 0);
	assert_int_equal(mode_throttled(c), 0);
	mode_client_free(c);
	json_decref(ctl("POST", "ratelimit", "{\"limit\": 40, \"window\": 10}"));
	c = client("acme", 4, 30000);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(mode_delete(c, t[i]->token, NULL, &cause), MODE_OK);
		mode_token_free(t[i]);
	}
	mode_client_free(c);
}

/* Two clients of one credential (two workspaces, say) spend one budget: Mode limits per user. */
static void
test_clients_share_a_limiter(void **state)
{
	struct ratelimit rl;
	struct mode_client *a, *b;
	char *cause = NULL;

	(void)state;
	ratelimit_init(&rl, 2, 60000);
	a = sharing_client(&rl);
	b = sharing_client(&rl);
	assert_int_equal(mode_delete(a, "e2e-no-such-token", NULL, &cause), MODE_ERR_NOT_FOUND);
	FREE_NULL(&cause);
	assert_int_equal(ratelimit_wait(&rl, clock_mono_ms()), 0);
	assert_int_equal(mode_delete(b, "e2e-no-such-token", NULL, &cause), MODE_ERR_NOT_FOUND);
	FREE_NULL(&cause);
	/* the budget of 2 is spent by the two clients together: a third request would wait */
	assert_true(ratelimit_wait(&rl, clock_mono_ms()) > 0);
	mode_client_free(a);
	mode_client_free(b);
	ratelimit_free(&rl);
}

/* ---- The server's clock decides ---- */

#define FIVE_MIN_MS 300000
#define DAY_MS 86400000LL

/* Moves the simulator's clock to this process's clock plus offset_ms. */
static void
sim_clock_offset(int64_t offset_ms)
{
	char when[TIMEFMT_MAX], body[64];
	int n;

	timefmt_mode(clock_now_ms() + offset_ms, when);
	n = snprintf(body, sizeof body, "{\"now\": \"%s\"}", when);
	assert_true(n > 0 && (size_t)n < sizeof body);
	json_decref(ctl("POST", "clock", body));
}

/* Returns stats[key] (a number), or stats[key][sub] when sub is not NULL. */
static long
stat_of(const char *key, const char *sub)
{
	json_t *s = ctl("GET", "stats", NULL), *v = json_object_get(s, key);
	long n;

	if (sub != NULL)
		v = json_object_get(v, sub);
	if (!json_is_integer(v))
		fail_msg("stats has no integer %s%s%s", key, sub != NULL ? "." : "",
			 sub != NULL ? sub : "");
	n = (long)json_integer_value(v);
	json_decref(s);
	return n;
}

/* A client of acme with the admin credential and the clock bound max_skew_ms (0: off). */
static struct mode_client *
bound_client(int64_t max_skew_ms)
{
	struct mode_opts o;
	char *cause = NULL;
	struct mode_client *c;

	mode_opts_default(&o);
	o.retries = 1;
	o.max_skew_ms = max_skew_ms;
	c = mode_client_new(sim, "acme", &admin, &o, &cause);
	if (c == NULL)
		fail_msg("client: %s", cause);
	return c;
}

static void
expect_cause(const char *cause, const char *text)
{
	if (cause == NULL || strstr(cause, text) == NULL)
		fail_msg("cause '%s' lacks '%s'", cause != NULL ? cause : "(none)", text);
}

/* Expects the latest answer to have shown a skew within 2 s below want_ms (Date has whole seconds).
 */
static void
expect_skew(const struct mode_client *c, int64_t want_ms)
{
	int64_t skew = 0;

	assert_int_equal(mode_last_skew(c, &skew), 1);
	if (skew > want_ms + 100 || skew < want_ms - 2000)
		fail_msg("skew %lld ms, want about %lld", (long long)skew, (long long)want_ms);
}

static int
clock_setup(void **state)
{
	reset(state);
	sim_clock_offset(0);
	return 0;
}

/*
 * Issue 10: a host clock 45 days off either way.  With the bound on, create
 * and delete are refused and nothing but the credential-less probe reaches
 * the server; verify is still sent; once the clocks agree and an answer
 * shows it, changes go through again.
 */
static void
test_clock_far_off_changes_nothing(void **state)
{
	static const int64_t offsets[] = {45 * DAY_MS, -45 * DAY_MS};

	(void)state;
	for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
		struct mode_client *setup_c = bound_client(0), *c = bound_client(FIVE_MIN_MS);
		struct mode_token *t = NULL, *made = NULL;
		char *cause = NULL;

		sim_clock_offset(0);
		assert_int_equal(mode_create(setup_c, "e2e-clock-victim", in_days(90), &t, &cause),
				 MODE_OK);
		sim_clock_offset(offsets[i]);
		json_decref(ctl("POST", "reset", "{}"));

		assert_int_equal(mode_create(c, "e2e-clock-new", in_days(90), &made, &cause),
				 MODE_ERR_CLOCK);
		assert_null(made);
		expect_cause(cause, "create token 'e2e-clock-new' in workspace acme: refused: ");
		expect_cause(cause, "the server's clock says ");
		expect_cause(cause, "this host's says ");
		expect_cause(cause, offsets[i] > 0 ? "45d apart, this host behind"
						   : "45d apart, this host ahead");
		expect_cause(cause, "set the host clock (NTP); schedule.max_clock_skew allows 5m");
		FREE_NULL(&cause);
		assert_int_equal(mode_delete(c, t->token, NULL, &cause), MODE_ERR_CLOCK);
		expect_cause(cause, "delete token ");
		expect_cause(cause, "in workspace acme: refused: ");
		FREE_NULL(&cause);
		expect_skew(c, offsets[i]);

		/* Nothing reached the server but one probe without credentials. */
		assert_int_equal(mode_requests(c), 1);
		assert_int_equal(stat_of("requests", NULL), 1);
		assert_int_equal(stat_of("by_auth", "none"), 1);
		assert_int_equal(stat_of("by_method", "POST"), 0);
		assert_int_equal(stat_of("by_method", "DELETE"), 0);
		assert_int_equal(stat_of("creates", NULL), 0);
		assert_int_equal(stat_of("deletes", NULL), 0);
		assert_false(sim_has("e2e-clock-new"));
		assert_true(sim_has("e2e-clock-victim"));

		/* Reading is never refused for the clock. */
		assert_int_equal(mode_verify(c, t->token, t->access_key, t->access_secret, &cause),
				 MODE_OK);
		assert_int_equal(stat_of("verifies", NULL), 1);

		/* Clocks agree again: the next answer says so, and changes go through. */
		sim_clock_offset(0);
		assert_int_equal(mode_delete(c, t->token, NULL, &cause), MODE_ERR_CLOCK);
		FREE_NULL(&cause);
		assert_int_equal(mode_verify(c, t->token, t->access_key, t->access_secret, &cause),
				 MODE_OK);
		assert_int_equal(mode_delete(c, t->token, NULL, &cause), MODE_OK);
		assert_false(sim_has("e2e-clock-victim"));
		mode_token_free(t);
		mode_client_free(c);
		mode_client_free(setup_c);
	}
}

/*
 * The undo of a create is not refused for the clock: deleting the token the
 * client just made asks no judgement of the time.
 */
static void
test_clock_far_off_undo_goes(void **state)
{
	struct mode_client *setup_c = bound_client(0), *c = bound_client(FIVE_MIN_MS);
	struct mode_token *t = NULL;
	char *cause = NULL;

	(void)state;
	assert_int_equal(mode_create(setup_c, "e2e-clock-undo", in_days(90), &t, &cause), MODE_OK);
	sim_clock_offset(45 * DAY_MS);
	assert_int_equal(mode_delete(c, t->token, NULL, &cause), MODE_ERR_CLOCK);
	FREE_NULL(&cause);
	if (mode_undo_create(c, t->token, &cause) != MODE_OK)
		fail_msg("undo: %s", cause);
	assert_false(sim_has("e2e-clock-undo"));
	mode_token_free(t);
	mode_client_free(c);
	mode_client_free(setup_c);
}

/* The bound is inclusive and symmetric: 4m50s either way passes, 5m10s does not. */
static void
test_clock_bound_edges(void **state)
{
	static const struct {
		int64_t offset_ms;
		int allowed;
	} cases[] = {
	    {290000, 1},
	    {-290000, 1},
	    {310000, 0},
	    {-310000, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct mode_client *c = bound_client(FIVE_MIN_MS);
		struct mode_token *t = NULL;
		char *cause = NULL, name[32];
		int64_t skew = 0;
		int rc;

		sim_clock_offset(cases[i].offset_ms);
		snprintf(name, sizeof name, "e2e-clock-edge-%zu", i);
		rc = mode_create(c, name, in_days(30), &t, &cause);
		if (rc != (cases[i].allowed ? MODE_OK : MODE_ERR_CLOCK))
			fail_msg("offset %lld ms: create returned %d: %s",
				 (long long)cases[i].offset_ms, rc, cause != NULL ? cause : "");
		assert_int_equal(sim_has(name), cases[i].allowed);
		FREE_NULL(&cause);
		/* mode_check_clock always asks again and reports the skew either way. */
		rc = mode_check_clock(c, &skew, &cause);
		assert_int_equal(rc, cases[i].allowed ? MODE_OK : MODE_ERR_CLOCK);
		if (skew > cases[i].offset_ms + 100 || skew < cases[i].offset_ms - 2000)
			fail_msg("check: skew %lld, want about %lld", (long long)skew,
				 (long long)cases[i].offset_ms);
		if (!cases[i].allowed)
			expect_cause(cause, "workspace acme: the server's clock says ");
		FREE_NULL(&cause);
		if (t != NULL)
			assert_int_equal(mode_delete(c, t->token, NULL, &cause), MODE_OK);
		mode_token_free(t);
		mode_client_free(c);
	}
	sim_clock_offset(0);
}

/*
 * An answer without a usable Date leaves the clock unknown: with the bound on
 * nothing is changed; with it off, everything works as before.
 */
static void
test_clock_unusable_date(void **state)
{
	static const struct {
		const char *fault;
		const char *why;
	} cases[] = {
	    {"{\"date\": \"omit\"}", "no usable Date (no Date header)"},
	    {"{\"date\": \"malformed\"}", "a Date header that is not an HTTP date"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct mode_client *on = bound_client(FIVE_MIN_MS), *off = bound_client(0);
		struct mode_token *t = NULL;
		char *cause = NULL;
		int64_t skew = 12345;

		json_decref(ctl("POST", "reset", "{}"));
		faults(cases[i].fault);
		assert_int_equal(mode_create(on, "e2e-clock-no-date", in_days(1), &t, &cause),
				 MODE_ERR_CLOCK);
		expect_cause(cause, cases[i].why);
		expect_cause(cause, "create token 'e2e-clock-no-date' in workspace acme: refused");
		FREE_NULL(&cause);
		assert_int_equal(mode_last_skew(on, &skew), -1);
		assert_int_equal(mode_check_clock(on, &skew, &cause), MODE_ERR_CLOCK);
		assert_int_equal(skew, 12345); /* unknown: not set */
		expect_cause(cause, cases[i].why);
		FREE_NULL(&cause);
		assert_int_equal(stat_of("by_method", "POST"), 0);
		assert_false(sim_has("e2e-clock-no-date"));

		/* Bound off: no probe, no refusal. */
		assert_int_equal(mode_create(off, "e2e-clock-no-date", in_days(1), &t, &cause),
				 MODE_OK);
		assert_int_equal(mode_requests(off), 1);
		assert_int_equal(mode_last_skew(off, &skew), -1);
		assert_int_equal(mode_check_clock(off, &skew, &cause), MODE_OK);
		assert_int_equal(mode_delete(off, t->token, NULL, &cause), MODE_OK);
		faults("{}");
		mode_token_free(t);
		mode_client_free(on);
		mode_client_free(off);
	}
}

/* Every answer updates the clock: one without a Date stops the next change, the next answer frees
 * it. */
static void
test_clock_every_answer_counts(void **state)
{
	struct mode_client *c = bound_client(FIVE_MIN_MS);
	struct mode_token *t = NULL, *u = NULL;
	char *cause = NULL;
	int64_t skew;

	(void)state;
	assert_int_equal(mode_create(c, "e2e-clock-every", in_days(30), &t, &cause), MODE_OK);
	assert_int_equal(mode_requests(c), 2); /* the probe, then the POST */
	expect_skew(c, 0);
	/* One answer, the verify's, comes without a Date. */
	faults("{\"date\": \"omit\", \"count\": 1}");
	assert_int_equal(mode_verify(c, t->token, t->access_key, t->access_secret, &cause),
			 MODE_OK);
	assert_int_equal(mode_last_skew(c, &skew), -1);
	assert_int_equal(mode_delete(c, t->token, NULL, &cause), MODE_ERR_CLOCK);
	expect_cause(cause, "no Date header");
	FREE_NULL(&cause);
	assert_int_equal(mode_check_clock(c, &skew, &cause), MODE_OK);
	/* The DELETE's own answer shows the server 45 days ahead: the next create is refused
	 * unsent. */
	sim_clock_offset(45 * DAY_MS);
	assert_int_equal(mode_delete(c, t->token, NULL, &cause), MODE_OK);
	expect_skew(c, 45 * DAY_MS);
	json_decref(ctl("POST", "reset", "{}"));
	assert_int_equal(mode_create(c, "e2e-clock-after", in_days(90), &u, &cause),
			 MODE_ERR_CLOCK);
	expect_cause(cause, "45d apart, this host behind");
	FREE_NULL(&cause);
	assert_int_equal(stat_of("requests", NULL), 0);
	sim_clock_offset(0);
	mode_token_free(t);
	mode_client_free(c);
}

/* The probe carries no credential, so it neither exposes one nor spends its rate budget. */
static void
test_clock_probe_has_no_credential(void **state)
{
	struct mode_client *c = bound_client(FIVE_MIN_MS);
	char *cause = NULL;
	int64_t skew = 0;

	(void)state;
	assert_int_equal(mode_check_clock(c, &skew, &cause), MODE_OK);
	if (skew > 100 || skew < -2000)
		fail_msg("skew %lld ms between two clocks that agree", (long long)skew);
	assert_int_equal(mode_check_clock(c, &skew, &cause), MODE_OK);
	assert_int_equal(mode_requests(c), 2); /* always asks, even when it knows */
	assert_int_equal(stat_of("requests", NULL), 2);
	assert_int_equal(stat_of("by_auth", "none"), 2);
	assert_int_equal(stat_of("by_auth", "basic"), 0);
	assert_int_equal(stat_of("by_auth", "bearer"), 0);
	assert_int_equal(stat_of("by_status", "401"), 2);
	/* A change after a known, good clock sends no second probe. */
	assert_int_equal(mode_delete(c, "e2e-no-such-token", NULL, &cause), MODE_ERR_NOT_FOUND);
	FREE_NULL(&cause);
	assert_int_equal(mode_requests(c), 3);
	assert_int_equal(stat_of("by_auth", "basic"), 1);
	mode_client_free(c);
}

/* Bound off, as every caller had it before: a skewed server is only observed. */
static void
test_clock_off_only_observes(void **state)
{
	struct mode_client *c = bound_client(0);
	struct mode_token *t = NULL;
	char *cause = NULL;
	int64_t skew = 0;

	(void)state;
	sim_clock_offset(-45 * DAY_MS);
	assert_int_equal(mode_create(c, "e2e-clock-off", in_days(30), &t, &cause), MODE_OK);
	assert_int_equal(mode_requests(c), 1); /* no probe */
	expect_skew(c, -45 * DAY_MS);
	assert_int_equal(mode_check_clock(c, &skew, &cause), MODE_OK);
	assert_true(skew < -44 * DAY_MS);
	assert_int_equal(mode_delete(c, t->token, NULL, &cause), MODE_OK);
	sim_clock_offset(0);
	mode_token_free(t);
	mode_client_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_create_verify_delete, reset),
	    cmocka_unit_test_setup(test_wrong_credential_and_workspace, reset),
	    cmocka_unit_test_setup(test_expired_token_fails_verify, reset),
	    cmocka_unit_test_setup(test_lost_post_is_unknown, reset),
	    cmocka_unit_test_setup(test_post_faults_are_unknown, reset),
	    cmocka_unit_test_setup(test_idempotent_calls_retry_then_fail, reset),
	    cmocka_unit_test_setup(test_delete_with_lost_answer_converges, reset),
	    cmocka_unit_test_setup(test_429_burst_is_waited_out, reset),
	    cmocka_unit_test_setup(test_429_past_patience_is_refused, reset),
	    cmocka_unit_test_setup(test_refusal_holds_the_credential, reset),
	    cmocka_unit_test_setup(test_connection_refused, reset),
	    cmocka_unit_test_setup(test_undo_while_stopping, reset),
	    cmocka_unit_test_setup(test_undo_while_stopping_waits_for_nothing, reset),
	    cmocka_unit_test_setup(test_burst_of_100_draws_no_429, reset),
	    cmocka_unit_test_setup(test_clients_share_a_limiter, reset),
	    cmocka_unit_test_setup(test_connections_kept_alive_but_for_creates, reset),
	    cmocka_unit_test_setup(test_verifies_paced_on_their_own_budget, reset),
	    cmocka_unit_test_setup(test_clock_far_off_changes_nothing, clock_setup),
	    cmocka_unit_test_setup(test_clock_far_off_undo_goes, clock_setup),
	    cmocka_unit_test_setup(test_clock_bound_edges, clock_setup),
	    cmocka_unit_test_setup(test_clock_unusable_date, clock_setup),
	    cmocka_unit_test_setup(test_clock_every_answer_counts, clock_setup),
	    cmocka_unit_test_setup(test_clock_probe_has_no_credential, clock_setup),
	    cmocka_unit_test_setup(test_clock_off_only_observes, clock_setup),
	};

	sim = getenv("SIM_URL");
	if (sim == NULL) {
		fprintf(stderr,
			"test_client: SIM_URL is not set; run it through run_with_sim.sh\n");
		return 1;
	}
	if (mode_global_init() < 0)
		return 1;
	admin.key = xsecret_strdup("adminkey");
	admin.secret = xsecret_strdup("adminsecret");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
