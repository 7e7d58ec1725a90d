/* Unit tests for core/outfile: whole files or nothing, the mode asked for, clear causes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/outfile.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/tw-outfile-XXXXXX";

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[64];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *
slurp(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* The number of entries in dir other than . and .. */
static int
entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
test_commit_replaces_whole_with_mode(void **state)
{
	char path[64], *cause = NULL;
	struct outfile o;
	struct stat st;
	mode_t old = umask(077);

	(void)state;
	snprintf(path, sizeof path, "%s/report.html", dir);
	assert_int_equal(outfile_open(&o, path, 0644, &cause), 0);
	fputs("first", o.f);
	/* Until the commit, a reader sees nothing at the target. */
	assert_null(slurp(path));
	assert_int_equal(outfile_commit(&o, &cause), 0);
	assert_string_equal(slurp(path), "first");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);

	assert_int_equal(outfile_open(&o, path, 0600, &cause), 0);
	fputs("second", o.f);
	assert_string_equal(slurp(path), "first");
	assert_int_equal(outfile_commit(&o, &cause), 0);
	assert_string_equal(slurp(path), "second");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(entries(), 1);
	umask(old);
}

static void
test_abort_leaves_target(void **state)
{
	char path[64], *cause = NULL;
	struct outfile o;

	(void)state;
	snprintf(path, sizeof path, "%s/report.html", dir);
	assert_int_equal(outfile_open(&o, path, 0644, &cause), 0);
	fputs("half", o.f);
	outfile_abort(&o);
	outfile_abort(&o);
	assert_string_equal(slurp(path), "second");
	assert_int_equal(entries(), 1);
}

static void
test_refusals_name_the_path(void **state)
{
	char path[64], *cause = NULL;
	struct outfile o;

	(void)state;
	snprintf(path, sizeof path, "%s/missing/report.csv", dir);
	assert_int_equal(outfile_open(&o, path, 0644, &cause), -1);
	assert_non_null(strstr(cause, path));
	assert_non_null(strstr(cause, "No such file"));
	free(cause);
	cause = NULL;

	snprintf(path, sizeof path, "%s/", dir);
	assert_int_equal(outfile_open(&o, path, 0644, &cause), -1);
	assert_non_null(strstr(cause, "names a directory"));
	free(cause);
	cause = NULL;

	/* A directory at the target: refused before anything is made. */
	snprintf(path, sizeof path, "%s/sub", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(outfile_open(&o, path, 0644, &cause), -1);
	assert_non_null(strstr(cause, "sub: names a directory; give a file's path"));
	free(cause);
	assert_int_equal(entries(), 2);
	assert_int_equal(rmdir(path), 0);
}

/* Whether path is still a FIFO, or a symbolic link to to. */
static int
is_fifo(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISFIFO(st.st_mode);
}

static int
links_to(const char *path, const char *to)
{
	char buf[64];
	ssize_t n = readlink(path, buf, sizeof buf - 1);

	if (n < 0)
		return 0;
	buf[n] = '\0';
	return strcmp(buf, to) == 0;
}

/*
 * Only a regular file is replaced: a FIFO, a device or a link at the target
 * (as /dev/null and /dev/stdout are) is a path given wrong, refused at the
 * open and again at the commit, and left as it was.
 */
static void
test_only_regular_files_replaced(void **state)
{
	char fifo[64], link[64], *cause = NULL;
	struct outfile o;
	int before = entries();

	(void)state;
	snprintf(fifo, sizeof fifo, "%s/fifo", dir);
	snprintf(link, sizeof link, "%s/stdout", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(symlink("/proc/self/fd/1", link), 0);

	assert_int_equal(outfile_open(&o, fifo, 0644, &cause), -1);
	assert_non_null(strstr(cause, "fifo: is a FIFO, which the new file would replace, not "
				      "write through; give a regular file's path"));
	free(cause);
	cause = NULL;
	assert_int_equal(outfile_open(&o, link, 0644, &cause), -1);
	assert_non_null(strstr(cause, "stdout: is a symbolic link, which the new file would"));
	free(cause);
	cause = NULL;
	assert_int_equal(outfile_replaceable(AT_FDCWD, fifo, "given", &cause), -1);
	assert_non_null(strstr(cause, "given: is a FIFO"));
	free(cause);
	cause = NULL;
	assert_true(is_fifo(fifo));
	assert_true(links_to(link, "/proc/self/fd/1"));
	assert_int_equal(entries(), before + 2);

	/* One that appears while the file is written: the commit refuses, and drops its file. */
	assert_int_equal(unlink(fifo), 0);
	assert_int_equal(outfile_open(&o, fifo, 0644, &cause), 0);
	fputs("x", o.f);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(outfile_commit(&o, &cause), -1);
	assert_non_null(strstr(cause, "fifo: is a FIFO"));
	free(cause);
	assert_true(is_fifo(fifo));
	assert_int_equal(entries(), before + 2);

	/* Nothing there, or a regular file: allowed. */
	assert_int_equal(unlink(fifo), 0);
	assert_int_equal(unlink(link), 0);
	cause = NULL;
	assert_int_equal(outfile_replaceable(AT_FDCWD, fifo, fifo, &cause), 0);
	assert_null(cause);
}

static void
test_standard_output(void **state)
{
	struct outfile o;
	char *cause = NULL;

	(void)state;
	assert_int_equal(outfile_open(&o, "-", 0644, &cause), 0);
	assert_ptr_equal(o.f, stdout);
	assert_int_equal(outfile_commit(&o, &cause), 0);
	assert_int_equal(outfile_open(&o, NULL, 0644, &cause), 0);
	assert_ptr_equal(o.f, stdout);
	outfile_abort(&o);
}

/*
 * Temporary names beside a target: .NAME.tw- and six characters of A-Z,
 * a-z, 0-9, - and _, each new file 0600, no two alike, the characters
 * spread over the whole set.
 */
static void
test_names_beside(void **state)
{
	enum { N = 200 };
	static const char set[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *names[N];
	int seen[256] = {0}, kinds = 0, before = entries(), d = open(dir, O_RDONLY | O_DIRECTORY);

	(void)state;
	assert_true(d >= 0);
	for (int i = 0; i < N; i++) {
		struct stat st;
		int fd = outfile_create_beside(d, "t.json", &names[i]);

		assert_true(fd >= 0);
		assert_int_equal(fstat(fd, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		close(fd);
		assert_int_equal(strlen(names[i]), strlen(".t.json.tw-") + 6);
		assert_memory_equal(names[i], ".t.json.tw-", strlen(".t.json.tw-"));
		for (const char *c = names[i] + strlen(".t.json.tw-"); *c != '\0'; c++) {
			assert_non_null(strchr(set, *c));
			kinds += seen[(unsigned char)*c]++ == 0;
		}
		for (int j = 0; j < i; j++)
			assert_string_not_equal(names[i], names[j]);
	}
	/* 1,200 draws from 64 leave two unseen with odds of about 1e-13. */
	assert_true(kinds >= 63);
	for (int i = 0; i < N; i++) {
		assert_int_equal(unlinkat(d, names[i], 0), 0);
		free(names[i]);
	}
	close(d);
	assert_int_equal(entries(), before);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_commit_replaces_whole_with_mode),
	    cmocka_unit_test(test_abort_leaves_target),
	    cmocka_unit_test(test_refusals_name_the_path),
	    cmocka_unit_test(test_only_regular_files_replaced),
	    cmocka_unit_test(test_standard_output),
	    cmocka_unit_test(test_names_beside),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
