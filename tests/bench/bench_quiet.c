/*
 * The quiet night of issue 15: `tokenwarden rotate` over the quiet
 * inventory (gen_inventory --quiet: 100,000 rows, 21,000 of them live,
 * nothing due at BENCH_NOW) must finish within 50 ms and 16 MiB.
 *
 * Runs the real binary --runs times on a copy of the store (the shared one
 * stays as generated), at TOKENWARDEN_NOW=BENCH_NOW, with a made-up
 * credential for each workspace and every workspace's API on a loopback
 * port nothing listens on.  Before timing, `plan --json` must show no
 * action.  After, the copy must differ from the store only by what a quiet
 * night records: one runs row per run (status 0, no request by any
 * credential, nothing rotated, deleted or settled) and its run.start and
 * run.end events; every other table, and the history before, must hash
 * the same.  Prints the machine, wall time (best, median, worst), median
 * CPU time and peak RSS (least and most), and exits 1 when even the best
 * run misses a goal, 2 on a usage or setup error or when the run did
 * anything.  Not part of ctest: `./dev bench` runs it.
 */
#include "gen.h"
#include "measure.h"

#include "core/cred.h"
#include "core/exitcodes.h"
#include "core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GOAL_MS 50.0
#define GOAL_MIB 16.0

struct opts {
	const char *config, *db, *pub, *binary, *dir;
	int runs;
};

/* What the copy holds besides its runs: a hash of every other table and the history's end. */
struct snapshot {
	unsigned char hash[crypto_generichash_BYTES];
	int64_t last_event, runs;
};

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"db", required_argument, NULL, 'd'},
	    {"public-key", required_argument, NULL, 'k'},
	    {"out", required_argument, NULL, 'o'},
	    {"tokenwarden", required_argument, NULL, 't'},
	    {"runs", required_argument, NULL, 'r'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	*o = (struct opts){.runs = 9};
	for (;;) {
		c = getopt_long(argc, argv, "", longs, NULL);
		if (c == -1)
			break;
		if (c == 'c')
			o->config = optarg;
		else if (c == 'd')
			o->db = optarg;
		else if (c == 'k')
			o->pub = optarg;
		else if (c == 'o')
			o->dir = optarg;
		else if (c == 't')
			o->binary = optarg;
		else if (c != 'r' || measure_parse_runs(optarg, &o->runs) < 0)
			return -1;
	}
	return optind == argc && o->config != NULL && o->db != NULL && o->pub != NULL &&
		       o->binary != NULL && o->dir != NULL
		   ? 0
		   : -1;
}

/* Copies the file from to to (0600, replacing it); returns 0 or -1 after a message. */
static int
copy_file(const char *from, const char *to)
{
	char buf[1 << 16];
	int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
	ssize_t n;

	if (in >= 0)
		out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (in < 0 || out < 0)
		goto out;
	for (;;) {
		n = read(in, buf, sizeof buf);
		if (n <= 0)
			break;
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	}
	rc = n == 0 ? 0 : -1;
out:
	if (rc < 0)
		fprintf(stderr, "bench_quiet: copying %s to %s: %s\n", from, to, strerror(errno));
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) < 0)
		rc = -1;
	return rc;
}

/* The copy of the store: path, with no journal of an earlier run beside it. */
static int
fresh_copy(const char *from, const char *path)
{
	static const char *const suffixes[] = {"-wal", "-shm", ".lock"};

	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		char *f = xasprintf("%s%s", path, suffixes[i]);

		unlink(f);
		free(f);
	}
	return copy_file(from, path);
}

/* Feeds every row of sql's result (bound to ?1 = bound when it has one) to h. */
static int
hash_query(sqlite3 *db, const char *sql, int64_t bound, crypto_generichash_state *h)
{
	sqlite3_stmt *st = NULL;
	int step;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_bind_parameter_count(st) > 0)
		sqlite3_bind_int64(st, 1, bound);
	for (step = sqlite3_step(st); step == SQLITE_ROW; step = sqlite3_step(st)) {
		for (int i = 0; i < sqlite3_column_count(st); i++) {
			const void *v = sqlite3_column_blob(st, i);
			unsigned char len[9] = {(unsigned char)sqlite3_column_type(st, i)};
			int n = sqlite3_column_bytes(st, i);
			uint64_t u = (uint64_t)n;

			for (int k = 1; k < 9; k++)
				len[k] = (unsigned char)(u >> (8 * (k - 1)) & 0xff);
			crypto_generichash_update(h, len, sizeof len);
			if (v != NULL)
				crypto_generichash_update(h, v, (unsigned long long)n);
		}
	}
	sqlite3_finalize(st);
	return step == SQLITE_DONE ? 0 : -1;
}

static int64_t
one_int(sqlite3 *db, const char *sql, int64_t bound)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_bind_parameter_count(st) > 0)
		sqlite3_bind_int64(st, 1, bound);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/*
 * Hashes every table of the store at path but runs, and of events those
 * up to last (-1: all there are, which it then sets).  Returns 0 or -1.
 */
static int
snapshot_take(const char *path, struct snapshot *sn, int64_t last)
{
	crypto_generichash_state h;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = -1, step;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		goto out;
	/* A small cache: this process's RSS is the floor of the child's peak (measure.h). */
	sqlite3_exec(db, "PRAGMA cache_size = 16", NULL, NULL, NULL);
	sn->last_event = last >= 0 ? last : one_int(db, "SELECT max(id) FROM events", 0);
	sn->runs = one_int(db, "SELECT count(*) FROM runs", 0);
	crypto_generichash_init(&h, NULL, 0, sizeof sn->hash);
	/* A table WITHOUT ROWID has no rowid to order by: its key orders a plain scan. */
	if (sqlite3_prepare_v2(
		db,
		"SELECT name, sql LIKE '%WITHOUT ROWID%' FROM sqlite_schema WHERE "
		"type = 'table' AND name NOT IN ('runs', 'events', 'sqlite_sequence') "
		"ORDER BY name",
		-1, &st, NULL) != SQLITE_OK)
		goto out;
	for (step = sqlite3_step(st); step == SQLITE_ROW; step = sqlite3_step(st)) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		char *sql = xasprintf("SELECT * FROM \"%s\"%s", t,
				      sqlite3_column_int(st, 1) ? "" : " ORDER BY rowid");

		crypto_generichash_update(&h, (const unsigned char *)t, strlen(t) + 1);
		rc = hash_query(db, sql, 0, &h);
		free(sql);
		if (rc < 0)
			goto out;
	}
	rc =
	    step == SQLITE_DONE && hash_query(db, "SELECT * FROM events WHERE id <= ?1 ORDER BY id",
					      sn->last_event, &h) == 0
		? 0
		: -1;
	crypto_generichash_final(&h, sn->hash, sizeof sn->hash);
out:
	if (rc < 0)
		fprintf(stderr, "bench_quiet: reading %s: %s\n", path,
			db != NULL ? sqlite3_errmsg(db) : "cannot open");
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

/* Whether a run's summary says it did nothing and sent nothing; says what it did otherwise. */
static int
summary_quiet(const char *text)
{
	static const char *const counts[] = {"rotated", "deleted", "discarded", "failed",
					     "unknown", "left",    "settled"};
	json_t *s = json_loads(text != NULL ? text : "", 0, NULL), *c;
	const char *name;
	int ok = s != NULL;

	for (size_t i = 0; ok && i < sizeof counts / sizeof counts[0]; i++)
		ok = json_integer_value(json_object_get(s, counts[i])) == 0;
	json_object_foreach(json_object_get(s, "credentials"), name, c)
	{
		if (json_integer_value(json_object_get(c, "requests")) != 0 ||
		    json_integer_value(json_object_get(c, "connections")) != 0)
			ok = 0;
	}
	if (!ok)
		fprintf(stderr, "bench_quiet: a quiet night did something: %s\n",
			text != NULL ? text : "(no summary)");
	json_decref(s);
	return ok;
}

/*
 * Checks that the copy at path differs from before only by runs quiet
 * nights: that many runs rows, each ended with status 0 and a quiet
 * summary, and a run.start and run.end event each.  Returns 0 or -1.
 */
static int
check_copy(const char *path, const struct snapshot *before, int runs)
{
	struct snapshot after;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t events = -1, other = -1;
	int ok, step, n = 0;

	if (snapshot_take(path, &after, before->last_event) < 0)
		return -1;
	ok = memcmp(after.hash, before->hash, sizeof after.hash) == 0;
	if (!ok)
		fprintf(stderr, "bench_quiet: a quiet night changed the tokens, slots, alerts, "
				"meta or the history before it\n");
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
		events =
		    one_int(db, "SELECT count(*) FROM events WHERE id > ?1", before->last_event);
		other = one_int(db,
				"SELECT count(*) FROM events WHERE id > ?1 AND kind NOT IN "
				"('run.start', 'run.end')",
				before->last_event);
	}
	if (events != 2 * runs || other != 0) {
		fprintf(stderr,
			"bench_quiet: %d runs recorded %lld events, %lld of them not "
			"run.start or run.end\n",
			runs, (long long)events, (long long)other);
		ok = 0;
	}
	if (db != NULL && sqlite3_prepare_v2(db, "SELECT status, summary FROM runs WHERE id > ?1",
					     -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, before->runs);
		for (step = sqlite3_step(st); step == SQLITE_ROW; step = sqlite3_step(st)) {
			n++;
			ok &= sqlite3_column_int(st, 0) == TW_EXIT_OK &&
			      summary_quiet((const char *)sqlite3_column_text(st, 1));
		}
	}
	if (n != runs) {
		fprintf(stderr, "bench_quiet: %d runs left %d runs rows\n", runs, n);
		ok = 0;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ok ? 0 : -1;
}

/* Gives every workspace's credential a made-up value: the run must never send it. */
static void
set_credentials(void)
{
	const char *name;

	for (int w = 0; (name = gen_policy_credential(w)) != NULL; w++) {
		char *var = cred_env_name(name);

		setenv(var, "bench-quiet-key:bench-quiet-secret", 1);
		free(var);
	}
	setenv("TOKENWARDEN_NOW", BENCH_NOW, 1);
}

/* An allocated argv of the given strings (NULL-terminated). */
static char **
make_argv(const char *const *args, size_t n)
{
	char **argv = xcalloc(n + 1, sizeof *argv);

	for (size_t i = 0; i < n; i++)
		argv[i] = xstrdup(args[i]);
	return argv;
}

static void
argv_free(char **argv)
{
	for (size_t i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

/*
 * The counts of plan's first line, "plan at TIME: N actions, M findings"
 * (or "action", "finding" for one): N, and M in *findings; -1 when the line
 * is not one.
 */
static long
plan_counts(const char *line, long *findings)
{
	const char *p = strncmp(line, "plan at ", 8) == 0 ? strstr(line, ": ") : NULL;
	char *end = NULL;
	long n = -1;

	if (p != NULL) {
		errno = 0;
		n = strtol(p + 2, &end, 10);
	}
	if (n < 0 || errno != 0 || end == p + 2 || strncmp(end, " action", 7) != 0)
		return -1;
	p = strstr(end, ", ");
	if (p == NULL)
		return -1;
	*findings = strtol(p + 2, &end, 10);
	if (*findings < 0 || errno != 0 || end == p + 2 || strncmp(end, " finding", 8) != 0)
		return -1;
	return n;
}

/*
 * Runs `plan` on the store once; returns its number of actions (its first
 * line: "plan at TIME: N actions, M findings"), or -1.  Its text, not its
 * JSON: this process stays small, for its RSS is the floor of the child's
 * peak (measure.h).
 */
static long
planned_actions(const struct opts *o, const char *out, long *findings)
{
	const char *args[] = {o->binary, "plan", "--config", o->config, "--db", o->db};
	char **argv = make_argv(args, sizeof args / sizeof args[0]);
	char line[256] = "";
	double ms, cpu;
	long rss, n = -1;
	int status = measure_run(argv, out, 0, &ms, &cpu, &rss, NULL);
	FILE *f = fopen(out, "r");

	if (f != NULL && fgets(line, sizeof line, f) != NULL)
		n = plan_counts(line, findings);
	if (f != NULL)
		fclose(f);
	/* plan exits 0 with nothing due, 3 with actions pending. */
	if (n < 0 || (status != TW_EXIT_OK && status != TW_EXIT_PENDING)) {
		fprintf(stderr, "bench_quiet: plan exited %d, saying: %s\n", status, line);
		n = -1;
	} else if ((n == 0) != (status == TW_EXIT_OK)) {
		fprintf(stderr, "bench_quiet: plan exited %d with %ld actions\n", status, n);
		n = -1;
	}
	argv_free(argv);
	return n;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct snapshot before;
	double wall[MEASURE_MAX_RUNS], cpu[MEASURE_MAX_RUNS], rss[MEASURE_MAX_RUNS], med, floor;
	double nfaults[MEASURE_MAX_RUNS], med_faults, fault_us;
	char *copy = NULL, *out = NULL;
	char **rargv = NULL;
	long actions, kib, findings = 0, faults = 0;
	int status = 2, missed;

	if (parse_opts(argc, argv, &o) < 0) {
		fprintf(stderr, "usage: bench_quiet --config FILE --db FILE --public-key FILE "
				"--tokenwarden BIN --out DIR [--runs N]\n");
		return 2;
	}
	measure_print_machine();
	set_credentials();
	copy = xasprintf("%s/quiet-night.db", o.dir);
	out = xasprintf("%s/quiet-night.out", o.dir);
	actions = planned_actions(&o, out, &findings);
	if (actions != 0) {
		if (actions > 0)
			fprintf(stderr,
				"bench_quiet: plan at %s shows %ld actions: not a quiet night\n",
				BENCH_NOW, actions);
		goto out;
	}
	printf("rotate at %s over %d rows with nothing due (plan: 0 actions, %ld findings), "
	       "%d runs on a copy (%s)\n",
	       BENCH_NOW, BENCH_ROWS, findings, o.runs, copy);
	{
		const char *args[] = {o.binary, "rotate", "--config",     o.config,
				      "--db",   copy,     "--public-key", o.pub};

		rargv = make_argv(args, sizeof args / sizeof args[0]);
	}
	if (fresh_copy(o.db, copy) < 0 || snapshot_take(copy, &before, -1) < 0)
		goto out;
	floor = measure_self_rss_mib();
	for (int i = 0; i < o.runs; i++) {
		int st = measure_run(rargv, out, 0, &wall[i], &cpu[i], &kib, &faults);

		if (st != TW_EXIT_OK) {
			fprintf(stderr, "bench_quiet: rotate exited %d, not 0 (its output: %s)\n",
				st, out);
			goto out;
		}
		rss[i] = (double)kib / 1024.0;
		nfaults[i] = (double)faults;
	}
	if (check_copy(copy, &before, o.runs) < 0)
		goto out;
	med = measure_median(wall, o.runs);
	measure_median(rss, o.runs);
	printf("%-14s %8s %8s %8s %8s %8s %8s\n", "", "best", "median", "worst", "cpu ms",
	       "MiB min", "MiB max");
	printf("%-14s %8.1f %8.1f %8.1f %8.1f %8.1f %8.1f\n", "rotate (quiet)", wall[0], med,
	       wall[o.runs - 1], measure_median(cpu, o.runs), rss[0], rss[o.runs - 1]);
	printf("(peak RSS of the child, whose floor is this process's %.1f MiB at fork; the copy "
	       "changed only by its runs rows and their run.start/run.end events)\n",
	       floor);
	fault_us = measure_fault_us();
	med_faults = measure_median(nfaults, o.runs);
	printf("page faults (median run; %s), which the machine's load does not move: %.0f, "
	       "about %.1f ms at %.1f us each now\n",
	       measure_faults_how(), med_faults, med_faults * fault_us / 1e3, fault_us);
	/* Missed only beyond the spread: when even the best run is over. */
	missed = wall[0] > GOAL_MS || rss[0] > GOAL_MIB;
	printf("\ngoal (issue 15): %.0f ms and %.0f MiB: %s (median %.1f ms, best %.1f ms, least "
	       "peak %.1f MiB)\n",
	       GOAL_MS, GOAL_MIB,
	       missed                                        ? "MISSED"
	       : med > GOAL_MS || rss[o.runs / 2] > GOAL_MIB ? "met by the best run only"
							     : "met",
	       med, wall[0], rss[0]);
	status = missed ? 1 : 0;
out:
	if (rargv != NULL)
		argv_free(rargv);
	free(copy);
	free(out);
	return status;
}
