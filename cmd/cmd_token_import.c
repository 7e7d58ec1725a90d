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

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One line ACCESS_KEY:ACCESS_SECRET, each at most SEAL_FIELD_MAX, and a line end. */
#define SECRET_INPUT_MAX (2 * SEAL_FIELD_MAX + 3)

struct import_args {
	struct store_opts store;
	struct token_import imp;
	const char *created, *expires;
	int secret_stdin, json;
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

static int
check_time(const char *opt, const char *s, int64_t *ms)
{
	if (timefmt_parse(s, ms) < 0) {
		errorf("%s '%s': expected an ISO 8601 time such as 2026-12-31T23:00Z", opt, s);
		return -1;
	}
	return 0;
}

/* Checks every argument, before anything is read or opened; errors are printed. */
static int
check_args(struct import_args *a, int64_t now)
{
	struct token_import *imp = &a->imp;
	char *cause = NULL, when[TIMEFMT_MAX];

	if (mode_check_workspace(imp->workspace, &cause) < 0 ||
	    mode_check_id(imp->token, &cause) < 0 || mode_check_name(imp->name, &cause) < 0) {
		errorf("%s", cause);
		free(cause);
		return -1;
	}
	if ((imp->slot != NULL && check_slot(imp->slot) < 0) ||
	    check_time("--created-at", a->created, &imp->created_at) < 0 ||
	    check_time("--expires-at", a->expires, &imp->expires_at) < 0)
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

	for (const char *p = line; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			*cause = xasprintf("standard input: the access key and secret contain a "
					   "space or a control character");
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
	if (strlen(text) != len || text[line + strspn(text + line, "\r\n")] != '\0') {
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

/* Parses argv into a; returns 0, or an exit status after a message. */
static int
parse_args(int argc, char **argv, struct import_args *a)
{
	static const struct option longopts[] = {
	    {"workspace", required_argument, NULL, 'w'},
	    {"token", required_argument, NULL, 't'},
	    {"name", required_argument, NULL, 'n'},
	    {"created-at", required_argument, NULL, 'C'},
	    {"expires-at", required_argument, NULL, 'E'},
	    {"slot", required_argument, NULL, 's'},
	    {"secret-stdin", no_argument, NULL, 'S'},
	    {"json", no_argument, NULL, 'j'},
	    STORE_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	int ch;

	memset(a, 0, sizeof *a);
	store_opts_init(&a->store);
	optind = 1;
	for (;;) {
		ch = getopt_long(argc, argv, "w:n:", longopts, NULL);
		if (ch == -1)
			break;
		if (ch == 'w')
			a->imp.workspace = optarg;
		else if (ch == 't')
			a->imp.token = optarg;
		else if (ch == 'n')
			a->imp.name = optarg;
		else if (ch == 'C')
			a->created = optarg;
		else if (ch == 'E')
			a->expires = optarg;
		else if (ch == 's')
			a->imp.slot = optarg;
		else if (ch == 'S')
			a->secret_stdin = 1;
		else if (ch == 'j')
			a->json = 1;
		else if (!store_opts_parse(&a->store, ch, optarg))
			return cmd_usage(&cmd_token_import_entry);
	}
	if (optind != argc || a->imp.workspace == NULL || a->imp.token == NULL ||
	    a->imp.name == NULL || a->created == NULL || a->expires == NULL)
		return cmd_usage(&cmd_token_import_entry);
	return 0;
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
exec_import(int argc, char **argv)
{
	struct import_args a;
	struct token_secret ts = {NULL, NULL};
	struct store *s = NULL;
	struct seal_pub pub;
	struct token_row *row = NULL;
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	char *cause = NULL, fpr[SEAL_FPR_MAX];
	int64_t now = clock_now_ms();
	int status;

	status = parse_args(argc, argv, &a);
	if (status != 0)
		return status;
	status = TW_EXIT_USAGE;
	if (check_args(&a, now) < 0)
		goto out;
	if (a.secret_stdin && read_secret(&ts, &cause) < 0)
		goto out;
	s = store_ctx_open(&a.store, a.secret_stdin ? &pub : NULL, STORE_CTX_WRITE, &status);
	if (s == NULL)
		goto out;
	status = TW_EXIT_FAILURE;
	if (a.secret_stdin) {
		if (seal_seal(&pub, a.imp.workspace, a.imp.token, ts.key, ts.secret, &sealed,
			      &sealed_len, &cause) != SEAL_OK)
			goto out;
		seal_fingerprint(&pub, fpr);
		a.imp.sealed = sealed;
		a.imp.sealed_len = sealed_len;
		a.imp.fpr = fpr;
	}
	if (tokens_import(s, &a.imp, now, &cause) < 0)
		goto out;
	/* Print the row as stored, so the output says what the inventory now holds. */
	if (tokens_find(s, a.imp.workspace, a.imp.token, &row, &cause) != 0) {
		if (cause == NULL)
			cause =
			    xasprintf("token %s was imported but cannot be read back", a.imp.token);
		goto out;
	}
	print_imported(row, a.json);
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
    .args = "-w WORKSPACE --token ID -n NAME --created-at TIME --expires-at TIME [--slot SLOT] "
	    "[--secret-stdin] [options]",
    .summary = "record a token made elsewhere in the inventory",
    .help = "  -w, --workspace W        the workspace's username (lower case)\n"
	    "      --token ID           the token's id as Mode shows it\n"
	    "  -n, --name NAME          the token's name, 4 to 64 characters\n"
	    "      --created-at TIME    when it was created, ISO 8601\n"
	    "      --expires-at TIME    when it expires, ISO 8601, such as "
	    "2026-12-31T23:00Z\n"
	    "      --slot SLOT          the slot it serves (active); without it the token is\n"
	    "                           unmanaged\n"
	    "      --secret-stdin       read ACCESS_KEY:ACCESS_SECRET, one line, from standard\n"
	    "                           input and store it sealed to the public key\n"
	    "      --json               print the recorded row as JSON\n" STORE_HELP,
    .exec = exec_import,
};
