/*
 * A VFS that writes each commit to the store's log (FILE-wal) in one
 * system call instead of two per page; see walbuf.c.
 */
#ifndef TW_STORE_WALBUF_H
#define TW_STORE_WALBUF_H

/*
 * The name of the VFS to open a writing connection with, registered at the
 * first call over the default VFS of that moment; or NULL, SQLite's default,
 * when it cannot be registered.  Safe from any thread.
 */
const char *walbuf_vfs(void);

#endif
