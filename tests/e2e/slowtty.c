/*
 * An LD_PRELOAD shim for test_secrets.sh: tcsetattr() waits
 * $TW_SLOW_TTY_MS milliseconds before it acts.  A program that shows its
 * passphrase prompt before it turns echo off then shows it with echo still
 * on for that long, so a test typing at the prompt sees the race a fast
 * typist (or a paste) wins only now and then.  With $TW_SLOW_TTY_WRITE_MS,
 * a write to a terminal waits that long after it, as a loaded machine may
 * before the program's next step: a key typed the moment the prompt shows
 * then comes before the program reads.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* Waits the milliseconds the variable name says, if it is set; a signal may cut it short. */
static void
wait_for(const char *name)
{
	const char *ms = getenv(name);

	if (ms != NULL) {
		long n = strtol(ms, NULL, 10);
		struct timespec ts = {n / 1000, (n % 1000) * 1000000L};

		nanosleep(&ts, NULL);
	}
}

int
tcsetattr(int fd, int when, const struct termios *t)
{
	static int (*real)(int, int, const struct termios *);

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "tcsetattr");
	wait_for("TW_SLOW_TTY_MS");
	return real(fd, when, t);
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	static ssize_t (*real)(int, const void *, size_t);
	ssize_t r;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "write");
	r = real(fd, buf, n);
	if (isatty(fd))
		wait_for("TW_SLOW_TTY_WRITE_MS");
	return r;
}
