/*
 * What store/open.c and store/store.c share and no other module may use:
 * the other store modules and everything outside store/ use store.h.
 */
#ifndef TW_STORE_PRIV_H
#define TW_STORE_PRIV_H

#include "store/store.h"

/* How long a connection waits for another process's lock before it fails. */
#define STORE_BUSY_TIMEOUT_MS 10000

/* Runs sql on s; returns 0, or -1 with *cause for the operation what. */
int store_exec(struct store *s, const char *sql, const char *what, char **cause);
/* Reads the one integer that sql returns into *out; returns 0, or -1 with *cause. */
int store_pragma_int(struct store *s, const char *sql, int *out, char **cause);
/*
 * Migrates s, open for writing, to STORE_SCHEMA_VERSION in one transaction;
 * returns 0, or -1 with *cause.
 */
int store_migrate(struct store *s, char **cause);
/*
 * The states of rows that may exist on the server: all but deleted, failed
 * and revoked.  An SQL IN list: the partial index tokens_live (schema 7)
 * holds exactly these rows, with every column, in id order; a query names
 * it (INDEXED BY), so that the planner never reads the deleted history.
 */
#define STORE_LIVE_STATES                                                                          \
	"('pending', 'created', 'verified', 'active', 'retiring', 'unknown', 'expired')"

/* Whether token row t.id has a sealed secret, read from the index of keys (schema 7). */
#define STORE_HAS_SECRET                                                                           \
	"EXISTS (SELECT 1 FROM secrets x INDEXED BY secrets_rows WHERE x.token_row = t.id)"

/* How many of s's kept statements are handed out and not yet given back. */
int store_stmts_busy(const struct store *s);
/* Finalises s's kept statements, before its connection closes. */
void store_stmts_free(struct store *s);

/* The directory holding path; returns an allocated string, the caller frees it. */
char *store_dir_of(const char *path);

#endif
