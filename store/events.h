/*
 * The history: an append-only list of events, each chained to the one
 * before by a BLAKE2b-256 hash over the previous hash and a canonical,
 * length-prefixed encoding of the row (id included, so reordering shows).
 * An edited, deleted or reordered row breaks the chain at that row;
 * sqlite_sequence (AUTOINCREMENT) shows a deleted last row, and the head
 * printed after every run, kept elsewhere, shows a truncated tail.
 */
#ifndef TW_EVENTS_H
#define TW_EVENTS_H

#include "store/store.h"

#include <jansson.h>
#include <stdint.h>

#define EVENTS_HASH_BYTES 32
#define EVENTS_HEAD_MAX (EVENTS_HASH_BYTES * 2 + 1)

struct event {
	int64_t id;
	int64_t at; /* milliseconds since the epoch */
	const char *actor;
	const char *kind;
	const char *workspace; /* NULL when not about a workspace */
	const char *slot;
	const char *token;
	const char *details; /* canonical JSON object */
	char hash[EVENTS_HEAD_MAX];
};

struct event_filter {
	int64_t since; /* 0: no bound */
	int64_t until; /* 0: no bound */
	const char *kind;
	const char *workspace;
	const char *slot;
};

/*
 * Every kind of event the store writes ("token.created", ...), then NULL:
 * the one list, which audit log --kind offers.  events_append refuses any
 * other kind, so a new one cannot be written without being listed here.
 */
extern const char *const events_kinds[];

/*
 * Appends an event inside the caller's write transaction.  kind is one of
 * events_kinds; details is a JSON object (borrowed) or NULL for {}; it must
 * never hold a secret.  Returns 0 or -1 with *cause.
 */
int events_append(struct store *s, int64_t at, const char *kind, const char *workspace,
		  const char *slot, const char *token, const json_t *details, char **cause);

/*
 * Recomputes the whole chain.  Returns 0 when it holds (sets *count and the
 * head's hex hash, "" for an empty history), 1 when it does not (*bad_id is
 * the first event that does not match, or 0 when rows are missing at the
 * end; *cause says what), or -1 on a database error.
 */
int events_verify(struct store *s, int64_t *count, char head[EVENTS_HEAD_MAX], int64_t *bad_id,
		  char **cause);

/*
 * The chain in parts, which threads check at once, each on a connection of
 * its own (store_open_another), for the same verdict as events_verify's.
 * A part recomputes the hashes of the events whose ids lie in [from, to],
 * starting from the prev_hash its first event stores; whether that is the
 * hash of the event before, and whether the ids run on from the part
 * before, is decided when the parts are joined.  The history is
 * append-only, so parts read at different moments agree on the events they
 * share; the last part (to INT64_MAX) reads the id the next event takes
 * with its events, so that a tail deleted under it shows.
 */
struct events_part {
	int64_t from, to; /* set by events_split */
	/* What events_verify_part found, for events_verify_join: */
	int64_t read;                           /* events read, a breaking one included */
	int64_t first, last;                    /* the first id read, and the last that holds */
	unsigned char links[EVENTS_HASH_BYTES]; /* the prev_hash the first stores */
	unsigned char head[EVENTS_HASH_BYTES];  /* the hash of the last that holds */
	int broken; /* bad_id breaks the chain, as why says (allocated) */
	int64_t bad_id;
	char *why;
	int64_t next; /* the last part's: the id the store gives the next event */
};

/* Sets n parts of the history's ids, of about as many events each.  Returns 0 or -1. */
int events_split(struct store *s, struct events_part *parts, size_t n, char **cause);
/* Checks part on s; returns 0 (its findings in it), or -1 with *cause on a database error. */
int events_verify_part(struct store *s, struct events_part *part, char **cause);
/*
 * Joins the n parts, in order (the last is the one to INT64_MAX), and
 * returns as events_verify would; frees their texts.
 */
int events_verify_join(struct events_part *parts, size_t n, int64_t *count,
		       char head[EVENTS_HEAD_MAX], int64_t *bad_id, char **cause);

/*
 * Sets *id to the last event's id (0: none), which moves with every change
 * tokenwarden makes to the store.  Returns 0 or -1 with *cause.
 */
int events_last_id(struct store *s, int64_t *id, char **cause);

/* Sets the last event's hex hash ("" when none) and the count.  Returns 0 or -1. */
int events_head(struct store *s, char head[EVENTS_HEAD_MAX], int64_t *count, char **cause);

/*
 * Calls fn for each event matching f, oldest first; fn returns 0 to go on.
 * Returns 0, fn's non-zero value, or -1 with *cause.
 */
int events_list(struct store *s, const struct event_filter *f,
		int (*fn)(const struct event *e, void *arg), void *arg, char **cause);

/* What the history says of one token row, for audit report. */
struct event_row_facts {
	char *creator;       /* the actor of its token.intent or token.imported; NULL: none */
	int64_t verified_at; /* its last token.verified; 0: never */
};

/*
 * Reads what the history says of every token row in one pass: *out
 * (allocated, *n entries, the caller frees each creator and the array)
 * indexed by row id, for ids below *n (the largest id, or twice the
 * number of rows and 65,536 more when that is less: an edited store's huge
 * id gets no facts rather than a huge array).  Returns 0 or -1 with *cause.
 */
int events_row_facts(struct store *s, struct event_row_facts **out, int64_t *n, char **cause);

/*
 * Calls fn with the time of the last token.active event for each workspace
 * and slot that has one; fn returns 0 to go on.  Returns 0, fn's value, or
 * -1 with *cause.
 */
int events_last_active(struct store *s,
		       int (*fn)(const char *workspace, const char *slot, int64_t at, void *arg),
		       void *arg, char **cause);

#endif
