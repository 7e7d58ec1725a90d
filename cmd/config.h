/* Finding and loading the policy file for the verbs that need one. */
#ifndef TW_CONFIG_H
#define TW_CONFIG_H

#include "policies/policy.h"

#define CONFIG_DEFAULT "/etc/tokenwarden/policy.yaml"

/* --config, else $TOKENWARDEN_CONFIG, else CONFIG_DEFAULT. */
const char *config_path(const char *opt);

/* Prints every diagnostic of d on stderr. */
void config_print_diags(const struct diag_list *d);

/*
 * Loads the policy at path and prints its diagnostics.  Returns the policy,
 * or NULL when it has errors (or warnings, with strict); the verb then exits
 * TW_EXIT_USAGE having changed nothing.
 */
struct policy *config_load(const char *path, int strict);

struct store_opts;

/*
 * Sets o (initialised by store_opts_init) from p: the database is --db
 * (db, may be NULL), else $TOKENWARDEN_DB, else the policy's store path,
 * else the standard path; likewise the public key.
 */
void config_store_opts(const struct policy *p, const char *db, struct store_opts *o);

#endif
