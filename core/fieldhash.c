/* Length-prefixed fields for BLAKE2b. */
#include "core/fieldhash.h"

#include <string.h>

void
fieldhash_u64(crypto_generichash_state *h, uint64_t v)
{
	unsigned char b[8];

	for (int i = 7; i >= 0; i--) {
		b[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
	crypto_generichash_update(h, b, sizeof b);
}

void
fieldhash_text(crypto_generichash_state *h, const char *s)
{
	size_t n;

	if (s == NULL) {
		fieldhash_u64(h, UINT64_MAX);
		return;
	}
	n = strlen(s);
	fieldhash_u64(h, n);
	crypto_generichash_update(h, (const unsigned char *)s, n);
}
