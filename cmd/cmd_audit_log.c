/*
 * tokenwarden audit log: print the history, oldest first, as lines for
 * people or JSON lines for scripts.  It does not check the chain; 'audit
 * verify' does.
 */
#include "cmd/cmd.h"
#include "cmd/msg.h"

#include "core/clock.h"
#include "core/exitcodes.h"
#include "core/jsonx.h"
#include "core/timefmt.h"
#include "core/xalloc.h"
#include "store/events.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints s with control characters as '?', so a stored value cannot drive the terminal. */
static void
put_clean(const char *s)
{
	for (; *s != '\0'; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static int
print_line(const struct event *e, void *arg)
{
	char when[TIMEFMT_MAX];

	(void)arg;
	timefmt_mode(e->at, when);
	printf("%s  ", when);
	put_clean(e->actor);
	fputs("  ", stdout);
	put_clean(e->kind);
	fputs("  ", stdout);
	put_clean(e->workspace != NULL ? e->workspace : "-");
	if (e->workspace != NULL) {
		putchar('/');
		put_clean(e->slot != NULL ? e->slot : "-");
	}
	fputs("  ", stdout);
	put_clean(e->token != NULL ? e->token : "-");
	fputs("  ", stdout);
	put_clean(e->details);
	putchar('\n');
	return 0;
}

/* A JSON string of s, or null; bytes of an edited row that are not UTF-8 become '?'. */
static json_t *
string_or_null(const char *s)
{
	json_t *v;
	char *copy;

	if (s == NULL)
		return json_null();
	v = json_string(s);
	if (v != NULL)
		return v;
	copy = xstrdup(s);
	for (char *p = copy; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	v = json_string(copy);
	free(copy);
	return v;
}

static int
print_json_line(const struct event *e, void *arg)
{
	char when[TIMEFMT_MAX], *text;
	json_t *o = json_object(), *details = json_loads(e->details, 0, NULL);

	(void)arg;
	timefmt_mode(e->at, when);
	json_object_set_new(o, "id", json_integer(e->id));
	json_object_set_new(o, "at", json_string(when));
	json_object_set_new(o, "actor", string_or_null(e->actor));
	json_object_set_new(o, "kind", string_or_null(e->kind));
	json_object_set_new(o, "workspace", string_or_null(e->workspace));
	json_object_set_new(o, "slot", string_or_null(e->slot));
	json_object_set_new(o, "token", string_or_null(e->token));
	/* An edited row may hold details that are not JSON; show them as text. */
	json_object_set_new(o, "details", details != NULL ? details : string_or_null(e->details));
	json_object_set_new(o, "hash", json_string(e->hash));
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	printf("%s\n", text != NULL ? text : "{}");
	jsonx_free(text);
	json_decref(o);
	return 0;
}

/* Parses a --since or --until value: an ISO 8601 time, or a duration before now. */
static int
parse_when(const char *opt, const char *arg, int64_t now, int64_t *ms)
{
	int64_t secs;

	if (timefmt_parse(arg, ms) == 0)
		return 0;
	if (timefmt_duration(arg, &secs) == 0 && secs * 1000 < now) {
		*ms = now - secs * 1000;
		return 0;
	}
	errorf("%s '%s': expected an ISO 8601 time such as 2026-01-31T00:00Z, or a duration "
	       "before now such as 7d",
	       opt, arg);
	return -1;
}

static int
exec_audit_log(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"workspace", required_argument, NULL, 'w'},
	    {"since", required_argument, NULL, 'S'},
	    {"until", required_argument, NULL, 'U'},
	    {"slot", required_argument, NULL, 's'},
	    {"kind", required_argument, NULL, 'k'},
	    {"json", no_argument, NULL, 'j'},
	    STORE_DB_LONGOPT,
	    {NULL, 0, NULL, 0},
	};
	struct store_opts o;
	struct store *s = NULL;
	struct event_filter f = {0};
	const char *since = NULL, *until = NULL;
	char *cause = NULL;
	int ch, json = 0, status = TW_EXIT_USAGE;
	int64_t now = clock_now_ms();

	store_opts_init(&o);
	optind = 1;
	for (;;) {
		ch = getopt_long(argc, argv, "w:", longopts, NULL);
		if (ch == -1)
			break;
		if (ch == 'w')
			f.workspace = optarg;
		else if (ch == 'S')
			since = optarg;
		else if (ch == 'U')
			until = optarg;
		else if (ch == 's')
			f.slot = optarg;
		else if (ch == 'k')
			f.kind = optarg;
		else if (ch == 'j')
			json = 1;
		else if (!store_opts_parse(&o, ch, optarg))
			return cmd_usage(&cmd_audit_log_entry);
	}
	if (optind != argc)
		return cmd_usage(&cmd_audit_log_entry);
	if ((since != NULL && parse_when("--since", since, now, &f.since) < 0) ||
	    (until != NULL && parse_when("--until", until, now, &f.until) < 0))
		return TW_EXIT_USAGE;
	s = store_ctx_open(&o, NULL, STORE_CTX_READ, &status);
	if (s == NULL)
		return status;
	status = TW_EXIT_FAILURE;
	if (events_list(s, &f, json ? print_json_line : print_line, NULL, &cause) < 0)
		goto out;
	if (fflush(stdout) != 0) {
		errorf("cannot write to standard output");
		goto out;
	}
	status = TW_EXIT_OK;
out:
	if (cause != NULL)
		errorf("%s", cause);
	free(cause);
	store_close(s);
	return status;
}

const struct cmd_entry cmd_audit_log_entry = {
    .name = "audit log",
    .args = "[--since TIME] [--until TIME] [-w WORKSPACE] [--slot SLOT] [--kind KIND] [--json] "
	    "[--db FILE]",
    .summary = "print the history of changes, reveals and runs",
    .help = "      --since TIME         events at or after TIME (ISO 8601, or a duration ago "
	    "such as 7d)\n"
	    "      --until TIME         events before TIME\n"
	    "  -w, --workspace W        only events about workspace W\n"
	    "      --slot SLOT          only events about slot SLOT\n"
	    "      --kind KIND          only events of KIND (token.created, secret.revealed, ...)\n"
	    "      --json               one JSON object per line: id, at, actor, kind, workspace,\n"
	    "                           slot, token, details, hash\n" STORE_DB_HELP,
    .exec = exec_audit_log,
};
