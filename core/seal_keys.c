/* The sealing key pair's files: keygen, loading, the passphrase, the fingerprint. */
#include "core/seal_priv.h"

#include "core/cred.h"
#include "core/outfile.h"
#include "core/trust.h"
#include "core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PUB_HEADER "tokenwarden-seal-public v1"
#define SEC_HEADER "tokenwarden-seal-secret v1"
#define FILE_MAX 4096    /* key files are a few hundred bytes */
#define SEC_TEXT_MAX 512 /* the longest secret key file we write */
#define B64_LEN(n) sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL)
#define BOX_BYTES SEAL_BOX_BYTES
#define KDF_OPS_MAX crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE /* refuse absurd limits in files */
#define KDF_MEM_MAX crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE
#define FPR_PREFIX "tw1:"
#define FPR_HASH_BYTES 16

_Static_assert(sizeof FPR_PREFIX - 1 +
		       sodium_base64_ENCODED_LEN(FPR_HASH_BYTES,
						 sodium_base64_VARIANT_URLSAFE_NO_PADDING) <=
		   SEAL_FPR_MAX,
	       "SEAL_FPR_MAX");

/* A key file's text, read line by line; path names it in messages. */
struct lines {
	const char *path;
	const char *p;
	const char *end;
	int no; /* the number of the line last returned */
};

static const char *const headers[2] = {PUB_HEADER, SEC_HEADER};
static const char *const kinds[2] = {"public key", "secret key"};

struct seal_kdf
seal_kdf_default(void)
{
	struct seal_kdf k = {crypto_pwhash_argon2id_OPSLIMIT_MODERATE,
			     crypto_pwhash_argon2id_MEMLIMIT_MODERATE};

	return k;
}

static int
kdf_ok(unsigned long long ops, unsigned long long mem)
{
	return ops >= crypto_pwhash_argon2id_OPSLIMIT_MIN && ops <= KDF_OPS_MAX &&
	       mem >= crypto_pwhash_argon2id_MEMLIMIT_MIN && mem <= KDF_MEM_MAX;
}

/* Returns the secretbox key for a passphrase in secret memory, or NULL when out of memory. */
static unsigned char *
derive_key(const unsigned char *pass, size_t passlen, const unsigned char *salt,
	   const struct seal_kdf *k)
{
	unsigned char *key = xsecret_alloc(crypto_secretbox_KEYBYTES);

	if (crypto_pwhash(key, crypto_secretbox_KEYBYTES, (const char *)pass, passlen, salt,
			  k->opslimit, k->memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
		xsecret_free(key);
		return NULL;
	}
	return key;
}

static char *
kdf_failed(const char *path, const struct seal_kdf *k)
{
	return xasprintf("%s: cannot derive a key from the passphrase: not enough memory for "
			 "Argon2id with memlimit %zu bytes",
			 path, k->memlimit);
}

/* ---- Writing key files ---- */

static char *
public_text(const unsigned char *pk)
{
	char b64[B64_LEN(crypto_box_PUBLICKEYBYTES)];

	sodium_bin2base64(b64, sizeof b64, pk, crypto_box_PUBLICKEYBYTES,
			  sodium_base64_VARIANT_ORIGINAL);
	return xasprintf(PUB_HEADER "\n%s\n", b64);
}

/* Returns the secret key file's text in secret memory, or NULL with *cause. */
static char *
secret_text(const char *path, const struct seal_sec *sec, const unsigned char *pass, size_t passlen,
	    const struct seal_kdf *kdf, char **cause)
{
	char kdfline[128] = "kdf none", pkb64[B64_LEN(crypto_box_PUBLICKEYBYTES)];
	char saltb64[B64_LEN(crypto_pwhash_SALTBYTES)];
	char *body = xsecret_alloc(B64_LEN(BOX_BYTES)), *text = NULL;
	unsigned char salt[crypto_pwhash_SALTBYTES], box[BOX_BYTES], *key = NULL;
	int n;

	sodium_bin2base64(pkb64, sizeof pkb64, sec->pk, sizeof sec->pk,
			  sodium_base64_VARIANT_ORIGINAL);
	if (pass == NULL) {
		sodium_bin2base64(body, B64_LEN(BOX_BYTES), sec->sk, sizeof sec->sk,
				  sodium_base64_VARIANT_ORIGINAL);
	} else {
		randombytes_buf(salt, sizeof salt);
		key = derive_key(pass, passlen, salt, kdf);
		if (key == NULL) {
			*cause = kdf_failed(path, kdf);
			goto out;
		}
		randombytes_buf(box, crypto_secretbox_NONCEBYTES);
		crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, sec->sk, sizeof sec->sk,
				      box, key);
		sodium_bin2base64(body, B64_LEN(BOX_BYTES), box, sizeof box,
				  sodium_base64_VARIANT_ORIGINAL);
		sodium_bin2base64(saltb64, sizeof saltb64, salt, sizeof salt,
				  sodium_base64_VARIANT_ORIGINAL);
		n = snprintf(kdfline, sizeof kdfline, "kdf argon2id %llu %zu %s", kdf->opslimit,
			     kdf->memlimit, saltb64);
		if (n < 0 || (size_t)n >= sizeof kdfline) {
			*cause = xasprintf("%s: internal error: kdf line too long", path);
			goto out;
		}
	}
	text = xsecret_alloc(SEC_TEXT_MAX);
	n = snprintf(text, SEC_TEXT_MAX, SEC_HEADER "\n%s\n%s\n%s\n", kdfline, pkb64, body);
	if (n < 0 || n >= SEC_TEXT_MAX) {
		*cause = xasprintf("%s: internal error: key file text too long", path);
		xsecret_free(text);
		text = NULL;
	}
out:
	xsecret_free(key);
	xsecret_free(body);
	return text;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Writes text to a new temp file of the given mode beside path and fsyncs
 * it.  Returns the temp file's name (the caller frees it), or NULL with
 * *cause.
 */
static char *
write_temp(const char *path, const char *text, mode_t mode, char **cause)
{
	unsigned char rnd[8];
	char hex[2 * sizeof rnd + 1], *tmp;
	int fd, ok = 0;

	randombytes_buf(rnd, sizeof rnd);
	sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
	tmp = xasprintf("%s.tmp-%s", path, hex);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		*cause = xasprintf("%s: cannot create: %s", tmp, strerror(errno));
		FREE_NULL(&tmp);
		return NULL;
	}
	/* Created 0600 whatever it becomes: no one reads it half written.  Then exactly mode. */
	if (fchmod(fd, mode) < 0 || write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0) {
		*cause = xasprintf("%s: cannot write: %s", tmp, strerror(errno));
		goto out;
	}
	ok = close(fd) == 0;
	fd = -1;
	if (!ok)
		*cause = xasprintf("%s: cannot write: %s", tmp, strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	if (!ok) {
		unlink(tmp);
		FREE_NULL(&tmp);
	}
	return tmp;
}

static int
exists(const char *path, char **cause)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return 0;
	*cause = xasprintf("%s exists; use --force to replace it", path);
	return 1;
}

/*
 * Puts *tmp in place at path: with force by rename (and *tmp is freed and
 * NULL after), else by link, which never replaces a file (*tmp remains).
 */
static int
install(char **tmp, const char *path, int force, char **cause)
{
	if (force) {
		if (rename(*tmp, path) < 0) {
			*cause = xasprintf("%s: cannot replace: %s", path, strerror(errno));
			return SEAL_ERR;
		}
		FREE_NULL(tmp);
		return SEAL_OK;
	}
	if (link(*tmp, path) < 0) {
		if (errno == EEXIST) {
			*cause = xasprintf("%s exists; use --force to replace it", path);
			return SEAL_ERR_EXISTS;
		}
		*cause = xasprintf("%s: cannot create: %s", path, strerror(errno));
		return SEAL_ERR;
	}
	return SEAL_OK;
}

/* Removes path if it is still the file linked from tmp. */
static void
undo_link(const char *tmp, const char *path)
{
	struct stat a, b;

	if (lstat(tmp, &a) == 0 && lstat(path, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		unlink(path);
}

/* Makes path's directory entry durable; best effort, as some file systems refuse. */
static void
sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd;

	if (slash == NULL)
		dir = xstrdup(".");
	else if (slash == path)
		dir = xstrdup("/");
	else
		dir = xstrndup(path, (size_t)(slash - path));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(dir);
}

static int
keygen_check(const char *pub_path, const char *sec_path, const unsigned char *pass, size_t passlen,
	     const struct seal_kdf *k, char **cause)
{
	if (strcmp(pub_path, sec_path) == 0) {
		*cause = xasprintf("%s: the public and the secret key need two different files",
				   pub_path);
		return -1;
	}
	if (pass != NULL && passlen == 0) {
		*cause = xasprintf("%s: empty passphrase; give none to leave the key unprotected",
				   sec_path);
		return -1;
	}
	if (pass != NULL && !kdf_ok(k->opslimit, k->memlimit)) {
		*cause = xasprintf("%s: Argon2id limits out of range (opslimit %llu, memlimit %zu)",
				   sec_path, k->opslimit, k->memlimit);
		return -1;
	}
	if (sodium_init() < 0) {
		*cause = xasprintf("%s: libsodium failed to initialise", sec_path);
		return -1;
	}
	return 0;
}

int
seal_keygen(const char *pub_path, const char *sec_path, const unsigned char *pass, size_t passlen,
	    const struct seal_kdf *kdf, int force, char **cause)
{
	struct seal_kdf k = kdf != NULL ? *kdf : seal_kdf_default();
	struct seal_sec *sec = NULL;
	char *pubtext = NULL, *sectext = NULL, *pubtmp = NULL, *sectmp = NULL, *first;
	int rc = SEAL_ERR;

	if (keygen_check(pub_path, sec_path, pass, passlen, &k, cause) < 0 ||
	    outfile_replaceable(AT_FDCWD, pub_path, pub_path, cause) < 0 ||
	    outfile_replaceable(AT_FDCWD, sec_path, sec_path, cause) < 0)
		goto out;
	if (!force && (exists(pub_path, cause) || exists(sec_path, cause))) {
		rc = SEAL_ERR_EXISTS;
		goto out;
	}
	sec = xsecret_alloc(sizeof *sec);
	crypto_box_keypair(sec->pk, sec->sk);
	pubtext = public_text(sec->pk);
	sectext = secret_text(sec_path, sec, pass, passlen, &k, cause);
	if (sectext == NULL)
		goto out;
	/* Public: the service's user reads it, whoever made it. */
	pubtmp = write_temp(pub_path, pubtext, 0644, cause);
	if (pubtmp == NULL)
		goto out;
	sectmp = write_temp(sec_path, sectext, 0600, cause);
	if (sectmp == NULL)
		goto out;
	/* Public first: a new public key without its secret fails the store's pin loudly. */
	rc = install(&pubtmp, pub_path, force, cause);
	if (rc != SEAL_OK)
		goto out;
	rc = install(&sectmp, sec_path, force, cause);
	if (rc != SEAL_OK && !force) {
		undo_link(pubtmp, pub_path);
	} else if (rc != SEAL_OK) {
		first = *cause;
		*cause = xasprintf("%s; %s was already replaced and its new key has no secret "
				   "key: run keygen again",
				   first, pub_path);
		free(first);
	}
	sync_dir(pub_path);
	sync_dir(sec_path);
out:
	if (pubtmp != NULL)
		unlink(pubtmp);
	if (sectmp != NULL)
		unlink(sectmp);
	free(pubtmp);
	free(sectmp);
	free(pubtext);
	xsecret_free(sectext);
	seal_secret_free(sec);
	return rc;
}

/* ---- Reading key files ---- */

/*
 * Returns the next line (without "\n" or "\r\n") in *s and *n, or -1 with
 * *cause when the file ends before it; what names the line in that message.
 */
static int
next_line(struct lines *l, const char *what, const char **s, size_t *n, char **cause)
{
	const char *nl;

	if (l->p == l->end) {
		*cause =
		    xasprintf("%s: truncated: line %d (%s) is missing", l->path, l->no + 1, what);
		return -1;
	}
	nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
	*s = l->p;
	*n = (size_t)((nl != NULL ? nl : l->end) - l->p);
	l->p = nl != NULL ? nl + 1 : l->end;
	if (*n > 0 && (*s)[*n - 1] == '\r')
		(*n)--;
	l->no++;
	return 0;
}

/* Allows only empty lines after the last one. */
static int
check_end(struct lines *l, char **cause)
{
	while (l->p < l->end && (*l->p == '\n' || *l->p == '\r'))
		l->p++;
	if (l->p == l->end)
		return 0;
	*cause = xasprintf("%s: unexpected text after line %d", l->path, l->no);
	return -1;
}

/*
 * Checks line 1 for the header of kind (0 public, 1 secret).  Never quotes
 * the line: a wrong file given by mistake may hold a secret.
 */
static int
check_header(struct lines *l, int kind, char **cause)
{
	const char *s;
	size_t n;

	if (l->p == l->end) {
		*cause = xasprintf("%s: empty file; expected a tokenwarden seal %s", l->path,
				   kinds[kind]);
		return -1;
	}
	if (next_line(l, "header", &s, &n, cause) < 0)
		return -1;
	if (n == strlen(headers[kind]) && memcmp(s, headers[kind], n) == 0)
		return 0;
	for (int i = 0; i < 2; i++) {
		size_t plen = strlen(headers[i]) - 1; /* up to the version number */

		if (n <= plen || memcmp(s, headers[i], plen) != 0)
			continue;
		if (i == kind)
			*cause = xasprintf("%s: tokenwarden seal %s in an unknown format version "
					   "(this version reads v1)",
					   l->path, kinds[kind]);
		else
			*cause = xasprintf("%s: holds a tokenwarden seal %s; expected the %s",
					   l->path, kinds[i], kinds[kind]);
		return -1;
	}
	*cause = xasprintf("%s: not a tokenwarden seal %s (line 1 should be '%s')", l->path,
			   kinds[kind], headers[kind]);
	return -1;
}

/* Decodes base64 s of exactly len bytes into bin; what names it in messages. */
static int
decode_b64(const struct lines *l, const char *what, const char *s, size_t n, unsigned char *bin,
	   size_t len, char **cause)
{
	const char *end = NULL;
	size_t got = 0;

	if (sodium_base642bin(bin, len, s, n, NULL, &got, &end, sodium_base64_VARIANT_ORIGINAL) !=
		0 ||
	    end != s + n || got != len) {
		*cause = xasprintf("%s: line %d: not the base64 of a %zu-byte %s", l->path, l->no,
				   len, what);
		return -1;
	}
	return 0;
}

int
seal_parse_public(const char *path, const char *text, size_t len, struct seal_pub *out,
		  char **cause)
{
	struct lines l = {path, text, text + len, 0};
	const char *s;
	size_t n;

	if (check_header(&l, 0, cause) < 0 || next_line(&l, "the public key", &s, &n, cause) < 0 ||
	    decode_b64(&l, "public key", s, n, out->pk, sizeof out->pk, cause) < 0 ||
	    check_end(&l, cause) < 0)
		return SEAL_ERR;
	return SEAL_OK;
}

/* Parses a decimal number without sign or trailing text. */
static int
parse_ull(const char *s, unsigned long long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0' ? 0 : -1;
}

/* Splits s in place at each space into w (room for max); returns how many words there were. */
static size_t
split(char *s, char **w, size_t max)
{
	size_t n = 0;

	for (;;) {
		char *sp = strchr(s, ' ');

		if (n < max)
			w[n] = s;
		n++;
		if (sp == NULL)
			return n;
		*sp = '\0';
		s = sp + 1;
	}
}

/* Parses "kdf none" or "kdf argon2id OPSLIMIT MEMLIMIT SALT" into f. */
static int
parse_kdf(const struct lines *l, const char *s, size_t n, struct seal_secfile *f, char **cause)
{
	char *line = xstrndup(s, n), *w[5];
	size_t nw = split(line, w, 5);
	unsigned long long ops = 0, mem = 0;
	int rc = -1;

	if (nw == 2 && strcmp(w[0], "kdf") == 0 && strcmp(w[1], "none") == 0) {
		f->protected = 0;
		rc = 0;
		goto out;
	}
	if (nw != 5 || strcmp(w[0], "kdf") != 0 || strcmp(w[1], "argon2id") != 0) {
		*cause = xasprintf("%s: line %d: expected 'kdf none' or 'kdf argon2id OPSLIMIT "
				   "MEMLIMIT SALT'",
				   l->path, l->no);
		goto out;
	}
	if (parse_ull(w[2], &ops) < 0 || parse_ull(w[3], &mem) < 0 || !kdf_ok(ops, mem)) {
		*cause = xasprintf("%s: line %d: Argon2id limits out of range (opslimit %llu to "
				   "%llu, memlimit %llu to %llu)",
				   l->path, l->no,
				   (unsigned long long)crypto_pwhash_argon2id_OPSLIMIT_MIN,
				   (unsigned long long)KDF_OPS_MAX,
				   (unsigned long long)crypto_pwhash_argon2id_MEMLIMIT_MIN,
				   (unsigned long long)KDF_MEM_MAX);
		goto out;
	}
	if (decode_b64(l, "salt", w[4], strlen(w[4]), f->salt, sizeof f->salt, cause) < 0)
		goto out;
	f->protected = 1;
	f->kdf.opslimit = ops;
	f->kdf.memlimit = (size_t)mem;
	rc = 0;
out:
	free(line);
	return rc;
}

int
seal_parse_secret(const char *path, const char *text, size_t len, struct seal_secfile *f,
		  struct seal_sec *sec, char **cause)
{
	struct lines l = {path, text, text + len, 0};
	const char *s;
	size_t n;
	int rc;

	if (check_header(&l, 1, cause) < 0 || next_line(&l, "kdf", &s, &n, cause) < 0 ||
	    parse_kdf(&l, s, n, f, cause) < 0 ||
	    next_line(&l, "the public key", &s, &n, cause) < 0 ||
	    decode_b64(&l, "public key", s, n, sec->pk, sizeof sec->pk, cause) < 0 ||
	    next_line(&l, "the secret key", &s, &n, cause) < 0)
		return SEAL_ERR;
	if (f->protected)
		rc = decode_b64(&l, "encrypted secret key", s, n, f->box, sizeof f->box, cause);
	else
		rc = decode_b64(&l, "secret key", s, n, sec->sk, sizeof sec->sk, cause);
	if (rc < 0 || check_end(&l, cause) < 0)
		return SEAL_ERR;
	return SEAL_OK;
}

int
seal_load_public(const char *path, struct seal_pub *out, char **cause)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	int fd, rc = SEAL_ERR;

	/* Not cred_read_file: a public key may be world-readable, but none may replace it. */
	fd = cred_open_file(path);
	if (fd < 0) {
		*cause = xasprintf("%s: cannot open: %s", path, strerror(errno));
		return SEAL_ERR;
	}
	if (fstat(fd, &st) < 0) {
		*cause = xasprintf("%s: cannot stat: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		*cause = xasprintf("%s: not a regular file", path);
		goto out;
	}
	if (!cred_owner_ok(&st)) {
		char *head = trust_owned_by_other(path, st.st_uid),
		     *me = trust_user_name(geteuid());

		*cause = xasprintf("%s; its owner could put a key of their own there and open "
				   "every secret sealed after; run: sudo chown %s %s",
				   head, me, path);
		free(head);
		free(me);
		goto out;
	}
	if ((st.st_mode & 022) != 0) {
		*cause = xasprintf("%s: permissions %04o let group or others replace the key; run: "
				   "chmod go-w %s",
				   path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if (cred_read_fd(fd, path, FILE_MAX, &text, &len, cause) < 0)
		goto out;
	rc = seal_parse_public(path, text, len, out, cause);
out:
	close(fd);
	xsecret_free(text);
	return rc;
}

void
seal_fingerprint(const struct seal_pub *pub, char out[SEAL_FPR_MAX])
{
	unsigned char h[FPR_HASH_BYTES];

	crypto_generichash(h, sizeof h, pub->pk, sizeof pub->pk, NULL, 0);
	memcpy(out, FPR_PREFIX, sizeof FPR_PREFIX - 1);
	sodium_bin2base64(out + sizeof FPR_PREFIX - 1, SEAL_FPR_MAX - (sizeof FPR_PREFIX - 1), h,
			  sizeof h, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Reads and parses the secret key file at path into f and a new *out. */
static int
read_secret(const char *path, struct seal_secfile *f, struct seal_sec **out, char **cause)
{
	struct seal_sec *sec = xsecret_alloc(sizeof *sec);
	char *text = NULL;
	size_t len = 0;
	int rc = SEAL_ERR;

	if (cred_read_file(path, FILE_MAX, &text, &len, cause) < 0)
		goto out;
	if (seal_parse_secret(path, text, len, f, sec, cause) < 0)
		goto out;
	*out = sec;
	sec = NULL;
	rc = SEAL_OK;
out:
	xsecret_free(text);
	seal_secret_free(sec);
	return rc;
}

int
seal_secret_protected(const char *path, int *yes, char **cause)
{
	struct seal_secfile f;
	struct seal_sec *sec = NULL;

	memset(&f, 0, sizeof f);
	if (read_secret(path, &f, &sec, cause) < 0)
		return SEAL_ERR;
	*yes = f.protected;
	seal_secret_free(sec);
	return SEAL_OK;
}

int
seal_unlock_secret(const char *path, const struct seal_secfile *f, struct seal_sec *sec,
		   const unsigned char *pass, size_t passlen, char **cause)
{
	unsigned char pk[crypto_box_PUBLICKEYBYTES], *key = NULL;
	const unsigned char *nonce = f->box, *ct = f->box + crypto_secretbox_NONCEBYTES;
	int rc = SEAL_ERR;

	if (f->protected && pass == NULL) {
		*cause = xasprintf("%s is passphrase-protected", path);
		rc = SEAL_ERR_PASSPHRASE;
		goto out;
	}
	if (f->protected) {
		key = derive_key(pass, passlen, f->salt, &f->kdf);
		if (key == NULL) {
			*cause = kdf_failed(path, &f->kdf);
			goto out;
		}
		if (crypto_secretbox_open_easy(sec->sk, ct, BOX_BYTES - crypto_secretbox_NONCEBYTES,
					       nonce, key) != 0) {
			*cause = xasprintf("wrong passphrase for %s", path);
			rc = SEAL_ERR_PASSPHRASE;
			goto out;
		}
	}
	if (crypto_scalarmult_base(pk, sec->sk) != 0 ||
	    sodium_memcmp(pk, sec->pk, sizeof pk) != 0) {
		*cause = xasprintf("%s: the public key it carries is not the public half of its "
				   "secret key; the file was edited or damaged",
				   path);
		goto out;
	}
	rc = SEAL_OK;
out:
	xsecret_free(key);
	return rc;
}

int
seal_load_secret(const char *path, const unsigned char *pass, size_t passlen, struct seal_sec **out,
		 char **cause)
{
	struct seal_secfile f;
	struct seal_sec *sec = NULL;
	int rc = SEAL_ERR;

	memset(&f, 0, sizeof f);
	if (read_secret(path, &f, &sec, cause) < 0)
		goto out;
	rc = seal_unlock_secret(path, &f, sec, pass, passlen, cause);
	if (rc != SEAL_OK)
		goto out;
	*out = sec;
	sec = NULL;
out:
	seal_secret_free(sec);
	return rc;
}

int
seal_secret_file_public(const char *path, struct seal_pub *out, char **cause)
{
	struct seal_secfile f;
	struct seal_sec *sec = NULL;

	memset(&f, 0, sizeof f);
	if (read_secret(path, &f, &sec, cause) < 0)
		return SEAL_ERR;
	seal_secret_public(sec, out);
	seal_secret_free(sec);
	return SEAL_OK;
}

void
seal_secret_public(const struct seal_sec *sec, struct seal_pub *out)
{
	memcpy(out->pk, sec->pk, sizeof out->pk);
}

void
seal_secret_free(struct seal_sec *sec)
{
	xsecret_free(sec); /* sodium_free wipes */
}
