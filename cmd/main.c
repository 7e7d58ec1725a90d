/*
 * tokenwarden: keeps Mode signature tokens short-lived.  This file holds the
 * verb table, the global options and the process set-up every verb relies
 * on (no core dumps, private umask, credential out of the environment).
 */
#include "cmd/cmd.h"
#include "cmd/manpage.h"
#include "cmd/msg.h"
#include "cmd/print.h"

#include "core/cred.h"
#include "core/exitcodes.h"
#include "core/mode.h"
#include "core/xalloc.h"
#include "policies/diag.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

const struct cmd_entry *const cmd_table[] = {
    &cmd_keygen_entry,       &cmd_init_entry,         &cmd_token_create_entry,
    &cmd_token_verify_entry, &cmd_token_delete_entry, &cmd_token_import_entry,
    &cmd_token_list_entry,   &cmd_token_show_entry,   &cmd_secret_reveal_entry,
    &cmd_rekey_entry,        &cmd_backup_entry,       &cmd_restore_entry,
    &cmd_audit_verify_entry, &cmd_audit_log_entry,    &cmd_policy_check_entry,
    &cmd_policy_show_entry,  &cmd_plan_entry,         &cmd_audit_report_entry,
    &cmd_status_entry,       &cmd_metrics_entry,      &cmd_rotate_entry,
    &cmd_revoke_entry,       &cmd_daemon_entry,       &cmd_doctor_entry,
    &cmd_completion_entry,
};

#define NCMDS (sizeof cmd_table / sizeof cmd_table[0])

const size_t cmd_count = NCMDS;

/* One verb of a list: its name, padded, and its summary wrapped beside it. */
static void
verb_line(const struct cmd_entry *e, FILE *f)
{
	fprintf(f, "  %-14s ", e->name);
	args_wrap(f, 17, 17, e->summary);
}

static void
usage(FILE *f)
{
	fputs("usage: tokenwarden [global options] VERB [options] [args]\n"
	      "       tokenwarden help [VERB | GROUP] | --help | --version\n\n"
	      "Keeps Mode signature tokens short-lived.  Verbs:\n",
	      f);
	for (size_t i = 0; i < NCMDS; i++)
		verb_line(cmd_table[i], f);
	fputs("\nGlobal options, before or after the verb (for the verbs that use them):\n"
	      "  -q, --quiet, --log-format text|plain|json, --json, --config FILE, --db FILE,\n"
	      "  --public-key FILE, --timeout SECONDS, --retries N, --rate-limit N/SECS\n"
	      "'tokenwarden VERB --help' or 'tokenwarden help VERB' says more.\n"
	      "\nExit status: 0 done, 1 failed, 2 usage or configuration error, 3 work due\n"
	      "(plan), 4 findings (audit) or a slot not ok (status), 5 locked, 6 outcome\n"
	      "unknown (the server may have acted), 7 API unavailable (try again later).\n",
	      f);
}

/*
 * Finds the verb named by argv[0] (and argv[1] for two-word verbs); sets
 * *words to the number of words it took.
 */
static const struct cmd_entry *
cmd_find(int argc, char **argv, int *words)
{
	for (size_t i = 0; i < NCMDS; i++) {
		const char *name = cmd_table[i]->name;
		const char *sp = strchr(name, ' ');

		if (sp == NULL && strcmp(name, argv[0]) == 0) {
			*words = 1;
			return cmd_table[i];
		}
		if (sp != NULL && argc >= 2 && strncmp(name, argv[0], (size_t)(sp - name)) == 0 &&
		    argv[0][sp - name] == '\0' && strcmp(sp + 1, argv[1]) == 0) {
			*words = 2;
			return cmd_table[i];
		}
	}
	return NULL;
}

/* Whether word is a group of two-word verbs ("token"). */
static int
is_group(const char *word)
{
	size_t n = strlen(word);

	for (size_t i = 0; i < NCMDS; i++)
		if (strncmp(cmd_table[i]->name, word, n) == 0 && cmd_table[i]->name[n] == ' ')
			return 1;
	return 0;
}

/* Prints the verbs of group to f. */
static void
group_usage(const char *group, FILE *f)
{
	size_t n = strlen(group);

	fprintf(f, "usage: tokenwarden %s VERB [options] [args]\n\n", group);
	for (size_t i = 0; i < NCMDS; i++)
		if (strncmp(cmd_table[i]->name, group, n) == 0 && cmd_table[i]->name[n] == ' ')
			verb_line(cmd_table[i], f);
	fprintf(f, "\n'tokenwarden %s VERB --help' says more.\n", group);
}

/*
 * Says no verb is named by the words (one or two), with the nearest verb or
 * group: a misspelt group ("tokn list") is matched with the word after it.
 */
static int
no_verb(int argc, char **argv)
{
	const char *names[2 * NCMDS + 1] = {0}, *near;
	char *words = argc >= 2 && is_group(argv[0]) ? xasprintf("%s %s", argv[0], argv[1])
						     : xstrdup(argv[0]);
	char groups[NCMDS][16];
	size_t n = 0;

	for (size_t i = 0; i < NCMDS; i++) {
		const char *sp = strchr(cmd_table[i]->name, ' ');

		names[n++] = cmd_table[i]->name;
		if (sp != NULL && (size_t)(sp - cmd_table[i]->name) < sizeof groups[i]) {
			snprintf(groups[i], sizeof groups[i], "%.*s",
				 (int)(sp - cmd_table[i]->name), cmd_table[i]->name);
			names[n++] = groups[i];
		}
	}
	near = NULL;
	if (argc >= 2 && !is_group(argv[0])) {
		char *two = xasprintf("%s %s", argv[0], argv[1]);

		near = diag_suggest(two, names);
		if (near != NULL && strchr(near, ' ') != NULL) {
			free(words);
			words = two;
		} else {
			near = NULL;
			free(two);
		}
	}
	if (near == NULL)
		near = diag_suggest(words, names);
	if (near != NULL)
		errorf("no verb '%s'; did you mean '%s'?", words, near);
	else if (is_group(argv[0]))
		errorf("no verb '%s'; 'tokenwarden help %s' lists them", words, argv[0]);
	else
		errorf("no verb '%s'; 'tokenwarden --help' lists them", words);
	free(words);
	return TW_EXIT_USAGE;
}

/* Runs e on argv (argv[0] its last word). */
static int
run(const struct cmd_entry *e, int argc, char **argv)
{
	struct args_pos pos;
	void *opts;
	int status;

	opts = xcalloc(1, e->opts_size > 0 ? e->opts_size : 1);
	if (e->init != NULL)
		e->init(opts);
	status = args_parse(e, opts, argc, argv, &pos);
	if (status == ARGS_RUN) {
		msg_setup(args_globals.quiet,
			  (enum msg_format)msg_format_parse(args_globals.log_format));
		status = e->run(opts, pos.n, pos.v);
	}
	free(pos.v);
	free(opts);
	return status;
}

static int
help(int argc, char **argv)
{
	const struct cmd_entry *e;
	int words;

	if (argc == 0) {
		usage(stdout);
		return TW_EXIT_OK;
	}
	/* For the build: the man page, made from the same tables as --help. */
	if (argc == 1 && strcmp(argv[0], "--scdoc") == 0) {
		manpage_scdoc(stdout);
		return fflush(stdout) == 0 ? TW_EXIT_OK : TW_EXIT_FAILURE;
	}
	e = cmd_find(argc, argv, &words);
	if (e == NULL && argc == 1 && is_group(argv[0])) {
		group_usage(argv[0], stdout);
		return TW_EXIT_OK;
	}
	if (e == NULL)
		return no_verb(argc, argv);
	args_help(e, stdout);
	return TW_EXIT_OK;
}

/* $TOKENWARDEN_LOG_FORMAT: --log-format's default.  Returns 0, or -1 after a message. */
static int
log_format_env(void)
{
	const char *env = getenv("TOKENWARDEN_LOG_FORMAT");

	if (env == NULL || env[0] == '\0')
		return 0;
	if (msg_format_parse(env) < 0) {
		errorf("$TOKENWARDEN_LOG_FORMAT '%s': expected text, plain or json", env);
		return -1;
	}
	args_globals.log_format = env;
	return 0;
}

/*
 * glibc gives the top of the heap back to the system once 128 KiB of it are
 * free, and each store transaction freed that much and took it again: a
 * hundred page faults per rotation.  Memory freed is kept up to 8 MiB.
 */
static void
tune_malloc(void)
{
#ifdef M_TRIM_THRESHOLD
	mallopt(M_TRIM_THRESHOLD, 8 << 20);
#endif
}

/*
 * Points each of 0, 1 and 2 that its parent left closed (a cron line's
 * >&- 2>&-) at /dev/null, before anything is opened: a file opened later
 * (a key, a consumer's token, the store) would take the lowest free
 * number, and what is printed would go into it.  Returns 0, or -1 when
 * /dev/null cannot be opened as the descriptor.
 */
static int
standard_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		int null;

		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		null = open("/dev/null", O_RDWR);
		if (null != fd) {
			if (null >= 0)
				close(null);
			return -1;
		}
	}
	return 0;
}

/* Process hardening before anything reads a secret. */
static void
harden(void)
{
	struct rlimit none = {0, 0};

	setrlimit(RLIMIT_CORE, &none);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	umask(077);
	cred_stash_env();
}

/* The arguments to their verb, or help; returns the exit status. */
static int
dispatch(int argc, char **argv)
{
	const struct cmd_entry *e;
	int i = 1, words, status;

	if (log_format_env() < 0)
		return TW_EXIT_USAGE;
	status = args_parse_leading(argc, argv, &i);
	if (status != ARGS_RUN)
		return status;
	msg_setup(args_globals.quiet, (enum msg_format)msg_format_parse(args_globals.log_format));
	if (i < argc && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) {
		usage(stdout);
		return TW_EXIT_OK;
	}
	if (i < argc && (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0)) {
		printf("tokenwarden %s\n", TW_VERSION);
#ifdef TW_TEST_HOOKS
		printf("built with the test hooks ($TOKENWARDEN_TEST_CRASH, $TOKENWARDEN_NOW): "
		       "not for use\n");
#endif
		return TW_EXIT_OK;
	}
	if (i == argc) {
		usage(stderr);
		return TW_EXIT_USAGE;
	}
	if (strcmp(argv[i], "help") == 0)
		return help(argc - i - 1, argv + i + 1);
	e = cmd_find(argc - i, argv + i, &words);
	if (e == NULL && is_group(argv[i]) &&
	    (i + 1 == argc || strcmp(argv[i + 1], "--help") == 0 ||
	     strcmp(argv[i + 1], "-h") == 0)) {
		group_usage(argv[i], i + 1 == argc ? stderr : stdout);
		return i + 1 == argc ? TW_EXIT_USAGE : TW_EXIT_OK;
	}
	if (e == NULL)
		return no_verb(argc - i, argv + i);
	if (mode_global_init() < 0) {
		errorf("cannot initialise libsodium");
		return TW_EXIT_FAILURE;
	}
	i += words - 1;
	store_lock_label(e->name);
	return run(e, argc - i, argv + i);
}

/*
 * What a verb printed must reach its reader: output that could not all be
 * written (a full disk, an I/O error) fails the command, with a message,
 * rather than leave a script a truncated plan and an exit status that says
 * it is whole.  A failure the verb had anyway keeps its status.
 */
int
main(int argc, char **argv)
{
	int status;

	/* Nothing can be said: the descriptors to say it on are the ones missing. */
	if (standard_fds() < 0)
		return TW_EXIT_FAILURE;
	harden();
	tune_malloc();
	status = dispatch(argc, argv);
	if (print_flush() < 0 &&
	    (status == TW_EXIT_OK || status == TW_EXIT_PENDING || status == TW_EXIT_FINDINGS))
		status = TW_EXIT_FAILURE;
	return status;
}
