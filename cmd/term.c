/* The terminal standard output goes to, if any; see term.h. */
#include "cmd/term.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int
term_colour(void)
{
	const char *no = getenv("NO_COLOR"), *term = getenv("TERM");

	if (!isatty(STDOUT_FILENO))
		return 0;
	if (no != NULL && no[0] != '\0')
		return 0;
	return term == NULL || strcmp(term, "dumb") != 0;
}

size_t
term_width(void)
{
	struct winsize ws;
	const char *env = getenv("COLUMNS");
	char *end = NULL;
	long n;

	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if (env == NULL || env[0] == '\0')
		return 0;
	n = strtol(env, &end, 10);
	return *end == '\0' && n > 0 && n < 10000 ? (size_t)n : 0;
}
