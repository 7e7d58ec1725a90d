/* An event of the history as JSON, built or written straight out; see audit_render.h. */
#include "cmd/audit_render.h"

#include "core/jsonx.h"
#include "core/timefmt.h"

#include <stddef.h>

json_t *
audit_event_json(const struct event *e)
{
	char when[TIMEFMT_MAX];
	json_t *o = json_object(), *details = json_loads(e->details, 0, NULL);

	timefmt_mode(e->at, when);
	json_object_set_new(o, "id", json_integer(e->id));
	json_object_set_new(o, "at", json_string(when));
	json_object_set_new(o, "actor", jsonx_text(e->actor));
	json_object_set_new(o, "kind", jsonx_text(e->kind));
	json_object_set_new(o, "workspace", jsonx_text(e->workspace));
	json_object_set_new(o, "slot", jsonx_text(e->slot));
	json_object_set_new(o, "token", jsonx_text(e->token));
	/* An edited row may hold details that are not JSON; show them as text. */
	json_object_set_new(o, "details", details != NULL ? details : jsonx_text(e->details));
	json_object_set_new(o, "hash", json_string(e->hash));
	return o;
}

/* Writes jansson's compact dump of v, and releases v. */
static void
put_dump(struct outbuf *o, json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);

	outbuf_str(o, text != NULL ? text : "null");
	jsonx_free(text);
	json_decref(v);
}

/*
 * Writes s as jansson dumps jsonx_text(s).  A control character or DEL,
 * which only an edited row holds, sends it through jansson, whose escapes
 * of them are not jsonx_out_text's (core/jsonx.h).
 */
static void
put_text(struct outbuf *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (p != NULL && *p != '\0' && *p >= 0x20 && *p != 0x7f)
		p++;
	if (p == NULL || *p == '\0')
		jsonx_out_text(o, s);
	else
		put_dump(o, jsonx_text(s));
}

/* Writes ,"key": and s, as put_text writes it. */
static void
put_member(struct outbuf *o, const char *key, const char *s)
{
	jsonx_out_key(o, key, 0);
	put_text(o, s);
}

void
audit_event_put_json(struct outbuf *o, const struct event *e)
{
	char when[TIMEFMT_MAX];
	json_t *details;

	timefmt_mode(e->at, when);
	outbuf_str(o, "{");
	jsonx_out_key(o, "id", 1);
	jsonx_out_number(o, e->id);
	jsonx_out_key(o, "at", 0);
	jsonx_out_text(o, when);
	put_member(o, "actor", e->actor);
	put_member(o, "kind", e->kind);
	put_member(o, "workspace", e->workspace);
	put_member(o, "slot", e->slot);
	put_member(o, "token", e->token);
	jsonx_out_key(o, "details", 0);
	if (e->details != NULL && jsonx_is_dumped(e->details)) {
		/* As tokenwarden wrote them, which is as jansson would: no load, no dump. */
		outbuf_str(o, e->details);
	} else {
		/* An edited row may hold details that are not JSON; they go as text. */
		details = json_loads(e->details, 0, NULL);
		if (details != NULL)
			put_dump(o, details);
		else
			put_text(o, e->details);
	}
	jsonx_out_key(o, "hash", 0);
	jsonx_out_text(o, e->hash);
	outbuf_str(o, "}\n");
}
