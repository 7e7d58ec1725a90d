/*
 * tokenwarden plan: what rotate would do now (or --at a given time), and
 * what is wrong with the inventory, without changing anything.  Exit 0 when
 * nothing is due, 3 when actions are pending, 2 on a bad policy or option.
 */
#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/msg.h"
#include "cmd/planprint.h"

#include "core/clock.h"
#include "core/exitcodes.h"
#include "core/jsonx.h"
#include "core/plan.h"
#include "core/report.h"
#include "core/timefmt.h"
#include "core/xalloc.h"
#include "store/store.h"
#include "store/tokens.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
print_json(const struct plan *pl, int64_t at)
{
	planprint_open();
	planprint_field("at", planprint_time(at), 1);
	planprint_actions_field(pl, 1);
	planprint_findings_field(pl, 1);
	planprint_field("capacity", planprint_capacity_json(&pl->capacity), 1);
	planprint_field("next_at", planprint_time(pl->next_at), 0);
	planprint_close();
}

static void
print_human(const struct plan *pl, int64_t at)
{
	char when[TIMEFMT_MAX];

	timefmt_minute(at, when);
	printf("plan at %s: %zu action%s, %zu finding%s\n", when, pl->nactions,
	       pl->nactions == 1 ? "" : "s", pl->nfindings, pl->nfindings == 1 ? "" : "s");
	planprint_actions(pl);
	planprint_findings(pl);
	planprint_capacity(&pl->capacity);
	if (pl->next_at != INT64_MAX) {
		timefmt_minute(pl->next_at, when);
		printf("next due: %s\n", when);
	}
}

static int
exec_plan(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"at", required_argument, NULL, 'a'},
	    {"json", no_argument, NULL, 'j'},
	    STORE_DB_LONGOPT,
	    {NULL, 0, NULL, 0},
	};
	struct store_opts o;
	struct policy *p = NULL;
	struct store *s = NULL;
	struct report r;
	const char *config = NULL, *db = NULL;
	char *cause = NULL;
	int64_t at = clock_now_ms();
	int ch, json = 0, status = TW_EXIT_USAGE;

	memset(&r, 0, sizeof r);
	store_opts_init(&o);
	optind = 1;
	for (;;) {
		ch = getopt_long(argc, argv, "", longopts, NULL);
		if (ch == -1)
			break;
		if (ch == 'c')
			config = optarg;
		else if (ch == 'a') {
			if (timefmt_parse(optarg, &at) < 0) {
				errorf("--at '%s' is not a time such as 2026-11-25T02:00Z", optarg);
				return TW_EXIT_USAGE;
			}
		} else if (ch == 'j')
			json = 1;
		else if (ch == STORE_OPT_BASE + 0)
			db = optarg;
		else
			return cmd_usage(&cmd_plan_entry);
	}
	if (optind != argc)
		return cmd_usage(&cmd_plan_entry);
	p = config_load(config_path(config), 0);
	if (p == NULL)
		return TW_EXIT_USAGE;
	config_store_opts(p, db, &o);
	s = store_ctx_open(&o, NULL, 0, &status);
	if (s == NULL)
		goto out;
	status = TW_EXIT_FAILURE;
	if (report_build(s, p, at, &r, &cause) < 0) {
		errorf("%s", cause);
		free(cause);
		goto out;
	}
	if (json)
		print_json(&r.plan, at);
	else
		print_human(&r.plan, at);
	if (!r.plan.capacity.ok)
		warnf("capacity: %s/%s would miss its deadline; see the capacity finding",
		      r.plan.capacity.workspace, r.plan.capacity.slot);
	status = r.plan.nactions > 0 ? TW_EXIT_PENDING : TW_EXIT_OK;
out:
	report_free(&r);
	store_close(s);
	policy_free(p);
	return status;
}

const struct cmd_entry cmd_plan_entry = {
    .name = "plan",
    .args = "[--at TIME] [--json] [--config FILE] [--db FILE]",
    .summary = "print what rotate would do and what is wrong; changes nothing",
    .help = "      --at TIME            plan as of TIME (ISO 8601) instead of now\n"
	    "      --json               print JSON for scripts\n"
	    "      --config FILE        the policy (default $TOKENWARDEN_CONFIG or\n"
	    "                           " CONFIG_DEFAULT ")\n"
	    "      --db FILE            the database (default: $TOKENWARDEN_DB, else the\n"
	    "                           policy's store path, else the standard path)\n"
	    "Exit status: 0 nothing due, 3 actions pending, 2 bad policy or option.\n",
    .exec = exec_plan,
};
