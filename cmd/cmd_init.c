/* tokenwarden init: create the database and pin the sealing key. */
#include "cmd/cmd.h"
#include "cmd/msg.h"

#include "core/clock.h"
#include "core/exitcodes.h"
#include "core/seal.h"
#include "store/events.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>

static int
run_init(void *opts, int argc, char **argv)
{
	struct store_opts o;
	struct store *s = NULL;
	struct seal_pub pub;
	char *cause = NULL, fpr[SEAL_FPR_MAX], head[EVENTS_HEAD_MAX];
	int64_t before = 0, after = 0;
	int status = TW_EXIT_USAGE;

	(void)opts;
	(void)argc;
	(void)argv;
	store_opts_init(&o);
	if (seal_load_public(o.public_key, &pub, &cause) != SEAL_OK)
		goto out;
	seal_fingerprint(&pub, fpr);
	if (store_open(o.db, STORE_CREATE, &s, &cause) < 0 ||
	    events_head(s, head, &before, &cause) < 0 ||
	    store_pin_key(s, fpr, clock_now_ms(), &cause) < 0 ||
	    events_head(s, head, &after, &cause) < 0)
		goto out;
	printf("initialised %s; secrets are sealed to %s (%s)\n", o.db, o.public_key, fpr);
	/* A store already pinned to this key is left as it was: its history did not change. */
	if (after != before)
		store_ctx_note_head(s);
	status = TW_EXIT_OK;
out:
	if (cause != NULL)
		errorf("%s", cause);
	free(cause);
	store_close(s);
	return status;
}

const struct cmd_entry cmd_init_entry = {
    .name = "init",
    .args = "",
    .summary = "create the database and pin the sealing public key",
    .globals = G_DB | G_PUBLIC_KEY,
    .max_args = 0,
    .notes = "The database is created 0600; a store already pinned to this key is left as\n"
	     "it was, and one pinned to another key is refused ('tokenwarden rekey' moves\n"
	     "it).\n"
	     "\n"
	     "Exit status: 0 initialised, 2 a usage error, a key that cannot be read, or a\n"
	     "file that cannot be made a store.\n",
    .run = run_init,
};
