/*
 * Loading a policy file: the YAML tree is walked section by section, every
 * problem reported where it is, then the slots' effective settings are
 * checked against each other.  See policy.h.
 */
#include "policies/policy.h"

#include "core/cred.h"
#include "core/mode.h"
#include "core/net.h"
#include "core/timefmt.h"
#include "core/url.h"
#include "core/xalloc.h"
#include "policies/crosscheck.h"
#include "policies/loader.h"
#include "policies/settings.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_API "https://app.mode.com"
#define DEFAULT_RATE_REQUESTS 40
#define DEFAULT_RATE_WINDOW 10

/* Settings keys follow each section's own keys, so one table checks both. */
#define SETTINGS_KEYS                                                                              \
	"name_template", "lifetime", "rotate_before", "grace", "jitter", "window", "verify",       \
	    "deliver", "paused", NULL

/* Dispatches the settings keys of mapping m (from index `first` in keys) into s. */
static int
settings_section(struct loader *ld, const struct ynode *m, const char *const *keys, int first,
		 struct policy_settings *s)
{
	int rc = 0;

	for (size_t i = 0; i + 1 < m->n; i += 2) {
		int k = loader_key_index(m->items[i], keys);

		if (k >= first && settings_parse(ld, (enum policy_field)(k - first), m->items[i],
						 m->items[i + 1], s) < 0)
			rc = -1;
	}
	return rc;
}

static int
load_defaults(struct loader *ld, const struct ynode *v, struct policy *p)
{
	static const char *const keys[] = {SETTINGS_KEYS};

	if (loader_check_keys(ld, v, keys, "defaults") < 0)
		return -1;
	return settings_section(ld, v, keys, 0, &p->defaults);
}

static int
load_path(struct loader *ld, const char *key, const struct ynode *v, char **out)
{
	if (loader_string(ld, key, v, out) < 0)
		return -1;
	if ((*out)[0] != '/') {
		loader_error(ld, v, "%s '%s' must be an absolute path", key, *out);
		return -1;
	}
	return 0;
}

static int
load_store(struct loader *ld, const struct ynode *v, struct policy *p)
{
	static const char *const keys[] = {"path", "public_key", "integrity", NULL};
	static const char *const integrity[] = {"refuse", "warn", NULL};
	const struct ynode *path = ytree_get(v, "path"), *pub = ytree_get(v, "public_key");
	const struct ynode *in = ytree_get(v, "integrity");
	int rc = 0, k;

	if (loader_check_keys(ld, v, keys, "store") < 0)
		return -1;
	if (path != NULL && load_path(ld, "store path", path, &p->store_path) < 0)
		rc = -1;
	if (pub != NULL && load_path(ld, "store public_key", pub, &p->public_key) < 0)
		rc = -1;
	if (in != NULL) {
		k = in->type == YNODE_SCALAR ? loader_key_index(in, integrity) : -1;
		if (k < 0) {
			loader_error(ld, in,
				     "store integrity must be refuse (the default: rotate does "
				     "nothing on a store whose tables no longer follow from its "
				     "history) or warn (rotate says so and runs)");
			rc = -1;
		} else {
			p->integrity_warn = k == 1;
		}
	}
	return rc;
}

/* The credential: a name, or { name: NAME, kind: workspace|member|personal }.  Never echoed. */
static int
load_credential(struct loader *ld, const struct ynode *v, struct policy_workspace *w)
{
	static const char *const keys[] = {"name", "kind", NULL};
	static const char *const kinds[] = {"workspace", "member", "personal", NULL};
	const struct ynode *name = v, *kind = NULL;
	size_t len;

	if (v->type == YNODE_MAP) {
		if (loader_check_keys(ld, v, keys, "credential") < 0)
			return -1;
		name = ytree_get(v, "name");
		kind = ytree_get(v, "kind");
		if (name == NULL) {
			loader_error(ld, v, "credential needs a name");
			return -1;
		}
	}
	if (name->type != YNODE_SCALAR) {
		loader_error(ld, name, "credential must be a credential's name, not %s",
			     ytree_type_name(name));
		return -1;
	}
	len = strlen(name->value);
	if (strchr(name->value, ':') != NULL) {
		loader_error(ld, name,
			     "credential looks like KEY:SECRET written into the policy; put it in "
			     "a 0600 file or a systemd credential and give its name here");
		return -1;
	}
	if (len == 0 || len > 64 ||
	    strspn(name->value,
		   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != len ||
	    name->value[0] == '.') {
		loader_error(ld, name,
			     "credential must be the name of a credential (1 to 64 letters, "
			     "digits, '.', '_' or '-'), as in $CREDENTIALS_DIRECTORY/NAME");
		return -1;
	}
	if (kind != NULL) {
		int k = kind->type == YNODE_SCALAR ? loader_key_index(kind, kinds) : -1;

		if (k < 0) {
			loader_error(ld, kind,
				     "credential kind must be workspace, member or personal");
			return -1;
		}
		w->credential_kind = (enum cred_kind)k;
	}
	free(w->credential);
	w->credential = xstrdup(name->value);
	return 0;
}

/* rate_limit: REQUESTS/DURATION, as 40/10s. */
static int
load_rate(struct loader *ld, const struct ynode *v, struct policy_workspace *w)
{
	const char *slash = v->type == YNODE_SCALAR ? strchr(v->value, '/') : NULL;
	char *end = NULL;
	long long n;
	int64_t secs;

	if (slash != NULL) {
		errno = 0;
		n = strtoll(v->value, &end, 10);
		if (errno == 0 && end == slash && n >= 1 && n <= 100000 && v->value[0] != '+' &&
		    timefmt_duration(slash + 1, &secs) == 0 && secs <= 3600) {
			w->rate_requests = (int)n;
			w->rate_window = secs;
			return 0;
		}
	}
	loader_error(ld, v,
		     "rate_limit must be REQUESTS/DURATION such as 40/10s (1 to 100000 "
		     "requests, at most 1h)");
	return -1;
}

static int
load_token(struct loader *ld, const struct ynode *v, struct policy_workspace *w,
	   struct policy_slot *s)
{
	static const char *const keys[] = {"name", SETTINGS_KEYS};
	const struct ynode *name = ytree_get(v, "name");
	int rc = 0;

	s->ws = w;
	s->line = v->line;
	s->col = v->col;
	if (loader_check_keys(ld, v, keys, "a token") < 0)
		return -1;
	if (name == NULL) {
		loader_error(ld, v,
			     "a token needs a name (the slot's name, such as etl-discovery)");
		rc = -1;
	} else {
		s->line = name->line;
		s->col = name->col;
		if (loader_name(ld, "token name", name, &s->name) < 0)
			rc = -1;
	}
	if (settings_section(ld, v, keys, 1, &s->own) < 0)
		rc = -1;
	return rc;
}

static void
duplicate_token(struct loader *ld, const struct loader_named *dup, const struct loader_named *first,
		void *arg)
{
	const struct policy_workspace *w = arg;

	loader_error(ld, dup->at, "two tokens named '%s' in workspace '%s' (the first at line %d)",
		     dup->name, w->name != NULL ? w->name : "?", first->at->line);
}

static int
load_tokens(struct loader *ld, const struct ynode *v, struct policy_workspace *w)
{
	struct loader_named *named;
	int rc = 0;

	if (v->type != YNODE_SEQ) {
		loader_error(ld, v, "tokens must be a list (- name: SLOT ...), not %s",
			     ytree_type_name(v));
		return -1;
	}
	w->slots = xcalloc(v->n == 0 ? 1 : v->n, sizeof *w->slots);
	named = xcalloc(v->n == 0 ? 1 : v->n, sizeof *named);
	for (size_t i = 0; i < v->n; i++) {
		struct policy_slot *s = &w->slots[w->nslots++];

		if (load_token(ld, v->items[i], w, s) < 0)
			rc = -1;
		named[i].name = s->name;
		named[i].at = v->items[i];
		named[i].index = i;
	}
	if (loader_duplicates(ld, named, v->n, duplicate_token, w) > 0)
		rc = -1;
	free(named);
	if (v->n == 0)
		loader_warn(ld, v, "workspace '%s' has no tokens", w->name != NULL ? w->name : "?");
	return rc;
}

static int
load_workspace(struct loader *ld, const struct ynode *v, struct policy_workspace *w)
{
	static const char *const keys[] = {"name",       "api",    "credential",
					   "rate_limit", "tokens", SETTINGS_KEYS};
	const struct ynode *name = ytree_get(v, "name"), *api = ytree_get(v, "api");
	const struct ynode *cred = ytree_get(v, "credential"), *rate = ytree_get(v, "rate_limit");
	const struct ynode *tokens = ytree_get(v, "tokens");
	char *cause = NULL;
	int plain = 0, rc = 0;

	w->line = v->line;
	w->col = v->col;
	w->rate_requests = DEFAULT_RATE_REQUESTS;
	w->rate_window = DEFAULT_RATE_WINDOW;
	if (loader_check_keys(ld, v, keys, "a workspace") < 0)
		return -1;
	if (name == NULL) {
		loader_error(ld, v, "a workspace needs a name (its Mode username)");
		rc = -1;
	} else if (loader_string(ld, "workspace name", name, &w->name) < 0)
		rc = -1;
	else if (mode_check_workspace(w->name, &cause) < 0) {
		loader_error(ld, name, "workspace name: %s", cause);
		rc = -1;
	}
	FREE_NULL(&cause);
	if (api != NULL && loader_string(ld, "api", api, &w->api) == 0) {
		char *root = mode_check_api("api", w->api, &plain, &cause);

		if (root == NULL) {
			loader_error(ld, api, "%s", cause);
			rc = -1;
		}
		free(w->api);
		w->api = root;
		FREE_NULL(&cause);
	} else if (api != NULL)
		rc = -1;
	if (w->api == NULL)
		w->api = xstrdup(DEFAULT_API);
	if (cred == NULL) {
		loader_error(ld, v,
			     "workspace '%s' needs a credential (the name of its admin "
			     "API credential)",
			     w->name != NULL ? w->name : "?");
		rc = -1;
	} else if (load_credential(ld, cred, w) < 0)
		rc = -1;
	if (rate != NULL && load_rate(ld, rate, w) < 0)
		rc = -1;
	if (settings_section(ld, v, keys, 5, &w->own) < 0)
		rc = -1;
	if (tokens == NULL)
		loader_warn(ld, v, "workspace '%s' has no tokens", w->name != NULL ? w->name : "?");
	else if (load_tokens(ld, tokens, w) < 0)
		rc = -1;
	return rc;
}

static void
duplicate_workspace(struct loader *ld, const struct loader_named *dup,
		    const struct loader_named *first, void *arg)
{
	(void)arg;
	loader_error(ld, dup->at,
		     "workspace '%s' is listed twice (the first at line %d); put all its tokens "
		     "under one entry",
		     dup->name, first->at->line);
}

/*
 * Reports each workspace whose credential differs from an earlier one's
 * only in case or punctuation: both would be read from one environment
 * variable (cred_env_name), so one workspace would get the other's key.
 */
static int
credential_clashes(struct loader *ld, const struct ynode *v, const struct policy *p)
{
	char **var = xcalloc(p->nws + 1, sizeof *var);
	int rc = 0;

	for (size_t i = 0; i < p->nws; i++) {
		const char *mine = p->ws[i].credential;
		size_t j = 0;

		if (mine == NULL)
			continue;
		var[i] = cred_env_name(mine);
		/* var[j] is set only for a workspace that names a credential. */
		/* NOLINTBEGIN(clang-analyzer-core.NonNullParamChecker) */
		while (j < i && (var[j] == NULL || strcmp(var[j], var[i]) != 0 ||
				 strcmp(p->ws[j].credential, mine) == 0))
			j++;
		/* NOLINTEND(clang-analyzer-core.NonNullParamChecker) */
		if (j == i)
			continue;
		loader_error(ld, v->items[i],
			     "credentials '%s' and '%s' (line %d) would both be read from $%s; "
			     "give them names that differ in more than case and punctuation",
			     mine, p->ws[j].credential, v->items[j]->line, var[i]);
		rc = -1;
	}
	for (size_t i = 0; i < p->nws; i++)
		free(var[i]);
	free(var);
	return rc;
}

static int
load_workspaces(struct loader *ld, const struct ynode *v, struct policy *p)
{
	struct loader_named *named;
	int rc = 0;

	if (v->type != YNODE_SEQ || v->n == 0) {
		loader_error(ld, v,
			     "workspaces must be a list with at least one workspace "
			     "(- name: WORKSPACE ...)");
		return -1;
	}
	p->ws = xcalloc(v->n, sizeof *p->ws);
	named = xcalloc(v->n, sizeof *named);
	for (size_t i = 0; i < v->n; i++) {
		struct policy_workspace *w = &p->ws[p->nws++];

		if (load_workspace(ld, v->items[i], w) < 0)
			rc = -1;
		named[i].name = w->name;
		named[i].at = v->items[i];
		named[i].index = i;
	}
	if (loader_duplicates(ld, named, v->n, duplicate_workspace, NULL) > 0)
		rc = -1;
	free(named);
	if (credential_clashes(ld, v, p) < 0)
		rc = -1;
	return rc;
}

/* A rule: report, ignore, or (when deletable) { delete_after: DURATION }. */
static int
load_rule(struct loader *ld, const char *key, const struct ynode *v, int deletable, int zero_ok,
	  enum rule_action *action, int64_t *after)
{
	static const char *const keys[] = {"delete_after", NULL};
	const struct ynode *d;
	char *where;
	int rc;

	if (v->type == YNODE_SCALAR && strcmp(v->value, "report") == 0) {
		*action = RULE_REPORT;
		return 0;
	}
	if (v->type == YNODE_SCALAR && strcmp(v->value, "ignore") == 0) {
		*action = RULE_IGNORE;
		return 0;
	}
	if (!deletable || v->type == YNODE_SEQ) {
		loader_error(ld, v, "enforce %s must be report or ignore%s", key,
			     deletable ? ", or { delete_after: DURATION }" : "");
		return -1;
	}
	if (v->type == YNODE_SCALAR) {
		loader_error(ld, v,
			     "enforce %s: '%s' is not a rule; use report, ignore, or { "
			     "delete_after: DURATION } to delete such tokens",
			     key, v->value);
		return -1;
	}
	where = xasprintf("enforce %s", key);
	rc = loader_check_keys(ld, v, keys, where);
	free(where);
	if (rc < 0)
		return -1;
	d = ytree_get(v, "delete_after");
	if (d == NULL) {
		loader_error(ld, v, "enforce %s needs delete_after: DURATION", key);
		return -1;
	}
	if (loader_duration(ld, "delete_after", d, 1, after) < 0)
		return -1;
	if (*after == 0 && !zero_ok) {
		loader_error(ld, d,
			     "enforce %s: delete_after must be more than 0, or every token made "
			     "outside tokenwarden is deleted as soon as it is seen",
			     key);
		return -1;
	}
	*action = RULE_DELETE;
	return 0;
}

static int
load_enforce(struct loader *ld, const struct ynode *v, struct policy *p)
{
	static const char *const keys[] = {"max_lifetime", "unmanaged", "expired",
					   "deprecated_personal", NULL};
	struct policy_enforce *e = &p->enforce;
	int rc = 0;

	if (loader_check_keys(ld, v, keys, "enforce") < 0)
		return -1;
	for (size_t i = 0; i + 1 < v->n; i += 2) {
		const struct ynode *val = v->items[i + 1];
		int64_t unused = 0;
		int r = 0;

		switch (loader_key_index(v->items[i], keys)) {
		case 0:
			r = loader_duration(ld, "max_lifetime", val, 1, &e->max_lifetime);
			break;
		case 1:
			r = load_rule(ld, "unmanaged", val, 1, 0, &e->unmanaged,
				      &e->unmanaged_after);
			break;
		case 2:
			r = load_rule(ld, "expired", val, 1, 1, &e->expired, &e->expired_after);
			break;
		case 3:
			r = load_rule(ld, "deprecated_personal", val, 0, 0, &e->personal, &unused);
			break;
		default:
			break;
		}
		if (r < 0)
			rc = -1;
	}
	return rc;
}

/* Checks a webhook URL without echoing it: chat webhooks carry their secret in the path. */
static int
check_webhook(struct loader *ld, const struct ynode *v)
{
	struct url u;
	int ok = v->type == YNODE_SCALAR && url_parse(v->value, &u) == 0 && !u.userinfo &&
		 (strcmp(u.scheme, "https") == 0 ||
		  (strcmp(u.scheme, "http") == 0 && url_host_is_loopback(u.host)));

	if (!ok)
		loader_error(ld, v,
			     "webhook must be an https URL without a user name (plain "
			     "http only to loopback)");
	return ok ? 0 : -1;
}

static int
load_notify_item(struct loader *ld, const struct ynode *v, struct policy_notify *n)
{
	static const char *const keys[] = {"webhook", "events", NULL};
	static const char *const events[] = {"failure", "stuck", "violation", "success", NULL};
	const struct ynode *hook = ytree_get(v, "webhook"), *ev = ytree_get(v, "events");
	int rc = 0;

	n->line = v->line;
	n->col = v->col;
	n->events = NOTIFY_FAILURE | NOTIFY_STUCK | NOTIFY_VIOLATION;
	if (loader_check_keys(ld, v, keys, "a notify entry") < 0)
		return -1;
	if (hook == NULL) {
		loader_error(ld, v, "a notify entry needs a webhook: URL");
		rc = -1;
	} else if (check_webhook(ld, hook) < 0)
		rc = -1;
	else
		n->webhook = xstrdup(hook->value);
	if (ev == NULL)
		return rc;
	if (ev->type != YNODE_SEQ || ev->n == 0) {
		loader_error(ld, ev,
			     "notify events must be a list of failure, stuck, violation, "
			     "success");
		return -1;
	}
	n->events = 0;
	for (size_t i = 0; i < ev->n; i++) {
		int k = loader_key_index(ev->items[i], events);
		const char *near;

		if (k >= 0) {
			n->events |= 1u << k;
			continue;
		}
		rc = -1;
		near = ev->items[i]->type == YNODE_SCALAR
			   ? diag_suggest(ev->items[i]->value, events)
			   : NULL;
		if (near != NULL)
			loader_error(ld, ev->items[i],
				     "unknown notify event '%s'; did you mean '%s'?",
				     ev->items[i]->value, near);
		else
			loader_error(ld, ev->items[i],
				     "a notify event is one of failure, stuck, "
				     "violation, success");
	}
	return rc;
}

static int
load_notify(struct loader *ld, const struct ynode *v, struct policy *p)
{
	int rc = 0;

	if (v->type != YNODE_SEQ) {
		loader_error(ld, v, "notify must be a list (- webhook: URL)");
		return -1;
	}
	p->notify = xcalloc(v->n == 0 ? 1 : v->n, sizeof *p->notify);
	p->nnotify = v->n;
	for (size_t i = 0; i < v->n; i++)
		if (load_notify_item(ld, v->items[i], &p->notify[i]) < 0)
			rc = -1;
	return rc;
}

/* The least max_clock_skew, in seconds: Date is to the second, and answers take time. */
#define MIN_CLOCK_SKEW 10

static int
load_schedule(struct loader *ld, const struct ynode *v, struct policy *p)
{
	static const char *const keys[] = {
	    "interval", "random_delay",  "max_time",     "capacity_days",  "stuck_after",
	    "retries",  "retry_backoff", "lost_answers", "max_clock_skew", NULL};
	const struct ynode *iv = ytree_get(v, "interval"), *mt = ytree_get(v, "max_time");
	const struct ynode *rd = ytree_get(v, "random_delay");
	const struct ynode *cd = ytree_get(v, "capacity_days"), *sa = ytree_get(v, "stuck_after");
	const struct ynode *rt = ytree_get(v, "retries"), *rb = ytree_get(v, "retry_backoff");
	const struct ynode *sk = ytree_get(v, "max_clock_skew"), *la = ytree_get(v, "lost_answers");
	long long days, after, retries, lost;
	int rc = 0;

	if (loader_check_keys(ld, v, keys, "schedule") < 0)
		return -1;
	if (rt != NULL) {
		if (loader_int(ld, "retries", rt, 0, 20, &retries) < 0)
			rc = -1;
		else
			p->schedule.retries = (int)retries;
	}
	if (la != NULL) {
		if (loader_int(ld, "lost_answers", la, 1, POLICY_LOST_UNBOUNDED, &lost) < 0)
			rc = -1;
		else
			p->schedule.lost_answers = (int)lost;
	}
	if (rb != NULL &&
	    loader_duration(ld, "retry_backoff", rb, 0, &p->schedule.retry_backoff) < 0)
		rc = -1;
	if (rb != NULL && rc == 0 && p->schedule.retry_backoff > 3600) {
		loader_error(ld, rb, "retry_backoff must be an hour or less: a run waits it out");
		rc = -1;
	}
	if (sk != NULL && sk->value != NULL && strcmp(sk->value, "off") == 0)
		p->schedule.max_clock_skew = -1;
	else if (sk != NULL &&
		 loader_duration(ld, "max_clock_skew", sk, 0, &p->schedule.max_clock_skew) < 0)
		rc = -1;
	else if (sk != NULL && p->schedule.max_clock_skew < MIN_CLOCK_SKEW) {
		loader_error(
		    ld, sk,
		    "max_clock_skew must be at least 10s: Date has one-second precision "
		    "and an answer takes time to arrive; write 'off' to turn the check off");
		rc = -1;
	}
	if (iv != NULL && loader_duration(ld, "interval", iv, 0, &p->schedule.interval) < 0)
		rc = -1;
	if (rd != NULL && loader_duration(ld, "random_delay", rd, 1, &p->schedule.random_delay) < 0)
		rc = -1;
	if (rc == 0 && p->schedule.random_delay >= p->schedule.interval) {
		loader_error(ld, rd != NULL ? rd : iv,
			     "random_delay must be shorter than the interval between runs");
		rc = -1;
	}
	if (mt != NULL && loader_duration(ld, "max_time", mt, 0, &p->schedule.max_time) < 0)
		rc = -1;
	if (cd != NULL) {
		if (loader_int(ld, "capacity_days", cd, 1, 366, &days) < 0)
			rc = -1;
		else
			p->schedule.capacity_days = (int)days;
	}
	if (sa != NULL) {
		if (loader_int(ld, "stuck_after", sa, 1, 100, &after) < 0)
			rc = -1;
		else
			p->schedule.stuck_after = (int)after;
	}
	if (rc == 0 && p->schedule.max_time > p->schedule.interval) {
		loader_error(ld, mt, "max_time is longer than the interval between runs");
		rc = -1;
	}
	return rc;
}

static int
load_version(struct loader *ld, const struct ynode *root)
{
	const struct ynode *v = ytree_get(root, "version");
	long long n;

	if (v == NULL) {
		loader_error(ld, root, "the policy needs 'version: %d' at the top", POLICY_VERSION);
		return -1;
	}
	if (loader_int(ld, "version", v, 0, 1000000, &n) < 0)
		return -1;
	if (n != POLICY_VERSION) {
		loader_error(ld, v,
			     "version %lld is not supported; this tokenwarden reads version %d", n,
			     POLICY_VERSION);
		return -1;
	}
	return 0;
}

/* The proxy: a URL libcurl takes a proxy by, with no password in it (core/net.h). */
static int
load_proxy(struct loader *ld, const struct ynode *v, struct policy *p)
{
	char *cause = NULL;

	if (loader_string(ld, "proxy", v, &p->proxy) < 0)
		return -1;
	if (net_check_proxy("proxy", p->proxy, &cause) == 0)
		return 0;
	loader_error(ld, v, "%s", cause);
	free(cause);
	FREE_NULL(&p->proxy);
	return -1;
}

static void
load_top(struct loader *ld, const struct ynode *root, struct policy *p)
{
	static const char *const keys[] = {"version",    "store",   "defaults",
					   "workspaces", "enforce", "notify",
					   "schedule",   "proxy",   NULL};
	const struct ynode *v;

	if (loader_check_keys(ld, root, keys, "the policy") < 0)
		return;
	load_version(ld, root);
	v = ytree_get(root, "store");
	if (v != NULL)
		load_store(ld, v, p);
	v = ytree_get(root, "defaults");
	if (v != NULL)
		load_defaults(ld, v, p);
	v = ytree_get(root, "enforce");
	if (v != NULL)
		load_enforce(ld, v, p);
	v = ytree_get(root, "notify");
	if (v != NULL)
		load_notify(ld, v, p);
	v = ytree_get(root, "schedule");
	if (v != NULL)
		load_schedule(ld, v, p);
	v = ytree_get(root, "proxy");
	if (v != NULL)
		load_proxy(ld, v, p);
	v = ytree_get(root, "workspaces");
	if (v == NULL)
		loader_error(ld, root,
			     "the policy has no workspaces; add at least one under "
			     "'workspaces'");
	else
		load_workspaces(ld, v, p);
}

static int
slot_order(const void *a, const void *b)
{
	const struct policy_slot *x = *(const struct policy_slot *const *)a;
	const struct policy_slot *y = *(const struct policy_slot *const *)b;
	int c = strcmp(x->ws->name, y->ws->name);

	return c != 0 ? c : strcmp(x->name, y->name);
}

/* Merges every named slot's settings and indexes the slots. */
static void
index_slots(struct policy *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nws; i++)
		n += p->ws[i].nslots;
	p->slots = xcalloc(n == 0 ? 1 : n, sizeof *p->slots);
	for (size_t i = 0; i < p->nws; i++) {
		for (size_t j = 0; p->ws[i].name != NULL && j < p->ws[i].nslots; j++) {
			struct policy_slot *s = &p->ws[i].slots[j];

			if (s->name == NULL)
				continue;
			settings_merge(s, &p->builtin, &p->defaults, &p->ws[i].own);
			p->slots[p->nslots++] = s;
		}
	}
	qsort(p->slots, p->nslots, sizeof *p->slots, slot_order);
}

static void
defaults(struct policy *p, const char *file)
{
	p->file = xstrdup(file);
	settings_builtin(&p->builtin);
	p->enforce.unmanaged = RULE_REPORT;
	p->enforce.expired = RULE_REPORT;
	p->enforce.personal = RULE_REPORT;
	p->schedule.interval = 86400;
	p->schedule.random_delay = 900; /* the example timer's RandomizedDelaySec=15min */
	p->schedule.capacity_days = 14;
	p->schedule.stuck_after = 5;
	p->schedule.retries = 20;
	p->schedule.retry_backoff = 10;
	p->schedule.lost_answers = POLICY_LOST_UNBOUNDED;
	p->schedule.max_clock_skew = 300;
}

int
policy_load_buffer(const char *file, const char *buf, size_t len, const char *zoneinfo,
		   struct policy **out, struct diag_list *d)
{
	struct loader ld = {.d = d, .zoneinfo = zoneinfo};
	struct ytree tree;
	const struct ynode *root;
	struct policy *p = NULL;
	char *cause = NULL;
	int line, col;

	*out = NULL;
	diag_init(d, file);
	if (ytree_parse(buf, len, &tree, &line, &col, &cause) < 0) {
		diag_add(d, DIAG_ERROR, line, col, "%s", cause);
		free(cause);
		return -1;
	}
	root = tree.root;
	if (root == NULL || (root->type == YNODE_SCALAR && root->plain && root->value[0] == '\0')) {
		diag_add(d, DIAG_ERROR, 1, 1, "the policy is empty; start with 'version: %d'",
			 POLICY_VERSION);
		ytree_free(&tree);
		return -1;
	}
	p = xcalloc(1, sizeof *p);
	defaults(p, file);
	load_top(&ld, root, p);
	index_slots(p);
	crosscheck_policy(&ld, p);
	loader_done(&ld);
	ytree_free(&tree);
	diag_sort(d);
	if (d->nerrors > 0) {
		policy_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

/*
 * Warns when group or others can read a policy that names webhooks (with
 * status st): their URLs often carry a secret, a chat webhook's in its path.
 */
static void
warn_readable(const struct policy *p, const struct stat *st, struct diag_list *d)
{
	if (p->nnotify == 0 || (st->st_mode & 044) == 0)
		return;
	diag_add(d, DIAG_WARNING, 0, 0,
		 "group or others can read the policy (mode %04o), and the URLs of its webhooks "
		 "often carry a secret; run: chmod go-r %s",
		 (unsigned)(st->st_mode & 07777), d->file);
	diag_sort(d);
}

int
policy_load_file(const char *path, const char *zoneinfo, struct policy **out, struct diag_list *d)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, rc = -1;

	*out = NULL;
	fd = cred_open_file(path);
	if (fd < 0 || fstat(fd, &st) < 0) {
		diag_init(d, path);
		diag_add(d, DIAG_ERROR, 0, 0, "cannot read the policy: %s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > POLICY_MAX_BYTES) {
		diag_init(d, path);
		diag_add(d, DIAG_ERROR, 0, 0,
			 "the policy must be a regular file of at most %d bytes", POLICY_MAX_BYTES);
		goto out;
	}
	/* Its deliver hooks run programs: only its owner (root or us) may change it. */
	if ((st.st_mode & 022) != 0 || !cred_owner_ok(&st)) {
		diag_init(d, path);
		diag_add(d, DIAG_ERROR, 0, 0,
			 "the policy can be changed by %s, and it names programs to run; run: "
			 "chmod go-w %s (and chown it to root or the user tokenwarden runs as)",
			 (st.st_mode & 022) != 0 ? "group or others" : "another user", path);
		goto out;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (len < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + len, (size_t)st.st_size - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			diag_init(d, path);
			diag_add(d, DIAG_ERROR, 0, 0, "cannot read the policy: %s",
				 r < 0 ? strerror(errno) : "it shrank while being read");
			goto out;
		}
		len += (size_t)r;
	}
	rc = policy_load_buffer(path, buf, len, zoneinfo, out, d);
	if (rc == 0)
		warn_readable(*out, &st, d);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}
