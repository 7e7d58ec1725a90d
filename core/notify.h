/*
 * Alerts: a short JSON message to each webhook of the policy that takes its
 * kind, shaped for chat webhooks (a "text" field) with the details beside
 * it.  A message never carries a secret; a webhook URL (which may hold one)
 * never appears in an error.
 */
#ifndef TW_NOTIFY_H
#define TW_NOTIFY_H

#include "policies/policy.h"

#include <stdint.h>

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

/* How long an alert may take once its run is stopping or out of time (ms). */
#define NOTIFY_STOPPING_MS 1000

/* How long a run leaves a webhook that did not answer before it tries it again (ms). */
#define NOTIFY_RETRY_MS (5 * 60 * 1000)

/*
 * What one run's alerts learn of its webhooks, shared by its workers: a
 * webhook that did not answer (no connection, or no answer in time; an
 * error status is an answer) is not tried again for retry_ms, so one that
 * is down costs the run one wait every retry_ms, not one an alert.  The
 * alerts it misses are counted, and the first it takes again is followed
 * by one saying how many it missed.
 */
struct notify_state;

struct notify_state *notify_state_new(const struct policy *p, int64_t retry_ms);
void notify_state_free(struct notify_state *st);

/* How alerts are sent. */
struct notify_how {
	long timeout_ms; /* each post's time limit */
	/* clock_mono_ms after which a post waits NOTIFY_STOPPING_MS at most; each post
	 * waits no later than it, nor less than that; 0: none */
	int64_t deadline;
	struct notify_state *state; /* the run's; NULL: every alert tries every target */
};

/* Whether some target of p takes alerts of kind. */
int notify_wants(const struct policy *p, unsigned kind);

/*
 * Posts ev to every target of p that takes its kind, as how says, through
 * p's proxy (core/net.h).  Returns the number that failed or were not
 * tried (0: all sent, or none takes this kind); with failures, *cause
 * names them by their place in the policy and says why.
 */
int notify_send(const struct policy *p, const struct notify_how *how, const struct notify_event *ev,
		char **cause);

#endif
