/* Unit tests for core/jsonx: checked field access and the wiping allocator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/jsonx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *doc;

static int
setup(void **state)
{
	json_error_t err;

	(void)state;
	doc = json_loads("{\"s\": \"text\", \"i\": 42, \"b\": false, \"n\": null, \"r\": 1.5,"
			 " \"t\": \"2020-07-02T21:01:17.181Z\", \"badt\": \"yesterday\","
			 " \"o\": {\"k\": 1}, \"a\": []}",
			 0, &err);
	return doc == NULL;
}

static int
teardown(void **state)
{
	(void)state;
	json_decref(doc);
	return 0;
}

/* Calls a getter expecting -1 and checks the cause text. */
#define EXPECT_CAUSE(call, text)                                                                   \
	do {                                                                                       \
		char *cause = NULL;                                                                \
		assert_int_equal((call), -1);                                                      \
		assert_non_null(cause);                                                            \
		assert_string_equal(cause, text);                                                  \
		free(cause);                                                                       \
	} while (0)

static void
test_present_fields(void **state)
{
	const char *s;
	int64_t i, t;
	int b = 1;
	json_t *o;
	char *cause = NULL;

	(void)state;
	assert_int_equal(jsonx_string(doc, "s", JSONX_REQUIRED, &s, &cause), 0);
	assert_string_equal(s, "text");
	assert_int_equal(jsonx_int(doc, "i", JSONX_REQUIRED, &i, &cause), 0);
	assert_int_equal(i, 42);
	assert_int_equal(jsonx_bool(doc, "b", JSONX_REQUIRED, &b, &cause), 0);
	assert_int_equal(b, 0);
	assert_int_equal(jsonx_time(doc, "t", JSONX_REQUIRED, &t, &cause), 0);
	assert_int_equal(t, 1593723677181LL);
	assert_int_equal(jsonx_object(doc, "o", JSONX_REQUIRED, &o, &cause), 0);
	assert_true(json_is_object(o));
	assert_null(cause);
}

static void
test_missing_and_optional(void **state)
{
	const char *s = "untouched";
	char *none = NULL;

	(void)state;
	assert_int_equal(jsonx_string(doc, "nope", JSONX_OPTIONAL, &s, &none), 1);
	assert_int_equal(jsonx_string(doc, "n", JSONX_OPTIONAL, &s, &none), 1);
	assert_string_equal(s, "untouched");
	assert_null(none);
	EXPECT_CAUSE(jsonx_string(doc, "nope", JSONX_REQUIRED, &s, &cause),
		     "field 'nope' is missing");
	EXPECT_CAUSE(jsonx_string(doc, "n", JSONX_REQUIRED, &s, &cause), "field 'n' is missing");
}

static void
test_mistyped(void **state)
{
	const char *s;
	int64_t i;
	int b;
	json_t *o;

	(void)state;
	EXPECT_CAUSE(jsonx_int(doc, "s", JSONX_REQUIRED, &i, &cause),
		     "field 's' is a string, expected an integer");
	EXPECT_CAUSE(jsonx_int(doc, "r", JSONX_OPTIONAL, &i, &cause),
		     "field 'r' is a number, expected an integer");
	EXPECT_CAUSE(jsonx_string(doc, "i", JSONX_REQUIRED, &s, &cause),
		     "field 'i' is an integer, expected a string");
	EXPECT_CAUSE(jsonx_bool(doc, "i", JSONX_REQUIRED, &b, &cause),
		     "field 'i' is an integer, expected a boolean");
	EXPECT_CAUSE(jsonx_object(doc, "a", JSONX_REQUIRED, &o, &cause),
		     "field 'a' is an array, expected an object");
	EXPECT_CAUSE(jsonx_time(doc, "badt", JSONX_REQUIRED, &i, &cause),
		     "field 'badt' is not an ISO 8601 time: 'yesterday'");
	EXPECT_CAUSE(jsonx_string(json_object_get(doc, "a"), "x", JSONX_OPTIONAL, &s, &cause),
		     "expected an object holding 'x', got an array");
}

static void
test_dumps_with_wiping_allocator(void **state)
{
	json_t *o = json_pack("{s:s}", "access_secret", "829146cb6c752f51bbbb8c85");
	char *text = json_dumps(o, JSON_COMPACT);

	(void)state;
	assert_string_equal(text, "{\"access_secret\":\"829146cb6c752f51bbbb8c85\"}");
	jsonx_free(text);
	jsonx_free(NULL);
	json_decref(o);
}

/* Each input, and what jsonx_text keeps of it: valid UTF-8 whole, every other byte as '?'. */
static void
test_text_never_lost(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"plain", "plain"},
	    {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91",
	     "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91"},
	    {"tab\tand\nnewline", "tab\tand\nnewline"},   /* JSON escapes controls */
	    {"cut \xe2\x82", "cut ??"},                   /* a character cut at the end */
	    {"\xe9t\xe9", "?t?"},                         /* Latin-1 */
	    {"\x80\xbf", "??"},                           /* stray continuation bytes */
	    {"\xc0\xaf", "??"},                           /* overlong '/' */
	    {"\xed\xa0\x80", "???"},                      /* a surrogate */
	    {"\xf4\x90\x80\x80", "????"},                 /* above U+10FFFF */
	    {"\xe2\x82 \xe2\x82\xac", "?? \xe2\x82\xac"}, /* a cut one, then a whole one */
	};
	json_t *v;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		v = jsonx_text(cases[i].in);
		assert_non_null(v);
		assert_string_equal(json_string_value(v), cases[i].out);
		json_decref(v);
	}
	v = jsonx_text(NULL);
	assert_true(json_is_null(v));
	json_decref(v);
}

/* Text written straight into JSON: escaped where it must be, UTF-8 kept, a bad byte '?'. */
static void
test_put_text(void **state)
{
	static const char in[] = "a\"b\\c\x01"
				 "d\x1f\x7f e\xc3\xa9 \xff~ /";
	static const char want[] = "\"a\\\"b\\\\c\\u0001d\\u001f\\u007f e\xc3\xa9 ?~ /\"";
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	jsonx_put_text(f, in);
	jsonx_put_text(f, NULL);
	jsonx_put_text(f, "");
	/* A sequence at the very end: whole, and cut short by the end of the text. */
	jsonx_put_text(f, "\xf0\x9f\x98\x80");
	jsonx_put_text(f, "x\xe2\x82");
	assert_int_equal(fclose(f), 0);
	assert_string_equal(buf, "\"a\\\"b\\\\c\\u0001d\\u001f\\u007f e\xc3\xa9 ?~ /\"null\"\""
				 "\"\xf0\x9f\x98\x80\"\"x??\"");
	assert_memory_equal(buf, want, sizeof want - 1);
	free(buf);
}

/*
 * Texts longer than the writer gathers at once, escapes on its edges, come
 * out as jansson dumps them; keys and integers as printf would write them.
 */
static void
test_put_long_and_numbers(void **state)
{
	/* Longer than a writer gathers (struct outbuf's b), so it goes out in parts. */
	char in[2 * sizeof((struct outbuf *)NULL)->b + 1500], *buf = NULL, *want;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct outbuf o;
	json_t *j;

	(void)state;
	for (size_t i = 0; i < sizeof in - 1; i++)
		in[i] = i % 97 == 0 ? '"' : i % 89 == 0 ? '\\' : (char)('a' + i % 26);
	in[sizeof in - 1] = '\0';
	assert_non_null(f);
	jsonx_put_key(f, "k", 1);
	jsonx_put_text(f, in);
	outbuf_init(&o, f);
	jsonx_out_int(&o, "n", 0);
	jsonx_out_int(&o, "m", -1234567);
	jsonx_out_int(&o, "big", INT64_MIN);
	outbuf_flush(&o);
	assert_int_equal(fclose(f), 0);
	j = jsonx_text(in);
	want = json_dumps(j, JSON_ENCODE_ANY);
	assert_int_equal(strncmp(buf, "\"k\":", 4), 0);
	assert_int_equal(strncmp(buf + 4, want, strlen(want)), 0);
	assert_string_equal(buf + 4 + strlen(want),
			    ",\"n\":0,\"m\":-1234567,\"big\":-9223372036854775808");
	jsonx_free(want);
	json_decref(j);
	free(buf);
}

/*
 * The writers' pieces over many objects, well past what an outbuf gathers
 * at once, make the document jansson dumps of the same values.
 */
static void
test_writer_gathers(void **state)
{
	/*
	 * No DEL, which jansson writes as it is, and no escape with a hex letter,
	 * which jansson writes in capitals: the writer's are lowercase (test_put_text).
	 */
	static const char *const texts[] = {
	    "plain", "quo\"te", "back\\slash", "ctl\x01\x10", "caf\xc3\xa9", "bad \xff byte", ""};
	struct outbuf o;
	json_t *a = json_array();
	char *buf = NULL, *want;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	outbuf_init(&o, f);
	outbuf_str(&o, "[");
	for (int i = 0; i < 3000; i++) {
		const char *t = i % 11 == 10 ? NULL : texts[i % 7];

		outbuf_str(&o, i == 0 ? "{" : ",{");
		jsonx_out_key(&o, "k", 1);
		jsonx_out_text(&o, t);
		jsonx_out_int(&o, "n", i - 1500);
		outbuf_str(&o, "}");
		json_array_append_new(
		    a, json_pack("{s:o, s:I}", "k", jsonx_text(t), "n", (json_int_t)(i - 1500)));
	}
	outbuf_str(&o, "]");
	outbuf_flush(&o);
	assert_int_equal(fclose(f), 0);
	want = json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_non_null(want);
	assert_true(strlen(want) > 4 * sizeof o.b);
	assert_string_equal(buf, want);
	jsonx_free(want);
	json_decref(a);
	free(buf);
}

/* Whether jansson's compact dump of what it loads from s is s itself. */
static int
dumps_back(const char *s)
{
	json_t *v = json_loads(s, 0, NULL);
	char *text = v != NULL ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	int same = text != NULL && strcmp(text, s) == 0;

	jsonx_free(text);
	json_decref(v);
	return same;
}

static void
test_is_dumped_cases(void **state)
{
	static const char *const yes[] = {
	    "{}",
	    "[]",
	    "[[]]",
	    "{\"a\":{}}",
	    "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\\u001B\\n\\t\\\"\\\\\"}}",
	    "{\"caf\xc3\xa9\":\"\xf0\x9f\x94\x91 \x7f\"}",
	    "[-5,0,123456789012345678,-123456789012345678]",
	    "{\"row\":42,\"digest\":\"ab01\",\"reason\":\"\"}",
	    "{\"\":\"\"}",
	};
	static const char *const no[] = {
	    "",
	    "1",
	    "\"text\"",
	    "true",
	    "{\"a\": 1}",
	    "{ }",
	    " {}",
	    "{}\n",
	    "{}x",
	    "{\"a\":1.5}",
	    "{\"a\":1e3}",
	    "{\"a\":-0}",
	    "{\"a\":01}",
	    "{\"a\":-}",
	    "{\"a\":1234567890123456789}",
	    "{\"a\":\"\\/\"}",
	    "{\"a\":\"\\u0041\"}",
	    "{\"a\":\"\\u001b\"}",
	    "{\"a\":\"\\u0008\"}",
	    "{\"a\":\"\\u000A\"}",
	    "{\"a\":\"\\u0000\"}",
	    "{\"a\":\"\\u0020\"}",
	    "{\"a\":\"\\x\"}",
	    "{\"a\":\"\x01\"}",
	    "{\"a\":\"\x1f\"}",
	    "{\"a\":\"\xff\"}",
	    "{\"a\":\"\xc3\"}",
	    "{\"a\":\"\xed\xa0\x80\"}",
	    "{\"a\":1,\"a\":2}",
	    "{\"a\":1,}",
	    "[1,]",
	    "{\"a\"}",
	    "{\"a\":",
	    "{\"a\":\"",
	    "{\"a\":\"\\",
	    "{\"a\":tru}",
	    "{\"a\":nul}",
	    "{a:1}",
	    "[01]",
	    "[+1]",
	};
	char deep[2 * JSONX_DUMPED_DEPTH + 8], many[JSONX_DUMPED_KEYS * 16 + 8];
	size_t n = 0;

	(void)state;
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		assert_true(jsonx_is_dumped(yes[i]));
		assert_true(dumps_back(yes[i]));
	}
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		if (jsonx_is_dumped(no[i]))
			fail_msg("taken as dumped: %s", no[i]);
	/* As deep as it goes, and one deeper. */
	for (int d = JSONX_DUMPED_DEPTH; d <= JSONX_DUMPED_DEPTH + 1; d++) {
		memset(deep, '[', (size_t)d);
		memset(deep + d, ']', (size_t)d);
		deep[2 * d] = '\0';
		assert_int_equal(jsonx_is_dumped(deep), d == JSONX_DUMPED_DEPTH);
	}
	/* As many members as it takes, and one more. */
	for (int k = 0; k <= JSONX_DUMPED_KEYS; k++) {
		n = 0;
		many[n++] = '{';
		for (int i = 0; i <= k; i++)
			n += (size_t)snprintf(many + n, sizeof many - n, "%s\"k%d\":%d",
					      i ? "," : "", i, i);
		many[n++] = '}';
		many[n] = '\0';
		assert_int_equal(jsonx_is_dumped(many), k + 1 <= JSONX_DUMPED_KEYS);
	}
}

/* A random value of depth at most depth, of hostile strings and integers. */
static json_t *
random_value(unsigned *seed, int depth)
{
	static const char *const texts[] = {"",
					    "a",
					    "row",
					    "quo\"te",
					    "back\\slash",
					    "sl/ash",
					    "ctl\x01\x1f\x08\x09\x0a\x0c\x0d",
					    "del\x7f",
					    "caf\xc3\xa9",
					    "key \xf0\x9f\x94\x91",
					    "\xe2\x80\xa8 line sep"};
	static const long long ints[] = {
	    0, 1, -1, 42, -42, 999999999999999999LL, -999999999999999999LL};
	int pick = (int)(rand_r(seed) % (depth > 0 ? 7 : 5));
	json_t *v;

	switch (pick) {
	case 0:
		return json_string(texts[rand_r(seed) % (sizeof texts / sizeof texts[0])]);
	case 1:
		return json_integer(ints[rand_r(seed) % (sizeof ints / sizeof ints[0])]);
	case 2:
		return json_integer((long long)(rand_r(seed) % 100000) - 50000);
	case 3:
		return rand_r(seed) % 2 ? json_true() : json_false();
	case 4:
		return json_null();
	case 5:
		v = json_array();
		for (int i = (int)(rand_r(seed) % 4); i > 0; i--)
			json_array_append_new(v, random_value(seed, depth - 1));
		return v;
	default:
		v = json_object();
		for (int i = (int)(rand_r(seed) % 5); i > 0; i--)
			json_object_set_new(v,
					    texts[rand_r(seed) % (sizeof texts / sizeof texts[0])],
					    random_value(seed, depth - 1));
		return v;
	}
}

/*
 * jansson's own compact dumps are taken; and whatever is taken, random
 * edits of those dumps included, is what jansson's dump of it gives back.
 */
static void
test_is_dumped_property(void **state)
{
	static const char bytes[] = " \"\\,:{}[]0123456789-.eEutnfrbx/\x01\x1f\x7f\xc3\xa9\xff";
	unsigned seed = 2026;
	int taken = 0, edits = 0;

	(void)state;
	for (int round = 0; round < 3000; round++) {
		json_t *v = rand_r(&seed) % 2 ? json_object() : json_array();
		char *text, *edit;
		size_t len;

		for (int i = (int)(rand_r(&seed) % 6); i > 0; i--) {
			json_t *x = random_value(&seed, 4);

			if (json_is_object(v))
				json_object_set_new(v, i % 2 ? "details" : "row", x);
			else
				json_array_append_new(v, x);
		}
		text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
		assert_non_null(text);
		if (!jsonx_is_dumped(text))
			fail_msg("jansson's dump not taken: %s", text);
		len = strlen(text);
		edit = malloc(len + 4);
		assert_non_null(edit);
		for (int k = 0; k < 20; k++) {
			size_t at = rand_r(&seed) % (len + 1), n = len;
			char b = bytes[rand_r(&seed) % (sizeof bytes - 1)];

			memcpy(edit, text, len + 1);
			switch (rand_r(&seed) % 3) {
			case 0: /* a byte replaced */
				if (at < n)
					edit[at] = b;
				break;
			case 1: /* a byte put in */
				memmove(edit + at + 1, edit + at, n - at + 1);
				edit[at] = b;
				break;
			default: /* a byte taken out */
				if (at < n)
					memmove(edit + at, edit + at + 1, n - at);
				break;
			}
			edits++;
			if (!jsonx_is_dumped(edit))
				continue;
			taken++;
			if (!dumps_back(edit))
				fail_msg("taken as dumped, but jansson writes it otherwise: %s",
					 edit);
		}
		free(edit);
		jsonx_free(text);
		json_decref(v);
	}
	/* Many edits keep a dump a dump (a digit for a digit, a letter in a string). */
	assert_true(taken > edits / 20);
	assert_true(taken < edits);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_present_fields),
	    cmocka_unit_test(test_missing_and_optional),
	    cmocka_unit_test(test_mistyped),
	    cmocka_unit_test(test_dumps_with_wiping_allocator),
	    cmocka_unit_test(test_text_never_lost),
	    cmocka_unit_test(test_put_text),
	    cmocka_unit_test(test_put_long_and_numbers),
	    cmocka_unit_test(test_writer_gathers),
	    cmocka_unit_test(test_is_dumped_cases),
	    cmocka_unit_test(test_is_dumped_property),
	};

	jsonx_init();
	return cmocka_run_group_tests(tests, setup, teardown);
}
