/*
 * The audit report benchmark of issue 14: over gen_inventory's 100,000 rows,
 * `tokenwarden audit report` in every format must finish under 0.5 s and
 * stay under 32 MiB.  Each format runs --runs times, its output written to a
 * file as an auditor would keep it; prints wall time (best, median, worst),
 * median CPU time (both threads: the history is checked on a second one),
 * peak RSS and the output's size, and exits 1 when a median reaches 500 ms
 * or a run's peak RSS 32 MiB, 2 on a usage or setup error.  Then `tokenwarden
 * backup` of the same store (87 MiB), as often: its peak RSS must stay under
 * 16 MiB, whatever the store's size (exit 1 when a run reaches it).  Not part
 * of ctest: `./dev bench` runs it.
 */
#include "gen.h"
#include "measure.h"

#include "core/exitcodes.h"
#include "core/xalloc.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GOAL_MS 500.0
#define GOAL_MIB 32.0
#define BACKUP_GOAL_MIB 16.0

struct opts {
	const char *config, *db, *binary, *dir;
	int runs;
};

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
	    {"config", required_argument, NULL, 'c'},      {"db", required_argument, NULL, 'd'},
	    {"tokenwarden", required_argument, NULL, 't'}, {"out", required_argument, NULL, 'o'},
	    {"runs", required_argument, NULL, 'r'},        {NULL, 0, NULL, 0},
	};
	int c;

	*o = (struct opts){.runs = 7};
	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'd':
			o->db = optarg;
			break;
		case 't':
			o->binary = optarg;
			break;
		case 'o':
			o->dir = optarg;
			break;
		case 'r':
			if (measure_parse_runs(optarg, &o->runs) < 0)
				return -1;
			break;
		default:
			return -1;
		}
	}
	return o->config != NULL && o->db != NULL && o->binary != NULL && o->dir != NULL &&
		       o->runs > 0
		   ? 0
		   : -1;
}

/* Runs one format o->runs times; prints its line; returns 1 when it misses a goal, -1 on error. */
static int
bench_format(const struct opts *o, const char *format)
{
	const char *args[] = {o->binary, "audit", "report",  "--config", o->config, "--db",
			      o->db,     "--at",  BENCH_NOW, "--format", format};
	char out[4096], *argv[sizeof args / sizeof args[0] + 1] = {NULL};
	double wall[MEASURE_MAX_RUNS], cpu[MEASURE_MAX_RUNS], med;
	long rss = 0, peak = 0;
	struct stat st;
	int rc = 0;

	for (size_t i = 0; i < sizeof args / sizeof args[0]; i++)
		argv[i] = xstrdup(args[i]);

	snprintf(out, sizeof out, "%s/report.%s", o->dir, format);
	for (int i = 0; i < o->runs; i++) {
		int status = measure_run(argv, out, 0, &wall[i], &cpu[i], &rss, NULL);

		if (status != TW_EXIT_FINDINGS) {
			fprintf(stderr, "bench_report: audit report --format %s exited %d, not 4\n",
				format, status);
			rc = -1;
			break;
		}
		peak = rss > peak ? rss : peak;
	}
	for (size_t i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	if (rc < 0)
		return -1;
	med = measure_median(wall, o->runs);
	printf("%-8s %8.1f %8.1f %8.1f %8.1f %8.1f %10lld\n", format, wall[0], med,
	       wall[o->runs - 1], measure_median(cpu, o->runs), (double)peak / 1024.0,
	       stat(out, &st) == 0 ? (long long)st.st_size : -1LL);
	return med >= GOAL_MS || (double)peak / 1024.0 >= GOAL_MIB ? 1 : 0;
}

/* Backs the store up o->runs times; prints its line; returns 1 when it misses its goal, -1 on
 * error. */
static int
bench_backup(const struct opts *o)
{
	char copy[4096], sink[4096];
	const char *args[] = {o->binary, "backup", "--db", o->db, copy};
	char *argv[sizeof args / sizeof args[0] + 1] = {NULL};
	double wall[MEASURE_MAX_RUNS], cpu[MEASURE_MAX_RUNS], med;
	long rss = 0, peak = 0;
	struct stat st;
	int rc = 0;

	snprintf(copy, sizeof copy, "%s/backup.db", o->dir);
	snprintf(sink, sizeof sink, "%s/backup.out", o->dir);
	for (size_t i = 0; i < sizeof args / sizeof args[0]; i++)
		argv[i] = xstrdup(args[i]);
	for (int i = 0; i < o->runs && rc == 0; i++) {
		int status;

		unlink(copy);
		status = measure_run(argv, sink, 0, &wall[i], &cpu[i], &rss, NULL);

		if (status != TW_EXIT_OK) {
			fprintf(stderr, "bench_report: backup exited %d, not 0\n", status);
			rc = -1;
		}
		peak = rss > peak ? rss : peak;
	}
	for (size_t i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	if (rc < 0)
		return -1;
	printf("\nbackup of the same store (%lld bytes), %d runs\n",
	       stat(o->db, &st) == 0 ? (long long)st.st_size : -1LL, o->runs);
	printf("%-8s %8s %8s %8s %8s %8s %10s\n", "", "best", "median", "worst", "cpu", "MiB",
	       "bytes");
	med = measure_median(wall, o->runs); /* sorts wall: best first */
	printf("%-8s %8.1f %8.1f %8.1f %8.1f %8.1f %10lld\n", "backup", wall[0], med,
	       wall[o->runs - 1], measure_median(cpu, o->runs), (double)peak / 1024.0,
	       stat(copy, &st) == 0 ? (long long)st.st_size : -1LL);
	unlink(copy);
	return (double)peak / 1024.0 >= BACKUP_GOAL_MIB ? 1 : 0;
}

int
main(int argc, char **argv)
{
	static const char *const formats[] = {"table", "json", "csv", "html"};
	struct opts o;
	int missed = 0, backup;

	if (parse_opts(argc, argv, &o) < 0) {
		fprintf(stderr, "usage: bench_report --config FILE --db FILE --tokenwarden BIN "
				"--out DIR [--runs N]\n");
		return 2;
	}
	measure_print_machine();
	printf("audit report --at %s over %d rows, %d runs per format, output to %s\n", BENCH_NOW,
	       BENCH_ROWS, o.runs, o.dir);
	printf("%-8s %8s %8s %8s %8s %8s %10s\n", "format", "best", "median", "worst", "cpu", "MiB",
	       "bytes");
	for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
		int rc = bench_format(&o, formats[i]);

		if (rc < 0)
			return 2;
		missed |= rc;
	}
	printf("\ngoal (issue 14): every format under %.0f ms and %.0f MiB: %s\n", GOAL_MS,
	       GOAL_MIB, missed ? "MISSED" : "met");
	backup = bench_backup(&o);
	if (backup < 0)
		return 2;
	printf("goal: backup under %.0f MiB, whatever the store's size: %s\n", BACKUP_GOAL_MIB,
	       backup ? "MISSED" : "met");
	return missed || backup ? 1 : 0;
}
