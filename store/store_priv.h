/*
 * What the store modules share and nothing outside store/ may use, which
 * uses store.h and the modules' own headers.
 */
#ifndef TW_STORE_PRIV_H
#define TW_STORE_PRIV_H

#include "store/store.h"

#include <jansson.h>

/* How long a connection waits for another process's lock before it fails. */
#define STORE_BUSY_TIMEOUT_MS 10000
/* What to check when the store's path is no store; a copy's (STORE_COPY) says its own. */
#define STORE_CHECK_DB "check the path given with --db"
#define STORE_CHECK_COPY "name the copy that 'tokenwarden backup' wrote"

/* Runs sql on s; returns 0, or -1 with *cause for the operation what. */
int store_exec(struct store *s, const char *sql, const char *what, char **cause);

/* Whether SQLite result code code with errno sys_errno is a full disk, or a quota reached. */
int store_no_space(int code, int sys_errno);
/* Reads the one integer that sql returns into *out; returns 0, or -1 with *cause. */
int store_pragma_int(struct store *s, const char *sql, int *out, char **cause);

/*
 * Runs sql binding parent (?1) and name (?2): the first column of its first
 * row (an id, or 1 for a look-up of existence), 0 when it yields none, or
 * -1 with *cause (what it was doing).
 */
int64_t store_query_id(struct store *s, const char *sql, int64_t parent, const char *name,
		       const char *what, char **cause);
/*
 * Migrates s, open for writing, to STORE_SCHEMA_VERSION in one transaction;
 * returns 0, or -1 with *cause.
 */
int store_migrate(struct store *s, char **cause);
/*
 * The states of rows that may exist on the server: all but deleted, failed
 * and revoked.  The partial index tokens_live holds exactly these rows,
 * with every column, in id order; a query names it (INDEXED BY) and repeats
 * its condition, so that the planner never reads the deleted history.
 * STORE_LIVE_STATES is the IN list of schema 7; STORE_LIVE(T), of column
 * prefix T, the condition since schema 10: no list of more than two
 * constants, for which SQLite builds a table at each write of a row.
 */
#define STORE_LIVE_STATES                                                                          \
	"('pending', 'created', 'verified', 'active', 'retiring', 'unknown', 'expired')"
#define STORE_LIVE(T)                                                                              \
	"(" T "state <> 'deleted' AND " T "state <> 'failed' AND " T "state <> 'revoked')"
/* The rows of a replacement in flight (tokens_one_in_flight, schema 10), as STORE_LIVE. */
#define STORE_IN_FLIGHT(T)                                                                         \
	"(" T "state = 'pending' OR " T "state = 'created' OR " T "state = 'verified')"
/*
 * The rows deleted or revoked before their retire_after (tokens_dead_held,
 * schema 12): tokens some consumer may still have held, since the tool
 * itself deletes a delivered token only after its retire_after.  A
 * replacement a crash or a refusing consumer left kept, revoked by hand,
 * is one; so is any slot's token deleted or revoked while in use.
 */
#define STORE_DEAD_HELD(T)                                                                         \
	"((" T "state = 'revoked' OR " T "state = 'deleted') AND " T "retire_after > " T           \
	"updated_at)"

/*
 * The row digest an event's details carry, as its row_digest column must
 * hold it (schema 9): the text at $.digest, else NULL; NULL for details
 * that are not JSON, whose hash fails anyway.
 */
#define STORE_DETAILS_DIGEST                                                                       \
	"(CASE WHEN json_valid(details) AND json_type(details, '$.digest') = 'text' THEN "         \
	"json_extract(details, '$.digest') END)"

/* Whether token row t.id has a sealed secret, read from the index of keys (schema 7). */
#define STORE_HAS_SECRET                                                                           \
	"EXISTS (SELECT 1 FROM secrets x INDEXED BY secrets_rows WHERE x.token_row = t.id)"

/*
 * The connections of one process to one store (a store_open and the
 * store_open_another of it: rotate's workers) take turns to write through a
 * mutex, held from a transaction's begin to its end.  Waiting on SQLite's
 * lock instead sleeps 1, 2, 5, 10 ms and more between tries, long after the
 * other connection's commit has ended.  Other processes still meet SQLite's
 * lock and its busy timeout.
 */
struct store_gate *store_gate_new(void);
/* s's connection shares g, another connection's gate, instead of its own. */
void store_gate_share(struct store *s, struct store_gate *g);
/* Drops s's hold of its gate, freeing it with the last connection; NULL is allowed. */
void store_gate_drop(struct store_gate *g);

/* How many of s's kept statements are handed out and not yet given back. */
int store_stmts_busy(const struct store *s);
/* Finalises s's kept statements, before its connection closes. */
void store_stmts_free(struct store *s);

/* The directory holding path; returns an allocated string, the caller frees it. */
char *store_dir_of(const char *path);

struct token_names;
struct token_row;

/* A workspace's or slot's name, as stored. */
struct token_name {
	int64_t id;
	char *name; /* NULL when NULL */
	size_t len; /* its bytes */
	int type;   /* its SQLite type: only an edit outside tokenwarden stores one not text */
};

/* The names the rows of one tokens_live array share, read once (freed with them). */
struct token_names *tokens_names_load(struct store *s, char **cause);
/* The workspace or slot with id in nm, or NULL when there is none, as a join finds it. */
const struct token_name *tokens_workspace_of(const struct token_names *nm, int64_t id);
const struct token_name *tokens_slot_of(const struct token_names *nm, int64_t id);
/* Frees nm; NULL is allowed. */
void tokens_names_free(struct token_names *nm);

/*
 * Reads the row st holds into r with nm's names: its columns 0 to 12 are
 * t.id, t.workspace_id, t.slot_id, t.token, t.name, t.state, t.origin,
 * t.requested_at, t.created_at, t.expires_at, t.updated_at, t.retire_after
 * and whether it has a secret.  Returns 0, or -1 when its workspace does
 * not exist (the join of the other listings leaves such a row out).
 */
int tokens_read_live(struct sqlite3_stmt *st, struct token_names *nm, struct token_row *r);

/*
 * Appends an event of kind about token row `row`, details (borrowed, may be
 * NULL) with the row's id and its digest as the open transaction leaves it
 * (inventory.h), so the tables follow from the history.  Returns 0, or -1
 * with *cause.
 */
int tokens_row_event(struct store *s, int64_t row, int64_t now, const char *kind,
		     const json_t *details, char **cause);

#endif
