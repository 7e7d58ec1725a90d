/*
 * Mode signature-token API client over one reused libcurl handle: the
 * requests, their retries and the API calls.  The server's clock is mode_clock.c's.
 */
#include "core/mode_priv.h"

#include "core/clock.h"
#include "core/cred.h"
#include "core/jsonx.h"
#include "core/libcurl.h"
#include "core/net.h"
#include "core/ratelimit.h"
#include "core/timefmt.h"
#include "core/url.h"
#include "core/xalloc.h"

#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define BODY_MAX (1024 * 1024) /* larger answers are refused */
#define BACKOFF_BASE_MS 250
#define BACKOFF_CAP_MS 8000
#define THROTTLE_MAX 10 /* 429s waited out per call */
#define MESSAGE_MAX 200 /* server messages quoted in errors */

int
mode_global_init(void)
{
	if (sodium_init() < 0)
		return -1;
	jsonx_init();
	return 0; /* libcurl initialises when it is loaded (libcurl.c) */
}

void
mode_opts_default(struct mode_opts *o)
{
	memset(o, 0, sizeof *o);
	o->timeout_ms = 30000;
	o->retries = 4;
	o->rate_limit = 40;
	o->rate_window_ms = 10000;
}

static void
sbuf_reset(struct sbuf *b)
{
	if (b->p != NULL)
		sodium_memzero(b->p, b->cap);
	b->len = 0;
}

static void
sbuf_free(struct sbuf *b)
{
	xsecret_free(b->p);
	memset(b, 0, sizeof *b);
}

size_t
mode_body_cb(char *data, size_t size, size_t n, void *arg)
{
	struct mode_client *c = arg;
	struct sbuf *b = &c->body;
	size_t len = size * n;

	if (len > BODY_MAX - b->len) {
		c->too_big = 1;
		return 0;
	}
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + len + 1)
			cap *= 2;
		p = xsecret_alloc(cap);
		if (b->p != NULL)
			memcpy(p, b->p, b->len);
		xsecret_free(b->p);
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return len;
}

/*
 * When line is the header name, returns its value with the blanks around it
 * and the line end taken off (*vlen bytes); otherwise NULL.
 */
static const char *
header_text(const char *line, size_t len, const char *name, size_t *vlen)
{
	size_t n = strlen(name);

	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return NULL;
	line += n + 1;
	len -= n + 1;
	while (len > 0 && (line[0] == ' ' || line[0] == '\t')) {
		line++;
		len--;
	}
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r' ||
			   line[len - 1] == '\n'))
		len--;
	*vlen = len;
	return line;
}

/*
 * The value of "Name: 123" when line is that header and its value 1 to 9
 * digits; HEADER_HUGE for more digits; else -1.
 */
#define HEADER_HUGE (-2)
static long
header_value(const char *line, size_t len, const char *name)
{
	size_t vlen;
	const char *v = header_text(line, len, name, &vlen);
	long n = 0;

	if (v == NULL || vlen == 0)
		return -1;
	for (size_t i = 0; i < vlen; i++) {
		if (!isdigit((unsigned char)v[i]))
			return -1;
		if (i < 9)
			n = n * 10 + (v[i] - '0');
	}
	return vlen > 9 ? HEADER_HUGE : n;
}

size_t
mode_header_cb(char *line, size_t size, size_t n, void *arg)
{
	struct mode_client *c = arg;
	size_t len = size * n;
	long v;

	/* A new status line starts a new response (a 100 Continue, say). */
	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		c->hdr_limit = c->hdr_remaining = c->retry_after = -1;
		c->retry_at_ms = -1;
		c->hdr_clock.state = MODE_CLOCK_NO_DATE;
		c->hdr_clock.server_ms = 0;
		c->hdr_clock.local_ms = clock_now_ms();
		c->hdr_done = 0;
		return len;
	}
	if ((len == 2 && line[0] == '\r' && line[1] == '\n') || (len == 1 && line[0] == '\n')) {
		c->hdr_done = 1;
		return len;
	}
	mode_clock_header(c, line, len);
	v = header_value(line, len, "X-RateLimit-Limit");
	if (v >= 0)
		c->hdr_limit = v;
	v = header_value(line, len, "X-RateLimit-Remaining");
	if (v >= 0)
		c->hdr_remaining = v;
	v = header_value(line, len, "Retry-After");
	if (v >= 0 || v == HEADER_HUGE) {
		/* Wait a billion seconds or more: longer than a run, not the default's one. */
		c->retry_after = v >= 0 ? v : RETRY_AFTER_DAY;
	} else {
		/* Retry-After may also be an HTTP-date; the wait is read from it at the end. */
		size_t vlen;
		const char *t = header_text(line, len, "Retry-After", &vlen);
		int64_t ms;

		if (t != NULL && mode_http_date(t, vlen, &ms) == 0)
			c->retry_at_ms = ms;
	}
	return len;
}

char *
mode_check_api(const char *label, const char *api, int *plain_http, char **cause)
{
	struct url u;
	size_t len;

	if (url_parse(api, &u) < 0) {
		/* Not echoed: a mistyped URL may still hold a password. */
		*cause = xasprintf("%s is not a URL such as https://app.mode.com", label);
		return NULL;
	}
	if (u.userinfo || u.query || u.fragment) {
		*cause = xasprintf("%s must not carry a user name, query or fragment", label);
		return NULL;
	}
	*plain_http = strcmp(u.scheme, "http") == 0;
	if (*plain_http && !url_host_is_loopback(u.host)) {
		*cause = xasprintf("%s '%s': plain http is refused for a host other than "
				   "loopback; use https",
				   label, api);
		return NULL;
	}
	if (!*plain_http && strcmp(u.scheme, "https") != 0) {
		*cause = xasprintf("%s '%s': the scheme must be https", label, api);
		return NULL;
	}
	len = strlen(api);
	while (len > 0 && api[len - 1] == '/')
		len--;
	return xstrndup(api, len);
}

int
mode_check_workspace(const char *ws, char **cause)
{
	size_t n = strlen(ws);

	if (n == 0 || n > 128) {
		*cause = xasprintf("workspace name must be 1 to 128 characters");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)ws[i];

		if (!(islower(ch) || isdigit(ch) || ch == '-' || ch == '_' || ch == '.')) {
			*cause = xasprintf("workspace '%s' is not a workspace username: use its "
					   "username, all lower case (a-z, 0-9, '-', '_', '.')",
					   ws);
			return -1;
		}
	}
	return 0;
}

/* Token ids go into URL paths: accept only what Mode issues. */
int
mode_check_id(const char *id, char **cause)
{
	size_t n = strlen(id);

	if (n == 0 || n > 64 ||
	    strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		       "0123456789_-") != n) {
		*cause = xasprintf("'%.64s' is not a signature token id (letters, digits, '-' "
				   "and '_', at most 64)",
				   id);
		return -1;
	}
	return 0;
}

int
mode_check_name(const char *name, char **cause)
{
	size_t n = strlen(name), chars = 0;

	for (size_t i = 0; i < n; chars++) {
		int len = jsonx_utf8_shown((const unsigned char *)name + i, n - i);

		if (len < 0) {
			*cause =
			    xasprintf("token name has a control character, a bidirectional one "
				      "(which reorders the text after it) or is not UTF-8");
			return -1;
		}
		i += (size_t)len;
	}
	if (chars < 4 || chars > 64) {
		*cause = xasprintf("token name '%s' has %zu characters; Mode requires 4 to 64",
				   name, chars);
		return -1;
	}
	return 0;
}

/* Returns base64(a:b[:c]) in secret memory; c may be NULL. */
static char *
b64_joined(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + 1 + strlen(b) + (c != NULL ? 1 + strlen(c) : 0);
	char *plain = xsecret_alloc(n + 1);
	size_t b64len = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = xsecret_alloc(b64len);

	snprintf(plain, n + 1, "%s:%s%s%s", a, b, c != NULL ? ":" : "", c != NULL ? c : "");
	sodium_bin2base64(b64, b64len, (const unsigned char *)plain, n,
			  sodium_base64_VARIANT_ORIGINAL);
	xsecret_free(plain);
	return b64;
}

char *
mode_bearer(const char *id, const char *access_key, const char *access_secret)
{
	return b64_joined(id, access_key, access_secret);
}

/* Returns "Authorization: <scheme> <value>" in secret memory. */
static char *
auth_header(const char *scheme, const char *value)
{
	size_t n = strlen("Authorization: ") + strlen(scheme) + 1 + strlen(value) + 1;
	char *h = xsecret_alloc(n);

	snprintf(h, n, "Authorization: %s %s", scheme, value);
	return h;
}

struct mode_client *
mode_client_new(const char *api, const char *workspace, const struct cred *cred,
		const struct mode_opts *opts, char **cause)
{
	struct mode_client *c = NULL;
	char *root;
	int plain_http = 0, loopback;

	if (mode_check_workspace(workspace, cause) < 0)
		return NULL;
	if (opts->proxy != NULL && net_check_proxy("proxy", opts->proxy, cause) < 0)
		return NULL;
	root = mode_check_api("--api", api, &plain_http, cause);
	if (root == NULL)
		return NULL;
	loopback = net_url_is_loopback(root);
	c = xcalloc(1, sizeof *c);
	c->opts = *opts;
	c->workspace = xstrdup(workspace);
	c->base = xasprintf("%s/batch/%s", root, workspace);
	c->plain_http = plain_http;
	c->loopback = loopback;
	free(root);
	ratelimit_init(&c->own_rl, opts->rate_limit, opts->rate_window_ms);
	c->rl = opts->shared_rl != NULL ? opts->shared_rl : &c->own_rl;
	ratebook_init(&c->book, c->rl, opts->rate_limit, opts->rate_window_ms);
	if (cred != NULL) {
		char *b64 = b64_joined(cred->key, cred->secret, NULL);

		c->basic = auth_header("Basic", b64);
		xsecret_free(b64);
	}
	return c;
}

/*
 * libcurl's progress callback, at least once a second while an answer is
 * awaited: gives the attempt up (CURLE_ABORTED_BY_CALLBACK) when the run
 * is stopping and it may be given up, so that an API that takes a request
 * and answers nothing holds a stopping run no longer than that.  It asks
 * the stop hook (a system call) a quarter second into the attempt and
 * each quarter second after, not at each of libcurl's many calls.
 */
static int
progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct mode_client *c = arg;
	int64_t now;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (!c->abortable || c->stop == NULL)
		return 0;
	now = clock_mono_ms();
	if (now < c->stop_look_ms)
		return 0;
	c->stop_look_ms = now + 250;
	return c->stop(c->stop_arg);
}

/*
 * Makes c's libcurl handle before its first request (a run that sends
 * nothing never loads libcurl), once libcurl reads the API's and the
 * proxy's URLs as the checks did.  Returns CURLE_OK, or a code that is
 * not retried with the reason in c->errbuf.
 */
static CURLcode
start(struct mode_client *c)
{
	char *why = NULL;

	if (c->curl != NULL)
		return CURLE_OK;
	if (net_check_agrees("the API's URL", c->base, &why) < 0 ||
	    (c->opts.proxy != NULL &&
	     net_check_agrees("the proxy's URL", c->opts.proxy, &why) < 0)) {
		snprintf(c->errbuf, sizeof c->errbuf, "%s", why);
		free(why);
		return CURLE_URL_MALFORMAT;
	}
	c->curl = curl_easy_init();
	if (c->curl == NULL) {
		snprintf(c->errbuf, sizeof c->errbuf, "cannot start libcurl (%s)",
			 libcurl_failure());
		return CURLE_URL_MALFORMAT;
	}
	net_setup(c->curl, c->plain_http ? "http" : "https", c->loopback, c->opts.proxy);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, c->opts.timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, c->opts.timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "tokenwarden/" TW_VERSION);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, mode_body_cb);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, mode_header_cb);
	curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, c);
	curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
	return CURLE_OK;
}

void
mode_client_free(struct mode_client *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->curl);
	ratebook_free(&c->book);
	ratelimit_free(&c->own_rl);
	sbuf_free(&c->body);
	xsecret_free(c->basic);
	free(c->base);
	free(c->workspace);
	free(c);
}

long
mode_requests(const struct mode_client *c)
{
	return c->requests;
}

long
mode_throttled(const struct mode_client *c)
{
	return c->throttled;
}

void
mode_set_stop(struct mode_client *c, int (*stop)(void *arg), void *arg)
{
	c->stop = stop;
	c->stop_arg = arg;
}

long
mode_refused_wait(const struct mode_client *c)
{
	return c->refused_wait;
}

long
mode_connections(const struct mode_client *c)
{
	return c->connections;
}

/* Frees a header list after wiping each line: one of them is the credential. */
static void
wipe_headers(struct curl_slist *h)
{
	for (struct curl_slist *i = h; i != NULL; i = i->next)
		sodium_memzero(i->data, strlen(i->data));
	curl_slist_free_all(h);
}

long
mode_retry_after(const struct mode_client *c)
{
	int64_t from, wait_ms;

	if (c->retry_after >= 0)
		return c->retry_after;
	if (c->retry_at_ms < 0)
		return 1;
	/* The date is the server's: measured from its Date when it sent one. */
	from = c->hdr_clock.state == MODE_CLOCK_KNOWN ? c->hdr_clock.server_ms : clock_now_ms();
	wait_ms = c->retry_at_ms - from;
	if (wait_ms <= 1000)
		return 1;
	return wait_ms / 1000 >= RETRY_AFTER_DAY ? RETRY_AFTER_DAY : (long)((wait_ms + 999) / 1000);
}

void
mode_answer_start(struct mode_client *c)
{
	sbuf_reset(&c->body);
	c->too_big = 0;
	c->errbuf[0] = '\0';
	c->hdr_limit = c->hdr_remaining = c->retry_after = -1;
	c->retry_at_ms = -1;
	c->hdr_done = 0;
}

void
mode_answer_done(struct mode_client *c, int authed)
{
	/* Any answer whose headers arrived whole tells the server's clock, even a 429 or 5xx. */
	if (c->hdr_done)
		c->clock = c->hdr_clock;
	/* Without a credential the server counts no user: its headers say nothing of our budget. */
	if (authed)
		ratebook_answer(&c->book, c->att_token, c->att_sent_ms, clock_mono_ms(),
				c->att_status, c->hdr_limit, c->hdr_remaining);
}

void
mode_answer_final(struct mode_client *c, long status, struct answer *a)
{
	json_error_t jerr;

	a->status = status;
	a->json = c->body.len > 0 ? json_loadb(c->body.p, c->body.len, 0, &jerr) : NULL;
	/* Its text may quote a piece of a malformed create's answer: its secret. */
	if (c->body.len > 0 && a->json == NULL)
		sodium_memzero(&jerr, sizeof jerr);
}

/* Sends one attempt of call; returns libcurl's code and sets *status. */
static CURLcode
attempt(struct mode_client *c, const struct call *call, long *status)
{
	struct curl_slist *h = NULL;
	CURLcode rc;
	long connects = 0;
	int post = strcmp(call->method, "POST") == 0;

	*status = 0;
	rc = start(c);
	if (rc != CURLE_OK)
		return rc;
	c->att_sent_ms = clock_mono_ms();
	ratebook_sent(&c->book, call->token, c->att_sent_ms);
	c->att_token = call->token;
	c->att_status = 0;
	c->requests++;

	h = curl_slist_append(h, "Accept: application/json");
	if (call->body != NULL)
		h = curl_slist_append(h, "Content-Type: application/json");
	if (call->auth != NULL)
		h = curl_slist_append(h, call->auth);
	if (h == NULL)
		abort();
	mode_answer_start(c);
	curl_easy_setopt(c->curl, CURLOPT_URL, call->url);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, NULL);
	/*
	 * The handle's connection is kept alive for the GETs and DELETEs: they
	 * are idempotent, so libcurl's silent resend on a reused connection that
	 * turns out dead is harmless, and a run makes one TLS handshake for them.
	 * But libcurl would resend a POST the same way, and the server may have
	 * acted on it: a create whose answer was lost would make a second token
	 * nobody records.  A POST therefore opens a fresh connection, where
	 * libcurl does not resend, and closes it after its answer, so that no
	 * other request ever rides on it and the kept connection stays the one
	 * the idempotent calls opened.
	 */
	curl_easy_setopt(c->curl, CURLOPT_FRESH_CONNECT, post ? 1L : 0L);
	curl_easy_setopt(c->curl, CURLOPT_FORBID_REUSE, post ? 1L : 0L);
	/* A create is waited for: given up, it might have made a token nobody records. */
	c->abortable = !post && !call->undo;
	c->stop_look_ms = clock_mono_ms() + 250;
	if (post) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, call->body);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(call->body));
	} else if (strcmp(call->method, "DELETE") == 0) {
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, "DELETE");
	}
	rc = curl_easy_perform(c->curl);
	*status = 0;
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
	if (curl_easy_getinfo(c->curl, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK)
		c->connections += connects;
	c->att_status = *status;
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	wipe_headers(h);
	mode_answer_done(c, call->auth != NULL);
	c->att_token = NULL; /* the caller's, gone after the call */
	return rc;
}

/* Failures where the request cannot have reached the server. */
static int
never_sent(CURLcode rc)
{
	return rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY ||
	       rc == CURLE_COULDNT_CONNECT;
}

/* Failures that retrying cannot mend. */
static int
permanent(CURLcode rc)
{
	return rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
	       rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_UNSUPPORTED_PROTOCOL ||
	       rc == CURLE_URL_MALFORMAT;
}

/* Whether the run's stop hook says stop. */
static int
stop_said(struct mode_client *c)
{
	return c->stop != NULL && c->stop(c->stop_arg);
}

/* Whether the run is stopping and call may be left unsent: any but an undo. */
static int
stopping(struct mode_client *c, const struct call *call)
{
	return !call->undo && stop_said(c);
}

/*
 * Whether call, having failed, must not be tried again although its retries
 * allow: an undo once the run is stopping makes one attempt, so that the
 * stop waits for one answer at most.
 */
static int
undo_cut(struct mode_client *c, const struct call *call)
{
	return call->undo && stop_said(c);
}

static void
backoff(struct mode_client *c, int failures)
{
	int64_t d = BACKOFF_BASE_MS, left;

	for (int i = 1; i < failures && d < BACKOFF_CAP_MS; i++)
		d *= 2;
	if (d > BACKOFF_CAP_MS)
		d = BACKOFF_CAP_MS;
	/* Half fixed, half random: spreads retries without ever retrying at once. */
	left = d / 2 + randombytes_uniform((uint32_t)(d / 2 + 1));
	/* In naps that see the stop hook, as take_turn's; an undo's retry then is its last. */
	while (left > 0 && !stop_said(c)) {
		clock_sleep_ms(left < 250 ? left : 250);
		left -= 250;
	}
}

static const char *
curl_reason(struct mode_client *c, CURLcode rc)
{
	if (c->too_big)
		return "the answer was larger than 1 MiB";
	return c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(rc);
}

/*
 * Whether an earlier 429 holds a budget call draws on for longer than the
 * client waits (its Retry-After, kept by the rate book): then the call is
 * not sent, for it would draw the same refusal, and *cause and the
 * refused wait say so.
 */
static int
refused_before(struct mode_client *c, const struct call *call, char **cause)
{
	int64_t held = ratebook_held(&c->book, call->token, clock_mono_ms());

	if (held <= (int64_t)RETRY_AFTER_MAX * 1000)
		return 0;
	c->refused_wait = (long)((held + 999) / 1000);
	*cause = xasprintf("%s: not sent: the API asked to wait %lds more (a 429's Retry-After); "
			   "try again later",
			   call->what, c->refused_wait);
	return 1;
}

/*
 * Waits for call's turn on each budget it draws on (the credential's, a
 * token's own: each paced on its own), in naps short enough to see the
 * stop hook within a quarter second.  Returns 0, or -1 when it says stop.
 * An undo, once the run is stopping, waits for nothing: it goes at once,
 * unless a 429 asked the budget to hold (then it is not sent at all).
 */
static int
take_turn(struct mode_client *c, const struct call *call)
{
	for (;;) {
		int64_t now = clock_mono_ms(), wait = ratebook_wait(&c->book, call->token, now);

		if (stopping(c, call))
			return -1;
		if (wait <= 0)
			return 0;
		if (undo_cut(c, call))
			return ratebook_held(&c->book, call->token, now) > 0 ? -1 : 0;
		clock_sleep_ms(wait < 250 ? wait : 250);
	}
}

int
mode_perform(struct mode_client *c, const struct call *call, struct answer *a, char **cause)
{
	int post = strcmp(call->method, "POST") == 0;
	int mutating = strcmp(call->method, "GET") != 0;
	int failures = 0, throttles = 0;

	memset(a, 0, sizeof *a);
	c->refused_wait = 0;
	if (refused_before(c, call, cause))
		return MODE_ERR_THROTTLED;
	for (;;) {
		long status;
		CURLcode rc;
		int gate;

		/*
		 * Before every attempt: the answer to the previous one may have shown a
		 * skew.  Not for an undo: deleting what this client just made asks no
		 * judgement of the time.
		 */
		if (mutating && c->opts.max_skew_ms > 0 && !call->undo) {
			gate = mode_clock_gate(c, call, a->maybe_acted, cause);
			if (gate != MODE_OK)
				return gate;
		}
		if (take_turn(c, call) < 0) {
			*cause = xasprintf("%s: not sent: the run is stopping", call->what);
			return MODE_ERR_STOPPED;
		}
		rc = attempt(c, call, &status);
		if (rc == CURLE_ABORTED_BY_CALLBACK) {
			*cause =
			    xasprintf("%s: given up unanswered: the run is stopping", call->what);
			return MODE_ERR_STOPPED;
		}

		if (rc != CURLE_OK && (never_sent(rc) || permanent(rc) || !post)) {
			failures++;
			if (permanent(rc) || failures > c->opts.retries || undo_cut(c, call)) {
				*cause = xasprintf("%s: %s (%d attempt%s); check --api and the "
						   "network, then try again",
						   call->what, curl_reason(c, rc), failures,
						   failures == 1 ? "" : "s");
				return MODE_ERR_UNAVAILABLE;
			}
			a->maybe_acted |= !never_sent(rc);
			backoff(c, failures);
			continue;
		}
		if (rc != CURLE_OK) {
			*cause = xasprintf("%s: outcome unknown: %s after the request was sent; "
					   "the token may exist on the server",
					   call->what, curl_reason(c, rc));
			return MODE_ERR_UNKNOWN;
		}
		if (status == 429) {
			long ra = mode_retry_after(c);

			c->throttled++;

			/* Held even when refused: the key's next calls are not sent until then. */
			ratebook_hold(&c->book, call->token, clock_mono_ms(),
				      ra < RETRY_AFTER_DAY ? ra : RETRY_AFTER_DAY);
			if (ra > RETRY_AFTER_MAX) {
				c->refused_wait = ra;
				*cause =
				    xasprintf("%s: 429 Too Many Requests with Retry-After %lds, "
					      "longer than the %ds this client waits; another "
					      "client may share this API key; try again later",
					      call->what, ra, RETRY_AFTER_MAX);
				return MODE_ERR_THROTTLED;
			}
			if (throttles++ >= THROTTLE_MAX || undo_cut(c, call)) {
				*cause =
				    xasprintf("%s: 429 Too Many Requests %d times (Retry-After "
					      "%lds); another client may share this API key; "
					      "try again later",
					      call->what, throttles, ra);
				return MODE_ERR_THROTTLED;
			}
			continue;
		}
		if (status >= 500 || status < 100) {
			if (post) {
				*cause = xasprintf("%s: outcome unknown: the server answered %ld; "
						   "the token may have been created",
						   call->what, status);
				return MODE_ERR_UNKNOWN;
			}
			if (failures++ >= c->opts.retries || undo_cut(c, call)) {
				*cause = xasprintf("%s: the server answered %ld (%d attempt%s); "
						   "try again later",
						   call->what, status, failures,
						   failures == 1 ? "" : "s");
				return MODE_ERR_UNAVAILABLE;
			}
			a->maybe_acted = 1;
			backoff(c, failures);
			continue;
		}
		mode_answer_final(c, status, a);
		if (status / 100 == 2 && a->json == NULL) {
			if (post) {
				*cause =
				    xasprintf("%s: outcome unknown: the server answered %ld but "
					      "the body is not JSON; the token may exist",
					      call->what, status);
				return MODE_ERR_UNKNOWN;
			}
			if (failures++ >= c->opts.retries || undo_cut(c, call)) {
				*cause = xasprintf(
				    "%s: the answer (%ld) is not JSON (%d attempt%s)", call->what,
				    status, failures, failures == 1 ? "" : "s");
				return MODE_ERR_PROTOCOL;
			}
			a->maybe_acted = 1;
			backoff(c, failures);
			continue;
		}
		return MODE_OK;
	}
}

/*
 * Blanks in place each byte of what a terminal would not show as itself
 * (jsonx_utf8_shown): an answer's text reaches terminals and logs.
 */
static void
printable(char *s)
{
	jsonx_blank(s, strlen(s), ' ');
}

/* Returns the server's error message from an error body, cleaned for a terminal. */
static char *
server_message(const json_t *body)
{
	const char *m = NULL;
	char *out;

	if (!json_is_object(body))
		return xstrdup("");
	m = json_string_value(json_object_get(body, "message"));
	if (m == NULL)
		m = json_string_value(json_object_get(body, "error"));
	if (m == NULL)
		return xstrdup("");
	out = xasprintf(": %.*s", MESSAGE_MAX, m);
	printable(out);
	return out;
}

/* Turns a final 4xx answer into an error code and a message saying what to do. */
static int
client_error(struct mode_client *c, const struct call *call, const struct answer *a,
	     const char *not_found, char **cause)
{
	char *msg = server_message(a->json);
	int rc;

	switch (a->status) {
	case 401:
		*cause = xasprintf("%s: 401 Unauthorized%s: %s", call->what, msg,
				   c->basic != NULL && strcmp(call->method, "GET") != 0
				       ? "the API key or secret is wrong, or its owner left the "
					 "workspace; check the credential"
				       : "the token was refused: deleted, expired, or a wrong "
					 "access key or secret");
		rc = MODE_ERR_AUTH;
		break;
	case 404:
		*cause = xasprintf("%s: 404 Not Found%s: %s", call->what, msg, not_found);
		rc = MODE_ERR_NOT_FOUND;
		break;
	default:
		*cause = xasprintf("%s: rejected with %ld%s", call->what, a->status,
				   msg[0] != '\0' ? msg : " (no message)");
		rc = a->status / 100 == 3 ? MODE_ERR_PROTOCOL : MODE_ERR_REJECTED;
		break;
	}
	free(msg);
	return rc;
}

/* Field f of o when it is a string; else "" (absent, null or askew: nothing acts on it). */
static const char *
lax_string(const json_t *o, const char *f)
{
	const char *v = json_string_value(json_object_get(o, f));

	return v != NULL ? v : "";
}

/* Field f of o when it is an integer; else 0, as lax_string. */
static int64_t
lax_int(const json_t *o, const char *f)
{
	const json_t *v = json_object_get(o, f);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* Field f of o when it is a time; else 0, as lax_string. */
static int64_t
lax_time(const json_t *o, const char *f)
{
	char *why = NULL;
	int64_t ms = 0;

	if (jsonx_time(o, f, JSONX_OPTIONAL, &ms, &why) < 0) {
		free(why);
		ms = 0;
	}
	return ms;
}

/*
 * Reads a Signature Token object; the secret is required when need_secret.
 * Only what tokenwarden acts on must be there and well formed: the id, the
 * access key (and secret) and expires_at.  The rest (name, creator and
 * organization ids, created and updated times, the scope) is taken when it
 * reads, and left empty or 0 when not: an answer that carries a token is
 * not thrown away, to become an unknown token and a retry's second, for a
 * field nothing uses.  *cause may quote the answer (an id, a time), made
 * printable.
 */
static int
parse_token(const json_t *o, int need_secret, struct mode_token **out, char **cause)
{
	struct mode_token *t;
	const char *id, *key, *secret = NULL;
	int64_t v;

	if (jsonx_string(o, "token", JSONX_REQUIRED, &id, cause) < 0 ||
	    mode_check_id(id, cause) < 0 ||
	    jsonx_string(o, "access_key", JSONX_REQUIRED, &key, cause) < 0 ||
	    jsonx_string(o, "access_secret", need_secret ? JSONX_REQUIRED : JSONX_OPTIONAL, &secret,
			 cause) < 0 ||
	    jsonx_time(o, "expires_at", JSONX_REQUIRED, &v, cause) < 0) {
		printable(*cause);
		return -1;
	}
	if (need_secret && (secret[0] == '\0' || key[0] == '\0')) {
		*cause = xasprintf("field 'access_secret' or 'access_key' is empty");
		return -1;
	}
	t = xcalloc(1, sizeof *t);
	t->expires_at = v;
	t->token = xstrdup(id);
	t->name = xstrdup(lax_string(o, "name"));
	t->creator_id = lax_int(o, "creator_id");
	t->organization_id = lax_int(o, "organization_id");
	t->created_at = lax_time(o, "created_at");
	t->updated_at = lax_time(o, "updated_at");
	t->access_key = xsecret_strdup(key);
	t->access_secret = secret != NULL ? xsecret_strdup(secret) : NULL;
	t->authentication_for = xstrdup(lax_string(o, "authentication_for"));
	t->authorization_type = xstrdup(lax_string(o, "authorization_type"));
	*out = t;
	return 0;
}

int
mode_create_answer(struct mode_client *c, const struct call *call, const struct answer *a,
		   struct mode_token **out, char **cause)
{
	char *why = NULL;
	int rc = MODE_OK;

	if (a->status / 100 != 2)
		return client_error(c, call, a,
				    "no such workspace; check the name (the workspace's username, "
				    "lower case)",
				    cause);
	if (parse_token(a->json, 1, out, &why) < 0) {
		*cause = xasprintf("%s: outcome unknown: the answer is malformed (%s); the token "
				   "may exist",
				   call->what, why);
		rc = MODE_ERR_UNKNOWN;
	}
	free(why);
	return rc;
}

int
mode_create(struct mode_client *c, const char *name, int64_t expires_at, struct mode_token **out,
	    char **cause)
{
	struct call call = {.method = "POST"};
	struct answer a = {0};
	char when[TIMEFMT_MAX], *what = NULL, *body = NULL;
	json_t *req = NULL;
	int rc;

	if (c->basic == NULL) {
		*cause = xasprintf("creating a token needs the workspace's admin credential");
		return MODE_ERR_USAGE;
	}
	if (mode_check_name(name, cause) < 0)
		return MODE_ERR_USAGE;
	timefmt_minute(expires_at - expires_at % 60000, when);
	req = json_pack("{s:{s:s, s:s, s:{s:s, s:s}}}", "signature_token", "name", name,
			"expires_at", when, "auth_scope", "authentication_for", "batch-api",
			"authorization_type", "read-only");
	body = json_dumps(req, JSON_COMPACT);
	what = xasprintf("create token '%s' in workspace %s", name, c->workspace);
	call.what = what;
	call.body = body;
	call.url = xasprintf("%s/signature_tokens", c->base);
	call.auth = c->basic;
	rc = mode_perform(c, &call, &a, cause);
	if (rc == MODE_OK)
		rc = mode_create_answer(c, &call, &a, out, cause);
	/* The name it asked for, when the answer left its own out. */
	if (rc == MODE_OK && (*out)->name[0] == '\0') {
		free((*out)->name);
		(*out)->name = xstrdup(name);
	}
	free(what);
	free(call.url);
	jsonx_free(body);
	json_decref(req);
	json_decref(a.json);
	return rc;
}

/*
 * Whether a DELETE's 404 says what Mode says of a token it does not hold
 * ("SignatureToken not found"): its message, in any case and without
 * spaces or underscores, holds "tokennotfound" and not "workspace".  Not
 * a workspace it lacks, nor a path it has no route for (a wrong api: URL)
 * or a proxy's page: those say nothing of the token, which may work on.
 */
static int
says_token_gone(const struct answer *a)
{
	const char *m = json_string_value(json_object_get(a->json, "message"));
	char squeezed[MESSAGE_MAX + 1];
	size_t n = 0;

	if (m == NULL)
		return 0;
	for (; *m != '\0' && n < MESSAGE_MAX; m++)
		if (*m != ' ' && *m != '_')
			squeezed[n++] = (char)tolower((unsigned char)*m);
	squeezed[n] = '\0';
	return strstr(squeezed, "tokennotfound") != NULL && strstr(squeezed, "workspace") == NULL;
}

int
mode_delete_answer(struct mode_client *c, const struct call *call, const struct answer *a,
		   struct mode_token **out, char **cause)
{
	struct mode_token *t = NULL;
	char *why = NULL;
	int rc = MODE_OK;

	if (out != NULL)
		*out = NULL;
	if (a->status == 404 && !says_token_gone(a)) {
		why = server_message(a->json);
		*cause = xasprintf("%s: 404 Not Found%s: the API did not say the token is gone; "
				   "check the workspace's name and its api: URL",
				   call->what, why[0] != '\0' ? why : " (no message)");
		free(why);
		return MODE_ERR_REJECTED;
	}
	if (a->status == 404 && a->maybe_acted)
		return MODE_OK; /* an earlier attempt deleted it and its answer was lost */
	if (a->status / 100 != 2)
		return client_error(c, call, a, "no such token: already deleted, or a wrong id",
				    cause);
	if (parse_token(a->json, 0, &t, &why) < 0) {
		*cause = xasprintf("%s: deleted, but the answer is malformed: %s", call->what, why);
		rc = MODE_ERR_PROTOCOL;
	} else if (out != NULL) {
		*out = t;
		t = NULL;
	}
	mode_token_free(t);
	free(why);
	return rc;
}

/* mode_delete, and with undo mode_undo_create. */
static int
delete_token(struct mode_client *c, const char *id, int undo, struct mode_token **out, char **cause)
{
	struct call call = {.method = "DELETE", .undo = undo};
	struct answer a = {0};
	char *what = NULL;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (c->basic == NULL) {
		*cause = xasprintf("deleting a token needs the workspace's admin credential");
		return MODE_ERR_USAGE;
	}
	if (mode_check_id(id, cause) < 0)
		return MODE_ERR_USAGE;
	what = xasprintf("delete token %s in workspace %s", id, c->workspace);
	call.what = what;
	call.url = xasprintf("%s/signature_tokens/%s", c->base, id);
	call.auth = c->basic;
	rc = mode_perform(c, &call, &a, cause);
	if (rc == MODE_OK)
		rc = mode_delete_answer(c, &call, &a, out, cause);
	free(what);
	free(call.url);
	json_decref(a.json);
	return rc;
}

int
mode_delete(struct mode_client *c, const char *id, struct mode_token **out, char **cause)
{
	return delete_token(c, id, 0, out, cause);
}

int
mode_undo_create(struct mode_client *c, const char *id, char **cause)
{
	return delete_token(c, id, 1, NULL, cause);
}

/* Checks the reports page the API documents, so a proxy's 200 is not taken for Mode's. */
static int
check_reports(const json_t *body, char **cause)
{
	json_t *pg;
	int64_t v;

	if (jsonx_object(body, "pagination", JSONX_REQUIRED, &pg, cause) < 0 ||
	    jsonx_int(pg, "page", JSONX_REQUIRED, &v, cause) < 0 ||
	    jsonx_int(pg, "total_count", JSONX_REQUIRED, &v, cause) < 0)
		return -1;
	if (!json_is_array(json_object_get(body, "reports"))) {
		*cause = xasprintf("field 'reports' is %s, expected an array",
				   jsonx_typename(json_object_get(body, "reports")));
		return -1;
	}
	return 0;
}

int
mode_verify_answer(struct mode_client *c, const struct call *call, const struct answer *a,
		   char **cause)
{
	char *why = NULL;
	int rc = MODE_OK;

	if (a->status / 100 != 2)
		return client_error(c, call, a, "no such workspace", cause);
	if (check_reports(a->json, &why) < 0) {
		*cause = xasprintf("%s: the answer is not a reports page: %s", call->what, why);
		rc = MODE_ERR_PROTOCOL;
	}
	free(why);
	return rc;
}

int
mode_verify(struct mode_client *c, const char *id, const char *access_key,
	    const char *access_secret, char **cause)
{
	struct call call = {.method = "GET"};
	struct answer a = {0};
	char *bearer = NULL, *header = NULL, *what = NULL;
	int rc;

	if (mode_check_id(id, cause) < 0)
		return MODE_ERR_USAGE;
	bearer = mode_bearer(id, access_key, access_secret);
	header = auth_header("Bearer", bearer);
	what = xasprintf("verify token %s in workspace %s", id, c->workspace);
	call.what = what;
	call.url = xasprintf("%s/reports?per_page=1", c->base);
	call.auth = header;
	call.token = id;
	rc = mode_perform(c, &call, &a, cause);
	if (rc == MODE_OK)
		rc = mode_verify_answer(c, &call, &a, cause);
	xsecret_free(bearer);
	xsecret_free(header);
	free(what);
	free(call.url);
	json_decref(a.json);
	return rc;
}

void
mode_token_free(struct mode_token *t)
{
	if (t == NULL)
		return;
	free(t->token);
	free(t->name);
	xsecret_free(t->access_key);
	xsecret_free(t->access_secret);
	free(t->authentication_for);
	free(t->authorization_type);
	free(t);
}
