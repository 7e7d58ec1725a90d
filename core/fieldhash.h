/*
 * Hashing a list of fields so that no two lists hash alike: a number is its
 * eight bytes, most significant first; a text is its length so written, then
 * its bytes.  The history's chain (store/events.c) and a consumer's
 * fingerprint (core/deliver.c) are made this way; changing it changes every
 * stored hash.
 */
#ifndef TW_FIELDHASH_H
#define TW_FIELDHASH_H

#include <sodium.h>
#include <stdint.h>

/* Adds v as eight bytes, most significant first. */
void fieldhash_u64(crypto_generichash_state *h, uint64_t v);

/* Adds s's length, then its bytes; NULL adds UINT64_MAX, a length no text has. */
void fieldhash_text(crypto_generichash_state *h, const char *s);

#endif
