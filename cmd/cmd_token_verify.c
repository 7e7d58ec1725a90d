/*
 * tokenwarden token verify: prove a token works with one Bearer call.  The
 * token's key and secret come from standard input or a 0600 file, never
 * from argv: the JSON `token create --json --show-secret` prints, or one
 * line TOKEN:ACCESS_KEY:ACCESS_SECRET.
 */
#include "cmd/cmd.h"
#include "cmd/msg.h"

#include "core/cred.h"
#include "core/exitcodes.h"
#include "core/jsonx.h"
#include "core/xalloc.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INPUT_MAX 65536

/* The three parts of a token's credential, in secret memory. */
struct token_cred {
	char *id;
	char *key;
	char *secret;
};

static void
token_cred_free(struct token_cred *tc)
{
	xsecret_free(tc->id);
	xsecret_free(tc->key);
	xsecret_free(tc->secret);
}

static int
from_json(const char *text, const char *what, struct token_cred *tc, char **cause)
{
	json_error_t err;
	json_t *o = json_loads(text, 0, &err);
	const char *id, *key, *secret;
	char *why = NULL;
	int rc = -1;

	if (o == NULL) {
		*cause = xasprintf("%s: not JSON (line %d: %s)", what, err.line, err.text);
		return -1;
	}
	if (jsonx_string(o, "token", JSONX_REQUIRED, &id, &why) < 0 ||
	    jsonx_string(o, "access_key", JSONX_REQUIRED, &key, &why) < 0 ||
	    jsonx_string(o, "access_secret", JSONX_REQUIRED, &secret, &why) < 0) {
		*cause = xasprintf("%s: %s (pipe in the output of 'token create --json "
				   "--show-secret')",
				   what, why);
		goto out;
	}
	tc->id = xsecret_strdup(id);
	tc->key = xsecret_strdup(key);
	tc->secret = xsecret_strdup(secret);
	rc = 0;
out:
	free(why);
	json_decref(o);
	return rc;
}

static int
from_line(char *text, const char *what, struct token_cred *tc, char **cause)
{
	char *a, *b;

	text[strcspn(text, "\r\n")] = '\0';
	a = strchr(text, ':');
	b = a != NULL ? strchr(a + 1, ':') : NULL;
	if (a == NULL || b == NULL || a == text || b == a + 1 || b[1] == '\0') {
		*cause = xasprintf("%s: expected TOKEN:ACCESS_KEY:ACCESS_SECRET or the JSON of "
				   "'token create --json --show-secret'",
				   what);
		return -1;
	}
	*a = *b = '\0';
	tc->id = xsecret_strdup(text);
	tc->key = xsecret_strdup(a + 1);
	tc->secret = xsecret_strdup(b + 1);
	return 0;
}

static int
read_token_cred(const char *file, struct token_cred *tc, char **cause)
{
	const char *what = file != NULL ? file : "standard input";
	char *text = NULL, *start;
	size_t len;
	int rc;

	if (file == NULL && isatty(STDIN_FILENO)) {
		*cause = xasprintf("the token's credential is read from standard input or "
				   "--token-file, not a terminal; pipe it in");
		return -1;
	}
	rc = file != NULL ? cred_read_file(file, INPUT_MAX, &text, &len, cause)
			  : cred_read_fd(STDIN_FILENO, what, INPUT_MAX, &text, &len, cause);
	if (rc < 0)
		return -1;
	start = text + strspn(text, " \t\r\n");
	rc = *start == '{' ? from_json(start, what, tc, cause) : from_line(start, what, tc, cause);
	xsecret_free(text);
	return rc;
}

static int
exec_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
	    API_LONGOPTS,
	    {"token-file", required_argument, NULL, 'f'},
	    {NULL, 0, NULL, 0},
	};
	struct api_opts o;
	struct mode_client *c = NULL;
	struct token_cred tc = {0};
	const char *file = NULL;
	char *cause = NULL;
	int ch, r, status = TW_EXIT_USAGE;

	api_opts_init(&o);
	optind = 1;
	for (;;) {
		ch = getopt_long(argc, argv, "w:f:", longopts, NULL);
		if (ch == -1)
			break;
		if (ch == 'f')
			file = optarg;
		else if (api_opts_parse(&o, ch, optarg, &cmd_token_verify_entry) < 0)
			return TW_EXIT_USAGE;
	}
	if (optind != argc)
		return cmd_usage(&cmd_token_verify_entry);
	c = api_client_open(&o, 0, &status);
	if (c == NULL)
		return status;
	if (read_token_cred(file, &tc, &cause) < 0) {
		errorf("%s", cause);
		goto out;
	}
	r = mode_verify(c, tc.id, tc.key, tc.secret, &cause);
	status = api_exit_status(r);
	if (r != MODE_OK)
		errorf("%s", cause);
	else if (o.json)
		printf("{\"workspace\": \"%s\", \"token\": \"%s\", \"verified\": true}\n",
		       o.workspace, tc.id);
	else
		printf("verified token %s in workspace %s: it works\n", tc.id, o.workspace);
out:
	free(cause);
	token_cred_free(&tc);
	mode_client_free(c);
	return status;
}

const struct cmd_entry cmd_token_verify_entry = {
    .name = "token verify",
    .args = "-w WORKSPACE [--token-file FILE] [options] < TOKEN-JSON",
    .summary = "prove a token works with one read-only API call",
    .help = "      --token-file FILE    read the token from a 0600 file instead of stdin:\n"
	    "                           the JSON of 'token create --json --show-secret', or\n"
	    "                           one line TOKEN:ACCESS_KEY:ACCESS_SECRET\n" API_HELP,
    .exec = exec_verify,
};
