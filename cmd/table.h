/*
 * Tables for the terminal: columns aligned with spaces and fitted to its
 * width by leaving out the least needed ones, colour only on a terminal and
 * never with NO_COLOR (https://no-color.org).  Lines are asked for twice,
 * once to measure and once to print, so a table of any length takes no
 * memory.
 */
#ifndef TW_TABLE_H
#define TW_TABLE_H

#include <stddef.h>
#include <stdio.h>

/* Whether to colour what goes to f: a terminal, NO_COLOR unset or empty, TERM not dumb. */
int table_colour(FILE *f);

/* f's terminal width in columns; COLUMNS when set; 0 when not a terminal (no limit). */
int table_width(FILE *f);

/*
 * Fills cells[0..ncols) with line i's stored text (NULL: "-"; valid until
 * the next call) and may set *colour to an SGR code ("31" red).
 */
typedef void (*table_line_fn)(size_t i, const char **cells, const char **colour, void *arg);

struct table {
	size_t ncols;
	const char *const *heads;
	const int *drop; /* which column goes first when short of width: the highest; 0 never */
	size_t nlines;
	table_line_fn line;
	void *arg;
};

/*
 * Prints t to f within width (0: no limit), in colour or not.  Stored text
 * is made safe with print_clean.
 */
void table_print(const struct table *t, FILE *f, int width, int colour);

#endif
