/*
 * tokenwarden: keeps Mode signature tokens short-lived.  This file holds the
 * verb table, the global options and the process set-up every verb relies
 * on (no core dumps, private umask, credential out of the environment).
 */
#include "cmd/cmd.h"
#include "cmd/msg.h"

#include "core/cred.h"
#include "core/exitcodes.h"
#include "core/mode.h"

#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

static const struct cmd_entry *const cmd_table[] = {
    &cmd_keygen_entry,       &cmd_init_entry,         &cmd_token_create_entry,
    &cmd_token_verify_entry, &cmd_token_delete_entry, &cmd_token_import_entry,
    &cmd_token_list_entry,   &cmd_token_show_entry,   &cmd_secret_reveal_entry,
    &cmd_rekey_entry,        &cmd_audit_verify_entry, &cmd_audit_log_entry,
    &cmd_policy_check_entry, &cmd_policy_show_entry,  &cmd_plan_entry,
    &cmd_audit_report_entry, &cmd_rotate_entry,       &cmd_revoke_entry,
    &cmd_daemon_entry,
};

#define NCMDS (sizeof cmd_table / sizeof cmd_table[0])

static void
usage(FILE *f)
{
	fputs("usage: tokenwarden [--quiet] [--log-format text|json] VERB [options]\n"
	      "       tokenwarden help VERB | --help | --version\n\n"
	      "Keeps Mode signature tokens short-lived.  Verbs:\n",
	      f);
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(f, "  %-14s %s\n", cmd_table[i]->name, cmd_table[i]->summary);
	fputs("\nExit status: 0 done, 1 failed, 2 usage or configuration error, 3 work due\n"
	      "(plan), 4 findings (audit), 5 locked, 6 outcome unknown (the server may have\n"
	      "acted), 7 API unavailable (try again later).\n",
	      f);
}

int
cmd_usage(const struct cmd_entry *e)
{
	fprintf(stderr, "usage: tokenwarden %s %s\n", e->name, e->args);
	fprintf(stderr, "Try 'tokenwarden help %s'.\n", e->name);
	return TW_EXIT_USAGE;
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

static int
help(int argc, char **argv)
{
	const struct cmd_entry *e;
	int words;

	if (argc == 0) {
		usage(stdout);
		return TW_EXIT_OK;
	}
	e = cmd_find(argc, argv, &words);
	if (e == NULL) {
		errorf("no verb '%s'; 'tokenwarden --help' lists them", argv[0]);
		return TW_EXIT_USAGE;
	}
	printf("usage: tokenwarden %s %s\n\n%s.\n\n%s", e->name, e->args, e->summary, e->help);
	return TW_EXIT_OK;
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

int
main(int argc, char **argv)
{
	const struct cmd_entry *e;
	int i, words, quiet = 0;
	enum msg_format format = MSG_TEXT;

	harden();
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return TW_EXIT_OK;
		} else if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
			printf("tokenwarden %s\n", TW_VERSION);
			return TW_EXIT_OK;
		} else if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0) {
			quiet = 1;
		} else if (strcmp(argv[i], "--log-format") == 0 && i + 1 < argc &&
			   (strcmp(argv[i + 1], "text") == 0 || strcmp(argv[i + 1], "json") == 0)) {
			format = strcmp(argv[++i], "json") == 0 ? MSG_JSON : MSG_TEXT;
		} else {
			fprintf(stderr, "tokenwarden: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return TW_EXIT_USAGE;
		}
	}
	msg_setup(quiet, format);
	if (i == argc) {
		usage(stderr);
		return TW_EXIT_USAGE;
	}
	if (strcmp(argv[i], "help") == 0)
		return help(argc - i - 1, argv + i + 1);
	e = cmd_find(argc - i, argv + i, &words);
	if (e == NULL) {
		errorf("no verb '%s%s%s'; 'tokenwarden --help' lists them", argv[i],
		       i + 1 < argc ? " " : "", i + 1 < argc ? argv[i + 1] : "");
		return TW_EXIT_USAGE;
	}
	if (mode_global_init() < 0) {
		errorf("cannot initialise libcurl or libsodium");
		return TW_EXIT_FAILURE;
	}
	i += words - 1;
	return e->exec(argc - i, argv + i);
}
