/*
 * Generates the benchmark inventory of the `plan` issue: a policy of 10
 * workspaces x 100 slots and a tokenwarden database of exactly 100,000
 * token rows, the same bytes on every run (fixed seeds, fixed "now").
 *
 *   gen_inventory [--quiet] DIR
 *       writes DIR/policy.yaml, DIR/tokenwarden.db and DIR/seal.pub (the
 *       public key the store pins, for the verbs that seal)
 *
 * The inventory is that of a large, messy organisation a while after
 * onboarding: every slot has a long history of deleted generations, one
 * active token (about 7% of them due at BENCH_NOW, a few past expiry or with
 * none), some retiring ones, interrupted creates and lost answers; besides
 * the slots, thousands of imported tokens no slot owns, many of them expired
 * or living longer than enforce max_lifetime.  About a fifth of the rows may
 * still exist on the server, so the planner works on them rather than
 * skipping deleted rows.
 *
 * --quiet makes the quiet night's inventory instead: the same organisation
 * the night after a run that did everything, so nothing is due at
 * BENCH_NOW.  Every slot's active token is well within its lifetime, with
 * no interrupted create, replacement left over or token past its grace;
 * the unmanaged, expired and unknown rows stay live, which the quiet
 * policy (gen_policy.c) reports rather than deletes, so `rotate` plans and
 * checks as many live rows as on the busy night and acts on none.
 *
 * The policy (gen_policy.c) is loaded back with policy_load_buffer, so one
 * the loader refuses stops here, and the rows are placed from its effective
 * settings.
 * The schema comes from store_open; the rows are inserted with raw prepared
 * statements in one transaction, which only a generator may do: all other
 * SQL lives in store/; inventory_attest then records each row in the
 * history, as a migrated store's are.  Sealed secrets are random placeholder blobs of the
 * real size, pinned to a made-up key: `plan` never opens them.  Only rows that can still
 * exist on Mode hold one (a deleted or revoked token's is erased with it).  No event
 * records their digests (an upgraded store's would have a secret.recorded event each,
 * 6,326 more events, which the audit log benchmark would read too): `audit verify` lists
 * them and `audit report` counts them, which its benchmark does not judge.  Verbs that
 * take the run lock (token list, ...) settle the five pending rows and so
 * change the data: regenerate after using them on it.
 */
#include "gen.h"

#include "core/deliver.h"
#include "core/plan.h"
#include "core/seal.h"
#include "core/timefmt.h"
#include "core/xalloc.h"
#include "policies/policy.h"
#include "store/inventory.h"
#include "store/slots.h"
#include "store/store.h"
#include "store/tokens.h"

#include <errno.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UNMANAGED_ROWS 17500
#define LEGACY_SLOTS 20 /* slots the database knows and the policy no longer has */
#define LEGACY_HISTORY 10

struct gen_row {
	int ws;          /* index in the policy's workspaces */
	int64_t slot_id; /* 0: unmanaged */
	char token[16];  /* "": NULL */
	char *name;
	enum token_state state;
	int imported;
	int64_t requested_at, created_at, expires_at, updated_at, retire_after; /* 0: NULL */
	int secret;
	size_t seq; /* order of generation, to break ties */
};

enum scenario { SC_OK, SC_DUE, SC_PAST, SC_LAPSED, SC_NEW, SC_N };

static const char *const scenario_names[SC_N] = {"not due", "due (expires within rotate_before)",
						 "active past expiry", "lapsed (no active)",
						 "new (no token yet)"};

/* One slot as the rows are made: its settings in ms and where its history continues. */
struct slot_gen {
	const struct policy_slot *s;
	int ws;
	int64_t id;
	int64_t life, period, grace;
	int64_t oldest; /* creation time of its oldest row so far */
	size_t quota;   /* history rows still to make */
	enum scenario sc;
};

struct gen {
	struct gen_row *v;
	size_t n, cap;
	struct rng r;
	uint64_t ntokens;
	int64_t now;
	size_t scenarios[SC_N];
	size_t stale_retiring, leftovers, pendings;
	int quiet; /* the quiet night's inventory: nothing due */
};

/* A Mode-like 12-hex-digit id: a bijection of a counter, so never the same twice. */
static void
token_id(struct gen *g, char out[16])
{
	uint64_t x = ++g->ntokens & UINT64_C(0xffffffffffff);

	x = (x * UINT64_C(0x9e3779b97f4b)) & UINT64_C(0xffffffffffff);
	x ^= x >> 23;
	x = (x * UINT64_C(0x5851f42d4c95)) & UINT64_C(0xffffffffffff);
	x ^= x >> 19;
	snprintf(out, 16, "%012llx", (unsigned long long)x);
}

static struct gen_row *
add_row(struct gen *g, int ws, int64_t slot_id, enum token_state st, int64_t created, int64_t life)
{
	struct gen_row *row;

	if (g->n == g->cap) {
		g->cap = g->cap == 0 ? 1024 : g->cap * 2;
		g->v = xrealloc(g->v, g->cap * sizeof *g->v);
	}
	row = &g->v[g->n];
	memset(row, 0, sizeof *row);
	row->seq = g->n++;
	row->ws = ws;
	row->slot_id = slot_id;
	row->state = st;
	row->requested_at = created - 2000;
	row->expires_at = created + life;
	row->updated_at = created;
	if (st != TOKEN_PENDING && st != TOKEN_UNKNOWN && st != TOKEN_FAILED) {
		token_id(g, row->token);
		row->created_at = created;
		row->secret = 1;
	}
	return row;
}

/* The Mode-side name of a slot's token made at `at`, as rotate would name it. */
static char *
slot_token_name(const struct policy_slot *s, int64_t at)
{
	char *cause = NULL, *name = policy_render_name(s, at, &cause);

	if (name == NULL) {
		fprintf(stderr, "gen_inventory: %s\n", cause);
		exit(1);
	}
	return name;
}

static char *
stamped_name(const char *prefix, int64_t at)
{
	char stamp[TIMEFMT_MAX], digits[16];
	size_t nd = 0;

	timefmt_minute(at, stamp);
	for (size_t i = 0; stamp[i] != '\0' && nd < 12; i++)
		if (stamp[i] >= '0' && stamp[i] <= '9')
			digits[nd++] = stamp[i];
	digits[nd] = '\0';
	return xasprintf("%s-%s", prefix, digits);
}

static enum scenario
pick_scenario(struct rng *r)
{
	double u = rng_unit(r);

	return u < 0.003   ? SC_NEW
	       : u < 0.008 ? SC_LAPSED
	       : u < 0.013 ? SC_PAST
	       : u < 0.083 ? SC_DUE
			   : SC_OK;
}

/* An interrupted run's replacement (created or verified, never delivered) or a live intent. */
static void
in_flight(struct gen *g, struct slot_gen *sg)
{
	double u = rng_unit(&g->r);
	int64_t at;
	struct gen_row *row;

	if (!(sg->sc == SC_DUE ? u < 0.10 : u < 0.006))
		return;
	if (rng_unit(&g->r) < 0.3) {
		at = g->now - rng_span(&g->r, MINUTE, 6 * HOUR);
		row = add_row(g, sg->ws, sg->id, TOKEN_PENDING, at, sg->life);
		g->pendings++;
	} else {
		at = g->now - rng_span(&g->r, DAY, 5 * DAY);
		row = add_row(g, sg->ws, sg->id,
			      rng_unit(&g->r) < 0.5 ? TOKEN_CREATED : TOKEN_VERIFIED, at, sg->life);
		g->leftovers++;
	}
	row->name = slot_token_name(sg->s, at);
}

/*
 * The slot's current rows: its active (or lapsed) token and the one it
 * replaced, retiring or deleted.  Leaves sg->oldest at the older one.
 */
static void
current(struct gen *g, struct slot_gen *sg)
{
	int64_t rb = policy_rotate_before(&sg->s->eff) * 1000, c0, c1, e0;
	enum token_state st = TOKEN_ACTIVE;
	struct gen_row *row;

	switch (sg->sc) {
	case SC_DUE:
		e0 = g->now + rng_span(&g->r, rb / 10, rb * 9 / 10);
		break;
	case SC_PAST:
		e0 = g->now - rng_span(&g->r, HOUR, 2 * DAY);
		break;
	case SC_LAPSED:
		e0 = g->now - rng_span(&g->r, DAY, 10 * DAY);
		st = TOKEN_EXPIRED;
		break;
	default:
		e0 = g->now + sg->life - rng_span(&g->r, 10 * MINUTE, sg->period - HOUR);
		break;
	}
	c0 = e0 - sg->life;
	row = add_row(g, sg->ws, sg->id, st, c0, sg->life);
	row->name = slot_token_name(sg->s, c0);
	row->updated_at = st == TOKEN_EXPIRED ? e0 + rng_span(&g->r, 0, DAY) : c0 + MINUTE;
	/* Its predecessor was made at the first nightly run after it fell due. */
	c1 = c0 - sg->period - rng_span(&g->r, 0, DAY);
	row = add_row(g, sg->ws, sg->id, TOKEN_DELETED, c1, sg->life);
	row->name = slot_token_name(sg->s, c1);
	row->updated_at = c0 + sg->grace + rng_span(&g->r, 0, DAY);
	if (g->now < c0 + MINUTE + sg->grace ||
	    (!g->quiet && sg->sc == SC_OK && rng_unit(&g->r) < 0.04)) {
		row->state = TOKEN_RETIRING;
		row->retire_after = c0 + MINUTE + sg->grace;
		row->updated_at = c0 + MINUTE;
		g->stale_retiring += row->retire_after <= g->now;
	}
	sg->oldest = c1;
}

/* One history row before sg->oldest: mostly a deleted generation, sometimes a mishap. */
static void
history_row(struct gen *g, struct slot_gen *sg, int last)
{
	double u = rng_unit(&g->r);
	int64_t c = sg->oldest - sg->period - rng_span(&g->r, 0, DAY);
	struct gen_row *row;

	if (u < 0.015) { /* a refused POST, retried by the next run */
		row = add_row(g, sg->ws, sg->id, TOKEN_FAILED, sg->oldest - 30 * MINUTE, sg->life);
		row->name = slot_token_name(sg->s, sg->oldest - 30 * MINUTE);
		row->updated_at = row->requested_at + 1000;
		return;
	}
	if (u < 0.028) { /* an answer lost in an outage: the token may exist until expiry */
		row = add_row(g, sg->ws, sg->id, TOKEN_UNKNOWN, sg->oldest - HOUR, sg->life);
		row->name = slot_token_name(sg->s, sg->oldest - HOUR);
		row->updated_at = row->requested_at + 30000;
		return;
	}
	row = add_row(g, sg->ws, sg->id, TOKEN_DELETED, c, sg->life);
	row->name = slot_token_name(sg->s, c);
	row->updated_at = sg->oldest + sg->grace + rng_span(&g->r, 0, DAY);
	if (u < 0.05) { /* the delete kept failing until the token expired */
		row->state = TOKEN_EXPIRED;
		row->updated_at = row->expires_at + rng_span(&g->r, 0, DAY);
	} else if (u < 0.052)
		row->state = TOKEN_REVOKED;
	if (last) { /* the token the slot was onboarded with */
		row->imported = 1;
		row->secret = 0;
	}
	sg->oldest = c;
}

static void
slot_rows(struct gen *g, struct slot_gen *sg)
{
	const struct policy_settings *e = &sg->s->eff;
	int64_t jit = plan_jitter(sg->s->ws->name, sg->s->name, e->jitter) * 1000;

	sg->life = e->lifetime * 1000;
	sg->grace = e->grace * 1000;
	sg->period = sg->life - policy_rotate_before(e) * 1000 - jit;
	sg->sc = g->quiet ? SC_OK : pick_scenario(&g->r);
	g->scenarios[sg->sc]++;
	if (sg->sc == SC_NEW)
		return;
	current(g, sg);
	if (!g->quiet && (sg->sc == SC_DUE || sg->sc == SC_OK))
		in_flight(g, sg);
}

/* Tokens no slot owns: imported from the workspaces' past, a third of them expired. */
static void
unmanaged_rows(struct gen *g)
{
	static const char *const owners[] = {"jdoe",     "asmith", "ci",  "airflow", "tableau-sync",
					     "notebook", "mkumar", "dbt", "lchen",   "looker-poc"};
	static const char *const uses[] = {"reports",  "export", "sync",   "test",    "dashboards",
					   "backfill", "poc",    "alerts", "finance", "adhoc"};
	static const int64_t lives[] = {30, 30, 30, 90, 90, 90, 90, 180, 180, 365};

	for (int i = 0; i < UNMANAGED_ROWS; i++) {
		/* The first three workspaces carry far more of them than the others. */
		int k = (int)(rng_next(&g->r) % (BENCH_WORKSPACES * 2)),
		    ws = k < BENCH_WORKSPACES ? k : (k - BENCH_WORKSPACES) % 3;
		int64_t life = lives[rng_next(&g->r) % 10] * DAY, e, c;
		char *prefix =
		    xasprintf("%s-%s", owners[rng_next(&g->r) % 10], uses[rng_next(&g->r) % 10]);
		struct gen_row *row;
		double u = rng_unit(&g->r);

		e = u < 0.3 ? g->now - rng_span(&g->r, HOUR, 300 * DAY)
			    : g->now + rng_span(&g->r, DAY, life);
		c = e - life;
		row = add_row(g, ws, 0, u < 0.15 ? TOKEN_EXPIRED : TOKEN_ACTIVE, c, life);
		row->name = stamped_name(prefix, c);
		row->imported = rng_unit(&g->r) < 0.8;
		row->secret = !row->imported;
		row->updated_at = row->state == TOKEN_EXPIRED ? e + DAY : c;
		free(prefix);
	}
}

/* Slots removed from the policy: their active token and history are still stored. */
static void
legacy_rows(struct gen *g, int64_t first_id)
{
	for (int i = 0; i < LEGACY_SLOTS; i++) {
		int64_t life = 30 * DAY, c = g->now - rng_span(&g->r, DAY, 20 * DAY);
		char *prefix = xasprintf("legacy-export-%02d", i);
		struct gen_row *row =
		    add_row(g, i % BENCH_WORKSPACES, first_id + i, TOKEN_ACTIVE, c, life);

		row->name = stamped_name(prefix, c);
		for (int k = 0; k < LEGACY_HISTORY; k++) {
			c -= 24 * DAY;
			row =
			    add_row(g, i % BENCH_WORKSPACES, first_id + i, TOKEN_DELETED, c, life);
			row->name = stamped_name(prefix, c);
			row->updated_at = c + 25 * DAY;
		}
		free(prefix);
	}
}

/*
 * Shares the rows left of BENCH_ROWS among the slots' histories in
 * proportion to how often each rotates, so every history spans about the
 * same years.
 */
static void
histories(struct gen *g, struct slot_gen *sgs, size_t n)
{
	size_t left = BENCH_ROWS - g->n, given = 0;
	double sum = 0;

	for (size_t i = 0; i < n; i++)
		if (sgs[i].sc != SC_NEW)
			sum += 1.0 / (double)sgs[i].period;
	for (size_t i = 0; i < n; i++) {
		if (sgs[i].sc == SC_NEW)
			continue;
		sgs[i].quota = (size_t)((double)left / sum / (double)sgs[i].period);
		given += sgs[i].quota;
	}
	/* n > 0: the quotas above sum to less than left only when there are slots. */
	/* NOLINTNEXTLINE(clang-analyzer-core.DivideZero) */
	for (size_t i = 0; given < left; i = (i + 1) % n) {
		if (sgs[i].sc != SC_NEW) {
			sgs[i].quota++;
			given++;
		}
	}
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < sgs[i].quota; k++)
			history_row(g, &sgs[i], k + 1 == sgs[i].quota);
}

static void
generate(struct gen *g, const struct policy *p)
{
	struct slot_gen *sgs = xcalloc(p->nslots, sizeof *sgs);

	for (size_t i = 0; i < p->nslots; i++) {
		sgs[i].s = p->slots[i];
		sgs[i].ws = (int)(p->slots[i]->ws - p->ws);
		sgs[i].id = (int64_t)i + 1;
		slot_rows(g, &sgs[i]);
	}
	unmanaged_rows(g);
	legacy_rows(g, (int64_t)p->nslots + 1);
	histories(g, sgs, p->nslots);
	free(sgs);
}

/* Database ids follow time, as they would have been handed out. */
static int
by_request(const void *x, const void *y)
{
	const struct gen_row *a = x, *b = y;

	if (a->requested_at != b->requested_at)
		return a->requested_at < b->requested_at ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static sqlite3_stmt *
prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "gen_inventory: %s: %s\n", sql, sqlite3_errmsg(db));
		exit(1);
	}
	return st;
}

static void
step(sqlite3 *db, sqlite3_stmt *st)
{
	if (sqlite3_step(st) != SQLITE_DONE) {
		fprintf(stderr, "gen_inventory: insert: %s\n", sqlite3_errmsg(db));
		exit(1);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static void
bind_time(sqlite3_stmt *st, int i, int64_t ms)
{
	if (ms != 0)
		sqlite3_bind_int64(st, i, ms);
}

static void
insert_names(sqlite3 *db, const struct policy *p)
{
	sqlite3_stmt *ws = prepare(db, "INSERT INTO workspaces (id, name) VALUES (?1, ?2)");
	sqlite3_stmt *sl =
	    prepare(db, "INSERT INTO slots (id, workspace_id, name) VALUES (?1, ?2, ?3)");
	char legacy[32];

	for (size_t w = 0; w < p->nws; w++) {
		sqlite3_bind_int64(ws, 1, (int64_t)w + 1);
		sqlite3_bind_text(ws, 2, p->ws[w].name, -1, SQLITE_STATIC);
		step(db, ws);
	}
	for (size_t i = 0; i < p->nslots; i++) {
		sqlite3_bind_int64(sl, 1, (int64_t)i + 1);
		sqlite3_bind_int64(sl, 2, p->slots[i]->ws - p->ws + 1);
		sqlite3_bind_text(sl, 3, p->slots[i]->name, -1, SQLITE_STATIC);
		step(db, sl);
	}
	for (int i = 0; i < LEGACY_SLOTS; i++) {
		snprintf(legacy, sizeof legacy, "legacy-export-%02d", i);
		sqlite3_bind_int64(sl, 1, (int64_t)p->nslots + 1 + i);
		sqlite3_bind_int(sl, 2, i % BENCH_WORKSPACES + 1);
		sqlite3_bind_text(sl, 3, legacy, -1, SQLITE_TRANSIENT);
		step(db, sl);
	}
	sqlite3_finalize(ws);
	sqlite3_finalize(sl);
}

/* A placeholder the size of a real sealed secret of this workspace's token. */
static void
bind_blob(sqlite3_stmt *st, struct rng *r, const char *ws, const char *fpr)
{
	/* "TWS1", four length-prefixed fields (24-character access key and secret), the box. */
	size_t len = 4 + (4 + strlen(ws)) + (4 + 12) + 2 * (4 + 24) + 48;
	unsigned char blob[256];

	for (size_t i = 0; i < len; i++)
		blob[i] = (unsigned char)rng_next(r);
	sqlite3_bind_blob(st, 2, blob, (int)len, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, fpr, -1, SQLITE_STATIC);
}

static void
insert_rows(sqlite3 *db, const struct policy *p, const struct gen *g, const char *fpr)
{
	sqlite3_stmt *tok = prepare(
	    db, "INSERT INTO tokens (id, workspace_id, slot_id, token, name, state, origin, "
		"requested_at, created_at, expires_at, updated_at, retire_after) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
	sqlite3_stmt *sec = prepare(
	    db, "INSERT INTO secrets (token_row, sealed, key_fingerprint) VALUES (?1, ?2, ?3)");
	struct rng r = {BENCH_SEED ^ 0x5ec7e7};

	for (size_t i = 0; i < g->n; i++) {
		const struct gen_row *row = &g->v[i];

		sqlite3_bind_int64(tok, 1, (int64_t)i + 1);
		sqlite3_bind_int(tok, 2, row->ws + 1);
		if (row->slot_id != 0)
			sqlite3_bind_int64(tok, 3, row->slot_id);
		if (row->token[0] != '\0')
			sqlite3_bind_text(tok, 4, row->token, -1, SQLITE_STATIC);
		sqlite3_bind_text(tok, 5, row->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(tok, 6, tokens_state_name(row->state), -1, SQLITE_STATIC);
		sqlite3_bind_text(tok, 7, row->imported ? "imported" : "created", -1,
				  SQLITE_STATIC);
		sqlite3_bind_int64(tok, 8, row->requested_at);
		bind_time(tok, 9, row->created_at);
		sqlite3_bind_int64(tok, 10, row->expires_at);
		sqlite3_bind_int64(tok, 11, row->updated_at);
		bind_time(tok, 12, row->retire_after);
		step(db, tok);
		/* As tokenwarden leaves them: a deleted or revoked token's was erased with it. */
		if (!row->secret || row->state == TOKEN_DELETED || row->state == TOKEN_REVOKED)
			continue;
		sqlite3_bind_int64(sec, 1, (int64_t)i + 1);
		bind_blob(sec, &r, p->ws[row->ws].name, fpr);
		step(db, sec);
	}
	sqlite3_finalize(tok);
	sqlite3_finalize(sec);
}

/*
 * The consumers each slot's active token reached, and what each file was
 * given, as a run records them (every one).
 */
static void
insert_reached(sqlite3 *db, const struct policy *p, const struct gen *g)
{
	sqlite3_stmt *st =
	    prepare(db, "INSERT INTO slot_reached (slot_id, token_row) VALUES (?1, ?2)");
	sqlite3_stmt *hd =
	    prepare(db, "INSERT INTO handed (consumer, token_row, given) VALUES (?1, ?2, ?3)");
	char key[DELIVER_FINGERPRINT_MAX];

	for (size_t i = 0; i < g->n; i++) {
		const struct gen_row *row = &g->v[i];
		const struct policy_slot *sl;

		if (row->state != TOKEN_ACTIVE || row->slot_id == 0 ||
		    row->slot_id > (int64_t)p->nslots)
			continue;
		sl = p->slots[row->slot_id - 1];
		sqlite3_bind_int64(st, 1, row->slot_id);
		sqlite3_bind_int64(st, 2, (int64_t)i + 1);
		step(db, st);
		for (size_t k = 0; k < sl->eff.ndeliver; k++) {
			char *given = deliver_given(&sl->eff.deliver[k]);

			deliver_holder(sl, &sl->eff.deliver[k], key);
			sqlite3_bind_text(hd, 1, key, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(hd, 2, (int64_t)i + 1);
			sqlite3_bind_text(hd, 3, given, -1, SQLITE_TRANSIENT);
			step(db, hd);
			free(given);
		}
	}
	sqlite3_finalize(st);
	sqlite3_finalize(hd);
}

/* Writes the public key file of pub at path, as keygen would (0644); exits on failure. */
static void
write_public(const char *path, const struct seal_pub *pub)
{
	char b64[sodium_base64_ENCODED_LEN(sizeof pub->pk, sodium_base64_VARIANT_ORIGINAL)];
	FILE *f;

	sodium_bin2base64(b64, sizeof b64, pub->pk, sizeof pub->pk, sodium_base64_VARIANT_ORIGINAL);
	f = fopen(path, "w");
	if (f == NULL || fprintf(f, "tokenwarden-seal-public v1\n%s\n", b64) < 0 ||
	    fclose(f) != 0 || chmod(path, 0644) < 0) {
		fprintf(stderr, "gen_inventory: %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

/*
 * Creates the database at path (replacing any) and fills it, and writes the
 * public key it pins to pub_path; exits on failure.
 */
static void
write_db(const char *path, const char *pub_path, const struct policy *p, const struct gen *g)
{
	static const char *const suffixes[] = {"", "-wal", "-shm", ".lock"};
	struct rng r = {BENCH_SEED ^ 0x6b6579};
	struct seal_pub pub;
	struct store *s = NULL;
	char fpr[SEAL_FPR_MAX], *cause = NULL;

	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		char *f = xasprintf("%s%s", path, suffixes[i]);

		if (unlink(f) < 0 && errno != ENOENT) {
			fprintf(stderr, "gen_inventory: %s: %s\n", f, strerror(errno));
			exit(1);
		}
		free(f);
	}
	for (size_t i = 0; i < sizeof pub.pk; i++)
		pub.pk[i] = (unsigned char)rng_next(&r);
	seal_fingerprint(&pub, fpr);
	write_public(pub_path, &pub);
	if (store_open(path, STORE_CREATE, &s, &cause) < 0)
		goto fail;
	store_set_actor(s, "bench@tokenwarden");
	if (store_pin_key(s, fpr, g->now - 1200 * DAY, &cause) < 0 || store_begin(s, &cause) < 0)
		goto fail;
	insert_names(s->db, p);
	insert_rows(s->db, p, g, fpr);
	insert_reached(s->db, p, g);
	/* Raw rows have no events: record them, so the tables follow from the history. */
	if (inventory_attest(s, g->now - 1200 * DAY, "generated for the benchmarks", &cause) < 0 ||
	    slots_attest(s, &cause) < 0 || store_commit(s, &cause) < 0)
		goto fail;
	store_close(s);
	return;
fail:
	fprintf(stderr, "gen_inventory: %s\n", cause);
	exit(1);
}

static void
summary(const struct gen *g, const struct policy *p)
{
	size_t states[TOKEN_NSTATES] = {0}, live = 0, unmanaged = 0;

	for (size_t i = 0; i < g->n; i++) {
		states[g->v[i].state]++;
		unmanaged += g->v[i].slot_id == 0;
	}
	for (int st = 0; st < TOKEN_NSTATES; st++)
		if (st != TOKEN_DELETED && st != TOKEN_FAILED && st != TOKEN_REVOKED)
			live += states[st];
	printf("gen_inventory: %zu rows (%zu live) in %zu slots of %zu workspaces, now %s\n", g->n,
	       live, p->nslots, p->nws, BENCH_NOW);
	printf("  by state:");
	for (int st = 0; st < TOKEN_NSTATES; st++)
		printf(" %s %zu%s", tokens_state_name((enum token_state)st), states[st],
		       st + 1 < TOKEN_NSTATES ? "," : "\n");
	printf("  slots:");
	for (int sc = 0; sc < SC_N; sc++)
		printf(" %s %zu%s", scenario_names[sc], g->scenarios[sc],
		       sc + 1 < SC_N ? "," : "\n");
	printf("  %zu unmanaged rows, %zu rows of %d slots the policy no longer has; %zu retiring "
	       "past grace, %zu undelivered replacements, %zu creates in flight\n",
	       unmanaged, (size_t)LEGACY_SLOTS * (LEGACY_HISTORY + 1), LEGACY_SLOTS,
	       g->stale_retiring, g->leftovers, g->pendings);
}

/* Writes DIR/policy.yaml and returns the policy loaded back from it; exits on failure. */
static struct policy *
make_policy(const char *path, int quiet)
{
	struct policy *p = NULL;
	struct diag_list d;
	size_t len = 0;
	char *text = gen_policy_text(quiet, &len);
	FILE *f = fopen(path, "w");

	/* 0600: the policy names webhooks, whose URLs often carry a secret (plan warns). */
	if (f == NULL || fwrite(text, 1, len, f) != len || fclose(f) != 0 ||
	    chmod(path, 0600) < 0) {
		fprintf(stderr, "gen_inventory: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	policy_load_buffer(path, text, len, NULL, &p, &d);
	for (size_t i = 0; i < d.n; i++) {
		char *msg = diag_format(&d, i);

		fprintf(stderr, "%s\n", msg);
		free(msg);
	}
	diag_free(&d);
	free(text);
	if (p == NULL) {
		fprintf(stderr, "gen_inventory: the generated policy does not load\n");
		exit(1);
	}
	return p;
}

int
main(int argc, char **argv)
{
	struct gen g = {.r = {BENCH_SEED ^ 0x726f7773}};
	struct policy *p;
	char *policy_path, *db_path, *pub_path;
	const char *dir = argv[argc - 1];

	g.quiet = argc == 3 && strcmp(argv[1], "--quiet") == 0;
	if (argc != 2 + g.quiet) {
		fprintf(stderr, "usage: gen_inventory [--quiet] DIR\n");
		return 2;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "gen_inventory: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	if (timefmt_parse(BENCH_NOW, &g.now) < 0)
		return 1;
	policy_path = xasprintf("%s/policy.yaml", dir);
	db_path = xasprintf("%s/tokenwarden.db", dir);
	pub_path = xasprintf("%s/seal.pub", dir);
	p = make_policy(policy_path, g.quiet);
	generate(&g, p);
	qsort(g.v, g.n, sizeof *g.v, by_request);
	write_db(db_path, pub_path, p, &g);
	summary(&g, p);
	for (size_t i = 0; i < g.n; i++)
		free(g.v[i].name);
	free(g.v);
	policy_free(p);
	free(policy_path);
	free(db_path);
	free(pub_path);
	return 0;
}
