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
 * Which token each consumer holds, as deliveries left it, so that the plan
 * sees a consumer the policy has added to a slot, or moved to it from
 * another (or back), since: only a rotation hands that one the slot's
 * token.  A consumer is named by deliver_holder's key; for each consumer,
 * handed keeps the last token handed to it, and the one a delivery began
 * to hand it and did not see through.  A slot's record names the
 * active token whose handing is recorded there: a slot whose active token
 * has none (made before the record was kept, imported, by hand) is taken
 * to have reached its consumers, or those schema 14's record of it names.
 * Both follow from the history: each change is a consumer.handed event
 * giving each record as it left it (inventory_verify compares them); the
 * first of a store upgraded to schema 17 gives them all (slots_attest).
 * slot_state is not in the history.
 */
#define SLOTS_HOLDER_MAX 33

struct slot_reached {
	char *workspace;
	char *slot;
	int64_t row; /* the token row whose handing is recorded */
	/* NULL; or schema 14's record of row: the consumers it reached, by
	 * deliver_fingerprint, each followed by a comma. */
	char *legacy;
};

struct slot_handed {
	char consumer[SLOTS_HOLDER_MAX]; /* deliver_holder's key */
	int64_t row;                     /* the last token row handed to it, or 0: none */
	/* A token row a delivery began to hand it and did not see through (a
	 * run killed, a consumer that may have lost it), or 0: it may hold that
	 * one or row, until a token is handed to it. */
	int64_t offered;
	/* The owner and group its file was given with row (deliver_given's);
	 * NULL: a program, or not recorded. */
	char *given;
	/* Token rows offered before offered, whose offers a later one replaced
	 * before any was seen through: it may hold any of them too. */
	int64_t *superseded;
	size_t nsuperseded;
};

/* What slots_handed records of a token for each consumer. */
enum slots_hand {
	SLOTS_TOOK,    /* it took the token: what it holds, its offered cleared */
	SLOTS_REACHED, /* an active token took: SLOTS_TOOK, and its slot's record
			* (none, and nothing handed, for a token of no slot) */
	SLOTS_OFFERED, /* a delivery to it begins: it may hold the token from now
			* (an offer not seen through kept as superseded) */
	SLOTS_REFUSED, /* it did not take the token: an offer of it withdrawn,
			* the last superseded one offered again */
};

/*
 * Records token row for n consumers, as how says: holders has their keys
 * one after another, SLOTS_HOLDER_MAX bytes each (its NUL included), and
 * given, for SLOTS_TOOK and SLOTS_REACHED, what each was given with it
 * (slot_handed's given: an entry, or given itself, NULL for none).  One
 * transaction with its event (consumer.handed, at now), when a record
 * changed.
 */
int slots_handed(struct store *s, int64_t row, enum slots_hand how, const char *holders,
		 const char *const *given, size_t n, int64_t now, char **cause);

/*
 * The migration to schema 17, in its transaction: one consumer.handed
 * event giving every record as the store holds it (none: no event): an
 * edit from then on shows, one made before does not.
 */
int slots_attest(struct store *s, char **cause);

/* Lists every slot's record, and schema 14's.  Free with slots_reached_free. */
int slots_reached_list(struct store *s, struct slot_reached **out, size_t *n, char **cause);

void slots_reached_free(struct slot_reached *v, size_t n);

/* Lists what handed holds, by consumer (strcmp order).  Free with slots_handed_free. */
int slots_handed_list(struct store *s, struct slot_handed **out, size_t *n, char **cause);

void slots_handed_free(struct slot_handed *v, size_t n);

#endif
