/* Policy diagnostics and spelling suggestions; see diag.h. */
#include "policies/diag.h"

#include "core/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
diag_init(struct diag_list *d, const char *file)
{
	memset(d, 0, sizeof *d);
	d->file = xstrdup(file);
}

void
diag_add(struct diag_list *d, enum diag_level level, int line, int col, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	diag_add_msg(d, level, line, col, msg);
}

void
diag_add_msg(struct diag_list *d, enum diag_level level, int line, int col, char *msg)
{
	/* A policy's text reaches terminals: no escape sequences through it. */
	for (char *c = msg; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	if (d->n == d->cap)
		d->v = xgrow(d->v, &d->cap, 16, sizeof *d->v);
	d->v[d->n].level = level;
	d->v[d->n].line = line;
	d->v[d->n].col = col;
	d->v[d->n].seq = d->n;
	d->v[d->n].msg = msg;
	d->n++;
	if (level == DIAG_ERROR)
		d->nerrors++;
	else
		d->nwarnings++;
}

static int
diag_order(const void *x, const void *y)
{
	const struct diag *a = x, *b = y;

	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

void
diag_sort(struct diag_list *d)
{
	if (d->n > 1)
		qsort(d->v, d->n, sizeof *d->v, diag_order);
}

char *
diag_format(const struct diag_list *d, size_t i)
{
	const struct diag *e = &d->v[i];
	const char *level = e->level == DIAG_ERROR ? "error" : "warning";

	if (e->line == 0)
		return xasprintf("%s: %s: %s", d->file, level, e->msg);
	return xasprintf("%s:%d:%d: %s: %s", d->file, e->line, e->col, level, e->msg);
}

void
diag_free(struct diag_list *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].msg);
	free(d->v);
	free(d->file);
	memset(d, 0, sizeof *d);
}

/* Optimal string alignment distance (Damerau-Levenshtein with adjacent swaps), capped at 64. */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strnlen(a, 64), lb = strnlen(b, 64);
	size_t d[65][65];

	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t v = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

const char *
diag_suggest(const char *word, const char *const *candidates)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1;
	size_t len = strlen(word);
	/* Up to a third of the word may be wrong, at least one and at most three edits. */
	size_t limit = len / 3 < 1 ? 1 : len / 3 > 3 ? 3 : len / 3;

	for (size_t i = 0; candidates[i] != NULL; i++) {
		size_t dist = distance(word, candidates[i]);

		if (dist < best_d) {
			best_d = dist;
			best = candidates[i];
		}
	}
	return best_d <= limit ? best : NULL;
}
