/*
 * Alerts for violations of the policy: the findings a run leaves standing
 * (a slot without a working token, a token living too long, an unmanaged or
 * expired token, a personal credential, a rate budget too small), sent to
 * the notify targets that take them as one message per run.  Each is
 * alerted when first seen and reminded once VIOLATIONS_REMIND_MS has
 * passed, so the daemon's frequent runs do not repeat it and a nightly
 * timer reminds every night; one that is over is forgotten.
 */
#ifndef TW_VIOLATIONS_H
#define TW_VIOLATIONS_H

#include "core/notify.h"
#include "core/plan.h"
#include "policies/policy.h"
#include "store/store.h"

#include <stdint.h>

/* 23 hours: a nightly run whose timer fires a little early still reminds. */
#define VIOLATIONS_REMIND_MS (23 * 3600 * 1000LL)

/* Whether a finding kind (enum finding_kind) is a violation that alerts. */
int violations_kind(int finding_kind);

/*
 * Alerts the violations among pl's findings (p planned over s at now) that
 * are new or due a reminder, to the notify targets as how says, and
 * forgets those no longer found.  Returns the number of violations alerted
 * (0 when none is due or no target takes violations), or -1 with *cause
 * when the store failed.  When a target could not be reached, *unsent says
 * why (no URL in it) and the violations stay due, to be sent by the next run.
 */
int violations_alert(struct store *s, const struct policy *p, const struct plan *pl, int64_t now,
		     const struct notify_how *how, char **unsent, char **cause);

/*
 * Alerts a failure that lasts from run to run (the store's tables not
 * following from its history; a workspace's clock) as a violation is
 * alerted: when first met, and reminded ("still: TEXT") once
 * VIOLATIONS_REMIND_MS has passed while it lasts, however often runs meet
 * it: the daemon runs every minute while its work stays due.  key names it
 * (store/alerts.h's ALERTS_LASTING, then what it is about); workspace, when
 * not NULL, is the alert's.  Returns 1 when alerted, 0 when not due, or -1
 * with *cause when the store failed; when a target could not be reached,
 * *unsent says why and the failure stays due.
 */
int violations_lasting(struct store *s, const struct policy *p, const char *key,
		       const char *workspace, const char *text, int64_t now,
		       const struct notify_how *how, char **unsent, char **cause);

/*
 * violations_lasting's alert, for a caller that keeps when it last alerted
 * (last; 0: not while the failure lasts) itself, as the daemon does of a
 * store it cannot open: sends text when due, a reminder as "still: TEXT".
 * Returns 1 when sent, 0 when not due, or -1 when a target could not be
 * reached (*unsent says why; the failure stays due).
 */
int violations_remind(const struct policy *p, const char *workspace, const char *text, int64_t last,
		      int64_t now, const struct notify_how *how, char **unsent);

#endif
