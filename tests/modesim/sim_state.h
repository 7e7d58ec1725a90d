/*
 * The simulator's shared state: workspaces, signature tokens, the simulated
 * clock, faults, the rate limiter and request statistics, behind one mutex.
 * Functions marked "locked" must be called with sim_state_lock held; the
 * others take it themselves or touch nothing shared.
 */
#ifndef MODESIM_SIM_STATE_H
#define MODESIM_SIM_STATE_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "sim_config.h"
#include "sim_faults.h"
#include "sim_limit.h"

/* Lengths of the generated hex strings, as in Mode's documented example. */
#define SIM_TOKEN_ID_LEN 12
#define SIM_ACCESS_LEN 24
/* Latest simulated time timefmt can write: 9999-12-31T23:59:59.999Z. */
#define SIM_TIME_MAX 253402300799999LL

struct sim_workspace {
	char *name;
	char *key;
	char *secret; /* sodium_malloc memory */
	int64_t organization_id;
	int64_t creator_id;
};

struct sim_token {
	const struct sim_workspace *ws;
	char id[SIM_TOKEN_ID_LEN + 1];
	char access_key[SIM_ACCESS_LEN + 1];
	char *access_secret; /* sodium_malloc memory */
	char *name;
	int64_t created_at; /* milliseconds, simulated clock */
	int64_t updated_at;
	int64_t expires_at;
};

struct sim_stats {
	int64_t requests;
	int64_t creates;
	int64_t deletes;
	int64_t verifies;
	int64_t dropped;
	int64_t by_status[600];
	int64_t by_method[8]; /* indexed like the method table in sim_state.c */
	int64_t by_auth[4];   /* indexed like the scheme table in sim_state.c */
};

struct sim_state {
	pthread_mutex_t lock;
	pthread_cond_t wake; /* signalled on stop, to cut injected latencies short */
	int stopping;
	struct sim_workspace *ws; /* fixed after sim_state_new: read without the lock */
	size_t nws;
	struct sim_token **tokens; /* every token not deleted, in creation order */
	size_t ntokens;
	int64_t clock_offset_ms; /* simulated now minus real now */
	uint64_t rng;
	struct sim_faults faults;
	struct sim_limit *limit;
	int verify_admin; /* a verify draws on its token's workspace admin budget */
	struct sim_stats stats;
	json_t *by_user;     /* requests that took a rate-limit slot, per user name */
	json_t *last_create; /* the last create's answer, for replay_post; NULL: none yet */
};

/* Returns the state for cfg (copying what it needs); aborts on failure. */
struct sim_state *sim_state_new(const struct sim_config *cfg);
/* Frees everything; no other thread may use st any more. */
void sim_state_free(struct sim_state *st);

void sim_state_lock(struct sim_state *st);
void sim_state_unlock(struct sim_state *st);

/* Locked.  Returns the simulated time in milliseconds. */
int64_t sim_state_now(const struct sim_state *st);
/* Locked.  Moves the simulated clock to ms. */
void sim_state_set_now(struct sim_state *st, int64_t ms);

/* Returns the workspace called name, or NULL.  Needs no lock. */
const struct sim_workspace *sim_state_workspace(const struct sim_state *st, const char *name);

/*
 * Locked.  Creates a token in ws with fresh random id, key and secret,
 * created now; takes a copy of name.  Returns the token (owned by st).
 */
const struct sim_token *sim_state_token_add(struct sim_state *st, const struct sim_workspace *ws,
					    const char *name, int64_t expires_at);
/* Locked.  Returns the live token id of ws, or NULL. */
const struct sim_token *sim_state_token_find(const struct sim_state *st,
					     const struct sim_workspace *ws, const char *id);
/* Locked.  Returns the live token id of any workspace, or NULL. */
const struct sim_token *sim_state_token_any(const struct sim_state *st, const char *id);
/* Locked.  Removes t from st and returns it; the caller frees it with sim_state_token_free. */
struct sim_token *sim_state_token_remove(struct sim_state *st, const struct sim_token *t);
void sim_state_token_free(struct sim_token *t);

/*
 * Locked.  Counts a Mode API request by method and by Authorization scheme
 * ("none", "basic", "bearer" or "other"), and its answer by status.
 */
void sim_state_count_request(struct sim_state *st, const char *method, const char *scheme);
void sim_state_count_status(struct sim_state *st, unsigned int status);
/* Locked.  Counts a request that took a slot of user's rate-limit budget. */
void sim_state_count_user(struct sim_state *st, const char *user);
/* Locked.  Clears the statistics, the per-user counts included. */
void sim_state_stats_clear(struct sim_state *st);
/* Locked.  Returns the statistics as a new JSON object. */
json_t *sim_state_stats_json(const struct sim_state *st);

/* Waits ms milliseconds, or less if the simulator is stopping.  Not locked. */
void sim_state_sleep(struct sim_state *st, int64_t ms);
/* Wakes every sleeper and makes later sleeps return at once.  Not locked. */
void sim_state_stop(struct sim_state *st);

#endif
