/*
 * tokenwarden audit report: the inventory judged against the policy, for
 * security teams: every violation, unmanaged or expired token, lost create,
 * slot without a working token, and whether the request budget can keep up.
 * Exit 4 when there is any finding, 0 when there is none.
 */
#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/msg.h"
#include "cmd/planprint.h"

#include "core/clock.h"
#include "core/exitcodes.h"
#include "core/report.h"
#include "core/timefmt.h"
#include "store/store.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
exec_audit_report(int argc, char **argv)
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
			return cmd_usage(&cmd_audit_report_entry);
	}
	if (optind != argc)
		return cmd_usage(&cmd_audit_report_entry);
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
		print_json(&r, p, at);
	else
		print_human(&r, p, at);
	status = serious(&r.plan) > 0 ? TW_EXIT_FINDINGS : TW_EXIT_OK;
out:
	report_free(&r);
	store_close(s);
	policy_free(p);
	return status;
}

const struct cmd_entry cmd_audit_report_entry = {
    .name = "audit report",
    .args = "[--at TIME] [--json] [--config FILE] [--db FILE]",
    .summary = "judge the inventory against the policy; exit 4 on any finding",
    .help = "      --at TIME            judge as of TIME (ISO 8601) instead of now\n"
	    "      --json               print JSON for scripts\n"
	    "      --config FILE        the policy (default $TOKENWARDEN_CONFIG or\n"
	    "                           " CONFIG_DEFAULT ")\n"
	    "      --db FILE            the database (default: $TOKENWARDEN_DB, else the\n"
	    "                           policy's store path, else the standard path)\n"
	    "Exit status: 0 no findings, 4 findings, 2 bad policy or option.\n",
    .exec = exec_audit_report,
};
