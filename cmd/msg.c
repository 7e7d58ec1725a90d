/* Diagnostics on stderr, as text or JSON lines. */
#include "cmd/msg.h"

#include "core/xalloc.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/jsonx.h"

static int quiet;
static enum msg_format format = MSG_TEXT;

void
msg_setup(int q, enum msg_format f)
{
	quiet = q;
	format = f;
}

static void
emit(const char *level, const char *fmt, va_list ap)
{
	char text[2048];

	vsnprintf(text, sizeof text, fmt, ap); /* a longer message is cut, not dropped */
	if (format == MSG_JSON) {
		json_t *o = json_pack("{s:s, s:s}", "level", level, "msg", text);
		char *line = json_dumps(o, JSON_COMPACT);

		fprintf(stderr, "%s\n", line != NULL ? line : "{}");
		jsonx_free(line);
		json_decref(o);
	} else if (level[0] == 'n') {
		fprintf(stderr, "tokenwarden: %s\n", text);
	} else {
		fprintf(stderr, "tokenwarden: %s: %s\n", level, text);
	}
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
