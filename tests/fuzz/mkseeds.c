/*
 * Writes the seeds of the keyfile and sealed targets that only libsodium can
 * make: key files from seal_keygen (the passphrase one with Argon2id's
 * minimum limits, so the fuzzer can afford to open it) and blobs sealed to
 * fuzz_sealed.c's fixed key pair.  Their salts, nonces and ephemeral keys
 * are random, so each run writes different bytes of the same meaning; the
 * corpus keeps one run's.  The hand-written seeds beside them are not
 * touched.
 *
 * usage: fuzz_mkseeds CORPUS_DIR   (writes CORPUS_DIR/keyfile and /sealed)
 */
#include "core/seal_priv.h"
#include "core/xalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_SEED "tokenwarden fuzz sealing key 01"    /* fuzz_sealed.c's */
#define FUZZ_PASSPHRASE "correct horse battery staple" /* fuzz_keyfile.c's */

static void
die(const char *what, const char *cause)
{
	fprintf(stderr, "fuzz_mkseeds: %s: %s\n", what, cause != NULL ? cause : "failed");
	exit(1);
}

static void
put(const char *dir, const char *name, const void *p, size_t n)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "wb");

	if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0)
		die(path, "cannot write");
	free(path);
}

/* Copies the file at from into dir/name. */
static void
copy(const char *from, const char *dir, const char *name)
{
	char buf[4096];
	FILE *f = fopen(from, "rb");
	size_t n;

	if (f == NULL)
		die(from, "cannot read");
	n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	put(dir, name, buf, n);
}

/* Makes two key pairs in a temp dir, one protected, and copies their files. */
static void
key_files(const char *out)
{
	char tmp[] = "/tmp/tw-mkseeds-XXXXXX", *pub, *sec, *pub2, *sec2, *cause = NULL;
	struct seal_kdf cheap = {crypto_pwhash_argon2id_OPSLIMIT_MIN,
				 crypto_pwhash_argon2id_MEMLIMIT_MIN};

	if (mkdtemp(tmp) == NULL)
		die(tmp, "cannot create");
	pub = xasprintf("%s/a.pub", tmp);
	sec = xasprintf("%s/a.sec", tmp);
	pub2 = xasprintf("%s/b.pub", tmp);
	sec2 = xasprintf("%s/b.sec", tmp);
	if (seal_keygen(pub, sec, NULL, 0, NULL, 0, &cause) != SEAL_OK)
		die("keygen", cause);
	if (seal_keygen(pub2, sec2, (const unsigned char *)FUZZ_PASSPHRASE, strlen(FUZZ_PASSPHRASE),
			&cheap, 0, &cause) != SEAL_OK)
		die("keygen with a passphrase", cause);
	copy(pub, out, "ok-public.pub");
	copy(sec, out, "ok-secret.sec");
	copy(sec2, out, "ok-protected.sec");
	unlink(pub);
	unlink(sec);
	unlink(pub2);
	unlink(sec2);
	rmdir(tmp);
	free(pub);
	free(sec);
	free(pub2);
	free(sec2);
}

/* Appends field s (4 bytes of length, big-endian, then s) at p; returns the end. */
static unsigned char *
field(unsigned char *p, const char *s, size_t n)
{
	p[0] = (unsigned char)(n >> 24);
	p[1] = (unsigned char)(n >> 16);
	p[2] = (unsigned char)(n >> 8);
	p[3] = (unsigned char)n;
	memcpy(p + 4, s, n);
	return p + 4 + n;
}

/* Writes a plaintext seed: 0x01, then "TWS1" and the four fields (lengths as given). */
static void
plain(const char *out, const char *name, const char *magic, const char *const f[4],
      const size_t n[4], size_t cut)
{
	unsigned char *buf = xcalloc(1, 5 + 4 * 4 + n[0] + n[1] + n[2] + n[3]), *p = buf + 5;

	buf[0] = 0x01;
	memcpy(buf + 1, magic, 4);
	for (int i = 0; i < 4; i++)
		p = field(p, f[i], n[i]);
	put(out, name, buf, (size_t)(p - buf) - cut);
	free(buf);
}

/* Writes a blob seed: 0x00, then the blob sealed to the fixed pair. */
static void
blob(const char *out, const char *name, const struct seal_pub *pub, const char *ws, const char *id)
{
	unsigned char *b = NULL, *seed;
	size_t len = 0;
	char *cause = NULL;

	if (seal_seal(pub, ws, id, "8b6fdc0a36bf340604a3cedc", "829146cb6c752f51bbbb8c85", &b, &len,
		      &cause) != SEAL_OK)
		die("seal", cause);
	seed = xmalloc(len + 1);
	seed[0] = 0x00;
	memcpy(seed + 1, b, len);
	put(out, name, seed, len + 1);
	free(seed);
	free(b);
}

static void
sealed(const char *out)
{
	unsigned char seed[crypto_box_SEEDBYTES] = FUZZ_SEED, sk[crypto_box_SECRETKEYBYTES];
	static char big[SEAL_FIELD_MAX + 1];
	static const unsigned char magic[] = {'T', 'W', 'S', '1'}; /* no NUL: bytes, not text */
	unsigned char buf[128], *p;
	struct seal_pub pub;
	const char *ok[4] = {"acme", "5b89bf4b0a49", "8b6fdc0a36bf340604a3cedc",
			     "829146cb6c752f51bbbb8c85"};
	const char *moved[4] = {"globex", "5b89bf4b0a49", "8b6fdc0a36bf340604a3cedc",
				"829146cb6c752f51bbbb8c85"};
	const char *withnul[4] = {"acme", "5b89bf4b0a49", "8b6f\0dc0a", "829146cb6c752f51bbbb8c85"};
	const char *huge[4] = {"acme", "5b89bf4b0a49", big, "829146cb6c752f51bbbb8c85"};
	size_t n[4] = {4, 12, 24, 24}, n0[4] = {4, 12, 0, 24}, nnul[4] = {4, 12, 9, 24};
	size_t nmoved[4] = {6, 12, 24, 24}, nbig[4] = {4, 12, SEAL_FIELD_MAX + 1, 24};
	size_t nmax[4] = {4, 12, SEAL_FIELD_MAX, 24};

	memset(big, 'k', sizeof big);
	crypto_box_seed_keypair(pub.pk, sk, seed);
	sodium_memzero(sk, sizeof sk);
	blob(out, "blob-ok", &pub, "acme", "5b89bf4b0a49");
	blob(out, "blob-moved-workspace", &pub, "globex", "5b89bf4b0a49");
	blob(out, "blob-moved-token", &pub, "acme", "0123456789ab");
	put(out, "blob-empty", "\0", 1);
	put(out, "blob-short", "\0short", 6);
	plain(out, "plain-ok", "TWS1", ok, n, 0);
	plain(out, "plain-moved", "TWS1", moved, nmoved, 0);
	plain(out, "plain-bad-magic", "TWS2", ok, n, 0);
	plain(out, "plain-empty-field", "TWS1", ok, n0, 0);
	plain(out, "plain-nul-in-field", "TWS1", withnul, nnul, 0);
	plain(out, "plain-field-too-long", "TWS1", huge, nbig, 0);
	plain(out, "plain-field-longest", "TWS1", huge, nmax, 0);
	plain(out, "plain-truncated", "TWS1", ok, n, 10);
	put(out, "plain-magic-only", "\001TWS1", 5);
	put(out, "plain-empty", "\001", 1);
	/* Two bytes after the four fields. */
	buf[0] = 0x01;
	memcpy(buf + 1, magic, sizeof magic);
	p = buf + 5;
	for (int i = 0; i < 4; i++)
		p = field(p, ok[i], n[i]);
	memcpy(p, "xx", 2);
	put(out, "plain-trailing", buf, (size_t)(p + 2 - buf));
}

int
main(int argc, char **argv)
{
	char *dir;

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_mkseeds CORPUS_DIR\n");
		return 2;
	}
	if (sodium_init() < 0)
		die("libsodium", NULL);
	dir = xasprintf("%s/keyfile", argv[1]);
	key_files(dir);
	free(dir);
	dir = xasprintf("%s/sealed", argv[1]);
	sealed(dir);
	free(dir);
	return 0;
}
