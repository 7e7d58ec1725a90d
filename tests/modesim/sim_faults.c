/* Fault sets and their seeded draw (splitmix64). */
#include "sim_faults.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

/* Latency and Retry-After beyond these are typos, not tests. */
#define LATENCY_MAX_MS 120000
#define RETRY_AFTER_MAX 3600
#define BURST_MAX 1000000
#define GRANT_MAX_S (400LL * 86400)

static const struct {
	const char *key;
	size_t off;
} rates[] = {
    {"error_rate", offsetof(struct sim_faults, error_rate)},
    {"drop_rate", offsetof(struct sim_faults, drop_rate)},
    {"malformed_rate", offsetof(struct sim_faults, malformed_rate)},
    {"truncated_rate", offsetof(struct sim_faults, truncated_rate)},
    {"lost_post_rate", offsetof(struct sim_faults, lost_post_rate)},
    {"reject_bearer_rate", offsetof(struct sim_faults, reject_bearer_rate)},
};

static const struct {
	const char *key;
	size_t off;
	int64_t min, max;
} counts[] = {
    {"latency_ms", offsetof(struct sim_faults, latency_ms), 0, LATENCY_MAX_MS},
    {"burst_429", offsetof(struct sim_faults, burst_429), 0, BURST_MAX},
    {"replay_post", offsetof(struct sim_faults, replay_post), 0, BURST_MAX},
    {"grant_seconds", offsetof(struct sim_faults, grant_s), 0, GRANT_MAX_S},
    {"retry_after", offsetof(struct sim_faults, retry_after), 1, RETRY_AFTER_MAX},
    {"count", offsetof(struct sim_faults, count), 0, BURST_MAX},
};

/* The values of "date", indexed by enum sim_date. */
static const char *const dates[] = {"clock", "omit", "malformed"};

#define NRATES (sizeof rates / sizeof rates[0])
#define NCOUNTS (sizeof counts / sizeof counts[0])
#define NDATES (sizeof dates / sizeof dates[0])

static double *
rate_at(struct sim_faults *f, size_t i)
{
	return (double *)(void *)((char *)f + rates[i].off);
}

static int64_t *
count_at(struct sim_faults *f, size_t i)
{
	return (int64_t *)(void *)((char *)f + counts[i].off);
}

void
sim_faults_clear(struct sim_faults *f)
{
	memset(f, 0, sizeof *f);
	f->retry_after = 1;
}

/* Sets f->date from v, one of the names in dates[]; returns 0 or -1 with *cause set. */
static int
parse_date(struct sim_faults *f, const json_t *v, char **cause)
{
	const char *s = json_string_value(v);

	for (size_t i = 0; s != NULL && i < NDATES; i++) {
		if (strcmp(s, dates[i]) == 0) {
			f->date = (enum sim_date)i;
			return 0;
		}
	}
	*cause = xasprintf("date must be \"clock\", \"omit\" or \"malformed\"");
	return -1;
}

/* Sets one key of f from v; returns 0 or -1 with *cause set. */
static int
parse_key(struct sim_faults *f, const char *key, const json_t *v, char **cause)
{
	for (size_t i = 0; i < NRATES; i++) {
		double r;

		if (strcmp(key, rates[i].key) != 0)
			continue;
		if (!json_is_number(v)) {
			*cause = xasprintf("%s must be a number from 0 to 1", key);
			return -1;
		}
		r = json_number_value(v);
		if (!(r >= 0.0 && r <= 1.0)) {
			*cause = xasprintf("%s must be from 0 to 1", key);
			return -1;
		}
		*rate_at(f, i) = r;
		return 0;
	}
	for (size_t i = 0; i < NCOUNTS; i++) {
		json_int_t n;

		if (strcmp(key, counts[i].key) != 0)
			continue;
		if (!json_is_integer(v)) {
			*cause = xasprintf("%s must be an integer", key);
			return -1;
		}
		n = json_integer_value(v);
		if (n < counts[i].min || n > counts[i].max) {
			*cause = xasprintf("%s must be from %lld to %lld", key,
					   (long long)counts[i].min, (long long)counts[i].max);
			return -1;
		}
		*count_at(f, i) = (int64_t)n;
		return 0;
	}
	if (strcmp(key, "date") == 0)
		return parse_date(f, v, cause);
	*cause = xasprintf("unknown fault \"%s\"", key);
	return -1;
}

int
sim_faults_parse(json_t *obj, struct sim_faults *f, char **cause)
{
	struct sim_faults next;
	const char *key;
	json_t *v;

	if (!json_is_object(obj)) {
		*cause = xstrdup("faults must be a JSON object");
		return -1;
	}
	sim_faults_clear(&next);
	json_object_foreach(obj, key, v)
	{
		if (parse_key(&next, key, v, cause) < 0)
			return -1;
	}
	*f = next;
	return 0;
}

int
sim_faults_parse_text(const char *text, struct sim_faults *f, char **cause)
{
	json_error_t err;
	json_t *obj = json_loads(text, JSON_REJECT_DUPLICATES, &err);
	int rc;

	if (obj == NULL) {
		*cause = xasprintf("faults: %s", err.text);
		return -1;
	}
	rc = sim_faults_parse(obj, f, cause);
	json_decref(obj);
	return rc;
}

json_t *
sim_faults_json(const struct sim_faults *f)
{
	json_t *obj = json_object();
	struct sim_faults copy = *f;

	for (size_t i = 0; i < NRATES; i++)
		json_object_set_new(obj, rates[i].key, json_real(*rate_at(&copy, i)));
	for (size_t i = 0; i < NCOUNTS; i++)
		json_object_set_new(obj, counts[i].key, json_integer(*count_at(&copy, i)));
	json_object_set_new(obj, "date", json_string(dates[f->date]));
	return obj;
}

/* splitmix64 (Steele, Lea, Flood): small, seedable, good enough for test faults. */
static uint64_t
next_u64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A uniform double in [0, 1). */
static double
next_unit(uint64_t *state)
{
	return (double)(next_u64(state) >> 11) * (1.0 / 9007199254740992.0);
}

void
sim_faults_draw(struct sim_faults *f, uint64_t *rng, int is_post, struct sim_draw *d)
{
	static const unsigned int statuses[] = {500, 502, 503};
	unsigned int pick;

	memset(d, 0, sizeof *d);
	d->latency_ms = f->latency_ms;
	d->retry_after = f->retry_after;
	d->date = f->date; /* not drawn: a seed's sequence must not depend on it */
	/*
	 * The same draws happen on every request, whatever the rates, so the
	 * sequence for a seed depends only on the number of requests.
	 */
	d->drop = next_unit(rng) < f->drop_rate;
	pick = (unsigned int)(next_u64(rng) % 3);
	if (next_unit(rng) < f->error_rate)
		d->error_status = statuses[pick];
	d->lost = next_unit(rng) < f->lost_post_rate && is_post;
	d->malformed = next_unit(rng) < f->malformed_rate;
	d->truncated = next_unit(rng) < f->truncated_rate;
	d->reject_bearer = next_unit(rng) < f->reject_bearer_rate;
	if (f->burst_429 > 0 && !d->drop) {
		d->burst = 1;
		f->burst_429--;
	}
	if (f->count > 0) {
		f->count--;
		if (f->count == 0) {
			int64_t burst = f->burst_429, retry_after = f->retry_after;
			int64_t replay = f->replay_post;

			sim_faults_clear(f);
			f->burst_429 = burst;
			f->retry_after = retry_after;
			f->replay_post = replay;
		}
	}
}
