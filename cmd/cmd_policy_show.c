/*
 * tokenwarden policy show [--effective]: every slot with its settings; with
 * --effective, every field's value after inheritance and where it came from.
 */
#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/msg.h"

#include "core/exitcodes.h"
#include "core/jsonx.h"
#include "core/timefmt.h"
#include "core/tz.h"
#include "core/xalloc.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	char *s = xstrdup("");

	if (e->ndeliver == 0)
		return xstrdup("none");
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

/* Whether slot s is what spec names: WORKSPACE/SLOT, or a slot name (in any workspace). */
static int
slot_matches(const struct policy_slot *s, const char *spec)
{
	size_t n = strlen(s->ws->name);

	if (strncmp(spec, s->ws->name, n) == 0 && spec[n] == '/')
		return strcmp(spec + n + 1, s->name) == 0;
	return strcmp(spec, s->name) == 0;
}

static int
exec_policy_show(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"effective", no_argument, NULL, 'e'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = NULL, *slot = NULL;
	struct policy *p;
	int ch, effective = 0, json = 0, found = 0;
	json_t *list;

	optind = 1;
	for (;;) {
		ch = getopt_long(argc, argv, "", longopts, NULL);
		if (ch == -1)
			break;
		if (ch == 'c')
			config = optarg;
		else if (ch == 'e')
			effective = 1;
		else if (ch == 'j')
			json = 1;
		else
			return cmd_usage(&cmd_policy_show_entry);
	}
	if (argc - optind > 1)
		return cmd_usage(&cmd_policy_show_entry);
	if (optind < argc)
		slot = argv[optind];
	p = config_load(config_path(config), 0);
	if (p == NULL)
		return TW_EXIT_USAGE;
	list = json_array();
	for (size_t i = 0; i < p->nslots; i++) {
		const struct policy_slot *s = p->slots[i];

		if (slot != NULL && !slot_matches(s, slot))
			continue;
		found++;
		if (json)
			json_array_append_new(list, slot_json(p, s, effective));
		else
			print_slot(p, s, effective);
	}
	if (json) {
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
		policy_free(p);
		return TW_EXIT_USAGE;
	}
	policy_free(p);
	return TW_EXIT_OK;
}

const struct cmd_entry cmd_policy_show_entry = {
    .name = "policy show",
    .args = "[--effective] [--json] [--config FILE] [SLOT]",
    .summary = "print each slot's settings; --effective: after inheritance",
    .help = "      SLOT                 only this slot: WORKSPACE/SLOT, or every slot of this\n"
	    "                           name\n"
	    "      --effective          every field, inherited ones too, and where each\n"
	    "                           value comes from (token, workspace, defaults, built-in)\n"
	    "      --json               print JSON for scripts\n"
	    "      --config FILE        the policy (default $TOKENWARDEN_CONFIG or\n"
	    "                           " CONFIG_DEFAULT ")\n",
    .exec = exec_policy_show,
};
