/*
 * Unit tests for cmd/audit_event.c: the line audit log --json writes of an
 * event is, byte for byte, jansson's compact dump of audit_event_json, over
 * events of hostile text and details of every kind an edited row may hold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cmd/audit_render.h"
#include "core/jsonx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Texts a field may hold: plain, escaped, control characters, DEL, UTF-8 good and bad. */
static const char *const texts[] = {
    "ops@host",
    "run.start",
    "acme",
    "etl-discovery",
    "tok-123",
    "",
    "quo\"te",
    "back\\slash",
    "sl/ash",
    "tab\there",
    "nl\nand\rcr",
    "esc\x1b[31m",
    "del\x7f",
    "c1 \xc2\x9b",
    "caf\xc3\xa9",
    "bad \xff byte",
    "cut \xe2\x82",
    "over \xc0\xaf",
    "key \xf0\x9f\x94\x91",
};

/* Details a row may hold: what tokenwarden writes, and what an edit leaves. */
static const char *const details[] = {
    "{}",
    "{\"row\":42,\"digest\":\"ab01\",\"reason\":\"rotated\"}",
    "{\"a\":[true,false,null,-7,{\"b\":\"caf\xc3\xa9 \\u001B \\n \\\"\"}]}",
    "[1,2,3]",
    "{\"a\": 1}",
    "{\"a\":1.5}",
    "{\"a\":1e3,\"b\":-0}",
    "{\"a\":\"\\/\\u0041\\u001b\"}",
    "{\"a\":1,\"a\":2}",
    "{\"a\":12345678901234567890}",
    "{\"a\":\"\\u0000\"}",
    "{\"a\":1} trailing",
    "not json \x01\x7f \xff",
    "\"a string\"",
    "42",
    "",
    "{\n  \"pretty\": true\n}",
    NULL,
};

#define NTEXTS (sizeof texts / sizeof texts[0])
#define NDETAILS (sizeof details / sizeof details[0])

/* A text of the pool, or NULL now and then (a workspace, slot or token may be absent). */
static const char *
pick(unsigned *seed, int may_be_null)
{
	unsigned i = (unsigned)rand_r(seed) % (NTEXTS + 1);

	return i == NTEXTS ? (may_be_null ? NULL : "") : texts[i];
}

/* The line as the verb wrote it before: jansson's compact dump of audit_event_json. */
static char *
jansson_line(const struct event *e)
{
	json_t *o = audit_event_json(e);
	char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	size_t size = strlen(text) + 2;
	char *line = malloc(size);

	assert_non_null(line);
	snprintf(line, size, "%s\n", text);
	jsonx_free(text);
	json_decref(o);
	return line;
}

static void
test_lines_as_jansson(void **state)
{
	unsigned seed = 15;
	struct outbuf o;
	char *buf = NULL, *want = NULL;
	size_t len = 0, wlen = 0;
	FILE *f = open_memstream(&buf, &len), *w = open_memstream(&want, &wlen);

	(void)state;
	assert_non_null(f);
	assert_non_null(w);
	outbuf_init(&o, f);
	/* Well past what an outbuf gathers at once, each detail many times. */
	for (int i = 0; i < 4000; i++) {
		struct event e = {
		    .id = i % 7 == 0 ? (int64_t)i * 1000000007 : i,
		    .at = 1764547200000 + (int64_t)i * 61000,
		    .actor = pick(&seed, 0),
		    .kind = pick(&seed, 0),
		    .workspace = pick(&seed, 1),
		    .slot = pick(&seed, 1),
		    .token = pick(&seed, 1),
		    .details = details[(unsigned)i % NDETAILS],
		};
		char *line;

		snprintf(e.hash, sizeof e.hash, "%064x", (unsigned)i);
		audit_event_put_json(&o, &e);
		line = jansson_line(&e);
		fputs(line, w);
		free(line);
	}
	outbuf_flush(&o);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(fclose(w), 0);
	assert_true(len > 4 * sizeof o.b);
	assert_int_equal(len, wlen);
	assert_string_equal(buf, want);
	free(buf);
	free(want);
}

/* The details tokenwarden wrote go out as stored; the others as jansson makes them. */
static void
test_details_kept_or_redone(void **state)
{
	struct event e = {.id = 1, .at = 0, .actor = "a", .kind = "k", .hash = "00"};
	struct outbuf o;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	outbuf_init(&o, f);
	e.details = "{\"z\":1,\"a\":\"x\\u001B\"}";
	audit_event_put_json(&o, &e);
	e.details = "{\"z\": 1.50}";
	audit_event_put_json(&o, &e);
	e.details = "not json";
	audit_event_put_json(&o, &e);
	outbuf_flush(&o);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(buf, ",\"details\":{\"z\":1,\"a\":\"x\\u001B\"},"));
	assert_non_null(strstr(buf, ",\"details\":{\"z\":1.5},"));
	assert_non_null(strstr(buf, ",\"details\":\"not json\","));
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lines_as_jansson),
	    cmocka_unit_test(test_details_kept_or_redone),
	};

	jsonx_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
