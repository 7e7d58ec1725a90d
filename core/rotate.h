/*
 * The executor: carries out a plan through the state machine of DESIGN.md.
 * Each step commits on its own and is safe to repeat after a crash: create
 * (intent first), verify, deliver, activate, and later the old token's
 * deletion.  A replacement that cannot be verified or delivered is deleted
 * at once (this host cannot read a sealed secret back) and the slot backs
 * off; the old token is never deleted for a replacement that failed.  The
 * caller holds the store's run lock.
 */
#ifndef TW_ROTATE_H
#define TW_ROTATE_H

#include "core/mode.h"
#include "core/report.h"
#include "core/seal.h"
#include "policies/policy.h"
#include "store/store.h"

#include <stdint.h>

/*
 * Returns the client for workspace w (borrowed; the caller keeps it), or
 * NULL with *cause.  Called from worker threads, but for one workspace
 * always from the same thread.
 */
typedef struct mode_client *(*rotate_client_fn)(void *arg, const struct policy_workspace *w,
						char **cause);

/* One step of a run for the log: what happened to which slot and token.  Never a secret. */
struct rotate_event {
	int failed;            /* a warning: something did not work */
	const char *event;     /* what, as a stable name: "created", "deleted", "kept", ... */
	const char *workspace; /* NULL: the whole run */
	const char *slot;      /* NULL: the workspace, or no slot */
	const char *token;     /* the Mode id it is about; NULL: none */
	const char *text;      /* the line for people */
};

/* Logs one step.  Called from several worker threads at once. */
typedef void (*rotate_log_fn)(void *arg, const struct rotate_event *ev);

struct rotate_opts {
	int64_t stop_at; /* monotonic ms (clock_mono_ms) after which no new step starts; 0: none */
	const struct policy_slot *only;  /* only this slot's work; NULL: all */
	const struct policy_slot *force; /* only this slot, rotated now, due or not; NULL: none */
	int dry_run;                     /* say what would be done; call nothing, change nothing */
	int64_t backoff_base;            /* ms before retrying a slot after its first failure */
	int64_t backoff_max;             /* ms: the backoff doubles up to this */
	long notify_timeout_ms;
	int run_hooks; /* with dry_run: hand each due slot's consumers a test payload */
	/* Non-zero when no new step may start (say, a signal asked to stop); NULL: never. */
	int (*stop)(void *arg);
	void *stop_arg;
	/* Called from any worker after each slot's work: done of total; NULL: none. */
	void (*progress)(void *arg, int done, int total);
	void *progress_arg;
};

/* Sets the defaults: backoff 15 minutes doubling up to a day, alerts 10 s. */
void rotate_opts_init(struct rotate_opts *o);

struct rotate_stats {
	int rotated;   /* slots given a new active token */
	int deleted;   /* old, expired, unmanaged or left-over tokens deleted */
	int discarded; /* replacements deleted because they failed verify or delivery */
	int failed;    /* steps that failed (the slot backs off) */
	int unknown;   /* creates whose outcome was lost */
	int left;      /* planned items (a slot's rotation, a deletion) not started: out of time */
	int settled;   /* interrupted creates settled to unknown at the start */
	int stuck;     /* slots the run leaves stuck (failed stuck_after times in a row) */
	int skewed;    /* workspaces left alone: their clock disagrees with the server's */
	int stopped;   /* stop() or the time budget ended the run early */
	int workers;   /* threads that did the work: one per credential, up to ROTATE_MAX_WORKERS */
};

/* Workspaces with different credentials are worked in parallel, up to this many at once. */
#define ROTATE_MAX_WORKERS 8

/*
 * Plans a run of p over s at the current time (o->force as rotate --force
 * asks) into *r, reading and writing nothing else.  rows (n of them) and
 * more (nmore), the rows after them: the live rows as the two parts of
 * inventory_verify_part read them, which *r takes over; rows NULL to read
 * them.  Returns 0, or -1 with *cause.
 */
int rotate_plan(struct store *s, const struct policy *p, const struct rotate_opts *o,
		struct token_row *rows, size_t n, struct token_row *more, size_t nmore,
		struct report *r, char **cause);

/*
 * Carries out the plan for p over s, clients from client(carg, workspace),
 * earliest deadline first.  planned is the plan rotate_plan made before the
 * run started, which rotate_run takes over (frees) and makes again only when
 * interrupted creates had to be settled first; NULL: it plans now.  The
 * workspaces of each credential get a worker thread with its own connection
 * to s's database, so one credential's pacing never holds up another's.
 * Returns 0 (see *st for what happened) or -1 with *cause when the store
 * itself failed (the other workers then stop after their current step).
 */
int rotate_run(struct store *s, const struct seal_pub *pub, const struct policy *p,
	       rotate_client_fn client, void *carg, const struct rotate_opts *o, rotate_log_fn log,
	       void *larg, struct report *planned, struct rotate_stats *st, char **cause);

#endif
