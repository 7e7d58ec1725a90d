/* The option parser every verb shares; see args.h. */
#include "cmd/args.h"

#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/msg.h"

#include "core/clock.h"
#include "core/exitcodes.h"
#include "core/timefmt.h"
#include "core/xalloc.h"
#include "policies/diag.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct args_globals args_globals = {.log_format = "text", .retries = -1};

static const char *const log_formats[] = {"text", "plain", "json", NULL};

#define G(s, l, t, member, m, h)                                                                   \
	{                                                                                          \
		(s), (l), (t), offsetof(struct args_globals, member), (m), (h), NULL, 0, 0,        \
		    ARGS_EITHER                                                                    \
	}

/* The global options, and the set each belongs to (0: every verb). */
static const struct args_opt globals[] = {
    G('q', "quiet", ARGS_FLAG, quiet, NULL, "say only warnings and errors"),
    {0, "log-format", ARGS_CHOICE, offsetof(struct args_globals, log_format), "FORMAT",
     "log lines as text (the default: timed when not on a terminal\nor the journal), plain "
     "(never timed) or json;\ndefault $TOKENWARDEN_LOG_FORMAT",
     log_formats, 0, 0, ARGS_EITHER},
    G(0, "json", ARGS_FLAG, json, NULL, "print JSON for scripts"),
    G(0, "config", ARGS_STRING, config, "FILE",
      "the policy (default $TOKENWARDEN_CONFIG or " CONFIG_DEFAULT ")"),
    G(0, "db", ARGS_STRING, db, "FILE",
      "the database (default $TOKENWARDEN_DB, else the policy's\nstore path, else " DB_DEFAULT ")"),
    G(0, "public-key", ARGS_STRING, public_key, "FILE",
      "the sealing public key (default $TOKENWARDEN_PUBLIC_KEY,\nelse the policy's, "
      "else " PUB_DEFAULT ")"),
    {0, "timeout", ARGS_INT, offsetof(struct args_globals, timeout), "SECONDS",
     "per API attempt (default 30)", NULL, 1, 3600, ARGS_EITHER},
    {0, "retries", ARGS_INT, offsetof(struct args_globals, retries), "N",
     "retries of an API DELETE or GET that failed (default 4)", NULL, 0, 20, ARGS_EITHER},
    G(0, "rate-limit", ARGS_RATE, rate_limit, "N/SECS",
      "API requests allowed per window (default 40/10)"),
    G(0, "proxy", ARGS_STRING, proxy, "URL",
      "API calls and webhooks go through this proxy, never\nto loopback (default the "
      "policy's proxy:, else none;\nthe environment's proxy variables are ignored)"),
    OPT_END,
};
static const unsigned global_set[] = {0,     0,     G_JSON, G_CONFIG, G_DB, G_PUBLIC_KEY,
				      G_API, G_API, G_API,  G_API};

#define NGLOBALS (sizeof global_set / sizeof global_set[0])

/* The global options given before the verb, by index: checked against the verb's set. */
static int leading[NGLOBALS];

static int
global_taken(const struct cmd_entry *e, size_t i)
{
	return global_set[i] == 0 || (e != NULL && (e->globals & global_set[i]) != 0);
}

/* The option of table t named by long name (len bytes) or short letter; NULL when none. */
static const struct args_opt *
find(const struct args_opt *t, const char *name, size_t len, char letter)
{
	for (; t != NULL && t->long_name != NULL; t++) {
		if (letter != 0
			? t->short_name == letter
			: strlen(t->long_name) == len && strncmp(t->long_name, name, len) == 0)
			return t;
	}
	return NULL;
}

/* "--name", or "-n" for a short one, in a static buffer: for messages. */
static const char *
spelt(const struct args_opt *o, char letter)
{
	static char buf[80];

	if (letter != 0)
		snprintf(buf, sizeof buf, "-%c", letter);
	else
		snprintf(buf, sizeof buf, "--%s", o->long_name);
	return buf;
}

/* Says that --word is no option of e (NULL: before a verb), with the nearest that is. */
static int
unknown(const struct cmd_entry *e, const char *word, size_t len)
{
	const char **names = xcalloc(64 + NGLOBALS, sizeof *names);
	char *w = xstrndup(word, len);
	const char *near;
	size_t n = 0;

	for (const struct args_opt *o = e != NULL ? e->options : NULL; o != NULL && o->long_name;
	     o++)
		if (n < 64)
			names[n++] = o->long_name;
	for (size_t i = 0; i < NGLOBALS; i++)
		if (e == NULL || global_taken(e, i))
			names[n++] = globals[i].long_name;
	names[n++] = "help";
	near = diag_suggest(w, names);
	if (near != NULL)
		errorf("%s%sunknown option '--%s'; did you mean '--%s'?", e != NULL ? e->name : "",
		       e != NULL ? ": " : "", w, near);
	else
		errorf("%s%sunknown option '--%s'", e != NULL ? e->name : "", e != NULL ? ": " : "",
		       w);
	free(w);
	free(names);
	return e != NULL ? args_usage(e) : TW_EXIT_USAGE;
}

/* Joins a choice list as "a, b, c" into an allocated string. */
static char *
join(const char *const *v)
{
	char *s = xstrdup(""), *more;

	for (size_t i = 0; v[i] != NULL; i++) {
		more = xasprintf("%s%s%s", s, i > 0 ? ", " : "", v[i]);
		free(s);
		s = more;
	}
	return s;
}

int
args_time(const char *s, int64_t now, enum args_since since, int64_t *ms)
{
	int sign = since;
	int64_t secs;

	if (strcmp(s, "now") == 0) {
		*ms = now;
		return 0;
	}
	if (s[0] == '+' || s[0] == '-') {
		sign = s[0] == '+' ? 1 : -1;
		s++;
	} else if (timefmt_parse(s, ms) == 0)
		return 0;
	if (sign == 0 || timefmt_duration(s, &secs) < 0)
		return -1;
	*ms = now + sign * secs * 1000;
	return 0;
}

/* Parses a whole decimal number in [lo, hi]; returns 0 or -1. */
static int
whole(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int
args_rate(const char *s, long *requests, long *secs)
{
	const char *slash = strchr(s, '/');
	char *num = slash != NULL ? xstrndup(s, (size_t)(slash - s)) : NULL;
	int rc = num != NULL && whole(num, 1, 100000, requests) == 0 &&
			 whole(slash + 1, 1, 3600, secs) == 0
		     ? 0
		     : -1;

	free(num);
	return rc;
}

/* Stores arg, the value of option o (spelt name), into base; 0, or -1 after a message. */
/*
 * The time the command line means by "now": read once, so that `--since now
 * --until now`, or 7d and +1d, are measured from the same moment however
 * long parsing takes.
 */
static int64_t
command_now(void)
{
	static int64_t now = INT64_MIN;

	if (now == INT64_MIN)
		now = clock_now_ms();
	return now;
}

static int
store(const struct args_opt *o, const char *name, const char *arg, void *base)
{
	void *at = (char *)base + o->offset;
	const char *near;
	char *list;
	long n, secs;

	switch (o->type) {
	case ARGS_FLAG:
		*(int *)at = 1;
		return 0;
	case ARGS_STRING:
		*(const char **)at = arg;
		return 0;
	case ARGS_INT:
		if (whole(arg, o->min, o->max, (long *)at) == 0)
			return 0;
		errorf("%s '%s': expected a whole number from %ld to %ld", name, arg, o->min,
		       o->max);
		return -1;
	case ARGS_CHOICE:
		for (size_t i = 0; o->choices[i] != NULL; i++)
			if (strcmp(o->choices[i], arg) == 0) {
				*(const char **)at = o->choices[i];
				return 0;
			}
		list = join(o->choices);
		near = diag_suggest(arg, o->choices);
		if (near != NULL)
			errorf("%s '%s': expected one of %s; did you mean '%s'?", name, arg, list,
			       near);
		else
			errorf("%s '%s': expected one of %s", name, arg, list);
		free(list);
		return -1;
	case ARGS_TIME:
		if (args_time(arg, command_now(), o->since, (int64_t *)at) == 0)
			return 0;
		errorf("%s '%s': expected an ISO 8601 time such as 2026-12-31T23:00Z, 'now', or a "
		       "duration from now such as %s",
		       name, arg,
		       o->since == ARGS_AGO     ? "7d (ago) or +1d"
		       : o->since == ARGS_AHEAD ? "30d (ahead) or -1h"
						: "+1d or -7d");
		return -1;
	case ARGS_DURATION:
		n = timefmt_duration(arg, (int64_t *)at);
		if (n == 0)
			return 0;
		if (n == -2)
			errorf("%s '%s': longer than " TIMEFMT_DURATION_MAX_TEXT
			       "; give a shorter duration",
			       name, arg);
		else
			errorf("%s '%s': expected a duration such as 45m, 12h or 1d12h", name, arg);
		return -1;
	case ARGS_WAIT:
		if (arg == NULL) {
			*(int64_t *)at = -1;
			return 0;
		}
		if (timefmt_duration(arg, (int64_t *)at) == 0) {
			*(int64_t *)at *= 1000;
			return 0;
		}
		errorf("%s '%s': expected a duration such as 5m, or nothing (as long as it takes)",
		       name, arg);
		return -1;
	case ARGS_RATE:
		if (args_rate(arg, &n, &secs) == 0) {
			*(const char **)at = arg;
			return 0;
		}
		errorf("%s '%s': expected REQUESTS/SECONDS such as 40/10", name, arg);
		return -1;
	}
	return -1;
}

/*
 * One option word argv[*i] (after its dashes: body, long when is_long).
 * Finds it in t (the verb's, stored in opts) or the globals e takes; takes
 * its value from "=value", the rest of a short cluster, or the next word.
 * Returns 0, or an exit status after a message.
 */
static int
option(const struct cmd_entry *e, void *opts, int argc, char **argv, int *i, const char *body,
       int is_long)
{
	size_t len = is_long ? strcspn(body, "=") : 1;
	char letter = is_long ? 0 : body[0];
	const struct args_opt *o = find(e != NULL ? e->options : NULL, body, len, letter);
	void *base = opts;
	const char *arg = NULL, *name;
	char spelling[80];

	if (o == NULL) {
		o = find(globals, body, len, letter);
		base = &args_globals;
		if (o != NULL && e != NULL && !global_taken(e, (size_t)(o - globals))) {
			errorf("%s does not take %s", e->name, spelt(o, letter));
			return args_usage(e);
		}
	}
	if (o == NULL) {
		if (!is_long) {
			errorf("%s%sunknown option '-%c'", e != NULL ? e->name : "",
			       e != NULL ? ": " : "", letter);
			return e != NULL ? args_usage(e) : TW_EXIT_USAGE;
		}
		return unknown(e, body, len);
	}
	if (base == &args_globals && e == NULL)
		leading[o - globals] = 1;
	snprintf(spelling, sizeof spelling, "%s", spelt(o, letter));
	name = spelling;
	if (is_long && body[len] == '=')
		arg = body + len + 1;
	else if (!is_long && body[1] != '\0')
		arg = body + 1;
	/* An optional value comes only with '=': --wait, --wait=5m. */
	if (o->type == ARGS_WAIT)
		return store(o, name, arg, base) == 0 ? 0 : TW_EXIT_USAGE;
	if (o->type == ARGS_FLAG) {
		if (arg != NULL && is_long) {
			errorf("%s takes no value", name);
			return e != NULL ? args_usage(e) : TW_EXIT_USAGE;
		}
		if (store(o, name, NULL, base) < 0)
			return TW_EXIT_USAGE;
		/* The rest of a cluster of short options: -qn, -qw acme. */
		return arg != NULL ? option(e, opts, argc, argv, i, arg, 0) : 0;
	}
	if (arg == NULL) {
		if (*i + 1 >= argc) {
			errorf("%s needs %s", name, o->meta != NULL ? o->meta : "a value");
			return e != NULL ? args_usage(e) : TW_EXIT_USAGE;
		}
		arg = argv[++*i];
	}
	return store(o, name, arg, base) == 0 ? 0 : TW_EXIT_USAGE;
}

/*
 * A global string option given before a verb that has its own option of the
 * same name (keygen's --public-key: a file to write) is that option: moves
 * the value there.  Returns 0, or -1 when e has no such option.
 */
static int
handover(const struct cmd_entry *e, void *opts, size_t g)
{
	const struct args_opt *own =
	    find(e->options, globals[g].long_name, strlen(globals[g].long_name), 0);
	const char **from = (const char **)((char *)&args_globals + globals[g].offset);

	if (own == NULL || own->type != ARGS_STRING || globals[g].type != ARGS_STRING)
		return -1;
	*(const char **)((char *)opts + own->offset) = *from;
	*from = NULL;
	return 0;
}

/*
 * When word (an argument too many, one of argv) follows an option whose
 * value is optional, given without one ("--wait 5m"), says in hint how to
 * give it that value: such a value comes only after '='.  Else hint is "".
 */
static void
optional_hint(const struct cmd_entry *e, int argc, char **argv, const char *word, char *hint,
	      size_t n)
{
	hint[0] = '\0';
	for (int i = 2; word != NULL && i < argc; i++) {
		const char *prev = argv[i - 1];
		const struct args_opt *o;

		if (argv[i] != word || strncmp(prev, "--", 2) != 0 || strchr(prev, '=') != NULL)
			continue;
		o = find(e->options, prev + 2, strlen(prev + 2), 0);
		if (o == NULL)
			o = find(globals, prev + 2, strlen(prev + 2), 0);
		if (o != NULL && o->type == ARGS_WAIT)
			snprintf(hint, n, "; %s takes its value after '=': %s=%s", prev, prev,
				 word);
		return;
	}
}

int
args_parse(const struct cmd_entry *e, void *opts, int argc, char **argv, struct args_pos *pos)
{
	int check = 0, dashes = 0, rc;

	pos->v = xcalloc((size_t)argc + 1, sizeof *pos->v);
	pos->n = 0;
	for (size_t g = 0; g < NGLOBALS; g++)
		if (leading[g] && !global_taken(e, g) && handover(e, opts, g) < 0) {
			errorf("%s does not take --%s", e->name, globals[g].long_name);
			return args_usage(e);
		}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (dashes || a[0] != '-' || a[1] == '\0') {
			pos->v[pos->n++] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			dashes = 1;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			args_help(e, stdout);
			return TW_EXIT_OK;
		}
		if (strcmp(a, "--check-args") == 0) {
			check = 1;
			continue;
		}
		rc = option(e, opts, argc, argv, &i, a[1] == '-' ? a + 2 : a + 1, a[1] == '-');
		if (rc != 0)
			return rc;
	}
	if (pos->n < e->min_args || (e->max_args >= 0 && pos->n > e->max_args)) {
		const char *extra = pos->n > 0 ? pos->v[e->max_args > 0 ? e->max_args : 0] : NULL;
		char hint[96];

		optional_hint(e, argc, argv, extra, hint, sizeof hint);
		/* The synopsis's last word is the argument (its options come before). */
		if (pos->n < e->min_args)
			errorf("%s needs %s", e->name,
			       strrchr(e->args, ' ') != NULL ? strrchr(e->args, ' ') + 1 : e->args);
		else if (e->max_args == 0)
			errorf("%s takes no argument, but was given '%s'%s", e->name, extra, hint);
		else
			errorf("%s takes at most %d argument%s, but was given %d: '%s' is one too "
			       "many%s",
			       e->name, e->max_args, e->max_args == 1 ? "" : "s", pos->n, extra,
			       hint);
		return args_usage(e);
	}
	return check ? TW_EXIT_OK : ARGS_RUN;
}

int
args_parse_leading(int argc, char **argv, int *i)
{
	int rc;

	for (; *i < argc && argv[*i][0] == '-' && argv[*i][1] != '\0'; ++*i) {
		const char *a = argv[*i];

		if (strcmp(a, "--") == 0) {
			++*i;
			break;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "-V") == 0 ||
		    strcmp(a, "--version") == 0)
			break; /* the caller's */
		rc = option(NULL, NULL, argc, argv, i, a[1] == '-' ? a + 2 : a + 1, a[1] == '-');
		if (rc != 0)
			return rc;
	}
	return ARGS_RUN;
}

void
args_wrap(FILE *f, size_t col, size_t indent, const char *text)
{
	const char *w = text + strspn(text, " \n");
	int first = 1;

	while (*w != '\0') {
		size_t len = strcspn(w, " \n");

		if (!first && col + 1 + len > ARGS_WIDTH) {
			fprintf(f, "\n%*s", (int)indent, "");
			col = indent;
		} else if (!first) {
			fputc(' ', f);
			col++;
		}
		fprintf(f, "%.*s", (int)len, w);
		col += len;
		first = 0;
		w += len;
		w += strspn(w, " \n");
	}
	fputc('\n', f);
}

/* Prints one option of the help: its spellings, padded, and its help wrapped beside them. */
static void
help_line(const struct args_opt *o, void *arg)
{
	FILE *f = arg;
	char left[64];
	char *list, *line;

	snprintf(left, sizeof left, "  %c%c%s--%s%s%s", o->short_name ? '-' : ' ',
		 o->short_name ? o->short_name : ' ', o->short_name ? ", " : "  ", o->long_name,
		 o->meta != NULL && o->type != ARGS_WAIT ? " " : "",
		 o->meta != NULL ? o->meta : "");
	fprintf(f, "%-27s", left);
	if (strlen(left) >= 27)
		fprintf(f, "\n%27s", "");
	args_wrap(f, 27, 27, o->help);
	if (o->type == ARGS_CHOICE) {
		list = join(o->choices);
		line = xasprintf("%s: %s", o->meta, list);
		fprintf(f, "%27s", "");
		/* OPT_CHOICE always names its meta. */
		/* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
		args_wrap(f, 27, 28 + strlen(o->meta), line);
		free(line);
		free(list);
	}
}

void
args_each_global(unsigned set, void (*fn)(const struct args_opt *o, void *arg), void *arg)
{
	for (size_t i = 0; i < NGLOBALS; i++)
		if (global_set[i] == 0 || (set & global_set[i]) != 0)
			fn(&globals[i], arg);
}

void
args_each(const struct cmd_entry *e, void (*fn)(const struct args_opt *o, void *arg), void *arg)
{
	for (const struct args_opt *o = e->options; o != NULL && o->long_name != NULL; o++)
		fn(o, arg);
	args_each_global(e->globals, fn, arg);
}

/* Prints "usage: tokenwarden VERB [options] ARGS", wrapped under the verb. */
static void
usage_line(const struct cmd_entry *e, FILE *f)
{
	char *line = xasprintf("usage: tokenwarden %s [options] %s", e->name, e->args);

	args_wrap(f, 0, strlen("usage: tokenwarden ") + strlen(e->name) + 1, line);
	free(line);
}

void
args_help(const struct cmd_entry *e, FILE *f)
{
	usage_line(e, f);
	fprintf(f, "\n%c%s.\n", toupper((unsigned char)e->summary[0]), e->summary + 1);
	if (e->options != NULL && e->options->long_name != NULL) {
		fputs("\nOptions:\n", f);
		for (const struct args_opt *o = e->options; o->long_name != NULL; o++)
			help_line(o, f);
	}
	fputs("\nGlobal options:\n", f);
	for (size_t i = 0; i < NGLOBALS; i++)
		if (global_taken(e, i))
			help_line(&globals[i], f);
	if (e->notes != NULL)
		fprintf(f, "\n%s", e->notes);
}

int
args_usage(const struct cmd_entry *e)
{
	usage_line(e, stderr);
	fprintf(stderr, "Try 'tokenwarden %s --help'.\n", e->name);
	return TW_EXIT_USAGE;
}
