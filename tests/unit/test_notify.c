/*
 * Unit tests for core/notify: each webhook gets only the kinds it takes, a
 * body chat webhooks understand, and failures are named by their line in
 * the policy, never by their URL (which may hold a secret).  A small
 * libmicrohttpd server on loopback plays the webhooks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/jsonx.h"
#include "core/mode.h"
#include "core/notify.h"
#include "core/xalloc.h"

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What the server received, by path. */
struct hook {
	char path[32];
	char *body;
};

static struct hook received[16];
static size_t nreceived;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct MHD_Daemon *daemon_;
static unsigned port;
/* How long /failures waits before it answers (ms): a webhook that does not answer in time. */
static atomic_int slow_ms;
/* The status /failures answers; 0: 200. */
static atomic_int failures_status;

struct upload {
	char *body;
	size_t len;
};

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	   const char *version, const char *data, size_t *size, void **ctx)
{
	struct upload *u = *ctx;
	struct MHD_Response *r;
	enum MHD_Result ret;

	(void)cls;
	(void)version;
	if (u == NULL) {
		*ctx = xcalloc(1, sizeof *u);
		return MHD_YES;
	}
	if (*size > 0) {
		u->body = xrealloc(u->body, u->len + *size + 1);
		memcpy(u->body + u->len, data, *size);
		u->len += *size;
		u->body[u->len] = '\0';
		*size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&lock);
	if (nreceived < 16 && strcmp(method, "POST") == 0) {
		snprintf(received[nreceived].path, sizeof received[nreceived].path, "%s", url);
		received[nreceived].body = u->body != NULL ? u->body : xstrdup("");
		u->body = NULL;
		nreceived++;
	}
	pthread_mutex_unlock(&lock);
	if (strcmp(url, "/failures") == 0 && atomic_load(&slow_ms) > 0)
		usleep((useconds_t)atomic_load(&slow_ms) * 1000);
	r = MHD_create_response_from_buffer(2, (void *)(uintptr_t) "ok", MHD_RESPMEM_PERSISTENT);
	ret =
	    MHD_queue_response(conn,
			       strcmp(url, "/broken") == 0 ? 500
			       : strcmp(url, "/failures") == 0 && atomic_load(&failures_status) > 0
				   ? (unsigned)atomic_load(&failures_status)
				   : 200,
			       r);
	MHD_destroy_response(r);
	return ret;
}

static void
on_done(void *cls, struct MHD_Connection *conn, void **ctx, enum MHD_RequestTerminationCode why)
{
	struct upload *u = *ctx;

	(void)cls;
	(void)conn;
	(void)why;
	if (u != NULL) {
		free(u->body);
		free(u);
	}
	*ctx = NULL;
}

static int
setup(void **state)
{
	const union MHD_DaemonInfo *info;

	(void)state;
	daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
				   NULL, on_request, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_done,
				   NULL, MHD_OPTION_END);
	if (daemon_ == NULL)
		return -1;
	info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
	port = info->port;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	MHD_stop_daemon(daemon_);
	for (size_t i = 0; i < nreceived; i++)
		free(received[i].body);
	return 0;
}

/* How many the server received, read under its lock: what it wrote is then ours to read. */
static size_t
received_count(void)
{
	size_t n;

	pthread_mutex_lock(&lock);
	n = nreceived;
	pthread_mutex_unlock(&lock);
	return n;
}

static void
reset(void)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nreceived; i++)
		free(received[i].body);
	nreceived = 0;
	pthread_mutex_unlock(&lock);
}

static struct policy *
policy(unsigned hook_port)
{
	char *yaml =
	    xasprintf("version: 1\n"
		      "workspaces: [ { name: acme, credential: c, tokens: [ { name: etl } ] } ]\n"
		      "notify:\n"
		      "  - webhook: http://127.0.0.1:%u/failures\n"
		      "  - webhook: http://127.0.0.1:%u/successes\n"
		      "    events: [success]\n"
		      "  - webhook: http://127.0.0.1:%u/broken\n"
		      "    events: [stuck]\n",
		      hook_port, hook_port, hook_port);
	struct diag_list d;
	struct policy *p = NULL;

	policy_load_buffer("t.yaml", yaml, strlen(yaml), NULL, &p, &d);
	diag_free(&d);
	free(yaml);
	assert_non_null(p);
	return p;
}

static void
test_kinds_and_body(void **state)
{
	struct policy *p = policy(port);
	struct notify_event ev = {NOTIFY_FAILURE, "acme", "etl", "create refused: HTTP 401"};
	char *cause = NULL;
	json_t *o;

	(void)state;
	reset();
	/* failures go to the default target (failure, stuck, violation) only */
	assert_int_equal(notify_send(p, &(struct notify_how){5000, 0, NULL}, &ev, &cause), 0);
	assert_null(cause);
	assert_int_equal(received_count(), 1);
	assert_string_equal(received[0].path, "/failures");
	o = json_loads(received[0].body, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "text")),
			    "tokenwarden failure acme/etl: create refused: HTTP 401");
	assert_string_equal(json_string_value(json_object_get(o, "kind")), "failure");
	assert_string_equal(json_string_value(json_object_get(o, "slot")), "etl");
	json_decref(o);

	/* a success only where asked for */
	reset();
	ev.kind = NOTIFY_SUCCESS;
	ev.text = "rotated";
	assert_int_equal(notify_send(p, &(struct notify_how){5000, 0, NULL}, &ev, &cause), 0);
	assert_int_equal(received_count(), 1);
	assert_string_equal(received[0].path, "/successes");

	/* no workspace or slot: the fields are left out */
	reset();
	ev.kind = NOTIFY_VIOLATION;
	ev.workspace = ev.slot = NULL;
	ev.text = "3 unmanaged tokens";
	assert_int_equal(notify_send(p, &(struct notify_how){5000, 0, NULL}, &ev, &cause), 0);
	o = json_loads(received[0].body, 0, NULL);
	assert_non_null(o);
	assert_null(json_object_get(o, "slot"));
	assert_string_equal(json_string_value(json_object_get(o, "text")),
			    "tokenwarden violation: 3 unmanaged tokens");
	json_decref(o);
	policy_free(p);
}

static void
test_failures_name_no_url(void **state)
{
	struct policy *p = policy(port);
	struct notify_event ev = {NOTIFY_STUCK, "acme", "etl", "5 failed attempts"};
	char *cause = NULL;

	(void)state;
	reset();
	/* stuck goes to /failures (200) and /broken (500) */
	assert_int_equal(notify_send(p, &(struct notify_how){5000, 0, NULL}, &ev, &cause), 1);
	assert_string_equal(cause, "webhook at line 7: HTTP 500");
	free(cause);
	policy_free(p);

	/* nobody listening: named by line, the URL kept out */
	p = policy(1);
	ev.kind = NOTIFY_FAILURE;
	assert_int_equal(notify_send(p, &(struct notify_how){5000, 0, NULL}, &ev, &cause), 1);
	assert_non_null(strstr(cause, "webhook at line 4: "));
	assert_null(strstr(cause, "127.0.0.1"));
	free(cause);
	policy_free(p);
}

/* The text of alert i received, parsed. */
static char *
text_of(size_t i)
{
	json_t *o = json_loads(received[i].body, 0, NULL);
	char *text;

	assert_non_null(o);
	text = xstrdup(json_string_value(json_object_get(o, "text")));
	json_decref(o);
	return text;
}

static void
test_webhook_left_alone_then_told(void **state)
{
	struct policy *p = policy(port);
	struct notify_state *st = notify_state_new(p, 300);
	struct notify_how how = {100, 0, st};
	struct notify_event ev = {NOTIFY_FAILURE, "acme", "etl", "create refused"};
	char *cause = NULL, *text;

	(void)state;
	reset();
	/* No answer in time: the webhook is left alone for the state's 300 ms. */
	atomic_store(&slow_ms, 400);
	assert_int_equal(notify_send(p, &how, &ev, &cause), 1);
	assert_string_equal(cause, "webhook at line 4: Timeout was reached");
	FREE_NULL(&cause);
	assert_int_equal(notify_send(p, &how, &ev, &cause), 1);
	assert_non_null(strstr(cause, "webhook at line 4: not tried: it did not answer at "));
	FREE_NULL(&cause);
	usleep(500 * 1000);
	atomic_store(&slow_ms, 0);
	assert_int_equal(received_count(), 1); /* the one it did not answer */

	/* Tried again once that has passed: an error status is an answer, and the
	 * count waits for an alert it takes. */
	atomic_store(&failures_status, 503);
	assert_int_equal(notify_send(p, &how, &ev, &cause), 1);
	assert_string_equal(cause, "webhook at line 4: HTTP 503");
	FREE_NULL(&cause);
	atomic_store(&failures_status, 0);

	/* Then the alert it takes, and how many it missed. */
	reset();
	assert_int_equal(notify_send(p, &how, &ev, &cause), 0);
	assert_null(cause);
	assert_int_equal(received_count(), 2);
	assert_string_equal(received[1].path, "/failures");
	text = text_of(1);
	assert_non_null(strstr(text, "tokenwarden failure: 2 alerts could not be sent to this "
				     "webhook: it did not answer from "));
	free(text);
	reset();
	assert_int_equal(notify_send(p, &how, &ev, &cause), 0);
	assert_int_equal(received_count(), 1);

	/* An error status is an answer: that webhook is tried every time. */
	reset();
	ev.kind = NOTIFY_STUCK;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(notify_send(p, &how, &ev, &cause), 1);
		assert_string_equal(cause, "webhook at line 7: HTTP 500");
		FREE_NULL(&cause);
	}
	assert_int_equal(received_count(), 4); /* /failures and /broken, twice */
	notify_state_free(st);
	policy_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kinds_and_body),
	    cmocka_unit_test(test_failures_name_no_url),
	    cmocka_unit_test(test_webhook_left_alone_then_told),
	};

	if (mode_global_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
