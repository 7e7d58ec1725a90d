/* The executor; see rotate.h. */
#include "core/rotate.h"

#include "core/clock.h"
#include "core/deliver.h"
#include "core/notify.h"
#include "core/ops.h"
#include "core/report.h"
#include "core/timefmt.h"
#include "core/violations.h"
#include "core/xalloc.h"
#include "store/alerts.h"
#include "store/clocks.h"
#include "store/slots.h"
#include "store/store.h"
#include "store/tokens.h"

#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000

/* What the workers of one run share. */
struct shared {
	pthread_mutex_t progress_mu; /* held while a count is reported: counts go out in order */
	int done;                    /* slots worked so far, for progress (under progress_mu) */
	int total;
	atomic_int halt;             /* a worker's store failed: the others stop too */
	char *skewed;                /* by workspace index: its clock disagrees with the server's */
	struct notify_state *alerts; /* what the run's alerts learned of the webhooks */
};

/* What one worker carries between steps. */
struct run {
	struct store *s;
	const struct seal_pub *pub;
	const struct policy *p;
	const struct report *r;
	rotate_client_fn client;
	void *carg;
	const struct rotate_opts *o;
	rotate_log_fn log;
	void *larg;
	struct rotate_stats *st;
	struct shared *sh;
	int retrying;      /* the attempt under way is a retry within the run */
	struct gone *gone; /* deleted on the server, not yet recorded (record_gone) */
	size_t ngone;
};

/*
 * A token deleted on the server whose deletion is not yet recorded.  A run's
 * deletions of retired tokens are recorded together, ROTATE_GONE_BATCH in one
 * transaction, rather than each with a sync of the disk: until then the
 * store holds them retiring, and a crash leaves them so, for the next run's
 * DELETE to find them gone (404) and record them.
 */
struct gone {
	char *ws, *slot, *id;
	int found; /* deleted by this DELETE; else it answered 404 */
};

#define ROTATE_GONE_BATCH 64

/* One worker: the action groups of the workspaces that share a credential. */
struct worker {
	struct run run;
	struct rotate_stats st;
	const char *credential;
	size_t *groups; /* index of each group's first action in the plan, earliest first */
	size_t ngroups;
	pthread_t thread;
	int started;
	int own_store; /* run.s is this worker's own connection */
	int rc;
	char *cause;
};

void
rotate_opts_init(struct rotate_opts *o)
{
	memset(o, 0, sizeof *o);
	o->backoff_base = 15 * 60 * MS;
	o->backoff_max = 24 * 3600 * MS;
	o->notify_timeout_ms = NOTIFY_TIMEOUT_MS;
}

static void say(struct run *run, int failed, const char *event, const char *ws, const char *slot,
		const char *token, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void
say(struct run *run, int failed, const char *event, const char *ws, const char *slot,
    const char *token, const char *fmt, ...)
{
	struct rotate_event ev = {failed, event, ws, slot, token, NULL};
	va_list ap;
	char *text;

	va_start(ap, fmt);
	text = xvasprintf(fmt, ap);
	va_end(ap);
	ev.text = text;
	if (run->log != NULL)
		run->log(run->larg, &ev);
	free(text);
}

static int stopping(const struct run *run);

/*
 * How the run's alerts are sent: each post may take the options' time, no
 * later than the run's stop_at, and NOTIFY_STOPPING_MS once it is stopping;
 * a webhook that did not answer is left alone a while.
 */
static struct notify_how
alert_how(const struct run *run)
{
	struct notify_how how = {run->o->notify_timeout_ms, run->o->stop_at, run->sh->alerts};

	if (stopping(run) && how.timeout_ms > NOTIFY_STOPPING_MS)
		how.timeout_ms = NOTIFY_STOPPING_MS;
	return how;
}

/* Sends an alert; a failure to alert is logged, never fatal. */
static void
alert(struct run *run, unsigned kind, const char *ws, const char *slot, const char *text)
{
	struct notify_event ev = {kind, ws, slot, text};
	struct notify_how how = alert_how(run);
	char *cause = NULL;

	if (notify_send(run->p, &how, &ev, &cause) > 0)
		say(run, 1, "alert-failed", ws, slot, NULL, "alert not sent: %s", cause);
	free(cause);
}

/* The backoff before attempt failures + 1: base doubling, capped. */
static int64_t
backoff(const struct run *run, int failures)
{
	int64_t d = run->o->backoff_base;

	for (int i = 1; i < failures && d < run->o->backoff_max; i++)
		d *= 2;
	return d < run->o->backoff_max ? d : run->o->backoff_max;
}

/* Failures in a row so far for ws/slot, from the run's snapshot. */
static int
failures_so_far(const struct run *run, const char *ws, const char *slot)
{
	for (size_t i = 0; i < run->r->nstates; i++)
		if (strcmp(run->r->states[i].workspace, ws) == 0 &&
		    strcmp(run->r->states[i].slot, slot) == 0)
			return run->r->states[i].failures;
	return 0;
}

/* Records a failed rotation of slot: backoff, log and alert (stuck once it has failed enough). */
static int
slot_failed(struct run *run, const struct policy_slot *sl, const char *why, char **cause)
{
	int64_t now = clock_now_ms();
	int before = failures_so_far(run, sl->ws->name, sl->name), failures = 0;
	char next[TIMEFMT_MAX];

	run->st->failed++;
	/* The run's first failure of the slot is recorded and alerted; its retries are logged. */
	if (run->retrying) {
		say(run, 1, "retry-failed", sl->ws->name, sl->name, NULL, "retry failed: %s", why);
		return 0;
	}
	if (slots_failed(run->s, sl->ws->name, sl->name, now, now + backoff(run, before + 1), why,
			 &failures, cause) < 0) {
		/* The store's error ends the run; why is said here, or nowhere. */
		say(run, 1, "failed", sl->ws->name, sl->name, NULL,
		    "rotation failed (not recorded: the store failed): %s", why);
		return -1;
	}
	timefmt_minute(now + backoff(run, before + 1), next);
	say(run, 1, "failed", sl->ws->name, sl->name, NULL,
	    "rotation failed (%d in a row; next attempt after %s): %s", failures, next, why);
	alert(run, NOTIFY_FAILURE, sl->ws->name, sl->name, why);
	if (failures == run->p->schedule.stuck_after)
		alert(run, NOTIFY_STUCK, sl->ws->name, sl->name, why);
	return 0;
}

/*
 * Deletes workspace's token id on the server and, when later, queues its
 * record for record_gone; returns the mode_err.
 */
static int
delete_later(struct run *run, struct mode_client *c, const char *ws, const char *slot,
	     const char *id, char **cause)
{
	int rc = ops_delete_remote(c, id, NULL, cause);

	if (rc != MODE_OK && rc != MODE_ERR_NOT_FOUND)
		return rc;
	run->gone = xrealloc(run->gone, (run->ngone + 1) * sizeof *run->gone);
	/* An unmanaged token has no slot. */
	run->gone[run->ngone++] = (struct gone){xstrdup(ws), slot != NULL ? xstrdup(slot) : NULL,
						xstrdup(id), rc == MODE_OK};
	return rc;
}

/* stopping(), as a client's stop hook (mode_set_stop). */
static int
stop_hook(void *arg)
{
	return stopping(arg);
}

/*
 * The run's client for workspace w, or NULL with *why: a wait of its for a
 * rate budget ends when the run stops, the call then not sent.
 */
static struct mode_client *
client_of(struct run *run, const struct policy_workspace *w, char **why)
{
	struct mode_client *c = run->client(run->carg, w, why);

	if (c != NULL)
		mode_set_stop(c, stop_hook, run);
	return c;
}

/*
 * Deletes workspace's token id and records it, at once or, when later, with
 * the next ones (record_gone); counted in *count.  Returns the mode_err;
 * MODE_ERR_STOPPED, the run stopping before it was sent, is neither done
 * nor failed.
 */
static int
delete_token(struct run *run, const char *ws, const char *slot, const char *id, const char *why,
	     int *count, int later)
{
	const struct policy_workspace *w = policy_find_workspace(run->p, ws);
	struct mode_client *c;
	char *cause = NULL;
	int rc = MODE_ERR_USAGE;

	if (w == NULL) {
		say(run, 1, "delete-failed", ws, slot, id,
		    "cannot delete %s: workspace not in the policy", id);
		return MODE_ERR_USAGE;
	}
	c = client_of(run, w, &cause);
	if (c != NULL && later)
		rc = delete_later(run, c, ws, slot, id, &cause);
	else if (c != NULL)
		rc = ops_delete(run->s, c, ws, id, NULL, &cause);
	if (rc == MODE_OK || rc == MODE_ERR_NOT_FOUND) {
		(*count)++;
		say(run, 0, "deleted", ws, slot, id, "deleted %s (%s)", id, why);
		rc = MODE_OK;
	} else if (rc != MODE_ERR_STOPPED) {
		run->st->failed++;
		say(run, 1, "delete-failed", ws, slot, id, "cannot delete %s: %s", id,
		    cause != NULL ? cause : "?");
	}
	free(cause);
	return rc;
}

/* Deletes a replacement that must not stay (unverified or undelivered), then backs off. */
static int
discard(struct run *run, const struct policy_slot *sl, const char *id, const char *why,
	char **cause)
{
	/* Not counted with the tokens the run retired. */
	delete_token(run, sl->ws->name, sl->name, id, "replacement not usable", &run->st->discarded,
		     0);
	return slot_failed(run, sl, why, cause);
}

/*
 * Records how slot sl's consumers first to n - 1 stand to token row
 * (slots_handed's how), or, with legacy (schema 14's record of it:
 * deliver_fingerprint's, each followed by a comma), those of them it
 * names.  Returns 0, or -1 with *cause.
 */
static int
record_hand_of(struct run *run, const struct policy_slot *sl, int64_t row, enum slots_hand how,
	       size_t first, size_t n, const char *legacy, char **cause)
{
	_Static_assert(DELIVER_FINGERPRINT_MAX == SLOTS_HOLDER_MAX, "one key, two lengths");
	char *keys = xcalloc(n + 1, SLOTS_HOLDER_MAX), **given = xcalloc(n + 1, sizeof *given);
	/* Only a token the consumer took records what its file was given. */
	int took = how == SLOTS_TOOK || how == SLOTS_REACHED;
	size_t m = 0;
	int rc;

	for (size_t i = first; i < n; i++) {
		if (legacy != NULL && !deliver_among(legacy, &sl->eff.deliver[i]))
			continue;
		given[m] = took ? deliver_given(&sl->eff.deliver[i]) : NULL;
		deliver_holder(sl, &sl->eff.deliver[i], keys + m++ * SLOTS_HOLDER_MAX);
	}
	rc = slots_handed(run->s, row, how, keys, (const char *const *)given, m, clock_now_ms(),
			  cause);
	for (size_t i = 0; i < m; i++)
		free(given[i]);
	free(given);
	free(keys);
	return rc;
}

/* record_hand_of for slot sl's first n consumers. */
static int
record_hand(struct run *run, const struct policy_slot *sl, int64_t row, enum slots_hand how,
	    size_t n, const char *legacy, char **cause)
{
	return record_hand_of(run, sl, row, how, 0, n, legacy, cause);
}

/*
 * Deletes a replacement the first consumer refused, which no consumer holds:
 * recorded first as due for deletion now, and as offered to none, so that a
 * crash after its DELETE leaves it to the next run's deletions (where a 404
 * means done), not kept as an interrupted delivery is, in case a consumer
 * holds it.
 */
static int
refused(struct run *run, const struct policy_slot *sl, const char *id, int64_t row, const char *why,
	char **cause)
{
	json_t *d = json_pack("{s:s}", "reason", "its first consumer refused it");
	int64_t now = clock_now_ms();
	int rc = store_begin(run->s, cause);

	if (rc == 0) {
		rc = tokens_retire(run->s, row, now, now, d, cause);
		if (rc == 0)
			rc =
			    record_hand(run, sl, row, SLOTS_REFUSED, sl->eff.ndeliver, NULL, cause);
		rc = store_end(run->s, rc, cause);
	}
	json_decref(d);
	return rc < 0 ? -1 : discard(run, sl, id, why, cause);
}

/*
 * Keeps a replacement the first `took` consumers took before the next
 * refused it, or took it and may lose it (held): it retires, as an old
 * token does, once the slot's next rotation reaches every consumer (until
 * then, at its own expiry).  The replacements kept before it that only
 * those `took` consumers took retire after the slot's grace: none of them
 * holds one any more.  Then the slot backs off.
 */
static int
keep(struct run *run, const struct policy_slot *sl, const struct mode_token *t, int64_t row,
     size_t took, int held, const char *why, char **cause)
{
	json_t *reached = json_array();
	json_t *d =
	    json_pack("{s:s, s:I, s:I}", "reason",
		      held ? "a consumer took it and may lose it"
			   : "some consumers took it and another refused it",
		      "delivered", (json_int_t)took, "consumers", (json_int_t)sl->eff.ndeliver);
	char fp[DELIVER_FINGERPRINT_MAX];
	int64_t now = clock_now_ms();
	int rc, superseded = 0;

	for (size_t i = 0; i < took; i++) {
		deliver_fingerprint(&sl->eff.deliver[i], fp);
		json_array_append_new(reached, json_string(fp));
	}
	json_object_set_new(d, "reached", reached);
	rc = store_begin(run->s, cause);
	if (rc == 0) {
		rc = tokens_keep(run->s, row, t->expires_at, now + sl->eff.grace * MS, now, d,
				 &superseded, cause);
		if (rc == 0)
			rc = record_hand(run, sl, row, SLOTS_TOOK, took, NULL, cause);
		/* The one that refused it, and those after it, were offered it and did not take
		 * it; one that holds it but may lose it keeps the offer. */
		if (rc == 0)
			rc = record_hand_of(run, sl, row, SLOTS_REFUSED, took + (held != 0),
					    sl->eff.ndeliver, NULL, cause);
		rc = store_end(run->s, rc, cause);
	}
	json_decref(d);
	if (rc < 0)
		return -1;
	say(run, 1, "kept", sl->ws->name, sl->name, t->token,
	    "kept %s: %zu of %zu consumers hold it%s; it retires after the slot's next rotation%s",
	    t->token, took, sl->eff.ndeliver, held ? ", and the next may" : "",
	    superseded == 0   ? ""
	    : superseded == 1 ? "; the one kept before it, which they no longer hold, retires "
				"after the grace"
			      : "; those kept before it, which they no longer hold, retire after "
				"the grace");
	return slot_failed(run, sl, why, cause);
}

/*
 * Logs what consumer i of slot sl printed when it failed (blotted by
 * deliver); returns what the failure's record says of it.  Only the log
 * gets the output: the store and alerts keep their copy of the failure.
 */
static const char *
consumer_said(struct run *run, const struct policy_slot *sl, const char *token, size_t i,
	      const char *output)
{
	if (output == NULL)
		return "";
	say(run, 1, "consumer-output", sl->ws->name, sl->name, token,
	    "output of consumer %zu of %zu: %s", i + 1, sl->eff.ndeliver, output);
	return "; its output is in the log";
}

/*
 * Records the replacement at row verified, when the slot verifies, and its
 * delivery begun, when it has consumers: the row's, and each consumer's
 * offer (a run killed after one took it leaves it holding the token, even
 * should the policy move it to another slot before the next run).  In one
 * transaction, so one sync of the disk.  A crash before it leaves the row
 * created, deleted by the next run as a verified one would be.  Returns 0,
 * or -1 with *cause.
 */
static int
record_proven(struct run *run, const struct policy_slot *sl, int64_t row, char **cause)
{
	int rc = 0;

	if (!sl->eff.verify && sl->eff.ndeliver == 0)
		return 0;
	if (store_begin(run->s, cause) < 0)
		return -1;
	if (sl->eff.verify)
		rc = tokens_transition(run->s, row, TOKEN_CREATED, TOKEN_VERIFIED, clock_now_ms(),
				       NULL, cause);
	if (rc == 0 && sl->eff.ndeliver > 0)
		rc = tokens_delivering(run->s, row, sl->eff.ndeliver, clock_now_ms(), cause);
	if (rc == 0 && sl->eff.ndeliver > 0)
		rc = record_hand(run, sl, row, SLOTS_OFFERED, sl->eff.ndeliver, NULL, cause);
	return store_end(run->s, rc, cause);
}

/*
 * Records that each active token of which nothing is recorded (pl's
 * unrecorded: an upgraded store's, an import, one made by hand) reached its
 * slot's consumers as the policy has them now, in one transaction: the
 * assumption the plan made of it, kept, so that a consumer the policy adds
 * from now on is seen.  Returns 0, or -1 with *cause.
 */
static int
record_unrecorded(struct run *run, const struct plan *pl, char **cause)
{
	int rc = 0;

	if (pl->nunrecorded == 0)
		return 0;
	if (store_begin_unsynced(run->s, cause) < 0)
		return -1;
	for (size_t i = 0; i < pl->nunrecorded && rc == 0; i++)
		rc = record_hand(run, pl->unrecorded[i].slot, pl->unrecorded[i].row, SLOTS_REACHED,
				 pl->unrecorded[i].slot->eff.ndeliver, pl->unrecorded[i].legacy,
				 cause);
	return store_end(run->s, rc, cause);
}

/*
 * Makes the replacement at row the slot's active token, the old one retiring
 * after its grace (*retired its row), and records the slot's success and the
 * consumers it reached (all of them): in one transaction, left unsynced.
 * Nothing outside the store waits on it, and the next slot's intent, synced
 * before its create goes out, syncs it too (rotate_run syncs the last).  A
 * power cut before then leaves the row delivered, kept by the next run as an
 * interrupted delivery, and the slot rotated again: no consumer is left
 * holding a dead token.  Returns 0, or -1 with *cause.
 */
static int
record_active(struct run *run, const struct policy_slot *sl, int64_t row, int64_t *retired,
	      char **cause)
{
	int64_t now = clock_now_ms();
	int rc;

	if (store_begin_unsynced(run->s, cause) < 0)
		return -1;
	rc = tokens_activate(run->s, row, now + sl->eff.grace * MS, now, retired, cause);
	if (rc == 0)
		rc = slots_succeeded(run->s, sl->ws->name, sl->name, now, cause);
	if (rc == 0)
		rc = record_hand(run, sl, row, SLOTS_REACHED, sl->eff.ndeliver, NULL, cause);
	return store_end(run->s, rc, cause);
}

/*
 * Hands t, the replacement at row, to slot sl's consumers from the first-th
 * on.  Returns 0 when each took it; else -1, with *took the number of
 * consumers that hold it for sure, after keeping it for them and for one
 * that may hold it (deleting it when none does).  *store_failed: that
 * record failed, with *cause.
 */
static int
deliver_from(struct run *run, const struct policy_slot *sl, const struct mode_token *t, int64_t row,
	     size_t first, size_t *took, int *store_failed, char **cause)
{
	struct deliver_payload pay = {sl->ws->name,  sl->name,         t->token,      t->name,
				      t->access_key, t->access_secret, t->expires_at, 0};
	char *why = NULL, *output = NULL, *msg;
	int rc;

	for (size_t i = first; i < sl->eff.ndeliver; i++) {
		rc = deliver_one(sl, &sl->eff.deliver[i], &pay, &why, &output);
		if (rc == 0)
			continue;
		msg = xasprintf("new token %s could not be delivered to consumer %zu of %zu: %s%s",
				t->token, i + 1, sl->eff.ndeliver, why,
				consumer_said(run, sl, t->token, i, output));
		/*
		 * Consumers that took it must not be left with a deleted token,
		 * nor the one that holds it but may lose it (DELIVER_HELD): kept,
		 * as none that took it for sure, it is handed to that one again.
		 */
		if (i > 0 || rc == DELIVER_HELD)
			*store_failed =
			    keep(run, sl, t, row, i, rc == DELIVER_HELD, msg, cause) < 0;
		else
			*store_failed = refused(run, sl, t->token, row, msg, cause) < 0;
		*took = i;
		free(msg);
		free(why);
		free(output);
		return -1;
	}
	if (sl->eff.ndeliver > 0) {
		say(run, 0, "delivered", sl->ws->name, sl->name, t->token,
		    "delivered %s to %zu consumer%s", t->token, sl->eff.ndeliver - first,
		    sl->eff.ndeliver - first == 1 ? "" : "s");
		ops_crash_point("after-deliver");
	}
	*took = sl->eff.ndeliver;
	return 0;
}

/*
 * Proves the new token and hands it to every consumer; 0, -1 after
 * discarding or keeping it (*took consumers hold it), or 1 when the run
 * stopped before its proof was sent.
 */
static int
prove_and_deliver(struct run *run, struct mode_client *c, const struct policy_slot *sl,
		  const struct mode_token *t, int64_t row, size_t *took, int *store_failed,
		  char **cause)
{
	char *why = NULL, *msg;
	int rc;

	*took = 0;

	if (sl->eff.verify) {
		rc = mode_verify(c, t->token, t->access_key, t->access_secret, &why);
		/* Left created, for the next run to delete: no consumer has it. */
		if (rc == MODE_ERR_STOPPED) {
			free(why);
			return 1;
		}
		if (rc != MODE_OK) {
			msg = xasprintf("new token %s does not verify: %s", t->token,
					why != NULL ? why : "?");
			*store_failed = discard(run, sl, t->token, msg, cause) < 0;
			free(msg);
			free(why);
			return -1;
		}
		ops_crash_point("after-verify");
	}
	/* From here a crash leaves it kept, not deleted: a consumer may hold it. */
	if (record_proven(run, sl, row, cause) < 0) {
		*store_failed = 1;
		return -1;
	}
	if (sl->eff.verify)
		say(run, 0, "verified", sl->ws->name, sl->name, t->token, "verified %s", t->token);
	return deliver_from(run, sl, t, row, 0, took, store_failed, cause);
}

/*
 * Creates sl's replacement through c, named for *name_at or, a minute later
 * each time, for the first the workspace has not used (a run forced twice
 * within a minute): every token keeps a name of its own, which is all a lost
 * create leaves to find it by.  Returns ops_create's answer, *name the name
 * tried last (NULL, with *why, when the template does not render).
 */
static int
create_named(struct run *run, struct mode_client *c, const struct policy_slot *sl, int64_t *name_at,
	     int64_t expires, struct ops_created *made, char **name, char **why)
{
	for (int tries = 0; tries < 60; tries++, *name_at += 60 * MS) {
		int err;

		*name = policy_render_name(sl, *name_at, why);
		if (*name == NULL)
			return MODE_ERR_USAGE;
		/* The proof's commit syncs the answer, before any consumer gets the token. */
		err = ops_create(run->s, run->pub, c, sl->ws->name, sl->name, *name, OPS_NAME_FRESH,
				 expires, OPS_SYNC_LATER, made, why);
		if (err != OPS_NAME_USED)
			return err;
		FREE_NULL(name);
	}
	*why = xasprintf("no unused name for the next hour of '%s'", sl->name);
	return MODE_ERR_USAGE;
}

/*
 * A replacement this run kept for the consumers that took it before the
 * next refused it, its secret still in memory: the slot's retries in the
 * run hand it to the rest (resume) rather than make another, which the
 * consumers that took it would be handed again.
 */
struct kept {
	struct mode_token *token; /* NULL: none */
	int64_t row;
	size_t took; /* consumers 0 to took - 1 hold it */
};

static void
kept_clear(struct kept *k)
{
	mode_token_free(k->token);
	*k = (struct kept){0};
}

/* A slot's rotation in this run: its plan group, and its retries when its token would lapse. */
struct attempt {
	const struct plan_action *a; /* the group */
	size_t n;
	int64_t deadline; /* its active token's expiry; INT64_MAX: none */
	int64_t at;       /* monotonic ms: the next try not before */
	int64_t name_at;  /* the last try's name time */
	int tries;
	int cleared;      /* the leftovers of an interrupted run are deleted */
	int lost;         /* the tries whose create lost its answer */
	long refused;     /* the last try's: see rotation() */
	struct kept kept; /* the last try's replacement, kept for some consumers */
};

/* Makes t, at row, the slot's active token; 0, or -1 with *cause when the store failed. */
static int
activated(struct run *run, const struct policy_slot *sl, const struct mode_token *t, int64_t row,
	  char **cause)
{
	int64_t retired = 0;

	/* Whatever the slot has active now steps aside, whatever earlier steps did. */
	if (record_active(run, sl, row, &retired, cause) < 0)
		return -1;
	ops_crash_point("after-activate");
	run->st->rotated++;
	say(run, 0, "active", sl->ws->name, sl->name, t->token, "%s is active%s", t->token,
	    retired != 0 ? "; the old token retires after its grace" : "");
	alert(run, NOTIFY_SUCCESS, sl->ws->name, sl->name, "rotated");
	return 0;
}

/*
 * Hands the kept replacement k to the consumers that refused it: proved
 * again, back in flight, delivered to them, then active as a new one would
 * be.  Returns as rotation(), or 3 when it cannot be (it no longer
 * verifies, or the store no longer holds it kept): k is cleared, and the
 * slot rotated afresh.
 */
static int
resume(struct run *run, struct mode_client *c, const struct policy_slot *sl, struct kept *k,
       char **cause)
{
	const struct mode_token *t = k->token;
	char *why = NULL;
	size_t took;
	int err, resumed, store_failed = 0;

	if (sl->eff.verify) {
		err = mode_verify(c, t->token, t->access_key, t->access_secret, &why);
		if (err == MODE_ERR_STOPPED) {
			free(why);
			return 2;
		}
		if (err != MODE_OK) {
			say(run, 1, "kept-unusable", sl->ws->name, sl->name, t->token,
			    "kept %s no longer verifies (%s): making another", t->token,
			    why != NULL ? why : "?");
			free(why);
			kept_clear(k);
			return 3;
		}
	}
	if (tokens_resume(run->s, k->row, sl->eff.verify ? TOKEN_VERIFIED : TOKEN_CREATED,
			  sl->eff.ndeliver, k->took, clock_now_ms(), &resumed, cause) < 0)
		return -1;
	if (!resumed) {
		say(run, 1, "kept-unusable", sl->ws->name, sl->name, t->token,
		    "kept %s changed in the store meanwhile: making another", t->token);
		kept_clear(k);
		return 3;
	}
	ops_crash_point("after-resume");
	say(run, 0, "resumed", sl->ws->name, sl->name, t->token,
	    "handing kept %s to the %zu consumer%s that did not take it", t->token,
	    sl->eff.ndeliver - k->took, sl->eff.ndeliver - k->took == 1 ? "" : "s");
	if (deliver_from(run, sl, t, k->row, k->took, &took, &store_failed, cause) < 0) {
		k->took = took;
		return store_failed ? -1 : 1;
	}
	if (activated(run, sl, t, k->row, cause) < 0)
		return -1;
	kept_clear(k);
	return 0;
}

/* How far a token's expiry may be from the one asked: the request's minute, and rounding. */
#define EXPIRY_SLACK_MS (2 * 60 * MS)

/*
 * Whether t, made at now, lapses before the next run could replace it:
 * the server gave it another expiry than the one asked (asked), as a
 * server that sets lifetimes itself would.  Then it is no replacement, and
 * *why says so.  One that lives past the next run, however much shorter or
 * longer than asked, is taken, said as a warning: the slot is scheduled by
 * its own expiry (and enforce.max_lifetime judges a longer one).
 */
static int
lives_too_short(struct run *run, const struct policy_slot *sl, const struct mode_token *t,
		int64_t asked, int64_t now, char **why)
{
	char got[TIMEFMT_MAX], want[TIMEFMT_MAX];
	int64_t off = t->expires_at - asked;

	if (off >= -EXPIRY_SLACK_MS && off <= EXPIRY_SLACK_MS)
		return 0;
	timefmt_minute(t->expires_at, got);
	timefmt_minute(asked, want);
	if (t->expires_at <= plan_next_run(run->p, now)) {
		*why = xasprintf("new token %s expires at %s, not %s as asked: before the next run "
				 "could replace it",
				 t->token, got, want);
		return 1;
	}
	say(run, 1, "expiry", sl->ws->name, sl->name, t->token,
	    "new token %s expires at %s, not %s as asked; the slot is scheduled by the token's own "
	    "expiry",
	    t->token, got, want);
	return 0;
}

/*
 * One try t at slot sl's rotation (create, verify, deliver, activate).
 * The new token's name is made for t->name_at, or a minute after the last
 * try's, so that every try has a name of its own; t->name_at is set to the
 * time used.  Returns 0 done, 1 the slot failed (recorded), 2 the run
 * stopped while a call waited to be sent (the slot's work is left), or -1
 * with *cause when the store failed.  t->refused is set to the wait the
 * API asked for when it refused the try for longer than the client waits
 * (mode_refused_wait), in seconds; else 0.  A create whose answer was lost
 * counts in t->lost.
 */
static int
rotation(struct run *run, const struct policy_slot *sl, struct attempt *t, char **cause)
{
	int64_t now = clock_now_ms(), expires, skew;
	struct ops_created made = {0};
	struct mode_client *c;
	char *name = NULL, *why = NULL;
	int rc = 0, store_failed = 0, err;
	size_t took;

	c = client_of(run, sl->ws, &why);
	if (c == NULL) {
		rc = slot_failed(run, sl, why, cause) < 0 ? -1 : 1;
		goto out;
	}
	/*
	 * A retry creates only once the API answers again: a create sent into
	 * an outage is an answer lost, a token that may exist until it expires.
	 */
	err = run->retrying ? mode_check_clock(c, &skew, &why) : MODE_OK;
	if (err == MODE_ERR_STOPPED) {
		rc = 2;
		goto out;
	}
	if (err != MODE_OK) {
		rc = slot_failed(run, sl, why, cause) < 0 ? -1 : 1;
		goto out;
	}
	/* A kept replacement that cannot be handed on (3) gives way to a fresh one. */
	if (t->kept.token != NULL) {
		rc = resume(run, c, sl, &t->kept, cause);
		if (rc != 3)
			goto out;
	}
	t->name_at = t->name_at != 0 && now < t->name_at + 60 * MS ? t->name_at + 60 * MS : now;
	expires = now + sl->eff.lifetime * MS;
	err = create_named(run, c, sl, &t->name_at, expires, &made, &name, &why);
	/* Its intent is recorded failed: no token was made. */
	if (err == MODE_ERR_STOPPED) {
		rc = 2;
		goto out;
	}
	if (err == MODE_ERR_UNKNOWN) {
		run->st->unknown++;
		t->lost++;
		say(run, 1, "create-lost", sl->ws->name, sl->name, NULL,
		    "create of %s lost its answer: it may exist until it expires", name);
	}
	if (err != MODE_OK) {
		rc = slot_failed(run, sl, why != NULL ? why : "create failed", cause) < 0 ? -1 : 1;
		goto out;
	}
	say(run, 0, "created", sl->ws->name, sl->name, made.token->token, "created %s (%s)",
	    made.token->token, name);
	if (lives_too_short(run, sl, made.token, expires, now, &why)) {
		rc = discard(run, sl, made.token->token, why, cause) < 0 ? -1 : 1;
		goto out;
	}
	err = prove_and_deliver(run, c, sl, made.token, made.row, &took, &store_failed, cause);
	if (err < 0 && took > 0 && !store_failed) {
		/* Kept for the consumers that took it: a retry hands it to the rest. */
		t->kept = (struct kept){made.token, made.row, took};
		made.token = NULL;
	}
	if (err != 0) {
		rc = err > 0 ? 2 : store_failed ? -1 : 1;
		goto out;
	}
	rc = activated(run, sl, made.token, made.row, cause);
out:
	t->refused = rc == 1 && c != NULL ? mode_refused_wait(c) : 0;
	mode_token_free(made.token);
	free(name);
	free(why);
	return rc;
}

/*
 * Keeps a replacement an interrupted run began to deliver: retiring until
 * its expiry, brought forward by the slot's next activation if the policy
 * still has the slot (sweep_left removed what that run left beside the
 * consumers' files).  Returns 0, or -1 with *cause when the store failed.
 */
static int
keep_delivered(struct run *run, const struct plan_action *a, char **cause)
{
	const struct policy_slot *sl = policy_find_slot(run->p, a->workspace, a->slot);
	json_t *d = json_pack("{s:s}", "reason", "an interrupted run began to deliver it");
	/* Its own expiry, not the slot's deadline: when the slot's rotation fails, the
	 * consumers that hold it keep a working token as long as it lasts. */
	int rc = tokens_retire(run->s, a->row, a->r->expires_at, clock_now_ms(), d, cause);

	json_decref(d);
	if (rc < 0)
		return rc;
	say(run, 0, "kept", a->workspace, a->slot, a->token,
	    "kept %s: an interrupted run delivered it; it retires %s", a->token,
	    sl != NULL ? "after the slot's next rotation"
		       : "at its expiry (the policy no longer has the slot)");
	return 0;
}

/* Says that what a killed run may have left beside consumer d's file is still there. */
static void
say_unswept(struct run *run, const struct policy_slot *sl, const struct policy_deliver *d)
{
	char *path = policy_render_target(sl, d->path);

	say(run, 1, "unswept", sl->ws->name, sl->name, NULL,
	    "deliver file %s: a temporary file an interrupted run may have left beside it "
	    "(holding a token's secret) could not be removed, or its directory not reached; "
	    "each run tries again until one does",
	    path);
	free(path);
}

/*
 * Removes the temporary files, each with a secret, that a run killed while
 * it delivered left beside consumers' files, when pl keeps a replacement
 * such a run began to deliver (only that run leaves one, and it leaves such
 * a row): beside every file consumer of the policy, since the policy may
 * have moved the file to another slot, or dropped its slot, since.  A
 * directory it cannot reach (a mount not there yet) may come back with
 * such a file, and one it cannot remove from (mounted read-only) still
 * holds it: the store then owes a sweep (STORE_META_KEY_SWEEP), which
 * each run makes until it reaches them all.  Before any work, so that no
 * delivery of this run is under way beside them.  Returns 0, or -1 with
 * *cause when the store failed.
 */
static int
sweep_left(struct run *run, const struct plan *pl, char **cause)
{
	char *owed = NULL;
	int swept = 0, left = 0, missed = 0, rc = 0;

	for (size_t i = 0; i < pl->nactions && !left; i++)
		left = pl->actions[i].kind == PLAN_KEEP_DELIVERED;
	if (store_meta_get(run->s, STORE_META_KEY_SWEEP, &owed, cause) < 0)
		return -1;
	left |= owed != NULL && strcmp(owed, "1") == 0;
	for (size_t i = 0; left && i < run->p->nslots; i++) {
		const struct policy_slot *sl = run->p->slots[i];

		for (size_t k = 0; k < sl->eff.ndeliver; k++) {
			int n = deliver_sweep(sl, &sl->eff.deliver[k]);

			if (n < 0)
				say_unswept(run, sl, &sl->eff.deliver[k]);
			missed |= n < 0;
			swept += n > 0 ? n : 0;
		}
	}
	if (left && (owed == NULL || strcmp(owed, missed ? "1" : "0") != 0))
		rc = store_meta_set(run->s, STORE_META_KEY_SWEEP, missed ? "1" : "0", cause);
	free(owed);
	if (swept == 1)
		say(run, 0, "swept", NULL, NULL, NULL,
		    "removed the temporary file an interrupted run left beside a consumer's file");
	else if (swept > 1)
		say(run, 0, "swept", NULL, NULL, NULL,
		    "removed the %d temporary files an interrupted run left beside consumers' "
		    "files",
		    swept);
	return rc;
}

/*
 * Records the deletions run made and has not recorded, in one transaction.
 * A token that cannot be recorded (its row changed since the plan) is a
 * failure of its own.  Returns 0, or -1 with *cause when the store failed.
 */
static int
record_gone(struct run *run, char **cause)
{
	int rc;

	if (run->ngone == 0)
		return 0;
	rc = store_begin(run->s, cause);
	for (size_t i = 0; i < run->ngone; i++) {
		struct gone *g = &run->gone[i];
		char *why = NULL;

		if (rc == 0 && ops_record_deleted(run->s, g->ws, g->id, g->found, &why) < 0) {
			run->st->failed++;
			say(run, 1, "delete-failed", g->ws, g->slot, g->id, "%s", why);
		}
		free(why);
		free(g->ws);
		free(g->slot);
		free(g->id);
	}
	run->ngone = 0;
	return rc == 0 ? store_end(run->s, 0, cause) : -1;
}

/* Counts the group in hand as left: the run stopped while one of its calls waited. */
static void
left_stopped(struct run *run)
{
	run->st->stopped = 1;
	run->st->left++;
}

/*
 * A deletion the plan asks for on its own, recorded with the next ones
 * (record_gone).  Returns 0, or -1 with *cause when the store failed.
 */
static int
deletion(struct run *run, const struct plan_action *a, char **cause)
{
	if (a->token == NULL) {
		say(run, 1, "delete-failed", a->workspace, a->slot, NULL,
		    "row %lld has no token id to delete", (long long)a->row);
		return 0;
	}
	if (delete_token(run, a->workspace, a->slot, a->token, plan_kind_name(a->kind),
			 &run->st->deleted, 1) == MODE_ERR_STOPPED)
		left_stopped(run);
	return run->ngone < ROTATE_GONE_BATCH ? 0 : record_gone(run, cause);
}

/* Hands the consumers of slot sl a test payload, for --dry-run --run-hooks. */
static void
rehearse_hooks(struct run *run, const struct policy_slot *sl)
{
	int64_t now = clock_now_ms();
	char *secret = xsecret_strdup("TEST-NOT-A-SECRET"), *why = NULL, *output = NULL;
	struct deliver_payload pay = {sl->ws->name,
				      sl->name,
				      "rehearsal",
				      "rehearsal",
				      "TEST-NOT-A-KEY",
				      secret,
				      now + sl->eff.lifetime * MS,
				      1};

	for (size_t i = 0; i < sl->eff.ndeliver; i++) {
		if (deliver_rehearse(sl, &sl->eff.deliver[i], &pay, &why, &output) == 0) {
			say(run, 0, "rehearsed", sl->ws->name, sl->name, NULL,
			    "rehearsed consumer %zu with a test payload", i + 1);
			continue;
		}
		run->st->failed++;
		say(run, 1, "rehearsal-failed", sl->ws->name, sl->name, NULL,
		    "rehearsal of consumer %zu failed: %s%s", i + 1, why,
		    consumer_said(run, sl, NULL, i, output));
		FREE_NULL(&why);
		FREE_NULL(&output);
	}
	xsecret_free(secret);
}

/* Whether o lets the run do action a: --only and --force keep their slot's work alone. */
static int
wanted(const struct rotate_opts *o, const struct plan_action *a)
{
	const struct policy_slot *sl = o->force != NULL ? o->force : o->only;

	return sl == NULL || (a->slot != NULL && strcmp(a->slot, sl->name) == 0 &&
			      strcmp(a->workspace, sl->ws->name) == 0);
}

/* Says what the plan would do, for --dry-run; with run_hooks, exercises the consumers. */
static void
rehearse(struct run *run, const struct plan *pl)
{
	for (size_t i = 0; i < pl->nactions; i++) {
		const struct plan_action *a = &pl->actions[i];
		const struct policy_slot *sl;
		char why[PLAN_WHY_MAX];
		int named;

		if (!wanted(run->o, a))
			continue;
		/* An activation's row is the token it replaces, which its text names. */
		named = a->token != NULL && a->kind != PLAN_ACTIVATE;
		say(run, 0, "would", a->workspace, a->slot, named ? a->token : NULL,
		    "would %s%s%s: %s", plan_kind_name(a->kind), named ? " " : "",
		    named ? a->token : "", plan_action_why(a, why));
		if (!run->o->run_hooks || a->kind != PLAN_CREATE)
			continue;
		sl = policy_find_slot(run->p, a->workspace, a->slot);
		if (sl != NULL)
			rehearse_hooks(run, sl);
	}
}

/* Whether no new step may start: out of time, asked to stop, or another worker failed. */
static int
stopping(const struct run *run)
{
	const struct rotate_opts *o = run->o;

	return atomic_load(&run->sh->halt) || (o->stop_at > 0 && clock_mono_ms() >= o->stop_at) ||
	       (o->stop != NULL && o->stop(o->stop_arg));
}

/* The number of actions in the group that starts at action i. */
static size_t
group_len(const struct plan *pl, size_t i)
{
	size_t n = 1;

	while (i + n < pl->nactions && pl->actions[i + n].group == pl->actions[i].group)
		n++;
	return n;
}

/* One try of t: leftovers first, then the rotation.  As rotation() returns. */
static int
try_rotation(struct run *run, struct attempt *t, char **cause)
{
	const struct policy_slot *sl = policy_find_slot(run->p, t->a[0].workspace, t->a[0].slot);

	t->tries++;
	for (size_t i = 0; i < t->n && !t->cleared; i++) {
		if (t->a[i].kind == PLAN_KEEP_DELIVERED && keep_delivered(run, &t->a[i], cause) < 0)
			return -1;
		if (t->a[i].kind == PLAN_DELETE_UNDELIVERED) {
			int err = delete_token(run, sl->ws->name, sl->name, t->a[i].token,
					       "left by an interrupted run", &run->st->deleted, 0);

			if (err != MODE_OK) /* the slot still has a replacement in flight */
				return err == MODE_ERR_STOPPED ? 2 : 1;
		}
	}
	t->cleared = 1;
	return rotation(run, sl, t, cause);
}

/* The monotonic time of t's next try: the policy's backoff doubling per try, jittered. */
static int64_t
retry_at(const struct run *run, const struct attempt *t)
{
	int64_t base = run->p->schedule.retry_backoff * MS, d = base;

	for (int i = 1; i < t->tries && d < 16 * base; i++)
		d *= 2;
	if (d > 16 * base)
		d = 16 * base;
	/* 75% to 125%: slots that failed together do not retry in step. */
	d = d * 3 / 4 + (d > 0 ? (int64_t)randombytes_uniform((uint32_t)(d / 2 + 1)) : 0);
	return clock_mono_ms() + d;
}

/* The index of the ready retry with the earliest deadline, or -1; *next: the earliest at. */
static long
ready(const struct attempt *r, size_t n, int64_t *next)
{
	int64_t now = clock_mono_ms();
	long best = -1;

	*next = INT64_MAX;
	for (size_t i = 0; i < n; i++) {
		if (r[i].at < *next)
			*next = r[i].at;
		if (r[i].at <= now && (best < 0 || r[i].deadline < r[best].deadline))
			best = (long)i;
	}
	return best;
}

/*
 * Whether t, whose try failed, is tried again in this run: its token lapses
 * before the next run (or it has none), tries are left, fewer than
 * schedule.lost_answers of its creates lost their answers, and the API did
 * not ask to wait past what the client waits.  Says so, and sets its time.
 */
static int
retried(struct run *run, struct attempt *t)
{
	const char *lapses = t->deadline == INT64_MAX ? "it has no working token"
						      : "its token lapses before the next run";

	if (t->tries > run->p->schedule.retries ||
	    !plan_no_slack(run->p, t->deadline, clock_now_ms()))
		return 0;
	/*
	 * Each lost answer may have made a token that works until its expiry
	 * and that nobody holds; an API that takes creates and loses every
	 * answer (a proxy's timeout) would make one a try.
	 */
	if (t->lost >= run->p->schedule.lost_answers) {
		say(run, 1, "not-retried", t->a[0].workspace, t->a[0].slot, NULL,
		    "%s, but %d of its creates lost their answers in this run, each a token "
		    "that may exist until it expires (schedule.lost_answers): not tried again "
		    "in this run",
		    lapses, t->lost);
		return 0;
	}
	/* Trying again within the run would only draw the same refusal. */
	if (t->refused > 0) {
		say(run, 1, "not-retried", t->a[0].workspace, t->a[0].slot, NULL,
		    "its token lapses before the next run, but the API asked to wait %lds: "
		    "not tried again in this run",
		    t->refused);
		return 0;
	}
	t->at = retry_at(run, t);
	say(run, 1, "retrying", t->a[0].workspace, t->a[0].slot, NULL,
	    "its token lapses before the next run: trying again in %llds (try %d of %d)",
	    (long long)((t->at - clock_mono_ms() + MS - 1) / MS), t->tries + 1,
	    run->p->schedule.retries + 1);
	return 1;
}

/*
 * Tries group t; a slot that failed and has no slack joins the retries
 * (r, *nr) while tries are left.  Returns 0, or -1 when the store failed.
 */
static int
try_group(struct worker *w, struct attempt *t, struct attempt *r, size_t *nr)
{
	struct run *run = &w->run;
	int rc = -1;

	/* The slot's rows as the store says, the run's deletions recorded first. */
	if (record_gone(run, &w->cause) == 0) {
		run->retrying = t->tries > 0;
		rc = try_rotation(run, t, &w->cause);
		run->retrying = 0;
	}
	if (rc == 1 && retried(run, t)) {
		r[(*nr)++] = *t;
		return 0;
	}
	/* A kept replacement's secret goes with the last try that could hand it on. */
	kept_clear(&t->kept);
	if (rc == 2)
		left_stopped(run);
	return rc < 0 ? -1 : 0;
}

/* Runs the retries that are ready, earliest deadline first; with wait, until none is left. */
static int
retries(struct worker *w, struct attempt *r, size_t *nr, int wait)
{
	struct run *run = &w->run;
	int64_t next;

	while (*nr > 0 && !stopping(run)) {
		long i = ready(r, *nr, &next);
		struct attempt t;

		if (i < 0 && !wait)
			return 0;
		if (i < 0) {
			/* Short naps, so a signal or the time budget is seen within a quarter
			 * second. */
			clock_sleep_ms(next - clock_mono_ms() < 250 ? next - clock_mono_ms() : 250);
			continue;
		}
		t = r[i];
		r[i] = r[--*nr];
		if (try_group(w, &t, r, nr) < 0)
			return -1;
	}
	return 0;
}

/* Works w's groups in order, then their retries; returns 0, or -1 with *cause when the store
 * failed. */
/*
 * Counts a slot worked and reports the count, one report at a time: two
 * workers counting at once could otherwise report 2 before 1, and leave
 * the progress line at 1 of 2 when all is done.
 */
static void
worked(struct run *run)
{
	if (run->o->progress == NULL)
		return;
	pthread_mutex_lock(&run->sh->progress_mu);
	run->o->progress(run->o->progress_arg, ++run->sh->done, run->sh->total);
	pthread_mutex_unlock(&run->sh->progress_mu);
}

static int
work(struct worker *w)
{
	struct run *run = &w->run;
	const struct plan *pl = &run->r->plan;
	struct attempt *r = xcalloc(w->ngroups + 1, sizeof *r);
	char *cause = NULL;
	size_t nr = 0, g;
	int rc = 0;

	for (g = 0; g < w->ngroups && rc == 0; g++) {
		const struct plan_action *a = &pl->actions[w->groups[g]];
		size_t n = group_len(pl, w->groups[g]);

		if (stopping(run))
			break;
		if (a->kind == PLAN_CREATE || (n > 1 && a[1].kind == PLAN_CREATE)) {
			struct attempt t = {.a = a, .n = n, .deadline = a->deadline};

			rc = try_group(w, &t, r, &nr);
		} else if (a->kind == PLAN_KEEP_DELIVERED) {
			rc = record_gone(run, &w->cause);
			if (rc == 0)
				rc = keep_delivered(run, a, &w->cause);
		} else {
			rc = deletion(run, a, &w->cause);
		}
		if (rc == 0)
			rc = retries(w, r, &nr, 0);
		worked(run);
	}
	if (rc == 0)
		rc = retries(w, r, &nr, 1);
	/* Recorded even after a store failure, when the store takes it. */
	if (rc == 0)
		rc = record_gone(run, &w->cause);
	else if (record_gone(run, &cause) < 0)
		free(cause);
	free(run->gone);
	run->gone = NULL;
	if (rc < 0)
		atomic_store(&run->sh->halt, 1);
	else if (g < w->ngroups || nr > 0) {
		run->st->stopped = 1;
		run->st->left += (int)(w->ngroups - g + nr);
	}
	for (size_t i = 0; i < nr; i++)
		kept_clear(&r[i].kept);
	free(r);
	return rc;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	w->rc = work(w);
	return NULL;
}

/* The credential whose worker does action a: its workspace's, or "" when not in the policy. */
static const char *
credential_of(const struct policy *p, const struct plan_action *a)
{
	const struct policy_workspace *w = policy_find_workspace(p, a->workspace);

	return w != NULL && w->credential != NULL ? w->credential : "";
}

/*
 * The worker for a credential beyond the first ROTATE_MAX_WORKERS: fixed by
 * its name, so that all its work stays on one thread (its clients are not
 * shared between threads).
 */
static size_t
spill(const char *cred)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *c = cred; *c != '\0'; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	return h % ROTATE_MAX_WORKERS;
}

/*
 * Alerts workspace w's clock as disagreeing with its server's (why) when
 * first met and once a day while it lasts (violations_lasting), or (why
 * NULL) forgets it: the clocks agree.  Returns 0, or -1 with *cause when
 * the store failed.
 */
static int
clock_alert(struct run *run, const struct policy_workspace *w, const char *why, char **cause)
{
	char *key = xstrjoin(ALERTS_LASTING "clock ", w->name), *unsent = NULL;
	struct notify_how how = alert_how(run);
	int rc;

	if (why == NULL)
		rc = alerts_over(run->s, key, cause);
	else
		rc = violations_lasting(run->s, run->p, key, w->name, why, clock_now_ms(), &how,
					&unsent, cause);
	if (unsent != NULL)
		say(run, 1, "alert-failed", w->name, NULL, NULL, "alert not sent: %s", unsent);
	free(unsent);
	free(key);
	return rc < 0 ? -1 : 0;
}

/*
 * Reads every workspace's server clock before anything is done, work or
 * not (a clock behind the server's makes nothing look due): a workspace
 * whose clock is out of the policy's bound is left alone this run, said,
 * alerted as a failure (when first met and once a day while it lasts: the
 * daemon meets it every minute), and recorded for plan's `clock` finding.
 * Returns 0, or -1 with *cause when the store failed.
 */
static int
check_clocks(struct run *run, char **cause)
{
	int rc = 0;

	if (run->p->schedule.max_clock_skew < 0)
		return 0;
	for (size_t i = 0; i < run->p->nws && rc == 0; i++) {
		const struct policy_workspace *w = &run->p->ws[i];
		struct mode_client *c;
		char *why = NULL;
		int64_t skew = 0;
		int err;

		c = client_of(run, w, &why);
		err = c != NULL ? mode_check_clock(c, &skew, &why) : MODE_ERR_USAGE;
		if (err == MODE_OK) {
			rc = clock_alert(run, w, NULL, cause);
			if (rc == 0)
				rc = clocks_agree(run->s, w->name, clock_now_ms(), cause);
		}
		if (err == MODE_ERR_CLOCK) {
			run->sh->skewed[i] = 1;
			run->st->failed++;
			run->st->skewed++;
			say(run, 1, "clock", w->name, NULL, NULL,
			    "nothing done in this workspace: %s", why);
			rc = clock_alert(run, w, why, cause);
			if (rc == 0)
				rc = clocks_skewed(run->s, w->name, clock_now_ms(), why, cause);
		}
		free(why);
	}
	return rc;
}

/*
 * For a dry run, which calls nothing and so reads no server's clock: says
 * each workspace whose clock the last run found disagreeing (pl's clock
 * findings), which a run leaves alone until the clocks agree, and counts it
 * failed, as that run did.  Nothing when the policy turns the check off.
 */
static void
clocks_found(struct run *run, const struct plan *pl)
{
	if (run->p->schedule.max_clock_skew < 0)
		return;
	for (size_t i = 0; i < pl->nfindings; i++) {
		const struct plan_finding *f = &pl->findings[i];
		char *text;

		if (f->kind != FIND_CLOCK)
			continue;
		text = plan_finding_text(f);
		say(run, 1, "clock", f->workspace, NULL, NULL,
		    "%s (a dry run reads no server's clock: the steps it lists are a run's "
		    "once the clocks agree)",
		    text);
		free(text);
		run->st->failed++;
		run->st->skewed++;
	}
}

/* Whether action a's workspace was found with a clock the server disagrees with. */
static int
skewed(const struct run *run, const struct plan_action *a)
{
	const struct policy_workspace *w = policy_find_workspace(run->p, a->workspace);

	return w != NULL && run->sh->skewed[w - run->p->ws];
}

/* Shares the plan's groups (those --only keeps) out to one worker per credential. */
static size_t
assign(const struct run *base, struct worker *ws)
{
	const struct plan *pl = &base->r->plan;
	size_t nw = 0, k;

	for (size_t i = 0; i < pl->nactions; i += group_len(pl, i)) {
		const struct plan_action *a = &pl->actions[i];
		const char *cred = credential_of(base->p, a);

		if (!wanted(base->o, a) || skewed(base, a))
			continue;
		for (k = 0; k < nw && strcmp(ws[k].credential, cred) != 0; k++)
			;
		if (k == nw && nw == ROTATE_MAX_WORKERS)
			k = spill(cred); /* more credentials than workers: some share one */
		else if (k == nw) {
			ws[nw].credential = cred;
			ws[nw].groups = xcalloc(pl->nactions, sizeof *ws[nw].groups);
			nw++;
		}
		ws[k].groups[ws[k].ngroups++] = i;
		base->sh->total++;
	}
	return nw;
}

/* Adds a worker's counts to the run's. */
static void
add_stats(struct rotate_stats *to, const struct rotate_stats *from)
{
	to->rotated += from->rotated;
	to->deleted += from->deleted;
	to->discarded += from->discarded;
	to->failed += from->failed;
	to->unknown += from->unknown;
	to->left += from->left;
	to->stopped |= from->stopped;
}

/*
 * Runs the plan's work: on this thread when one credential has work, else a
 * thread per credential, each with its own store connection.
 */
static int
work_all(const struct run *base, char **cause)
{
	struct worker ws[ROTATE_MAX_WORKERS];
	size_t nw;
	int rc = 0;

	memset(ws, 0, sizeof ws);
	nw = assign(base, ws);
	for (size_t k = 0; k < nw; k++) {
		ws[k].run = *base;
		ws[k].run.st = &ws[k].st;
		if (nw == 1)
			break;
		if (store_open_another(base->s, &ws[k].run.s, cause) < 0) {
			rc = -1; /* nothing has started yet: stop here */
			break;
		}
		ws[k].own_store = 1;
	}
	for (size_t k = 0; k < nw && rc == 0 && nw > 1; k++)
		ws[k].started = pthread_create(&ws[k].thread, NULL, worker_main, &ws[k]) == 0;
	for (size_t k = 0; k < nw && rc == 0; k++) {
		if (ws[k].started)
			pthread_join(ws[k].thread, NULL);
		else
			ws[k].rc = work(&ws[k]); /* one worker, or no thread to be had */
	}
	base->st->workers = (int)nw;
	for (size_t k = 0; k < nw; k++) {
		add_stats(base->st, &ws[k].st);
		if (ws[k].rc < 0 && rc == 0) {
			rc = -1;
			*cause = ws[k].cause;
			ws[k].cause = NULL;
		}
		if (ws[k].own_store)
			store_close(ws[k].run.s);
	}
	for (size_t k = 0; k < ROTATE_MAX_WORKERS; k++) {
		free(ws[k].groups);
		free(ws[k].cause);
	}
	return rc;
}

/*
 * The findings a run's plan leaves out (plan_input's omit).  A run reads its
 * findings to say the unknown and stuck ones, to count the stuck, and to
 * alert the violations when the policy's notify wants them.  Without that
 * alert it reads no violation, so none is made: a large inventory has
 * thousands (the max-lifetime, expired and unmanaged rows).
 */
static unsigned
run_omits(const struct policy *p)
{
	unsigned omit = 0;

	if (notify_wants(p, NOTIFY_VIOLATION))
		return 0;
	for (int k = 0; k < FIND_NKINDS; k++)
		if (violations_kind(k))
			omit |= PLAN_FINDING_BIT(k);
	return omit;
}

/* The slots of pl that are stuck (failed schedule.stuck_after times in a row). */
static int
stuck_in(const struct plan *pl)
{
	int n = 0;

	for (size_t i = 0; i < pl->nfindings; i++)
		n += pl->findings[i].kind == FIND_STUCK;
	return n;
}

/*
 * What the work leaves, planned afresh into r (the work's report, read when
 * the store was at mark): the slots still stuck (a run that unsticks one
 * succeeds) and the violations standing, alerted.  When nothing was
 * written since (a quiet night), r's rows are what a new read would give:
 * its plan stands as the run's, unless --force shaped it, when the rows
 * are planned again rather than read again.  Returns 0, or -1 with *cause
 * when the store failed.
 */
static int
after_work(struct run *run, struct report *r, const struct store_mark *mark, char **cause)
{
	struct store_mark again;
	struct notify_how how;
	int64_t now = clock_now_ms();
	char *unsent = NULL;
	int n;

	if (store_mark(run->s, &again, cause) < 0)
		return -1;
	if (again.own == mark->own && again.others == mark->others) {
		if (run->o->force != NULL)
			report_replan(r, run->p, now);
	} else {
		/* Freed first: the two are not held at once. */
		report_free(r);
		if (report_build_plan(run->s, run->p, now, NULL, run_omits(run->p), r, cause) < 0)
			return -1;
	}
	run->st->stuck = stuck_in(&r->plan);
	how = alert_how(run);
	n = violations_alert(run->s, run->p, &r->plan, now, &how, &unsent, cause);
	if (n > 0)
		say(run, 0, "alerted", NULL, NULL, NULL, "alerted %d violation%s of the policy", n,
		    n == 1 ? "" : "s");
	if (unsent != NULL)
		say(run, 1, "alert-failed", NULL, NULL, NULL,
		    "violation alert not sent (the next run tries again): %s", unsent);
	free(unsent);
	return n < 0 ? -1 : 0;
}

int
rotate_plan(struct store *s, const struct policy *p, const struct rotate_opts *o,
	    struct token_row *rows, size_t n, struct token_row *more, size_t nmore,
	    struct report *r, char **cause)
{
	if (rows != NULL || more != NULL)
		return report_build_plan_rows(s, p, clock_now_ms(), o->force, run_omits(p), rows, n,
					      more, nmore, r, cause);
	return report_build_plan(s, p, clock_now_ms(), o->force, run_omits(p), r, cause);
}

int
rotate_run(struct store *s, const struct seal_pub *pub, const struct policy *p,
	   rotate_client_fn client, void *carg, const struct rotate_opts *o, rotate_log_fn log,
	   void *larg, struct report *planned, struct rotate_stats *st, char **cause)
{
	struct report r;
	struct store_mark mark;
	struct shared sh = {.progress_mu = PTHREAD_MUTEX_INITIALIZER};
	struct run run = {s, pub, p, &r, client, carg, o, log, larg, st, &sh, 0, NULL, 0};
	const struct plan *pl = &r.plan;
	int settled = 0, rc = 0;

	memset(st, 0, sizeof *st);
	memset(&r, 0, sizeof r);
	/* What an interrupted run left: pending rows cannot be in flight under our lock. */
	if (!o->dry_run && tokens_settle_pending(s, clock_now_ms(), &settled, cause) < 0) {
		if (planned != NULL)
			report_free(planned);
		return -1;
	}
	st->settled = settled;
	if (planned != NULL && settled == 0) {
		r = *planned;
		memset(planned, 0, sizeof *planned);
	} else if (planned != NULL) {
		report_free(planned);
		planned = NULL;
	}
	if ((planned == NULL && rotate_plan(s, p, o, NULL, 0, NULL, 0, &r, cause) < 0) ||
	    store_mark(s, &mark, cause) < 0) {
		report_free(&r);
		return -1;
	}
	sh.skewed = xcalloc(p->nws + 1, 1);
	sh.alerts = notify_state_new(p, NOTIFY_RETRY_MS);
	for (size_t i = 0; i < pl->nfindings; i++) {
		const struct plan_finding *f = &pl->findings[i];
		char *text;

		/* Warnings, so that even --quiet runs report them every time. */
		if (f->kind != FIND_UNKNOWN && f->kind != FIND_STUCK)
			continue;
		text = plan_finding_text(f);
		say(&run, 1, plan_finding_name(f->kind), f->workspace, f->slot, f->token, "%s",
		    text);
		free(text);
	}
	if (o->dry_run) {
		st->stuck = stuck_in(pl);
		clocks_found(&run, pl);
		rehearse(&run, pl);
		goto out;
	}
	if (record_unrecorded(&run, pl, cause) < 0 || check_clocks(&run, cause) < 0 ||
	    sweep_left(&run, pl, cause) < 0) {
		rc = -1;
		goto out;
	}
	if (o->force != NULL)
		say(&run, 0, "forced", o->force->ws->name, o->force->name, NULL,
		    "rotating now, as --force asks");
	rc = work_all(&run, cause);
	if (rc == 0)
		rc = store_sync(s, cause);
	if (rc == 0)
		rc = after_work(&run, &r, &mark, cause);
out:
	report_free(&r);
	free(sh.skewed);
	notify_state_free(sh.alerts);
	return rc;
}
