/* tokenwarden token delete: delete a signature token now. */
#include "cmd/cmd.h"
#include "cmd/msg.h"
#include "cmd/print.h"

#include "core/exitcodes.h"
#include "core/ops.h"
#include "store/store.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static int
exec_delete(int argc, char **argv)
{
	static const struct option longopts[] = {API_LONGOPTS, STORE_LONGOPTS, {NULL, 0, NULL, 0}};
	struct api_opts o;
	struct store_opts so;
	struct store *s = NULL;
	struct mode_client *c = NULL;
	struct mode_token *t = NULL;
	char *cause = NULL;
	int ch, r, status = TW_EXIT_USAGE;

	api_opts_init(&o);
	store_opts_init(&so);
	optind = 1;
	for (;;) {
		ch = getopt_long(argc, argv, "w:", longopts, NULL);
		if (ch == -1)
			break;
		if (!store_opts_parse(&so, ch, optarg) &&
		    api_opts_parse(&o, ch, optarg, &cmd_token_delete_entry) < 0)
			return TW_EXIT_USAGE;
	}
	if (optind != argc - 1)
		return cmd_usage(&cmd_token_delete_entry);
	c = api_client_open(&o, 1, &status);
	if (c == NULL)
		return status;
	s = store_ctx_open(&so, NULL, 1, &status);
	if (s == NULL)
		goto out;
	r = ops_delete(s, c, o.workspace, argv[optind], &t, &cause);
	status = api_exit_status(r);
	if (r == MODE_OK && t != NULL)
		print_token("deleted", o.workspace, t, o.json, 0);
	else if (r == MODE_OK && o.json)
		printf("{\"workspace\": \"%s\", \"token\": \"%s\", \"deleted\": true}\n",
		       o.workspace, argv[optind]);
	else if (r == MODE_OK)
		printf("deleted token %s in workspace %s (an answer was lost; a retry found it "
		       "gone)\n",
		       argv[optind], o.workspace);
	else
		errorf("%s", cause);
	store_ctx_note_head(s);
out:
	free(cause);
	mode_token_free(t);
	store_close(s);
	mode_client_free(c);
	return status;
}

const struct cmd_entry cmd_token_delete_entry = {
    .name = "token delete",
    .args = "-w WORKSPACE [options] TOKEN",
    .summary = "delete a signature token and record it in the inventory",
    .help = STORE_HELP API_HELP,
    .exec = exec_delete,
};
