/*
 * tokenwarden audit log: print the history, oldest first, as lines for
 * people or JSON lines for scripts.  It does not check the chain; 'audit
 * verify' does.
 */
#include "cmd/audit_render.h"
#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/msg.h"
#include "cmd/print.h"

#include "core/exitcodes.h"
#include "core/jsonx.h"
#include "core/mode.h"
#include "core/outbuf.h"
#include "core/timefmt.h"
#include "core/xalloc.h"
#include "store/events.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Prints s with each character a terminal would not show as itself
 * (jsonx_utf8_shown: a control character, C1 ones included, which some
 * terminals obey, or a bidirectional control) as one '?', and each byte of
 * invalid UTF-8 as one, so a stored value, such as a reveal's --reason in an
 * edited row, cannot drive the terminal or reorder the line.
 */
static void
put_clean(const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n;) {
		int len = jsonx_utf8_shown((const unsigned char *)s + i, n - i);

		if (len > 0) {
			fwrite(s + i, 1, (size_t)len, stdout);
			i += (size_t)len;
			continue;
		}
		putchar('?');
		len = jsonx_utf8_len((const unsigned char *)s + i, n - i);
		i += len > 0 ? (size_t)len : 1;
	}
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

static int
print_json_line(const struct event *e, void *arg)
{
	audit_event_put_json(arg, e);
	return 0;
}

struct log_opts {
	int64_t since; /* ms; LOG_UNSET when not given */
	int64_t until;
	const char *workspace;
	const char *slot;
	const char *kind;
};

#define LOG_UNSET INT64_MIN

static const struct args_opt log_options[] = {
    OPT_TIME(0, "since", struct log_opts, since, "TIME", ARGS_AGO, "events at or after TIME"),
    OPT_TIME(0, "until", struct log_opts, until, "TIME", ARGS_AGO, "events before TIME"),
    OPT_STRING('w', "workspace", struct log_opts, workspace, "WS",
	       "only events about this workspace"),
    OPT_STRING(0, "slot", struct log_opts, slot, "SLOT",
	       "only events about this slot (WORKSPACE/SLOT, or a\nslot name in any workspace)"),
    OPT_CHOICE(0, "kind", struct log_opts, kind, "KIND", events_kinds, "only events of this kind"),
    OPT_END,
};

static void
init_log(void *opts)
{
	struct log_opts *lo = opts;

	lo->since = LOG_UNSET;
	lo->until = LOG_UNSET;
}

static int
run_audit_log(void *opts, int argc, char **argv)
{
	struct log_opts *lo = opts;
	struct store_opts o;
	struct store *s = NULL;
	struct event_filter f = {.kind = lo->kind, .workspace = lo->workspace, .slot = lo->slot};
	struct outbuf out;
	char *cause = NULL, *slot_ws = NULL, from[TIMEFMT_MAX], to[TIMEFMT_MAX];
	int status = TW_EXIT_USAGE, rc;

	(void)argc;
	(void)argv;
	if (lo->since != LOG_UNSET && lo->until != LOG_UNSET && lo->since >= lo->until) {
		timefmt_mode(lo->since, from);
		timefmt_mode(lo->until, to);
		errorf("--since %s is not before --until %s: no event can match", from, to);
		return TW_EXIT_USAGE;
	}
	/* The filter's 0 is "no bound": an --until at or before the epoch keeps nothing. */
	if (lo->since != LOG_UNSET)
		f.since = lo->since;
	if (lo->until != LOG_UNSET)
		f.until = lo->until != 0 ? lo->until : -1;
	/* WORKSPACE/SLOT narrows to one workspace, as everywhere a slot is named. */
	if (f.slot != NULL && config_slot_arg("--slot", f.slot, f.workspace, &slot_ws, &f.slot) < 0)
		return TW_EXIT_USAGE;
	if (slot_ws != NULL)
		f.workspace = slot_ws;
	if (f.workspace != NULL && mode_check_workspace(f.workspace, &cause) < 0) {
		errorf("-w: %s", cause);
		free(cause);
		free(slot_ws);
		return TW_EXIT_USAGE;
	}
	store_opts_init(&o);
	s = store_ctx_open(&o, NULL, STORE_CTX_READ, &status);
	if (s == NULL)
		goto out;
	status = TW_EXIT_FAILURE;
	/* The JSON lines gather in out; the text lines go through stdio. */
	outbuf_init(&out, stdout);
	rc = events_list(s, &f, args_globals.json ? print_json_line : print_line, &out, &cause);
	outbuf_flush(&out);
	if (rc < 0)
		goto out;
	if (print_flush() < 0)
		goto out;
	status = TW_EXIT_OK;
out:
	if (cause != NULL)
		errorf("%s", cause);
	free(cause);
	free(slot_ws);
	store_close(s);
	return status;
}

const struct cmd_entry cmd_audit_log_entry = {
    .name = "audit log",
    .args = "",
    .summary = "print the history of changes, reveals and runs",
    .options = log_options,
    .globals = G_JSON | G_DB,
    .opts_size = sizeof(struct log_opts),
    .init = init_log,
    .max_args = 0,
    .notes = "TIME is an ISO 8601 time (2026-01-31T00:00Z), 'now', or a duration from now:\n"
	     "7d or -7d is seven days ago, +1d a day ahead.\n"
	     "\n"
	     "Each event is a line: time, actor, kind, workspace/slot, token, details.  With\n"
	     "--json, one JSON object per line: id, at, actor, kind, workspace, slot, token,\n"
	     "details, hash.  The chain is not checked here: 'tokenwarden audit verify' does.\n"
	     "\n"
	     "A secret.revealed event's details: key_fingerprint (of the secret key used),\n"
	     "user (the effective user), claimed_login and claimed_login_from (the login\n"
	     "that says it asked, from SUDO_USER or getlogin; not authenticated) and reason\n"
	     "(--reason).  A secret.reveal_failed event adds failure (wrong_key,\n"
	     "wrong_passphrase, moved, altered, malformed or replaced), message and\n"
	     "sealed_to.\n"
	     "\n"
	     "Exit status: 0 done (even when no event matches), 1 the database cannot be\n"
	     "read, 2 a usage error or no usable store.\n",
    .run = run_audit_log,
};
