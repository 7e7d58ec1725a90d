/*
 * Unit tests for core/deliver: the JSON consumers get, files that appear
 * whole with mode 0600 or not at all, hooks run without a shell, with a
 * scrubbed environment, default signals, a time limit and credentials kept
 * out of errors, and rehearsals that run hooks but replace no file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/deliver.h"
#include "core/jsonx.h"
#include "core/mode.h"
#include "core/xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SECRET "s3cr3t-Value-0123456789"
#define KEY "AKIA-key-value-42"

static char dir[] = "/tmp/tw-deliver-XXXXXX";
static struct policy_workspace ws = {.name = (char[]){"acme"}};
static struct policy_slot slot = {.name = (char[]){"etl"}, .ws = &ws};
static struct deliver_payload payload = {
    .workspace = "acme",
    .slot = "etl",
    .token = "tok123",
    .name = "etl \"quoted\"",
    .access_key = KEY,
    .access_secret = SECRET,
    .expires_at = 1798765200000LL,
};
/* What a rehearsal hands consumers: made-up credentials, marked as a test. */
static struct deliver_payload rehearsal = {
    .workspace = "acme",
    .slot = "etl",
    .token = "test-token",
    .name = "tokenwarden rehearsal",
    .access_key = "test-key",
    .access_secret = "test-secret",
    .expires_at = 1798765200000LL,
    .test = 1,
};

static int
setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);
	int rc = system(cmd);

	(void)state;
	free(cmd);
	return rc == 0 ? 0 : -1;
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = xcalloc(1, 65536);

	if (f == NULL) {
		free(buf);
		return NULL;
	}
	if (fread(buf, 1, 65535, f) == 0)
		buf[0] = '\0';
	fclose(f);
	return buf;
}

/* A consumer running `/bin/sh -c SCRIPT` (the test's choice; tokenwarden never uses a shell). */
static struct policy_deliver
shell(const char *script, int64_t timeout)
{
	struct policy_deliver d = {.kind = DELIVER_EXEC, .timeout = timeout, .argc = 3};

	d.argv = xcalloc(4, sizeof *d.argv);
	d.argv[0] = xstrdup("/bin/sh");
	d.argv[1] = xstrdup("-c");
	d.argv[2] = xstrdup(script);
	return d;
}

static void
shell_free(struct policy_deliver *d)
{
	for (size_t i = 0; i < d->argc; i++)
		free(d->argv[i]);
	free(d->argv);
}

static void
test_json(void **state)
{
	size_t len;
	char *json = deliver_json(&payload, &len);
	char *bearer = mode_bearer("tok123", KEY, SECRET);
	json_error_t err;
	json_t *o = json_loadb(json, len, 0, &err);

	(void)state;
	assert_non_null(o);
	assert_int_equal(len, strlen(json));
	assert_string_equal(json_string_value(json_object_get(o, "token")), "tok123");
	assert_string_equal(json_string_value(json_object_get(o, "name")), "etl \"quoted\"");
	assert_string_equal(json_string_value(json_object_get(o, "access_key")), KEY);
	assert_string_equal(json_string_value(json_object_get(o, "access_secret")), SECRET);
	assert_string_equal(json_string_value(json_object_get(o, "expires_at")),
			    "2027-01-01T01:00:00.000Z");
	assert_string_equal(json_string_value(json_object_get(o, "bearer")), bearer);
	assert_string_equal(json_string_value(json_object_get(o, "slot")), "etl");
	assert_string_equal(json_string_value(json_object_get(o, "workspace")), "acme");
	assert_null(json_object_get(o, "test")); /* only a rehearsal says so */
	assert_int_equal(json_object_size(o), 8);
	json_decref(o);
	xsecret_free(bearer);
	xsecret_free(json);

	/* A rehearsal's JSON: the same keys, and "test": true. */
	json = deliver_json(&rehearsal, &len);
	o = json_loadb(json, len, 0, &err);
	assert_non_null(o);
	assert_int_equal(len, strlen(json));
	assert_true(json_is_true(json_object_get(o, "test")));
	assert_string_equal(json_string_value(json_object_get(o, "access_secret")), "test-secret");
	assert_int_equal(json_object_size(o), 9);
	json_decref(o);
	xsecret_free(json);
}

/* Names of the entries of dir, for spotting leftovers. */
static int
entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	for (;;) {
		e = readdir(d);
		if (e == NULL)
			break;
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}

static void
test_file(void **state)
{
	struct policy_deliver d = {.kind = DELIVER_FILE};
	char *path = xasprintf("%s/{workspace}-{slot}.json", dir);
	char *want = xasprintf("%s/acme-etl.json", dir), *got, *json, *cause = NULL;
	struct stat st;
	size_t len;

	(void)state;
	d.path = path;
	/* An old file is replaced whole. */
	got = xasprintf("echo old > '%s'; chmod 644 '%s'", want, want);
	assert_int_equal(system(got), 0);
	free(got);
	assert_int_equal(deliver_one(&slot, &d, &payload, &cause, NULL), 0);
	assert_int_equal(stat(want, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	got = slurp(want);
	json = deliver_json(&payload, &len);
	assert_string_equal(got, json);
	free(got);
	xsecret_free(json);
	assert_int_equal(entries(), 1); /* no temporary file left beside it */

	/*
	 * What a delivery killed before its rename left beside the file (a
	 * token's secret) goes with a sweep, which the run that settles the
	 * killed one's row makes (core/rotate.c), not with each delivery; what
	 * only looks like it stays.
	 */
	got = xasprintf(
	    "cd '%s' && echo secret > .acme-etl.json.tw-Ab_-e1 && "
	    "echo other > .acme-etl.json.tw-Ab_-e12 && echo other > .acme-etl.json.tw-Ab+-e1 && "
	    "echo other > .acme-etl.jsom.tw-Ab_-e1 && ln -s acme-etl.json .acme-etl.json.tw-Zzzzzz",
	    dir);
	assert_int_equal(system(got), 0);
	free(got);
	assert_int_equal(deliver_one(&slot, &d, &payload, &cause, NULL), 0);
	assert_int_equal(entries(), 6);
	assert_int_equal(deliver_sweep(&slot, &d), 1);
	got = xasprintf("%s/.acme-etl.json.tw-Ab_-e1", dir);
	assert_int_equal(access(got, F_OK), -1);
	free(got);
	assert_int_equal(entries(), 5);
	assert_int_equal(deliver_sweep(&slot, &d), 0);
	got = xasprintf("cd '%s' && rm .acme-etl.json.tw-Ab_-e12 .acme-etl.json.tw-Ab+-e1 "
			".acme-etl.jsom.tw-Ab_-e1 .acme-etl.json.tw-Zzzzzz",
			dir);
	assert_int_equal(system(got), 0);
	free(got);
	assert_int_equal(entries(), 1);

	/*
	 * A name as long as a file's may be (255 bytes): its temporary file's
	 * name keeps what fits, and one a killed delivery left goes too.
	 */
	{
		struct policy_deliver l = {.kind = DELIVER_FILE};
		char name[256], *left;

		memset(name, 'n', 255);
		name[255] = '\0';
		l.path = xasprintf("%s/%s", dir, name);
		left = xasprintf("%s/.%.244s.tw-AAAAAA", dir, name);
		got = xasprintf("echo secret > '%s'", left);
		assert_int_equal(system(got), 0);
		free(got);
		if (deliver_one(&slot, &l, &payload, &cause, NULL) != 0)
			fail_msg("%s", cause);
		assert_int_equal(access(l.path, F_OK), 0);
		assert_int_equal(deliver_sweep(&slot, &l), 1);
		assert_int_equal(access(left, F_OK), -1);
		assert_int_equal(unlink(l.path), 0);
		assert_int_equal(entries(), 1);
		free(left);
		free((char *)l.path);
	}

	/* Owner by number (ours), and an owner that does not exist: refused, nothing left. */
	d.owner = xasprintf("%u", (unsigned)getuid());
	assert_int_equal(deliver_one(&slot, &d, &payload, &cause, NULL), 0);
	free(d.owner);
	d.owner = xstrdup("no-such-user-tw");
	assert_int_equal(deliver_one(&slot, &d, &payload, &cause, NULL), -1);
	assert_non_null(strstr(cause,
			       "/acme-etl.json: owner 'no-such-user-tw' does not exist on "
			       "this host; create it, or give the consumer another owner: in "
			       "the policy"));
	FREE_NULL(&cause);
	free(d.owner);
	d.owner = NULL;
	assert_int_equal(entries(), 1);

	/* A directory where the file goes: refused before anything is written, and checked so. */
	assert_int_equal(rename(want, path), 0);
	assert_int_equal(mkdir(want, 0700), 0);
	assert_int_equal(deliver_one(&slot, &d, &payload, &cause, NULL), -1);
	assert_non_null(strstr(cause, "/acme-etl.json: a directory is there, which the file cannot "
				      "replace; give the consumer another path in the policy"));
	FREE_NULL(&cause);
	assert_int_equal(deliver_check(&slot, &d, &cause), -1);
	assert_non_null(strstr(cause, "a directory is there"));
	FREE_NULL(&cause);
	assert_int_equal(entries(), 2);
	assert_int_equal(rmdir(want), 0);
	assert_int_equal(rename(path, want), 0);

	/*
	 * A directory anyone may write in, sticky as /tmp: anyone may take the
	 * file's name first, and hand the consumer a file of theirs.  Refused,
	 * by delivery and by the check; a directory of its own under it is not.
	 */
	{
		struct policy_deliver sd = {.kind = DELIVER_FILE};

		got = xasprintf("cd '%s' && mkdir -m 1777 shared && mkdir -m 755 shared/own", dir);
		assert_int_equal(system(got), 0);
		free(got);
		sd.path = xasprintf("%s/shared/etl.json", dir);
		assert_int_equal(deliver_one(&slot, &sd, &payload, &cause, NULL), -1);
		got = xasprintf(
		    "deliver file %s: refused: %s/shared is writable by others (sticky, as "
		    "/tmp is): anyone could take the file's name first; give the file a "
		    "directory of its own",
		    sd.path, dir);
		assert_string_equal(cause, got);
		FREE_NULL(&cause);
		assert_int_equal(deliver_check(&slot, &sd, &cause), -1);
		assert_string_equal(cause, got);
		FREE_NULL(&cause);
		free(got);
		free((char *)sd.path);
		sd.path = xasprintf("%s/shared/own/etl.json", dir);
		assert_int_equal(deliver_one(&slot, &sd, &payload, &cause, NULL), 0);
		free((char *)sd.path);
		got = xasprintf("rm -rf '%s/shared'", dir);
		assert_int_equal(system(got), 0);
		free(got);
	}

	/* A directory that does not exist: an error naming the file, no file. */
	free(path);
	path = xasprintf("%s/missing/{slot}.json", dir);
	d.path = path;
	assert_int_equal(deliver_one(&slot, &d, &payload, &cause, NULL), -1);
	assert_non_null(strstr(cause, "/missing/etl.json: cannot create a file beside it"));
	assert_null(strstr(cause, SECRET));
	FREE_NULL(&cause);
	free(path);
	unlink(want);
	free(want);
}

/*
 * A write that fails halfway (here the file size limit, as a full disk
 * would) leaves the old file as it was and no temporary file beside it.
 */
static void
test_file_fails_whole(void **state)
{
	struct policy_deliver d = {.kind = DELIVER_FILE};
	char *path = xasprintf("%s/whole.json", dir), *got, *cause = NULL;
	struct rlimit was, small;
	FILE *f = fopen(path, "w");

	(void)state;
	assert_non_null(f);
	assert_true(fputs("old\n", f) >= 0);
	assert_int_equal(fclose(f), 0);
	d.path = path;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &was), 0);
	small = was;
	small.rlim_cur = 40; /* the JSON is some 300 bytes */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	assert_int_equal(deliver_one(&slot, &d, &payload, &cause, NULL), -1);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &was), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_non_null(strstr(cause, "whole.json"));
	assert_null(strstr(cause, SECRET));
	FREE_NULL(&cause);
	got = slurp(path);
	assert_string_equal(got, "old\n");
	free(got);
	assert_int_equal(entries(), 1);
	unlink(path);
	free(path);
}

/*
 * A reader looking while deliveries replace the file, again and again,
 * sees a whole JSON document every time: the old one or the new one.
 */
static void
test_file_readers_see_whole(void **state)
{
	struct policy_deliver d = {.kind = DELIVER_FILE};
	char *path = xasprintf("%s/watched.json", dir), *cause = NULL;
	struct deliver_payload p = payload;
	pid_t reader;
	int status = 0;

	(void)state;
	d.path = path;
	assert_int_equal(deliver_one(&slot, &d, &p, &cause, NULL), 0);
	reader = fork();
	assert_true(reader >= 0);
	if (reader == 0) {
		/* Reads until the parent removes the file; exits 1 on a partial document. */
		for (long reads = 0;; reads++) {
			char *text = slurp(path);
			json_t *doc;

			if (text == NULL)
				_exit(reads > 0 ? 0 : 2);
			doc = json_loads(text, 0, NULL);
			free(text);
			if (doc == NULL || json_object_get(doc, "access_secret") == NULL)
				_exit(1);
			json_decref(doc);
		}
	}
	for (int i = 0; i < 300; i++) {
		p.expires_at = payload.expires_at + i;
		assert_int_equal(deliver_one(&slot, &d, &p, &cause, NULL), 0);
	}
	unlink(path);
	assert_int_equal(waitpid(reader, &status, 0), reader);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(entries(), 0);
	free(path);
}

static void
test_exec_reads_stdin(void **state)
{
	char *out = xasprintf("%s/hook.json", dir), *script, *got, *json, *cause = NULL;
	struct policy_deliver d;
	size_t len;

	(void)state;
	script = xasprintf("cat > '%s'", out);
	d = shell(script, 10);
	assert_int_equal(deliver_one(&slot, &d, &payload, &cause, NULL), 0);
	got = slurp(out);
	json = deliver_json(&payload, &len);
	assert_string_equal(got, json);
	assert_null(strstr(got, "\"test\"")); /* a real delivery is not marked as a test */
	xsecret_free(json);
	free(got);
	shell_free(&d);
	free(script);
	unlink(out);
	free(out);
}

/* The bits of a /proc/PID/status signal-set line ("SigBlk:\t0000000000004000"). */
static unsigned long long
sigset_line(const char *status, const char *name)
{
	const char *at = strstr(status, name);
	char *end = NULL;
	unsigned long long bits;

	assert_non_null(at);
	errno = 0;
	bits = strtoull(at + strlen(name), &end, 16);
	assert_int_equal(errno, 0);
	assert_true(end != at + strlen(name));
	return bits;
}

static void
test_exec_default_signals(void **state)
{
	const unsigned long long ours = 1ULL << (SIGPIPE - 1) | 1ULL << (SIGINT - 1) |
					1ULL << (SIGTERM - 1) | 1ULL << (SIGHUP - 1);
	char *out = xasprintf("%s/signals", dir), *got, *cause = NULL;
	struct sigaction ign = {.sa_handler = SIG_IGN}, old_int, old_pipe;
	sigset_t block, old_mask;
	struct policy_deliver d;

	(void)state;
	/* As tokenwarden will run: SIGTERM and SIGHUP blocked, SIGPIPE and SIGINT ignored. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	assert_int_equal(sigprocmask(SIG_BLOCK, &block, &old_mask), 0);
	sigemptyset(&ign.sa_mask);
	assert_int_equal(sigaction(SIGPIPE, &ign, &old_pipe), 0);
	assert_int_equal(sigaction(SIGINT, &ign, &old_int), 0);

	/*
	 * The hook copies its own status, signal sets included.  Not a shell
	 * script: dash clears its signal mask when it starts, hiding SigBlk.
	 */
	d = shell("", 10);
	free(d.argv[0]);
	free(d.argv[1]);
	free(d.argv[2]);
	d.argv[0] = xstrdup("/bin/cp");
	d.argv[1] = xstrdup("/proc/self/status");
	d.argv[2] = xstrdup(out);
	assert_int_equal(deliver_one(&slot, &d, &payload, &cause, NULL), 0);

	assert_int_equal(sigprocmask(SIG_SETMASK, &old_mask, NULL), 0);
	assert_int_equal(sigaction(SIGPIPE, &old_pipe, NULL), 0);
	assert_int_equal(sigaction(SIGINT, &old_int, NULL), 0);

	got = slurp(out);
	unlink(out);
	free(out);
	assert_non_null(got);
	assert_int_equal(sigset_line(got, "SigBlk:"), 0);
	assert_int_equal(sigset_line(got, "SigIgn:") & ours, 0);
	free(got);
	shell_free(&d);
}

static void
test_exec_environment_and_fds(void **state)
{
	char *out = xasprintf("%s/env", dir), *script, *got, *cause = NULL;
	struct policy_deliver d;

	(void)state;
	setenv("TW_TEST_LEAK", "must-not-pass", 1);
	script = xasprintf("env > '%s'; ls /proc/self/fd | wc -l >> '%s'", out, out);
	d = shell(script, 10);
	assert_int_equal(deliver_one(&slot, &d, &payload, &cause, NULL), 0);
	got = slurp(out);
	assert_non_null(strstr(got, "TOKENWARDEN_SLOT=etl\n"));
	assert_non_null(strstr(got, "TOKENWARDEN_WORKSPACE=acme\n"));
	assert_non_null(strstr(got, "TOKENWARDEN_TOKEN=tok123\n"));
	assert_null(strstr(got, "TW_TEST_LEAK"));
	assert_null(strstr(got, SECRET));
	/* 0, 1, 2, and ls's own directory: nothing of ours inherited */
	assert_non_null(strstr(got, "\n4\n"));
	free(got);
	shell_free(&d);
	free(script);
	unlink(out);
	free(out);
	unsetenv("TW_TEST_LEAK");
}

/* Not an allocation: what a test leaves in an out parameter to see it set. */
static char cause_unset[] = "unset";

static void
test_exec_failures(void **state)
{
	struct policy_deliver d;
	char *cause = NULL, *output = NULL;

	(void)state;
	/*
	 * A failing hook: its status in the failure, the tail of its output
	 * apart, on one line, credentials blotted out.
	 */
	d = shell("cat >&2; echo; echo 'reload failed' >&2; exit 3", 10);
	assert_int_equal(deliver_one(&slot, &d, &payload, &cause, &output), -1);
	assert_string_equal(cause, "deliver exec /bin/sh: exit status 3");
	assert_non_null(output);
	assert_non_null(strstr(output, "reload failed"));
	assert_null(strstr(output, SECRET));
	assert_null(strstr(output, KEY));
	assert_non_null(strstr(output, "\"access_secret\": \""
				       "***********************"
				       "\""));
	assert_null(strchr(output, '\n'));
	FREE_NULL(&cause);
	FREE_NULL(&output);
	shell_free(&d);

	/*
	 * Output longer than the tail, cut inside the Bearer value (the JSON's
	 * last string, then '"}' and a newline): the piece left is blotted too.
	 */
	d = shell("cat >&2; head -c 2040 /dev/zero | tr '\\0' x >&2; exit 1", 10);
	assert_int_equal(deliver_one(&slot, &d, &payload, &cause, &output), -1);
	assert_string_equal(cause, "deliver exec /bin/sh: exit status 1");
	assert_non_null(output);
	assert_int_equal(strncmp(output, "*****\"}|xxxxxxxx", 16), 0);
	FREE_NULL(&cause);
	FREE_NULL(&output);
	shell_free(&d);

	/* A hook that fails saying nothing: no output to log (and *output is set so). */
	d = shell("cat >/dev/null; exit 2", 10);
	output = cause_unset;
	assert_int_equal(deliver_one(&slot, &d, &payload, &cause, &output), -1);
	assert_string_equal(cause, "deliver exec /bin/sh: exit status 2");
	assert_null(output);
	FREE_NULL(&cause);
	shell_free(&d);

	/* A hook that never answers is killed at its time limit. */
	d = shell("sleep 30", 1);
	assert_int_equal(deliver_one(&slot, &d, &payload, &cause, NULL), -1);
	assert_string_equal(cause, "deliver exec /bin/sh: no answer within 1s; killed");
	FREE_NULL(&cause);
	shell_free(&d);

	/* A hook that exits 0 without reading is fine: its status decides. */
	d = shell("exit 0", 10);
	assert_int_equal(deliver_one(&slot, &d, &payload, &cause, NULL), 0);
	shell_free(&d);

	/* A program that is not there. */
	d = shell("", 10);
	free(d.argv[0]);
	d.argv[0] = xstrdup("/nonexistent/hook");
	assert_int_equal(deliver_one(&slot, &d, &payload, &cause, NULL), -1);
	assert_string_equal(
	    cause, "deliver exec /nonexistent/hook: cannot run it (missing, or not executable)");
	FREE_NULL(&cause);
	shell_free(&d);
}

/* The longest piece of secret (6 characters or more) that text holds; 0 when none. */
static size_t
longest_piece(const char *text, const char *secret)
{
	size_t n = strlen(secret), best = 0;

	for (size_t from = 0; from < n; from++)
		for (size_t len = 6; from + len <= n; len++) {
			char *piece = xstrndup(secret + from, len);
			int found = strstr(text, piece) != NULL;

			free(piece);
			if (!found)
				break;
			if (len > best)
				best = len;
		}
	return best;
}

/* Whether the document is cut inside one of the credentials at cut (or a byte either side). */
static int
cut_in(const char *json, size_t cut, const char *const *secrets, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t from = (size_t)(strstr(json, secrets[i]) - json);

		if (cut + 1 >= from && cut <= from + strlen(secrets[i]) + 1)
			return 1;
	}
	return 0;
}

/*
 * A failing hook that prints its input cut at every length within a byte
 * of the credentials (deliver_mask is tried at every cut below; e2e
 * test_hook_output.py cuts at every length): the failure holds none of the
 * output, and the output kept for the log no piece of 6 characters or more
 * of the access key, the secret or the bearer value.
 */
static void
test_exec_output_cut(void **state)
{
	char *bearer = mode_bearer("tok123", KEY, SECRET), *cause = NULL, *output = NULL;
	size_t len;
	char *json = deliver_json(&payload, &len);
	const char *const secrets[] = {SECRET, KEY, bearer};

	(void)state;
	for (size_t cut = 1; cut <= len; cut++) {
		char *script;
		struct policy_deliver d;

		if (!cut_in(json, cut, secrets, 3))
			continue;
		script = xasprintf("head -c %zu; exit 4", cut);
		d = shell(script, 10);
		assert_int_equal(deliver_one(&slot, &d, &payload, &cause, &output), -1);
		assert_string_equal(cause, "deliver exec /bin/sh: exit status 4");
		assert_non_null(output);
		for (size_t i = 0; i < 3; i++)
			if (longest_piece(output, secrets[i]) > 0)
				fail_msg("cut at %zu: %zu characters of credential %zu kept", cut,
					 longest_piece(output, secrets[i]), i);
		FREE_NULL(&cause);
		FREE_NULL(&output);
		shell_free(&d);
		free(script);
	}
	xsecret_free(json);
	xsecret_free(bearer);
}

/*
 * deliver_mask over every piece of the document that begins or ends at each
 * byte: what is left of a credential is never 6 characters or more, and
 * what is not a credential is left alone.
 */
static void
test_mask_every_offset(void **state)
{
	char *bearer = mode_bearer("tok123", KEY, SECRET);
	size_t len;
	char *json = deliver_json(&payload, &len);
	const char *const secrets[] = {SECRET, KEY, bearer};

	(void)state;
	for (size_t a = 0; a < len; a++)
		for (int side = 0; side < 2; side++) {
			/* [a, len) then [0, a + 1): cut at the start, then at the end. */
			size_t from = side == 0 ? a : 0, to = side == 0 ? len : a + 1;
			char *buf = xstrndup(json + from, to - from);

			deliver_mask(buf, to - from, &payload);
			for (size_t i = 0; i < 3; i++)
				if (longest_piece(buf, secrets[i]) > 0)
					fail_msg(
					    "[%zu, %zu): %zu characters of credential %zu kept",
					    from, to, longest_piece(buf, secrets[i]), i);
			/* The workspace, slot and token id are not credentials: left alone. */
			if (from == 0 && to > 60)
				assert_int_equal(strncmp(buf, json, 60), 0);
			free(buf);
		}
	xsecret_free(json);
	xsecret_free(bearer);
}

static void
test_rehearse_file(void **state)
{
	struct policy_deliver d = {.kind = DELIVER_FILE};
	char *path = xasprintf("%s/{workspace}-{slot}.json", dir);
	char *want = xasprintf("%s/acme-etl.json", dir), *got, *cause = NULL;
	struct stat before, after;

	(void)state;
	d.path = path;
	got = xasprintf("printf 'real credentials\\n' > '%s'; chmod 644 '%s'", want, want);
	assert_int_equal(system(got), 0);
	free(got);
	assert_int_equal(stat(want, &before), 0);

	/* The real file stays as it was, byte for byte; nothing is left beside it. */
	assert_int_equal(deliver_rehearse(&slot, &d, &rehearsal, &cause, NULL), 0);
	assert_null(cause);
	got = slurp(want);
	assert_string_equal(got, "real credentials\n");
	free(got);
	assert_int_equal(stat(want, &after), 0);
	assert_int_equal(after.st_ino, before.st_ino);
	assert_int_equal(after.st_mode & 07777, 0644);
	assert_int_equal(entries(), 1);

	/* With an owner, as the real write gives it; and one that does not exist. */
	d.owner = xasprintf("%u", (unsigned)getuid());
	d.group = xasprintf("%u", (unsigned)getgid());
	assert_int_equal(deliver_rehearse(&slot, &d, &rehearsal, &cause, NULL), 0);
	assert_int_equal(entries(), 1);
	free(d.owner);
	d.owner = xstrdup("no-such-user-tw");
	assert_int_equal(deliver_rehearse(&slot, &d, &rehearsal, &cause, NULL), -1);
	assert_non_null(strstr(cause, ": owner 'no-such-user-tw' does not exist on this host; "
				      "create it"));
	FREE_NULL(&cause);
	free(d.owner);
	free(d.group);
	d.owner = d.group = NULL;
	got = slurp(want);
	assert_string_equal(got, "real credentials\n");
	free(got);
	assert_int_equal(entries(), 1);

	/* An owner we may not give (root may give any: not checkable then). */
	if (geteuid() != 0) {
		d.owner = xstrdup("0");
		assert_int_equal(deliver_rehearse(&slot, &d, &rehearsal, &cause, NULL), -1);
		assert_non_null(strstr(cause, "/acme-etl.json: "));
		assert_non_null(strstr(cause, strerror(EPERM)));
		FREE_NULL(&cause);
		FREE_NULL(&d.owner);
		assert_int_equal(entries(), 1);
	}

	/* With no file there yet, none appears. */
	unlink(want);
	assert_int_equal(deliver_rehearse(&slot, &d, &rehearsal, &cause, NULL), 0);
	assert_int_equal(entries(), 0);
	free(path);
	free(want);
}

static void
test_rehearse_file_unwritable(void **state)
{
	struct policy_deliver d = {.kind = DELIVER_FILE};
	char *sub = xasprintf("%s/ro", dir), *cmd, *cause = NULL;

	(void)state;
	/* A directory that does not exist. */
	d.path = xasprintf("%s/missing/{slot}.json", dir);
	assert_int_equal(deliver_rehearse(&slot, &d, &rehearsal, &cause, NULL), -1);
	assert_non_null(strstr(cause, "/missing/etl.json: cannot create a file beside it: "));
	assert_non_null(strstr(cause, strerror(ENOENT)));
	FREE_NULL(&cause);
	free(d.path);

	/* A "directory" that is a file. */
	cmd = xasprintf("echo x > '%s'", sub);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	d.path = xasprintf("%s/{slot}.json", sub);
	assert_int_equal(deliver_rehearse(&slot, &d, &rehearsal, &cause, NULL), -1);
	assert_non_null(strstr(cause, "/ro/etl.json: cannot create a file beside it: "));
	assert_non_null(strstr(cause, strerror(ENOTDIR)));
	FREE_NULL(&cause);
	unlink(sub);

	/* A directory we may not write to (root may write anywhere: not checkable then). */
	if (geteuid() != 0) {
		assert_int_equal(mkdir(sub, 0500), 0);
		assert_int_equal(deliver_rehearse(&slot, &d, &rehearsal, &cause, NULL), -1);
		assert_non_null(strstr(cause, "/ro/etl.json: cannot create a file beside it: "));
		assert_non_null(strstr(cause, strerror(EACCES)));
		FREE_NULL(&cause);
		rmdir(sub);
	}
	free(d.path);
	free(sub);
	assert_int_equal(entries(), 0);
}

/* deliver_check: what a delivery checks first, without delivering. */
static void
test_check(void **state)
{
	struct policy_deliver f = {.kind = DELIVER_FILE};
	struct policy_deliver e = shell("exit 0", 5);
	char *sub = xasprintf("%s/chk", dir), *cause = NULL;

	(void)state;
	assert_int_equal(mkdir(sub, 0755), 0);
	f.path = xasprintf("%s/{slot}.json", sub);
	assert_int_equal(deliver_check(&slot, &f, &cause), 0);
	assert_null(cause);
	/* Nothing was written there. */
	assert_int_equal(rmdir(sub), 0);

	/* A directory that does not exist. */
	assert_int_equal(deliver_check(&slot, &f, &cause), -1);
	assert_non_null(strstr(cause, "/chk/etl.json: cannot create a file beside it: "));
	FREE_NULL(&cause);

	/* A directory others may write in. */
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(chmod(sub, 0777), 0);
	assert_int_equal(deliver_check(&slot, &f, &cause), -1);
	assert_non_null(strstr(cause, "/chk is writable by group or others (mode 0777)"));
	FREE_NULL(&cause);

	/* A directory we may not write in (root may write anywhere: not checkable then). */
	if (geteuid() != 0) {
		assert_int_equal(chmod(sub, 0555), 0);
		assert_int_equal(deliver_check(&slot, &f, &cause), -1);
		assert_non_null(strstr(cause, "/chk (owner "));
		assert_non_null(strstr(cause, "mode 0555); run: chmod u+w "));
		FREE_NULL(&cause);
	}
	assert_int_equal(rmdir(sub), 0);

	/* An exec consumer: a trusted program, then one that is not there. */
	assert_int_equal(deliver_check(&slot, &e, &cause), 0);
	free(e.argv[0]);
	e.argv[0] = xasprintf("%s/no-such-program", dir);
	assert_int_equal(deliver_check(&slot, &e, &cause), -1);
	assert_non_null(
	    strstr(cause, "/no-such-program: cannot run it (missing, or not executable)"));
	FREE_NULL(&cause);
	shell_free(&e);
	free(f.path);
	free(sub);
	assert_int_equal(entries(), 0);
}

static void
test_rehearse_exec(void **state)
{
	char *out = xasprintf("%s/hook.json", dir), *script, *got, *json, *cause = NULL,
	     *output = NULL;
	struct policy_deliver d;
	json_error_t err;
	json_t *o;
	size_t len;

	(void)state;
	script = xasprintf("cat > '%s'", out);
	d = shell(script, 10);
	assert_int_equal(deliver_rehearse(&slot, &d, &rehearsal, &cause, NULL), 0);
	got = slurp(out);
	assert_non_null(got);
	json = deliver_json(&rehearsal, &len);
	assert_string_equal(got, json);
	o = json_loads(got, 0, &err);
	assert_non_null(o);
	assert_true(json_is_true(json_object_get(o, "test")));
	assert_string_equal(json_string_value(json_object_get(o, "token")), "test-token");
	json_decref(o);
	xsecret_free(json);
	free(got);
	shell_free(&d);
	free(script);
	unlink(out);

	/* A failing hook: the same cause and output as a delivery's, credentials blotted out. */
	d = shell("cat >&2; exit 4", 10);
	assert_int_equal(deliver_rehearse(&slot, &d, &rehearsal, &cause, &output), -1);
	assert_string_equal(cause, "deliver exec /bin/sh: exit status 4");
	assert_non_null(output);
	assert_non_null(strstr(output, "\"test\": true"));
	assert_null(strstr(output, "test-secret"));
	FREE_NULL(&cause);
	FREE_NULL(&output);
	shell_free(&d);
	free(out);
}

static void
test_rehearse_refuses_real_payload(void **state)
{
	struct policy_deliver f = {.kind = DELIVER_FILE}, d;
	char *want = xasprintf("%s/etl.json", dir), *ran = xasprintf("%s/ran", dir);
	char *script = xasprintf("touch '%s'", ran), *got, *cause = NULL;

	(void)state;
	got = xasprintf("printf 'real credentials\\n' > '%s'", want);
	assert_int_equal(system(got), 0);
	free(got);
	f.path = xasprintf("%s/{slot}.json", dir);
	assert_int_equal(deliver_rehearse(&slot, &f, &payload, &cause, NULL), -1);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "not marked as a test"));
	FREE_NULL(&cause);
	got = slurp(want);
	assert_string_equal(got, "real credentials\n");
	free(got);
	assert_int_equal(entries(), 1);

	/* An exec consumer is not run at all. */
	d = shell(script, 10);
	assert_int_equal(deliver_rehearse(&slot, &d, &payload, &cause, NULL), -1);
	assert_non_null(strstr(cause, "not marked as a test"));
	FREE_NULL(&cause);
	assert_int_equal(access(ran, F_OK), -1);

	/* And a test payload never replaces real credentials. */
	payload.test = 1;
	assert_int_equal(deliver_one(&slot, &f, &payload, &cause, NULL), -1);
	assert_non_null(strstr(cause, "a test payload must never replace real credentials"));
	FREE_NULL(&cause);
	assert_int_equal(deliver_one(&slot, &d, &payload, &cause, NULL), -1);
	FREE_NULL(&cause);
	payload.test = 0;
	got = slurp(want);
	assert_string_equal(got, "real credentials\n");
	free(got);
	assert_int_equal(access(ran, F_OK), -1);
	shell_free(&d);
	free(f.path);
	free(script);
	unlink(want);
	free(want);
	free(ran);
}

/*
 * A consumer as the record of what it holds names it: a file by its path
 * as filled for its slot, whichever slot it is in; a program with its
 * slot, one a slot.
 */
static void
test_holder(void **state)
{
	char ws_name[] = "acme", a_name[] = "a", b_name[] = "b";
	char shared[] = "/run/shared.json", templ[] = "/run/{workspace}/{slot}.json";
	char b_filled[] = "/run/acme/b.json", reload[] = "/bin/reload", slot_arg[] = "{slot}";
	char spelled[] = "/run//acme/./x/../b.json";
	char *argv[] = {reload, slot_arg, NULL};
	struct policy_workspace acme = {.name = ws_name};
	struct policy_slot a = {.name = a_name, .ws = &acme}, b = {.name = b_name, .ws = &acme};
	struct policy_deliver f = {.kind = DELIVER_FILE, .path = shared};
	struct policy_deliver t = {.kind = DELIVER_FILE, .path = templ};
	struct policy_deliver filled = {.kind = DELIVER_FILE, .path = b_filled};
	struct policy_deliver x = {.kind = DELIVER_EXEC, .argv = argv, .argc = 2};
	char ka[DELIVER_FINGERPRINT_MAX], kb[DELIVER_FINGERPRINT_MAX];

	(void)state;
	/* one file in two slots: one consumer (moved from one to the other) */
	deliver_holder(&a, &f, ka);
	deliver_holder(&b, &f, kb);
	assert_string_equal(ka, kb);
	assert_int_equal(strlen(ka), DELIVER_FINGERPRINT_MAX - 1);
	/* a template: a file a slot, the one its path names once filled */
	deliver_holder(&a, &t, ka);
	deliver_holder(&b, &t, kb);
	assert_string_not_equal(ka, kb);
	deliver_holder(&a, &filled, ka);
	assert_string_equal(ka, kb);
	/* spelled another way, the same file */
	filled.path = spelled;
	deliver_holder(&a, &filled, ka);
	assert_string_equal(ka, kb);
	/* a program: one a slot, even with the same arguments once filled */
	deliver_holder(&a, &x, ka);
	deliver_holder(&b, &x, kb);
	assert_string_not_equal(ka, kb);
	/* not a file of the same text */
	f.path = reload;
	x.argc = 1;
	deliver_holder(&a, &f, kb);
	deliver_holder(&a, &x, ka);
	assert_string_not_equal(ka, kb);
}

/* A consumer's fingerprint: its kind and place, not its owner, group or time limit. */
static void
test_fingerprint(void **state)
{
	char reload[] = "/bin/reload", ab[] = "a b", a1[] = "a", b1[] = "b";
	char file[] = "/run/{slot}.json", longer[] = "/run/{slot}.json.new";
	char *one[] = {reload, ab, NULL}, *two[] = {reload, a1, b1, NULL};
	struct policy_deliver f = {.kind = DELIVER_FILE, .path = file};
	struct policy_deliver g = f, x = {.kind = DELIVER_EXEC, .argv = one, .argc = 2};
	struct policy_deliver y = {.kind = DELIVER_EXEC, .argv = two, .argc = 3};
	char owner[] = "etl";
	char a[DELIVER_FINGERPRINT_MAX], b[DELIVER_FINGERPRINT_MAX];
	static const unsigned char laid[] = "\0\0\0\0\0\0\0\4file"
					    "\0\0\0\0\0\0\0\x10/run/{slot}.json";
	unsigned char sum[16];

	(void)state;
	deliver_fingerprint(&f, a);
	assert_int_equal(strlen(a), 32);
	assert_int_equal(strspn(a, "0123456789abcdef"), 32);
	g.owner = owner;
	g.group = owner;
	g.timeout = 5;
	deliver_fingerprint(&g, b);
	assert_string_equal(a, b);
	g.path = longer;
	deliver_fingerprint(&g, b);
	assert_string_not_equal(a, b);
	/* The arguments' boundaries count: "a b" is not "a", "b". */
	deliver_fingerprint(&x, a);
	deliver_fingerprint(&y, b);
	assert_string_not_equal(a, b);
	x.timeout = 99;
	deliver_fingerprint(&x, b);
	assert_string_equal(a, b);
	/* A file and a program of the same text are two consumers. */
	one[0] = file;
	x.argc = 1;
	deliver_fingerprint(&x, a);
	deliver_fingerprint(&f, b);
	assert_string_not_equal(a, b);
	/*
	 * Stored in the history ("reached"), so its layout is fixed: BLAKE2b-128 of each field's
	 * length, eight bytes most significant first, then its bytes.
	 */
	crypto_generichash(sum, sizeof sum, laid, sizeof laid - 1, NULL, 0);
	sodium_bin2hex(a, sizeof a, sum, sizeof sum);
	assert_string_equal(b, a);
}

/*
 * A hook that starts a service and exits, the service keeping the hook's
 * output (`service x restart`, `x &`): its exit status answers, at once,
 * and the service is left running.  Neither "no answer; killed" after the
 * time limit, nor a kill of what the hook started.
 */
static void
test_exec_background_child(void **state)
{
	static const int exits[] = {0, 3};
	char *pidfile = xasprintf("%s/bg.pid", dir), *script, *cause = NULL, *got;
	struct policy_deliver d;
	long bg;

	(void)state;
	for (size_t i = 0; i < sizeof exits / sizeof exits[0]; i++) {
		script = xasprintf("cat >/dev/null; sleep 60 & echo $! > '%s'; exit %d", pidfile,
				   exits[i]);
		d = shell(script, 5);
		assert_int_equal(deliver_one(&slot, &d, &payload, &cause, NULL),
				 exits[i] == 0 ? 0 : -1);
		if (exits[i] != 0)
			assert_non_null(strstr(cause, "exit status 3"));
		FREE_NULL(&cause);
		got = slurp(pidfile);
		bg = got != NULL ? atol(got) : 0;
		assert_true(bg > 0);
		assert_int_equal(kill((pid_t)bg, 0), 0);
		kill((pid_t)bg, SIGKILL);
		free(got);
		unlink(pidfile);
		free(script);
		shell_free(&d);
	}
	free(pidfile);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_fingerprint),
	    cmocka_unit_test(test_holder),
	    cmocka_unit_test(test_file),
	    cmocka_unit_test(test_file_fails_whole),
	    cmocka_unit_test(test_file_readers_see_whole),
	    cmocka_unit_test(test_exec_reads_stdin),
	    cmocka_unit_test(test_exec_environment_and_fds),
	    cmocka_unit_test(test_exec_failures),
	    cmocka_unit_test(test_exec_output_cut),
	    cmocka_unit_test(test_mask_every_offset),
	    cmocka_unit_test(test_exec_default_signals),
	    cmocka_unit_test(test_exec_background_child),
	    cmocka_unit_test(test_rehearse_file),
	    cmocka_unit_test(test_rehearse_file_unwritable),
	    cmocka_unit_test(test_rehearse_exec),
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_rehearse_refuses_real_payload),
	};

	jsonx_init();
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
