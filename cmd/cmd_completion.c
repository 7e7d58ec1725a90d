/*
 * tokenwarden completion bash|zsh|fish: a completion script for the shell,
 * made from the verb table and each verb's option table, so it offers
 * exactly what the parser accepts: verbs, options, enumerated values, and
 * the slots and workspaces of the policy (read when completing, through
 * the hidden `completion slots` and `completion workspaces`).
 */
#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/msg.h"
#include "cmd/print.h"

#include "core/exitcodes.h"

#include <stdio.h>
#include <string.h>

/* Whether option o names a slot or a workspace, whose values come from the policy. */
static const char *
dynamic(const struct args_opt *o)
{
	if (o->meta == NULL)
		return NULL;
	if (strcmp(o->meta, "SLOT") == 0)
		return "slots";
	if (strcmp(o->meta, "WS") == 0 || strcmp(o->meta, "WORKSPACE") == 0)
		return "workspaces";
	return NULL;
}

/* Appends " --name -n" for option o to the line being printed on stdout. */
static void
put_names(const struct args_opt *o, void *arg)
{
	(void)arg;
	printf(" --%s", o->long_name);
	if (o->short_name != 0)
		printf(" -%c", o->short_name);
}

/* Prints the bash case arm completing the value of option o, when it takes one. */
static void
put_value_arm(const struct args_opt *o, void *arg)
{
	(void)arg;
	if (o->meta == NULL || o->type == ARGS_WAIT)
		return;
	printf("\t\t--%s", o->long_name);
	if (o->short_name != 0)
		printf("|-%c", o->short_name);
	printf(")\n\t\t\t");
	if (o->type == ARGS_CHOICE) {
		printf("COMPREPLY=($(compgen -W \"");
		for (size_t i = 0; o->choices[i] != NULL; i++)
			printf("%s%s", i > 0 ? " " : "", o->choices[i]);
		printf("\" -- \"$cur\"))");
	} else if (dynamic(o) != NULL)
		printf("COMPREPLY=($(compgen -W \"$(tokenwarden completion %s 2>/dev/null)\" -- "
		       "\"$cur\"))",
		       dynamic(o));
	else if (strstr(o->meta, "FILE") != NULL)
		printf("COMPREPLY=($(compgen -f -- \"$cur\"))");
	else
		printf("COMPREPLY=()");
	printf("\n\t\t\treturn ;;\n");
}

/* No verb: every global option, for args_each. */
static const struct cmd_entry every_global = {
    .name = "",
    .args = "",
    .summary = "",
    .globals = G_JSON | G_CONFIG | G_DB | G_PUBLIC_KEY | G_API,
};

/* The length of name's first word. */
static size_t
first_word(const char *name)
{
	return strcspn(name, " ");
}

/* The index of the first verb sharing verb i's first word. */
static size_t
first_of_group(size_t i)
{
	size_t len = first_word(cmd_table[i]->name), j = 0;

	while (j < i && !(first_word(cmd_table[j]->name) == len &&
			  strncmp(cmd_table[j]->name, cmd_table[i]->name, len) == 0))
		j++;
	return j;
}

/* Prints " --name" when option o takes a value in the next word. */
static void
put_valued(const struct args_opt *o, void *arg)
{
	(void)arg;
	if (o->meta != NULL && o->type != ARGS_WAIT)
		printf(" --%s", o->long_name);
}

static void
bash(void)
{
	printf("# bash completion for tokenwarden; made by 'tokenwarden completion bash'.\n"
	       "_tokenwarden() {\n"
	       "\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
	       "\tlocal verb= i w\n"
	       "\t# The verb: the first one or two words that are no option (nor an option's "
	       "value).\n"
	       "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	       "\t\tw=${COMP_WORDS[i]}\n"
	       "\t\tif [[ \" $_tokenwarden_valued \" == *\" $w \"* ]]; then ((i++)); continue; "
	       "fi\n"
	       "\t\tcase $w in -*) continue ;; esac\n"
	       "\t\tif [ -z \"$verb\" ]; then verb=$w; elif [[ \" $_tokenwarden_groups \" == *\" "
	       "$verb \"* ]]; then verb=\"$verb $w\"; break; else break; fi\n"
	       "\tdone\n");
	printf("\tif [ -z \"$verb\" ] || { [[ \" $_tokenwarden_groups \" == *\" $verb \"* ]] && "
	       "[ \"${COMP_WORDS[COMP_CWORD-1]}\" = \"$verb\" ]; }; then\n"
	       "\t\tcase $verb in\n");
	for (size_t i = 0; i < cmd_count; i++) {
		const char *sp = strchr(cmd_table[i]->name, ' ');

		if (sp == NULL || first_of_group(i) != i)
			continue;
		printf("\t\t%.*s) COMPREPLY=($(compgen -W \"", (int)(sp - cmd_table[i]->name),
		       cmd_table[i]->name);
		for (size_t j = 0; j < cmd_count; j++)
			if (strncmp(cmd_table[j]->name, cmd_table[i]->name,
				    (size_t)(sp - cmd_table[i]->name + 1)) == 0)
				printf(" %s", strchr(cmd_table[j]->name, ' ') + 1);
		printf("\" -- \"$cur\")); return ;;\n");
	}
	printf("\t\t*) COMPREPLY=($(compgen -W \"help");
	for (size_t i = 0; i < cmd_count; i++)
		if (first_of_group(i) == i)
			printf(" %.*s", (int)first_word(cmd_table[i]->name), cmd_table[i]->name);
	printf("\" -- \"$cur\")); return ;;\n\t\tesac\n\tfi\n");
	printf("\tcase $verb in\n");
	for (size_t i = 0; i < cmd_count; i++) {
		if (cmd_table[i]->options == NULL && cmd_table[i]->run == NULL)
			continue;
		printf("\t\"%s\")\n\t\tcase $prev in\n", cmd_table[i]->name);
		args_each(cmd_table[i], put_value_arm, NULL);
		printf("\t\tesac\n\t\tCOMPREPLY=($(compgen -W \"--help");
		args_each(cmd_table[i], put_names, NULL);
		printf("\" -- \"$cur\")) ;;\n");
	}
	printf("\tesac\n}\n_tokenwarden_groups=\"");
	for (size_t i = 0, n = 0; i < cmd_count; i++)
		if (strchr(cmd_table[i]->name, ' ') != NULL && first_of_group(i) == i)
			printf("%s%.*s", n++ > 0 ? " " : "", (int)first_word(cmd_table[i]->name),
			       cmd_table[i]->name);
	/* The global options that take a value: their value is no verb. */
	printf("\"\n_tokenwarden_valued=\"");
	args_each(&every_global, put_valued, NULL);
	printf("\"\ncomplete -F _tokenwarden tokenwarden\n");
}

/* The verb whose options fish_option prints. */
static const struct cmd_entry *fish_verb;

/* Prints the fish line for option o of fish_verb. */
static void
fish_option(const struct args_opt *o, void *arg)
{
	const struct cmd_entry *e = fish_verb;
	const char *sp = strchr(e->name, ' ');

	(void)arg;
	if (sp != NULL)
		printf("complete -c tokenwarden -n '__fish_seen_subcommand_from %.*s; and "
		       "__fish_seen_subcommand_from %s'",
		       (int)(sp - e->name), e->name, sp + 1);
	else
		printf("complete -c tokenwarden -n '__fish_seen_subcommand_from %s'", e->name);
	printf(" -l %s", o->long_name);
	if (o->short_name != 0)
		printf(" -s %c", o->short_name);
	if (o->meta != NULL && o->type != ARGS_WAIT)
		printf(" -r");
	if (o->type == ARGS_CHOICE) {
		printf(" -f -a '");
		for (size_t i = 0; o->choices[i] != NULL; i++)
			printf("%s%s", i > 0 ? " " : "", o->choices[i]);
		printf("'");
	} else if (dynamic(o) != NULL)
		printf(" -f -a '(tokenwarden completion %s 2>/dev/null)'", dynamic(o));
	printf(" -d '");
	for (const char *h = o->help; *h != '\0' && *h != '\n'; h++)
		fputs(*h == '\'' ? "\\'" : (char[]){*h, '\0'}, stdout);
	printf("'\n");
}

static void
fish(void)
{
	printf("# fish completion for tokenwarden; made by 'tokenwarden completion fish'.\n"
	       "complete -c tokenwarden -f\n");
	for (size_t i = 0; i < cmd_count; i++) {
		const char *sp = strchr(cmd_table[i]->name, ' ');

		if (sp == NULL)
			printf("complete -c tokenwarden -n __fish_use_subcommand -a %s -d '%s'\n",
			       cmd_table[i]->name, cmd_table[i]->summary);
		else
			printf(
			    "complete -c tokenwarden -n '__fish_seen_subcommand_from %.*s' -a %s "
			    "-d '%s'\n",
			    (int)(sp - cmd_table[i]->name), cmd_table[i]->name, sp + 1,
			    cmd_table[i]->summary);
		fish_verb = cmd_table[i];
		if (cmd_table[i]->run != NULL)
			args_each(cmd_table[i], fish_option, NULL);
	}
}

/* The policy's slots (WORKSPACE/SLOT, and the bare names one workspace has) or workspaces. */
static int
from_policy(int slots)
{
	struct policy *p;

	msg_setup(1, MSG_TEXT);
	p = config_load(config_path(NULL), 0);
	if (p == NULL)
		return TW_EXIT_USAGE;
	for (size_t i = 0; slots && i < p->nslots; i++)
		printf("%s/%s\n%s\n", p->slots[i]->ws->name, p->slots[i]->name, p->slots[i]->name);
	for (size_t i = 0; !slots && i < p->nws; i++)
		printf("%s\n", p->ws[i].name);
	policy_free(p);
	return TW_EXIT_OK;
}

struct completion_opts {
	int unused;
};

static int
run_completion(void *opts, int argc, char **argv)
{
	(void)opts;
	(void)argc;
	if (strcmp(argv[0], "bash") == 0)
		bash();
	else if (strcmp(argv[0], "zsh") == 0) {
		/* zsh runs the bash function through its bashcompinit. */
		printf("# zsh completion for tokenwarden; made by 'tokenwarden completion zsh'.\n"
		       "autoload -U +X bashcompinit && bashcompinit\n");
		bash();
	} else if (strcmp(argv[0], "fish") == 0)
		fish();
	else if (strcmp(argv[0], "slots") == 0 || strcmp(argv[0], "workspaces") == 0)
		return from_policy(strcmp(argv[0], "slots") == 0);
	else {
		errorf("completion: '%s' is no shell; give bash, zsh or fish", argv[0]);
		return args_usage(&cmd_completion_entry);
	}
	return print_flush() == 0 ? TW_EXIT_OK : TW_EXIT_FAILURE;
}

const struct cmd_entry cmd_completion_entry = {
    .name = "completion",
    .args = "bash|zsh|fish",
    .summary = "print a completion script for the shell",
    .globals = G_CONFIG,
    .opts_size = sizeof(struct completion_opts),
    .min_args = 1,
    .max_args = 1,
    .notes = "Load it with: source <(tokenwarden completion bash), or write it where the\n"
	     "shell looks (bash: /usr/share/bash-completion/completions/tokenwarden).  Slot\n"
	     "and workspace names come from the policy (--config, $TOKENWARDEN_CONFIG).\n",
    .run = run_completion,
};
