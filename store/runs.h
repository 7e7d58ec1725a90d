/*
 * Runs: one row per rotate (or other batch) run, opened and closed with an
 * event each, so the history shows when the tool worked and how it ended.
 */
#ifndef TW_RUNS_H
#define TW_RUNS_H

#include "store/store.h"

#include <jansson.h>
#include <stdint.h>

/* Opens a run of kind ("rotate", ...) at now, with its run.start event.  Returns 0 with *run or -1.
 */
int runs_start(struct store *s, const char *kind, int64_t now, int64_t *run, char **cause);

/*
 * Closes run with its exit status and summary (borrowed JSON object, may be
 * NULL), with its run.end event.  Refuses a run that is unknown or already
 * closed.  Returns 0 or -1 with *cause.
 */
int runs_end(struct store *s, int64_t run, int status, const json_t *summary, int64_t now,
	     char **cause);

/* A run as stored; times in ms, 0 when not set. */
struct run_row {
	int64_t id; /* 0: there is none */
	int64_t started_at;
	int64_t ended_at; /* 0: still open (running, or its process died) */
	int status;       /* -1 while open */
	json_t *summary;  /* owned; NULL when none */
};

/*
 * Reads the latest run (by id) into *last and the latest that ended with
 * status 0 into *last_ok; either may have id 0 when there is none.  Free
 * both with runs_row_free.  Returns 0 or -1 with *cause.
 */
int runs_last(struct store *s, struct run_row *last, struct run_row *last_ok, char **cause);

void runs_row_free(struct run_row *r);

#endif
