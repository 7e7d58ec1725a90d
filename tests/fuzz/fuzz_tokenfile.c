/*
 * Fuzz target for the token credential `token verify` reads from standard
 * input or --token-file (core/cred.c, cred_token_parse): the JSON `token
 * create --json --show-secret` prints, a line TOKEN:ACCESS_KEY:ACCESS_SECRET,
 * or ACCESS_KEY:ACCESS_SECRET for a token named on the command line.  Each
 * input is read both ways, unnamed and named, and what it gives is turned
 * into the Bearer value as the verify call does.
 */
#include "tests/fuzz/fuzz.h"

#include "core/cred.h"
#include "core/mode.h"
#include "core/xalloc.h"

#include <stdlib.h>
#include <string.h>

static void
one(const uint8_t *data, size_t size, int named)
{
	/* As cred_read_fd leaves it: secret memory, a NUL after the bytes. */
	char *text = xsecret_alloc(size + 1), *cause = NULL, *bearer;
	struct cred_token tc = {0};

	memcpy(text, data, size);
	if (cred_token_parse(text, "fuzz", named, &tc, &cause) == 0) {
		if (tc.key == NULL || tc.secret == NULL || (!named && tc.id == NULL) ||
		    cause != NULL)
			abort();
		if (tc.id != NULL && mode_check_id(tc.id, &cause) == 0) {
			bearer = mode_bearer(tc.id, tc.key, tc.secret);
			if (bearer == NULL || bearer[0] == '\0')
				abort();
			xsecret_free(bearer);
		}
	} else if (cause == NULL || tc.id != NULL || tc.key != NULL || tc.secret != NULL) {
		abort();
	}
	free(cause);
	cred_token_free(&tc);
	xsecret_free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;

	if (!ready && mode_global_init() < 0)
		abort();
	ready = 1;
	one(data, size, 0);
	one(data, size, 1);
	return 0;
}
