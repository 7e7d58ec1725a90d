/* One executor run for rotate and daemon; see runner.h. */
#include "cmd/runner.h"

#include "cmd/cmd.h"
#include "cmd/msg.h"

#include "core/clock.h"
#include "core/cred.h"
#include "core/exitcodes.h"
#include "core/meet.h"
#include "core/ratelimit.h"
#include "core/violations.h"
#include "core/xalloc.h"
#include "store/alerts.h"
#include "store/inventory.h"
#include "store/runs.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * One API client per workspace: those of the workspaces a run works in are
 * made before it starts (clients_open), any other when first asked for (the
 * clock check reads every workspace's clock).  Mode limits requests per user
 * name, so the clients of one credential share the limiter of its first
 * workspace (one worker does all of a credential's work, so it is never used
 * by two threads).
 */
struct clients {
	const struct policy *p;
	struct mode_client **c;
	struct ratelimit *rl; /* by the index of the credential's first workspace */
	int *rl_ready;
	struct runner_holds *holds; /* the holds carried in and out; NULL: none */
};

void
runner_holds_free(struct runner_holds *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->h[i].credential);
	FREE_NULL(&h->h);
	h->n = 0;
}

/* The hold h keeps for credential name, or NULL. */
static struct runner_hold *
hold_of(const struct runner_holds *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->h[i].credential, name) == 0)
			return &h->h[i];
	return NULL;
}

int64_t
runner_held_until(const void *arg, const char *credential)
{
	const struct runner_hold *k = hold_of(arg, credential);
	int64_t mono = clock_mono_ms();

	return k != NULL && k->until > mono ? clock_now_ms() + (k->until - mono) : 0;
}

/* Keeps the hold of rl, credential name's limiter, for the next run. */
static void
hold_keep(struct runner_holds *h, const char *name, const struct ratelimit *rl)
{
	struct runner_hold *k = hold_of(h, name);

	if (k == NULL) {
		h->h = xrealloc(h->h, (h->n + 1) * sizeof *h->h);
		k = &h->h[h->n++];
		k->credential = xstrdup(name);
	}
	k->until = rl->hold_until;
}

void
runner_mode_opts(const struct policy *p, const struct policy_workspace *w, struct mode_opts *mo)
{
	mode_opts_default(mo);
	mo->rate_limit = w->rate_requests;
	mo->rate_window_ms = w->rate_window * 1000;
	mo->proxy = p->proxy;
	api_opts_globals(mo);
}

static struct ratelimit *
limiter_for(struct clients *cl, size_t i)
{
	const struct policy_workspace *w = &cl->p->ws[i];
	struct mode_opts mo;
	size_t j = 0;

	while (j < i && strcmp(cl->p->ws[j].credential, w->credential) != 0)
		j++;
	if (!cl->rl_ready[j]) {
		const struct runner_hold *k =
		    cl->holds != NULL ? hold_of(cl->holds, w->credential) : NULL;

		runner_mode_opts(cl->p, &cl->p->ws[j], &mo);
		ratelimit_init(&cl->rl[j], mo.rate_limit, mo.rate_window_ms);
		if (k != NULL)
			cl->rl[j].hold_until = k->until;
		cl->rl_ready[j] = 1;
	}
	return &cl->rl[j];
}

static struct mode_client *
client_for(void *arg, const struct policy_workspace *w, char **cause)
{
	struct clients *cl = arg;
	size_t i = (size_t)(w - cl->p->ws);
	struct mode_opts mo;
	struct cred *cred = NULL;

	if (cl->c[i] != NULL)
		return cl->c[i];
	runner_mode_opts(cl->p, w, &mo);
	mo.shared_rl = limiter_for(cl, i);
	/* No create or delete on a clock the server disagrees with. */
	mo.max_skew_ms =
	    cl->p->schedule.max_clock_skew > 0 ? cl->p->schedule.max_clock_skew * 1000 : 0;
	if (cred_load(w->credential, NULL, CRED_FROM_POLICY, policy_credential_count(cl->p), &cred,
		      cause) == 0)
		cl->c[i] = mode_client_new(w->api, w->name, cred, &mo, cause);
	cred_free(cred);
	return cl->c[i];
}

/* Sets cl up for p, holds carried in and out (NULL: none), with no client made yet. */
static void
clients_init(struct clients *cl, const struct policy *p, struct runner_holds *holds)
{
	cl->p = p;
	cl->holds = holds;
	cl->c = xcalloc(p->nws + 1, sizeof *cl->c);
	cl->rl = xcalloc(p->nws + 1, sizeof *cl->rl);
	cl->rl_ready = xcalloc(p->nws + 1, sizeof *cl->rl_ready);
}

static void
clients_free(struct clients *cl)
{
	for (size_t i = 0; i < cl->p->nws; i++) {
		mode_client_free(cl->c[i]);
		if (!cl->rl_ready[i])
			continue;
		if (cl->holds != NULL)
			hold_keep(cl->holds, cl->p->ws[i].credential, &cl->rl[i]);
		ratelimit_free(&cl->rl[i]);
	}
	free(cl->c);
	free(cl->rl);
	free(cl->rl_ready);
}

/* Whether a run with o (NULL: a whole run) works in w: --only and --force keep to one. */
static int
needed(const struct rotate_opts *o, const struct policy_workspace *w)
{
	const struct policy_slot *one = NULL;

	if (o != NULL)
		one = o->force != NULL ? o->force : o->only;
	return one == NULL || one->ws == w;
}

/*
 * Makes the client of every workspace the run needs before it starts, so
 * that a credential that cannot be loaded (or an API the client refuses) is
 * a configuration error to put right, found before anything is recorded or
 * sent, rather than a failure and a backoff for every slot.  Says each
 * problem, naming the workspace; returns how many there were.
 */
static int
clients_open(struct clients *cl, const struct rotate_opts *o)
{
	int problems = 0;

	for (size_t i = 0; i < cl->p->nws; i++) {
		const struct policy_workspace *w = &cl->p->ws[i];
		char *cause = NULL;

		if (!needed(o, w) || client_for(cl, w, &cause) != NULL)
			continue;
		errorf("workspace %s (credential %s): %s", w->name, w->credential,
		       cause != NULL ? cause : "no API client");
		free(cause);
		problems++;
	}
	return problems;
}

int
runner_check(const struct policy *p)
{
	struct clients cl;
	int problems;

	clients_init(&cl, p, NULL);
	problems = clients_open(&cl, NULL);
	clients_free(&cl);
	return problems > 0 ? TW_EXIT_USAGE : TW_EXIT_OK;
}

static void
log_line(void *arg, const struct rotate_event *ev)
{
	(void)arg;
	msg_event(ev->failed, ev->event, ev->workspace, ev->slot, ev->token, ev->text);
}

static void
progress(void *arg, int done, int total)
{
	char line[64];

	(void)arg;
	snprintf(line, sizeof line, "tokenwarden: working: %d of %d planned items done", done,
		 total);
	msg_progress(line);
}

void
runner_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* How long runner_stop_requested keeps the kernel's answer: a run asks several times a step. */
#define STOP_ASKED_MS 10

int
runner_stop_requested(void *arg)
{
	static _Atomic int64_t asked_at = -STOP_ASKED_MS;
	static atomic_int answer;
	int64_t now = clock_mono_ms();
	sigset_t pending;
	int stop;

	(void)arg;
	if (now - atomic_load(&asked_at) < STOP_ASKED_MS)
		return atomic_load(&answer);
	stop = sigpending(&pending) == 0 &&
	       (sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1);
	atomic_store(&answer, stop);
	atomic_store(&asked_at, now);
	return stop;
}

static int
status_of(const struct rotate_stats *st)
{
	/* A stuck slot fails every run until it recovers, so timers and monitors see it. */
	if (st->failed > 0 || st->unknown > 0 || st->stuck > 0)
		return TW_EXIT_FAILURE;
	return st->left > 0 ? TW_EXIT_PENDING : TW_EXIT_OK;
}

/*
 * The start-of-run check is shared out to two threads, each on a connection
 * of its own: one takes the live rows from the lowest id up, the other from
 * the highest down, until they meet (core/meet.h).  Neither counts the
 * rows first, and neither waits for the other but to claim a stretch.
 */
#define CHECK_PARTS 2
/* rotate_plan takes the ascending part's rows, then the descending part's. */
_Static_assert(CHECK_PARTS == 2, "rotate_plan plans from two parts' rows");

/* One part of the check: its findings, kept to be said in order after it, and its rows. */
struct check {
	const struct store *run; /* the run's connection, which the part's own is opened like */
	struct meet_walk walk;
	struct inventory_part part;
	pthread_t thread;
	int threaded;
	char **texts; /* inventory_diff_text of each difference, in the part's order */
	size_t ntexts;
	int n; /* as inventory_verify returns */
	char *cause;
};

/* Whether row is still c's: the other part has not taken it (inventory_part's take). */
static int
take(int64_t row, void *arg)
{
	struct check *c = arg;

	return meet_take(&c->walk, row);
}

static int
keep_diff(const struct inventory_diff *d, void *arg)
{
	struct check *c = arg;

	c->texts = xrealloc(c->texts, (c->ntexts + 1) * sizeof *c->texts);
	c->texts[c->ntexts++] = inventory_diff_text(d);
	return 0;
}

/* One part, on a connection of its own: opening one is part of the work shared out. */
static void *
check_rows(void *arg)
{
	struct check *c = arg;
	struct store *s = NULL;

	c->n = -1;
	if (store_open_another(c->run, &s, &c->cause) == 0 &&
	    store_cache_kib(s, STORE_SCAN_CACHE_KIB, &c->cause) == 0)
		c->n = inventory_verify_part(s, &c->part, 1, &c->cause);
	store_close(s);
	return NULL;
}

/* Starts the parts of the check; one that gets no thread is done here. */
static void
check_start(const struct store *s, struct meet *m, struct check *c)
{
	for (int i = 0; i < CHECK_PARTS; i++) {
		c[i].run = s;
		c[i].walk = meet_walk(m, i == 0);
		c[i].part = (struct inventory_part){
		    .up = i == 0, .take = take, .diff = keep_diff, .arg = &c[i]};
		c[i].threaded = pthread_create(&c[i].thread, NULL, check_rows, &c[i]) == 0;
		if (!c[i].threaded)
			check_rows(&c[i]);
	}
}

/*
 * Waits for the parts of the check and says what they found, in row order,
 * as errors or (warn) warnings.  Returns the differences, or -1 after the
 * message when a part failed; sets rows[i] and nrows[i] to the rows part i
 * read, the parts in id order (NULL when one failed): they are planned
 * from as they are, not copied into one array (rotate_plan), and
 * *compared to their number.
 */
static int
check_finish(struct check *c, int warn, struct token_row *rows[CHECK_PARTS],
	     size_t nrows[CHECK_PARTS], int64_t *compared)
{
	int n = 0;

	*compared = 0;
	for (int i = 0; i < CHECK_PARTS; i++)
		if (c[i].threaded)
			pthread_join(c[i].thread, NULL);
	for (int i = 0; i < CHECK_PARTS; i++) {
		for (size_t k = 0; k < c[i].ntexts; k++) {
			/* The descending part's, from its end: row order. */
			char *text = c[i].texts[c[i].part.up ? k : c[i].ntexts - 1 - k];

			if (warn)
				warnf("%s", text);
			else
				errorf("%s", text);
			free(text);
		}
		free(c[i].texts);
		if (c[i].n < 0 && n >= 0)
			errorf("%s", c[i].cause);
		free(c[i].cause);
		n = n < 0 || c[i].n < 0 ? -1 : n + c[i].n;
		*compared += c[i].part.compared;
		rows[i] = c[i].part.rows;
		nrows[i] = c[i].part.nrows;
	}
	for (int i = 0; n < 0 && i < CHECK_PARTS; i++) {
		tokens_free(rows[i], nrows[i]);
		rows[i] = NULL;
		nrows[i] = 0;
	}
	return n;
}

/* The lasting failure of a store whose tables no longer follow from its history. */
#define INTEGRITY_KEY ALERTS_LASTING "integrity"

/*
 * Logs why (an error when the run does nothing, else a warning), and
 * alerts it as a failure when first met and once a day while it lasts
 * (violations_lasting), but in a dry run, which only logs it; frees why.
 */
static void
integrity_failure(struct store *s, const struct policy *p, const struct rotate_opts *o, int stops,
		  char *why)
{
	char *unsent = NULL, *cause = NULL;

	if (stops)
		errorf("%s", why);
	else
		warnf("%s", why);
	if (!o->dry_run && violations_lasting(s, p, INTEGRITY_KEY, NULL, why, clock_now_ms(),
					      &(struct notify_how){o->notify_timeout_ms, 0, NULL},
					      &unsent, &cause) < 0)
		warnf("alert not recorded: %s", cause);
	if (unsent != NULL)
		warnf("alert not sent: %s", unsent);
	free(unsent);
	free(cause);
	free(why);
}

/*
 * Compares the rows a run acts on with the history (store/inventory.h),
 * and plans the run into *planned (rotate_plan) from the rows the check
 * read, so that a run reads each live row once.  Nothing but the alerts'
 * record is written before both are done.  Returns 0 with *planned when
 * the rows follow from the history, or when the policy or a dry run lets
 * the run go on; -1 after the messages when the run must do nothing.
 */
static int
check_and_plan(struct store *s, const struct policy *p, const struct rotate_opts *o,
	       struct report *planned)
{
	int warn = p->integrity_warn || o->dry_run;
	struct meet m;
	struct check c[CHECK_PARTS];
	struct token_row *rows[CHECK_PARTS];
	char *cause = NULL;
	size_t nrows[CHECK_PARTS];
	int64_t compared;
	int n;

	memset(c, 0, sizeof c);
	meet_init(&m);
	check_start(s, &m, c);
	n = check_finish(c, warn, rows, nrows, &compared);
	meet_destroy(&m);
	if (n < 0)
		return -1;
	if (n > 0 && !warn) {
		for (int i = 0; i < CHECK_PARTS; i++)
			tokens_free(rows[i], nrows[i]);
		integrity_failure(
		    s, p, o, 1,
		    xasprintf("the tables no longer follow from the history: %d of %lld live "
			      "token row%s differ from it, so nothing was done; 'tokenwarden "
			      "audit verify' lists every difference.  Put the store back from a "
			      "backup, or set store integrity: warn in the policy to run on",
			      n, (long long)compared, compared == 1 ? "" : "s"));
		return -1;
	}
	/* Running on does not silence it: the security team hears of it all the same. */
	if (n > 0)
		integrity_failure(
		    s, p, o, 0,
		    xasprintf("the tables no longer follow from the history: %d of %lld live "
			      "token row%s differ from it; running on, as %s; 'tokenwarden audit "
			      "verify' lists every difference",
			      n, (long long)compared, compared == 1 ? "" : "s",
			      o->dry_run ? "a dry run changes nothing"
					 : "store integrity: warn says"));
	/* Over: should it come back, it alerts as new. */
	if (n == 0 && !o->dry_run && alerts_over(s, INTEGRITY_KEY, &cause) < 0) {
		warnf("alert record not updated: %s", cause);
		FREE_NULL(&cause);
	}
	if (rotate_plan(s, p, o, rows[0], nrows[0], rows[1], nrows[1], planned, &cause) < 0) {
		errorf("%s", cause);
		free(cause);
		report_free(planned);
		return -1;
	}
	return 0;
}

/*
 * The requests each credential's clients sent in this run, how many of them
 * were answered 429, and the connections they opened (one per create, one
 * kept alive per client for the rest): {"NAME": {"requests": N,
 * "throttled": M, "connections": K}, ...}, by credential name (never its
 * secret), for the run's summary and metrics.
 */
static json_t *
credential_counts(const struct clients *cl)
{
	json_t *o = json_object();

	for (size_t i = 0; i < cl->p->nws; i++) {
		const char *name = cl->p->ws[i].credential;
		json_t *c = json_object_get(o, name);
		long req = 0, thr = 0, conn = 0;

		if (cl->c[i] != NULL) {
			req = mode_requests(cl->c[i]);
			thr = mode_throttled(cl->c[i]);
			conn = mode_connections(cl->c[i]);
		}
		if (c == NULL) {
			c = json_pack("{s:I, s:I, s:I}", "requests", (json_int_t)0, "throttled",
				      (json_int_t)0, "connections", (json_int_t)0);
			json_object_set_new(o, name, c);
		}
		json_object_set_new(
		    c, "requests",
		    json_integer(json_integer_value(json_object_get(c, "requests")) + req));
		json_object_set_new(
		    c, "throttled",
		    json_integer(json_integer_value(json_object_get(c, "throttled")) + thr));
		json_object_set_new(
		    c, "connections",
		    json_integer(json_integer_value(json_object_get(c, "connections")) + conn));
	}
	return o;
}

int
runner_run(struct store *s, const struct seal_pub *pub, const struct policy *p,
	   struct rotate_opts *o, const char *verb, int quiet, struct runner_holds *holds)
{
	struct clients cl;
	struct rotate_stats st;
	struct report planned = {0};
	char *cause = NULL;
	json_t *summary = NULL;
	int64_t id = 0;
	int status = TW_EXIT_FAILURE, problems;

	o->stop = runner_stop_requested;
	if (msg_progress_wanted())
		o->progress = progress;
	clients_init(&cl, p, holds);
	/* A dry run says the same problems, and what the run would do once they are put right. */
	problems = clients_open(&cl, o);
	if (problems > 0 && !o->dry_run) {
		status = TW_EXIT_USAGE;
		goto out;
	}
	if (check_and_plan(s, p, o, &planned) < 0)
		goto out;
	if (!o->dry_run && runs_start(s, verb, clock_now_ms(), &id, &cause) < 0)
		goto out;
	if (rotate_run(s, pub, p, client_for, &cl, o, log_line, NULL, &planned, &st, &cause) < 0)
		goto out;
	msg_progress(NULL);
	status = status_of(&st);
	if (st.stopped && runner_stop_requested(NULL))
		notef("stopped after the current step, as a signal asked; %d planned item%s left",
		      st.left, st.left == 1 ? "" : "s");
	if (!quiet)
		printf("%s%s: %d rotated, %d deleted, %d failed, %d unknown, %d left%s%s\n", verb,
		       o->dry_run ? " (dry run)" : "", st.rotated, st.deleted, st.failed,
		       st.unknown, st.left,
		       st.discarded > 0 ? "; failed replacements discarded" : "",
		       st.stuck > 0 ? "; some slots are stuck" : "");
	fflush(stdout);
	summary =
	    json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "rotated", st.rotated, "deleted",
		      st.deleted, "discarded", st.discarded, "failed", st.failed, "unknown",
		      st.unknown, "left", st.left, "settled", st.settled, "workers", st.workers);
	json_object_set_new(summary, "credentials", credential_counts(&cl));
	if (!o->dry_run && runs_end(s, id, status, summary, clock_now_ms(), &cause) < 0)
		status = TW_EXIT_FAILURE;
	if (problems > 0) {
		notef("a run would stop at the configuration error%s above, before doing anything",
		      problems == 1 ? "" : "s");
		status = TW_EXIT_USAGE;
	}
out:
	msg_progress(NULL);
	if (cause != NULL)
		errorf("%s", cause);
	free(cause);
	json_decref(summary);
	report_free(&planned);
	clients_free(&cl);
	return status;
}
