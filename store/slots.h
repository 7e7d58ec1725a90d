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

#endif
