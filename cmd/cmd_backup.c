/*
 * tokenwarden backup: one file holding the whole store as one moment of it
 * (store_image), written beside its target, checked there as a store
 * (integrity and history), and only then renamed into place.  It only
 * reads, takes no lock, and may run while a rotation writes.
 */
#include "cmd/cmd.h"
#include "cmd/msg.h"
#include "core/storecopy.h"

#include "core/exitcodes.h"
#include "core/outfile.h"
#include "core/xalloc.h"
#include "store/store.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct backup_opts {
	int force;
};

static const struct args_opt backup_options[] = {
    OPT_FLAG(0, "force", struct backup_opts, force, "replace FILE if it exists"),
    OPT_END,
};

/* How many times a store opened read-only is read while it keeps changing. */
#define BACKUP_READS 5

static int
run_backup(void *opts, int argc, char **argv)
{
	struct backup_opts *bo = opts;
	const char *target = argv[0];
	struct store_opts o;
	struct store *s = NULL;
	struct storecopy_facts facts = {0};
	struct stat st;
	size_t size = 0;
	char *cause = NULL;
	enum storecopy_result result;
	int status = TW_EXIT_USAGE;

	(void)argc;
	if (strcmp(target, "-") == 0) {
		errorf(
		    "backup writes a file, checked before it is renamed into place, not standard "
		    "output; name the file");
		return args_usage(&cmd_backup_entry);
	}
	if (outfile_replaceable(AT_FDCWD, target, target, &cause) < 0) {
		errorf("%s", cause);
		free(cause);
		return TW_EXIT_USAGE;
	}
	if (!bo->force && lstat(target, &st) == 0) {
		errorf("%s exists; give --force to replace it", target);
		return TW_EXIT_USAGE;
	}
	store_opts_init(&o);
	/*
	 * Opened read-only, the read holds off no writer: a run's checkpoint
	 * may change the file under it.  The files' stamp, taken before each
	 * connection reads anything, tells: a copy read while they changed is
	 * not kept, and the store is read again on a connection of its own.
	 */
	for (int i = 1;; i++) {
		struct storecopy_stamp before;

		storecopy_stamp(o.db, &before);
		s = store_ctx_open(&o, NULL, STORE_CTX_READ, &status);
		if (s == NULL)
			return status;
		result = storecopy_write(s, target, &facts, s->readonly != NULL ? &before : NULL,
					 &size, &cause);
		if (result != STORECOPY_CHANGED || i == BACKUP_READS)
			break;
		notef("%s changed while it was read (a run writing it?); reading it again",
		      s->path);
		FREE_NULL(&cause);
		FREE_NULL(&facts.broken);
		store_close(s);
		nanosleep(&(struct timespec){i / 4, (i % 4) * 250 * 1000 * 1000L}, NULL);
	}
	switch (result) {
	case STORECOPY_WRITTEN:
		break;
	case STORECOPY_OWN:
		status = TW_EXIT_USAGE;
		goto out;
	case STORECOPY_CHANGED:
		FREE_NULL(&cause);
		cause = xasprintf("%s changed while it was read, %d times (a run writing it, which "
				  "a store opened read-only cannot hold off); nothing was written "
				  "to %s; back it up as the store's user where it can be written, "
				  "or between runs",
				  s->path, BACKUP_READS, target);
		status = TW_EXIT_FAILURE;
		goto out;
	case STORECOPY_DAMAGED: {
		char *why = cause;

		cause = xasprintf("the copy of %s does not open as a store, so the store "
				  "itself is damaged: %s; nothing was written to %s; keep the "
				  "store's files (cp -p %s*) and see 'tokenwarden audit verify'",
				  s->path, why, target, s->path);
		free(why);
		status = TW_EXIT_FAILURE;
		goto out;
	}
	case STORECOPY_FAILED:
		status = TW_EXIT_FAILURE;
		goto out;
	}
	printf("wrote %s, 0600: the store %s as of now, %zu KiB, %lld event%s\n", target, s->path,
	       size / 1024, (long long)facts.events, facts.events == 1 ? "" : "s");
	if (facts.broken != NULL)
		warnf("%s: its history does not verify, as the store's does not: %s; 'tokenwarden "
		      "audit verify' says more",
		      target, facts.broken);
	else if (facts.events > 0)
		notef("the copy's history head is %s (event %lld): a store restored from it "
		      "starts there",
		      facts.head, (long long)facts.events);
	notef("the copy holds the sealed secrets and the whole history: keep it as private as "
	      "the store");
	status = TW_EXIT_OK;
out:
	if (cause != NULL)
		errorf("%s", cause);
	free(cause);
	free(facts.broken);
	store_close(s);
	return status;
}

const struct cmd_entry cmd_backup_entry = {
    .name = "backup",
    .args = "FILE",
    .summary = "copy the store to FILE, one moment of it, checked; safe during a run",
    .options = backup_options,
    .globals = G_DB,
    .opts_size = sizeof(struct backup_opts),
    .min_args = 1,
    .max_args = 1,
    .notes = "The copy is one file (no -wal or -shm beside it), 0600, of the store as one\n"
	     "moment saw it: it may be taken while a rotation runs.  It is written beside\n"
	     "FILE, checked as a store (SQLite's integrity check, the history recomputed)\n"
	     "and only then renamed over FILE, so FILE is the old file or a whole copy.  It\n"
	     "takes no lock and changes nothing in the store.  Opened read-only (a\n"
	     "read-only mount), its read cannot hold off a run's checkpoint: a copy read\n"
	     "while the store's files changed (their size or times) is not kept, and the\n"
	     "store is read again, up to 5 times.  Like every verb, it first migrates a\n"
	     "store an older tokenwarden wrote, so back up before an upgrade.  To restore\n"
	     "a copy, see 'Backup and restore' in the README.\n"
	     "\n"
	     "Exit status: 0 written, 1 not written (a damaged store, one that changed\n"
	     "under every read, a copy that cannot be written), 2 a usage error, FILE\n"
	     "exists (without --force) or is one of the store's own files, or a store that\n"
	     "cannot be opened.\n",
    .run = run_backup,
};
