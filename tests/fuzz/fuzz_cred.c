/*
 * Fuzz target for the admin credential's value (core/cred.c): the contents
 * of a credential file, of $CREDENTIALS_DIRECTORY/NAME or of
 * $TOKENWARDEN_CREDENTIAL, one line KEY:SECRET.  The bytes are handed over
 * as cred_read_file leaves them: in secret memory, ended by a NUL (a NUL
 * inside ends the value there, as it does for the real file).
 */
#include "tests/fuzz/fuzz.h"

#include "core/cred.h"
#include "core/xalloc.h"

#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xsecret_alloc(size + 1), *cause = NULL;
	struct cred *c = NULL;
	size_t line;

	memcpy(text, data, size);
	if (cred_parse(text, "fuzz", &c, &cause) == 0) {
		/* Both halves of the first line, cut at its first colon, and nothing else. */
		line = strcspn(text, "\r\n");
		if (c->key[0] == '\0' || c->secret[0] == '\0' || strchr(c->key, ':') != NULL ||
		    strlen(c->key) + 1 + strlen(c->secret) != line ||
		    memcmp(text, c->key, strlen(c->key)) != 0 || strcmp(c->origin, "fuzz") != 0 ||
		    text[line + strspn(text + line, "\r\n")] != '\0')
			abort();
		cred_free(c);
	} else if (cause == NULL || c != NULL) {
		abort();
	}
	free(cause);
	xsecret_free(text);
	return 0;
}
