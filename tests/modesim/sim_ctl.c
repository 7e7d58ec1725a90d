/* /_sim/ endpoints: a table of paths with a GET and a POST handler each. */
#include "sim_ctl.h"

#include <stdlib.h>
#include <string.h>

#include "core/timefmt.h"
#include "core/xalloc.h"

/* A handler gets the parsed POST body (NULL for GET) and answers into rp. */
typedef void (*ctl_fn)(struct sim_state *, json_t *, struct sim_reply *);

static void tokens_get(struct sim_state *, json_t *, struct sim_reply *);
static void clock_get(struct sim_state *, json_t *, struct sim_reply *);
static void clock_post(struct sim_state *, json_t *, struct sim_reply *);
static void faults_get(struct sim_state *, json_t *, struct sim_reply *);
static void faults_post(struct sim_state *, json_t *, struct sim_reply *);
static void stats_get(struct sim_state *, json_t *, struct sim_reply *);
static void reset_post(struct sim_state *, json_t *, struct sim_reply *);
static void ratelimit_get(struct sim_state *, json_t *, struct sim_reply *);
static void ratelimit_post(struct sim_state *, json_t *, struct sim_reply *);

static const struct {
	const char *path;
	ctl_fn get;
	ctl_fn post;
} routes[] = {
    {"/_sim/tokens", tokens_get, NULL},        {"/_sim/clock", clock_get, clock_post},
    {"/_sim/faults", faults_get, faults_post}, {"/_sim/stats", stats_get, NULL},
    {"/_sim/reset", NULL, reset_post},         {"/_sim/ratelimit", ratelimit_get, ratelimit_post},
};

#define NROUTES (sizeof routes / sizeof routes[0])

static void
bad_request(struct sim_reply *rp, const char *msg)
{
	sim_reply_error(rp, 400, "bad_request", "%s", msg);
}

static void
tokens_get(struct sim_state *st, json_t *body, struct sim_reply *rp)
{
	json_t *list = json_array();
	int64_t now;

	(void)body;
	sim_state_lock(st);
	now = sim_state_now(st);
	for (size_t i = 0; i < st->ntokens; i++) {
		const struct sim_token *t = st->tokens[i];
		char created[TIMEFMT_MAX], expires[TIMEFMT_MAX];

		timefmt_mode(t->created_at, created);
		timefmt_mode(t->expires_at, expires);
		/* Deliberately no access_secret: tests must get it the way a client does. */
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}",
						      "workspace", t->ws->name, "token", t->id,
						      "name", t->name, "access_key", t->access_key,
						      "created_at", created, "expires_at", expires,
						      "expired", now >= t->expires_at));
	}
	sim_state_unlock(st);
	sim_reply_json(rp, 200, json_pack("{s:o}", "tokens", list));
}

/* Locked.  Answers {"now": ...}. */
static void
clock_reply(const struct sim_state *st, struct sim_reply *rp)
{
	char now[TIMEFMT_MAX];

	timefmt_mode(sim_state_now(st), now);
	sim_reply_json(rp, 200, json_pack("{s:s}", "now", now));
}

static void
clock_get(struct sim_state *st, json_t *body, struct sim_reply *rp)
{
	(void)body;
	sim_state_lock(st);
	clock_reply(st, rp);
	sim_state_unlock(st);
}

/* Reads the clock change in body into a new time relative to now; returns 0 or -1 after answering.
 */
static int
clock_target(json_t *body, int64_t now, int64_t *target, struct sim_reply *rp)
{
	json_t *v;
	int64_t secs;

	if (json_object_size(body) != 1) {
		bad_request(rp, "want exactly one of now, advance, advance_seconds");
		return -1;
	}
	v = json_object_get(body, "now");
	if (v != NULL) {
		if (!json_is_string(v) || timefmt_parse(json_string_value(v), target) < 0) {
			bad_request(rp, "now must be an ISO 8601 time such as 2024-09-01T00:00Z");
			return -1;
		}
		return 0;
	}
	v = json_object_get(body, "advance");
	if (v != NULL) {
		if (!json_is_string(v) || timefmt_duration(json_string_value(v), &secs) < 0) {
			bad_request(rp, "advance must be a duration such as 90d, 12h or 1d12h");
			return -1;
		}
		*target = now + secs * 1000;
		return 0;
	}
	v = json_object_get(body, "advance_seconds");
	if (v != NULL) {
		/* A century either way keeps the sum far from overflow. */
		if (!json_is_integer(v) || json_integer_value(v) < -3155760000LL ||
		    json_integer_value(v) > 3155760000LL) {
			bad_request(rp, "advance_seconds must be an integer number of seconds");
			return -1;
		}
		*target = now + (int64_t)json_integer_value(v) * 1000;
		return 0;
	}
	bad_request(rp, "want exactly one of now, advance, advance_seconds");
	return -1;
}

static void
clock_post(struct sim_state *st, json_t *body, struct sim_reply *rp)
{
	int64_t target;

	sim_state_lock(st);
	if (clock_target(body, sim_state_now(st), &target, rp) < 0)
		goto out;
	if (target < 0 || target > SIM_TIME_MAX) {
		bad_request(rp, "the clock must stay between 1970 and 9999");
		goto out;
	}
	sim_state_set_now(st, target);
	clock_reply(st, rp);
out:
	sim_state_unlock(st);
}

static void
faults_get(struct sim_state *st, json_t *body, struct sim_reply *rp)
{
	(void)body;
	sim_state_lock(st);
	sim_reply_json(rp, 200, sim_faults_json(&st->faults));
	sim_state_unlock(st);
}

static void
faults_post(struct sim_state *st, json_t *body, struct sim_reply *rp)
{
	struct sim_faults f;
	char *cause = NULL;

	if (sim_faults_parse(body, &f, &cause) < 0) {
		bad_request(rp, cause);
		free(cause);
		return;
	}
	sim_state_lock(st);
	st->faults = f;
	sim_reply_json(rp, 200, sim_faults_json(&st->faults));
	sim_state_unlock(st);
}

static void
stats_get(struct sim_state *st, json_t *body, struct sim_reply *rp)
{
	(void)body;
	sim_state_lock(st);
	sim_reply_json(rp, 200, sim_state_stats_json(st));
	sim_state_unlock(st);
}

static void
reset_post(struct sim_state *st, json_t *body, struct sim_reply *rp)
{
	if (json_object_size(body) != 0) {
		bad_request(rp, "reset takes an empty body or {}");
		return;
	}
	sim_state_lock(st);
	sim_state_stats_clear(st);
	sim_faults_clear(&st->faults);
	sim_limit_forget(st->limit);
	sim_reply_json(rp, 200, sim_state_stats_json(st));
	sim_state_unlock(st);
}

/* Locked.  Answers {"limit": N, "window": seconds, "verify_budget": "token" or "admin"}. */
static void
ratelimit_reply(const struct sim_state *st, struct sim_reply *rp)
{
	sim_reply_json(rp, 200,
		       json_pack("{s:I, s:I, s:s}", "limit", (json_int_t)sim_limit_limit(st->limit),
				 "window", (json_int_t)sim_limit_window(st->limit), "verify_budget",
				 st->verify_admin ? "admin" : "token"));
}

static void
ratelimit_get(struct sim_state *st, json_t *body, struct sim_reply *rp)
{
	(void)body;
	sim_state_lock(st);
	ratelimit_reply(st, rp);
	sim_state_unlock(st);
}

/* Reads an optional integer key in [min, max] into *out; returns -1 after answering. */
static int
int_key(json_t *body, const char *key, int64_t min, int64_t max, int64_t *out, struct sim_reply *rp)
{
	json_t *v = json_object_get(body, key);

	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		sim_reply_error(rp, 400, "bad_request", "%s must be an integer from %lld to %lld",
				key, (long long)min, (long long)max);
		return -1;
	}
	*out = (int64_t)json_integer_value(v);
	return 0;
}

static void
ratelimit_post(struct sim_state *st, json_t *body, struct sim_reply *rp)
{
	const char *key;
	json_t *v;
	const char *budget = NULL;
	int64_t limit, window;

	json_object_foreach(body, key, v)
	{
		if (strcmp(key, "limit") != 0 && strcmp(key, "window") != 0 &&
		    strcmp(key, "verify_budget") != 0) {
			sim_reply_error(rp, 400, "bad_request",
					"unknown key \"%.64s\" (want limit, window, verify_budget)",
					key);
			return;
		}
	}
	if (json_object_size(body) == 0) {
		bad_request(rp, "want limit, window, verify_budget or several");
		return;
	}
	v = json_object_get(body, "verify_budget");
	if (v != NULL) {
		budget = json_string_value(v);
		if (budget == NULL ||
		    (strcmp(budget, "token") != 0 && strcmp(budget, "admin") != 0)) {
			bad_request(rp, "verify_budget must be \"token\" or \"admin\"");
			return;
		}
	}
	sim_state_lock(st);
	limit = sim_limit_limit(st->limit);
	window = sim_limit_window(st->limit);
	if (int_key(body, "limit", 1, SIM_LIMIT_MAX, &limit, rp) == 0 &&
	    int_key(body, "window", 1, SIM_WINDOW_MAX, &window, rp) == 0) {
		if (budget != NULL)
			st->verify_admin = strcmp(budget, "admin") == 0;
		sim_limit_set(st->limit, limit, window);
		ratelimit_reply(st, rp);
	}
	sim_state_unlock(st);
}

/* Parses a POST body as a JSON object (empty means {}); returns NULL after answering. */
static json_t *
read_object(const struct sim_request *rq, struct sim_reply *rp)
{
	json_error_t err;
	json_t *doc;

	if (rq->body_len == 0)
		return json_object();
	doc = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &err);
	if (doc == NULL) {
		sim_reply_error(rp, 400, "bad_request", "Malformed JSON: %s", err.text);
		return NULL;
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		bad_request(rp, "the body must be a JSON object");
		return NULL;
	}
	return doc;
}

void
sim_ctl_handle(struct sim_state *st, const struct sim_request *rq, struct sim_reply *rp)
{
	int get = strcmp(rq->method, "GET") == 0, post = strcmp(rq->method, "POST") == 0;
	json_t *body = NULL;
	ctl_fn fn;

	for (size_t i = 0; i < NROUTES; i++) {
		if (strcmp(routes[i].path, rq->path) != 0)
			continue;
		fn = get ? routes[i].get : post ? routes[i].post : NULL;
		if (fn == NULL) {
			sim_reply_error(rp, 405, "method_not_allowed", "%s is not allowed on %s",
					rq->method, routes[i].path);
			sim_reply_header(rp, "Allow", "%s%s%s", routes[i].get != NULL ? "GET" : "",
					 routes[i].get != NULL && routes[i].post != NULL ? ", "
											 : "",
					 routes[i].post != NULL ? "POST" : "");
			return;
		}
		if (rq->too_large) {
			sim_reply_error(rp, 413, "payload_too_large",
					"The body is larger than %d bytes", SIM_BODY_MAX);
			return;
		}
		if (post) {
			body = read_object(rq, rp);
			if (body == NULL)
				return;
		}
		fn(st, body, rp);
		json_decref(body);
		return;
	}
	sim_reply_error(rp, 404, "not_found", "no control endpoint %s", rq->path);
}
