/* Tables for the terminal; see table.h. */
#include "cmd/table.h"

#include "cmd/print.h"

#include <stdlib.h>
#include <string.h>

#define TABLE_MAX_COLS 16

/*
 * Line i's cells (the heads for i 0), made safe: plain ASCII as it is,
 * anything else through print_clean into clean[c] (freed by the caller);
 * with their widths in characters.
 */
static const char *
line_cells(const struct table *t, size_t i, const char **cells, char **clean, size_t *widths)
{
	const char *raw[TABLE_MAX_COLS] = {0}, *colour = NULL;

	if (i == 0)
		memcpy(raw, t->heads, t->ncols * sizeof *raw);
	else
		t->line(i - 1, raw, &colour, t->arg);
	for (size_t c = 0; c < t->ncols; c++) {
		const char *v = raw[c] != NULL ? raw[c] : "-";

		clean[c] = NULL;
		if (print_plain(v)) {
			cells[c] = v;
			widths[c] = strlen(v);
		} else {
			clean[c] = print_clean(v, &widths[c]);
			cells[c] = clean[c];
		}
	}
	return colour;
}

/* The width the shown columns take, two spaces between them. */
static size_t
total(const size_t *col, const int *shown, size_t n)
{
	size_t sum = 0, k = 0;

	for (size_t c = 0; c < n; c++)
		if (shown[c])
			sum += col[c] + (k++ > 0 ? 2 : 0);
	return sum;
}

/* Leaves out columns, highest drop rank first, until the rest fit in width. */
static void
fit(const struct table *t, const size_t *col, int *shown, int width)
{
	while (width > 0 && total(col, shown, t->ncols) > (size_t)width) {
		size_t worst = t->ncols;

		for (size_t c = 0; c < t->ncols; c++)
			if (shown[c] && t->drop[c] > 0 &&
			    (worst == t->ncols || t->drop[c] > t->drop[worst]))
				worst = c;
		if (worst == t->ncols)
			return;
		shown[worst] = 0;
	}
}

static void
print_line(const struct table *t, FILE *f, size_t i, const size_t *col, const int *shown,
	   size_t last, int colour)
{
	const char *cells[TABLE_MAX_COLS];
	char *clean[TABLE_MAX_COLS];
	size_t widths[TABLE_MAX_COLS];
	const char *sgr = line_cells(t, i, cells, clean, widths);

	if (i == 0)
		sgr = "1";
	if (colour && sgr != NULL)
		fprintf(f, "\033[%sm", sgr);
	for (size_t c = 0; c <= last; c++) {
		if (!shown[c])
			continue;
		fputs(cells[c], f);
		if (c != last)
			fprintf(f, "%*s", (int)(col[c] - widths[c] + 2), "");
	}
	fputs(colour && sgr != NULL ? "\033[0m\n" : "\n", f);
	for (size_t c = 0; c < t->ncols; c++)
		free(clean[c]);
}

void
table_print(const struct table *t, FILE *f, int width, int colour)
{
	size_t col[TABLE_MAX_COLS] = {0}, widths[TABLE_MAX_COLS], last = 0;
	int shown[TABLE_MAX_COLS];
	const char *cells[TABLE_MAX_COLS];
	char *clean[TABLE_MAX_COLS];

	if (t->ncols == 0 || t->ncols > TABLE_MAX_COLS)
		return;
	for (size_t i = 0; i <= t->nlines; i++) {
		line_cells(t, i, cells, clean, widths);
		for (size_t c = 0; c < t->ncols; c++) {
			if (widths[c] > col[c])
				col[c] = widths[c];
			free(clean[c]);
		}
	}
	for (size_t c = 0; c < t->ncols; c++)
		shown[c] = 1;
	fit(t, col, shown, width);
	for (size_t c = 0; c < t->ncols; c++)
		if (shown[c])
			last = c;
	for (size_t i = 0; i <= t->nlines; i++)
		print_line(t, f, i, col, shown, last, colour);
}
