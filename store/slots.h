/*
 * Per-slot attempt state: how many rotations of a slot failed in a row and
 * when the next may start, kept in the store so that backoff holds across
 * runs and a slot that keeps failing is seen as stuck, not retried in a
 * tight loop.
 */
#ifndef TW_SLOTS_H
#define TW_SLOTS_H

#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

struct slot_state {
	char *workspace;
	char *slot;
	int failures;            /* in a row; 0 after a success */
	int64_t next_attempt_at; /* ms; no attempt before this */
	char *last_error;        /* no secret */
};

/*
 * Records a failed attempt on workspace/slot at now: one more failure, no
 * new attempt before next_at, and error.  One transaction with its event
 * (slot.failure).  Sets *failures to the count so far.  Returns 0 or -1.
 */
int slots_failed(struct store *s, const char *workspace, const char *slot, int64_t now,
		 int64_t next_at, const char *error, int *failures, char **cause);

/* Clears workspace/slot's failures after a success (event slot.recovered when it had any). */
int slots_succeeded(struct store *s, const char *workspace, const char *slot, int64_t now,
		    char **cause);

/* Lists the slots with failures, by workspace then slot.  Free with slots_free. */
int slots_list(struct store *s, struct slot_state **out, size_t *n, char **cause);

void slots_free(struct slot_state *v, size_t n);

/*
 * The consumers a slot's token reached when it became active, as
 * deliver_fingerprint names them, so that the plan sees one the policy has
 * added or moved there since: only a rotation hands that one a token.  Not
 * in the history (nor is slot_state): an edit of it can only bring a
 * rotation forward, or leave a new consumer to wait for the slot's next one.
 */
struct slot_reached {
	char *workspace;
	char *slot;
	int64_t row;     /* the token row it is of */
	char *consumers; /* the fingerprints, each followed by a comma */
};

/* Records that token row reached consumers (as slot_reached has them), for its slot. */
int slots_reached(struct store *s, int64_t row, const char *consumers, char **cause);

/* Lists every slot's record.  Free with slots_reached_free. */
int slots_reached_list(struct store *s, struct slot_reached **out, size_t *n, char **cause);

void slots_reached_free(struct slot_reached *v, size_t n);

#endif
