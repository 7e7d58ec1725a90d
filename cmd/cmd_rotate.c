/*
 * tokenwarden rotate: the nightly run.  Takes the run lock, records a run,
 * does what is due earliest deadline first within --max-time, and says what
 * it did.  Exit 0 all done, 1 something failed, 3 out of time with work
 * left, 2 bad policy, option, store, key or credential (found before
 * anything is recorded or sent), 5 another run holds the lock.
 */
#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/metrics.h"
#include "cmd/msg.h"
#include "cmd/runner.h"

#include "core/clock.h"
#include "core/exitcodes.h"
#include "store/store.h"

#include <stdlib.h>

struct rotate_cmd_opts {
	int64_t max_time; /* seconds; 0: the policy's */
	const char *only;
	const char *force;
	int dry_run;
	int run_hooks;
	int64_t wait_ms; /* for the run lock */
	const char *metrics_textfile;
};

static const struct args_opt rotate_options[] = {
    OPT_DURATION(0, "max-time", struct rotate_cmd_opts, max_time, "DURATION",
		 "start no step after this long (default: the policy's\n"
		 "schedule max_time, else no limit)"),
    OPT_STRING(0, "only", struct rotate_cmd_opts, only, "SLOT",
	       "do only this slot's work (WORKSPACE/SLOT, or a slot\n"
	       "name one workspace has)"),
    OPT_STRING(0, "force", struct rotate_cmd_opts, force, "SLOT",
	       "rotate this slot now, due or not (an emergency);\nonly this slot"),
    OPT_FLAG(0, "dry-run", struct rotate_cmd_opts, dry_run,
	     "say what would be done; change nothing, call nothing"),
    OPT_FLAG(0, "run-hooks", struct rotate_cmd_opts, run_hooks,
	     "with --dry-run: hand each due slot's consumers a test\n"
	     "payload (\"test\": true; files are only test-written\n"
	     "beside their target, never replaced)"),
    OPT_WAIT("wait", struct rotate_cmd_opts, wait_ms,
	     "wait for a run holding the lock to finish (as long as\nit takes, or up to DURATION)"),
    OPT_STRING(0, "metrics-textfile", struct rotate_cmd_opts, metrics_textfile, "PATH",
	       "after the run, rewrite PATH with the metrics (as\n"
	       "'tokenwarden metrics --textfile PATH' does)"),
    OPT_END,
};

static int
run_rotate(void *opts, int argc, char **argv)
{
	const struct rotate_cmd_opts *co = opts;
	struct store_opts so;
	struct rotate_opts ro;
	struct seal_pub pub;
	sigset_t stop;
	struct policy *p = NULL;
	struct store *s = NULL;
	char *cause = NULL;
	int64_t max_time = co->max_time;
	int status = TW_EXIT_USAGE;

	(void)argc;
	(void)argv;
	rotate_opts_init(&ro);
	ro.dry_run = co->dry_run;
	ro.run_hooks = co->run_hooks;
	store_opts_init(&so);
	if (ro.run_hooks && !ro.dry_run) {
		errorf("--run-hooks rehearses consumers, so it needs --dry-run");
		return TW_EXIT_USAGE;
	}
	if (co->metrics_textfile != NULL && co->metrics_textfile[0] == '\0') {
		errorf("--metrics-textfile: give the path of the file to write");
		return TW_EXIT_USAGE;
	}
	if (co->only != NULL && co->force != NULL) {
		errorf("--only and --force: give one (--force rotates only its slot)");
		return args_usage(&cmd_rotate_entry);
	}
	p = config_load(config_path(NULL), 0);
	if (p == NULL)
		return TW_EXIT_USAGE;
	if (co->only != NULL)
		ro.only = policy_resolve_slot(p, co->only, &cause);
	if (co->force != NULL)
		ro.force = policy_resolve_slot(p, co->force, &cause);
	if (cause != NULL) {
		errorf("%s %s", co->only != NULL ? "--only" : "--force", cause);
		goto out;
	}
	config_store_opts(p, NULL, &so);
	if (max_time == 0)
		max_time = p->schedule.max_time;
	if (max_time > 0)
		ro.stop_at = clock_mono_ms() + max_time * 1000;
	runner_signals(&stop);
	so.wait_ms = co->wait_ms;
	so.stop = runner_stop_requested;
	s = store_ctx_open(&so, &pub, STORE_CTX_LOCK, &status);
	if (s == NULL)
		goto out;
	status = runner_run(s, &pub, p, &ro, "rotate", 0, NULL);
	/* A configuration error stops a run before it records anything. */
	if (!ro.dry_run && status != TW_EXIT_USAGE)
		store_ctx_note_head(s);
	/* A dry run changed nothing, so the file would say what it says. */
	if (!ro.dry_run)
		metrics_after_run(co->metrics_textfile, s, p);
out:
	free(cause);
	store_close(s);
	policy_free(p);
	return status;
}

const struct cmd_entry cmd_rotate_entry = {
    .name = "rotate",
    .args = "",
    .summary = "do what is due: create, verify, deliver, activate, delete old tokens",
    .options = rotate_options,
    .globals = G_CONFIG | G_DB | G_PUBLIC_KEY | G_API,
    .opts_size = sizeof(struct rotate_cmd_opts),
    .max_args = 0,
    .notes = "Each workspace's API is its 'api:' in the policy; --timeout, --retries and\n"
	     "--rate-limit apply to every workspace's client (--rate-limit in place of\n"
	     "its 'rate_limit:').\n"
	     "Each workspace's credential is $CREDENTIALS_DIRECTORY/NAME (systemd's\n"
	     "LoadCredential=NAME:FILE), NAME its 'credential:' in the policy, or else\n"
	     "$TOKENWARDEN_CREDENTIAL_NAME (upper case, '-' and '.' as '_'), or\n"
	     "$TOKENWARDEN_CREDENTIAL for a policy naming one credential; all are\n"
	     "checked before the run starts.\n"
	     "SIGTERM or SIGINT stops the run after its current step.\n"
	     "Exit status: 0 all done, 1 something failed, 3 out of time or stopped with\n"
	     "work left, 2 bad policy, option, store, key or credential (nothing done;\n"
	     "--dry-run still prints the plan), 5 another run holds the lock.\n"
	     "A metrics file that cannot be written is a warning, not a failed run: the\n"
	     "exit status stays the run's.\n",
    .run = run_rotate,
};
