/*
 * tokenwarden status: every slot of the policy at a glance, one line each:
 * its active token, when it expires, when it rotates next, when it last
 * rotated, its failures and one word (core/slotview.h), then a summary.
 * Reads the store read-only and changes nothing.  Exit 0 when every slot
 * is ok, 4 when any is not, 2 on a bad policy, store or option.
 */
#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/msg.h"
#include "cmd/print.h"
#include "cmd/term.h"

#include "core/exitcodes.h"
#include "core/jsonx.h"
#include "core/slotview.h"
#include "core/timefmt.h"
#include "core/xalloc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS INT64_C(1000)
#define STATUS_JSON_VERSION 1

enum col { C_SLOT, C_TOKEN, C_EXPIRES, C_NEXT, C_LAST, C_FAILURES, C_STATUS, NCOLS };

static const char *const heads[NCOLS] = {"SLOT",         "TOKEN",    "EXPIRES", "NEXT ROTATION",
					 "LAST SUCCESS", "FAILURES", "STATUS"};

/* The columns left out, in this order, until a line fits the terminal. */
static const enum col drop_order[] = {C_LAST, C_NEXT, C_TOKEN, C_FAILURES};

/* ANSI colours of the words: worse is louder. */
static const char *const word_colour[SLOT_NWORDS] = {
    [SLOT_OK] = "\033[32m",      [SLOT_DUE] = "\033[36m",   [SLOT_PAUSED] = "\033[33m",
    [SLOT_FAILING] = "\033[33m", [SLOT_STUCK] = "\033[31m", [SLOT_OVERDUE] = "\033[1;31m",
};

/* Stored text for the terminal: control characters and bytes past ASCII as '?'. */
static char *
clean(const char *s)
{
	char *out = xstrdup(s != NULL ? s : "-");

	for (char *c = out; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = '?';
	return out;
}

static char *
relative(int64_t at, int64_t now)
{
	char buf[TIMEFMT_MAX];

	timefmt_relative(at / MS - now / MS, buf);
	return xstrdup(buf);
}

/* The cells of one slot's line; each allocated. */
static void
cells_of(const struct slotview_slot *e, int64_t now, char *cell[NCOLS])
{
	cell[C_SLOT] = xasprintf("%s/%s", e->slot->ws->name, e->slot->name);
	cell[C_TOKEN] = clean(e->active != NULL ? e->active->token : NULL);
	cell[C_EXPIRES] = e->active != NULL ? relative(e->expires_at, now) : xstrdup("-");
	cell[C_NEXT] = e->slot->eff.paused ? xstrdup("paused") : relative(e->next_rotation, now);
	cell[C_LAST] = e->last_success > 0 ? relative(e->last_success, now) : xstrdup("never");
	cell[C_FAILURES] = xasprintf("%d", e->failures);
	cell[C_STATUS] = xstrdup(slotview_word_name(e->word));
}

/* The line's width with the columns in show (two spaces between columns). */
static size_t
line_width(const size_t width[NCOLS], const int show[NCOLS])
{
	size_t n = 0;

	for (int c = 0; c < NCOLS; c++)
		if (show[c])
			n += width[c] + (n > 0 ? 2 : 0);
	return n;
}

static void
print_line(const char *const cell[NCOLS], const size_t width[NCOLS], const int show[NCOLS],
	   const char *colour)
{
	int first = 1;

	for (int c = 0; c < NCOLS; c++) {
		if (!show[c])
			continue;
		if (!first)
			fputs("  ", stdout);
		first = 0;
		/* The last column is not padded: no trailing blanks. */
		if (c == C_STATUS && colour != NULL)
			printf("%s%s\033[0m", colour, cell[c]);
		else if (c == C_STATUS)
			fputs(cell[c], stdout);
		else
			printf("%-*s", (int)width[c], cell[c]);
	}
	putchar('\n');
}

static void
print_summary(const struct slotview *v)
{
	const char *sep = ":";

	printf("%zu slot%s", v->nslots, v->nslots == 1 ? "" : "s");
	if (v->nslots > 0 && v->by_word[SLOT_OK] == v->nslots) {
		printf(", all ok\n");
		return;
	}
	for (int w = SLOT_NWORDS - 1; w >= 0; w--) {
		if (v->by_word[w] == 0)
			continue;
		printf("%s %zu %s", sep, v->by_word[w], slotview_word_name((enum slot_word)w));
		sep = ",";
	}
	putchar('\n');
}

static void
print_human(const struct slotview *v, int64_t now)
{
	char *(*cells)[NCOLS] = xcalloc(v->nslots + 1, sizeof *cells);
	size_t width[NCOLS], limit = term_width();
	int show[NCOLS], colour = term_colour();

	for (int c = 0; c < NCOLS; c++) {
		width[c] = strlen(heads[c]);
		show[c] = 1;
	}
	for (size_t i = 0; i < v->nslots; i++) {
		cells_of(&v->slots[i], now, cells[i]);
		for (int c = 0; c < NCOLS; c++)
			if (strlen(cells[i][c]) > width[c])
				width[c] = strlen(cells[i][c]);
	}
	for (size_t d = 0; limit > 0 && d < sizeof drop_order / sizeof drop_order[0] &&
			   line_width(width, show) > limit;
	     d++)
		show[drop_order[d]] = 0;
	if (v->nslots > 0)
		print_line(heads, width, show, NULL);
	for (size_t i = 0; i < v->nslots; i++) {
		const char *line[NCOLS];

		for (int c = 0; c < NCOLS; c++)
			line[c] = cells[i][c];
		print_line(line, width, show, colour ? word_colour[v->slots[i].word] : NULL);
		for (int c = 0; c < NCOLS; c++)
			free(cells[i][c]);
	}
	free(cells);
	print_summary(v);
}

/* A time as Mode writes it, or null for 0 ("never", "none"). */
static json_t *
json_time(int64_t ms)
{
	char buf[TIMEFMT_MAX];

	if (ms <= 0 || ms == INT64_MAX)
		return json_null();
	timefmt_mode(ms, buf);
	return json_string(buf);
}

static json_t *
slot_json(const struct slotview_slot *e)
{
	const struct token_row *a = e->active;

	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:i, s:o, s:i, s:b}",
			 "workspace", e->slot->ws->name, "slot", e->slot->name, "status",
			 slotview_word_name(e->word), "token",
			 a != NULL && a->token != NULL ? json_string(a->token) : json_null(),
			 "token_row", a != NULL ? json_integer(a->row) : json_null(), "expires_at",
			 json_time(e->expires_at), "next_rotation", json_time(e->next_rotation),
			 "last_success", json_time(e->last_success), "failures", e->failures,
			 "next_attempt", json_time(e->failures > 0 ? e->next_attempt : 0), "slack",
			 e->slack, "paused", e->slot->eff.paused != 0);
}

static void
print_json(const struct slotview *v, int64_t now)
{
	json_t *slots = json_array(), *summary = json_object(), *doc;
	char *text;

	for (size_t i = 0; i < v->nslots; i++)
		json_array_append_new(slots, slot_json(&v->slots[i]));
	json_object_set_new(summary, "slots", json_integer((json_int_t)v->nslots));
	for (int w = 0; w < SLOT_NWORDS; w++)
		json_object_set_new(summary, slotview_word_name((enum slot_word)w),
				    json_integer((json_int_t)v->by_word[w]));
	doc = json_pack("{s:i, s:o, s:o, s:o}", "version", STATUS_JSON_VERSION, "at",
			json_time(now), "slots", slots, "summary", summary);
	text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text != NULL)
		puts(text);
	jsonx_free(text);
	json_decref(doc);
}

static int
run_status(void *opts, int argc, char **argv)
{
	struct config_report c;
	struct slotview v = {0};
	char *cause = NULL;
	int status = config_report_open(opts, &c);

	(void)argc;
	(void)argv;
	if (status != TW_EXIT_OK)
		goto out;
	if (slotview_build(c.store, c.policy, &c.report, c.at, &v, &cause) < 0) {
		errorf("%s", cause);
		status = TW_EXIT_FAILURE;
		goto out;
	}
	if (args_globals.json)
		print_json(&v, c.at);
	else
		print_human(&v, c.at);
	if (print_flush() < 0)
		status = TW_EXIT_FAILURE;
	else
		status = v.by_word[SLOT_OK] == v.nslots ? TW_EXIT_OK : TW_EXIT_FINDINGS;
out:
	free(cause);
	slotview_free(&v);
	config_report_close(&c);
	return status;
}

const struct cmd_entry cmd_status_entry = {
    .name = "status",
    .args = "",
    .summary = "every slot at a glance: its token, expiry, next rotation, health",
    .options = config_report_options,
    .globals = G_JSON | G_CONFIG | G_DB,
    .opts_size = sizeof(struct config_report_opts),
    .init = config_report_init,
    .max_args = 0,
    .notes = "One line per slot of the policy: its active token, when that expires, when\n"
	     "the slot rotates next, when it last rotated, its failures in a row, and a\n"
	     "word, the worst that holds: overdue (no working token, or none before\n"
	     "expiry), stuck (failed schedule stuck_after times in a row), failing\n"
	     "(failed since its last success), paused, due (the next run rotates it),\n"
	     "ok.  Columns that do not fit the terminal are left out; colour only on a\n"
	     "terminal, never with $NO_COLOR.  --json prints a versioned document (the\n"
	     "README's Status section).  Opens the store read-only: changes nothing.\n"
	     "Exit status: 0 every slot ok, 4 some slot is not, 2 bad policy, store or\n"
	     "option.\n",
    .run = run_status,
};
