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
	assert_int_equal(cred_load(NULL, path, CRED_FROM_OPTIONS, 0, &c, &cause), 0);
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
	assert_int_equal(cred_load(NULL, path, CRED_FROM_OPTIONS, 0, &c, &cause), -1);
	assert_null(c);
	assert_non_null(strstr(cause, "permissions 0644 are too open"));
	assert_non_null(strstr(cause, "chmod 600"));
	assert_null(strstr(cause, "secret\n")); /* the value is never quoted */
	free(cause);
	free(path);
}

/* A NUL byte would cut the secret short without a word: every reader refuses it. */
static void
test_nul_byte(void **state)
{
	static const char text[] = "apikey:sec\0ret\n";
	char *path = xasprintf("%s/nul", dir), *cause = NULL, *out = NULL;
	struct cred *c = NULL;
	size_t len = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
	close(fd);
	assert_int_equal(cred_load(NULL, path, CRED_FROM_OPTIONS, 0, &c, &cause), -1);
	assert_null(c);
	assert_non_null(strstr(cause, "holds a NUL byte at offset 10"));
	free(cause);
	cause = NULL;
	fd = open(path, O_RDONLY);
	assert_int_equal(cred_read_fd(fd, "standard input", 64, &out, &len, &cause), -1);
	assert_null(out);
	assert_string_equal(cause,
			    "standard input: holds a NUL byte at offset 10; is it the right file?");
	close(fd);
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
		assert_int_equal(cred_load(NULL, path, CRED_FROM_OPTIONS, 0, &c, &cause), -1);
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
	assert_int_equal(cred_load("acme-admin", NULL, CRED_FROM_OPTIONS, 0, &c, &cause), 0);
	assert_string_equal(c->key, "k1");
	assert_string_equal(c->secret, "s1");
	cred_free(c);
	c = NULL;
	assert_int_equal(cred_load("../etc/passwd", NULL, CRED_FROM_OPTIONS, 0, &c, &cause), -1);
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
	assert_int_equal(cred_load("absent", NULL, CRED_FROM_OPTIONS, 0, &c, &cause), 0);
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
	assert_int_equal(cred_load("acme-admin", NULL, CRED_FROM_OPTIONS, 0, &c, &cause), -1);
	assert_null(c);
	assert_non_null(strstr(cause, "no Mode API credential"));
	assert_non_null(strstr(cause, "--credential-file"));
	free(cause);
	assert_int_equal(cred_load(NULL, "/nonexistent/cred", CRED_FROM_OPTIONS, 0, &c, &cause),
			 -1);
	assert_non_null(strstr(cause, "/nonexistent/cred: cannot open"));
	free(cause);
}

/*
 * A policy's credential can come only from the service: its messages say
 * where the run looked and give LoadCredential=, never an option the verb
 * does not take.
 */
static void
test_policy_advice(void **state)
{
	struct cred *c = NULL;
	char *cause = NULL, *path, *want;

	(void)state;
	unsetenv(CRED_ENV);
	cred_stash_env();
	unsetenv("CREDENTIALS_DIRECTORY");
	assert_int_equal(cred_load("acme-admin", NULL, CRED_FROM_POLICY, 2, &c, &cause), -1);
	assert_null(c);
	assert_string_equal(
	    cause, "$CREDENTIALS_DIRECTORY is not set, nor "
		   "$TOKENWARDEN_CREDENTIAL_ACME_ADMIN; add "
		   "LoadCredential=acme-admin:/etc/tokenwarden/credentials/acme-admin (a file "
		   "holding KEY:SECRET) to the service, or set "
		   "TOKENWARDEN_CREDENTIAL_ACME_ADMIN");
	free(cause);
	cause = NULL;
	/* The policy's only credential: $TOKENWARDEN_CREDENTIAL would do too. */
	assert_int_equal(cred_load("acme-admin", NULL, CRED_FROM_POLICY, 1, &c, &cause), -1);
	assert_non_null(strstr(cause, "nor $TOKENWARDEN_CREDENTIAL_ACME_ADMIN or "
				      "$TOKENWARDEN_CREDENTIAL; add LoadCredential="));
	free(cause);
	cause = NULL;

	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	assert_int_equal(cred_load("absent-admin", NULL, CRED_FROM_POLICY, 2, &c, &cause), -1);
	want = xasprintf(
	    "%s/absent-admin: cannot open: No such file or directory; add "
	    "LoadCredential=absent-admin:/etc/tokenwarden/credentials/absent-admin (a file holding "
	    "KEY:SECRET) to the service",
	    dir);
	assert_string_equal(cause, want);
	free(want);
	free(cause);
	cause = NULL;
	/* From the options the same file gets no service advice. */
	assert_int_equal(cred_load("absent-admin", NULL, CRED_FROM_OPTIONS, 0, &c, &cause), -1);
	assert_null(strstr(cause, "LoadCredential"));
	free(cause);
	cause = NULL;
	/* A file that is there says its own fix, and nothing else. */
	path = write_file("loose-admin", "k:s\n", 0644);
	assert_int_equal(cred_load("loose-admin", NULL, CRED_FROM_POLICY, 2, &c, &cause), -1);
	assert_non_null(strstr(cause, "chmod 600"));
	assert_null(strstr(cause, "LoadCredential"));
	free(cause);
	unsetenv("CREDENTIALS_DIRECTORY");
	free(path);
}

/*
 * Issue 12, finding 2: with two workspaces naming acme-admin and
 * globex-admin, $TOKENWARDEN_CREDENTIAL (acme's key) was sent to globex.
 * Each name has a variable of its own; the shared one stands only for a
 * policy's one credential, or for what the options name.
 */
static void
test_named_variables(void **state)
{
	struct cred *c = NULL;
	char *cause = NULL, *var;

	(void)state;
	unsetenv("CREDENTIALS_DIRECTORY");
	var = cred_env_name("acme-admin");
	assert_string_equal(var, "TOKENWARDEN_CREDENTIAL_ACME_ADMIN");
	free(var);
	var = cred_env_name("Globex.admin_2");
	assert_string_equal(var, "TOKENWARDEN_CREDENTIAL_GLOBEX_ADMIN_2");
	free(var);

	setenv(CRED_ENV, "acmekey:acmesecret", 1);
	setenv("TOKENWARDEN_CREDENTIAL_GLOBEX_ADMIN", "globexkey:globexsecret", 1);
	cred_stash_env();
	/* No child inherits either. */
	assert_null(getenv(CRED_ENV));
	assert_null(getenv("TOKENWARDEN_CREDENTIAL_GLOBEX_ADMIN"));

	assert_int_equal(cred_load("globex-admin", NULL, CRED_FROM_POLICY, 2, &c, &cause), 0);
	assert_string_equal(c->key, "globexkey");
	assert_string_equal(c->origin, "$TOKENWARDEN_CREDENTIAL_GLOBEX_ADMIN");
	cred_free(c);
	c = NULL;
	/* One of two credentials: the shared variable cannot say it is acme's. */
	assert_int_equal(cred_load("acme-admin", NULL, CRED_FROM_POLICY, 2, &c, &cause), -1);
	assert_null(c);
	assert_string_equal(
	    cause, "$CREDENTIALS_DIRECTORY is not set, nor "
		   "$TOKENWARDEN_CREDENTIAL_ACME_ADMIN; $TOKENWARDEN_CREDENTIAL "
		   "stands only for a policy naming one credential, and this one "
		   "names 2; add LoadCredential=acme-admin:/etc/tokenwarden/credentials/acme-admin "
		   "(a file holding KEY:SECRET) to the service, or set "
		   "TOKENWARDEN_CREDENTIAL_ACME_ADMIN");
	assert_null(strstr(cause, "acmesecret"));
	FREE_NULL(&cause);
	/* The same from a verb's options when the policy named it. */
	assert_int_equal(cred_load("acme-admin", NULL, CRED_FROM_OPTIONS, 2, &c, &cause), -1);
	assert_string_equal(cause, "no Mode API credential acme-admin ($TOKENWARDEN_CREDENTIAL "
				   "stands only for a policy naming one credential, and this one "
				   "names 2): use --credential NAME with systemd's "
				   "$CREDENTIALS_DIRECTORY, --credential-file FILE (mode 0600), or "
				   "set TOKENWARDEN_CREDENTIAL_ACME_ADMIN");
	FREE_NULL(&cause);
	/* The policy's only credential, or the one the options name: the shared variable. */
	assert_int_equal(cred_load("acme-admin", NULL, CRED_FROM_POLICY, 1, &c, &cause), 0);
	assert_string_equal(c->key, "acmekey");
	assert_string_equal(c->origin, "$" CRED_ENV);
	cred_free(c);
	c = NULL;
	assert_int_equal(cred_load("acme-admin", NULL, CRED_FROM_OPTIONS, 0, &c, &cause), 0);
	assert_string_equal(c->key, "acmekey");
	cred_free(c);

	/* A later stash forgets what is no longer set. */
	cred_stash_env();
	c = NULL;
	assert_int_equal(cred_load("globex-admin", NULL, CRED_FROM_POLICY, 2, &c, &cause), -1);
	FREE_NULL(&cause);
}

/*
 * A token file that is not JSON is named by line, column and what is wrong,
 * never by jansson's text, which quotes up to 20 bytes of what it stopped at:
 * here the start of the secret (a tab pasted in, a file cut short, a stray
 * backslash).
 */
static void
test_token_json_error_quotes_nothing(void **state)
{
	static const char *const inputs[] = {
	    "{\"token\":\"tok1\",\"access_key\":\"AK1\",\"access_secret\":\"Zq9hunter2Xy\tz\"}",
	    "{\"token\":\"tok1\",\"access_key\":\"AK1\",\"access_secret\":\"Zq9hunter2Xy",
	    "{\"token\":\"tok1\",\"access_key\":\"AK1\",\"access_secret\":\"Zq9hunter2\\Xy\"}",
	    "{\"token\":\"tok1\",\"access_key\":\"AK1\",\"access_secret\":Zq9hunter2Xy}",
	};
	char *cause = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
		char *text = xsecret_strdup(inputs[i]);
		struct cred_token tc = {0};

		assert_int_equal(cred_token_parse(text, "tf", 0, &tc, &cause), -1);
		assert_null(strstr(cause, "hunter"));
		assert_null(strstr(cause, "Zq9"));
		assert_non_null(strstr(cause, "tf: not JSON (line 1, column "));
		FREE_NULL(&cause);
		xsecret_free(text);
	}
	{
		char *text = xsecret_strdup(inputs[1]);
		struct cred_token tc = {0};

		assert_int_equal(cred_token_parse(text, "tf", 0, &tc, &cause), -1);
		assert_string_equal(cause, "tf: not JSON (line 1, column 64: it ends too early)");
		FREE_NULL(&cause);
		xsecret_free(text);
	}
}

/*
 * A FIFO at a credential's path is refused at once: a blocking open would
 * wait for a writer, and hang the nightly run past any signal (the alarm
 * ends a test that hangs).
 */
static void
test_fifo_refused(void **state)
{
	char *path = xasprintf("%s/fifo", dir), *out = NULL, *cause = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(10);
	assert_int_equal(cred_read_file(path, 4096, &out, &len, &cause), -1);
	alarm(0);
	assert_null(out);
	assert_non_null(strstr(cause, "fifo: not a regular file"));
	free(cause);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_file_ok),
	    cmocka_unit_test(test_file_too_open),
	    cmocka_unit_test(test_nul_byte),
	    cmocka_unit_test(test_bad_formats),
	    cmocka_unit_test(test_credentials_directory),
	    cmocka_unit_test(test_environment_is_scrubbed),
	    cmocka_unit_test(test_no_source),
	    cmocka_unit_test(test_policy_advice),
	    cmocka_unit_test(test_named_variables),
	    cmocka_unit_test(test_token_json_error_quotes_nothing),
	    cmocka_unit_test(test_fifo_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
