/* Options shared by the verbs that use the database and the sealing key. */
#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/msg.h"
#include "cmd/print.h"

#include "core/exitcodes.h"
#include "core/seal.h"
#include "core/clock.h"
#include "core/xalloc.h"
#include "store/events.h"
#include "store/tokens.h"
#include "store/store.h"

#include <stdlib.h>
#include <unistd.h>

void
store_opts_init(struct store_opts *o)
{
	const char *db = getenv("TOKENWARDEN_DB");
	const char *pk = getenv("TOKENWARDEN_PUBLIC_KEY");

	o->db = args_globals.db != NULL ? args_globals.db : db != NULL ? db : DB_DEFAULT;
	o->public_key = args_globals.public_key != NULL ? args_globals.public_key
			: pk != NULL                    ? pk
							: PUB_DEFAULT;
	o->wait_ms = 0;
	o->stop = NULL;
}

/* Takes cause (the public key is not there) and returns it with where else to name one. */
static char *
key_missing(char *cause)
{
	char *msg =
	    xasprintf("%s; name the sealing public key that 'init' pinned with "
		      "--public-key, $TOKENWARDEN_PUBLIC_KEY or the policy's store: public_key",
		      cause);

	free(cause);
	return msg;
}

/*
 * The run lock, waited for as o asks, in quarter seconds when o can stop
 * the wait: a signal to stop ends it at once.  As store_lock_wait, or 2
 * with *cause when stopped.
 */
static int
lock_wait(struct store *s, const struct store_opts *o, char **cause)
{
	int64_t until = o->wait_ms < 0 ? INT64_MAX : clock_mono_ms() + o->wait_ms, left;
	int rc;

	if (o->stop == NULL || o->wait_ms == 0)
		return store_lock_wait(s, o->wait_ms, cause);
	for (;;) {
		left = until - clock_mono_ms();
		rc = store_lock_wait(s, left < 0 ? 0 : left < 250 ? left : 250, cause);
		if (rc != 1 || left <= 250)
			return rc;
		FREE_NULL(cause);
		if (o->stop(NULL)) {
			*cause =
			    xstrdup("stopped (SIGTERM or SIGINT) while waiting for the run lock; "
				    "nothing was done");
			return 2;
		}
	}
}

struct store *
store_ctx_open(const struct store_opts *o, struct seal_pub *pub, int flags, int *status)
{
	struct store *s = NULL;
	char *cause = NULL, fpr[SEAL_FPR_MAX];
	int rc;

	*status = TW_EXIT_USAGE;
	if (store_open(o->db, flags == STORE_CTX_READ ? STORE_READ : STORE_OPEN, &s, &cause) < 0)
		goto fail;
	if (s->readonly != NULL)
		notef("%s: opened read-only (%s); nothing is written", o->db, s->readonly);
	if (pub != NULL) {
		if (seal_load_public(o->public_key, pub, &cause) != SEAL_OK) {
			if (access(o->public_key, F_OK) < 0)
				cause = key_missing(cause);
			goto fail;
		}
		seal_fingerprint(pub, fpr);
		if (store_check_key(s, fpr, &cause) < 0)
			goto fail;
	}
	if ((flags & STORE_CTX_LOCK) != 0) {
		rc = lock_wait(s, o, &cause);
		if (rc == 1)
			*status = TW_EXIT_LOCKED;
		if (rc == 2)
			*status = TW_EXIT_PENDING;
		if (rc != 0)
			goto fail;
	}
	return s;
fail:
	errorf("%s", cause);
	free(cause);
	store_close(s);
	return NULL;
}

/* Whether s has a C0 control character or DEL, which no version stored in a name. */
static int
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

int
store_ctx_find_token(struct store *s, const char *ws, const char *word, struct token_row **out,
		     int *status)
{
	char *cause = NULL, *clean;
	int rc;

	*status = TW_EXIT_USAGE;
	/*
	 * Checked first: a word no token can have is not looked up.  A stored name
	 * may hold what mode_check_name now refuses but an older version took (C1
	 * and bidirectional controls, an overlong sequence), so here it refuses
	 * only what no version took, a control character; what it says is shown
	 * clean (print_clean).
	 */
	if (mode_check_id(word, &cause) < 0) {
		FREE_NULL(&cause);
		if (has_control(word) && mode_check_name(word, &cause) < 0)
			goto fail;
	}
	rc = tokens_lookup(s, ws, word, out, &cause);
	if (rc == 0 || rc == 1)
		return rc;
	if (rc < 0)
		*status = TW_EXIT_FAILURE;
fail:
	clean = print_clean(cause, NULL);
	errorf("%s", clean);
	free(clean);
	free(cause);
	return -1;
}

const char *
store_ctx_token_id(struct store *s, const char *ws, const char *word, struct token_row **row,
		   int *status)
{
	char *cause = NULL;
	int r = store_ctx_find_token(s, ws, word, row, status);

	if (r < 0)
		return NULL;
	if (r == 1 && mode_check_id(word, &cause) == 0)
		return word;
	if (r == 1) {
		errorf("workspace %s has no token named '%s' in the inventory, and %s", ws, word,
		       cause);
		free(cause);
		return NULL;
	}
	if ((*row)->token == NULL) {
		errorf("token '%s' of workspace %s has no Mode id (it is %s)", word, ws,
		       tokens_state_name((*row)->state));
		*status = TW_EXIT_FAILURE;
		return NULL;
	}
	return (*row)->token;
}

void
store_ctx_note_head(struct store *s)
{
	char head[EVENTS_HEAD_MAX], *cause = NULL;
	int64_t n = 0;

	if (events_head(s, head, &n, &cause) < 0) {
		warnf("%s", cause);
		free(cause);
		return;
	}
	notef("history head %s (event %lld); keep it elsewhere to check the history with 'audit "
	      "verify --head'",
	      head, (long long)n);
}

void
store_ctx_note_written(struct store *s)
{
	struct store_mark m = {0};
	char *cause = NULL;

	if (store_mark(s, &m, &cause) < 0 || m.own > 0)
		store_ctx_note_head(s);
	free(cause);
}

void
store_ctx_settle(struct store *s)
{
	char *cause = NULL;
	int settled = 0, any = 0;

	/* A read-only store is shown as stored: settling would write. */
	if (s->readonly != NULL)
		return;
	/*
	 * With nothing to settle, the usual case, no lock is taken: a run that
	 * starts meanwhile never finds a listing in its way.  A read that fails
	 * fails the listing's own reads after it, which say so.
	 */
	if (tokens_any_pending(s, &any, &cause) < 0 || !any) {
		free(cause);
		return;
	}
	/* Holding the lock proves no process is between a POST and its answer. */
	if (store_lock(s, &cause) != 0) {
		free(cause);
		return;
	}
	if (tokens_settle_pending(s, clock_now_ms(), &settled, &cause) < 0)
		warnf("%s", cause);
	else if (settled > 0)
		warnf("%d create(s) were interrupted before their answer was recorded; they are "
		      "now 'unknown'",
		      settled);
	free(cause);
	/* Settled: a run that starts now must not find a listing in its way. */
	store_unlock(s);
}
