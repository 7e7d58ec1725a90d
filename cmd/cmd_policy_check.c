/*
 * tokenwarden policy check [FILE]: every error and warning of a policy file,
 * as FILE:LINE:COLUMN: level: message, all of them in one pass, and of the
 * programs its exec consumers run (core/deliver.h).
 */
#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/msg.h"

#include "core/deliver.h"
#include "core/exitcodes.h"
#include "core/jsonx.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static void
print_json(const struct diag_list *d, const struct policy *p, int valid)
{
	json_t *o = json_object(), *list = json_array();
	char *text;

	for (size_t i = 0; i < d->n; i++)
		json_array_append_new(
		    list, json_pack("{s:s, s:i, s:i, s:s}", "level",
				    d->v[i].level == DIAG_ERROR ? "error" : "warning", "line",
				    d->v[i].line, "column", d->v[i].col, "message", d->v[i].msg));
	json_object_set_new(o, "file", json_string(d->file));
	json_object_set_new(o, "valid", json_boolean(valid));
	json_object_set_new(o, "errors", json_integer((json_int_t)d->nerrors));
	json_object_set_new(o, "warnings", json_integer((json_int_t)d->nwarnings));
	if (p != NULL) {
		json_object_set_new(o, "workspaces", json_integer((json_int_t)p->nws));
		json_object_set_new(o, "slots", json_integer((json_int_t)p->nslots));
	}
	json_object_set_new(o, "diagnostics", list);
	text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("%s\n", text != NULL ? text : "{}");
	jsonx_free(text);
	json_decref(o);
}

static void
print_human(const struct diag_list *d, const struct policy *p, int valid)
{
	config_print_diags(d);
	if (valid)
		printf("%s: valid: %zu workspace%s, %zu slot%s, %zu warning%s\n", d->file, p->nws,
		       p->nws == 1 ? "" : "s", p->nslots, p->nslots == 1 ? "" : "s", d->nwarnings,
		       d->nwarnings == 1 ? "" : "s");
	else
		printf("%s: invalid: %zu error%s, %zu warning%s\n", d->file, d->nerrors,
		       d->nerrors == 1 ? "" : "s", d->nwarnings, d->nwarnings == 1 ? "" : "s");
}

struct check_opts {
	int strict;
};

static const struct args_opt check_options[] = {
    OPT_FLAG(0, "strict", struct check_opts, strict, "warnings fail the check too"),
    OPT_END,
};

static int
run_policy_check(void *opts, int argc, char **argv)
{
	const struct check_opts *co = opts;
	const char *path = config_path_arg(argc > 0 ? argv[0] : NULL);
	struct diag_list d;
	struct policy *p = NULL;
	int valid;

	if (path == NULL)
		return TW_EXIT_USAGE;
	policy_load_file(path, NULL, &p, &d);
	/* Not at load, which every verb does: a run refuses only the consumer, when it runs. */
	if (p != NULL)
		deliver_check_programs(p, &d);
	valid = p != NULL && d.nerrors == 0 && (!co->strict || d.nwarnings == 0);
	if (args_globals.json)
		print_json(&d, p, valid);
	else
		print_human(&d, p, valid);
	diag_free(&d);
	policy_free(p);
	return valid ? TW_EXIT_OK : TW_EXIT_USAGE;
}

const struct cmd_entry cmd_policy_check_entry = {
    .name = "policy check",
    .args = "[FILE]",
    .summary = "check a policy file; every problem as FILE:LINE:COLUMN",
    .options = check_options,
    .globals = G_JSON | G_CONFIG,
    .opts_size = sizeof(struct check_opts),
    .max_args = 1,
    .notes = "FILE is the policy to check (else --config, $TOKENWARDEN_CONFIG or\n" CONFIG_DEFAULT
	     ").\n--json prints the diagnostics as JSON on stdout.\n"
	     "Each exec consumer's program is checked too: an error when someone\n"
	     "other than root or the user running the check could change it or a\n"
	     "directory above it.\n"
	     "Exit status: 0 valid, 2 invalid.\n",
    .run = run_policy_check,
};
