/*
 * tokenwarden rekey: reseal every stored secret to a new public key and
 * pin it, in one transaction (store/secrets), so the store is never half
 * on one key and half on the other.  Needs the old secret key.
 */
#include "cmd/cmd.h"
#include "cmd/msg.h"
#include "cmd/passphrase.h"
#include "cmd/seckey.h"

#include "core/clock.h"
#include "core/exitcodes.h"
#include "core/seal.h"
#include "core/xalloc.h"
#include "store/secrets.h"
#include "store/store.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

struct rekey_keys {
	const struct seal_sec *old;
	const struct seal_pub *new;
};

/* secrets_reseal_fn: opens with the old key, seals to the new; the plaintext is wiped. */
static int
reseal(const char *workspace, const char *token, const unsigned char *blob, size_t len,
       unsigned char **out, size_t *out_len, void *arg, char **cause)
{
	const struct rekey_keys *k = arg;
	char *key = NULL, *secret = NULL;
	int rc = -1;

	if (seal_open(k->old, workspace, token, blob, len, &key, &secret, cause) != SEAL_OK)
		goto out;
	if (seal_seal(k->new, workspace, token, key, secret, out, out_len, cause) != SEAL_OK)
		goto out;
	rc = 0;
out:
	xsecret_free(key);
	xsecret_free(secret);
	return rc;
}

static int
exec_rekey(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"secret-key", required_argument, NULL, 's'},
	    {"new-public-key", required_argument, NULL, 'n'},
	    {"passphrase-fd", required_argument, NULL, 'f'},
	    STORE_DB_LONGOPT,
	    {NULL, 0, NULL, 0},
	};
	struct store_opts o;
	struct store *s = NULL;
	struct seal_sec *sec = NULL;
	struct seal_pub old_pub, new_pub;
	struct rekey_keys keys = {NULL, &new_pub};
	const char *sec_path = NULL, *new_path = NULL;
	char *cause = NULL, old_fpr[SEAL_FPR_MAX], new_fpr[SEAL_FPR_MAX];
	int ch, fd = -1, count = 0, status = TW_EXIT_USAGE;

	store_opts_init(&o);
	optind = 1;
	for (;;) {
		ch = getopt_long(argc, argv, "", longopts, NULL);
		if (ch == -1)
			break;
		if (ch == 's')
			sec_path = optarg;
		else if (ch == 'n')
			new_path = optarg;
		else if (ch == 'f' && passphrase_fd_arg(optarg) >= 0)
			fd = passphrase_fd_arg(optarg);
		else if (!store_opts_parse(&o, ch, optarg))
			return cmd_usage(&cmd_rekey_entry);
	}
	if (optind != argc || sec_path == NULL || new_path == NULL)
		return cmd_usage(&cmd_rekey_entry);
	/* The lock first: no passphrase is asked for a run that cannot go ahead. */
	s = store_ctx_open(&o, NULL, 1, &status);
	if (s == NULL)
		return status;
	status = TW_EXIT_USAGE;
	if (seal_load_public(new_path, &new_pub, &cause) != SEAL_OK)
		goto out;
	seal_fingerprint(&new_pub, new_fpr);
	sec = seckey_load(sec_path, fd, &status);
	if (sec == NULL)
		goto out;
	seal_secret_public(sec, &old_pub);
	seal_fingerprint(&old_pub, old_fpr);
	keys.old = sec;
	status = TW_EXIT_FAILURE;
	if (secrets_rekey(s, old_fpr, new_fpr, reseal, &keys, clock_now_ms(), &count, &cause) < 0)
		goto out;
	printf("resealed %d secret%s to %s (%s); the store is now pinned to it\n", count,
	       count == 1 ? "" : "s", new_path, new_fpr);
	notef("give the rotating host %s as its public key; the old one is now refused", new_path);
	store_ctx_note_head(s);
	status = TW_EXIT_OK;
out:
	if (cause != NULL)
		errorf("%s", cause);
	if (status == TW_EXIT_FAILURE)
		errorf("nothing was changed: every secret is still sealed to the old key");
	free(cause);
	seal_secret_free(sec);
	store_close(s);
	return status;
}

const struct cmd_entry cmd_rekey_entry = {
    .name = "rekey",
    .args = "--secret-key OLD_SECRET_FILE --new-public-key FILE [--passphrase-fd N] [--db FILE]",
    .summary = "reseal every stored secret to a new key pair and pin it",
    .help = "      --secret-key FILE    the current secret key (its public half is the pinned "
	    "key)\n"
	    "      --new-public-key F   the public key to reseal to (from 'tokenwarden keygen')\n"
	    "      --passphrase-fd N    read the secret key's passphrase from descriptor "
	    "N\n" STORE_DB_HELP,
    .exec = exec_rekey,
};
