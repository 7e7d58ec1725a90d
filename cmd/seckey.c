/* The sealing secret key, with its passphrase when it has one. */
#include "cmd/seckey.h"
#include "cmd/msg.h"
#include "cmd/passphrase.h"

#include "core/exitcodes.h"
#include "core/seal.h"
#include "core/xalloc.h"

#include <stdlib.h>

struct seal_sec *
seckey_try(const char *path, int fd, int *status, int *err, char **cause)
{
	struct seal_sec *sec = NULL;
	char *pass = NULL, *prompt = NULL;
	size_t passlen = 0;
	int protected = 0;

	/* A key that cannot be read or unlocked is a configuration error. */
	*status = TW_EXIT_USAGE;
	*err = SEAL_ERR;
	if (seal_secret_protected(path, &protected, cause) != SEAL_OK)
		goto out;
	if (!protected && fd >= 0)
		warnf("%s is not passphrase-protected; --passphrase-fd is not read", path);
	if (protected) {
		prompt = xasprintf("Passphrase for %s: ", path);
		if (passphrase_read(prompt, 0, fd, &pass, &passlen, cause) < 0)
			goto out;
	}
	*err = seal_load_secret(path, (const unsigned char *)pass, passlen, &sec, cause);
	if (*err != SEAL_OK)
		goto out;
	*status = TW_EXIT_OK;
out:
	free(prompt);
	xsecret_free(pass);
	return sec;
}

struct seal_sec *
seckey_load(const char *path, int fd, int *status)
{
	char *cause = NULL;
	int err;
	struct seal_sec *sec = seckey_try(path, fd, status, &err, &cause);

	if (cause != NULL)
		errorf("%s", cause);
	free(cause);
	return sec;
}
