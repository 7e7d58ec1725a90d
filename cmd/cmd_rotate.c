/*
 * tokenwarden rotate: the nightly run.  Takes the run lock, records a run,
 * does what is due earliest deadline first within --max-time, and says what
 * it did.  Exit 0 all done, 1 something failed, 3 out of time with work
 * left, 2 bad policy, option, store, key or credential (found before
 * anything is recorded or sent), 5 another run holds the lock.
 */
#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/msg.h"
#include "cmd/runner.h"

#include "core/clock.h"
#include "core/exitcodes.h"
#include "core/timefmt.h"
#include "store/store.h"

#include <getopt.h>

static int
exec_rotate(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"max-time", required_argument, NULL, 'm'},
	    {"only", required_argument, NULL, 'o'},
	    {"force", required_argument, NULL, 'f'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"run-hooks", no_argument, NULL, 'H'},
	    STORE_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	struct store_opts so;
	struct rotate_opts ro;
	struct seal_pub pub;
	sigset_t stop;
	struct policy *p = NULL;
	struct store *s = NULL;
	const char *config = NULL, *db = NULL, *pk = NULL, *only = NULL, *force = NULL;
	char *cause = NULL;
	int64_t max_time = 0;
	int ch, status = TW_EXIT_USAGE;

	rotate_opts_init(&ro);
	store_opts_init(&so);
	optind = 1;
	for (;;) {
		ch = getopt_long(argc, argv, "", longopts, NULL);
		if (ch == -1)
			break;
		if (ch == 'c')
			config = optarg;
		else if (ch == 'm') {
			if (timefmt_duration(optarg, &max_time) < 0) {
				errorf("--max-time '%s' is not a duration such as 45m", optarg);
				return TW_EXIT_USAGE;
			}
		} else if (ch == 'o')
			only = optarg;
		else if (ch == 'f')
			force = optarg;
		else if (ch == 'n')
			ro.dry_run = 1;
		else if (ch == 'H')
			ro.run_hooks = 1;
		else if (ch == STORE_OPT_BASE + 0)
			db = optarg;
		else if (ch == STORE_OPT_BASE + 1)
			pk = optarg;
		else
			return cmd_usage(&cmd_rotate_entry);
	}
	if (optind != argc)
		return cmd_usage(&cmd_rotate_entry);
	if (ro.run_hooks && !ro.dry_run) {
		errorf("--run-hooks rehearses consumers, so it needs --dry-run");
		return TW_EXIT_USAGE;
	}
	p = config_load(config_path(config), 0);
	if (p == NULL)
		return TW_EXIT_USAGE;
	if (only != NULL && force != NULL) {
		errorf("--only and --force: give one (--force rotates only its slot)");
		goto out;
	}
	if (only != NULL)
		ro.only = policy_resolve_slot(p, only, &cause);
	if (force != NULL)
		ro.force = policy_resolve_slot(p, force, &cause);
	if (cause != NULL) {
		errorf("%s %s", only != NULL ? "--only" : "--force", cause);
		goto out;
	}
	config_store_opts(p, db, &so);
	if (pk != NULL)
		so.public_key = pk;
	if (max_time == 0)
		max_time = p->schedule.max_time;
	if (max_time > 0)
		ro.stop_at = clock_mono_ms() + max_time * 1000;
	runner_signals(&stop);
	s = store_ctx_open(&so, &pub, STORE_CTX_LOCK, &status);
	if (s == NULL)
		goto out;
	status = runner_run(s, &pub, p, &ro, "rotate", 0);
	/* A configuration error stops a run before it records anything. */
	if (!ro.dry_run && status != TW_EXIT_USAGE)
		store_ctx_note_head(s);
out:
	free(cause);
	store_close(s);
	policy_free(p);
	return status;
}

const struct cmd_entry cmd_rotate_entry = {
    .name = "rotate",
    .args = "[--config FILE] [--max-time DURATION] [--only SLOT | --force SLOT] "
	    "[--dry-run [--run-hooks]] [--db FILE] [--public-key FILE]",
    .summary = "do what is due: create, verify, deliver, activate, delete old tokens",
    .help = "      --config FILE        the policy (default $TOKENWARDEN_CONFIG or\n"
	    "                           " CONFIG_DEFAULT ")\n"
	    "      --max-time DURATION  start no step after this long (default: the\n"
	    "                           policy's schedule max_time, else no limit)\n"
	    "      --only SLOT          do only this slot's work (WORKSPACE/SLOT, or a slot\n"
	    "                           name one workspace has)\n"
	    "      --force SLOT         rotate this slot now, due or not (an emergency);\n"
	    "                           only this slot\n"
	    "      --dry-run            say what would be done; change nothing, call "
	    "nothing\n"
	    "      --run-hooks          with --dry-run: hand each due slot's consumers a test\n"
	    "                           payload (\"test\": true; files are only test-written\n"
	    "                           beside their target, never replaced)\n" STORE_HELP
	    "SIGTERM or SIGINT stops the run after its current step.\n"
	    "Each workspace's credential is $CREDENTIALS_DIRECTORY/NAME (systemd's\n"
	    "LoadCredential=NAME:FILE), NAME its 'credential:' in the policy, or else\n"
	    "$TOKENWARDEN_CREDENTIAL; all are checked before the run starts.\n"
	    "Exit status: 0 all done, 1 something failed, 3 out of time or stopped with\n"
	    "work left, 2 bad policy, option, store, key or credential (nothing done;\n"
	    "--dry-run still prints the plan), 5 another run holds the lock.\n",
    .exec = exec_rotate,
};
