/* Whether anyone but root and us could change what a consumer depends on; see trust.h. */
#define _GNU_SOURCE /* O_PATH: a directory on the way needs searching, not reading */
#include "core/trust.h"

#include "core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Symbolic links followed on the way to a program before giving up, as the kernel's 40. */
#define MAX_LINKS 40

char *
trust_user_name(uid_t uid)
{
	char buf[4096];
	struct passwd pw, *res = NULL;

	if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res != NULL)
		return xstrdup(pw.pw_name);
	return xasprintf("uid %u", (unsigned)uid);
}

char *
trust_owned_by_other(const char *path, uid_t owner)
{
	char *name = trust_user_name(owner), *me = trust_user_name(geteuid()), *out;

	out = xasprintf("%s: owned by %s, not by %s%s", path, name, geteuid() == 0 ? "root" : me,
			geteuid() == 0 ? "" : " or root");
	free(name);
	free(me);
	return out;
}

/* A user name as useradd and Samba make them, so an odd environment cannot inject text. */
static int
plausible_login(const char *name)
{
	size_t n = name != NULL ? strlen(name) : 0;

	if (n == 0 || n > 64 || name[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
		    strchr("._@$-", c) == NULL)
			return 0;
	}
	return 1;
}

char *
trust_claimed_login(const char **from)
{
	const char *sudo = getenv("SUDO_USER"), *name = sudo, *src = "SUDO_USER";
	char *me = NULL, *out = NULL;

	if (name == NULL || name[0] == '\0') {
		name = getlogin();
		src = "getlogin";
	}
	if (!plausible_login(name))
		return NULL;
	me = trust_user_name(geteuid());
	if (strcmp(me, name) != 0) {
		out = xstrdup(name);
		*from = src;
	}
	free(me);
	return out;
}

/* Whether uid may own what a consumer depends on: root, us, or `also` (unless TRUST_NOBODY). */
static int
trusted_owner(uid_t uid, uid_t also)
{
	return uid == 0 || uid == geteuid() || (also != TRUST_NOBODY && uid == also);
}

/* Says who may own it: "root", "root or NAME" and so on. */
static char *
trusted_names(uid_t also)
{
	char *me = geteuid() != 0 ? trust_user_name(geteuid()) : NULL;
	char *other =
	    also != TRUST_NOBODY && also != 0 && also != geteuid() ? trust_user_name(also) : NULL;
	char *out = xasprintf("root%s%s%s%s%s", me != NULL ? " or " : "", me != NULL ? me : "",
			      other != NULL ? " or " : "", other != NULL ? other : "",
			      other != NULL ? " (the file's owner)" : "");

	free(me);
	free(other);
	return out;
}

/*
 * Says why someone other than root, us or `also` could change path (st,
 * from lstat or fstat); NULL when nobody could.  A symbolic link's own
 * mode means nothing, but in a sticky directory its owner may replace it.
 */
static char *
untrusted(const char *path, const struct stat *st, uid_t also)
{
	mode_t mode = st->st_mode & 07777;
	char *owner, *names, *out;

	if (!trusted_owner(st->st_uid, also)) {
		owner = trust_user_name(st->st_uid);
		names = trusted_names(also);
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
	*cause = untrusted("/", &st, TRUST_NOBODY);
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
	*cause = untrusted(path, &st, TRUST_NOBODY);
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

/* Scripts in a row, each the interpreter of the one before, as many as execve(2) runs. */
#define SCRIPTS_MAX 5

/*
 * The interpreter the "#!" line of the file at path names, read as
 * execve(2) reads it (its first 256 bytes): NULL when the file is no script,
 * or cannot be read, when it is no script this user can run either.
 */
static char *
interpreter_of(const char *path)
{
	char buf[256];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	size_t start, end;

	if (fd >= 0)
		close(fd);
	if (n < 2 || buf[0] != '#' || buf[1] != '!')
		return NULL;
	buf[n] = '\0';
	start = 2 + strspn(buf + 2, " \t");
	end = start + strcspn(buf + start, " \t\n");
	return xstrndup(buf + start, end - start);
}

static int check_program(const char *program, int depth, char **cause);

/*
 * The interpreter of the script at program (found trusted), checked as a
 * program: execve runs it, with what the script gets.  Returns as
 * trust_program.
 */
static int
check_interpreter(const char *program, int depth, char **cause)
{
	char *interp = interpreter_of(program), *why = NULL;
	int rc = 0;

	if (interp == NULL || interp[0] == '\0')
		goto out;
	if (interp[0] != '/') {
		*cause = xasprintf("%s names the interpreter %s, not an absolute path; give its "
				   "full path on the #! line",
				   program, interp);
		rc = -1;
	} else if (depth >= SCRIPTS_MAX) {
		*cause = xasprintf("%s: more than %d scripts in a row, each the interpreter of the "
				   "one before: execve refuses it",
				   program, SCRIPTS_MAX);
		rc = -1;
	} else {
		rc = check_program(interp, depth + 1, &why);
		if (rc != 0)
			*cause = xasprintf("%s runs the interpreter %s (its #! line): %s", program,
					   interp, why);
	}
out:
	free(why);
	free(interp);
	return rc;
}

int
trust_program(const char *program, char **cause)
{
	return check_program(program, 0, cause);
}

/* trust_program, for a program that is the interpreter of depth scripts. */
static int
check_program(const char *program, int depth, char **cause)
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
	if (rc == 0)
		rc = check_interpreter(program, depth, cause);
out:
	free(done);
	free(rest_buf);
	return rc;
}

/*
 * Opens the entry c of the directory at fd (named `path`) as a directory,
 * not following a link, and checks it.  Returns its descriptor (O_PATH), or
 * an error of trust_open_dir with *cause.
 */
static int
open_step(int fd, const char *path, const char *c, uid_t also, char **cause)
{
	struct stat st;
	int next = openat(fd, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), err = errno;

	if (next < 0) {
		if (fstatat(fd, c, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
			*cause = xasprintf("%s is a symbolic link; a delivery target's directories "
					   "are opened without following links: name the "
					   "directory itself",
					   path);
			return -1;
		}
		*cause = xasprintf("%s: %s", path, strerror(err));
		return err == ENOENT ? TRUST_MISSING : TRUST_UNCHECKED;
	}
	if (fstat(next, &st) < 0) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		close(next);
		return TRUST_UNCHECKED;
	}
	*cause = untrusted(path, &st, also);
	if (*cause != NULL) {
		close(next);
		return -1;
	}
	return next;
}

int
trust_open_dir(const char *dir, uid_t also, char **cause)
{
	char *path = xstrdup(""), *c = NULL, *longer;
	const char *rest = dir;
	struct stat st;
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), next = -1;

	if (dir[0] != '/' || fd < 0 || fstat(fd, &st) < 0) {
		*cause = dir[0] != '/' ? xasprintf("%s is not an absolute path", dir)
				       : xasprintf("/: %s", strerror(errno));
		next = dir[0] != '/' ? -1 : TRUST_UNCHECKED;
		goto out;
	}
	*cause = untrusted("/", &st, also);
	next = *cause != NULL ? -1 : 0;
	while (next >= 0) {
		c = next_component(&rest);
		if (c == NULL)
			break;
		longer = xasprintf("%s/%s", path, c);
		free(path);
		path = longer;
		/* ".." is the parent the kernel knows, found without a link: checked again. */
		if (strcmp(c, ".") != 0) {
			next = open_step(fd, path, c, also, cause);
			if (next >= 0) {
				close(fd);
				fd = next;
			}
		}
		FREE_NULL(&c);
	}
	if (next >= 0) {
		/* Read, not only searched: its new entry is synced through it. */
		next = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (next < 0) {
			*cause = xasprintf("%s: %s", dir, strerror(errno));
			next = TRUST_UNCHECKED;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	free(path);
	free(c);
	return next;
}
