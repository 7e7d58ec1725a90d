/*
 * The pieces every section of the policy loader shares: messages at a
 * node's place, key checking with suggestions, and typed scalars.  Each
 * parser reports its own problem and returns -1, so the caller goes on to
 * the next key and one pass finds every error.
 */
#ifndef TW_LOADER_H
#define TW_LOADER_H

#include "policies/diag.h"
#include "policies/ytree.h"

#include <stdint.h>

struct tz;

/* A time zone read during one load, shared by every window that names it. */
struct loader_zone {
	char *name;
	struct tz *tz; /* one reference, dropped by loader_done */
};

struct loader {
	struct diag_list *d;
	const char *zoneinfo; /* NULL: the system's */
	struct loader_zone *zones;
	size_t nzones;
};

/*
 * As tz_load from ld->zoneinfo, reading each zone once per load: a zone
 * read before is returned again with one more reference (tz_ref).  Errors
 * are not kept, so a bad name is reported wherever it is written.
 */
int loader_tz(struct loader *ld, const char *name, struct tz **out, char **cause);

/* Releases what ld holds for the load (not ld->d). */
void loader_done(struct loader *ld);

void loader_error(struct loader *ld, const struct ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void loader_warn(struct loader *ld, const struct ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Checks that m is a mapping whose keys are all in keys (NULL-terminated),
 * each at most once; reports unknown keys with the nearest valid one, and
 * keys that would hold a secret.  `where` names the section ("defaults").
 * Returns 0 when m is a mapping (even with bad keys), -1 when it is not.
 */
int loader_check_keys(struct loader *ld, const struct ynode *m, const char *const *keys,
		      const char *where);

/* Returns the index of key k in keys, or -1. */
int loader_key_index(const struct ynode *k, const char *const *keys);

/* Each reads the value of `key` (for messages) from node v; 0, or -1 after a message. */
int loader_string(struct loader *ld, const char *key, const struct ynode *v, char **out);
int loader_bool(struct loader *ld, const char *key, const struct ynode *v, int *out);
int loader_int(struct loader *ld, const char *key, const struct ynode *v, long long min,
	       long long max, long long *out);
/* A duration (90d, 1d12h); "0" only when zero_ok. */
int loader_duration(struct loader *ld, const char *key, const struct ynode *v, int zero_ok,
		    int64_t *secs);
/* A name of 1..64 of [A-Za-z0-9._-], as slot and credential names are. */
int loader_name(struct loader *ld, const char *key, const struct ynode *v, char **out);

/* An entry of a list whose names must be unique. */
struct loader_named {
	const char *name; /* NULL: no name (skipped) */
	const struct ynode *at;
	size_t index; /* its place in the list */
};

/*
 * Finds the entries of e (n of them) whose name an earlier entry already
 * has, and calls found(ld, dup, first, arg) for each, in O(n log n).  Sorts
 * e.  Returns the number of duplicates.
 */
size_t loader_duplicates(struct loader *ld, struct loader_named *e, size_t n,
			 void (*found)(struct loader *ld, const struct loader_named *dup,
				       const struct loader_named *first, void *arg),
			 void *arg);

/* Writes a duration for messages ("1d12h", or "0"). */
void loader_duration_str(int64_t secs, char buf[32]);

#endif
