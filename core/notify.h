/*
 * Alerts: a short JSON message to each webhook of the policy that takes its
 * kind, shaped for chat webhooks (a "text" field) with the details beside
 * it.  A message never carries a secret; a webhook URL (which may hold one)
 * never appears in an error.
 */
#ifndef TW_NOTIFY_H
#define TW_NOTIFY_H

#include "policies/policy.h"

struct notify_event {
	unsigned kind; /* one of NOTIFY_FAILURE, NOTIFY_STUCK, NOTIFY_VIOLATION, NOTIFY_SUCCESS */
	const char *workspace; /* may be NULL */
	const char *slot;      /* may be NULL */
	const char *text;      /* for people; no secret */
};

/* Returns "failure", "stuck", "violation" or "success". */
const char *notify_kind_name(unsigned kind);

/* How long a target may take to answer an alert (ms), unless a run says otherwise. */
#define NOTIFY_TIMEOUT_MS 10000

/* Whether some target of p takes alerts of kind. */
int notify_wants(const struct policy *p, unsigned kind);

/*
 * Posts ev to every target of p that takes its kind, each with a time
 * limit of timeout_ms, through p's proxy (core/net.h).  Returns the number that failed (0: all
 * sent, or none takes this kind); with failures, *cause names them by their place in the policy and
 * says why.
 */
int notify_send(const struct policy *p, const struct notify_event *ev, long timeout_ms,
		char **cause);

#endif
