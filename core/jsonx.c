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

const char *
jsonx_error_what(const json_error_t *e)
{
	switch (json_error_code(e)) {
	case json_error_out_of_memory:
		return "out of memory";
	case json_error_stack_overflow:
		return "nested too deeply";
	case json_error_invalid_utf8:
		return "not UTF-8";
	case json_error_premature_end_of_input:
		return "it ends too early";
	case json_error_end_of_input_expected:
		return "something follows the document";
	case json_error_null_character:
	case json_error_null_byte_in_key:
		return "a NUL byte";
	case json_error_duplicate_key:
		return "a key given twice";
	case json_error_numeric_overflow:
		return "a number out of range";
	default:
		return "invalid syntax";
	}
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

int
jsonx_utf8_shown(const unsigned char *p, size_t left)
{
	int len = jsonx_utf8_len(p, left);

	if (len == 1 && (p[0] < 0x20 || p[0] == 0x7f))
		return -1;
	if (len == 2 && ((p[0] == 0xc2 && p[1] < 0xa0) || (p[0] == 0xd8 && p[1] == 0x9c)))
		return -1;
	if (len == 3 && p[0] == 0xe2 &&
	    ((p[1] == 0x80 && (p[2] == 0x8e || p[2] == 0x8f || (p[2] >= 0xaa && p[2] <= 0xae))) ||
	     (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9)))
		return -1;
	return len;
}

void
jsonx_blank(char *s, size_t n, char c)
{
	for (size_t i = 0; i < n;) {
		int len = jsonx_utf8_shown((const unsigned char *)s + i, n - i);

		if (len < 0)
			s[i++] = c;
		else
			i += (size_t)len;
	}
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

	if (s == NULL) {
		outbuf_put(o, "null", 4);
		return;
	}
	outbuf_put(o, "\"", 1);
	/* One pass, no strlen first: the table's NUL ends each run of plain bytes. */
	for (;;) {
		const unsigned char *run = p;

		while (json_plain(*p))
			p++;
		if (p > run)
			outbuf_put(o, run, (size_t)(p - run));
		if (*p == '\0')
			break;
		if (*p == '"' || *p == '\\') {
			unsigned char esc[2] = {'\\', *p++};

			outbuf_put(o, esc, sizeof esc);
		} else if (*p < 0x20 || *p == 0x7f) {
			char esc[8];
			int len = snprintf(esc, sizeof esc, "\\u%04x", *p++);

			outbuf_put(o, esc, (size_t)len);
		} else {
			/* A sequence's bytes end at a NUL, which is no continuation byte. */
			int len = jsonx_utf8_len(p, strnlen((const char *)p, 4));

			outbuf_put(o, len < 0 ? (const unsigned char *)"?" : p,
				   len < 0 ? 1 : (size_t)len);
			p += len < 0 ? 1 : len;
		}
	}
	outbuf_put(o, "\"", 1);
}

void
jsonx_out_int(struct outbuf *o, const char *key, int64_t v)
{
	jsonx_out_key(o, key, 0);
	jsonx_out_number(o, v);
}

void
jsonx_out_number(struct outbuf *o, int64_t v)
{
	char digits[24];
	size_t n = sizeof digits;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	do
		digits[--n] = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		digits[--n] = '-';
	outbuf_put(o, digits + n, sizeof digits - n);
}

/* The scan of jsonx_is_dumped: where it is, and the end of the text. */
struct dumped {
	const unsigned char *p;
	const unsigned char *end;
};

/*
 * The length of the escape at p (after its backslash) when it is the one
 * jansson writes for a control character: a short one, else \u00XX in
 * capitals (NUL, which json_loads refuses, aside); else 0.
 */
static int
control_escape(const unsigned char *p)
{
	static const char hex[] = "0123456789ABCDEF";
	static const unsigned char shorts[] = {0x08, 0x09, 0x0a, 0x0c, 0x0d};
	const char *x;
	unsigned char c;

	if (p[0] != '\0' && strchr("btnfr", p[0]) != NULL)
		return 1;
	if (p[0] != 'u' || p[1] != '0' || p[2] != '0' || (p[3] != '0' && p[3] != '1') ||
	    p[4] == '\0')
		return 0;
	x = strchr(hex, p[4]);
	if (x == NULL)
		return 0;
	c = (unsigned char)((p[3] - '0') << 4 | (int)(x - hex));
	return c == 0 || memchr(shorts, c, sizeof shorts) != NULL ? 0 : 5;
}

/* A string as jansson dumps it; the scan moves past it.  0 when it is not. */
static int
dumped_string(struct dumped *d)
{
	const unsigned char *p = d->p;

	if (p >= d->end || *p++ != '"')
		return 0;
	while (p < d->end && *p != '"') {
		int len;

		if (*p == '\\') {
			p++;
			if (p < d->end && (*p == '"' || *p == '\\')) {
				p++;
				continue;
			}
			len = control_escape(p);
			if (len == 0)
				return 0;
			p += len;
			continue;
		}
		if (*p < 0x20)
			return 0;
		len = jsonx_utf8_len(p, (size_t)(d->end - p));
		if (len < 0)
			return 0;
		p += len;
	}
	if (p >= d->end)
		return 0;
	d->p = p + 1;
	return 1;
}

/* An integer as jansson dumps it (%lld), of 18 digits at most. */
static int
dumped_integer(struct dumped *d)
{
	const unsigned char *p = d->p, *digits;

	if (p < d->end && *p == '-')
		p++;
	digits = p;
	while (p < d->end && *p >= '0' && *p <= '9' && p - digits < 19)
		p++;
	if (p == digits || p - digits > 18 || (*digits == '0' && p - digits > 1))
		return 0;
	/* "-0" loads as 0, and a real's '.' or exponent follows its digits. */
	if ((digits > d->p && *digits == '0') ||
	    (p < d->end && (*p == '.' || *p == 'e' || *p == 'E' || (*p >= '0' && *p <= '9'))))
		return 0;
	d->p = p;
	return 1;
}

static int dumped_value(struct dumped *d, int depth);

/* Whether the key at k (a dumped string) is among keys[0..n), compared as bytes. */
static int
seen(const unsigned char *const *keys, const size_t *lens, size_t n, const unsigned char *k,
     size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (lens[i] == len && memcmp(keys[i], k, len) == 0)
			return 1;
	return 0;
}

static int
dumped_object(struct dumped *d, int depth)
{
	const unsigned char *keys[JSONX_DUMPED_KEYS];
	size_t lens[JSONX_DUMPED_KEYS], n = 0;

	d->p++;
	if (d->p < d->end && *d->p == '}') {
		d->p++;
		return 1;
	}
	for (;;) {
		const unsigned char *k = d->p;

		if (n == JSONX_DUMPED_KEYS || !dumped_string(d) ||
		    seen(keys, lens, n, k, (size_t)(d->p - k)))
			return 0;
		keys[n] = k;
		lens[n++] = (size_t)(d->p - k);
		if (d->p >= d->end || *d->p++ != ':' || !dumped_value(d, depth))
			return 0;
		if (d->p < d->end && *d->p == '}') {
			d->p++;
			return 1;
		}
		if (d->p >= d->end || *d->p++ != ',')
			return 0;
	}
}

static int
dumped_array(struct dumped *d, int depth)
{
	d->p++;
	if (d->p < d->end && *d->p == ']') {
		d->p++;
		return 1;
	}
	for (;;) {
		if (!dumped_value(d, depth))
			return 0;
		if (d->p < d->end && *d->p == ']') {
			d->p++;
			return 1;
		}
		if (d->p >= d->end || *d->p++ != ',')
			return 0;
	}
}

/* Whether the literal word is at the scan; it moves past it. */
static int
dumped_word(struct dumped *d, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(d->end - d->p) < n || memcmp(d->p, word, n) != 0)
		return 0;
	d->p += n;
	return 1;
}

/* A value at depth (the containers around it). */
static int
dumped_value(struct dumped *d, int depth)
{
	if (d->p >= d->end)
		return 0;
	switch (*d->p) {
	case '{':
		return depth < JSONX_DUMPED_DEPTH && dumped_object(d, depth + 1);
	case '[':
		return depth < JSONX_DUMPED_DEPTH && dumped_array(d, depth + 1);
	case '"':
		return dumped_string(d);
	case 't':
		return dumped_word(d, "true");
	case 'f':
		return dumped_word(d, "false");
	case 'n':
		return dumped_word(d, "null");
	default:
		return dumped_integer(d);
	}
}

int
jsonx_is_dumped(const char *s)
{
	struct dumped d = {(const unsigned char *)s, (const unsigned char *)s + strlen(s)};

	/* json_loads(s, 0) takes an object or an array, and nothing after it. */
	if (d.p == d.end || (*d.p != '{' && *d.p != '['))
		return 0;
	return dumped_value(&d, 0) && d.p == d.end;
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
