/*
 * The Prometheus text exposition of the store and policy, for
 * node_exporter's textfile collector: what `metrics` prints and what
 * `rotate --metrics-textfile` and `daemon --metrics-textfile` rewrite after
 * every run.  The README's Metrics section lists the series.
 */
#ifndef TW_METRICS_H
#define TW_METRICS_H

#include "policies/policy.h"
#include "store/store.h"

#include <stdint.h>

/* The file's mode: node_exporter runs as its own user and must read it. */
#define METRICS_FILE_MODE 0644

/*
 * Writes the metrics of p over s as of now (ms) to path, atomically
 * (core/outfile.h: a temporary file beside it, synced, renamed over it;
 * mode METRICS_FILE_MODE), or to standard output when path is NULL.
 * Reads s, changes nothing in it.  Returns 0; -2 with *cause when path
 * cannot be written at all (its directory is missing or not writable, it
 * names a directory); -1 with *cause when the store cannot be read or the
 * file not finished (disk full).  Path is left as it was on error.
 */
int metrics_write(const char *path, struct store *s, const struct policy *p, int64_t now,
		  char **cause);

/*
 * What rotate and daemon do after a run with --metrics-textfile: as
 * metrics_write, turning a failure into a warning (the run's status stays
 * as it was).
 */
void metrics_after_run(const char *path, struct store *s, const struct policy *p);

#endif
