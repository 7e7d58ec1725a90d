/*
 * The stored sealed secrets as a whole: recording that one was revealed,
 * and resealing all of them to a new key.  Crypto stays out of store/: the
 * caller passes a callback that opens a blob with the old key and seals it
 * to the new one.
 */
#ifndef TW_SECRETS_H
#define TW_SECRETS_H

#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

/*
 * Who asked to open a sealed secret, with which key, why, and, when it did
 * not open, why not.  Each field NULL when unknown or not given; none ever
 * holds secret material.  The event's details carry the non-NULL ones under
 * these names.
 */
struct secrets_reveal {
	const char *key_fingerprint;    /* of the secret key presented (its file's word
					 * when a wrong passphrase kept it locked) */
	const char *user;               /* the effective user (the actor's user) */
	const char *claimed_login;      /* the login that says it asked; unauthenticated */
	const char *claimed_login_from; /* "SUDO_USER" or "getlogin" */
	const char *reason;             /* --reason */
	const char *failure;            /* NULL: revealed; else wrong_key, wrong_passphrase,
					 * moved, altered or malformed */
	const char *message;            /* with failure: what the user was told */
	const char *sealed_to;          /* with failure: the key the row records */
};

/*
 * Appends a secret.revealed event (r->failure NULL) or a
 * secret.reveal_failed event about token row `row` (its workspace, slot and
 * token id), with r's fields as details, in its own transaction.  Returns 0,
 * or -1 with *cause (also when the row does not exist).
 */
int secrets_record_reveal(struct store *s, int64_t row, int64_t now, const struct secrets_reveal *r,
			  char **cause);

/* What a secrets_reseal_fn returns for a blob that does not open with the old key. */
#define SECRETS_UNOPENED 1

/*
 * Reseals one secret: blob (len bytes) is the stored secret of workspace's
 * token.  Returns 0 with *out (allocated; secrets_rekey frees it) and
 * *out_len; SECRETS_UNOPENED with *cause when the blob does not open with
 * the old key (altered, or bound to another token); or -1 with *cause.
 */
typedef int (*secrets_reseal_fn)(const char *workspace, const char *token,
				 const unsigned char *blob, size_t len, unsigned char **out,
				 size_t *out_len, void *arg, char **cause);

/* What secrets_rekey did. */
struct secrets_rekeyed {
	int count;      /* secrets resealed */
	int unopened_n; /* secrets that did not open */
	int dropped;    /* of those, dropped */
	int refused;    /* nothing changed for them: they did not open, and not drop */
	char *unopened; /* why each did not open, naming its token, "; " between (free it) */
};

/*
 * In one BEGIN IMMEDIATE transaction: checks that old_fpr is the pinned
 * key, calls reseal for every stored secret, stores each new blob with
 * new_fpr, pins new_fpr, and appends a store.rekey event {old, new, count,
 * dropped}, after a secret.resealed event {key_fingerprint: new_fpr,
 * sealed} for each.  A secret that does not open, or opens but is not the
 * one its history recorded (store/inventory.h), is named in r->unopened: with
 * drop it is deleted, its token's row recorded by a secret.dropped event
 * {reason, key_fingerprint: old_fpr}, and the others resealed; without,
 * nothing changes.  Any failure (a different pin, new_fpr equal to
 * old_fpr, a secret that does not open without drop, a callback failing)
 * rolls everything back.  Returns 0 with *r, or -1 with *cause (and
 * r->unopened when secrets did not open).
 */
int secrets_rekey(struct store *s, const char *old_fpr, const char *new_fpr,
		  secrets_reseal_fn reseal, void *arg, int drop, int64_t now,
		  struct secrets_rekeyed *r, char **cause);

#endif
