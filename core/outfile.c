/* Whole-file output; see outfile.h. */
#include "core/outfile.h"

#include "core/xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 64 characters: a random byte's low six bits pick one without bias. */
static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#define SUFFIX_LEN 6
/* What of name a temporary file's name keeps: "." and ".tw-XXXXXX" around it fit NAME_MAX. */
#define NAME_KEPT (NAME_MAX - 5 - SUFFIX_LEN)

int
outfile_create_beside(int dir, const char *name, char **tmp)
{
	int fd = -1, err = EEXIST;

	for (int tries = 0; tries < 100 && err == EEXIST; tries++) {
		unsigned char rnd[SUFFIX_LEN];
		char suffix[sizeof rnd + 1];

		/* One draw a name: each is a system call. */
		randombytes_buf(rnd, sizeof rnd);
		for (size_t i = 0; i < sizeof rnd; i++)
			suffix[i] = chars[rnd[i] & 63];
		suffix[sizeof rnd] = '\0';
		*tmp = xasprintf(".%.*s.tw-%s", NAME_KEPT, name, suffix);
		fd = openat(dir, *tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
		err = errno;
		FREE_NULL(tmp);
	}
	errno = err;
	return -1;
}

/* Whether entry is a name outfile_create_beside gives a file beside name. */
static int
made_beside(const char *entry, const char *name)
{
	size_t n = strlen(name) < NAME_KEPT ? strlen(name) : NAME_KEPT;

	return entry[0] == '.' && strncmp(entry + 1, name, n) == 0 &&
	       strncmp(entry + 1 + n, ".tw-", 4) == 0 && strlen(entry + n + 5) == SUFFIX_LEN &&
	       strspn(entry + n + 5, chars) == SUFFIX_LEN;
}

int
outfile_sweep_beside(int dir, const char *name)
{
	int fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), removed = 0, failed = 0;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	struct stat st;

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		if (!made_beside(e->d_name, name) ||
		    fstatat(dir, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (unlinkat(dir, e->d_name, 0) == 0)
			removed++;
		else if (errno != ENOENT)
			failed = 1;
	}
	closedir(d);
	return failed ? -1 : removed;
}

/* What st is, for a message: it is not a regular file. */
static const char *
kind_of(const struct stat *st)
{
	if (S_ISLNK(st->st_mode))
		return "a symbolic link";
	if (S_ISCHR(st->st_mode))
		return "a character device";
	if (S_ISBLK(st->st_mode))
		return "a block device";
	if (S_ISFIFO(st->st_mode))
		return "a FIFO";
	if (S_ISSOCK(st->st_mode))
		return "a socket";
	return "not a regular file";
}

int
outfile_replaceable(int dir, const char *name, const char *path, char **cause)
{
	struct stat st;

	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISREG(st.st_mode))
		return 0;
	if (S_ISDIR(st.st_mode))
		*cause = xasprintf("%s: names a directory; give a file's path", path);
	else
		*cause = xasprintf("%s: is %s, which the new file would replace, not write "
				   "through; give a regular file's path",
				   path, kind_of(&st));
	return -1;
}

int
outfile_open(struct outfile *o, const char *path, mode_t mode, char **cause)
{
	const char *slash;
	char *dir;
	int fd;

	*o = (struct outfile){.f = stdout, .dir = -1};
	if (path == NULL || strcmp(path, "-") == 0)
		return 0;
	slash = strrchr(path, '/');
	o->path = path;
	o->name = slash != NULL ? slash + 1 : path;
	if (strcmp(o->name, "") == 0 || strcmp(o->name, ".") == 0 || strcmp(o->name, "..") == 0) {
		*cause = xasprintf("%s: names a directory; give a file's path", path);
		return -1;
	}
	dir = xdirname(path);
	o->dir = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (o->dir < 0) {
		*cause =
		    xasprintf("%s: cannot open its directory %s: %s", path, dir, strerror(errno));
		free(dir);
		return -1;
	}
	free(dir);
	if (outfile_replaceable(o->dir, o->name, path, cause) < 0) {
		close(o->dir);
		o->dir = -1;
		return -1;
	}
	fd = outfile_create_beside(o->dir, o->name, &o->tmp);
	if (fd < 0) {
		*cause = xasprintf("%s: cannot create a file beside it: %s", path, strerror(errno));
		close(o->dir);
		o->dir = -1;
		return -1;
	}
	if (fchmod(fd, mode) < 0 || (o->f = fdopen(fd, "w")) == NULL) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		close(fd);
		o->f = NULL;
		outfile_abort(o);
		return -1;
	}
	return 0;
}

int
outfile_commit(struct outfile *o, char **cause)
{
	int err = 0;

	if (o->dir < 0) {
		if (fflush(stdout) != 0 || ferror(stdout)) {
			*cause = xasprintf("standard output: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	errno = 0;
	if (fflush(o->f) != 0 || ferror(o->f) || fsync(fileno(o->f)) < 0)
		err = errno != 0 ? errno : EIO;
	if (fclose(o->f) != 0 && err == 0)
		err = errno;
	o->f = NULL;
	if (err == 0 && outfile_replaceable(o->dir, o->name, o->path, cause) < 0) {
		outfile_abort(o);
		return -1;
	}
	if (err == 0 && renameat(o->dir, o->tmp, o->dir, o->name) < 0)
		err = errno;
	if (err != 0) {
		*cause = xasprintf("%s: not written: %s", o->path, strerror(err));
		outfile_abort(o);
		return -1;
	}
	FREE_NULL(&o->tmp);
	if (fsync(o->dir) < 0)
		err = errno;
	close(o->dir);
	o->dir = -1;
	if (err != 0) {
		*cause = xasprintf("%s: written, but its directory did not sync: %s", o->path,
				   strerror(err));
		return -1;
	}
	return 0;
}

void
outfile_abort(struct outfile *o)
{
	if (o->dir < 0)
		return;
	if (o->f != NULL)
		fclose(o->f);
	o->f = NULL;
	if (o->tmp != NULL)
		unlinkat(o->dir, o->tmp, 0);
	FREE_NULL(&o->tmp);
	close(o->dir);
	o->dir = -1;
}
