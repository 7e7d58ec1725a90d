/* What a table printed on standard output may assume of the terminal, if any. */
#ifndef TW_TERM_H
#define TW_TERM_H

#include <stddef.h>

/*
 * Whether to colour standard output: only when it is a terminal, $NO_COLOR
 * is unset or empty (no-color.org) and $TERM is not "dumb".
 */
int term_colour(void);

/*
 * The columns a table on standard output should fit: the terminal's width,
 * else $COLUMNS when it is a number, else 0 (no limit: a pipe or a file
 * gets whole lines).
 */
size_t term_width(void);

#endif
