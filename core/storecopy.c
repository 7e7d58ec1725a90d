/* A store as one file: written and checked (core/storecopy.h). */
#include "core/storecopy.h"

#include "core/ops.h"
#include "core/outfile.h"
#include "core/xalloc.h"
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
storecopy_check(struct store *copy, struct storecopy_facts *f, char **cause)
{
	int64_t bad = 0;
	int got;

	if (store_integrity_check(copy, cause) < 0)
		return -1;
	got = events_verify(copy, &f->events, f->head, &bad, cause);
	if (got < 0)
		return -1;
	if (got == 1) {
		f->broken = *cause;
		*cause = NULL;
	}
	return 0;
}

/* Opens the copy at path as a store and checks it. */
static int
check_at(const char *path, struct storecopy_facts *f, char **cause)
{
	struct store *copy = NULL;
	int rc = -1;

	if (store_open(path, STORE_INSPECT, &copy, cause) == 0)
		rc = storecopy_check(copy, f, cause);
	store_close(copy);
	return rc;
}

void
storecopy_stamp(const char *path, struct storecopy_stamp *st)
{
	char *wal = xstrjoin(path, "-wal");

	memset(st, 0, sizeof *st);
	st->has_db = stat(path, &st->db) == 0;
	st->has_wal = stat(wal, &st->wal) == 0;
	free(wal);
}

/* Whether a and b saw the same file (or both none): where it is, its size and its times. */
static int
same_file(int has_a, const struct stat *a, int has_b, const struct stat *b)
{
	if (!has_a || !has_b)
		return has_a == has_b;
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Whether the store at path still has the stamp before. */
static int
unchanged(const char *path, const struct storecopy_stamp *before)
{
	struct storecopy_stamp now;

	storecopy_stamp(path, &now);
	return same_file(before->has_db, &before->db, now.has_db, &now.db) &&
	       same_file(before->has_wal, &before->wal, now.has_wal, &now.wal);
}

enum storecopy_result
storecopy_write(struct store *s, const char *path, struct storecopy_facts *f,
		const struct storecopy_stamp *before, size_t *size, char **cause)
{
	struct outfile out = {.dir = -1};
	char *tmp = NULL;
	const char *own;
	enum storecopy_result rc = STORECOPY_FAILED;

	if (outfile_open(&out, path, 0600, cause) < 0)
		goto out;
	own = store_file_at(s, out.dir, out.name);
	if (own != NULL) {
		*cause = xasprintf("%s is %s; name a file elsewhere", path, own);
		rc = STORECOPY_OWN;
		goto out;
	}
	/* Written and checked under its temporary name beside the target; rc
	 * stays STORECOPY_FAILED while nothing keeps it out of place. */
	tmp = xasprintf("%.*s%s", (int)(out.name - out.path), out.path, out.tmp);
	if (store_copy_to(s, tmp, path, fileno(out.f), size, cause) < 0)
		goto out;
	ops_pause_point("backup-read");
	if (f != NULL && check_at(tmp, f, cause) < 0)
		rc = STORECOPY_DAMAGED;
	/* A copy read while the store changed says nothing of it, checked or not. */
	if (before != NULL && !unchanged(s->path, before)) {
		free(*cause);
		*cause = xasprintf("%s changed while it was read", s->path);
		rc = STORECOPY_CHANGED;
	}
	if (rc == STORECOPY_FAILED && outfile_commit(&out, cause) == 0)
		rc = STORECOPY_WRITTEN;
out:
	outfile_abort(&out);
	free(tmp);
	return rc;
}

int
storecopy_work(struct store *copy, const char *beside, const char *name, struct store **work,
	       char **tmp, char **cause)
{
	const char *slash = strrchr(beside, '/');
	char *dir = xdirname(beside);
	char *made = NULL, *why = NULL;
	size_t size = 0;
	int dfd, fd = -1, rc = -1;

	*tmp = NULL;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fd = outfile_create_beside(dfd, slash != NULL ? slash + 1 : beside, &made);
	if (fd < 0) {
		*cause = xasprintf("cannot make a working copy of %s beside %s: %s", name, beside,
				   strerror(errno));
		goto out;
	}
	*tmp = xasprintf("%s/%s", dir, made);
	if (store_copy_to(copy, *tmp, *tmp, fd, &size, &why) < 0) {
		*cause = xasprintf("cannot make a working copy of %s beside %s (it needs room for "
				   "one as large as the copy): %s",
				   name, beside, why);
		goto out;
	}
	rc = store_open_file(copy, name, *tmp, work, cause);
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (rc < 0 && *tmp != NULL) {
		storecopy_work_drop(NULL, *tmp);
		*tmp = NULL;
	}
	free(dir);
	free(made);
	free(why);
	return rc;
}

void
storecopy_work_drop(struct store *work, char *tmp)
{
	char *journal;

	store_close(work);
	if (tmp == NULL)
		return;
	journal = xstrjoin(tmp, "-journal");
	unlink(tmp);
	unlink(journal);
	free(journal);
	free(tmp);
}

void
storecopy_work_sweep(const char *beside, const char *own)
{
	const char *slash = strrchr(beside, '/'), *mine = own != NULL ? strrchr(own, '/') : NULL;
	char *dir = xdirname(beside);
	char *prefix = xstrjoin(".", slash != NULL ? slash + 1 : beside, ".tw-");
	size_t n = strlen(prefix), m;
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;

	mine = mine != NULL ? mine + 1 : own;
	m = mine != NULL ? strlen(mine) : 0;
	while (d != NULL && (e = readdir(d)) != NULL) {
		/* Its own file, and its own journal (the same name, then -journal). */
		if (strncmp(e->d_name, prefix, n) != 0 ||
		    (mine != NULL && strncmp(e->d_name, mine, m) == 0))
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			unlinkat(dirfd(d), e->d_name, 0);
	}
	if (d != NULL)
		closedir(d);
	free(prefix);
	free(dir);
}
