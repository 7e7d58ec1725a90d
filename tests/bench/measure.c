/* What the benchmarks share; see measure.h. */
#include "measure.h"

#include <errno.h>
#include <fcntl.h>
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

int
measure_run(char *const argv[], const char *out, int show_err, double *ms, double *cpu_ms,
	    long *rss_kib, long *faults)
{
	struct rusage ru;
	double t0;
	pid_t pid, got;
	int st = 0;

	fflush(NULL); /* the child's messages come after ours */
	t0 = measure_clock_ms(CLOCK_MONOTONIC);
	pid = fork();
	if (pid < 0) {
		perror("bench: fork");
		return -1;
	}
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		int null = show_err ? -1 : open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 ||
		    (null >= 0 && dup2(null, STDERR_FILENO) < 0))
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	do
		got = wait4(pid, &st, 0, &ru);
	while (got < 0 && errno == EINTR);
	*ms = measure_clock_ms(CLOCK_MONOTONIC) - t0;
	if (got != pid)
		memset(&ru, 0, sizeof ru);
	*cpu_ms = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
		  (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
	*rss_kib = ru.ru_maxrss;
	if (faults != NULL)
		*faults = ru.ru_minflt + ru.ru_majflt;
	return got == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
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
measure_parse_runs(const char *text, int *runs)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || n < 1 || n > MEASURE_MAX_RUNS)
		return -1;
	*runs = (int)n;
	return 0;
}
