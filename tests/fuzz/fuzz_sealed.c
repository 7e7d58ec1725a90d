/*
 * Fuzz target for opening a token's sealed secret (core/seal.c, seal_open)
 * with a fixed key pair made from FUZZ_SEED, as stored for token
 * 5b89bf4b0a49 of workspace acme.  The first byte chooses how the rest is
 * used: even, as the stored blob itself (a fuzzer cannot forge a sealed box,
 * so this reaches the length and authentication checks); odd, as the
 * plaintext, sealed to the key pair first, so that the decoding of what a
 * box holds (magic, four length-prefixed fields, the row they belong to) is
 * reached with any contents.  What opens must seal and open again.
 */
#include "tests/fuzz/fuzz.h"

#include "core/seal_priv.h"
#include "core/xalloc.h"

#include <stdlib.h>
#include <string.h>

#define WORKSPACE "acme"
#define TOKEN_ID "5b89bf4b0a49"
/* tests/fuzz/mkseeds.c seals the seeds to the same pair. */
#define FUZZ_SEED "tokenwarden fuzz sealing key 01"

static const struct seal_sec *
key_pair(void)
{
	static struct seal_sec *sec;
	unsigned char seed[crypto_box_SEEDBYTES] = FUZZ_SEED;

	if (sec != NULL)
		return sec;
	if (sodium_init() < 0)
		abort();
	sec = xsecret_alloc(sizeof *sec);
	crypto_box_seed_keypair(sec->pk, sec->sk, seed);
	return sec;
}

/* The plain secrets that opened must seal again to a blob that opens to them. */
static void
round_trip(const struct seal_sec *sec, const char *key, const char *secret)
{
	struct seal_pub pub;
	unsigned char *blob = NULL;
	size_t len = 0;
	char *key2 = NULL, *secret2 = NULL, *cause = NULL;

	seal_secret_public(sec, &pub);
	if (seal_seal(&pub, WORKSPACE, TOKEN_ID, key, secret, &blob, &len, &cause) != SEAL_OK ||
	    seal_open(sec, WORKSPACE, TOKEN_ID, blob, len, &key2, &secret2, &cause) != SEAL_OK ||
	    strcmp(key, key2) != 0 || strcmp(secret, secret2) != 0)
		abort();
	xsecret_free(key2);
	xsecret_free(secret2);
	free(blob);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct seal_sec *sec = key_pair();
	unsigned char *blob = NULL;
	size_t len;
	char *key = NULL, *secret = NULL, *cause = NULL;
	int rc;

	if (size == 0)
		return 0;
	len = size - 1;
	if (data[0] & 1) {
		len += crypto_box_SEALBYTES;
		blob = xmalloc(len);
		if (crypto_box_seal(blob, data + 1, size - 1, sec->pk) != 0)
			abort();
	} else {
		/* A block of the blob's size, so ASan sees a read past it. */
		blob = xmalloc(len == 0 ? 1 : len);
		memcpy(blob, data + 1, len);
	}
	rc = seal_open(sec, WORKSPACE, TOKEN_ID, blob, len, &key, &secret, &cause);
	if (rc == SEAL_OK) {
		if (cause != NULL || key == NULL || secret == NULL || key[0] == '\0' ||
		    secret[0] == '\0')
			abort();
		round_trip(sec, key, secret);
	} else if (cause == NULL || key != NULL || secret != NULL ||
		   (rc != SEAL_ERR && rc != SEAL_ERR_OPEN && rc != SEAL_ERR_MOVED)) {
		abort();
	}
	xsecret_free(key);
	xsecret_free(secret);
	free(cause);
	free(blob);
	return 0;
}
