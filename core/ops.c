/* token create and delete, recorded step by step in the store. */
#include "core/ops.h"

#include "core/clock.h"
#include "core/xalloc.h"
#include "store/tokens.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef TW_TEST_HOOKS
void
ops_crash_point(const char *point)
{
	static atomic_long passed; /* of the point named, by every thread */
	const char *want = getenv("TOKENWARDEN_TEST_CRASH"), *hash;
	size_t len = strlen(point);
	long nth = 1;

	if (want == NULL || strncmp(want, point, len) != 0)
		return;
	hash = want + len;
	if (*hash == '#')
		nth = strtol(hash + 1, NULL, 10);
	else if (*hash != '\0')
		return;
	if (atomic_fetch_add(&passed, 1) + 1 == nth)
		raise(SIGKILL);
}

void
ops_pause_point(const char *point)
{
	const char *want = getenv("TOKENWARDEN_TEST_PAUSE");
	struct timespec two = {2, 0};

	if (want != NULL && strcmp(want, point) == 0)
		nanosleep(&two, NULL);
}
#else
void
ops_crash_point(const char *point)
{
	(void)point;
}

void
ops_pause_point(const char *point)
{
	(void)point;
}
#endif

/*
 * Whether t, a create's answer, names a token the store already holds for
 * workspace: then it is not the new token's (a cache or a proxy replayed an
 * earlier answer), whether or not one was made, and the token it names is
 * in use.  Returns MODE_OK when it is new; else MODE_ERR_UNKNOWN with
 * *cause, also when the store could not say.
 */
static int
check_new(struct store *s, const char *workspace, const struct mode_token *t, char **cause)
{
	struct token_row *known = NULL;
	char *why = NULL;
	int rc = tokens_find(s, workspace, t->token, &known, &why);

	if (rc == 1)
		return MODE_OK;
	if (rc < 0) {
		/* Not deleted: the token the answer names may be one in use. */
		*cause = xasprintf("created token %s but could not look it up in the store (%s); "
				   "it expires by itself at its expires_at",
				   t->token, why);
		free(why);
		return MODE_ERR_UNKNOWN;
	}
	*cause = xasprintf("the create's answer names token %s, which the store already holds "
			   "(%s): an earlier answer replayed, not the new token's; whether a "
			   "token was made is unknown, and the one it names is left as it is",
			   t->token, tokens_state_name(known->state));
	tokens_free(known, 1);
	return MODE_ERR_UNKNOWN;
}

/*
 * Records t, the answer of a successful POST for row: its id and sealed
 * secret, in one transaction synced as sync says, once check_new finds in
 * that transaction that the token it names is new.  Returns 0; 1 with
 * *cause when it is not (nothing recorded: the token is unknown); or -1
 * with *cause when the secret could not be sealed or stored.
 */
static int
record_created(struct store *s, const struct seal_pub *pub, const char *workspace, int64_t row,
	       const struct mode_token *t, enum ops_sync sync, char **cause)
{
	unsigned char *blob = NULL;
	size_t len = 0;
	char fpr[SEAL_FPR_MAX];
	int rc = -1;

	seal_fingerprint(pub, fpr);
	if (seal_seal(pub, workspace, t->token, t->access_key, t->access_secret, &blob, &len,
		      cause) != SEAL_OK)
		goto out;
	if ((sync == OPS_SYNC_LATER ? store_begin_unsynced(s, cause) : store_begin(s, cause)) < 0)
		goto out;
	rc = check_new(s, workspace, t, cause) == MODE_OK ? 0 : 1;
	if (rc == 0)
		rc = tokens_created(s, row, t->token, t->created_at, t->expires_at, blob, len, fpr,
				    clock_now_ms(), cause);
	rc = store_end(s, rc, cause);
out:
	free(blob);
	return rc;
}

/*
 * The token exists but could not be stored: delete it on the server so no
 * secret is lost track of, and say so.
 */
static int
undo_unstored(struct store *s, struct mode_client *c, int64_t row, const struct mode_token *t,
	      char **cause)
{
	char *why = *cause, *del = NULL;
	int rc = mode_undo_create(c, t->token, &del);
	json_t *d = json_pack("{s:s, s:s}", "token", t->token, "error", why);

	if (rc == MODE_OK) {
		*cause = xasprintf("created token %s but could not store it (%s); it was deleted "
				   "again on the server",
				   t->token, why);
		tokens_transition(s, row, TOKEN_PENDING, TOKEN_FAILED, clock_now_ms(), d, &del);
		rc = MODE_ERR_REJECTED;
	} else {
		*cause = xasprintf("created token %s but could not store it (%s), and deleting it "
				   "failed (%s); delete it by hand",
				   t->token, why, del);
		tokens_transition(s, row, TOKEN_PENDING, TOKEN_UNKNOWN, clock_now_ms(), d, &del);
		rc = MODE_ERR_UNKNOWN;
	}
	json_decref(d);
	free(why);
	free(del);
	return rc;
}

int
ops_create(struct store *s, const struct seal_pub *pub, struct mode_client *c,
	   const char *workspace, const char *slot, const char *name, enum ops_name naming,
	   int64_t expires_at, enum ops_sync sync, struct ops_created *out, char **cause)
{
	struct mode_token *t = NULL;
	json_t *d = NULL;
	char *ignored = NULL;
	int64_t row = 0;
	int rc;

	memset(out, 0, sizeof *out);
	if (mode_check_name(name, cause) < 0)
		return MODE_ERR_USAGE;
	rc = naming == OPS_NAME_FRESH
		 ? tokens_intent_fresh(s, workspace, slot, name, expires_at, clock_now_ms(), &row,
				       cause)
		 : tokens_intent(s, workspace, slot, name, expires_at, clock_now_ms(), &row, cause);
	if (rc != 0)
		return rc > 0 ? OPS_NAME_USED : MODE_ERR_USAGE;
	ops_crash_point("before-post");
	rc = mode_create(c, name, expires_at, &t, cause);
	ops_crash_point("after-post");
	if (rc == MODE_OK) {
		int recorded = record_created(s, pub, workspace, row, t, sync, cause);

		if (recorded < 0)
			rc = undo_unstored(s, c, row, t, cause);
		else if (recorded > 0)
			rc = MODE_ERR_UNKNOWN;
		else
			ops_crash_point("after-commit");
	}
	if (rc == MODE_OK) {
		out->token = t;
		out->row = row;
		return MODE_OK;
	}
	d = json_pack("{s:s}", "error", *cause);
	if (rc == MODE_ERR_UNKNOWN)
		tokens_transition(s, row, TOKEN_PENDING, TOKEN_UNKNOWN, clock_now_ms(), d,
				  &ignored);
	else
		tokens_transition(s, row, TOKEN_PENDING, TOKEN_FAILED, clock_now_ms(), d, &ignored);
	free(ignored);
	json_decref(d);
	mode_token_free(t);
	return rc;
}

int
ops_record_deleted(struct store *s, const char *workspace, const char *id, int found, char **cause)
{
	/* A 404 means the server holds no such token: the inventory must agree. */
	json_t *d = json_pack("{s:s}", "answer", found ? "deleted" : "not found");
	char *why = NULL;
	int rc = 0;

	if (tokens_mark_deleted(s, workspace, id, clock_now_ms(), d, &why) < 0 && found) {
		*cause = xasprintf("deleted token %s on the server, but could not record it: %s",
				   id, why);
		rc = -1;
	}
	free(why);
	json_decref(d);
	return rc;
}

int
ops_delete_remote(struct mode_client *c, const char *id, struct mode_token **gone, char **cause)
{
	int rc = mode_delete(c, id, gone, cause);

	if (rc == MODE_OK || rc == MODE_ERR_NOT_FOUND)
		ops_crash_point("after-delete");
	return rc;
}

int
ops_delete(struct store *s, struct mode_client *c, const char *workspace, const char *id,
	   struct mode_token **gone, char **cause)
{
	int rc = ops_delete_remote(c, id, gone, cause);

	if (rc != MODE_OK && rc != MODE_ERR_NOT_FOUND)
		return rc;
	if (ops_record_deleted(s, workspace, id, rc == MODE_OK, cause) < 0)
		rc = MODE_ERR_PROTOCOL;
	return rc;
}

int
ops_revoke(struct store *s, struct mode_client *c, const char *workspace, const char *id,
	   char **cause)
{
	struct token_row *row = NULL;
	json_t *d = NULL;
	int rc;

	rc = tokens_find(s, workspace, id, &row, cause);
	if (rc < 0)
		return MODE_ERR_PROTOCOL;
	if (rc == 1 || row->state == TOKEN_DELETED || row->state == TOKEN_REVOKED ||
	    row->state == TOKEN_FAILED) {
		if (rc == 1)
			*cause = xasprintf("workspace %s has no token %s in the inventory",
					   workspace, id);
		else
			*cause =
			    xasprintf("token %s is already %s", id, tokens_state_name(row->state));
		rc = MODE_ERR_USAGE;
		goto out;
	}
	rc = mode_delete(c, id, NULL, cause);
	if (rc != MODE_OK && rc != MODE_ERR_NOT_FOUND)
		goto out;
	d = json_pack("{s:s}", "answer", rc == MODE_OK ? "deleted" : "not found");
	FREE_NULL(cause);
	if (tokens_transition(s, row->row, row->state, TOKEN_REVOKED, clock_now_ms(), d, cause) < 0)
		rc = MODE_ERR_PROTOCOL;
	else
		rc = MODE_OK;
out:
	json_decref(d);
	tokens_free(row, row != NULL ? 1 : 0);
	return rc;
}
