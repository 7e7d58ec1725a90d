/*
 * The inventory against its history.  Every event about a token row
 * carries, inside its hashed details, the row's id ("row") and a digest of
 * the row as that change left it ("digest": BLAKE2b-256 over its columns,
 * its workspace's and slot's names and whether it holds a sealed secret).
 * So the tables follow from the history: a row whose digest differs from
 * its last event's was edited outside tokenwarden, a row no event names
 * was added outside it, and a row an event names that the table lacks was
 * removed.  An event forged to match rewrites the chain from there on,
 * which a history head kept elsewhere shows (audit verify --head).  Each
 * event's digest is also in a column of its own (row_digest, schema 9),
 * which events_verify holds to the hashed details like the rest, and each
 * row keeps a copy of its last event's (recorded_digest, schema 13).  A
 * run's check compares the live rows with their copies alone, from one
 * index, whatever the depth of the history; audit verify compares every row
 * with both, so a row edited with its copy made to match shows there.
 *
 * The sealed secret is not in the row's digest (the row's check, at every
 * run, would then read every blob) but has a digest of its own: each event
 * that stores or reseals one records it ("sealed": inventory_sealed_digest,
 * over the blob and the fingerprint of the key it is sealed to), and audit
 * verify and secret reveal hold the blob to the last such event of its
 * row.  The workspace and token id sealed inside a blob bind it to its row
 * too, but a blob sealed afresh to the public key (which is no secret) with
 * another secret inside would open; its digest does not match.
 */
#ifndef TW_INVENTORY_H
#define TW_INVENTORY_H

#include "store/store.h"
#include "store/tokens.h"

#include <jansson.h>
#include <stdint.h>

#define INVENTORY_DIGEST_BYTES 32
#define INVENTORY_DIGEST_MAX (INVENTORY_DIGEST_BYTES * 2 + 1)

enum inventory_scope {
	INVENTORY_ALL,  /* every row, and the rows the history names that the table lacks */
	INVENTORY_LIVE, /* the rows rotate acts on: all but deleted, failed and revoked ones */
};

enum inventory_difference {
	INVENTORY_EDITED,     /* the row differs from what its last event recorded */
	INVENTORY_UNRECORDED, /* no event names the row */
	INVENTORY_MISSING,    /* an event names a row the table lacks */
};

/* What a difference is of: a token row, or a record of what reached whom (store/slots.h). */
enum inventory_table {
	INVENTORY_TOKENS,
	INVENTORY_HANDED,          /* the token a consumer holds */
	INVENTORY_SLOT_REACHED,    /* the token whose handing a slot's record names */
	INVENTORY_SLOT_REACHED_14, /* schema 14's record of a slot */
	INVENTORY_SECRETS,         /* a token row's sealed secret */
};

struct inventory_diff {
	enum inventory_difference what;
	enum inventory_table table;
	int64_t row;           /* the token row, or the one the record names (the table's) */
	int64_t event;         /* the last event recording it; 0 when none does */
	const char *workspace; /* as the table has it; NULL for a missing row */
	const char *slot;      /* NULL: none */
	const char *token;     /* NULL: none */
	const char *state;
	const char *consumer; /* INVENTORY_HANDED: its key (deliver_holder's) */
};

/*
 * Adds the row's id and its digest as the open transaction leaves it to
 * details (an object), for the event about that change, and sets the names
 * the event carries: *ws, *slot and *token (allocated; the last two NULL
 * when the row has none).  Returns 0, or -1 with *cause.
 */
int inventory_stamp(struct store *s, int64_t row, json_t *details, char **ws, char **slot,
		    char **token, char **cause);

/*
 * After events_append has added an event whose details name a row ("row")
 * and its digest ("digest"), in the same transaction: the row keeps that
 * digest as the one its last event recorded (recorded_digest, schema 13),
 * which a run's check reads with the row.  Details naming no row change
 * nothing.  Returns 0, or -1 with *cause.
 */
int inventory_record(struct store *s, const json_t *details, char **cause);

/*
 * The migration to schema 13, in its transaction: every row keeps the
 * digest its last event recorded (NULL: none, or not a digest), copied from
 * the history, so that an edit made before it still shows after it.
 * Returns 0, or -1 with *cause.
 */
int inventory_copy_recorded(struct store *s, char **cause);

/*
 * Compares the rows of scope with the digests their last events carry, and
 * calls fn for each difference (fn returns nonzero to stop); with
 * INVENTORY_ALL, also the records of what reached whom with their last
 * consumer.handed events (store/slots.h) and each sealed secret with the
 * digest its row's last event about it recorded.  Sets *rows to the number of
 * token rows compared.  Returns the number of differences, or -1 with
 * *cause.
 */
int inventory_verify(struct store *s, enum inventory_scope scope,
		     int (*fn)(const struct inventory_diff *d, void *arg), void *arg, int64_t *rows,
		     char **cause);

/*
 * Compares the records of what reached whom (handed, slot_reached,
 * slot_reached_14) with their last consumer.handed events, calling fn for
 * each difference as inventory_verify does (it compares them with
 * INVENTORY_ALL).  Returns the number of differences, or -1 with *cause.
 */
int inventory_verify_records(struct store *s, int (*fn)(const struct inventory_diff *d, void *arg),
			     void *arg, char **cause);

/*
 * Compares each sealed secret with the digest its row's last event about
 * it recorded, calling fn for each difference as inventory_verify does (it
 * compares them with INVENTORY_ALL).  Only tokens that can still exist
 * hold secrets, so this reads about as much as the live rows do.  Returns
 * the number of differences, or -1 with *cause.
 */
int inventory_verify_secrets(struct store *s, int (*fn)(const struct inventory_diff *d, void *arg),
			     void *arg, char **cause);

/*
 * One part of a start-of-run check, for a thread with a connection of its
 * own: the live rows in id order, ascending (up) or descending, compared as
 * inventory_verify compares them, for as long as take says a row is the
 * part's.  The two parts of a check take rows from either end until they
 * meet, so neither needs to count them first.
 */
struct inventory_part {
	int up;
	int (*take)(int64_t row, void *arg); /* 0: the row and those after it are not the part's */
	int (*diff)(const struct inventory_diff *d, void *arg); /* as inventory_verify's fn */
	void *arg;
	/* Set by inventory_verify_part: */
	int64_t compared;
	struct token_row *rows; /* with want_rows: the rows taken, in id order */
	size_t nrows;
};

/*
 * Compares the rows of part (its differences said in the part's order).
 * With want_rows, also sets part->rows to those rows that have a workspace,
 * read as tokens_live reads them (has_secret included), for a plan made
 * from the same reading (free with tokens_free).  Returns the number of
 * differences, or -1 with *cause (part->rows then NULL).
 */
int inventory_verify_part(struct store *s, struct inventory_part *part, int want_rows,
			  char **cause);

/*
 * The digest of a sealed secret as the secrets table keeps it: blob, sealed
 * to the key of fingerprint fpr.  In hex, as the events that store or
 * reseal it record it ("sealed").
 */
void inventory_sealed_digest(const char *fpr, const unsigned char *blob, size_t len,
			     char out[INVENTORY_DIGEST_MAX]);

/*
 * Whether row's sealed secret, read as blob and fpr, is the one the last
 * event about its secret recorded: 0 when it is, 1 when not (*event that
 * event, 0 when no event records a secret of the row), or -1 with *cause.
 */
int inventory_sealed_check(struct store *s, int64_t row, const char *fpr, const unsigned char *blob,
			   size_t len, int64_t *event, char **cause);

/*
 * One sentence saying that the sealed secret of workspace's token is not
 * the one event recorded (0: that none records it), for messages; the
 * caller frees it.
 */
char *inventory_sealed_text(const char *workspace, const char *token, int64_t event);

/*
 * The migration to schema 19, in its transaction: each sealed secret a
 * store holds, recorded as it is in a secret.recorded event of its row.
 * Returns 0, or -1 with *cause.
 */
int inventory_attest_secrets(struct store *s, char **cause);

/* One sentence saying what d is, for messages; the caller frees it. */
char *inventory_diff_text(const struct inventory_diff *d);

/*
 * In the open write transaction: records every token row as the tables
 * hold it now in a token.attested event giving reason (a store from
 * before the rows were digested).  Returns 0, or -1 with *cause.
 */
int inventory_attest(struct store *s, int64_t now, const char *reason, char **cause);

#endif
