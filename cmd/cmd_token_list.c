/*
 * tokenwarden token list: the inventory, filtered by workspace, slot and
 * state; by default only the tokens that may exist on the server.
 */
#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/msg.h"
#include "cmd/print.h"

#include "core/exitcodes.h"
#include "core/mode.h"
#include "store/store.h"
#include "store/tokens.h"

#include <stdio.h>
#include <stdlib.h>

struct list_opts {
	const char *workspace;
	const char *slot;
	int unmanaged;
	const char *state;
	int all;
};

static const struct args_opt list_options[] = {
    OPT_STRING('w', "workspace", struct list_opts, workspace, "WS", "only this workspace's tokens"),
    OPT_STRING(0, "slot", struct list_opts, slot, "SLOT",
	       "only the tokens of this slot (WORKSPACE/SLOT, or a\nslot name in any workspace)"),
    OPT_FLAG(0, "unmanaged", struct list_opts, unmanaged, "only the tokens that belong to no slot"),
    OPT_CHOICE(0, "state", struct list_opts, state, "STATE", tokens_states,
	       "only the tokens in this state"),
    OPT_FLAG('a', "all", struct list_opts, all,
	     "deleted, failed and revoked tokens too (without it,\nand without --state, only those "
	     "that may exist\non the server)"),
    OPT_END,
};

/*
 * Prints the rows f matches as they are read: JSON in one reading; a table
 * in two of one snapshot, the first to measure its columns.  Returns 0, or
 * -1 with *cause (what was printed then is cut short).
 */
static int
list(struct store *s, const struct token_filter *f, int json, char **cause)
{
	struct rows_out out;
	int rc;

	print_rows_init(&out, stdout, json);
	if (json) {
		rc = tokens_each(s, f, print_rows_put, &out, cause);
	} else {
		if (store_read_begin(s, cause) < 0)
			return -1;
		rc = tokens_each(s, f, print_rows_measure, &out, cause);
		if (rc == 0)
			rc = tokens_each(s, f, print_rows_put, &out, cause);
		store_read_end(s);
	}
	if (rc != 0)
		return -1;
	print_rows_end(&out);
	return 0;
}

static int
run_list(void *opts, int argc, char **argv)
{
	struct list_opts *lo = opts;
	struct store_opts o;
	struct store *s = NULL;
	struct token_filter f = {.workspace = lo->workspace, .slot = lo->slot, .state = -1};
	enum token_state st;
	char *cause = NULL, *slot_ws = NULL;
	int status = TW_EXIT_USAGE;

	(void)argc;
	(void)argv;
	store_opts_init(&o);
	if (lo->unmanaged && f.slot != NULL) {
		errorf("--slot and --unmanaged: give one");
		return args_usage(&cmd_token_list_entry);
	}
	if (f.slot != NULL && f.slot[0] == '\0') {
		errorf("--slot needs a slot name; --unmanaged lists the tokens without one");
		return TW_EXIT_USAGE;
	}
	if (lo->unmanaged)
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
	if (lo->state != NULL && tokens_state_parse(lo->state, &st) == 0)
		f.state = (int)st;
	/* The history of what no longer exists is asked for by name: --all or --state. */
	f.live = !lo->all && lo->state == NULL;
	s = store_ctx_open(&o, NULL, STORE_CTX_READ, &status);
	if (s == NULL)
		goto out;
	store_ctx_settle(s);
	status = TW_EXIT_FAILURE;
	if (list(s, &f, args_globals.json, &cause) < 0)
		goto out;
	if (print_flush() == 0)
		status = TW_EXIT_OK;
out:
	if (cause != NULL)
		errorf("%s", cause);
	free(cause);
	free(slot_ws);
	store_close(s);
	return status;
}

const struct cmd_entry cmd_token_list_entry = {
    .name = "token list",
    .args = "",
    .summary = "list the tokens in the inventory",
    .options = list_options,
    .globals = G_JSON | G_DB,
    .opts_size = sizeof(struct list_opts),
    .max_args = 0,
    .run = run_list,
};
