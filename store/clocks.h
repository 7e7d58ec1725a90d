/*
 * Each workspace whose server clock the last run found out of bound: the
 * run does nothing there (no create, no delete), and plan and audit report
 * show a `clock` finding until a later run finds the clocks agreeing.
 */
#ifndef TW_CLOCKS_H
#define TW_CLOCKS_H

#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

struct clock_state {
	char *workspace;
	int64_t checked_at; /* ms, the host's clock */
	char *error;        /* what was wrong: the skew, or no usable Date */
};

/*
 * Records that workspace's server clock disagreed at now, saying error.
 * One transaction; the event (workspace.clock) only when it agreed before.
 * Returns 0 or -1 with *cause.
 */
int clocks_skewed(struct store *s, const char *workspace, int64_t now, const char *error,
		  char **cause);

/* Records that workspace's clock agrees (event workspace.clock_agrees when it did not). */
int clocks_agree(struct store *s, const char *workspace, int64_t now, char **cause);

/* Lists the workspaces whose clock disagreed at the last check, by name.  Free with
 * clocks_free. */
int clocks_list(struct store *s, struct clock_state **out, size_t *n, char **cause);

void clocks_free(struct clock_state *v, size_t n);

#endif
