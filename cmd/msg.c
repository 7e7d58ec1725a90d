/* Diagnostics on stderr, as text or JSON lines. */
#include "cmd/msg.h"

#include "core/clock.h"
#include "core/timefmt.h"
#include "core/xalloc.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/jsonx.h"

static int quiet;
static enum msg_format format = MSG_TEXT;
/* The progress line on the terminal ("" when none is shown), and the lock for it and stderr. */
static char progress[160];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* Each text line carries its time: not on a terminal, nor to the journal, which keep their own. */
static int stamped;

/* Whether stderr is systemd's journal: $JOURNAL_STREAM names its device and inode. */
static int
to_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	/* A malformed value only fails to match stderr. NOLINTNEXTLINE(cert-err34-c) */
	return js != NULL && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
	       fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void
msg_setup(int q, enum msg_format f)
{
	quiet = q;
	format = f;
	stamped = f == MSG_TEXT && !isatty(STDERR_FILENO) && !to_journal();
}

int
msg_format_parse(const char *name)
{
	static const char *const names[] = {
	    [MSG_TEXT] = "text", [MSG_PLAIN] = "plain", [MSG_JSON] = "json"};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

/* The fields of one log line; NULL ones are null in JSON and left out of text. */
struct line {
	const char *level; /* "error", "warning", "note" */
	const char *event; /* what happened, a stable name */
	const char *ws, *slot, *token;
	const char *text;
};

/* Prints l as one JSON object: ts, level, event, workspace, slot, token, msg, always. */
static void
put_json(const struct line *l)
{
	char ts[TIMEFMT_MAX], *out;
	json_t *o;

	timefmt_mode(clock_now_ms(), ts);
	/* Text cut inside a character, or a path that is not UTF-8, must not cost the line. */
	o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "ts", ts, "level", l->level, "event",
		      l->event, "workspace", jsonx_text(l->ws), "slot", jsonx_text(l->slot),
		      "token", jsonx_text(l->token), "msg", jsonx_text(l->text));
	out = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	fprintf(stderr, "%s\n", out != NULL ? out : "{}");
	jsonx_free(out);
	json_decref(o);
}

/*
 * Writes s to standard error with each byte a terminal would not show as
 * itself (jsonx_utf8_shown: a control, a bidirectional control, broken
 * UTF-8) as '?', a line break or tab as a space: a message that echoes text
 * from anywhere (an id typed on the command line, a server's answer) stays
 * one line, and cannot move the cursor, clear the screen or make the line
 * read otherwise than it is.
 */
static void
put_shown(FILE *to, const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n;) {
		int len = jsonx_utf8_shown((const unsigned char *)s + i, n - i);

		if (len < 0) {
			/* A library's line break or tab (SQLite's reports) reads as a space. */
			fputc(s[i] == '\n' || s[i] == '\t' ? ' ' : '?', to);
			i++;
			continue;
		}
		fwrite(s + i, 1, (size_t)len, to);
		i += (size_t)len;
	}
}

/*
 * A line to compose before it goes to standard error (unbuffered) in one
 * write, so that lines of processes sharing the log do not interleave.
 * Without memory for it, the line goes out piece by piece.
 */
struct composed {
	FILE *to;
	char *buf;
	size_t len;
};

static void
compose_start(struct composed *c)
{
	c->buf = NULL;
	c->len = 0;
	c->to = open_memstream(&c->buf, &c->len);
	if (c->to == NULL)
		c->to = stderr;
}

static void
compose_end(struct composed *c)
{
	if (c->to == stderr)
		return;
	if (fclose(c->to) == 0)
		fwrite(c->buf, 1, c->len, stderr);
	free(c->buf);
}

/* Prints one line.  Safe from any thread. */
static void
put(const struct line *l)
{
	pthread_mutex_lock(&lock); /* one whole line, and the progress line redrawn below it */
	if (progress[0] != '\0')
		fputs("\r\033[K", stderr);
	if (format == MSG_JSON)
		put_json(l);
	else {
		struct composed c;

		compose_start(&c);
		if (stamped) {
			char ts[TIMEFMT_MAX];

			timefmt_mode(clock_now_ms(), ts);
			fprintf(c.to, "%s ", ts);
		}
		fputs("tokenwarden: ", c.to);
		if (l->level[0] != 'n')
			fprintf(c.to, "%s: ", l->level);
		if (l->ws != NULL || l->slot != NULL) {
			put_shown(c.to, l->ws != NULL ? l->ws : "-");
			fputc('/', c.to);
			put_shown(c.to, l->slot != NULL ? l->slot : "-");
			fputs(": ", c.to);
		}
		put_shown(c.to, l->text);
		fputc('\n', c.to);
		compose_end(&c);
	}
	if (progress[0] != '\0')
		fputs(progress, stderr);
	pthread_mutex_unlock(&lock);
}

static void emit(const char *level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
emit(const char *level, const char *fmt, va_list ap)
{
	struct line l = {level, "message", NULL, NULL, NULL, NULL};
	char text[2048];

	vsnprintf(text, sizeof text, fmt, ap); /* a longer message is cut, not dropped */
	l.text = text;
	put(&l);
}

void
msg_event(int failed, const char *event, const char *ws, const char *slot, const char *token,
	  const char *text)
{
	struct line l = {failed ? "warning" : "note", event, ws, slot, token, text};

	if (!failed && quiet)
		return;
	put(&l);
}

int
msg_progress_wanted(void)
{
	return !quiet && format != MSG_JSON && isatty(STDERR_FILENO);
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
	struct composed c;

	if (format == MSG_JSON) {
		char ts[TIMEFMT_MAX], *out;
		json_t *o;

		timefmt_mode(clock_now_ms(), ts);
		o = json_pack("{s:s, s:s, s:s, s:n, s:n, s:n, s:o, s:i, s:i, s:o}", "ts", ts,
			      "level", level, "event", "diagnostic", "workspace", "slot", "token",
			      "file", jsonx_text(file), "line", line, "column", col, "msg",
			      jsonx_text(text));
		out = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		fprintf(stderr, "%s\n", out != NULL ? out : "{}");
		jsonx_free(out);
		json_decref(o);
		return;
	}
	compose_start(&c);
	put_shown(c.to, file);
	if (line > 0)
		fprintf(c.to, ":%d:%d", line, col);
	fprintf(c.to, ": %s: ", level);
	put_shown(c.to, text);
	fputc('\n', c.to);
	compose_end(&c);
}
