/* The checks of `tokenwarden doctor`; see doctor.h. */
#include "core/doctor.h"

#include "core/cred.h"
#include "core/deliver.h"
#include "core/seal.h"
#include "core/spawn.h"
#include "core/timefmt.h"
#include "core/trust.h"
#include "core/xalloc.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Splits a module's cause, which by the project's rule ends with what to do
 * ("PATH: what is wrong; run: chmod 600 PATH"), into *detail and *fix: at
 * its last "; " when what follows reads as a fix, else the whole cause and
 * fallback.  A closing note of the store's ("the verbs that only read ...")
 * is no fix and is dropped.  Both allocated.
 */
static void
split_fix(const char *cause, const char *fallback, char **detail, char **fix)
{
	static const char *const fixes[] = {"run",  "check",  "use ",    "add",        "give",
					    "set ", "name",   "ask",     "it belongs", "remount",
					    "copy", "create", "install", "put",        NULL};
	char *text = xstrdup(cause), *cut = strstr(text, "; the verbs that only read");

	if (cut != NULL)
		*cut = '\0';
	cut = NULL;
	for (char *at = strstr(text, "; "); at != NULL; at = strstr(at + 2, "; "))
		cut = at;
	for (size_t i = 0; cut != NULL && fixes[i] != NULL; i++)
		if (strncmp(cut + 2, fixes[i], strlen(fixes[i])) == 0) {
			*cut = '\0';
			*detail = text;
			*fix = xstrdup(cut + 2);
			return;
		}
	*detail = text;
	*fix = xstrdup(fallback);
}

/* Who may change what tokenwarden trusts: "root", or "root and USER". Allocated. */
static char *
trusted_users(void)
{
	char *me = trust_user_name(geteuid()), *who;

	who = geteuid() == 0 ? xstrdup("root") : xasprintf("root and %s", me);
	free(me);
	return who;
}

/* Hands one check to cb; fix only for a failure. */
static void
report(doctor_cb cb, void *arg, const char *ws, const char *id, enum doctor_status status,
       const char *detail, const char *fix)
{
	struct doctor_check c = {ws, id, status, detail, status == DOCTOR_FAIL ? fix : NULL};

	cb(arg, &c);
}

struct policy *
doctor_policy(const char *path, struct diag_list *d, doctor_cb cb, void *arg)
{
	struct policy *p = NULL;
	char *detail = NULL, *fix;

	policy_load_file(path, NULL, &p, d);
	if (p != NULL) {
		detail =
		    xasprintf("%s: valid: %zu workspace%s, %zu slot%s, %zu warning%s", path, p->nws,
			      p->nws == 1 ? "" : "s", p->nslots, p->nslots == 1 ? "" : "s",
			      d->nwarnings, d->nwarnings == 1 ? "" : "s");
		report(cb, arg, NULL, DOCTOR_POLICY, DOCTOR_OK, detail, NULL);
		free(detail);
		return p;
	}
	/* The first error says most; one at line 0 is the file's own (it cannot be read). */
	for (size_t i = 0; i < d->n && detail == NULL; i++)
		if (d->v[i].level == DIAG_ERROR && d->v[i].line == 0)
			detail = xasprintf("%s: %s", path, d->v[i].msg);
		else if (d->v[i].level == DIAG_ERROR)
			detail = xasprintf("%s: invalid: %zu error%s, the first at line %d: %s",
					   path, d->nerrors, d->nerrors == 1 ? "" : "s",
					   d->v[i].line, d->v[i].msg);
	if (detail == NULL)
		detail = xasprintf("%s: invalid", path);
	if (access(path, F_OK) < 0)
		fix = xstrdup("name the policy with --config FILE or $TOKENWARDEN_CONFIG "
			      "(examples/policies/ has some to start from); nothing is checked for "
			      "the workspaces meanwhile");
	else
		fix = xasprintf("run: tokenwarden policy check %s (every problem with its line), "
				"and correct them; nothing is checked for the workspaces meanwhile",
				path);
	report(cb, arg, NULL, DOCTOR_POLICY, DOCTOR_FAIL, detail, fix);
	free(detail);
	free(fix);
	return NULL;
}

/* Checks the store's directory as a consumer's is checked: nobody else may replace the store. */
static void
store_dir(const char *db, doctor_cb cb, void *arg)
{
	char *dir = xdirname(db), *abs = NULL, *cause = NULL, *detail, *me, *fix;
	char cwd[4096];
	int fd;

	if (dir[0] == '/')
		abs = xstrdup(dir);
	else if (getcwd(cwd, sizeof cwd) != NULL)
		abs = strcmp(dir, ".") == 0 ? xstrdup(cwd) : xasprintf("%s/%s", cwd, dir);
	if (abs == NULL) {
		cause = xasprintf("%s: cannot tell where it is: %s", dir, strerror(errno));
		fd = -1;
	} else {
		fd = trust_open_dir(abs, TRUST_NOBODY, &cause);
	}
	me = trusted_users();
	if (fd >= 0) {
		close(fd);
		detail =
		    xasprintf("%s: nobody but %s can change it or a directory above it", abs, me);
		report(cb, arg, NULL, "store-directory", DOCTOR_OK, detail, NULL);
	} else {
		split_fix(cause,
			  "give the store's directory, and each above it, to root or the user "
			  "tokenwarden runs as, not writable by group or others",
			  &detail, &fix);
		report(cb, arg, NULL, "store-directory", DOCTOR_FAIL, detail, fix);
		free(fix);
	}
	free(detail);
	free(me);
	free(cause);
	free(abs);
	free(dir);
}

/* The "public-key" check: the file loads, and is the key the store (s, may be NULL) pins. */
static void
public_key(struct store *s, const char *path, doctor_cb cb, void *arg)
{
	struct seal_pub pub;
	char fpr[SEAL_FPR_MAX], *cause = NULL, *detail = NULL, *fix = NULL;

	if (seal_load_public(path, &pub, &cause) != SEAL_OK) {
		split_fix(cause,
			  "name the sealing public key that 'init' pinned with --public-key, "
			  "$TOKENWARDEN_PUBLIC_KEY or the policy's store: public_key",
			  &detail, &fix);
		report(cb, arg, NULL, DOCTOR_PUBLIC_KEY, DOCTOR_FAIL, detail, fix);
		goto out;
	}
	seal_fingerprint(&pub, fpr);
	if (s == NULL) {
		detail = xasprintf("%s: fingerprint %s; not compared with the pinned one: the "
				   "store did not open",
				   path, fpr);
		report(cb, arg, NULL, DOCTOR_PUBLIC_KEY, DOCTOR_SKIP, detail, NULL);
	} else if (store_check_key(s, fpr, &cause) < 0) {
		split_fix(
		    cause,
		    "name the public key 'init' pinned (--public-key, $TOKENWARDEN_PUBLIC_KEY "
		    "or the policy's store: public_key), or move the store to this key with "
		    "tokenwarden rekey",
		    &detail, &fix);
		report(cb, arg, NULL, DOCTOR_PUBLIC_KEY, DOCTOR_FAIL, detail, fix);
	} else {
		detail = xasprintf("%s: fingerprint %s, the one pinned in the store", path, fpr);
		report(cb, arg, NULL, DOCTOR_PUBLIC_KEY, DOCTOR_OK, detail, NULL);
	}
out:
	free(cause);
	free(detail);
	free(fix);
}

void
doctor_store(const char *db, const char *public_key_path, doctor_cb cb, void *arg)
{
	struct store *s = NULL;
	struct stat st;
	char *cause = NULL, *detail = NULL, *owner = NULL, *fix = NULL;

	if (store_open(db, STORE_INSPECT, &s, &cause) < 0) {
		split_fix(cause, "every verb refuses the store until this is put right", &detail,
			  &fix);
		report(cb, arg, NULL, DOCTOR_STORE, DOCTOR_FAIL, detail, fix);
	} else {
		owner = stat(db, &st) == 0 ? trust_user_name(st.st_uid) : xstrdup("?");
		detail = xasprintf("%s: a tokenwarden store, owner %s, mode %04o, it and its "
				   "directory writable",
				   db, owner, (unsigned)(st.st_mode & 07777));
		report(cb, arg, NULL, DOCTOR_STORE, DOCTOR_OK, detail, NULL);
	}
	store_dir(db, cb, arg);
	public_key(s, public_key_path, cb, arg);
	store_close(s);
	free(cause);
	free(detail);
	free(owner);
	free(fix);
}

/* What capture collects: up to size - 1 bytes; the rest is read and dropped. */
struct captured {
	char *out;
	size_t size;
	size_t len;
};

/* spawn_converse's sink for capture. */
static void
keep(const char *buf, size_t n, void *arg)
{
	struct captured *c = arg;
	size_t room = c->size - 1 - c->len;

	if (n > room)
		n = room;
	memcpy(c->out + c->len, buf, n);
	c->len += n;
}

/*
 * Runs argv (argv[0] looked up in PATH) with no input and its standard
 * output into out (at most size - 1 bytes, trailing blanks cut), waiting as
 * long as it takes.  Returns its exit status, or -1 when it could not be run.
 */
static int
capture(const char *const args[], char *out, size_t size)
{
	char *argv[8] = {NULL};
	struct captured c = {out, size, 0};
	int fds[2] = {-1, -1}, status = -1, devnull = -1, timed_out = 0;
	pid_t pid;

	out[0] = '\0';
	if (pipe(fds) < 0)
		return -1;
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		goto out;
	/* Copied before the fork: the child only calls what is safe after one. */
	for (size_t i = 0; i < 7 && args[i] != NULL; i++)
		argv[i] = xstrdup(args[i]);
	pid = fork();
	if (pid < 0)
		goto out;
	if (pid == 0)
		spawn_exec(devnull, fds[1], devnull, argv, NULL, SPAWN_PATH);
	close(fds[1]);
	fds[1] = -1;
	spawn_converse(-1, -1, fds[0], NULL, 0, INT64_MAX, keep, &c);
	while (c.len > 0 &&
	       (out[c.len - 1] == '\n' || out[c.len - 1] == ' ' || out[c.len - 1] == '\r'))
		c.len--;
	out[c.len] = '\0';
	status = spawn_reap(pid, INT64_MAX, &timed_out);
	status = status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
out:
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (devnull >= 0)
		close(devnull);
	for (size_t i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	return status;
}

/* Whether systemd is the init system here (sd_booted's test). */
static int
systemd_runs(void)
{
#ifdef TW_TEST_HOOKS
	/* The tests check the systemd path with a fake systemctl on a host without systemd. */
	const char *fake = getenv("TOKENWARDEN_TEST_SYSTEMD");

	if (fake != NULL && fake[0] != '\0')
		return strcmp(fake, "1") == 0;
#endif
	return access("/run/systemd/system", F_OK) == 0;
}

void
doctor_timer(const char *timer, doctor_cb cb, void *arg)
{
	char enabled[256], next[256], *detail = NULL, *fix = NULL;
	const char *is_enabled[] = {"systemctl", "is-enabled", timer, NULL};
	const char *show[] = {"systemctl", "show", "-p", "NextElapseUSecRealtime",
			      "--value",   timer,  NULL};
	int rc;

	if (!systemd_runs()) {
		report(cb, arg, NULL, DOCTOR_TIMER, DOCTOR_SKIP,
		       "skipped: systemd is not running here", NULL);
		return;
	}
	fix = xasprintf("run: systemctl enable --now %s", timer);
	rc = capture(is_enabled, enabled, sizeof enabled);
	if (rc < 0 || rc == 127) {
		detail = xasprintf("%s: systemctl could not be run", timer);
		report(cb, arg, NULL, DOCTOR_TIMER, DOCTOR_FAIL, detail,
		       "install systemd's systemctl, or run the check where it is");
		goto out;
	}
	if (rc != 0 || strcmp(enabled, "enabled") != 0) {
		detail = xasprintf("%s is %s, so rotate never runs by itself", timer,
				   enabled[0] != '\0' ? enabled : "not enabled");
		report(cb, arg, NULL, DOCTOR_TIMER, DOCTOR_FAIL, detail, fix);
		goto out;
	}
	rc = capture(show, next, sizeof next);
	if (rc != 0 || next[0] == '\0' || strcmp(next, "n/a") == 0) {
		detail =
		    xasprintf("%s is enabled but not started: no next run is scheduled", timer);
		report(cb, arg, NULL, DOCTOR_TIMER, DOCTOR_FAIL, detail, fix);
		goto out;
	}
	detail = xasprintf("%s is enabled; next run %s", timer, next);
	report(cb, arg, NULL, DOCTOR_TIMER, DOCTOR_OK, detail, NULL);
out:
	free(detail);
	free(fix);
}

/* What the workspace checks share. */
struct wsctx {
	const struct policy *p;
	const struct policy_workspace *w;
	doctor_cb cb;
	void *arg;
};

static void
say(const struct wsctx *x, const char *id, enum doctor_status status, const char *detail,
    const char *fix)
{
	report(x->cb, x->arg, x->w->name, id, status, detail, fix);
}

/* The "credential" check; returns the credential (cred_free), or NULL. */
static struct cred *
credential(const struct wsctx *x)
{
	struct cred *cred = NULL;
	char *cause = NULL, *detail = NULL, *why = NULL, *fix = NULL;

	if (cred_load(x->w->credential, NULL, CRED_FROM_POLICY, policy_credential_count(x->p),
		      &cred, &cause) == 0) {
		detail = xasprintf("%s: found in %s", x->w->credential, cred->origin);
		say(x, DOCTOR_CREDENTIAL, DOCTOR_OK, detail, NULL);
	} else {
		split_fix(cause,
			  "give the service the credential: a 0600 file holding KEY:SECRET, "
			  "with LoadCredential=NAME:FILE in tokenwarden-rotate.service",
			  &why, &fix);
		detail = xasprintf("%s: %s", x->w->credential, why);
		say(x, DOCTOR_CREDENTIAL, DOCTOR_FAIL, detail, fix);
	}
	free(cause);
	free(detail);
	free(why);
	free(fix);
	return cred;
}

/* A span of ms for a person: "2s", "45d", "under a second". */
static void
span(int64_t ms, char buf[TIMEFMT_MAX])
{
	if (ms < 0)
		ms = -ms;
	if (ms < 1000)
		snprintf(buf, TIMEFMT_MAX, "under a second");
	else
		timefmt_duration_str(ms / 1000, buf);
}

/* The "clock" check, after the probe answered (rc: mode_check_clock's, why its cause). */
static void
clock_check(const struct wsctx *x, struct mode_client *c, int rc, const char *why)
{
	char apart[TIMEFMT_MAX], bound[TIMEFMT_MAX], *detail = NULL;
	int64_t skew = 0;
	int known = mode_last_skew(c, &skew);

	span(skew, apart);
	if (rc == MODE_ERR_CLOCK) {
		say(x, DOCTOR_CLOCK, DOCTOR_FAIL, why,
		    "set this host's clock from NTP (timedatectl set-ntp true); a run creates and "
		    "deletes nothing in this workspace meanwhile");
		return;
	}
	if (x->p->schedule.max_clock_skew < 0) {
		detail = known == 1 ? xasprintf("skipped: schedule.max_clock_skew is off (the "
						"server's Date is %s %s this host's)",
						apart, skew >= 0 ? "ahead of" : "behind")
				    : xstrdup("skipped: schedule.max_clock_skew is off");
		say(x, DOCTOR_CLOCK, DOCTOR_SKIP, detail, NULL);
	} else {
		timefmt_duration_str(x->p->schedule.max_clock_skew, bound);
		detail = xasprintf("the server's clock and this host's are %s apart "
				   "(schedule.max_clock_skew allows %s)",
				   apart, bound);
		say(x, DOCTOR_CLOCK, DOCTOR_OK, detail, NULL);
	}
	free(detail);
}

/* The "credential-accepted" check with --probe: one DELETE of an id no token has. */
static void
probe(const struct wsctx *x, struct mode_client *c, const struct cred *cred)
{
	struct mode_token *t = NULL;
	char *cause = NULL, *detail = NULL, *fix;
	int rc = mode_delete(c, DOCTOR_PROBE_ID, &t, &cause);

	fix = xasprintf("check credential %s (%s): a workspace admin's API token and secret as "
			"KEY:SECRET, made by a user still in workspace %s",
			x->w->credential, cred->origin, x->w->name);
	if (rc == MODE_ERR_NOT_FOUND || (rc == MODE_OK && t == NULL)) {
		say(x, DOCTOR_AUTH, DOCTOR_OK,
		    "accepted: the server looked for the token (DELETE of token id " DOCTOR_PROBE_ID
		    ", which cannot exist: 404)",
		    NULL);
	} else if (rc == MODE_OK) {
		detail = xasprintf("accepted, but a token with id %s existed and was deleted",
				   DOCTOR_PROBE_ID);
		say(x, DOCTOR_AUTH, DOCTOR_WARN, detail, NULL);
	} else if (rc == MODE_ERR_CLOCK) {
		detail = xasprintf("not checked: the DELETE was not sent on a clock the server "
				   "disagrees with (see clock)");
		say(x, DOCTOR_AUTH, DOCTOR_SKIP, detail, NULL);
	} else if (rc == MODE_ERR_AUTH ||
		   (rc == MODE_ERR_REJECTED && strstr(cause, "rejected with 403") != NULL)) {
		detail = xasprintf("refused: %s", cause);
		say(x, DOCTOR_AUTH, DOCTOR_FAIL, detail, fix);
	} else {
		detail = xasprintf("not judged: %s", cause);
		say(x, DOCTOR_AUTH, DOCTOR_FAIL, detail,
		    "the server answered neither 404 nor 401: try again later, and check api: "
		    "and the proxy");
	}
	mode_token_free(t);
	free(cause);
	free(detail);
	free(fix);
}

/*
 * The "api" check, then "clock" and "credential-accepted", over one client
 * (cred may be NULL).
 */
static void
api(const struct wsctx *x, const struct mode_opts *base, const struct cred *cred, int want_probe)
{
	struct mode_opts mo = *base;
	struct mode_client *c = NULL;
	char *root = NULL, *cause = NULL, *why = NULL, *detail = NULL;
	const char *not_checked = NULL;
	int plain = 0, rc;
	int64_t skew;

	root = mode_check_api("api", x->w->api, &plain, &cause);
	if (root != NULL) {
		mo.max_skew_ms =
		    x->p->schedule.max_clock_skew > 0 ? x->p->schedule.max_clock_skew * 1000 : 0;
		c = mode_client_new(x->w->api, x->w->name, cred, &mo, &cause);
	}
	if (c == NULL) {
		detail = xasprintf("%s: %s", x->w->api, cause);
		say(x, DOCTOR_API, DOCTOR_FAIL, detail,
		    "give the workspace an api: of https://HOST (plain http only to loopback)");
		not_checked = "skipped: no API client";
		goto skip;
	}
	rc = mode_check_clock(c, &skew, &why);
	if (rc != MODE_OK && rc != MODE_ERR_CLOCK) {
		detail = xasprintf("%s: no answer: %s", root, why);
		say(x, DOCTOR_API, DOCTOR_FAIL, detail,
		    "check that this host reaches the API (DNS, firewall, the policy's proxy:) "
		    "and that api: is right");
		not_checked = "skipped: the API did not answer";
		goto skip;
	}
	if (plain) {
		detail = xasprintf("%s: plain http to loopback: a test setup (it answers)", root);
		say(x, DOCTOR_API, DOCTOR_WARN, detail, NULL);
	} else {
		detail = xasprintf("%s: answers over TLS (certificate verified)", root);
		say(x, DOCTOR_API, DOCTOR_OK, detail, NULL);
	}
	clock_check(x, c, rc, why);
	if (!want_probe)
		say(x, DOCTOR_AUTH, DOCTOR_SKIP,
		    "not checked: Mode has no read-only call for an admin key; `doctor --probe` "
		    "checks it with a DELETE of a token id that cannot exist (404 = accepted, 401 "
		    "= refused)",
		    NULL);
	else if (cred == NULL)
		say(x, DOCTOR_AUTH, DOCTOR_SKIP, "not checked: no credential (see credential)",
		    NULL);
	else
		probe(x, c, cred);
	goto out;
skip:
	say(x, DOCTOR_CLOCK, DOCTOR_SKIP, not_checked, NULL);
	say(x, DOCTOR_AUTH, DOCTOR_SKIP, not_checked, NULL);
out:
	mode_client_free(c);
	free(root);
	free(cause);
	free(why);
	free(detail);
}

/* One "consumer" check per consumer of each of the workspace's slots. */
static void
consumers(const struct wsctx *x)
{
	char *me = trust_user_name(geteuid()), *who = trusted_users();
	size_t n = 0;

	for (size_t i = 0; i < x->w->nslots; i++) {
		const struct policy_slot *s = &x->w->slots[i];

		for (size_t k = 0; k < s->eff.ndeliver; k++, n++) {
			const struct policy_deliver *d = &s->eff.deliver[k];
			char *target =
			    policy_render_target(s, d->kind == DELIVER_FILE ? d->path : d->argv[0]);
			char *cause = NULL, *detail, *why, *fix;

			if (deliver_check(s, d, &cause) == 0) {
				detail = d->kind == DELIVER_FILE
					     ? xasprintf("%s: file %s: its directory is safe and "
							 "%s can write in it",
							 s->name, target, me)
					     : xasprintf("%s: exec %s: nobody but %s can change "
							 "it",
							 s->name, target, who);
				say(x, DOCTOR_CONSUMER, DOCTOR_OK, detail, NULL);
			} else {
				split_fix(
				    cause,
				    d->kind == DELIVER_FILE
					? "make the directory, owned by root or the user "
					  "tokenwarden runs as (or the file's owner:), writable "
					  "by that user and by neither group nor others"
					: "install the program, executable, where only root "
					  "or the user tokenwarden runs as can change it or a "
					  "directory above it",
				    &why, &fix);
				detail = xasprintf("%s: %s", s->name, why);
				say(x, DOCTOR_CONSUMER, DOCTOR_FAIL, detail, fix);
				free(why);
				free(fix);
			}
			free(detail);
			free(cause);
			free(target);
		}
	}
	if (n == 0)
		say(x, DOCTOR_CONSUMER, DOCTOR_SKIP, "no consumer in this workspace's slots", NULL);
	free(me);
	free(who);
}

void
doctor_workspace(const struct policy *p, const struct policy_workspace *w,
		 const struct mode_opts *mo, int want_probe, doctor_cb cb, void *arg)
{
	struct wsctx x = {p, w, cb, arg};
	struct cred *cred = credential(&x);

	api(&x, mo, cred, want_probe);
	cred_free(cred);
	consumers(&x);
}
