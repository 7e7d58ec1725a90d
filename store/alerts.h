/*
 * The alerts sent for findings that still hold: a violation is alerted when
 * it is first seen and reminded at most once per interval while it lasts,
 * however often the executor runs; once it is over it is forgotten, so that
 * it alerts again should it come back.  A finding is named by a key the
 * caller makes (its kind, workspace, slot and token).  So is a failure that
 * lasts from run to run (the store's tables not following from its history,
 * a workspace's clock), by a key that begins with ALERTS_LASTING: those are
 * the caller's to forget one by one (alerts_over), as each check passes.
 */
#ifndef TW_ALERTS_H
#define TW_ALERTS_H

#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

/* The first byte of a lasting failure's key; no finding's name begins with it. */
#define ALERTS_LASTING "!"

/*
 * Forgets the alerts of every finding's key not among keys[0..n) (their
 * findings are over; lasting failures' keys stay) and sets last[i] to when
 * keys[i] was last alerted, 0 when never.  One transaction.  Returns 0 or
 * -1 with *cause.
 */
int alerts_last(struct store *s, const char *const *keys, size_t n, int64_t *last, char **cause);

/* Sets *last to when key was last alerted, 0 when never.  Returns 0 or -1 with *cause. */
int alerts_last_one(struct store *s, const char *key, int64_t *last, char **cause);

/* Forgets key, when it was alerted: what it names is over.  Returns 0 or -1 with *cause. */
int alerts_over(struct store *s, const char *key, char **cause);

/* Records that keys[0..n) were alerted at now.  Returns 0 or -1 with *cause. */
int alerts_sent(struct store *s, const char *const *keys, size_t n, int64_t now, char **cause);

#endif
