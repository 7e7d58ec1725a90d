/* What core/seal.c and core/seal_keys.c share; not for other modules. */
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

#endif
