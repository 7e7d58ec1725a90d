/* tokenwarden token show: one token's row in the inventory, in full. */
#include "cmd/cmd.h"
#include "cmd/msg.h"
#include "cmd/print.h"

#include "core/exitcodes.h"
#include "core/mode.h"
#include "core/xalloc.h"
#include "store/store.h"
#include "store/tokens.h"

#include <getopt.h>
#include <stdlib.h>

static int
exec_show(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"workspace", required_argument, NULL, 'w'},
	    {"json", no_argument, NULL, 'j'},
	    STORE_DB_LONGOPT,
	    {NULL, 0, NULL, 0},
	};
	struct store_opts o;
	struct store *s = NULL;
	struct token_row *row = NULL;
	const char *workspace = NULL, *token;
	char *cause = NULL;
	int ch, r, json = 0, status = TW_EXIT_USAGE;

	store_opts_init(&o);
	optind = 1;
	for (;;) {
		ch = getopt_long(argc, argv, "w:", longopts, NULL);
		if (ch == -1)
			break;
		if (ch == 'w')
			workspace = optarg;
		else if (ch == 'j')
			json = 1;
		else if (!store_opts_parse(&o, ch, optarg))
			return cmd_usage(&cmd_token_show_entry);
	}
	if (optind != argc - 1 || workspace == NULL)
		return cmd_usage(&cmd_token_show_entry);
	token = argv[optind];
	if (mode_check_workspace(workspace, &cause) < 0 || mode_check_id(token, &cause) < 0)
		goto out;
	s = store_ctx_open(&o, NULL, STORE_CTX_READ, &status);
	if (s == NULL)
		goto out;
	store_ctx_settle(s);
	status = TW_EXIT_FAILURE;
	r = tokens_find(s, workspace, token, &row, &cause);
	if (r == 1)
		cause =
		    xasprintf("token %s is not in the inventory of workspace %s", token, workspace);
	if (r != 0)
		goto out;
	print_row(row, json);
	if (print_flush() == 0)
		status = TW_EXIT_OK;
out:
	if (cause != NULL)
		errorf("%s", cause);
	free(cause);
	tokens_free(row, row != NULL ? 1 : 0);
	store_close(s);
	return status;
}

const struct cmd_entry cmd_token_show_entry = {
    .name = "token show",
    .args = "-w WORKSPACE TOKEN [--db FILE] [--json]",
    .summary = "show one token of the inventory in full",
    .help = "  -w, --workspace W        the workspace's username (lower case)\n"
	    "      --json               print a JSON object for scripts\n" STORE_DB_HELP,
    .exec = exec_show,
};
