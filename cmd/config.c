/* Finding, loading and reporting on the policy file; see config.h. */
#include "cmd/config.h"

#include "cmd/cmd.h"
#include "cmd/msg.h"

#include <stdlib.h>

const char *
config_path(const char *opt)
{
	const char *env = getenv("TOKENWARDEN_CONFIG");

	if (opt != NULL)
		return opt;
	return env != NULL && env[0] != '\0' ? env : CONFIG_DEFAULT;
}

void
config_print_diags(const struct diag_list *d)
{
	for (size_t i = 0; i < d->n; i++)
		msg_diag(d->v[i].level == DIAG_ERROR ? "error" : "warning", d->file, d->v[i].line,
			 d->v[i].col, d->v[i].msg);
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
	}
	diag_free(&d);
	return p;
}

void
config_store_opts(const struct policy *p, const char *db, struct store_opts *o)
{
	if (db != NULL)
		o->db = db;
	else if (p->store_path != NULL && getenv("TOKENWARDEN_DB") == NULL)
		o->db = p->store_path;
	if (p->public_key != NULL && getenv("TOKENWARDEN_PUBLIC_KEY") == NULL)
		o->public_key = p->public_key;
}
