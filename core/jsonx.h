/*
 * JSON helpers over jansson: typed, checked field access that turns a
 * missing or mistyped field into a message instead of a crash or a zero, and
 * a jansson allocator that wipes memory on free (answers carry secrets).
 */
#ifndef TW_JSONX_H
#define TW_JSONX_H

#include "core/outbuf.h"

#include <jansson.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum jsonx_need { JSONX_REQUIRED, JSONX_OPTIONAL };

/* Makes jansson wipe every block it frees.  Call once, before any other jansson call. */
void jsonx_init(void);

/* Frees memory jansson handed out (json_dumps); NULL is allowed. */
void jsonx_free(void *p);

/*
 * What the parse error e found, in words of ours: jansson's own text quotes
 * up to 20 bytes of the input where it stopped, which may be a secret.
 * Name a parse error by e->line, e->column and this, and wipe e after.
 */
const char *jsonx_error_what(const json_error_t *e);

/*
 * Returns the length of the UTF-8 character at p (at most left bytes), or -1
 * for a byte jansson would refuse there: a stray continuation, a truncated,
 * overlong or surrogate sequence, or a code point above U+10FFFF.
 */
int jsonx_utf8_len(const unsigned char *p, size_t left);

/*
 * Returns the length of the UTF-8 character at p (at most left bytes) when a
 * terminal shows it as itself, or -1: for a control character (C0, DEL or
 * C1); for a bidirectional control (U+061C, U+200E, U+200F, U+202A to
 * U+202E, U+2066 to U+2069), which reorders the text after it, so that a
 * line reads otherwise than it is; and for what jsonx_utf8_len refuses.
 */
int jsonx_utf8_shown(const unsigned char *p, size_t left);

/* Overwrites with c, in place, each byte of the n at s that jsonx_utf8_shown refuses. */
void jsonx_blank(char *s, size_t n, char c);

/* Returns a JSON string of s, each byte that is not valid UTF-8 turned into '?'; null for NULL. */
json_t *jsonx_text(const char *s);

/*
 * Writers of JSON text into o (core/outbuf.h), for documents too large to
 * build as json_t.  jsonx_out_text writes s quoted (null for NULL), '"'
 * and '\\' escaped, control characters and DEL as \u00xx in lowercase hex,
 * each byte of invalid UTF-8 as '?': the string jansson dumps of
 * jsonx_text(s) but for DEL, which jansson leaves as it is, and its hex in
 * capitals.  jsonx_out_key writes "key":, with a comma before it unless
 * first (key: plain ASCII, no quote); jsonx_out_number writes v, and
 * jsonx_out_int ,"key":v (not the first member), without printf.
 */
void jsonx_out_text(struct outbuf *o, const char *s);
/* Inline, so that a literal key's length is known where it is written. */
static inline void
jsonx_out_key(struct outbuf *o, const char *key, int first)
{
	outbuf_put(o, first ? "\"" : ",\"", first ? 1 : 2);
	outbuf_put(o, key, strlen(key));
	outbuf_put(o, "\":", 2);
}
void jsonx_out_number(struct outbuf *o, int64_t v);
void jsonx_out_int(struct outbuf *o, const char *key, int64_t v);

/*
 * Whether s is, byte for byte, what jansson's compact dump
 * (JSON_COMPACT | JSON_PRESERVE_ORDER) of json_loads(s, 0) writes: an object
 * or an array without a space, its strings valid UTF-8 with only the escapes
 * jansson writes, its numbers integers in their plain form, no key twice in
 * an object.  Then s can be written as it is where that dump would go.
 * Cautious: 0 for anything it does not know the dump of (a real, an integer
 * of 19 digits or more, nesting deeper than JSONX_DUMPED_DEPTH, an object of
 * more than JSONX_DUMPED_KEYS members).
 */
#define JSONX_DUMPED_DEPTH 32
#define JSONX_DUMPED_KEYS 64
int jsonx_is_dumped(const char *s);

/* jsonx_out_text and jsonx_out_key, each written to f at once. */
void jsonx_put_text(FILE *f, const char *s);
void jsonx_put_key(FILE *f, const char *key, int first);

/* Returns "string", "integer", ... for messages; "missing" for NULL. */
const char *jsonx_typename(const json_t *v);

/*
 * Each getter returns 0 and sets *out when the field is present with the
 * right type; 1 when it is absent or null and need is JSONX_OPTIONAL (*out
 * untouched); -1 with *cause set ("field 'x' is missing", "field 'x' is a
 * string, expected an integer") otherwise.  Strings stay owned by obj.
 */
int jsonx_string(const json_t *obj, const char *field, enum jsonx_need need, const char **out,
		 char **cause);
int jsonx_int(const json_t *obj, const char *field, enum jsonx_need need, int64_t *out,
	      char **cause);
int jsonx_bool(const json_t *obj, const char *field, enum jsonx_need need, int *out, char **cause);
/* An ISO 8601 string field, parsed with timefmt_parse into milliseconds. */
int jsonx_time(const json_t *obj, const char *field, enum jsonx_need need, int64_t *ms,
	       char **cause);
/* A field that must be a JSON object; *out is borrowed. */
int jsonx_object(const json_t *obj, const char *field, enum jsonx_need need, json_t **out,
		 char **cause);

#endif
