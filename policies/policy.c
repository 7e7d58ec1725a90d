/* The loaded policy: look-ups, names, token names, and freeing; see policy.h. */
#include "policies/policy.h"

#include "core/timefmt.h"
#include "core/xalloc.h"
#include "policies/diag.h"
#include "policies/settings.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

const char *
policy_field_name(enum policy_field f)
{
	return f < PF_NFIELDS ? settings_keys[f] : "?";
}

const char *
policy_level_name(enum policy_level l)
{
	static const char *const names[] = {"built-in", "defaults", "workspace", "token"};

	return l <= PL_TOKEN ? names[l] : "?";
}

static int
slot_cmp(const char *ws_a, const char *a, const char *ws_b, const char *b)
{
	int c = strcmp(ws_a, ws_b);

	return c != 0 ? c : strcmp(a, b);
}

long
policy_slot_index(const struct policy *p, const char *workspace, const char *slot)
{
	size_t lo = 0, hi = p->nslots;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct policy_slot *s = p->slots[mid];
		int c = slot_cmp(s->ws->name, s->name, workspace, slot);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

const struct policy_slot *
policy_find_slot(const struct policy *p, const char *workspace, const char *slot)
{
	long i = policy_slot_index(p, workspace, slot);

	return i < 0 ? NULL : p->slots[i];
}

int
policy_has_slot_named(const struct policy *p, const char *slot)
{
	for (size_t i = 0; i < p->nslots; i++)
		if (strcmp(p->slots[i]->name, slot) == 0)
			return 1;
	return 0;
}

/* The slot names of p (each once per workspace), for suggestions; the caller frees the array. */
static const char **
slot_names(const struct policy *p)
{
	const char **names = xcalloc(p->nslots + 1, sizeof *names);

	for (size_t i = 0; i < p->nslots; i++)
		names[i] = p->slots[i]->name;
	return names;
}

/* *cause for a slot workspace w lacks, with the nearest of its slots. */
static char *
no_slot_in(const struct policy_workspace *w, const char *spec, const char *slot)
{
	const char **names = xcalloc(w->nslots + 1, sizeof *names), *near;
	char *msg;

	for (size_t i = 0; i < w->nslots; i++)
		names[i] = w->slots[i].name;
	near = diag_suggest(slot, names);
	msg = near != NULL
		  ? xasprintf("'%s': workspace '%s' has no slot '%s'; did you mean "
			      "'%s/%s'?",
			      spec, w->name, slot, w->name, near)
		  : xasprintf("'%s': workspace '%s' has no slot '%s'", spec, w->name, slot);
	free(names);
	return msg;
}

const struct policy_slot *
policy_resolve_slot(const struct policy *p, const char *spec, char **cause)
{
	const struct policy_slot *found = NULL;
	const char *slash = strchr(spec, '/'), *near, **names;
	char *list = NULL, *more;
	size_t n = 0;

	if (slash != NULL) {
		char *ws = xstrndup(spec, (size_t)(slash - spec));
		const struct policy_workspace *w = policy_find_workspace(p, ws);

		found = policy_find_slot(p, ws, slash + 1);
		if (w == NULL)
			*cause = xasprintf("'%s': no workspace '%s' in the policy", spec, ws);
		else if (found == NULL)
			*cause = no_slot_in(w, spec, slash + 1);
		free(ws);
		return found;
	}
	for (size_t i = 0; i < p->nslots; i++) {
		if (strcmp(p->slots[i]->name, spec) != 0)
			continue;
		found = p->slots[i];
		more = xasprintf("%s%s%s/%s", list != NULL ? list : "", list != NULL ? ", " : "",
				 found->ws->name, found->name);
		free(list);
		list = more;
		n++;
	}
	if (n == 1) {
		free(list);
		return found;
	}
	if (n > 1) {
		*cause = xasprintf("'%s' names a slot in %zu workspaces (%s): say which, as "
				   "WORKSPACE/SLOT",
				   spec, n, list);
		free(list);
		return NULL;
	}
	names = slot_names(p);
	near = diag_suggest(spec, names);
	*cause = near != NULL ? xasprintf("'%s': no slot of that name in the policy; did you "
					  "mean '%s'?",
					  spec, near)
			      : xasprintf("'%s': no slot of that name in the policy", spec);
	free(names);
	return NULL;
}

const struct policy_workspace *
policy_find_workspace(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->nws; i++)
		if (strcmp(p->ws[i].name, name) == 0)
			return &p->ws[i];
	return NULL;
}

/* Whether a workspace before workspace i names its credential. */
static int
credential_seen(const struct policy *p, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(p->ws[j].credential, p->ws[i].credential) == 0)
			return 1;
	return 0;
}

size_t
policy_credential_count(const struct policy *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nws; i++)
		n += !credential_seen(p, i);
	return n;
}

int64_t
policy_rotate_before(const struct policy_settings *eff)
{
	if (eff->rotate_before_pct > 0)
		return eff->lifetime * eff->rotate_before_pct / 100;
	return eff->rotate_before;
}

int
policy_slack(const struct policy *p, const struct policy_slot *s)
{
	int64_t open = policy_rotate_before(&s->eff) - p->schedule.random_delay, runs;

	if (s->eff.window != NULL && s->eff.window->longest_gap > 0)
		open -= s->eff.window->longest_gap;
	runs = open / p->schedule.interval;
	if (runs < 1)
		return 0;
	return runs - 1 > INT_MAX ? INT_MAX : (int)(runs - 1);
}

/* A string being rendered: every slot's names and paths are, at each load. */
struct text {
	char *s;
	size_t len, cap;
};

/* Starts t with room for about hint bytes, so most renders allocate once. */
static void
text_init(struct text *t, size_t hint)
{
	t->cap = hint + 1;
	t->s = xmalloc(t->cap);
	t->s[0] = '\0';
	t->len = 0;
}

/* Appends n bytes of s to t. */
static void
put(struct text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		t->cap = 2 * (t->len + n + 1);
		t->s = xrealloc(t->s, t->cap);
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
}

char *
policy_render_name(const struct policy_slot *s, int64_t at, char **cause)
{
	const char *t = s->eff.name_template;
	char stamp[TIMEFMT_MAX], digits[16];
	struct text out;
	size_t nd = 0;

	/* 2024-10-02T21:00Z -> 202410022100 */
	timefmt_minute(at, stamp);
	for (size_t i = 0; stamp[i] != '\0' && nd < 12; i++)
		if (stamp[i] >= '0' && stamp[i] <= '9')
			digits[nd++] = stamp[i];
	digits[nd] = '\0';
	text_init(&out, strlen(t) + 64); /* names are at most 64 characters */
	while (*t != '\0') {
		const char *open = strchr(t, '{');
		const char *close = open != NULL ? strchr(open, '}') : NULL;
		size_t n;

		if (open == NULL || close == NULL) {
			put(&out, t, strlen(t));
			break;
		}
		put(&out, t, (size_t)(open - t));
		n = (size_t)(close - open + 1);
		if (n == 6 && strncmp(open, "{slot}", n) == 0)
			put(&out, s->name, strlen(s->name));
		else if (n == 11 && strncmp(open, "{workspace}", n) == 0)
			put(&out, s->ws->name, strlen(s->ws->name));
		else if (n == 14 && strncmp(open, "{yyyymmddhhmm}", n) == 0)
			put(&out, digits, 12);
		else if (n == 10 && strncmp(open, "{yyyymmdd}", n) == 0)
			put(&out, digits, 8);
		else {
			*cause =
			    xasprintf("name_template: unknown placeholder '%.*s'", (int)n, open);
			free(out.s);
			return NULL;
		}
		t = close + 1;
	}
	return out.s;
}

void
policy_path_lexical(char *path)
{
	char *out = path, *in = path;
	int absolute = path[0] == '/';

	while (*in != '\0') {
		size_t n;

		in += strspn(in, "/");
		n = strcspn(in, "/");
		if (n == 0 || (n == 1 && in[0] == '.')) {
			in += n;
			continue;
		}
		if (n == 2 && in[0] == '.' && in[1] == '.') {
			while (out > path && *--out != '/')
				;
			in += n;
			continue;
		}
		if (out > path || absolute)
			*out++ = '/';
		memmove(out, in, n);
		out += n;
		in += n;
	}
	if (out == path && absolute)
		*out++ = '/';
	*out = '\0';
}

char *
policy_render_target(const struct policy_slot *s, const char *text)
{
	struct text out;

	text_init(&out, strlen(text) + 64);
	while (*text != '\0') {
		const char *open = strchr(text, '{');

		if (open == NULL) {
			put(&out, text, strlen(text));
			break;
		}
		put(&out, text, (size_t)(open - text));
		if (strncmp(open, "{slot}", 6) == 0) {
			put(&out, s->name, strlen(s->name));
			text = open + 6;
		} else if (strncmp(open, "{workspace}", 11) == 0) {
			put(&out, s->ws->name, strlen(s->ws->name));
			text = open + 11;
		} else {
			put(&out, open, 1); /* refused at load time; kept as written */
			text = open + 1;
		}
	}
	return out.s;
}

static void
workspace_free(struct policy_workspace *w)
{
	for (size_t i = 0; i < w->nslots; i++) {
		free(w->slots[i].name);
		settings_free(&w->slots[i].own);
	}
	free(w->slots);
	free(w->name);
	free(w->api);
	free(w->credential);
	settings_free(&w->own);
}

void
policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nws; i++)
		workspace_free(&p->ws[i]);
	free(p->ws);
	for (size_t i = 0; i < p->nnotify; i++)
		free(p->notify[i].webhook);
	free(p->notify);
	free(p->slots);
	settings_free(&p->builtin);
	settings_free(&p->defaults);
	free(p->file);
	free(p->store_path);
	free(p->proxy);
	free(p->public_key);
	free(p);
}
