/*
 * Restoring a copy that backup wrote (core/restore.h): checked in memory,
 * written into the store's own file with its record in one commit, the
 * store it replaces kept beside it.
 */
#include "core/restore.h"

#include "core/clock.h"
#include "core/ops.h"
#include "core/xalloc.h"
#include "store/events.h"
#include "store/inventory.h"
#include "store/store.h"
#include "store/tokens.h"

#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Counts a difference: of a token row (arg[0]), a record (arg[1]) or a sealed secret (arg[2]). */
static int
count_diff(const struct inventory_diff *d, void *arg)
{
	++((int64_t *)arg)[d->table == INVENTORY_TOKENS    ? 0
			   : d->table == INVENTORY_SECRETS ? 2
							   : 1];
	return 0;
}

/* What a copy that differs from its history holds, by count_diff's index, and why it is refused. */
static const struct {
	const char *one, *many, *then;
} differ[3] = {
    {"token row", "token rows", "every run would refuse it"},
    {"record of the tokens consumers hold", "records of the tokens consumers hold",
     "restoring it would put records edited outside tokenwarden in place"},
    {"sealed secret", "sealed secrets",
     "restoring it would put secrets replaced outside tokenwarden in place"},
};

int
restore_check(struct store *copy, struct storecopy_facts *f, char **cause)
{
	int64_t diffs[3] = {0, 0, 0}, rows = 0;

	if (storecopy_check(copy, f, cause) < 0)
		return -1;
	if (f->broken != NULL) {
		*cause = xasprintf("%s: its history does not verify: %s; restoring it would put a "
				   "broken history in place",
				   copy->path, f->broken);
		return -1;
	}
	if (inventory_verify(copy, INVENTORY_ALL, count_diff, diffs, &rows, cause) < 0)
		return -1;
	for (size_t i = 0; i < sizeof diffs / sizeof diffs[0]; i++) {
		if (diffs[i] == 0)
			continue;
		*cause = xasprintf("%s: %lld %s %s from what its history records ('tokenwarden "
				   "audit verify --db %s' lists %s); %s",
				   copy->path, (long long)diffs[i],
				   diffs[i] == 1 ? differ[i].one : differ[i].many,
				   diffs[i] == 1 ? "differs" : "differ", copy->path,
				   diffs[i] == 1 ? "it" : "them", differ[i].then);
		return -1;
	}
	return 0;
}

int
restore_check_head(struct store *copy, const char *head, char **cause)
{
	char last[EVENTS_HEAD_MAX];
	int64_t n = 0;

	if (events_head(copy, last, &n, cause) < 0)
		return -1;
	if (strcasecmp(head, last) == 0)
		return 0;
	*cause = xasprintf("%s: its history head is %s, not %s: not the copy that head was "
			   "printed for",
			   copy->path, last[0] != '\0' ? last : "none", head);
	return -1;
}

int
restore_undoes(struct store *s, struct store *copy, char **why, char **cause)
{
	char *ours = NULL, *theirs = NULL;
	int rc = -1;

	if (store_meta_get(s, STORE_META_KEY_FPR, &ours, cause) < 0 ||
	    store_meta_get(copy, STORE_META_KEY_FPR, &theirs, cause) < 0)
		goto out;
	rc = 0;
	if (ours != NULL && theirs != NULL && strcmp(ours, theirs) != 0) {
		*why =
		    xasprintf("the copy is pinned to key %s and the store to %s (a copy from "
			      "before a rekey): restored, the rotating host needs the old public "
			      "key again",
			      theirs, ours);
		rc = 1;
	}
out:
	free(ours);
	free(theirs);
	return rc;
}

/* The name for the store replaced: STORE.replaced-TIME, with -N when that exists. */
static char *
kept_name(const char *path)
{
	time_t now = (time_t)(clock_now_ms() / 1000);
	struct tm tm;
	struct stat st;
	char stamp[32], *name;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	name = xasprintf("%s.replaced-%s", path, stamp);
	for (int i = 2; lstat(name, &st) == 0; i++) {
		free(name);
		name = xasprintf("%s.replaced-%s-%d", path, stamp, i);
	}
	return name;
}

/* What the restore does while it holds the store's write transaction. */
struct restore {
	struct store *s;   /* the store, locked */
	struct store *mem; /* the copy, in memory, to be written into it */
	const char *from;  /* the copy's full path */
	const struct storecopy_facts *copy;
	struct restore_done *done;
};

/*
 * Keeps the replacements the copy has in flight (created or verified) as
 * an interrupted run's delivered ones are kept: retiring at their expiry,
 * brought forward by their slot's next activation.  Their consumers may
 * have got them after the copy, and the next run would delete one it
 * finds undelivered before it makes another.  Returns 0, or -1 with *cause.
 */
static int
keep_in_flight(struct restore *r, int64_t now, char **cause)
{
	json_t *d = json_pack("{s:s}", "reason",
			      "restored from a copy taken while it was in flight: its consumers "
			      "may hold it");
	struct token_row *rows = NULL;
	size_t n = 0;
	int rc = tokens_live(r->mem, &rows, &n, cause);

	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (rows[i].state != TOKEN_CREATED && rows[i].state != TOKEN_VERIFIED)
			continue;
		rc = tokens_retire(r->mem, rows[i].row, rows[i].expires_at, now, d, cause);
		r->done->in_flight += rc == 0;
	}
	tokens_free(rows, n);
	json_decref(d);
	return rc;
}

/*
 * Appends the store.restored event to the copy in memory, and keeps the
 * replacements it has in flight; returns 0, or -1 with *cause.
 */
static int
record(struct restore *r, char **cause)
{
	int64_t now = clock_now_ms();
	json_t *details =
	    json_pack("{s:s, s:s, s:I, s:s, s:s?, s:I}", "from", r->from, "head", r->copy->head,
		      "events", (json_int_t)r->copy->events, "replaced_kept", r->done->kept,
		      "replaced_head", r->done->old.head[0] != '\0' ? r->done->old.head : NULL,
		      "replaced_events", (json_int_t)r->done->old.events);
	int rc = -1;

	if (store_begin(r->mem, cause) == 0) {
		rc = events_append(r->mem, now, "store.restored", NULL, NULL, NULL, details, cause);
		if (rc == 0)
			rc = keep_in_flight(r, now, cause);
		rc = store_end(r->mem, rc, cause);
	}
	json_decref(details);
	return rc;
}

/*
 * Under the store's write transaction: keeps the store as it stands (read
 * through another connection, whole even when damaged), then records the
 * restore in the copy, so that the copy and its record are one commit.
 */
static int
keep_and_record(void *arg, char **cause)
{
	struct restore *r = arg;
	struct restore_done *d = r->done;
	struct store *other = NULL;
	char full[PATH_MAX];
	size_t size = 0;
	int rc = -1;

	if (store_open_another(r->s, &other, cause) < 0)
		goto out;
	if (events_head(other, d->old.head, &d->old.events, &d->unread) < 0) {
		d->old.head[0] = '\0';
		d->old.events = 0;
	}
	d->kept = kept_name(r->s->path);
	if (storecopy_write(other, d->kept, NULL, NULL, &size, cause) != STORECOPY_WRITTEN)
		goto out;
	if (realpath(d->kept, full) != NULL) {
		free(d->kept);
		d->kept = xstrdup(full);
	}
	rc = record(r, cause);
	if (rc < 0)
		unlink(d->kept);
	ops_pause_point("restore-kept");
	ops_crash_point("restore-kept");
out:
	store_close(other);
	return rc;
}

int
restore_into(struct store *s, struct store *mem, const char *from,
	     const struct storecopy_facts *copy, struct restore_done *d, char **cause)
{
	struct restore r = {s, mem, from, copy, d};

	if (store_replace(s, mem, keep_and_record, &r, cause) == 0)
		return 0;
	/* s as it was: its copy, kept before the last step failed (a full disk), is not needed. */
	if (d->kept != NULL)
		unlink(d->kept);
	FREE_NULL(&d->kept);
	return -1;
}
