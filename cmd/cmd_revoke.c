/*
 * tokenwarden revoke SLOT|TOKEN: deletes a token at once, with no
 * replacement, for when it is thought exposed.  A slot's active token is
 * meant by WORKSPACE/SLOT, or by a slot name only one workspace has; any
 * other token by its id or name, with its workspace.  Asks
 * for the token id to be typed back unless --yes; the next rotate gives the
 * slot a new token.
 */
#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/msg.h"
#include "cmd/print.h"
#include "cmd/runner.h"

#include "core/cred.h"
#include "core/exitcodes.h"
#include "core/ops.h"
#include "core/xalloc.h"
#include "store/store.h"
#include "store/tokens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Finds workspace ws's live token by id or name; returns 0 with *out, or an exit status. */
static int
find_token(struct store *s, const char *ws, const char *word, struct token_row **out)
{
	int status;

	switch (store_ctx_find_token(s, ws, word, out, &status)) {
	case 0:
		break;
	case 1:
		errorf("workspace %s has no token named '%s' in the inventory", ws, word);
		return TW_EXIT_FAILURE;
	default:
		return status;
	}
	switch ((*out)->state) {
	case TOKEN_DELETED:
	case TOKEN_REVOKED:
	case TOKEN_FAILED:
		errorf("token %s of workspace %s is %s; there is nothing to revoke", word, ws,
		       tokens_state_name((*out)->state));
		tokens_free(*out, 1);
		*out = NULL;
		return TW_EXIT_FAILURE;
	default:
		return TW_EXIT_OK;
	}
}

/*
 * Finds what `what` names: a slot's active token, or a token id, in
 * workspace ws (NULL: any).  Returns 0 with *out (one row), or an exit
 * status after a message.
 */
static int
resolve(struct store *s, const struct policy *p, const char *ws, const char *what,
	struct token_row **out)
{
	const struct policy_slot *sl = ws != NULL ? policy_find_slot(p, ws, what) : NULL;
	struct token_filter f = {.state = TOKEN_ACTIVE};
	struct token_row *rows = NULL;
	char *cause = NULL;
	size_t n = 0;

	if (sl == NULL && (strchr(what, '/') != NULL || policy_has_slot_named(p, what))) {
		sl = policy_resolve_slot(p, what, &cause);
		if (sl == NULL) {
			errorf("%s", cause);
			free(cause);
			return TW_EXIT_USAGE;
		}
	}
	if (sl != NULL) {
		f.workspace = sl->ws->name;
		f.slot = sl->name;
		if (tokens_list(s, &f, &rows, &n, &cause) < 0)
			goto failed;
		if (n == 1) {
			*out = rows;
			return TW_EXIT_OK;
		}
		tokens_free(rows, n);
		errorf("slot %s/%s has no active token to revoke", sl->ws->name, sl->name);
		return TW_EXIT_FAILURE;
	}
	if (ws == NULL) {
		errorf("'%s' is no slot of the policy; to revoke a token by its id or name, say "
		       "its workspace with -w",
		       what);
		return TW_EXIT_USAGE;
	}
	return find_token(s, ws, what, out);
failed:
	errorf("%s", cause);
	free(cause);
	return TW_EXIT_FAILURE;
}

/* Asks for the token id to be typed back; returns 1 when it was. */
static int
confirmed(const struct token_row *t)
{
	char line[128], *name;

	if (!isatty(STDIN_FILENO)) {
		errorf("revoking %s/%s needs --yes when not run from a terminal", t->workspace,
		       t->token);
		return 0;
	}
	name = print_clean(t->name, NULL);
	fprintf(stderr,
		"Revoke token %s (%s) of %s/%s now?  It stops working at once and is not "
		"replaced until the next rotate.\nType the token id to confirm: ",
		t->token, name, t->workspace, t->slot != NULL ? t->slot : "-");
	free(name);
	if (fgets(line, sizeof line, stdin) == NULL)
		return 0;
	line[strcspn(line, "\r\n")] = '\0';
	if (strcmp(line, t->token) != 0) {
		errorf("not confirmed; nothing was done");
		return 0;
	}
	return 1;
}

static int
revoke_token(struct store *s, const struct policy *p, const struct token_row *t)
{
	const struct policy_workspace *w = policy_find_workspace(p, t->workspace);
	struct mode_client *c = NULL;
	struct mode_opts mo;
	struct cred *cred = NULL;
	char *cause = NULL;
	int rc = MODE_ERR_USAGE;

	if (w == NULL)
		cause = xasprintf("workspace %s is not in the policy, so its API and credential "
				  "are unknown",
				  t->workspace);
	else if (cred_load(w->credential, NULL, CRED_FROM_POLICY, policy_credential_count(p), &cred,
			   &cause) == 0) {
		runner_mode_opts(p, w, &mo);
		c = mode_client_new(w->api, w->name, cred, &mo, &cause);
	}
	if (c != NULL)
		rc = ops_revoke(s, c, t->workspace, t->token, &cause);
	if (rc == MODE_OK) {
		char *name = print_clean(t->name, NULL);

		printf("revoked token %s (%s) of %s/%s\n", t->token, name, t->workspace,
		       t->slot != NULL ? t->slot : "-");
		free(name);
	} else
		errorf("%s", cause != NULL ? cause : "revoke failed");
	free(cause);
	mode_client_free(c);
	cred_free(cred);
	return api_exit_status(rc);
}

struct revoke_opts {
	const char *workspace;
	int yes;
	int64_t wait_ms; /* for the run lock */
};

static const struct args_opt revoke_options[] = {
    OPT_STRING('w', "workspace", struct revoke_opts, workspace, "WS",
	       "the workspace, when the slot or id needs it"),
    OPT_FLAG(0, "yes", struct revoke_opts, yes, "do not ask for the token id to be typed back"),
    OPT_WAIT("wait", struct revoke_opts, wait_ms,
	     "wait for a run holding the lock to finish (as long as\nit takes, or up to DURATION)"),
    OPT_END,
};

static int
run_revoke(void *opts, int argc, char **argv)
{
	const struct revoke_opts *ro = opts;
	struct store_opts so;
	struct policy *p = NULL;
	struct store *s = NULL;
	struct token_row *t = NULL;
	int status = TW_EXIT_USAGE;

	(void)argc;
	store_opts_init(&so);
	p = config_load(config_path(NULL), 0);
	if (p == NULL)
		return TW_EXIT_USAGE;
	config_store_opts(p, NULL, &so);
	so.wait_ms = ro->wait_ms;
	s = store_ctx_open(&so, NULL, STORE_CTX_LOCK, &status);
	if (s == NULL)
		goto out;
	status = resolve(s, p, ro->workspace, argv[0], &t);
	if (status != TW_EXIT_OK)
		goto out;
	status = TW_EXIT_USAGE;
	if (!ro->yes && !confirmed(t))
		goto out;
	status = revoke_token(s, p, t);
	/* Only a revoke done is in the history: a refusal or a failure recorded nothing. */
	if (status == TW_EXIT_OK)
		store_ctx_note_head(s);
out:
	tokens_free(t, t != NULL ? 1 : 0);
	store_close(s);
	policy_free(p);
	return status;
}

const struct cmd_entry cmd_revoke_entry = {
    .name = "revoke",
    .args = "SLOT|TOKEN",
    .summary = "delete a token at once, without a replacement (an emergency)",
    .options = revoke_options,
    .globals = G_CONFIG | G_DB | G_API,
    .opts_size = sizeof(struct revoke_opts),
    .min_args = 1,
    .max_args = 1,
    .notes = "SLOT|TOKEN is a slot's active token (WORKSPACE/SLOT, or a slot name one\n"
	     "workspace has), or a token's id or Mode-side name (with -w).  The\n"
	     "workspace's API and credential are those of the policy, as for rotate.\n"
	     "Exit status: 0 revoked, 1 refused or failed, 2 usage, 5 locked, 7 API\n"
	     "unavailable.\n",
    .run = run_revoke,
};
