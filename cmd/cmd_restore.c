/*
 * tokenwarden restore: put a copy that `backup` made back in place of the
 * store (core/restore.h).  The copy is checked first, as a working copy
 * beside the store; then, holding the run lock, the store it replaces is
 * kept beside it, and the copy and its store.restored event go into the
 * store's own file in one commit.
 */
#include "cmd/cmd.h"
#include "cmd/msg.h"

#include "core/exitcodes.h"
#include "core/restore.h"
#include "core/storecopy.h"
#include "core/xalloc.h"
#include "store/store.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct restore_opts {
	const char *head;
	int force;
	int64_t wait_ms; /* for the run lock */
};

static const struct args_opt restore_options[] = {
    OPT_STRING(0, "head", struct restore_opts, head, "HASH",
	       "the history head backup printed for the copy: refuse\nanother copy"),
    OPT_FLAG(0, "force", struct restore_opts, force,
	     "restore a copy pinned to another key (from before a\nrekey)"),
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
run_restore(void *opts, int argc, char **argv)
{
	struct restore_opts *ro = opts;
	const char *file = argv[0];
	struct store_opts o;
	struct store *copy = NULL;
	struct store *s = NULL, *mem = NULL;
	struct storecopy_facts facts = {0};
	struct restore_done done = {0};
	char *cause = NULL, *why = NULL, *work = NULL, where[PATH_MAX];
	int status = TW_EXIT_USAGE, got;

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
	/*
	 * The copy first: one that cannot be restored takes no lock and changes
	 * nothing.  It is checked as it will be written: a working copy beside
	 * the store, migrated to this version's schema (a copy an older
	 * tokenwarden wrote included).
	 */
	if (store_open(file, STORE_INSPECT | STORE_COPY, &copy, &cause) < 0)
		goto out;
	status = TW_EXIT_FAILURE;
	if (ro->head != NULL && restore_check_head(copy, ro->head, &cause) < 0)
		goto out;
	if (storecopy_work(copy, o.db, file, &mem, &work, &cause) < 0 ||
	    restore_check(mem, &facts, &cause) < 0)
		goto out;
	s = store_ctx_open(&o, NULL, STORE_CTX_LOCK, &status);
	if (s == NULL) {
		if (status == TW_EXIT_USAGE)
			notef("restore writes into a store it can open: one that is missing or "
			      "too damaged to open is replaced by hand, its files moved aside and "
			      "the copy put in their place ('Backup and restore' in the README)");
		goto out;
	}
	storecopy_work_sweep(o.db, work);
	status = TW_EXIT_FAILURE;
	got = restore_undoes(s, mem, &why, &cause);
	if (got < 0)
		goto out;
	if (got == 1 && !ro->force) {
		cause = xasprintf("%s; give --force to restore it all the same", why);
		status = TW_EXIT_USAGE;
		goto out;
	}
	if (got == 1)
		warnf("%s", why);
	if (restore_into(s, mem, where, &facts, &done, &cause) < 0)
		goto out;
	if (done.unread != NULL)
		warnf("%s: its history head cannot be read (%s); it is kept as it is", s->path,
		      done.unread);
	printf("restored %s from %s (%lld event%s, head %s)\n", s->path, file,
	       (long long)facts.events, facts.events == 1 ? "" : "s", facts.head);
	printf("the store it replaced is kept as %s (%lld event%s%s%s)\n", done.kept,
	       (long long)done.old.events, done.old.events == 1 ? "" : "s",
	       done.old.head[0] != '\0' ? ", head " : "", done.old.head);
	if (done.in_flight == 1)
		printf("kept 1 replacement that was in flight when the copy was taken (its "
		       "consumers may hold it): it retires a grace after its slot's next "
		       "rotation\n");
	else if (done.in_flight > 1)
		printf("kept %d replacements that were in flight when the copy was taken (their "
		       "consumers may hold them): each retires a grace after its slot's next "
		       "rotation\n",
		       done.in_flight);
	notef("what happened after the copy is not in the store: a token made since stays on the "
	      "server until its expiry ('token list --all --db %s' names them)",
	      done.kept);
	store_ctx_note_head(s);
	status = TW_EXIT_OK;
out:
	if (cause != NULL)
		errorf("%s%s", cause, status != TW_EXIT_OK ? "; nothing was changed" : "");
	free(cause);
	free(why);
	free(done.kept);
	free(done.unread);
	free(facts.broken);
	storecopy_work_drop(mem, work);
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
    .notes = "The copy must be a whole store whose history verifies (ending at --head,\n"
	     "when given) and whose tables follow from it.  Holding the run lock and the\n"
	     "store's write transaction, restore keeps the store it replaces beside it\n"
	     "(STORE.replaced-TIME, one file), and writes the copy, with a store.restored\n"
	     "event naming both histories' heads, into the store's own file in one commit:\n"
	     "it keeps its owner and mode, and no -wal of the old content meets the new.\n"
	     "A replacement the copy has in flight is kept in the same commit, retiring\n"
	     "at its expiry (its consumers may have got it after the copy), until its\n"
	     "slot's next rotation.  A copy pinned to another key (from before a rekey)\n"
	     "is refused without --force.  What happened after the copy is not in it:\n"
	     "see 'Backup and restore' in the README.\n"
	     "\n"
	     "Exit status: 0 restored, 1 a copy that is damaged, whose history does not\n"
	     "verify or end at --head, or whose tables do not follow from it, or a store\n"
	     "that could not be written (nothing changed), 2 a usage error, FILE is not a\n"
	     "store or is the store itself, a copy refused without --force, or a store\n"
	     "that cannot be opened, 5 another tokenwarden process holds the run lock.\n",
    .run = run_restore,
};
