/*
 * tokenwarden metrics: the Prometheus text exposition of the store and the
 * policy (cmd/metrics.h), on standard output or, with --textfile, written
 * atomically for node_exporter's textfile collector.  Reads the store
 * read-only and changes nothing in it.
 */
#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/metrics.h"
#include "cmd/msg.h"

#include "core/clock.h"
#include "core/exitcodes.h"
#include "store/store.h"

#include <stdlib.h>

struct metrics_opts {
	int64_t at; /* ms */
	const char *textfile;
};

static const struct args_opt metrics_options[] = {
    OPT_TIME(0, "at", struct metrics_opts, at, "TIME", ARGS_AHEAD,
	     "as of TIME instead of now: ISO 8601\n"
	     "(2026-11-25T02:00Z), now, or a duration from now"),
    OPT_STRING(0, "textfile", struct metrics_opts, textfile, "PATH",
	       "write to PATH atomically (mode 0644), for node_exporter's\n"
	       "textfile collector, instead of standard output"),
    OPT_END,
};

static void
metrics_init(void *opts)
{
	struct metrics_opts *o = opts;

	o->at = clock_now_ms();
}

static int
run_metrics(void *opts, int argc, char **argv)
{
	const struct metrics_opts *o = opts;
	struct store_opts so;
	struct policy *p = NULL;
	struct store *s = NULL;
	char *cause = NULL;
	int status = TW_EXIT_USAGE, rc;

	(void)argc;
	(void)argv;
	if (o->textfile != NULL && o->textfile[0] == '\0') {
		errorf("--textfile: give the path of the file to write (node_exporter's "
		       "--collector.textfile.directory, a name ending in .prom)");
		return TW_EXIT_USAGE;
	}
	store_opts_init(&so);
	p = config_load(config_path(NULL), 0);
	if (p == NULL)
		return TW_EXIT_USAGE;
	config_store_opts(p, NULL, &so);
	s = store_ctx_open(&so, NULL, STORE_CTX_READ, &status);
	if (s == NULL)
		goto out;
	rc = metrics_write(o->textfile, s, p, o->at, &cause);
	if (rc == -2)
		errorf("--textfile %s; nothing was written", cause);
	else if (rc < 0)
		errorf("%s", cause);
	status = rc == 0 ? TW_EXIT_OK : rc == -2 ? TW_EXIT_USAGE : TW_EXIT_FAILURE;
out:
	free(cause);
	store_close(s);
	policy_free(p);
	return status;
}

const struct cmd_entry cmd_metrics_entry = {
    .name = "metrics",
    .args = "",
    .summary = "write Prometheus metrics of every slot, run and finding",
    .options = metrics_options,
    .globals = G_CONFIG | G_DB,
    .opts_size = sizeof(struct metrics_opts),
    .init = metrics_init,
    .max_args = 0,
    .notes = "The Prometheus text format: per slot its token's expiry, next rotation, last\n"
	     "success, slack in runs, failures and 0/1 flags (failing, stuck, paused,\n"
	     "overdue, due); per credential the requests and 429s of the last run; the\n"
	     "last run's start, end and exit status and the last successful run's end;\n"
	     "findings by kind and tokens by state.  The README's Metrics section lists\n"
	     "every series, and examples/prometheus has alerting rules for them.  With\n"
	     "--textfile the file is replaced atomically (a temporary file beside it,\n"
	     "synced and renamed), so node_exporter never reads a part.  Opens the store\n"
	     "read-only: changes nothing.\n"
	     "Exit status: 0 written, 1 the store could not be read or the file not\n"
	     "finished (it is left as it was), 2 bad policy, store or option, or a\n"
	     "--textfile whose directory is missing or not writable (nothing written).\n",
    .run = run_metrics,
};
