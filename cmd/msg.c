/* Diagnostics on stderr, as text or JSON lines. */
#include "cmd/msg.h"

#include "core/xalloc.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/jsonx.h"

static int quiet;
static enum msg_format format = MSG_TEXT;
/* The progress line on the terminal ("" when none is shown), and the lock for it and stderr. */
static char progress[160];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void
msg_setup(int q, enum msg_format f)
{
	quiet = q;
	format = f;
}

/* Prints one message; ws and slot, when set, say what it is about.  Safe from any thread. */
static void
emit_about(const char *level, const char *ws, const char *slot, const char *text)
{
	pthread_mutex_lock(&lock); /* one whole line, and the progress line redrawn below it */
	if (progress[0] != '\0')
		fputs("\r\033[K", stderr);
	if (format == MSG_JSON) {
		json_t *o = json_pack("{s:s, s:s}", "level", level, "msg", text);
		char *line;

		if (ws != NULL)
			json_object_set_new(o, "workspace", json_string(ws));
		if (slot != NULL)
			json_object_set_new(o, "slot", json_string(slot));
		line = json_dumps(o, JSON_COMPACT);
		fprintf(stderr, "%s\n", line != NULL ? line : "{}");
		jsonx_free(line);
		json_decref(o);
	} else {
		fputs("tokenwarden: ", stderr);
		if (level[0] != 'n')
			fprintf(stderr, "%s: ", level);
		if (ws != NULL || slot != NULL)
			fprintf(stderr, "%s/%s: ", ws != NULL ? ws : "-",
				slot != NULL ? slot : "-");
		fprintf(stderr, "%s\n", text);
	}
	if (progress[0] != '\0')
		fputs(progress, stderr);
	pthread_mutex_unlock(&lock);
}

static void
emit(const char *level, const char *fmt, va_list ap)
{
	char text[2048];

	vsnprintf(text, sizeof text, fmt, ap); /* a longer message is cut, not dropped */
	emit_about(level, NULL, NULL, text);
}

void
msg_event(int failed, const char *ws, const char *slot, const char *text)
{
	if (!failed && quiet)
		return;
	emit_about(failed ? "warning" : "note", ws, slot, text);
}

int
msg_progress_wanted(void)
{
	return !quiet && format == MSG_TEXT && isatty(STDERR_FILENO);
}

void
msg_progress(const char *text)
{
	if (!msg_progress_wanted())
		return;
	pthread_mutex_lock(&lock);
	if (progress[0] != '\0')
		fputs("\r\033[K", stderr);
	if (text != NULL)
		snprintf(progress, sizeof progress, "%s", text);
	else
		progress[0] = '\0';
	fputs(progress, stderr);
	fflush(stderr);
	pthread_mutex_unlock(&lock);
}

void
errorf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("error", fmt, ap);
	va_end(ap);
}

void
warnf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("warning", fmt, ap);
	va_end(ap);
}

void
notef(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	emit("note", fmt, ap);
	va_end(ap);
}

void
msg_diag(const char *level, const char *file, int line, int col, const char *text)
{
	if (format == MSG_JSON) {
		json_t *o = json_pack("{s:s, s:s, s:i, s:i, s:s}", "level", level, "file", file,
				      "line", line, "column", col, "msg", text);
		char *out = json_dumps(o, JSON_COMPACT);

		fprintf(stderr, "%s\n", out != NULL ? out : "{}");
		jsonx_free(out);
		json_decref(o);
	} else if (line > 0)
		fprintf(stderr, "%s:%d:%d: %s: %s\n", file, line, col, level, text);
	else
		fprintf(stderr, "%s: %s: %s\n", file, level, text);
}
