/*
 * tokenwarden plan: what rotate would do now (or --at a given time), and
 * what is wrong with the inventory, without changing anything.  Exit 0 when
 * nothing is due, 3 when actions are pending, 2 on a bad policy or option.
 */
#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/msg.h"
#include "cmd/planprint.h"

#include "core/exitcodes.h"
#include "core/plan.h"
#include "core/timefmt.h"

#include <stdio.h>
#include <unistd.h>

static void
print_json(const struct policy *p, const struct plan *pl, int64_t at)
{
	planprint_open();
	planprint_field("at", planprint_time(at), 1);
	planprint_actions_field(pl, 1);
	planprint_findings_field(pl, 1);
	planprint_field("capacity", planprint_capacity_json(&pl->capacity), 1);
	planprint_slots_field(p, 1);
	planprint_field("next_at", planprint_time(pl->next_at), 0);
	planprint_close();
}

static void
print_human(const struct policy *p, const struct plan *pl, int64_t at)
{
	char when[TIMEFMT_MAX];

	timefmt_minute(at, when);
	printf("plan at %s: %zu action%s, %zu finding%s\n", when, pl->nactions,
	       pl->nactions == 1 ? "" : "s", pl->nfindings, pl->nfindings == 1 ? "" : "s");
	planprint_actions(pl);
	planprint_findings(pl);
	planprint_slack(p);
	planprint_capacity(&pl->capacity);
	if (pl->next_at != INT64_MAX) {
		timefmt_minute(pl->next_at, when);
		printf("next due: %s\n", when);
	}
}

/*
 * Output to a file or a pipe goes out in 64 KiB writes rather than stdio's
 * 4 KiB: a plan of the benchmark's inventory is 5 MB of JSON, 1,400 writes.
 * A terminal keeps its line buffering.
 */
static void
buffer_stdout(void)
{
	static char buf[64 * 1024];

	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, buf, _IOFBF, sizeof buf);
}

static int
run_plan(void *opts, int argc, char **argv)
{
	struct config_report c;
	const struct plan *pl = &c.report.plan;
	int status;

	(void)argc;
	(void)argv;
	buffer_stdout();
	status = config_report_open(opts, &c);
	if (status == TW_EXIT_OK) {
		if (args_globals.json)
			print_json(c.policy, pl, c.at);
		else
			print_human(c.policy, pl, c.at);
		if (!pl->capacity.ok)
			warnf("capacity: %s/%s would miss its deadline; see the capacity finding",
			      pl->capacity.workspace, pl->capacity.slot);
		status = pl->nactions > 0 ? TW_EXIT_PENDING : TW_EXIT_OK;
	}
	config_report_close(&c);
	return status;
}

const struct cmd_entry cmd_plan_entry = {
    .name = "plan",
    .args = "",
    .summary = "print what rotate would do and what is wrong; changes nothing",
    .options = config_report_options,
    .globals = G_JSON | G_CONFIG | G_DB,
    .opts_size = sizeof(struct config_report_opts),
    .init = config_report_init,
    .max_args = 0,
    .notes = "Exit status: 0 nothing due, 3 actions pending, 2 bad policy or option.\n",
    .run = run_plan,
};
