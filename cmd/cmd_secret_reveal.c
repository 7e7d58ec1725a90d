/*
 * tokenwarden secret reveal: open a stored token's sealed secret with the
 * secret key (kept off the rotating host).  The reveal is recorded in the
 * history before anything is printed, and the secret is written from
 * sodium memory straight to the descriptor, never through stdio.
 */
#include "cmd/cmd.h"
#include "cmd/msg.h"
#include "cmd/print.h"
#include "cmd/seckey.h"

#include "core/clock.h"
#include "core/exitcodes.h"
#include "core/jsonx.h"
#include "core/seal.h"
#include "core/xalloc.h"
#include "store/secrets.h"
#include "store/tokens.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The opened secret, all in sodium memory. */
struct opened {
	char *key;
	char *secret;
	char *bearer; /* NULL without --bearer */
};

static int
print_human(const struct opened *p)
{
	size_t n = strlen(p->key) + strlen(p->secret) + 64;
	char *text;
	int len, rc = -1;

	if (p->bearer != NULL)
		n += strlen(p->bearer);
	text = xsecret_alloc(n);
	len = snprintf(text, n, "access_key    %s\naccess_secret %s\n%s%s%s", p->key, p->secret,
		       p->bearer != NULL ? "bearer        " : "",
		       p->bearer != NULL ? p->bearer : "", p->bearer != NULL ? "\n" : "");
	if (len < 0 || (size_t)len >= n)
		errorf("internal error: the secret does not fit its buffer");
	else
		rc = print_secret(text);
	xsecret_free(text);
	return rc;
}

/* jansson's allocator wipes what it frees (jsonx_init), so its copies of the secret do not linger.
 */
static int
print_json(const struct token_row *r, const struct opened *p)
{
	json_t *o = json_object();
	char *text;
	int rc = -1;

	json_object_set_new(o, "workspace", json_string(r->workspace));
	json_object_set_new(o, "slot", r->slot != NULL ? json_string(r->slot) : json_null());
	json_object_set_new(o, "token", json_string(r->token));
	json_object_set_new(o, "access_key", json_string(p->key));
	json_object_set_new(o, "access_secret", json_string(p->secret));
	if (p->bearer != NULL)
		json_object_set_new(o, "bearer", json_string(p->bearer));
	text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text == NULL)
		errorf("cannot encode the secret as JSON");
	else if (print_secret(text) == 0)
		rc = print_secret("\n");
	jsonx_free(text);
	json_decref(o);
	return rc;
}

/*
 * Finds workspace's token by id or Mode-side name or, failing that, the
 * active token of the slot of that name.  Returns 0 with *out, or -1 after a message.
 */
static int
find_row(struct store *s, const char *workspace, const char *what, struct token_row **out)
{
	struct token_filter f = {.workspace = workspace, .slot = what, .state = TOKEN_ACTIVE};
	struct token_row *rows = NULL;
	size_t n = 0;
	char *cause = NULL;
	int rc = tokens_lookup(s, workspace, what, out, &cause);

	if (rc == 1 && what[0] != '\0')
		rc = tokens_list(s, &f, &rows, &n, &cause) < 0 ? -1 : 1;
	if (rc == 1 && n == 1) {
		*out = rows;
		return 0;
	}
	if (rc == 1)
		errorf("workspace %s has no token %s (by id or name) and no slot %s with an active "
		       "token in the inventory; 'tokenwarden token list -w %s' shows what it holds",
		       workspace, what, what, workspace);
	else if (rc != 0)
		errorf("%s", cause);
	free(cause);
	tokens_free(rows, n);
	return rc == 0 ? 0 : -1;
}

/* Opens r's sealed blob with sec into *p; returns 0 or -1 after a message. */
static int
open_secret(const struct token_row *r, const unsigned char *blob, size_t len, const char *fpr,
	    const char *sec_path, const struct seal_sec *sec, struct opened *p)
{
	struct seal_pub pub;
	char have[SEAL_FPR_MAX], *cause = NULL;
	int rc = seal_open(sec, r->workspace, r->token, blob, len, &p->key, &p->secret, &cause);

	if (rc == SEAL_OK)
		return 0;
	seal_secret_public(sec, &pub);
	seal_fingerprint(&pub, have);
	if (rc == SEAL_ERR_OPEN && strcmp(have, fpr) != 0)
		errorf("%s; it is recorded as sealed to key %s, and %s is key %s", cause, fpr,
		       sec_path, have);
	else
		errorf("%s", cause);
	free(cause);
	return -1;
}

struct reveal_opts {
	const char *workspace;
	const char *secret_key;
	long passphrase_fd; /* -1: the terminal */
	int bearer;
};

static const struct args_opt reveal_options[] = {
    OPT_STRING('w', "workspace", struct reveal_opts, workspace, "WS",
	       "the workspace's username; required"),
    OPT_STRING(0, "secret-key", struct reveal_opts, secret_key, "FILE",
	       "the sealing secret key (0600; kept off the rotating\nhost); required"),
    OPT_INT(0, "passphrase-fd", struct reveal_opts, passphrase_fd, "N", 0, 1024,
	    "read its passphrase from descriptor N, not the\nterminal"),
    OPT_FLAG(0, "bearer", struct reveal_opts, bearer, "also print the ready Bearer value"),
    OPT_END,
};

static void
init_reveal(void *opts)
{
	struct reveal_opts *ro = opts;

	ro->passphrase_fd = -1;
}

static int
run_reveal(void *opts, int argc, char **argv)
{
	struct reveal_opts *ro = opts;
	struct store_opts o;
	struct store *s = NULL;
	struct token_row *r = NULL;
	struct seal_sec *sec = NULL;
	struct opened p = {NULL, NULL, NULL};
	const char *what = argv[0];
	unsigned char *blob = NULL;
	size_t len = 0;
	char *fpr = NULL, *cause = NULL;
	int got, status = TW_EXIT_USAGE;

	(void)argc;
	if (ro->workspace == NULL || ro->secret_key == NULL) {
		errorf("secret reveal needs %s", ro->workspace == NULL
						     ? "--workspace: the workspace's username"
						     : "--secret-key: the sealing secret key");
		return args_usage(&cmd_secret_reveal_entry);
	}
	store_opts_init(&o);
	/* Writes: the reveal is recorded, so a store it cannot write is refused first. */
	s = store_ctx_open(&o, NULL, STORE_CTX_WRITE, &status);
	if (s == NULL)
		return status;
	status = TW_EXIT_FAILURE;
	if (find_row(s, ro->workspace, what, &r) < 0)
		goto out;
	got = r->token == NULL ? 1 : tokens_sealed(s, r->row, &blob, &len, &fpr, &cause);
	if (got == 1)
		cause = xasprintf("token %s in workspace %s has no stored secret: it was imported "
				  "without one, or never created",
				  r->token != NULL ? r->token : what, r->workspace);
	if (got != 0)
		goto out;
	sec = seckey_load(ro->secret_key, (int)ro->passphrase_fd, &status);
	if (sec == NULL)
		goto out;
	status = TW_EXIT_FAILURE;
	if (open_secret(r, blob, len, fpr, ro->secret_key, sec, &p) < 0)
		goto out;
	if (ro->bearer)
		p.bearer = mode_bearer(r->token, p.key, p.secret);
	/* Recorded first: a reveal that cannot be recorded prints nothing. */
	if (secrets_record_reveal(s, r->row, clock_now_ms(), &cause) < 0)
		goto out;
	store_ctx_note_head(s);
	if ((args_globals.json ? print_json(r, &p) : print_human(&p)) < 0)
		goto out;
	status = TW_EXIT_OK;
out:
	if (cause != NULL)
		errorf("%s", cause);
	free(cause);
	free(blob);
	free(fpr);
	xsecret_free(p.key);
	xsecret_free(p.secret);
	xsecret_free(p.bearer);
	seal_secret_free(sec);
	tokens_free(r, r != NULL ? 1 : 0);
	store_close(s);
	return status;
}

const struct cmd_entry cmd_secret_reveal_entry = {
    .name = "secret reveal",
    .args = "TOKEN|SLOT",
    .summary = "print a stored token's access key and secret (recorded in the history)",
    .options = reveal_options,
    .globals = G_JSON | G_DB,
    .opts_size = sizeof(struct reveal_opts),
    .init = init_reveal,
    .min_args = 1,
    .max_args = 1,
    .notes = "TOKEN|SLOT is the token's id or Mode-side name, or a slot whose active\n"
	     "token to reveal.  The reveal is recorded in the history before anything is\n"
	     "printed; one that cannot be recorded prints nothing.\n"
	     "\n"
	     "Exit status: 0 printed, 1 no such token or stored secret, a key that does not\n"
	     "open it, or a history that cannot be written, 2 a usage error, a store that\n"
	     "cannot be written or a secret key that cannot be read.\n",
    .run = run_reveal,
};
