/*
 * tokenwarden daemon: the nightly run for hosts without timers.  Sleeps
 * until work falls due, runs the executor as `rotate` would (taking the run
 * lock for each run only, so `rotate --force` and `revoke` still work
 * beside it), and repeats.  SIGHUP reloads the policy, keeping the old one
 * when the new one has errors; SIGTERM or SIGINT ends the current step and
 * exits 0.  With $NOTIFY_SOCKET it tells systemd when it is ready.
 */
#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/metrics.h"
#include "cmd/msg.h"
#include "cmd/runner.h"
#include "cmd/sdnotify.h"

#include "core/clock.h"
#include "core/exitcodes.h"
#include "core/notify.h"
#include "core/rotate.h"
#include "core/schedule.h"
#include "core/timefmt.h"
#include "core/violations.h"
#include "core/xalloc.h"
#include "store/store.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct daemon {
	const char *path; /* the policy file */
	struct policy *p;
	struct store_opts so;
	int64_t not_before;        /* no run before this while work stays due (ms) */
	int ran;                   /* a run has just ended */
	int64_t said_wake;         /* the wake time last logged */
	const char *metrics;       /* --metrics-textfile; NULL: none */
	int metrics_failed;        /* the last look could not rewrite the metrics file */
	int lost;                  /* the store could not be opened, the last time it was tried */
	int64_t lost_said;         /* when that was last alerted (ms); 0: not while it lasts */
	struct runner_holds holds; /* the credentials' Retry-After holds, from run to run */
};

struct daemon_opts {
	const char *metrics_textfile;
};

static const struct args_opt daemon_options[] = {
    OPT_STRING(0, "metrics-textfile", struct daemon_opts, metrics_textfile, "PATH",
	       "after every run, and at each look between runs,\n"
	       "rewrite PATH with the metrics (as 'tokenwarden\n"
	       "metrics --textfile PATH' does)"),
    OPT_END,
};

static void
notify(const char *state)
{
	static int warned;

	if (sdnotify(state) < 0 && !warned) {
		warned = 1;
		warnf("cannot notify the service manager through $NOTIFY_SOCKET");
	}
}

/* Sets the store options from the policy and the command line. */
static void
set_store_opts(struct daemon *d)
{
	store_opts_init(&d->so);
	config_store_opts(d->p, NULL, &d->so);
}

/*
 * Says that the store could not be opened (store_ctx_open logged why), or
 * (opened) that it can be again.  Every run needs it, and the daemon tries
 * again every minute, so this failure is alerted as a lasting one is
 * (violations_remind): when first met, and again once a day while it
 * lasts; the daemon keeps when, as the store it would record it in is
 * what it cannot open.
 */
static void
store_opened(struct daemon *d, int opened)
{
	int64_t now = clock_now_ms();
	char *text, *unsent = NULL;

	if (opened) {
		if (d->lost)
			notef("the store %s opens again", d->so.db);
		d->lost = 0;
		d->lost_said = 0;
		return;
	}
	d->lost = 1;
	text = xasprintf("the store %s cannot be opened, so nothing is rotated or deleted; the "
			 "daemon's log says why, and it tries again every minute",
			 d->so.db);
	if (violations_remind(d->p, NULL, text, d->lost_said, now,
			      &(struct notify_how){NOTIFY_TIMEOUT_MS, 0, NULL}, &unsent) > 0)
		d->lost_said = now;
	if (unsent != NULL)
		warnf("alert not sent: %s", unsent);
	free(unsent);
	free(text);
}

/* ms, or what a build with the test hooks reads from the environment variable name. */
static int64_t
test_ms(const char *name, int64_t ms)
{
#ifdef TW_TEST_HOOKS
	const char *v = getenv(name);
	char *end;
	long long n;

	if (v == NULL)
		return ms;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno == 0 && end != v && *end == '\0' && n > 0)
		return n;
#else
	(void)name;
#endif
	return ms;
}

/* The longest sleep between looks. */
static int64_t
nap_ms(void)
{
	return test_ms("TOKENWARDEN_TEST_NAP_MS", SCHEDULE_MAX_NAP_MS);
}

/* The least gap after a run that left work due, or after a store that did not open. */
static int64_t
retry_ms(void)
{
	return test_ms("TOKENWARDEN_TEST_RETRY_MS", SCHEDULE_RETRY_MS);
}

/* One run of the executor under the run lock. */
static void
run_once(struct daemon *d)
{
	struct rotate_opts ro;
	struct seal_pub pub;
	struct store *s;
	int status;

	s = store_ctx_open(&d->so, &pub, STORE_CTX_LOCK, &status);
	/* A run lock another process holds is no failure of the store. */
	if (s != NULL || status != TW_EXIT_LOCKED)
		store_opened(d, s != NULL);
	if (s == NULL) {
		notef("trying again in %lld s", (long long)(retry_ms() + 999) / 1000);
		return;
	}
	notify("STATUS=rotating");
	rotate_opts_init(&ro);
	if (d->p->schedule.max_time > 0)
		ro.stop_at = clock_mono_ms() + d->p->schedule.max_time * 1000;
	status = runner_run(s, &pub, d->p, &ro, "daemon", 0, &d->holds);
	if (status != TW_EXIT_USAGE) /* a configuration error recorded nothing */
		store_ctx_note_head(s);
	metrics_after_run(d->metrics, s, d->p);
	store_close(s);
	if (status == TW_EXIT_OK)
		notify("STATUS=waiting; the last run did everything");
	else if (status == TW_EXIT_USAGE)
		notify("STATUS=waiting; the configuration has errors, nothing was done");
	else
		notify("STATUS=waiting; the last run left work or failed");
}

/*
 * Rewrites the metrics file between runs too: its timestamp then says the
 * daemon is alive, and its slots are as they are now, however long the
 * next run is away.  A failure is said once while it lasts.
 */
static void
metrics_between(struct daemon *d, struct store *s, int64_t now)
{
	char *cause = NULL;

	if (d->metrics == NULL || s == NULL)
		return;
	if (metrics_write(d->metrics, s, d->p, now, &cause) == 0) {
		d->metrics_failed = 0;
		return;
	}
	if (!d->metrics_failed)
		warnf("--metrics-textfile: %s; trying again at each look",
		      cause != NULL ? cause : d->metrics);
	d->metrics_failed = 1;
	free(cause);
}

/* When to wake up next (ms): now to run, else later. */
static int64_t
next_wake(struct daemon *d, int64_t now)
{
	struct schedule sc = {0, now + retry_ms()};
	struct store *s;
	char *cause = NULL, when[TIMEFMT_MAX];
	int64_t wake, at;
	int status;

	s = store_ctx_open(&d->so, NULL, STORE_CTX_READ, &status);
	store_opened(d, s != NULL);
	if (s != NULL &&
	    schedule_read(s, d->p, now, runner_held_until, &d->holds, &sc, &cause) < 0) {
		errorf("%s", cause);
		sc.next_at = now + retry_ms();
	}
	/* After a run, its own write stands: the file is new. */
	if (!d->ran)
		metrics_between(d, s, now);
	store_close(s);
	free(cause);
	if (d->ran) {
		/* Work still due right after a run failed there: not again for a while. */
		d->ran = 0;
		d->not_before = sc.due_now ? now + retry_ms() : 0;
	}
	at = schedule_wake(&sc, now, d->not_before, nap_ms(), &wake);
	if (at > now && wake != d->said_wake) {
		d->said_wake = wake;
		if (wake == INT64_MAX) {
			notef("nothing will fall due; looking again every minute");
		} else {
			timefmt_mode(wake, when);
			notef("next run at %s", when);
		}
	}
	return at;
}

/* Waits until at (wall ms) or a signal; returns the signal, or 0. */
static int
wait_until(const sigset_t *set, int64_t at)
{
	int64_t ms = at - clock_now_ms();
	struct timespec ts;
	int sig;

	if (ms <= 0)
		ms = 0;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	sig = sigtimedwait(set, NULL, &ts);
	return sig > 0 ? sig : 0;
}

/*
 * Whether the store and key np names can be used as the start requires:
 * opened for writing, its key the pinned one.  The ones in use are taken as
 * they are: a store gone for a while is the runs' to report, not a reason
 * to keep an older policy.
 */
static int
store_usable(const struct daemon *d, const struct policy *np)
{
	struct store_opts so;
	struct seal_pub pub;
	struct store *s;
	int status, ok;

	store_opts_init(&so);
	config_store_opts(np, NULL, &so);
	if (strcmp(so.db, d->so.db) == 0 && strcmp(so.public_key, d->so.public_key) == 0)
		return 1;
	s = store_ctx_open(&so, &pub, STORE_CTX_WRITE, &status);
	ok = s != NULL;
	store_close(s);
	return ok;
}

/*
 * SIGHUP: loads the policy again, keeping the old one when the new one has
 * errors or names a credential the service was not given.
 */
static void
reload(struct daemon *d)
{
	struct policy *np;

	char state[64];

	snprintf(state, sizeof state, "RELOADING=1\nMONOTONIC_USEC=%lld",
		 (long long)clock_mono_ms() * 1000);
	notify(state);
	np = config_load(d->path, 0);
	/* A policy naming a credential the service lacks would fail every run. */
	if (np != NULL && runner_check(np) != TW_EXIT_OK) {
		policy_free(np);
		np = NULL;
	}
	/* So would one naming another store or key that cannot be used, as at the start. */
	if (np != NULL && !store_usable(d, np)) {
		policy_free(np);
		np = NULL;
	}
	if (np == NULL) {
		errorf("%s: not reloaded; still working with the policy loaded before", d->path);
	} else {
		policy_free(d->p);
		d->p = np;
		set_store_opts(d);
		d->said_wake = 0;
		notef("reloaded the policy from %s", d->path);
	}
	notify("READY=1");
}

static int
run_daemon(void *opts, int argc, char **argv)
{
	struct daemon d = {0};
	struct seal_pub pub;
	struct store *s;
	sigset_t set;
	int status = TW_EXIT_USAGE, sig;

	(void)argc;
	(void)argv;
	d.metrics = ((const struct daemon_opts *)opts)->metrics_textfile;
	if (d.metrics != NULL && d.metrics[0] == '\0') {
		errorf("--metrics-textfile: give the path of the file to write");
		return TW_EXIT_USAGE;
	}
	runner_signals(&set);
	d.path = config_path(NULL);
	d.p = config_load(d.path, 0);
	if (d.p == NULL)
		return TW_EXIT_USAGE;
	set_store_opts(&d);
	/*
	 * Refuse at once what would fail every run: a missing store or one it
	 * cannot write (every run writes), the wrong key, a missing credential.
	 */
	s = store_ctx_open(&d.so, &pub, STORE_CTX_WRITE, &status);
	if (s == NULL)
		goto out;
	store_close(s);
	status = runner_check(d.p);
	if (status != TW_EXIT_OK)
		goto out;
	notef("daemon started with the policy %s", d.path);
	notify("READY=1\nSTATUS=started");
	while (!runner_stop_requested(NULL)) {
		int64_t now = clock_now_ms(), at = next_wake(&d, now);

		if (at <= now) {
			run_once(&d);
			d.ran = 1;
			d.said_wake = 0;
			continue;
		}
		sig = wait_until(&set, at);
		if (sig == SIGHUP)
			reload(&d);
		else if (sig == SIGTERM || sig == SIGINT)
			break;
	}
	notify("STOPPING=1");
	notef("daemon stopping, as a signal asked");
	status = TW_EXIT_OK;
out:
	runner_holds_free(&d.holds);
	policy_free(d.p);
	return status;
}

const struct cmd_entry cmd_daemon_entry = {
    .name = "daemon",
    .args = "",
    .summary = "run rotations as they fall due, for hosts without timers",
    .options = daemon_options,
    .globals = G_CONFIG | G_DB | G_PUBLIC_KEY | G_API,
    .opts_size = sizeof(struct daemon_opts),
    .max_args = 0,
    .notes = "Sleeps until work falls due, then runs it as 'rotate' would (the run lock is\n"
	     "held only while running; --timeout, --retries and --rate-limit apply as\n"
	     "there).  SIGHUP reloads the policy, keeping the old one when the new one has\n"
	     "errors; SIGTERM or SIGINT ends the current step and exits 0.  With\n"
	     "$NOTIFY_SOCKET set it tells systemd when it is ready (Type=notify).\n"
	     "A metrics file that cannot be written is a warning: the run's outcome stands.\n"
	     "Exit status: 0 stopped by a signal, 2 bad policy, option, store, key or\n"
	     "credential.\n",
    .run = run_daemon,
};
