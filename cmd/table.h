/*
 * Tables for the terminal: columns aligned with spaces and fitted to a
 * width (cmd/term.h's) by leaving out the least needed ones, in colour or
 * not (term_colour).  Lines are asked for twice,
 * once to measure and once to print, so a table of any length takes no
 * memory.
 */
#ifndef TW_TABLE_H
#define TW_TABLE_H

#include <stddef.h>
#include <stdio.h>

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
