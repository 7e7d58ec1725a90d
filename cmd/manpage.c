/*
 * tokenwarden(1) in scdoc, made from the verb table and each verb's option
 * table (`tokenwarden help --scdoc`; the build turns it into the man page),
 * so the page lists exactly the options the parser accepts.
 */
#include "cmd/manpage.h"

#include "cmd/cmd.h"
#include "cmd/config.h"

#include <ctype.h>
#include <string.h>

/* Writes text for scdoc: its markup characters escaped, each "\n" a new line at indent. */
static void
put_text(FILE *f, const char *text, const char *indent)
{
	for (const char *c = text; *c != '\0'; c++) {
		if (*c == '\n') {
			/* groff reads a line's first '.' or '\'' as a request: keep it mid-line. */
			if (c[1] == '.' || c[1] == '\'')
				fputc(' ', f);
			else if (c[1] != '\0')
				fprintf(f, "\n%s", indent);
			continue;
		}
		/* Markup, and a line's first '-' or '#', which scdoc reads as a list or heading. */
		if (strchr("*_\\", *c) != NULL ||
		    ((c == text || c[-1] == '\n') && strchr("-#+.", *c) != NULL))
			fputc('\\', f);
		fputc(*c, f);
	}
}

/* One option of a verb, as a scdoc definition. */
static void
put_option(const struct args_opt *o, void *arg)
{
	FILE *f = arg;

	fputs("\t", f);
	if (o->short_name != 0)
		fprintf(f, "*-%c*, ", o->short_name);
	fprintf(f, "*--%s*", o->long_name);
	if (o->meta != NULL)
		fprintf(f, o->type == ARGS_WAIT ? "\\[=_DURATION_\\]" : " _%s_", o->meta);
	fputs("\n\t\t", f);
	put_text(f, o->help, "\t\t");
	if (o->type == ARGS_CHOICE) {
		fprintf(f, "; %s is one of:", o->meta);
		for (size_t i = 0; o->choices[i] != NULL; i++)
			fprintf(f, "%s %s", i > 0 ? "," : "", o->choices[i]);
	}
	fputs(".\n\n", f);
}

/* A list of option names being written. */
struct names {
	FILE *f;
	int n;
};

/* Appends " --name" (comma-separated after the first) to a list of options. */
static void
put_name(const struct args_opt *o, void *arg)
{
	struct names *l = arg;

	fprintf(l->f, "%s *--%s*", l->n++ > 0 ? "," : "", o->long_name);
}

/* One verb's section. */
static void
put_verb(FILE *f, const struct cmd_entry *e)
{
	struct names names = {f, 0};

	fprintf(f, "## %s\n\n", e->name);
	fprintf(f, "*tokenwarden %s* \\[_options_\\]%s", e->name, e->args[0] != '\0' ? " " : "");
	put_text(f, e->args, "");
	fputs("\n\n", f);
	fputc(toupper((unsigned char)e->summary[0]), f);
	put_text(f, e->summary + 1, "");
	fputs(".\n\n", f);
	for (const struct args_opt *o = e->options; o != NULL && o->long_name != NULL; o++)
		put_option(o, f);
	fputs("Global options:", f);
	args_each_global(e->globals, put_name, &names);
	fputs(".\n\n", f);
	if (e->notes != NULL) {
		put_text(f, e->notes, "");
		fputs("\n\n", f);
	}
}

void
manpage_scdoc(FILE *f)
{
	fputs("tokenwarden(1)\n\n"
	      "; Made by 'tokenwarden help --scdoc' from the verb and option tables.\n\n"
	      "# NAME\n\ntokenwarden - keeps Mode signature tokens short-lived\n\n"
	      "# SYNOPSIS\n\n"
	      "*tokenwarden* \\[_global options_\\] _VERB_ \\[_options_\\] \\[_args_\\]\n\n"
	      "*tokenwarden help* \\[_VERB_ | _GROUP_\\]\n\n"
	      "# DESCRIPTION\n\n"
	      "*tokenwarden* rotates Mode signature tokens (the Discovery API's credentials) by "
	      "the rules of a YAML policy (*tokenwarden-policy*(5)): a nightly *rotate* makes "
	      "each due token's replacement before the old one expires, proves it works, hands "
	      "it to its consumers and, after a grace period, deletes the old one.  Token "
	      "metadata and sealed secrets live in SQLite with a tamper-evident history "
	      "(*tokenwarden-security*(7)).\n\n"
	      "Options come before or after the words they belong to; *--help* after any verb "
	      "or group says what it takes.  A global option is taken by the verbs that use it, "
	      "before or after the verb.  A slot is _WORKSPACE/SLOT_, or a bare slot name only "
	      "one workspace has.  A time is an ISO 8601 instant (2026-12-31T23:00Z), *now*, or "
	      "a duration from now (*+1d*, *-7d*; a bare *7d* where only one sense fits).\n\n"
	      "# GLOBAL OPTIONS\n\n"
	      "Each verb takes those its section lists, before or after the verb.\n\n",
	      f);
	args_each_global(~0u, put_option, f);
	fputs("# COMMANDS\n\n", f);
	for (size_t i = 0; i < cmd_count; i++)
		put_verb(f, cmd_table[i]);
	fputs("# ENVIRONMENT\n\n"
	      "*TOKENWARDEN_CONFIG*\n\tThe policy, when *--config* is not given "
	      "(default " CONFIG_DEFAULT ").\n\n"
	      "*TOKENWARDEN_DB*\n\tThe database, when *--db* is not given (before the policy's "
	      "store path; default " DB_DEFAULT ").\n\n"
	      "*TOKENWARDEN_PUBLIC_KEY*\n\tThe sealing public key, when *--public-key* is not "
	      "given (default " PUB_DEFAULT ").\n\n"
	      "*CREDENTIALS_DIRECTORY*\n\tWhere systemd's LoadCredential= puts each admin "
	      "credential, a file named after the policy's _credential_ holding KEY:SECRET.\n\n"
	      "*TOKENWARDEN_CREDENTIAL_NAME*\n\tThe admin credential KEY:SECRET named NAME "
	      "when there is no credential file: NAME upper-cased, with every character but a "
	      "letter or digit as an underscore (acme-admin: "
	      "TOKENWARDEN_CREDENTIAL_ACME_ADMIN).\n\n"
	      "*TOKENWARDEN_CREDENTIAL*\n\tThe admin credential KEY:SECRET when there is no "
	      "credential file nor variable of its own, for a policy naming one credential "
	      "(or the one the options name). Both are read once at start and removed from "
	      "the environment; *$CREDENTIALS_DIRECTORY* is to be preferred, as it keeps the "
	      "secret out of every environment.\n\n"
	      "*JOURNAL_STREAM*\n\tSet by systemd: log lines then carry no time of their own.\n\n"
	      "# FILES\n\n"
	      "_" CONFIG_DEFAULT "_\n\tThe policy.\n\n"
	      "_" PUB_DEFAULT "_\n\tThe sealing public key; the secret key is kept off the "
	      "host.\n\n"
	      "_" DB_DEFAULT "_\n\tThe inventory and history (0600), with its run lock "
	      "_tokenwarden.db.lock_, which names the process holding it.\n\n"
	      "# EXIT STATUS\n\n"
	      "*0*\n\tDone.\n\n"
	      "*1*\n\tSomething failed (a rotation, a verify, a store error).\n\n"
	      "*2*\n\tA usage or configuration error; nothing was done.\n\n"
	      "*3*\n\tWork is due (*plan*) or left (*rotate* out of time).\n\n"
	      "*4*\n\tFindings (*audit report*), or a history that does not verify.\n\n"
	      "*5*\n\tAnother process holds the run lock.\n\n"
	      "*6*\n\tThe outcome is unknown: the server may have acted.\n\n"
	      "*7*\n\tThe API is unavailable or throttling; try again later.\n\n"
	      "# SEE ALSO\n\n"
	      "*tokenwarden-policy*(5), *tokenwarden-security*(7), *systemd.timer*(5)\n",
	      f);
}
