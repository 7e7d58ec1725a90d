/* Writing a token to stdout as a human line or JSON. */
#ifndef TW_PRINT_H
#define TW_PRINT_H

#include "core/mode.h"
#include "core/outbuf.h"

#include <stddef.h>
#include <stdio.h>

/*
 * Prints t (verb is "created", "deleted", ...).  The access secret and the
 * Bearer value are printed only when show_secret, and then written straight
 * to the descriptor so no stdio buffer keeps them.
 */
void print_token(const char *verb, const char *workspace, const struct mode_token *t, int json,
		 int show_secret);

struct token_row;

/*
 * Prints inventory rows to f, a row at a time: a table with a header
 * (columns aligned with spaces, no tabs; '-' for absent values), or with
 * json an array of objects whose absent values are null, each laid out as
 * print_row's.  Control characters and invalid UTF-8 in stored text are
 * printed as '?'.  Rows carry no secret, only whether one is sealed.  The
 * output takes no memory of its own, whatever the number of rows.  After
 * print_rows_init, a table needs every row given to print_rows_measure,
 * then each, the same rows in the same order, to print_rows_put; JSON
 * needs print_rows_put alone.  print_rows_end ends it and flushes it to f,
 * whose ferror then tells whether all of it was written.  The two take
 * their rows_out as arg, so that they can be tokens_each's fn; they return 0.
 */
#define PRINT_ROWS_COLS 7
struct rows_out {
	struct outbuf o;
	int json;
	size_t n;                    /* rows put */
	size_t col[PRINT_ROWS_COLS]; /* each column's width in characters, so far */
};
void print_rows_init(struct rows_out *p, FILE *f, int json);
int print_rows_measure(const struct token_row *r, void *arg);
int print_rows_put(const struct token_row *r, void *arg);
void print_rows_end(struct rows_out *p);

/* Prints one row in full: "key: value" lines, or one JSON object as a listing has each. */
void print_row(const struct token_row *r, int json);

/*
 * Returns an allocated copy of stored text that is safe on a terminal and in
 * JSON: each byte of a control character or of invalid UTF-8 becomes '?'.
 * *width, when not NULL, is set to the number of characters.
 */
char *print_clean(const char *s, size_t *width);

/* Whether s is printable ASCII only, which print_clean would copy as it is. */
int print_plain(const char *s);

/*
 * Flushes stdout; returns 0, or -1 when what was printed could not all be
 * written, through stdio or print_secret, after an error message: the first
 * time only, so that a verb's own check and main's last one say it once.
 */
int print_flush(void);

/*
 * Writes s (which may hold a secret) straight to the stdout descriptor, so
 * no stdio buffer keeps a copy.  Returns 0, or -1 after a message.
 */
int print_secret(const char *s);

#endif
