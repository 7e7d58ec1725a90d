/* Webhook alerts; see notify.h. */
#include "core/notify.h"

#include "core/jsonx.h"
#include "core/net.h"
#include "core/xalloc.h"

#include <curl/curl.h>
#include <jansson.h>
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

/*
 * Posts json to one webhook, through proxy (NULL: none) unless it is on
 * loopback; returns 0, or -1 with *why (no URL in it).
 */
static int
post(CURL *curl, const char *url, const char *proxy, const char *json, long timeout_ms, char **why)
{
	struct curl_slist *h = NULL;
	long status = 0;
	CURLcode rc;

	if (net_check_agrees("the webhook's URL", url, why) < 0 ||
	    (proxy != NULL && net_check_agrees("the proxy's URL", proxy, why) < 0))
		return -1;
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
		return -1;
	}
	return 0;
}

int
notify_wants(const struct policy *p, unsigned kind)
{
	for (size_t i = 0; i < p->nnotify; i++)
		if ((p->notify[i].events & kind) != 0)
			return 1;
	return 0;
}

int
notify_send(const struct policy *p, const struct notify_event *ev, long timeout_ms, char **cause)
{
	CURL *curl = NULL;
	char *json = NULL;
	int failed = 0;

	*cause = NULL;
	for (size_t i = 0; i < p->nnotify; i++) {
		const struct policy_notify *n = &p->notify[i];
		char *why = NULL, *all;

		if ((n->events & ev->kind) == 0)
			continue;
		if (curl == NULL) {
			curl = curl_easy_init();
			json = body(ev);
		}
		if (curl != NULL && post(curl, n->webhook, p->proxy, json, timeout_ms, &why) == 0)
			continue;
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
