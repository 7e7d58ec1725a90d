/*
 * A host where libcurl cannot be loaded: core/libcurl.c built again with a
 * soname that does not exist.  Nothing that sends crashes or sends: each
 * libcurl call fails as on a NULL handle, URLs are still read, and a
 * request fails at once, naming the library and why it did not load.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/cred.h"
#include "core/libcurl.h"
#include "core/mode.h"
#include "core/net.h"
#include "core/url.h"
#include "core/xalloc.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

static void
calls_fail_as_on_no_handle(void **state)
{
	char *part = NULL;

	(void)state;
	assert_false(libcurl_loaded());
	assert_null(curl_easy_init());
	assert_false(libcurl_loaded());
	assert_non_null(strstr(libcurl_failure(), TW_LIBCURL_SONAME));
	assert_null(curl_url());
	assert_int_equal(curl_url_get(NULL, CURLUPART_HOST, &part, 0), CURLUE_BAD_HANDLE);
	assert_null(part);
	assert_int_equal(curl_easy_perform(NULL), CURLE_FAILED_INIT);
	assert_null(curl_slist_append(NULL, "Accept: application/json"));
	assert_non_null(curl_easy_strerror(CURLE_OK));
	curl_easy_cleanup(NULL);
	curl_free(NULL);
}

static void
requests_fail_at_once(void **state)
{
	struct cred cred = {.key = xsecret_strdup("k"), .secret = xsecret_strdup("s")};
	struct mode_opts opts;
	struct mode_client *c;
	struct mode_token *tok = NULL;
	struct url u;
	char *cause = NULL;

	(void)state;
	/* The policy's URLs are read all the same. */
	assert_int_equal(url_parse("https://app.mode.com", &u), 0);
	assert_int_equal(net_check_agrees("the API's URL", "https://app.mode.com", &cause), -1);
	assert_non_null(strstr(cause, "cannot load libcurl"));
	free(cause);
	cause = NULL;
	mode_opts_default(&opts);
	opts.retries = 3;
	c = mode_client_new("https://app.mode.com", "acme", &cred, &opts, &cause);
	assert_non_null(c);
	assert_int_equal(mode_create(c, "etl-1", 1893456000000, &tok, &cause),
			 MODE_ERR_UNAVAILABLE);
	assert_null(tok);
	assert_non_null(strstr(cause, "cannot load libcurl"));
	/* One attempt, never retried: a library that did not load does not come back. */
	assert_non_null(strstr(cause, "(1 attempt);"));
	assert_int_equal(mode_requests(c), 0);
	free(cause);
	mode_client_free(c);
	xsecret_free(cred.key);
	xsecret_free(cred.secret);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(calls_fail_as_on_no_handle),
	    cmocka_unit_test(requests_fail_at_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
