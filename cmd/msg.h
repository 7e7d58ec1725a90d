/*
 * The one place tokenwarden speaks to the user on stderr: errors, warnings
 * and notes, as text or JSON lines (--log-format json).  Data goes to stdout
 * from the verbs themselves.
 */
#ifndef TW_MSG_H
#define TW_MSG_H

enum msg_format {
	MSG_TEXT,  /* lines for people; each with its time when stderr is a file or pipe */
	MSG_PLAIN, /* lines for people, never with a time (a logger adds its own) */
	MSG_JSON,  /* one JSON object a line */
};

/* Sets --quiet (notes suppressed) and --log-format. */
void msg_setup(int quiet, enum msg_format format);

/* The format named "text", "plain" or "json"; -1 for any other name. */
int msg_format_parse(const char *name);

void errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void notef(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * One step of a run: event (a stable name), about workspace ws, slot and
 * token (each may be NULL); a note, or a warning when failed.  JSON lines
 * carry each as a field.  Safe to call from several threads.
 */
void msg_event(int failed, const char *event, const char *ws, const char *slot, const char *token,
	       const char *text);
/* Whether a progress line would be shown: text logs, not quiet, stderr a terminal. */
int msg_progress_wanted(void);
/*
 * Shows text as the progress line at the bottom of the terminal, kept below
 * every message printed after it; NULL removes it.  Does nothing unless
 * msg_progress_wanted().
 */
void msg_progress(const char *text);
/* A problem at a place in a file, as compilers print them: FILE:LINE:COLUMN: level: text. */
void msg_diag(const char *level, const char *file, int line, int col, const char *text);

#endif
