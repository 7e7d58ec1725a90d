/*
 * tokenwarden audit report: the document an auditor takes away: where it
 * came from and whether the history holds, every finding with the rule it
 * breaks and its fix, the token inventory, each slot's rotations and the
 * recent history; as a terminal table, JSON, CSV or one HTML page.
 * Exit 4 when there is a finding (or the history does not hold), 0 when
 * there is none.
 */
#include "cmd/audit_render.h"
#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/msg.h"
#include "cmd/term.h"

#include "core/clock.h"
#include "core/exitcodes.h"
#include "core/mode.h"
#include "core/outfile.h"
#include "core/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPORT_SINCE_DEFAULT (30 * 86400000LL)
#define UNSET INT64_MIN

static const char *const formats[] = {"table", "json", "csv", "html", NULL};

struct report_opts {
	int64_t at;
	int64_t since;
	int64_t expiring; /* seconds */
	const char *format;
	const char *table;
	const char *output;
	const char *workspace;
	const char *slot;
	const char *state;
};

static const struct args_opt report_options[] = {
    OPT_CHOICE(0, "format", struct report_opts, format, "FORMAT", formats,
	       "table (the default), json, csv or html"),
    OPT_STRING('o', "output", struct report_opts, output, "FILE",
	       "write to FILE, whole or not at all, instead of\nstandard output"),
    OPT_CHOICE(0, "table", struct report_opts, table, "TABLE", audit_csv_tables,
	       "the table --format csv writes: tokens (the default),\nfindings, slots or history"),
    OPT_STRING('w', "workspace", struct report_opts, workspace, "WS", "only this workspace"),
    OPT_STRING(0, "slot", struct report_opts, slot, "SLOT",
	       "only this slot (WORKSPACE/SLOT, or a slot name\nin any workspace)"),
    OPT_CHOICE(0, "state", struct report_opts, state, "STATE", tokens_states,
	       "only tokens in this state (default: every state\nbut deleted, failed and revoked)"),
    OPT_DURATION(0, "expiring", struct report_opts, expiring, "DURATION",
		 "only tokens expiring within DURATION (14d)"),
    OPT_TIME(0, "since", struct report_opts, since, "TIME", ARGS_AGO,
	     "the history from TIME (default: 30 days before the report)"),
    OPT_TIME(0, "at", struct report_opts, at, "TIME", ARGS_AHEAD,
	     "as of TIME instead of now: ISO 8601\n(2026-11-25T02:00Z), now, or a duration from "
	     "now\n(1d ahead, -1d ago)"),
    OPT_END,
};

static void
init_report(void *opts)
{
	struct report_opts *o = opts;

	o->at = clock_now_ms();
	o->since = UNSET;
}

/* Fills f from o; returns 0, or -1 after a message. */
static int
filter_of(const struct report_opts *o, struct audit_filter *f, char **slot_ws)
{
	enum token_state st;
	char *cause = NULL;

	*f = (struct audit_filter){.workspace = o->workspace, .slot = o->slot, .state = -1};
	if (o->slot != NULL &&
	    config_slot_arg("--slot", o->slot, o->workspace, slot_ws, &f->slot) < 0)
		return -1;
	if (*slot_ws != NULL)
		f->workspace = *slot_ws;
	if (f->workspace != NULL && mode_check_workspace(f->workspace, &cause) < 0) {
		errorf("-w: %s", cause);
		free(cause);
		return -1;
	}
	if (o->state != NULL && tokens_state_parse(o->state, &st) == 0)
		f->state = (int)st;
	f->expiring = o->expiring * 1000;
	f->since = o->since != UNSET ? o->since : o->at - REPORT_SINCE_DEFAULT;
	if (f->since == 0)
		f->since = -1; /* 0 is "no bound" to the store */
	return 0;
}

static const char *
format_of(const struct report_opts *o)
{
	if (o->format != NULL)
		return o->format;
	return args_globals.json ? "json" : "table";
}

static int
render(struct store *s, const struct audit_doc *d, const struct report_opts *o, FILE *f,
       char **cause)
{
	const char *fmt = format_of(o);

	if (strcmp(fmt, "json") == 0)
		return audit_render_json(s, d, f, cause);
	if (strcmp(fmt, "csv") == 0)
		return audit_render_csv(s, d, o->table != NULL ? o->table : "tokens", f, cause);
	if (strcmp(fmt, "html") == 0)
		return audit_render_html(s, d, f, cause);
	/* A table written to a file is for reading later: no colour, no width. */
	return audit_render_text(s, d, f, o->output == NULL ? (int)term_width() : 0,
				 o->output == NULL && term_colour(), cause);
}

static int
run_audit_report(void *opts, int argc, char **argv)
{
	struct report_opts *o = opts;
	struct audit_filter filter;
	struct audit_doc d = {0};
	struct store_opts so;
	struct policy *p = NULL;
	struct store *s = NULL;
	struct outfile out = {.dir = -1};
	const char *own;
	const char *policy_path = config_path(NULL);
	char *cause = NULL, *slot_ws = NULL;
	int status = TW_EXIT_USAGE, built = 0;

	(void)argc;
	(void)argv;
	if (o->table != NULL && strcmp(format_of(o), "csv") != 0) {
		errorf(
		    "--table chooses the table of --format csv; add --format csv, or drop --table");
		return TW_EXIT_USAGE;
	}
	if (o->format != NULL && args_globals.json && strcmp(o->format, "json") != 0) {
		errorf("--json and --format %s ask for two formats; give one", o->format);
		return TW_EXIT_USAGE;
	}
	if (filter_of(o, &filter, &slot_ws) < 0)
		goto out;
	p = config_load(policy_path, 0);
	if (p == NULL)
		goto out;
	store_opts_init(&so);
	config_store_opts(p, NULL, &so);
	s = store_ctx_open(&so, NULL, STORE_CTX_READ, &status);
	if (s == NULL)
		goto out;
	status = TW_EXIT_FAILURE;
	if (audit_build(s, p, policy_path, so.db, o->at, &filter, &d, &cause) < 0)
		goto out;
	built = 1;
	/* Opened last, so that nothing is left behind when the store cannot be read. */
	if (outfile_open(&out, o->output, 0600, &cause) < 0) {
		status = TW_EXIT_USAGE;
		goto out;
	}
	own = store_file_at(s, out.dir, out.name);
	if (own != NULL) {
		cause = xasprintf("--output %s is %s: the report would replace it; give another "
				  "path",
				  o->output, own);
		status = TW_EXIT_USAGE;
		goto out;
	}
	if (render(s, &d, o, out.f, &cause) < 0 || outfile_commit(&out, &cause) < 0)
		goto out;
	status = d.nfindings > 0 || !d.integrity.intact ? TW_EXIT_FINDINGS : TW_EXIT_OK;
out:
	outfile_abort(&out);
	if (cause != NULL)
		errorf("%s", cause);
	free(cause);
	if (built)
		audit_free(&d);
	store_close(s);
	policy_free(p);
	free(slot_ws);
	return status;
}

const struct cmd_entry cmd_audit_report_entry = {
    .name = "audit report",
    .args = "",
    .summary = "the audit document: findings, inventory, slots, history; exit 4 on any finding",
    .options = report_options,
    .globals = G_JSON | G_CONFIG | G_DB,
    .opts_size = sizeof(struct report_opts),
    .init = init_report,
    .max_args = 0,
    .notes = "The report opens with where it came from: the time, the tool's version, the\n"
	     "policy file and its SHA-256, the store, the history's head and whether the\n"
	     "history holds (the chain of every event, and against it every token row that\n"
	     "may exist on the server, the records of what reached whom and the sealed\n"
	     "secrets; 'audit verify' compares deleted rows too).  Then\n"
	     "each finding with the rule it breaks and its fix; the inventory (workspace,\n"
	     "slot, Mode id, name, state, origin, created, expires, age, days left, last\n"
	     "verified, who created it, next rotation); each slot's last rotation and next\n"
	     "due time; and the history since --since.  -w, --slot narrow every part;\n"
	     "--state and --expiring narrow the inventory and the timeline.\n"
	     "\n"
	     "Formats: table, for a terminal: columns that do not fit its width are left\n"
	     "out, colour only on a terminal and never with NO_COLOR.  json: one object\n"
	     "with a version field (docs/audit-report.schema.json; --json says the same).\n"
	     "csv: RFC 4180 with CRLF line ends and one head line, one table per file\n"
	     "(--table); text a spreadsheet would take for a formula starts with '.  html:\n"
	     "one page with inline style and script and no request to anywhere: the\n"
	     "findings, a sortable inventory and the expiry timeline drawn in SVG.\n"
	     "--output writes a file 0600 through a temporary file renamed over it.\n"
	     "\n"
	     "Exit status: 0 no findings, 4 findings or a history that does not hold, 1 the\n"
	     "store cannot be read or the output written, 2 bad policy or option.\n",
    .run = run_audit_report,
};
