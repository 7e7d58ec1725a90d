/* Writing a token to stdout as a human line or JSON. */
#ifndef TW_PRINT_H
#define TW_PRINT_H

#include "core/mode.h"

/*
 * Prints t (verb is "created", "deleted", ...).  The access secret and the
 * Bearer value are printed only when show_secret, and then written straight
 * to the descriptor so no stdio buffer keeps them.
 */
void print_token(const char *verb, const char *workspace, const struct mode_token *t, int json,
		 int show_secret);

#endif
