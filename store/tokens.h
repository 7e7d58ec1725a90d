/*
 * The inventory: workspaces, slots (a policy's logical token) and token
 * generations moving through the state machine of DESIGN.md.  Every change
 * commits in its own BEGIN IMMEDIATE transaction together with its event,
 * so the history and the inventory never disagree.
 */
#ifndef TW_TOKENS_H
#define TW_TOKENS_H

#include "store/store.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum token_state {
	TOKEN_PENDING,  /* intent committed, POST not answered yet */
	TOKEN_CREATED,  /* id and sealed secret stored */
	TOKEN_VERIFIED, /* a Bearer call worked */
	TOKEN_ACTIVE,   /* delivered; the slot's current token */
	TOKEN_RETIRING, /* replaced; deleted after retire_after */
	TOKEN_DELETED,
	TOKEN_FAILED,  /* the POST was refused */
	TOKEN_UNKNOWN, /* the POST's outcome is unknown: may exist until expires_at */
	TOKEN_EXPIRED,
	TOKEN_REVOKED,
	TOKEN_NSTATES /* not a state: the count, for loops */
};

/* Every state's name as stored, by state, then NULL. */
extern const char *const tokens_states[TOKEN_NSTATES + 1];

/* Returns the state's name as stored ("pending", ...). */
const char *tokens_state_name(enum token_state st);
/* Parses a state name; returns 0 or -1. */
int tokens_state_parse(const char *name, enum token_state *st);

struct token_names;

/* One token generation as stored. */
struct token_row {
	int64_t row;
	char *workspace;
	char *slot;  /* NULL: unmanaged */
	char *token; /* Mode's id; NULL while pending or unknown */
	char *name;
	enum token_state state;
	int has_secret;
	char *origin; /* "created" or "imported" */
	int64_t requested_at;
	int64_t created_at; /* 0 when unknown */
	int64_t expires_at;
	int64_t updated_at;
	/* retiring: deleted after it.  created or verified: set when delivery began, so
	 * consumers may hold it; kept (retiring) until then, not deleted.  0: not set. */
	int64_t retire_after;
	/* NULL: the row's strings are its own.  Else they point into the names the
	 * rows of one tokens_live array share (one copy of each workspace, slot and
	 * origin name; the token ids and names cut from a few large blocks rather
	 * than allocated one by one), freed with the array by tokens_free. */
	struct token_names *names;
};

struct token_filter {
	const char *workspace; /* NULL: any */
	const char *slot;      /* NULL: any; "" unmanaged only */
	int state;             /* -1: any, else an enum token_state */
	int live;              /* 1: only the rows tokens_live lists */
};

/*
 * Records the intent to create a token (state pending) before the POST is
 * sent.  slot may be NULL.  Returns 0 with *row, or -1 with *cause (for
 * example when the slot already has a replacement in flight).
 */
int tokens_intent(struct store *s, const char *workspace, const char *slot, const char *name,
		  int64_t expires_at, int64_t now, int64_t *row, char **cause);

/*
 * tokens_intent for a name that must be new: when workspace has a token
 * of that name already, in any state, returns 1 with nothing recorded.
 * The look-up and the intent are one transaction.
 */
int tokens_intent_fresh(struct store *s, const char *workspace, const char *slot, const char *name,
			int64_t expires_at, int64_t now, int64_t *row, char **cause);

/*
 * Records a POST's answer in one transaction: the token's id and times, its
 * sealed secret (sealed_len bytes, sealed to the key with fingerprint fpr),
 * and state created.  Returns 0 or -1 with *cause.
 */
int tokens_created(struct store *s, int64_t row, const char *token, int64_t created_at,
		   int64_t expires_at, const unsigned char *sealed, size_t sealed_len,
		   const char *fpr, int64_t now, char **cause);

/*
 * Moves row from state `from` to `to`, with an event carrying details
 * (borrowed, may be NULL).  Fails, changing nothing, when the row is not in
 * `from` or the schema refuses (a second active token for a slot).
 */
int tokens_transition(struct store *s, int64_t row, enum token_state from, enum token_state to,
		      int64_t now, const json_t *details, char **cause);

/*
 * Makes row (created or verified) its slot's active token and moves the
 * token the slot has active at that moment, if any, to retiring with
 * retire_after (ms): one transaction with both events, so a slot is never
 * without an active token nor with two, whatever earlier steps did to the
 * old one.  No other retiring token of the slot outlives retire_after.
 * Sets *retired to the row retired, or 0.  Fails, changing nothing, when
 * row is not created or verified.
 */
int tokens_activate(struct store *s, int64_t row, int64_t retire_after, int64_t now,
		    int64_t *retired, char **cause);

/*
 * The names an event about token row carries, as the tables have them:
 * *ws, *slot and *token (allocated; NULL where the row has none).  Returns
 * 1, 0 when there is no such row (all three NULL), or -1 with *cause.
 */
int tokens_names_of(struct store *s, int64_t row, char **ws, char **slot, char **token,
		    char **cause);

/*
 * Marks row (created or verified) as handed to consumers from now on: its
 * retire_after becomes its expiry, with a `token.delivering` event naming
 * the number of consumers.  A crash before its activation leaves it kept
 * (see tokens_retire), never deleted under a consumer that may hold it.
 */
int tokens_delivering(struct store *s, int64_t row, size_t consumers, int64_t now, char **cause);

/*
 * Puts row, a replacement kept for the consumers that took it (retiring at
 * its expiry), back in flight as `to` (created or verified), to hand it to
 * the consumers that refused it: a `token.delivering` event naming the
 * number of consumers and how many hold it (took).  It stays marked as
 * handed to consumers, so a crash before its activation leaves it kept
 * again.  *resumed is 0, and nothing changes, when the row is no longer
 * kept or its slot has another replacement in flight.  Returns 0, or -1
 * with *cause.
 */
int tokens_resume(struct store *s, int64_t row, enum token_state to, size_t consumers, size_t took,
		  int64_t now, int *resumed, char **cause);

/*
 * Moves row (created or verified) to retiring with retire_after (ms), with
 * an event carrying details (borrowed, may be NULL): a replacement some
 * consumers took and another refused, kept while they hold it.  The slot's
 * next activation brings retire_after forward to its own grace.
 */
int tokens_retire(struct store *s, int64_t row, int64_t retire_after, int64_t now,
		  const json_t *details, char **cause);

/*
 * Keeps row (created or verified), a replacement the consumers named in
 * details' "reached" (an array of deliver_fingerprint strings, core/deliver.h)
 * took before another refused it: retiring until retire_after, as
 * tokens_retire, details borrowed.  In the same transaction the slot's
 * earlier kept replacements whose consumers have all taken row (the last
 * token.retiring event of each names them, and each is in reached) retire
 * at superseded_after instead, with an event each: no consumer holds them
 * any more.  One whose event names none (an interrupted run's) stays.
 * Sets *superseded to their number.  Returns 0, or -1 with *cause.
 */
int tokens_keep(struct store *s, int64_t row, int64_t retire_after, int64_t superseded_after,
		int64_t now, const json_t *details, int *superseded, char **cause);

/*
 * Marks every pending row unknown: called by a process holding the run
 * lock, when no other process can be between intent and answer.  Sets
 * *settled to the number of rows changed.
 */
int tokens_settle_pending(struct store *s, int64_t now, int *settled, char **cause);

/*
 * Sets *any to whether a row is pending (an intent whose answer is not
 * recorded), read without the run lock: whether tokens_settle_pending
 * could have anything to do.  Returns 0, or -1 with *cause.
 */
int tokens_any_pending(struct store *s, int *any, char **cause);

/*
 * Erases the sealed secrets a store holds of deleted and revoked tokens
 * (kept before schema 20), a secret.erased event each.  Returns 0 or -1
 * with *cause.
 */
int tokens_erase_dead_secrets(struct store *s, char **cause);

/*
 * Records that workspace's token was deleted on the server: its row (when
 * the inventory has one and it is not already deleted) becomes deleted, and
 * an event is appended either way, with details (borrowed, may be NULL).
 * A row that becomes deleted or revoked (here or by tokens_transition)
 * loses its sealed secret, which opens nothing any more; the event then
 * says "secret": "erased".  Returns 0 or -1 with *cause.
 */
int tokens_mark_deleted(struct store *s, const char *workspace, const char *token, int64_t now,
			const json_t *details, char **cause);

/* A token made elsewhere, joining the inventory. */
struct token_import {
	const char *workspace;
	const char *slot; /* NULL: unmanaged */
	const char *token;
	const char *name;
	int64_t created_at;
	int64_t expires_at;
	const unsigned char *sealed; /* NULL: no secret */
	size_t sealed_len;
	const char *fpr;
};

/* Records an imported token as active (slot) or unmanaged.  Returns 0 or -1. */
int tokens_import(struct store *s, const struct token_import *imp, int64_t now, char **cause);

/* Lists rows matching f, oldest first.  Returns 0 with *rows (free with tokens_free) and *n. */
int tokens_list(struct store *s, const struct token_filter *f, struct token_row **rows, size_t *n,
		char **cause);

/*
 * Calls fn with each row matching f, oldest first, as tokens_list lists
 * them, one at a time: r and its strings are valid during the call only.
 * Stops at the first call that does not return 0.  Returns 0, what fn
 * returned, or -1 with *cause.
 */
int tokens_each(struct store *s, const struct token_filter *f,
		int (*fn)(const struct token_row *r, void *arg), void *arg, char **cause);

/*
 * Lists the rows that may exist on the server (every state but deleted,
 * failed and revoked), oldest first.  Returns 0 with *rows (free with
 * tokens_free) and *n, or -1 with *cause.
 */
int tokens_live(struct store *s, struct token_row **rows, size_t *n, char **cause);

/*
 * As tokens_live, with every row's has_secret -1 (not read): for the
 * planner, which never looks at it, since the look-up of each row's secret
 * costs a third of the read.
 */
int tokens_live_unsealed(struct store *s, struct token_row **rows, size_t *n, char **cause);

/*
 * One part of a reading of the live rows as tokens_live_unsealed reads
 * them, for a thread with a connection of its own: from the lowest id (up)
 * or the highest, for as long as take says a row is the part's (two parts
 * meet as core/meet.h's walks do), given in id order either way.  In the
 * same read transaction (the caller's, when one is open), sets *end to the
 * last event's id (events_last_id), by which the caller tells whether two
 * parts read the same state of the store.  Returns 0, or -1 with *cause.
 */
int tokens_live_part(struct store *s, int up, int (*take)(int64_t row, void *arg), void *arg,
		     struct token_row **rows, size_t *n, int64_t *end, char **cause);

/* Reverses the order of n rows in place. */
void tokens_reverse(struct token_row *rows, size_t n);

/*
 * Lists the slots' rows deleted or revoked before their retire_after that
 * are newer than their slot's active token (all, for a slot without one),
 * oldest first: tokens a consumer may still hold, dead, that only a
 * rotation of the slot can replace.  Returns 0 with *rows (free with
 * tokens_free) and *n, or -1 with *cause.
 */
int tokens_dead_held(struct store *s, struct token_row **rows, size_t *n, char **cause);

/* Counts every row by state, whatever the state (served by an index).  Returns 0 or -1. */
int tokens_count_by_state(struct store *s, int64_t counts[TOKEN_NSTATES], char **cause);

/* Finds workspace's token by Mode id.  Returns 0 with *out (free with tokens_free(out, 1)), 1 when
 * absent, -1. */
int tokens_find(struct store *s, const char *workspace, const char *token, struct token_row **out,
		char **cause);

/*
 * Finds workspace's token by its Mode id or, when no token has that id, by
 * its Mode-side name (names repeat only for tokens made by hand).  Returns 0
 * with *out (free with tokens_free(out, 1)), 1 when absent, 2 when several
 * tokens have that name (*cause lists their ids), or -1 with *cause.
 */
int tokens_lookup(struct store *s, const char *workspace, const char *word, struct token_row **out,
		  char **cause);

/*
 * Reads row's sealed secret.  Returns 0 with *blob (caller frees) and *len
 * and *fpr (caller frees), 1 when it has none, -1 with *cause.
 */
int tokens_sealed(struct store *s, int64_t row, unsigned char **blob, size_t *len, char **fpr,
		  char **cause);

/* Frees n rows. */
void tokens_free(struct token_row *rows, size_t n);

#endif
