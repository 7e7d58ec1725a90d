/*
 * tokenwarden rekey: reseal every stored secret to a new public key and
 * pin it, in one transaction (store/secrets), so the store is never half
 * on one key and half on the other.  Needs the old secret key.
 */
#include "cmd/cmd.h"
#include "cmd/msg.h"
#include "cmd/seckey.h"

#include "core/clock.h"
#include "core/exitcodes.h"
#include "core/seal.h"
#include "core/xalloc.h"
#include "store/secrets.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>

struct rekey_keys {
	const struct seal_sec *old;
	const struct seal_pub *new;
};

/*
 * secrets_reseal_fn: opens with the old key, seals to the new; the
 * plaintext is wiped.  A blob altered (or sealed to another key) is
 * SECRETS_UNOPENED; one moved from another token opens, and stops the
 * rekey whatever --drop-unopenable says.
 */
static int
reseal(const char *workspace, const char *token, const unsigned char *blob, size_t len,
       unsigned char **out, size_t *out_len, void *arg, char **cause)
{
	const struct rekey_keys *k = arg;
	char *key = NULL, *secret = NULL;
	int got = seal_open(k->old, workspace, token, blob, len, &key, &secret, cause), rc;

	if (got == SEAL_ERR_OPEN)
		return SECRETS_UNOPENED;
	if (got == SEAL_ERR_MOVED) {
		/* It opens: the secret it holds is another token's, and not lost. */
		char *moved = *cause;

		*cause = xasprintf("%s; rekey drops no secret that opens: put the rows' secrets "
				   "back (restore the store from a backup), or delete the token, "
				   "and rekey again",
				   moved);
		free(moved);
		return -1;
	}
	if (got != SEAL_OK)
		return -1;
	rc = seal_seal(k->new, workspace, token, key, secret, out, out_len, cause) == SEAL_OK ? 0
											      : -1;
	xsecret_free(key);
	xsecret_free(secret);
	return rc;
}

struct rekey_opts {
	const char *secret_key;
	const char *new_public_key;
	long passphrase_fd; /* -1: the terminal */
	int64_t wait_ms;    /* for the run lock */
	int drop;           /* --drop-unopenable */
};

static const struct args_opt rekey_options[] = {
    OPT_STRING(0, "secret-key", struct rekey_opts, secret_key, "FILE",
	       "the current secret key (its public half is the pinned\nkey); required"),
    OPT_STRING(0, "new-public-key", struct rekey_opts, new_public_key, "FILE",
	       "the public key to reseal to (made by keygen);\nrequired"),
    OPT_INT(0, "passphrase-fd", struct rekey_opts, passphrase_fd, "N", 0, 1024,
	    "read the secret key's passphrase from descriptor N"),
    OPT_FLAG(0, "drop-unopenable", struct rekey_opts, drop,
	     "reseal the others, and drop each secret that does not\nopen (altered) or was "
	     "replaced"),
    OPT_WAIT("wait", struct rekey_opts, wait_ms,
	     "wait for a run holding the lock to finish (as long as\nit takes, or up to DURATION)"),
    OPT_END,
};

static void
init_rekey(void *opts)
{
	struct rekey_opts *ro = opts;

	ro->passphrase_fd = -1;
}

static int
run_rekey(void *opts, int argc, char **argv)
{
	struct rekey_opts *ro = opts;
	struct store_opts o;
	struct store *s = NULL;
	struct seal_sec *sec = NULL;
	struct seal_pub old_pub, new_pub;
	struct rekey_keys keys = {NULL, &new_pub};
	struct secrets_rekeyed done = {0};
	char *cause = NULL, old_fpr[SEAL_FPR_MAX], new_fpr[SEAL_FPR_MAX];
	int status = TW_EXIT_USAGE;

	(void)argc;
	(void)argv;
	if (ro->secret_key == NULL || ro->new_public_key == NULL) {
		errorf("rekey needs --secret-key and --new-public-key: the old secret key and "
		       "the new public key");
		return args_usage(&cmd_rekey_entry);
	}
	store_opts_init(&o);
	/* The lock first: no passphrase is asked for a run that cannot go ahead. */
	o.wait_ms = ro->wait_ms;
	s = store_ctx_open(&o, NULL, STORE_CTX_LOCK, &status);
	if (s == NULL)
		return status;
	status = TW_EXIT_USAGE;
	if (seal_load_public(ro->new_public_key, &new_pub, &cause) != SEAL_OK)
		goto out;
	seal_fingerprint(&new_pub, new_fpr);
	sec = seckey_load(ro->secret_key, (int)ro->passphrase_fd, &status);
	if (sec == NULL)
		goto out;
	seal_secret_public(sec, &old_pub);
	seal_fingerprint(&old_pub, old_fpr);
	keys.old = sec;
	status = TW_EXIT_FAILURE;
	if (secrets_rekey(s, old_fpr, new_fpr, reseal, &keys, ro->drop, clock_now_ms(), &done,
			  &cause) < 0)
		goto out;
	printf("resealed %d secret%s to %s (%s); the store is now pinned to it\n", done.count,
	       done.count == 1 ? "" : "s", ro->new_public_key, new_fpr);
	if (done.dropped > 0)
		warnf("dropped %d secret%s that could not be resealed (%s): %s token%s work%s on, "
		      "but secret reveal can no longer show %s; each is recorded as secret.dropped",
		      done.dropped, done.dropped == 1 ? "" : "s", done.unopened,
		      done.dropped == 1 ? "its" : "their", done.dropped == 1 ? "" : "s",
		      done.dropped == 1 ? "s" : "", done.dropped == 1 ? "it" : "them");
	notef("give the rotating host %s as its public key; the old one is now refused",
	      ro->new_public_key);
	store_ctx_note_head(s);
	status = TW_EXIT_OK;
out:
	if (cause != NULL)
		errorf("%s", cause);
	if (status == TW_EXIT_FAILURE)
		errorf("nothing was changed: every secret is still sealed to the old key");
	if (status == TW_EXIT_FAILURE && done.refused && done.unopened_n == 1)
		notef("give --drop-unopenable to reseal the others and drop that one: its token "
		      "works on, but secret reveal can no longer show it");
	else if (status == TW_EXIT_FAILURE && done.refused && done.unopened_n > 1)
		notef("give --drop-unopenable to reseal the others and drop those: their tokens "
		      "work on, but secret reveal can no longer show them");
	free(cause);
	free(done.unopened);
	seal_secret_free(sec);
	store_close(s);
	return status;
}

const struct cmd_entry cmd_rekey_entry = {
    .name = "rekey",
    .args = "",
    .summary = "reseal every stored secret to a new key pair and pin it",
    .options = rekey_options,
    .globals = G_DB,
    .opts_size = sizeof(struct rekey_opts),
    .init = init_rekey,
    .max_args = 0,
    .notes = "Every secret is resealed and the new key pinned in one transaction: when a\n"
	     "secret does not open (altered), or is not the one the history recorded\n"
	     "(replaced outside tokenwarden), nothing changes and each such secret is\n"
	     "named.  With --drop-unopenable the others are resealed and those dropped,\n"
	     "each recorded as a secret.dropped event: their tokens work on, but secret\n"
	     "reveal can no longer show them.  A secret moved from another token opens,\n"
	     "and is never dropped: it stops the rekey.  It takes the run lock.\n"
	     "\n"
	     "Exit status: 0 resealed, 1 a secret that does not open or was replaced\n"
	     "(without --drop-unopenable) or was moved, or a secret key that is not the\n"
	     "pinned one (nothing changed), 2 a usage error or a key that cannot be read,\n"
	     "5 another tokenwarden process holds the run lock.\n",
    .run = run_rekey,
};
