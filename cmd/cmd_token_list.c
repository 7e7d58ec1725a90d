/* tokenwarden token list: the inventory, filtered by workspace, slot and state. */
#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/msg.h"
#include "cmd/print.h"

#include "core/exitcodes.h"
#include "core/mode.h"
#include "store/store.h"
#include "store/tokens.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

/* Parses a state name for --state; prints the valid ones when it is none. */
static int
parse_state(const char *name, int *state)
{
	enum token_state st;
	char names[256];
	size_t used = 0;

	if (tokens_state_parse(name, &st) == 0) {
		*state = (int)st;
		return 0;
	}
	names[0] = '\0';
	for (int i = TOKEN_PENDING; i < TOKEN_NSTATES; i++) {
		int n = snprintf(names + used, sizeof names - used, "%s%s", i > 0 ? ", " : "",
				 tokens_state_name((enum token_state)i));

		if (n < 0 || (size_t)n >= sizeof names - used)
			break;
		used += (size_t)n;
	}
	errorf("--state '%s' is not a state; the states are: %s", name, names);
	return -1;
}

static int
exec_list(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"workspace", required_argument, NULL, 'w'},
	    {"slot", required_argument, NULL, 's'},
	    {"unmanaged", no_argument, NULL, 'u'},
	    {"state", required_argument, NULL, 'S'},
	    {"json", no_argument, NULL, 'j'},
	    STORE_DB_LONGOPT,
	    {NULL, 0, NULL, 0},
	};
	struct store_opts o;
	struct store *s = NULL;
	struct token_filter f = {.state = -1};
	struct token_row *rows = NULL;
	const char *state = NULL;
	char *cause = NULL, *slot_ws = NULL;
	size_t n = 0;
	int ch, json = 0, unmanaged = 0, status = TW_EXIT_USAGE;

	store_opts_init(&o);
	optind = 1;
	for (;;) {
		ch = getopt_long(argc, argv, "w:", longopts, NULL);
		if (ch == -1)
			break;
		if (ch == 'w')
			f.workspace = optarg;
		else if (ch == 's')
			f.slot = optarg;
		else if (ch == 'u')
			unmanaged = 1;
		else if (ch == 'S')
			state = optarg;
		else if (ch == 'j')
			json = 1;
		else if (!store_opts_parse(&o, ch, optarg))
			return cmd_usage(&cmd_token_list_entry);
	}
	if (optind != argc || (unmanaged && f.slot != NULL))
		return cmd_usage(&cmd_token_list_entry);
	if (f.slot != NULL && f.slot[0] == '\0') {
		errorf("--slot needs a slot name; --unmanaged lists the tokens without one");
		return TW_EXIT_USAGE;
	}
	if (unmanaged)
		f.slot = ""; /* the filter's spelling of "no slot" */
	else if (f.slot != NULL) {
		/* WORKSPACE/SLOT narrows to one workspace; a bare name lists the slot in every one.
		 */
		if (config_slot_arg("--slot", f.slot, f.workspace, &slot_ws, &f.slot) < 0)
			return TW_EXIT_USAGE;
		if (slot_ws != NULL)
			f.workspace = slot_ws;
	}
	if (f.workspace != NULL && mode_check_workspace(f.workspace, &cause) < 0)
		goto out;
	if (state != NULL && parse_state(state, &f.state) < 0)
		goto out;
	s = store_ctx_open(&o, NULL, STORE_CTX_READ, &status);
	if (s == NULL)
		goto out;
	store_ctx_settle(s);
	status = TW_EXIT_FAILURE;
	if (tokens_list(s, &f, &rows, &n, &cause) < 0)
		goto out;
	print_rows(rows, n, json);
	if (print_flush() == 0)
		status = TW_EXIT_OK;
out:
	if (cause != NULL)
		errorf("%s", cause);
	free(cause);
	free(slot_ws);
	tokens_free(rows, n);
	store_close(s);
	return status;
}

const struct cmd_entry cmd_token_list_entry = {
    .name = "token list",
    .args = "[-w WORKSPACE] [--slot SLOT | --unmanaged] [--state STATE] [--db FILE] [--json]",
    .summary = "list the tokens in the inventory",
    .help = "  -w, --workspace W        only this workspace's tokens\n"
	    "      --slot SLOT          only the tokens of this slot (WORKSPACE/SLOT, or a\n"
	    "                           slot name in any workspace)\n"
	    "      --unmanaged          only the tokens that belong to no slot\n"
	    "      --state STATE        only tokens in STATE: pending, created, verified, "
	    "active,\n"
	    "                           retiring, deleted, failed, unknown, expired, revoked\n"
	    "      --json               print a JSON array for scripts\n" STORE_DB_HELP,
    .exec = exec_list,
};
