/*
 * Replays fuzz inputs without libFuzzer: calls LLVMFuzzerTestOneInput once
 * on each file named on the command line, or on each regular file of each
 * directory named there (not recursively, in name order).  ctest runs it on
 * the seed corpora with gcc and under ASan + UBSan, so a seed that crashes
 * or leaks fails the suite.  Inputs slower than SLOW_MS are named on stderr.
 *
 * usage: fuzz_TARGET_replay DIR|FILE...
 */
#include "tests/fuzz/fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Larger than any input a target reads (policies stop at 1 MiB). */
#define INPUT_MAX (4 * 1024 * 1024)
#define SLOW_MS 100

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Runs the file at path; returns 0, or -1 after a message when it cannot be read. */
static int
run_file(const char *path, int *slow)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	struct stat st;
	size_t len;
	double ms;
	int rc = -1;

	if (f == NULL || fstat(fileno(f), &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		goto out;
	}
	if (st.st_size > INPUT_MAX) {
		fprintf(stderr, "replay: %s: larger than %d bytes\n", path, INPUT_MAX);
		goto out;
	}
	/* Exactly the input's size, so ASan sees a read past its end. */
	len = (size_t)st.st_size;
	buf = malloc(len == 0 ? 1 : len);
	if (buf == NULL) {
		fprintf(stderr, "replay: out of memory\n");
		goto out;
	}
	if (fread(buf, 1, len, f) != len) {
		fprintf(stderr, "replay: %s: short read\n", path);
		goto out;
	}
	ms = now_ms();
	LLVMFuzzerTestOneInput(buf, len);
	ms = now_ms() - ms;
	if (ms > SLOW_MS) {
		fprintf(stderr, "replay: slow: %s took %.0f ms\n", path, ms);
		(*slow)++;
	}
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	free(buf);
	return rc;
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Runs each regular file in dir; returns the number run, or -1 on an error. */
static int
run_dir(const char *dir, int *slow)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, by_name), count = 0, rc = 0;

	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;
		int w = snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);

		if (w < 0 || (size_t)w >= sizeof path) {
			fprintf(stderr, "replay: %s/%s: path too long\n", dir, names[i]->d_name);
			rc = -1;
		} else if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (run_file(path, slow) < 0)
				rc = -1;
			else
				count++;
		}
		free(names[i]);
	}
	free(names);
	return rc < 0 ? -1 : count;
}

int
main(int argc, char **argv)
{
	int total = 0, slow = 0, failed = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		int n;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			n = run_dir(argv[i], &slow);
		else
			n = run_file(argv[i], &slow) < 0 ? -1 : 1;
		if (n < 0)
			failed = 1;
		else
			total += n;
	}
	printf("replay: %d inputs, %d slower than %d ms\n", total, slow, SLOW_MS);
	if (failed || total == 0) {
		fprintf(stderr, "replay: %s\n",
			failed ? "some inputs could not be read" : "no inputs found");
		return 1;
	}
	return 0;
}
