/* Checked JSON field access and a wiping allocator for jansson. */
#include "core/jsonx.h"

#include "core/timefmt.h"
#include "core/xalloc.h"

#include <sodium.h>
#include <string.h>
#include <stdlib.h>

/* Each block carries its size in front, so free can wipe it. */
union jsonx_hdr {
	size_t size;
	max_align_t align;
};

static void *
wiping_malloc(size_t n)
{
	union jsonx_hdr *h = malloc(sizeof *h + n);

	if (h == NULL)
		return NULL;
	h->size = n;
	return h + 1;
}

static void
wiping_free(void *p)
{
	union jsonx_hdr *h;

	if (p == NULL)
		return;
	h = (union jsonx_hdr *)p - 1;
	sodium_memzero(p, h->size);
	free(h);
}

void
jsonx_init(void)
{
	json_set_alloc_funcs(wiping_malloc, wiping_free);
}

void
jsonx_free(void *p)
{
	json_malloc_t m;
	json_free_t f;

	json_get_alloc_funcs(&m, &f);
	f(p);
}

int
jsonx_utf8_len(const unsigned char *p, size_t left)
{
	static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
	uint32_t cp;
	int len;

	if (p[0] < 0x80)
		return 1;
	len = (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3 : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
	if (len == 0 || (size_t)len > left)
		return -1;
	cp = p[0] & (0x7f >> len);
	for (int i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	return len;
}

json_t *
jsonx_text(const char *s)
{
	size_t n, i = 0;
	char *copy;
	json_t *v;

	if (s == NULL)
		return json_null();
	n = strlen(s);
	copy = xmalloc(n + 1);
	while (i < n) {
		int len = jsonx_utf8_len((const unsigned char *)s + i, n - i);

		if (len < 0) {
			copy[i++] = '?';
		} else {
			memcpy(copy + i, s + i, (size_t)len);
			i += (size_t)len;
		}
	}
	copy[n] = '\0';
	v = json_string(copy);
	free(copy);
	return v;
}

/*
 * Whether each byte goes into a JSON string as it is: printable ASCII but
 * '"' and '\\'.  A table, since plan --json writes megabytes through it;
 * NUL is not plain, so a scan stops at the end of a string.
 */
static const unsigned char plain_bytes[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static int
json_plain(unsigned char c)
{
	return plain_bytes[c];
}

void
jsonx_out_text(struct outbuf *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, i = 0;

	if (s == NULL) {
		outbuf_put(o, "null", 4);
		return;
	}
	n = strlen(s);
	outbuf_put(o, "\"", 1);
	while (i < n) {
		size_t run = i;

		while (run < n && json_plain(p[run]))
			run++;
		if (run > i) {
			outbuf_put(o, p + i, run - i);
			i = run;
			continue;
		}
		if (p[i] == '"' || p[i] == '\\') {
			unsigned char esc[2] = {'\\', p[i++]};

			outbuf_put(o, esc, sizeof esc);
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			char esc[8];

			outbuf_put(o, esc, (size_t)snprintf(esc, sizeof esc, "\\u%04x", p[i++]));
		} else {
			int len = jsonx_utf8_len(p + i, n - i);

			outbuf_put(o, len < 0 ? (const unsigned char *)"?" : p + i,
				   len < 0 ? 1 : (size_t)len);
			i += len < 0 ? 1 : (size_t)len;
		}
	}
	outbuf_put(o, "\"", 1);
}

void
jsonx_out_key(struct outbuf *o, const char *key, int first)
{
	outbuf_put(o, first ? "\"" : ",\"", first ? 1 : 2);
	outbuf_put(o, key, strlen(key));
	outbuf_put(o, "\":", 2);
}

void
jsonx_out_int(struct outbuf *o, const char *key, int64_t v)
{
	char digits[24];
	size_t n = sizeof digits;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	jsonx_out_key(o, key, 0);
	do
		digits[--n] = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		digits[--n] = '-';
	outbuf_put(o, digits + n, sizeof digits - n);
}

void
jsonx_put_text(FILE *f, const char *s)
{
	struct outbuf o;

	outbuf_init(&o, f);
	jsonx_out_text(&o, s);
	outbuf_flush(&o);
}

void
jsonx_put_key(FILE *f, const char *key, int first)
{
	struct outbuf o;

	outbuf_init(&o, f);
	jsonx_out_key(&o, key, first);
	outbuf_flush(&o);
}

const char *
jsonx_typename(const json_t *v)
{
	if (v == NULL)
		return "missing";
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

/*
 * Looks up field; returns 0 with *v set when present and of type want, 1
 * when absent (or null) and optional, -1 with a cause otherwise.
 */
static int
lookup(const json_t *obj, const char *field, enum jsonx_need need, json_type want,
       const char *want_name, json_t **v, char **cause)
{
	json_t *f = json_is_object(obj) ? json_object_get(obj, field) : NULL;

	if (!json_is_object(obj)) {
		*cause = xasprintf("expected an object holding '%s', got %s", field,
				   jsonx_typename(obj));
		return -1;
	}
	if (f == NULL || json_is_null(f)) {
		if (need == JSONX_OPTIONAL)
			return 1;
		*cause = xasprintf("field '%s' is missing", field);
		return -1;
	}
	if (json_typeof(f) != want && !(want == JSON_TRUE && json_typeof(f) == JSON_FALSE)) {
		*cause =
		    xasprintf("field '%s' is %s, expected %s", field, jsonx_typename(f), want_name);
		return -1;
	}
	*v = f;
	return 0;
}

int
jsonx_string(const json_t *obj, const char *field, enum jsonx_need need, const char **out,
	     char **cause)
{
	json_t *v;
	int rc = lookup(obj, field, need, JSON_STRING, "a string", &v, cause);

	if (rc == 0)
		*out = json_string_value(v);
	return rc;
}

int
jsonx_int(const json_t *obj, const char *field, enum jsonx_need need, int64_t *out, char **cause)
{
	json_t *v;
	int rc = lookup(obj, field, need, JSON_INTEGER, "an integer", &v, cause);

	if (rc == 0)
		*out = (int64_t)json_integer_value(v);
	return rc;
}

int
jsonx_bool(const json_t *obj, const char *field, enum jsonx_need need, int *out, char **cause)
{
	json_t *v;
	int rc = lookup(obj, field, need, JSON_TRUE, "a boolean", &v, cause);

	if (rc == 0)
		*out = json_is_true(v);
	return rc;
}

int
jsonx_time(const json_t *obj, const char *field, enum jsonx_need need, int64_t *ms, char **cause)
{
	const char *s;
	int rc = jsonx_string(obj, field, need, &s, cause);

	if (rc != 0)
		return rc;
	if (timefmt_parse(s, ms) < 0) {
		*cause = xasprintf("field '%s' is not an ISO 8601 time: '%.40s'", field, s);
		return -1;
	}
	return 0;
}

int
jsonx_object(const json_t *obj, const char *field, enum jsonx_need need, json_t **out, char **cause)
{
	return lookup(obj, field, need, JSON_OBJECT, "an object", out, cause);
}
