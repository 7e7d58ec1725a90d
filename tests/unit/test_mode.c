/*
 * Unit tests for core/mode that need no server: name rules, the Bearer
 * value, and the checks that refuse to send anything.  The client's
 * behaviour against a server is tested in tests/e2e/test_client.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/cred.h"
#include "core/mode.h"
#include "core/xalloc.h"

#include <stdlib.h>
#include <string.h>

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
	xsecret_free(cred.key);
	xsecret_free(cred.secret);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_bearer),
	    cmocka_unit_test(test_transport_rules),
	    cmocka_unit_test(test_refuses_before_sending),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
