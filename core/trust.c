/* Whether anyone but root and us could change what a consumer depends on; see trust.h. */
#include "core/trust.h"

#include "core/xalloc.h"

#include <errno.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Symbolic links followed on the way to a program before giving up, as the kernel's 40. */
#define MAX_LINKS 40

/* Returns the user's name, or "uid N"; the caller frees it. */
static char *
user_name(uid_t uid)
{
	char buf[4096];
	struct passwd pw, *res = NULL;

	if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res != NULL)
		return xstrdup(pw.pw_name);
	return xasprintf("uid %u", (unsigned)uid);
}

/* Says who may own it: "root", or "root or NAME" when we run as someone else. */
static char *
trusted_names(void)
{
	char *me, *out;

	if (geteuid() == 0)
		return xstrdup("root");
	me = user_name(geteuid());
	out = xasprintf("root or %s", me);
	free(me);
	return out;
}

/*
 * Says why someone other than root or us could change path (st, from
 * lstat); NULL when nobody could.  A symbolic link's own mode means
 * nothing, but in a sticky directory its owner may replace it.
 */
static char *
untrusted(const char *path, const struct stat *st)
{
	mode_t mode = st->st_mode & 07777;
	char *owner, *names, *out;

	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		owner = user_name(st->st_uid);
		names = trusted_names();
		out = xasprintf("%s is %sowned by %s, not %s; run: chown%s root %s", path,
				S_ISLNK(st->st_mode) ? "a symbolic link " : "", owner, names,
				S_ISLNK(st->st_mode) ? " -h" : "", path);
		free(owner);
		free(names);
		return out;
	}
	if (S_ISLNK(st->st_mode) || (mode & 022) == 0)
		return NULL;
	/* Sticky: only an entry's owner may rename or remove it, and root owns the directory. */
	if (S_ISDIR(st->st_mode) && (mode & S_ISVTX) != 0 && st->st_uid == 0)
		return NULL;
	return xasprintf(
	    "%s is writable by group or others (mode %04o)%s; run: chmod go-w %s", path,
	    (unsigned)mode,
	    (mode & S_ISVTX) != 0 && S_ISDIR(st->st_mode) ? " and not owned by root" : "", path);
}

/* Splits the first component off *rest (leading slashes skipped); NULL when none is left. */
static char *
next_component(const char **rest)
{
	const char *s = *rest, *end;

	while (*s == '/')
		s++;
	if (*s == '\0') {
		*rest = s;
		return NULL;
	}
	end = strchr(s, '/');
	if (end == NULL)
		end = s + strlen(s);
	*rest = end;
	return xstrndup(s, (size_t)(end - s));
}

/* Whether rest holds no component but empty ones. */
static int
at_end(const char *rest)
{
	return rest[strspn(rest, "/")] == '\0';
}

/* Returns the target of the symbolic link at path (st from lstat), or NULL with errno. */
static char *
link_target(const char *path, const struct stat *st)
{
	size_t size = st->st_size > 0 ? (size_t)st->st_size + 1 : 256;

	for (;;) {
		char *buf = xmalloc(size);
		ssize_t n = readlink(path, buf, size);

		if (n < 0) {
			free(buf);
			return NULL;
		}
		if ((size_t)n < size) {
			buf[n] = '\0';
			return buf;
		}
		free(buf);
		size *= 2;
	}
}

/* Checks what the directory `/` is, as the first step of every walk. */
static int
check_root(char **cause)
{
	struct stat st;

	if (lstat("/", &st) < 0) {
		*cause = xasprintf("cannot check /: %s", strerror(errno));
		return TRUST_UNCHECKED;
	}
	*cause = untrusted("/", &st);
	return *cause == NULL ? 0 : -1;
}

/*
 * One step of the walk: the entry c of the checked directory *done, with
 * *rest left after it.  A directory becomes *done; a link is spliced into
 * *rest (*rest_buf owns it).  Returns 1 to go on, 0 at the program, or an
 * error of trust_program with *cause.
 */
static int
step(char **done, const char **rest, char **rest_buf, const char *c, int *links, char **cause)
{
	char *path = xasprintf("%s/%s", *done, c), *target, *spliced;
	struct stat st;
	int rc = 1;

	if (lstat(path, &st) < 0) {
		rc = errno == ENOENT ? TRUST_MISSING : TRUST_UNCHECKED;
		*cause = errno == ENOENT ? xasprintf("%s does not exist", path)
					 : xasprintf("cannot check %s: %s", path, strerror(errno));
		goto out;
	}
	*cause = untrusted(path, &st);
	if (*cause != NULL) {
		rc = -1;
		goto out;
	}
	if (S_ISLNK(st.st_mode)) {
		target = ++*links > MAX_LINKS ? NULL : link_target(path, &st);
		if (target == NULL) {
			rc = TRUST_UNCHECKED;
			*cause =
			    *links > MAX_LINKS
				? xasprintf("%s: too many symbolic links on the way", path)
				: xasprintf("cannot read the link %s: %s", path, strerror(errno));
			goto out;
		}
		/* Its target is resolved from its own directory, or from / when absolute. */
		spliced = xasprintf("%s/%s", target, *rest);
		if (target[0] == '/')
			(*done)[0] = '\0';
		free(target);
		free(*rest_buf);
		*rest_buf = spliced;
		*rest = spliced;
		goto out;
	}
	if (at_end(*rest)) {
		rc = 0;
		if (!S_ISREG(st.st_mode)) {
			rc = -1;
			*cause = xasprintf("%s is not a regular file", path);
		}
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		rc = TRUST_UNCHECKED;
		*cause = xasprintf("%s is not a directory", path);
		goto out;
	}
	free(*done);
	*done = path;
	path = NULL;
out:
	free(path);
	return rc;
}

int
trust_program(const char *program, char **cause)
{
	char *done = xstrdup(""), *rest_buf = xstrdup(program), *c = NULL;
	const char *rest = rest_buf;
	int links = 0, found = 0, rc = -1;

	if (program[0] != '/') {
		*cause = xasprintf("%s is not an absolute path", program);
		goto out;
	}
	rc = check_root(cause);
	while (rc == 0 && !found) {
		c = next_component(&rest);
		if (c == NULL) {
			rc = -1;
			*cause = xasprintf("%s names no file", program);
		} else if (strcmp(c, "..") == 0) {
			/* done is made of real directories, each checked: its parent is one. */
			char *slash = strrchr(done, '/');

			if (slash != NULL)
				*slash = '\0';
		} else if (strcmp(c, ".") != 0) {
			int r = step(&done, &rest, &rest_buf, c, &links, cause);

			found = r == 0;
			rc = r < 0 ? r : 0;
		}
		FREE_NULL(&c);
	}
out:
	free(done);
	free(rest_buf);
	return rc;
}
