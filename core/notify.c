/* Webhook alerts; see notify.h. */
#include "core/notify.h"

#include "core/clock.h"
#include "core/jsonx.h"
#include "core/net.h"
#include "core/timefmt.h"
#include "core/xalloc.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
notify_kind_name(unsigned kind)
{
	switch (kind) {
	case NOTIFY_FAILURE:
		return "failure";
	case NOTIFY_STUCK:
		return "stuck";
	case NOTIFY_VIOLATION:
		return "violation";
	case NOTIFY_SUCCESS:
		return "success";
	default:
		break;
	}
	return "?";
}

/* Discards a webhook's answer: only its status matters. */
static size_t
discard(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n;
}

static char *
body(const struct notify_event *ev)
{
	char *text =
	    xasprintf("tokenwarden %s%s%s%s%s: %s", notify_kind_name(ev->kind),
		      ev->workspace != NULL ? " " : "", ev->workspace != NULL ? ev->workspace : "",
		      ev->slot != NULL ? "/" : "", ev->slot != NULL ? ev->slot : "", ev->text);
	json_t *o = json_pack("{s:s, s:s, s:s*, s:s*, s:s}", "text", text, "kind",
			      notify_kind_name(ev->kind), "workspace", ev->workspace, "slot",
			      ev->slot, "detail", ev->text);
	char *dump = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	char *out = xstrdup(dump != NULL ? dump : "{}");

	jsonx_free(dump);
	json_decref(o);
	free(text);
	return out;
}

/* One webhook, as a run's alerts know it. */
struct target {
	int64_t retry_at; /* clock_mono_ms: not tried before it; 0: up */
	int64_t down_at;  /* clock_now_ms: when it first did not answer */
	int missed;       /* alerts it took that were not sent since */
};

struct notify_state {
	pthread_mutex_t mu;
	int64_t retry_ms;
	size_t n;
	struct target *t; /* by index in the policy's notify */
};

struct notify_state *
notify_state_new(const struct policy *p, int64_t retry_ms)
{
	struct notify_state *st = xcalloc(1, sizeof *st);

	pthread_mutex_init(&st->mu, NULL);
	st->retry_ms = retry_ms;
	st->n = p->nnotify;
	st->t = xcalloc(st->n + 1, sizeof *st->t);
	return st;
}

void
notify_state_free(struct notify_state *st)
{
	if (st == NULL)
		return;
	pthread_mutex_destroy(&st->mu);
	free(st->t);
	free(st);
}

/*
 * Whether webhook i is left alone now: then it missed one more alert, and
 * *why says since when it did not answer.
 */
static int
left_alone(struct notify_state *st, size_t i, char **why)
{
	struct target *t;
	char at[TIMEFMT_MAX];
	int alone;

	if (st == NULL || i >= st->n)
		return 0;
	pthread_mutex_lock(&st->mu);
	t = &st->t[i];
	alone = t->retry_at != 0 && clock_mono_ms() < t->retry_at;
	if (alone) {
		t->missed++;
		timefmt_mode(t->down_at, at);
		*why = xasprintf("not tried: it did not answer at %s", at);
	}
	pthread_mutex_unlock(&st->mu);
	return alone;
}

/*
 * Records what webhook i did with an alert: answered (got 0, or 1 with an
 * error status) or not (-1), which leaves it alone for the state's
 * retry_ms, however short its time limit was (NOTIFY_STOPPING_MS at
 * least: a run that is ending waits once for each).  Returns the alerts it
 * missed since it first did not answer, now that it takes one (0: none),
 * with *since; an error status keeps them for the next alert it takes.
 */
static int
answered(struct notify_state *st, size_t i, int got, int64_t *since)
{
	struct target *t;
	int missed = 0;

	if (st == NULL || i >= st->n)
		return 0;
	pthread_mutex_lock(&st->mu);
	t = &st->t[i];
	if (got < 0) {
		if (t->missed == 0)
			t->down_at = clock_now_ms();
		t->missed++;
		t->retry_at = clock_mono_ms() + st->retry_ms;
	} else if (got == 1) {
		t->retry_at = 0;
	} else if (t->missed > 0) {
		missed = t->missed;
		*since = t->down_at;
		*t = (struct target){0};
	}
	pthread_mutex_unlock(&st->mu);
	return missed;
}

/*
 * Posts json to one webhook, through proxy (NULL: none) unless it is on
 * loopback; returns 0, 1 when it answered with an error status, or -1 when
 * it did not answer, with *why (no URL in it).
 */
static int
post(CURL *curl, const char *url, const char *proxy, const char *json, long timeout_ms, char **why)
{
	struct curl_slist *h = NULL;
	long status = 0;
	CURLcode rc;

	if (net_check_agrees("the webhook's URL", url, why) < 0 ||
	    (proxy != NULL && net_check_agrees("the proxy's URL", proxy, why) < 0))
		return 1;
	h = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	/* The loader allows plain http only to loopback, which never goes through a proxy. */
	net_setup(curl, "https,http", net_url_is_loopback(url), proxy);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "tokenwarden/" TW_VERSION);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	rc = curl_easy_perform(curl);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	if (rc != CURLE_OK) {
		/* curl_easy_strerror names the failure without the URL. */
		*why = xasprintf("%s", curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		*why = xasprintf("HTTP %ld", status);
		return 1;
	}
	return 0;
}

/*
 * Tells webhook n, answering again, how many alerts it missed since since,
 * as an alert of kind (one it takes).
 */
static void
tell_missed(CURL *curl, const struct policy *p, const struct policy_notify *n, unsigned kind,
	    long timeout_ms, int missed, int64_t since)
{
	char at[TIMEFMT_MAX], *text, *json, *why = NULL;
	struct notify_event ev = {kind, NULL, NULL, NULL};

	timefmt_mode(since, at);
	text = xasprintf("%d alert%s could not be sent to this webhook: it did not answer from %s; "
			 "the run's log has %s",
			 missed, missed == 1 ? "" : "s", at, missed == 1 ? "it" : "them");
	ev.text = text;
	json = body(&ev);
	post(curl, n->webhook, p->proxy, json, timeout_ms, &why);
	free(why);
	free(json);
	free(text);
}

int
notify_wants(const struct policy *p, unsigned kind)
{
	for (size_t i = 0; i < p->nnotify; i++)
		if ((p->notify[i].events & kind) != 0)
			return 1;
	return 0;
}

/*
 * The time limit of a post now: how's, cut to what is left before its
 * deadline, but never under NOTIFY_STOPPING_MS.
 */
static long
post_limit(const struct notify_how *how)
{
	int64_t left;

	if (how->deadline <= 0)
		return how->timeout_ms;
	left = how->deadline - clock_mono_ms();
	if (left < NOTIFY_STOPPING_MS)
		left = NOTIFY_STOPPING_MS;
	return left < how->timeout_ms ? (long)left : how->timeout_ms;
}

int
notify_send(const struct policy *p, const struct notify_how *how, const struct notify_event *ev,
	    char **cause)
{
	CURL *curl = NULL;
	char *json = NULL;
	int failed = 0;

	*cause = NULL;
	for (size_t i = 0; i < p->nnotify; i++) {
		const struct policy_notify *n = &p->notify[i];
		char *why = NULL, *all;
		int64_t since = 0;
		int got = -1, missed;

		if ((n->events & ev->kind) == 0)
			continue;
		if (!left_alone(how->state, i, &why)) {
			if (curl == NULL) {
				curl = curl_easy_init();
				json = body(ev);
			}
			got = curl != NULL
				  ? post(curl, n->webhook, p->proxy, json, post_limit(how), &why)
				  : 1;
			missed = answered(how->state, i, got, &since);
			if (missed > 0)
				tell_missed(curl, p, n, ev->kind, post_limit(how), missed, since);
			if (got == 0)
				continue;
		}
		failed++;
		all = xasprintf("%s%swebhook at line %d: %s", *cause != NULL ? *cause : "",
				*cause != NULL ? "; " : "", n->line,
				why != NULL ? why : "cannot start libcurl");
		free(*cause);
		*cause = all;
		free(why);
	}
	curl_easy_cleanup(curl);
	free(json);
	return failed;
}
