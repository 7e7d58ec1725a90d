/*
 * Unit tests for core/mode that need no server: name rules, the Bearer
 * value, the checks that refuse to send anything, HTTP-date parsing and the
 * clock verdict, and what an answer fed to the client without a network
 * means.  The client's behaviour against a server is tested in
 * tests/e2e/test_client.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/clock.h"
#include "core/cred.h"
#include "core/jsonx.h"
#include "core/mode.h"
#include "core/mode_priv.h"
#include "core/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct mode_opts opts;

static int
setup(void **state)
{
	(void)state;
	mode_opts_default(&opts);
	return mode_global_init();
}

static void
test_names(void **state)
{
	char *cause = NULL;
	char name65[66];

	(void)state;
	assert_int_equal(mode_check_name("abcd", &cause), 0);
	memset(name65, 'x', 64);
	name65[64] = '\0';
	assert_int_equal(mode_check_name(name65, &cause), 0);
	name65[64] = 'x';
	name65[65] = '\0';
	assert_int_equal(mode_check_name(name65, &cause), -1);
	assert_non_null(strstr(cause, "has 65 characters; Mode requires 4 to 64"));
	FREE_NULL(&cause);
	assert_int_equal(mode_check_name("abc", &cause), -1);
	FREE_NULL(&cause);
	/* Characters, not bytes: four two-byte letters are a valid name. */
	assert_int_equal(mode_check_name("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", &cause), 0);
	assert_int_equal(mode_check_name("ab\ncd", &cause), -1);
	FREE_NULL(&cause);
	assert_int_equal(mode_check_name("abc\xff", &cause), -1);
	FREE_NULL(&cause);
	assert_int_equal(mode_check_name("abc\xc3", &cause), -1);
	FREE_NULL(&cause);
	/* Nothing a terminal shows otherwise: C1, a bidirectional control, an overlong. */
	assert_int_equal(mode_check_name("abc\xc2\x9b", &cause), -1);
	FREE_NULL(&cause);
	assert_int_equal(mode_check_name("ab\xe2\x80\xae"
					 "cd",
					 &cause),
			 -1);
	assert_non_null(strstr(cause, "bidirectional"));
	FREE_NULL(&cause);
	assert_int_equal(mode_check_name("ab\xe2\x81\xa6"
					 "cd",
					 &cause),
			 -1);
	FREE_NULL(&cause);
	assert_int_equal(mode_check_name("abc\xc0\xaf", &cause), -1);
	FREE_NULL(&cause);
	assert_int_equal(mode_check_name("abc\xed\xa0\x80", &cause), -1);
	FREE_NULL(&cause);
}

static void
test_bearer(void **state)
{
	char *b =
	    mode_bearer("5b89bf4b0a49", "8b6fdc0a36bf340604a3cedc", "829146cb6c752f51bbbb8c85");

	(void)state;
	/* base64("5b89bf4b0a49:8b6fdc0a36bf340604a3cedc:829146cb6c752f51bbbb8c85") */
	assert_string_equal(
	    b,
	    "NWI4OWJmNGIwYTQ5OjhiNmZkYzBhMzZiZjM0MDYwNGEzY2VkYzo4MjkxNDZjYjZjNzUyZjUxYmJiYjhjODU=");
	xsecret_free(b);
}

/* Expects mode_client_new to refuse api/workspace with a cause containing text. */
static void
refused(const char *api, const char *ws, const char *text)
{
	char *cause = NULL;
	struct mode_client *c = mode_client_new(api, ws, NULL, &opts, &cause);

	if (c != NULL)
		fail_msg("accepted api '%s' workspace '%s'", api, ws);
	if (strstr(cause, text) == NULL)
		fail_msg("cause '%s' lacks '%s'", cause, text);
	free(cause);
}

static void
accepted(const char *api)
{
	char *cause = NULL;
	struct mode_client *c = mode_client_new(api, "acme", NULL, &opts, &cause);

	if (c == NULL)
		fail_msg("refused '%s': %s", api, cause);
	mode_client_free(c);
}

static void
test_transport_rules(void **state)
{
	(void)state;
	refused("http://app.mode.com", "acme", "plain http is refused");
	refused("http://10.0.0.1:8080", "acme", "plain http is refused");
	refused("http://127.0.0.1.example.com", "acme", "plain http is refused");
	refused("ftp://app.mode.com", "acme", "scheme must be https");
	refused("https://user:pw@app.mode.com", "acme", "must not carry a user name");
	refused("https://app.mode.com/?x=1", "acme", "must not carry");
	refused("not a url", "acme", "is not a URL");
	refused("https://app.mode.com", "Acme", "all lower case");
	refused("https://app.mode.com", "ac/me", "all lower case");
	refused("https://app.mode.com", "", "1 to 128");
	accepted("https://app.mode.com");
	accepted("https://app.mode.com/");
	accepted("http://127.0.0.1:8080");
	accepted("http://127.1.2.3:8080/prefix");
	accepted("http://localhost:8080");
	accepted("http://[::1]:8080");
}

static void
test_refuses_before_sending(void **state)
{
	struct cred cred = {.key = xsecret_strdup("k"), .secret = xsecret_strdup("s")};
	struct mode_opts bound;
	struct mode_client *c;
	struct mode_token *t = NULL;
	char *cause = NULL;

	(void)state;
	/* Port 9 on loopback: if anything were sent the error would differ. */
	c = mode_client_new("http://127.0.0.1:9", "acme", NULL, &opts, &cause);
	assert_non_null(c);
	assert_int_equal(mode_create(c, "valid-name", 0, &t, &cause), MODE_ERR_USAGE);
	assert_non_null(strstr(cause, "admin credential"));
	FREE_NULL(&cause);
	mode_client_free(c);

	c = mode_client_new("http://127.0.0.1:9", "acme", &cred, &opts, &cause);
	assert_int_equal(mode_create(c, "abc", 0, &t, &cause), MODE_ERR_USAGE);
	FREE_NULL(&cause);
	assert_int_equal(mode_delete(c, "../../etc", NULL, &cause), MODE_ERR_USAGE);
	assert_non_null(strstr(cause, "is not a signature token id"));
	FREE_NULL(&cause);
	assert_int_equal(mode_verify(c, "a b", "k", "s", &cause), MODE_ERR_USAGE);
	FREE_NULL(&cause);
	assert_int_equal(mode_requests(c), 0);
	mode_client_free(c);

	/* With a clock bound, bad input is still refused before the clock probe. */
	bound = opts;
	bound.max_skew_ms = 300000;
	c = mode_client_new("http://127.0.0.1:9", "acme", &cred, &bound, &cause);
	assert_int_equal(mode_create(c, "abc", 0, &t, &cause), MODE_ERR_USAGE);
	FREE_NULL(&cause);
	assert_int_equal(mode_delete(c, "../../etc", NULL, &cause), MODE_ERR_USAGE);
	FREE_NULL(&cause);
	assert_int_equal(mode_requests(c), 0);
	mode_client_free(c);
	xsecret_free(cred.key);
	xsecret_free(cred.secret);
}

/* A stop hook that always says stop, as a run told to stop does. */
static int
say_stop(void *arg)
{
	(void)arg;
	return 1;
}

/*
 * While the run is stopping, a delete waiting its turn is not sent, but the
 * undo of a create is, once: nothing else knows its token exists, and the
 * stop waits for one answer at most.  Port 9 refuses each attempt.
 */
static void
test_undo_while_stopping(void **state)
{
	struct cred cred = {.key = xsecret_strdup("k"), .secret = xsecret_strdup("s")};
	struct mode_opts few = opts;
	struct mode_client *c;
	char *cause = NULL;

	(void)state;
	few.retries = 2;
	c = mode_client_new("http://127.0.0.1:9", "acme", &cred, &few, &cause);
	assert_non_null(c);
	mode_set_stop(c, say_stop, NULL);
	assert_int_equal(mode_delete(c, "5b89bf4b0a49", NULL, &cause), MODE_ERR_STOPPED);
	assert_int_equal(mode_requests(c), 0);
	FREE_NULL(&cause);
	assert_int_equal(mode_undo_create(c, "5b89bf4b0a49", &cause), MODE_ERR_UNAVAILABLE);
	assert_int_equal(mode_requests(c), 1);
	assert_non_null(strstr(cause, "(1 attempt)"));
	FREE_NULL(&cause);
	/* Not stopping, an undo is retried as any delete is. */
	mode_set_stop(c, NULL, NULL);
	assert_int_equal(mode_undo_create(c, "5b89bf4b0a49", &cause), MODE_ERR_UNAVAILABLE);
	assert_int_equal(mode_requests(c), 1 + 3);
	FREE_NULL(&cause);
	mode_client_free(c);
	xsecret_free(cred.key);
	xsecret_free(cred.secret);
}

/* 1994-11-06T08:49:37Z, the example of RFC 7231, in milliseconds. */
#define RFC_EXAMPLE_MS 784111777000LL

/* Expects s (as a NUL-terminated string) to parse to want milliseconds. */
static void
date_ok(const char *s, int64_t want)
{
	int64_t ms = -1;

	if (mode_http_date(s, strlen(s), &ms) != 0)
		fail_msg("'%s' refused", s);
	if (ms != want)
		fail_msg("'%s' read as %lld, want %lld", s, (long long)ms, (long long)want);
}

/* Expects the len bytes at s to be refused, leaving the output alone. */
static void
date_bad(const char *s, size_t len)
{
	int64_t ms = 42;

	if (mode_http_date(s, len, &ms) != -1)
		fail_msg("'%.*s' accepted as %lld", (int)len, s, (long long)ms);
	assert_int_equal(ms, 42);
}

static void
test_http_date_valid(void **state)
{
	const char *padded = "Sun, 06 Nov 1994 08:49:37 GMTgarbage";
	int64_t ms = 0;

	(void)state;
	/* The three forms RFC 7231 requires a recipient to read, all the same instant. */
	date_ok("Sun, 06 Nov 1994 08:49:37 GMT", RFC_EXAMPLE_MS);
	date_ok("Sunday, 06-Nov-94 08:49:37 GMT", RFC_EXAMPLE_MS);
	date_ok("Sun Nov  6 08:49:37 1994", RFC_EXAMPLE_MS);
	date_ok("Sun Nov 06 08:49:37 1994", RFC_EXAMPLE_MS);
	/* Blanks around the value (header OWS) are not part of it. */
	date_ok(" \t Sun, 06 Nov 1994 08:49:37 GMT \t", RFC_EXAMPLE_MS);
	/* Only len bytes are read: no NUL needed. */
	assert_int_equal(mode_http_date(padded, 29, &ms), 0);
	assert_int_equal(ms, RFC_EXAMPLE_MS);
	date_ok("Thu, 01 Jan 1970 00:00:00 GMT", 0);
	date_ok("Thu, 29 Feb 2024 00:00:00 GMT", 1709164800000LL);
	date_ok("Fri, 31 Dec 9999 23:59:59 GMT", 253402300799000LL);
	/* A leap second reads as the first second of the next minute. */
	date_ok("Sat, 31 Dec 2016 23:59:60 GMT", 1483228800000LL);
	/* RFC 850's two-digit years: 70-99 are 19xx, 00-69 20xx. */
	date_ok("Wednesday, 01-Jan-25 00:00:00 GMT", 1735689600000LL);
	date_ok("Tuesday, 31-Dec-69 00:00:00 GMT", 3155673600000LL);
	date_ok("Thursday, 01-Jan-70 00:00:00 GMT", 0);
}

static void
test_http_date_malformed(void **state)
{
	static const char *const bad[] = {
	    "",                                  /* an empty value */
	    "   ",                               /* blanks only */
	    "not a date",                        /* what modesim's date fault sends */
	    "1994-11-06T08:49:37Z",              /* ISO 8601, not an HTTP date */
	    "784111777",                         /* epoch seconds */
	    "sun, 06 nov 1994 08:49:37 GMT",     /* names are case-sensitive */
	    "Sun, 06 Nov 1994 08:49:37 gmt",     /* so is GMT */
	    "Sun, 06 Nov 1994 08:49:37 UTC",     /* only GMT */
	    "Sun, 06 Nov 1994 08:49:37 +0000",   /* no numeric zones */
	    "Sun, 06 Nov 1994 08:49:37",         /* IMF without its zone */
	    "Sun, 06 Nov 1994 08:49:37 GMT x",   /* trailing garbage */
	    "Sun, 6 Nov 1994 08:49:37 GMT",      /* IMF day is two digits */
	    "Sun,  06 Nov 1994 08:49:37 GMT",    /* one space only */
	    "Sun 06 Nov 1994 08:49:37 GMT",      /* missing comma */
	    "Sunday, 06 Nov 1994 08:49:37 GMT",  /* long weekday in IMF */
	    "Sun, 06-Nov-94 08:49:37 GMT",       /* short weekday in RFC 850 */
	    "Sunday, 06-Nov-1994 08:49:37 GMT",  /* four-digit year in RFC 850 */
	    "Sun, 06 Nov 94 08:49:37 GMT",       /* two-digit year in IMF */
	    "Sun, 06 Nov 1994 8:49:37 GMT",      /* one-digit hour */
	    "Sun, 06 Nov 1994 08:49 GMT",        /* no seconds */
	    "Sun Nov 6 08:49:37 1994",           /* asctime pads a one-digit day */
	    "Sun Nov  6 08:49:37 1994 GMT",      /* asctime has no zone */
	    "Mon, 06 Nov 1994 08:49:37 GMT",     /* wrong weekday */
	    "Fri, 30 Feb 2024 00:00:00 GMT",     /* no such day */
	    "Wed, 29 Feb 2023 00:00:00 GMT",     /* not a leap year */
	    "Sun, 31 Nov 2024 00:00:00 GMT",     /* November has 30 */
	    "Sun, 00 Nov 1994 08:49:37 GMT",     /* day 0 */
	    "Sun, 06 Xyz 1994 08:49:37 GMT",     /* no such month */
	    "Sun, 06 Nov 1994 24:00:00 GMT",     /* hour 24 */
	    "Sun, 06 Nov 1994 08:60:37 GMT",     /* minute 60 */
	    "Sun, 06 Nov 1994 08:49:61 GMT",     /* second 61 */
	    "Sun, 06 Nov 1994 08:49:60 GMT",     /* a leap second only ends a day */
	    "Sat, 31 Dec 2016 23:58:60 GMT",     /* ... at 23:59:60 */
	    "Wed, 31 Dec 1969 23:59:59 GMT",     /* before 1970 */
	    "Sun, 06 Nov 1994 08:49:37 GMT\r\n", /* line ends are not blanks */
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		date_bad(bad[i], strlen(bad[i]));
	/* A NUL inside the value, and a value cut short by len. */
	date_bad("Sun, 06 Nov 1994 08:49:37 G\0T", 29);
	date_bad("Sun, 06 Nov 1994 08:49:37 GMT", 28);
}

/* Returns the verdict on one observation under bound (ms); *cause gets the message or NULL. */
static int
judge(enum mode_clock_state st, int64_t server, int64_t local, int64_t bound, char **cause)
{
	struct mode_clock obs = {.state = st, .server_ms = server, .local_ms = local};

	*cause = NULL;
	return mode_clock_judge(&obs, bound, "workspace acme", cause);
}

static void
expect_in(const char *cause, const char *text)
{
	if (cause == NULL || strstr(cause, text) == NULL)
		fail_msg("cause '%s' lacks '%s'", cause != NULL ? cause : "(none)", text);
}

static void
test_clock_judge(void **state)
{
	const int64_t t = 1725148800000LL; /* 2024-09-01T00:00:00Z */
	const int64_t bound = 300000;      /* 5 minutes */
	const int64_t day = 86400000;
	char *cause = NULL;

	(void)state;
	/* Skew is server minus local; the bound is inclusive, either way. */
	assert_int_equal(judge(MODE_CLOCK_KNOWN, t, t, bound, &cause), MODE_OK);
	assert_int_equal(judge(MODE_CLOCK_KNOWN, t + bound, t, bound, &cause), MODE_OK);
	assert_int_equal(judge(MODE_CLOCK_KNOWN, t - bound, t, bound, &cause), MODE_OK);
	assert_null(cause);
	assert_int_equal(judge(MODE_CLOCK_KNOWN, t + bound + 1, t, bound, &cause), MODE_ERR_CLOCK);
	expect_in(cause, "this host behind");
	FREE_NULL(&cause);
	assert_int_equal(judge(MODE_CLOCK_KNOWN, t, t + bound + 1, bound, &cause), MODE_ERR_CLOCK);
	expect_in(cause, "this host ahead");
	FREE_NULL(&cause);

	/* A host clock 45 days ahead: both times, the gap, the fix. */
	assert_int_equal(judge(MODE_CLOCK_KNOWN, t, t + 45 * day, bound, &cause), MODE_ERR_CLOCK);
	expect_in(cause, "workspace acme: ");
	expect_in(cause, "the server's clock says 2024-09-01T00:00:00.000Z");
	expect_in(cause, "this host's says 2024-10-16T00:00:00.000Z");
	expect_in(cause, "45d apart, this host ahead");
	expect_in(cause, "set the host clock (NTP); schedule.max_clock_skew allows 5m");
	FREE_NULL(&cause);
	/* Gaps of an hour or more are written to the minute: a Date has whole seconds. */
	assert_int_equal(judge(MODE_CLOCK_KNOWN, t + 45 * day, t + 950, bound, &cause),
			 MODE_ERR_CLOCK);
	expect_in(cause, "45d apart, this host behind");
	FREE_NULL(&cause);
	assert_int_equal(judge(MODE_CLOCK_KNOWN, t + 7529000, t, bound, &cause), MODE_ERR_CLOCK);
	expect_in(cause, "2h5m apart");
	FREE_NULL(&cause);
	assert_int_equal(judge(MODE_CLOCK_KNOWN, t + 310000, t, bound, &cause), MODE_ERR_CLOCK);
	expect_in(cause, "5m10s apart");
	FREE_NULL(&cause);
	/* Spans below a second, and bounds not whole seconds, are written in milliseconds. */
	assert_int_equal(judge(MODE_CLOCK_KNOWN, t + 400, t, 250, &cause), MODE_ERR_CLOCK);
	expect_in(cause, "400 ms apart");
	expect_in(cause, "allows 250 ms");
	FREE_NULL(&cause);
	assert_int_equal(judge(MODE_CLOCK_KNOWN, t + 90000, t, 1500, &cause), MODE_ERR_CLOCK);
	expect_in(cause, "1m30s apart");
	expect_in(cause, "allows 1500 ms");
	FREE_NULL(&cause);

	/* No usable Date: refused whatever the bound, saying why. */
	assert_int_equal(judge(MODE_CLOCK_NO_DATE, 0, t, day, &cause), MODE_ERR_CLOCK);
	expect_in(cause, "workspace acme: the server sent no usable Date (no Date header)");
	expect_in(cause, "2024-09-01T00:00:00.000Z");
	expect_in(cause, "schedule.max_clock_skew allows 1d");
	FREE_NULL(&cause);
	assert_int_equal(judge(MODE_CLOCK_BAD_DATE, 0, t, day, &cause), MODE_ERR_CLOCK);
	expect_in(cause, "a Date header that is not an HTTP date");
	FREE_NULL(&cause);
	assert_int_equal(judge(MODE_CLOCK_NONE, 0, t, day, &cause), MODE_ERR_CLOCK);
	expect_in(cause, "no answer yet");
	FREE_NULL(&cause);
}

static void
test_clock_state_of_a_new_client(void **state)
{
	struct mode_opts o = opts;
	struct mode_client *c;
	char *cause = NULL;
	int64_t skew = 7;

	(void)state;
	o.max_skew_ms = 300000;
	c = mode_client_new("http://127.0.0.1:9", "acme", NULL, &o, &cause);
	assert_non_null(c);
	assert_int_equal(mode_last_skew(c, &skew), 0);
	assert_int_equal(skew, 7);
	mode_client_free(c);
}

/*
 * Fails unless s is all characters a terminal shows as themselves (no
 * control character, C1 or bidirectional control): messages reach
 * terminals and logs.
 */
static void
assert_printable(const char *s)
{
	size_t n;

	assert_non_null(s);
	n = strlen(s);
	for (size_t i = 0; i < n;) {
		int len = jsonx_utf8_shown((const unsigned char *)s + i, n - i);

		assert_true(len > 0);
		i += (size_t)len;
	}
}

/* The judgement of a 200 answer to a create whose body is body. */
static int
create_answer(const char *body, char **cause)
{
	char head[] = "HTTP/1.1 200 OK\r\n", end[] = "\r\n";
	struct call call = {
	    .method = "POST", .what = "create token 'fuzz' in workspace acme", .body = "{}"};
	struct mode_client *c = mode_client_new("http://127.0.0.1:9", "acme", NULL, &opts, cause);
	struct answer a = {0};
	struct mode_token *t = NULL;
	char *copy = xstrdup(body);
	int rc;

	assert_non_null(c);
	mode_answer_start(c);
	assert_int_equal(mode_header_cb(head, 1, strlen(head), c), strlen(head));
	assert_int_equal(mode_header_cb(end, 1, 2, c), 2);
	assert_int_equal(mode_body_cb(copy, 1, strlen(copy), c), strlen(copy));
	mode_answer_done(c, 0);
	mode_answer_final(c, 200, &a);
	assert_non_null(a.json);
	rc = mode_create_answer(c, &call, &a, &t, cause);
	mode_token_free(t);
	json_decref(a.json);
	mode_client_free(c);
	free(copy);
	return rc;
}

/*
 * A malformed answer is quoted in the message (an id, a time), and a server
 * or anything on the way could put escape codes there: found by fuzz_answer.
 */
static void
test_answer_quotes_printable(void **state)
{
	static const char *const bodies[] = {
	    "{\"token\": \"\\u001b[2J\\u001b]0;owned\\u0007\", \"name\": \"x\"}",
	    "{\"token\": \"5b89bf4b0a49\", \"name\": \"x\", \"creator_id\": 1, "
	    "\"organization_id\": 2, \"access_key\": \"k\", \"access_secret\": \"s\", "
	    "\"created_at\": \"\\u001b[31m\\r\\nfake line\"}",
	    /* An 8-bit CSI (U+009B) and a right-to-left override (U+202E). */
	    "{\"token\": \"\\u009b2J \\u202edilav\", \"name\": \"x\"}",
	};
	char *cause = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		assert_int_equal(create_answer(bodies[i], &cause), MODE_ERR_UNKNOWN);
		expect_in(cause, "the answer is malformed");
		assert_printable(cause);
		FREE_NULL(&cause);
	}
}

/*
 * A create's answer that carries the id, the credential and the expiry is a
 * token made, whatever else it lacks or has askew: the fields tokenwarden
 * does not act on are not worth an unknown token, and a retry's second one.
 * Without one of those four, the outcome is unknown.
 */
static void
test_answer_needs_what_is_used(void **state)
{
	static const char *const made[] = {
	    "{\"token\": \"5b89bf4b0a49\", \"access_key\": \"k\", \"access_secret\": \"s\", "
	    "\"expires_at\": \"2027-01-01T00:00:00.000Z\"}",
	    "{\"token\": \"5b89bf4b0a49\", \"name\": null, \"creator_id\": \"one\", "
	    "\"organization_id\": null, \"access_key\": \"k\", \"access_secret\": \"s\", "
	    "\"created_at\": \"soon\", \"updated_at\": 3, \"expires_at\": "
	    "\"2027-01-01T00:00:00.000Z\", \"authentication_for\": 1}",
	};
	static const char *const lacking[] = {
	    "{\"access_key\": \"k\", \"access_secret\": \"s\", \"expires_at\": "
	    "\"2027-01-01T00:00:00.000Z\"}",
	    "{\"token\": \"5b89bf4b0a49\", \"access_secret\": \"s\", \"expires_at\": "
	    "\"2027-01-01T00:00:00.000Z\"}",
	    "{\"token\": \"5b89bf4b0a49\", \"access_key\": \"k\", \"expires_at\": "
	    "\"2027-01-01T00:00:00.000Z\"}",
	    "{\"token\": \"5b89bf4b0a49\", \"access_key\": \"k\", \"access_secret\": \"s\"}",
	    "{\"token\": \"5b89bf4b0a49\", \"access_key\": \"k\", \"access_secret\": \"s\", "
	    "\"expires_at\": \"later\"}",
	};
	char *cause = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof made / sizeof made[0]; i++) {
		if (create_answer(made[i], &cause) != MODE_OK)
			fail_msg("case %zu: %s", i, cause);
	}
	for (size_t i = 0; i < sizeof lacking / sizeof lacking[0]; i++) {
		assert_int_equal(create_answer(lacking[i], &cause), MODE_ERR_UNKNOWN);
		expect_in(cause, "the answer is malformed");
		FREE_NULL(&cause);
	}
}

/* A client that has read one answer's header lines, each given without its "\r\n". */
static struct mode_client *
read_headers(const char *const *lines, size_t n)
{
	char *cause = NULL;
	struct mode_client *c = mode_client_new("http://127.0.0.1:9", "acme", NULL, &opts, &cause);
	char *line;

	assert_non_null(c);
	mode_answer_start(c);
	line = xstrdup("HTTP/1.1 429 Too Many Requests\r\n");
	assert_int_equal(mode_header_cb(line, 1, strlen(line), c), strlen(line));
	free(line);
	for (size_t i = 0; i <= n; i++) {
		line = xasprintf("%s\r\n", i < n ? lines[i] : "");
		assert_int_equal(mode_header_cb(line, 1, strlen(line), c), strlen(line));
		free(line);
	}
	return c;
}

/* The wait a 429 with these headers asks for, in seconds. */
static long
retry_after(const char *const *lines, size_t n)
{
	struct mode_client *c = read_headers(lines, n);
	long ra = mode_retry_after(c);

	mode_client_free(c);
	return ra;
}

#define RA(...)                                                                                    \
	retry_after((const char *const[]){__VA_ARGS__},                                            \
		    sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

/* Numbers are whole or not at all; Retry-After is seconds or an HTTP-date. */
static void
test_rate_headers(void **state)
{
	struct mode_client *c;
	char when[64];
	time_t t;

	(void)state;
	assert_int_equal(RA("Retry-After: 5"), 5);
	assert_int_equal(RA("retry-after:\t7 "), 7);
	assert_int_equal(RA("Retry-After: 5abc"), 1); /* not a number: the default */
	assert_int_equal(RA("Retry-After: -5"), 1);
	/* Ten digits and more: a wait longer than a run, as an HTTP-date a day ahead. */
	assert_int_equal(RA("Retry-After: 1234567890"), RETRY_AFTER_DAY);
	assert_int_equal(RA("Retry-After: 99999999999x"), 1);
	assert_int_equal(RA("Retry-After:"), 1);
	/* An HTTP-date, counted from the answer's Date, wherever that comes. */
	assert_int_equal(
	    RA("Date: Sun, 06 Nov 1994 08:49:37 GMT", "Retry-After: Sun, 06 Nov 1994 08:50:07 GMT"),
	    30);
	assert_int_equal(
	    RA("Retry-After: Sun, 06 Nov 1994 08:50:07 GMT", "Date: Sun, 06 Nov 1994 08:49:37 GMT"),
	    30);
	assert_int_equal(
	    RA("Date: Sun, 06 Nov 1994 08:49:37 GMT", "Retry-After: Sun, 06 Nov 1994 08:40:00 GMT"),
	    1); /* in the past: at once, after the least wait */
	assert_int_equal(
	    RA("Date: Sun, 06 Nov 1994 08:49:37 GMT", "Retry-After: Sun, 06 Nov 1994 09:49:37 GMT"),
	    3600); /* past RETRY_AFTER_MAX: the call fails, and the key is held that long */
	assert_int_equal(
	    RA("Date: Sun, 06 Nov 1994 08:49:37 GMT", "Retry-After: Tue, 08 Nov 1994 08:49:37 GMT"),
	    RETRY_AFTER_DAY); /* further than a run lasts: a day */
	/* Without a Date, from the local clock. */
	t = time(NULL) + 20;
	strftime(when, sizeof when, "Retry-After: %a, %d %b %Y %H:%M:%S GMT", gmtime(&t));
	assert_in_range(RA(when), 18, 21);
	assert_int_equal(RA("Retry-After: tomorrow"), 1);

	c = read_headers(
	    (const char *const[]){"X-RateLimit-Limit: 40 ", "X-RateLimit-Remaining: 3x"}, 2);
	assert_int_equal(c->hdr_limit, 40);
	assert_int_equal(c->hdr_remaining, -1);
	mode_client_free(c);
	/* A count of ten digits or more says nothing that can be used. */
	c = read_headers((const char *const[]){"X-RateLimit-Limit: 1234567890",
					       "X-RateLimit-Remaining: 99999999999"},
			 2);
	assert_int_equal(c->hdr_limit, -1);
	assert_int_equal(c->hdr_remaining, -1);
	mode_client_free(c);
}

/*
 * Feeds c one 200 answer with these header lines (each without "\r\n") to a
 * request sent as token (NULL: the admin's credential), as attempt() does.
 */
static void
answer_as(struct mode_client *c, const char *token, const char *const *lines, size_t n)
{
	char *line;

	mode_answer_start(c);
	c->att_token = token;
	c->att_sent_ms = clock_mono_ms();
	c->att_status = 200;
	line = xstrdup("HTTP/1.1 200 OK\r\n");
	assert_int_equal(mode_header_cb(line, 1, strlen(line), c), strlen(line));
	free(line);
	for (size_t i = 0; i <= n; i++) {
		line = xasprintf("%s\r\n", i < n ? lines[i] : "");
		assert_int_equal(mode_header_cb(line, 1, strlen(line), c), strlen(line));
		free(line);
	}
	mode_answer_done(c, 1);
}

#define ANSWER(c, token, ...)                                                                      \
	answer_as(c, token, (const char *const[]){__VA_ARGS__},                                    \
		  sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

/*
 * Issue 15: which budget a verify draws on is learnt from the answers'
 * X-RateLimit headers: a create, then a verify of the new token whose
 * Remaining did not drop on the admin's count (a server that counts tokens
 * apart), did (one that counts them on the admin's key), or is missing.
 */
static void
test_verify_budget_from_headers(void **state)
{
	static const struct {
		const char *verify_remaining; /* NULL: no rate headers on the verify */
		enum ratelimit_budget want;
	} cases[] = {
	    {"X-RateLimit-Remaining: 39", RATELIMIT_OWN},
	    {"X-RateLimit-Remaining: 38", RATELIMIT_SHARED},
	    {NULL, RATELIMIT_SHARED},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *cause = NULL;
		struct mode_client *c =
		    mode_client_new("http://127.0.0.1:9", "acme", NULL, &opts, &cause);

		assert_non_null(c);
		assert_int_equal(c->book.tokens, RATELIMIT_UNKNOWN);
		/* Until an answer shows otherwise a verify draws on the shared budget too. */
		ratebook_sent(&c->book, NULL, clock_mono_ms());
		ANSWER(c, NULL, "X-RateLimit-Limit: 40", "X-RateLimit-Remaining: 39");
		ratebook_sent(&c->book, "tok1", clock_mono_ms());
		assert_int_equal(ratelimit_since(c->rl, 0), 2);
		if (cases[i].verify_remaining != NULL)
			ANSWER(c, "tok1", "X-RateLimit-Limit: 40", cases[i].verify_remaining);
		else
			ANSWER(c, "tok1", "Content-Type: application/json");
		if (c->book.tokens != cases[i].want)
			fail_msg("case %zu: learnt %d, want %d", i, (int)c->book.tokens,
				 (int)cases[i].want);
		/* Apart, the next verify leaves the admin's budget alone. */
		ratebook_sent(&c->book, "tok2", clock_mono_ms());
		assert_int_equal(ratelimit_since(c->rl, 0), cases[i].want == RATELIMIT_OWN ? 2 : 3);
		mode_client_free(c);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_bearer),
	    cmocka_unit_test(test_transport_rules),
	    cmocka_unit_test(test_refuses_before_sending),
	    cmocka_unit_test(test_undo_while_stopping),
	    cmocka_unit_test(test_http_date_valid),
	    cmocka_unit_test(test_http_date_malformed),
	    cmocka_unit_test(test_clock_judge),
	    cmocka_unit_test(test_clock_state_of_a_new_client),
	    cmocka_unit_test(test_answer_quotes_printable),
	    cmocka_unit_test(test_answer_needs_what_is_used),
	    cmocka_unit_test(test_rate_headers),
	    cmocka_unit_test(test_verify_budget_from_headers),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
