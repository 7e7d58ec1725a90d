/*
 * Injected faults: the set in force, its JSON form (for --faults and
 * /_sim/faults), and the per-request draw from a seeded PRNG, so a run with
 * the same seed, faults and request order fails the same way.
 */
#ifndef MODESIM_SIM_FAULTS_H
#define MODESIM_SIM_FAULTS_H

#include <jansson.h>
#include <stdint.h>

#include "sim_reply.h"

struct sim_faults {
	double error_rate;     /* answered 500/502/503, action not performed */
	double drop_rate;      /* closed without an answer, action not performed */
	double malformed_rate; /* action performed, 200 with a body that is not JSON */
	double truncated_rate; /* action performed, connection closed halfway through the body */
	double lost_post_rate; /* POST only: token created, then closed without an answer */
	double reject_bearer_rate; /* Bearer calls answered 401, as for a token not (yet) valid */
	int64_t latency_ms;        /* added before every answer, after the action */
	int64_t burst_429;         /* the next N requests are answered 429 */
	int64_t replay_post;       /* the next N creates are answered with the last one's answer */
	int64_t grant_s;           /* > 0: a create's token lives this long (s), whatever asked */
	int64_t retry_after;       /* Retry-After of those 429s, in seconds */
	int64_t count;      /* > 0: the rates, latency and date last for this many more requests */
	enum sim_date date; /* the answers' Date header: the simulated clock, omitted or garbage */
};

/* What one request drew. */
struct sim_draw {
	int64_t latency_ms;
	int drop;
	int burst; /* answer 429 with Retry-After retry_after */
	int64_t retry_after;
	unsigned int error_status; /* 0, or 500, 502 or 503 */
	int lost;
	int malformed;
	int truncated;
	int reject_bearer;
	enum sim_date date;
};

/* Sets f to no faults at all. */
void sim_faults_clear(struct sim_faults *f);

/*
 * Reads a fault set from a JSON object, every key optional and the rest of
 * the set cleared.  Returns 0, or -1 and an allocated message in *cause for
 * unknown keys, wrong types and values out of range.
 */
int sim_faults_parse(json_t *obj, struct sim_faults *f, char **cause);

/* Like sim_faults_parse, from JSON text (the --faults option). */
int sim_faults_parse_text(const char *text, struct sim_faults *f, char **cause);

/* Returns the set as a new JSON object. */
json_t *sim_faults_json(const struct sim_faults *f);

/*
 * Draws the faults for one request, advancing *rng, and counts one request
 * off burst_429 and count (clearing the rates, latency and date when count
 * runs out).  is_post selects whether lost_post_rate applies.
 */
void sim_faults_draw(struct sim_faults *f, uint64_t *rng, int is_post, struct sim_draw *d);

#endif
