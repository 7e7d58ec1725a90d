/* Unit tests for core/seal: key files, passphrases, sealing and the row binding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/seal.h"
#include "core/xalloc.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 32 and 16 zero bytes in base64: well-formed values for format tests. */
#define Z32 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define Z16 "AAAAAAAAAAAAAAAAAAAAAA=="
#define PASS "correct horse battery staple"

static char dir[] = "/tmp/tw-seal-XXXXXX";
static const struct seal_kdf fast = {crypto_pwhash_argon2id_OPSLIMIT_MIN,
				     crypto_pwhash_argon2id_MEMLIMIT_MIN};

static char *
path_of(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static char *
read_file(const char *path)
{
	char *buf = xmalloc(8192);
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, 8191);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
	return buf;
}

/* Makes name.pub and name.sec (protected when pass is not NULL); returns both paths. */
static void
make_pair(const char *name, const char *pass, char **pub, char **sec)
{
	char *cause = NULL, *p = xasprintf("%s.pub", name), *s = xasprintf("%s.sec", name);

	*pub = path_of(p);
	*sec = path_of(s);
	free(p);
	free(s);
	assert_int_equal(seal_keygen(*pub, *sec, (const unsigned char *)pass,
				     pass != NULL ? strlen(pass) : 0, &fast, 1, &cause),
			 SEAL_OK);
	assert_null(cause);
}

static struct seal_sec *
load_sec(const char *path, const char *pass)
{
	struct seal_sec *sec = NULL;
	char *cause = NULL;

	assert_int_equal(seal_load_secret(path, (const unsigned char *)pass,
					  pass != NULL ? strlen(pass) : 0, &sec, &cause),
			 SEAL_OK);
	assert_null(cause);
	return sec;
}

static void
load_pub(const char *path, struct seal_pub *pub)
{
	char *cause = NULL;

	assert_int_equal(seal_load_public(path, pub, &cause), SEAL_OK);
	assert_null(cause);
}

static void
seal_ok(const struct seal_pub *pub, const char *ws, const char *id, unsigned char **blob,
	size_t *len)
{
	char *cause = NULL;

	assert_int_equal(seal_seal(pub, ws, id, "AK-123", "s3cr3t-value", blob, len, &cause),
			 SEAL_OK);
	assert_null(cause);
}

static void
fingerprint_of(const char *pubpath, char fpr[SEAL_FPR_MAX])
{
	struct seal_pub pub;

	load_pub(pubpath, &pub);
	seal_fingerprint(&pub, fpr);
}

/* Expects rc from loading a secret key, and a message naming path and containing want. */
static void
expect_sec_error(const char *path, const char *pass, int rc, const char *want)
{
	struct seal_sec *sec = NULL;
	char *cause = NULL;

	assert_int_equal(seal_load_secret(path, (const unsigned char *)pass,
					  pass != NULL ? strlen(pass) : 0, &sec, &cause),
			 rc);
	assert_null(sec);
	assert_non_null(cause);
	assert_non_null(strstr(cause, path));
	if (strstr(cause, want) == NULL)
		fail_msg("'%s' does not contain '%s'", cause, want);
	free(cause);
}

static int
setup(void **state)
{
	(void)state;
	return sodium_init() < 0 || mkdtemp(dir) == NULL;
}

static int
teardown(void **state)
{
	char *cmd = xasprintf("rm -rf %s", dir);
	int rc;

	(void)state;
	rc = system(cmd);
	free(cmd);
	return rc;
}

static void
test_round_trip(void **state)
{
	char *pub_path, *sec_path, *key = NULL, *secret = NULL, *cause = NULL;
	unsigned char *blob = NULL, *blob2 = NULL;
	size_t len = 0, len2 = 0;
	struct seal_pub pub, half;
	struct seal_sec *sec;

	(void)state;
	make_pair("rt", NULL, &pub_path, &sec_path);
	load_pub(pub_path, &pub);
	sec = load_sec(sec_path, NULL);
	seal_secret_public(sec, &half);
	assert_memory_equal(pub.pk, half.pk, sizeof pub.pk);
	seal_ok(&pub, "acme", "tok1", &blob, &len);
	for (size_t i = 0; i + 12 <= len; i++) /* the ciphertext does not carry the plaintext */
		assert_memory_not_equal(blob + i, "s3cr3t-value", 12);
	seal_ok(&pub, "acme", "tok1", &blob2, &len2);
	assert_int_equal(len, len2);
	assert_memory_not_equal(blob, blob2, len); /* a fresh ephemeral key each time */
	assert_int_equal(seal_open(sec, "acme", "tok1", blob, len, &key, &secret, &cause), SEAL_OK);
	assert_null(cause);
	assert_string_equal(key, "AK-123");
	assert_string_equal(secret, "s3cr3t-value");
	xsecret_free(key);
	xsecret_free(secret);
	free(blob);
	free(blob2);
	seal_secret_free(sec);
	free(pub_path);
	free(sec_path);
}

static void
test_altered_blob_fails(void **state)
{
	char *pub_path, *sec_path, *key = NULL, *secret = NULL, *cause = NULL;
	unsigned char *blob = NULL, *copy;
	size_t len = 0;
	struct seal_pub pub;
	struct seal_sec *sec;

	(void)state;
	make_pair("flip", NULL, &pub_path, &sec_path);
	load_pub(pub_path, &pub);
	sec = load_sec(sec_path, NULL);
	seal_ok(&pub, "acme", "tok1", &blob, &len);
	copy = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(copy, blob, len);
			copy[i] ^= (unsigned char)(1u << bit);
			assert_int_equal(
			    seal_open(sec, "acme", "tok1", copy, len, &key, &secret, &cause),
			    SEAL_ERR_OPEN);
			assert_null(key);
			assert_null(secret);
			assert_non_null(strstr(cause, "token tok1 in workspace acme"));
			assert_non_null(strstr(cause, "altered"));
			FREE_NULL(&cause);
		}
	}
	for (size_t n = 0; n < len; n++) { /* every truncation */
		assert_int_equal(seal_open(sec, "acme", "tok1", blob, n, &key, &secret, &cause),
				 SEAL_ERR_OPEN);
		FREE_NULL(&cause);
	}
	memcpy(copy, blob, len);
	copy[len] = 0;
	assert_int_equal(seal_open(sec, "acme", "tok1", copy, len + 1, &key, &secret, &cause),
			 SEAL_ERR_OPEN);
	FREE_NULL(&cause);
	assert_null(key);
	free(copy);
	free(blob);
	seal_secret_free(sec);
	free(pub_path);
	free(sec_path);
}

static void
test_swapped_between_tokens(void **state)
{
	static const char *const rows[][2] = {
	    {"acme", "tok2"}, {"other", "tok1"}, {"ACME", "tok1"}};
	char *pub_path, *sec_path, *key = NULL, *secret = NULL, *cause = NULL;
	unsigned char *blob = NULL;
	size_t len = 0;
	struct seal_pub pub;
	struct seal_sec *sec;

	(void)state;
	make_pair("swap", NULL, &pub_path, &sec_path);
	load_pub(pub_path, &pub);
	sec = load_sec(sec_path, NULL);
	seal_ok(&pub, "acme", "tok1", &blob, &len);
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		assert_int_equal(
		    seal_open(sec, rows[i][0], rows[i][1], blob, len, &key, &secret, &cause),
		    SEAL_ERR_MOVED);
		assert_null(key);
		assert_non_null(strstr(cause, "belongs to another token (workspace acme, token "
					      "tok1) and was moved between rows"));
		assert_non_null(strstr(cause, rows[i][1]));
		assert_null(strstr(cause, "s3cr3t"));
		FREE_NULL(&cause);
	}
	free(blob);
	/* Lengths are explicit: ("ab", "c") is not ("a", "bc"). */
	seal_ok(&pub, "ab", "c", &blob, &len);
	assert_int_equal(seal_open(sec, "a", "bc", blob, len, &key, &secret, &cause),
			 SEAL_ERR_MOVED);
	FREE_NULL(&cause);
	free(blob);
	/*
	 * What a blob says it belongs to is anyone's with the public key: quoted
	 * with every byte a terminal could act on (escapes, line ends, C1
	 * controls) made '?', and cut short.
	 */
	seal_ok(&pub, "x\033[2J\033]0;owned\007\nFAKE \302\233line", "t\r\x7f", &blob, &len);
	assert_int_equal(seal_open(sec, "acme", "tok1", blob, len, &key, &secret, &cause),
			 SEAL_ERR_MOVED);
	assert_non_null(strstr(cause, "(workspace x?[2J?]0;owned??FAKE ??line, token t?\?)"));
	FREE_NULL(&cause);
	free(blob);
	seal_ok(&pub, "acme", "a-very-long-token-id-that-goes-on-and-on-past-any-use-in-a-message",
		&blob, &len);
	assert_int_equal(seal_open(sec, "acme", "tok1", blob, len, &key, &secret, &cause),
			 SEAL_ERR_MOVED);
	assert_non_null(
	    strstr(cause, "token a-very-long-token-id-that-goes-on-and-on-past-an...)"));
	FREE_NULL(&cause);
	free(blob);
	seal_secret_free(sec);
	free(pub_path);
	free(sec_path);
}

static void
test_other_key_pair_fails(void **state)
{
	char *pa, *sa, *pb, *sb, *key = NULL, *secret = NULL, *cause = NULL;
	unsigned char *blob = NULL;
	size_t len = 0;
	struct seal_pub pub;
	struct seal_sec *other;

	(void)state;
	make_pair("ka", NULL, &pa, &sa);
	make_pair("kb", NULL, &pb, &sb);
	load_pub(pa, &pub);
	other = load_sec(sb, NULL);
	seal_ok(&pub, "acme", "tok1", &blob, &len);
	assert_int_equal(seal_open(other, "acme", "tok1", blob, len, &key, &secret, &cause),
			 SEAL_ERR_OPEN);
	assert_null(key);
	assert_non_null(strstr(cause, "does not open with this secret key"));
	free(cause);
	free(blob);
	seal_secret_free(other);
	free(pa);
	free(sa);
	free(pb);
	free(sb);
}

static void
test_keygen_never_overwrites_without_force(void **state)
{
	char *pub, *sec, *old_pub, *old_sec, *now, *cause = NULL;
	char f1[SEAL_FPR_MAX], f2[SEAL_FPR_MAX];

	(void)state;
	make_pair("keep", NULL, &pub, &sec);
	old_pub = read_file(pub);
	old_sec = read_file(sec);
	fingerprint_of(pub, f1);
	assert_int_equal(seal_keygen(pub, sec, NULL, 0, &fast, 0, &cause), SEAL_ERR_EXISTS);
	assert_non_null(strstr(cause, "keep.pub exists; use --force to replace it"));
	FREE_NULL(&cause);
	now = read_file(pub);
	assert_string_equal(now, old_pub);
	free(now);
	now = read_file(sec);
	assert_string_equal(now, old_sec);
	free(now);

	/* Only the secret file in place: refused, and no public file appears. */
	assert_int_equal(unlink(pub), 0);
	assert_int_equal(seal_keygen(pub, sec, NULL, 0, &fast, 0, &cause), SEAL_ERR_EXISTS);
	assert_non_null(strstr(cause, "keep.sec exists; use --force to replace it"));
	FREE_NULL(&cause);
	assert_int_equal(access(pub, F_OK), -1);
	write_file(pub, old_pub, 0600);

	assert_int_equal(seal_keygen(pub, sec, NULL, 0, &fast, 1, &cause), SEAL_OK);
	assert_null(cause);
	fingerprint_of(pub, f2);
	assert_string_not_equal(f1, f2);
	now = read_file(sec);
	assert_string_not_equal(now, old_sec);
	free(now);
	free(old_pub);
	free(old_sec);
	free(pub);
	free(sec);
}

static int
count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	for (e = readdir(d); e != NULL; e = readdir(d))
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void
test_created_file_modes(void **state)
{
	char *sub = path_of("modes"), *pub = path_of("modes/k.pub"), *sec = path_of("modes/k.sec");
	char *cause = NULL;
	mode_t old = umask(0);
	struct stat st;

	(void)state;
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(
	    seal_keygen(pub, sec, (const unsigned char *)PASS, strlen(PASS), &fast, 0, &cause),
	    SEAL_OK);
	/* The public key is public: the service's user reads it, whoever ran keygen. */
	assert_int_equal(stat(pub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(stat(sec, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	umask(0277); /* even a umask that clears the owner's write bit, or root's 077 */
	assert_int_equal(seal_keygen(pub, sec, NULL, 0, &fast, 1, &cause), SEAL_OK);
	assert_int_equal(stat(pub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(stat(sec, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	umask(old);
	assert_int_equal(count_entries(sub), 2); /* no temp files left behind */
	free(sub);
	free(pub);
	free(sec);
}

static void
test_loose_permissions_refused(void **state)
{
	char *pub_path, *sec_path, *cause = NULL;
	struct seal_pub pub;
	int yes = -1;

	(void)state;
	make_pair("perm", NULL, &pub_path, &sec_path);
	assert_int_equal(chmod(sec_path, 0644), 0);
	expect_sec_error(sec_path, NULL, SEAL_ERR, "chmod 600");
	assert_int_equal(seal_secret_protected(sec_path, &yes, &cause), SEAL_ERR);
	assert_non_null(strstr(cause, "chmod 600"));
	FREE_NULL(&cause);
	assert_int_equal(yes, -1);

	/* A public key may be readable by all, but not replaceable by others. */
	assert_int_equal(chmod(pub_path, 0644), 0);
	load_pub(pub_path, &pub);
	assert_int_equal(chmod(pub_path, 0664), 0);
	assert_int_equal(seal_load_public(pub_path, &pub, &cause), SEAL_ERR);
	assert_non_null(strstr(cause, pub_path));
	assert_non_null(strstr(cause, "chmod go-w"));
	free(cause);
	free(pub_path);
	free(sec_path);
}

static void
test_passphrase(void **state)
{
	char *pub_path, *sec_path, *plain_pub, *plain_sec, *text, *cause = NULL;
	char *key = NULL, *secret = NULL;
	unsigned char *blob = NULL;
	size_t len = 0;
	struct seal_pub pub;
	struct seal_sec *sec;
	int yes = -1;

	(void)state;
	make_pair("pw", PASS, &pub_path, &sec_path);
	make_pair("nopw", NULL, &plain_pub, &plain_sec);
	text = read_file(sec_path);
	assert_non_null(strstr(text, "\nkdf argon2id 1 8192 "));
	free(text);
	assert_int_equal(seal_secret_protected(sec_path, &yes, &cause), SEAL_OK);
	assert_int_equal(yes, 1);
	assert_int_equal(seal_secret_protected(plain_sec, &yes, &cause), SEAL_OK);
	assert_int_equal(yes, 0);

	sec = load_sec(sec_path, PASS);
	load_pub(pub_path, &pub);
	seal_ok(&pub, "acme", "tok1", &blob, &len);
	assert_int_equal(seal_open(sec, "acme", "tok1", blob, len, &key, &secret, &cause), SEAL_OK);
	assert_string_equal(secret, "s3cr3t-value");
	xsecret_free(key);
	xsecret_free(secret);
	free(blob);
	seal_secret_free(sec);

	expect_sec_error(sec_path, "correct horse battery stapler", SEAL_ERR_PASSPHRASE,
			 "wrong passphrase for ");
	expect_sec_error(sec_path, "", SEAL_ERR_PASSPHRASE, "wrong passphrase for ");
	expect_sec_error(sec_path, NULL, SEAL_ERR_PASSPHRASE, " is passphrase-protected");
	sec = load_sec(plain_sec, "ignored"); /* an unprotected key needs none */
	seal_secret_free(sec);
	free(pub_path);
	free(sec_path);
	free(plain_pub);
	free(plain_sec);
}

/* Replaces line 3 (the public key) of secret file sec with the key line of public file pub. */
static void
graft_public(const char *sec, const char *pub)
{
	char *s = read_file(sec), *p = read_file(pub), *out;
	char *l3 = strchr(strchr(s, '\n') + 1, '\n') + 1, *l4 = strchr(l3, '\n') + 1;
	char *pk = strchr(p, '\n') + 1;

	*l3 = '\0';
	out = xasprintf("%s%s%s", s, pk, l4);
	write_file(sec, out, 0600);
	free(out);
	free(s);
	free(p);
}

static void
test_pair_mismatch_detected(void **state)
{
	char *pa, *sa, *pb, *sb, *pc, *sc;

	(void)state;
	make_pair("ma", NULL, &pa, &sa);
	make_pair("mb", NULL, &pb, &sb);
	make_pair("mc", PASS, &pc, &sc);
	graft_public(sa, pb);
	expect_sec_error(sa, NULL, SEAL_ERR, "not the public half of its secret key");
	graft_public(sc, pb);
	expect_sec_error(sc, PASS, SEAL_ERR, "not the public half of its secret key");
	free(pa);
	free(sa);
	free(pb);
	free(sb);
	free(pc);
	free(sc);
}

static void
test_fingerprint(void **state)
{
	char *pa, *sa, *pb, *sb, f1[SEAL_FPR_MAX], f2[SEAL_FPR_MAX], f3[SEAL_FPR_MAX];
	struct seal_pub half;
	struct seal_sec *sec;

	(void)state;
	make_pair("fa", NULL, &pa, &sa);
	make_pair("fb", NULL, &pb, &sb);
	fingerprint_of(pa, f1);
	fingerprint_of(pa, f2);
	assert_string_equal(f1, f2);
	assert_int_equal(strlen(f1), 4 + 22);
	assert_int_equal(strncmp(f1, "tw1:", 4), 0);
	assert_int_equal(strspn(f1 + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					"0123456789-_"),
			 22);
	sec = load_sec(sa, NULL);
	seal_secret_public(sec, &half);
	seal_fingerprint(&half, f3);
	assert_string_equal(f1, f3);
	seal_secret_free(sec);
	fingerprint_of(pb, f2);
	assert_string_not_equal(f1, f2);
	/* Pinned in stores: the format may never drift (value from Python's hashlib). */
	for (int i = 0; i < SEAL_PK_BYTES; i++)
		half.pk[i] = (unsigned char)i;
	seal_fingerprint(&half, f3);
	assert_string_equal(f3, "tw1:85osrVhBHNSfV35QhrgDHw");
	free(pa);
	free(sa);
	free(pb);
	free(sb);
}

static void
test_tolerant_reading(void **state)
{
	char *pa, *sa, *crlf = path_of("crlf.pub"), f1[SEAL_FPR_MAX], f2[SEAL_FPR_MAX];
	char *text, *line2, *edited;
	struct seal_sec *sec;

	(void)state;
	make_pair("tol", NULL, &pa, &sa);
	fingerprint_of(pa, f1);
	text = read_file(pa);
	line2 = strchr(text, '\n') + 1;
	line2[strlen(line2) - 1] = '\0';
	edited = xasprintf("tokenwarden-seal-public v1\r\n%s\r\n\r\n", line2);
	write_file(crlf, edited, 0600);
	fingerprint_of(crlf, f2);
	assert_string_equal(f1, f2);
	free(edited);
	edited = xasprintf("tokenwarden-seal-public v1\n%s", line2); /* no final newline */
	write_file(crlf, edited, 0644);
	fingerprint_of(crlf, f2);
	assert_string_equal(f1, f2);
	free(edited);
	free(text);
	sec = load_sec(sa, NULL);
	seal_secret_free(sec);
	free(crlf);
	free(pa);
	free(sa);
}

static void
test_malformed_public(void **state)
{
	static const char *const bad[][2] = {
	    {"", "empty file; expected a tokenwarden seal public key"},
	    {"apikey:hunter2\n", "not a tokenwarden seal public key (line 1 should be"},
	    {"tokenwarden-seal-public v2\n" Z32 "\n", "unknown format version"},
	    {"tokenwarden-seal-secret v1\nkdf none\n" Z32 "\n" Z32 "\n",
	     "holds a tokenwarden seal secret key; expected the public key"},
	    {"tokenwarden-seal-public v1\n", "truncated: line 2 (the public key) is missing"},
	    {"tokenwarden-seal-public v1\nhunter2!\n",
	     "line 2: not the base64 of a 32-byte public key"},
	    {"tokenwarden-seal-public v1\nAAAA\n",
	     "line 2: not the base64 of a 32-byte public key"},
	    {"tokenwarden-seal-public v1\n" Z32 "AAAA\n", "line 2: not the base64 of a 32-byte"},
	    {"tokenwarden-seal-public v1\n" Z32 "\nhunter2\n", "unexpected text after line 2"},
	};
	char *path = path_of("bad.pub"), *cause = NULL;
	struct seal_pub pub;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		write_file(path, bad[i][0], 0600);
		assert_int_equal(seal_load_public(path, &pub, &cause), SEAL_ERR);
		assert_non_null(strstr(cause, path));
		if (strstr(cause, bad[i][1]) == NULL)
			fail_msg("case %zu: '%s' does not contain '%s'", i, cause, bad[i][1]);
		assert_null(strstr(cause, "hunter2"));
		FREE_NULL(&cause);
	}
	assert_int_equal(seal_load_public("/nonexistent/k.pub", &pub, &cause), SEAL_ERR);
	assert_non_null(strstr(cause, "/nonexistent/k.pub: cannot open"));
	free(cause);
	free(path);
}

static void
test_malformed_secret(void **state)
{
#define H "tokenwarden-seal-secret v1\n"
	static const char *const bad[][2] = {
	    {"", "empty file; expected a tokenwarden seal secret key"},
	    {"apikey:hunter2\n", "not a tokenwarden seal secret key (line 1 should be"},
	    {"tokenwarden-seal-secret v9\nkdf none\n", "unknown format version"},
	    {"tokenwarden-seal-public v1\n" Z32 "\n",
	     "holds a tokenwarden seal public key; expected the secret key"},
	    {H, "truncated: line 2 (kdf) is missing"},
	    {H "kdf none\n", "truncated: line 3 (the public key) is missing"},
	    {H "kdf none\n" Z32 "\n", "truncated: line 4 (the secret key) is missing"},
	    {H "kdf scrypt\n" Z32 "\n" Z32 "\n", "line 2: expected 'kdf none' or 'kdf argon2id"},
	    {H "kdf  none\n" Z32 "\n" Z32 "\n", "line 2: expected 'kdf none'"},
	    {H "kdf argon2id 0 8192 " Z16 "\n" Z32 "\n" Z32 "\n", "line 2: Argon2id limits out of"},
	    {H "kdf argon2id -1 8192 " Z16 "\n", "line 2: Argon2id limits out of range"},
	    {H "kdf argon2id 1 99999999999999999999 " Z16 "\n", "line 2: Argon2id limits out of"},
	    {H "kdf argon2id 1 8192x " Z16 "\n", "line 2: Argon2id limits out of range"},
	    {H "kdf argon2id 1 8192 hunter2\n", "line 2: not the base64 of a 16-byte salt"},
	    {H "kdf none\nhunter2\n" Z32 "\n", "line 3: not the base64 of a 32-byte public key"},
	    {H "kdf none\n" Z32 "\nhunter2\n", "line 4: not the base64 of a 32-byte secret key"},
	    {H "kdf none\n" Z32 "\n" Z16 "\n", "line 4: not the base64 of a 32-byte secret key"},
	    {H "kdf argon2id 1 8192 " Z16 "\n" Z32 "\n" Z32 "\n",
	     "line 4: not the base64 of a 72-byte encrypted secret key"},
	    {H "kdf none\n" Z32 "\n" Z32 "\nhunter2\n", "unexpected text after line 4"},
	    {H "kdf none\n" Z32 "\n" Z32 "\n", "not the public half of its secret key"},
	};
#undef H
	char *path = path_of("bad.sec"), *cause = NULL;
	int yes;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct seal_sec *sec = NULL;

		write_file(path, bad[i][0], 0600);
		assert_int_equal(seal_load_secret(path, NULL, 0, &sec, &cause), SEAL_ERR);
		assert_null(sec);
		assert_non_null(strstr(cause, path));
		if (strstr(cause, bad[i][1]) == NULL)
			fail_msg("case %zu: '%s' does not contain '%s'", i, cause, bad[i][1]);
		assert_null(strstr(cause, "hunter2"));
		FREE_NULL(&cause);
	}
	write_file(path, "", 0600);
	assert_int_equal(seal_secret_protected(path, &yes, &cause), SEAL_ERR);
	assert_non_null(strstr(cause, "empty file"));
	free(cause);
	free(path);
}

static void
test_bad_arguments(void **state)
{
	char *pub = path_of("args.pub"), *sec = path_of("args.sec"), *long_secret, *cause = NULL;
	struct seal_kdf huge = {fast.opslimit,
				(size_t)crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE * 2};
	unsigned char *blob = NULL;
	size_t len = 0;
	unsigned char sk[crypto_box_SECRETKEYBYTES];
	struct seal_pub key;

	(void)state;
	assert_int_equal(seal_keygen(pub, pub, NULL, 0, &fast, 0, &cause), SEAL_ERR);
	assert_non_null(strstr(cause, "two different files"));
	FREE_NULL(&cause);
	assert_int_equal(seal_keygen(pub, sec, (const unsigned char *)"", 0, &fast, 0, &cause),
			 SEAL_ERR);
	assert_non_null(strstr(cause, "empty passphrase"));
	FREE_NULL(&cause);
	assert_int_equal(seal_keygen(pub, sec, (const unsigned char *)PASS, 4, &huge, 0, &cause),
			 SEAL_ERR);
	assert_non_null(strstr(cause, "Argon2id limits out of range"));
	FREE_NULL(&cause);
	assert_int_equal(access(pub, F_OK), -1);
	assert_int_equal(access(sec, F_OK), -1);

	crypto_box_keypair(key.pk, sk);
	assert_int_equal(seal_seal(&key, "acme", "tok1", "AK", "", &blob, &len, &cause), SEAL_ERR);
	assert_non_null(strstr(cause, "token tok1 in workspace acme: the access secret is empty"));
	FREE_NULL(&cause);
	assert_int_equal(seal_seal(&key, "", "tok1", "AK", "x", &blob, &len, &cause), SEAL_ERR);
	assert_non_null(strstr(cause, "the workspace is empty"));
	FREE_NULL(&cause);
	long_secret = xmalloc(SEAL_FIELD_MAX + 2);
	memset(long_secret, 'h', SEAL_FIELD_MAX + 1);
	long_secret[SEAL_FIELD_MAX + 1] = '\0';
	assert_int_equal(seal_seal(&key, "acme", "tok1", "AK", long_secret, &blob, &len, &cause),
			 SEAL_ERR);
	assert_non_null(strstr(cause, "the access secret is too long"));
	assert_null(strstr(cause, "hhhh"));
	FREE_NULL(&cause);
	assert_null(blob);
	free(long_secret);
	free(pub);
	free(sec);
}

/* Appends field(s) as the header documents it: 4 bytes big-endian length, then the bytes. */
static void
put_field(unsigned char *buf, size_t *n, const char *s, size_t len)
{
	buf[(*n)++] = (unsigned char)(len >> 24);
	buf[(*n)++] = (unsigned char)(len >> 16);
	buf[(*n)++] = (unsigned char)(len >> 8);
	buf[(*n)++] = (unsigned char)len;
	memcpy(buf + *n, s, len);
	*n += len;
}

/* Builds a plaintext: magic, then the four fields; len of field i is lens[i] (-1: strlen). */
static size_t
build_plain(unsigned char *buf, const char *magic, const char *const f[4], const long lens[4])
{
	size_t n = strlen(magic);

	/* Bytes, not a string. NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
	memcpy(buf, magic, n);
	for (int i = 0; i < 4; i++)
		if (f[i] != NULL)
			put_field(buf, &n, f[i], lens[i] < 0 ? strlen(f[i]) : (size_t)lens[i]);
	return n;
}

static void
test_plaintext_format(void **state)
{
	static const char *const good[4] = {"acme", "tok1", "AK-123", "s3cr3t-value"};
	static const char *const nul[4] = {"acme", "tok1", "AK\0x", "s3cr3t-value"};
	static const char *const short3[4] = {"acme", "tok1", "AK-123", NULL};
	static const long plain_lens[4] = {-1, -1, -1, -1}, nul_lens[4] = {-1, -1, 4, -1};
	static const long empty_lens[4] = {-1, -1, 0, -1};
	char *pub_path, *sec_path, *key = NULL, *secret = NULL, *cause = NULL;
	unsigned char want[128], got[128], box[128 + crypto_box_SEALBYTES], *blob = NULL;
	unsigned char sk[crypto_box_SECRETKEYBYTES];
	size_t n, len = 0;
	struct seal_pub pub, mine;
	struct seal_sec *sec;

	(void)state;
	make_pair("fmt", NULL, &pub_path, &sec_path);
	load_pub(pub_path, &pub);
	sec = load_sec(sec_path, NULL);

	/* What seal_seal writes is exactly the documented encoding. */
	crypto_box_keypair(mine.pk, sk);
	assert_int_equal(
	    seal_seal(&mine, "acme", "tok1", "AK-123", "s3cr3t-value", &blob, &len, &cause),
	    SEAL_OK);
	n = build_plain(want, "TWS1", good, plain_lens);
	assert_int_equal(len, n + crypto_box_SEALBYTES);
	assert_int_equal(crypto_box_seal_open(got, blob, len, mine.pk, sk), 0);
	assert_memory_equal(got, want, n);
	free(blob);
	/* And seal_open reads it. */
	assert_int_equal(crypto_box_seal(box, want, n, pub.pk), 0);
	assert_int_equal(
	    seal_open(sec, "acme", "tok1", box, n + crypto_box_SEALBYTES, &key, &secret, &cause),
	    SEAL_OK);
	assert_string_equal(secret, "s3cr3t-value");
	xsecret_free(key);
	xsecret_free(secret);
	key = secret = NULL;

	/* Well sealed but malformed plaintexts are refused. */
	for (int c = 0; c < 6; c++) {
		switch (c) {
		case 0:
			n = build_plain(want, "TWS1", good, plain_lens);
			want[n++] = 0; /* trailing byte */
			break;
		case 1:
			n = build_plain(want, "TWS2", good, plain_lens);
			break;
		case 2:
			n = build_plain(want, "TWS1", nul, nul_lens);
			break;
		case 3:
			n = build_plain(want, "TWS1", good, empty_lens);
			break;
		case 4:
			n = build_plain(want, "TWS1", short3, plain_lens);
			break;
		default:
			n = build_plain(want, "TWS1", good, plain_lens);
			want[n - strlen(good[3]) - 1] = 99; /* the last length runs past the end */
			break;
		}
		assert_int_equal(crypto_box_seal(box, want, n, pub.pk), 0);
		assert_int_equal(seal_open(sec, "acme", "tok1", box, n + crypto_box_SEALBYTES, &key,
					   &secret, &cause),
				 SEAL_ERR);
		assert_null(key);
		if (strstr(cause, "opens but is not in a format this version reads") == NULL)
			fail_msg("case %d: %s", c, cause);
		FREE_NULL(&cause);
	}
	seal_secret_free(sec);
	free(pub_path);
	free(sec_path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_altered_blob_fails),
	    cmocka_unit_test(test_swapped_between_tokens),
	    cmocka_unit_test(test_other_key_pair_fails),
	    cmocka_unit_test(test_keygen_never_overwrites_without_force),
	    cmocka_unit_test(test_created_file_modes),
	    cmocka_unit_test(test_loose_permissions_refused),
	    cmocka_unit_test(test_passphrase),
	    cmocka_unit_test(test_pair_mismatch_detected),
	    cmocka_unit_test(test_fingerprint),
	    cmocka_unit_test(test_plaintext_format),
	    cmocka_unit_test(test_tolerant_reading),
	    cmocka_unit_test(test_malformed_public),
	    cmocka_unit_test(test_malformed_secret),
	    cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
