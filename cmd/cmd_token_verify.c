/*
 * tokenwarden token verify: prove a token works with one Bearer call.  The
 * token's key and secret come from standard input or a 0600 file, never
 * from argv: the JSON `token create --json --show-secret` prints, or one
 * line TOKEN:ACCESS_KEY:ACCESS_SECRET; or, with the token named on the
 * command line (its id or name in the inventory), ACCESS_KEY:ACCESS_SECRET.
 */
#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/msg.h"

#include "core/cred.h"
#include "core/exitcodes.h"
#include "core/xalloc.h"
#include "store/store.h"
#include "store/tokens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INPUT_MAX 65536

struct verify_opts {
	struct api_opts api;
	const char *token_file;
};

static const struct args_opt verify_options[] = {
    OPTS_API(struct verify_opts, api),
    OPT_STRING('f', "token-file", struct verify_opts, token_file, "FILE",
	       "read the token from a 0600 file instead of stdin: the\nJSON of 'token create "
	       "--json --show-secret', or one line\nTOKEN:ACCESS_KEY:ACCESS_SECRET "
	       "(ACCESS_KEY:ACCESS_SECRET\nwhen TOKEN is given)"),
    OPT_END,
};

static void
init_verify(void *opts)
{
	struct verify_opts *v = opts;

	api_opts_init(&v->api);
	v->api.api = NULL; /* the policy's, or the default: config_api_opts */
}

static int
read_token_cred(const char *file, int named, struct cred_token *tc, char **cause)
{
	const char *what = file != NULL ? file : "standard input";
	char *text = NULL;
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
	rc = cred_token_parse(text, what, named, tc, cause);
	xsecret_free(text);
	return rc;
}

/*
 * Sets tc->id to the id of workspace ws's token that word names (see
 * store_ctx_token_id), which must be the one the input gave, if any.
 * Returns 0, or an exit status after a message.
 */
static int
named_token(const struct store_opts *so, const char *ws, const char *word, struct cred_token *tc)
{
	struct store *s = NULL;
	struct token_row *row = NULL;
	const char *id = NULL;
	int status = TW_EXIT_USAGE;

	s = store_ctx_open(so, NULL, STORE_CTX_READ, &status);
	if (s != NULL)
		id = store_ctx_token_id(s, ws, word, &row, &status);
	if (id != NULL && tc->id != NULL && strcmp(tc->id, id) != 0)
		errorf("the credential read is token %s's, but '%s' is token %s", tc->id, word, id);
	else if (id != NULL) {
		if (tc->id == NULL)
			tc->id = xsecret_strdup(id);
		status = TW_EXIT_OK;
	}
	tokens_free(row, row != NULL ? 1 : 0);
	store_close(s);
	return status;
}

static int
run_verify(void *opts, int argc, char **argv)
{
	struct verify_opts *vo = opts;
	struct api_opts *o = &vo->api;
	struct store_opts so;
	struct policy *p = NULL;
	struct mode_client *c = NULL;
	struct cred_token tc = {0};
	char *cause = NULL;
	int r, status = TW_EXIT_USAGE;

	store_opts_init(&so);
	if (config_load_optional(&p) < 0)
		return TW_EXIT_USAGE;
	config_api_opts(p, o, &so);
	c = api_client_open(o, 0, &status);
	if (c == NULL)
		goto out;
	status = TW_EXIT_USAGE;
	if (read_token_cred(vo->token_file, argc > 0, &tc, &cause) < 0) {
		errorf("%s", cause);
		goto out;
	}
	if (argc > 0) {
		status = named_token(&so, o->workspace, argv[0], &tc);
		if (status != TW_EXIT_OK)
			goto out;
	}
	r = mode_verify(c, tc.id, tc.key, tc.secret, &cause);
	status = api_exit_status(r);
	if (r != MODE_OK)
		errorf("%s", cause);
	else if (args_globals.json)
		printf("{\"workspace\": \"%s\", \"token\": \"%s\", \"verified\": true}\n",
		       o->workspace, tc.id);
	else
		printf("verified token %s in workspace %s: it works\n", tc.id, o->workspace);
out:
	free(cause);
	cred_token_free(&tc);
	mode_client_free(c);
	policy_free(p);
	return status;
}

const struct cmd_entry cmd_token_verify_entry = {
    .name = "token verify",
    .args = "-w WORKSPACE [TOKEN] < CREDENTIAL",
    .summary = "prove a token works with one read-only API call",
    .options = verify_options,
    .globals = G_JSON | G_CONFIG | G_DB | G_API,
    .opts_size = sizeof(struct verify_opts),
    .init = init_verify,
    .max_args = 1,
    .notes = "CREDENTIAL, on standard input or in --token-file, is the JSON of 'token create\n"
	     "--json --show-secret', or one line TOKEN:ACCESS_KEY:ACCESS_SECRET.  With TOKEN\n"
	     "(the token's Mode id, or its name when no other token of the workspace has\n"
	     "that name, looked up in the inventory) it may be ACCESS_KEY:ACCESS_SECRET.\n"
	     "\n" API_NOTES "\n"
	     "Exit status: 0 the token works, 1 it was refused (or the call failed), 2 usage\n"
	     "or configuration error, 7 API unavailable (try again later).\n",
    .run = run_verify,
};
