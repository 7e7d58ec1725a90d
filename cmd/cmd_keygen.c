/* tokenwarden keygen: make the sealing key pair. */
#include "cmd/cmd.h"
#include "cmd/msg.h"
#include "cmd/passphrase.h"

#include "core/exitcodes.h"
#include "core/seal.h"
#include "core/xalloc.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static int
exec_keygen(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"public-key", required_argument, NULL, 'p'},
	    {"secret-key", required_argument, NULL, 's'},
	    {"no-passphrase", no_argument, NULL, 'n'},
	    {"passphrase-fd", required_argument, NULL, 'f'},
	    {"force", no_argument, NULL, 'F'},
	    {NULL, 0, NULL, 0},
	};
	const char *pub_path = NULL, *sec_path = NULL;
	char *pass = NULL, *cause = NULL, fpr[SEAL_FPR_MAX];
	size_t passlen = 0;
	int ch, fd = -1, none = 0, force = 0, rc, status = TW_EXIT_USAGE;
	struct seal_pub pub;

	optind = 1;
	for (;;) {
		ch = getopt_long(argc, argv, "", longopts, NULL);
		if (ch == -1)
			break;
		if (ch == 'p')
			pub_path = optarg;
		else if (ch == 's')
			sec_path = optarg;
		else if (ch == 'n')
			none = 1;
		else if (ch == 'F')
			force = 1;
		else if (ch == 'f' && passphrase_fd_arg(optarg) >= 0)
			fd = passphrase_fd_arg(optarg);
		else
			return cmd_usage(&cmd_keygen_entry);
	}
	if (optind != argc || pub_path == NULL || sec_path == NULL || (none && fd >= 0))
		return cmd_usage(&cmd_keygen_entry);
	if (!none &&
	    passphrase_read("Passphrase for the secret key: ", 1, fd, &pass, &passlen, &cause) < 0)
		goto out;
	rc = seal_keygen(pub_path, sec_path, (const unsigned char *)pass, passlen, NULL, force,
			 &cause);
	if (rc != SEAL_OK)
		goto out;
	if (seal_load_public(pub_path, &pub, &cause) != SEAL_OK)
		goto out;
	seal_fingerprint(&pub, fpr);
	printf("wrote public key %s (%s)\n", pub_path, fpr);
	printf("wrote secret key %s%s; keep it off the rotating host\n", sec_path,
	       none ? " (not passphrase-protected)" : " (passphrase-protected)");
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
    .args = "--public-key FILE --secret-key FILE [--no-passphrase | --passphrase-fd N] [--force]",
    .summary = "make the key pair that seals stored token secrets",
    .help =
	"      --public-key FILE    where to write the public key (the rotating host needs it)\n"
	"      --secret-key FILE    where to write the secret key (keep it elsewhere)\n"
	"      --no-passphrase      leave the secret key unprotected\n"
	"      --passphrase-fd N    read the passphrase from descriptor N, not the terminal\n"
	"      --force              replace existing key files\n",
    .exec = exec_keygen,
};
