/*
 * What core/seal.c and core/seal_keys.c share; not for other modules, but
 * for the fuzz targets, which parse key files from memory.
 */
#ifndef TW_SEAL_PRIV_H
#define TW_SEAL_PRIV_H

#include "core/seal.h"

#include <sodium.h>

_Static_assert(SEAL_PK_BYTES == crypto_box_PUBLICKEYBYTES, "SEAL_PK_BYTES");

/* A key pair; always in sodium_malloc memory. */
struct seal_sec {
	unsigned char pk[crypto_box_PUBLICKEYBYTES];
	unsigned char sk[crypto_box_SECRETKEYBYTES];
};

/* nonce || crypto_secretbox_easy(secret key): a protected secret key file's last line. */
#define SEAL_BOX_BYTES                                                                             \
	(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + crypto_box_SECRETKEYBYTES)

/* A secret key file as read, before any decryption. */
struct seal_secfile {
	int protected;
	struct seal_kdf kdf; /* when protected */
	unsigned char salt[crypto_pwhash_SALTBYTES];
	unsigned char box[SEAL_BOX_BYTES]; /* when protected */
};

/*
 * Parse a key file's text (len bytes; path names it in messages, which
 * never quote a key) as seal_load_public and seal_load_secret do once they
 * have read it.  The secret one fills f, and sec's public key, and its
 * secret key when not protected.  Return SEAL_OK, or SEAL_ERR with *cause.
 */
int seal_parse_public(const char *path, const char *text, size_t len, struct seal_pub *out,
		      char **cause);
int seal_parse_secret(const char *path, const char *text, size_t len, struct seal_secfile *f,
		      struct seal_sec *sec, char **cause);

/*
 * Decrypts sec's secret key from f with (pass, passlen) when f is protected
 * (Argon2id with f's limits), then checks that sec's public key is its
 * public half.  Returns SEAL_OK; SEAL_ERR_PASSPHRASE when pass is NULL for
 * a protected file or wrong; SEAL_ERR with *cause otherwise.
 */
int seal_unlock_secret(const char *path, const struct seal_secfile *f, struct seal_sec *sec,
		       const unsigned char *pass, size_t passlen, char **cause);

#endif
