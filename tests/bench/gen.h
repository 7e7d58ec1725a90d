/*
 * What the benchmark's generator and its reader share: the fixed moment the
 * inventory is made for, its size, and one seeded random sequence, so the
 * policy and the database are the same bytes on every run.
 */
#ifndef TW_BENCH_GEN_H
#define TW_BENCH_GEN_H

#include <stddef.h>
#include <stdint.h>

/* The "now" every expiry is placed against; bench_plan plans --at it. */
#define BENCH_NOW "2026-11-25T02:00Z"
#define BENCH_ROWS 100000
#define BENCH_WORKSPACES 10
#define BENCH_SLOTS_PER_WS 100
#define BENCH_SEED UINT64_C(0x7477626e63680001)

#define MINUTE (60 * INT64_C(1000))
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)

/* splitmix64: small, fast and the same everywhere. */
struct rng {
	uint64_t s;
};

static inline uint64_t
rng_next(struct rng *r)
{
	uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* A uniform double in [0, 1). */
static inline double
rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* A uniform time in [lo, hi] ms. */
static inline int64_t
rng_span(struct rng *r, int64_t lo, int64_t hi)
{
	return hi <= lo ? lo : lo + (int64_t)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

/* The API of the quiet night's workspaces: a loopback port nothing listens on. */
#define GEN_QUIET_API "http://127.0.0.1:9"

/*
 * Returns the benchmark policy's YAML (allocated; the caller frees it) and
 * its length: BENCH_WORKSPACES workspaces of BENCH_SLOTS_PER_WS slots.
 * quiet: the quiet night's (gen_policy.c says how it differs).
 */
char *gen_policy_text(int quiet, size_t *len);

/* The credential workspace w (0 .. BENCH_WORKSPACES - 1) names; NULL past them. */
const char *gen_policy_credential(int w);

#endif
