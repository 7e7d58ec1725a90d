/*
 * Fuzz target for an event's details as audit log --json writes them
 * (cmd/audit_event.c): whatever jsonx_is_dumped takes as jansson's compact
 * dump must be one, byte for byte, and the line written straight out must
 * be jansson's dump of audit_event_json for any details an edited row holds.
 */
#include "tests/fuzz/fuzz.h"

#include "cmd/audit_render.h"
#include "core/jsonx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What jansson writes of s loaded, compactly (allocated), or NULL when s is not JSON. */
static char *
redumped(const char *s)
{
	json_t *v = json_loads(s, 0, NULL);
	char *text = v != NULL ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

	json_decref(v);
	return text;
}

static void
check_line(const char *details)
{
	struct event e = {.id = 7,
			  .at = 1764547200000,
			  .actor = "fuzz",
			  .kind = "token.created",
			  .workspace = "acme",
			  .slot = NULL,
			  .token = "tok",
			  .details = details};
	json_t *o;
	char *want, *got = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&got, &len);
	struct outbuf out;

	if (f == NULL)
		abort();
	memset(e.hash, '0', sizeof e.hash - 1);
	outbuf_init(&out, f);
	audit_event_put_json(&out, &e);
	outbuf_flush(&out);
	if (fclose(f) != 0)
		abort();
	o = audit_event_json(&e);
	want = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (want == NULL || len != strlen(want) + 1 || memcmp(got, want, len - 1) != 0 ||
	    got[len - 1] != '\n')
		abort();
	jsonx_free(want);
	json_decref(o);
	free(got);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	char *s = malloc(size + 1);
	char *text;

	if (!ready) {
		jsonx_init();
		ready = 1;
	}
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (jsonx_is_dumped(s)) {
		text = redumped(s);
		if (text == NULL || strcmp(text, s) != 0)
			abort();
		jsonx_free(text);
	}
	check_line(s);
	free(s);
	return 0;
}
