/*
 * The alerts sent for findings that still hold: a violation is alerted when
 * it is first seen and reminded at most once per interval while it lasts,
 * however often the executor runs; once it is over it is forgotten, so that
 * it alerts again should it come back.  A finding is named by a key the
 * caller makes (its kind, workspace, slot and token).
 */
#ifndef TW_ALERTS_H
#define TW_ALERTS_H

#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

/*
 * Forgets the alerts of every key not among keys[0..n) (their findings are
 * over) and sets last[i] to when keys[i] was last alerted, 0 when never.
 * One transaction.  Returns 0 or -1 with *cause.
 */
int alerts_last(struct store *s, const char *const *keys, size_t n, int64_t *last, char **cause);

/* Records that keys[0..n) were alerted at now.  Returns 0 or -1 with *cause. */
int alerts_sent(struct store *s, const char *const *keys, size_t n, int64_t now, char **cause);

#endif
