/*
 * Fuzz target for Mode's API answers as core/mode.c reads them: the input is
 * a whole HTTP answer as it comes off the wire ("HTTP/1.1 200 OK", header
 * lines, an empty line, the body).  The header lines and the body go
 * through libcurl's callbacks, then a final answer is judged as the answer
 * to a create (the Signature Token object with its secret), a delete (the
 * object without it, after a first attempt and after a retry) and a verify
 * (a reports page); an error body as the 4xx it came with.  No network: the
 * client is made but never sends.
 */
#include "tests/fuzz/fuzz.h"

#include "core/cred.h"
#include "core/mode_priv.h"
#include "core/xalloc.h"

#include <stdlib.h>
#include <string.h>

/* Aborts when a message built from an answer could drive a terminal. */
static void
check_cause(const char *cause)
{
	if (cause == NULL)
		abort();
	for (const char *p = cause; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
}

static void
check_token(const struct mode_token *t, int with_secret)
{
	char *cause = NULL;

	if (t == NULL || mode_check_id(t->token, &cause) < 0 || t->access_key == NULL)
		abort();
	if (with_secret &&
	    (t->access_secret == NULL || t->access_secret[0] == '\0' || t->access_key[0] == '\0'))
		abort();
}

/* Judges a as each call would; the calls' rules on status and body hold for a already. */
static void
judge(struct mode_client *c, struct answer *a)
{
	struct call create = {.method = "POST",
			      .what = "create token 'fuzz' in workspace acme",
			      .auth = "x",
			      .body = "{}"};
	struct call del = {
	    .method = "DELETE", .what = "delete token 5b89bf4b0a49 in workspace acme", .auth = "x"};
	struct call verify = {.method = "GET",
			      .what = "verify token 5b89bf4b0a49 in workspace acme",
			      .auth = "x",
			      .token = "5b89bf4b0a49"};
	struct mode_token *t = NULL;
	char *cause = NULL;
	int rc;

	rc = mode_create_answer(c, &create, a, &t, &cause);
	if (rc == MODE_OK)
		check_token(t, 1);
	else
		check_cause(cause);
	mode_token_free(t);
	FREE_NULL(&cause);
	t = NULL;
	for (int retried = 0; retried <= 1; retried++) {
		a->maybe_acted = retried;
		rc = mode_delete_answer(c, &del, a, &t, &cause);
		if (rc == MODE_OK && t != NULL)
			check_token(t, 0);
		else if (rc != MODE_OK)
			check_cause(cause);
		mode_token_free(t);
		FREE_NULL(&cause);
		t = NULL;
	}
	a->maybe_acted = 0;
	if (mode_verify_answer(c, &verify, a, &cause) != MODE_OK)
		check_cause(cause);
	free(cause);
}

/* Reads the status code of an "HTTP/x yyy" line; -1 when it is none. */
static long
status_of(const char *line, size_t len)
{
	const char *sp = memchr(line, ' ', len);
	long v = 0;

	if (len < 5 || memcmp(line, "HTTP/", 5) != 0 || sp == NULL || line + len - sp < 4)
		return -1;
	for (int i = 1; i <= 3; i++) {
		if (sp[i] < '0' || sp[i] > '9')
			return -1;
		v = v * 10 + (sp[i] - '0');
	}
	return v;
}

static struct mode_client *
client(void)
{
	static int ready;
	struct cred cred = {NULL, NULL, NULL};
	struct mode_opts o;
	struct mode_client *c;
	char *cause = NULL;

	if (!ready && mode_global_init() < 0)
		abort();
	ready = 1;
	mode_opts_default(&o);
	cred.key = xsecret_strdup("ACME-KEY");
	cred.secret = xsecret_strdup("ACME-SECRET");
	c = mode_client_new("http://127.0.0.1:9", "acme", &cred, &o, &cause);
	xsecret_free(cred.key);
	xsecret_free(cred.secret);
	if (c == NULL)
		abort();
	return c;
}

/* Calls cb on a copy of the len bytes at p, in a block of their size: ASan sees past it. */
static size_t
feed(size_t (*cb)(char *, size_t, size_t, void *), struct mode_client *c, const char *p, size_t len)
{
	char *copy = xmalloc(len == 0 ? 1 : len);
	size_t n;

	memcpy(copy, p, len);
	n = cb(copy, 1, len, c);
	free(copy);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct mode_client *c = NULL;
	struct answer a = {0};
	long status = -1;

	c = client();
	mode_answer_start(c);
	/*
	 * Header lines up to an empty one, each with its line end, as libcurl
	 * passes them; after a 1xx (100 Continue) the final answer's follow.
	 */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl != NULL ? nl + 1 : end) - p);

		if (status_of(p, len) >= 0)
			status = status_of(p, len);
		if (feed(mode_header_cb, c, p, len) != len)
			abort();
		p += len;
		if (((len == 2 && p[-2] == '\r') || len == 1) && status / 100 != 1)
			break;
	}
	/* The body in two writes, so the buffer grows as it does for a large answer. */
	if (p < end) {
		size_t half = (size_t)(end - p) / 2;

		if (feed(mode_body_cb, c, p, half) == half)
			(void)feed(mode_body_cb, c, p + half, (size_t)(end - p) - half);
	}
	mode_answer_done(c, 1);
	/* mode_perform retries a 429 or 5xx, and a 2xx that is not JSON, before any call judges. */
	if (status < 100 || status >= 500 || status == 429 || c->too_big)
		goto out;
	mode_answer_final(c, status, &a);
	if (status / 100 != 2 || a.json != NULL)
		judge(c, &a);
out:
	json_decref(a.json);
	mode_client_free(c);
	return 0;
}
