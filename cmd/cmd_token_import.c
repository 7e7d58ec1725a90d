/*
 * tokenwarden token import: record a token made by hand or by another tool
 * so that it joins the inventory, as the active token of a slot or as
 * unmanaged.  Its access key and secret, when given, come from standard
 * input and are stored only sealed to the pinned public key.
 */
#include "cmd/cmd.h"
#include "cmd/msg.h"
#include "cmd/print.h"

#include "core/clock.h"
#include "core/cred.h"
#include "core/exitcodes.h"
#include "core/mode.h"
#include "core/seal.h"
#include "core/timefmt.h"
#include "core/xalloc.h"
#include "store/store.h"
#include "store/tokens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One line ACCESS_KEY:ACCESS_SECRET, each at most SEAL_FIELD_MAX, and a line end. */
#define SECRET_INPUT_MAX (2 * SEAL_FIELD_MAX + 3)

struct import_opts {
	struct token_import imp; /* its times: 0 until given */
	int secret_stdin;
};

static const struct args_opt import_options[] = {
    OPT_STRING('w', "workspace", struct import_opts, imp.workspace, "WS",
	       "the workspace's username (lower case)"),
    OPT_STRING(0, "token", struct import_opts, imp.token, "ID", "the token's id as Mode shows it"),
    OPT_STRING('n', "name", struct import_opts, imp.name, "NAME",
	       "the token's name, 4 to 64 characters"),
    OPT_TIME(0, "created-at", struct import_opts, imp.created_at, "TIME", ARGS_AGO,
	     "when it was created: ISO 8601, or 30d for 30 days ago"),
    OPT_TIME(0, "expires-at", struct import_opts, imp.expires_at, "TIME", ARGS_AHEAD,
	     "when it expires: ISO 8601 such as 2026-12-31T23:00Z,\nor 30d for 30 days from now"),
    OPT_STRING(0, "slot", struct import_opts, imp.slot, "SLOT",
	       "the slot it serves (active); without it the token is\nunmanaged"),
    OPT_FLAG(0, "secret-stdin", struct import_opts, secret_stdin,
	     "read ACCESS_KEY:ACCESS_SECRET, one line, from standard\ninput and store it "
	     "sealed to the public key"),
    OPT_END,
};

/* The token's access key and secret, in secret memory. */
struct token_secret {
	char *key;
	char *secret;
};

/* Slots are policy names: Mode names are made from them, so keep them plain. */
static int
check_slot(const char *slot)
{
	size_t n = strlen(slot);

	if (n == 0 || n > 64 ||
	    strspn(slot, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
		n) {
		errorf("slot '%.64s' is not a slot name (letters, digits, '.', '-' and '_', 1 to "
		       "64)",
		       slot);
		return -1;
	}
	return 0;
}

/* Checks every argument, before anything is read or opened; errors are printed. */
static int
check_args(const struct token_import *imp, int64_t now)
{
	char *cause = NULL, when[TIMEFMT_MAX];

	if (mode_check_workspace(imp->workspace, &cause) < 0 ||
	    mode_check_id(imp->token, &cause) < 0 || mode_check_name(imp->name, &cause) < 0) {
		errorf("%s", cause);
		free(cause);
		return -1;
	}
	if (imp->slot != NULL && check_slot(imp->slot) < 0)
		return -1;
	if (imp->expires_at <= imp->created_at) {
		errorf("--expires-at must be later than --created-at");
		return -1;
	}
	if (imp->expires_at <= now) {
		timefmt_mode(imp->expires_at, when);
		errorf("token %s expired at %s; there is nothing to import", imp->token, when);
		return -1;
	}
	return 0;
}

/* Splits line (its end already cut) into ts; nothing of the line reaches a message. */
static int
split_secret(const char *line, struct token_secret *ts, char **cause)
{
	const char *colon = strchr(line, ':');
	size_t klen, slen;

	/* Mode's are ASCII; anything else could not be handed on as JSON. */
	for (const char *p = line; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f) {
			*cause = xasprintf("standard input: the access key and secret contain a "
					   "space, a control character or a byte outside ASCII");
			return -1;
		}
	}
	if (colon == NULL || colon == line || colon[1] == '\0') {
		*cause = xasprintf("standard input: expected one line ACCESS_KEY:ACCESS_SECRET "
				   "(the token's access key and secret joined by a colon)");
		return -1;
	}
	klen = (size_t)(colon - line);
	slen = strlen(colon + 1);
	if (klen > SEAL_FIELD_MAX || slen > SEAL_FIELD_MAX) {
		*cause = xasprintf("standard input: the access key or secret is longer than %d "
				   "bytes",
				   SEAL_FIELD_MAX);
		return -1;
	}
	ts->key = xsecret_alloc(klen + 1);
	memcpy(ts->key, line, klen);
	ts->secret = xsecret_alloc(slen + 1);
	memcpy(ts->secret, colon + 1, slen);
	return 0;
}

/* Reads one line ACCESS_KEY:ACCESS_SECRET from standard input into ts. */
static int
read_secret(struct token_secret *ts, char **cause)
{
	char *text = NULL;
	size_t len = 0, line;
	int rc = -1;

	if (isatty(STDIN_FILENO)) {
		*cause = xasprintf("--secret-stdin reads ACCESS_KEY:ACCESS_SECRET from standard "
				   "input, not from a terminal; pipe it in");
		return -1;
	}
	if (cred_read_fd(STDIN_FILENO, "standard input", SECRET_INPUT_MAX, &text, &len, cause) < 0)
		return -1;
	line = strcspn(text, "\r\n");
	if (text[line + strspn(text + line, "\r\n")] != '\0') { /* cred_read_fd refused a NUL */
		*cause = xasprintf("standard input: expected one line ACCESS_KEY:ACCESS_SECRET, "
				   "found more");
		goto out;
	}
	text[line] = '\0';
	rc = split_secret(text, ts, cause);
out:
	xsecret_free(text);
	return rc;
}

/* Names the first required option missing, if any; returns 0 when none is. */
static int
missing(const struct import_opts *a)
{
	const char *need = a->imp.workspace == NULL ? "--workspace"
			   : a->imp.token == NULL   ? "--token"
			   : a->imp.name == NULL    ? "--name"
			   : a->imp.created_at == 0 ? "--created-at"
			   : a->imp.expires_at == 0 ? "--expires-at"
						    : NULL;

	if (need == NULL)
		return 0;
	errorf("%s is required", need);
	return args_usage(&cmd_token_import_entry);
}

static void
print_imported(const struct token_row *r, int json)
{
	char when[TIMEFMT_MAX];

	if (json) {
		print_row(r, 1);
		return;
	}
	timefmt_mode(r->expires_at, when);
	if (r->slot != NULL)
		printf("imported token %s \"%s\" into workspace %s as the %s token of slot %s; "
		       "expires %s; %s\n",
		       r->token, r->name, r->workspace, tokens_state_name(r->state), r->slot, when,
		       r->has_secret ? "secret sealed" : "no secret");
	else
		printf("imported token %s \"%s\" into workspace %s as unmanaged; expires %s; %s\n",
		       r->token, r->name, r->workspace, when,
		       r->has_secret ? "secret sealed" : "no secret");
}

static int
run_import(void *opts, int argc, char **argv)
{
	struct import_opts *a = opts;
	struct store_opts so;
	struct token_secret ts = {NULL, NULL};
	struct store *s = NULL;
	struct seal_pub pub;
	struct token_row *row = NULL;
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	char *cause = NULL, fpr[SEAL_FPR_MAX];
	int64_t now = clock_now_ms();
	int status;

	(void)argc;
	(void)argv;
	status = missing(a);
	if (status != 0)
		return status;
	status = TW_EXIT_USAGE;
	if (check_args(&a->imp, now) < 0)
		goto out;
	if (a->secret_stdin && read_secret(&ts, &cause) < 0)
		goto out;
	store_opts_init(&so);
	s = store_ctx_open(&so, a->secret_stdin ? &pub : NULL, STORE_CTX_WRITE, &status);
	if (s == NULL)
		goto out;
	status = TW_EXIT_FAILURE;
	if (a->secret_stdin) {
		if (seal_seal(&pub, a->imp.workspace, a->imp.token, ts.key, ts.secret, &sealed,
			      &sealed_len, &cause) != SEAL_OK)
			goto out;
		seal_fingerprint(&pub, fpr);
		a->imp.sealed = sealed;
		a->imp.sealed_len = sealed_len;
		a->imp.fpr = fpr;
	}
	if (tokens_import(s, &a->imp, now, &cause) < 0)
		goto out;
	/* Print the row as stored, so the output says what the inventory now holds. */
	if (tokens_find(s, a->imp.workspace, a->imp.token, &row, &cause) != 0) {
		if (cause == NULL)
			cause = xasprintf("token %s was imported but cannot be read back",
					  a->imp.token);
		goto out;
	}
	print_imported(row, args_globals.json);
	if (print_flush() == 0)
		status = TW_EXIT_OK;
out:
	if (cause != NULL)
		errorf("%s", cause);
	free(cause);
	free(sealed);
	xsecret_free(ts.key);
	xsecret_free(ts.secret);
	tokens_free(row, row != NULL ? 1 : 0);
	store_close(s);
	return status;
}

const struct cmd_entry cmd_token_import_entry = {
    .name = "token import",
    .args = "-w WORKSPACE --token ID -n NAME --created-at TIME --expires-at TIME",
    .summary = "record a token made elsewhere in the inventory",
    .options = import_options,
    .globals = G_JSON | G_DB | G_PUBLIC_KEY,
    .opts_size = sizeof(struct import_opts),
    .max_args = 0,
    .notes = "The access key and secret are read only from standard input (--secret-stdin),\n"
	     "never from the command line, and stored only sealed.\n"
	     "\n"
	     "Exit status: 0 recorded, 1 refused (already in the inventory, the slot has an\n"
	     "active token) or failed, 2 usage or configuration error.\n",
    .run = run_import,
};
