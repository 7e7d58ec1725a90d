/* A fresh database in a private temporary directory, for store unit tests. */
#ifndef TW_STORE_FIXTURE_H
#define TW_STORE_FIXTURE_H

#include "core/xalloc.h"
#include "store/store.h"
#include "store/tokens.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/*
 * SQL taking a store back to what schema 12 wrote: no row kept its last
 * digest (13), and no record of the consumers tokens reached (14, 15).
 */
#define FIXTURE_SCHEMA_12                                                                          \
	"DROP INDEX events_handed; DROP TABLE slot_reached; DROP TABLE handed; "                   \
	"DROP TABLE slot_reached_14; "                                                             \
	"DROP INDEX tokens_live; ALTER TABLE tokens DROP COLUMN recorded_digest; "                 \
	"CREATE INDEX tokens_live ON tokens(id, workspace_id, slot_id, state, token, name, "       \
	"origin, requested_at, created_at, expires_at, updated_at, retire_after) WHERE "           \
	"(state <> 'deleted' AND state <> 'failed' AND state <> 'revoked'); "

struct fixture {
	char dir[32];
	char *path;
	struct store *s;
};

/* Makes the directory and opens (creating) the database; returns 0 or -1. */
static inline int
fixture_open(struct fixture *fx)
{
	char *cause = NULL;

	snprintf(fx->dir, sizeof fx->dir, "/tmp/tw-store-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	fx->path = xasprintf("%s/tw.db", fx->dir);
	if (store_open(fx->path, STORE_CREATE, &fx->s, &cause) < 0) {
		fprintf(stderr, "fixture: %s\n", cause);
		free(cause);
		return -1;
	}
	store_set_actor(fx->s, "tester@host");
	return 0;
}

/* Closes the database and removes the directory. */
static inline void
fixture_close(struct fixture *fx)
{
	char *cmd = xasprintf("rm -rf '%s'", fx->dir);

	store_close(fx->s);
	fx->s = NULL;
	if (system(cmd) != 0)
		fprintf(stderr, "fixture: cannot remove %s\n", fx->dir);
	free(cmd);
	free(fx->path);
}

/* cmocka setup and teardown giving each test a fresh database in *state. */
static inline int
fixture_setup(void **state)
{
	struct fixture *fx = xcalloc(1, sizeof *fx);

	*state = fx;
	return fixture_open(fx);
}

static inline int
fixture_teardown(void **state)
{
	fixture_close(*state);
	free(*state);
	return 0;
}

/* The first column of sql's first row as an int, or -1. */
static inline int
query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Whether a and b are the same row, field by field (names by value). */
static inline void
assert_same_row(const struct token_row *a, const struct token_row *b)
{
	assert_int_equal(a->row, b->row);
	assert_string_equal(a->workspace, b->workspace);
	if (a->slot == NULL || b->slot == NULL)
		assert_ptr_equal(a->slot, b->slot);
	else
		assert_string_equal(a->slot, b->slot);
	if (a->token == NULL || b->token == NULL)
		assert_ptr_equal(a->token, b->token);
	else
		assert_string_equal(a->token, b->token);
	assert_string_equal(a->name, b->name);
	assert_int_equal(a->state, b->state);
	assert_string_equal(a->origin, b->origin);
	assert_int_equal(a->requested_at, b->requested_at);
	assert_int_equal(a->created_at, b->created_at);
	assert_int_equal(a->expires_at, b->expires_at);
	assert_int_equal(a->updated_at, b->updated_at);
	assert_int_equal(a->retire_after, b->retire_after);
	assert_int_equal(a->has_secret, b->has_secret);
}

#endif
