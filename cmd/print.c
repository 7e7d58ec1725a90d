/* Token output for the token verbs. */
#include "cmd/print.h"

#include "core/jsonx.h"
#include "core/timefmt.h"
#include "core/xalloc.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Writes s to stdout without stdio buffering. */
static void
write_out(const char *s)
{
	size_t len = strlen(s);

	fflush(stdout);
	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

static void
set_time(json_t *o, const char *key, int64_t ms)
{
	char buf[TIMEFMT_MAX];

	timefmt_mode(ms, buf);
	json_object_set_new(o, key, json_string(buf));
}

static void
print_json(const char *workspace, const struct mode_token *t, int show_secret)
{
	json_t *o = json_object();
	char *bearer = NULL, *text;

	json_object_set_new(o, "workspace", json_string(workspace));
	json_object_set_new(o, "token", json_string(t->token));
	json_object_set_new(o, "name", json_string(t->name));
	json_object_set_new(o, "creator_id", json_integer(t->creator_id));
	json_object_set_new(o, "organization_id", json_integer(t->organization_id));
	json_object_set_new(o, "access_key", json_string(t->access_key));
	set_time(o, "created_at", t->created_at);
	set_time(o, "updated_at", t->updated_at);
	set_time(o, "expires_at", t->expires_at);
	json_object_set_new(o, "authentication_for", json_string(t->authentication_for));
	json_object_set_new(o, "authorization_type", json_string(t->authorization_type));
	if (show_secret && t->access_secret != NULL) {
		bearer = mode_bearer(t->token, t->access_key, t->access_secret);
		json_object_set_new(o, "access_secret", json_string(t->access_secret));
		json_object_set_new(o, "bearer", json_string(bearer));
	}
	text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	write_out(text);
	write_out("\n");
	jsonx_free(text);
	json_decref(o);
	xsecret_free(bearer);
}

void
print_token(const char *verb, const char *workspace, const struct mode_token *t, int json,
	    int show_secret)
{
	char when[TIMEFMT_MAX], *line;

	if (json) {
		print_json(workspace, t, show_secret);
		return;
	}
	timefmt_mode(t->expires_at, when);
	printf("%s token %s \"%s\" in workspace %s; expires %s\n", verb, t->token, t->name,
	       workspace, when);
	if (!show_secret || t->access_secret == NULL)
		return;
	{
		char *bearer = mode_bearer(t->token, t->access_key, t->access_secret);
		size_t n = strlen(t->access_key) + strlen(t->access_secret) + strlen(bearer) + 64;

		line = xsecret_alloc(n);
		snprintf(line, n, "access_key    %s\naccess_secret %s\nbearer        %s\n",
			 t->access_key, t->access_secret, bearer);
		write_out(line);
		xsecret_free(line);
		xsecret_free(bearer);
	}
}
