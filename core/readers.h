/*
 * Reads of the store done at once: each on a thread and a connection of
 * its own (store_open_another), while the caller goes on with its own.  A
 * reader that cannot start is done on the caller's connection when it is
 * joined, so a failure to start costs time, never the reading.
 */
#ifndef TW_READERS_H
#define TW_READERS_H

#include "store/store.h"

#include <pthread.h>

struct reader {
	/* Reads on s into arg (its only output); 0, or -1 with *cause. */
	int (*fn)(struct store *s, void *arg, char **cause);
	void *arg;
	/* Its connection reads most pages once: a page cache of STORE_SCAN_CACHE_KIB. */
	int scan;
	/* Set by reader_start: */
	const struct store *base; /* the caller's connection, which its own is opened like */
	struct store *s;          /* its own; NULL: done at the join on the caller's */
	pthread_t thread;
	int started, rc;
	char *cause;
};

/*
 * Starts r on a thread that opens a connection to s's database of its own
 * (store_open_another, which reads only what s keeps from its opening).
 */
void reader_start(struct store *s, struct reader *r);
/*
 * Waits for r, or does it on s when it could not start; returns its result,
 * setting *cause (when NULL) to its cause.
 */
int reader_join(struct store *s, struct reader *r, char **cause);

#endif
