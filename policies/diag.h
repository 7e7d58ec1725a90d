/*
 * Diagnostics of a policy file: every error and warning found in one pass,
 * each with its line and column, printed as FILE:LINE:COLUMN: level: message.
 */
#ifndef TW_DIAG_H
#define TW_DIAG_H

#include <stddef.h>

enum diag_level { DIAG_ERROR, DIAG_WARNING };

struct diag {
	enum diag_level level;
	int line, col; /* 1-based; 0 when the problem has no place in the file */
	size_t seq;    /* the order it was found in, to keep sorting stable */
	char *msg;
};

struct diag_list {
	char *file; /* as named in messages */
	struct diag *v;
	size_t n, cap;
	size_t nerrors, nwarnings;
};

/* Starts an empty list for file (copied). */
void diag_init(struct diag_list *d, const char *file);
/* Adds a diagnostic at line:col; control characters in it become '?'. */
void diag_add(struct diag_list *d, enum diag_level level, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* As diag_add with a message already made; takes ownership of msg (allocated). */
void diag_add_msg(struct diag_list *d, enum diag_level level, int line, int col, char *msg);
/* Sorts by line, then column, keeping the order of equal places. */
void diag_sort(struct diag_list *d);
/* Returns "FILE:LINE:COLUMN: error: message" for entry i; the caller frees it. */
char *diag_format(const struct diag_list *d, size_t i);
/* Frees the entries and the file name; the list can be initialised again. */
void diag_free(struct diag_list *d);

/*
 * Returns the candidate (from a NULL-terminated list) closest to word when
 * it is close enough to be a likely misspelling, else NULL.
 */
const char *diag_suggest(const char *word, const char *const *candidates);

#endif
