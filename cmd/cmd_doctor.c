/*
 * tokenwarden doctor: what an operator runs after setup and when something
 * is wrong.  Checks the policy, the store and its key, the timer, and each
 * workspace's credential, API, clock and consumers (core/doctor.h), one
 * line each with the fix for a failure, and changes nothing.  Exit 0 all
 * good (warnings and skips allowed), 1 a check failed, 2 usage.
 */
#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/msg.h"
#include "cmd/print.h"
#include "cmd/runner.h"

#include "core/doctor.h"
#include "core/exitcodes.h"
#include "core/jsonx.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TIMER_DEFAULT "tokenwarden-rotate.timer"

struct doctor_opts {
	int probe;
	const char *timer;
};

static const struct args_opt doctor_options[] = {
    OPT_FLAG(0, "probe", struct doctor_opts, probe,
	     "check that Mode accepts each admin credential: one\n"
	     "DELETE of a token id that cannot exist (404: accepted)"),
    OPT_STRING(0, "timer", struct doctor_opts, timer, "UNIT",
	       "the systemd timer that runs rotate (default\n" TIMER_DEFAULT ")"),
    OPT_END,
};

static void
doctor_init(void *opts)
{
	struct doctor_opts *o = opts;

	o->timer = TIMER_DEFAULT;
}

/* What the checks add up to, and where they go. */
struct tally {
	json_t *list;          /* --json: the checks */
	const char *workspace; /* the last header printed ("" before any) */
	int n[4];              /* by enum doctor_status */
};

static const char *const status_word[] = {"ok", "warn", "skip", "fail"};
static const char *const status_col[] = {"ok  ", "warn", "skip", "FAIL"};

static void
one(void *arg, const struct doctor_check *c)
{
	struct tally *t = arg;
	const char *ws = c->workspace != NULL ? c->workspace : "";

	t->n[c->status]++;
	if (t->list != NULL) {
		json_array_append_new(
		    t->list,
		    json_pack("{s:o, s:s, s:s, s:s, s:o}", "workspace",
			      c->workspace != NULL ? json_string(c->workspace) : json_null(),
			      "check", c->id, "status", status_word[c->status], "detail", c->detail,
			      "fix", c->fix != NULL ? json_string(c->fix) : json_null()));
		return;
	}
	if (t->workspace == NULL || strcmp(t->workspace, ws) != 0) {
		if (c->workspace != NULL)
			printf("workspace %s\n", c->workspace);
		else
			printf("policy, store, key and timer\n");
		t->workspace = ws;
	}
	if (c->fix != NULL)
		printf("%s %s: %s; %s\n", status_col[c->status], c->id, c->detail, c->fix);
	else
		printf("%s %s: %s\n", status_col[c->status], c->id, c->detail);
}

/* Whether a policy is to be found: named (--config, $TOKENWARDEN_CONFIG) or at the standard path.
 */
static int
policy_named(const char *path)
{
	const char *env = getenv("TOKENWARDEN_CONFIG");

	if (args_globals.config != NULL || (env != NULL && env[0] != '\0'))
		return 1;
	return access(path, F_OK) == 0 || errno != ENOENT;
}

static int
run_doctor(void *opts, int argc, char **argv)
{
	const struct doctor_opts *o = opts;
	const char *path = config_path(NULL);
	struct tally t = {0};
	struct store_opts so;
	struct diag_list d;
	struct policy *p;
	json_t *top;
	char *text;

	(void)argc;
	(void)argv;
	if (o->timer[0] == '\0' || o->timer[0] == '-' || strchr(o->timer, '/') != NULL) {
		errorf("--timer '%s': expected a systemd unit name", o->timer);
		return args_usage(&cmd_doctor_entry);
	}
	if (!policy_named(path)) {
		errorf("no policy at %s; name one with --config FILE or $TOKENWARDEN_CONFIG", path);
		return TW_EXIT_USAGE;
	}
	if (args_globals.json)
		t.list = json_array();
	p = doctor_policy(path, &d, one, &t);
	config_print_diags(&d);
	diag_free(&d);
	store_opts_init(&so);
	if (p != NULL)
		config_store_opts(p, NULL, &so);
	doctor_store(so.db, so.public_key, one, &t);
	doctor_timer(o->timer, one, &t);
	for (size_t i = 0; p != NULL && i < p->nws; i++) {
		struct mode_opts mo;

		runner_mode_opts(p, &p->ws[i], &mo);
		/*
		 * Each call once, unless --retries says otherwise: a diagnosis
		 * answers at once, and shows a server that fails now and then
		 * rather than retrying past it.
		 */
		if (args_globals.retries < 0)
			mo.retries = 0;
		doctor_workspace(p, &p->ws[i], &mo, o->probe, one, &t);
	}
	if (t.list != NULL) {
		top = json_pack("{s:i, s:o, s:b}", "version", 1, "checks", t.list, "ok",
				t.n[DOCTOR_FAIL] == 0);
		text = json_dumps(top, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s\n", text != NULL ? text : "{}");
		jsonx_free(text);
		json_decref(top);
	} else {
		printf("doctor: %d ok, %d warning%s, %d skipped, %d failed\n", t.n[DOCTOR_OK],
		       t.n[DOCTOR_WARN], t.n[DOCTOR_WARN] == 1 ? "" : "s", t.n[DOCTOR_SKIP],
		       t.n[DOCTOR_FAIL]);
	}
	policy_free(p);
	if (print_flush() < 0)
		return TW_EXIT_FAILURE;
	return t.n[DOCTOR_FAIL] > 0 ? TW_EXIT_FAILURE : TW_EXIT_OK;
}

const struct cmd_entry cmd_doctor_entry = {
    .name = "doctor",
    .args = "",
    .summary = "check the setup, one line per check with its fix; change nothing",
    .options = doctor_options,
    .globals = G_JSON | G_CONFIG | G_DB | G_PUBLIC_KEY | G_API,
    .opts_size = sizeof(struct doctor_opts),
    .init = doctor_init,
    .max_args = 0,
    .notes = "Checks the policy; the store, its directory and the public key (owner, mode,\n"
	     "the pinned fingerprint); the timer, when systemd runs; and for each\n"
	     "workspace: its credential (and where it was found), its API (https, or\n"
	     "plain http to loopback: a warning), the server's clock against\n"
	     "schedule.max_clock_skew, and each consumer (a file's directory writable, an\n"
	     "exec program nobody else can change).  Whether Mode accepts the credential\n"
	     "is checked only with --probe: Mode has no read-only call for an admin key.\n"
	     "Nothing is created, deleted or recorded.  Each API call is made once\n"
	     "(--retries N retries a failed one as rotate does, with backoff).\n"
	     "--json prints {\"version\": 1, \"checks\": [{workspace, check, status, detail,\n"
	     "fix}], \"ok\": BOOL}.\n"
	     "Exit status: 0 every check ok (warnings and skips allowed), 1 a check\n"
	     "failed, 2 usage (or no policy given or found).\n",
    .run = run_doctor,
};
