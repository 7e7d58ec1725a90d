/* tokenwarden token show: one token's row in the inventory, in full. */
#include "cmd/cmd.h"
#include "cmd/msg.h"
#include "cmd/print.h"

#include "core/exitcodes.h"
#include "core/mode.h"
#include "store/store.h"
#include "store/tokens.h"

#include <stdlib.h>

struct show_opts {
	const char *workspace;
};

static const struct args_opt show_options[] = {
    OPT_STRING('w', "workspace", struct show_opts, workspace, "WS",
	       "the token's workspace (its username, lower case)"),
    OPT_END,
};

static int
run_show(void *opts, int argc, char **argv)
{
	struct show_opts *so = opts;
	struct store_opts o;
	struct store *s = NULL;
	struct token_row *row = NULL;
	char *cause = NULL;
	int r, status = TW_EXIT_USAGE;

	(void)argc;
	if (so->workspace == NULL) {
		errorf("--workspace is required: the token's workspace");
		return args_usage(&cmd_token_show_entry);
	}
	if (mode_check_workspace(so->workspace, &cause) < 0) {
		errorf("%s", cause);
		free(cause);
		return TW_EXIT_USAGE;
	}
	store_opts_init(&o);
	s = store_ctx_open(&o, NULL, STORE_CTX_READ, &status);
	if (s == NULL)
		goto out;
	store_ctx_settle(s);
	r = store_ctx_find_token(s, so->workspace, argv[0], &row, &status);
	if (r == 1) {
		errorf("workspace %s has no token with the id or name '%s' in the inventory",
		       so->workspace, argv[0]);
		status = TW_EXIT_FAILURE;
	}
	if (r != 0)
		goto out;
	print_row(row, args_globals.json);
	status = print_flush() == 0 ? TW_EXIT_OK : TW_EXIT_FAILURE;
out:
	tokens_free(row, row != NULL ? 1 : 0);
	store_close(s);
	return status;
}

const struct cmd_entry cmd_token_show_entry = {
    .name = "token show",
    .args = "-w WORKSPACE TOKEN",
    .summary = "show one token of the inventory in full",
    .options = show_options,
    .globals = G_JSON | G_DB,
    .opts_size = sizeof(struct show_opts),
    .min_args = 1,
    .max_args = 1,
    .notes = "TOKEN is the token's Mode id, or its name when no other token of the workspace\n"
	     "has that name.\n"
	     "\n"
	     "Exit status: 0 shown, 1 not in the inventory (or the store cannot be read),\n"
	     "2 usage or configuration error.\n",
    .run = run_show,
};
