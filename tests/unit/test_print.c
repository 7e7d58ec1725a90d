/*
 * cmd/print.c's listing of inventory rows, written a row at a time: for
 * random rows of hostile text, the JSON is the bytes jansson dumps of the
 * same array (JSON_INDENT(2), the layout of print_row), holding each row's
 * values made safe; the table's columns line up on the widest cell.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cmd/print.h"
#include "core/jsonx.h"
#include "core/timefmt.h"
#include "core/xalloc.h"
#include "store/tokens.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CASES 300
#define MAX_ROWS 12

/* Stored text as an editor or an old version may have left it. */
static char texts[][80] = {
    "acme",
    "etl-discovery",
    "",
    "with space",
    "quote\" and back\\slash",
    "tab\there",
    "line\nbreak",
    "del\x7f",
    "c1 \xc2\x85 control",
    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91",
    "bad \xff byte",
    "cut \xe2\x82",
    "overlong \xc0\xaf",
    "a-name-long-enough-to-widen-its-column-more-than-any-other-0123456789",
};
#define NTEXTS (sizeof texts / sizeof texts[0])

/* A text of the pool, or (maybe_null) now and then NULL. */
static char *
pick(unsigned *seed, int maybe_null)
{
	size_t i = (size_t)rand_r(seed) % (NTEXTS + 1);

	if (i == NTEXTS)
		return maybe_null ? NULL : texts[0];
	return texts[i];
}

static int64_t
pick_time(unsigned *seed, int maybe_zero)
{
	if (maybe_zero && rand_r(seed) % 3 == 0)
		return 0;
	return (int64_t)(rand_r(seed) % 2000000) * 1000000 + rand_r(seed) % 1000;
}

static void
random_rows(unsigned *seed, struct token_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct token_row *r = &rows[i];

		memset(r, 0, sizeof *r);
		r->row = (int64_t)i + 1;
		r->workspace = pick(seed, 0);
		r->slot = pick(seed, 1);
		r->token = pick(seed, 1);
		r->name = pick(seed, 0);
		r->state = (enum token_state)(rand_r(seed) % TOKEN_NSTATES);
		r->has_secret = rand_r(seed) % 2;
		r->origin = pick(seed, 1);
		r->requested_at = pick_time(seed, 0);
		r->created_at = pick_time(seed, 1);
		r->expires_at = pick_time(seed, 0);
		r->updated_at = pick_time(seed, 0);
		r->retire_after = pick_time(seed, 1);
	}
}

/* The rows as a listing prints them: measured first for a table, then put. */
static char *
listing(const struct token_row *rows, size_t n, int json)
{
	struct rows_out p;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	print_rows_init(&p, f, json);
	for (size_t i = 0; i < n && !json; i++)
		assert_int_equal(print_rows_measure(&rows[i], &p), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(print_rows_put(&rows[i], &p), 0);
	print_rows_end(&p);
	assert_false(ferror(f));
	fclose(f);
	return text;
}

/* s made safe as the listing shows it ("-" in a table, null in JSON, for NULL). */
static char *
shown(const char *s, const char *absent)
{
	return s != NULL ? print_clean(s, NULL) : absent != NULL ? xstrdup(absent) : NULL;
}

static void
assert_text_member(const json_t *o, const char *key, const char *stored)
{
	const json_t *v = json_object_get(o, key);
	char *want = shown(stored, NULL);

	assert_non_null(v);
	if (want == NULL) {
		assert_true(json_is_null(v));
		return;
	}
	assert_true(json_is_string(v));
	assert_string_equal(json_string_value(v), want);
	free(want);
}

static void
assert_time_member(const json_t *o, const char *key, int64_t ms, int or_null)
{
	const json_t *v = json_object_get(o, key);
	char want[TIMEFMT_MAX];

	assert_non_null(v);
	if (or_null && ms == 0) {
		assert_true(json_is_null(v));
		return;
	}
	timefmt_mode(ms, want);
	assert_string_equal(json_string_value(v), want);
}

static void
check_json(const struct token_row *rows, size_t n)
{
	char *text = listing(rows, n, 1), *again, *want;
	json_error_t err;
	json_t *a = json_loads(text, 0, &err);

	assert_non_null(a);
	assert_true(json_is_array(a));
	assert_int_equal(json_array_size(a), n);
	/* jansson lays the same value out in the same bytes: the listing is its layout. */
	again = json_dumps(a, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	want = xasprintf("%s\n", again);
	assert_string_equal(text, want);
	for (size_t i = 0; i < n; i++) {
		const struct token_row *r = &rows[i];
		const json_t *o = json_array_get(a, i);

		assert_int_equal(json_object_size(o), 12);
		assert_text_member(o, "workspace", r->workspace);
		assert_text_member(o, "slot", r->slot);
		assert_text_member(o, "token", r->token);
		assert_text_member(o, "name", r->name);
		assert_string_equal(json_string_value(json_object_get(o, "state")),
				    tokens_state_name(r->state));
		assert_text_member(o, "origin", r->origin);
		assert_time_member(o, "requested_at", r->requested_at, 0);
		assert_time_member(o, "created_at", r->created_at, 1);
		assert_time_member(o, "expires_at", r->expires_at, 0);
		assert_time_member(o, "updated_at", r->updated_at, 0);
		assert_time_member(o, "retire_after", r->retire_after, 1);
		assert_true(json_is_boolean(json_object_get(o, "has_secret")));
		assert_int_equal(json_is_true(json_object_get(o, "has_secret")), r->has_secret);
	}
	jsonx_free(again);
	free(want);
	json_decref(a);
	free(text);
}

/* The table this test expects: each cell padded to its column's widest and two spaces. */
static char *
expected_table(const struct token_row *rows, size_t n)
{
	static const char *const heads[7] = {"WORKSPACE", "SLOT",    "TOKEN", "NAME",
					     "STATE",     "EXPIRES", "SECRET"};
	size_t cells = (n + 1) * 7, col[7] = {0}, len = 0;
	char **cell = xcalloc(cells, sizeof *cell), *out = NULL;
	size_t *width = xcalloc(cells, sizeof *width);
	FILE *f = open_memstream(&out, &len);

	for (size_t c = 0; c < 7; c++)
		cell[c] = print_clean(heads[c], &width[c]);
	for (size_t i = 0; i < n; i++) {
		const struct token_row *r = &rows[i];
		char when[TIMEFMT_MAX];
		const char *v[7] = {r->workspace,
				    r->slot,
				    r->token,
				    r->name,
				    tokens_state_name(r->state),
				    when,
				    r->has_secret ? "sealed" : NULL};

		timefmt_mode(r->expires_at, when);
		for (size_t c = 0; c < 7; c++)
			cell[(i + 1) * 7 + c] =
			    print_clean(v[c] != NULL ? v[c] : "-", &width[(i + 1) * 7 + c]);
	}
	for (size_t k = 0; k < cells; k++)
		col[k % 7] = width[k] > col[k % 7] ? width[k] : col[k % 7];
	for (size_t k = 0; k < cells; k++) {
		fputs(cell[k], f);
		if (k % 7 == 6)
			fputc('\n', f);
		else
			fprintf(f, "%*s", (int)(col[k % 7] - width[k] + 2), "");
		free(cell[k]);
	}
	fclose(f);
	free(cell);
	free(width);
	return out;
}

static void
check_table(const struct token_row *rows, size_t n)
{
	char *text = listing(rows, n, 0), *want = expected_table(rows, n);

	assert_string_equal(text, want);
	free(text);
	free(want);
}

static void
test_random_listings(void **state)
{
	struct token_row rows[MAX_ROWS];

	(void)state;
	for (unsigned c = 1; c <= CASES; c++) {
		size_t n = c % (MAX_ROWS + 1);
		unsigned seed = c;

		random_rows(&seed, rows, n);
		check_json(rows, n);
		check_table(rows, n);
	}
}

/*
 * What print_clean turns into '?', a byte at a time: control characters
 * (C0, DEL, C1), bidirectional controls, which reorder what a terminal
 * shows after them, and invalid UTF-8; what it keeps, with its width.
 */
static void
test_clean(void **state)
{
	static const struct {
		const char *in, *out;
		size_t width;
	} cases[] = {
	    {"plain", "plain", 5},
	    {"caf\xc3\xa9", "caf\xc3\xa9", 4},
	    {"esc\x1b[31m", "esc?[31m", 8},
	    {"del\x7f", "del?", 4},
	    {"c1 \xc2\x9b", "c1 ??", 5},
	    {"nbsp\xc2\xa0", "nbsp\xc2\xa0", 5},
	    {"rlo \xe2\x80\xaex", "rlo ???x", 8},          /* U+202E */
	    {"lre \xe2\x80\xaa", "lre ???", 7},            /* U+202A */
	    {"rli \xe2\x81\xa7", "rli ???", 7},            /* U+2067 */
	    {"pdi \xe2\x81\xa9", "pdi ???", 7},            /* U+2069 */
	    {"rlm \xe2\x80\x8f", "rlm ???", 7},            /* U+200F */
	    {"alm \xd8\x9c", "alm ??", 6},                 /* U+061C */
	    {"dash \xe2\x80\x94", "dash \xe2\x80\x94", 6}, /* U+2014, beside them */
	    {"over \xc0\xaf", "over ??", 7},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t width = 0;
		char *got = print_clean(cases[i].in, &width);

		assert_string_equal(got, cases[i].out);
		assert_int_equal(width, cases[i].width);
		free(got);
	}
}

/* No row: an empty array, and a table of its heads alone. */
static void
test_empty_listing(void **state)
{
	char *json = listing(NULL, 0, 1), *table = listing(NULL, 0, 0);

	(void)state;
	assert_string_equal(json, "[]\n");
	assert_string_equal(table, "WORKSPACE  SLOT  TOKEN  NAME  STATE  EXPIRES  SECRET\n");
	free(json);
	free(table);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_random_listings),
	    cmocka_unit_test(test_clean),
	    cmocka_unit_test(test_empty_listing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
