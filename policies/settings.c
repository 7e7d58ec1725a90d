/* Per-slot settings: parsing, inheritance and the built-in values; see settings.h. */
#include "policies/settings.h"

#include "core/timefmt.h"
#include "core/tz.h"
#include "core/window.h"
#include "core/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const settings_keys[PF_NFIELDS + 1] = {
    "name_template", "lifetime", "rotate_before", "grace",  "jitter",
    "window",        "verify",   "deliver",       "paused", NULL,
};

#define DELIVER_TIMEOUT_DEFAULT 30

void
settings_builtin(struct policy_settings *s)
{
	memset(s, 0, sizeof *s);
	s->set = (1u << PF_NFIELDS) - 1;
	s->name_template = xstrdup("{slot}-{yyyymmddhhmm}");
	s->lifetime = 90 * 86400;
	s->rotate_before_pct = 20;
	s->grace = 86400;
	s->verify = 1;
}

int
settings_placeholders(const char *s, const char *const *allowed, const char **bad, size_t *badlen)
{
	const char *p = s;

	for (;;) {
		const char *open = strchr(p, '{');
		const char *stray = strchr(p, '}');
		const char *close;
		size_t i;

		if (stray != NULL && (open == NULL || stray < open)) {
			*bad = stray;
			*badlen = 1;
			return -1;
		}
		if (open == NULL)
			return 0;
		close = strchr(open, '}');
		if (close == NULL) {
			*bad = open;
			*badlen = strlen(open);
			return -1;
		}
		for (i = 0; allowed[i] != NULL; i++)
			if (strlen(allowed[i]) == (size_t)(close - open - 1) &&
			    strncmp(allowed[i], open + 1, (size_t)(close - open - 1)) == 0)
				break;
		if (allowed[i] == NULL) {
			*bad = open;
			*badlen = (size_t)(close - open + 1);
			return -1;
		}
		p = close + 1;
	}
}

static int
parse_template(struct loader *ld, const struct ynode *v, struct policy_settings *s)
{
	static const char *const allowed[] = {"slot", "workspace", "yyyymmddhhmm", "yyyymmdd",
					      NULL};
	const char *bad;
	size_t badlen;
	char *t = NULL;

	if (loader_string(ld, "name_template", v, &t) < 0)
		return -1;
	if (settings_placeholders(t, allowed, &bad, &badlen) < 0) {
		loader_error(ld, v,
			     "name_template: '%.*s' is not a placeholder; use {slot}, "
			     "{workspace}, {yyyymmddhhmm} or {yyyymmdd}",
			     (int)badlen, bad);
		goto fail;
	}
	if (strstr(t, "{yyyymmddhhmm}") == NULL) {
		loader_error(ld, v,
			     "name_template must contain {yyyymmddhhmm}, so that every "
			     "generation of a slot gets its own name");
		goto fail;
	}
	free(s->name_template);
	s->name_template = t;
	return 0;
fail:
	free(t);
	return -1;
}

static int
parse_rotate_before(struct loader *ld, const struct ynode *v, struct policy_settings *s)
{
	int pct;

	if (v->type == YNODE_SCALAR && strchr(v->value, '%') != NULL) {
		if (timefmt_percent(v->value, &pct) < 0) {
			loader_error(ld, v,
				     "rotate_before: '%s' is not a percentage of lifetime from 1%% "
				     "to 99%%",
				     v->value);
			return -1;
		}
		s->rotate_before_pct = pct;
		s->rotate_before = 0;
		return 0;
	}
	if (v->type == YNODE_SCALAR && strcmp(v->value, "0") == 0) {
		loader_error(ld, v,
			     "rotate_before must be more than 0: a token must be replaced "
			     "before it expires");
		return -1;
	}
	if (loader_duration(ld, "rotate_before", v, 0, &s->rotate_before) < 0)
		return -1;
	s->rotate_before_pct = 0;
	return 0;
}

static const char *const day_names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", NULL};

/* Parses one day name (mon, or monday) into 0..6; -1 after a message. */
static int
day(struct loader *ld, const struct ynode *v, const char *s, size_t len)
{
	static const char *const long_names[] = {"monday", "tuesday",  "wednesday", "thursday",
						 "friday", "saturday", "sunday"};
	char word[16];
	const char *near;

	while (len > 0 && *s == ' ') {
		s++;
		len--;
	}
	while (len > 0 && s[len - 1] == ' ')
		len--;
	if (len < sizeof word) {
		memcpy(word, s, len);
		word[len] = '\0';
		for (int i = 0; i < 7; i++)
			if (strcmp(word, day_names[i]) == 0 || strcmp(word, long_names[i]) == 0)
				return i;
		near = diag_suggest(word, day_names);
		if (near != NULL) {
			loader_error(ld, v, "window days: unknown day '%s'; did you mean '%s'?",
				     word, near);
			return -1;
		}
	}
	loader_error(ld, v,
		     "window days: unknown day '%.*s'; use mon, tue, wed, thu, fri, sat, sun",
		     (int)(len > 16 ? 16 : len), s);
	return -1;
}

/* Adds the days in one item ("mon", "mon-fri", "fri-mon") to *days. */
static int
day_item(struct loader *ld, const struct ynode *v, const char *s, unsigned *days)
{
	const char *dash = strchr(s, '-');
	int a, b;

	if (dash == NULL) {
		a = day(ld, v, s, strlen(s));
		if (a < 0)
			return -1;
		*days |= 1u << a;
		return 0;
	}
	a = day(ld, v, s, (size_t)(dash - s));
	b = a < 0 ? -1 : day(ld, v, dash + 1, strlen(dash + 1));
	if (b < 0)
		return -1;
	for (int i = a;; i = (i + 1) % 7) {
		*days |= 1u << i;
		if (i == b)
			break;
	}
	return 0;
}

static int
parse_days(struct loader *ld, const struct ynode *v, unsigned *days)
{
	int rc = 0;

	*days = 0;
	if (v->type == YNODE_SCALAR) {
		char *copy = xstrdup(v->value);
		char *p = copy;

		for (;;) {
			char *comma = strchr(p, ',');

			if (comma != NULL)
				*comma = '\0';
			while (*p == ' ')
				p++;
			if (day_item(ld, v, p, days) < 0)
				rc = -1;
			if (comma == NULL)
				break;
			p = comma + 1;
		}
		free(copy);
		return rc;
	}
	if (v->type != YNODE_SEQ) {
		loader_error(ld, v,
			     "window days must be a list of days such as [mon, tue] or "
			     "a range such as mon-fri");
		return -1;
	}
	for (size_t i = 0; i < v->n; i++) {
		if (v->items[i]->type != YNODE_SCALAR) {
			loader_error(ld, v->items[i],
				     "window days: a day must be a name such as mon");
			rc = -1;
		} else if (day_item(ld, v->items[i], v->items[i]->value, days) < 0)
			rc = -1;
	}
	return rc;
}

/* Parses HH or HH:MM into minutes after midnight (0..1440); -1 when malformed. */
static int
clock_time(const char *s, size_t len)
{
	int h, m = 0;

	if (len == 2 || len == 5) {
		if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
			return -1;
		h = (s[0] - '0') * 10 + (s[1] - '0');
		if (len == 5) {
			if (s[2] != ':' || s[3] < '0' || s[3] > '5' || s[4] < '0' || s[4] > '9')
				return -1;
			m = (s[3] - '0') * 10 + (s[4] - '0');
		}
		if (h < 24 || (h == 24 && m == 0))
			return h * 60 + m;
	}
	return -1;
}

static int
span(struct loader *ld, const struct ynode *v, struct policy_window *w)
{
	const char *s = v->value;
	const char *dash = strchr(s, '-');
	int a, b;

	a = dash == NULL ? -1 : clock_time(s, (size_t)(dash - s));
	b = dash == NULL ? -1 : clock_time(dash + 1, strlen(dash + 1));
	if (a < 0 || b < 0 || a == 1440) {
		loader_error(ld, v,
			     "window hours: '%s' is not a span such as 01:00-05:00 or 22-04 "
			     "(24-hour clock, end may be 24:00)",
			     s);
		return -1;
	}
	if (a == b) {
		loader_error(ld, v, "window hours: '%s' is empty, so the window never opens", s);
		return -1;
	}
	if (w->nspans == POLICY_MAX_SPANS) {
		loader_error(ld, v, "window hours: at most %d spans", POLICY_MAX_SPANS);
		return -1;
	}
	w->spans[w->nspans].start = a;
	w->spans[w->nspans].end = b;
	w->nspans++;
	return 0;
}

static int
parse_hours(struct loader *ld, const struct ynode *v, struct policy_window *w)
{
	int rc = 0;

	if (v->type == YNODE_SCALAR)
		return span(ld, v, w);
	if (v->type != YNODE_SEQ || v->n == 0) {
		loader_error(ld, v,
			     "window hours must be a span such as 01:00-05:00 or a list "
			     "of spans");
		return -1;
	}
	for (size_t i = 0; i < v->n; i++) {
		if (v->items[i]->type != YNODE_SCALAR) {
			loader_error(ld, v->items[i],
				     "window hours: a span must be text such as "
				     "01:00-05:00");
			rc = -1;
		} else if (span(ld, v->items[i], w) < 0)
			rc = -1;
	}
	return rc;
}

static void
window_free(struct policy_window *w)
{
	if (w == NULL)
		return;
	tz_free(w->tz);
	free(w);
}

static int
parse_window(struct loader *ld, const struct ynode *v, struct policy_settings *s)
{
	static const char *const keys[] = {"days", "hours", "timezone", NULL};
	struct policy_window *w;
	int rc = 0;

	if (loader_check_keys(ld, v, keys, "window") < 0)
		return -1;
	w = xcalloc(1, sizeof *w);
	w->line = v->line;
	w->col = v->col;
	w->days = 0x7f;
	for (size_t i = 0; i + 1 < v->n; i += 2) {
		const struct ynode *k = v->items[i], *val = v->items[i + 1];
		char *name = NULL, *cause = NULL;

		switch (loader_key_index(k, keys)) {
		case 0:
			if (parse_days(ld, val, &w->days) < 0)
				rc = -1;
			else if (w->days == 0) {
				loader_error(ld, val,
					     "window days is empty, so the window never opens");
				rc = -1;
			}
			break;
		case 1:
			if (parse_hours(ld, val, w) < 0)
				rc = -1;
			break;
		case 2:
			if (loader_string(ld, "timezone", val, &name) < 0) {
				rc = -1;
				break;
			}
			tz_free(w->tz);
			w->tz = NULL;
			if (loader_tz(ld, name, &w->tz, &cause) < 0) {
				loader_error(ld, val, "window timezone: %s", cause);
				rc = -1;
			}
			free(cause);
			free(name);
			break;
		default:
			rc = -1;
			break;
		}
	}
	if (w->nspans == 0) {
		w->spans[0].start = 0;
		w->spans[0].end = 1440;
		w->nspans = 1;
	}
	if (rc < 0) {
		window_free(w);
		return -1;
	}
	/* Once per window, not per slot: a defaults window may serve thousands. */
	w->longest_gap = window_longest_gap(w);
	window_free(s->window);
	s->window = w;
	return 0;
}

static void
deliver_clear(struct policy_deliver *d)
{
	free(d->path);
	free(d->owner);
	free(d->group);
	for (size_t i = 0; i < d->argc; i++)
		free(d->argv[i]);
	free(d->argv);
}

static const char *const target_placeholders[] = {"workspace", "slot", NULL};

/* Checks an absolute path or program that may hold {workspace} and {slot}. */
static int
target_text(struct loader *ld, const char *what, const struct ynode *v, char **out)
{
	const char *bad;
	size_t badlen;

	if (loader_string(ld, what, v, out) < 0)
		return -1;
	if ((*out)[0] != '/') {
		loader_error(ld, v, "%s '%s' must be an absolute path", what, *out);
		return -1;
	}
	if (settings_placeholders(*out, target_placeholders, &bad, &badlen) < 0) {
		loader_error(ld, v, "%s: '%.*s' is not a placeholder; use {workspace} or {slot}",
			     what, (int)badlen, bad);
		return -1;
	}
	return 0;
}

static int
deliver_exec(struct loader *ld, const struct ynode *v, struct policy_deliver *d)
{
	const char *bad;
	size_t badlen;
	int rc = 0;

	if (v->type != YNODE_SEQ || v->n == 0) {
		loader_error(ld, v,
			     "deliver exec must be a list [PROGRAM, ARG...]; it runs "
			     "without a shell");
		return -1;
	}
	d->argv = xcalloc(v->n + 1, sizeof *d->argv);
	for (size_t i = 0; i < v->n; i++) {
		const struct ynode *a = v->items[i];

		d->argc = i + 1;
		if (i == 0) {
			if (target_text(ld, "deliver exec program", a, &d->argv[0]) < 0)
				rc = -1;
			continue;
		}
		if (a->type != YNODE_SCALAR) {
			loader_error(ld, a, "deliver exec: an argument must be text, not %s",
				     ytree_type_name(a));
			rc = -1;
			continue;
		}
		/* Braces are reserved for placeholders, in arguments as in paths. */
		if (settings_placeholders(a->value, target_placeholders, &bad, &badlen) < 0) {
			loader_error(ld, a,
				     "deliver exec argument: '%.*s' is not a placeholder; use "
				     "{workspace} or {slot}",
				     (int)badlen, bad);
			rc = -1;
		}
		d->argv[i] = xstrdup(a->value);
	}
	return rc;
}

static int
deliver_item(struct loader *ld, const struct ynode *v, struct policy_deliver *d)
{
	static const char *const keys[] = {"file", "exec", "owner", "group", "timeout", NULL};
	const struct ynode *file = ytree_get(v, "file"), *exec = ytree_get(v, "exec");
	const struct ynode *at;
	const struct ynode *owner = ytree_get(v, "owner"), *group = ytree_get(v, "group");
	const struct ynode *timeout = ytree_get(v, "timeout");
	int rc = 0;

	d->line = v->line;
	d->col = v->col;
	if (loader_check_keys(ld, v, keys, "a deliver entry") < 0)
		return -1;
	if ((file == NULL) == (exec == NULL)) {
		loader_error(ld, v,
			     "a deliver entry needs exactly one of 'file: PATH' or "
			     "'exec: [PROGRAM, ARG...]'");
		return -1;
	}
	d->kind = file != NULL ? DELIVER_FILE : DELIVER_EXEC;
	d->timeout = DELIVER_TIMEOUT_DEFAULT;
	/* Messages about the consumer point at its path or program (exactly one is set). */
	at = file != NULL ? file : exec;
	/* cppcheck-suppress nullPointerRedundantCheck */
	d->line = at->line;
	/* cppcheck-suppress nullPointerRedundantCheck */
	d->col = at->col;
	if (file != NULL && target_text(ld, "deliver file", file, &d->path) < 0)
		rc = -1;
	if (exec != NULL && deliver_exec(ld, exec, d) < 0)
		rc = -1;
	if ((owner != NULL || group != NULL) && exec != NULL) {
		loader_error(ld, ytree_key(v, owner != NULL ? "owner" : "group"),
			     "owner and group apply to 'file' deliveries only");
		rc = -1;
	}
	if (timeout != NULL && file != NULL) {
		loader_error(ld, ytree_key(v, "timeout"),
			     "timeout applies to 'exec' deliveries only");
		rc = -1;
	}
	if (owner != NULL && loader_string(ld, "owner", owner, &d->owner) < 0)
		rc = -1;
	if (group != NULL && loader_string(ld, "group", group, &d->group) < 0)
		rc = -1;
	if (timeout != NULL && loader_duration(ld, "timeout", timeout, 0, &d->timeout) < 0)
		rc = -1;
	return rc;
}

static int
parse_deliver(struct loader *ld, const struct ynode *v, struct policy_settings *s)
{
	struct policy_deliver *list;
	int rc = 0;

	if (v->type != YNODE_SEQ) {
		loader_error(ld, v,
			     "deliver must be a list of consumers (- file: PATH, or - "
			     "exec: [PROGRAM, ARG...])");
		return -1;
	}
	list = xcalloc(v->n == 0 ? 1 : v->n, sizeof *list);
	for (size_t i = 0; i < v->n; i++)
		if (deliver_item(ld, v->items[i], &list[i]) < 0)
			rc = -1;
	if (rc < 0) {
		for (size_t i = 0; i < v->n; i++)
			deliver_clear(&list[i]);
		free(list);
		return -1;
	}
	for (size_t i = 0; i < s->ndeliver; i++)
		deliver_clear(&s->deliver[i]);
	free(s->deliver);
	s->deliver = list;
	s->ndeliver = v->n;
	return 0;
}

int
settings_parse(struct loader *ld, enum policy_field f, const struct ynode *k, const struct ynode *v,
	       struct policy_settings *s)
{
	int rc = -1;

	switch (f) {
	case PF_NAME_TEMPLATE:
		rc = parse_template(ld, v, s);
		break;
	case PF_LIFETIME:
		rc = loader_duration(ld, "lifetime", v, 0, &s->lifetime);
		if (rc == 0 && s->lifetime < 3600) {
			loader_error(ld, v, "lifetime must be at least 1h");
			rc = -1;
		}
		break;
	case PF_ROTATE_BEFORE:
		rc = parse_rotate_before(ld, v, s);
		break;
	case PF_GRACE:
		rc = loader_duration(ld, "grace", v, 1, &s->grace);
		break;
	case PF_JITTER:
		rc = loader_duration(ld, "jitter", v, 1, &s->jitter);
		break;
	case PF_WINDOW:
		rc = parse_window(ld, v, s);
		break;
	case PF_VERIFY:
		rc = loader_bool(ld, "verify", v, &s->verify);
		break;
	case PF_DELIVER:
		rc = parse_deliver(ld, v, s);
		break;
	case PF_PAUSED:
		rc = loader_bool(ld, "paused", v, &s->paused);
		break;
	case PF_NFIELDS:
		break;
	}
	if (rc == 0) {
		s->set |= 1u << f;
		s->line[f] = k->line;
		s->col[f] = k->col;
	} else
		s->bad |= 1u << f;
	return rc;
}

static void
take(struct policy_slot *slot, const struct policy_settings *from, enum policy_level level)
{
	struct policy_settings *e = &slot->eff;

	for (int f = 0; f < PF_NFIELDS; f++) {
		if ((from->set & (1u << f)) == 0)
			continue;
		slot->from[f] = level;
		e->line[f] = from->line[f];
		e->col[f] = from->col[f];
		switch ((enum policy_field)f) {
		case PF_NAME_TEMPLATE:
			e->name_template = from->name_template;
			break;
		case PF_LIFETIME:
			e->lifetime = from->lifetime;
			break;
		case PF_ROTATE_BEFORE:
			e->rotate_before = from->rotate_before;
			e->rotate_before_pct = from->rotate_before_pct;
			break;
		case PF_GRACE:
			e->grace = from->grace;
			break;
		case PF_JITTER:
			e->jitter = from->jitter;
			break;
		case PF_WINDOW:
			e->window = from->window;
			break;
		case PF_VERIFY:
			e->verify = from->verify;
			break;
		case PF_DELIVER:
			e->deliver = from->deliver;
			e->ndeliver = from->ndeliver;
			break;
		case PF_PAUSED:
			e->paused = from->paused;
			break;
		case PF_NFIELDS:
			break;
		}
	}
	e->set |= from->set;
}

void
settings_merge(struct policy_slot *slot, const struct policy_settings *builtin,
	       const struct policy_settings *defaults, const struct policy_settings *ws)
{
	memset(&slot->eff, 0, sizeof slot->eff);
	take(slot, builtin, PL_BUILTIN);
	take(slot, defaults, PL_DEFAULTS);
	take(slot, ws, PL_WORKSPACE);
	take(slot, &slot->own, PL_TOKEN);
}

void
settings_free(struct policy_settings *s)
{
	free(s->name_template);
	window_free(s->window);
	for (size_t i = 0; i < s->ndeliver; i++)
		deliver_clear(&s->deliver[i]);
	free(s->deliver);
	memset(s, 0, sizeof *s);
}
