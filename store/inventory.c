/* The inventory against its history: row digests in events, and their check. */
#include "store/inventory.h"

#include "core/xalloc.h"
#include "store/events.h"
#include "store/store_priv.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/*
 * What a row's digest covers, by column: the ids that tie it to its
 * workspace and slot and their names (so a renamed workspace shows), every
 * column of its own, and whether it holds a sealed secret.  LEFT JOINs: a
 * row pointed at a workspace that does not exist is still compared.
 */
#define DIGEST_COLUMNS_AS(HAS)                                                                     \
	"t.id, t.workspace_id, w.name, t.slot_id, sl.name, t.token, t.name, t.state, t.origin, "   \
	"t.requested_at, t.created_at, t.expires_at, t.updated_at, t.retire_after, " HAS
/* One row at a time, during a migration too: no index of a later schema. */
#define DIGEST_COLUMNS                                                                             \
	DIGEST_COLUMNS_AS("EXISTS (SELECT 1 FROM secrets x WHERE x.token_row = t.id)")
#define DIGEST_NCOLUMNS 15
#define DIGEST_JOINS                                                                               \
	"LEFT JOIN workspaces w ON w.id = t.workspace_id LEFT JOIN slots sl ON sl.id = t.slot_id "
#define DIGEST_FROM " FROM tokens t " DIGEST_JOINS

/* The row an event is about: a column generated from its details (schema 5), indexed. */
#define EVENT_ROW "token_row"

/*
 * Each row of a scope (from FROM) with the digest its last event recorded,
 * read from the index of a row's events alone (schema 9; events_verify
 * holds the column to the hashed details).  The event's id is looked up
 * only for a row that differs (last_event).
 */
#define WITH_LAST_DIGEST(FROM)                                                                     \
	"SELECT " DIGEST_COLUMNS_AS(                                                               \
	    STORE_HAS_SECRET) ", (SELECT e.row_digest FROM events e "                              \
			      "INDEXED BY events_by_row WHERE e." EVENT_ROW                        \
			      " = t.id ORDER BY e.id DESC LIMIT 1)" FROM
/* The rows of each scope with ids from ?1 up to ?2, excluded. */
static const char *const compare_sql[] = {
    [INVENTORY_ALL] = WITH_LAST_DIGEST(DIGEST_FROM) "WHERE t.id >= ?1 AND t.id < ?2 ORDER BY t.id",
    /* The live rows alone, read from the index that holds them (schema 7). */
    [INVENTORY_LIVE] = WITH_LAST_DIGEST(
	" FROM tokens t INDEXED BY tokens_live " DIGEST_JOINS) "WHERE t.state IN " STORE_LIVE_STATES
							       " AND t.id >= ?1 AND t.id < ?2 "
							       "ORDER BY t.id",
};

/* The most a row's columns take in digest_of's buffer before it hashes in pieces. */
#define DIGEST_BUF 1024

/*
 * Appends column i of st to b (at *len, room for DIGEST_BUF): a type tag,
 * then the value (a length before text).  What does not fit is hashed
 * into h first, so the bytes hashed are the same whatever the length.
 */
static void
put_column(crypto_generichash_state *h, unsigned char *b, size_t *len, sqlite3_stmt *st, int i)
{
	/*
	 * Through the column's value: one call into the statement per column
	 * rather than three, which made up most of a row's cost.  The value is
	 * "unprotected" (sqlite3_column_value(3)), which only matters to a
	 * connection shared by threads; a store's never is (store.h).
	 */
	sqlite3_value *val = sqlite3_column_value(st, i);
	int type = sqlite3_value_type(val);
	const unsigned char *text = NULL;
	size_t n = 0;
	uint64_t v;

	if (*len + 9 > DIGEST_BUF) {
		crypto_generichash_update(h, b, *len);
		*len = 0;
	}
	b[(*len)++] = type == SQLITE_INTEGER ? 'i' : type == SQLITE_NULL ? 'n' : 't';
	if (type == SQLITE_NULL)
		return;
	if (type == SQLITE_INTEGER) {
		v = (uint64_t)sqlite3_value_int64(val);
	} else {
		text = sqlite3_value_text(val);
		n = (size_t)sqlite3_value_bytes(val);
		v = n;
	}
	for (int k = 7; k >= 0; k--, v >>= 8)
		b[*len + (size_t)k] = (unsigned char)(v & 0xff);
	*len += 8;
	if (n == 0)
		return;
	if (*len + n > DIGEST_BUF) {
		crypto_generichash_update(h, b, *len);
		crypto_generichash_update(h, text, n);
		*len = 0;
		return;
	}
	memcpy(b + *len, text, n);
	*len += n;
}

/*
 * d in lower-case hex, as sodium_bin2hex writes it.  A digest is no
 * secret: a table does it without bin2hex's constant-time arithmetic,
 * which cost a check of 21,000 rows more than their hashing.
 */
static void
hex(char out[INVENTORY_DIGEST_MAX], const unsigned char d[INVENTORY_DIGEST_BYTES])
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < INVENTORY_DIGEST_BYTES; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 0x0f];
	}
	out[2 * INVENTORY_DIGEST_BYTES] = '\0';
}

/*
 * The digest of the row st holds in its first DIGEST_NCOLUMNS columns, in
 * hex.  The columns go through one buffer: BLAKE2b hashes a stream, so this
 * is the digest of the same bytes, at a fraction of the cost of hashing
 * each piece by itself.
 */
static void
digest_of(sqlite3_stmt *st, char out[INVENTORY_DIGEST_MAX])
{
	static const char tag[] = "tokenwarden-row-v1";
	unsigned char d[INVENTORY_DIGEST_BYTES], b[DIGEST_BUF];
	crypto_generichash_state h;
	size_t len = sizeof tag;

	crypto_generichash_init(&h, NULL, 0, sizeof d);
	memcpy(b, tag, sizeof tag);
	for (int i = 0; i < DIGEST_NCOLUMNS; i++)
		put_column(&h, b, &len, st, i);
	crypto_generichash_update(&h, b, len);
	crypto_generichash_final(&h, d, sizeof d);
	hex(out, d);
}

int
inventory_stamp(struct store *s, int64_t row, json_t *details, char **ws, char **slot, char **token,
		char **cause)
{
	sqlite3_stmt *st =
	    store_prepare(s, "SELECT " DIGEST_COLUMNS DIGEST_FROM "WHERE t.id = ?1", cause);
	char digest[INVENTORY_DIGEST_MAX];
	int step;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, row);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		digest_of(st, digest);
		*ws = store_column_dup(st, 2);
		*slot = store_column_dup(st, 4);
		*token = store_column_dup(st, 5);
		json_object_set_new(details, "row", json_integer(row));
		json_object_set_new(details, "digest", json_string(digest));
	} else if (step == SQLITE_DONE) {
		*cause = xasprintf("%s: no token row %lld", s->path, (long long)row);
	} else {
		store_error(s, "reading a token row", cause);
	}
	store_done(s, st);
	return step == SQLITE_ROW ? 0 : -1;
}

/* Sets *event to the id of row's last event (0: none); returns 0, or -1 with *cause. */
static int
last_event(struct store *s, int64_t row, int64_t *event, char **cause)
{
	sqlite3_stmt *st =
	    store_prepare(s, "SELECT max(id) FROM events WHERE " EVENT_ROW " = ?1", cause);
	int step;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, row);
	step = sqlite3_step(st);
	*event = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	if (step != SQLITE_ROW)
		store_error(s, "reading a token row's last event", cause);
	store_done(s, st);
	return step == SQLITE_ROW ? 0 : -1;
}

/* Compares each row of scope with its last event; returns the differences or -1. */
static int
compare_rows(struct store *s, enum inventory_scope scope, int64_t lo, int64_t hi,
	     int (*fn)(const struct inventory_diff *d, void *arg), void *arg, int64_t *rows,
	     int *stop, char **cause)
{
	sqlite3_stmt *st = store_prepare(s, compare_sql[scope], cause);
	char digest[INVENTORY_DIGEST_MAX];
	const char *recorded;
	int step, n = 0;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, lo);
	sqlite3_bind_int64(st, 2, hi);
	for (step = sqlite3_step(st); step == SQLITE_ROW && !*stop; step = sqlite3_step(st)) {
		struct inventory_diff d = {
		    .row = sqlite3_column_int64(st, 0),
		    .workspace = (const char *)sqlite3_column_text(st, 2),
		    .slot = (const char *)sqlite3_column_text(st, 4),
		    .token = (const char *)sqlite3_column_text(st, 5),
		    .state = (const char *)sqlite3_column_text(st, 7),
		};

		(*rows)++;
		recorded = (const char *)sqlite3_column_text(st, DIGEST_NCOLUMNS);
		digest_of(st, digest);
		if (recorded != NULL && strcmp(recorded, digest) == 0)
			continue;
		if (last_event(s, d.row, &d.event, cause) < 0) {
			n = -1;
			break;
		}
		d.what = d.event == 0 ? INVENTORY_UNRECORDED : INVENTORY_EDITED;
		n++;
		*stop = fn(&d, arg) != 0;
	}
	if (n >= 0 && step != SQLITE_ROW && step != SQLITE_DONE) {
		store_error(s, "comparing the tokens with the history", cause);
		n = -1;
	}
	store_done(s, st);
	return n;
}

/* Finds the rows the history names that the table lacks; returns their number or -1. */
static int
missing_rows(struct store *s, int (*fn)(const struct inventory_diff *d, void *arg), void *arg,
	     int *stop, char **cause)
{
	sqlite3_stmt *st = store_prepare(
	    s,
	    "SELECT " EVENT_ROW ", max(id) FROM events WHERE " EVENT_ROW
	    " IS NOT NULL AND " EVENT_ROW " NOT IN (SELECT id FROM tokens) GROUP BY 1 ORDER BY 1",
	    cause);
	int step, n = 0;

	if (st == NULL)
		return -1;
	for (step = sqlite3_step(st); step == SQLITE_ROW && !*stop; step = sqlite3_step(st)) {
		struct inventory_diff d = {
		    .what = INVENTORY_MISSING,
		    .row = sqlite3_column_int64(st, 0),
		    .event = sqlite3_column_int64(st, 1),
		};

		n++;
		*stop = fn(&d, arg) != 0;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
		store_error(s, "comparing the history with the tokens", cause);
		n = -1;
	}
	store_done(s, st);
	return n;
}

int
inventory_verify(struct store *s, enum inventory_scope scope,
		 int (*fn)(const struct inventory_diff *d, void *arg), void *arg, int64_t *rows,
		 char **cause)
{
	int stop = 0, edited, missing = 0;

	*rows = 0;
	edited = compare_rows(s, scope, INT64_MIN, INT64_MAX, fn, arg, rows, &stop, cause);
	if (edited < 0)
		return -1;
	if (scope == INVENTORY_ALL && !stop)
		missing = missing_rows(s, fn, arg, &stop, cause);
	return missing < 0 ? -1 : edited + missing;
}

int
inventory_verify_live(struct store *s, int64_t lo, int64_t hi,
		      int (*fn)(const struct inventory_diff *d, void *arg), void *arg,
		      int64_t *rows, char **cause)
{
	int stop = 0;

	*rows = 0;
	return compare_rows(s, INVENTORY_LIVE, lo, hi, fn, arg, rows, &stop, cause);
}

int
inventory_live_middle(struct store *s, int64_t *mid, char **cause)
{
	sqlite3_stmt *st = store_prepare(
	    s,
	    "SELECT id FROM tokens INDEXED BY tokens_live WHERE state IN " STORE_LIVE_STATES
	    " ORDER BY id LIMIT 1 OFFSET (SELECT count(*) / 2 FROM tokens INDEXED BY "
	    "tokens_live WHERE state IN " STORE_LIVE_STATES ")",
	    cause);
	int step;

	if (st == NULL)
		return -1;
	step = sqlite3_step(st);
	*mid = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : INT64_MAX;
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		store_error(s, "reading the live token rows", cause);
	store_done(s, st);
	return step == SQLITE_ROW || step == SQLITE_DONE ? 0 : -1;
}

char *
inventory_diff_text(const struct inventory_diff *d)
{
	char *who;
	char *text;

	if (d->what == INVENTORY_MISSING)
		return xasprintf("token row %lld is in the history (event %lld) but not in the "
				 "table: it was removed outside tokenwarden",
				 (long long)d->row, (long long)d->event);
	who = xasprintf("token row %lld (%s/%s, %s, %s)", (long long)d->row,
			d->workspace != NULL ? d->workspace : "no workspace",
			d->slot != NULL ? d->slot : "-", d->token != NULL ? d->token : "no id",
			d->state != NULL ? d->state : "?");
	if (d->what == INVENTORY_UNRECORDED)
		text = xasprintf("%s: no event records it; it was added outside tokenwarden", who);
	else
		text = xasprintf("%s differs from what its last event (%lld) recorded: it was "
				 "edited outside tokenwarden",
				 who, (long long)d->event);
	free(who);
	return text;
}

int
inventory_attest(struct store *s, int64_t now, const char *reason, char **cause)
{
	sqlite3_stmt *st =
	    store_prepare(s, "SELECT " DIGEST_COLUMNS DIGEST_FROM "ORDER BY t.id", cause);
	char digest[INVENTORY_DIGEST_MAX];
	int step, rc = 0;

	if (st == NULL)
		return -1;
	for (step = sqlite3_step(st); step == SQLITE_ROW && rc == 0; step = sqlite3_step(st)) {
		json_t *d = json_object();

		digest_of(st, digest);
		json_object_set_new(d, "row", json_integer(sqlite3_column_int64(st, 0)));
		json_object_set_new(d, "digest", json_string(digest));
		json_object_set_new(d, "reason", json_string(reason));
		rc = events_append(s, now, "token.attested",
				   (const char *)sqlite3_column_text(st, 2),
				   (const char *)sqlite3_column_text(st, 4),
				   (const char *)sqlite3_column_text(st, 5), d, cause);
		json_decref(d);
	}
	if (rc == 0 && step != SQLITE_DONE) {
		store_error(s, "recording the token rows", cause);
		rc = -1;
	}
	store_done(s, st);
	return rc;
}
