/*
 * Opening the tokenwarden database: telling a store from any other file (a
 * missing, empty, foreign or world-readable one, a directory, a link) and
 * writable from read-only, connecting with the store's pragmas or read-only
 * without writing anything, closing, and the run lock.  What runs on the
 * connection once it is open, the migrations included, is store/store.c.
 */
#include "store/store.h"

#include "core/clock.h"
#include "core/cred.h"
#include "core/timefmt.h"
#include "core/trust.h"
#include "core/xalloc.h"
#include "store/store_priv.h"
#include "store/walbuf.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* A WAL file holds frames only past its 32-byte header. */
#define WAL_HEADER_BYTES 32
/* The database header; the file format's first page begins with it. */
#define SQLITE_HEADER_BYTES 100

/* path as one shell word, in single quotes when it needs them; allocated. */
static char *
shell_word(const char *path)
{
	static const char plain[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "0123456789/._-+,:@%=";
	size_t n = 3;
	char *out, *p;

	if (path[0] != '\0' && path[0] != '-' && path[strspn(path, plain)] == '\0')
		return xstrdup(path);
	for (const char *c = path; *c != '\0'; c++)
		n += *c == '\'' ? 4 : 1;
	out = xmalloc(n);
	p = out;
	*p++ = '\'';
	for (const char *c = path; *c != '\0'; c++) {
		if (*c == '\'') {
			memcpy(p, "'\\''", 4); /* end the quote, an escaped quote, quote again */
			p += 4;
		} else {
			*p++ = *c;
		}
	}
	*p++ = '\'';
	*p = '\0';
	return out;
}

/* The directory holding path; allocated. */
char *
store_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash == NULL ? 0 : slash == path ? 1 : (size_t)(slash - path);

	return slash == NULL ? xstrdup(".") : xstrndup(path, len);
}

/* Whether this process may change st's mode: its owner, or root. */
static int
may_chmod(const struct stat *st)
{
	return geteuid() == 0 || geteuid() == st->st_uid;
}

static int
on_read_only_fs(const char *path)
{
	struct statvfs vfs;

	return statvfs(path, &vfs) == 0 && (vfs.f_flag & ST_RDONLY) != 0;
}

/*
 * Advice for a path (a file or a directory) that belongs to another user,
 * which only its owner or root can change; not chmod.  Allocated.
 */
static char *
owner_advice(const char *path, const struct stat *st)
{
	char *owner = trust_user_name(st->st_uid), *me = trust_user_name(geteuid()),
	     *word = shell_word(path);
	char *sudo = st->st_uid == 0 ? xstrdup("sudo") : xasprintf("sudo -u %s", owner);
	char *advice = xasprintf("it belongs to %s: run tokenwarden as %s (%s tokenwarden ...), "
				 "or have root hand it over to you: sudo chown %s %s",
				 owner, owner, sudo, me, word);

	free(sudo);
	free(owner);
	free(me);
	free(word);
	return advice;
}

/* "PATH: permission denied: ..." for a file this process cannot read. */
static char *
read_denied(const char *path, const struct stat *st)
{
	char *me = trust_user_name(geteuid()), *word = shell_word(path), *fix, *msg;

	fix =
	    st->st_uid == geteuid() ? xasprintf("run: chmod 600 %s", word) : owner_advice(path, st);
	msg = xasprintf("%s: permission denied: %s cannot read it (mode %04o); %s", path, me,
			(unsigned)(st->st_mode & 07777), fix);
	free(me);
	free(word);
	free(fix);
	return msg;
}

/* Refuses what is not a regular file at path (which: what to check); fills *st. */
static int
examine(const char *path, const char *which, struct stat *st, char **cause)
{
	char target[PATH_MAX], *word = NULL, *dir = NULL, *me = NULL;
	ssize_t n;
	int rc = -1, err;

	if (lstat(path, st) < 0) {
		err = errno;
		me = trust_user_name(geteuid());
		if (err == ENOENT)
			*cause =
			    xasprintf("%s: %s; run 'tokenwarden init' first", path, strerror(err));
		else if (err == EACCES)
			*cause =
			    xasprintf("%s: permission denied: a directory on its path does not "
				      "let %s in; run tokenwarden as the store's owner",
				      path, me);
		else
			*cause = xasprintf("%s: cannot examine it: %s", path, strerror(err));
		goto out;
	}
	if (S_ISLNK(st->st_mode)) {
		n = readlink(path, target, sizeof target - 1);
		target[n > 0 ? n : 0] = '\0';
		word = shell_word(target);
		*cause =
		    xasprintf("%s: a symbolic link (to %s), not the store itself; give --db the "
			      "file it points to",
			      path, word);
	} else if (S_ISDIR(st->st_mode)) {
		dir =
		    xasprintf("%s%stokenwarden.db", path, path[strlen(path) - 1] == '/' ? "" : "/");
		word = shell_word(dir);
		*cause =
		    xasprintf("%s: a directory, not a store file; give --db the database file, "
			      "or create one with: tokenwarden init --db %s",
			      path, word);
	} else if (!S_ISREG(st->st_mode)) {
		*cause = xasprintf("%s: not a regular file (a device, FIFO or socket), so not a "
				   "tokenwarden store; %s",
				   path, which);
	} else {
		rc = 0;
	}
out:
	free(word);
	free(dir);
	free(me);
	return rc;
}

/*
 * Refuses a store that belongs to a user other than this one or root, as a
 * credential file is (cred_owner_ok): its owner could rewrite the
 * inventory and the history, and so steer what a run deletes.
 */
static int
check_owner(const char *path, const struct stat *st, char **cause)
{
	char *head, *advice;

	if (cred_owner_ok(st))
		return 0;
	head = trust_owned_by_other(path, st->st_uid);
	advice = owner_advice(path, st);
	*cause = xasprintf("%s; its owner could rewrite the inventory and the history tokenwarden "
			   "trusts; %s",
			   head, advice);
	free(head);
	free(advice);
	return -1;
}

/*
 * Refuses the store's companion files, which SQLite reads as part of it,
 * when another user owns one or it is not a plain file: a WAL of theirs
 * would be replayed into the inventory.
 */
static int
check_companions(const char *path, char **cause)
{
	static const char *const suffixes[] = {"-wal", "-shm", "-journal"};
	struct stat st;
	int rc = 0;

	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0] && rc == 0; i++) {
		char *file = xasprintf("%s%s", path, suffixes[i]);

		if (lstat(file, &st) < 0) {
			if (errno != ENOENT) {
				*cause =
				    xasprintf("%s: cannot examine it: %s", file, strerror(errno));
				rc = -1;
			}
		} else if (!S_ISREG(st.st_mode)) {
			*cause = xasprintf("%s: not a regular file; SQLite reads it as part of the "
					   "store: remove it if the store's owner did not make it",
					   file);
			rc = -1;
		} else {
			rc = check_owner(file, &st, cause);
		}
		free(file);
	}
	return rc;
}

/* Whether path's FILE-wal holds frames (changes not yet in the file itself). */
static int
wal_has_frames(const char *path)
{
	char *wal = xasprintf("%s-wal", path);
	struct stat st;
	int frames = stat(wal, &st) == 0 && st.st_size > WAL_HEADER_BYTES;

	free(wal);
	return frames;
}

/*
 * The store's file opened through SQLite's own VFS, never as a plain
 * descriptor: POSIX locks belong to the process, so closing any descriptor
 * of the file would drop the locks of every connection this process has
 * open on it (another thread's, say), while the VFS defers such a close.
 */
struct store_file {
	sqlite3_file *f;
	/* From sqlite3_create_filename, whose type has gained a const over versions. */
	union {
		const char *c;
		char *m;
	} name;
};

static void
file_close(struct store_file *sf)
{
	if (sf == NULL)
		return;
	if (sf->f->pMethods != NULL)
		sf->f->pMethods->xClose(sf->f);
	free(sf->f);
	sqlite3_free_filename(sf->name.m);
	free(sf);
}

/* Opens path read-only through the default VFS; returns it, or NULL with *cause. */
static struct store_file *
file_open(const char *path, char **cause)
{
	sqlite3_vfs *vfs = sqlite3_vfs_find(NULL);
	struct store_file *sf = xcalloc(1, sizeof *sf);
	char *full = xcalloc(1, (size_t)vfs->mxPathname + 1);
	int out = 0;

	sf->f = xcalloc(1, (size_t)vfs->szOsFile);
	if (vfs->xFullPathname(vfs, path, vfs->mxPathname + 1, full) == SQLITE_OK)
		sf->name.c = sqlite3_create_filename(full, "", "", 0, NULL);
	if (sf->name.c == NULL ||
	    vfs->xOpen(vfs, sf->name.c, sf->f, SQLITE_OPEN_READONLY | SQLITE_OPEN_MAIN_DB, &out) !=
		SQLITE_OK) {
		*cause = xasprintf("%s: cannot read it: %s", path, strerror(errno));
		file_close(sf);
		sf = NULL;
	}
	free(full);
	return sf;
}

/*
 * Reads the header of the regular file at path (st), refusing an empty file
 * (but for init) and one that is not SQLite (which: what to check); sets
 * *wal when it is in WAL mode.
 */
static int
check_header(const char *path, const struct stat *st, enum store_open_flags flags,
	     const char *which, int *wal, char **cause)
{
	static const char magic[] = "SQLite format 3";
	unsigned char h[SQLITE_HEADER_BYTES];
	struct store_file *sf = NULL;
	char *word = shell_word(path);
	int rc = -1, got;

	*wal = 0;
	if (st->st_size == 0 && ((flags & STORE_CREATE) != 0 || wal_has_frames(path))) {
		*wal = (flags & STORE_CREATE) == 0;
		rc = 0;
		goto out;
	}
	if (st->st_size == 0) {
		*cause = xasprintf("%s: empty (0 bytes), not a tokenwarden store; create the store "
				   "with: tokenwarden init --db %s",
				   path, word);
		goto out;
	}
	if (faccessat(AT_FDCWD, path, R_OK, AT_EACCESS) != 0 && errno == EACCES) {
		*cause = read_denied(path, st);
		goto out;
	}
	sf = file_open(path, cause);
	if (sf == NULL)
		goto out;
	/* A file shorter than the header reads as zeros after its end. */
	got = sf->f->pMethods->xRead(sf->f, h, sizeof h, 0);
	if (got != SQLITE_OK && got != SQLITE_IOERR_SHORT_READ) {
		*cause = xasprintf("%s: cannot read it: %s", path, strerror(errno));
		goto out;
	}
	if (memcmp(h, magic, sizeof magic) != 0) {
		*cause = xasprintf("%s: not a SQLite database (it does not begin with SQLite's "
				   "header), so not a tokenwarden store; %s",
				   path, which);
		goto out;
	}
	/* The file format's read and write versions: 2 is WAL. */
	*wal = h[18] == 2 || h[19] == 2;
	rc = 0;
out:
	file_close(sf);
	free(word);
	return rc;
}

/*
 * Why this process cannot write the store at path (st), or NULL when it
 * can; *fix then gets what to do.  Both allocated.  A file or directory
 * with no write bit at all counts as read-only even for root.
 */
static char *
not_writable(const char *path, const struct stat *st, char **fix)
{
	struct stat d;
	char *dir = store_dir_of(path), *me = trust_user_name(geteuid()), *owner = NULL,
	     *word = NULL;
	char *dword = shell_word(dir), *reason = NULL;
	const char *keeps = "SQLite keeps the store's -wal and -shm files there, and tokenwarden "
			    "its .lock file";
	int dir_ok = stat(dir, &d) == 0;

	*fix = NULL;
	word = shell_word(path);
	if (on_read_only_fs(path)) {
		reason = xasprintf("it is on a read-only file system");
		*fix = xasprintf("remount it read-write, or work where the store is writable");
	} else if ((st->st_mode & 0222) == 0 || faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) != 0) {
		owner = trust_user_name(st->st_uid);
		reason = (st->st_mode & 0222) == 0
			     ? xasprintf("its mode %04o lets no one write it",
					 (unsigned)(st->st_mode & 07777))
			     : xasprintf("%s cannot write it (owner %s, mode %04o)", me, owner,
					 (unsigned)(st->st_mode & 07777));
		*fix =
		    may_chmod(st) ? xasprintf("run: chmod 600 %s", word) : owner_advice(path, st);
	} else if (dir_ok && ((d.st_mode & 0222) == 0 ||
			      faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) != 0)) {
		owner = trust_user_name(d.st_uid);
		reason =
		    (d.st_mode & 0222) == 0
			? xasprintf("its directory %s lets no one write in it (mode %04o)", dir,
				    (unsigned)(d.st_mode & 07777))
			: xasprintf("%s cannot write in its directory %s (owner %s, mode %04o)", me,
				    dir, owner, (unsigned)(d.st_mode & 07777));
		if (may_chmod(&d)) {
			*fix = xasprintf("%s; run: chmod u+w %s", keeps, dword);
		} else {
			free(word);
			word = owner_advice(dir, &d);
			*fix = xasprintf("%s; %s", keeps, word);
		}
	}
	free(dir);
	free(dword);
	free(me);
	free(owner);
	free(word);
	return reason;
}

/* Refuses a store that group or others may read, with advice that can work. */
static int
check_private(const char *path, const struct stat *st, char **cause)
{
	char *word = shell_word(path), *owner = trust_user_name(st->st_uid), *fix = NULL;
	int rc = -1;

	if ((st->st_mode & 077) == 0)
		rc = 0;
	else if (on_read_only_fs(path))
		fix = xasprintf("it is on a read-only file system: copy it where only you can read "
				"it (install -m 600 %s COPY) and give --db the copy",
				word);
	else if (may_chmod(st))
		fix = xasprintf("run: chmod 600 %s", word);
	else if (st->st_uid == 0)
		fix = xasprintf("it belongs to root: ask root to run: chmod 600 %s", word);
	else
		fix = xasprintf("it belongs to %s: ask them (or root) to run: chmod 600 %s", owner,
				word);
	if (rc < 0)
		*cause = xasprintf("%s: permissions %04o let others read the inventory; %s", path,
				   (unsigned)(st->st_mode & 07777), fix);
	free(word);
	free(owner);
	free(fix);
	return rc;
}

/*
 * Refuses what the connection shows is not a tokenwarden store (an empty
 * database is one for init) or cannot be used as it is; sets *version.
 */
static int
identify(struct store *s, enum store_open_flags flags, int *version, char **cause)
{
	char *word = shell_word(s->path);
	int app, objects, rc = -1, ours, empty;

	if (store_pragma_int(s, "PRAGMA application_id", &app, cause) < 0 ||
	    store_pragma_int(s, "PRAGMA user_version", version, cause) < 0 ||
	    store_pragma_int(s, "SELECT count(*) FROM sqlite_schema", &objects, cause) < 0)
		goto out;
	ours = (uint32_t)app == STORE_APPLICATION_ID && *version > 0;
	empty = app == 0 && *version == 0 && objects == 0;
	if (!ours && !empty) {
		*cause = xasprintf(
		    "%s: a SQLite database of another program (application_id %#x, "
		    "user_version %d, %d schema object%s), not a tokenwarden store; %s",
		    s->path, (unsigned)app, *version, objects, objects == 1 ? "" : "s", s->which);
	} else if (empty && (flags & STORE_CREATE) == 0) {
		*cause = xasprintf("%s: an empty SQLite database (no schema, user_version 0), not "
				   "an initialised tokenwarden store; create the store with: "
				   "tokenwarden init --db %s",
				   s->path, word);
	} else if (*version > STORE_SCHEMA_VERSION) {
		*cause = xasprintf("%s: schema version %d is newer than this tokenwarden "
				   "understands (%d); upgrade tokenwarden",
				   s->path, *version, STORE_SCHEMA_VERSION);
	} else if (s->readonly != NULL && *version < STORE_SCHEMA_VERSION &&
		   flags != STORE_INSPECT) {
		*cause = xasprintf("%s: schema version %d is older than this tokenwarden's (%d), "
				   "and a read-only store cannot be migrated (%s); open it once "
				   "where it is writable (any tokenwarden command migrates it), or "
				   "read it with the tokenwarden that wrote it",
				   s->path, *version, STORE_SCHEMA_VERSION, s->readonly);
	} else {
		rc = 0;
	}
out:
	free(word);
	return rc;
}

/* user@host; reentrant, since the threads of a run open connections at once. */
static char *
default_actor(void)
{
	struct passwd entry, *pw = NULL;
	char buf[4096], host[256] = "unknown";

	if (getpwuid_r(geteuid(), &entry, buf, sizeof buf, &pw) != 0)
		pw = NULL;
	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = '\0';
	if (pw != NULL)
		return xasprintf("%s@%s", pw->pw_name, host);
	return xasprintf("uid%u@%s", (unsigned)geteuid(), host);
}

/* Creates path with mode 0600 when it does not exist, so SQLite never makes it wider. */
static int
create_private(const char *path, char **cause)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	int err = errno;
	char *dir = NULL, *word = NULL, *me = NULL;

	if (fd >= 0 || err == EEXIST) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	dir = store_dir_of(path);
	word = shell_word(dir);
	me = trust_user_name(geteuid());
	if (err == ENOENT)
		*cause = xasprintf("%s: cannot create it: its directory %s does not exist; create "
				   "it first: install -d -m 700 %s",
				   path, dir, word);
	else if (err == EACCES || err == EPERM)
		*cause = xasprintf("%s: cannot create it: %s may not write in its directory %s; "
				   "run init as the directory's owner, or give --db a path in a "
				   "directory you own",
				   path, me, dir);
	else if (err == EROFS)
		*cause = xasprintf("%s: cannot create it: %s is on a read-only file system; give "
				   "--db a path on a writable one",
				   path, dir);
	else if (err == ENOSPC || err == EDQUOT)
		*cause = xasprintf("%s: cannot create it: no space left on the file system holding "
				   "%s; free space there, then run init again",
				   path, dir);
	else
		*cause = xasprintf("%s: cannot create it: %s", path, strerror(err));
	free(dir);
	free(word);
	free(me);
	return -1;
}

/* "file:" URI of path with query params, every byte a URI may not hold escaped. */
static char *
file_uri(const char *path, const char *params)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(path), len = 0;
	char *enc = xmalloc(3 * n + 1), *uri;

	for (const unsigned char *c = (const unsigned char *)path; *c != '\0'; c++) {
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._~-",
			   *c) != NULL) {
			enc[len++] = (char)*c;
		} else {
			enc[len++] = '%';
			enc[len++] = hex[*c >> 4];
			enc[len++] = hex[*c & 15];
		}
	}
	enc[len] = '\0';
	/* "file:///abs" for an absolute path: "file://x" would name a host. */
	uri = xasprintf("file:%s%s?%s", path[0] == '/' ? "//" : "", enc, params);
	free(enc);
	return uri;
}

/*
 * Takes a SQLite shared lock on the file, as every SQLite reader holds: a
 * writer closing the last connection then cannot take the exclusive lock it
 * needs to checkpoint into the file.  Waits for a writer finishing such a
 * checkpoint.  Where the file system has no locks, goes on without.
 * Returns 0, or -1 with *cause.
 */
static int
share_lock(struct store *s, char **cause)
{
	struct timespec nap = {0, 10 * 1000 * 1000};
	int waited = 0, rc = -1;

	s->share = file_open(s->path, cause);
	if (s->share == NULL)
		goto out;
	while (s->share->f->pMethods->xLock(s->share->f, SQLITE_LOCK_SHARED) == SQLITE_BUSY) {
		if (waited >= STORE_BUSY_TIMEOUT_MS) {
			*cause =
			    xasprintf("%s: locked by another process that is writing it, still "
				      "after %d s; try again when it has finished",
				      s->path, STORE_BUSY_TIMEOUT_MS / 1000);
			goto out;
		}
		nanosleep(&nap, NULL);
		waited += 10;
	}
	rc = 0;
out:
	return rc;
}

/* Closes s's connection and its shared lock, if any. */
static void
disconnect(struct store *s)
{
	/* A statement still handed out is a missing store_done: its query would
	 * have held a read of the database open. */
	assert(store_stmts_busy(s) == 0);
	store_stmts_free(s);
	sqlite3_close_v2(s->db);
	s->db = NULL;
	file_close(s->share);
	s->share = NULL;
}

/* Opens a read-only connection that writes and creates nothing; see store_open. */
static int
connect_ro(struct store *s, int wal, char **cause)
{
	const int flags =
	    SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX;
	const char *params = "mode=ro";
	char *shm = xasprintf("%s-shm", s->path), *uri = NULL;
	struct stat st;
	int heap_index = 0, rc = -1;

	/* The lock first, then the look: what a closing writer leaves is then settled. */
	if (wal && share_lock(s, cause) < 0)
		goto out;
	if (wal && !wal_has_frames(s->path)) {
		params = "mode=ro&immutable=1";
	} else if (wal && stat(shm, &st) < 0) {
		/* No FILE-shm to read FILE-wal through, and none may be made: one in memory. */
		params = "mode=ro&vfs=unix-none";
		heap_index = 1;
	} else if (wal) {
		/* SQLite reads FILE-wal through FILE-shm, with its own locks. */
		file_close(s->share);
		s->share = NULL;
	}
	uri = file_uri(s->path, params);
	if (sqlite3_open_v2(uri, &s->db, flags, NULL) != SQLITE_OK) {
		store_error(s, "opening it read-only", cause);
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	if (store_exec(s, "PRAGMA query_only = ON", "opening it read-only", cause) < 0 ||
	    (heap_index &&
	     store_exec(s, "PRAGMA locking_mode = EXCLUSIVE", "opening it read-only", cause) < 0))
		goto out;
	rc = 0;
out:
	free(shm);
	free(uri);
	return rc;
}

/*
 * A new store's pages: 2 KiB, not SQLite's 4.  The log holds whole pages,
 * and a rotation's four commits change about forty, a row or an index
 * entry in each: at 2 KiB it writes, checksums and syncs half the bytes,
 * for about 4% less CPU a rotation (issue 15).  The verbs that read every
 * row take 5 to 20% longer, well within their goals.  1 KiB pages cost
 * more than they save: deeper trees, more pages a commit.  SQLite sets
 * the size only while a database has no page, so a store made before
 * keeps its 4 KiB.
 */
#define NEW_STORE_PAGE_SIZE "2048"

/* Opens the connection that writes, with the store's pragmas; create: the file is new. */
static int
connect_rw(struct store *s, int create, char **cause)
{
	const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX;
	int rc = -1;

	if (sqlite3_open_v2(s->path, &s->db, flags, walbuf_vfs()) != SQLITE_OK) {
		store_error(s, "opening it", cause);
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
	/* Before journal_mode, which writes the first page. */
	if (create && store_exec(s, "PRAGMA page_size = " NEW_STORE_PAGE_SIZE,
				 "setting up the connection", cause) < 0)
		goto out;
	rc = store_exec(s,
			"PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
			"PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;",
			"setting up the connection", cause);
out:
	return rc;
}

/*
 * After the writable connection of a STORE_READ failed (*cause): when for
 * a full disk, opens the store read-only instead, for a full disk must not
 * stop anyone reading.  Returns 0, or -1 with *cause.
 */
static int
read_when_full(struct store *s, int wal, int *version, char **cause)
{
	int rc = -1;

	if (s->db == NULL ||
	    !store_no_space(sqlite3_extended_errcode(s->db), sqlite3_system_errno(s->db)))
		goto out;
	FREE_NULL(cause);
	disconnect(s);
	s->readonly = xstrdup("no space is left on its file system");
	if (connect_ro(s, wal, cause) == 0 && identify(s, STORE_READ, version, cause) == 0)
		rc = 0;
out:
	return rc;
}

/*
 * Before SQLite's first use: no count of its memory, which took one lock of
 * the whole process around each of its allocations, for figures never read.
 */
static void
configure_sqlite(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static pthread_once_t configured = PTHREAD_ONCE_INIT;

int
store_open(const char *path, enum store_open_flags flags, struct store **out, char **cause)
{
	struct store *s = xcalloc(1, sizeof *s);
	struct stat st;
	char *reason = NULL, *fix = NULL;
	int wal, version, rc = -1;

	pthread_once(&configured, configure_sqlite);
	s->path = xstrdup(path);
	s->actor = default_actor();
	s->lock_fd = -1;
	s->gate = store_gate_new();
	s->which = (flags & STORE_COPY) != 0 ? STORE_CHECK_COPY : STORE_CHECK_DB;
	flags &= ~STORE_COPY;
	if ((flags & STORE_CREATE) != 0 && create_private(path, cause) < 0)
		goto out;
	/* The owner before anything is read: what another user wrote is not looked into. */
	if (examine(path, s->which, &st, cause) < 0 || check_owner(path, &st, cause) < 0 ||
	    check_companions(path, cause) < 0 ||
	    check_header(path, &st, flags, s->which, &wal, cause) < 0)
		goto out;
	reason = not_writable(path, &st, &fix);
	if (reason != NULL && flags != STORE_READ) {
		*cause = xasprintf("%s: cannot be written: %s; %s; the verbs that only read (token "
				   "list and show, audit, plan) work on it as it is",
				   path, reason, fix);
		goto out;
	}
	s->readonly = reason;
	reason = NULL;
	if (flags == STORE_INSPECT)
		s->readonly = xstrdup("opened only to look at it");
	/* Examined read-only first, so that a file refused is left exactly as it was. */
	if (connect_ro(s, wal, cause) < 0 || identify(s, flags, &version, cause) < 0 ||
	    check_private(path, &st, cause) < 0)
		goto out;
	if (s->readonly == NULL) {
		disconnect(s);
		if (connect_rw(s, (flags & STORE_CREATE) != 0, cause) < 0 &&
		    (flags != STORE_READ || read_when_full(s, wal, &version, cause) < 0))
			goto out;
		if (s->readonly == NULL && store_migrate(s, cause) < 0)
			goto out;
	}
	if (flags == STORE_READ && store_cache_kib(s, STORE_SCAN_CACHE_KIB, cause) < 0)
		goto out;
	*out = s;
	s = NULL;
	rc = 0;
out:
	free(reason);
	free(fix);
	store_close(s);
	return rc;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	disconnect(s);
	store_unlock(s);
	store_gate_drop(s->gate);
	free(s->path);
	free(s->file);
	free(s->actor);
	free(s->readonly);
	free(s);
}

/* What this process is, for the lock file. */
static const char *lock_label = "tokenwarden";

void
store_lock_label(const char *label)
{
	lock_label = label;
}

/* Writes who holds the lock into its file fd: pid, label, actor, since when, tab-separated. */
static void
name_holder(const struct store *s, int fd)
{
	char since[TIMEFMT_MAX], *line;

	timefmt_minute(clock_now_ms(), since);
	line = xasprintf("%ld\t%s\t%s\t%s\n", (long)getpid(), lock_label,
			 s->actor != NULL ? s->actor : "?", since);
	if (ftruncate(fd, 0) < 0 || pwrite(fd, line, strlen(line), 0) < 0) {
		/* The lock holds without its label: a refusal then names no holder. */
	}
	free(line);
}

/* The longest label name_holder writes that the lock's readers take whole. */
#define LABEL_MAX 512

/*
 * The pid the label in the lock file fd names, with its fields in f (pid,
 * label, actor, since) pointing into buf, when that process is alive; 0
 * when the file names no live process: no label (one being written, or
 * none from a holder such as flock(1)), a malformed one, or one left by a
 * holder that was killed.
 */
static long
live_label(int fd, char buf[LABEL_MAX], char *f[4])
{
	char *save = NULL, *p = buf;
	ssize_t n = pread(fd, buf, LABEL_MAX - 1, 0);
	int nf = 0;
	long pid;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	while (nf < 4 && (f[nf] = strtok_r(p, "\t", &save)) != NULL) {
		p = NULL;
		nf++;
	}
	pid = nf == 4 ? strtol(f[0], NULL, 10) : 0;
	if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH))
		return 0;
	return pid;
}

/*
 * "held by pid 12 (rotate, root@host, since 2026-12-02T02:00Z)", from the
 * lock file fd; without a label from a live process, "held by another
 * process".
 */
static char *
holder(int fd)
{
	char buf[LABEL_MAX], *f[4];
	long pid = live_label(fd, buf, f);

	if (pid == 0)
		return xstrdup("held by another process");
	return xasprintf("held by pid %ld (%s, %s, since %s)", pid, f[1], f[2], f[3]);
}

/*
 * Whether the lock file fd names no live holder and the half second that a
 * holder takes to label it (or to let go) is not over, counted from *since
 * (set at the first look).  A label a killed holder left counts as none: a
 * read verb's look at the lock (store_lock_held), which takes it for a
 * moment without a label, must cost a run that meets it a wait, never the
 * night.
 */
static int
unnamed_grace(int fd, int64_t *since)
{
	char buf[LABEL_MAX], *f[4];

	if (live_label(fd, buf, f) != 0)
		return 0;
	if (*since == 0)
		*since = clock_mono_ms();
	return clock_mono_ms() - *since < 500;
}

int
store_lock(struct store *s, char **cause)
{
	return store_lock_wait(s, 0, cause);
}

int
store_lock_wait(struct store *s, int64_t wait_ms, char **cause)
{
	char *path = xasprintf("%s.lock", s->path), *who;
	int64_t until = wait_ms < 0 ? INT64_MAX : clock_mono_ms() + wait_ms, grace = 0, left;
	int fd = -1, rc = -1;

	if (s->lock_fd >= 0) {
		rc = 0;
		goto out;
	}
	/* flock needs no write access, and a read-only store gets no new file. */
	if (s->readonly != NULL)
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	else
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && s->readonly != NULL && errno == ENOENT) {
		rc = 0; /* no lock file: no process holds the lock */
		goto out;
	}
	if (fd < 0) {
		*cause = xasprintf("%s: cannot open the lock: %s", path, strerror(errno));
		goto out;
	}
	/* Short naps: the holder's end is seen within a quarter second. */
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK) {
			*cause = xasprintf("%s: cannot lock: %s", path, strerror(errno));
			close(fd);
			goto out;
		}
		/*
		 * A lock whose file names no live holder is being taken, given up
		 * or looked at: look again for a moment.
		 */
		if (clock_mono_ms() >= until && !unnamed_grace(fd, &grace)) {
			who = holder(fd);
			*cause = xasprintf("%s: %s; try again when it has finished%s", path, who,
					   wait_ms == 0 ? ", or give --wait" : "");
			free(who);
			close(fd);
			rc = 1;
			goto out;
		}
		left = until - clock_mono_ms();
		clock_sleep_ms(left < 20 ? 20 : left < 250 ? left : 250);
	}
	if (s->readonly == NULL)
		name_holder(s, fd);
	s->lock_fd = fd;
	rc = 0;
out:
	free(path);
	return rc;
}

void
store_unlock(struct store *s)
{
	if (s->lock_fd < 0)
		return;
	/* The label goes with the lock; a refusal never names a holder long gone. */
	if (s->readonly == NULL && ftruncate(s->lock_fd, 0) < 0) {
		/* holder() finds the pid gone and names no one */
	}
	close(s->lock_fd);
	s->lock_fd = -1;
}

int
store_lock_held(struct store *s, char **cause)
{
	char *path = NULL;
	int fd, rc = 0;

	if (s->lock_fd >= 0)
		return 0;
	path = xasprintf("%s.lock", s->path);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno != ENOENT) {
		*cause = xasprintf("%s: cannot open the lock: %s", path, strerror(errno));
		rc = -1;
	} else if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? 1 : -1;
		if (rc < 0)
			*cause = xasprintf("%s: cannot lock: %s", path, strerror(errno));
	}
	/* Closing lets go of what the look took. */
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

/*
 * A store of like's actor, named name, on a connection to filename (NULL:
 * an empty one in memory, to be filled with image): a copy that only this
 * process sees, migrated.  image, when given, is taken over.  Returns 0 and
 * *out, or -1 with *cause.
 */
static int
open_private(const struct store *like, const char *name, const char *filename, unsigned char *image,
	     size_t size, struct store **out, char **cause)
{
	const unsigned owned = SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE;
	const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX;
	const char *what = filename != NULL ? "opening a working copy" : "opening a copy in memory";
	struct store *s = xcalloc(1, sizeof *s);
	int rc = -1;

	pthread_once(&configured, configure_sqlite);
	s->path = xstrdup(name);
	s->file = filename != NULL ? xstrdup(filename) : NULL;
	s->actor = xstrdup(like->actor);
	s->lock_fd = -1;
	s->gate = store_gate_new();
	if (sqlite3_open_v2(filename != NULL ? filename : ":memory:", &s->db, flags, NULL) !=
	    SQLITE_OK) {
		store_error(s, what, cause);
		store_image_free(image);
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	/* The connection owns the image from here, whatever happens. */
	if (image != NULL && sqlite3_deserialize(s->db, "main", image, (sqlite3_int64)size,
						 (sqlite3_int64)size, owned) != SQLITE_OK) {
		store_error(s, what, cause);
		goto out;
	}
	if (store_exec(s, "PRAGMA foreign_keys = ON", what, cause) < 0 ||
	    store_migrate(s, cause) < 0)
		goto out;
	*out = s;
	s = NULL;
	rc = 0;
out:
	store_close(s);
	return rc;
}

int
store_open_image(const struct store *like, const char *name, unsigned char *image, size_t size,
		 struct store **out, char **cause)
{
	return open_private(like, name, NULL, image, size, out, cause);
}

int
store_open_file(const struct store *like, const char *name, const char *path, struct store **out,
		char **cause)
{
	return open_private(like, name, path, NULL, 0, out, cause);
}

int
store_open_another(const struct store *s, struct store **out, char **cause)
{
	if (store_open(s->path, s->readonly != NULL ? STORE_READ : STORE_OPEN, out, cause) < 0)
		return -1;
	store_set_actor(*out, s->actor);
	store_gate_share(*out, s->gate);
	(*out)->late_sync = 1;
	return 0;
}
