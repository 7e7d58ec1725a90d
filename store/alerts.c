/* Alerts sent for findings that still hold; see alerts.h. */
#include "store/alerts.h"

#include "core/xalloc.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* The index of key in keys[0..n), or n when it is not there. */
static size_t
find_key(const char *const *keys, size_t n, const char *key)
{
	size_t i = 0;

	while (i < n && strcmp(keys[i], key) != 0)
		i++;
	return i;
}

/*
 * Reads the alerts sent: last[i] for each key among keys, and *stale (an
 * allocated array of allocated keys) for the others.  Returns 0 or -1.
 */
static int
read_sent(struct store *s, const char *const *keys, size_t n, int64_t *last, char ***stale,
	  size_t *nstale, char **cause)
{
	sqlite3_stmt *st = store_prepare(s, "SELECT key, sent_at FROM alerts", cause);
	int step;

	if (st == NULL)
		return -1;
	for (;;) {
		const char *key;
		size_t i;

		step = sqlite3_step(st);
		if (step != SQLITE_ROW)
			break;
		key = (const char *)sqlite3_column_text(st, 0);
		i = find_key(keys, n, key);
		if (i < n) {
			last[i] = sqlite3_column_int64(st, 1);
			continue;
		}
		*stale = xrealloc(*stale, (*nstale + 1) * sizeof **stale);
		(*stale)[(*nstale)++] = xstrdup(key);
	}
	sqlite3_finalize(st);
	if (step == SQLITE_DONE)
		return 0;
	store_error(s, "reading the alerts sent", cause);
	return -1;
}

int
alerts_last(struct store *s, const char *const *keys, size_t n, int64_t *last, char **cause)
{
	sqlite3_stmt *del = NULL;
	char **stale = NULL;
	size_t nstale = 0;
	int rc = -1;

	for (size_t i = 0; i < n; i++)
		last[i] = 0;
	if (store_begin(s, cause) < 0 || read_sent(s, keys, n, last, &stale, &nstale, cause) < 0)
		goto out;
	/* Deleted once the read is over, so that no row changes under a pending SELECT. */
	del = store_prepare(s, "DELETE FROM alerts WHERE key = ?1", cause);
	if (del == NULL)
		goto out;
	for (size_t i = 0; i < nstale; i++) {
		sqlite3_bind_text(del, 1, stale[i], -1, SQLITE_STATIC);
		if (sqlite3_step(del) != SQLITE_DONE) {
			store_error(s, "forgetting an alert", cause);
			goto out;
		}
		sqlite3_reset(del);
	}
	rc = 0;
out:
	sqlite3_finalize(del);
	for (size_t i = 0; i < nstale; i++)
		free(stale[i]);
	free(stale);
	return store_end(s, rc, cause);
}

int
alerts_sent(struct store *s, const char *const *keys, const int *due, size_t n, int64_t now,
	    char **cause)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (store_begin(s, cause) < 0)
		goto out;
	st = store_prepare(s,
			   "INSERT INTO alerts (key, sent_at) VALUES (?1, ?2) "
			   "ON CONFLICT (key) DO UPDATE SET sent_at = ?2",
			   cause);
	if (st == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (!due[i])
			continue;
		sqlite3_bind_text(st, 1, keys[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, now);
		if (sqlite3_step(st) != SQLITE_DONE) {
			store_error(s, "recording an alert", cause);
			goto out;
		}
		sqlite3_reset(st);
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	return store_end(s, rc, cause);
}
