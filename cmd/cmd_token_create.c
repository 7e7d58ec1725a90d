/* tokenwarden token create: make a signature token now. */
#include "cmd/cmd.h"
#include "cmd/msg.h"
#include "cmd/print.h"

#include "core/clock.h"
#include "core/exitcodes.h"
#include "core/timefmt.h"

#include <getopt.h>
#include <stdlib.h>

static int
exec_create(int argc, char **argv)
{
	static const struct option longopts[] = {
	    API_LONGOPTS,
	    {"name", required_argument, NULL, 'n'},
	    {"expires-in", required_argument, NULL, 'e'},
	    {"expires-at", required_argument, NULL, 'E'},
	    {"show-secret", no_argument, NULL, 's'},
	    {NULL, 0, NULL, 0},
	};
	struct api_opts o;
	struct mode_client *c = NULL;
	struct mode_token *t = NULL;
	const char *name = NULL, *in = NULL, *at = NULL;
	char *cause = NULL, when[TIMEFMT_MAX];
	int ch, r, show_secret = 0, status = TW_EXIT_USAGE;
	int64_t now = clock_now_ms(), expires = 0, secs;

	api_opts_init(&o);
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
		else if (api_opts_parse(&o, ch, optarg, &cmd_token_create_entry) < 0)
			return TW_EXIT_USAGE;
	}
	if (optind != argc || name == NULL || (in == NULL) == (at == NULL))
		return cmd_usage(&cmd_token_create_entry);
	if (in != NULL && timefmt_duration(in, &secs) < 0) {
		errorf("--expires-in '%s': expected a duration such as 30d, 12h or 1d12h", in);
		return TW_EXIT_USAGE;
	}
	if (in != NULL)
		expires = now + secs * 1000;
	if (at != NULL && timefmt_parse(at, &expires) < 0) {
		errorf("--expires-at '%s': expected an ISO 8601 time such as 2026-12-31T23:00Z",
		       at);
		return TW_EXIT_USAGE;
	}
	if (expires - expires % 60000 <= now) {
		errorf("the expiry must be at least a minute in the future");
		return TW_EXIT_USAGE;
	}
	c = api_client_open(&o, 1, &status);
	if (c == NULL)
		return status;
	r = mode_create(c, name, expires, &t, &cause);
	status = api_exit_status(r);
	if (r == MODE_OK) {
		print_token("created", o.workspace, t, o.json, show_secret);
	} else if (r == MODE_ERR_UNKNOWN) {
		timefmt_minute(expires - expires % 60000, when);
		errorf("%s", cause);
		errorf("a token named '%s' may now exist in workspace %s; it expires by itself at "
		       "%s; do not create it again under the same name, check the workspace's "
		       "signature tokens and delete it if it exists",
		       name, o.workspace, when);
	} else {
		errorf("%s", cause);
	}
	free(cause);
	mode_token_free(t);
	mode_client_free(c);
	return status;
}

const struct cmd_entry cmd_token_create_entry = {
    .name = "token create",
    .args = "-w WORKSPACE -n NAME (--expires-in DURATION | --expires-at TIME) [options]",
    .summary = "create a signature token",
    .help = "  -n, --name NAME          the token's name, 4 to 64 characters\n"
	    "      --expires-in DUR     lifetime such as 30d, 12h, 1d12h\n"
	    "      --expires-at TIME    expiry as ISO 8601, such as 2026-12-31T23:00Z\n"
	    "      --show-secret        print the access secret and Bearer value (shown "
	    "once)\n" API_HELP,
    .exec = exec_create,
};
