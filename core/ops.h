/*
 * The hand-driven operations (token create and delete) carried through the
 * store as DESIGN.md's state machine requires: the intent is committed before
 * the POST, the answer (id and sealed secret) in one transaction after it, and
 * every outcome recorded.  The caller holds the store's run lock.
 */
#ifndef TW_OPS_H
#define TW_OPS_H

#include "core/mode.h"
#include "core/seal.h"
#include "store/store.h"

#include <stdint.h>

/* What a create left in the store, for the caller's message. */
struct ops_created {
	struct mode_token *token; /* the answer, when the POST worked (free with mode_token_free) */
	int64_t row;              /* its row in the store, then */
};

/*
 * Kills the process with SIGKILL when TOKENWARDEN_TEST_CRASH names point,
 * or as POINT#N when the run passes point the Nth time; does nothing
 * otherwise.  Lets tests interrupt at exact step boundaries.
 * Only in a build with the test hooks (-DTW_TEST_HOOKS=ON); in any other it
 * does nothing, so an installed binary never obeys the variable.
 */
void ops_crash_point(const char *point);
/*
 * Sleeps two seconds when TOKENWARDEN_TEST_PAUSE names point, so a test
 * can act while the process holds what it holds there; only in a build
 * with the test hooks, as ops_crash_point.
 */
void ops_pause_point(const char *point);

/* When a create's answer (its id and sealed secret) reaches the disk. */
enum ops_sync {
	OPS_SYNC_ANSWER, /* with its commit: the caller hands the token out next */
	/*
	 * With the caller's next synced commit, which comes before the token
	 * leaves the process (a rotation's proof, before any consumer gets
	 * it).  The commit is made, so a crash of the process loses nothing; a
	 * power cut before the sync leaves the intent, which the next run
	 * settles as unknown, as it does an answer lost on the way.
	 */
	OPS_SYNC_LATER,
};

/* Whether a create may take a name the workspace has used before. */
enum ops_name {
	OPS_NAME_ANY,   /* as an admin names a token by hand */
	OPS_NAME_FRESH, /* only a new one: else ops_create returns OPS_NAME_USED */
};

/* ops_create's answer when the name must be fresh and is not: nothing was sent. */
#define OPS_NAME_USED 1

/*
 * Creates token name (slot may be NULL: unmanaged) expiring at expires_at
 * through c, recording it in s with its secret sealed to pub, the answer
 * synced as sync says.  The intent is synced before the POST.  Returns a
 * mode_err: MODE_OK with out->token; MODE_ERR_UNKNOWN when the outcome is
 * unknown (row left unknown, bounded by expires_at); another error (row
 * failed, or nothing recorded when the store itself failed) with *cause.
 * With OPS_NAME_FRESH, OPS_NAME_USED when the workspace has a token of that
 * name (nothing recorded).  The caller settles what interrupted creates
 * left (tokens_settle_pending) once, before its first create: later
 * pending rows may be another thread's creates in flight.
 */
int ops_create(struct store *s, const struct seal_pub *pub, struct mode_client *c,
	       const char *workspace, const char *slot, const char *name, enum ops_name naming,
	       int64_t expires_at, enum ops_sync sync, struct ops_created *out, char **cause);

/*
 * Deletes workspace's token id through c and records it.  Returns a
 * mode_err as mode_delete does (*gone set to the answer's object or NULL).
 */
int ops_delete(struct store *s, struct mode_client *c, const char *workspace, const char *id,
	       struct mode_token **gone, char **cause);
/*
 * Deletes token id through c, without recording it: ops_delete's first half,
 * for a caller that records deletions later (ops_record_deleted).  Returns
 * a mode_err as mode_delete does.
 */
int ops_delete_remote(struct mode_client *c, const char *id, struct mode_token **gone,
		      char **cause);
/*
 * Records that workspace's token id is gone from the server: found, deleted
 * by its DELETE; else its DELETE answered 404.  Returns 0; or -1 with *cause
 * when a token deleted on the server could not be recorded (the next run's
 * DELETE then answers 404, and records it).
 */
int ops_record_deleted(struct store *s, const char *workspace, const char *id, int found,
		       char **cause);

/*
 * Revokes workspace's token id: deletes it on the server at once, with no
 * replacement, and records it revoked (a 404 counts: it is gone).  Returns
 * a mode_err; MODE_ERR_USAGE when the inventory has no live token id.
 */
int ops_revoke(struct store *s, struct mode_client *c, const char *workspace, const char *id,
	       char **cause);

#endif
