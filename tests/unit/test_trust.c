/*
 * Unit tests for core/trust: programs reached as execve reaches them, links
 * followed and checked, directories reached without following a link, and
 * modes that let group or others change them refused with the fix.  Owners
 * other than ours need root: tests/e2e/test_consumer_trust.sh has those.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/trust.h"
#include "core/xalloc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/tw-trust-XXXXXX";

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char *cmd = xasprintf("chmod -R u+rwx '%s'; rm -rf '%s'", dir, dir);
	int rc = system(cmd);

	(void)state;
	free(cmd);
	return rc == 0 ? 0 : -1;
}

/* Runs a shell command in dir; fails the test unless it succeeds. */
static void
sh(const char *command)
{
	char *cmd = xasprintf("cd '%s' && %s", dir, command);

	assert_int_equal(system(cmd), 0);
	free(cmd);
}

/* trust_program on dir/name: its result, and *cause (NULL unless it failed). */
static int
program(const char *name, char **cause)
{
	char *path = xasprintf("%s/%s", dir, name);
	int rc;

	*cause = NULL;
	rc = trust_program(path, cause);
	free(path);
	return rc;
}

static void
test_program(void **state)
{
	char *cause = NULL, *want;

	(void)state;
	sh("mkdir -m 755 bin lib && printf '#!/bin/sh\\n' > bin/hook && chmod 755 bin/hook");
	assert_int_equal(program("bin/hook", &cause), 0);
	assert_null(cause);
	/* Links, relative and climbing, followed as execve follows them. */
	sh("ln -s ../bin/hook lib/via && ln -s bin link-to-dir");
	assert_int_equal(program("lib/via", &cause), 0);
	assert_int_equal(program("link-to-dir/hook", &cause), 0);
	assert_int_equal(program("lib/../bin/./hook", &cause), 0);
	assert_int_equal(trust_program("/bin/sh", &cause), 0);

	/* Group or others may write it, or a directory on the way: refused, with the fix. */
	sh("chmod g+w bin/hook");
	assert_int_equal(program("lib/via", &cause), -1);
	want = xasprintf("%s/bin/hook is writable by group or others (mode 0775); run: chmod go-w "
			 "%s/bin/hook",
			 dir, dir);
	assert_string_equal(cause, want);
	FREE_NULL(&cause);
	free(want);
	sh("chmod g-w bin/hook && chmod o+w bin");
	assert_int_equal(program("bin/hook", &cause), -1);
	assert_non_null(strstr(cause, "/bin is writable by group or others (mode 0757)"));
	FREE_NULL(&cause);
	/* Missing, where nobody else could put it; missing where others could. */
	sh("chmod o-w bin");
	assert_int_equal(program("bin/nothing", &cause), TRUST_MISSING);
	assert_non_null(strstr(cause, "/bin/nothing does not exist"));
	FREE_NULL(&cause);
	sh("mkdir -m 777 open");
	assert_int_equal(program("open/nothing", &cause), -1);
	FREE_NULL(&cause);
	/* Not a program: a directory, a loop, a path on through a file, a relative path. */
	assert_int_equal(program("bin", &cause), -1);
	assert_non_null(strstr(cause, "/bin is not a regular file"));
	FREE_NULL(&cause);
	sh("ln -s loop-b loop-a && ln -s loop-a loop-b");
	assert_int_equal(program("loop-a", &cause), TRUST_UNCHECKED);
	assert_non_null(strstr(cause, "too many symbolic links"));
	FREE_NULL(&cause);
	assert_int_equal(program("bin/hook/more", &cause), TRUST_UNCHECKED);
	assert_non_null(strstr(cause, "/bin/hook is not a directory"));
	FREE_NULL(&cause);
	assert_int_equal(trust_program("bin/hook", &cause), -1);
	assert_string_equal(cause, "bin/hook is not an absolute path");
	FREE_NULL(&cause);
}

/*
 * A script's interpreter gets what the script gets: checked as the script
 * is, through scripts naming scripts as deep as the kernel goes, and named
 * by its absolute path.
 */
static void
test_interpreter(void **state)
{
	char *cause = NULL;

	(void)state;
	/* sh runs in dir: $PWD is its absolute path, which a #! line needs. */
	sh("mkdir -m 755 sb sb/bin sb/lib && printf '#!/bin/sh\\ncat\\n' > sb/lib/interp && "
	   "chmod 775 sb/lib/interp && "
	   "printf '#! %s/sb/lib/interp -x\\n' \"$PWD\" > sb/bin/script && "
	   "chmod 755 sb/bin/script");
	assert_int_equal(program("sb/bin/script", &cause), -1);
	assert_non_null(strstr(cause, "/sb/bin/script runs the interpreter "));
	assert_non_null(strstr(cause, "/sb/lib/interp is writable by group or others (mode 0775)"));
	FREE_NULL(&cause);
	sh("chmod 755 sb/lib/interp");
	assert_int_equal(program("sb/bin/script", &cause), 0);
	assert_null(cause);
	/* Scripts naming scripts: five in a row, as execve runs them, and no more. */
	sh("for i in 1 2 3 4; do printf '#!%s/sb/lib/s%d\\n' \"$PWD\" $((i - 1)) > sb/lib/s$i; "
	   "chmod 755 sb/lib/s$i; done && "
	   "printf '#!/bin/sh\\n' > sb/lib/s0 && chmod 755 sb/lib/s0");
	assert_int_equal(program("sb/lib/s4", &cause), 0);
	sh("printf '#!/bin/sh\\n' > sb/lib/s0 && chmod 775 sb/lib/s0");
	assert_int_equal(program("sb/lib/s4", &cause), -1);
	assert_non_null(strstr(cause, "/sb/lib/s0 is writable by group or others"));
	FREE_NULL(&cause);
	sh("printf '#!%s/sb/lib/s4\\n' \"$PWD\" > sb/lib/s5 && chmod 755 sb/lib/s5 && "
	   "chmod 755 sb/lib/s0");
	assert_int_equal(program("sb/lib/s5", &cause), -1);
	assert_non_null(strstr(cause, "/sb/lib/s0: more than 5 scripts in a row"));
	FREE_NULL(&cause);
	/* A relative interpreter is found from wherever the run stands. */
	sh("printf '#!sh\\n' > sb/bin/rel && chmod 755 sb/bin/rel");
	assert_int_equal(program("sb/bin/rel", &cause), -1);
	assert_non_null(strstr(cause, "names the interpreter sh, not an absolute path"));
	FREE_NULL(&cause);
}

/* trust_open_dir on dir/name: its result (a descriptor is closed), *cause as program's. */
static int
open_dir(const char *name, char **cause)
{
	char *path = xasprintf("%s/%s", dir, name);
	int fd;

	*cause = NULL;
	fd = trust_open_dir(path, TRUST_NOBODY, cause);
	free(path);
	if (fd < 0)
		return fd;
	/* Open for reading, so that a new entry can be synced through it. */
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	assert_int_equal(fsync(fd), 0);
	close(fd);
	return 0;
}

static void
test_open_dir(void **state)
{
	char *cause = NULL, *want;

	(void)state;
	sh("mkdir -m 755 out out/deep && echo x > out/file && ln -s out out-link");
	assert_int_equal(open_dir("out/deep", &cause), 0);
	assert_int_equal(open_dir("out/../out/./deep", &cause), 0);
	assert_null(cause);
	/* No link is followed, wherever it is on the way. */
	assert_int_equal(open_dir("out-link", &cause), -1);
	want = xasprintf("%s/out-link is a symbolic link; a delivery target's directories are "
			 "opened without following links: name the directory itself",
			 dir);
	assert_string_equal(cause, want);
	FREE_NULL(&cause);
	free(want);
	assert_int_equal(open_dir("out-link/deep", &cause), -1);
	FREE_NULL(&cause);
	assert_int_equal(open_dir("out-link/../out", &cause), -1);
	FREE_NULL(&cause);
	/* Writable by group or others: refused; missing, or a file: neither refused nor open. */
	sh("chmod g+w out");
	assert_int_equal(open_dir("out/deep", &cause), -1);
	assert_non_null(strstr(cause, "/out is writable by group or others (mode 0775); run: "
				      "chmod go-w "));
	FREE_NULL(&cause);
	sh("chmod g-w out");
	assert_int_equal(open_dir("out/missing", &cause), TRUST_MISSING);
	FREE_NULL(&cause);
	assert_int_equal(open_dir("out/file", &cause), TRUST_UNCHECKED);
	FREE_NULL(&cause);
	/* A sticky directory root owns is fine (/tmp, above dir, is one when root owns it). */
	sh("mkdir -m 1777 sticky");
	assert_int_equal(open_dir("sticky", &cause), geteuid() == 0 ? 0 : -1);
	FREE_NULL(&cause);
}

/* The owner refusal's beginning names the owner and who may own it instead. */
static void
test_owned_by_other(void **state)
{
	char *me = trust_user_name(geteuid()), *want, *got = trust_owned_by_other("/x/f", 65534);
	char *owner = trust_user_name(65534);

	(void)state;
	if (geteuid() == 0)
		want = xasprintf("/x/f: owned by %s, not by root", owner);
	else
		want = xasprintf("/x/f: owned by %s, not by %s or root", owner, me);
	assert_string_equal(got, want);
	free(got);
	free(want);
	free(owner);
	free(me);
}

/* SUDO_USER, when a plausible name other than ours, is the claimed login. */
static void
test_claimed_login(void **state)
{
	char *me = trust_user_name(geteuid()), *got;
	const char *from = NULL;

	(void)state;
	setenv("SUDO_USER", "alice.b-2", 1);
	got = trust_claimed_login(&from);
	assert_string_equal(got, "alice.b-2");
	assert_string_equal(from, "SUDO_USER");
	free(got);
	/* Ours: nothing to add to the actor. */
	setenv("SUDO_USER", me, 1);
	assert_null(trust_claimed_login(&from));
	/* Not a user name: dropped, not recorded. */
	setenv("SUDO_USER", "bob\x1b[31m", 1);
	got = trust_claimed_login(&from);
	assert_true(got == NULL || strcmp(got, "bob\x1b[31m") != 0);
	free(got);
	setenv("SUDO_USER", "-rf", 1);
	got = trust_claimed_login(&from);
	assert_true(got == NULL || strcmp(from, "getlogin") == 0);
	free(got);
	unsetenv("SUDO_USER");
	free(me);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_program),       cmocka_unit_test(test_interpreter),
	    cmocka_unit_test(test_open_dir),      cmocka_unit_test(test_owned_by_other),
	    cmocka_unit_test(test_claimed_login),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
