/*
 * Fuzz target for the sealing key files (core/seal_keys.c): each input is
 * parsed as a public key file and as a secret key file, as the loaders do
 * once they have read it.  A secret key that parses is unlocked: without a
 * passphrase when unprotected (which checks its public half), else with
 * FUZZ_PASSPHRASE, the passphrase of the seeds.  Argon2id runs only when
 * the file's own limits are cheap (at most KDF_OPS_CHEAP passes over
 * KDF_MEM_CHEAP bytes; the seeds use the minimum): the limits the loader
 * accepts reach 1 GiB, which no fuzzer can pay per input, so a costly file
 * is fuzzed up to the KDF.  A key pair that unlocks must seal and open.
 */
#include "tests/fuzz/fuzz.h"

#include "core/seal_priv.h"
#include "core/xalloc.h"

#include <stdlib.h>
#include <string.h>

#define FUZZ_PASSPHRASE "correct horse battery staple"
#define KDF_OPS_CHEAP 2
#define KDF_MEM_CHEAP (64 * 1024)

/* Seals a secret to sec's public half and opens it again: the pair must work. */
static void
round_trip(const struct seal_sec *sec)
{
	struct seal_pub pub;
	unsigned char *blob = NULL;
	size_t len = 0;
	char *key = NULL, *secret = NULL, *cause = NULL;

	seal_secret_public(sec, &pub);
	if (seal_seal(&pub, "acme", "5b89bf4b0a49", "8b6fdc0a36bf340604a3cedc",
		      "829146cb6c752f51bbbb8c85", &blob, &len, &cause) != SEAL_OK ||
	    seal_open(sec, "acme", "5b89bf4b0a49", blob, len, &key, &secret, &cause) != SEAL_OK ||
	    strcmp(key, "8b6fdc0a36bf340604a3cedc") != 0 ||
	    strcmp(secret, "829146cb6c752f51bbbb8c85") != 0)
		abort();
	xsecret_free(key);
	xsecret_free(secret);
	free(blob);
}

static void
as_public(const char *text, size_t len)
{
	struct seal_pub pub;
	char fpr[SEAL_FPR_MAX], *cause = NULL;

	if (seal_parse_public("fuzz.pub", text, len, &pub, &cause) == SEAL_OK) {
		seal_fingerprint(&pub, fpr);
		if (strncmp(fpr, "tw1:", 4) != 0 || strlen(fpr) >= SEAL_FPR_MAX)
			abort();
	} else if (cause == NULL) {
		abort();
	}
	free(cause);
}

static void
as_secret(const char *text, size_t len)
{
	struct seal_sec *sec = xsecret_alloc(sizeof *sec);
	struct seal_secfile f;
	char *cause = NULL;
	int rc;

	memset(&f, 0, sizeof f);
	if (seal_parse_secret("fuzz.sec", text, len, &f, sec, &cause) != SEAL_OK) {
		if (cause == NULL)
			abort();
		goto out;
	}
	if (f.protected && (f.kdf.opslimit > KDF_OPS_CHEAP || f.kdf.memlimit > KDF_MEM_CHEAP))
		goto out;
	if (f.protected &&
	    (seal_unlock_secret("fuzz.sec", &f, sec, NULL, 0, &cause) != SEAL_ERR_PASSPHRASE ||
	     cause == NULL))
		abort(); /* a protected key never opens without its passphrase */
	FREE_NULL(&cause);
	rc = seal_unlock_secret("fuzz.sec", &f, sec, (const unsigned char *)FUZZ_PASSPHRASE,
				strlen(FUZZ_PASSPHRASE), &cause);
	if (rc == SEAL_OK)
		round_trip(sec);
	else if (cause == NULL)
		abort();
out:
	free(cause);
	seal_secret_free(sec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	/* As cred_read_fd leaves a file: in secret memory, a NUL after it. */
	char *text;

	if (!ready && sodium_init() < 0)
		abort();
	ready = 1;
	/* The loaders read at most 4096 bytes. */
	if (size > 4096)
		return 0;
	text = xsecret_alloc(size + 1);
	memcpy(text, data, size);
	as_public(text, size);
	as_secret(text, size);
	xsecret_free(text);
	return 0;
}
