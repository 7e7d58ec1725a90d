/*
 * What `rotate` and `daemon` share: one run of the executor under a run row,
 * with an API client per workspace, a log line per step, a progress line on
 * a terminal, and stopping after the current step on SIGTERM or SIGINT.
 * `revoke` makes its client with the same options.
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

/*
 * Sets mo to the client options of workspace w of p: the defaults, w's
 * rate_limit, p's proxy, and the global --timeout, --retries, --rate-limit
 * (which replaces w's) and --proxy when given.
 */
void runner_mode_opts(const struct policy *p, const struct policy_workspace *w,
		      struct mode_opts *mo);

/*
 * Whether SIGTERM or SIGINT is pending: the run then starts no new step.
 * The kernel is asked at most every 10 ms; between, its last answer stands.
 */
int runner_stop_requested(void *arg);

/*
 * Checks what every run of p needs before it does anything: each
 * workspace's credential and API client.  Prints one error per problem,
 * naming the workspace, where it looked and the fix.  Returns 0, or 2
 * (TW_EXIT_USAGE) when there was a problem.
 */
int runner_check(const struct policy *p);

/*
 * The Retry-After holds one run leaves the next in the same process: for
 * each credential (by name) a 429 asked to wait for longer than a run
 * waits, when (monotonic ms) its budget is free again.  The daemon keeps
 * them across its runs, so that its next run, a minute on, sends nothing
 * into the refusal either.  Zeroed: none.
 */
struct runner_hold {
	char *credential;
	int64_t until;
};

struct runner_holds {
	struct runner_hold *h;
	size_t n;
};

void runner_holds_free(struct runner_holds *h);

/*
 * Until when (wall ms) the holds of arg (a struct runner_holds) keep
 * credential's requests back; 0: they do not.  A schedule_held_fn.
 */
int64_t runner_held_until(const void *arg, const char *credential);

/*
 * Runs p over s (locked by the caller) under a run row named by verb, with
 * o's stop and progress set here.  The credentials start held as holds
 * says, and holds gets their holds at the end; NULL: none kept.  Prints the
 * summary line unless quiet.  Returns the exit status: 0 all done, 1
 * something failed (or the store), 3 work left (out of time or stopped), 2
 * the configuration of a workspace the run needs is wrong (as runner_check;
 * then nothing is recorded or sent, but a dry run still says what it would
 * do).
 */
int runner_run(struct store *s, const struct seal_pub *pub, const struct policy *p,
	       struct rotate_opts *o, const char *verb, int quiet, struct runner_holds *holds);

#endif
