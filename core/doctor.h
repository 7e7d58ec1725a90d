/*
 * `tokenwarden doctor`: checks, one by one, what a nightly run needs, and
 * changes nothing: the policy, the store and its key, the timer, and for
 * each workspace its credential, its API, the server's clock, whether the
 * credential is accepted (only when asked: see doctor_workspace) and its
 * consumers.  Each check is handed to a callback as it is made; nothing
 * here prints.  Every check reuses the function the run itself relies on
 * (policy_load_file, store_open, seal_load_public and store_check_key,
 * cred_load, mode_check_api, mode_check_clock, mode_delete, deliver_check),
 * so a check that passes here passes there.
 */
#ifndef TW_DOCTOR_H
#define TW_DOCTOR_H

#include "core/mode.h"
#include "policies/diag.h"
#include "policies/policy.h"

enum doctor_status {
	DOCTOR_OK,
	DOCTOR_WARN, /* works, but is not how a production host runs */
	DOCTOR_SKIP, /* not checked: says why */
	DOCTOR_FAIL, /* a run would fail: fix says what to do */
};

/* One check's outcome; everything in it is borrowed for the callback's duration. */
struct doctor_check {
	const char *workspace; /* NULL: not one workspace's (the policy, store, key, timer) */
	const char *id;        /* stable: policy, store, public-key, timer, credential, api, ... */
	enum doctor_status status;
	const char *detail; /* never a secret: a credential is named by where it was found */
	const char *fix;    /* DOCTOR_FAIL only; else NULL */
};

typedef void (*doctor_cb)(void *arg, const struct doctor_check *c);

/* The id of each check, for the callback's users. */
#define DOCTOR_POLICY "policy"
#define DOCTOR_STORE "store"
#define DOCTOR_PUBLIC_KEY "public-key"
#define DOCTOR_TIMER "timer"
#define DOCTOR_CREDENTIAL "credential"
#define DOCTOR_API "api"
#define DOCTOR_CLOCK "clock"
#define DOCTOR_AUTH "credential-accepted"
#define DOCTOR_CONSUMER "consumer"

/*
 * Loads the policy at path (policy_load_file, with d filled for the caller
 * to show) and reports check "policy".  Returns the policy (free with
 * policy_free), or NULL when it has errors.
 */
struct policy *doctor_policy(const char *path, struct diag_list *d, doctor_cb cb, void *arg);

/*
 * Opens the store at db as every verb does but only to look (STORE_INSPECT:
 * owner, modes, the file and its directory writable, a tokenwarden schema),
 * loads the public key at public_key, and compares its fingerprint with the
 * one pinned in the store: checks "store" and "public-key".
 */
void doctor_store(const char *db, const char *public_key, doctor_cb cb, void *arg);

/*
 * When systemd runs here (/run/systemd/system exists), asks systemctl
 * whether timer (a unit name) is enabled and when it elapses next: check
 * "timer"; else skips it.
 */
void doctor_timer(const char *timer, doctor_cb cb, void *arg);

/*
 * Checks workspace w of p: "credential" (cred_load, as the run loads it),
 * "api" (mode_check_api, then one unauthenticated clock probe that must get
 * an HTTP answer), "clock" (the probe's Date against the policy's
 * max_clock_skew), "credential-accepted" and one "consumer" per consumer of
 * each slot (deliver_check).  mo holds the client options (the run's).
 * Without probe the credential is sent nowhere and "credential-accepted"
 * is skipped; with it, one DELETE of DOCTOR_PROBE_ID with the credential:
 * 404 means the key was accepted, 401 or 403 that it was refused.
 */
void doctor_workspace(const struct policy *p, const struct policy_workspace *w,
		      const struct mode_opts *mo, int probe, doctor_cb cb, void *arg);

/* A token id no token has (Mode's ids are 12 hexadecimal digits): what --probe deletes. */
#define DOCTOR_PROBE_ID "tokenwarden-doctor-probe"

#endif
