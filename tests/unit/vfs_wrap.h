/*
 * What the unit tests' VFSes over SQLite's unix one share.  A test wraps
 * the files it watches in a struct that begins with struct wrap_file, the
 * unix VFS's file allocated after it, and passes through every call it
 * does not watch: wrap_methods() gives the methods that pass every call
 * through, for the test to replace those it watches, and wrap_vfs() a VFS
 * whose calls are the unix one's but for xOpen (and xRandomness, if given).
 */
#ifndef TW_TEST_VFS_WRAP_H
#define TW_TEST_VFS_WRAP_H

#include <sqlite3.h>
#include <stddef.h>

struct wrap_file {
	sqlite3_file base;
	sqlite3_file *real; /* the unix VFS's file, allocated after the wrapping one */
};

#define WRAP_REAL(f) (((struct wrap_file *)(f))->real)

/* The unix VFS, which wrap_vfs finds. */
static sqlite3_vfs *wrap_unix;

static inline int
wrap_close(sqlite3_file *f)
{
	int rc = WRAP_REAL(f)->pMethods->xClose(WRAP_REAL(f));

	f->pMethods = NULL;
	return rc;
}

static inline int
wrap_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	return WRAP_REAL(f)->pMethods->xRead(WRAP_REAL(f), buf, n, off);
}

static inline int
wrap_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	return WRAP_REAL(f)->pMethods->xWrite(WRAP_REAL(f), buf, n, off);
}

static inline int
wrap_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return WRAP_REAL(f)->pMethods->xTruncate(WRAP_REAL(f), size);
}

static inline int
wrap_sync(sqlite3_file *f, int flags)
{
	return WRAP_REAL(f)->pMethods->xSync(WRAP_REAL(f), flags);
}

static inline int
wrap_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return WRAP_REAL(f)->pMethods->xFileSize(WRAP_REAL(f), size);
}

static inline int
wrap_lock(sqlite3_file *f, int level)
{
	return WRAP_REAL(f)->pMethods->xLock(WRAP_REAL(f), level);
}

static inline int
wrap_unlock(sqlite3_file *f, int level)
{
	return WRAP_REAL(f)->pMethods->xUnlock(WRAP_REAL(f), level);
}

static inline int
wrap_reserved(sqlite3_file *f, int *out)
{
	return WRAP_REAL(f)->pMethods->xCheckReservedLock(WRAP_REAL(f), out);
}

static inline int
wrap_control(sqlite3_file *f, int op, void *arg)
{
	return WRAP_REAL(f)->pMethods->xFileControl(WRAP_REAL(f), op, arg);
}

static inline int
wrap_sector(sqlite3_file *f)
{
	return WRAP_REAL(f)->pMethods->xSectorSize(WRAP_REAL(f));
}

static inline int
wrap_device(sqlite3_file *f)
{
	return WRAP_REAL(f)->pMethods->xDeviceCharacteristics(WRAP_REAL(f));
}

static inline int
wrap_shm_map(sqlite3_file *f, int page, int size, int extend, void volatile **out)
{
	return WRAP_REAL(f)->pMethods->xShmMap(WRAP_REAL(f), page, size, extend, out);
}

static inline int
wrap_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	return WRAP_REAL(f)->pMethods->xShmLock(WRAP_REAL(f), offset, n, flags);
}

static inline void
wrap_shm_barrier(sqlite3_file *f)
{
	WRAP_REAL(f)->pMethods->xShmBarrier(WRAP_REAL(f));
}

static inline int
wrap_shm_unmap(sqlite3_file *f, int del)
{
	return WRAP_REAL(f)->pMethods->xShmUnmap(WRAP_REAL(f), del);
}

static inline int
wrap_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **out)
{
	return WRAP_REAL(f)->pMethods->xFetch(WRAP_REAL(f), off, n, out);
}

static inline int
wrap_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return WRAP_REAL(f)->pMethods->xUnfetch(WRAP_REAL(f), off, p);
}

/* Methods that pass every call through to the unix VFS's file. */
static inline sqlite3_io_methods
wrap_methods(void)
{
	return (sqlite3_io_methods){
	    .iVersion = 3,
	    .xClose = wrap_close,
	    .xRead = wrap_read,
	    .xWrite = wrap_write,
	    .xTruncate = wrap_truncate,
	    .xSync = wrap_sync,
	    .xFileSize = wrap_size,
	    .xLock = wrap_lock,
	    .xUnlock = wrap_unlock,
	    .xCheckReservedLock = wrap_reserved,
	    .xFileControl = wrap_control,
	    .xSectorSize = wrap_sector,
	    .xDeviceCharacteristics = wrap_device,
	    .xShmMap = wrap_shm_map,
	    .xShmLock = wrap_shm_lock,
	    .xShmBarrier = wrap_shm_barrier,
	    .xShmUnmap = wrap_shm_unmap,
	    .xFetch = wrap_fetch,
	    .xUnfetch = wrap_unfetch,
	};
}

static inline int
wrap_delete(sqlite3_vfs *vfs, const char *name, int dirsync)
{
	(void)vfs;
	return wrap_unix->xDelete(wrap_unix, name, dirsync);
}

static inline int
wrap_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return wrap_unix->xAccess(wrap_unix, name, flags, out);
}

static inline int
wrap_full_path(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return wrap_unix->xFullPathname(wrap_unix, name, n, out);
}

static inline int
wrap_random(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return wrap_unix->xRandomness(wrap_unix, n, out);
}

static inline int
wrap_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return wrap_unix->xSleep(wrap_unix, us);
}

static inline int
wrap_time(sqlite3_vfs *vfs, double *out)
{
	(void)vfs;
	return wrap_unix->xCurrentTime(wrap_unix, out);
}

static inline int
wrap_error(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return wrap_unix->xGetLastError(wrap_unix, n, out);
}

static inline int
wrap_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
	(void)vfs;
	return wrap_unix->xCurrentTimeInt64(wrap_unix, out);
}

typedef int (*wrap_open_fn)(sqlite3_vfs *, sqlite3_filename, sqlite3_file *, int, int *);
typedef int (*wrap_random_fn)(sqlite3_vfs *, int, char *);

/*
 * Registers, as the default VFS, one named name over the unix VFS: files
 * of size bytes before the unix one's, opened by open, and random bytes
 * from random (NULL: the unix VFS's).  Returns 0, or -1 when there is no
 * unix VFS or the registration fails.
 */
static inline int
wrap_vfs(const char *name, size_t size, wrap_open_fn open, wrap_random_fn random)
{
	static sqlite3_vfs vfs;

	wrap_unix = sqlite3_vfs_find("unix");
	if (wrap_unix == NULL)
		return -1;
	vfs = (sqlite3_vfs){
	    .iVersion = 2,
	    .szOsFile = (int)size + wrap_unix->szOsFile,
	    .mxPathname = wrap_unix->mxPathname,
	    .zName = name,
	    .xOpen = open,
	    .xDelete = wrap_delete,
	    .xAccess = wrap_access,
	    .xFullPathname = wrap_full_path,
	    .xRandomness = random != NULL ? random : wrap_random,
	    .xSleep = wrap_sleep,
	    .xCurrentTime = wrap_time,
	    .xGetLastError = wrap_error,
	    .xCurrentTimeInt64 = wrap_time64,
	};
	return sqlite3_vfs_register(&vfs, 1) == SQLITE_OK ? 0 : -1;
}

#endif
