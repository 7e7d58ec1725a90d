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
#include "core/xalloc.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct backup_opts {
	int force;
};

static const struct args_opt backup_options[] = {
    OPT_FLAG(0, "force", struct backup_opts, force, "replace FILE if it exists"),
    OPT_END,
};

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
	if (stat(target, &st) == 0 && S_ISDIR(st.st_mode)) {
		errorf("%s: names a directory; give a file's path", target);
		return TW_EXIT_USAGE;
	}
	if (!bo->force && lstat(target, &st) == 0) {
		errorf("%s exists; give --force to replace it", target);
		return TW_EXIT_USAGE;
	}
	store_opts_init(&o);
	s = store_ctx_open(&o, NULL, STORE_CTX_READ, &status);
	if (s == NULL)
		return status;
	result = storecopy_write(s, target, &facts, &size, &cause);
	/*
	 * Read-only, the read holds off no writer's checkpoint: a run may change
	 * the file under it.  A copy that fails its check is then taken again.
	 */
	for (int i = 1; result == STORECOPY_DAMAGED && s->readonly != NULL && i < 3; i++) {
		FREE_NULL(&cause);
		result = storecopy_write(s, target, &facts, &size, &cause);
	}
	switch (result) {
	case STORECOPY_WRITTEN:
		break;
	case STORECOPY_OWN:
		status = TW_EXIT_USAGE;
		goto out;
	case STORECOPY_DAMAGED: {
		char *why = cause;

		if (s->readonly != NULL)
			cause =
			    xasprintf("the copy of %s, read three times, does not open as a "
				      "store: %s; nothing was written to %s; opened read-only, "
				      "the store may have changed under the read (a run writing "
				      "it): back it up where it can be written, as its user, or "
				      "see 'tokenwarden audit verify'",
				      s->path, why, target);
		else
			cause = xasprintf(
			    "the copy of %s does not open as a store, so the store "
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
	     "takes no lock and changes nothing in the store (opened read-only, it reads\n"
	     "again a copy a run's checkpoint may have torn); like every verb, it first\n"
	     "migrates a store an older tokenwarden wrote, so back up before an upgrade.\n"
	     "To restore a copy, see 'Backup and restore' in the README.\n"
	     "\n"
	     "Exit status: 0 written, 1 not written (a damaged store, a copy that cannot\n"
	     "be written), 2 a usage error, FILE exists (without --force) or is one of the\n"
	     "store's own files, or a store that cannot be opened.\n",
    .run = run_backup,
};
