/*
 * tokenwarden policy show [--effective] [FILE] [SLOT]: every slot (or one)
 * with its settings; with --effective, every field's value after
 * inheritance and where it came from.
 */
#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/msg.h"

#include "core/exitcodes.h"
#include "core/jsonx.h"
#include "core/timefmt.h"
#include "core/tz.h"
#include "core/xalloc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Appends to a growing string. */
static void
cat(char **s, const char *fmt, const char *a, const char *b)
{
	char *n = xasprintf("%s%s%s%s", *s, **s != '\0' ? fmt : "", a, b);

	free(*s);
	*s = n;
}

static char *
days_str(unsigned days)
{
	static const char *const names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
	char *s = xstrdup("");

	if (days == 0x7f)
		return xstrdup("every day");
	for (int i = 0; i < 7;) {
		int j = i;

		if ((days & (1u << i)) == 0) {
			i++;
			continue;
		}
		while (j + 1 < 7 && (days & (1u << (j + 1))) != 0)
			j++;
		cat(&s, ",", names[i], "");
		if (j > i)
			cat(&s, "", "-", names[j]);
		i = j + 1;
	}
	return s;
}

static char *
window_str(const struct policy_window *w)
{
	char *days, *s;

	if (w == NULL)
		return xstrdup("any time");
	days = days_str(w->days);
	s = xasprintf("%s", days);
	for (size_t i = 0; i < w->nspans; i++) {
		char *n = xasprintf("%s%s%02d:%02d-%02d:%02d", s, i == 0 ? " " : ",",
				    w->spans[i].start / 60, w->spans[i].start % 60,
				    w->spans[i].end / 60, w->spans[i].end % 60);

		free(s);
		s = n;
	}
	if (w->tz != NULL)
		cat(&s, " ", tz_name(w->tz), "");
	else
		cat(&s, " ", "UTC", "");
	free(days);
	return s;
}

static char *
deliver_str(const struct policy_settings *e)
{
	char *s;

	if (e->ndeliver == 0)
		return xstrdup("none");
	s = xstrdup("");
	for (size_t i = 0; i < e->ndeliver; i++) {
		const struct policy_deliver *d = &e->deliver[i];

		if (d->kind == DELIVER_FILE)
			cat(&s, "; ", "file ", d->path);
		else {
			cat(&s, "; ", "exec ", d->argv[0]);
			for (size_t a = 1; a < d->argc; a++)
				cat(&s, "", " ", d->argv[a]);
		}
	}
	return s;
}

static char *
duration(int64_t secs)
{
	char buf[TIMEFMT_MAX];

	if (secs <= 0)
		return xstrdup("0");
	timefmt_duration_str(secs, buf);
	return xstrdup(buf);
}

/* The value of field f in e, as text; the caller frees it. */
static char *
value_str(const struct policy_settings *e, enum policy_field f)
{
	char *d, *s;

	switch (f) {
	case PF_NAME_TEMPLATE:
		return xstrdup(e->name_template);
	case PF_LIFETIME:
		return duration(e->lifetime);
	case PF_ROTATE_BEFORE:
		d = duration(policy_rotate_before(e));
		if (e->rotate_before_pct == 0)
			return d;
		s = xasprintf("%d%% (%s)", e->rotate_before_pct, d);
		free(d);
		return s;
	case PF_GRACE:
		return duration(e->grace);
	case PF_JITTER:
		return duration(e->jitter);
	case PF_WINDOW:
		return window_str(e->window);
	case PF_VERIFY:
		return xstrdup(e->verify ? "true" : "false");
	case PF_DELIVER:
		return deliver_str(e);
	case PF_PAUSED:
		return xstrdup(e->paused ? "true" : "false");
	case PF_NFIELDS:
		break;
	}
	return xstrdup("?");
}

/* Writes slot s's slack: "2", or "0 (tried again within the run)". */
static void
slack_str(const struct policy *p, const struct policy_slot *s, char *buf, size_t size)
{
	int n = policy_slack(p, s);

	snprintf(buf, size, "%d%s", n, n == 0 ? " (tried again within the run)" : "");
}

static void
print_slot(const struct policy *p, const struct policy_slot *s, int effective)
{
	char slack[64];

	printf("%s/%s (%s:%d)\n", s->ws->name, s->name, p->file, s->line);
	for (int f = 0; f < PF_NFIELDS; f++) {
		char *v;

		if (!effective && s->from[f] != PL_TOKEN)
			continue;
		v = value_str(&s->eff, (enum policy_field)f);
		if (s->from[f] == PL_BUILTIN)
			printf("  %-14s %-36s %s\n", policy_field_name((enum policy_field)f), v,
			       "built-in");
		else
			printf("  %-14s %-36s %s, line %d\n",
			       policy_field_name((enum policy_field)f), v,
			       policy_level_name(s->from[f]), s->eff.line[f]);
		free(v);
	}
	if (effective) {
		slack_str(p, s, slack, sizeof slack);
		printf("  %-14s %-36s %s\n", "slack", slack,
		       "failed runs in a row before a token lapses");
	}
}

static json_t *
slot_json(const struct policy *p, const struct policy_slot *s, int effective)
{
	json_t *fields = json_object();

	for (int f = 0; f < PF_NFIELDS; f++) {
		json_t *o;
		char *v;

		if (!effective && s->from[f] != PL_TOKEN)
			continue;
		v = value_str(&s->eff, (enum policy_field)f);
		o = json_pack("{s:s, s:s}", "value", v, "from", policy_level_name(s->from[f]));
		if (s->from[f] != PL_BUILTIN)
			json_object_set_new(o, "line", json_integer(s->eff.line[f]));
		json_object_set_new(fields, policy_field_name((enum policy_field)f), o);
		free(v);
	}
	return json_pack("{s:s, s:s, s:i, s:o, s:i}", "workspace", s->ws->name, "slot", s->name,
			 "line", s->line, "settings", fields, "slack", policy_slack(p, s));
}

struct show_opts {
	int effective;
};

static const struct args_opt show_options[] = {
    OPT_FLAG(0, "effective", struct show_opts, effective,
	     "every field, inherited ones too, and where each\n"
	     "value comes from (token, workspace, defaults or\n"
	     "built-in)"),
    OPT_END,
};

/* Whether slot s is what spec names: WORKSPACE/SLOT, or a slot name (in any workspace). */
static int
slot_matches(const struct policy_slot *s, const char *spec)
{
	size_t n = strlen(s->ws->name);

	if (strncmp(spec, s->ws->name, n) == 0 && spec[n] == '/')
		return strcmp(spec + n + 1, s->name) == 0;
	return strcmp(spec, s->name) == 0;
}

/* Whether path names a file that is no directory. */
static int
is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

/*
 * Whether word, the only one given, is the policy file rather than a slot:
 * it ends in .yaml or .yml, starts with '/' or '.' (a path: no slot name
 * starts so), or has a '/' and names an existing file.
 */
static int
is_file_word(const char *word)
{
	size_t n = strlen(word);

	if ((n > 5 && strcmp(word + n - 5, ".yaml") == 0) ||
	    (n > 4 && strcmp(word + n - 4, ".yml") == 0))
		return 1;
	if (word[0] == '/' || word[0] == '.')
		return 1;
	return strchr(word, '/') != NULL && is_file(word);
}

/* When the word taken as the slot names a file too, says how to read that file instead. */
static void
file_hint(const char *slot)
{
	if (slot != NULL && is_file(slot))
		notef("'%s' was taken as a slot; to read the policy file %s, write ./%s", slot,
		      slot, slot);
}

static int
run_policy_show(void *opts, int argc, char **argv)
{
	const struct show_opts *so = opts;
	const char *file = NULL, *slot = NULL, *path;
	struct policy *p;
	int found = 0;
	json_t *list;

	if (argc == 2) {
		file = argv[0];
		slot = argv[1];
	} else if (argc == 1 && is_file_word(argv[0]))
		file = argv[0];
	else if (argc == 1)
		slot = argv[0];
	path = config_path_arg(file);
	if (path == NULL)
		return TW_EXIT_USAGE;
	p = config_load(path, 0);
	if (p == NULL) {
		file_hint(slot);
		return TW_EXIT_USAGE;
	}
	list = json_array();
	for (size_t i = 0; i < p->nslots; i++) {
		const struct policy_slot *s = p->slots[i];

		if (slot != NULL && !slot_matches(s, slot))
			continue;
		found++;
		if (args_globals.json)
			json_array_append_new(list, slot_json(p, s, so->effective));
		else
			print_slot(p, s, so->effective);
	}
	if (args_globals.json) {
		char *text = json_dumps(list, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		printf("%s\n", text != NULL ? text : "[]");
		jsonx_free(text);
	}
	json_decref(list);
	if (slot != NULL && found == 0) {
		char *cause = NULL;

		/* Not found, so this says why, with the nearest name. */
		if (policy_resolve_slot(p, slot, &cause) == NULL)
			errorf("%s", cause);
		free(cause);
		file_hint(slot);
		policy_free(p);
		return TW_EXIT_USAGE;
	}
	policy_free(p);
	return TW_EXIT_OK;
}

const struct cmd_entry cmd_policy_show_entry = {
    .name = "policy show",
    .args = "[FILE] [SLOT]",
    .summary = "print each slot's settings; --effective: after inheritance",
    .options = show_options,
    .globals = G_JSON | G_CONFIG,
    .opts_size = sizeof(struct show_opts),
    .max_args = 2,
    .notes = "FILE is the policy (else --config, $TOKENWARDEN_CONFIG or\n" CONFIG_DEFAULT
	     ").  SLOT shows only that slot: WORKSPACE/SLOT, or\n"
	     "every slot of that name.  One word is the FILE when it ends in .yaml or\n"
	     ".yml, starts with '/' or '.', or has a '/' and names an existing file;\n"
	     "otherwise it is the SLOT (write ./policy for a file named policy here).\n"
	     "Exit status: 0 shown, 2 bad policy, option or slot.\n",
    .run = run_policy_show,
};
