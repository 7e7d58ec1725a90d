/* The inventory against its history: row digests in events, and their check. */
#include "store/inventory.h"

#include "core/clock.h"
#include "core/xalloc.h"
#include "store/events.h"
#include "store/store_priv.h"
#include "store/tokens.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/*
 * What a row's digest covers, in this order: its id, its workspace's id and
 * name, its slot's id and name (so a renamed workspace shows), the rest of
 * its columns, and whether it holds a sealed secret.  The statements read
 * the row's own columns (ROW_COLUMNS_AS, digest_of) and take the names from
 * NAME_COLUMNS joined, or, where a statement reads many rows, from the
 * names read once as tokens_live reads them (tokens_names_load): a look-up
 * of each in the tables cost a check of every live row more than its
 * hashing.
 */
#define ROW_COLUMNS_AS(HAS)                                                                        \
	"t.id, t.workspace_id, t.slot_id, t.token, t.name, t.state, t.origin, t.requested_at, "    \
	"t.created_at, t.expires_at, t.updated_at, t.retire_after, " HAS
#define ROW_NCOLUMNS 13
/* Column ROW_NCOLUMNS and the next: the names, joined.  A row pointed at a
 * workspace that does not exist is still compared (LEFT JOIN). */
#define NAME_COLUMNS                                                                               \
	", w.name, sl.name FROM tokens t LEFT JOIN workspaces w ON w.id = t.workspace_id "         \
	"LEFT JOIN slots sl ON sl.id = t.slot_id "
/* One row at a time, during a migration too: no index of a later schema. */
#define ROW_WITH_NAMES                                                                             \
	"SELECT " ROW_COLUMNS_AS("EXISTS (SELECT 1 FROM secrets x WHERE x.token_row = t.id)")      \
	    NAME_COLUMNS

/* The row an event is about: a column generated from its details (schema 5), indexed. */
#define EVENT_ROW "token_row"

/*
 * Each row of a scope (from FROM) with the digest its last event recorded,
 * as the row keeps it (column ROW_NCOLUMNS, schema 13), read with the rest
 * of a live row from the index of them.  The event's id is looked up only
 * for a row that differs (last_event).  Whether it holds a secret is found
 * beside it (struct secret_walk): the column is only its place.
 */
#define WITH_RECORDED(FROM) "SELECT " ROW_COLUMNS_AS("0") ", t.recorded_digest" FROM
/*
 * And the digest the last event itself carries (column ROW_NCOLUMNS + 1),
 * from the index of a row's events (schema 9; events_verify holds the
 * column to the hashed details), which the row's copy must equal: audit
 * verify's check, which finds a row edited with its copy made to match.
 */
#define WITH_LAST_DIGEST(FROM)                                                                     \
	"SELECT " ROW_COLUMNS_AS("0") ", t.recorded_digest, (SELECT e.row_digest "                 \
				      "FROM events e INDEXED BY events_by_row "                    \
				      "WHERE e." EVENT_ROW " = t.id "                              \
				      "ORDER BY e.id DESC LIMIT 1)" FROM
/* The live rows alone, read from the index that holds them (schema 7). */
#define LIVE_FROM " FROM tokens t INDEXED BY tokens_live WHERE " STORE_LIVE("t.")

/* The rows of each scope in id order, and the live ones in reverse. */
static const char *const compare_sql[] = {
    [INVENTORY_ALL] = WITH_LAST_DIGEST(" FROM tokens t ") " ORDER BY t.id",
    [INVENTORY_LIVE] = WITH_RECORDED(LIVE_FROM) " ORDER BY t.id",
};
static const char live_down_sql[] = WITH_RECORDED(LIVE_FROM) " ORDER BY t.id DESC";

/* The rows that hold a secret, down ([0]) and up ([1]), from the index of them alone. */
static const char *const secret_rows_sql[2] = {
    "SELECT token_row FROM secrets INDEXED BY secrets_rows ORDER BY token_row DESC",
    "SELECT token_row FROM secrets INDEXED BY secrets_rows ORDER BY token_row ASC",
};

/*
 * Whether each row a check compares holds a sealed secret, found by
 * walking the index of the secrets' rows beside the rows, in their order,
 * as a merge join does.  A look-up of each row in that index (EXISTS, as
 * STORE_HAS_SECRET reads it) went down its B-tree again for every row,
 * through a page cache too small to keep it: on a store whose deleted
 * tokens kept their secrets, more than half of a quiet night's check.
 */
struct secret_walk {
	sqlite3_stmt *st;
	int up;
	int step;   /* what the last sqlite3_step said */
	int64_t at; /* the row of the secret the walk stands on, when step is SQLITE_ROW */
};

static void
walk_step(struct secret_walk *w)
{
	w->step = sqlite3_step(w->st);
	if (w->step == SQLITE_ROW)
		w->at = sqlite3_column_int64(w->st, 0);
}

/* Starts w up or down; returns 0, or -1 with *cause. */
static int
walk_start(struct store *s, struct secret_walk *w, int up, char **cause)
{
	w->up = up;
	w->st = store_prepare(s, secret_rows_sql[up != 0], cause);
	if (w->st == NULL)
		return -1;
	walk_step(w);
	return 0;
}

/*
 * 1 when row holds a secret, 0 when not, -1 on a database error; each row
 * asked comes after the last in the walk's order.
 */
static int
walk_has(struct secret_walk *w, int64_t row)
{
	while (w->step == SQLITE_ROW && (w->up ? w->at < row : w->at > row))
		walk_step(w);
	if (w->step == SQLITE_ROW)
		return w->at == row;
	return w->step == SQLITE_DONE ? 0 : -1;
}

/* The most a row's columns take in a digest's buffer before it hashes in pieces. */
#define DIGEST_BUF 1024

/* A digest being made: BLAKE2b hashes a stream, so its bytes go through one buffer. */
struct digest {
	crypto_generichash_state h;
	unsigned char b[DIGEST_BUF];
	size_t len;
};

/* Adds n bytes at p; what does not fit is hashed first, so the result is the same. */
static void
put(struct digest *d, const void *p, size_t n)
{
	if (d->len + n > DIGEST_BUF) {
		crypto_generichash_update(&d->h, d->b, d->len);
		d->len = 0;
		if (n > DIGEST_BUF) {
			crypto_generichash_update(&d->h, p, n);
			return;
		}
	}
	memcpy(d->b + d->len, p, n);
	d->len += n;
}

/*
 * Adds what a column adds: a type tag, then the value (a length before text).
 * A row's columns are integers, text or NULL; a blob or a real of the same
 * bytes (an edit that changes no value as text) gets a tag of its own.
 * Inline: called from more than put_value, GCC stopped inlining it there,
 * and a run's check of 21,000 live rows took 1.1% more instructions.
 */
static inline void
put_typed(struct digest *d, int type, int64_t i, const void *text, size_t n)
{
	unsigned char head[9];
	uint64_t v = type == SQLITE_INTEGER ? (uint64_t)i : n;

	head[0] = type == SQLITE_INTEGER ? 'i'
		  : type == SQLITE_NULL  ? 'n'
		  : type == SQLITE_BLOB  ? 'b'
		  : type == SQLITE_FLOAT ? 'f'
					 : 't';
	if (type == SQLITE_NULL) {
		put(d, head, 1);
		return;
	}
	for (int k = 8; k >= 1; k--, v >>= 8)
		head[k] = (unsigned char)(v & 0xff);
	put(d, head, sizeof head);
	if (type != SQLITE_INTEGER && n > 0)
		put(d, text, n);
}

/*
 * Adds a column's value, which must not have been read as text yet (that
 * would turn a blob's type into text).  Through the value: one call into the statement
 * per column rather than three, which made up most of a row's cost.  The
 * value is "unprotected" (sqlite3_column_value(3)), which only matters to a
 * connection shared by threads; a store's never is (store.h).
 */
static void
put_value(struct digest *d, sqlite3_value *val)
{
	int type = sqlite3_value_type(val);
	const unsigned char *text;

	if (type == SQLITE_INTEGER) {
		put_typed(d, type, sqlite3_value_int64(val), NULL, 0);
	} else if (type == SQLITE_NULL) {
		put_typed(d, type, 0, NULL, 0);
	} else {
		/* The text first: its length is then the text's, as sqlite3_value_bytes says. */
		text = sqlite3_value_text(val);
		put_typed(d, type, 0, text, (size_t)sqlite3_value_bytes(val));
	}
}

/* Adds a name as its column would add it (NULL: none, as a LEFT JOIN's NULL). */
static void
put_name(struct digest *d, const struct token_name *x)
{
	if (x == NULL || x->name == NULL)
		put_typed(d, SQLITE_NULL, 0, NULL, 0);
	else if (x->type == SQLITE_INTEGER)
		put_typed(d, SQLITE_INTEGER, strtoll(x->name, NULL, 10), NULL, 0);
	else
		put_typed(d, x->type, 0, x->name, x->len);
}

/* The workspace (slot: the slot) the id in column i of st names, as the LEFT JOIN finds it. */
static const struct token_name *
name_at(const struct token_names *nm, sqlite3_stmt *st, int i, int slot)
{
	int64_t id;

	if (sqlite3_column_type(st, i) != SQLITE_INTEGER)
		return NULL;
	id = sqlite3_column_int64(st, i);
	return slot ? tokens_slot_of(nm, id) : tokens_workspace_of(nm, id);
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

/* d from hex as hex() writes it: 0, or -1 when hex is anything else (d then unset). */
static int
unhex(const char *hex, unsigned char d[INVENTORY_DIGEST_BYTES])
{
	static const char digits[] = "0123456789abcdef";

	if (hex == NULL || strlen(hex) != 2 * INVENTORY_DIGEST_BYTES)
		return -1;
	for (size_t i = 0; i < 2 * INVENTORY_DIGEST_BYTES; i++) {
		const char *at = hex[i] != '\0' ? strchr(digits, hex[i]) : NULL;

		if (at == NULL)
			return -1;
		if (i % 2 == 0)
			d[i / 2] = (unsigned char)((at - digits) << 4);
		else
			d[i / 2] |= (unsigned char)(at - digits);
	}
	return 0;
}

/*
 * The digest of the row st holds in its first ROW_NCOLUMNS columns, with
 * the names of its workspace and slot from nm, or (nm NULL) from the
 * NAME_COLUMNS after them; whether it holds a secret from has, or (has
 * negative) from its last column, as EXISTS gives it: an integer.
 */
static void
digest_of(sqlite3_stmt *st, const struct token_names *nm, int has,
	  unsigned char h[INVENTORY_DIGEST_BYTES])
{
	static const char tag[] = "tokenwarden-row-v1";
	struct digest d;

	crypto_generichash_init(&d.h, NULL, 0, INVENTORY_DIGEST_BYTES);
	memcpy(d.b, tag, sizeof tag);
	d.len = sizeof tag;
	for (int i = 0; i < ROW_NCOLUMNS; i++) {
		if (i == ROW_NCOLUMNS - 1 && has >= 0)
			put_typed(&d, SQLITE_INTEGER, has, NULL, 0);
		else
			put_value(&d, sqlite3_column_value(st, i));
		/* Each id followed by its name. */
		if (i != 1 && i != 2)
			continue;
		if (nm == NULL)
			put_value(&d, sqlite3_column_value(st, ROW_NCOLUMNS + i - 1));
		else
			put_name(&d, name_at(nm, st, i, i == 2));
	}
	crypto_generichash_update(&d.h, d.b, d.len);
	crypto_generichash_final(&d.h, h, INVENTORY_DIGEST_BYTES);
}

/* The digest of the row st holds, as digest_of, in hex. */
static void
digest_hex_of(sqlite3_stmt *st, char out[INVENTORY_DIGEST_MAX])
{
	unsigned char h[INVENTORY_DIGEST_BYTES];

	digest_of(st, NULL, -1, h);
	hex(out, h);
}

/* A sealed secret's digest starts from the tag; then the key's fingerprint and the blob. */
static void
sealed_start(struct digest *d)
{
	static const char tag[] = "tokenwarden-sealed-v1";

	crypto_generichash_init(&d->h, NULL, 0, INVENTORY_DIGEST_BYTES);
	memcpy(d->b, tag, sizeof tag);
	d->len = sizeof tag;
}

/* Ends d into out, in hex. */
static void
digest_end_hex(struct digest *d, char out[INVENTORY_DIGEST_MAX])
{
	unsigned char h[INVENTORY_DIGEST_BYTES];

	crypto_generichash_update(&d->h, d->b, d->len);
	crypto_generichash_final(&d->h, h, INVENTORY_DIGEST_BYTES);
	hex(out, h);
}

void
inventory_sealed_digest(const char *fpr, const unsigned char *blob, size_t len,
			char out[INVENTORY_DIGEST_MAX])
{
	struct digest d;

	sealed_start(&d);
	put_typed(&d, SQLITE_TEXT, 0, fpr, strlen(fpr));
	put_typed(&d, SQLITE_BLOB, 0, blob, len);
	digest_end_hex(&d, out);
}

/* The same from columns fpr and blob of st, as their types are (an edit to a type shows). */
static void
sealed_digest_of(sqlite3_stmt *st, int fpr, int blob, char out[INVENTORY_DIGEST_MAX])
{
	struct digest d;

	sealed_start(&d);
	put_value(&d, sqlite3_column_value(st, fpr));
	put_value(&d, sqlite3_column_value(st, blob));
	digest_end_hex(&d, out);
}

int
inventory_stamp(struct store *s, int64_t row, json_t *details, char **ws, char **slot, char **token,
		char **cause)
{
	sqlite3_stmt *st = store_prepare(s, ROW_WITH_NAMES "WHERE t.id = ?1", cause);
	char digest[INVENTORY_DIGEST_MAX];
	int step;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, row);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		digest_hex_of(st, digest);
		*ws = store_column_dup(st, ROW_NCOLUMNS);
		*slot = store_column_dup(st, ROW_NCOLUMNS + 1);
		*token = store_column_dup(st, 3);
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

/* The rows a part has taken, read as tokens_live reads them (want_rows). */
struct taken {
	struct token_row *v;
	size_t n, cap;
};

/* Takes the row st holds, which holds a secret when has. */
static void
take_row(struct taken *t, sqlite3_stmt *st, struct token_names *nm, int has)
{
	if (t->n == t->cap)
		t->v = xgrow_bulk(t->v, &t->cap, 256, sizeof *t->v);
	if (tokens_read_live(st, nm, &t->v[t->n]) == 0)
		t->v[t->n++].has_secret = has;
}

/* Hands t's rows, and the names they share, to part in id order (ok), or frees them. */
static void
give_rows(struct taken *t, struct token_names *nm, struct inventory_part *part, int ok)
{
	if (!ok || t->n == 0) {
		tokens_free(t->v, t->n);
		/* Rows own the names they share; with none, they go now. */
		if (t->n == 0)
			tokens_names_free(nm);
		return;
	}
	if (!part->up)
		tokens_reverse(t->v, t->n);
	part->rows = t->v;
	part->nrows = t->n;
}

/*
 * Whether the row st holds, of digest h, is as its last event recorded it:
 * the row's copy of the digest is h and, where st reads it (audit verify),
 * so is the event's own.
 */
static int
as_recorded(sqlite3_stmt *st, const unsigned char h[INVENTORY_DIGEST_BYTES])
{
	unsigned char event[INVENTORY_DIGEST_BYTES];
	const void *copy;

	if (sqlite3_column_type(st, ROW_NCOLUMNS) != SQLITE_BLOB)
		return 0;
	copy = sqlite3_column_blob(st, ROW_NCOLUMNS);
	if (sqlite3_column_bytes(st, ROW_NCOLUMNS) != INVENTORY_DIGEST_BYTES ||
	    memcmp(copy, h, INVENTORY_DIGEST_BYTES) != 0)
		return 0;
	if (sqlite3_column_count(st) == ROW_NCOLUMNS + 1)
		return 1;
	return unhex((const char *)sqlite3_column_text(st, ROW_NCOLUMNS + 1), event) == 0 &&
	       memcmp(event, h, sizeof event) == 0;
}

/*
 * Compares each row sql yields, in id order up or (part->up 0) down, with
 * its last event, as part asks; returns the differences or -1.  The names
 * and the rows that hold secrets are read with the rows' statement open,
 * so that all are of the same state of the store.
 */
static int
compare_rows(struct store *s, const char *sql, struct inventory_part *part, int want_rows,
	     int *stop, char **cause)
{
	sqlite3_stmt *st = store_prepare(s, sql, cause);
	struct token_names *nm = NULL;
	struct secret_walk secrets = {0};
	struct taken taken = {0};
	unsigned char digest[INVENTORY_DIGEST_BYTES];
	int step, has, n = 0;

	part->compared = 0;
	if (st == NULL)
		return -1;
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		nm = tokens_names_load(s, cause);
		n = nm != NULL && walk_start(s, &secrets, part->up, cause) == 0 ? 0 : -1;
	}
	for (; n >= 0 && step == SQLITE_ROW && !*stop; step = sqlite3_step(st)) {
		const struct token_name *w = name_at(nm, st, 1, 0), *x = name_at(nm, st, 2, 1);
		struct inventory_diff d = {
		    .row = sqlite3_column_int64(st, 0),
		    .workspace = w != NULL ? w->name : NULL,
		    .slot = x != NULL ? x->name : NULL,
		};

		if (part->take != NULL && !part->take(d.row, part->arg))
			break;
		has = walk_has(&secrets, d.row);
		if (has < 0) {
			store_error(s, "comparing the tokens with the history", cause);
			n = -1;
			break;
		}
		/* Before any column is read as text, which would make a blob's type text. */
		digest_of(st, nm, has, digest);
		if (want_rows)
			take_row(&taken, st, nm, has);
		part->compared++;
		if (as_recorded(st, digest))
			continue;
		d.token = (const char *)sqlite3_column_text(st, 3);
		d.state = (const char *)sqlite3_column_text(st, 5);
		if (last_event(s, d.row, &d.event, cause) < 0) {
			n = -1;
			break;
		}
		d.what = d.event == 0 ? INVENTORY_UNRECORDED : INVENTORY_EDITED;
		n++;
		*stop = part->diff(&d, part->arg) != 0;
	}
	if (n >= 0 && step != SQLITE_ROW && step != SQLITE_DONE) {
		store_error(s, "comparing the tokens with the history", cause);
		n = -1;
	}
	store_done(s, secrets.st);
	store_done(s, st);
	give_rows(&taken, nm, part, n >= 0);
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

/*
 * Each record of handed, slot_reached and slot_reached_14 that differs from
 * the one its last consumer.handed event gave (store/slots.h), or that no
 * event gives, and each an event gives that the table lacks: its key (a
 * consumer's, or a slot's id), that event's id (NULL: none), the token row
 * the table names (NULL: none) and the event's, and the names of the
 * workspace and slot of the first (a consumer's token's, or the slot).
 * An event gives a record as [token row, second value, third, fourth (from
 * schema 21, when there is one)]; the table's
 * columns compare with those by type too, so an edit to text or a blob
 * differs.  SQLite takes the bare column beside max() from the row that
 * has the maximum.  Two halves, not a FULL JOIN, which SQLite runs as a
 * scan of the events' records for each record of the table; a LEFT JOIN
 * gets an index of them.
 */
#define RECORDS(PATH, KEY, VALUE, COLUMNS, NAMES)                                                  \
	"WITH rec AS (SELECT " KEY " AS k, max(e.id) AS ev, " VALUE " AS v FROM events e, "        \
	"json_each(e.details, '$." PATH "') j WHERE e.kind = 'consumer.handed' GROUP BY 1), "      \
	"cur AS (SELECT " COLUMNS ") "                                                             \
	"SELECT c.k, r.ev, c.row, json_extract(r.v, '$[0]'), w.name, sl.name "                     \
	"FROM cur c LEFT JOIN rec r ON r.k = c.k " NAMES(                                          \
	    "c.row",                                                                               \
	    "c.k") "WHERE r.k IS NULL "                                                            \
		   "OR c.row IS NOT json_extract(r.v, '$[0]') OR c.x IS NOT json_extract(r.v, "    \
		   "'$[1]') "                                                                      \
		   "OR c.y IS NOT json_extract(r.v, '$[2]') "                                      \
		   "OR c.z IS NOT json_extract(r.v, '$[3]') "                                      \
		   "UNION ALL SELECT r.k, r.ev, NULL, json_extract(r.v, '$[0]'), w.name, sl.name " \
		   "FROM rec r " NAMES("json_extract(r.v, '$[0]')",                                \
				       "r.k") "WHERE r.k NOT IN "                                  \
					      "(SELECT k FROM cur) ORDER BY 1"
/* The names of the workspace and slot of the token row ROW, or of the slot KEY. */
#define TOKEN_NAMES(ROW, KEY)                                                                      \
	"LEFT JOIN tokens t ON t.id = " ROW " LEFT JOIN slots sl ON sl.id = t.slot_id "            \
	"LEFT JOIN workspaces w ON w.id = t.workspace_id "
#define SLOT_NAMES(ROW, KEY)                                                                       \
	"LEFT JOIN slots sl ON sl.id = " KEY " LEFT JOIN workspaces w ON w.id = sl.workspace_id "

static const char *const records_sql[] = {
    [INVENTORY_HANDED] = RECORDS("consumers", "j.key", "j.value",
				 "consumer AS k, token_row AS row, offered AS x, given AS y, "
				 "superseded AS z FROM handed",
				 TOKEN_NAMES),
    [INVENTORY_SLOT_REACHED] =
	RECORDS("slots", "CAST(j.key AS INTEGER)", "json_array(j.value)",
		"slot_id AS k, token_row AS row, NULL AS x, NULL AS y, NULL AS z FROM "
		"slot_reached",
		SLOT_NAMES),
    [INVENTORY_SLOT_REACHED_14] =
	RECORDS("slots_14", "CAST(j.key AS INTEGER)", "j.value",
		"slot_id AS k, token_row AS row, consumers AS x, NULL AS y, NULL AS z "
		"FROM slot_reached_14",
		SLOT_NAMES),
};

/* Compares the records with the history (records_sql); returns their differences or -1. */
static int
compare_records(struct store *s, int (*fn)(const struct inventory_diff *d, void *arg), void *arg,
		int *stop, char **cause)
{
	int n = 0;

	for (enum inventory_table t = INVENTORY_HANDED; t <= INVENTORY_SLOT_REACHED_14 && !*stop;
	     t++) {
		sqlite3_stmt *st = store_prepare(s, records_sql[t], cause);
		int step;

		if (st == NULL)
			return -1;
		for (step = sqlite3_step(st); step == SQLITE_ROW && !*stop;
		     step = sqlite3_step(st)) {
			int here = sqlite3_column_type(st, 2) != SQLITE_NULL;
			struct inventory_diff d = {
			    .table = t,
			    .event = sqlite3_column_int64(st, 1),
			    .row = sqlite3_column_int64(st, here ? 2 : 3),
			    .consumer = t == INVENTORY_HANDED
					    ? (const char *)sqlite3_column_text(st, 0)
					    : NULL,
			    .workspace = (const char *)sqlite3_column_text(st, 4),
			    .slot = (const char *)sqlite3_column_text(st, 5),
			};

			d.what = !here          ? INVENTORY_MISSING
				 : d.event == 0 ? INVENTORY_UNRECORDED
						: INVENTORY_EDITED;
			n++;
			*stop = fn(&d, arg) != 0;
		}
		if (step != SQLITE_ROW && step != SQLITE_DONE) {
			store_error(s, "comparing the consumers' records with the history", cause);
			n = -1;
		}
		store_done(s, st);
		if (n < 0)
			return -1;
	}
	return n;
}

/*
 * The events about a row's secret: those that store one ("sealed" its
 * digest, none when an import stored none), reseal it, record it at the
 * migration to schema 19, or drop or erase it (a rekey's drop, the token's
 * deletion or revocation, the migration to schema 20).
 */
#define SECRET_KINDS                                                                               \
	"('token.created', 'token.imported', 'secret.resealed', 'secret.recorded', "               \
	"'secret.dropped', 'token.deleted', 'token.revoked', 'secret.erased')"

/*
 * Each sealed secret, with the last event about its row's secret (its id
 * and the digest it recorded) and the row's names.  The event is looked up
 * from the index of the row's events, newest first: a live token's is a
 * few events back, and only live tokens hold secrets (a deleted one's is
 * erased), so the check costs what the live secrets do, not the history.
 */
static const char secrets_sql[] =
    "SELECT l.fpr, l.sealed, l.row, l.ev, json_extract(e.details, '$.sealed'), w.name, "
    "sl.name, t.token, t.state FROM (SELECT x.key_fingerprint AS fpr, x.sealed AS sealed, "
    "x.token_row AS row, (SELECT e.id FROM events e INDEXED BY events_by_row WHERE e." EVENT_ROW
    " = x.token_row AND e.kind IN " SECRET_KINDS " ORDER BY e.id DESC LIMIT 1) AS ev "
    "FROM secrets x) l LEFT JOIN events e ON e.id = l.ev LEFT JOIN tokens t ON t.id = l.row "
    "LEFT JOIN workspaces w ON w.id = t.workspace_id LEFT JOIN slots sl ON sl.id = t.slot_id "
    "ORDER BY l.row";

/* Compares each sealed secret with its last event; returns the differences or -1. */
static int
compare_secrets(struct store *s, int (*fn)(const struct inventory_diff *d, void *arg), void *arg,
		int *stop, char **cause)
{
	sqlite3_stmt *st = store_prepare(s, secrets_sql, cause);
	char digest[INVENTORY_DIGEST_MAX];
	const char *recorded;
	int step, n = 0;

	if (st == NULL)
		return -1;
	for (step = sqlite3_step(st); step == SQLITE_ROW && !*stop; step = sqlite3_step(st)) {
		struct inventory_diff d = {.table = INVENTORY_SECRETS};

		/* Before either column is read as text, which would make a blob's type text. */
		sealed_digest_of(st, 0, 1, digest);
		recorded = (const char *)sqlite3_column_text(st, 4);
		if (recorded != NULL && strcmp(recorded, digest) == 0)
			continue;
		d.row = sqlite3_column_int64(st, 2);
		d.event = sqlite3_column_int64(st, 3);
		d.what = recorded != NULL ? INVENTORY_EDITED : INVENTORY_UNRECORDED;
		d.workspace = (const char *)sqlite3_column_text(st, 5);
		d.slot = (const char *)sqlite3_column_text(st, 6);
		d.token = (const char *)sqlite3_column_text(st, 7);
		d.state = (const char *)sqlite3_column_text(st, 8);
		n++;
		*stop = fn(&d, arg) != 0;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
		store_error(s, "comparing the sealed secrets with the history", cause);
		n = -1;
	}
	store_done(s, st);
	return n;
}

int
inventory_sealed_check(struct store *s, int64_t row, const char *fpr, const unsigned char *blob,
		       size_t len, int64_t *event, char **cause)
{
	sqlite3_stmt *st = store_prepare(s,
					 "SELECT id, json_extract(details, '$.sealed') FROM events "
					 "INDEXED BY events_by_row WHERE " EVENT_ROW " = ?1 AND "
					 "kind IN " SECRET_KINDS " ORDER BY id DESC LIMIT 1",
					 cause);
	char digest[INVENTORY_DIGEST_MAX];
	const char *recorded = NULL;
	int step, rc = -1;

	*event = 0;
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, row);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		*event = sqlite3_column_int64(st, 0);
		recorded = (const char *)sqlite3_column_text(st, 1);
	}
	if (step == SQLITE_ROW || step == SQLITE_DONE) {
		inventory_sealed_digest(fpr, blob, len, digest);
		rc = recorded == NULL || strcmp(recorded, digest) != 0;
	} else {
		store_error(s, "reading the history of a sealed secret", cause);
	}
	store_done(s, st);
	return rc;
}

char *
inventory_sealed_text(const char *workspace, const char *token, int64_t event)
{
	if (event == 0)
		return xasprintf("no event records the sealed secret of token %s in workspace %s: "
				 "it was added outside tokenwarden",
				 token, workspace);
	return xasprintf("the sealed secret of token %s in workspace %s is not the one its "
			 "history recorded (event %lld): it was replaced outside tokenwarden",
			 token, workspace, (long long)event);
}

int
inventory_attest_secrets(struct store *s, char **cause)
{
	/* Only a secret whose row is there can be recorded; another stays unrecorded. */
	sqlite3_stmt *st = store_prepare(s,
					 "SELECT x.key_fingerprint, x.sealed, x.token_row "
					 "FROM secrets x JOIN tokens t ON t.id = x.token_row "
					 "ORDER BY x.token_row",
					 cause);
	char digest[INVENTORY_DIGEST_MAX];
	int64_t now = clock_now_ms();
	int step, rc = 0;

	if (st == NULL)
		return -1;
	for (step = sqlite3_step(st); step == SQLITE_ROW && rc == 0; step = sqlite3_step(st)) {
		json_t *d;

		sealed_digest_of(st, 0, 1, digest);
		d = json_pack("{s:s, s:s}", "sealed", digest, "reason",
			      "the sealed secrets as this store held them when its events began "
			      "to carry their digests (schema 19)");
		rc = tokens_row_event(s, sqlite3_column_int64(st, 2), now, "secret.recorded", d,
				      cause);
		json_decref(d);
	}
	if (rc == 0 && step != SQLITE_DONE) {
		store_error(s, "recording the sealed secrets", cause);
		rc = -1;
	}
	store_done(s, st);
	return rc;
}

int
inventory_verify(struct store *s, enum inventory_scope scope,
		 int (*fn)(const struct inventory_diff *d, void *arg), void *arg, int64_t *rows,
		 char **cause)
{
	struct inventory_part all = {.up = 1, .diff = fn, .arg = arg};
	int stop = 0, edited, missing = 0, records = 0, secrets = 0;

	edited = compare_rows(s, compare_sql[scope], &all, 0, &stop, cause);
	*rows = all.compared;
	if (edited < 0)
		return -1;
	if (scope == INVENTORY_ALL && !stop)
		missing = missing_rows(s, fn, arg, &stop, cause);
	if (scope == INVENTORY_ALL && !stop && missing >= 0)
		records = compare_records(s, fn, arg, &stop, cause);
	if (scope == INVENTORY_ALL && !stop && missing >= 0 && records >= 0)
		secrets = compare_secrets(s, fn, arg, &stop, cause);
	return missing < 0 || records < 0 || secrets < 0 ? -1
							 : edited + missing + records + secrets;
}

int
inventory_verify_records(struct store *s, int (*fn)(const struct inventory_diff *d, void *arg),
			 void *arg, char **cause)
{
	int stop = 0;

	return compare_records(s, fn, arg, &stop, cause);
}

int
inventory_verify_secrets(struct store *s, int (*fn)(const struct inventory_diff *d, void *arg),
			 void *arg, char **cause)
{
	int stop = 0;

	return compare_secrets(s, fn, arg, &stop, cause);
}

int
inventory_verify_part(struct store *s, struct inventory_part *part, int want_rows, char **cause)
{
	int stop = 0;

	part->rows = NULL;
	part->nrows = 0;
	return compare_rows(s, part->up ? compare_sql[INVENTORY_LIVE] : live_down_sql, part,
			    want_rows, &stop, cause);
}

char *
inventory_diff_text(const struct inventory_diff *d)
{
	const char *ws = d->workspace != NULL ? d->workspace : "no workspace";
	const char *slot = d->slot != NULL ? d->slot : "-";
	char *who, *text;

	switch (d->table) {
	case INVENTORY_HANDED:
		who = xasprintf("the record of the token consumer %s holds (token row %lld, of "
				"%s/%s)",
				d->consumer, (long long)d->row, ws, slot);
		break;
	case INVENTORY_SLOT_REACHED:
		who = xasprintf("the record of the token that reached slot %s/%s's consumers "
				"(token row %lld)",
				ws, slot, (long long)d->row);
		break;
	case INVENTORY_SECRETS:
		who = xasprintf("the sealed secret of token row %lld (%s/%s, %s, %s)",
				(long long)d->row, ws, slot, d->token != NULL ? d->token : "no id",
				d->state != NULL ? d->state : "no row");
		break;
	case INVENTORY_SLOT_REACHED_14:
		who = xasprintf("schema 14's record of the consumers slot %s/%s's token reached "
				"(token row %lld)",
				ws, slot, (long long)d->row);
		break;
	default:
		who = d->what == INVENTORY_MISSING
			  ? xasprintf("token row %lld", (long long)d->row)
			  : xasprintf("token row %lld (%s/%s, %s, %s)", (long long)d->row, ws, slot,
				      d->token != NULL ? d->token : "no id",
				      d->state != NULL ? d->state : "?");
	}
	if (d->what == INVENTORY_MISSING)
		text = xasprintf("%s is in the history (event %lld) but not in the table: it was "
				 "removed outside tokenwarden",
				 who, (long long)d->event);
	else if (d->what == INVENTORY_UNRECORDED)
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
	sqlite3_stmt *st = store_prepare(s, ROW_WITH_NAMES "ORDER BY t.id", cause);
	char digest[INVENTORY_DIGEST_MAX];
	int step, rc = 0;

	if (st == NULL)
		return -1;
	for (step = sqlite3_step(st); step == SQLITE_ROW && rc == 0; step = sqlite3_step(st)) {
		json_t *d = json_object();

		digest_hex_of(st, digest);
		json_object_set_new(d, "row", json_integer(sqlite3_column_int64(st, 0)));
		json_object_set_new(d, "digest", json_string(digest));
		json_object_set_new(d, "reason", json_string(reason));
		rc = events_append(s, now, "token.attested",
				   (const char *)sqlite3_column_text(st, ROW_NCOLUMNS),
				   (const char *)sqlite3_column_text(st, ROW_NCOLUMNS + 1),
				   (const char *)sqlite3_column_text(st, 3), d, cause);
		json_decref(d);
	}
	if (rc == 0 && step != SQLITE_DONE) {
		store_error(s, "recording the token rows", cause);
		rc = -1;
	}
	store_done(s, st);
	return rc;
}

int
inventory_record(struct store *s, const json_t *details, char **cause)
{
	const json_t *row = json_object_get(details, "row");
	unsigned char d[INVENTORY_DIGEST_BYTES];
	sqlite3_stmt *st;
	int rc = 0;

	if (!json_is_integer(row))
		return 0;
	st = store_prepare(s, "UPDATE tokens SET recorded_digest = ?2 WHERE id = ?1", cause);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, json_integer_value(row));
	/* A digest not as hex() writes it, none of tokenwarden's, leaves NULL: a difference. */
	if (unhex(json_string_value(json_object_get(details, "digest")), d) == 0)
		sqlite3_bind_blob(st, 2, d, sizeof d, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_error(s, "recording a token row's digest", cause);
		rc = -1;
	}
	store_done(s, st);
	return rc;
}

/* SQL's recorded_digest(hex): the digest as the row keeps it, or NULL, as inventory_record. */
static void
recorded_digest_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	unsigned char d[INVENTORY_DIGEST_BYTES];

	(void)argc;
	if (unhex((const char *)sqlite3_value_text(argv[0]), d) == 0)
		sqlite3_result_blob(ctx, d, sizeof d, SQLITE_TRANSIENT);
	else
		sqlite3_result_null(ctx);
}

int
inventory_copy_recorded(struct store *s, char **cause)
{
	static const char name[] = "tokenwarden_recorded_digest";
	int rc;

	if (sqlite3_create_function(s->db, name, 1,
				    SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, NULL,
				    recorded_digest_fn, NULL, NULL) != SQLITE_OK) {
		store_error(s, "migrating its schema", cause);
		return -1;
	}
	rc = store_exec(s,
			"UPDATE tokens SET recorded_digest = tokenwarden_recorded_digest((SELECT "
			"e.row_digest FROM events e INDEXED BY events_by_row WHERE e." EVENT_ROW
			" = tokens.id ORDER BY e.id DESC LIMIT 1))",
			"migrating its schema", cause);
	/* Gone again: nothing but this migration may call it. */
	sqlite3_create_function(s->db, name, 1, SQLITE_UTF8, NULL, NULL, NULL, NULL);
	return rc;
}
