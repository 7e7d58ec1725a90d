/*
 * Unit tests for cmd/args.c, the option parser every verb shares: values of
 * each type land where the table says, bad ones are refused with a usage
 * status and leave the rest alone, global options are taken only by the
 * verbs that use them, and times read ISO 8601, now and durations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cmd/args.h"
#include "cmd/cmd.h"
#include "core/exitcodes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1795395600000LL /* 2026-11-23T01:00Z */
#define DAY (86400 * 1000LL)

struct t_opts {
	int flag, other;
	const char *name;
	long count;
	const char *color;
	int64_t since, at;
	int64_t every;
	int64_t wait;
};

static const char *const colors[] = {"red", "green", "blue", NULL};

static const struct args_opt t_options[] = {
    OPT_FLAG('f', "flag", struct t_opts, flag, "a flag"),
    OPT_FLAG('o', "other", struct t_opts, other, "another flag"),
    OPT_STRING('n', "name", struct t_opts, name, "NAME", "a name"),
    OPT_INT(0, "count", struct t_opts, count, "N", 1, 10, "a count"),
    OPT_CHOICE(0, "color", struct t_opts, color, "COLOR", colors, "a color"),
    OPT_TIME(0, "since", struct t_opts, since, "TIME", ARGS_AGO, "a time ago"),
    OPT_TIME(0, "at", struct t_opts, at, "TIME", ARGS_EITHER, "a time"),
    OPT_DURATION(0, "every", struct t_opts, every, "DURATION", "a period"),
    OPT_WAIT("wait", struct t_opts, wait, "wait for it"),
    OPT_END,
};

static const struct cmd_entry t_entry = {
    .name = "test verb",
    .args = "[WORD]",
    .summary = "test the parser",
    .options = t_options,
    .globals = G_DB | G_JSON,
    .opts_size = sizeof(struct t_opts),
    .min_args = 0,
    .max_args = 1,
};

/* Parses the words after the verb into *o (zeroed first); returns args_parse's answer. */
static int
parse(struct t_opts *o, struct args_pos *pos, const char *const *words)
{
	static char buf[16][64];
	char *argv[16];
	int argc = 0;

	memset(o, 0, sizeof *o);
	memset(&args_globals, 0, sizeof args_globals);
	args_globals.log_format = "text";
	args_globals.retries = -1;
	snprintf(buf[argc], sizeof buf[argc], "verb");
	argv[argc] = buf[argc];
	for (argc = 1; words[argc - 1] != NULL && argc < 16; argc++) {
		snprintf(buf[argc], sizeof buf[argc], "%s", words[argc - 1]);
		argv[argc] = buf[argc];
	}
	return args_parse(&t_entry, o, argc, argv, pos);
}

static void
test_values(void **state)
{
	struct t_opts o;
	struct args_pos pos;

	(void)state;
	assert_int_equal(parse(&o, &pos,
			       (const char *[]){"-f", "--name", "x", "--count=7", "--color",
						"green", "--every", "1d12h", "word", NULL}),
			 ARGS_RUN);
	assert_int_equal(o.flag, 1);
	assert_string_equal(o.name, "x");
	assert_int_equal(o.count, 7);
	assert_string_equal(o.color, "green");
	assert_int_equal(o.every, 36 * 3600);
	assert_int_equal(pos.n, 1);
	assert_string_equal(pos.v[0], "word");
	free(pos.v);

	/* Short options clustered, and a value glued on. */
	assert_int_equal(parse(&o, &pos, (const char *[]){"-fonjoe", NULL}), ARGS_RUN);
	assert_int_equal(o.flag + o.other, 2);
	assert_string_equal(o.name, "joe");
	free(pos.v);

	/* An optional value only with '=': --wait alone is as long as it takes. */
	assert_int_equal(parse(&o, &pos, (const char *[]){"--wait", "word", NULL}), ARGS_RUN);
	assert_int_equal(o.wait, -1);
	assert_string_equal(pos.v[0], "word");
	free(pos.v);
	assert_int_equal(parse(&o, &pos, (const char *[]){"--wait=5m", NULL}), ARGS_RUN);
	assert_int_equal(o.wait, 300000);
	free(pos.v);
	assert_int_equal(parse(&o, &pos, (const char *[]){"--wait=soon", NULL}), TW_EXIT_USAGE);
	free(pos.v);

	/* After "--", a word that looks like an option is a word. */
	assert_int_equal(parse(&o, &pos, (const char *[]){"--", "--flag", NULL}), ARGS_RUN);
	assert_int_equal(o.flag, 0);
	assert_string_equal(pos.v[0], "--flag");
	free(pos.v);
}

static void
test_refusals(void **state)
{
	struct t_opts o;
	struct args_pos pos;
	const char *const *bad[] = {
	    (const char *[]){"--flg", NULL},           /* unknown (nearest: --flag) */
	    (const char *[]){"-z", NULL},              /* unknown short */
	    (const char *[]){"--name", NULL},          /* no value */
	    (const char *[]){"--flag=1", NULL},        /* a flag with a value */
	    (const char *[]){"--count", "11", NULL},   /* out of range */
	    (const char *[]){"--count", "7x", NULL},   /* not a number */
	    (const char *[]){"--color", "gren", NULL}, /* not a choice */
	    (const char *[]){"--every", "1x", NULL},   /* not a duration */
	    (const char *[]){"--since", "yesterday", NULL},
	    (const char *[]){"--at", "7d", NULL},        /* needs a sign here */
	    (const char *[]){"a", "b", NULL},            /* too many words */
	    (const char *[]){"--timeout", "5", NULL},    /* a global this verb does not take */
	    (const char *[]){"--public-key", "k", NULL}, /* likewise */
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(parse(&o, &pos, bad[i]), TW_EXIT_USAGE);
		free(pos.v);
	}
}

static void
test_globals(void **state)
{
	struct t_opts o;
	struct args_pos pos;

	(void)state;
	assert_int_equal(
	    parse(&o, &pos,
		  (const char *[]){"--db", "x.db", "--json", "-q", "--log-format", "json", NULL}),
	    ARGS_RUN);
	assert_string_equal(args_globals.db, "x.db");
	assert_int_equal(args_globals.json, 1);
	assert_int_equal(args_globals.quiet, 1);
	assert_string_equal(args_globals.log_format, "json");
	free(pos.v);
	assert_int_equal(parse(&o, &pos, (const char *[]){"--log-format", "yaml", NULL}),
			 TW_EXIT_USAGE);
	free(pos.v);
}

static void
test_help_and_check(void **state)
{
	struct t_opts o;
	struct args_pos pos;

	(void)state;
	/* --check-args parses all and asks for nothing to be done. */
	assert_int_equal(parse(&o, &pos, (const char *[]){"--check-args", "--flag", NULL}),
			 TW_EXIT_OK);
	assert_int_equal(o.flag, 1);
	free(pos.v);
	assert_int_equal(parse(&o, &pos, (const char *[]){"--check-args", "--bogus", NULL}),
			 TW_EXIT_USAGE);
	free(pos.v);
}

static void
test_times(void **state)
{
	int64_t ms = 0;

	(void)state;
	assert_int_equal(args_time("now", NOW, ARGS_EITHER, &ms), 0);
	assert_int_equal(ms, NOW);
	assert_int_equal(args_time("+1d", NOW, ARGS_AGO, &ms), 0);
	assert_int_equal(ms, NOW + DAY);
	assert_int_equal(args_time("-7d", NOW, ARGS_AHEAD, &ms), 0);
	assert_int_equal(ms, NOW - 7 * DAY);
	assert_int_equal(args_time("7d", NOW, ARGS_AGO, &ms), 0);
	assert_int_equal(ms, NOW - 7 * DAY);
	assert_int_equal(args_time("1d", NOW, ARGS_AHEAD, &ms), 0);
	assert_int_equal(ms, NOW + DAY);
	assert_int_equal(args_time("1d", NOW, ARGS_EITHER, &ms), -1);
	assert_int_equal(args_time("2026-11-24T01:00Z", NOW, ARGS_EITHER, &ms), 0);
	assert_int_equal(ms, NOW + DAY);
	assert_int_equal(args_time("+", NOW, ARGS_EITHER, &ms), -1);
	assert_int_equal(args_time("", NOW, ARGS_AGO, &ms), -1);
}

static void
test_rate(void **state)
{
	long n = 0, secs = 0;

	(void)state;
	assert_int_equal(args_rate("40/10", &n, &secs), 0);
	assert_int_equal(n, 40);
	assert_int_equal(secs, 10);
	assert_int_equal(args_rate("40", &n, &secs), -1);
	assert_int_equal(args_rate("0/10", &n, &secs), -1);
	assert_int_equal(args_rate("40/x", &n, &secs), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_values),  cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_globals), cmocka_unit_test(test_help_and_check),
	    cmocka_unit_test(test_times),   cmocka_unit_test(test_rate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
