/*
 * A VFS that writes each commit to the store's log (FILE-wal) in one
 * system call instead of two per page; see walbuf.c.
 */
#ifndef TW_STORE_WALBUF_H
#define TW_STORE_WALBUF_H

#include <sqlite3.h>

/*
 * The name of the VFS to open a writing connection with, registered at the
 * first call over the default VFS of that moment; or NULL, SQLite's default,
 * when it cannot be registered.  Safe from any thread.
 */
const char *walbuf_vfs(void);

/*
 * Makes the log file `log` (SQLITE_FCNTL_JOURNAL_POINTER's, on a connection
 * at synchronous=FULL) skip, while `on`, the sync of each commit written
 * through it, as NORMAL would; the caller syncs later.  Any other sync,
 * such as a checkpoint's, is made.  Returns 0, or -1 when `log` is not a
 * walbuf log (its commits are then synced as FULL syncs them).
 */
int walbuf_defer_sync(sqlite3_file *log, int on);

#endif
