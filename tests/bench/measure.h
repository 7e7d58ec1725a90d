/*
 * What the benchmarks share to time the real binary: clocks, medians, and a
 * child run with its wall and CPU time and peak RSS.
 */
#ifndef TW_BENCH_MEASURE_H
#define TW_BENCH_MEASURE_H

/* The most runs a benchmark repeats (its arrays of times are this long). */
#define MEASURE_MAX_RUNS 100

/* Parses a decimal count, 1 to max (and INT_MAX), into *count; returns 0, or -1 when bad. */
int measure_parse_count(const char *text, long max, int *count);
/* Parses a --runs value, 1 to MEASURE_MAX_RUNS, into *runs; returns 0, or -1 when bad. */
int measure_parse_runs(const char *text, int *runs);

/* The time on clock in ms. */
double measure_clock_ms(int clock);

/* Sorts n times and returns their median. */
double measure_median(double *t, int n);

/* This process's peak RSS in MiB. */
double measure_self_rss_mib(void);

/*
 * Runs argv with stdout to the file out (stderr to /dev/null unless
 * show_err) and waits.  Returns the exit status (-1 when it did not exit),
 * with the wall and CPU time, the child's peak RSS in KiB and (faults, when
 * not NULL) its page faults, which the machine's load does not change: the
 * traps its threads took at a page's first touch, as perf counts them, or
 * where perf may not count, rusage's count, which also counts each page
 * populated in one call (MADV_POPULATE_WRITE) at a fraction of a trap's
 * cost.
 */
int measure_run(char *const argv[], const char *out, int show_err, double *ms, double *cpu_ms,
		long *rss_kib, long *faults);

/* How the last measure_run counted the faults, for the figures' wording. */
const char *measure_faults_how(void);

/*
 * The time this process takes to touch a page of memory for the first
 * time, in microseconds, as the kernel and the machine's virtualisation
 * price it now.
 */
double measure_fault_us(void);

/*
 * Prints the machine: cores, CPU model, and what a first touch of a page
 * and a system call cost on it now, for the figures' context.
 */
void measure_print_machine(void);

#endif
