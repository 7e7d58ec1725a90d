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
#include "core/trust.h"
#include "core/xalloc.h"
#include "store/inventory.h"
#include "store/secrets.h"
#include "store/tokens.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The longest --reason recorded, in bytes. */
#define REASON_MAX 256

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
	/* json_string refuses what is not UTF-8: a key left out would look like none. */
	if (json_object_set_new(o, "access_key", json_string(p->key)) < 0 ||
	    json_object_set_new(o, "access_secret", json_string(p->secret)) < 0 ||
	    (p->bearer != NULL && json_object_set_new(o, "bearer", json_string(p->bearer)) < 0))
		text = NULL;
	else
		text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text == NULL)
		errorf("cannot encode the secret as JSON (it is not UTF-8); run it without --json");
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

/*
 * Opens r's sealed blob with sec (whose fingerprint is have) into *p.
 * Returns 0, or -1 with *cause and *failure (the word the history records).
 */
static int
open_secret(const struct token_row *r, const unsigned char *blob, size_t len, const char *fpr,
	    const char *sec_path, const struct seal_sec *sec, const char *have, struct opened *p,
	    const char **failure, char **cause)
{
	int rc = seal_open(sec, r->workspace, r->token, blob, len, &p->key, &p->secret, cause);
	char *why;

	if (rc == SEAL_OK)
		return 0;
	if (rc == SEAL_ERR_OPEN && strcmp(have, fpr) != 0) {
		why = xasprintf("%s; it is recorded as sealed to key %s, and %s is key %s", *cause,
				fpr, sec_path, have);
		free(*cause);
		*cause = why;
		*failure = "wrong_key";
	} else {
		*failure = rc == SEAL_ERR_OPEN    ? "altered"
			   : rc == SEAL_ERR_MOVED ? "moved"
						  : "malformed";
	}
	return -1;
}

/*
 * Whether r's sealed secret (blob, sealed to fpr) is the one its history
 * recorded: 0 when it is, 1 when not (*cause says so), -1 with *cause.
 */
static int
as_recorded(struct store *s, const struct token_row *r, const unsigned char *blob, size_t len,
	    const char *fpr, char **cause)
{
	int64_t event = 0;
	int rc = inventory_sealed_check(s, r->row, fpr, blob, len, &event, cause);
	char *why;

	if (rc != 1)
		return rc;
	why = inventory_sealed_text(r->workspace, r->token, event);
	*cause = xasprintf("%s, so it is not shown; 'tokenwarden audit verify' lists what else "
			   "differs",
			   why);
	free(why);
	return rc;
}

/*
 * Checks --reason: recorded in the history and shown by audit log on a
 * terminal, so one line of printable UTF-8 of at most REASON_MAX bytes.
 * Returns 0, or -1 after a message.
 */
static int
check_reason(const char *reason)
{
	const unsigned char *p = (const unsigned char *)reason;
	size_t n, i = 0;

	if (reason == NULL)
		return 0;
	n = strlen(reason);
	if (n == 0) {
		errorf("--reason is empty: say why the secret is revealed, or leave --reason out");
		return -1;
	}
	if (n > REASON_MAX) {
		errorf("--reason is %zu bytes long; at most %d are recorded", n, REASON_MAX);
		return -1;
	}
	while (i < n) {
		int len = jsonx_utf8_len(p + i, n - i);

		if (len < 0) {
			errorf("--reason is not valid UTF-8 (at byte %zu)", i + 1);
			return -1;
		}
		/* C0, DEL, and C1 (U+0080..U+009F, which some terminals obey too). */
		if ((len == 1 && (p[i] < 0x20 || p[i] == 0x7f)) ||
		    (len == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0)) {
			errorf("--reason has a control character (at byte %zu): give one line of "
			       "printable text",
			       i + 1);
			return -1;
		}
		i += (size_t)len;
	}
	return 0;
}

/* Notes a wrong passphrase in rec, with the fingerprint the key file carries. */
static void
failed_key(const char *path, struct secrets_reveal *rec, char have[SEAL_FPR_MAX])
{
	struct seal_pub pub;
	char *cause = NULL;

	rec->failure = "wrong_passphrase";
	if (seal_secret_file_public(path, &pub, &cause) == SEAL_OK) {
		seal_fingerprint(&pub, have);
		rec->key_fingerprint = have;
	}
	free(cause);
}

/* Records a reveal that failed, after its message was printed; a failure to record is said. */
static void
record_failure(struct store *s, int64_t row, const struct secrets_reveal *rec)
{
	char *cause = NULL;

	if (secrets_record_reveal(s, row, clock_now_ms(), rec, &cause) < 0)
		errorf("the failed reveal could not be recorded in the history: %s", cause);
	else
		store_ctx_note_head(s);
	free(cause);
}

struct reveal_opts {
	const char *workspace;
	const char *secret_key;
	long passphrase_fd; /* -1: the terminal */
	int bearer;
	const char *reason;
};

static const struct args_opt reveal_options[] = {
    OPT_STRING('w', "workspace", struct reveal_opts, workspace, "WS",
	       "the workspace's username; required"),
    OPT_STRING(0, "secret-key", struct reveal_opts, secret_key, "FILE",
	       "the sealing secret key (0600; kept off the rotating\nhost); required"),
    OPT_INT(0, "passphrase-fd", struct reveal_opts, passphrase_fd, "N", 0, 1024,
	    "read its passphrase from descriptor N, not the\nterminal"),
    OPT_FLAG(0, "bearer", struct reveal_opts, bearer, "also print the ready Bearer value"),
    OPT_STRING(0, "reason", struct reveal_opts, reason, "TEXT",
	       "why, recorded with the reveal (one line, at most\n256 bytes)"),
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
	struct seal_pub pub;
	struct opened p = {NULL, NULL, NULL};
	struct secrets_reveal rec = {.reason = ro->reason};
	const char *what = argv[0];
	unsigned char *blob = NULL;
	size_t len = 0;
	char *fpr = NULL, *cause = NULL, *user = NULL, *login = NULL, have[SEAL_FPR_MAX];
	int got, err, failed = 0, status = TW_EXIT_USAGE;

	(void)argc;
	if (ro->workspace == NULL || ro->secret_key == NULL) {
		errorf("secret reveal needs %s", ro->workspace == NULL
						     ? "--workspace: the workspace's username"
						     : "--secret-key: the sealing secret key");
		return args_usage(&cmd_secret_reveal_entry);
	}
	/* Before the store is opened: a refused --reason changes nothing. */
	if (check_reason(ro->reason) < 0)
		return TW_EXIT_USAGE;
	store_opts_init(&o);
	/* Writes: the reveal is recorded, so a store it cannot write is refused first. */
	s = store_ctx_open(&o, NULL, STORE_CTX_WRITE, &status);
	if (s == NULL)
		return status;
	status = TW_EXIT_FAILURE;
	if (find_row(s, ro->workspace, what, &r) < 0)
		goto out;
	got = r->token == NULL ? 1 : tokens_sealed(s, r->row, &blob, &len, &fpr, &cause);
	if (got == 1 && (r->state == TOKEN_DELETED || r->state == TOKEN_REVOKED))
		cause = xasprintf("token %s in workspace %s is %s, so it no longer exists on "
				  "Mode: its sealed secret was erased with it",
				  r->token, r->workspace, tokens_state_name(r->state));
	else if (got == 1)
		cause = xasprintf("token %s in workspace %s has no stored secret: it was imported "
				  "without one, never created, or dropped by a rekey ('tokenwarden "
				  "audit log --kind secret.dropped' lists those)",
				  r->token != NULL ? r->token : what, r->workspace);
	if (got != 0)
		goto out;
	rec.user = user = trust_user_name(geteuid());
	rec.claimed_login = login = trust_claimed_login(&rec.claimed_login_from);
	rec.sealed_to = fpr;
	sec = seckey_try(ro->secret_key, (int)ro->passphrase_fd, &status, &err, &cause);
	if (sec == NULL) {
		/* A key read but not unlocked is a failed reveal; one not read is not (yet) one. */
		failed = err == SEAL_ERR_PASSPHRASE;
		if (failed) {
			/* A key that does not open it, recorded: 1, not a usage error. */
			failed_key(ro->secret_key, &rec, have);
			status = TW_EXIT_FAILURE;
		}
		goto out;
	}
	seal_secret_public(sec, &pub);
	seal_fingerprint(&pub, have);
	rec.key_fingerprint = have;
	status = TW_EXIT_FAILURE;
	if (open_secret(r, blob, len, fpr, ro->secret_key, sec, have, &p, &rec.failure, &cause) <
	    0) {
		failed = 1;
		goto out;
	}
	/*
	 * It opens and is this row's, but was it sealed by tokenwarden?  One
	 * sealed afresh to the public key (no secret) opens as well; its
	 * digest is not the one the history recorded.  Nothing is printed.
	 */
	got = as_recorded(s, r, blob, len, fpr, &cause);
	if (got != 0) {
		failed = got > 0;
		rec.failure = "replaced";
		goto out;
	}
	if (ro->bearer)
		p.bearer = mode_bearer(r->token, p.key, p.secret);
	/* Recorded first: a reveal that cannot be recorded prints nothing. */
	rec.sealed_to = NULL;
	if (secrets_record_reveal(s, r->row, clock_now_ms(), &rec, &cause) < 0)
		goto out;
	store_ctx_note_head(s);
	if ((args_globals.json ? print_json(r, &p) : print_human(&p)) < 0)
		goto out;
	status = TW_EXIT_OK;
out:
	if (cause != NULL)
		errorf("%s", cause);
	if (failed) {
		rec.message = cause;
		record_failure(s, r->row, &rec);
	}
	free(cause);
	free(blob);
	free(fpr);
	free(user);
	free(login);
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
	     "printed; one that cannot be recorded prints nothing.  The record\n"
	     "(secret.revealed) holds the fingerprint of the secret key used, the effective\n"
	     "user, the login that claims to have asked (SUDO_USER, else the login name;\n"
	     "not authenticated, so recorded as claimed_login) and --reason.  A reveal\n"
	     "whose key does not open the secret (another key, a wrong passphrase, a blob\n"
	     "moved from another row or altered) is recorded too, as secret.reveal_failed\n"
	     "with the cause; so is a sealed secret that is not the one the history\n"
	     "recorded (replaced outside tokenwarden), which is not shown.  No policy\n"
	     "requires --reason yet.  A token deleted or revoked has no secret: it was\n"
	     "erased with it.\n"
	     "\n"
	     "Exit status: 0 printed, 1 no such token or stored secret, a secret the\n"
	     "history does not record, a key that does not open it (a wrong passphrase\n"
	     "included), or a history that cannot be written, 2 a usage error, a store\n"
	     "that cannot be written or a secret key that cannot be read.\n",
    .run = run_reveal,
};
