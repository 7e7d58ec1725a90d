/*
 * Unit tests for core/url and net_check_agrees: the strict grammar, by
 * table; reading a URL never loads libcurl; and on every URL the grammar
 * accepts, out of random ones built from the pieces that parsers disagree
 * on ('@', '\\', '%', brackets, odd ports and numeric hosts), libcurl reads
 * the same scheme, host and port.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/libcurl.h"
#include "core/net.h"
#include "core/url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct accepted {
	const char *text, *scheme, *host;
	long port;
	int userinfo, path, query, fragment;
};

static const struct accepted good[] = {
    {"https://app.mode.com", "https", "app.mode.com", -1, 0, 0, 0, 0},
    {"https://app.mode.com/", "https", "app.mode.com", -1, 0, 0, 0, 0},
    {"HTTPS://App.Mode.com:443/api", "https", "App.Mode.com", 443, 0, 1, 0, 0},
    {"http://127.0.0.1:8080", "http", "127.0.0.1", 8080, 0, 0, 0, 0},
    {"http://[::1]:9/x?y#z", "http", "[::1]", 9, 0, 1, 1, 1},
    {"https://u:p@host.example", "https", "host.example", -1, 1, 0, 0, 0},
    {"https://hooks.example/services/T0/B0/x%2Fy?key=a&token=b", "https", "hooks.example", -1, 0, 1,
     1, 0},
    {"socks5h://proxy.internal:1080", "socks5h", "proxy.internal", 1080, 0, 0, 0, 0},
    {"https://h:00080", "https", "h", 80, 0, 0, 0, 0},
    {"https://a_b.example?", "https", "a_b.example", -1, 0, 0, 1, 0},
};

static const char *const bad[] = {
    "",
    "app.mode.com",
    "https:/app.mode.com",
    "https://",
    "https://:443",
    "https://host:",
    "https://host:0",
    "https://host:65536",
    "https://host:123456",
    "https://host:8a",
    "https://ho st",
    "https://host/a b",
    "https://host/\t",
    "https://host\\@evil.example",
    "https://host/\\",
    "https://h%6fst",
    "https://a@b@host",
    "https://[::1",
    "https://[::1]x",
    "https://[fe80::1%25eth0]",
    "https://[not-v6]",
    "https://127.1",
    "https://0177.0.0.1",
    "https://0x7f.0.0.1",
    "https://2130706433",
    "https://host/%zz",
    "https://host/%4",
    "https://host#a#b",
    "https://h\xc3\xa9.example",
    "1https://host",
    "averyveryverylongscheme://host",
};

static void
reads_by_table(void **state)
{
	struct url u;

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		const struct accepted *g = &good[i];

		if (url_parse(g->text, &u) < 0)
			fail_msg("refused %s", g->text);
		assert_string_equal(u.scheme, g->scheme);
		assert_string_equal(u.host, g->host);
		assert_int_equal(u.port, g->port);
		assert_int_equal(u.userinfo, g->userinfo);
		assert_int_equal(u.path, g->path);
		assert_int_equal(u.query, g->query);
		assert_int_equal(u.fragment, g->fragment);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (url_parse(bad[i], &u) == 0)
			fail_msg("accepted %s", bad[i]);
}

static void
knows_loopback(void **state)
{
	(void)state;
	assert_true(url_host_is_loopback("localhost"));
	assert_true(url_host_is_loopback("LocalHost"));
	assert_true(url_host_is_loopback("127.0.0.1"));
	assert_true(url_host_is_loopback("127.255.1.2"));
	assert_true(url_host_is_loopback("[::1]"));
	assert_false(url_host_is_loopback("128.0.0.1"));
	assert_false(url_host_is_loopback("localhost.example"));
	assert_false(url_host_is_loopback("[::2]"));
	assert_false(url_host_is_loopback("127.0.0.1.example"));
}

/* Runs first: nothing so far has loaded libcurl, and reading URLs does not. */
static void
reading_does_not_load_libcurl(void **state)
{
	struct url u;
	char *cause = NULL;

	(void)state;
	assert_false(libcurl_loaded());
	assert_int_equal(url_parse("https://app.mode.com/x?y", &u), 0);
	assert_int_equal(net_check_proxy("proxy", "http://proxy:3128", &cause), 0);
	assert_true(net_url_is_loopback("http://127.0.0.1:9"));
	assert_false(libcurl_loaded());
	assert_int_equal(net_check_agrees("the API's URL", "https://app.mode.com", &cause), 0);
	assert_true(libcurl_loaded());
	assert_string_equal(libcurl_failure(), "");
}

/* A random URL of pieces chosen to trip parsers up, into buf. */
static void
random_url(char *buf, size_t size, unsigned *seed)
{
	static const char *const schemes[] = {"https://", "http://",   "HTTP://", "socks5://",
					      "https:/",  "https:///", "ftp://"};
	static const char *const users[] = {"", "", "", "u@", "u:p@", "@", "a@b@", "%40@"};
	static const char *const hosts[] = {"app.mode.com",
					    "127.0.0.1",
					    "localhost",
					    "[::1]",
					    "[::ffff:127.0.0.1]",
					    "127.1",
					    "0x7f.0.0.1",
					    "1.2.3.4.",
					    "h_st",
					    "xn--bcher-kva.example",
					    "a..b",
					    ".",
					    "-",
					    "evil.example\\@good.example",
					    "good.example%2f",
					    "[::1",
					    "[fe80::1]",
					    "h\tost",
					    "2130706433",
					    "a.b-c.d9",
					    "example.com.",
					    "ex ample.com"};
	static const char *const ports[] = {"",       "",  "",    ":443", ":0",     ":65535",
					    ":65536", ":", ":08", ":1a",  ":99999", "::80"};
	static const char *const rests[] = {"",
					    "/",
					    "/batch/acme",
					    "?q=1",
					    "#f",
					    "/a?b#c",
					    "/%2e%2e/x",
					    "/a\\b",
					    "//x@y",
					    "/@evil.example",
					    "?@evil.example/",
					    "/%zz",
					    "/~user/it's",
					    "#a#b",
					    "/x y",
					    ":80"};
	unsigned r[5];

	for (size_t i = 0; i < 5; i++)
		r[i] = (unsigned)rand_r(seed);
	snprintf(buf, size, "%s%s%s%s%s", schemes[r[0] % (sizeof schemes / sizeof *schemes)],
		 users[r[1] % (sizeof users / sizeof *users)],
		 hosts[r[2] % (sizeof hosts / sizeof *hosts)],
		 ports[r[3] % (sizeof ports / sizeof *ports)],
		 rests[r[4] % (sizeof rests / sizeof *rests)]);
}

static void
libcurl_reads_what_it_accepts_alike(void **state)
{
	unsigned seed = (unsigned)time(NULL), start = seed;
	const char *env = getenv("TW_URL_SEED");
	int accepted = 0;
	char buf[256];
	struct url u;

	(void)state;
	if (env != NULL)
		seed = start = (unsigned)strtoul(env, NULL, 10);
	for (int i = 0; i < 20000; i++) {
		char *cause = NULL;

		random_url(buf, sizeof buf, &seed);
		if (url_parse(buf, &u) < 0)
			continue;
		accepted++;
		if (net_check_agrees("url", buf, &cause) < 0)
			fail_msg("libcurl reads %s otherwise (TW_URL_SEED=%u): %s", buf, start,
				 cause);
	}
	/* The pieces make both kinds: the comparison is not of refusals alone. */
	assert_in_range(accepted, 2000, 18000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(reading_does_not_load_libcurl),
	    cmocka_unit_test(reads_by_table),
	    cmocka_unit_test(knows_loopback),
	    cmocka_unit_test(libcurl_reads_what_it_accepts_alike),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
