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
#include "core/xalloc.h"
#include "store/events.h"
#include "store/store.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct restore_opts {
	int64_t wait_ms; /* for the run lock */
};

static const struct args_opt restore_options[] = {
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

/* Opens and checks the copy at path; returns it, or NULL after a message with *status. */
static struct store *
open_copy(const char *path, struct storecopy_facts *f, int *status)
{
	struct store *copy = NULL;
	char *cause = NULL;

	*status = TW_EXIT_USAGE;
	if (store_open(path, STORE_INSPECT, &copy, &cause) < 0)
		goto fail;
	*status = TW_EXIT_FAILURE;
	if (storecopy_check(copy, f, &cause) < 0)
		goto fail;
	if (f->broken != NULL) {
		cause = xasprintf("%s: its history does not verify: %s; restoring it would put a "
				  "broken history in place",
				  path, f->broken);
		goto fail;
	}
	return copy;
fail:
	errorf("%s%s", cause, *status == TW_EXIT_FAILURE ? "; nothing was changed" : "");
	free(cause);
	store_close(copy);
	return NULL;
}

/* Appends the store.restored event; returns 0, or -1 with *cause. */
static int
record(struct store *s, const char *from, const struct storecopy_facts *copy, const char *kept,
       const struct storecopy_facts *old, char **cause)
{
	json_t *details = json_pack("{s:s, s:s, s:I, s:s, s:s?, s:I}", "from", from, "head",
				    copy->head, "events", (json_int_t)copy->events, "replaced_kept",
				    kept, "replaced_head", old->head[0] != '\0' ? old->head : NULL,
				    "replaced_events", (json_int_t)old->events);
	int rc = -1;

	if (store_begin(s, cause) == 0)
		rc = store_end(s,
			       events_append(s, clock_now_ms(), "store.restored", NULL, NULL, NULL,
					     details, cause),
			       cause);
	json_decref(details);
	return rc;
}

static int
run_restore(void *opts, int argc, char **argv)
{
	struct restore_opts *ro = opts;
	const char *file = argv[0];
	struct store_opts o;
	struct store *s = NULL, *copy = NULL;
	struct storecopy_facts facts = {0}, old = {0};
	char *cause = NULL, *kept = NULL, stamp[32], where[PATH_MAX];
	time_t now = (time_t)(clock_now_ms() / 1000);
	struct tm tm;
	size_t size = 0;
	int status = TW_EXIT_USAGE;

	(void)argc;
	store_opts_init(&o);
	o.wait_ms = ro->wait_ms;
	if (realpath(file, where) == NULL) {
		errorf("%s: %s; name the copy that 'tokenwarden backup' wrote", file,
		       strerror(errno));
		return TW_EXIT_USAGE;
	}
	if (same_file(file, o.db)) {
		errorf("%s is the store itself; name the copy that 'tokenwarden backup' wrote",
		       file);
		return TW_EXIT_USAGE;
	}
	/* The copy first: one that cannot be restored takes no lock and changes nothing. */
	copy = open_copy(file, &facts, &status);
	if (copy == NULL)
		goto out;
	s = store_ctx_open(&o, NULL, STORE_CTX_LOCK, &status);
	if (s == NULL)
		goto out;
	status = TW_EXIT_FAILURE;
	if (store_replace_check(s, copy, &cause) < 0) {
		errorf("%s; nothing was changed", cause);
		goto out;
	}
	/* What it replaces, kept beside it as one file, even damaged. */
	if (events_head(s, old.head, &old.events, &cause) < 0) {
		warnf("%s: its history head cannot be read (%s); it is kept as it is", s->path,
		      cause);
		FREE_NULL(&cause);
		old.head[0] = '\0';
		old.events = 0;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	kept = xasprintf("%s.replaced-%s", s->path, stamp);
	if (storecopy_write(s, kept, NULL, &size, &cause) != STORECOPY_WRITTEN) {
		errorf("%s; nothing was changed", cause);
		goto out;
	}
	if (store_replace(s, copy, &cause) < 0) {
		errorf("%s; the store it was to replace is also kept as %s", cause, kept);
		goto out;
	}
	if (record(s, where, &facts, kept, &old, &cause) < 0) {
		errorf("restored %s from %s, but its history does not record it: %s", s->path, file,
		       cause);
		goto out;
	}
	printf("restored %s from %s (%lld event%s, head %s)\n", s->path, file,
	       (long long)facts.events, facts.events == 1 ? "" : "s", facts.head);
	printf("the store it replaced is kept as %s (%lld event%s%s%s)\n", kept,
	       (long long)old.events, old.events == 1 ? "" : "s",
	       old.head[0] != '\0' ? ", head " : "", old.head);
	notef("what happened after the copy is not in the store: a token made since stays on the "
	      "server until its expiry ('token list --all --db %s' names them)",
	      kept);
	store_ctx_note_head(s);
	status = TW_EXIT_OK;
out:
	free(cause);
	free(kept);
	free(facts.broken);
	store_close(copy);
	store_close(s);
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
    .notes = "The copy must be a whole store with an intact history.  Holding the run lock,\n"
	     "restore keeps the store it replaces beside it (STORE.replaced-TIME, one file),\n"
	     "writes the copy into the store's own file in one transaction (it keeps its\n"
	     "owner and mode, and no -wal of the old content is left to meet the new), and\n"
	     "records a store.restored event with both histories' heads.  What happened\n"
	     "after the copy is not in it: see 'Backup and restore' in the README.\n"
	     "\n"
	     "Exit status: 0 restored, 1 a copy that is damaged or whose history does not\n"
	     "verify, or a store that could not be written (nothing changed), 2 a usage\n"
	     "error, FILE is not a store or is the store itself, or a store that cannot be\n"
	     "opened, 5 another tokenwarden process holds the run lock.\n",
    .run = run_restore,
};
