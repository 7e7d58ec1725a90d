/* Options shared by the verbs that call the API, and their exit statuses. */
#include "cmd/cmd.h"
#include "cmd/msg.h"

#include "core/cred.h"
#include "core/exitcodes.h"
#include "core/net.h"
#include "core/xalloc.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
api_opts_init(struct api_opts *o)
{
	memset(o, 0, sizeof *o);
	o->api = "https://app.mode.com";
	mode_opts_default(&o->mode);
}

void
api_opts_globals(struct mode_opts *mo)
{
	long n, secs;

	if (args_globals.timeout > 0)
		mo->timeout_ms = args_globals.timeout * 1000;
	if (args_globals.retries >= 0)
		mo->retries = (int)args_globals.retries;
	if (args_globals.rate_limit != NULL && args_rate(args_globals.rate_limit, &n, &secs) == 0) {
		mo->rate_limit = (int)n;
		mo->rate_window_ms = secs * 1000;
	}
	if (args_globals.proxy != NULL)
		mo->proxy = args_globals.proxy;
}

struct mode_client *
api_client_open(const struct api_opts *o, int need_cred, int *status)
{
	struct cred *cred = NULL;
	struct mode_client *c = NULL;
	struct mode_opts mo = o->mode;
	char *cause = NULL;

	*status = TW_EXIT_USAGE;
	api_opts_globals(&mo);
	if (o->workspace == NULL) {
		errorf("--workspace is required: the workspace's username, lower case");
		return NULL;
	}
	/* Before the credential, which a policy names by the workspace's username. */
	if (mode_check_workspace(o->workspace, &cause) < 0)
		goto out;
	if (args_globals.proxy != NULL &&
	    net_check_proxy("--proxy", args_globals.proxy, &cause) < 0)
		goto out;
	if (need_cred && cred_load(o->credential, o->credential_file, CRED_FROM_OPTIONS,
				   o->credential_ncreds, &cred, &cause) < 0)
		goto out;
	c = mode_client_new(o->api, o->workspace, cred, &mo, &cause);
out:
	if (c == NULL)
		errorf("%s", cause);
	free(cause);
	cred_free(cred);
	return c;
}

int
api_exit_status(int mode_err)
{
	switch (mode_err) {
	case MODE_OK:
		return TW_EXIT_OK;
	case MODE_ERR_USAGE:
		return TW_EXIT_USAGE;
	case MODE_ERR_UNKNOWN:
		return TW_EXIT_UNKNOWN;
	case MODE_ERR_THROTTLED:
	case MODE_ERR_UNAVAILABLE:
		return TW_EXIT_TEMPFAIL;
	/* Listed for its reason, though it maps as the default does. */
	case MODE_ERR_CLOCK: /* NOLINT(bugprone-branch-clone) */
		/* The run was refused, not the invocation: this host's clock needs fixing. */
		return TW_EXIT_FAILURE;
	default:
		return TW_EXIT_FAILURE;
	}
}
