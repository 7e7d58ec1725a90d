/*
 * A check of measure_run's fault count, which the benchmarks print: a child
 * that touches PAGES fresh pages one by one takes about PAGES more faults
 * (at least three quarters of them, whatever its start-up's count does)
 * than one that has the kernel populate them in one call
 * (MADV_POPULATE_WRITE), as tokenwarden does its arrays; rusage would count
 * the two alike.  Run as "test_measure touch|populate" it is that child.
 * First, measure_parse_count and measure_parse_runs against their bounds
 * and malformed text.  Exits 0 when the checks hold, 1 with a message when
 * one does not.
 */
#include "measure.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGES 400

/* The counts' parsers: whole decimals within their bounds, nothing else. */
static int
parsers_hold(void)
{
	static const struct {
		const char *text;
		long max;
		int want; /* 0: refused */
	} cases[] = {
	    {"1", 10, 1},
	    {"10", 10, 10},
	    {"0", 10, 0},
	    {"-1", 10, 0},
	    {"11", 10, 0},
	    {"", 10, 0},
	    {"x", 10, 0},
	    {"7x", 10, 0},
	    {"2147483647", 0x7fffffffffL, 0x7fffffff},
	    {"2147483648", 0x7fffffffffL, 0},
	    {"99999999999999999999", 0x7fffffffffL, 0},
	};
	int got, runs;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		got = 0;
		if (measure_parse_count(cases[i].text, cases[i].max, &got) < 0)
			got = 0;
		if (got != cases[i].want) {
			fprintf(stderr,
				"test_measure: measure_parse_count(\"%s\", %ld) gave %d, not %d\n",
				cases[i].text, cases[i].max, got, cases[i].want);
			return 0;
		}
	}
	if (measure_parse_runs("100", &runs) < 0 || runs != MEASURE_MAX_RUNS ||
	    measure_parse_runs("101", &runs) == 0) {
		fprintf(stderr, "test_measure: measure_parse_runs does not hold 1 to %d\n",
			MEASURE_MAX_RUNS);
		return 0;
	}
	return 1;
}

static int
child(const char *how)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	char *m =
	    mmap(NULL, PAGES * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	volatile char *touch = m;

	if (m == MAP_FAILED)
		return 2;
#ifdef MADV_POPULATE_WRITE
	if (strcmp(how, "populate") == 0 && madvise(m, PAGES * page, MADV_POPULATE_WRITE) < 0)
		return 3;
#else
	if (strcmp(how, "populate") == 0)
		return 3;
#endif
	for (size_t i = 0; i < PAGES; i++)
		touch[i * page] = 1;
	return 0;
}

int
main(int argc, char **argv)
{
	char self[4096], touch_arg[] = "touch", populate_arg[] = "populate";
	char *touch[] = {self, touch_arg, NULL}, *populate[] = {self, populate_arg, NULL};
	double ms, cpu;
	long kib, touched, populated;
	ssize_t n;

	if (argc == 2)
		return child(argv[1]);
	if (!parsers_hold())
		return 1;
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return 1;
	self[n] = '\0';
	if (measure_run(touch, "/dev/null", 1, &ms, &cpu, &kib, &touched) != 0 ||
	    measure_run(populate, "/dev/null", 1, &ms, &cpu, &kib, &populated) != 0) {
		fprintf(stderr, "test_measure: a child failed (no MADV_POPULATE_WRITE?)\n");
		return 1;
	}
	printf("faults: %ld touching %d pages, %ld populating them (%s)\n", touched, PAGES,
	       populated, measure_faults_how());
	if (touched - populated < PAGES * 3 / 4) {
		fprintf(stderr,
			"test_measure: %ld faults touching, %ld populating: the count takes "
			"populated pages for faults\n",
			touched, populated);
		return 1;
	}
	return 0;
}
