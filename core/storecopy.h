/* A store as one file: written (tokenwarden backup, restore's copy of what it replaces) and
 * checked. */
#ifndef TW_STORECOPY_H
#define TW_STORECOPY_H

#include "store/events.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

struct store;

/* What a copy holds, once checked. */
struct storecopy_facts {
	int64_t events;
	char head[EVENTS_HEAD_MAX];
	char *broken; /* why its history does not verify, or NULL; free it */
};

/*
 * Checks copy (store_open) as a store of its own: whole (SQLite's
 * integrity check), and its history recomputed into *f (a history that
 * does not verify is reported in f->broken, not refused).  Returns 0, or
 * -1 with *cause.
 */
int storecopy_check(struct store *copy, struct storecopy_facts *f, char **cause);

/* What storecopy_write did. */
enum storecopy_result {
	STORECOPY_WRITTEN = 0,
	STORECOPY_FAILED = -1,  /* not written: cannot be (a full disk, no directory) */
	STORECOPY_DAMAGED = -2, /* not written: the copy failed its check, so s is damaged */
	STORECOPY_OWN = -3,     /* not written: path is one of s's own files */
	STORECOPY_CHANGED = -4, /* not written: s's files changed while it was read */
};

/* A store's files as stat(2) saw them: its own and its -wal. */
struct storecopy_stamp {
	struct stat db, wal;
	int has_db, has_wal;
};

/* Takes the stamp of the store at path, before a connection to it reads anything. */
void storecopy_stamp(const char *path, struct storecopy_stamp *st);

/*
 * Writes s's image (store_copy_to) to path, 0600, beside it first and renamed
 * over it at the end, so path is the old file or the whole copy, never one
 * of s's own files.  With f, the copy is first checked where it was written
 * (storecopy_check), and not renamed into place when it does not open or is
 * not whole; without, it is written as it is (the bytes of a damaged store,
 * kept).  With before (the stamp taken before s was opened), a copy whose
 * store's files differ from it once the copy is checked is not renamed
 * into place (STORECOPY_CHANGED): s read a store something was writing,
 * which a read-only connection cannot hold off.  *size is its size.
 * Returns STORECOPY_WRITTEN, or another result with *cause.
 */
enum storecopy_result storecopy_write(struct store *s, const char *path, struct storecopy_facts *f,
				      const struct storecopy_stamp *before, size_t *size,
				      char **cause);

/*
 * Copies the store copy (a backup, opened to inspect) into a working copy
 * beside the store at beside, 0600, and opens that as a store of its own,
 * migrated (store_open_file): restore's, to check and change before it goes
 * into the store, which memory does not hold whole.  name names the copy in
 * messages.  Returns 0 with *work and *tmp, its path (storecopy_work_drop
 * removes both), or -1 with *cause and nothing left.
 */
int storecopy_work(struct store *copy, const char *beside, const char *name, struct store **work,
		   char **tmp, char **cause);

/* Closes work and removes its file (tmp, freed), and the journal it may have left. */
void storecopy_work_drop(struct store *work, char *tmp);

/*
 * Removes the working copies, and their journals, that a killed restore
 * left beside the store at beside, all but own (its own, or NULL).  Under
 * the run lock: another restore that made one before it waits for the lock
 * keeps its connection to it, unlinked.
 */
void storecopy_work_sweep(const char *beside, const char *own);

#endif
