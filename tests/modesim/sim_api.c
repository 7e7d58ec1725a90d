/*
 * The Mode endpoints.  Order of work for every request: count it, draw its
 * faults, then drop / burst 429 / injected 5xx, then the rate limit, then
 * the endpoint itself, then the faults that lose or garble an answer whose
 * action was performed, and last the injected latency: the server acts at
 * once and answers late, as a slow server that a client gives up on would.
 */
#include "sim_api.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/timefmt.h"
#include "core/xalloc.h"
#include "sim_http.h"

#define NAME_MIN 4
#define NAME_MAX_CHARS 64
#define PER_PAGE_DEFAULT 1000
#define PER_PAGE_MAX 1000
#define PAGE_MAX 1000000

enum auth_kind { AUTH_NONE, AUTH_BASIC, AUTH_BEARER };

/* The Authorization header, decoded. */
struct auth {
	enum auth_kind kind;
	char *decoded;      /* sodium memory, split in place at the colons */
	const char *user;   /* Basic: the API key; Bearer: the token id */
	const char *key;    /* Bearer: the access key */
	const char *secret; /* Basic: the API secret; Bearer: the access secret */
};

enum route_kind { ROUTE_NONE, ROUTE_TOKENS, ROUTE_TOKEN, ROUTE_REPORTS };

struct route {
	enum route_kind kind;
	char *ws;
	char *token; /* ROUTE_TOKEN only */
};

/* An endpoint: returns 1 when its action was performed, 0 when it answered an error. */
typedef int (*endpoint_fn)(struct sim_state *, const struct sim_request *, const struct route *,
			   const struct auth *, struct sim_reply *);

static int create_token(struct sim_state *, const struct sim_request *, const struct route *,
			const struct auth *, struct sim_reply *);
static int delete_token(struct sim_state *, const struct sim_request *, const struct route *,
			const struct auth *, struct sim_reply *);
static int list_reports(struct sim_state *, const struct sim_request *, const struct route *,
			const struct auth *, struct sim_reply *);

static const struct {
	enum route_kind kind;
	const char *method;
	endpoint_fn fn;
} endpoints[] = {
    {ROUTE_TOKENS, "POST", create_token},
    {ROUTE_TOKEN, "DELETE", delete_token},
    {ROUTE_REPORTS, "GET", list_reports},
};

#define NENDPOINTS (sizeof endpoints / sizeof endpoints[0])

/*
 * Fills au from "Basic b64(user:secret)" or "Bearer b64(token:key:secret)";
 * anything else leaves AUTH_NONE.
 */
static void
auth_parse(const struct sim_request *rq, struct auth *au)
{
	const char *h = sim_http_header(rq, "Authorization");
	const char *b64, *end;
	enum auth_kind kind;
	size_t n, len;
	char *c1, *c2;

	if (h == NULL)
		return;
	if (strncasecmp(h, "Basic ", 6) == 0) {
		kind = AUTH_BASIC;
		b64 = h + 6;
	} else if (strncasecmp(h, "Bearer ", 7) == 0) {
		kind = AUTH_BEARER;
		b64 = h + 7;
	} else {
		return;
	}
	while (*b64 == ' ')
		b64++;
	n = strlen(b64);
	while (n > 0 && b64[n - 1] == ' ')
		n--;
	au->decoded = xsecret_alloc(n + 1);
	if (sodium_base642bin((unsigned char *)au->decoded, n, b64, n, NULL, &len, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != b64 + n || strlen(au->decoded) != len)
		return;
	c1 = strchr(au->decoded, ':');
	if (c1 == NULL || c1 == au->decoded)
		return;
	*c1 = '\0';
	au->user = au->decoded;
	au->secret = c1 + 1;
	if (kind == AUTH_BEARER) {
		c2 = strchr(c1 + 1, ':');
		if (c2 == NULL)
			return;
		*c2 = '\0';
		au->key = c1 + 1;
		au->secret = c2 + 1;
	}
	au->kind = kind;
}

/* Names the Authorization scheme of rq for the statistics, readable or not. */
static const char *
auth_scheme(const struct sim_request *rq)
{
	const char *h = sim_http_header(rq, "Authorization");

	if (h == NULL)
		return "none";
	if (strncasecmp(h, "Basic ", 6) == 0)
		return "basic";
	if (strncasecmp(h, "Bearer ", 7) == 0)
		return "bearer";
	return "other";
}

static void
auth_free(struct auth *au)
{
	xsecret_free(au->decoded);
	memset(au, 0, sizeof *au);
}

/* Compares secrets in constant time (for equal lengths; lengths are not secret here). */
static int
same_secret(const char *a, const char *b)
{
	size_t n = strlen(a);

	return n == strlen(b) && sodium_memcmp(a, b, n) == 0;
}

/* Splits /batch/{ws}/signature_tokens[/{token}] and /batch/{ws}/reports. */
static void
route_parse(const char *path, struct route *rt)
{
	const char *ws, *slash, *rest;
	enum route_kind kind;

	if (strncmp(path, "/batch/", 7) != 0)
		return;
	ws = path + 7;
	slash = strchr(ws, '/');
	if (slash == NULL || slash == ws)
		return;
	rest = slash + 1;
	if (strcmp(rest, "signature_tokens") == 0)
		kind = ROUTE_TOKENS;
	else if (strcmp(rest, "reports") == 0)
		kind = ROUTE_REPORTS;
	else if (strncmp(rest, "signature_tokens/", 17) == 0 && rest[17] != '\0' &&
		 strchr(rest + 17, '/') == NULL)
		kind = ROUTE_TOKEN;
	else
		return;
	rt->kind = kind;
	rt->ws = xstrndup(ws, (size_t)(slash - ws));
	if (kind == ROUTE_TOKEN)
		rt->token = xstrdup(rest + 17);
}

static void
route_free(struct route *rt)
{
	free(rt->ws);
	free(rt->token);
	memset(rt, 0, sizeof *rt);
}

static void
reply_error(struct sim_reply *rp, unsigned int status, const char *msg)
{
	sim_reply_error(rp, status, sim_reply_error_id(status), "%s", msg);
}

static void
unauthorized(struct sim_reply *rp, const char *scheme, const char *msg)
{
	reply_error(rp, 401, msg);
	sim_reply_header(rp, "WWW-Authenticate", "%s realm=\"Mode\"", scheme);
}

static void
limit_headers(struct sim_reply *rp, int64_t limit, int64_t remaining)
{
	sim_reply_header(rp, "X-RateLimit-Limit", "%lld", (long long)limit);
	sim_reply_header(rp, "X-RateLimit-Remaining", "%lld", (long long)remaining);
}

static void
too_many(struct sim_reply *rp, int64_t limit, int64_t retry_after)
{
	limit_headers(rp, limit, 0);
	sim_reply_header(rp, "Retry-After", "%lld", (long long)retry_after);
	sim_reply_error(rp, 429, "too_many_requests", "Rate limit exceeded: retry in %lld seconds",
			(long long)retry_after);
}

/*
 * Locked.  The user name whose budget the request draws on: the Basic user
 * (the admin API key); for Bearer, the token id, or with verify_admin the
 * admin key of the workspace that owns the token (the token id when no
 * workspace does).  NULL for a request without a readable credential.
 */
static const char *
budget_user(const struct sim_state *st, const struct auth *au)
{
	const struct sim_token *t;

	if (au->kind == AUTH_NONE)
		return NULL;
	if (au->kind != AUTH_BEARER || !st->verify_admin)
		return au->user;
	t = sim_state_token_any(st, au->user);
	return t == NULL ? au->user : t->ws->key;
}

/* Adds the rate-limit headers for an answer that takes no slot. */
static void
peek_headers(struct sim_state *st, const struct auth *au, struct sim_reply *rp)
{
	const char *user;
	int64_t limit, remaining;

	sim_state_lock(st);
	limit = sim_limit_limit(st->limit);
	user = budget_user(st, au);
	remaining = user == NULL ? limit : sim_limit_peek(st->limit, user, sim_limit_clock());
	sim_state_unlock(st);
	limit_headers(rp, limit, remaining);
}

/*
 * Takes a rate-limit slot for the request's user and adds the headers.
 * Returns 0, or -1 after answering 429.  Requests with no user are not
 * limited: they are about to be answered 401.
 */
static int
take_slot(struct sim_state *st, const struct auth *au, struct sim_reply *rp)
{
	const char *user;
	int64_t limit, remaining, retry_after = 0;
	int rc = 0;

	sim_state_lock(st);
	limit = sim_limit_limit(st->limit);
	remaining = limit;
	user = budget_user(st, au);
	if (user != NULL)
		rc = sim_limit_take(st->limit, user, sim_limit_clock(), &remaining, &retry_after);
	if (user != NULL && rc == 0)
		sim_state_count_user(st, user);
	sim_state_unlock(st);
	if (rc < 0) {
		too_many(rp, limit, retry_after);
		return -1;
	}
	limit_headers(rp, limit, remaining);
	return 0;
}

/* Returns the workspace whose admin credentials the request carries, or NULL after answering. */
static const struct sim_workspace *
admin(const struct sim_state *st, const struct route *rt, const struct auth *au,
      struct sim_reply *rp)
{
	const struct sim_workspace *ws;
	int ok;

	if (au->kind != AUTH_BASIC) {
		unauthorized(rp, "Basic", "Authentication required: HTTP Basic with an API key");
		return NULL;
	}
	ws = sim_state_workspace(st, rt->ws);
	if (ws == NULL) {
		reply_error(rp, 404, "Workspace not found");
		return NULL;
	}
	/* Both compared, without a short cut. */
	ok = same_secret(au->user, ws->key);
	ok &= same_secret(au->secret, ws->secret);
	if (!ok) {
		unauthorized(rp, "Basic", "Invalid API key or secret");
		return NULL;
	}
	return ws;
}

/* Returns the Signature Token object; access_secret only when with_secret. */
static json_t *
token_json(const struct sim_token *t, int with_secret)
{
	char created[TIMEFMT_MAX], updated[TIMEFMT_MAX], expires[TIMEFMT_MAX];
	json_t *o;

	timefmt_mode(t->created_at, created);
	timefmt_mode(t->updated_at, updated);
	timefmt_mode(t->expires_at, expires);
	o = json_pack("{s:s, s:s, s:I, s:I, s:s}", "token", t->id, "name", t->name, "creator_id",
		      (json_int_t)t->ws->creator_id, "organization_id",
		      (json_int_t)t->ws->organization_id, "access_key", t->access_key);
	if (with_secret)
		json_object_set_new(o, "access_secret", json_string(t->access_secret));
	json_object_set_new(o, "created_at", json_string(created));
	json_object_set_new(o, "updated_at", json_string(updated));
	json_object_set_new(o, "expires_at", json_string(expires));
	json_object_set_new(o, "authentication_for", json_string("batch-api"));
	json_object_set_new(o, "authorization_type", json_string("read-only"));
	return o;
}

/* Counts UTF-8 characters (jansson has checked the encoding): bytes that do not continue one. */
static size_t
utf8_chars(const char *s, size_t n)
{
	size_t chars = 0;

	for (size_t i = 0; i < n; i++) {
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			chars++;
	}
	return chars;
}

static int
check_name(const json_t *v, struct sim_reply *rp)
{
	size_t chars;

	if (v == NULL) {
		reply_error(rp, 422, "name is required");
		return -1;
	}
	if (!json_is_string(v)) {
		reply_error(rp, 422, "name must be a string");
		return -1;
	}
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		reply_error(rp, 422, "name must not contain NUL characters");
		return -1;
	}
	chars = utf8_chars(json_string_value(v), json_string_length(v));
	if (chars < NAME_MIN || chars > NAME_MAX_CHARS) {
		sim_reply_error(rp, 422, "unprocessable_entity",
				"name must be between %d and %d characters long (got %zu)",
				NAME_MIN, NAME_MAX_CHARS, chars);
		return -1;
	}
	return 0;
}

static int
check_expires(const json_t *v, int64_t *ms, struct sim_reply *rp)
{
	if (v == NULL) {
		reply_error(rp, 422, "expires_at is required");
		return -1;
	}
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
	    timefmt_parse(json_string_value(v), ms) < 0) {
		reply_error(rp, 422, "expires_at must be in ISO8601 (YYYY-MM-DDTHH:mmZ) format");
		return -1;
	}
	return 0;
}

/* Returns whether v is exactly the string want. */
static int
is_string(const json_t *v, const char *want)
{
	return json_is_string(v) && json_string_length(v) == strlen(want) &&
	       strcmp(json_string_value(v), want) == 0;
}

static int
check_scope(json_t *scope, struct sim_reply *rp)
{
	const char *key, *want;
	json_t *v;

	if (scope == NULL) {
		reply_error(rp, 422, "auth_scope is required");
		return -1;
	}
	if (!json_is_object(scope)) {
		reply_error(rp, 422, "auth_scope must be a JSON object");
		return -1;
	}
	json_object_foreach(scope, key, v)
	{
		if (strcmp(key, "authentication_for") == 0) {
			want = "batch-api";
		} else if (strcmp(key, "authorization_type") == 0) {
			want = "read-only";
		} else {
			sim_reply_error(rp, 422, "unprocessable_entity",
					"auth_scope: \"%.64s\" is not a valid key", key);
			return -1;
		}
		if (!is_string(v, want)) {
			sim_reply_error(rp, 422, "unprocessable_entity",
					"auth_scope.%s: \"%s\" is the only valid value", key, want);
			return -1;
		}
	}
	return 0;
}

/* Answers 422 if tok has a key other than name, expires_at and auth_scope. */
static int
check_keys(json_t *tok, struct sim_reply *rp)
{
	const char *key;
	json_t *v;

	json_object_foreach(tok, key, v)
	{
		if (strcmp(key, "name") == 0 || strcmp(key, "expires_at") == 0 ||
		    strcmp(key, "auth_scope") == 0)
			continue;
		sim_reply_error(rp, 422, "unprocessable_entity",
				"signature_token: \"%.64s\" is not a valid key", key);
		return -1;
	}
	return 0;
}

/*
 * Reads and validates a creation body.  Returns 0 with the name (allocated)
 * and expiry, or -1 after answering.
 */
static int
read_create(const struct sim_request *rq, char **name, int64_t *expires_at, struct sim_reply *rp)
{
	json_error_t err;
	json_t *doc = NULL, *tok;
	int rc = -1;

	if (rq->body_len == 0) {
		reply_error(rp, 400, "The body must be a JSON object with signature_token");
		goto out;
	}
	doc = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &err);
	if (doc == NULL) {
		sim_reply_error(rp, 400, "bad_request", "Malformed JSON: %s at line %d column %d",
				err.text, err.line, err.column);
		goto out;
	}
	tok = json_is_object(doc) ? json_object_get(doc, "signature_token") : NULL;
	if (tok == NULL) {
		reply_error(rp, 400, "param is missing or the value is empty: signature_token");
		goto out;
	}
	if (!json_is_object(tok)) {
		reply_error(rp, 400, "signature_token must be a JSON object");
		goto out;
	}
	if (check_name(json_object_get(tok, "name"), rp) < 0 ||
	    check_expires(json_object_get(tok, "expires_at"), expires_at, rp) < 0 ||
	    check_scope(json_object_get(tok, "auth_scope"), rp) < 0 || check_keys(tok, rp) < 0)
		goto out;
	*name = xstrdup(json_string_value(json_object_get(tok, "name")));
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

static int
create_token(struct sim_state *st, const struct sim_request *rq, const struct route *rt,
	     const struct auth *au, struct sim_reply *rp)
{
	const struct sim_workspace *ws = admin(st, rt, au, rp);
	const struct sim_token *t;
	char *name = NULL;
	int64_t expires_at;
	int done = 0;

	if (ws == NULL || read_create(rq, &name, &expires_at, rp) < 0)
		goto out;
	sim_state_lock(st);
	if (expires_at <= sim_state_now(st)) {
		sim_state_unlock(st);
		reply_error(rp, 422, "expires_at must be in the future");
		goto out;
	}
	/* grant_seconds: a server that sets a token's life itself, whatever was asked. */
	if (st->faults.grant_s > 0)
		expires_at = sim_state_now(st) + st->faults.grant_s * 1000;
	t = sim_state_token_add(st, ws, name, expires_at);
	st->stats.creates++;
	json_decref(st->last_create);
	st->last_create = token_json(t, 1);
	sim_reply_json(rp, 200, json_deep_copy(st->last_create));
	sim_state_unlock(st);
	done = 1;
out:
	free(name);
	return done;
}

static int
delete_token(struct sim_state *st, const struct sim_request *rq, const struct route *rt,
	     const struct auth *au, struct sim_reply *rp)
{
	const struct sim_workspace *ws = admin(st, rt, au, rp);
	const struct sim_token *t;
	struct sim_token *gone;

	(void)rq;
	if (ws == NULL)
		return 0;
	sim_state_lock(st);
	t = sim_state_token_find(st, ws, rt->token);
	if (t == NULL) {
		sim_state_unlock(st);
		reply_error(rp, 404, "SignatureToken not found");
		return 0;
	}
	gone = sim_state_token_remove(st, t);
	st->stats.deletes++;
	sim_state_unlock(st);
	sim_reply_json(rp, 200, token_json(gone, 0));
	sim_state_token_free(gone);
	return 1;
}

/* Reads a pagination argument: absent gives def; otherwise a decimal integer 1..max. */
static int
page_arg(const struct sim_request *rq, const char *name, int64_t def, int64_t max, int64_t *out)
{
	const char *v = sim_http_arg(rq, name);
	char *end;
	long long n;

	if (v == NULL) {
		*out = def;
		return 0;
	}
	if (!isdigit((unsigned char)*v))
		return -1;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < 1 || n > max)
		return -1;
	*out = n;
	return 0;
}

/* The fake reports every workspace has. */
static const char *const report_names[] = {"Weekly revenue", "Signups by channel", "Churn cohorts"};
#define NREPORTS ((int64_t)(sizeof report_names / sizeof report_names[0]))

/* Returns report i of workspace ws; its token is stable across runs. */
static json_t *
report_json(const char *ws, int64_t i)
{
	unsigned char hash[crypto_generichash_BYTES_MIN];
	char token[SIM_TOKEN_ID_LEN + 1], when[TIMEFMT_MAX];
	char *seed = xasprintf("%s/report/%lld", ws, (long long)i);
	char *href;
	json_t *o;

	crypto_generichash(hash, sizeof hash, (const unsigned char *)seed, strlen(seed), NULL, 0);
	sodium_bin2hex(token, sizeof token, hash, SIM_TOKEN_ID_LEN / 2);
	/* Reference's example creation time, one day apart. */
	timefmt_mode(timefmt_from_civil(2020, 7, 2, 21, 1, 17) * 1000 + 181 + i * 86400000, when);
	href = xasprintf("/api/%s/reports/%s", ws, token);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:{s:{s:s}}}", "token", token, "name",
		      report_names[i], "description", "", "created_at", when, "updated_at", when,
		      "archived", 0, "_links", "self", "href", href);
	free(href);
	free(seed);
	return o;
}

/* Returns {"href": ...} for a page of ws's reports, or {"href": null} when page is 0. */
static json_t *
page_link(const char *ws, int64_t page, int64_t per_page)
{
	char *href;
	json_t *o;

	if (page == 0)
		return json_pack("{s:n}", "href");
	href = xasprintf("/batch/%s/reports?page=%lld&per_page=%lld", ws, (long long)page,
			 (long long)per_page);
	o = json_pack("{s:s}", "href", href);
	free(href);
	return o;
}

static json_t *
reports_json(const char *ws, int64_t page, int64_t per_page)
{
	int64_t pages = (NREPORTS + per_page - 1) / per_page;
	int64_t first = (page - 1) * per_page, count = 0;
	json_t *list = json_array();

	for (int64_t i = first; i < NREPORTS && i < first + per_page; i++, count++)
		json_array_append_new(list, report_json(ws, i));
	return json_pack("{s:{s:I, s:I, s:I, s:I, s:I}, s:o, s:{s:o, s:o, s:o}}", "pagination",
			 "page", (json_int_t)page, "per_page", (json_int_t)per_page, "count",
			 (json_int_t)count, "total_pages", (json_int_t)pages, "total_count",
			 (json_int_t)NREPORTS, "reports", list, "_links", "self",
			 page_link(ws, page, per_page), "next_page",
			 page_link(ws, page < pages ? page + 1 : 0, per_page), "prev_page",
			 page_link(ws, page > 1 ? page - 1 : 0, per_page));
}

static int
list_reports(struct sim_state *st, const struct sim_request *rq, const struct route *rt,
	     const struct auth *au, struct sim_reply *rp)
{
	const struct sim_workspace *ws;
	const struct sim_token *t;
	int64_t page, per_page;
	int ok = 0, expired = 0, bad_page;

	bad_page = page_arg(rq, "page", 1, PAGE_MAX, &page) < 0 ||
		   page_arg(rq, "per_page", PER_PAGE_DEFAULT, PER_PAGE_MAX, &per_page) < 0;
	if (au->kind != AUTH_BEARER) {
		unauthorized(rp, "Bearer", "Authentication required: a signature token as Bearer");
		return 0;
	}
	ws = sim_state_workspace(st, rt->ws);
	sim_state_lock(st);
	t = ws == NULL ? NULL : sim_state_token_find(st, ws, au->user);
	if (t != NULL) {
		ok = same_secret(au->key, t->access_key);
		ok &= same_secret(au->secret, t->access_secret);
		expired = sim_state_now(st) >= t->expires_at;
	}
	if (ok && !expired && !bad_page)
		st->stats.verifies++;
	sim_state_unlock(st);
	if (!ok) {
		unauthorized(rp, "Bearer", "Invalid signature token");
		return 0;
	}
	if (expired) {
		unauthorized(rp, "Bearer", "Signature token has expired");
		return 0;
	}
	if (bad_page) {
		sim_reply_error(rp, 400, "bad_request", "page must be 1 or more, per_page 1 to %d",
				PER_PAGE_MAX);
		return 0;
	}
	sim_reply_json(rp, 200, reports_json(rt->ws, page, per_page));
	return 1;
}

/* Finds the endpoint for the route and method and runs it; returns whether it acted. */
static int
dispatch(struct sim_state *st, const struct sim_request *rq, const struct route *rt,
	 const struct auth *au, struct sim_reply *rp)
{
	for (size_t i = 0; i < NENDPOINTS; i++) {
		if (endpoints[i].kind != rt->kind)
			continue;
		if (strcmp(endpoints[i].method, rq->method) != 0) {
			sim_reply_error(rp, 405, "method_not_allowed", "%s is not allowed here",
					rq->method);
			sim_reply_header(rp, "Allow", "%s", endpoints[i].method);
			return 0;
		}
		if (rq->too_large) {
			sim_reply_error(rp, 413, "payload_too_large",
					"The body is larger than %d bytes", SIM_BODY_MAX);
			return 0;
		}
		return endpoints[i].fn(st, rq, rt, au, rp);
	}
	reply_error(rp, 404, "Not found");
	return 0;
}

/* Answers an injected 429 or 5xx if one was drawn; returns whether it did. */
static int
early_fault(struct sim_state *st, const struct sim_draw *d, const struct auth *au,
	    struct sim_reply *rp)
{
	if (d->burst) {
		int64_t limit;

		sim_state_lock(st);
		limit = sim_limit_limit(st->limit);
		sim_state_unlock(st);
		too_many(rp, limit, d->retry_after);
		rp->note = "burst_429";
		return 1;
	}
	if (d->error_status != 0) {
		peek_headers(st, au, rp);
		reply_error(rp, d->error_status, "Injected server error");
		rp->note = "error_rate";
		return 1;
	}
	return 0;
}

/*
 * replay_post: answers a create with the last create's answer, as a cache
 * between client and server might, making no token.  Returns 1 when it did.
 */
static int
replayed(struct sim_state *st, struct sim_reply *rp)
{
	json_t *last = NULL;

	sim_state_lock(st);
	if (st->faults.replay_post > 0 && st->last_create != NULL) {
		st->faults.replay_post--;
		last = json_deep_copy(st->last_create);
	}
	sim_state_unlock(st);
	if (last == NULL)
		return 0;
	sim_reply_json(rp, 200, last);
	rp->note = "replayed";
	return 1;
}

void
sim_api_handle(struct sim_state *st, const struct sim_request *rq, struct sim_reply *rp)
{
	struct auth au;
	struct route rt;
	struct sim_draw d;
	int acted;

	memset(&au, 0, sizeof au);
	memset(&rt, 0, sizeof rt);
	sim_state_lock(st);
	sim_state_count_request(st, rq->method, auth_scheme(rq));
	sim_faults_draw(&st->faults, &st->rng, strcmp(rq->method, "POST") == 0, &d);
	sim_state_unlock(st);
	rp->date = d.date;
	if (d.drop) {
		rp->fault = SIM_FAULT_DROP;
		rp->note = "dropped";
		goto out;
	}
	auth_parse(rq, &au);
	if (early_fault(st, &d, &au, rp) || take_slot(st, &au, rp) < 0)
		goto out;
	route_parse(rq->path, &rt);
	if (d.reject_bearer && au.kind == AUTH_BEARER) {
		unauthorized(rp, "Bearer", "Invalid signature token");
		rp->note = "reject_bearer_rate";
		goto out;
	}
	if (rt.kind == ROUTE_TOKENS && strcmp(rq->method, "POST") == 0 && replayed(st, rp))
		goto out;
	acted = dispatch(st, rq, &rt, &au, rp);
	if (acted && d.lost && rt.kind == ROUTE_TOKENS) {
		rp->fault = SIM_FAULT_DROP;
		rp->note = "lost";
	} else if (acted && d.malformed) {
		rp->fault = SIM_FAULT_MALFORMED;
		rp->note = "malformed";
	} else if (acted && d.truncated) {
		rp->fault = SIM_FAULT_TRUNCATED;
		rp->note = "truncated";
	}
out:
	sim_state_lock(st);
	if (rp->fault == SIM_FAULT_DROP)
		st->stats.dropped++;
	else
		sim_state_count_status(st, rp->status);
	sim_state_unlock(st);
	auth_free(&au);
	route_free(&rt);
	if (d.latency_ms > 0)
		sim_state_sleep(st, d.latency_ms);
}
