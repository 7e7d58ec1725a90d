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
#include "core/xalloc.h"
#include "store/tokens.h"

#include <stdlib.h>

struct create_opts {
	struct api_opts api;
	const char *name;
	const char *slot;
	int64_t expires_in; /* seconds; 0 until given */
	int64_t expires_at; /* ms; 0 until given */
	int show_secret;
	int allow_unknown_slot;
	int64_t wait_ms; /* for the run lock */
};

static const struct args_opt create_options[] = {
    OPTS_API(struct create_opts, api),
    OPT_STRING('n', "name", struct create_opts, name, "NAME",
	       "the token's name, 4 to 64 characters"),
    OPT_DURATION(0, "expires-in", struct create_opts, expires_in, "DURATION",
		 "lifetime such as 30d, 12h, 1d12h"),
    OPT_TIME(0, "expires-at", struct create_opts, expires_at, "TIME", ARGS_AHEAD,
	     "expiry as ISO 8601 such as 2026-12-31T23:00Z, or from\nnow: +30d or 30d"),
    OPT_STRING(0, "slot", struct create_opts, slot, "SLOT",
	       "record it as the slot's active token: WORKSPACE/SLOT,\nor a slot of -w's "
	       "workspace, or one only one workspace\nhas (the slot must have none; 'rotate "
	       "--force SLOT'\nreplaces one)"),
    OPT_FLAG(0, "allow-unknown-slot", struct create_opts, allow_unknown_slot,
	     "take a --slot the policy lacks, or with no policy"),
    OPT_FLAG(0, "show-secret", struct create_opts, show_secret,
	     "print the access secret and Bearer value (shown once)"),
    OPT_WAIT("wait", struct create_opts, wait_ms,
	     "wait for a run holding the lock to finish (as long as\nit takes, or up to DURATION)"),
    OPT_END,
};

static void
init_create(void *opts)
{
	struct create_opts *co = opts;

	api_opts_init(&co->api);
	co->api.api = NULL; /* the policy's, or the default: config_api_opts */
}

/*
 * Resolves --slot against the policy p (NULL: none found), setting
 * co->slot and, when the slot says it, co->api.workspace (borrowed from p,
 * or from *ws_buf, which the caller frees).  A slot the policy lacks, or
 * any slot without a policy, is refused unless --allow-unknown-slot.
 * Returns 0, or -1 after a message.
 */
static int
resolve_slot(const struct policy *p, struct create_opts *co, char **ws_buf)
{
	const struct policy_slot *sl = NULL;
	const char *slot;
	char *spec, *cause = NULL;

	if (config_slot_arg("--slot", co->slot, co->api.workspace, ws_buf, &slot) < 0)
		return -1;
	if (p != NULL) {
		/* A bare name is -w's workspace's slot, else the one workspace having it. */
		spec = *ws_buf != NULL ? xasprintf("%s/%s", *ws_buf, slot) : xstrdup(slot);
		sl = policy_resolve_slot(p, spec, &cause);
		free(spec);
	}
	if (sl != NULL) {
		co->api.workspace = sl->ws->name;
		co->slot = sl->name;
		return 0;
	}
	if (!co->allow_unknown_slot) {
		if (p == NULL)
			errorf("--slot '%s': no policy at %s to find the slot in; nothing was "
			       "created (--allow-unknown-slot takes it anyway)",
			       co->slot, config_path(NULL));
		else
			errorf("--slot %s; nothing was created (--allow-unknown-slot takes it "
			       "anyway)",
			       cause);
		free(cause);
		return -1;
	}
	free(cause);
	co->api.workspace = *ws_buf;
	co->slot = slot;
	return 0;
}

/*
 * Whether slot of ws already has an active token: a hand-made token joins
 * a slot only in place of none (rotate --force replaces one and delivers
 * the new one).  Returns 0 when free, else 1 (or -1) after a message.
 */
static int
slot_taken(struct store *s, const char *ws, const char *slot, int *status)
{
	struct token_filter f = {.workspace = ws, .slot = slot, .state = TOKEN_ACTIVE};
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
		       "'tokenwarden rotate --force %s/%s' replaces it and delivers the new one",
		       slot, rows[0].token, ws, slot);
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

/* Checks the options that go together; returns 0, or an exit status after a message. */
static int
check_options(const struct create_opts *co)
{
	if (co->name == NULL)
		errorf("--name is required: the token's name on Mode");
	else if ((co->expires_in == 0) == (co->expires_at == 0))
		errorf("give one of --expires-in and --expires-at");
	else if (co->allow_unknown_slot && co->slot == NULL)
		errorf("--allow-unknown-slot goes with --slot");
	else
		return 0;
	return args_usage(&cmd_token_create_entry);
}

static int
run_create(void *opts, int argc, char **argv)
{
	struct create_opts *co = opts;
	struct api_opts *o = &co->api;
	struct store_opts so;
	struct policy *p = NULL;
	struct store *s = NULL;
	struct seal_pub pub;
	struct mode_client *c = NULL;
	struct ops_created made = {0};
	int settled = 0;
	char *slot_ws = NULL;
	char *cause = NULL, when[TIMEFMT_MAX];
	int r, status;
	int64_t now = clock_now_ms(), expires;

	(void)argc;
	(void)argv;
	status = check_options(co);
	if (status != 0)
		return status;
	status = TW_EXIT_USAGE;
	store_opts_init(&so);
	if (config_load_optional(&p) < 0)
		goto out;
	if (co->slot != NULL && resolve_slot(p, co, &slot_ws) < 0)
		goto out;
	config_api_opts(p, o, &so);
	expires = co->expires_in > 0 ? now + co->expires_in * 1000 : co->expires_at;
	if (expires - expires % 60000 <= now) {
		errorf("the expiry must be at least a minute in the future");
		goto out;
	}
	c = api_client_open(o, 1, &status);
	if (c == NULL)
		goto out;
	so.wait_ms = co->wait_ms;
	s = store_ctx_open(&so, &pub, STORE_CTX_LOCK, &status);
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
	if (co->slot != NULL && slot_taken(s, o->workspace, co->slot, &status) != 0)
		goto out;
	r = ops_create(s, &pub, c, o->workspace, co->slot, co->name, OPS_NAME_ANY, expires,
		       OPS_SYNC_ANSWER, &made, &cause);
	status = api_exit_status(r);
	/* Handed to whoever asked: in use from now on, and expires like any active token. */
	if (r == MODE_OK && activate(s, o->workspace, made.token->token) < 0)
		status = TW_EXIT_FAILURE;
	if (r == MODE_OK) {
		print_token("created", o->workspace, made.token, args_globals.json,
			    co->show_secret);
		/* Whoever asked may not have it: say where it is before anyone creates another. */
		if (print_flush() < 0) {
			errorf("token %s \"%s\" was created in workspace %s all the same, and "
			       "stored with its secret sealed: 'tokenwarden token show -w %s %s' "
			       "shows it, 'tokenwarden secret reveal' gives its secret",
			       made.token->token, made.token->name, o->workspace, o->workspace,
			       made.token->token);
			status = TW_EXIT_FAILURE;
		}
	} else if (r == MODE_ERR_UNKNOWN) {
		timefmt_minute(expires - expires % 60000, when);
		errorf("%s", cause);
		errorf("a token named '%s' may now exist in workspace %s; it is recorded as "
		       "'unknown' and expires by itself at %s; do not create it again under the "
		       "same name",
		       co->name, o->workspace, when);
	} else {
		errorf("%s", cause);
	}
	store_ctx_note_written(s);
out:
	free(cause);
	free(slot_ws);
	mode_token_free(made.token);
	store_close(s);
	mode_client_free(c);
	policy_free(p);
	return status;
}

const struct cmd_entry cmd_token_create_entry = {
    .name = "token create",
    .args = "-w WORKSPACE -n NAME (--expires-in DURATION | --expires-at TIME)",
    .summary = "create a signature token",
    .options = create_options,
    .globals = G_JSON | G_CONFIG | G_DB | G_PUBLIC_KEY | G_API,
    .opts_size = sizeof(struct create_opts),
    .init = init_create,
    .max_args = 0,
    .notes = "A --slot is found in the policy, which names its workspace; -w may then be\n"
	     "left out.\n"
	     "\n" API_NOTES "\n"
	     "Exit status: 0 created, 1 refused or failed, 2 usage or configuration error,\n"
	     "5 locked, 6 outcome unknown (the token may exist: do not create it again\n"
	     "under the same name), 7 API unavailable (try again later).\n",
    .run = run_create,
};
