/* Finding and loading the policy file for the verbs that need one. */
#ifndef TW_CONFIG_H
#define TW_CONFIG_H

#include "cmd/args.h"
#include "policies/policy.h"

/* TW_CONFDIR and TW_STATEDIR come from the build (CMakeLists.txt). */
#define CONFIG_DEFAULT TW_CONFDIR "/policy.yaml"
#define DB_DEFAULT TW_STATEDIR "/tokenwarden.db"
#define PUB_DEFAULT TW_CONFDIR "/seal.pub"
#define API_DEFAULT "https://app.mode.com"

/* opt, else --config, else $TOKENWARDEN_CONFIG, else CONFIG_DEFAULT. */
const char *config_path(const char *opt);

/*
 * The policy of a verb that takes it as a word too: file (NULL: no such
 * word), else as config_path.  Returns NULL after a message when file and
 * --config both name one.
 */
const char *config_path_arg(const char *file);

/* Prints every diagnostic of d on stderr. */
void config_print_diags(const struct diag_list *d);

/*
 * Loads the policy at path and prints its diagnostics; a --proxy given
 * replaces its proxy, so that webhooks take it as API calls do.  Returns
 * the policy, or NULL when it has errors (or warnings, with strict) or
 * --proxy is no proxy's URL; the verb then exits TW_EXIT_USAGE having
 * changed nothing.
 */
struct policy *config_load(const char *path, int strict);

/*
 * A slot argument of a verb that takes -w: "WORKSPACE/SLOT" gives both (its
 * workspace must agree with -w's ws, when given), a bare name leaves the
 * workspace to -w.  Sets *ws (allocated; the caller frees; NULL when
 * neither names one) and *slot (borrowed from spec).  Returns 0, or -1
 * after a message.
 */
int config_slot_arg(const char *opt, const char *spec, const char *ws_opt, char **ws,
		    const char **slot);

struct store_opts;

/*
 * Sets o (initialised by store_opts_init) from p: the database is --db
 * (db, may be NULL), else $TOKENWARDEN_DB, else the policy's store path,
 * else the standard path; likewise the public key.
 */
void config_store_opts(const struct policy *p, const char *db, struct store_opts *o);

/*
 * For the verbs that work on one workspace's tokens without needing a
 * policy: loads the policy when there is one (a missing file is fine,
 * unless --config named it).  Returns 0 with *p (NULL when there is none;
 * the caller frees it with policy_free), or -1 after its diagnostics.
 */
int config_load_optional(struct policy **p);

struct api_opts;

/*
 * Fills what the command line left unset (NULL) from p (may be NULL): o's
 * API root and credential from p's workspace o->workspace when p has it
 * (else API_DEFAULT, and no credential), and so's database and public key
 * as config_store_opts does.
 */
void config_api_opts(const struct policy *p, struct api_opts *o, struct store_opts *so);

/* What --help of the verbs that call config_api_opts says of it, and of the credential. */
#define API_NOTES                                                                                  \
	"The policy, when there is one, fills in what the command line leaves out: the\n"          \
	"API root and credential of -w's workspace (its api: and credential:), and the\n"          \
	"database and public key (its store:).\n"                                                  \
	"\n"                                                                                       \
	"Environment: --credential NAME is read from $CREDENTIALS_DIRECTORY (systemd's\n"          \
	"LoadCredential=), else from TOKENWARDEN_CREDENTIAL_NAME (upper case, '-' and\n"           \
	"'.' as '_'); TOKENWARDEN_CREDENTIAL holds KEY:SECRET for the one credential\n"            \
	"in play (not for a credential of a policy naming several).\n"

#include "core/report.h"

/* What plan and audit report take beside the global options: --at. */
struct config_report_opts {
	int64_t at; /* ms */
};

/* Their option table, and its defaults (opts is a struct config_report_opts: now). */
extern const struct args_opt config_report_options[];
void config_report_init(void *opts);

/* What plan and audit report open: the policy, the store and the plan over it. */
struct config_report {
	struct policy *policy;
	struct store *store;
	struct report report;
	int64_t at;
};

/*
 * Loads the policy (--config, else $TOKENWARDEN_CONFIG, else the standard
 * path), opens the store read-only (--db, else $TOKENWARDEN_DB, else the
 * policy's) and plans over it as of o->at, changing nothing.  Returns
 * TW_EXIT_OK with *c filled, or another exit status after a message;
 * config_report_close either way.
 */
int config_report_open(const struct config_report_opts *o, struct config_report *c);
void config_report_close(struct config_report *c);

#endif
