/*
 * The benchmark's policy: 10 workspaces of 100 slots with the mix of
 * settings a large organisation writes (lifetimes of 7 to 90 days,
 * rotate_before as shares and as durations, jitter, windows in named time
 * zones, deliveries, a shared and a personal credential, enforce rules that
 * delete unmanaged and expired tokens).  Every choice is drawn from one
 * seeded sequence; a window is only given where the loader accepts it.
 */
#include "gen.h"

#include "core/timefmt.h"

#include <stdio.h>
#include <stdlib.h>

/* Windows as written, with the longest time each stays closed (the loader's check). */
static const struct {
	const char *yaml;
	int64_t gap;
} windows[] = {
    {"{ hours: \"01:00-05:00\", timezone: Europe/Berlin }", 20 * HOUR},
    {"{ hours: \"22:00-04:00\", timezone: America/New_York }", 18 * HOUR},
    {"{ days: mon-fri, hours: [\"09:00-12:00\", \"13:00-17:00\"], timezone: Asia/Tokyo }",
     64 * HOUR},
    {"{ days: [sat, sun] }", 5 * DAY},
    {"{ days: mon-fri, hours: \"01:00-05:00\", timezone: Europe/Berlin }", 68 * HOUR},
};
#define NWINDOWS (sizeof windows / sizeof windows[0])

/* What a workspace sets for all its slots; 0, or -1 for window: inherited from defaults. */
static const struct ws_spec {
	const char *name, *credential, *kind, *rate;
	int64_t lifetime;
	int rb_pct;
	int window;
	int deliver;
} wss[BENCH_WORKSPACES] = {
    {"acme", "acme-admin", NULL, NULL, 0, 0, 0, 1},
    {"globex", "globex-admin", NULL, NULL, 14 * DAY, 0, -1, 0},
    {"initech", "initech-admin", NULL, "20/10s", 0, 0, -1, 1},
    {"umbrella", "umbrella-admin", "member", NULL, 0, 25, 1, 0},
    {"hooli", "hooli-admin", NULL, NULL, 60 * DAY, 0, -1, 1},
    {"stark", "holding-admin", NULL, NULL, 0, 0, -1, 0},
    {"wayne", "holding-admin", NULL, NULL, 0, 0, 1, 1},
    {"tyrell", "tyrell-admin", NULL, NULL, 0, 30, -1, 0},
    {"cyberdyne", "cyberdyne-admin", NULL, "40/10s", 7 * DAY, 0, -1, 1},
    {"soylent", "soylent-legacy", "personal", NULL, 0, 0, 0, 0},
};

#define DEFAULT_LIFETIME (30 * DAY)
#define DEFAULT_RB_PCT 20

static const char *const services[] = {"etl",    "bi", "reports", "dash", "sync",
				       "export", "ml", "finance", "ops",  "sales"};
static const char *const uses[] = {"discovery", "nightly", "hourly", "adhoc", "backfill"};

/* Slot j of a workspace: unique for j < 100. */
static void
slot_name(int j, char *buf, size_t size)
{
	snprintf(buf, size, "%s-%s-%02d", services[j % 10], uses[(j / 10) % 5], j / 50);
}

static void
put_duration(FILE *f, const char *key, int64_t ms)
{
	char d[TIMEFMT_MAX];

	timefmt_duration_str(ms / 1000, d);
	fprintf(f, "        %s: %s\n", key, d);
}

static int64_t
pick_lifetime(struct rng *r)
{
	static const int64_t days[] = {7, 14, 14, 30, 30, 30, 60, 60, 90, 90};

	return days[rng_next(r) % 10] * DAY;
}

/* Writes one slot's own settings; each line is one a person might have written. */
static void
write_slot(FILE *f, struct rng *r, const struct ws_spec *w, int j)
{
	char name[64];
	int64_t life = w->lifetime > 0 ? w->lifetime : DEFAULT_LIFETIME;
	int64_t rb = life * (w->rb_pct > 0 ? w->rb_pct : DEFAULT_RB_PCT) / 100;

	slot_name(j, name, sizeof name);
	fprintf(f, "      - name: %s\n", name);
	if (rng_unit(r) < 0.6) {
		life = pick_lifetime(r);
		put_duration(f, "lifetime", life);
		rb = life * (w->rb_pct > 0 ? w->rb_pct : DEFAULT_RB_PCT) / 100;
	}
	if (rng_unit(r) < 0.5) {
		if (rng_unit(r) < 0.5) {
			int pct = 20 + 5 * (int)(rng_next(r) % 3);

			fprintf(f, "        rotate_before: %d%%\n", pct);
			rb = life * pct / 100;
		} else {
			/* A round number of hours near a fifth of the lifetime, at least 36h. */
			rb = life * (15 + 5 * (int64_t)(rng_next(r) % 3)) / 100 / HOUR * HOUR;
			rb = rb < 36 * HOUR ? 36 * HOUR : rb;
			put_duration(f, "rotate_before", rb);
		}
	}
	if (rng_unit(r) < 0.3)
		put_duration(f, "jitter", rng_unit(r) < 0.5 ? HOUR : 6 * HOUR);
	if (rng_unit(r) < 0.25)
		put_duration(f, "grace", rng_unit(r) < 0.5 ? 12 * HOUR : 2 * DAY);
	if (rng_unit(r) < 0.12) {
		size_t k = (size_t)(rng_next(r) % NWINDOWS);

		/* The loader refuses a window closed as long as rotate_before. */
		if (windows[k].gap + HOUR < rb)
			fprintf(f, "        window: %s\n", windows[k].yaml);
	}
	if (rng_unit(r) < 0.3) {
		fprintf(f,
			"        deliver:\n"
			"          - file: /run/tokenwarden/{workspace}/{slot}.json\n"
			"            owner: svc-%s\n",
			services[j % 10]);
		if (rng_unit(r) < 0.5)
			fprintf(f,
				"          - exec: [/usr/local/bin/reload-consumer, \"{slot}\"]\n"
				"            timeout: 1m\n");
	}
	if (rng_unit(r) < 0.05)
		fprintf(f, "        verify: false\n");
	if (rng_unit(r) < 0.015)
		fprintf(f, "        paused: true\n");
	if (rng_unit(r) < 0.1)
		fprintf(f, "        name_template: \"{workspace}-{slot}-{yyyymmddhhmm}\"\n");
}

static void
write_workspace(FILE *f, struct rng *r, const struct ws_spec *w, int quiet)
{
	fprintf(f, "  - name: %s\n", w->name);
	/* Nothing listens there: a request of a quiet night fails rather than leaves the host. */
	if (quiet)
		fprintf(f, "    api: " GEN_QUIET_API "\n");
	if (w->kind != NULL)
		fprintf(f, "    credential: { name: %s, kind: %s }\n", w->credential, w->kind);
	else
		fprintf(f, "    credential: %s\n", w->credential);
	if (w->rate != NULL)
		fprintf(f, "    rate_limit: %s\n", w->rate);
	if (w->lifetime > 0)
		fprintf(f, "    lifetime: %lldd\n", (long long)(w->lifetime / DAY));
	if (w->rb_pct > 0)
		fprintf(f, "    rotate_before: %d%%\n", w->rb_pct);
	if (w->window >= 0)
		fprintf(f, "    window: %s\n", windows[w->window].yaml);
	if (w->deliver)
		fprintf(f,
			"    deliver:\n      - file: /run/tokenwarden/{workspace}/{slot}.json\n");
	fprintf(f, "    tokens:\n");
	for (int j = 0; j < BENCH_SLOTS_PER_WS; j++)
		write_slot(f, r, w, j);
}

const char *
gen_policy_credential(int w)
{
	return w >= 0 && w < BENCH_WORKSPACES ? wss[w].credential : NULL;
}

/*
 * What the quiet night's policy says in place of the enforce and notify
 * lines: enforce reports unmanaged and expired tokens rather than deleting
 * them (so they stay live rows, for the plan and the tamper check to read
 * every night), violations are not alerted (those of a generated store
 * would all be new and posted at once; a steady night only looks up the
 * alerts it sent before), and the clock check, which asks every
 * workspace's server, is off.
 */
static const char quiet_rules[] = "enforce:\n"
				  "  max_lifetime: 90d\n"
				  "  unmanaged: report\n"
				  "  expired: report\n"
				  "  deprecated_personal: report\n"
				  "schedule: { interval: 1d, max_time: 2h, capacity_days: 30, "
				  "max_clock_skew: off }\n"
				  "notify:\n"
				  "  - webhook: https://hooks.example.com/services/T000/B000\n"
				  "    events: [failure, stuck]\n";

static const char busy_rules[] = "enforce:\n"
				 "  max_lifetime: 90d\n"
				 "  unmanaged: { delete_after: 30d }\n"
				 "  expired: { delete_after: 7d }\n"
				 "  deprecated_personal: report\n"
				 "schedule: { interval: 1d, max_time: 2h, capacity_days: 30 }\n"
				 "notify:\n"
				 "  - webhook: https://hooks.example.com/services/T000/B000\n"
				 "    events: [failure, stuck, violation]\n";

char *
gen_policy_text(int quiet, size_t *len)
{
	struct rng r = {BENCH_SEED};
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (f == NULL) {
		perror("gen_inventory: open_memstream");
		exit(1);
	}
	fprintf(f,
		"# The `%s` benchmark's policy: made by tests/bench/gen_inventory.\n"
		"version: 1\n"
		"defaults: { lifetime: 30d, rotate_before: 20%%, grace: 24h, jitter: 2h }\n"
		"%sworkspaces:\n",
		quiet ? "quiet night" : "plan", quiet ? quiet_rules : busy_rules);
	for (int w = 0; w < BENCH_WORKSPACES; w++)
		write_workspace(f, &r, &wss[w], quiet);
	if (fclose(f) != 0) {
		perror("gen_inventory: writing the policy");
		exit(1);
	}
	return buf;
}
