/* tokenwarden token create: make a signature token now. */
#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/msg.h"
#include "cmd/print.h"

#include "core/clock.h"
#include "core/exitcodes.h"
#include "core/ops.h"
#include "core/timefmt.h"
#include "store/store.h"
#include "store/tokens.h"

#include <getopt.h>
#include <stdlib.h>

/*
 * Whether slot of ws already has an active token: a hand-made token joins
 * a slot only in place of none (rotate --force replaces one and delivers
 * the new one).  Returns 0 when free, else 1 (or -1) after a message.
 */
static int
slot_taken(struct store *s, const char *ws, const char *slot, int *status)
{
	struct token_filter f = {ws, slot, TOKEN_ACTIVE};
	struct token_row *rows = NULL;
	char *cause = NULL;
	size_t n = 0;
	int rc = 0;

	if (tokens_list(s, &f, &rows, &n, &cause) < 0) {
		errorf("%s", cause);
		free(cause);
		*status = TW_EXIT_FAILURE;
		return -1;
	}
	if (n > 0) {
		errorf("slot '%s' already has an active token (%s); nothing was created.  "
		       "'tokenwarden "
		       "rotate --force %s' replaces it and delivers the new one",
		       slot, rows[0].token, slot);
		*status = TW_EXIT_USAGE;
		rc = 1;
	}
	tokens_free(rows, n);
	return rc;
}

/* Makes the new token its slot's active one; returns 0, or -1 after a message. */
static int
activate(struct store *s, const char *ws, const char *token)
{
	struct token_row *row = NULL;
	char *cause = NULL;
	int64_t retired = 0;
	int rc = -1;

	/* Under the run lock, and the slot was checked to have no active token. */
	if (tokens_find(s, ws, token, &row, &cause) == 0 &&
	    tokens_activate(s, row->row, clock_now_ms(), clock_now_ms(), &retired, &cause) == 0)
		rc = 0;
	else
		errorf("%s: the token was created but could not be recorded as active",
		       cause != NULL ? cause : token);
	tokens_free(row, row != NULL ? 1 : 0);
	free(cause);
	return rc;
}

static int
exec_create(int argc, char **argv)
{
	static const struct option longopts[] = {
	    API_LONGOPTS,
	    STORE_LONGOPTS,
	    {"name", required_argument, NULL, 'n'},
	    {"slot", required_argument, NULL, 'S'},
	    {"expires-in", required_argument, NULL, 'e'},
	    {"expires-at", required_argument, NULL, 'E'},
	    {"show-secret", no_argument, NULL, 's'},
	    {NULL, 0, NULL, 0},
	};
	struct api_opts o;
	struct store_opts so;
	struct store *s = NULL;
	struct seal_pub pub;
	struct mode_client *c = NULL;
	struct ops_created made = {0};
	int settled = 0;
	const char *name = NULL, *slot = NULL, *in = NULL, *at = NULL;
	char *slot_ws = NULL;
	char *cause = NULL, when[TIMEFMT_MAX];
	int ch, r, show_secret = 0, status = TW_EXIT_USAGE;
	int64_t now = clock_now_ms(), expires = 0, secs;

	api_opts_init(&o);
	store_opts_init(&so);
	optind = 1;
	for (;;) {
		ch = getopt_long(argc, argv, "w:n:", longopts, NULL);
		if (ch == -1)
			break;
		if (ch == 'n')
			name = optarg;
		else if (ch == 'e')
			in = optarg;
		else if (ch == 'E')
			at = optarg;
		else if (ch == 's')
			show_secret = 1;
		else if (ch == 'S')
			slot = optarg;
		else if (store_opts_parse(&so, ch, optarg))
			continue;
		else if (api_opts_parse(&o, ch, optarg, &cmd_token_create_entry) < 0)
			return TW_EXIT_USAGE;
	}
	if (optind != argc || name == NULL || (in == NULL) == (at == NULL))
		return cmd_usage(&cmd_token_create_entry);
	if (slot != NULL && config_slot_arg("--slot", slot, o.workspace, &slot_ws, &slot) < 0)
		return TW_EXIT_USAGE;
	if (slot_ws != NULL)
		o.workspace = slot_ws;
	if (in != NULL && timefmt_duration(in, &secs) < 0) {
		errorf("--expires-in '%s': expected a duration such as 30d, 12h or 1d12h", in);
		goto out;
	}
	if (in != NULL)
		expires = now + secs * 1000;
	if (at != NULL && timefmt_parse(at, &expires) < 0) {
		errorf("--expires-at '%s': expected an ISO 8601 time such as 2026-12-31T23:00Z",
		       at);
		goto out;
	}
	if (expires - expires % 60000 <= now) {
		errorf("the expiry must be at least a minute in the future");
		goto out;
	}
	c = api_client_open(&o, 1, &status);
	if (c == NULL)
		goto out;
	s = store_ctx_open(&so, &pub, 1, &status);
	if (s == NULL)
		goto out;
	/* Under the lock no create is in flight: a pending row was interrupted. */
	if (tokens_settle_pending(s, clock_now_ms(), &settled, &cause) < 0) {
		errorf("%s", cause);
		status = TW_EXIT_FAILURE;
		goto out;
	}
	if (settled > 0)
		warnf("%d earlier create(s) were interrupted before their answer was recorded; "
		      "they are now 'unknown' in the inventory ('tokenwarden token list --state "
		      "unknown')",
		      settled);
	if (slot != NULL && slot_taken(s, o.workspace, slot, &status) != 0)
		goto out;
	r = ops_create(s, &pub, c, o.workspace, slot, name, expires, &made, &cause);
	status = api_exit_status(r);
	/* Handed to whoever asked: in use from now on, and expires like any active token. */
	if (r == MODE_OK && activate(s, o.workspace, made.token->token) < 0)
		status = TW_EXIT_FAILURE;
	if (r == MODE_OK) {
		print_token("created", o.workspace, made.token, o.json, show_secret);
	} else if (r == MODE_ERR_UNKNOWN) {
		timefmt_minute(expires - expires % 60000, when);
		errorf("%s", cause);
		errorf("a token named '%s' may now exist in workspace %s; it is recorded as "
		       "'unknown' and expires by itself at %s; do not create it again under the "
		       "same name",
		       name, o.workspace, when);
	} else {
		errorf("%s", cause);
	}
	store_ctx_note_head(s);
out:
	free(cause);
	free(slot_ws);
	mode_token_free(made.token);
	store_close(s);
	mode_client_free(c);
	return status;
}

const struct cmd_entry cmd_token_create_entry = {
    .name = "token create",
    .args = "-w WORKSPACE -n NAME (--expires-in DURATION | --expires-at TIME) [--slot SLOT] "
	    "[options]",
    .summary = "create a signature token",
    .help = "  -n, --name NAME          the token's name, 4 to 64 characters\n"
	    "      --expires-in DUR     lifetime such as 30d, 12h, 1d12h\n"
	    "      --expires-at TIME    expiry as ISO 8601, such as 2026-12-31T23:00Z\n"
	    "      --slot SLOT          record it as the slot's active token (the slot must\n"
	    "                           have none; 'rotate --force SLOT' replaces one)\n"
	    "      --show-secret        print the access secret and Bearer value (shown "
	    "once)\n" API_HELP,
    .exec = exec_create,
};
