/*
 * tokenwarden rotate: the nightly run.  Takes the run lock, records a run,
 * does what is due earliest deadline first within --max-time, and says what
 * it did.  Exit 0 all done, 1 something failed, 3 out of time with work
 * left, 2 bad policy or option, 5 another run holds the lock.
 */
#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/msg.h"

#include "core/clock.h"
#include "core/cred.h"
#include "core/exitcodes.h"
#include "core/rotate.h"
#include "core/timefmt.h"
#include "core/xalloc.h"
#include "store/runs.h"
#include "store/store.h"

#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One API client per workspace, made when first needed. */
struct clients {
	const struct policy *p;
	struct mode_client **c;
};

static struct mode_client *
client_for(void *arg, const struct policy_workspace *w, char **cause)
{
	struct clients *cl = arg;
	size_t i = (size_t)(w - cl->p->ws);
	struct mode_opts mo;
	struct cred *cred = NULL;

	if (cl->c[i] != NULL)
		return cl->c[i];
	mode_opts_default(&mo);
	mo.rate_limit = w->rate_requests;
	mo.rate_window_ms = w->rate_window * 1000;
	if (cred_load(w->credential, NULL, &cred, cause) == 0)
		cl->c[i] = mode_client_new(w->api, w->name, cred, &mo, cause);
	cred_free(cred);
	return cl->c[i];
}

static void
log_line(void *arg, int failed, const char *ws, const char *slot, const char *text)
{
	(void)arg;
	if (failed)
		warnf("%s/%s: %s", ws != NULL ? ws : "-", slot != NULL ? slot : "-", text);
	else
		notef("%s/%s: %s", ws != NULL ? ws : "-", slot != NULL ? slot : "-", text);
}

static int
status_of(const struct rotate_stats *st)
{
	/* A stuck slot fails every run until it recovers, so timers and monitors see it. */
	if (st->failed > 0 || st->unknown > 0 || st->stuck > 0)
		return TW_EXIT_FAILURE;
	return st->left > 0 ? TW_EXIT_PENDING : TW_EXIT_OK;
}

/* Runs the plan under a run row; returns the exit status. */
static int
run(struct store *s, const struct seal_pub *pub, const struct policy *p,
    const struct rotate_opts *ro)
{
	struct clients cl = {p, xcalloc(p->nws + 1, sizeof *cl.c)};
	struct rotate_stats st;
	char *cause = NULL;
	json_t *summary = NULL;
	int64_t id = 0;
	int status = TW_EXIT_FAILURE;

	if (!ro->dry_run && runs_start(s, "rotate", clock_now_ms(), &id, &cause) < 0)
		goto out;
	if (rotate_run(s, pub, p, client_for, &cl, ro, log_line, NULL, &st, &cause) < 0)
		goto out;
	status = status_of(&st);
	printf("rotate%s: %d rotated, %d deleted, %d failed, %d unknown, %d left%s\n",
	       ro->dry_run ? " (dry run)" : "", st.rotated, st.deleted, st.failed, st.unknown,
	       st.left, st.stuck > 0 ? "; some slots are stuck" : "");
	summary = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i}", "rotated", st.rotated, "deleted",
			    st.deleted, "failed", st.failed, "unknown", st.unknown, "left", st.left,
			    "settled", st.settled);
	if (!ro->dry_run && runs_end(s, id, status, summary, clock_now_ms(), &cause) < 0)
		status = TW_EXIT_FAILURE;
out:
	if (cause != NULL)
		errorf("%s", cause);
	free(cause);
	json_decref(summary);
	for (size_t i = 0; i < p->nws; i++)
		mode_client_free(cl.c[i]);
	free(cl.c);
	return status;
}

static int
exec_rotate(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"max-time", required_argument, NULL, 'm'},
	    {"only", required_argument, NULL, 'o'},
	    {"force", required_argument, NULL, 'f'},
	    {"dry-run", no_argument, NULL, 'n'},
	    STORE_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	struct store_opts so;
	struct rotate_opts ro;
	struct seal_pub pub;
	struct policy *p = NULL;
	struct store *s = NULL;
	const char *config = NULL, *db = NULL, *pk = NULL;
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
			ro.only = optarg;
		else if (ch == 'f')
			ro.force = optarg;
		else if (ch == 'n')
			ro.dry_run = 1;
		else if (ch == STORE_OPT_BASE + 0)
			db = optarg;
		else if (ch == STORE_OPT_BASE + 1)
			pk = optarg;
		else
			return cmd_usage(&cmd_rotate_entry);
	}
	if (optind != argc)
		return cmd_usage(&cmd_rotate_entry);
	p = config_load(config_path(config), 0);
	if (p == NULL)
		return TW_EXIT_USAGE;
	if (ro.only != NULL && !policy_has_slot_named(p, ro.only)) {
		errorf("--only '%s': no slot of that name in the policy", ro.only);
		goto out;
	}
	if (ro.force != NULL && !policy_has_slot_named(p, ro.force)) {
		errorf("--force '%s': no slot of that name in the policy", ro.force);
		goto out;
	}
	config_store_opts(p, db, &so);
	if (pk != NULL)
		so.public_key = pk;
	if (max_time == 0)
		max_time = p->schedule.max_time;
	if (max_time > 0)
		ro.stop_at = clock_mono_ms() + max_time * 1000;
	/* A hook may exit without reading its input; that is its exit status's business. */
	signal(SIGPIPE, SIG_IGN);
	s = store_ctx_open(&so, &pub, 1, &status);
	if (s == NULL)
		goto out;
	status = run(s, &pub, p, &ro);
	if (!ro.dry_run)
		store_ctx_note_head(s);
out:
	store_close(s);
	policy_free(p);
	return status;
}

const struct cmd_entry cmd_rotate_entry = {
    .name = "rotate",
    .args = "[--config FILE] [--max-time DURATION] [--only SLOT | --force SLOT] [--dry-run] "
	    "[--db FILE] [--public-key FILE]",
    .summary = "do what is due: create, verify, deliver, activate, delete old tokens",
    .help = "      --config FILE        the policy (default $TOKENWARDEN_CONFIG or\n"
	    "                           " CONFIG_DEFAULT ")\n"
	    "      --max-time DURATION  start no step after this long (default: the\n"
	    "                           policy's schedule max_time, else no limit)\n"
	    "      --only SLOT          rotate only this slot\n"
	    "      --force SLOT         rotate this slot now, due or not (an emergency)\n"
	    "      --dry-run            say what would be done; change nothing, call "
	    "nothing\n" STORE_HELP
	    "Exit status: 0 all done, 1 something failed, 3 out of time with work left,\n"
	    "2 bad policy or option, 5 another run holds the lock.\n",
    .exec = exec_rotate,
};
