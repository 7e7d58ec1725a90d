/*
 * Unit tests for policies/: the YAML tree's limits, inheritance of settings
 * and where each effective value comes from, and the messages that need
 * more than a fixture to check (positions, suggestions, all errors at once).
 * The wide range of invalid files lives in tests/policies/ as data.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/tz.h"
#include "core/xalloc.h"
#include "policies/diag.h"
#include "policies/policy.h"
#include "policies/ytree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct policy *
load(const char *yaml, struct diag_list *d)
{
	struct policy *p = NULL;

	policy_load_buffer("t.yaml", yaml, strlen(yaml), NULL, &p, d);
	return p;
}

/* Returns 1 when some diagnostic at line:col contains text. */
static int
has(const struct diag_list *d, int line, int col, const char *text)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].line == line && (col == 0 || d->v[i].col == col) &&
		    strstr(d->v[i].msg, text) != NULL)
			return 1;
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "  have %d:%d %s\n", d->v[i].line, d->v[i].col, d->v[i].msg);
	return 0;
}

static const char inherit[] =
    "version: 1\n"
    "defaults: { lifetime: 60d, rotate_before: 25%, grace: 12h, jitter: 1h }\n"
    "workspaces:\n"
    "  - name: acme\n"
    "    credential: acme-admin\n"
    "    grace: 6h\n"
    "    verify: false\n"
    "    tokens:\n"
    "      - name: etl\n"
    "        lifetime: 30d\n"
    "      - name: bi\n"
    "        rotate_before: 5d\n"
    "        verify: true\n"
    "  - name: beta\n"
    "    credential: beta-admin\n"
    "    tokens:\n"
    "      - name: etl\n";

static void
test_inheritance(void **state)
{
	struct diag_list d;
	struct policy *p = load(inherit, &d);
	const struct policy_slot *etl, *bi, *beta;

	(void)state;
	assert_non_null(p);
	assert_int_equal(d.n, 0);
	assert_int_equal(p->nslots, 3);
	etl = policy_find_slot(p, "acme", "etl");
	bi = policy_find_slot(p, "acme", "bi");
	beta = policy_find_slot(p, "beta", "etl");
	assert_non_null(etl);
	assert_non_null(bi);
	assert_non_null(beta);
	assert_null(policy_find_slot(p, "acme", "nope"));
	assert_null(policy_find_slot(p, "gamma", "etl"));

	/* token beats workspace beats defaults beats built-in */
	assert_int_equal(etl->eff.lifetime, 30 * 86400);
	assert_int_equal(etl->from[PF_LIFETIME], PL_TOKEN);
	assert_int_equal(etl->eff.line[PF_LIFETIME], 10);
	assert_int_equal(etl->eff.grace, 6 * 3600);
	assert_int_equal(etl->from[PF_GRACE], PL_WORKSPACE);
	assert_int_equal(etl->eff.jitter, 3600);
	assert_int_equal(etl->from[PF_JITTER], PL_DEFAULTS);
	assert_int_equal(etl->eff.line[PF_JITTER], 2);
	assert_int_equal(etl->eff.rotate_before_pct, 25);
	assert_int_equal(policy_rotate_before(&etl->eff), 30 * 86400 / 4);
	assert_string_equal(etl->eff.name_template, "{slot}-{yyyymmddhhmm}");
	assert_int_equal(etl->from[PF_NAME_TEMPLATE], PL_BUILTIN);
	assert_int_equal(etl->eff.verify, 0);
	assert_int_equal(etl->from[PF_VERIFY], PL_WORKSPACE);

	/* a duration replaces an inherited percentage, and a token's verify the workspace's */
	assert_int_equal(bi->eff.rotate_before_pct, 0);
	assert_int_equal(policy_rotate_before(&bi->eff), 5 * 86400);
	assert_int_equal(bi->eff.lifetime, 60 * 86400);
	assert_int_equal(bi->eff.verify, 1);
	assert_int_equal(bi->from[PF_VERIFY], PL_TOKEN);

	/* the other workspace inherits nothing from acme */
	assert_int_equal(beta->eff.grace, 12 * 3600);
	assert_int_equal(beta->from[PF_GRACE], PL_DEFAULTS);
	assert_int_equal(beta->eff.verify, 1);
	assert_int_equal(beta->from[PF_VERIFY], PL_BUILTIN);
	assert_string_equal(beta->ws->credential, "beta-admin");
	assert_string_equal(beta->ws->api, "https://app.mode.com");
	assert_int_equal(beta->ws->rate_requests, 40);
	assert_int_equal(beta->ws->rate_window, 10);

	/* the index is sorted by workspace, then slot */
	assert_string_equal(p->slots[0]->name, "bi");
	assert_string_equal(p->slots[1]->name, "etl");
	assert_string_equal(p->slots[2]->ws->name, "beta");
	policy_free(p);
	diag_free(&d);
}

static void
test_builtin_values(void **state)
{
	struct diag_list d;
	struct policy *p = load("version: 1\nworkspaces:\n  - name: a\n    credential: c\n"
				"    tokens: [ { name: s } ]\n",
				&d);
	const struct policy_slot *s;

	(void)state;
	assert_non_null(p);
	s = p->slots[0];
	assert_int_equal(s->eff.lifetime, 90 * 86400);
	assert_int_equal(s->eff.rotate_before_pct, 20);
	assert_int_equal(s->eff.grace, 86400);
	assert_int_equal(s->eff.jitter, 0);
	assert_null(s->eff.window);
	assert_int_equal(s->eff.verify, 1);
	assert_int_equal(s->eff.paused, 0);
	assert_int_equal(s->eff.ndeliver, 0);
	for (int f = 0; f < PF_NFIELDS; f++)
		assert_int_equal(s->from[f], PL_BUILTIN);
	assert_int_equal(p->enforce.unmanaged, RULE_REPORT);
	assert_int_equal(p->schedule.interval, 86400);
	assert_int_equal(p->schedule.capacity_days, 14);
	policy_free(p);
	diag_free(&d);
}

static void
test_render_name(void **state)
{
	struct diag_list d;
	struct policy *p =
	    load("version: 1\nworkspaces:\n  - name: acme\n    credential: c\n"
		 "    tokens:\n"
		 "      - name: etl\n"
		 "      - name: bi\n"
		 "        name_template: tw-{workspace}-{slot}-{yyyymmdd}-{yyyymmddhhmm}\n",
		 &d);
	char *cause = NULL, *name;

	(void)state;
	assert_non_null(p);
	/* 2026-11-25T02:07:59Z */
	name = policy_render_name(policy_find_slot(p, "acme", "etl"), 1795572479000LL, &cause);
	assert_string_equal(name, "etl-202611250207");
	free(name);
	name = policy_render_name(policy_find_slot(p, "acme", "bi"), 1795572479000LL, &cause);
	assert_string_equal(name, "tw-acme-bi-20261125-202611250207");
	free(name);
	policy_free(p);
	diag_free(&d);
}

static void
test_all_errors_in_one_pass(void **state)
{
	struct diag_list d;
	struct policy *p = load("version: 1\n"
				"defaults: { lifetime: 30dd, rotate_befor: 20% }\n"
				"workspaces:\n"
				"  - name: Acme\n"
				"    credential: acme-admin\n"
				"    tokens:\n"
				"      - name: etl\n"
				"        verify: yes\n"
				"      - name: etl\n"
				"  - name: b\n"
				"    credential: b\n"
				"    tokens:\n"
				"      - name: x\n"
				"        rotate_before: 40d\n"
				"        lifetime: 30d\n",
				&d);

	(void)state;
	assert_null(p);
	assert_true(has(&d, 2, 23, "'30dd' is not a duration"));
	assert_true(has(&d, 2, 29,
			"unknown key 'rotate_befor' in defaults; did you mean "
			"'rotate_before'?"));
	assert_true(has(&d, 4, 11, "workspace name"));
	assert_true(has(&d, 8, 17, "verify must be true or false"));
	assert_true(has(&d, 9, 9, "two tokens named 'etl'"));
	assert_int_equal(d.nerrors, 5);
	/* sorted by place */
	for (size_t i = 1; i < d.n; i++)
		assert_true(d.v[i - 1].line < d.v[i].line ||
			    (d.v[i - 1].line == d.v[i].line && d.v[i - 1].col <= d.v[i].col));
	diag_free(&d);

	/* Cross-checks run for the slots whose own values loaded. */
	p = load("version: 1\n"
		 "workspaces:\n"
		 "  - name: b\n"
		 "    credential: b\n"
		 "    tokens:\n"
		 "      - name: x\n"
		 "        rotate_before: 40d\n"
		 "        lifetime: 30d\n"
		 "      - name: y\n"
		 "        lifetime: 3\n",
		 &d);
	assert_null(p);
	assert_true(has(&d, 6, 15,
			"rotate_before 40d (token, line 7) is not shorter than "
			"lifetime 30d (token, line 8)"));
	assert_true(has(&d, 10, 19, "'3' is not a duration"));
	assert_int_equal(d.nerrors, 2);
	diag_free(&d);
}

static void
test_secrets_never_echoed(void **state)
{
	static const char *const cases[] = {
	    "version: 1\nworkspaces:\n  - name: a\n    credential: KEYID:S3cr3tVALUE\n",
	    "version: 1\nworkspaces:\n  - name: a\n    credential: c\n    access_secret: "
	    "S3cr3tVALUE\n",
	    "version: 1\nworkspaces:\n  - name: a\n    credential: c\n"
	    "notify: [ { webhook: 'http://hooks.example.com/S3cr3tVALUE' } ]\n",
	    "version: 1\nworkspaces:\n  - name: a\n    credential: { name: 'S3cr3tVALUE/x' }\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct diag_list d;

		assert_null(load(cases[i], &d));
		assert_true(d.nerrors >= 1);
		for (size_t j = 0; j < d.n; j++) {
			char *line = diag_format(&d, j);

			if (strstr(line, "S3cr3tVALUE") != NULL)
				fail_msg("case %zu echoes the secret: %s", i, line);
			free(line);
		}
		diag_free(&d);
	}
}

static void
test_suggest(void **state)
{
	static const char *const keys[] = {"lifetime", "rotate_before", "grace", "jitter", NULL};

	(void)state;
	assert_string_equal(diag_suggest("rotate_befor", keys), "rotate_before");
	assert_string_equal(diag_suggest("lifetiem", keys), "lifetime"); /* a swap */
	assert_string_equal(diag_suggest("grase", keys), "grace");
	assert_string_equal(diag_suggest("Jitter", keys), "jitter");
	assert_null(diag_suggest("colour", keys));
	assert_null(diag_suggest("x", keys));
}

/* A slot is WORKSPACE/SLOT or a bare name one workspace has; a miss names the nearest. */
static void
test_resolve_slot(void **state)
{
	struct diag_list d;
	struct policy *p = load(inherit, &d);
	const struct policy_slot *sl;
	char *cause = NULL;

	(void)state;
	assert_non_null(p);
	sl = policy_resolve_slot(p, "acme/bi", &cause);
	assert_non_null(sl);
	assert_string_equal(sl->ws->name, "acme");
	sl = policy_resolve_slot(p, "bi", &cause);
	assert_non_null(sl);
	assert_string_equal(sl->name, "bi");
	assert_null(policy_resolve_slot(p, "etl", &cause));
	assert_string_equal(cause, "'etl' names a slot in 2 workspaces (acme/etl, beta/etl): say "
				   "which, as WORKSPACE/SLOT");
	FREE_NULL(&cause);
	assert_null(policy_resolve_slot(p, "acme/etll", &cause));
	assert_string_equal(cause, "'acme/etll': workspace 'acme' has no slot 'etll'; did you mean "
				   "'acme/etl'?");
	FREE_NULL(&cause);
	assert_null(policy_resolve_slot(p, "beta/bi", &cause));
	assert_string_equal(cause, "'beta/bi': workspace 'beta' has no slot 'bi'");
	FREE_NULL(&cause);
	assert_null(policy_resolve_slot(p, "gamma/etl", &cause));
	assert_string_equal(cause, "'gamma/etl': no workspace 'gamma' in the policy");
	FREE_NULL(&cause);
	policy_free(p);
	diag_free(&d);
}

static int
parse(const char *s, struct ytree *t, int *line, int *col, char **cause)
{
	return ytree_parse(s, strlen(s), t, line, col, cause);
}

/*
 * A UTF-8 byte-order mark before the document (as Windows editors write
 * one) is allowed, as YAML allows it; in the middle of a value it is text.
 */
static void
test_ytree_byte_order_mark(void **state)
{
	struct ytree t;
	char *cause = NULL;
	int line = 0, col = 0;
	const struct ynode *v;

	(void)state;
	if (parse("\xef\xbb\xbfversion: 1\nname: a\xef\xbb\xbf\n", &t, &line, &col, &cause) != 0)
		fail_msg("%d:%d: %s", line, col, cause);
	assert_int_equal(t.root->type, YNODE_MAP);
	v = ytree_get(t.root, "version");
	assert_non_null(v);
	assert_string_equal(v->value, "1");
	assert_int_equal(v->line, 1);
	v = ytree_get(t.root, "name");
	assert_non_null(v);
	assert_string_equal(v->value, "a\xef\xbb\xbf");
	ytree_free(&t);
}

/*
 * Texts of every length from 1 to 300 (past the quarter block from which
 * a piece gets a block of its own) packed between nodes and item lists:
 * each comes back whole, each node and list aligned for what it holds,
 * with its line and column.
 */
static void
test_ytree_packs_texts_and_nodes(void **state)
{
	struct ytree t;
	char *doc = xmalloc(310 * 320), *cause = NULL;
	size_t n = 0;
	int line = 0, col = 0;

	(void)state;
	for (int i = 1; i <= 300; i++) {
		n += (size_t)sprintf(doc + n, "- {k%d: ", i);
		memset(doc + n, 'a' + i % 26, (size_t)i);
		n += (size_t)i;
		n += (size_t)sprintf(doc + n, ", q: [x]}\n");
	}
	assert_int_equal(ytree_parse(doc, n, &t, &line, &col, &cause), 0);
	assert_non_null(t.root);
	assert_int_equal(t.root->type, YNODE_SEQ);
	assert_int_equal(t.root->n, 300);
	for (size_t i = 0; i < t.root->n; i++) {
		const struct ynode *m = t.root->items[i], *v;
		char key[32];

		assert_int_equal((uintptr_t)m % _Alignof(struct ynode), 0);
		assert_int_equal((uintptr_t)m->items % _Alignof(struct ynode *), 0);
		assert_int_equal(m->type, YNODE_MAP);
		assert_int_equal(m->line, (int)i + 1);
		assert_int_equal(m->col, 3);
		snprintf(key, sizeof key, "k%zu", i + 1);
		v = ytree_get(m, key);
		assert_non_null(v);
		assert_int_equal(strlen(v->value), i + 1);
		for (size_t c = 0; c <= i; c++)
			assert_int_equal(v->value[c], 'a' + (int)(i + 1) % 26);
		assert_int_equal(v->plain, 1);
		v = ytree_get(m, "q");
		assert_non_null(v);
		assert_int_equal(v->n, 1);
		assert_string_equal(v->items[0]->value, "x");
	}
	ytree_free(&t);
	assert_null(t.root);
	free(doc);
}

static void
test_ytree_limits(void **state)
{
	struct ytree t;
	char *cause = NULL, *deep;
	size_t n = 0;
	int line = 0, col = 0;

	(void)state;
	/* Aliases are refused, so a "billion laughs" file cannot blow up. */
	assert_int_equal(parse("a: &x [1, 2]\nb: *x\n", &t, &line, &col, &cause), -1);
	assert_non_null(strstr(cause, "aliases"));
	assert_int_equal(line, 2);
	assert_int_equal(col, 4);
	FREE_NULL(&cause);
	assert_int_equal(parse("a: 1\n---\nb: 2\n", &t, &line, &col, &cause), -1);
	assert_non_null(strstr(cause, "more than one YAML document"));
	FREE_NULL(&cause);
	assert_int_equal(parse("a: !!binary aGVsbG8=\n", &t, &line, &col, &cause), -1);
	assert_non_null(strstr(cause, "tags"));
	FREE_NULL(&cause);
	/* Nesting deeper than the limit. */
	deep = xmalloc(2 * (YTREE_MAX_DEPTH + 2) + 1);
	for (int i = 0; i < YTREE_MAX_DEPTH + 2; i++)
		deep[n++] = '[';
	for (int i = 0; i < YTREE_MAX_DEPTH + 2; i++)
		deep[n++] = ']';
	assert_int_equal(ytree_parse(deep, n, &t, &line, &col, &cause), -1);
	assert_non_null(strstr(cause, "nested deeper"));
	FREE_NULL(&cause);
	free(deep);
	/* More values than the limit. */
	deep = xmalloc(2 * (YTREE_MAX_NODES + 1) + 3);
	n = 0;
	deep[n++] = '[';
	for (int i = 0; i <= YTREE_MAX_NODES; i++) {
		deep[n++] = '1';
		deep[n++] = ',';
	}
	deep[n - 1] = ']';
	assert_int_equal(ytree_parse(deep, n, &t, &line, &col, &cause), -1);
	assert_non_null(strstr(cause, "more than"));
	FREE_NULL(&cause);
	free(deep);
	/* A syntax error names its place. */
	assert_int_equal(parse("a: [1, 2\nb: 3\n", &t, &line, &col, &cause), -1);
	assert_non_null(strstr(cause, "YAML syntax"));
	FREE_NULL(&cause);
	/* An empty stream is no tree, and no error. */
	assert_int_equal(parse("", &t, &line, &col, &cause), 0);
	assert_null(t.root);
	ytree_free(&t);
	assert_int_equal(parse("# only a comment\n", &t, &line, &col, &cause), 0);
	assert_null(t.root);
	ytree_free(&t);
}

static void
test_window_parse(void **state)
{
	struct diag_list d;
	struct policy *p =
	    load("version: 1\n"
		 "workspaces:\n"
		 "  - name: a\n"
		 "    credential: c\n"
		 "    tokens:\n"
		 "      - name: s\n"
		 "        window: { days: 'fri-mon, wed', hours: ['22:00-02:00', 12-13], "
		 "timezone: Europe/Berlin }\n",
		 &d);
	const struct policy_window *w;

	(void)state;
	assert_non_null(p);
	w = p->slots[0]->eff.window;
	assert_non_null(w);
	/* bit 0 Monday: fri, sat, sun, mon and wed */
	assert_int_equal(w->days, (1u << 4) | (1u << 5) | (1u << 6) | (1u << 0) | (1u << 2));
	assert_int_equal(w->nspans, 2);
	assert_int_equal(w->spans[0].start, 22 * 60);
	assert_int_equal(w->spans[0].end, 2 * 60);
	assert_int_equal(w->spans[1].start, 12 * 60);
	assert_int_equal(w->spans[1].end, 13 * 60);
	assert_non_null(w->tz);
	policy_free(p);
	diag_free(&d);
}

/* Windows naming one zone share it, read once per load; each zone stays its own. */
static void
test_zones_shared(void **state)
{
	struct diag_list d;
	struct policy *p = load("version: 1\n"
				"defaults: { window: { hours: 01-05, timezone: Europe/Berlin } }\n"
				"workspaces:\n"
				"  - name: a\n"
				"    credential: c\n"
				"    tokens:\n"
				"      - name: s1\n"
				"      - name: s2\n"
				"        window: { hours: 02-06, timezone: Europe/Berlin }\n"
				"      - name: s3\n"
				"        window: { hours: 02-06, timezone: Asia/Tokyo }\n"
				"      - name: s4\n"
				"        window: { hours: 03-07, timezone: Asia/Tokyo }\n",
				&d);
	const struct tz *berlin, *tokyo;

	(void)state;
	assert_non_null(p);
	assert_int_equal(p->nslots, 4);
	berlin = p->slots[0]->eff.window->tz;
	tokyo = p->slots[2]->eff.window->tz;
	assert_string_equal(tz_name(berlin), "Europe/Berlin");
	assert_string_equal(tz_name(tokyo), "Asia/Tokyo");
	assert_ptr_equal(p->slots[1]->eff.window->tz, berlin);
	assert_ptr_equal(p->slots[3]->eff.window->tz, tokyo);
	assert_ptr_not_equal(p->slots[1]->eff.window, p->slots[0]->eff.window);
	/* Each window's own longest gap, though they share a zone. */
	assert_int_equal(p->slots[0]->eff.window->longest_gap, 20 * 3600);
	assert_int_equal(p->slots[3]->eff.window->longest_gap, 20 * 3600);
	policy_free(p);
	diag_free(&d);
	/* A bad zone is reported wherever it is written, not only the first time. */
	p = load("version: 1\n"
		 "workspaces:\n"
		 "  - name: a\n"
		 "    credential: c\n"
		 "    tokens:\n"
		 "      - name: s1\n"
		 "        window: { timezone: Europe/Berln }\n"
		 "      - name: s2\n"
		 "        window: { timezone: Europe/Berln }\n",
		 &d);
	assert_null(p);
	assert_true(has(&d, 7, 29, "window timezone"));
	assert_true(has(&d, 9, 29, "window timezone"));
	assert_int_equal(d.nerrors, 2);
	diag_free(&d);
}

/* Appends printf-style text to a growing buffer. */
static void put(char **buf, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
put(char **buf, size_t *len, const char *fmt, ...)
{
	va_list ap;
	char *more;

	va_start(ap, fmt);
	more = xvasprintf(fmt, ap);
	va_end(ap);
	*buf = xrealloc(*buf, *len + strlen(more) + 1);
	memcpy(*buf + *len, more, strlen(more) + 1);
	*len += strlen(more);
	free(more);
}

/*
 * A policy of thousands of slots loads whole, with every value where it
 * was written, and a duplicate among them is still found at its own line.
 */
static void
test_large_policy(void **state)
{
	enum { NWS = 4, NTOK = 1500 };
	char *yaml = NULL;
	size_t len = 0;
	int line = 3, dup_line = 0, first_line = 0;
	char want[128];
	struct diag_list d;
	struct policy *p;
	const struct policy_slot *s;

	(void)state;
	put(&yaml, &len, "version: 1\nworkspaces:\n");
	for (int w = 0; w < NWS; w++) {
		put(&yaml, &len, "  - name: ws%d\n    credential: cred%d\n    tokens:\n", w, w);
		line += 3;
		for (int t = 0; t < NTOK; t++) {
			put(&yaml, &len,
			    "      - name: slot-%04d\n"
			    "        lifetime: %dd\n"
			    "        deliver:\n"
			    "          - exec: [/usr/local/bin/hook, \"{slot}\", \"%d\"]\n",
			    t, 20 + t % 40, t);
			if (w == NWS - 1 && t == 17)
				first_line = line;
			line += 4;
		}
	}
	assert_int_equal(policy_load_buffer("t.yaml", yaml, len, NULL, &p, &d), 0);
	assert_int_equal(p->nslots, NWS * NTOK);
	s = policy_find_slot(p, "ws3", "slot-1234");
	assert_non_null(s);
	assert_int_equal(s->eff.lifetime, (20 + 1234 % 40) * 86400);
	assert_int_equal(s->line, 3 + 3 * 4 + 4 * NTOK * 3 + 4 * 1234);
	assert_int_equal(s->eff.ndeliver, 1);
	assert_int_equal(s->eff.deliver[0].argc, 3);
	assert_string_equal(s->eff.deliver[0].argv[0], "/usr/local/bin/hook");
	assert_string_equal(s->eff.deliver[0].argv[1], "{slot}");
	assert_string_equal(s->eff.deliver[0].argv[2], "1234");
	policy_free(p);
	diag_free(&d);
	/* The last workspace's slot-0017 written again, at the end. */
	put(&yaml, &len, "      - name: slot-0017\n        lifetime: 30d\n");
	dup_line = line;
	assert_int_equal(policy_load_buffer("t.yaml", yaml, len, NULL, &p, &d), -1);
	assert_null(p);
	assert_int_equal(d.nerrors, 1);
	snprintf(want, sizeof want,
		 "two tokens named 'slot-0017' in workspace 'ws3' (the first at line %d)",
		 first_line);
	assert_true(has(&d, dup_line, 9, want));
	diag_free(&d);
	free(yaml);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_inheritance),
	    cmocka_unit_test(test_builtin_values),
	    cmocka_unit_test(test_render_name),
	    cmocka_unit_test(test_all_errors_in_one_pass),
	    cmocka_unit_test(test_secrets_never_echoed),
	    cmocka_unit_test(test_suggest),
	    cmocka_unit_test(test_resolve_slot),
	    cmocka_unit_test(test_ytree_limits),
	    cmocka_unit_test(test_ytree_packs_texts_and_nodes),
	    cmocka_unit_test(test_ytree_byte_order_mark),
	    cmocka_unit_test(test_window_parse),
	    cmocka_unit_test(test_zones_shared),
	    cmocka_unit_test(test_large_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
