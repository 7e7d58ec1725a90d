/*
 * Putting a copy that backup wrote back in place of the store: the checks
 * of the copy, what restoring it would undo, and the replacement itself,
 * the store it replaces kept beside it and the restore recorded in the
 * same commit (store_replace).
 */
#ifndef TW_RESTORE_H
#define TW_RESTORE_H

#include "core/storecopy.h"

struct store;

/*
 * Checks the copy mem (storecopy_work: a working copy, migrated): whole, its
 * history intact, its tables following from it.  Returns 0 with *f, or -1
 * with *cause.
 */
int restore_check(struct store *mem, struct storecopy_facts *f, char **cause);

/* Whether copy's history ends at head, as backup printed it: 0, or -1 with *cause. */
int restore_check_head(struct store *copy, const char *head, char **cause);

/*
 * What restoring mem into s would undo that the admin must ask for: another
 * pinned key (a copy from before a rekey).  Returns 0, 1 with *why, or -1
 * with *cause.
 */
int restore_undoes(struct store *s, struct store *mem, char **why, char **cause);

/* What restore_into did. */
struct restore_done {
	struct storecopy_facts old; /* the store replaced; old.head "" when unreadable */
	char *kept;                 /* where it is kept (free it) */
	char *unread;               /* why old's head could not be read, or NULL (free it) */
	int in_flight;              /* replacements the copy had in flight, kept */
};

/*
 * Replaces s (writable, holding the run lock) with mem, whose facts
 * restore_check gave: holding s's write transaction, keeps s as it stands
 * beside it (STORE.replaced-TIME, -N when taken), and appends store.restored
 * (from: the copy's full path) to mem, which then goes in as one commit.
 * A replacement mem has in flight (created or verified) is kept in the same
 * commit, retiring at its expiry: its consumers may have got it after the
 * copy, and the next run would delete it.
 * Returns 0 with *d, or -1 with *cause and s as it was.
 */
int restore_into(struct store *s, struct store *mem, const char *from,
		 const struct storecopy_facts *copy, struct restore_done *d, char **cause);

#endif
