/* Unit tests for core/cred: sources, format, and the file permission rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/cred.h"
#include "core/xalloc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/tw-cred-XXXXXX";

static char *
write_file(const char *name, const char *text, mode_t mode)
{
	char *path = xasprintf("%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL;
}

static int
teardown(void **state)
{
	char *cmd = xasprintf("rm -rf %s", dir);
	int rc;

	(void)state;
	rc = system(cmd);
	free(cmd);
	return rc;
}

static void
test_file_ok(void **state)
{
	char *path = write_file("ok", "apikey:s3cr:et\n", 0600), *cause = NULL;
	struct cred *c = NULL;

	(void)state;
	assert_int_equal(cred_load(NULL, path, &c, &cause), 0);
	assert_string_equal(c->key, "apikey");
	assert_string_equal(c->secret, "s3cr:et");
	assert_string_equal(c->origin, path);
	cred_free(c);
	free(path);
}

static void
test_file_too_open(void **state)
{
	char *path = write_file("open", "apikey:secret\n", 0644), *cause = NULL;
	struct cred *c = NULL;

	(void)state;
	assert_int_equal(cred_load(NULL, path, &c, &cause), -1);
	assert_null(c);
	assert_non_null(strstr(cause, "permissions 0644 are too open"));
	assert_non_null(strstr(cause, "chmod 600"));
	assert_null(strstr(cause, "secret\n")); /* the value is never quoted */
	free(cause);
	free(path);
}

static void
test_bad_formats(void **state)
{
	static const char *const bad[] = {"", "hunter2\n", ":hunter2\n", "key:\n",
					  "key:hunter2\nmore\n"};
	char name[16];

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *path, *cause = NULL;
		struct cred *c = NULL;

		snprintf(name, sizeof name, "bad%zu", i);
		path = write_file(name, bad[i], 0600);
		assert_int_equal(cred_load(NULL, path, &c, &cause), -1);
		assert_non_null(strstr(cause, path));
		assert_null(strstr(cause, "hunter2"));
		free(cause);
		free(path);
	}
}

static void
test_credentials_directory(void **state)
{
	char *path = write_file("acme-admin", "k1:s1", 0400), *cause = NULL;
	struct cred *c = NULL;

	(void)state;
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	assert_int_equal(cred_load("acme-admin", NULL, &c, &cause), 0);
	assert_string_equal(c->key, "k1");
	assert_string_equal(c->secret, "s1");
	cred_free(c);
	c = NULL;
	assert_int_equal(cred_load("../etc/passwd", NULL, &c, &cause), -1);
	assert_non_null(strstr(cause, "not a plain file name"));
	free(cause);
	unsetenv("CREDENTIALS_DIRECTORY");
	free(path);
}

static void
test_environment_is_scrubbed(void **state)
{
	struct cred *c = NULL;
	char *cause = NULL;

	(void)state;
	setenv(CRED_ENV, "envkey:envsecret", 1);
	cred_stash_env();
	assert_null(getenv(CRED_ENV));
	assert_int_equal(cred_load("absent", NULL, &c, &cause), 0);
	assert_string_equal(c->key, "envkey");
	assert_string_equal(c->secret, "envsecret");
	assert_string_equal(c->origin, "$" CRED_ENV);
	cred_free(c);
}

static void
test_no_source(void **state)
{
	struct cred *c = NULL;
	char *cause = NULL;

	(void)state;
	unsetenv(CRED_ENV);
	cred_stash_env();
	assert_int_equal(cred_load("acme-admin", NULL, &c, &cause), -1);
	assert_null(c);
	assert_non_null(strstr(cause, "no Mode API credential"));
	assert_non_null(strstr(cause, "--credential-file"));
	free(cause);
	assert_int_equal(cred_load(NULL, "/nonexistent/cred", &c, &cause), -1);
	assert_non_null(strstr(cause, "/nonexistent/cred: cannot open"));
	free(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_file_ok),
	    cmocka_unit_test(test_file_too_open),
	    cmocka_unit_test(test_bad_formats),
	    cmocka_unit_test(test_credentials_directory),
	    cmocka_unit_test(test_environment_is_scrubbed),
	    cmocka_unit_test(test_no_source),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
