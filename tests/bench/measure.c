/* What the benchmarks share; see measure.h. */
#include "measure.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double
measure_clock_ms(int clock)
{
	struct timespec ts;

	clock_gettime((clockid_t)clock, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
by_value(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

double
measure_median(double *t, int n)
{
	qsort(t, (size_t)n, sizeof *t, by_value);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

double
measure_self_rss_mib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss / 1024.0;
}

/* Whether the last measure_run asked for faults counted them with perf (1) or took rusage's. */
static int faults_by_perf;

/*
 * A counter of the page faults pid and its threads take in their own code
 * from its exec on, or -1 (perf_event_paranoid above 2, a filter): perf's
 * count, which a page populated in one call (MADV_POPULATE_WRITE) does not
 * enter, where rusage's ru_minflt counts it as a fault.
 */
static int
fault_counter(pid_t pid)
{
	struct perf_event_attr a;

	memset(&a, 0, sizeof a);
	a.type = PERF_TYPE_SOFTWARE;
	a.size = sizeof a;
	a.config = PERF_COUNT_SW_PAGE_FAULTS;
	a.disabled = 1;
	a.enable_on_exec = 1;
	a.inherit = 1;
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	return (int)syscall(SYS_perf_event_open, &a, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

int
measure_run(char *const argv[], const char *out, int show_err, double *ms, double *cpu_ms,
	    long *rss_kib, long *faults)
{
	struct rusage ru;
	double t0;
	pid_t pid, got;
	int st = 0, go[2], counter;
	uint64_t count = 0;

	fflush(NULL); /* the child's messages come after ours */
	if (pipe(go) < 0) {
		perror("bench: pipe");
		return -1;
	}
	t0 = measure_clock_ms(CLOCK_MONOTONIC);
	pid = fork();
	if (pid < 0) {
		perror("bench: fork");
		close(go[0]);
		close(go[1]);
		return -1;
	}
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		int null = show_err ? -1 : open("/dev/null", O_WRONLY | O_CLOEXEC);
		char c;

		/* Not before the counter is on this process: the parent closes its end then. */
		close(go[1]);
		while (read(go[0], &c, 1) < 0 && errno == EINTR)
			;
		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 ||
		    (null >= 0 && dup2(null, STDERR_FILENO) < 0))
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	counter = faults != NULL ? fault_counter(pid) : -1;
	close(go[0]);
	close(go[1]);
	do
		got = wait4(pid, &st, 0, &ru);
	while (got < 0 && errno == EINTR);
	*ms = measure_clock_ms(CLOCK_MONOTONIC) - t0;
	if (got != pid)
		memset(&ru, 0, sizeof ru);
	*cpu_ms = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
		  (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
	*rss_kib = ru.ru_maxrss;
	if (faults != NULL) {
		faults_by_perf =
		    counter >= 0 && read(counter, &count, sizeof count) == sizeof count;
		*faults = faults_by_perf ? (long)count : ru.ru_minflt + ru.ru_majflt;
	}
	if (counter >= 0)
		close(counter);
	return got == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

const char *
measure_faults_how(void)
{
	return faults_by_perf ? "the traps taken in its own code, as perf counts them"
			      : "rusage's count, which includes pages populated in one call";
}

double
measure_fault_us(void)
{
	enum { PAGES = 1024 };
	long page = sysconf(_SC_PAGESIZE);
	size_t size = (size_t)page * PAGES;
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	volatile char *touch = p;
	double t0, t1;

	if (p == MAP_FAILED)
		return 0;
	t0 = measure_clock_ms(CLOCK_MONOTONIC);
	for (size_t i = 0; i < PAGES; i++)
		touch[i * (size_t)page] = 1;
	t1 = measure_clock_ms(CLOCK_MONOTONIC);
	munmap(p, size);
	return (t1 - t0) * 1e3 / PAGES;
}

/* The time of a system call that does nothing (getppid, past any cache), in microseconds. */
static double
syscall_us(void)
{
	enum { CALLS = 20000 };
	double t0 = measure_clock_ms(CLOCK_MONOTONIC);

	for (int i = 0; i < CALLS; i++)
		syscall(SYS_getppid);
	return (measure_clock_ms(CLOCK_MONOTONIC) - t0) * 1e3 / CALLS;
}

void
measure_print_machine(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512], model[256] = "unknown";

	while (f != NULL && fgets(line, sizeof line, f) != NULL) {
		const char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
			snprintf(model, sizeof model, "%s", colon + 2);
			model[strcspn(model, "\n")] = '\0';
			break;
		}
	}
	if (f != NULL)
		fclose(f);
	printf("machine: %ld cores, %s; now a page's first touch takes %.1f us, a system call "
	       "%.2f us\n",
	       sysconf(_SC_NPROCESSORS_ONLN), model, measure_fault_us(), syscall_us());
}

int
measure_parse_count(const char *text, long max, int *count)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || n < 1 || n > max || n > INT_MAX)
		return -1;
	*count = (int)n;
	return 0;
}

int
measure_parse_runs(const char *text, int *runs)
{
	return measure_parse_count(text, MEASURE_MAX_RUNS, runs);
}
