/* Passphrases from a terminal without echo, or from a descriptor. */
#include "cmd/passphrase.h"

#include "core/cred.h"
#include "core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Reads a line from the terminal tty with echo off into buf (secret memory, PASS_LEN_MAX + 1). */
static int
tty_line(int tty, const char *prompt, char *buf, char **cause)
{
	struct termios old, quiet;
	size_t n = 0;
	int rc = -1;

	if (tcgetattr(tty, &old) < 0) {
		*cause = xasprintf("/dev/tty: not a terminal; use --passphrase-fd");
		return -1;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	if (write(tty, prompt, strlen(prompt)) < 0 || tcsetattr(tty, TCSAFLUSH, &quiet) < 0) {
		*cause = xasprintf("/dev/tty: %s", strerror(errno));
		return -1;
	}
	for (;;) {
		char ch;
		ssize_t r = read(tty, &ch, 1);

		if (r < 0 && errno == EINTR)
			continue;
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
	return rc;
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
