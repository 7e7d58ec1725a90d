/*
 * An LD_PRELOAD shim for test_disk_faults.sh: the store's disk (or, for
 * test_consumer_disk.sh, a consumer's) fails at the Nth write.  It counts
 * the writes and syncs (write, pwrite, pwrite64, fsync, fdatasync) made to
 * files whose names end in one of $TW_FAULT_FILES's ':'-separated suffixes, or begin with one of
 * $TW_FAULT_UNDER's prefixes (a directory, and the files made in it under
 * names no test can know), and fails the $TW_FAULT_AT-th:
 * with $TW_FAULT_ERRNO=EIO that one only (a bad sector), with ENOSPC that
 * write and every later one (a full disk; syncs still work).  0 fails
 * none.  With $TW_FAULT_SYNCS set, only the syncs are counted (and
 * failed).  With $TW_FAULT_WHEN naming a path, every write fails with
 * ENOSPC while that path exists (the disk fills when a test says so).  The count is written to
 * $TW_FAULT_COUNT at exit, so a clean run says how many there are to choose from.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static long counted;

/* Whether name (n bytes) ends (at_end) or begins with one of list's ':'-separated strings. */
static int
listed(const char *list, const char *name, size_t n, int at_end)
{
	while (list != NULL && *list != '\0') {
		size_t len = strcspn(list, ":");

		if (len > 0 && n >= len && memcmp(name + (at_end ? n - len : 0), list, len) == 0)
			return 1;
		list += len + (list[len] == ':');
	}
	return 0;
}

static int
watched(int fd)
{
	char link[64], name[4096];
	ssize_t n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, name, sizeof name - 1);
	if (n <= 0)
		return 0;
	name[n] = '\0';
	return listed(getenv("TW_FAULT_FILES"), name, (size_t)n, 1) ||
	       listed(getenv("TW_FAULT_UNDER"), name, (size_t)n, 0);
}

/* Whether this operation on fd fails; sets errno when it does. */
static int
fails(int fd, int is_sync)
{
	const char *at = getenv("TW_FAULT_AT"), *kind = getenv("TW_FAULT_ERRNO");
	const char *when = getenv("TW_FAULT_WHEN");
	long n, want = at != NULL ? atol(at) : 0;
	int enospc = kind != NULL && strcmp(kind, "ENOSPC") == 0;

	if (!watched(fd) || (!is_sync && getenv("TW_FAULT_SYNCS") != NULL))
		return 0;
	if (when != NULL && !is_sync && access(when, F_OK) == 0) {
		errno = ENOSPC;
		return 1;
	}
	n = __atomic_add_fetch(&counted, 1, __ATOMIC_SEQ_CST);
	if (want <= 0 || n < want || (n > want && !enospc) || (n > want && is_sync))
		return 0;
	errno = enospc ? ENOSPC : EIO;
	return 1;
}

__attribute__((destructor)) static void
report(void)
{
	const char *path = getenv("TW_FAULT_COUNT");
	FILE *f;

	if (path == NULL || (f = fopen(path, "w")) == NULL)
		return;
	fprintf(f, "%ld\n", counted);
	fclose(f);
}

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef int (*sync_fn)(int);

/* The next definition of name (ISO C has no cast from void * to a function pointer). */
static void *
next(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

ssize_t
write(int fd, const void *buf, size_t count)
{
	write_fn real;

	*(void **)&real = next("write");
	return fails(fd, 0) ? -1 : real(fd, buf, count);
}

ssize_t
pwrite(int fd, const void *buf, size_t count, off_t offset)
{
	pwrite_fn real;

	*(void **)&real = next("pwrite");
	return fails(fd, 0) ? -1 : real(fd, buf, count, offset);
}

ssize_t
pwrite64(int fd, const void *buf, size_t count, off_t offset)
{
	pwrite_fn real;

	*(void **)&real = next("pwrite64");
	return fails(fd, 0) ? -1 : real(fd, buf, count, offset);
}

int
fsync(int fd)
{
	sync_fn real;

	*(void **)&real = next("fsync");
	return fails(fd, 1) ? -1 : real(fd);
}

int
fdatasync(int fd)
{
	sync_fn real;

	*(void **)&real = next("fdatasync");
	return fails(fd, 1) ? -1 : real(fd);
}
