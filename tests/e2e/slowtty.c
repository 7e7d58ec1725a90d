/*
 * An LD_PRELOAD shim for test_secrets.sh: tcsetattr() waits
 * $TW_SLOW_TTY_MS milliseconds before it acts.  A program that shows its
 * passphrase prompt before it turns echo off then shows it with echo still
 * on for that long, so a test typing at the prompt sees the race a fast
 * typist (or a paste) wins only now and then.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <termios.h>
#include <time.h>

int
tcsetattr(int fd, int when, const struct termios *t)
{
	static int (*real)(int, int, const struct termios *);
	const char *ms = getenv("TW_SLOW_TTY_MS");

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "tcsetattr");
	if (ms != NULL) {
		long n = strtol(ms, NULL, 10);
		struct timespec ts = {n / 1000, (n % 1000) * 1000000L};

		nanosleep(&ts, NULL);
	}
	return real(fd, when, t);
}
