/* Finding, loading and reporting on the policy file; see config.h. */
#include "cmd/config.h"

#include "cmd/cmd.h"
#include "cmd/msg.h"

#include "core/clock.h"
#include "core/exitcodes.h"
#include "core/net.h"
#include "core/xalloc.h"
#include "store/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *
config_path(const char *opt)
{
	const char *env = getenv("TOKENWARDEN_CONFIG");

	if (opt != NULL)
		return opt;
	if (args_globals.config != NULL)
		return args_globals.config;
	return env != NULL && env[0] != '\0' ? env : CONFIG_DEFAULT;
}

const char *
config_path_arg(const char *file)
{
	if (file != NULL && args_globals.config != NULL) {
		errorf("the policy is named twice, by --config %s and by the word %s; give one",
		       args_globals.config, file);
		return NULL;
	}
	return config_path(file);
}

void
config_print_diags(const struct diag_list *d)
{
	for (size_t i = 0; i < d->n; i++)
		msg_diag(d->v[i].level == DIAG_ERROR ? "error" : "warning", d->file, d->v[i].line,
			 d->v[i].col, d->v[i].msg);
}

/* Puts --proxy, when given, in place of p's proxy; 0, or -1 after a message. */
static int
proxy_option(struct policy *p)
{
	char *cause = NULL;

	if (args_globals.proxy == NULL)
		return 0;
	if (net_check_proxy("--proxy", args_globals.proxy, &cause) < 0) {
		errorf("%s", cause);
		free(cause);
		return -1;
	}
	free(p->proxy);
	p->proxy = xstrdup(args_globals.proxy);
	return 0;
}

struct policy *
config_load(const char *path, int strict)
{
	struct diag_list d;
	struct policy *p = NULL;

	policy_load_file(path, NULL, &p, &d);
	config_print_diags(&d);
	if (p == NULL)
		errorf("%s: the policy has %zu error%s; nothing was done", path, d.nerrors,
		       d.nerrors == 1 ? "" : "s");
	else if (strict && d.nwarnings > 0) {
		errorf("%s: %zu warning%s with --strict; nothing was done", path, d.nwarnings,
		       d.nwarnings == 1 ? "" : "s");
		policy_free(p);
		p = NULL;
	} else if (proxy_option(p) < 0) {
		policy_free(p);
		p = NULL;
	}
	diag_free(&d);
	return p;
}

void
config_store_opts(const struct policy *p, const char *db, struct store_opts *o)
{
	/* --db (before or after the verb), else $TOKENWARDEN_DB, else the policy's. */
	if (db != NULL)
		o->db = db;
	else if (p->store_path != NULL && args_globals.db == NULL &&
		 getenv("TOKENWARDEN_DB") == NULL)
		o->db = p->store_path;
	if (p->public_key != NULL && args_globals.public_key == NULL &&
	    getenv("TOKENWARDEN_PUBLIC_KEY") == NULL)
		o->public_key = p->public_key;
}

int
config_load_optional(struct policy **p)
{
	const char *path = config_path(NULL);

	*p = NULL;
	if (args_globals.config == NULL && access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	*p = config_load(path, 0);
	return *p != NULL ? 0 : -1;
}

void
config_api_opts(const struct policy *p, struct api_opts *o, struct store_opts *so)
{
	const struct policy_workspace *w =
	    p != NULL && o->workspace != NULL ? policy_find_workspace(p, o->workspace) : NULL;

	if (o->api == NULL)
		o->api = w != NULL ? w->api : API_DEFAULT;
	/* The policy's proxy serves any API; --proxy still wins (api_opts_globals). */
	if (p != NULL && p->proxy != NULL)
		o->mode.proxy = p->proxy;
	/* A credential named on the command line, by name or file, wins. */
	if (w != NULL && o->credential == NULL && o->credential_file == NULL) {
		o->credential = w->credential;
		o->credential_ncreds = policy_credential_count(p);
	}
	if (p != NULL)
		config_store_opts(p, NULL, so);
}

const struct args_opt config_report_options[] = {
    OPT_TIME(0, "at", struct config_report_opts, at, "TIME", ARGS_AHEAD,
	     "as of TIME instead of now: ISO 8601\n"
	     "(2026-11-25T02:00Z), now, or a duration from now\n"
	     "(1d ahead, -1d ago)"),
    OPT_END,
};

void
config_report_init(void *opts)
{
	struct config_report_opts *o = opts;

	o->at = clock_now_ms();
}

int
config_report_open(const struct config_report_opts *o, struct config_report *c)
{
	struct store_opts so;
	char *cause = NULL;
	int status = TW_EXIT_USAGE;

	memset(c, 0, sizeof *c);
	c->at = o->at;
	store_opts_init(&so);
	c->policy = config_load(config_path(NULL), 0);
	if (c->policy == NULL)
		return TW_EXIT_USAGE;
	config_store_opts(c->policy, NULL, &so);
	c->store = store_ctx_open(&so, NULL, STORE_CTX_READ, &status);
	if (c->store == NULL)
		return status;
	if (report_build_plan(c->store, c->policy, c->at, NULL, 0, &c->report, &cause) < 0) {
		errorf("%s", cause);
		free(cause);
		return TW_EXIT_FAILURE;
	}
	return TW_EXIT_OK;
}

void
config_report_close(struct config_report *c)
{
	report_free(&c->report);
	store_close(c->store);
	policy_free(c->policy);
	memset(c, 0, sizeof *c);
}

int
config_slot_arg(const char *opt, const char *spec, const char *ws_opt, char **ws, const char **slot)
{
	const char *slash = strchr(spec, '/');

	*ws = NULL;
	*slot = spec;
	if (slash == NULL) {
		*ws = ws_opt != NULL ? xstrdup(ws_opt) : NULL;
		return 0;
	}
	if (slash == spec || slash[1] == '\0' || strchr(slash + 1, '/') != NULL) {
		errorf("%s '%s': expected SLOT or WORKSPACE/SLOT", opt, spec);
		return -1;
	}
	*ws = xstrndup(spec, (size_t)(slash - spec));
	*slot = slash + 1;
	if (ws_opt != NULL && strcmp(ws_opt, *ws) != 0) {
		errorf("%s '%s' names workspace %s, but -w says %s", opt, spec, *ws, ws_opt);
		FREE_NULL(ws);
		return -1;
	}
	return 0;
}
