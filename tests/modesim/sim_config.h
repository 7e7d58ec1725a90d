/*
 * The simulator's start-up settings: workspaces with their admin
 * credentials, the rate limit, the initial clock, the seed and faults, read
 * from options and from a config file of lines such as
 *   workspace acme KEY SECRET
 *   rate-limit 40/10
 *   verify-budget admin
 */
#ifndef MODESIM_SIM_CONFIG_H
#define MODESIM_SIM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "sim_faults.h"

/* Bounds of the rate limit accepted anywhere (options, config, control API). */
#define SIM_LIMIT_MAX 100000
#define SIM_WINDOW_MAX 86400

struct sim_wsconf {
	char *name;
	char *key;
	char *secret; /* sodium_malloc memory */
};

struct sim_config {
	uint16_t port;
	char *port_file;
	struct sim_wsconf *ws;
	size_t nws;
	int64_t rate_limit;
	int64_t rate_window;
	int verify_admin; /* count a verify on the token owner's admin budget, not the token's */
	int has_now;
	int64_t now_ms;
	uint64_t seed;
	struct sim_faults faults;
};

/* Sets the defaults: ephemeral port, 40 requests per 10 s, seed 1, no faults. */
void sim_config_init(struct sim_config *cfg);
void sim_config_free(struct sim_config *cfg);

/*
 * Each of these reads one setting and returns 0, or -1 with an allocated
 * message in *cause.
 */
/* Adds a workspace; the name must be lower case and new. */
int sim_config_workspace(struct sim_config *cfg, const char *name, const char *key,
			 const char *secret, char **cause);
/* Adds a workspace from NAME:KEY:SECRET (the secret may contain colons). */
int sim_config_workspace_arg(struct sim_config *cfg, const char *arg, char **cause);
/* Reads N/SECONDS. */
int sim_config_rate(struct sim_config *cfg, const char *arg, char **cause);
/* Reads the budget a verify draws on: "token" (its own id) or "admin" (the owner's). */
int sim_config_verify_budget(struct sim_config *cfg, const char *arg, char **cause);
/* Reads a port number 0..65535. */
int sim_config_port(struct sim_config *cfg, const char *arg, char **cause);
/* Reads an unsigned 64-bit seed. */
int sim_config_seed(struct sim_config *cfg, const char *arg, char **cause);
/* Reads an ISO 8601 time as the simulated clock's starting point. */
int sim_config_now(struct sim_config *cfg, const char *arg, char **cause);
/* Reads a config file; messages name FILE:LINE. */
int sim_config_file(struct sim_config *cfg, const char *path, char **cause);

#endif
