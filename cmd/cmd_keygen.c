/* tokenwarden keygen: make the sealing key pair. */
#include "cmd/cmd.h"
#include "cmd/msg.h"
#include "cmd/passphrase.h"

#include "core/exitcodes.h"
#include "core/seal.h"
#include "core/xalloc.h"

#include <stdio.h>
#include <stdlib.h>

struct keygen_opts {
	const char *public_key;
	const char *secret_key;
	int no_passphrase;
	long passphrase_fd; /* -1: the terminal */
	int force;
};

/* --public-key is the verb's own: a file to write, with no default, not the global key to read. */
static const struct args_opt keygen_options[] = {
    OPT_STRING(0, "public-key", struct keygen_opts, public_key, "FILE",
	       "where to write the public key (the rotating host\nneeds it); required"),
    OPT_STRING(0, "secret-key", struct keygen_opts, secret_key, "FILE",
	       "where to write the secret key (keep it elsewhere);\nrequired"),
    OPT_FLAG(0, "no-passphrase", struct keygen_opts, no_passphrase,
	     "leave the secret key unprotected"),
    OPT_INT(0, "passphrase-fd", struct keygen_opts, passphrase_fd, "N", 0, 1024,
	    "read the passphrase from descriptor N, not the\nterminal"),
    OPT_FLAG(0, "force", struct keygen_opts, force, "replace existing key files"),
    OPT_END,
};

static void
init_keygen(void *opts)
{
	struct keygen_opts *ko = opts;

	ko->passphrase_fd = -1;
}

static int
run_keygen(void *opts, int argc, char **argv)
{
	struct keygen_opts *ko = opts;
	char *pass = NULL, *cause = NULL, fpr[SEAL_FPR_MAX];
	size_t passlen = 0;
	int rc, status = TW_EXIT_USAGE;
	struct seal_pub pub;

	(void)argc;
	(void)argv;
	if (ko->public_key == NULL || ko->secret_key == NULL) {
		errorf("keygen needs --public-key and --secret-key: the files to write");
		return args_usage(&cmd_keygen_entry);
	}
	if (ko->no_passphrase && ko->passphrase_fd >= 0) {
		errorf("--no-passphrase and --passphrase-fd: give one");
		return args_usage(&cmd_keygen_entry);
	}
	if (!ko->no_passphrase &&
	    passphrase_read("Passphrase for the secret key: ", 1, (int)ko->passphrase_fd, &pass,
			    &passlen, &cause) < 0)
		goto out;
	rc = seal_keygen(ko->public_key, ko->secret_key, (const unsigned char *)pass, passlen, NULL,
			 ko->force, &cause);
	if (rc != SEAL_OK)
		goto out;
	if (seal_load_public(ko->public_key, &pub, &cause) != SEAL_OK)
		goto out;
	seal_fingerprint(&pub, fpr);
	printf("wrote public key %s (%s), 0644: the rotating host needs only this one\n",
	       ko->public_key, fpr);
	printf("wrote secret key %s%s, 0600: move it off the rotating host now, to where "
	       "secrets are revealed (tokenwarden secret reveal --secret-key); it opens every "
	       "stored secret\n",
	       ko->secret_key,
	       ko->no_passphrase ? " (not passphrase-protected)" : " (passphrase-protected)");
	status = TW_EXIT_OK;
out:
	if (cause != NULL)
		errorf("%s", cause);
	free(cause);
	xsecret_free(pass);
	return status;
}

const struct cmd_entry cmd_keygen_entry = {
    .name = "keygen",
    .args = "",
    .summary = "make the key pair that seals stored token secrets",
    .options = keygen_options,
    .opts_size = sizeof(struct keygen_opts),
    .init = init_keygen,
    .max_args = 0,
    .notes = "The passphrase is asked twice on the terminal unless --passphrase-fd or\n"
	     "--no-passphrase is given.  Existing key files are refused without --force.\n"
	     "\n"
	     "Exit status: 0 written, 2 a usage error or a key file that cannot be written.\n",
    .run = run_keygen,
};
