/*
 * tokenwarden audit report: the inventory judged against the policy, for
 * security teams: every violation, unmanaged or expired token, lost create,
 * slot without a working token, and whether the request budget can keep up.
 * Exit 4 when there is any finding, 0 when there is none.
 */
#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/planprint.h"

#include "core/exitcodes.h"
#include "core/timefmt.h"
#include "store/tokens.h"

#include <stdio.h>

/* Findings that fail an audit: all but a create running right now. */
static size_t
serious(const struct plan *pl)
{
	size_t n = 0;

	for (size_t i = 0; i < pl->nfindings; i++)
		if (pl->findings[i].kind != FIND_IN_FLIGHT)
			n++;
	return n;
}

static void
print_human(const struct report *r, const struct policy *p, int64_t at)
{
	size_t by_state[TOKEN_NSTATES] = {0};
	const char *sep = ":";
	char when[TIMEFMT_MAX];

	for (size_t i = 0; i < r->nrows; i++)
		by_state[r->rows[i].state]++;
	timefmt_minute(at, when);
	printf("audit at %s: %zu slot%s in the policy; %zu token%s may exist on the server", when,
	       p->nslots, p->nslots == 1 ? "" : "s", r->nrows, r->nrows == 1 ? "" : "s");
	for (int st = 0; st < TOKEN_NSTATES; st++) {
		if (by_state[st] == 0)
			continue;
		printf("%s %zu %s", sep, by_state[st], tokens_state_name((enum token_state)st));
		sep = ",";
	}
	printf("\n%zu finding%s\n", serious(&r->plan), serious(&r->plan) == 1 ? "" : "s");
	planprint_findings(&r->plan);
	planprint_capacity(&r->plan.capacity);
}

static void
print_json(const struct report *r, const struct policy *p, int64_t at)
{
	json_t *states = json_object();

	for (size_t i = 0; i < r->nrows; i++) {
		const char *name = tokens_state_name(r->rows[i].state);
		json_t *n = json_object_get(states, name);

		json_object_set_new(states, name,
				    json_integer(n != NULL ? json_integer_value(n) + 1 : 1));
	}
	planprint_open();
	planprint_field("at", planprint_time(at), 1);
	planprint_field("slots", json_integer((json_int_t)p->nslots), 1);
	planprint_field("tokens", states, 1);
	planprint_findings_field(&r->plan, 1);
	planprint_field("capacity", planprint_capacity_json(&r->plan.capacity), 0);
	planprint_close();
}

static int
run_audit_report(void *opts, int argc, char **argv)
{
	struct config_report c;
	int status = config_report_open(opts, &c);

	(void)argc;
	(void)argv;
	if (status == TW_EXIT_OK) {
		if (args_globals.json)
			print_json(&c.report, c.policy, c.at);
		else
			print_human(&c.report, c.policy, c.at);
		status = serious(&c.report.plan) > 0 ? TW_EXIT_FINDINGS : TW_EXIT_OK;
	}
	config_report_close(&c);
	return status;
}

const struct cmd_entry cmd_audit_report_entry = {
    .name = "audit report",
    .args = "",
    .summary = "judge the inventory against the policy; exit 4 on any finding",
    .options = config_report_options,
    .globals = G_JSON | G_CONFIG | G_DB,
    .opts_size = sizeof(struct config_report_opts),
    .init = config_report_init,
    .max_args = 0,
    .notes = "Exit status: 0 no findings, 4 findings, 2 bad policy or option.\n",
    .run = run_audit_report,
};
