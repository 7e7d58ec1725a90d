/*
 * One option parser for every verb.  Each verb declares its options in a
 * static table (git's parse-options, tmux's args template): each entry
 * names the option, its type, where its value goes in the verb's own
 * options struct (an offset), and one line of help.  The same table
 * produces the verb's usage, --help, `help VERB`, the man page check and
 * the shell completions, so none of them can drift from what is accepted.
 *
 * The global options (--quiet, --log-format, --json, --config, --db,
 * --public-key, --timeout, --retries, --rate-limit, --proxy) go to args_globals;
 * they are taken before or after the verb, by the verbs whose entry names
 * them (a verb refuses one it would ignore).
 */
#ifndef TW_ARGS_H
#define TW_ARGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum args_type {
	ARGS_FLAG,     /* int: 1 when given */
	ARGS_STRING,   /* const char *: the argument as given */
	ARGS_INT,      /* long, in [min, max] */
	ARGS_CHOICE,   /* const char *: one of choices */
	ARGS_TIME,     /* int64_t ms: ISO 8601, now, or a signed duration from now */
	ARGS_DURATION, /* int64_t seconds: 30d, 12h, 1d12h */
	ARGS_RATE,     /* const char *: REQUESTS/SECONDS, such as 40/10 (args_rate reads it) */
	ARGS_WAIT,     /* int64_t ms: --wait alone -1 (as long as it takes), --wait=5m */
};

/* How ARGS_TIME reads a duration without a sign. */
enum args_since {
	ARGS_AHEAD = 1, /* 7d is 7 days from now (an expiry) */
	ARGS_AGO = -1,  /* 7d is 7 days ago (--since) */
	ARGS_EITHER = 0 /* a sign is needed: +7d or -7d */
};

struct args_opt {
	char short_name;       /* 0: none */
	const char *long_name; /* NULL ends a table */
	enum args_type type;
	size_t offset;              /* of the value in the verb's options struct */
	const char *meta;           /* the argument's name in help ("FILE"); NULL for flags */
	const char *help;           /* one line; more after "\n" */
	const char *const *choices; /* ARGS_CHOICE: NULL-terminated */
	long min, max;              /* ARGS_INT */
	enum args_since since;      /* ARGS_TIME */
};

#define OPT_FLAG(s, l, type, member, h)                                                            \
	{                                                                                          \
		(s), (l), ARGS_FLAG, offsetof(type, member), NULL, (h), NULL, 0, 0, ARGS_EITHER    \
	}
#define OPT_STRING(s, l, type, member, m, h)                                                       \
	{                                                                                          \
		(s), (l), ARGS_STRING, offsetof(type, member), (m), (h), NULL, 0, 0, ARGS_EITHER   \
	}
#define OPT_INT(s, l, type, member, m, lo, hi, h)                                                  \
	{                                                                                          \
		(s), (l), ARGS_INT, offsetof(type, member), (m), (h), NULL, (lo), (hi),            \
		    ARGS_EITHER                                                                    \
	}
#define OPT_CHOICE(s, l, type, member, m, ch, h)                                                   \
	{                                                                                          \
		(s), (l), ARGS_CHOICE, offsetof(type, member), (m), (h), (ch), 0, 0, ARGS_EITHER   \
	}
#define OPT_TIME(s, l, type, member, m, sense, h)                                                  \
	{                                                                                          \
		(s), (l), ARGS_TIME, offsetof(type, member), (m), (h), NULL, 0, 0, (sense)         \
	}
#define OPT_DURATION(s, l, type, member, m, h)                                                     \
	{                                                                                          \
		(s), (l), ARGS_DURATION, offsetof(type, member), (m), (h), NULL, 0, 0, ARGS_EITHER \
	}
#define OPT_WAIT(l, type, member, h)                                                               \
	{                                                                                          \
		0, (l), ARGS_WAIT, offsetof(type, member), "[=DURATION]", (h), NULL, 0, 0,         \
		    ARGS_EITHER                                                                    \
	}
#define OPT_END                                                                                    \
	{                                                                                          \
		0, NULL, ARGS_FLAG, 0, NULL, NULL, NULL, 0, 0, ARGS_EITHER                         \
	}

/* The global options a verb takes, beside --quiet and --log-format, which all take. */
enum args_global_set {
	G_JSON = 1 << 0,       /* --json */
	G_CONFIG = 1 << 1,     /* --config FILE */
	G_DB = 1 << 2,         /* --db FILE */
	G_PUBLIC_KEY = 1 << 3, /* --public-key FILE */
	G_API = 1 << 4,        /* --timeout, --retries, --rate-limit, --proxy */
};

struct args_globals {
	int quiet;
	const char *log_format; /* "text" or "json" */
	int json;
	const char *config; /* NULL: not given */
	const char *db;
	const char *public_key;
	long timeout;           /* seconds; 0: not given */
	long retries;           /* -1: not given */
	const char *rate_limit; /* REQUESTS/SECONDS; NULL: not given */
	const char *proxy;      /* a proxy's URL (core/net.h); NULL: not given */
};

extern struct args_globals args_globals;

struct cmd_entry;

/* What args_parse leaves for the verb: the words that are no option. */
struct args_pos {
	char **v;
	int n;
};

/* args_parse's answer when the verb is to run; any other is an exit status. */
#define ARGS_RUN (-1)

/*
 * Parses argv[1..argc) (argv[0] is the verb's last word) for entry e into
 * opts (e's options struct, its defaults already set): its own options,
 * and the global ones it takes, anywhere before a "--"; the other words
 * into *pos.  Handles -h/--help (prints the help, returns 0) and the hidden
 * --check-args (parses, then returns 0 doing nothing).  Returns ARGS_RUN,
 * or an exit status after a message: an unknown option (with the nearest
 * one), a bad value (naming the valid ones), a wrong number of words.
 */
int args_parse(const struct cmd_entry *e, void *opts, int argc, char **argv, struct args_pos *pos);

/*
 * Parses the global options before the verb, from argv[*i]; leaves *i at
 * the first word that is no global option.  Returns ARGS_RUN, or an exit
 * status (--help and --version print and return 0).
 */
int args_parse_leading(int argc, char **argv, int *i);

/* Prints e's help (usage, summary, options, global options, notes) to f. */
void args_help(const struct cmd_entry *e, FILE *f);
/* Prints e's one-line usage and where to read more to stderr; returns TW_EXIT_USAGE. */
int args_usage(const struct cmd_entry *e);

/* The width help is wrapped to. */
#define ARGS_WIDTH 79

/*
 * Prints text's words (split at spaces and newlines) from column col,
 * wrapping at ARGS_WIDTH to column indent; ends the line.
 */
void args_wrap(FILE *f, size_t col, size_t indent, const char *text);

/* Calls fn for each global option in set (enum args_global_set), and those every verb takes. */
void args_each_global(unsigned set, void (*fn)(const struct args_opt *o, void *arg), void *arg);

/* Calls fn for each option e takes, its own then the global ones. */
void args_each(const struct cmd_entry *e, void (*fn)(const struct args_opt *o, void *arg),
	       void *arg);

/*
 * Reads a time as ARGS_TIME does: an ISO 8601 instant, "now", or a duration
 * from now (signed, or as since says).  Returns 0 with *ms, or -1.
 */
int args_time(const char *s, int64_t now, enum args_since since, int64_t *ms);

/* Reads REQUESTS/SECONDS (1..100000 per 1..3600 s); returns 0 with both, or -1. */
int args_rate(const char *s, long *requests, long *secs);

#endif
