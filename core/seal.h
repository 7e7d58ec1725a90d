/*
 * Sealing token secrets to the store's key pair (libsodium sealed boxes).
 * The rotator needs only the public key; `secret reveal` needs the secret
 * key, kept elsewhere and optionally passphrase-protected.
 *
 * Key files are text, line-oriented and versioned; lines end in "\n" (a
 * trailing "\r" and a missing final newline are tolerated on reading).
 * Base64 is the original alphabet with padding.
 *
 *   public:  tokenwarden-seal-public v1
 *            <base64 X25519 public key, 32 bytes>
 *
 *   secret:  tokenwarden-seal-secret v1
 *            kdf none                                   (unprotected), or
 *            kdf argon2id <opslimit> <memlimit> <base64 salt, 16 bytes>
 *            <base64 public key, 32 bytes>
 *            <base64 secret key, 32 bytes>              (kdf none), or
 *            <base64 nonce (24) || crypto_secretbox_easy(secret key), 72 bytes>
 *
 * With a passphrase the secretbox key is crypto_pwhash (Argon2id v1.3) of
 * the passphrase with the salt and limits written in the file.  The secret
 * file carries the public key; loading checks that it is the public half of
 * the secret key, so an edited or mismatched file is refused.
 *
 * The sealed plaintext of a token's secret is, in this order:
 *   "TWS1" || field(workspace) || field(token id) || field(access key) ||
 *   field(access secret)
 * where field(s) is the length of s as 4 bytes big-endian followed by s.
 * Sealed boxes authenticate the ciphertext, not the sender: anyone with the
 * public key can seal.  Workspace and token id bind a blob to its row.
 *
 * Messages name files, workspaces and token ids, never a secret.
 */
#ifndef TW_SEAL_H
#define TW_SEAL_H

#include <stddef.h>

#define SEAL_PK_BYTES 32    /* crypto_box_PUBLICKEYBYTES */
#define SEAL_FPR_MAX 32     /* "tw1:" + 22 characters + NUL fits */
#define SEAL_FIELD_MAX 4096 /* longest workspace, token id, access key or secret sealed */

enum seal_err {
	SEAL_OK = 0,
	SEAL_ERR = -1,            /* I/O, permissions, malformed file, bad argument */
	SEAL_ERR_EXISTS = -2,     /* keygen without force found a key file in place */
	SEAL_ERR_PASSPHRASE = -3, /* the secret key needs a passphrase, or it was wrong */
	SEAL_ERR_OPEN = -4,       /* the blob does not open with this key, or was altered */
	SEAL_ERR_MOVED = -5,      /* the blob belongs to another workspace or token id */
};

struct seal_pub {
	unsigned char pk[SEAL_PK_BYTES];
};

/* A secret key in sodium_malloc memory; opaque. */
struct seal_sec;

/* Argon2id limits for protecting a secret key with a passphrase. */
struct seal_kdf {
	unsigned long long opslimit;
	size_t memlimit;
};

/* Returns crypto_pwhash's MODERATE limits (3 passes, 256 MiB). */
struct seal_kdf seal_kdf_default(void);

/*
 * Makes a key pair and writes pub_path (0644: it is public) and sec_path
 * (0600), each through a fsynced temp file in the same directory, whatever
 * the umask.  pass NULL leaves the secret
 * key unprotected; otherwise it is encrypted under (pass, passlen) with kdf
 * (NULL: seal_kdf_default).  Without force an existing file is never
 * replaced (SEAL_ERR_EXISTS) and nothing is written; with force the public
 * file is replaced first, so a failure between the two renames leaves a new
 * public key whose fingerprint the store does not pin.  Returns SEAL_OK, or
 * an error with *cause.
 */
int seal_keygen(const char *pub_path, const char *sec_path, const unsigned char *pass,
		size_t passlen, const struct seal_kdf *kdf, int force, char **cause);

/*
 * Loads a public key file (a regular file that group and others cannot
 * write).  Returns SEAL_OK with *out, or SEAL_ERR with *cause.
 */
int seal_load_public(const char *path, struct seal_pub *out, char **cause);

/* Writes "tw1:" and base64url (unpadded) of BLAKE2b-128 of the public key into out. */
void seal_fingerprint(const struct seal_pub *pub, char out[SEAL_FPR_MAX]);

/*
 * Tells whether the secret key file at path is passphrase-protected (*yes
 * 1) or not (*yes 0), after the same checks as seal_load_secret.  Returns
 * SEAL_OK, or SEAL_ERR with *cause.
 */
int seal_secret_protected(const char *path, int *yes, char **cause);

/*
 * Loads a secret key file (0600 or stricter, see cred_read_file), decrypting
 * it with (pass, passlen) when protected; pass is ignored otherwise.  Returns
 * SEAL_OK with *out (free with seal_secret_free); SEAL_ERR_PASSPHRASE when
 * pass is NULL for a protected file or wrong; SEAL_ERR with *cause otherwise.
 */
int seal_load_secret(const char *path, const unsigned char *pass, size_t passlen,
		     struct seal_sec **out, char **cause);

/*
 * Reads the public key that the secret key file at path carries, without
 * unlocking it: what a reveal with a wrong passphrase records.  It is the
 * file's word only; seal_load_secret checks it against the secret half.
 * Returns SEAL_OK with *out, or SEAL_ERR with *cause.
 */
int seal_secret_file_public(const char *path, struct seal_pub *out, char **cause);

/* Copies the public half of sec into out. */
void seal_secret_public(const struct seal_sec *sec, struct seal_pub *out);

/* Wipes and frees sec; NULL is allowed. */
void seal_secret_free(struct seal_sec *sec);

/*
 * Seals (workspace, token_id, access_key, access_secret) to pub; each must be
 * non-empty and at most SEAL_FIELD_MAX bytes.  Returns SEAL_OK with an
 * allocated *blob of *blob_len bytes (ciphertext; the caller frees it with
 * free), or SEAL_ERR with *cause.
 */
int seal_seal(const struct seal_pub *pub, const char *workspace, const char *token_id,
	      const char *access_key, const char *access_secret, unsigned char **blob,
	      size_t *blob_len, char **cause);

/*
 * Opens blob with sec and checks that it was sealed for workspace and
 * token_id.  Returns SEAL_OK with *access_key and *access_secret in secret
 * memory (free each with xsecret_free); SEAL_ERR_OPEN when the blob does not
 * open (wrong key, or altered); SEAL_ERR_MOVED when it belongs to another
 * row; SEAL_ERR when its contents are malformed.  *cause on error.
 */
int seal_open(const struct seal_sec *sec, const char *workspace, const char *token_id,
	      const unsigned char *blob, size_t blob_len, char **access_key, char **access_secret,
	      char **cause);

#endif
