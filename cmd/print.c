/* Token output for the token verbs: tokens from the API and inventory rows. */
#include "cmd/print.h"
#include "cmd/msg.h"

#include "core/jsonx.h"
#include "core/outbuf.h"
#include "core/timefmt.h"
#include "core/xalloc.h"
#include "store/tokens.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Set once standard output failed, through stdio or print_secret's own writes. */
static int stdout_lost;

/* Says that standard output could not be written (err: errno, 0 unknown), the first time only. */
static void
stdout_failed(int err)
{
	if (!stdout_lost)
		errorf("cannot write to standard output%s%s", err != 0 ? ": " : "",
		       err != 0 ? strerror(err) : "");
	stdout_lost = 1;
}

int
print_secret(const char *s)
{
	size_t len = strlen(s);

	fflush(stdout);
	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			stdout_failed(n < 0 ? errno : 0);
			return -1;
		}
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
set_time(json_t *o, const char *key, int64_t ms)
{
	char buf[TIMEFMT_MAX];

	timefmt_mode(ms, buf);
	json_object_set_new(o, key, json_string(buf));
}

static json_t *print_json_text(const char *s);

static void
print_json(const char *workspace, const struct mode_token *t, int show_secret)
{
	json_t *o = json_object();
	char *bearer = NULL, *text;

	json_object_set_new(o, "workspace", json_string(workspace));
	json_object_set_new(o, "token", json_string(t->token));
	json_object_set_new(o, "name", print_json_text(t->name));
	json_object_set_new(o, "creator_id", json_integer(t->creator_id));
	json_object_set_new(o, "organization_id", json_integer(t->organization_id));
	set_time(o, "created_at", t->created_at);
	set_time(o, "updated_at", t->updated_at);
	set_time(o, "expires_at", t->expires_at);
	json_object_set_new(o, "authentication_for", print_json_text(t->authentication_for));
	json_object_set_new(o, "authorization_type", print_json_text(t->authorization_type));
	/* The access key is half of the credential, sealed with the secret: shown with it. */
	if (show_secret && t->access_secret != NULL) {
		bearer = mode_bearer(t->token, t->access_key, t->access_secret);
		json_object_set_new(o, "access_key", json_string(t->access_key));
		json_object_set_new(o, "access_secret", json_string(t->access_secret));
		json_object_set_new(o, "bearer", json_string(bearer));
	}
	text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	print_secret(text);
	print_secret("\n");
	jsonx_free(text);
	json_decref(o);
	xsecret_free(bearer);
}

void
print_token(const char *verb, const char *workspace, const struct mode_token *t, int json,
	    int show_secret)
{
	char when[TIMEFMT_MAX], *line, *name;

	if (json) {
		print_json(workspace, t, show_secret);
		return;
	}
	timefmt_mode(t->expires_at, when);
	name = print_clean(t->name, NULL);
	printf("%s token %s \"%s\" in workspace %s; expires %s\n", verb, t->token, name, workspace,
	       when);
	free(name);
	if (!show_secret || t->access_secret == NULL)
		return;
	{
		char *bearer = mode_bearer(t->token, t->access_key, t->access_secret);
		size_t n = strlen(t->access_key) + strlen(t->access_secret) + strlen(bearer) + 64;

		line = xsecret_alloc(n);
		snprintf(line, n, "access_key    %s\naccess_secret %s\nbearer        %s\n",
			 t->access_key, t->access_secret, bearer);
		print_secret(line);
		xsecret_free(line);
		xsecret_free(bearer);
	}
}

int
print_plain(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

char *
print_clean(const char *s, size_t *width)
{
	size_t n = strlen(s), i = 0, chars = 0;
	char *out = xmalloc(n + 1);

	while (i < n) {
		int len = jsonx_utf8_shown((const unsigned char *)s + i, n - i);

		if (len <= 0) {
			out[i++] = '?';
		} else {
			memcpy(out + i, s + i, (size_t)len);
			i += (size_t)len;
		}
		chars++;
	}
	out[n] = '\0';
	if (width != NULL)
		*width = chars;
	return out;
}

/* Returns a JSON string of print_clean(s), or null for NULL. */
static json_t *
print_json_text(const char *s)
{
	char *clean;
	json_t *v;

	if (s == NULL)
		return json_null();
	clean = print_clean(s, NULL);
	v = json_string(clean);
	free(clean);
	return v;
}

/* Sets key to ms as Mode writes times, or to null when ms is 0 (not set). */
static void
set_time_or_null(json_t *o, const char *key, int64_t ms)
{
	if (ms == 0)
		json_object_set_new(o, key, json_null());
	else
		set_time(o, key, ms);
}

static json_t *
row_json(const struct token_row *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "workspace", print_json_text(r->workspace));
	json_object_set_new(o, "slot", print_json_text(r->slot));
	json_object_set_new(o, "token", print_json_text(r->token));
	json_object_set_new(o, "name", print_json_text(r->name));
	json_object_set_new(o, "state", json_string(tokens_state_name(r->state)));
	json_object_set_new(o, "origin", print_json_text(r->origin));
	set_time(o, "requested_at", r->requested_at);
	set_time_or_null(o, "created_at", r->created_at);
	set_time(o, "expires_at", r->expires_at);
	set_time(o, "updated_at", r->updated_at);
	set_time_or_null(o, "retire_after", r->retire_after);
	json_object_set_new(o, "has_secret", json_boolean(r->has_secret));
	return o;
}

/* Prints v, indented as print_token does, and releases it. */
static void
print_json_value(json_t *v)
{
	char *text = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (text != NULL)
		printf("%s\n", text);
	jsonx_free(text);
	json_decref(v);
}

/* Writes s as print_json_text makes it: print_clean's text, quoted, or null for NULL. */
static void
put_json_text(struct outbuf *o, const char *s)
{
	char *clean;

	if (s == NULL || print_plain(s)) {
		jsonx_out_text(o, s);
		return;
	}
	/* Cleaned, it holds no control character nor DEL: quoted as jansson quotes it. */
	clean = print_clean(s, NULL);
	jsonx_out_text(o, clean);
	free(clean);
}

/* Writes the start of a member of an object in an array, as JSON_INDENT(2) lays it out. */
static void
put_member(struct outbuf *o, const char *key, int first)
{
	outbuf_str(o, first ? "\n    \"" : ",\n    \"");
	outbuf_str(o, key);
	outbuf_str(o, "\": ");
}

/* Writes ms as set_time sets it, Mode's time; with or_null, as set_time_or_null. */
static void
put_json_time(struct outbuf *o, int64_t ms, int or_null)
{
	char buf[TIMEFMT_MAX];

	if (or_null && ms == 0) {
		outbuf_str(o, "null");
		return;
	}
	timefmt_mode(ms, buf);
	jsonx_out_text(o, buf);
}

/*
 * Writes r as the element of an array that row_json's object would be in
 * json_dumps(JSON_INDENT(2) | JSON_PRESERVE_ORDER), the same bytes, without
 * building it: a list of every row of a long history built 100,000 objects.
 */
static void
put_row_json(struct outbuf *o, const struct token_row *r)
{
	outbuf_str(o, "{");
	put_member(o, "workspace", 1);
	put_json_text(o, r->workspace);
	put_member(o, "slot", 0);
	put_json_text(o, r->slot);
	put_member(o, "token", 0);
	put_json_text(o, r->token);
	put_member(o, "name", 0);
	put_json_text(o, r->name);
	put_member(o, "state", 0);
	jsonx_out_text(o, tokens_state_name(r->state));
	put_member(o, "origin", 0);
	put_json_text(o, r->origin);
	put_member(o, "requested_at", 0);
	put_json_time(o, r->requested_at, 0);
	put_member(o, "created_at", 0);
	put_json_time(o, r->created_at, 1);
	put_member(o, "expires_at", 0);
	put_json_time(o, r->expires_at, 0);
	put_member(o, "updated_at", 0);
	put_json_time(o, r->updated_at, 0);
	put_member(o, "retire_after", 0);
	put_json_time(o, r->retire_after, 1);
	put_member(o, "has_secret", 0);
	outbuf_str(o, r->has_secret ? "true" : "false");
	outbuf_str(o, "\n  }");
}

static const char *const col_names[PRINT_ROWS_COLS] = {
    "WORKSPACE", "SLOT", "TOKEN", "NAME", "STATE", "EXPIRES", "SECRET",
};

/* Sets one table line's cells as stored (NULL: absent, printed '-'); when[] holds the time. */
static void
row_cells(const struct token_row *r, const char **cells, char when[TIMEFMT_MAX])
{
	timefmt_mode(r->expires_at, when);
	cells[0] = r->workspace;
	cells[1] = r->slot;
	cells[2] = r->token;
	cells[3] = r->name;
	cells[4] = tokens_state_name(r->state);
	cells[5] = when;
	cells[6] = r->has_secret ? "sealed" : NULL;
}

/* Writes cell v (NULL: '-') made safe, or with o NULL only measures it; returns its width. */
static size_t
put_cell(struct outbuf *o, const char *v)
{
	size_t width;
	char *clean;

	if (v == NULL)
		v = "-";
	if (print_plain(v)) {
		width = strlen(v);
		if (o != NULL)
			outbuf_put(o, v, width);
		return width;
	}
	clean = print_clean(v, &width);
	if (o != NULL)
		outbuf_str(o, clean);
	free(clean);
	return width;
}

/*
 * A table line of cells: measured into p's column widths, or with write,
 * written, each cell but the last padded to its column's width and two
 * spaces.
 */
static void
put_line(struct rows_out *p, const char *const *cells, int write)
{
	for (size_t c = 0; c < PRINT_ROWS_COLS; c++) {
		size_t width = put_cell(write ? &p->o : NULL, cells[c]);

		if (!write && width > p->col[c])
			p->col[c] = width;
		if (!write)
			continue;
		if (c == PRINT_ROWS_COLS - 1)
			outbuf_put(&p->o, "\n", 1);
		else
			outbuf_spaces(&p->o, p->col[c] - width + 2);
	}
}

void
print_rows_init(struct rows_out *p, FILE *f, int json)
{
	memset(p->col, 0, sizeof p->col);
	outbuf_init(&p->o, f);
	p->json = json;
	p->n = 0;
	if (!json)
		put_line(p, col_names, 0);
}

int
print_rows_measure(const struct token_row *r, void *arg)
{
	struct rows_out *p = arg;
	char when[TIMEFMT_MAX];
	const char *cells[PRINT_ROWS_COLS];

	if (!p->json) {
		row_cells(r, cells, when);
		put_line(p, cells, 0);
	}
	return 0;
}

int
print_rows_put(const struct token_row *r, void *arg)
{
	struct rows_out *p = arg;
	char when[TIMEFMT_MAX];
	const char *cells[PRINT_ROWS_COLS];

	if (p->json) {
		outbuf_str(&p->o, p->n == 0 ? "[\n  " : ",\n  ");
		put_row_json(&p->o, r);
	} else {
		if (p->n == 0)
			put_line(p, col_names, 1);
		row_cells(r, cells, when);
		put_line(p, cells, 1);
	}
	p->n++;
	return 0;
}

void
print_rows_end(struct rows_out *p)
{
	if (p->json)
		outbuf_str(&p->o, p->n == 0 ? "[]\n" : "\n]\n");
	else if (p->n == 0)
		put_line(p, col_names, 1);
	outbuf_flush(&p->o);
}

void
print_row(const struct token_row *r, int json)
{
	json_t *o = row_json(r);
	const char *key;
	json_t *v;

	if (json) {
		print_json_value(o);
		return;
	}
	/* The JSON object's keys, in its order, with '-' for null. */
	json_object_foreach(o, key, v)
	{
		char label[32];
		const char *text = json_is_string(v)  ? json_string_value(v)
				   : json_is_true(v)  ? "yes"
				   : json_is_false(v) ? "no"
						      : "-";

		snprintf(label, sizeof label, "%s:", key);
		printf("%-14s%s\n", label, text);
	}
	json_decref(o);
}

int
print_flush(void)
{
	int err = 0;

	if (fflush(stdout) != 0)
		err = errno;
	else if (!ferror(stdout) && !stdout_lost)
		return 0;
	stdout_failed(err);
	return -1;
}
