/*
 * tokenwarden restore: put a copy that `backup` made back in place of the
 * store.  The copy is checked first (a store, whole, its history intact);
 * then, holding the run lock, the store it replaces is kept beside it as
 * one file, the copy is written into the store's own file (store_replace,
 * so no -wal of the old content meets it and the file keeps its owner and
 * mode), and the restore is recorded in the restored history.
 */
#include "cmd/cmd.h"
#include "cmd/msg.h"
#include "cmd/storecopy.h"

#include "core/clock.h"
#include "core/exitcodes.h"
#include "core/ops.h"
#include "core/xalloc.h"
#include "store/events.h"
#include "store/inventory.h"
#include "store/store.h"
#include "store/tokens.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct restore_opts {
	const char *head;
	int force;
	int64_t wait_ms; /* for the run lock */
};

static const struct args_opt restore_options[] = {
    OPT_STRING(0, "head", struct restore_opts, head, "HASH",
	       "the history head backup printed for the copy: refuse\nanother copy"),
    OPT_FLAG(0, "force", struct restore_opts, force,
	     "restore a copy pinned to another key (from before a\nrekey), or with a replacement "
	     "in flight"),
    OPT_WAIT("wait", struct restore_opts, wait_ms,
	     "wait for a run holding the lock to finish (as long as\nit takes, or up to DURATION)"),
    OPT_END,
};

/* Whether paths a and b name one file. */
static int
same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

static int
count_diff(const struct inventory_diff *d, void *arg)
{
	(void)d;
	++*(int64_t *)arg;
	return 0;
}

/*
 * Checks the copy (in memory, migrated): whole, its history intact, its
 * tables following from it.  Returns 0, or -1 with *cause.
 */
static int
check_copy(struct store *copy, struct storecopy_facts *f, char **cause)
{
	int64_t diffs = 0, rows = 0;

	if (storecopy_check(copy, f, cause) < 0)
		return -1;
	if (f->broken != NULL) {
		*cause = xasprintf("%s: its history does not verify: %s; restoring it would put a "
				   "broken history in place",
				   copy->path, f->broken);
		return -1;
	}
	if (inventory_verify(copy, INVENTORY_ALL, count_diff, &diffs, &rows, cause) < 0)
		return -1;
	if (diffs > 0) {
		*cause = xasprintf("%s: %lld token row%s differ from what its history records "
				   "('tokenwarden audit verify --db %s' lists them); every run "
				   "would refuse it",
				   copy->path, (long long)diffs, diffs == 1 ? "" : "s", copy->path);
		return -1;
	}
	return 0;
}

/* Whether the copy's history ends at head, as backup printed it; 0, or -1 with *cause. */
static int
check_head(struct store *copy, const char *head, char **cause)
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

/*
 * What restoring the copy would undo that the admin must ask for: another
 * pinned key (a copy from before a rekey), or a replacement in flight (its
 * consumers may hold it, and the next run deletes it before it replaces
 * it).  Returns 0, 1 with *why, or -1 with *cause.
 */
static int
undoes(struct store *s, struct store *copy, char **why, char **cause)
{
	struct token_row *rows = NULL;
	char *ours = NULL, *theirs = NULL;
	size_t n = 0, i;
	int rc = -1;

	if (store_meta_get(s, STORE_META_KEY_FPR, &ours, cause) < 0 ||
	    store_meta_get(copy, STORE_META_KEY_FPR, &theirs, cause) < 0 ||
	    tokens_live(copy, &rows, &n, cause) < 0)
		goto out;
	rc = 0;
	if (ours != NULL && theirs != NULL && strcmp(ours, theirs) != 0) {
		*why =
		    xasprintf("the copy is pinned to key %s and the store to %s (a copy from "
			      "before a rekey): restored, the rotating host needs the old public "
			      "key again",
			      theirs, ours);
		rc = 1;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (rows[i].state != TOKEN_CREATED && rows[i].state != TOKEN_VERIFIED)
			continue;
		*why = xasprintf("the copy was taken while %s/%s's replacement %s was in flight: "
				 "its consumers may hold it, and the next run deletes it before it "
				 "makes another",
				 rows[i].workspace, rows[i].slot != NULL ? rows[i].slot : "-",
				 rows[i].name);
		rc = 1;
		break;
	}
out:
	free(ours);
	free(theirs);
	tokens_free(rows, n);
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
	struct storecopy_facts old; /* the store replaced */
	char *kept;                 /* where it is kept */
};

/* Appends the store.restored event to the copy in memory; returns 0, or -1 with *cause. */
static int
record(struct restore *r, char **cause)
{
	json_t *details =
	    json_pack("{s:s, s:s, s:I, s:s, s:s?, s:I}", "from", r->from, "head", r->copy->head,
		      "events", (json_int_t)r->copy->events, "replaced_kept", r->kept,
		      "replaced_head", r->old.head[0] != '\0' ? r->old.head : NULL,
		      "replaced_events", (json_int_t)r->old.events);
	int rc = -1;

	if (store_begin(r->mem, cause) == 0)
		rc = store_end(r->mem,
			       events_append(r->mem, clock_now_ms(), "store.restored", NULL, NULL,
					     NULL, details, cause),
			       cause);
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
	struct store *other = NULL;
	char *why = NULL, full[PATH_MAX];
	size_t size = 0;
	int rc = -1;

	if (store_open_another(r->s, &other, cause) < 0)
		goto out;
	if (events_head(other, r->old.head, &r->old.events, &why) < 0) {
		warnf("%s: its history head cannot be read (%s); it is kept as it is", r->s->path,
		      why);
		r->old.head[0] = '\0';
		r->old.events = 0;
	}
	r->kept = kept_name(r->s->path);
	if (storecopy_write(other, r->kept, NULL, &size, cause) != STORECOPY_WRITTEN)
		goto out;
	if (realpath(r->kept, full) != NULL) {
		free(r->kept);
		r->kept = xstrdup(full);
	}
	rc = record(r, cause);
	if (rc < 0)
		unlink(r->kept);
	ops_pause_point("restore-kept");
	ops_crash_point("restore-kept");
out:
	free(why);
	store_close(other);
	return rc;
}

static int
run_restore(void *opts, int argc, char **argv)
{
	struct restore_opts *ro = opts;
	const char *file = argv[0];
	struct store_opts o;
	struct store *copy = NULL;
	struct storecopy_facts facts = {0};
	struct restore r = {.copy = &facts};
	unsigned char *image = NULL;
	char *cause = NULL, *why = NULL, where[PATH_MAX];
	size_t size = 0;
	int status = TW_EXIT_USAGE, got;

	(void)argc;
	store_opts_init(&o);
	o.wait_ms = ro->wait_ms;
	if (realpath(file, where) == NULL) {
		errorf("%s: %s; name the copy that 'tokenwarden backup' wrote", file,
		       strerror(errno));
		return TW_EXIT_USAGE;
	}
	r.from = where;
	if (same_file(file, o.db)) {
		errorf("%s is the store itself; name the copy that 'tokenwarden backup' wrote",
		       file);
		return TW_EXIT_USAGE;
	}
	/*
	 * The copy first: one that cannot be restored takes no lock and changes
	 * nothing.  It is checked as it will be written: in memory, migrated to
	 * this version's schema (a copy an older tokenwarden wrote included).
	 */
	if (store_open(file, STORE_INSPECT, &copy, &cause) < 0)
		goto out;
	status = TW_EXIT_FAILURE;
	if (ro->head != NULL && check_head(copy, ro->head, &cause) < 0)
		goto out;
	if (store_image(copy, &image, &size, &cause) < 0)
		goto out;
	got = store_open_image(copy, file, image, size, &r.mem, &cause);
	image = NULL;
	if (got < 0 || check_copy(r.mem, &facts, &cause) < 0)
		goto out;
	r.s = store_ctx_open(&o, NULL, STORE_CTX_LOCK, &status);
	if (r.s == NULL)
		goto out;
	status = TW_EXIT_FAILURE;
	got = undoes(r.s, r.mem, &why, &cause);
	if (got < 0)
		goto out;
	if (got == 1 && !ro->force) {
		cause = xasprintf("%s; give --force to restore it all the same", why);
		status = TW_EXIT_USAGE;
		goto out;
	}
	if (got == 1)
		warnf("%s", why);
	if (store_replace(r.s, r.mem, keep_and_record, &r, &cause) != 0)
		goto out;
	printf("restored %s from %s (%lld event%s, head %s)\n", r.s->path, file,
	       (long long)facts.events, facts.events == 1 ? "" : "s", facts.head);
	printf("the store it replaced is kept as %s (%lld event%s%s%s)\n", r.kept,
	       (long long)r.old.events, r.old.events == 1 ? "" : "s",
	       r.old.head[0] != '\0' ? ", head " : "", r.old.head);
	notef("what happened after the copy is not in the store: a token made since stays on the "
	      "server until its expiry ('token list --all --db %s' names them)",
	      r.kept);
	store_ctx_note_head(r.s);
	status = TW_EXIT_OK;
out:
	if (cause != NULL)
		errorf("%s%s", cause, status != TW_EXIT_OK ? "; nothing was changed" : "");
	free(cause);
	free(why);
	free(r.kept);
	free(facts.broken);
	store_image_free(image);
	store_close(r.mem);
	store_close(copy);
	store_close(r.s);
	return status;
}

const struct cmd_entry cmd_restore_entry = {
    .name = "restore",
    .args = "FILE",
    .summary = "put a copy backup wrote in place of the store; the old one is kept",
    .options = restore_options,
    .globals = G_DB,
    .opts_size = sizeof(struct restore_opts),
    .min_args = 1,
    .max_args = 1,
    .notes = "The copy must be a whole store whose history verifies (ending at --head,\n"
	     "when given) and whose tables follow from it.  Holding the run lock and the\n"
	     "store's write transaction, restore keeps the store it replaces beside it\n"
	     "(STORE.replaced-TIME, one file), and writes the copy, with a store.restored\n"
	     "event naming both histories' heads, into the store's own file in one commit:\n"
	     "it keeps its owner and mode, and no -wal of the old content meets the new.\n"
	     "A copy pinned to another key (from before a rekey), or taken while a\n"
	     "replacement was in flight (its consumers may hold it, and the next run\n"
	     "deletes it first), is refused without --force.  What happened after the\n"
	     "copy is not in it: see 'Backup and restore' in the README.\n"
	     "\n"
	     "Exit status: 0 restored, 1 a copy that is damaged, whose history does not\n"
	     "verify or end at --head, or whose tables do not follow from it, or a store\n"
	     "that could not be written (nothing changed), 2 a usage error, FILE is not a\n"
	     "store or is the store itself, a copy refused without --force, or a store\n"
	     "that cannot be opened, 5 another tokenwarden process holds the run lock.\n",
    .run = run_restore,
};
