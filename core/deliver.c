/* Delivering a fresh token to its consumers; see deliver.h. */
#define _GNU_SOURCE /* pipe2: close-on-exec from the start, as workers fork */
#include "core/deliver.h"

#include "core/fieldhash.h"
#include "core/jsonx.h"
#include "core/mode.h"
#include "core/ops.h"
#include "core/outfile.h"
#include "core/spawn.h"
#include "core/timefmt.h"
#include "core/trust.h"
#include "core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Appends s to out (at *pos) as a JSON string; with out NULL only counts. */
static void
put_string(char *out, size_t *pos, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	if (out != NULL)
		out[*pos] = '"';
	(*pos)++;
	for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++) {
		char esc[6] = {'\\', 'u', '0', '0', hex[*c >> 4], hex[*c & 15]};
		size_t n = 1;

		if (*c == '"' || *c == '\\') {
			esc[1] = (char)*c;
			n = 2;
		} else if (*c < 0x20)
			n = 6;
		if (out != NULL) {
			if (n == 1)
				out[*pos] = (char)*c;
			else
				memcpy(out + *pos, esc, n);
		}
		*pos += n;
	}
	if (out != NULL)
		out[*pos] = '"';
	(*pos)++;
}

static void
put_raw(char *out, size_t *pos, const char *s)
{
	size_t n = strlen(s);

	if (out != NULL)
		memcpy(out + *pos, s, n); /* NOLINT(bugprone-not-null-terminated-result) */
	*pos += n;
}

/* Writes the document into out (NULL: only measures); returns its length. */
static size_t
render(char *out, const struct deliver_payload *p, const char *expires, const char *bearer)
{
	const char *const keys[] = {"workspace",     "slot",       "token",  "name", "access_key",
				    "access_secret", "expires_at", "bearer", NULL};
	const char *const vals[] = {p->workspace,  p->slot,          p->token, p->name,
				    p->access_key, p->access_secret, expires,  bearer};
	size_t pos = 0;

	put_raw(out, &pos, "{");
	for (size_t i = 0; keys[i] != NULL; i++) {
		put_raw(out, &pos, i == 0 ? "\"" : ", \"");
		put_raw(out, &pos, keys[i]);
		put_raw(out, &pos, "\": ");
		put_string(out, &pos, vals[i]);
	}
	if (p->test)
		put_raw(out, &pos, ", \"test\": true");
	put_raw(out, &pos, "}\n");
	return pos;
}

char *
deliver_json(const struct deliver_payload *p, size_t *len)
{
	char expires[TIMEFMT_MAX];
	char *bearer = mode_bearer(p->token, p->access_key, p->access_secret);
	char *out;

	timefmt_mode(p->expires_at, expires);
	*len = render(NULL, p, expires, bearer);
	out = xsecret_alloc(*len + 1);
	render(out, p, expires, bearer);
	out[*len] = '\0';
	xsecret_free(bearer);
	return out;
}

static int
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Resolves a user or group name (or number); returns 0, or -1 with *cause. */
static int
resolve_id(const char *what, const char *name, int group, unsigned *id, char **cause)
{
	char buf[4096], *end = NULL;
	unsigned long n;

	errno = 0;
	n = strtoul(name, &end, 10);
	if (errno == 0 && end != name && *end == '\0' && n <= UINT_MAX) {
		*id = (unsigned)n;
		return 0;
	}
	if (group) {
		struct group gr, *res = NULL;

		if (getgrnam_r(name, &gr, buf, sizeof buf, &res) == 0 && res != NULL) {
			*id = (unsigned)gr.gr_gid;
			return 0;
		}
	} else {
		struct passwd pw, *res = NULL;

		if (getpwnam_r(name, &pw, buf, sizeof buf, &res) == 0 && res != NULL) {
			*id = (unsigned)pw.pw_uid;
			return 0;
		}
	}
	*cause = xasprintf("%s '%s' does not exist on this host", what, name);
	return -1;
}

/* Where a file consumer's file goes. */
struct target {
	const char *path;  /* as the policy has it, for messages */
	const char *name;  /* its last component */
	int dir;           /* its directory, found without following a link; -1: none */
	unsigned uid, gid; /* to give it; (unsigned)-1 keeps ours */
};

/* Whether the directory at fd lets others make entries in it (a sticky one, as trust allows). */
static int
shared_dir(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)) != 0;
}

/*
 * Opens the directory of path, the file of consumer d, with trust_open_dir:
 * owned by root, us or d's owner (who may read the file anyway), and no
 * link on the way, so the file lands where the policy says and nowhere a
 * consumer points; and not one others may write in, even sticky.  Returns
 * 0, or -1 with *cause and t->dir -1.
 */
static int
target_open(const char *path, const struct policy_deliver *d, struct target *t, char **cause)
{
	const char *slash = strrchr(path, '/');
	char *dir, *why = NULL;
	int fd;

	t->path = path;
	t->name = slash != NULL ? slash + 1 : path;
	t->dir = -1;
	t->uid = t->gid = (unsigned)-1;
	if ((d->owner != NULL && resolve_id("owner", d->owner, 0, &t->uid, &why) < 0) ||
	    (d->group != NULL && resolve_id("group", d->group, 1, &t->gid, &why) < 0)) {
		*cause = xasprintf("deliver file %s: %s; create it, or give the consumer another "
				   "%s: in the policy",
				   path, why,
				   d->owner != NULL && t->uid == (unsigned)-1 ? "owner" : "group");
		free(why);
		return -1;
	}
	if (slash == NULL || strcmp(t->name, "") == 0 || strcmp(t->name, ".") == 0 ||
	    strcmp(t->name, "..") == 0) {
		*cause = xasprintf("deliver file %s: names a directory, not a file", path);
		return -1;
	}
	dir = xdirname(path);
	fd = trust_open_dir(dir, d->owner != NULL ? (uid_t)t->uid : TRUST_NOBODY, &why);
	if (fd >= 0 && shared_dir(fd)) {
		/* Allowed on the way, as /tmp: not as where the file is, by a name anyone may take.
		 */
		why = xasprintf("%s is writable by others (sticky, as /tmp is): anyone could take "
				"the file's name first; give the file a directory of its own",
				dir);
		close(fd);
		fd = -1;
	}
	if (fd == -1)
		*cause = xasprintf("deliver file %s: refused: %s", path, why);
	else if (fd < 0)
		*cause =
		    xasprintf("deliver file %s: cannot create a file beside it: %s", path, why);
	else
		t->dir = fd;
	free(dir);
	free(why);
	return fd < 0 ? -1 : 0;
}

/*
 * Refuses a directory where t's file goes, which no file renamed there can
 * replace: every delivery would fail at the rename, after the token was made.
 */
static int
target_free(const struct target *t, char **cause)
{
	struct stat st;

	if (fstatat(t->dir, t->name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	*cause = xasprintf("deliver file %s: a directory is there, which the file cannot "
			   "replace; give the consumer another path in the policy, or remove that "
			   "directory",
			   t->path);
	return -1;
}

/*
 * Writes json into a new temporary file beside t's (create_beside): written,
 * given its owner, synced and closed.  Returns its name in t's directory
 * (the caller frees it, and renames or removes the file), or NULL with
 * *cause and nothing left behind.
 */
static char *
write_beside(const struct target *t, const struct policy_deliver *d, const char *json, size_t len,
	     char **cause)
{
	char *tmp = NULL;
	int fd = outfile_create_beside(t->dir, t->name, &tmp), ok = 0;

	if (fd < 0) {
		*cause = xasprintf("deliver file %s: cannot create a file beside it: %s", t->path,
				   strerror(errno));
		goto out;
	}
	if (fchmod(fd, 0600) < 0 || write_all(fd, json, len) < 0 ||
	    ((d->owner != NULL || d->group != NULL) && fchown(fd, t->uid, t->gid) < 0) ||
	    fsync(fd) < 0) {
		*cause = xasprintf("deliver file %s: %s", t->path, strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		*cause = xasprintf("deliver file %s: %s", t->path, strerror(errno));
		goto out;
	}
	fd = -1;
	ok = 1;
out:
	if (fd >= 0)
		close(fd);
	if (!ok && tmp != NULL) {
		unlinkat(t->dir, tmp, 0);
		FREE_NULL(&tmp);
	}
	return tmp;
}

/*
 * Writes json to path atomically: a temporary file beside it (write_beside)
 * renamed over path, both through the directory's descriptor, then the
 * directory synced.  A reader sees the old file or the new one, whole,
 * never a part.  Rehearsing stops short of the rename: the temporary file is
 * removed and path is left as it was.  Returns 0, DELIVER_HELD (renamed, the
 * directory not synced) or -1, with *cause.
 */
static int
deliver_file(const char *path, const struct policy_deliver *d, const char *json, size_t len,
	     int rehearse, char **cause)
{
	struct target t;
	char *tmp = NULL;
	int rc = -1;

	if (target_open(path, d, &t, cause) < 0 || target_free(&t, cause) < 0)
		goto out;
	tmp = write_beside(&t, d, json, len, cause);
	if (tmp == NULL)
		goto out;
	if (rehearse) {
		if (unlinkat(t.dir, tmp, 0) < 0) {
			*cause = xasprintf(
			    "deliver file %s: cannot remove the rehearsal file %.*s%s: %s", path,
			    (int)(t.name - path), path, tmp, strerror(errno));
			goto out;
		}
		rc = 0;
		goto out;
	}
	ops_crash_point("before-rename");
	if (renameat(t.dir, tmp, t.dir, t.name) < 0) {
		*cause = xasprintf("deliver file %s: %s", path, strerror(errno));
		unlinkat(t.dir, tmp, 0);
		goto out;
	}
	if (fsync(t.dir) < 0) {
		*cause = xasprintf("deliver file %s: written, but its directory did not sync: %s",
				   path, strerror(errno));
		rc = DELIVER_HELD;
		goto out;
	}
	rc = 0;
out:
	if (t.dir >= 0)
		close(t.dir);
	free(tmp);
	return rc;
}

/* A consumer's output, kept to its last DELIVER_STDERR_TAIL bytes in sodium memory. */
struct tail {
	char *buf;
	size_t len;
	int cut; /* its beginning was dropped */
};

/* Appends n (at most DELIVER_STDERR_TAIL) bytes, dropping the oldest. */
static void
tail_add(struct tail *t, const char *s, size_t n)
{
	if (t->len + n > DELIVER_STDERR_TAIL) {
		size_t drop = t->len + n - DELIVER_STDERR_TAIL;

		memmove(t->buf, t->buf + drop, t->len - drop);
		t->len -= drop;
		t->cut = 1;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
}

/*
 * Raises reach[i] to the end of the longest run of buf starting at i that
 * secret (n bytes) also holds, when that run is DELIVER_MASK_MIN bytes or
 * more (or all of secret, when it is shorter).  run[j] is the length of the
 * run buf[i..] and secret[j..] share, built from the end of buf backwards.
 */
static void
mark_runs(const char *buf, size_t len, const char *secret, size_t n, size_t *reach)
{
	size_t least = n < DELIVER_MASK_MIN ? n : DELIVER_MASK_MIN;
	size_t *run = xcalloc(n + 1, sizeof *run), *next = xcalloc(n + 1, sizeof *next);

	for (size_t i = len; i-- > 0;) {
		size_t best = 0, *swap;

		for (size_t j = 0; j < n; j++) {
			run[j] = buf[i] == secret[j] ? next[j + 1] + 1 : 0;
			if (run[j] > best)
				best = run[j];
		}
		if (best >= least && i + best > reach[i])
			reach[i] = i + best;
		swap = run;
		run = next;
		next = swap;
	}
	free(run);
	free(next);
}

/*
 * Marks in reach the runs of secret in buf (mark_runs) and, when buf's
 * beginning was cut off, the end of secret it begins with, however short:
 * the cut may have left any piece of it.
 */
static void
mark(const char *buf, size_t len, const char *secret, int cut, size_t *reach)
{
	size_t n = secret != NULL ? strlen(secret) : 0;

	if (n == 0 || len == 0)
		return;
	mark_runs(buf, len, secret, n, reach);
	for (size_t k = n < len ? n : len; cut && k > 0; k--)
		if (memcmp(buf, secret + n - k, k) == 0) {
			if (k > reach[0])
				reach[0] = k;
			break;
		}
}

/* Blots out what mark marks for p's credentials; see deliver_mask. */
static void
mask(char *buf, size_t len, const struct deliver_payload *p, int cut)
{
	char *bearer = mode_bearer(p->token, p->access_key, p->access_secret);
	size_t *reach = xcalloc(len + 1, sizeof *reach), end = 0;

	/* Every run is found in buf as it was, before any is blotted. */
	mark(buf, len, p->access_secret, cut, reach);
	mark(buf, len, p->access_key, cut, reach);
	mark(buf, len, bearer, cut, reach);
	xsecret_free(bearer);
	for (size_t i = 0; i < len; i++) {
		if (reach[i] > end)
			end = reach[i];
		if (i < end)
			buf[i] = '*';
	}
	free(reach);
}

void
deliver_mask(char *buf, size_t len, const struct deliver_payload *p)
{
	mask(buf, len, p, 0);
}

/*
 * The tail as one line for the log: credentials blotted out, each byte of
 * what a terminal would not show as itself (jsonx_utf8_shown: a control
 * character, a bidirectional one, invalid UTF-8) made ' ' (a newline '|').
 * NULL when the consumer said nothing.
 */
static char *
tail_text(struct tail *t, const struct deliver_payload *p)
{
	mask(t->buf, t->len, p, t->cut);
	for (size_t i = 0; i + 1 < t->len; i++)
		if (t->buf[i] == '\n')
			t->buf[i] = '|';
	jsonx_blank(t->buf, t->len, ' ');
	while (t->len > 0 && t->buf[t->len - 1] == ' ')
		t->len--;
	return t->len > 0 ? xstrndup(t->buf, t->len) : NULL;
}

/* spawn_converse's sink: the consumer's output into its tail. */
static void
tail_sink(const char *buf, size_t n, void *arg)
{
	tail_add(arg, buf, n);
}

/*
 * Whether program may be handed a token: nobody but root and us can change
 * it (core/trust.h).  Returns 0, or -1 with *cause; nothing is run then.
 */
static int
program_trusted(const char *program, char **cause)
{
	char *why = NULL;
	int rc = trust_program(program, &why);

	if (rc == TRUST_MISSING)
		*cause = xasprintf("deliver exec %s: cannot run it (missing, or not executable)",
				   program);
	else if (rc < 0)
		*cause = xasprintf("deliver exec %s: refused: %s", program, why);
	free(why);
	return rc < 0 ? -1 : 0;
}

/*
 * Runs the consumer argv with json on its standard input.  What it printed
 * goes to *output when it fails (deliver_one), never into *cause.
 */
static int
deliver_exec(const struct policy_slot *s, const struct policy_deliver *d,
	     const struct deliver_payload *p, const char *json, size_t len, char **cause,
	     char **output)
{
	char **argv = xcalloc(d->argc + 1, sizeof *argv);
	char *envp[6] = {NULL};
	struct tail t = {xsecret_alloc(DELIVER_STDERR_TAIL), 0, 0};
	int in[2] = {-1, -1}, out[2] = {-1, -1};
	int64_t deadline = spawn_now_ms() + d->timeout * 1000;
	int status, timed_out = 0, rc = -1;
	pid_t pid;

	for (size_t i = 0; i < d->argc; i++)
		argv[i] = policy_render_target(s, d->argv[i]);
	/* Names only, never a secret: the JSON on standard input carries those. */
	envp[0] = xstrdup("PATH=/usr/local/bin:/usr/bin:/bin");
	envp[1] = xstrdup("LC_ALL=C");
	envp[2] = xasprintf("TOKENWARDEN_WORKSPACE=%s", p->workspace);
	envp[3] = xasprintf("TOKENWARDEN_SLOT=%s", p->slot);
	envp[4] = xasprintf("TOKENWARDEN_TOKEN=%s", p->token);
	/* Checked again here, whatever policy check said: it may have changed since. */
	if (program_trusted(argv[0], cause) < 0)
		goto out;
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		*cause = xasprintf("deliver exec %s: %s", argv[0], strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		*cause = xasprintf("deliver exec %s: cannot fork: %s", argv[0], strerror(errno));
		goto out;
	}
	if (pid == 0)
		spawn_exec(in[0], out[1], out[1], argv, envp, SPAWN_GROUP);
	close(in[0]);
	close(out[1]);
	in[0] = out[1] = -1;
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	if (spawn_converse(pid, in[1], out[0], json, len, deadline, tail_sink, &t) < 0)
		timed_out = 1;
	in[1] = -1;
	status = spawn_reap(pid, timed_out ? spawn_now_ms() : deadline, &timed_out);
	if (timed_out)
		*cause = xasprintf("deliver exec %s: no answer within %llds; killed", argv[0],
				   (long long)d->timeout);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		rc = 0;
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		*cause = xasprintf("deliver exec %s: cannot run it (missing, or not executable)",
				   argv[0]);
	else if (WIFEXITED(status))
		*cause = xasprintf("deliver exec %s: exit status %d", argv[0], WEXITSTATUS(status));
	else
		*cause = xasprintf("deliver exec %s: killed by signal %d", argv[0],
				   WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	/* Its output may hold pieces of the token too short to blot: the log's, nobody else's. */
	if (rc < 0 && output != NULL)
		*output = tail_text(&t, p);
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	for (size_t i = 0; i < d->argc; i++)
		free(argv[i]);
	free(argv);
	for (size_t i = 0; envp[i] != NULL; i++)
		free(envp[i]);
	xsecret_free(t.buf);
	return rc;
}

/* Delivers p to d, or rehearses it: everything but replacing a file. */
static int
deliver(const struct policy_slot *s, const struct policy_deliver *d,
	const struct deliver_payload *p, int rehearse, char **cause, char **output)
{
	size_t len;
	char *json, *path = NULL;
	int rc;

	if (output != NULL)
		*output = NULL;
	json = deliver_json(p, &len);
	if (d->kind == DELIVER_FILE) {
		path = policy_render_target(s, d->path);
		rc = deliver_file(path, d, json, len, rehearse, cause);
	} else
		rc = deliver_exec(s, d, p, json, len, cause, output);
	free(path);
	xsecret_free(json);
	return rc;
}

int
deliver_one(const struct policy_slot *s, const struct policy_deliver *d,
	    const struct deliver_payload *p, char **cause, char **output)
{
	if (output != NULL)
		*output = NULL;
	if (p->test) {
		*cause =
		    xstrdup("deliver: refused, a test payload must never replace real credentials");
		return -1;
	}
	return deliver(s, d, p, 0, cause, output);
}

int
deliver_rehearse(const struct policy_slot *s, const struct policy_deliver *d,
		 const struct deliver_payload *p, char **cause, char **output)
{
	if (output != NULL)
		*output = NULL;
	if (!p->test) {
		*cause = xstrdup("deliver rehearsal: refused, the payload is not marked as a test");
		return -1;
	}
	return deliver(s, d, p, 1, cause, output);
}

/* Whether this process may create and rename a file in dir (t's); 0, or -1 with *cause. */
static int
dir_writable(const struct target *t, const char *path, char **cause)
{
	struct stat st;
	char *dir, *me, *owner;

	/* As the delivery finds it: root may write in a directory without a write bit. */
	if (faccessat(t->dir, ".", W_OK | X_OK, AT_EACCESS) == 0)
		return 0;
	if (fstat(t->dir, &st) < 0) {
		*cause = xasprintf("deliver file %s: cannot examine its directory: %s", path,
				   strerror(errno));
		return -1;
	}
	dir = xstrndup(path, (size_t)(strrchr(path, '/') - path));
	me = trust_user_name(geteuid());
	owner = trust_user_name(st.st_uid);
	*cause = xasprintf("deliver file %s: %s cannot create a file in %s (owner %s, mode %04o); "
			   "run: chmod u+w %s, or give it to %s",
			   path, me, dir[0] != '\0' ? dir : "/", owner,
			   (unsigned)(st.st_mode & 07777), dir[0] != '\0' ? dir : "/", me);
	free(dir);
	free(me);
	free(owner);
	return -1;
}

int
deliver_check(const struct policy_slot *s, const struct policy_deliver *d, char **cause)
{
	struct target t;
	char *path;
	int rc;

	if (d->kind == DELIVER_EXEC) {
		path = policy_render_target(s, d->argv[0]);
		rc = program_trusted(path, cause);
	} else {
		path = policy_render_target(s, d->path);
		rc = target_open(path, d, &t, cause);
		if (rc == 0)
			rc = target_free(&t, cause);
		if (rc == 0)
			rc = dir_writable(&t, path, cause);
		if (t.dir >= 0)
			close(t.dir);
	}
	free(path);
	return rc;
}

int
deliver_sweep(const struct policy_slot *s, const struct policy_deliver *d)
{
	struct target t;
	char *path, *cause = NULL;
	int removed = -1;

	if (d->kind != DELIVER_FILE)
		return 0;
	path = policy_render_target(s, d->path);
	if (target_open(path, d, &t, &cause) == 0) {
		removed = outfile_sweep_beside(t.dir, t.name);
		close(t.dir);
	}
	free(cause);
	free(path);
	return removed;
}

/* Reports program, slot s's consumer c, in d unless nobody but root and us can change it. */
static void
check_program(const struct policy_slot *s, const struct policy_deliver *c, const char *program,
	      struct diag_list *d)
{
	char *why = NULL, *slot;
	int rc = trust_program(program, &why);

	/* A program made from placeholders says which slot's it is. */
	slot = strchr(c->argv[0], '{') != NULL ? xasprintf(" (slot %s/%s)", s->ws->name, s->name)
					       : xstrdup("");
	/* Missing is for the run to find: the policy may be checked on another host. */
	if (rc == -1)
		diag_add(d, DIAG_ERROR, c->line, c->col,
			 "deliver exec program %s%s: others could change it, and it is handed "
			 "each new token: %s",
			 program, slot, why);
	else if (rc == TRUST_UNCHECKED)
		diag_add(d, DIAG_WARNING, c->line, c->col,
			 "deliver exec program %s%s: cannot tell who may change it (%s); check "
			 "as the user tokenwarden runs as",
			 program, slot, why);
	free(slot);
	free(why);
}

void
deliver_check_programs(const struct policy *p, struct diag_list *d)
{
	/* Each consumer's program once: every slot that inherits a consumer shares it. */
	const struct policy_deliver **of = NULL;
	char **checked = NULL;
	size_t n = 0;

	for (size_t i = 0; i < p->nslots; i++) {
		const struct policy_slot *s = p->slots[i];

		for (size_t k = 0; k < s->eff.ndeliver; k++) {
			const struct policy_deliver *c = &s->eff.deliver[k];
			char *program;
			size_t j;

			if (c->kind != DELIVER_EXEC)
				continue;
			program = policy_render_target(s, c->argv[0]);
			for (j = 0; j < n && (of[j] != c || strcmp(checked[j], program) != 0); j++)
				;
			if (j < n) {
				free(program);
				continue;
			}
			check_program(s, c, program, d);
			checked = xrealloc(checked, (n + 1) * sizeof *checked);
			of = xrealloc(of, (n + 1) * sizeof *of);
			checked[n] = program;
			of[n++] = c;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(checked[i]);
	free(checked);
	free(of);
	diag_sort(d);
}

/*
 * The hex of a 128-bit BLAKE2b naming consumer d: within slot s, its path
 * filled and a program's slot with it (deliver_holder); as the policy
 * writes it when s is NULL (deliver_fingerprint).
 */
static void
consumer_hash(const struct policy_slot *s, const struct policy_deliver *d,
	      char out[DELIVER_FINGERPRINT_MAX])
{
	crypto_generichash_state h;
	unsigned char sum[(DELIVER_FINGERPRINT_MAX - 1) / 2];

	crypto_generichash_init(&h, NULL, 0, sizeof sum);
	if (d->kind == DELIVER_FILE) {
		char *path = s != NULL ? policy_render_target(s, d->path) : NULL;

		if (path != NULL)
			policy_path_lexical(path);
		fieldhash_text(&h, "file");
		fieldhash_text(&h, path != NULL ? path : d->path);
		free(path);
	} else {
		fieldhash_text(&h, "exec");
		if (s != NULL) {
			fieldhash_text(&h, s->ws->name);
			fieldhash_text(&h, s->name);
		}
		for (size_t i = 0; i < d->argc; i++)
			fieldhash_text(&h, d->argv[i]);
	}
	crypto_generichash_final(&h, sum, sizeof sum);
	sodium_bin2hex(out, DELIVER_FINGERPRINT_MAX, sum, sizeof sum);
}

void
deliver_fingerprint(const struct policy_deliver *d, char out[DELIVER_FINGERPRINT_MAX])
{
	consumer_hash(NULL, d, out);
}

void
deliver_holder(const struct policy_slot *s, const struct policy_deliver *d,
	       char out[DELIVER_FINGERPRINT_MAX])
{
	consumer_hash(s, d, out);
}

char *
deliver_given(const struct policy_deliver *d)
{
	if (d->kind != DELIVER_FILE)
		return NULL;
	return xstrjoin(d->owner != NULL ? d->owner : "", ":", d->group != NULL ? d->group : "");
}

int
deliver_given_is(const struct policy_deliver *d, const char *given)
{
	const char *owner = d->owner != NULL ? d->owner : "";
	const char *group = d->group != NULL ? d->group : "";
	size_t n = strlen(owner);

	if (given == NULL || d->kind != DELIVER_FILE)
		return 1;
	return strncmp(given, owner, n) == 0 && given[n] == ':' &&
	       strcmp(given + n + 1, group) == 0;
}

int
deliver_among(const char *fingerprints, const struct policy_deliver *d)
{
	char fp[DELIVER_FINGERPRINT_MAX];
	size_t len = strlen(fingerprints);

	deliver_fingerprint(d, fp);
	for (size_t at = 0; at + DELIVER_FINGERPRINT_MAX <= len; at += DELIVER_FINGERPRINT_MAX)
		if (memcmp(fingerprints + at, fp, DELIVER_FINGERPRINT_MAX - 1) == 0)
			return 1;
	return 0;
}
