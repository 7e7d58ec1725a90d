/* Reading a passphrase from the terminal (echo off) or a file descriptor, never argv. */
#ifndef TW_PASSPHRASE_H
#define TW_PASSPHRASE_H

#include <stddef.h>

/*
 * Reads one passphrase line: from fd when fd >= 0 (the first line), else
 * from /dev/tty with echo off, prompting with prompt and, when confirm,
 * asking twice.  The same passphrases either way: at most 1023 bytes, the
 * line's end left out.  Returns 0 with *pass in secret memory (free with
 * xsecret_free) and *len, or -1 with *cause.
 */
int passphrase_read(const char *prompt, int confirm, int fd, char **pass, size_t *len,
		    char **cause);

#endif
