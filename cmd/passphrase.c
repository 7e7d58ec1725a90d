/* Passphrases from a terminal without echo, or from a descriptor. */
#include "cmd/passphrase.h"

#include "core/cred.h"
#include "core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <termios.h>
#include <unistd.h>

/* The longest passphrase, typed or read: what a terminal's 1024-byte buffer holds. */
#define PASS_LEN_MAX 1023
/* What a descriptor may hold: a generous line, so a wrong file is caught. */
#define PASS_FD_MAX 4096

static int
too_long(char **cause)
{
	*cause = xasprintf("passphrase longer than %d bytes", PASS_LEN_MAX);
	return -1;
}

/*
 * The signals that would leave the terminal without echo: each is caught
 * while it is off, unless the caller ignores it.
 */
static const int tty_signals[] = {SIGALRM, SIGHUP,  SIGINT,  SIGPIPE, SIGQUIT,
				  SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU};
#define TTY_SIGNALS (sizeof tty_signals / sizeof tty_signals[0])

static volatile sig_atomic_t tty_caught;

static void
tty_catch(int sig)
{
	tty_caught = sig;
}

/*
 * Whether sig comes of the process's own use of the terminal (job control):
 * that call's EINTR says so, and it is not held.
 */
static int
own_doing(int sig)
{
	return sig == SIGTTIN || sig == SIGTTOU;
}

/*
 * Reads a line from the terminal tty with echo off into buf (secret memory,
 * PASS_LEN_MAX + 1).  Returns 0, or -1 with *cause, or -1 with *sig set when
 * a signal came first (the terminal, the signals' handlers and mask put back).
 */
static int
tty_line_once(int tty, const char *prompt, char *buf, int *sig, char **cause)
{
	struct sigaction catch = {.sa_handler = tty_catch}, saved[TTY_SIGNALS];
	struct termios old, quiet;
	sigset_t held, before;
	size_t n = 0, i;
	int rc = -1;

	*sig = 0;
	if (tcgetattr(tty, &old) < 0) {
		*cause = xasprintf("/dev/tty: not a terminal; use --passphrase-fd");
		return -1;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	/* No SA_RESTART: a signal ends the wait below, and the terminal is put back. */
	tty_caught = 0;
	sigemptyset(&catch.sa_mask);
	sigemptyset(&held);
	for (i = 0; i < TTY_SIGNALS; i++) {
		sigaction(tty_signals[i], &catch, &saved[i]);
		/* One the caller ignores stays ignored: it must not end the read. */
		if (saved[i].sa_handler == SIG_IGN)
			sigaction(tty_signals[i], &saved[i], NULL);
		else if (!own_doing(tty_signals[i]))
			sigaddset(&held, tty_signals[i]);
	}
	/*
	 * The others held but while the wait for input, which takes them: one
	 * that comes between the prompt and the read (Control-C typed the moment
	 * the prompt shows, on a loaded machine) then still ends it, where a
	 * read begun after its handler ran would wait for a line with echo off.
	 */
	sigprocmask(SIG_BLOCK, &held, &before);
	/*
	 * Echo off first, then the prompt: what is typed the moment the prompt
	 * shows is neither echoed nor dropped by the flush (which drops only what
	 * was typed ahead of it).
	 */
	if (tcsetattr(tty, TCSAFLUSH, &quiet) < 0) {
		*cause = xasprintf("/dev/tty: %s", strerror(errno));
		goto handlers;
	}
	if (write(tty, prompt, strlen(prompt)) < 0) {
		*cause = xasprintf("/dev/tty: %s", strerror(errno));
		goto out;
	}
	for (;;) {
		fd_set in;
		char ch;
		ssize_t r;

		FD_ZERO(&in);
		FD_SET(tty, &in);
		if (pselect(tty + 1, &in, NULL, NULL, NULL, &before) < 0) {
			if (errno == EINTR && tty_caught == 0)
				continue;
			if (errno != EINTR)
				*cause = xasprintf("/dev/tty: %s", strerror(errno));
			goto out;
		}
		/* Job control's signals are not held: the read's EINTR says one came. */
		r = read(tty, &ch, 1);
		if (r < 0 && errno == EINTR && tty_caught == 0)
			continue;
		if (r < 0 && errno == EINTR)
			goto out;
		if (r <= 0 || ch == '\n')
			break;
		if (n == PASS_LEN_MAX) {
			too_long(cause);
			goto out;
		}
		buf[n++] = ch;
	}
	buf[n] = '\0';
	rc = 0;
out:
	tcsetattr(tty, TCSAFLUSH, &old);
	if (write(tty, "\n", 1) < 0)
		rc = rc < 0 ? rc : 0;
handlers:
	/* A signal held until now is taken here, by the handler: the caller raises it. */
	sigprocmask(SIG_SETMASK, &before, NULL);
	for (i = 0; i < TTY_SIGNALS; i++)
		sigaction(tty_signals[i], &saved[i], NULL);
	*sig = tty_caught;
	return rc;
}

/*
 * tty_line_once until no signal cuts it short.  A caught signal is raised
 * again with the terminal's echo back on, so Control-C still ends the
 * command, and Control-Z still stops it; one that returns (continued, or
 * ignored) asks again from the start.
 */
static int
tty_line(int tty, const char *prompt, char *buf, char **cause)
{
	for (;;) {
		char *why = NULL;
		int sig, rc = tty_line_once(tty, prompt, buf, &sig, &why);

		if (sig == 0 && rc < 0)
			*cause = why;
		if (sig == 0)
			return rc;
		free(why);
		sodium_memzero(buf, PASS_LEN_MAX + 1);
		raise(sig);
	}
}

static int
from_tty(const char *prompt, int confirm, char **pass, size_t *len, char **cause)
{
	char *a = xsecret_alloc(PASS_LEN_MAX + 1), *b = NULL;
	int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY), rc = -1;

	if (tty < 0) {
		*cause = xasprintf("no terminal to ask for the passphrase; use --passphrase-fd N");
		goto out;
	}
	if (tty_line(tty, prompt, a, cause) < 0)
		goto out;
	if (confirm) {
		b = xsecret_alloc(PASS_LEN_MAX + 1);
		if (tty_line(tty, "Again: ", b, cause) < 0)
			goto out;
		if (strcmp(a, b) != 0) {
			*cause = xasprintf("the two passphrases differ; nothing was written");
			goto out;
		}
	}
	*len = strlen(a);
	*pass = a;
	a = NULL;
	rc = 0;
out:
	if (tty >= 0)
		close(tty);
	xsecret_free(a);
	xsecret_free(b);
	return rc;
}

int
passphrase_read(const char *prompt, int confirm, int fd, char **pass, size_t *len, char **cause)
{
	char *text = NULL;
	size_t n = 0;

	if (fd < 0)
		return from_tty(prompt, confirm, pass, len, cause);
	if (cred_read_fd(fd, "the passphrase descriptor", PASS_FD_MAX, &text, &n, cause) < 0)
		return -1;
	text[strcspn(text, "\r\n")] = '\0';
	*len = strlen(text);
	/* As typed: one the terminal would refuse could not be typed to open the key. */
	if (*len > PASS_LEN_MAX) {
		xsecret_free(text);
		return too_long(cause);
	}
	*pass = text;
	return 0;
}
