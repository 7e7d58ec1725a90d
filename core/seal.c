/* Sealing token secrets to the store's public key, and opening them. */
#include "core/seal_priv.h"

#include "core/xalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "TWS1"
#define MAGIC_LEN 4
#define NFIELDS 4

/* One field of a sealed plaintext, pointing into it. */
struct field {
	const char *p;
	size_t n;
};

static const char *
or_none(const char *s)
{
	return s != NULL ? s : "(none)";
}

static void
put_u32(unsigned char *p, size_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static size_t
get_u32(const unsigned char *p)
{
	return (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | (size_t)p[3];
}

int
seal_seal(const struct seal_pub *pub, const char *workspace, const char *token_id,
	  const char *access_key, const char *access_secret, unsigned char **blob, size_t *blob_len,
	  char **cause)
{
	static const char *const names[NFIELDS] = {"workspace", "token id", "access key",
						   "access secret"};
	const char *f[NFIELDS] = {workspace, token_id, access_key, access_secret};
	size_t len[NFIELDS], total = MAGIC_LEN;
	unsigned char *plain = NULL, *p, *c = NULL;
	int rc = SEAL_ERR;

	for (int i = 0; i < NFIELDS; i++) {
		len[i] = f[i] != NULL ? strlen(f[i]) : 0;
		if (len[i] == 0 || len[i] > SEAL_FIELD_MAX) {
			*cause =
			    xasprintf("cannot seal the secret of token %s in workspace %s: the "
				      "%s is %s",
				      or_none(token_id), or_none(workspace), names[i],
				      len[i] == 0 ? "empty" : "too long");
			goto out;
		}
		total += 4 + len[i];
	}
	if (sodium_init() < 0) {
		*cause = xasprintf("cannot seal the secret of token %s in workspace %s: libsodium "
				   "failed to initialise",
				   token_id, workspace);
		goto out;
	}
	plain = xsecret_alloc(total);
	memcpy(plain, MAGIC, MAGIC_LEN);
	p = plain + MAGIC_LEN;
	for (int i = 0; i < NFIELDS; i++) {
		put_u32(p, len[i]);
		memcpy(p + 4, f[i], len[i]);
		p += 4 + len[i];
	}
	c = xmalloc(total + crypto_box_SEALBYTES);
	if (crypto_box_seal(c, plain, total, pub->pk) != 0) {
		*cause = xasprintf("cannot seal the secret of token %s in workspace %s: the public "
				   "key is not usable",
				   token_id, workspace);
		goto out;
	}
	*blob = c;
	*blob_len = total + crypto_box_SEALBYTES;
	c = NULL;
	rc = SEAL_OK;
out:
	free(c);
	xsecret_free(plain);
	return rc;
}

/*
 * Field f as a message may quote it: whoever holds the public key chose it,
 * so each byte but printable ASCII becomes '?' (escapes, line ends and C1
 * controls would act on a terminal or forge log lines), and past 48 bytes
 * it is cut, with "...".
 */
static char *
quotable(const struct field *f)
{
	size_t n = f->n > 48 ? 48 : f->n;
	char *q = xmalloc(n + 4);

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)f->p[i];

		q[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	memcpy(q + n, f->n > n ? "..." : "", f->n > n ? 4 : 1);
	return q;
}

/* Splits an opened plaintext into its fields; -1 when it is not one this version writes. */
static int
decode_plain(const unsigned char *plain, size_t n, struct field f[NFIELDS])
{
	const unsigned char *p = plain + MAGIC_LEN, *end = plain + n;

	if (n < MAGIC_LEN || memcmp(plain, MAGIC, MAGIC_LEN) != 0)
		return -1;
	for (int i = 0; i < NFIELDS; i++) {
		size_t len;

		if (end - p < 4)
			return -1;
		len = get_u32(p);
		p += 4;
		if (len == 0 || len > SEAL_FIELD_MAX || len > (size_t)(end - p) ||
		    memchr(p, '\0', len) != NULL)
			return -1;
		f[i].p = (const char *)p;
		f[i].n = len;
		p += len;
	}
	return p == end ? 0 : -1;
}

static int
field_is(const struct field *f, const char *s)
{
	return f->n == strlen(s) && memcmp(f->p, s, f->n) == 0;
}

static char *
field_secret(const struct field *f)
{
	char *s = xsecret_alloc(f->n + 1);

	memcpy(s, f->p, f->n);
	return s;
}

int
seal_open(const struct seal_sec *sec, const char *workspace, const char *token_id,
	  const unsigned char *blob, size_t blob_len, char **access_key, char **access_secret,
	  char **cause)
{
	struct field f[NFIELDS];
	unsigned char *plain = NULL;
	char *w = NULL, *t = NULL;
	int rc = SEAL_ERR_OPEN;

	if (blob_len <= crypto_box_SEALBYTES) {
		*cause = xasprintf("the sealed secret of token %s in workspace %s is too short "
				   "(%zu bytes) to be a sealed box; it was altered",
				   token_id, workspace, blob_len);
		goto out;
	}
	plain = xsecret_alloc(blob_len - crypto_box_SEALBYTES);
	if (crypto_box_seal_open(plain, blob, blob_len, sec->pk, sec->sk) != 0) {
		*cause =
		    xasprintf("the sealed secret of token %s in workspace %s does not open with "
			      "this secret key: it was sealed to another key, or altered",
			      token_id, workspace);
		goto out;
	}
	rc = SEAL_ERR;
	if (decode_plain(plain, blob_len - crypto_box_SEALBYTES, f) < 0) {
		*cause = xasprintf("the sealed secret of token %s in workspace %s opens but is not "
				   "in a format this version reads",
				   token_id, workspace);
		goto out;
	}
	if (!field_is(&f[0], workspace) || !field_is(&f[1], token_id)) {
		w = quotable(&f[0]);
		t = quotable(&f[1]);
		*cause =
		    xasprintf("the sealed secret stored for token %s in workspace %s belongs to "
			      "another token (workspace %s, token %s) and was moved between rows",
			      token_id, workspace, w, t);
		rc = SEAL_ERR_MOVED;
		goto out;
	}
	*access_key = field_secret(&f[2]);
	*access_secret = field_secret(&f[3]);
	rc = SEAL_OK;
out:
	free(w);
	free(t);
	xsecret_free(plain);
	return rc;
}
