/* Reveal events and rekeying of the stored sealed secrets. */
#include "store/secrets.h"

#include "core/jsonx.h"
#include "core/xalloc.h"
#include "store/events.h"
#include "store/inventory.h"
#include "store/store_priv.h"
#include "store/tokens.h"

#include <jansson.h>
#include <sqlite3.h>
#include <string.h>

/* r's fields as an event's details; text that is not UTF-8 (a moved blob's names) as '?'. */
static json_t *
reveal_details(const struct secrets_reveal *r)
{
	const char *names[] = {"key_fingerprint", "user",    "claimed_login", "claimed_login_from",
			       "reason",          "failure", "message",       "sealed_to"};
	const char *values[] = {
	    r->key_fingerprint, r->user,    r->claimed_login, r->claimed_login_from,
	    r->reason,          r->failure, r->message,       r->sealed_to};
	json_t *o = json_object();

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (values[i] != NULL)
			json_object_set_new(o, names[i], jsonx_text(values[i]));
	return o;
}

int
secrets_record_reveal(struct store *s, int64_t row, int64_t now, const struct secrets_reveal *r,
		      char **cause)
{
	char *ws = NULL, *slot = NULL, *token = NULL;
	json_t *details = reveal_details(r);
	int rc = -1, found;

	if (store_begin(s, cause) < 0)
		goto out;
	found = tokens_names_of(s, row, &ws, &slot, &token, cause);
	if (found == 0)
		*cause = xasprintf("%s: no token row %lld", s->path, (long long)row);
	if (found <= 0)
		goto out;
	if (events_append(s, now, r->failure != NULL ? "secret.reveal_failed" : "secret.revealed",
			  ws, slot, token, details, cause) < 0)
		goto out;
	rc = 0;
out:
	json_decref(details);
	free(ws);
	free(slot);
	free(token);
	return store_end(s, rc, cause);
}

/* One stored secret, read before any is rewritten. */
struct stored {
	int64_t row;
	char *workspace;
	char *token;
	char *fpr; /* the key it is recorded as sealed to */
	unsigned char *blob;
	size_t len;
};

static void
stored_free(struct stored *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].workspace);
		free(v[i].token);
		free(v[i].fpr);
		free(v[i].blob);
	}
	free(v);
}

/*
 * Reads every stored secret with its row's workspace and token id, so the
 * rewrite does not update the table a statement is still scanning.
 */
static int
read_all(struct store *s, struct stored **out, size_t *n, char **cause)
{
	sqlite3_stmt *st =
	    store_prepare(s,
			  "SELECT x.token_row, w.name, t.token, x.sealed, x.key_fingerprint "
			  "FROM secrets x "
			  "JOIN tokens t ON t.id = x.token_row "
			  "JOIN workspaces w ON w.id = t.workspace_id ORDER BY x.token_row",
			  cause);
	struct stored *v = NULL;
	size_t cap = 0;
	int step, rc = -1;

	*n = 0;
	if (st == NULL)
		return -1;
	for (step = sqlite3_step(st); step == SQLITE_ROW; step = sqlite3_step(st)) {
		struct stored *r;

		if (*n == cap)
			v = xgrow(v, &cap, 16, sizeof *v);
		r = &v[(*n)++];
		r->row = sqlite3_column_int64(st, 0);
		r->workspace = store_column_dup(st, 1);
		r->token = store_column_dup(st, 2);
		r->fpr = store_column_dup(st, 4);
		r->len = (size_t)sqlite3_column_bytes(st, 3);
		r->blob = xmalloc(r->len > 0 ? r->len : 1);
		if (r->len > 0)
			memcpy(r->blob, sqlite3_column_blob(st, 3), r->len);
		if (r->token == NULL) {
			/* The schema's CHECK and tokens_created make this impossible. */
			*cause = xasprintf("%s: token row %lld has a sealed secret but no token "
					   "id; the database was edited",
					   s->path, (long long)r->row);
			goto out;
		}
	}
	if (step != SQLITE_DONE) {
		store_error(s, "reading the sealed secrets", cause);
		goto out;
	}
	rc = 0;
out:
	store_done(s, st);
	if (rc < 0) {
		stored_free(v, *n);
		v = NULL;
		*n = 0;
	}
	*out = v;
	return rc;
}

/* Checks inside the transaction that old_fpr is the pinned key. */
static int
check_pin(struct store *s, const char *old_fpr, char **cause)
{
	char *pinned = NULL;
	int got = store_meta_get(s, STORE_META_KEY_FPR, &pinned, cause), rc = -1;

	if (got == 1)
		*cause = xasprintf("%s: no sealing key is pinned; run 'tokenwarden init'", s->path);
	else if (got == 0 && strcmp(pinned, old_fpr) != 0)
		*cause = xasprintf("%s: pinned to sealing key %s, but the old secret key given is "
				   "%s; nothing was resealed",
				   s->path, pinned, old_fpr);
	else if (got == 0)
		rc = 0;
	free(pinned);
	return rc;
}

/* Adds why, which names the token, to *list, "; " between. */
static void
name_unopened(char **list, const char *why)
{
	char *all = xasprintf("%s%s%s", *list != NULL ? *list : "", *list != NULL ? "; " : "", why);

	free(*list);
	*list = all;
}

/* Drops the secret of v, which did not open (why), with a secret.dropped event. */
static int
drop_secret(struct store *s, const struct stored *v, const char *old_fpr, const char *why,
	    int64_t now, char **cause)
{
	sqlite3_stmt *st = store_prepare(s, "DELETE FROM secrets WHERE token_row = ?1", cause);
	json_t *d = NULL;
	int rc = -1;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, v->row);
	if (sqlite3_step(st) != SQLITE_DONE || sqlite3_changes(s->db) != 1) {
		store_error(s, "dropping a secret that does not open", cause);
		goto out;
	}
	d = json_pack("{s:o, s:s}", "reason", jsonx_text(why), "key_fingerprint", old_fpr);
	rc = tokens_row_event(s, v->row, now, "secret.dropped", d, cause);
out:
	json_decref(d);
	store_done(s, st);
	return rc;
}

/*
 * Whether v's blob is the one its history recorded: 0 when it is, 1 when
 * not (*why says so), -1 with *cause.
 */
static int
replaced(struct store *s, const struct stored *v, char **why, char **cause)
{
	int64_t event = 0;
	int rc = inventory_sealed_check(s, v->row, v->fpr != NULL ? v->fpr : "", v->blob, v->len,
					&event, cause);

	if (rc == 1)
		*why = inventory_sealed_text(v->workspace, v->token, event);
	return rc;
}

/* Records row's secret, resealed as blob to new_fpr, in a secret.resealed event. */
static int
record_resealed(struct store *s, int64_t row, const char *new_fpr, const unsigned char *blob,
		size_t len, int64_t now, char **cause)
{
	char digest[INVENTORY_DIGEST_MAX];
	json_t *d;
	int rc;

	inventory_sealed_digest(new_fpr, blob, len, digest);
	d = json_pack("{s:s, s:s}", "key_fingerprint", new_fpr, "sealed", digest);
	rc = tokens_row_event(s, row, now, "secret.resealed", d, cause);
	json_decref(d);
	return rc;
}

/*
 * Reseals every secret in v and stores the new blobs with new_fpr, each
 * recorded by an event of its row (store/inventory.h); one that does not
 * open, or is not the one its history recorded, is named in r->unopened
 * and, with drop, dropped.
 */
static int
reseal_all(struct store *s, const struct stored *v, size_t n, const char *old_fpr,
	   const char *new_fpr, secrets_reseal_fn reseal, void *arg, int drop, int64_t now,
	   struct secrets_rekeyed *r, char **cause)
{
	sqlite3_stmt *st = store_prepare(s,
					 "UPDATE secrets SET sealed = ?2, key_fingerprint = ?3 "
					 "WHERE token_row = ?1",
					 cause);
	unsigned char *blob = NULL;
	size_t len = 0;
	int rc = -1, got;

	if (st == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char *why = NULL;

		got =
		    reseal(v[i].workspace, v[i].token, v[i].blob, v[i].len, &blob, &len, arg, &why);
		/*
		 * One that opens but that its history does not record (sealed afresh
		 * to the public key) is not resealed, which would record it: it is
		 * as one that does not open.
		 */
		if (got == 0) {
			got = replaced(s, &v[i], &why, cause);
			if (got < 0)
				goto out;
			if (got > 0) {
				FREE_NULL(&blob);
				got = SECRETS_UNOPENED;
			}
		}
		if (got == SECRETS_UNOPENED) {
			if (why == NULL)
				why = xasprintf("the sealed secret of token %s in workspace %s "
						"does not open",
						v[i].token, v[i].workspace);
			name_unopened(&r->unopened, why);
			r->unopened_n++;
			got = drop ? drop_secret(s, &v[i], old_fpr, why, now, cause) : 0;
			r->dropped += drop && got == 0;
			free(why);
			if (got < 0)
				goto out;
			continue;
		}
		if (got != 0) {
			*cause = why != NULL ? why
					     : xasprintf("cannot reseal the secret of token %s in "
							 "workspace %s",
							 v[i].token, v[i].workspace);
			goto out;
		}
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, v[i].row);
		sqlite3_bind_blob(st, 2, blob, (int)len, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, new_fpr, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE || sqlite3_changes(s->db) != 1) {
			store_error(s, "storing a resealed secret", cause);
			goto out;
		}
		if (record_resealed(s, v[i].row, new_fpr, blob, len, now, cause) < 0)
			goto out;
		FREE_NULL(&blob);
		r->count++;
	}
	rc = 0;
out:
	free(blob);
	store_done(s, st);
	return rc;
}

int
secrets_rekey(struct store *s, const char *old_fpr, const char *new_fpr, secrets_reseal_fn reseal,
	      void *arg, int drop, int64_t now, struct secrets_rekeyed *r, char **cause)
{
	struct stored *v = NULL;
	json_t *details = NULL;
	size_t n = 0;
	int rc = -1;

	memset(r, 0, sizeof *r);
	if (store_begin(s, cause) < 0)
		goto out;
	if (check_pin(s, old_fpr, cause) < 0)
		goto out;
	/* Asked after the pin: another pair's keys, old and new, are a wrong old key. */
	if (strcmp(old_fpr, new_fpr) == 0) {
		*cause = xasprintf("%s: the new public key is the pinned key %s; nothing to do",
				   s->path, old_fpr);
		goto out;
	}
	if (read_all(s, &v, &n, cause) < 0 ||
	    reseal_all(s, v, n, old_fpr, new_fpr, reseal, arg, drop, now, r, cause) < 0)
		goto out;
	if (r->unopened_n > 0 && !drop) {
		r->refused = 1;
		*cause = xasprintf("%d secret%s of %zu cannot be resealed (%s)", r->unopened_n,
				   r->unopened_n == 1 ? "" : "s", n, r->unopened);
		goto out;
	}
	if (store_meta_set(s, STORE_META_KEY_FPR, new_fpr, cause) < 0)
		goto out;
	details = json_pack("{s:s, s:s, s:I, s:I}", "old", old_fpr, "new", new_fpr, "count",
			    (json_int_t)r->count, "dropped", (json_int_t)r->dropped);
	if (events_append(s, now, "store.rekey", NULL, NULL, NULL, details, cause) < 0)
		goto out;
	rc = 0;
out:
	json_decref(details);
	stored_free(v, n);
	rc = store_end(s, rc, cause);
	if (rc < 0) {
		r->count = r->dropped = 0;
	}
	return rc;
}
