/*
 * What `rotate` and `daemon` share: one run of the executor under a run row,
 * with an API client per workspace, a log line per step, a progress line on
 * a terminal, and stopping after the current step on SIGTERM or SIGINT.
 */
#ifndef TW_RUNNER_H
#define TW_RUNNER_H

#include "core/rotate.h"

#include <signal.h>

/*
 * Blocks SIGTERM, SIGINT and SIGHUP in this thread and every thread it
 * starts, so that they stay pending until the run looks for them, and
 * ignores SIGPIPE (a hook may exit without reading its input).  Call before
 * any thread starts; *set gets the blocked signals.
 */
void runner_signals(sigset_t *set);

/* Whether SIGTERM or SIGINT is pending: the run then starts no new step. */
int runner_stop_requested(void *arg);

/*
 * Runs p over s (locked by the caller) under a run row named by verb, with
 * o's stop and progress set here.  Prints the summary line unless quiet.
 * Returns the exit status: 0 all done, 1 something failed (or the store),
 * 3 work left (out of time or stopped).
 */
int runner_run(struct store *s, const struct seal_pub *pub, const struct policy *p,
	       struct rotate_opts *o, const char *verb, int quiet);

#endif
