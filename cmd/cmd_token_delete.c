/* tokenwarden token delete: delete a signature token now. */
#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/msg.h"
#include "cmd/print.h"

#include "core/exitcodes.h"
#include "core/ops.h"
#include "store/store.h"
#include "store/tokens.h"

#include <stdio.h>
#include <stdlib.h>

struct delete_opts {
	struct api_opts api;
	int64_t wait_ms; /* for the run lock */
};

static const struct args_opt delete_options[] = {
    OPTS_API(struct delete_opts, api),
    OPT_WAIT("wait", struct delete_opts, wait_ms,
	     "wait for a run holding the lock to finish (as long as\nit takes, or up to DURATION)"),
    OPT_END,
};

static void
init_delete(void *opts)
{
	struct delete_opts *d = opts;

	api_opts_init(&d->api);
	d->api.api = NULL; /* the policy's, or the default: config_api_opts */
}

static int
run_delete(void *opts, int argc, char **argv)
{
	struct api_opts *o = &((struct delete_opts *)opts)->api;
	struct store_opts so;
	struct policy *p = NULL;
	struct store *s = NULL;
	struct mode_client *c = NULL;
	struct mode_token *t = NULL;
	struct token_row *row = NULL;
	const char *id;
	char *cause = NULL;
	int r, status = TW_EXIT_USAGE;

	(void)argc;
	store_opts_init(&so);
	if (config_load_optional(&p) < 0)
		return TW_EXIT_USAGE;
	config_api_opts(p, o, &so);
	c = api_client_open(o, 1, &status);
	if (c == NULL)
		goto out;
	so.wait_ms = ((struct delete_opts *)opts)->wait_ms;
	s = store_ctx_open(&so, NULL, STORE_CTX_LOCK, &status);
	if (s == NULL)
		goto out;
	id = store_ctx_token_id(s, o->workspace, argv[0], &row, &status);
	if (id == NULL)
		goto out;
	r = ops_delete(s, c, o->workspace, id, &t, &cause);
	status = api_exit_status(r);
	if (r == MODE_OK && t != NULL)
		print_token("deleted", o->workspace, t, args_globals.json, 0);
	else if (r == MODE_OK && args_globals.json)
		printf("{\"workspace\": \"%s\", \"token\": \"%s\", \"deleted\": true}\n",
		       o->workspace, id);
	else if (r == MODE_OK)
		printf("deleted token %s in workspace %s (an answer was lost; a retry found it "
		       "gone)\n",
		       id, o->workspace);
	else
		errorf("%s", cause);
	store_ctx_note_written(s);
out:
	free(cause);
	mode_token_free(t);
	tokens_free(row, row != NULL ? 1 : 0);
	store_close(s);
	mode_client_free(c);
	policy_free(p);
	return status;
}

const struct cmd_entry cmd_token_delete_entry = {
    .name = "token delete",
    .args = "-w WORKSPACE TOKEN",
    .summary = "delete a signature token and record it in the inventory",
    .options = delete_options,
    .globals = G_JSON | G_CONFIG | G_DB | G_PUBLIC_KEY | G_API,
    .opts_size = sizeof(struct delete_opts),
    .init = init_delete,
    .min_args = 1,
    .max_args = 1,
    .notes = "TOKEN is the token's Mode id, or its name when no other token of the workspace\n"
	     "has that name; an id the inventory lacks is deleted on the server all the same.\n"
	     "\n" API_NOTES "\n"
	     "Exit status: 0 deleted, 1 refused or failed (such as no such token on the\n"
	     "server), 2 usage or configuration error, 5 locked, 7 API unavailable (try\n"
	     "again later).\n",
    .run = run_delete,
};
