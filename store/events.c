/* The hash-chained history. */
#include "store/events.h"
#include "store/inventory.h"
#include "store/store_priv.h"

#include "core/fieldhash.h"
#include "core/jsonx.h"
#include "core/xalloc.h"

#include <sodium.h>
#include <sqlite3.h>
#include <string.h>

static const unsigned char genesis[EVENTS_HASH_BYTES]; /* all zero */

/* The store's, a token's in the order of its life, then the reveals', runs', slots' and clocks'. */
const char *const events_kinds[] = {
    "store.init",
    "store.rekey",
    "store.restored",
    "token.intent",
    "token.created",
    "token.verified",
    "token.delivering",
    "token.active",
    "token.retiring",
    "token.deleted",
    "token.failed",
    "token.unknown",
    "token.revoked",
    "token.imported",
    "token.attested",
    "secret.revealed",
    "secret.reveal_failed",
    "secret.resealed",
    "secret.recorded",
    "secret.dropped",
    "secret.erased",
    "run.start",
    "run.end",
    "slot.failure",
    "slot.recovered",
    "consumer.handed",
    "workspace.clock",
    "workspace.clock_agrees",
    NULL,
};

static int
listed(const char *kind)
{
	for (size_t i = 0; events_kinds[i] != NULL; i++)
		if (strcmp(events_kinds[i], kind) == 0)
			return 1;
	return 0;
}

static void
event_hash(const unsigned char prev[EVENTS_HASH_BYTES], int64_t id, int64_t at, const char *actor,
	   const char *kind, const char *workspace, const char *slot, const char *token,
	   const char *details, unsigned char out[EVENTS_HASH_BYTES])
{
	crypto_generichash_state h;

	crypto_generichash_init(&h, NULL, 0, EVENTS_HASH_BYTES);
	crypto_generichash_update(&h, prev, EVENTS_HASH_BYTES);
	fieldhash_text(&h, "tokenwarden-event-v1");
	fieldhash_u64(&h, (uint64_t)id);
	fieldhash_u64(&h, (uint64_t)at);
	fieldhash_text(&h, actor);
	fieldhash_text(&h, kind);
	fieldhash_text(&h, workspace);
	fieldhash_text(&h, slot);
	fieldhash_text(&h, token);
	fieldhash_text(&h, details);
	crypto_generichash_final(&h, out, EVENTS_HASH_BYTES);
}

static const char *
col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/*
 * The first of an event's columns (as events_verify_part reads them) stored
 * as a type events_append never writes, or NULL: its hash reads each as
 * text or an integer, so a blob of the same bytes would pass unseen.
 */
static const char *
mistyped(sqlite3_stmt *st)
{
	static const char *const names[] = {"id",        "at",   "actor", "kind",
					    "workspace", "slot", "token", "details"};

	for (int i = 0; i < 8; i++) {
		int type = sqlite3_column_type(st, i);

		if (i < 2 ? type != SQLITE_INTEGER
			  : type != SQLITE_TEXT && !(i >= 4 && i <= 6 && type == SQLITE_NULL))
			return names[i];
	}
	return NULL;
}

/* Reads the last event's id and hash; genesis and 0 when there is none. */
static int
last_event(struct store *s, int64_t *id, unsigned char hash[EVENTS_HASH_BYTES], char **cause)
{
	sqlite3_stmt *st = NULL;
	int rc = -1, step;

	st = store_prepare(s, "SELECT id, hash FROM events ORDER BY id DESC LIMIT 1", cause);
	if (st == NULL)
		return -1;
	step = sqlite3_step(st);
	if (step == SQLITE_DONE) {
		*id = 0;
		memcpy(hash, genesis, EVENTS_HASH_BYTES);
		rc = 0;
	} else if (step == SQLITE_ROW && sqlite3_column_bytes(st, 1) == EVENTS_HASH_BYTES) {
		*id = sqlite3_column_int64(st, 0);
		memcpy(hash, sqlite3_column_blob(st, 1), EVENTS_HASH_BYTES);
		rc = 0;
	} else {
		store_error(s, "reading the last event (run 'tokenwarden audit verify')", cause);
	}
	store_done(s, st);
	return rc;
}

int
events_last_id(struct store *s, int64_t *id, char **cause)
{
	sqlite3_stmt *st = store_prepare(s, "SELECT coalesce(max(id), 0) FROM events", cause);
	int step;

	if (st == NULL)
		return -1;
	step = sqlite3_step(st);
	*id = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	if (step != SQLITE_ROW)
		store_error(s, "reading the last event", cause);
	store_done(s, st);
	return step == SQLITE_ROW ? 0 : -1;
}

/* The next id AUTOINCREMENT will hand out, from sqlite_sequence. */
static int64_t
next_id(struct store *s, int64_t last)
{
	char *cause = NULL;
	sqlite3_stmt *st =
	    store_prepare(s, "SELECT seq FROM sqlite_sequence WHERE name = 'events'", &cause);
	int64_t seq = last;

	free(cause);
	if (st != NULL && sqlite3_step(st) == SQLITE_ROW)
		seq = sqlite3_column_int64(st, 0);
	store_done(s, st);
	return (seq > last ? seq : last) + 1;
}

int
events_append(struct store *s, int64_t at, const char *kind, const char *workspace,
	      const char *slot, const char *token, const json_t *details, char **cause)
{
	_Static_assert(sizeof s->head.hash == EVENTS_HASH_BYTES, "the head's hash is an event's");
	unsigned char prev[EVENTS_HASH_BYTES], hash[EVENTS_HASH_BYTES];
	json_t *empty = NULL;
	char small[1024], *dumped = NULL;
	const char *text;
	sqlite3_stmt *st = NULL;
	int64_t last, id;
	size_t len;
	int rc = -1;

	if (kind == NULL || !listed(kind)) {
		*cause = xasprintf("internal error: event kind '%s' is not in events_kinds "
				   "(store/events.c); nothing was recorded",
				   kind != NULL ? kind : "(null)");
		return -1;
	}
	if (details == NULL)
		details = empty = json_object();
	/* Most details fit the buffer: no allocation to grow, none to wipe. */
	len = json_dumpb(details, small, sizeof small, JSON_COMPACT | JSON_SORT_KEYS);
	if (len > 0 && len < sizeof small) {
		small[len] = '\0';
		text = small;
	} else {
		text = dumped = json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS);
	}
	if (text == NULL) {
		*cause =
		    xasprintf("%s: writing an event's details failed (out of memory)", s->path);
		goto out;
	}
	/* An error may have ended the transaction without the caller's rollback yet. */
	if (s->head.known && !sqlite3_get_autocommit(s->db)) {
		last = s->head.id;
		memcpy(prev, s->head.hash, EVENTS_HASH_BYTES);
		/* AUTOINCREMENT's sequence is the id this transaction inserted last. */
		id = last + 1;
	} else if (last_event(s, &last, prev, cause) < 0) {
		goto out;
	} else {
		id = next_id(s, last);
	}
	event_hash(prev, id, at, s->actor, kind, workspace, slot, token, text, hash);
	st = store_prepare(s,
			   "INSERT INTO events (id, at, actor, kind, workspace, slot, token, "
			   "details, prev_hash, hash, row_digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
			   "?7, ?8, ?9, ?10, ?11)",
			   cause);
	if (st == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, at);
	sqlite3_bind_text(st, 3, s->actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, workspace, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, slot, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, token, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, text, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 9, prev, EVENTS_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(st, 10, hash, EVENTS_HASH_BYTES, SQLITE_STATIC);
	/* What json_extract(details, '$.digest') gives for a text, which events_verify checks. */
	sqlite3_bind_text(st, 11, json_string_value(json_object_get(details, "digest")), -1,
			  SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_error(s, "recording an event", cause);
		goto out;
	}
	/* Outside a transaction of store_begin's, another connection may append next. */
	s->head.known = s->depth > 0;
	s->head.id = id;
	memcpy(s->head.hash, hash, EVENTS_HASH_BYTES);
	rc = inventory_record(s, details, cause);
out:
	store_done(s, st);
	jsonx_free(dumped);
	json_decref(empty);
	return rc;
}

static void
to_hex(const unsigned char *h, char out[EVENTS_HEAD_MAX])
{
	sodium_bin2hex(out, EVENTS_HEAD_MAX, h, EVENTS_HASH_BYTES);
}

int
events_split(struct store *s, struct events_part *parts, size_t n, char **cause)
{
	/* Each bound from the rowid B-tree's edge: one query of both would read every row. */
	sqlite3_stmt *st = store_prepare(
	    s, "SELECT (SELECT min(id) FROM events), (SELECT max(id) FROM events)", cause);
	int64_t lo = 0, hi = 0;
	uint64_t span;
	int step;

	if (st == NULL)
		return -1;
	step = sqlite3_step(st);
	if (step == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		lo = sqlite3_column_int64(st, 0);
		hi = sqlite3_column_int64(st, 1);
	}
	if (step != SQLITE_ROW)
		store_error(s, "reading the history", cause);
	store_done(s, st);
	if (step != SQLITE_ROW)
		return -1;
	/* Unsigned: a tampered id may lie anywhere in int64_t. */
	span = (uint64_t)hi - (uint64_t)lo;
	for (size_t i = 0; i < n; i++) {
		memset(&parts[i], 0, sizeof parts[i]);
		/* With fewer ids than parts, the last takes them all and the others none. */
		if (span < n) {
			parts[i].from = 1;
			parts[i].to = 0;
		} else {
			parts[i].from = i == 0 ? INT64_MIN : parts[i - 1].to + 1;
			parts[i].to = (int64_t)((uint64_t)lo + span / n * (i + 1) - 1);
		}
	}
	if (span < n)
		parts[n - 1].from = INT64_MIN;
	parts[n - 1].to = INT64_MAX;
	return 0;
}

/* Marks part broken at id, for why (taken). */
static void
breaks(struct events_part *part, int64_t id, char *why)
{
	part->broken = 1;
	part->bad_id = id;
	part->why = why;
}

static char *
unlinked(int64_t id)
{
	return xasprintf("event %lld does not link to the event before it: an event was edited, "
			 "removed or reordered",
			 (long long)id);
}

/* Why event id cannot follow event last (0: it is the first), its ids not running on. */
static char *
deleted_before(int64_t id, int64_t last)
{
	/* Ids only rise, so this is a first id of 0 or less: ids start at 1. */
	if (id <= last)
		return xasprintf("event %lld comes first, where event 1 should: the events' ids "
				 "were edited",
				 (long long)id);
	return xasprintf("event %lld follows event %lld: %llu event(s) before it were deleted",
			 (long long)id, (long long)last,
			 (unsigned long long)((uint64_t)id - (uint64_t)last - 1));
}

int
events_verify_part(struct store *s, struct events_part *part, char **cause)
{
	unsigned char prev[EVENTS_HASH_BYTES], want[EVENTS_HASH_BYTES];
	sqlite3_stmt *st = NULL;
	/* The last part and the next id of one snapshot: a statement's own ends at its last
	 * row, and a writer's commit after it would look like events deleted. */
	int own = part->to == INT64_MAX && sqlite3_get_autocommit(s->db), step;

	part->read = part->first = part->last = part->bad_id = part->next = 0;
	part->broken = 0;
	part->why = NULL;
	memset(part->links, 0, sizeof part->links);
	memcpy(part->head, genesis, sizeof part->head);
	st = store_prepare(s,
			   "SELECT id, at, actor, kind, workspace, slot, token, details, "
			   "prev_hash, hash, row_digest IS NOT " STORE_DETAILS_DIGEST
			   " FROM events WHERE id BETWEEN ?1 AND ?2 ORDER BY id",
			   cause);
	if (st == NULL)
		return -1;
	if (own && store_read_begin(s, cause) < 0) {
		store_done(s, st);
		return -1;
	}
	sqlite3_bind_int64(st, 1, part->from);
	sqlite3_bind_int64(st, 2, part->to);
	for (step = sqlite3_step(st); step == SQLITE_ROW; step = sqlite3_step(st)) {
		int64_t id = sqlite3_column_int64(st, 0);
		int sized = sqlite3_column_bytes(st, 8) == EVENTS_HASH_BYTES &&
			    sqlite3_column_bytes(st, 9) == EVENTS_HASH_BYTES;

		/* The first's place and link are the join's to judge, against the part before. */
		if (part->read++ == 0) {
			part->first = id;
			if (sized)
				memcpy(part->links, sqlite3_column_blob(st, 8), sizeof part->links);
			memcpy(prev, part->links, sizeof prev);
		} else if (id != part->last + 1) {
			breaks(part, id, deleted_before(id, part->last));
			break;
		}
		if (!sized || memcmp(sqlite3_column_blob(st, 8), prev, EVENTS_HASH_BYTES) != 0) {
			breaks(part, id, unlinked(id));
			break;
		}
		if (mistyped(st) != NULL) {
			breaks(part, id,
			       xasprintf("event %lld's %s is not stored as it was written: it was "
					 "edited after it was written",
					 (long long)id, mistyped(st)));
			break;
		}
		event_hash(prev, id, sqlite3_column_int64(st, 1), col_text(st, 2), col_text(st, 3),
			   col_text(st, 4), col_text(st, 5), col_text(st, 6), col_text(st, 7),
			   want);
		if (memcmp(sqlite3_column_blob(st, 9), want, EVENTS_HASH_BYTES) != 0) {
			breaks(part, id,
			       xasprintf("event %lld does not match its hash: it was edited "
					 "after it was written",
					 (long long)id));
			break;
		}
		/* The column the start-of-run check reads, held to the hashed details. */
		if (sqlite3_column_int(st, 10) != 0) {
			breaks(part, id,
			       xasprintf("event %lld's row digest differs from its details: it "
					 "was edited after it was written",
					 (long long)id));
			break;
		}
		memcpy(prev, want, sizeof prev);
		memcpy(part->head, want, sizeof part->head);
		part->last = id;
	}
	if (!part->broken && step != SQLITE_DONE) {
		store_error(s, "reading the history", cause);
		store_done(s, st);
		if (own)
			store_read_end(s);
		return -1;
	}
	if (part->to == INT64_MAX)
		part->next = next_id(s, part->last);
	store_done(s, st);
	if (own)
		store_read_end(s);
	return 0;
}

int
events_verify_join(struct events_part *parts, size_t n, int64_t *count, char head[EVENTS_HEAD_MAX],
		   int64_t *bad_id, char **cause)
{
	unsigned char prev[EVENTS_HASH_BYTES];
	int64_t last = 0, total = 0, next;
	int rc = 0;

	memcpy(prev, genesis, sizeof prev);
	head[0] = '\0';
	*bad_id = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct events_part *p = &parts[i];

		if (p->read == 0)
			continue;
		rc = 1;
		if (p->first != last + 1) {
			*bad_id = p->first;
			*cause = deleted_before(p->first, last);
		} else if (memcmp(p->links, prev, sizeof prev) != 0) {
			*bad_id = p->first;
			*cause = unlinked(p->first);
		} else if (p->broken) {
			*bad_id = p->bad_id;
			*cause = p->why;
			p->why = NULL;
		} else {
			rc = 0;
			memcpy(prev, p->head, sizeof prev);
			last = p->last;
			total += p->read;
		}
	}
	for (size_t i = 0; i < n; i++)
		FREE_NULL(&parts[i].why);
	if (rc != 0 || n == 0)
		return rc;
	/* The last part's: the store's next id, from its own snapshot, is past every event. */
	next = parts[n - 1].next - 1 > last ? parts[n - 1].next : last + 1;
	if (next != last + 1) {
		*cause = xasprintf("the history ends at event %lld but event %lld was written: "
				   "the last event(s) were deleted",
				   (long long)last, (long long)(next - 1));
		return 1;
	}
	if (total > 0)
		to_hex(prev, head);
	*count = total;
	return 0;
}

int
events_verify(struct store *s, int64_t *count, char head[EVENTS_HEAD_MAX], int64_t *bad_id,
	      char **cause)
{
	struct events_part all;

	if (events_split(s, &all, 1, cause) < 0 || events_verify_part(s, &all, cause) < 0)
		return -1;
	return events_verify_join(&all, 1, count, head, bad_id, cause);
}

int
events_head(struct store *s, char head[EVENTS_HEAD_MAX], int64_t *count, char **cause)
{
	unsigned char h[EVENTS_HASH_BYTES];
	int64_t id;

	if (last_event(s, &id, h, cause) < 0)
		return -1;
	*count = id;
	head[0] = '\0';
	if (id > 0)
		to_hex(h, head);
	return 0;
}

int
events_list(struct store *s, const struct event_filter *f,
	    int (*fn)(const struct event *e, void *arg), void *arg, char **cause)
{
	sqlite3_stmt *st = NULL;
	int rc = -1, step;

	st = store_prepare(s,
			   "SELECT id, at, actor, kind, workspace, slot, token, details, hash "
			   "FROM events WHERE (?1 = 0 OR at >= ?1) AND (?2 = 0 OR at < ?2) "
			   "AND (?3 IS NULL OR kind = ?3) AND (?4 IS NULL OR workspace = ?4) "
			   "AND (?5 IS NULL OR slot = ?5) ORDER BY id",
			   cause);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, f->since);
	sqlite3_bind_int64(st, 2, f->until);
	sqlite3_bind_text(st, 3, f->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, f->workspace, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, f->slot, -1, SQLITE_STATIC);
	for (step = sqlite3_step(st); step == SQLITE_ROW; step = sqlite3_step(st)) {
		struct event e = {
		    .id = sqlite3_column_int64(st, 0),
		    .at = sqlite3_column_int64(st, 1),
		    .actor = col_text(st, 2),
		    .kind = col_text(st, 3),
		    .workspace = col_text(st, 4),
		    .slot = col_text(st, 5),
		    .token = col_text(st, 6),
		    .details = col_text(st, 7),
		};

		if (sqlite3_column_bytes(st, 8) == EVENTS_HASH_BYTES)
			to_hex(sqlite3_column_blob(st, 8), e.hash);
		rc = fn(&e, arg);
		if (rc != 0)
			goto out;
	}
	if (step != SQLITE_DONE) {
		store_error(s, "reading the history", cause);
		rc = -1;
		goto out;
	}
	rc = 0;
out:
	store_done(s, st);
	return rc;
}

int
events_row_facts(struct store *s, struct event_row_facts **out, int64_t *n, char **cause)
{
	/* One pass in id order: the first creator stays, the last verification wins. */
	sqlite3_stmt *max =
	    store_prepare(s, "SELECT coalesce(max(id), 0), count(*) FROM tokens", cause);
	sqlite3_stmt *st = NULL;
	int step, rc = -1;

	*out = NULL;
	*n = 0;
	if (max == NULL)
		return -1;
	if (sqlite3_step(max) != SQLITE_ROW) {
		store_error(s, "reading the tokens", cause);
		goto out;
	}
	/* Ids are dense; one far past the count (an edited store) gets no facts, not an
	 * array as large as it says. */
	*n = sqlite3_column_int64(max, 0);
	if (*n > 2 * sqlite3_column_int64(max, 1) + 65536)
		*n = 2 * sqlite3_column_int64(max, 1) + 65536;
	(*n)++;
	*out = xcalloc((size_t)*n, sizeof **out);
	st = store_prepare(s,
			   "SELECT token_row, kind, actor, at FROM events WHERE kind IN "
			   "('token.intent', 'token.imported', 'token.verified') AND token_row "
			   "IS NOT NULL ORDER BY id",
			   cause);
	if (st == NULL)
		goto out;
	for (step = sqlite3_step(st); step == SQLITE_ROW; step = sqlite3_step(st)) {
		int64_t row = sqlite3_column_int64(st, 0);
		const char *kind = (const char *)sqlite3_column_text(st, 1);
		struct event_row_facts *f = row > 0 && row < *n ? &(*out)[row] : NULL;

		if (f == NULL || kind == NULL)
			continue;
		if (strcmp(kind, "token.verified") == 0)
			f->verified_at = sqlite3_column_int64(st, 3);
		else if (f->creator == NULL)
			f->creator = store_column_dup(st, 2);
	}
	if (step != SQLITE_DONE) {
		store_error(s, "reading the history of the tokens", cause);
		goto out;
	}
	rc = 0;
out:
	if (rc < 0) {
		for (int64_t i = 0; *out != NULL && i < *n; i++)
			free((*out)[i].creator);
		FREE_NULL(out);
		*n = 0;
	}
	store_done(s, st);
	store_done(s, max);
	return rc;
}

int
events_last_active(struct store *s,
		   int (*fn)(const char *workspace, const char *slot, int64_t at, void *arg),
		   void *arg, char **cause)
{
	/* The kind written out: the index holds that kind alone (schema 9). */
	sqlite3_stmt *st =
	    store_prepare(s,
			  "SELECT workspace, slot, max(at) FROM events INDEXED BY events_by_kind "
			  "WHERE kind = 'token.active' AND workspace IS NOT NULL AND slot IS NOT "
			  "NULL GROUP BY 1, 2",
			  cause);
	int rc = 0, step;

	if (st == NULL)
		return -1;
	for (step = sqlite3_step(st); step == SQLITE_ROW && rc == 0; step = sqlite3_step(st))
		rc = fn((const char *)sqlite3_column_text(st, 0),
			(const char *)sqlite3_column_text(st, 1), sqlite3_column_int64(st, 2), arg);
	if (rc == 0 && step != SQLITE_DONE) {
		store_error(s, "reading the history", cause);
		rc = -1;
	}
	store_done(s, st);
	return rc;
}
