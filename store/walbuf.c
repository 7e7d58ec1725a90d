/*
 * The store's VFS: SQLite's default one, except that the writes to a log
 * (FILE-wal) are gathered.  SQLite writes each frame of a commit in two
 * pieces, its 24-byte header and its page, each a system call of its own:
 * some eighty per rotation, half of all the engine makes.  Here the
 * pieces that follow one another in the file are copied into a buffer,
 * written at once when a commit frame's header (one whose database size
 * is not zero) joins it.  The write after that header, its page when
 * SQLite is appending the commit, goes straight to the file: whatever
 * comes next, nothing of the commit is left here when SQLite publishes it
 * to other connections, which it does once its writes return.  So a
 * commit costs two writes, however many pages it has.  The buffer is also
 * written before anything else touches the log: a read, a sync, its size,
 * a truncation, a file control, a write elsewhere in it, its close.  Only
 * writes shaped as SQLite writes a frame today (a 24-byte header, a page)
 * are held: should another version write a frame whole, it goes straight.
 *
 * Why not wait for the page and write both at once: at a commit that
 * rewrites its frames' checksums, SQLite writes the commit frame's header
 * again with no page after it, and publishes.
 *
 * The bytes that reach the file, and their order against the syncs and
 * the commits, are SQLite's own; only the number of calls changes.  A
 * process that dies after a commit returned has left all of it in the
 * file, as before.  A write that fails fails the call that made it (a
 * commit's, or the sync's) and the buffer is dropped: SQLite abandons the
 * transaction, as it would had that write of its own failed.  Every other
 * file goes to the default VFS untouched.
 *
 * A commit whose sync the store leaves for later (walbuf_defer_sync)
 * skips one sync: the first after its commit frame's header, which at
 * synchronous=FULL is the commit's own, the one NORMAL leaves out.  So a
 * connection stays at FULL for good, rather than switching to NORMAL and
 * back around such a commit: SQLite applies that pragma when it prepares
 * it, so every switch compiled the statement again.  Any later sync, as a
 * checkpoint's before it copies the log into the database, is made as
 * before.
 */
#include "store/walbuf.h"

#include <pthread.h>
#include <sqlite3.h>
#include <string.h>

#define WALBUF_NAME "tokenwarden"
/*
 * Room for a rotation's largest commit, 15 frames of 4 KiB pages (a store
 * made before 2 KiB pages, store/open.c); a bigger transaction writes as
 * it fills.  The unix VFS writes at most 128 KiB - 1 bytes at once (it
 * masks the length to 17 bits): a write of 128 KiB would write nothing and
 * read as a full disk.
 */
#define WALBUF_BYTES (64 * 1024)
/* A frame's header: page number, database size after a commit (else 0), salts, checksums. */
#define FRAME_HEADER_BYTES 24
/* The log's own header, at its start. */
#define WAL_HEADER_BYTES 32

struct logfile {
	sqlite3_file base;
	sqlite3_file *real; /* the default VFS's file, in the same allocation */
	unsigned char *buf; /* WALBUF_BYTES, allocated at the first write */
	size_t len;
	sqlite3_int64 at; /* where buf[0] goes in the file */
	int commit;       /* the last write was a commit frame's header: the next goes through */
	int committed;    /* a commit frame's header was written since the last sync */
	int defer;        /* walbuf_defer_sync: skip the commit's own sync */
};

/* The default VFS's file begins here, aligned as SQLite aligns its own. */
#define REAL_OFFSET ((sizeof(struct logfile) + 7) & ~(size_t)7)
#define LOG(f) ((struct logfile *)(f))
#define REAL(f) (LOG(f)->real)

static sqlite3_vfs *real_vfs;
static sqlite3_vfs vfs;
static const char *registered;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Writes what is gathered; SQLITE_OK or the default VFS's error.  Empties the buffer. */
static int
flush(struct logfile *lf)
{
	int rc = SQLITE_OK;

	if (lf->len > 0)
		rc = lf->real->pMethods->xWrite(lf->real, lf->buf, (int)lf->len, lf->at);
	lf->len = 0;
	return rc;
}

/* Whether the frame header h ends a commit: its database size is not zero. */
static int
commit_header(const unsigned char *h)
{
	return (h[4] | h[5] | h[6] | h[7]) != 0;
}

/*
 * Whether a write of n bytes at at is of a shape walbuf holds: a frame's
 * header, the log's header, or a page (a power of two from 512 to 65536
 * bytes).  Any other goes straight to the file, after what is held: a
 * frame written whole, or a commit in a pattern of writes that SQLite does
 * not make today, is never held.
 */
static int
holdable(int n, sqlite3_int64 at)
{
	if (n == FRAME_HEADER_BYTES || (n == WAL_HEADER_BYTES && at == 0))
		return 1;
	return n >= 512 && n <= 65536 && (n & (n - 1)) == 0;
}

static int
log_write(sqlite3_file *f, const void *data, int n, sqlite3_int64 at)
{
	struct logfile *lf = LOG(f);
	int hold = !lf->commit && holdable(n, at) && (size_t)n <= WALBUF_BYTES, rc;

	lf->commit = n == FRAME_HEADER_BYTES && commit_header(data);
	lf->committed |= lf->commit;
	if (lf->len > 0 && (!hold || at != lf->at + (sqlite3_int64)lf->len ||
			    lf->len + (size_t)n > WALBUF_BYTES)) {
		rc = flush(lf);
		if (rc != SQLITE_OK)
			return rc;
	}
	if (hold && lf->buf == NULL)
		lf->buf = sqlite3_malloc(WALBUF_BYTES);
	if (!hold || lf->buf == NULL)
		return lf->real->pMethods->xWrite(lf->real, data, n, at);
	if (lf->len == 0)
		lf->at = at;
	memcpy(lf->buf + lf->len, data, (size_t)n);
	lf->len += (size_t)n;
	return lf->commit ? flush(lf) : SQLITE_OK;
}

static int
log_read(sqlite3_file *f, void *data, int n, sqlite3_int64 at)
{
	int rc = flush(LOG(f));

	return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xRead(REAL(f), data, n, at);
}

static int
log_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	int rc = flush(LOG(f));

	return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int
log_sync(sqlite3_file *f, int flags)
{
	struct logfile *lf = LOG(f);
	int rc = flush(lf), skip = lf->defer && lf->committed;

	lf->committed = 0;
	if (rc != SQLITE_OK || skip)
		return rc;
	return lf->real->pMethods->xSync(lf->real, flags);
}

static int
log_size(sqlite3_file *f, sqlite3_int64 *size)
{
	int rc = flush(LOG(f));

	return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int
log_control(sqlite3_file *f, int op, void *arg)
{
	int rc = flush(LOG(f));

	return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int
log_close(sqlite3_file *f)
{
	struct logfile *lf = LOG(f);
	int rc = flush(lf), closed = lf->real->pMethods->xClose(lf->real);

	if (lf->buf != NULL) {
		memset(lf->buf, 0, WALBUF_BYTES);
		sqlite3_free(lf->buf);
		lf->buf = NULL;
	}
	return rc != SQLITE_OK ? rc : closed;
}

static int
log_lock(sqlite3_file *f, int level)
{
	return REAL(f)->pMethods->xLock(REAL(f), level);
}

static int
log_unlock(sqlite3_file *f, int level)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), level);
}

static int
log_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int
log_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int
log_device(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

/* A log has no shared memory and is never mapped: version 1 is all it needs. */
static const sqlite3_io_methods log_methods = {
    .iVersion = 1,
    .xClose = log_close,
    .xRead = log_read,
    .xWrite = log_write,
    .xTruncate = log_truncate,
    .xSync = log_sync,
    .xFileSize = log_size,
    .xLock = log_lock,
    .xUnlock = log_unlock,
    .xCheckReservedLock = log_reserved,
    .xFileControl = log_control,
    .xSectorSize = log_sector,
    .xDeviceCharacteristics = log_device,
};

static int
v_open(sqlite3_vfs *v, sqlite3_filename name, sqlite3_file *f, int flags, int *out)
{
	struct logfile *lf = LOG(f);
	int rc;

	(void)v;
	/* Any other file is the default VFS's own, in the same room. */
	if ((flags & SQLITE_OPEN_WAL) == 0)
		return real_vfs->xOpen(real_vfs, name, f, flags, out);
	memset(lf, 0, sizeof *lf);
	lf->real = (sqlite3_file *)(void *)((unsigned char *)f + REAL_OFFSET);
	rc = real_vfs->xOpen(real_vfs, name, lf->real, flags, out);
	/* SQLite closes what has methods, failed or not: the real file then closes too. */
	lf->base.pMethods = lf->real->pMethods != NULL ? &log_methods : NULL;
	return rc;
}

static int
v_delete(sqlite3_vfs *v, const char *name, int dirsync)
{
	(void)v;
	return real_vfs->xDelete(real_vfs, name, dirsync);
}

static int
v_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	(void)v;
	return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int
v_full_path(sqlite3_vfs *v, const char *name, int n, char *out)
{
	(void)v;
	return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static int
v_random(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return real_vfs->xRandomness(real_vfs, n, out);
}

static int
v_sleep(sqlite3_vfs *v, int us)
{
	(void)v;
	return real_vfs->xSleep(real_vfs, us);
}

static int
v_time(sqlite3_vfs *v, double *out)
{
	(void)v;
	return real_vfs->xCurrentTime(real_vfs, out);
}

static int
v_error(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return real_vfs->xGetLastError(real_vfs, n, out);
}

static int
v_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
	(void)v;
	return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

static void
register_vfs(void)
{
	real_vfs = sqlite3_vfs_find(NULL);
	/* Version 2's calls are all a store uses; version 1's would lack the 64-bit clock. */
	if (real_vfs == NULL || real_vfs->iVersion < 2)
		return;
	vfs = (sqlite3_vfs){
	    .iVersion = 2,
	    .szOsFile = (int)REAL_OFFSET + real_vfs->szOsFile,
	    .mxPathname = real_vfs->mxPathname,
	    .zName = WALBUF_NAME,
	    .xOpen = v_open,
	    .xDelete = v_delete,
	    .xAccess = v_access,
	    .xFullPathname = v_full_path,
	    .xRandomness = v_random,
	    .xSleep = v_sleep,
	    .xCurrentTime = v_time,
	    .xGetLastError = v_error,
	    .xCurrentTimeInt64 = v_time64,
	};
	if (sqlite3_vfs_register(&vfs, 0) == SQLITE_OK)
		registered = WALBUF_NAME;
}

const char *
walbuf_vfs(void)
{
	pthread_once(&once, register_vfs);
	return registered;
}

int
walbuf_defer_sync(sqlite3_file *log, int on)
{
	if (log == NULL || log->pMethods != &log_methods)
		return -1;
	LOG(log)->defer = on;
	LOG(log)->committed = 0;
	return 0;
}
